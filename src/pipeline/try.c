/* kiln try: the seconds-long loop before a slow bake. Installs the package into a
 * throwaway root on this machine, starts the app from it as an instance would be
 * started, runs its health check, reports pass or fail with what the app printed,
 * and cleans up. Nothing is deployed and no cluster is touched. */
#include "pipeline/pipe.h"

#include "kiln/atomic_file.h"
#include "kiln/context.h"
#include "kiln/fstree.h"
#include "kiln/manifest.h"
#include "kiln/rpmbuild.h"
#include "kiln/sources.h"
#include "kiln/spawn.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* How long the app gets to answer its health check twice in a row. */
#define TRY_TIMEOUT_MS 15000
#define TRY_PROBE_MS   200

static void on_line(void *ctx, enum kiln_stream stream, const char *line)
{
    bool warn = stream == KILN_STREAM_STDERR && !kiln_rpmbuild_is_trace(line);
    pipe_log(ctx, warn ? KILN_LOG_WARN : KILN_LOG_INFO, "%s", line);
}

static int free_port(struct kiln_err *err)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return kiln_err_sys(err, e, "cannot find a free port on 127.0.0.1");
    }
    close(fd);
    return ntohs(sa.sin_port);
}

/* The RPM to try: built from --source into the work dir, or a package of the repo. */
static int find_rpm(struct pipe *pp, const char *work, char *rpm, size_t n, char *nvr, size_t nn,
                    struct kiln_err *err)
{
    const char *source = pipe_str(pp, "source");
    if (source != NULL) {
        char *top = xasprintf("%s/rpmbuild", work);
        struct kiln_rpmbuild_opts o = {.source_dir = source,
                                       .work_dir = top,
                                       .release = "0.try",
                                       .on_line = on_line,
                                       .ctx = pp};
        int rc = kiln_rpmbuild(&o, rpm, n, nvr, nn, err);
        free(top);
        return rc;
    }
    const char *pkg = pipe_str(pp, "package");
    if (pkg == NULL)
        return kiln_err_set(err, KILN_E_USAGE, "try needs --package NVR or --source DIR");
    snprintf(nvr, nn, "%s", pkg);
    snprintf(rpm, n, "%s/%s.rpm", pp->ctx->paths.packages_dir, pkg);
    if (access(rpm, R_OK) < 0)
        return kiln_err_set(err, KILN_E_NOTFOUND,
                            "there is no package %s in %s (kiln build makes one)", pkg,
                            pp->ctx->paths.packages_dir);
    return 0;
}

/* The app's manifest: from --source, else the source kiln knows for the package's app. */
static int find_manifest(struct pipe *pp, const char *nvr, struct kiln_manifest *m,
                         struct kiln_err *err)
{
    char dir[PATH_MAX];
    if (pipe_str(pp, "source") != NULL) {
        snprintf(dir, sizeof dir, "%s", pipe_str(pp, "source"));
    } else {
        /* name-version-release.arch: the app is what precedes the last two dashes */
        char app[KILN_APP_SIZE] = "";
        const char *d2 = strrchr(nvr, '-');
        const char *d1 = d2;
        while (d1 > nvr && *--d1 != '-')
            ;
        if (d1 > nvr && (size_t)(d1 - nvr) < sizeof app)
            memcpy(app, nvr, (size_t)(d1 - nvr));
        if (kiln_sources_get(&pp->ctx->paths, app, dir, sizeof dir, err) < 0)
            return -1;
    }
    char *path = xasprintf("%s/kiln.json", dir);
    int rc = kiln_manifest_load(path, m, err);
    free(path);
    return rc;
}

static int install(struct pipe *pp, const char *rpm, const char *root, struct kiln_err *err)
{
    const char *argv[] = {
        "rpm",      "--root",      root, "--dbpath", "/var/lib/rpm", "--force-debian", "-i",
        "--nodeps", "--noscripts", rpm,  NULL};
    struct kiln_spawn_opts o = {
        .argv = argv, .timeout_ms = 120000, .on_line = on_line, .ctx = pp, .package = "rpm"};
    int status = 0;
    if (kiln_spawn_run(&o, &status, err) < 0)
        return -1;
    if (status != 0)
        return kiln_err_set(err, KILN_E_FAILED, "rpm could not install %s (exit %d; see the log)",
                            rpm, status);
    return 0;
}

struct probe {
    long code;
    struct kiln_strbuf body;
};

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    struct probe *p = ctx;
    if (p->body.len < 512)
        kiln_strbuf_append_len(&p->body, data, size * n);
    return size * n;
}

static int probe(const char *url, struct probe *p)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return -1;
    kiln_strbuf_reset(&p->body);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, p);
    CURLcode rc = curl_easy_perform(c);
    p->code = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &p->code);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

static pid_t start_app(const struct kiln_manifest *m, const char *root, int port,
                       const char *logpath, struct kiln_err *err)
{
    char *prog = xasprintf("%s%s", root, m->start[0]);
    char **argv = xcalloc(m->n_start + 1, sizeof *argv);
    argv[0] = prog;
    for (size_t i = 1; i < m->n_start; i++)
        argv[i] = m->start[i];
    /* The environment an instance gets: PORT (or the manifest's name for it), the id
     * and the root, on top of kiln's own. */
    size_t n_env = 0;
    while (environ[n_env] != NULL)
        n_env++;
    char **envp = xcalloc(n_env + 4, sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        envp[k++] = environ[i];
    char *e_port = xasprintf("%s=%d", m->port_env, port);
    char *e_id = xasprintf("KILN_INSTANCE_ID=i-try%08x", (unsigned)getpid());
    char *e_root = xasprintf("KILN_ROOT=%s", root);
    envp[k++] = e_port;
    envp[k++] = e_id;
    envp[k++] = e_root;
    envp[k] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addchdir_np(&fa, root);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, prog, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        kiln_err_sys(err, rc, "cannot start %s from the package", m->start[0]);
        pid = -1;
    }
    free(prog);
    free(argv);
    free(envp);
    free(e_port);
    free(e_id);
    free(e_root);
    return pid;
}

static void stop_app(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(-pid, SIGTERM);
    for (int i = 0; i < 30; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        kiln_sleep_ms(100);
    }
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Probes until two answers in a row are 200 (the health check's own threshold), the
 * app exits, or time runs out. */
static int health_gate(struct pipe *pp, pid_t pid, const char *url, struct probe *p,
                       int64_t *took_ms, struct kiln_err *err)
{
    int64_t t0 = kiln_mono_us(), streak = 0;
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return kiln_err_set(err, KILN_E_FAILED, "the app exited (%s %d) before it was healthy",
                                WIFEXITED(status) ? "status" : "signal",
                                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        if (probe(url, p) == 0 && p->code == 200) {
            if (++streak >= 2) {
                *took_ms = (kiln_mono_us() - t0) / 1000;
                return 0;
            }
        } else {
            streak = 0;
        }
        if ((kiln_mono_us() - t0) / 1000 > TRY_TIMEOUT_MS) {
            const char *b = kiln_strbuf_str(&p->body);
            return kiln_err_set(err, KILN_E_FAILED, "%s answered %s%ld%s%.200s", url,
                                p->code ? "HTTP " : "", p->code, p->code ? ": " : " (no answer)",
                                p->code ? b : "");
        }
        if (kiln_job_check_cancel(pp->job, err) < 0)
            return -1;
        kiln_sleep_ms(TRY_PROBE_MS);
    }
}

static void log_app_output(struct pipe *pp, const char *logpath)
{
    FILE *f = fopen(logpath, "re");
    if (f == NULL)
        return;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL && n++ < 40) {
        line[strcspn(line, "\n")] = '\0';
        pipe_log(pp, KILN_LOG_INFO, "app: %s", line);
    }
    fclose(f);
}

int pipe_try(struct pipe *pp, struct kiln_err *err)
{
    char *work = xasprintf("%s/try/%llu", pp->ctx->paths.home, (unsigned long long)pp->id);
    char *root = xasprintf("%s/root", work);
    char *logpath = xasprintf("%s/app.log", work);
    char rpm[PATH_MAX], nvr[KILN_NVR_SIZE];
    struct kiln_manifest m;
    bool have_manifest = false;
    pid_t pid = -1;
    struct probe p = {.body = KILN_STRBUF_INIT};
    int64_t took = 0;
    int rc = kiln_mkdir_p(work, 0700, err);
    if (rc == 0)
        rc = find_rpm(pp, work, rpm, sizeof rpm, nvr, sizeof nvr, err);
    if (rc == 0 && (rc = find_manifest(pp, nvr, &m, err)) == 0)
        have_manifest = true;
    if (rc == 0) {
        pipe_log(pp, KILN_LOG_INFO, "installing %s into a throwaway root", nvr);
        rc = install(pp, rpm, root, err);
    }
    int port = rc == 0 ? free_port(err) : -1;
    if (rc == 0 && port < 0)
        rc = -1;
    if (rc == 0 && (pid = start_app(&m, root, port, logpath, err)) < 0)
        rc = -1;
    char url[512];
    if (rc == 0) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, m.health_path);
        pipe_log(pp, KILN_LOG_INFO, "started %s on port %d; checking %s", m.start[0], port, url);
        rc = health_gate(pp, pid, url, &p, &took, err);
    }
    stop_app(pid);
    log_app_output(pp, logpath);
    if (rc == 0) {
        pipe_log(pp, KILN_LOG_INFO, "PASS: %s answered 200 on %s within %lld ms", nvr,
                 m.health_path, (long long)took);
        pp->result = cJSON_CreateObject();
        cJSON_AddStringToObject(pp->result, "package", nvr);
        cJSON_AddStringToObject(pp->result, "result", "pass");
        cJSON_AddNumberToObject(pp->result, "healthy_ms", (double)took);
    } else {
        kiln_err_prefix(err, "FAIL: %s", nvr);
    }
    struct kiln_err rmerr = {0};
    if (kiln_tree_remove(work, &rmerr) < 0)
        pipe_log(pp, KILN_LOG_WARN, "could not clean up %s: %s", work, rmerr.msg);
    if (have_manifest)
        kiln_manifest_free(&m);
    kiln_strbuf_free(&p.body);
    free(work);
    free(root);
    free(logpath);
    return rc;
}
