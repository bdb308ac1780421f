/* Helpers for the tests of kilnd's modules: a state dir, a hand-made struct cloud, the
 * example app as real processes, HTTP through libcurl. Header-only, like tap.h. */
#ifndef KILN_CLOUDTEST_H
#define KILN_CLOUDTEST_H

#include "cloud/cloud.h"

#include "kiln/spawn.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

extern char **environ;

#define CT_UNUSED __attribute__((unused))

/* A port nobody listens on right now (the kernel's pick). */
CT_UNUSED static int ct_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        perror("free port");
        exit(99);
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* A listener that accepts connections (the kernel does) and never answers. */
CT_UNUSED static int ct_silent_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        perror("listener");
        exit(99);
    }
    *port = ntohs(a.sin_port);
    return fd;
}

CT_UNUSED static bool ct_port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    bool okay = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return okay;
}

CT_UNUSED static int ct_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    remove(path);
    return 0;
}

CT_UNUSED static void ct_rm_tree(const char *dir)
{
    nftw(dir, ct_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh state dir (0700, as kilnd wants) under /tmp. Caller frees. */
CT_UNUSED static char *ct_home(const char *tag)
{
    char *tmpl = xasprintf("/tmp/kiln-%s-XXXXXX", tag);
    if (mkdtemp(tmpl) == NULL) {
        perror("mkdtemp");
        exit(99);
    }
    return tmpl;
}

/* The example app, compiled for this test run into dir (once). Caller frees. */
CT_UNUSED static char *ct_build_hello(const char *dir)
{
    const char *src = getenv("KILN_SRCDIR");
    char *source = xasprintf("%s/examples/hello-world/src/hello-world.c", src ? src : ".");
    char *out = xasprintf("%s/hello-world", dir);
    const char *argv[] = {"cc", "-std=c11", "-O2",  "-DAPP_VERSION=\"1.0.3-1\"",
                          "-o", out,        source, NULL};
    struct kiln_spawn_opts o = {.argv = argv, .timeout_ms = 60000, .package = "gcc"};
    struct kiln_err err = {0};
    int status = -1;
    if (kiln_spawn_run(&o, &status, &err) < 0 || status != 0) {
        printf("Bail out! cannot build %s: %s (status %d)\n", source, err.msg, status);
        exit(99);
    }
    free(source);
    return out;
}

/* Starts the app on port as instance id; fail makes its health check answer 500. */
CT_UNUSED static pid_t ct_start_hello(const char *bin, int port, const char *id, bool fail)
{
    char port_env[32], id_env[64];
    snprintf(port_env, sizeof port_env, "PORT=%d", port);
    snprintf(id_env, sizeof id_env, "KILN_INSTANCE_ID=%s", id);
    char *envp[] = {port_env, id_env, fail ? "HELLO_HEALTH=fail" : "HELLO_HEALTH=ok", NULL};
    char *argv[] = {(char *)bin, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, bin, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        printf("Bail out! cannot start %s: %s\n", bin, strerror(rc));
        exit(99);
    }
    return pid;
}

CT_UNUSED static bool ct_wait_port(int port, int timeout_ms)
{
    int64_t deadline = kiln_mono_us() + timeout_ms * 1000LL;
    while (!ct_port_accepts(port)) {
        if (kiln_mono_us() > deadline)
            return false;
        kiln_sleep_ms(5);
    }
    return true;
}

CT_UNUSED static void ct_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* A hand-made cloud: paths under home, defaults, lb_port; events open. */
CT_UNUSED static void ct_cloud(struct cloud *c, struct kiln_paths *paths, const char *home,
                               int lb_port)
{
    struct kiln_err err = {0};
    struct kiln_config cfg;
    kiln_config_defaults(&cfg);
    cfg.local.lb_port = lb_port;
    char *nocfg = xasprintf("%s/no-config", home);
    if (kiln_paths_resolve(paths, home, nocfg, &err) < 0 || cloud_init(c, paths, &cfg, &err) < 0 ||
        cloud_events_open(c, &err) < 0) {
        printf("Bail out! %s\n", err.msg);
        exit(99);
    }
    free(nocfg);
}

CT_UNUSED static void ct_cloud_free(struct cloud *c, struct kiln_paths *paths)
{
    cloud_events_close(c);
    cloud_free(c);
    kiln_paths_free(paths);
}

/* Adds cluster app-env with the given health check (caller holds mu or no threads run). */
CT_UNUSED static struct cloud_cluster *ct_add_cluster(struct cloud *c, const char *app,
                                                      const char *env, int64_t interval_ms,
                                                      int64_t timeout_ms, int healthy,
                                                      int unhealthy)
{
    struct cloud_cluster *x = xcalloc(1, sizeof *x);
    snprintf(x->app, sizeof x->app, "%s", app);
    snprintf(x->env, sizeof x->env, "%s", env);
    snprintf(x->name, sizeof x->name, "%s-%s", app, env);
    snprintf(x->protocol, sizeof x->protocol, "HTTP");
    snprintf(x->health_path, sizeof x->health_path, "/health_check");
    x->health_interval_ms = interval_ms;
    x->health_timeout_ms = timeout_ms;
    x->healthy_threshold = healthy;
    x->unhealthy_threshold = unhealthy;
    x->created_us = kiln_now_us();
    cloud_add_cluster(c, x);
    return x;
}

CT_UNUSED static struct cloud_group *ct_add_group(struct cloud *c, const char *cluster, int version,
                                                  bool enabled)
{
    struct cloud_group *g = xcalloc(1, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s-v%03d", cluster, version);
    snprintf(g->cluster, sizeof g->cluster, "%s", cluster);
    g->version = version;
    g->min_size = g->max_size = g->desired = 1;
    g->suspended = enabled ? 0 : KILN_PROC_ADD_TO_LB;
    g->created_us = kiln_now_us();
    cloud_add_group(c, g);
    return g;
}

CT_UNUSED static struct cloud_instance *ct_add_instance(struct cloud *c, const char *group,
                                                        const char *id, int port, pid_t pid,
                                                        enum kiln_health health,
                                                        int64_t launched_us)
{
    struct cloud_instance *x = xcalloc(1, sizeof *x);
    snprintf(x->id, sizeof x->id, "%s", id);
    snprintf(x->group, sizeof x->group, "%s", group);
    x->port = port;
    x->pid = pid;
    x->state = KILN_INSTANCE_RUNNING;
    x->health = health;
    x->lb_state = KILN_LB_OUT_OF_SERVICE;
    x->launched_us = launched_us;
    x->exit_status = -1;
    cloud_add_instance(c, x);
    return x;
}

struct ct_answer {
    long status; /* HTTP status; 0 = no answer */
    CURLcode cc;
    char body[512];
    size_t len;
    char instance[CLOUD_ID_MAX]; /* X-Instance-Id */
};

CT_UNUSED static size_t ct_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct ct_answer *a = ctx;
    size_t n = size * nmemb, room = sizeof a->body - 1 - a->len;
    size_t take = n < room ? n : room;
    memcpy(a->body + a->len, data, take);
    a->len += take;
    a->body[a->len] = '\0';
    return n;
}

CT_UNUSED static size_t ct_header(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct ct_answer *a = ctx;
    size_t n = size * nmemb;
    if (n > 14 && strncasecmp(data, "X-Instance-Id:", 14) == 0) {
        const char *v = data + 14;
        while (*v == ' ')
            v++;
        snprintf(a->instance, sizeof a->instance, "%.*s", (int)strcspn(v, "\r\n"), v);
    }
    return n;
}

/* GET http://127.0.0.1:port<path> with Host: host (NULL: the default), on handle h
 * (NULL: a fresh one), so a caller can keep connections alive across calls. */
CT_UNUSED static struct ct_answer ct_get(CURL *h, int port, const char *host, const char *path)
{
    struct ct_answer a = {0};
    bool own = h == NULL;
    if (own)
        h = curl_easy_init();
    char url[256], hosthdr[160];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    struct curl_slist *hdrs = NULL;
    if (host != NULL) {
        snprintf(hosthdr, sizeof hosthdr, "Host: %s", host);
        hdrs = curl_slist_append(NULL, hosthdr);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ct_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, ct_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &a);
    a.cc = curl_easy_perform(h);
    if (a.cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.status);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    if (own)
        curl_easy_cleanup(h);
    return a;
}

/* Whether the events since *seq contain one with all the given substrings; moves *seq. */
CT_UNUSED static bool ct_event_seen(struct cloud *c, uint64_t *seq, const char *a, const char *b)
{
    char *out = NULL;
    *seq = cloud_events_wait(c, *seq, 0, &out);
    bool found = false;
    for (char *line = out, *nl; line != NULL && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (!found && strstr(line, a) != NULL && (b == NULL || strstr(line, b) != NULL)) {
            found = true;
            diag("event: %s", line);
        }
        if (nl == NULL)
            break;
    }
    free(out);
    return found;
}

CT_UNUSED static int ct_cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

CT_UNUSED static int64_t ct_median(int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, ct_cmp_i64);
    return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
