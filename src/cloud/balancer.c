/* kilnd: the load balancer, a private nginx per state dir (the balancer thread).
 *
 * Everything nginx owns lives under paths.nginx_dir: the config, the pid file, the logs
 * and every temp path, so one kilnd never touches another's (or the system's) nginx.
 *
 * nginx runs with `daemon off` as kilnd's child, in its own process group: kilnd learns
 * at once when it dies (waitpid) and starts it again. When kilnd itself is killed, nginx
 * keeps serving (it is in another process group and nothing signals it); the next kilnd
 * re-adopts it through the `master` file (pid + /proc start time, so a reused pid is not
 * mistaken for it) instead of starting a second one that could not bind the port.
 *
 * A pass: under mu, render the whole config from the state (the upstream of a cluster =
 * RUNNING + HEALTHY instances of its enabled groups); outside mu, write it atomically to
 * nginx.conf.new, `nginx -t` it, rename it over nginx.conf, reload (SIGHUP) or start
 * nginx, and poll /__kiln/generation until the new generation answers. Only then are the
 * instances marked in service. If anything fails before the reload, the old config and
 * the old nginx keep serving: traffic never depends on a config nginx has not accepted.
 */
#include "cloud/cloud.h"
#include "kiln/proc.h"

#include "kiln/atomic_file.h"
#include "kiln/spawn.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a reload or a start may take to show the new generation. nginx retries a
 * busy port for 2.5 s before giving up, so a start needs more than that to report it. */
#define CONFIRM_TIMEOUT_MS 5000
/* Polling the generation every 5 ms keeps a switch close to what nginx needs (a reload
 * is ~20-40 ms here) without spinning. */
#define CONFIRM_POLL_MS       5
#define NGINX_TEST_TIMEOUT_MS 10000
/* A dead nginx is noticed within this, even when no request comes. */
#define LIVENESS_CHECK_US (500 * 1000LL)
/* Restarts of an nginx that keeps failing back off from 1 s to 30 s. */
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000
/* Graceful stop (SIGQUIT: finish requests in flight), then SIGTERM, then SIGKILL. */
#define SHUTDOWN_GRACE_MS 5000

struct cloud_balancer {
    pthread_t thread;
    atomic_bool quit; /* read by the slow steps too, so they stop early */
    /* The rest belongs to the balancer thread (or to whoever runs after it stopped). */
    uint64_t taken; /* the last request number a pass took */
    bool force;     /* run a pass without a new request (start, adoption, restart) */
    pid_t pid;      /* nginx's master, 0 = none */
    unsigned long long ticks;
    bool child;       /* ours to waitpid; false when adopted from an earlier kilnd */
    int64_t retry_at; /* monotonic µs: next start attempt after a failure; 0 = none */
    int64_t retry_ms;
    int64_t next_check; /* monotonic µs: next liveness check */
    char *live_key;     /* the routing part of the config nginx serves; NULL = unknown */
    char token[20];     /* tells our nginx's generation answers from anyone else's */
    char *prefix, *conf, *conf_new, *pid_file, *master_file, *error_log, *stderr_log, *temp_dir;
    char *marker_sock; /* where nginx answers /__kiln/generation (unix socket) */
};

/* ---- small helpers ---- */

static void wait_until(struct cloud *c, int64_t deadline_us)
{
    /* `changed` runs on CLOCK_MONOTONIC (cloud_init), the clock of kiln_mono_us. */
    struct timespec ts = {.tv_sec = deadline_us / 1000000,
                          .tv_nsec = (long)(deadline_us % 1000000) * 1000};
    pthread_cond_timedwait(&c->changed, &c->mu, &ts);
}

/* Appends s as an nginx quoted string. Paths come from the user's KILN_HOME and may hold
 * spaces or quotes; control characters were refused at start (path_ok). */
static void append_quoted(struct kiln_strbuf *sb, const char *s)
{
    kiln_strbuf_appendc(sb, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            kiln_strbuf_appendc(sb, '\\');
        kiln_strbuf_appendc(sb, *s);
    }
    kiln_strbuf_appendc(sb, '"');
}

static bool path_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* Names go into the config unquoted (server_name, upstream names): only what kiln's name
 * rules allow, so a damaged state file cannot inject directives. */
static bool name_ok(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
            return false;
    return true;
}

static bool is_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* nginx lives in /usr/sbin, which an ordinary user's PATH often lacks. */
static void resolve_nginx(struct cloud *c)
{
    if (c->nginx_bin[0] != '\0')
        return;
    const char *path = getenv("PATH");
    struct kiln_strbuf dirs = KILN_STRBUF_INIT;
    kiln_strbuf_appendf(&dirs, "%s:/usr/sbin:/usr/local/sbin:/sbin", path ? path : "/usr/bin");
    char *list = kiln_strbuf_detach(&dirs, NULL);
    char *save = NULL;
    for (char *d = strtok_r(list, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
        if (d[0] != '/')
            continue; /* a relative PATH entry would change meaning when kilnd changes dir */
        char *cand = xasprintf("%s/nginx", d);
        bool found = is_executable(cand) && strlen(cand) < sizeof c->nginx_bin;
        if (found)
            snprintf(c->nginx_bin, sizeof c->nginx_bin, "%s", cand);
        free(cand);
        if (found)
            break;
    }
    free(list);
}

static int missing_nginx(const char *bin, struct kiln_err *err)
{
    if (bin[0] != '\0')
        return kiln_err_set(err, KILN_E_NOTFOUND,
                            "cannot run %s, the local load balancer: not found or not executable; "
                            "install the Debian package nginx",
                            bin);
    return kiln_err_set(err, KILN_E_NOTFOUND,
                        "cannot run nginx, the local load balancer: not found in PATH or "
                        "/usr/sbin; install the Debian package nginx");
}

/* The message of the last "[emerg]" (else "[alert]" or "[crit]") line in text, without
 * nginx's "nginx: " or "2026/11/26 05:16:08 " and "123#123: " prefixes. */
static bool nginx_message(const char *text, char *out, size_t size)
{
    static const char *const levels[] = {"[emerg] ", "[alert] ", "[crit] "};
    for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
        const char *hit = NULL;
        for (const char *p = strstr(text, levels[l]); p != NULL; p = strstr(p + 1, levels[l])) {
            /* nginx's last word on a busy port says less than the bind() line before it */
            const char *still = strstr(p, "still could not bind()");
            if (hit == NULL || still == NULL || still > p + strcspn(p, "\n"))
                hit = p;
        }
        if (hit == NULL)
            continue;
        const char *m = hit + strlen(levels[l]);
        /* error log lines carry "pid#tid: " (and maybe "*conn "); stderr lines do not */
        const char *q = m;
        while (*q >= '0' && *q <= '9')
            q++;
        if (q > m && *q == '#') {
            const char *colon = strstr(q, ": ");
            if (colon != NULL && (size_t)(colon - q) < 24)
                m = colon + 2;
        }
        size_t n = strcspn(m, "\n");
        snprintf(out, size, "%.*s", (int)n, m);
        return true;
    }
    return false;
}

/* What nginx wrote to its error log after `from`, reduced to its worst line. */
static bool error_log_message(const char *path, off_t from, char *out, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    bool found = false;
    if (fstat(fd, &st) == 0 && st.st_size > from) {
        off_t start = st.st_size - from > 65536 ? st.st_size - 65536 : from;
        size_t len = (size_t)(st.st_size - start);
        char *buf = xmalloc(len + 1);
        ssize_t got = pread(fd, buf, len, start);
        if (got > 0) {
            buf[got] = '\0';
            found = nginx_message(buf, out, size);
        }
        free(buf);
    }
    close(fd);
    return found;
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

static void random_token(char out[20])
{
    unsigned char b[8] = {0};
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        /* Only needs to differ between kilnd runs sharing a port: time and pid do. */
        uint64_t v = (uint64_t)kiln_now_us() ^ ((uint64_t)getpid() << 40);
        memcpy(b, &v, sizeof b);
    }
    snprintf(out, 20, "%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6],
             b[7]);
}

/* ---- rendering (caller holds mu) ---- */

struct routed {
    char (*ids)[CLOUD_ID_MAX];
    size_t n, cap;
};

static void routed_add(struct routed *r, const char *id)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->ids = xrealloc(r->ids, r->cap * sizeof *r->ids);
    }
    snprintf(r->ids[r->n++], CLOUD_ID_MAX, "%s", id);
}

static bool routed_has(const struct routed *r, const char *id)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->ids[i], id) == 0)
            return true;
    return false;
}

/* The file descriptors nginx may use: worker_connections counts both sides of a proxied
 * request, so it gets half, and never more than the hard limit allows us to ask for. */
static void fd_budget(long *nofile, long *connections)
{
    struct rlimit rl;
    long hard = 16384;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
        rl.rlim_max < (rlim_t)hard)
        hard = (long)rl.rlim_max;
    *nofile = hard;
    *connections = hard / 2 > 4096 ? 4096 : hard / 2;
    if (*connections < 256)
        *connections = 256;
}

/* Renders everything but the generation answer into `routing` (what decides whether a
 * reload is needed) and fills `routed` with the instances it sends traffic to. */
static void render_routing(struct cloud *c, struct cloud_balancer *b, struct kiln_strbuf *sb,
                           struct routed *routed)
{
    int port = c->config.local.lb_port;
    long nofile, connections;
    fd_budget(&nofile, &connections);

    kiln_strbuf_append(sb, "# kilnd's load balancer. kilnd rewrites this file on every change:\n"
                           "# edits are lost. See doc/kilnd-api.md.\n"
                           "daemon off;\n"
                           "master_process on;\n"
                           "worker_processes auto;\n");
    kiln_strbuf_appendf(sb, "worker_rlimit_nofile %ld;\n", nofile);
    /* An old worker finishing slow requests after a reload is cut off after this. */
    kiln_strbuf_append(sb, "worker_shutdown_timeout 10s;\n");
    /* As root, workers would otherwise run as nobody and could not use the temp dirs
     * inside the 0700 state dir; as anyone else the directive is ignored with a warning. */
    if (geteuid() == 0)
        kiln_strbuf_append(sb, "user root;\n");
    kiln_strbuf_append(sb, "pid ");
    append_quoted(sb, b->pid_file);
    kiln_strbuf_append(sb, ";\nerror_log ");
    append_quoted(sb, b->error_log);
    kiln_strbuf_appendf(sb, " warn;\n\nevents {\n    worker_connections %ld;\n}\n\nhttp {\n",
                        connections);
    static const char *const temps[][2] = {{"client_body_temp_path", "client_body"},
                                           {"proxy_temp_path", "proxy"},
                                           {"fastcgi_temp_path", "fastcgi"},
                                           {"uwsgi_temp_path", "uwsgi"},
                                           {"scgi_temp_path", "scgi"}};
    for (size_t i = 0; i < sizeof temps / sizeof temps[0]; i++) {
        char *p = xasprintf("%s/%s", b->temp_dir, temps[i][1]);
        kiln_strbuf_appendf(sb, "    %s ", temps[i][0]);
        append_quoted(sb, p);
        kiln_strbuf_append(sb, ";\n");
        free(p);
    }
    kiln_strbuf_append(
        sb, "    access_log off;\n"
            "    server_tokens off;\n"
            "    default_type text/plain;\n"
            /* app (48) + env (16) + ".localhost": the default bucket (64) is too small and
             * nginx -t would refuse the config with "could not build server_names_hash". */
            "    server_names_hash_bucket_size 128;\n"
            /* Keep-alive to the instances: no connect per request, and a killed instance's
             * cached connection fails fast and is retried on another (nginx does that for
             * cached connections whatever the method). */
            "    proxy_http_version 1.1;\n"
            "    proxy_set_header Connection \"\";\n"
            "    proxy_set_header Host $host;\n"
            "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
            "    proxy_set_header X-Forwarded-Proto $scheme;\n"
            /* A dead instance on loopback refuses at once; a stopped one accepts (the kernel
             * does) and then says nothing: read timeouts bound that. */
            "    proxy_connect_timeout 1s;\n"
            "    proxy_send_timeout 30s;\n"
            "    proxy_read_timeout 30s;\n"
            /* A killed or draining instance costs no client request: try the next one. */
            "    proxy_next_upstream error timeout http_502 http_503 http_504;\n"
            "    proxy_next_upstream_timeout 10s;\n\n");

    for (size_t ci = 0; ci < c->clusters.n; ci++) {
        struct cloud_cluster *cl = c->clusters.v[ci];
        if (!name_ok(cl->name) || !name_ok(cl->app) || !name_ok(cl->env))
            continue; /* cannot happen for names that passed kiln's validators */
        size_t first = routed->n;
        struct kiln_strbuf servers = KILN_STRBUF_INIT;
        for (size_t ii = 0; ii < c->instances.n; ii++) {
            struct cloud_instance *in = c->instances.v[ii];
            if (in->state != KILN_INSTANCE_RUNNING || in->health != KILN_HEALTH_HEALTHY ||
                in->port <= 0)
                continue;
            struct cloud_group *g = cloud_find_group(c, in->group);
            if (g == NULL || strcmp(g->cluster, cl->name) != 0 || !cloud_group_enabled(g))
                continue;
            /* One failure takes it out for 2 s: a killed instance is skipped by the
             * next requests until the health check takes it out for good. */
            kiln_strbuf_appendf(&servers,
                                "        server 127.0.0.1:%d max_fails=1 fail_timeout=2s; # %s "
                                "%s\n",
                                in->port, in->id, in->group);
            routed_add(routed, in->id);
        }
        kiln_strbuf_appendf(sb, "    # cluster %s\n", cl->name);
        if (routed->n > first) {
            kiln_strbuf_appendf(sb, "    upstream cluster_%s {\n", cl->name);
            kiln_strbuf_append(sb, kiln_strbuf_str(&servers));
            kiln_strbuf_append(sb, "        keepalive 16;\n    }\n");
        }
        kiln_strbuf_appendf(sb,
                            "    server {\n"
                            "        listen 127.0.0.1:%d;\n"
                            "        server_name %s.%s.localhost;\n",
                            port, cl->app, cl->env);
        if (routed->n > first)
            kiln_strbuf_appendf(
                sb,
                "        location / {\n"
                "            proxy_pass http://cluster_%s;\n"
                "        }\n"
                /* nginx's own 502/504 (every instance failed): say so in a sentence. */
                "        error_page 502 504 @unavailable;\n"
                "        location @unavailable {\n"
                "            return 502 \"no instance of %s answered; try again\\n\";\n"
                "        }\n",
                cl->name, cl->name);
        else
            /* An answer, not a connection error: the app exists, nothing serves it. */
            kiln_strbuf_appendf(sb,
                                "        location / {\n"
                                "            return 503 \"no healthy instances in %s\\n\";\n"
                                "        }\n",
                                cl->name);
        kiln_strbuf_append(sb, "    }\n\n");
        kiln_strbuf_free(&servers);
    }
}

/* The default server (unknown Host) with the generation marker: kept out of the routing
 * part so that a new generation alone does not count as a change. */
static void render_default(struct cloud *c, struct cloud_balancer *b, uint64_t gen,
                           struct kiln_strbuf *sb)
{
    int port = c->config.local.lb_port;
    kiln_strbuf_appendf(
        sb,
        "    # unknown Host\n"
        "    server {\n"
        "        listen 127.0.0.1:%d default_server;\n"
        "        server_name _;\n"
        "        location / {\n"
        "            return 404 \"unknown app: use http://APP.ENV.localhost:%d/\\n\";\n"
        "        }\n"
        "    }\n",
        port, port);
    /* The generation marker kilnd polls after a reload, on a socket in the 0700 state
     * dir: on the TCP port any local user could read the token, which tells this
     * kilnd's nginx from another one. */
    kiln_strbuf_append(sb, "    server {\n        listen ");
    char *listen = xasprintf("unix:%s", b->marker_sock);
    append_quoted(sb, listen);
    free(listen);
    kiln_strbuf_appendf(sb,
                        ";\n"
                        "        location = /__kiln/generation {\n"
                        "            add_header X-Kiln-Balancer %s always;\n"
                        "            return 200 \"%" PRIu64 "\\n\";\n"
                        "        }\n"
                        "    }\n"
                        "}\n",
                        b->token, gen);
}

/* ---- nginx, the process ---- */

/* A live nginx process's parent and process group, from /proc/PID/stat; false when pid
 * is gone, a zombie, or not nginx. */
static bool nginx_proc(pid_t pid, pid_t *ppid, pid_t *pgrp)
{
    struct kiln_proc_stat st;
    if (kiln_proc_stat_read(pid, &st) < 0 || strcmp(st.comm, "nginx") != 0 || st.state == 'Z')
        return false;
    *ppid = st.ppid;
    *pgrp = st.pgrp;
    return true;
}

enum proc_match { MATCH_PPID, MATCH_PGRP };

/* The live nginx processes whose parent (or process group) is `id`, up to max. */
static size_t nginx_procs(pid_t id, enum proc_match by, pid_t *out, size_t max)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < max) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        pid_t pp, pg;
        if (*end != '\0' || pid <= 1 || !nginx_proc((pid_t)pid, &pp, &pg))
            continue;
        if ((by == MATCH_PPID ? pp : pg) == id)
            out[n++] = (pid_t)pid;
    }
    closedir(d);
    return n;
}

#define MAX_WORKERS 256

/* A master killed with SIGKILL leaves its workers running, still holding the port, and a
 * new master could not bind it. They are in the dead master's process group (spawn_nginx
 * made it a group leader). Matched by group and name rather than kill(-pgid): once the
 * group is empty its id can be reused by a stranger. */
static void kill_orphan_workers(pid_t pgid)
{
    pid_t left[MAX_WORKERS];
    size_t n = nginx_procs(pgid, MATCH_PGRP, left, MAX_WORKERS);
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++)
        kill(left[i], SIGKILL);
    int64_t deadline = kiln_mono_us() + 1000 * 1000LL;
    while (nginx_procs(pgid, MATCH_PGRP, left, MAX_WORKERS) > 0 && kiln_mono_us() < deadline)
        kiln_sleep_ms(5);
}

/* Whether the workers that served before a reload have stopped accepting: each is gone
 * or has set its title to "worker process is shutting down", which nginx does just
 * before it closes its listening sockets. Until then an old worker may still take a new
 * connection and answer it with the old config: nginx's master waits 100 ms after
 * starting the new workers before it tells the old ones to go. */
static bool workers_retired(pid_t master, const pid_t *old, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pid_t pp, pg;
        if (!nginx_proc(old[i], &pp, &pg) || pp != master)
            continue;
        char path[64], buf[128];
        snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)old[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t got = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (got <= 0)
            continue;
        buf[got] = '\0';
        if (strstr(buf, "shutting down") == NULL)
            return false;
    }
    return true;
}

/* Whether nginx is still there. Reaps our child; an adopted one is checked by pid and
 * start time. Sets *why to how it ended. */
static bool nginx_alive(struct cloud_balancer *b, char *why, size_t size)
{
    if (b->pid <= 0)
        return false;
    if (b->child) {
        int status;
        pid_t r = waitpid(b->pid, &status, WNOHANG);
        if (r == 0)
            return true;
        if (r == b->pid) {
            if (WIFSIGNALED(status))
                snprintf(why, size, "killed by signal %d", WTERMSIG(status));
            else
                snprintf(why, size, "exit status %d", WEXITSTATUS(status));
        } else {
            /* ECHILD: reaped by someone else; treat it as gone unless it still runs */
            if (kiln_proc_start_ticks(b->pid) == b->ticks && b->ticks != 0)
                return true;
            snprintf(why, size, "gone");
        }
    } else {
        if (kiln_proc_start_ticks(b->pid) == b->ticks)
            return true;
        snprintf(why, size, "gone");
    }
    kill_orphan_workers(b->pid);
    b->pid = 0;
    b->ticks = 0;
    b->child = false;
    free(b->live_key);
    b->live_key = NULL;
    return false;
}

/* Kills a process group leader and everything in its group, and reaps it if it is ours. */
static void kill_nginx(struct cloud_balancer *b, int first_signal, int64_t grace_ms)
{
    if (b->pid <= 0)
        return;
    kill(b->pid, first_signal);
    int64_t deadline = kiln_mono_us() + grace_ms * 1000;
    bool killed = false;
    char why[64];
    while (nginx_alive(b, why, sizeof why)) {
        if (kiln_mono_us() >= deadline) {
            if (killed)
                return; /* not ours to kill (EPERM?): the caller sees b->pid still set */
            /* The whole group: workers too, so none keeps the port. */
            kill(-b->pid, SIGKILL);
            kill(b->pid, SIGKILL);
            killed = true;
            deadline = kiln_mono_us() + 2000 * 1000LL;
        }
        kiln_sleep_ms(10);
    }
}

static int write_master_file(struct cloud_balancer *b, struct kiln_err *err)
{
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%ld %llu\n", (long)b->pid, b->ticks);
    return kiln_atomic_write(b->master_file, buf, (size_t)n, 0600, err);
}

static int spawn_nginx(struct cloud *c, struct cloud_balancer *b, struct kiln_err *err)
{
    int out = open(b->stderr_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (out < 0)
        return kiln_err_sys(err, errno, "cannot open %s", b->stderr_log);
    const char *argv[] = {c->nginx_bin, "-p", b->prefix, "-e", b->error_log, "-c", b->conf, NULL};
    /* Its own group: a signal to kilnd's group (a ^C in a foreground kilnd) leaves the
     * load balancer alone, and kill_nginx can take its workers with it. kilnd's lock
     * file is not inherited (only fds 0-2 are), or a dead kilnd's lock would live on in
     * the nginx that outlives it. */
    struct kiln_spawn_child how = {.out_fd = out, .err_fd = out};
    pid_t pid = 0;
    int rc = kiln_spawn_child(c->nginx_bin, (char *const *)argv, NULL, &how, &pid);
    close(out);
    if (rc != 0)
        return kiln_err_sys(err, rc, "cannot start %s", c->nginx_bin);
    b->pid = pid;
    b->child = true;
    b->ticks = kiln_proc_start_ticks(pid);
    /* Without the file a restarted kilnd would not know this nginx; it also has the
     * nginx.pid fallback (adopt), so a failure here is only worth a note. */
    struct kiln_err e2;
    if (write_master_file(b, &e2) < 0)
        cloud_emit(c, "error", NULL, NULL, NULL, NULL, "%s", e2.msg);
    return 0;
}

/* Reads "PID TICKS" from the master file. */
static bool read_master_file(const char *path, pid_t *pid, unsigned long long *ticks)
{
    char *text = NULL;
    if (kiln_read_file(path, &text, NULL, 256, NULL) < 0)
        return false;
    long p = 0;
    bool okay = sscanf(text, "%ld %llu", &p, ticks) == 2 && p > 1;
    free(text);
    *pid = (pid_t)p;
    return okay;
}

/* Whether pid is an nginx master running with our prefix (its title says so:
 * "nginx: master process /usr/sbin/nginx -p PREFIX -e ... -c ..."). */
static bool is_our_master(pid_t pid, const char *prefix)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    if (strncmp(buf, "nginx: master process ", 22) != 0)
        return false;
    char *want = xasprintf(" -p %s ", prefix);
    bool found = strstr(buf, want) != NULL;
    free(want);
    return found;
}

/* Finds the nginx an earlier kilnd started for this state dir, if it still runs. */
static bool adopt_nginx(struct cloud_balancer *b)
{
    pid_t pid;
    unsigned long long ticks;
    if (read_master_file(b->master_file, &pid, &ticks) && ticks != 0 &&
        kiln_proc_start_ticks(pid) == ticks && is_our_master(pid, b->prefix)) {
        b->pid = pid;
        b->ticks = ticks;
        /* Ours when this process started it (a balancer stopped and started again). */
        b->child = waitpid(pid, NULL, WNOHANG) == 0;
        return true;
    }
    /* kilnd killed between starting nginx and writing the master file: nginx's own pid
     * file and its title identify it. */
    char *text = NULL;
    if (kiln_read_file(b->pid_file, &text, NULL, 64, NULL) == 0) {
        long p = strtol(text, NULL, 10);
        free(text);
        if (p > 1 && is_our_master((pid_t)p, b->prefix)) {
            b->pid = (pid_t)p;
            b->ticks = kiln_proc_start_ticks(b->pid);
            b->child = waitpid(b->pid, NULL, WNOHANG) == 0;
            struct kiln_err e2;
            write_master_file(b, &e2);
            return b->ticks != 0;
        }
    }
    return false;
}

/* ---- a pass: test, switch, confirm (no lock held) ---- */

struct line_capture {
    struct kiln_strbuf text;
    struct cloud_balancer *b;
};

static void capture_line(void *ctx, enum kiln_stream stream, const char *line)
{
    struct line_capture *lc = ctx;
    if (lc->text.len < 16384) {
        kiln_strbuf_append(&lc->text, line);
        kiln_strbuf_appendc(&lc->text, '\n');
    }
}

static bool spawn_cancelled(void *ctx)
{
    struct line_capture *lc = ctx;
    return atomic_load(&lc->b->quit);
}

static int nginx_test(struct cloud *c, struct cloud_balancer *b, struct kiln_err *err)
{
    const char *argv[] = {c->nginx_bin, "-t",         "-q", "-p",        b->prefix,
                          "-e",         b->error_log, "-c", b->conf_new, NULL};
    struct line_capture lc = {KILN_STRBUF_INIT, b};
    struct kiln_spawn_opts o = {.argv = argv,
                                .timeout_ms = NGINX_TEST_TIMEOUT_MS,
                                .on_line = capture_line,
                                .cancelled = spawn_cancelled,
                                .ctx = &lc,
                                .package = "nginx"};
    int status = 0;
    int rc = kiln_spawn_run(&o, &status, err);
    if (rc == 0 && status != 0) {
        char msg[512];
        if (!nginx_message(kiln_strbuf_str(&lc.text), msg, sizeof msg))
            snprintf(msg, sizeof msg, "%.*s", (int)strcspn(kiln_strbuf_str(&lc.text), "\n"),
                     kiln_strbuf_str(&lc.text));
        rc = kiln_err_set(err, KILN_E_FAILED,
                          "nginx -t refused the new load balancer configuration: %s; the previous "
                          "configuration keeps serving (see %s)",
                          msg[0] ? msg : "no message", b->conf_new);
    } else if (rc < 0) {
        kiln_err_prefix(err, "testing the load balancer configuration");
    }
    kiln_strbuf_free(&lc.text);
    return rc;
}

struct answer {
    char body[64];
    size_t len;
    char token[40];
};

static size_t answer_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct answer *a = ctx;
    size_t n = size * nmemb;
    size_t room = sizeof a->body - 1 - a->len;
    size_t take = n < room ? n : room;
    memcpy(a->body + a->len, data, take);
    a->len += take;
    a->body[a->len] = '\0';
    return n;
}

static size_t answer_header(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct answer *a = ctx;
    size_t n = size * nmemb;
    static const char name[] = "x-kiln-balancer:";
    if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        const char *v = data + sizeof name - 1;
        size_t vl = n - (sizeof name - 1);
        while (vl > 0 && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        snprintf(a->token, sizeof a->token, "%.*s", (int)vl, v);
    }
    return n;
}

enum switch_kind { SWITCH_RELOAD, SWITCH_START };

/* Polls /__kiln/generation until our nginx answers `gen` and the workers of the previous
 * config (old, n_old) no longer accept. Fails early when nginx dies, or logs an [emerg]
 * on a reload (a config it refused). */
static int confirm_live(struct cloud *c, struct cloud_balancer *b, uint64_t gen, off_t log_from,
                        enum switch_kind kind, const pid_t *old, size_t n_old, struct kiln_err *err)
{
    int port = c->config.local.lb_port;
    char url[64];
    snprintf(url, sizeof url, "http://localhost/__kiln/generation");
    CURL *h = curl_easy_init();
    if (h == NULL)
        kiln_oom(0);
    struct answer a;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, b->marker_sock);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 500L);
    /* A fresh connection each time: a kept one would stay with an old worker. */
    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, answer_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, answer_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &a);

    char want[32];
    snprintf(want, sizeof want, "%" PRIu64 "\n", gen);
    char last[160] = "no answer";
    int64_t deadline = kiln_mono_us() + CONFIRM_TIMEOUT_MS * 1000LL;
    int rc = -1;
    for (;;) {
        memset(&a, 0, sizeof a);
        CURLcode cc = curl_easy_perform(h);
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        bool new_answers = cc == CURLE_OK && code == 200 && strcmp(a.token, b->token) == 0 &&
                           strcmp(a.body, want) == 0;
        if (new_answers && workers_retired(b->pid, old, n_old)) {
            rc = 0;
            break;
        }
        if (new_answers)
            snprintf(last, sizeof last, "generation %" PRIu64 ", old workers still accepting", gen);
        else if (cc != CURLE_OK)
            snprintf(last, sizeof last, "%s", curl_easy_strerror(cc));
        else if (strcmp(a.token, b->token) != 0)
            snprintf(last, sizeof last, "HTTP %ld from a server that is not this kilnd's nginx",
                     code);
        else
            snprintf(last, sizeof last, "generation %.*s", (int)strcspn(a.body, "\n"), a.body);

        char msg[512], why[64];
        if (!nginx_alive(b, why, sizeof why)) {
            if (!error_log_message(b->error_log, log_from, msg, sizeof msg))
                snprintf(msg, sizeof msg, "it exited (%s); see %s", why, b->stderr_log);
            kiln_err_set(err, KILN_E_FAILED, "nginx could not %s: %s",
                         kind == SWITCH_START ? "start" : "load the new configuration", msg);
            break;
        }
        /* A reload nginx refuses is logged and the old config stays: no need to wait
         * for the timeout. (A start is not judged by the log: nginx retries a busy port
         * for 2.5 s, e.g. while the workers of a killed master are still going, and
         * exits if that fails, which the check above sees.) */
        if (kind == SWITCH_RELOAD && error_log_message(b->error_log, log_from, msg, sizeof msg)) {
            kiln_err_set(err, KILN_E_FAILED,
                         "nginx could not load the new configuration: %s; the previous "
                         "configuration keeps serving",
                         msg);
            break;
        }
        if (kiln_mono_us() >= deadline || atomic_load(&b->quit)) {
            char d[KILN_DURATION_MAX];
            kiln_err_set(err, KILN_E_TIMEOUT,
                         "the load balancer did not confirm generation %" PRIu64
                         " within %s (last: %s); see %s",
                         gen, kiln_format_duration(CONFIRM_TIMEOUT_MS, d), last, b->error_log);
            break;
        }
        kiln_sleep_ms(CONFIRM_POLL_MS);
    }
    curl_easy_cleanup(h);
    if (rc < 0 && kind == SWITCH_START) {
        /* A half-started nginx (still retrying a busy port) must not linger and win the
         * port later behind our back. */
        kill_nginx(b, SIGKILL, 0);
        if (err != NULL && strstr(err->msg, "Address already in use") != NULL) {
            size_t len = strlen(err->msg);
            snprintf(err->msg + len, sizeof err->msg - len,
                     "; another program listens on 127.0.0.1:%d: stop it, or choose another port "
                     "with [local] lb_port in the config or KILN_LB_PORT",
                     port);
        }
    }
    return rc;
}

static int ensure_dirs(struct cloud_balancer *b, struct kiln_err *err)
{
    if (kiln_mkdir_p(b->prefix, 0700, err) < 0)
        return -1;
    char *logs = xasprintf("%s/logs", b->prefix);
    int rc = kiln_mkdir_p(logs, 0700, err);
    free(logs);
    if (rc == 0)
        rc = kiln_mkdir_p(b->temp_dir, 0700, err);
    return rc;
}

/* nginx_alive, telling the event feed when an nginx we had is gone. No lock held. */
static bool check_nginx(struct cloud *c, struct cloud_balancer *b)
{
    pid_t had = b->pid;
    char why[64];
    if (nginx_alive(b, why, sizeof why))
        return true;
    if (had > 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "load balancer nginx (pid %ld) exited (%s); restarting",
                 (long)had, why);
        cloud_emit(c, "error", NULL, NULL, NULL, NULL, "%s", msg);
    }
    return false;
}

/* Makes `conf` live. Returns 0 once nginx answers `gen`. */
static int apply(struct cloud *c, struct cloud_balancer *b, const char *conf, const char *key,
                 uint64_t gen, struct kiln_err *err)
{
    if (c->nginx_bin[0] == '\0' || !is_executable(c->nginx_bin))
        return missing_nginx(c->nginx_bin, err);
    bool alive = check_nginx(c, b);
    if (alive && b->live_key != NULL && strcmp(b->live_key, key) == 0)
        return 0; /* the routing nginx serves is already this one: nothing to reload */
    if (ensure_dirs(b, err) < 0)
        return -1;
    if (kiln_atomic_write(b->conf_new, conf, strlen(conf), 0600, err) < 0)
        return -1;
    if (nginx_test(c, b, err) < 0)
        return -1;
    if (rename(b->conf_new, b->conf) < 0)
        return kiln_err_sys(err, errno, "cannot rename %s to %s", b->conf_new, b->conf);

    off_t log_from = file_size(b->error_log);
    enum switch_kind kind = SWITCH_RELOAD;
    char why[64];
    pid_t old[MAX_WORKERS];
    size_t n_old = alive ? nginx_procs(b->pid, MATCH_PPID, old, MAX_WORKERS) : 0;
    if (!alive || kill(b->pid, SIGHUP) < 0) {
        n_old = 0;
        nginx_alive(b, why, sizeof why); /* reap it if the SIGHUP found it dead */
        kind = SWITCH_START;
        /* A socket left by an nginx that was killed would make the new one fail to
         * listen on it. */
        unlink(b->marker_sock);
        if (spawn_nginx(c, b, err) < 0)
            return -1;
    }
    if (confirm_live(c, b, gen, log_from, kind, old, n_old, err) < 0)
        return -1;
    free(b->live_key);
    b->live_key = xstrdup(key);
    return 0;
}

/* After a pass nginx confirmed: the instances it routes to are in service, the others
 * out of service, each change an event. Caller holds mu. */
static void mark_lb_states(struct cloud *c, const struct routed *routed)
{
    bool any = false;
    for (size_t i = 0; i < c->instances.n; i++) {
        struct cloud_instance *in = c->instances.v[i];
        bool live = in->state != KILN_INSTANCE_TERMINATED;
        enum kiln_lb_state want =
            live && routed_has(routed, in->id) ? KILN_LB_IN_SERVICE : KILN_LB_OUT_OF_SERVICE;
        if (in->lb_state == want)
            continue;
        in->lb_state = want;
        any = true;
        if (!live)
            continue; /* a terminated instance leaves the LB without a second story */
        struct cloud_group *g = cloud_find_group(c, in->group);
        char msg[160];
        snprintf(msg, sizeof msg, "%s is %s in %s", in->id, kiln_lb_state_name(want),
                 g != NULL ? g->cluster : in->group);
        cloud_emit(c, "lb", g != NULL ? g->cluster : NULL, in->group, in->id, NULL, "%s", msg);
    }
    if (any)
        cloud_changed(c);
}

/* One pass over the current state. Called and returns with mu held. */
static void run_pass(struct cloud *c, struct cloud_balancer *b)
{
    uint64_t n = c->lb_wanted;
    b->force = false;
    struct kiln_strbuf routing = KILN_STRBUF_INIT, conf = KILN_STRBUF_INIT;
    struct routed routed = {0};
    render_routing(c, b, &routing, &routed);
    pid_t was_pid = b->pid;
    pthread_mutex_unlock(&c->mu);

    kiln_strbuf_append(&conf, kiln_strbuf_str(&routing));
    render_default(c, b, n, &conf);
    struct kiln_err err = {0};
    int64_t t0 = kiln_mono_us();
    int rc = apply(c, b, kiln_strbuf_str(&conf), kiln_strbuf_str(&routing), n, &err);
    int64_t took_ms = (kiln_mono_us() - t0) / 1000;
    if (rc == 0 && b->pid != was_pid) {
        char msg[160];
        snprintf(msg, sizeof msg, "load balancer nginx started (pid %ld) in %" PRId64 " ms",
                 (long)b->pid, took_ms);
        cloud_emit(c, "lb", NULL, NULL, NULL, NULL, "%s", msg);
    }

    pthread_mutex_lock(&c->mu);
    if (n > b->taken)
        b->taken = n;
    if (rc == 0) {
        mark_lb_states(c, &routed);
        if (n > c->lb_applied)
            c->lb_applied = n;
        c->lb_error[0] = '\0';
        b->retry_at = 0;
        b->retry_ms = RETRY_MIN_MS;
        pthread_cond_broadcast(&c->changed);
    } else {
        if (n > c->lb_failed)
            c->lb_failed = n;
        /* The same failure again (a retry) is not news; the caller still gets it. */
        if (strcmp(c->lb_error, err.msg) != 0)
            cloud_emit(c, "error", NULL, NULL, NULL, NULL, "%s", err.msg);
        snprintf(c->lb_error, sizeof c->lb_error, "%s", err.msg);
        b->retry_at = 0;
        if (b->pid <= 0 && err.code != KILN_E_NOTFOUND) {
            /* nginx is not running (a busy port?): try again later even if nobody asks;
             * a missing nginx only comes back when someone installs it and asks. */
            b->retry_at = kiln_mono_us() + b->retry_ms * 1000;
            b->retry_ms = b->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : b->retry_ms * 2;
        }
        pthread_cond_broadcast(&c->changed);
    }
    kiln_strbuf_free(&routing);
    kiln_strbuf_free(&conf);
    free(routed.ids);
}

static void *balancer_main(void *arg)
{
    struct cloud *c = arg;
    struct cloud_balancer *b = c->balancer;
    pthread_mutex_lock(&c->mu);
    while (!c->stopping && !atomic_load(&b->quit)) {
        int64_t now = kiln_mono_us();
        if (now >= b->next_check) {
            b->next_check = now + LIVENESS_CHECK_US;
            bool had = b->pid > 0;
            pthread_mutex_unlock(&c->mu);
            bool alive = check_nginx(c, b);
            pthread_mutex_lock(&c->mu);
            if (had && !alive) {
                b->force = true; /* start it again now, with the current routing */
                b->retry_at = 0;
            }
            continue;
        }
        bool retry_due = b->pid <= 0 && b->retry_at != 0 && now >= b->retry_at;
        if (c->lb_wanted > b->taken || b->force || retry_due) {
            run_pass(c, b);
            continue;
        }
        int64_t wake = b->next_check;
        if (b->pid <= 0 && b->retry_at != 0 && b->retry_at < wake)
            wake = b->retry_at;
        wait_until(c, wake);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* ---- the module's interface ---- */

static struct cloud_balancer *balancer_new(struct cloud *c)
{
    struct cloud_balancer *b = xcalloc(1, sizeof *b);
    atomic_init(&b->quit, false);
    /* nginx's -p wants the trailing slash; the paths below are absolute anyway. */
    b->prefix = xasprintf("%s/", c->paths.nginx_dir);
    b->conf = xasprintf("%s/nginx.conf", c->paths.nginx_dir);
    b->conf_new = xasprintf("%s/nginx.conf.new", c->paths.nginx_dir);
    b->pid_file = xasprintf("%s/nginx.pid", c->paths.nginx_dir);
    b->master_file = xasprintf("%s/master", c->paths.nginx_dir);
    b->error_log = xasprintf("%s/logs/error.log", c->paths.nginx_dir);
    b->stderr_log = xasprintf("%s/logs/stderr.log", c->paths.nginx_dir);
    b->temp_dir = xasprintf("%s/temp", c->paths.nginx_dir);
    b->marker_sock = xasprintf("%s/lb.sock", c->paths.home);
    b->retry_ms = RETRY_MIN_MS;
    random_token(b->token);
    return b;
}

static void balancer_free(struct cloud_balancer *b)
{
    if (b == NULL)
        return;
    free(b->live_key);
    free(b->prefix);
    free(b->conf);
    free(b->conf_new);
    free(b->pid_file);
    free(b->master_file);
    free(b->error_log);
    free(b->stderr_log);
    free(b->temp_dir);
    free(b->marker_sock);
    free(b);
}

int cloud_balancer_start(struct cloud *c, struct kiln_err *err)
{
    if (c->balancer != NULL)
        return 0;
    if (!path_ok(c->paths.nginx_dir))
        return kiln_err_set(err, KILN_E_INVALID,
                            "the state dir path %s holds a control character, which nginx's "
                            "configuration cannot express; use another KILN_HOME",
                            c->paths.home);
    resolve_nginx(c);
    struct cloud_balancer *b = balancer_new(c);
    if (ensure_dirs(b, err) < 0) {
        balancer_free(b);
        return -1;
    }
    kiln_atomic_cleanup_temps(c->paths.nginx_dir, 0, NULL, NULL);
    adopt_nginx(b);
    /* The first pass starts nginx, or reloads an adopted one with this run's config. */
    b->force = true;
    pthread_mutex_lock(&c->mu);
    c->balancer = b;
    pthread_mutex_unlock(&c->mu);
    int rc = pthread_create(&b->thread, NULL, balancer_main, c);
    if (rc != 0) {
        pthread_mutex_lock(&c->mu);
        c->balancer = NULL;
        pthread_mutex_unlock(&c->mu);
        balancer_free(b);
        return kiln_err_sys(err, rc, "cannot start the balancer thread");
    }
    return 0;
}

void cloud_balancer_stop(struct cloud *c)
{
    pthread_mutex_lock(&c->mu);
    struct cloud_balancer *b = c->balancer;
    if (b != NULL) {
        atomic_store(&b->quit, true);
        pthread_cond_broadcast(&c->changed);
    }
    pthread_mutex_unlock(&c->mu);
    if (b == NULL)
        return;
    pthread_join(b->thread, NULL);
    pthread_mutex_lock(&c->mu);
    c->balancer = NULL;
    /* Waiters must not sleep on a request nobody will take any more. */
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->mu);
    /* nginx keeps running: kilnd may be restarting, and traffic must not stop. */
    balancer_free(b);
}

int cloud_balancer_shutdown_nginx(struct cloud *c, struct kiln_err *err)
{
    cloud_balancer_stop(c);
    struct cloud_balancer *b = balancer_new(c);
    int rc = 0;
    if (adopt_nginx(b)) {
        kill_nginx(b, SIGQUIT, SHUTDOWN_GRACE_MS);
        if (b->pid > 0)
            rc = kiln_err_set(err, KILN_E_FAILED, "nginx (pid %ld) did not stop", (long)b->pid);
    }
    if (rc == 0) {
        unlink(b->master_file);
        cloud_emit(c, "lb", NULL, NULL, NULL, NULL, "load balancer nginx stopped");
    }
    balancer_free(b);
    return rc;
}

uint64_t cloud_balancer_request(struct cloud *c)
{
    c->lb_wanted++;
    pthread_cond_broadcast(&c->changed);
    return c->lb_wanted;
}

int cloud_balancer_wait(struct cloud *c, uint64_t n, int timeout_ms, struct kiln_err *err)
{
    int64_t deadline = kiln_mono_us() + (int64_t)timeout_ms * 1000;
    while (c->lb_applied < n) {
        if (c->lb_failed >= n)
            return kiln_err_set(err, KILN_E_FAILED, "%s",
                                c->lb_error[0] ? c->lb_error : "the load balancer failed");
        if (c->stopping || c->balancer == NULL)
            return kiln_err_set(err, KILN_E_FAILED,
                                "the load balancer is not running (kilnd is stopping)");
        if (kiln_mono_us() >= deadline) {
            char d[KILN_DURATION_MAX];
            return kiln_err_set(err, KILN_E_TIMEOUT,
                                "the load balancer did not confirm the change within %s%s%s",
                                kiln_format_duration(timeout_ms, d),
                                c->lb_error[0] ? "; last error: " : "", c->lb_error);
        }
        wait_until(c, deadline);
    }
    return 0;
}
