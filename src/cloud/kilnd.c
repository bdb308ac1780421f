/* kilnd: the local cloud, one daemon per state dir.
 *
 * Started by kiln on first need (or `kiln cloud start`), it outlives the console:
 * instances keep running, chaos keeps going, several consoles can watch. A lock file
 * makes it one per state dir; SIGKILL it at any time and start it again: it reads
 * cloud.json, re-adopts the instances that still run and carries on. */
#include "cloud/api.h"
#include "cloud/cloud.h"

#include "config.h"
#include "kiln/paths.h"
#include "kiln/timeutil.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

/* Exit status when another kilnd already serves this state dir: kiln treats it as
 * success when it was only making sure one runs. */
#define KILND_EXIT_RUNNING 3

static int stop_pipe[2] = {-1, -1};
static volatile sig_atomic_t stop_all;

static void on_signal(int sig)
{
    int saved = errno;
    char b = (char)sig;
    if (write(stop_pipe[1], &b, 1) < 0) {
        /* The pipe is full: a stop is already pending. */
    }
    errno = saved;
}

void cloud_stop_requested(struct cloud *c, bool all)
{
    if (all)
        stop_all = 1;
    on_signal(0);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: kilnd [--home DIR] [--config FILE] [--foreground] [--recover]\n\n"
                 "kilnd is kiln's local cloud: it runs instances as processes, checks their\n"
                 "health over HTTP and routes traffic to them through a private nginx.\n"
                 "kiln starts it when first needed; see `kiln help cloud`.\n\n"
                 "  --home DIR      the state dir (default $KILN_HOME, else $XDG_STATE_HOME/kiln)\n"
                 "  --config FILE   the configuration (see kiln.conf(5))\n"
                 "  --foreground    stay in the foreground and log to stderr\n"
                 "  --recover       cloud.json is lost or damaged: start from cloud.json.prev,\n"
                 "                  or rebuild the packages and images from the disk\n"
                 "  -h, --help      this help\n"
                 "  -V, --version   the version\n\n"
                 "Exit status: 0 stopped cleanly, 1 error, 2 usage, 3 already running.\n");
}

struct options {
    const char *home;
    const char *config;
    bool foreground;
    bool recover; /* cloud.json is lost or damaged: start from .prev or from the disk */
};

static int parse_options(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("kilnd %s\n", PACKAGE_VERSION);
            exit(0);
        }
        if (strcmp(a, "--foreground") == 0) {
            o->foreground = true;
        } else if (strcmp(a, "--recover") == 0) {
            o->recover = true;
        } else if ((strcmp(a, "--home") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
            *(a[2] == 'h' ? &o->home : &o->config) = argv[++i];
        } else {
            fprintf(stderr, "kilnd: unknown option '%.40s' (kilnd --help)\n", a);
            return -1;
        }
    }
    return 0;
}

/* Takes the state dir's lock; -1 with KILN_E_BUSY when another kilnd holds it. */
static int take_lock(const struct kiln_paths *paths, struct kiln_err *err)
{
    int fd = open(paths->lock_file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return kiln_err_sys(err, errno, "cannot open the lock file %s", paths->lock_file);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return kiln_err_set(err, KILN_E_BUSY, "kilnd is already running for %s", paths->home);
        return kiln_err_sys(err, e, "cannot lock %s", paths->lock_file);
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)len, 0) < 0) {
        /* The pid in the lock file is only informative. */
    }
    return fd;
}

/* Forks into the background. The parent waits on `ready` for the child's verdict
 * and exits with it, so `kilnd` returns only once the socket accepts connections. */
static int daemonize(const char *log_path, int *ready_fd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0) {
        close(p[1]);
        char buf[1200];
        ssize_t n, total = 0;
        while ((n = read(p[0], buf + total, sizeof buf - 1 - (size_t)total)) > 0)
            total += n;
        buf[total > 0 ? total : 0] = '\0';
        if (strncmp(buf, "OK", 2) == 0)
            _exit(0);
        fprintf(stderr, "kilnd: %s\n",
                total > 0 ? buf : "it stopped while starting (see kilnd.log in the state dir)");
        _exit(strncmp(buf, "already", 7) == 0 ? KILND_EXIT_RUNNING : 1);
    }
    close(p[0]);
    setsid();
    int null = open("/dev/null", O_RDWR);
    int log = open(log_path, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (null >= 0)
        dup2(null, 0);
    if (log >= 0) {
        dup2(log, 1);
        dup2(log, 2);
    }
    if (null > 2)
        close(null);
    if (log > 2)
        close(log);
    *ready_fd = p[1];
    return 0;
}

static void report_ready(int *ready_fd, const char *msg)
{
    if (*ready_fd < 0)
        return;
    if (write(*ready_fd, msg, strlen(msg)) < 0) {
        /* The parent is gone; nobody is waiting for the verdict. */
    }
    close(*ready_fd);
    *ready_fd = -1;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    char when[KILN_ISO_TIME_MAX];
    fprintf(stderr, "%s kilnd[%d]: ", kiln_time_iso(kiln_now_us(), when), (int)getpid());
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

static int start_modules(struct cloud *c, struct kiln_err *err)
{
    if (cloud_instances_start(c, err) < 0 || cloud_health_start(c, err) < 0 ||
        cloud_balancer_start(c, err) < 0 || cloud_reconciler_start(c, err) < 0 ||
        cloud_chaos_start(c, err) < 0)
        return -1;
    return 0;
}

static void stop_modules(struct cloud *c)
{
    cloud_chaos_stop(c);
    cloud_reconciler_stop(c);
    cloud_health_stop(c);
    cloud_balancer_stop(c);
    cloud_instances_stop(c);
}

static void serve(struct cloud *c, int listen_fd)
{
    struct pollfd p[2] = {{.fd = listen_fd, .events = POLLIN},
                          {.fd = stop_pipe[0], .events = POLLIN}};
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            logf_("poll failed: %s", strerror(errno));
            return;
        }
        if (p[1].revents)
            return;
        if (p[0].revents & POLLIN) {
            int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0)
                api_serve_client(c, fd);
            else if (errno == EMFILE || errno == ENFILE)
                kiln_sleep_ms(50); /* out of fds: let client threads finish first */
        }
    }
}

int main(int argc, char **argv)
{
    struct options o = {0};
    struct kiln_err err = {0};
    struct kiln_paths paths = {0};
    struct kiln_config cfg;
    int ready_fd = -1;

    if (parse_options(argc, argv, &o) < 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    kiln_config_defaults(&cfg);
    if (kiln_paths_resolve(&paths, o.home, o.config, &err) < 0 ||
        kiln_paths_ensure_home(&paths, &err) < 0 ||
        kiln_paths_check_socket(paths.socket, &err) < 0 ||
        kiln_config_load(&cfg, paths.config_file, &err) < 0 ||
        kiln_config_apply_env(&cfg, &err) < 0) {
        fprintf(stderr, "kilnd: %s\n", err.msg);
        return 1;
    }
    int lock_fd = take_lock(&paths, &err);
    if (lock_fd < 0) {
        fprintf(stderr, "kilnd: %s\n", err.msg);
        return err.code == KILN_E_BUSY ? KILND_EXIT_RUNNING : 1;
    }
    char log_path[4200];
    snprintf(log_path, sizeof log_path, "%s/kilnd.log", paths.home);
    if (!o.foreground && daemonize(log_path, &ready_fd) < 0) {
        fprintf(stderr, "kilnd: cannot start in the background: %s\n", strerror(errno));
        return 1;
    }
    /* take_lock wrote the pid of the process that took it, the parent of the daemon. */
    char pid_line[32];
    int pid_len = snprintf(pid_line, sizeof pid_line, "%d\n", (int)getpid());
    if (ftruncate(lock_fd, 0) == 0 && pwrite(lock_fd, pid_line, (size_t)pid_len, 0) < 0) {
        /* The pid in the lock file is only informative. */
    }
    if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return 1;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    struct cloud c;
    cloud_init(&c, &paths, &cfg, &err);
    c.started_us = kiln_now_us();
    int listen_fd = -1;
    int status = 1;
    pthread_mutex_lock(&c.mu);
    int rc = o.recover ? 0 : cloud_recover_check(&c, &err);
    if (rc == 0)
        rc = cloud_store_load(&c, &err);
    if (o.recover) {
        /* Whatever was loaded (a file that parsed is not damaged) stays; else rebuild. */
        char how[1024];
        bool lost =
            rc < 0 || (c.clusters.n + c.groups.n + c.instances.n + c.images.n + c.packages.n == 0);
        if (lost && (rc = cloud_recover(&c, how, sizeof how, &err)) == 0)
            logf_("recovered the state %s", how);
        else if (!lost)
            logf_("--recover: %s is readable; nothing to recover", paths.cloud_json);
    }
    pthread_mutex_unlock(&c.mu);
    if (rc == 0)
        rc = cloud_events_open(&c, &err);
    /* A kilnd killed mid-bake or mid-add leaves temp roots and copies behind. */
    if (rc == 0)
        rc = cloud_images_cleanup(&c, &err);
    if (rc == 0)
        rc = cloud_packages_cleanup(&c, &err);
    if (rc == 0) {
        pthread_mutex_lock(&c.mu);
        cloud_instances_adopt(&c);
        cloud_store_save(&c, NULL);
        pthread_mutex_unlock(&c.mu);
        rc = start_modules(&c, &err);
    }
    if (rc == 0 && (listen_fd = api_listen(paths.socket, &err)) < 0)
        rc = -1;
    if (rc < 0) {
        logf_("cannot start: %s", err.msg);
        report_ready(&ready_fd, err.msg);
        if (o.foreground)
            fprintf(stderr, "kilnd: %s\n", err.msg);
    } else {
        logf_("serving %s (protocol %d, load balancer on 127.0.0.1:%d)", paths.socket,
              KILND_PROTOCOL_VERSION, cfg.local.lb_port);
        cloud_emit(&c, "kilnd", NULL, NULL, NULL, NULL, "kilnd started");
        report_ready(&ready_fd, "OK");
        serve(&c, listen_fd);
        logf_("stopping%s", stop_all ? " with its instances and nginx" : "");
        status = 0;
    }

    pthread_mutex_lock(&c.mu);
    c.stopping = true;
    pthread_cond_broadcast(&c.changed);
    pthread_mutex_unlock(&c.mu);
    cloud_events_wake_all(&c);
    if (listen_fd >= 0) {
        close(listen_fd);
        unlink(paths.socket);
    }
    stop_modules(&c);
    if (stop_all && cloud_balancer_shutdown_nginx(&c, &err) < 0)
        logf_("could not stop nginx: %s", err.msg);
    /* Client threads notice `stopping` within a second; wait a little for them. */
    for (int i = 0; i < 40 && api_clients_running() > 0; i++)
        kiln_sleep_ms(50);
    pthread_mutex_lock(&c.mu);
    c.dirty = true;
    if (cloud_store_save(&c, &err) < 0)
        logf_("could not save the state: %s", err.msg);
    pthread_mutex_unlock(&c.mu);
    if (api_clients_running() == 0) {
        cloud_events_close(&c);
        cloud_free(&c);
        kiln_config_free(&cfg);
        kiln_paths_free(&paths);
    }
    curl_global_cleanup();
    close(lock_fd);
    return status;
}
