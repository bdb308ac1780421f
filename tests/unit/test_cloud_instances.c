/* kilnd's instances (src/cloud/instances.c): real processes from a real image copy.
 *
 * The image is a directory made read-only, holding the example app (hello-world,
 * compiled here with gcc) and this test program itself as /usr/bin/kiln-test-app,
 * which run as "kiln-test-app app MODE" plays the odd apps: one that reports what it
 * sees from inside, one that ignores SIGTERM, one that exits with a given status.
 * No stand-ins: cloud.c, events.c and store.c are the real ones. */
#include "cloud/cloud.h"
#include "kiln/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kiln/atomic_file.h"
#include "kiln/spawn.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"
#include "tap.h"

#define IMAGE     "img-0123456789ab"
#define BIG_IMAGE "img-00000000b16b"

static char tmp[256];
static struct kiln_paths paths;
static struct kiln_config cfg;

/* ---- the test app modes ---- */

static int app_main(int argc, char **argv)
{
    const char *mode = argc > 2 ? argv[2] : "";
    if (strcmp(mode, "report") == 0) {
        /* What the instance sees, one fact a line, for the test to compare. */
        char cwd[4096];
        printf("PORT=%s\n", getenv("PORT") ? getenv("PORT") : "");
        printf("KILN_INSTANCE_ID=%s\n",
               getenv("KILN_INSTANCE_ID") ? getenv("KILN_INSTANCE_ID") : "");
        printf("KILN_ROOT=%s\n", getenv("KILN_ROOT") ? getenv("KILN_ROOT") : "");
        printf("CWD=%s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
        /* As root the app is PID 2 of its own PID namespace, in the session and process
         * group of that namespace's init (PID 1). */
        printf("SESSION_LEADER=%s\n", (getsid(0) == getpid() && getpgrp() == getpid()) ||
                                              (getpid() == 2 && getsid(0) == 1 && getpgrp() == 1)
                                          ? "yes"
                                          : "no");
        char link[4096];
        ssize_t n = readlink("/proc/self/fd/0", link, sizeof link - 1);
        link[n > 0 ? n : 0] = '\0';
        printf("STDIN=%s\n", link);
        printf("FDS=");
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL)
            if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
                printf("%s,", e->d_name);
        if (d != NULL)
            closedir(d);
        printf("\n");
        char *f = NULL;
        if (asprintf(&f, "%s/usr/bin/written-by-instance", getenv("KILN_ROOT")) < 0)
            return 1;
        int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        printf("WRITABLE=%s\n", fd >= 0 ? "yes" : strerror(errno));
        free(f);
        printf("END\n");
        fflush(stdout);
        for (;;)
            pause();
    }
    if (strcmp(mode, "stubborn") == 0) {
        signal(SIGTERM, SIG_IGN);
        printf("stubborn ready\n");
        fflush(stdout);
        for (;;)
            pause();
    }
    if (strcmp(mode, "exit") == 0) {
        fprintf(stderr, "exiting with %s as asked\n", argc > 3 ? argv[3] : "1");
        usleep(100 * 1000);
        return argc > 3 ? atoi(argv[3]) : 1;
    }
    return 64;
}

/* ---- helpers ---- */

static int run(const char *const *argv)
{
    struct kiln_err err = {0};
    struct kiln_spawn_opts o = {.argv = argv, .timeout_ms = 120000};
    int status = -1;
    if (kiln_spawn_run(&o, &status, &err) < 0) {
        diag("%s", err.msg);
        return -1;
    }
    return status;
}

static char *slurp(const char *path)
{
    char *text = NULL;
    if (kiln_read_file(path, &text, NULL, 1 << 20, NULL) < 0)
        return xstrdup("");
    return text;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static char *inst_file(const char *id, const char *name)
{
    return xasprintf("%s/%s/%s", paths.instances_dir, id, name);
}

/* GET path on 127.0.0.1:port; returns the status (-1 if no answer) and the body. */
static int http_get(int port, const char *path, char *resp, size_t size)
{
    resp[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t len = 0;
    ssize_t got;
    while (len + 1 < size && (got = read(fd, resp + len, size - 1 - len)) > 0)
        len += (size_t)got;
    resp[len] = '\0';
    close(fd);
    int status = -1;
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

static int wait_http_ok(int port, int timeout_ms, char *resp, size_t size)
{
    int64_t end = kiln_mono_us() + timeout_ms * 1000LL;
    int st;
    while ((st = http_get(port, "/health_check", resp, size)) != 200 && kiln_mono_us() < end)
        kiln_sleep_ms(10);
    return st;
}

static struct cloud_cluster *add_cluster(struct cloud *c, const char *app, const char *const *start)
{
    struct cloud_cluster *x = xcalloc(1, sizeof *x);
    snprintf(x->app, sizeof x->app, "%s", app);
    snprintf(x->env, sizeof x->env, "test");
    snprintf(x->name, sizeof x->name, "%s-test", app);
    for (int i = 0; start[i] != NULL; i++)
        x->start[i] = xstrdup(start[i]);
    snprintf(x->health_path, sizeof x->health_path, "/health_check");
    snprintf(x->protocol, sizeof x->protocol, "HTTP");
    x->port = 8080;
    x->health_interval_ms = 1000;
    x->health_timeout_ms = 1000;
    x->healthy_threshold = 2;
    x->unhealthy_threshold = 2;
    x->chaos_mean_ms = 30000;
    x->chaos_min_ms = 10000;
    x->created_us = kiln_now_us();
    cloud_add_cluster(c, x);
    return x;
}

static struct cloud_group *add_group(struct cloud *c, const char *app, const char *image)
{
    struct cloud_group *g = xcalloc(1, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s-test-v001", app);
    snprintf(g->cluster, sizeof g->cluster, "%s-test", app);
    g->version = 1;
    snprintf(g->image, sizeof g->image, "%s", image);
    g->max_size = 10;
    g->suspended = KILN_PROC_ADD_TO_LB;
    cloud_add_group(c, g);
    return g;
}

static void add_image(struct cloud *c, const char *id)
{
    struct cloud_image *im = xcalloc(1, sizeof *im);
    snprintf(im->id, sizeof im->id, "%s", id);
    snprintf(im->package, sizeof im->package, "hello-world-1.0.3-1.x86_64");
    snprintf(im->app, sizeof im->app, "hello-world");
    cloud_add_image(c, im);
}

static void cloud_setup(struct cloud *c)
{
    struct kiln_err err = {0};
    cloud_init(c, &paths, &cfg, &err);
    c->started_us = kiln_now_us();
    if (cloud_events_open(c, &err) < 0)
        diag("events: %s", err.msg);
}

static void populate(struct cloud *c)
{
    add_image(c, IMAGE);
    add_image(c, BIG_IMAGE);
    add_cluster(c, "hello-world", (const char *const[]){"/usr/bin/hello-world", NULL});
    add_cluster(c, "report",
                (const char *const[]){"/usr/bin/kiln-test-app", "app", "report", NULL});
    add_cluster(c, "stubborn",
                (const char *const[]){"/usr/bin/kiln-test-app", "app", "stubborn", NULL});
    add_cluster(c, "crash",
                (const char *const[]){"/usr/bin/kiln-test-app", "app", "exit", "3", NULL});
    add_cluster(c, "nope", (const char *const[]){"/usr/bin/nope", NULL});
    add_cluster(c, "big", (const char *const[]){"/usr/bin/kiln-test-app", "app", "stubborn", NULL});
    add_group(c, "hello-world", IMAGE);
    add_group(c, "report", IMAGE);
    add_group(c, "stubborn", IMAGE);
    add_group(c, "crash", IMAGE);
    add_group(c, "nope", IMAGE);
    add_group(c, "big", BIG_IMAGE);
    add_group(c, "gone", "img-000000000bad");
    add_cluster(c, "gone", (const char *const[]){"/usr/bin/hello-world", NULL});
}

static struct cloud_instance *launch(struct cloud *c, const char *group, struct kiln_err *err)
{
    struct cloud_instance *x = NULL;
    pthread_mutex_lock(&c->mu);
    int rc = cloud_instance_launch(c, cloud_find_group(c, group), NULL, &x, err);
    pthread_mutex_unlock(&c->mu);
    return rc == 0 ? x : NULL;
}

/* Waits until instance id is TERMINATED (mu taken here); returns ms waited or -1. */
static int64_t wait_terminated(struct cloud *c, const char *id, int timeout_ms)
{
    int64_t start = kiln_mono_us(), end = start + timeout_ms * 1000LL;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        struct cloud_instance *x = cloud_find_instance(c, id);
        bool done = x != NULL && x->state == KILN_INSTANCE_TERMINATED;
        pthread_mutex_unlock(&c->mu);
        if (done)
            return (kiln_mono_us() - start) / 1000;
        if (kiln_mono_us() > end)
            return -1;
        kiln_sleep_ms(5);
    }
}

static bool wait_file_has(const char *path, const char *needle, int timeout_ms)
{
    int64_t end = kiln_mono_us() + timeout_ms * 1000LL;
    for (;;) {
        char *t = slurp(path);
        bool has = strstr(t, needle) != NULL;
        free(t);
        if (has || kiln_mono_us() > end)
            return has;
        kiln_sleep_ms(10);
    }
}

static bool wait_gone(const char *path, int timeout_ms)
{
    int64_t end = kiln_mono_us() + timeout_ms * 1000LL;
    while (exists(path) && kiln_mono_us() < end)
        kiln_sleep_ms(10);
    return !exists(path);
}

/* The events log line for instance id with the given type (malloc'd), or NULL. */
static char *find_event(const char *id, const char *type)
{
    char *log = slurp(paths.events_log);
    char want_id[64], want_type[64];
    snprintf(want_id, sizeof want_id, "\"instance\":\"%s\"", id);
    snprintf(want_type, sizeof want_type, "\"type\":\"%s\"", type);
    char *found = NULL;
    for (char *line = strtok(log, "\n"); line != NULL; line = strtok(NULL, "\n"))
        if (strstr(line, want_id) && strstr(line, want_type))
            found = line;
    found = found ? xstrdup(found) : NULL;
    free(log);
    return found;
}

/* ---- setup ---- */

static int make_image(void)
{
    char *img = xasprintf("%s/%s", paths.images_dir, IMAGE);
    char *bin = xasprintf("%s/usr/bin", img);
    char *hw = xasprintf("%s/hello-world", bin);
    char *self = xasprintf("%s/kiln-test-app", bin);
    const char *srcdir = getenv("KILN_SRCDIR") ? getenv("KILN_SRCDIR") : ".";
    char *src = xasprintf("%s/examples/hello-world/src/hello-world.c", srcdir);
    /* Our own path: /proc/self/exe in cp's argv would be cp itself. */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    int rc = kiln_mkdir_p(bin, 0755, NULL);
    const char *cc[] = {"gcc", "-std=c11", "-O2", "-DAPP_VERSION=\"1.0.3-1\"", "-o", hw, src, NULL};
    if (rc == 0 && run(cc) != 0)
        rc = -1;
    const char *cp[] = {"cp", exe, self, NULL};
    if (rc == 0 && run(cp) != 0)
        rc = -1;
    /* A second image, big enough that copying it takes a while. */
    char *big = xasprintf("%s/%s/usr/bin", paths.images_dir, BIG_IMAGE);
    char *bigfile = xasprintf("%s/%s/blob", paths.images_dir, BIG_IMAGE);
    char *bigself = xasprintf("%s/kiln-test-app", big);
    if (rc == 0 && kiln_mkdir_p(big, 0755, NULL) == 0) {
        int fd = open(bigfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        char *chunk = xcalloc(1, 1 << 20);
        memset(chunk, 'x', 1 << 20); /* data, not holes: cp has to copy it */
        for (int i = 0; i < 256 && fd >= 0; i++)
            if (write(fd, chunk, 1 << 20) != 1 << 20)
                rc = -1;
        free(chunk);
        if (fd >= 0)
            close(fd);
        const char *cp2[] = {"cp", exe, bigself, NULL};
        if (run(cp2) != 0)
            rc = -1;
    }
    /* Images are read-only, as bake leaves them. */
    const char *ro[] = {"chmod", "-R", "a-w", paths.images_dir, NULL};
    if (rc == 0 && run(ro) != 0)
        rc = -1;
    free(img), free(bin), free(hw), free(self), free(src), free(big), free(bigfile), free(bigself);
    return rc;
}

/* ---- tests ---- */

static void test_start_ticks(void)
{
    ok(kiln_proc_start_ticks(getpid()) > 0, "start ticks of this process");
    ok(kiln_proc_start_ticks(0) == 0 && kiln_proc_start_ticks(-1) == 0, "no pid, no ticks");
    ok(kiln_proc_start_ticks(1 << 30) == 0, "a pid that does not exist has no ticks");

    int go[2], ack[2];
    if (pipe(go) < 0 || pipe(ack) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        char b;
        if (read(go[0], &b, 1) != 1)
            _exit(1);
        prctl(PR_SET_NAME, "a) 1 2 (b c)", 0, 0, 0);
        if (write(ack[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    unsigned long long before = kiln_proc_start_ticks(pid);
    char b;
    if (write(go[1], "x", 1) != 1 || read(ack[0], &b, 1) != 1)
        diag("sync with the child failed");
    char commpath[64];
    snprintf(commpath, sizeof commpath, "/proc/%d/comm", (int)pid);
    char *comm = slurp(commpath);
    comm[strcspn(comm, "\n")] = '\0';
    ok(strstr(comm, ") 1 2 (") != NULL, "the child's name has spaces and parentheses: %s", comm);
    free(comm);
    unsigned long long after = kiln_proc_start_ticks(pid);
    ok(before > 0 && before == after, "start ticks read through a tricky name: %llu == %llu",
       before, after);
    kill(pid, SIGKILL);
    /* Until reaped it is a zombie: exited, so no ticks. */
    siginfo_t si;
    waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT);
    is_int(kiln_proc_start_ticks(pid), 0, "a zombie has no start ticks");
    waitpid(pid, NULL, 0);
    close(go[0]), close(go[1]), close(ack[0]), close(ack[1]);
}

/* An "old kilnd" in a child process launches two instances, saves, and is SIGKILLed.
 * A new cloud loaded from the same state dir adopts them: same ids, same pids. */
static void test_adopt_after_crash(void)
{
    int p[2];
    if (pipe(p) < 0)
        return;
    pid_t old = fork();
    if (old == 0) {
        struct cloud c;
        cloud_setup(&c);
        populate(&c);
        struct kiln_err err = {0};
        int ok_ = launch(&c, "hello-world-test-v001", &err) != NULL &&
                  launch(&c, "hello-world-test-v001", &err) != NULL &&
                  launch(&c, "stubborn-test-v001", &err) != NULL;
        c.dirty = true;
        pthread_mutex_lock(&c.mu);
        if (cloud_store_save(&c, &err) < 0)
            ok_ = 0;
        pthread_mutex_unlock(&c.mu);
        if (!ok_)
            fprintf(stderr, "old kilnd: %s\n", err.msg);
        if (write(p[1], ok_ ? "y" : "n", 1) != 1)
            _exit(1);
        raise(SIGKILL); /* a crash: nothing is cleaned up */
        _exit(1);
    }
    close(p[1]);
    char verdict = 'n';
    if (read(p[0], &verdict, 1) != 1)
        verdict = 'n';
    close(p[0]);
    int ws;
    waitpid(old, &ws, 0);
    ok(verdict == 'y' && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL,
       "the old kilnd launched 3 instances, saved and was killed");

    struct cloud c;
    cloud_setup(&c);
    struct kiln_err err = {0};
    pthread_mutex_lock(&c.mu);
    int rc = cloud_store_load(&c, &err);
    pthread_mutex_unlock(&c.mu);
    ok(rc == 0, "the new kilnd loads the state %s", err.msg);
    is_int(c.instances.n, 3, "3 instances saved");
    if (c.instances.n != 3)
        return;
    char ids[3][CLOUD_ID_MAX];
    pid_t pids[3];
    for (int i = 0; i < 3; i++) {
        snprintf(ids[i], sizeof ids[i], "%s", c.instances.v[i]->id);
        pids[i] = c.instances.v[i]->pid;
        ok(pids[i] > 0 && kill(pids[i], 0) == 0, "instance %s (pid %d) outlived the old kilnd",
           ids[i], (int)pids[i]);
    }
    /* The second one's pid "was reused": its process has another start time. */
    c.instances.v[1]->start_ticks += 1;
    pthread_mutex_lock(&c.mu);
    cloud_instances_adopt(&c);
    pthread_mutex_unlock(&c.mu);
    struct cloud_instance *a = cloud_find_instance(&c, ids[0]);
    struct cloud_instance *b = cloud_find_instance(&c, ids[1]);
    struct cloud_instance *s = cloud_find_instance(&c, ids[2]);
    ok(a && a->adopted && a->state == KILN_INSTANCE_RUNNING && a->pid == pids[0],
       "adopted: same id %s, same pid %d, running", ids[0], (int)pids[0]);
    ok(s && s->adopted && s->state == KILN_INSTANCE_RUNNING && s->pid == pids[2],
       "adopted the stubborn one too");
    ok(b && !b->adopted && b->state == KILN_INSTANCE_TERMINATED && strcmp(b->cause, "exited") == 0,
       "a pid with another start time is not adopted: marked terminated (exited)");
    char *ev = find_event(ids[1], "terminate");
    ok(ev && strstr(ev, "gone after restart"), "event: %s", ev ? ev : "(none)");
    free(ev);
    kill(-pids[1], SIGKILL); /* really a stranger now, as far as kilnd is concerned */

    ok(cloud_instances_start(&c, &err) == 0, "supervisor started %s", err.msg);
    char resp[2048];
    is_int(http_get(a->port, "/health_check", resp, sizeof resp), 200,
           "the adopted instance still answers on its port %d", a->port);

    /* An adopted process is not our child: its exit is seen through its pidfd. */
    int64_t t0 = kiln_mono_us();
    kill(pids[0], SIGKILL);
    int64_t ms = wait_terminated(&c, ids[0], 2000);
    ok(ms >= 0, "the adopted instance's death was noticed in %lld ms", (long long)ms);
    diag("adopted exit noticed after %lld ms", (long long)((kiln_mono_us() - t0) / 1000));
    pthread_mutex_lock(&c.mu);
    a = cloud_find_instance(&c, ids[0]);
    ok(a && strcmp(a->cause, "exited") == 0 && a->exit_status == -1,
       "cause exited, status unknown (not our child)");
    /* Terminating an adopted instance: SIGTERM to its group, SIGKILL after the grace. */
    pthread_mutex_unlock(&c.mu);
    char *sout = inst_file(ids[2], "stdout.log");
    ok(wait_file_has(sout, "stubborn ready", 3000), "the adopted stubborn one ignores SIGTERM");
    free(sout);
    pthread_mutex_lock(&c.mu);
    s = cloud_find_instance(&c, ids[2]);
    cloud_instance_terminate(&c, s, "user", &err);
    is_int(s->state, KILN_INSTANCE_TERMINATING, "the adopted stubborn one is terminating");
    pthread_mutex_unlock(&c.mu);
    ms = wait_terminated(&c, ids[2], 6000);
    ok(ms >= 2500 && ms < 5000, "it was killed after the grace period (%lld ms)", (long long)ms);
    char *sroot = inst_file(ids[2], "root");
    ok(wait_gone(sroot, 2000), "its root is removed");
    free(sroot);

    cloud_instances_stop(&c);
    cloud_events_close(&c);
    cloud_free(&c);
}

static void test_launch_report(struct cloud *c)
{
    /* Bait: an fd without close-on-exec must not reach the instance. */
    int bait = open("/dev/null", O_RDONLY);
    struct kiln_err err = {0};
    int64_t t0 = kiln_mono_us();
    struct cloud_instance *x = launch(c, "report-test-v001", &err);
    int64_t launch_ms = (kiln_mono_us() - t0) / 1000;
    ok(x != NULL, "launched a report instance in %lld ms %s", (long long)launch_ms, err.msg);
    if (x == NULL)
        return;
    char id[CLOUD_ID_MAX];
    pthread_mutex_lock(&c->mu);
    snprintf(id, sizeof id, "%s", x->id);
    int port = x->port;
    pid_t pid = x->pid;
    ok(x->state == KILN_INSTANCE_RUNNING && x->health == KILN_HEALTH_UNKNOWN &&
           x->lb_state == KILN_LB_OUT_OF_SERVICE,
       "running, health unknown, out of service");
    ok(pid > 0 && port > 0 && port < 65536, "pid %d, port %d", (int)pid, port);
    ok(x->start_ticks != 0 && x->start_ticks == kiln_proc_start_ticks(pid), "start ticks recorded");
    ok(kiln_instance_id_validate(id, NULL) == 0, "id %s is an instance id", id);
    pthread_mutex_unlock(&c->mu);

    char *out = inst_file(id, "stdout.log");
    ok(wait_file_has(out, "END", 3000), "the instance reported on stdout.log");
    char *text = slurp(out);
    char *root = inst_file(id, "root");
    char want[4200];
    snprintf(want, sizeof want, "PORT=%d\n", port);
    ok(strstr(text, want) != NULL, "PORT set");
    snprintf(want, sizeof want, "KILN_INSTANCE_ID=%s\n", id);
    ok(strstr(text, want) != NULL, "KILN_INSTANCE_ID set");
    snprintf(want, sizeof want, "KILN_ROOT=%s\n", root);
    ok(strstr(text, want) != NULL, "KILN_ROOT is the instance root");
    snprintf(want, sizeof want, "CWD=%s\n", root);
    ok(strstr(text, want) != NULL, "it runs in its root");
    ok(strstr(text, "SESSION_LEADER=yes\n") != NULL,
       "in its own session and process group (its PID namespace's, as root)");
    ok(strstr(text, "STDIN=/dev/null\n") != NULL, "stdin is /dev/null");
    ok(strstr(text, "FDS=0,1,2,\n") != NULL, "only fds 0-2 are open in it");
    ok(strstr(text, "WRITABLE=yes\n") != NULL, "its root is writable");
    char *imgfile = xasprintf("%s/%s/usr/bin/written-by-instance", paths.images_dir, IMAGE);
    ok(!exists(imgfile), "the image is untouched");
    free(imgfile);
    if (strstr(text, "END") == NULL || strstr(text, "FDS=0,1,2,\n") == NULL)
        diag("stdout.log: %s", text);
    free(text);
    char *ev = find_event(id, "launch");
    ok(ev != NULL && strstr(ev, "\"group\":\"report-test-v001\"") &&
           strstr(ev, "\"cluster\":\"report-test\""),
       "a launch event: %s", ev ? ev : "(none)");
    free(ev);

    /* Terminate (user): SIGTERM; the report app dies of it. */
    pthread_mutex_lock(&c->mu);
    x = cloud_find_instance(c, id);
    ok(cloud_instance_terminate(c, x, "user", &err) == 0, "terminate (user)");
    is_int(x->state, KILN_INSTANCE_TERMINATING, "terminating until the process is gone");
    pthread_mutex_unlock(&c->mu);
    int64_t ms = wait_terminated(c, id, 2000);
    ok(ms >= 0 && ms < 1000, "terminated in %lld ms", (long long)ms);
    pthread_mutex_lock(&c->mu);
    x = cloud_find_instance(c, id);
    is_str(x->cause, "user", "cause user");
    is_int(x->exit_status, 128 + SIGTERM, "ended by SIGTERM");
    ok(x->terminated_us >= x->launched_us, "terminated_us set");
    pthread_mutex_unlock(&c->mu);
    ok(kill(pid, 0) < 0 && errno == ESRCH, "the process is gone and reaped");
    ok(wait_gone(root, 2000), "the writable root is removed");
    ok(exists(out), "the logs are kept");
    ev = find_event(id, "terminate");
    ok(ev && strstr(ev, "\"cause\":\"user\"") && strstr(ev, "SIGTERM"), "terminate event: %s",
       ev ? ev : "(none)");
    free(ev);
    free(out), free(root);
    close(bait);
}

static void test_hello_world(struct cloud *c)
{
    struct kiln_err err = {0};
    int64_t t0 = kiln_mono_us();
    struct cloud_instance *x = launch(c, "hello-world-test-v001", &err);
    ok(x != NULL, "launched hello-world %s", err.msg);
    if (x == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    char id[CLOUD_ID_MAX];
    snprintf(id, sizeof id, "%s", x->id);
    int port = x->port;
    pid_t pid = x->pid;
    pthread_mutex_unlock(&c->mu);
    char resp[4096];
    is_int(wait_http_ok(port, 2000, resp, sizeof resp), 200, "it answers its health check");
    diag("launch to first 200: %lld ms", (long long)((kiln_mono_us() - t0) / 1000));
    char hdr[64];
    snprintf(hdr, sizeof hdr, "X-Instance-Id: %s", id);
    ok(strstr(resp, hdr) != NULL, "with its instance id");
    is_int(http_get(port, "/", resp, sizeof resp), 200, "GET /");
    ok(strstr(resp, "hello-world 1.0.3-1") != NULL, "answers with its version");

    /* Killed from outside: the supervisor sees it exit. */
    t0 = kiln_mono_us();
    kill(pid, SIGKILL);
    int64_t ms = wait_terminated(c, id, 2000);
    ok(ms >= 0 && ms < 500, "an outside SIGKILL is noticed in %lld ms", (long long)ms);
    pthread_mutex_lock(&c->mu);
    x = cloud_find_instance(c, id);
    is_str(x->cause, "exited", "cause exited");
    is_int(x->exit_status, 128 + SIGKILL, "status 137");
    pthread_mutex_unlock(&c->mu);
    char *ev = find_event(id, "terminate");
    ok(ev && strstr(ev, "signal 9 (SIGKILL)") && strstr(ev, "stderr.log") &&
           strstr(ev, "\"cause\":\"exited\""),
       "event: %s", ev ? ev : "(none)");
    free(ev);
    char *root = inst_file(id, "root");
    ok(wait_gone(root, 2000), "root removed after the exit");
    free(root);

    /* Terminated by the user: hello-world stops cleanly on SIGTERM. */
    x = launch(c, "hello-world-test-v001", &err);
    pthread_mutex_lock(&c->mu);
    snprintf(id, sizeof id, "%s", x->id);
    port = x->port;
    pthread_mutex_unlock(&c->mu);
    is_int(wait_http_ok(port, 2000, resp, sizeof resp), 200, "a second one answers");
    pthread_mutex_lock(&c->mu);
    cloud_instance_terminate(c, cloud_find_instance(c, id), "scale-in", &err);
    pthread_mutex_unlock(&c->mu);
    ms = wait_terminated(c, id, 3000);
    ok(ms >= 0 && ms < 1000, "stopped on SIGTERM in %lld ms", (long long)ms);
    pthread_mutex_lock(&c->mu);
    x = cloud_find_instance(c, id);
    is_int(x->exit_status, 0, "exit status 0");
    is_str(x->cause, "scale-in", "the cause given is kept");
    pthread_mutex_unlock(&c->mu);
    char *out = inst_file(id, "stdout.log");
    ok(wait_file_has(out, "stopping (SIGTERM)", 1000), "the app said it was stopping");
    free(out);
    ev = find_event(id, "terminate");
    ok(ev && strstr(ev, "stopped on SIGTERM with status 0"), "event: %s", ev ? ev : "(none)");
    free(ev);

    /* Chaos: SIGKILL and TERMINATED at once. */
    x = launch(c, "hello-world-test-v001", &err);
    pthread_mutex_lock(&c->mu);
    snprintf(id, sizeof id, "%s", x->id);
    pid = x->pid;
    ok(cloud_instance_terminate(c, x, "chaos", &err) == 0, "chaos terminate");
    ok(x->state == KILN_INSTANCE_TERMINATED && strcmp(x->cause, "chaos") == 0 &&
           x->exit_status == 128 + SIGKILL && x->terminated_us != 0,
       "chaos: terminated at once, killed");
    ok(cloud_instance_terminate(c, x, "user", &err) == 0 && strcmp(x->cause, "chaos") == 0,
       "terminating again changes nothing");
    pthread_mutex_unlock(&c->mu);
    ev = find_event(id, "terminate");
    ok(ev && strstr(ev, "\"cause\":\"chaos\"") && strstr(ev, "chaos killed"), "event: %s",
       ev ? ev : "(none)");
    free(ev);
    int64_t end = kiln_mono_us() + 2000000;
    while (kill(pid, 0) == 0 && kiln_mono_us() < end)
        kiln_sleep_ms(5);
    ok(kill(pid, 0) < 0, "the killed process is reaped");
}

static void test_stubborn(struct cloud *c)
{
    struct kiln_err err = {0};
    struct cloud_instance *x = launch(c, "stubborn-test-v001", &err);
    ok(x != NULL, "launched an app that ignores SIGTERM %s", err.msg);
    if (x == NULL)
        return;
    char id[CLOUD_ID_MAX];
    pthread_mutex_lock(&c->mu);
    snprintf(id, sizeof id, "%s", x->id);
    pid_t pid = x->pid;
    pthread_mutex_unlock(&c->mu);
    char *out = inst_file(id, "stdout.log");
    ok(wait_file_has(out, "stubborn ready", 2000), "it is ready (SIGTERM ignored)");
    free(out);
    int64_t t0 = kiln_mono_us();
    pthread_mutex_lock(&c->mu);
    cloud_instance_terminate(c, cloud_find_instance(c, id), "user", &err);
    pthread_mutex_unlock(&c->mu);
    ok((kiln_mono_us() - t0) < 50000, "terminate does not wait for the grace period");
    kiln_sleep_ms(2500);
    pthread_mutex_lock(&c->mu);
    x = cloud_find_instance(c, id);
    ok(x->state == KILN_INSTANCE_TERMINATING && kill(pid, 0) == 0,
       "2.5 s later it still runs, terminating");
    pthread_mutex_unlock(&c->mu);
    int64_t ms = wait_terminated(c, id, 3000);
    int64_t total = (kiln_mono_us() - t0) / 1000;
    ok(ms >= 0 && total >= 2900 && total < 4000, "SIGKILL after the grace: terminated at %lld ms",
       (long long)total);
    pthread_mutex_lock(&c->mu);
    is_int(cloud_find_instance(c, id)->exit_status, 128 + SIGKILL, "killed");
    pthread_mutex_unlock(&c->mu);
    char *ev = find_event(id, "terminate");
    ok(ev && strstr(ev, "did not stop within 3s"), "event: %s", ev ? ev : "(none)");
    free(ev);
}

static void test_crash_exit(struct cloud *c)
{
    struct kiln_err err = {0};
    struct cloud_instance *x = launch(c, "crash-test-v001", &err);
    ok(x != NULL, "launched an app that exits with status 3");
    if (x == NULL)
        return;
    char id[CLOUD_ID_MAX];
    pthread_mutex_lock(&c->mu);
    snprintf(id, sizeof id, "%s", x->id);
    pthread_mutex_unlock(&c->mu);
    int64_t ms = wait_terminated(c, id, 2000);
    ok(ms >= 0, "its exit is noticed (%lld ms after launch returned)", (long long)ms);
    pthread_mutex_lock(&c->mu);
    x = cloud_find_instance(c, id);
    ok(strcmp(x->cause, "exited") == 0 && x->exit_status == 3, "cause exited, status 3");
    pthread_mutex_unlock(&c->mu);
    char *ev = find_event(id, "terminate");
    char want[128];
    snprintf(want, sizeof want, "exited with status 3 (see instances/%s/stderr.log)", id);
    ok(ev && strstr(ev, want), "event: %s", ev ? ev : "(none)");
    free(ev);
    char *errlog = inst_file(id, "stderr.log");
    ok(wait_file_has(errlog, "exiting with 3 as asked", 500), "its stderr is in stderr.log");
    free(errlog);
}

static void test_launch_failures(struct cloud *c)
{
    struct kiln_err err = {0};
    size_t before = c->instances.n;
    ok(launch(c, "nope-test-v001", &err) == NULL, "a start program missing from the image fails");
    ok(err.code == KILN_E_NOTFOUND && strstr(err.msg, "/usr/bin/nope") &&
           strstr(err.msg, "kiln.json"),
       "it says which: %s", err.msg);
    is_int(c->instances.n, before, "no instance is left behind");
    DIR *d = opendir(paths.instances_dir);
    int dirs = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] == 'i')
            dirs++;
    if (d)
        closedir(d);
    int known = (int)c->instances.n;
    ok(dirs <= known, "and no directory (%d dirs, %d instances)", dirs, known);
    char *log = slurp(paths.events_log);
    ok(strstr(log, "\"type\":\"error\"") && strstr(log, "launch of"), "an error event");
    free(log);

    memset(&err, 0, sizeof err);
    ok(launch(c, "gone-test-v001", &err) == NULL && err.code == KILN_E_NOTFOUND &&
           strstr(err.msg, "img-000000000bad"),
       "a missing image: %s", err.msg);
}

struct bg_launch {
    struct cloud *c;
    int rc;
    struct kiln_err err;
};

static void *bg_launch_main(void *arg)
{
    struct bg_launch *b = arg;
    pthread_mutex_lock(&b->c->mu);
    b->rc =
        cloud_instance_launch(b->c, cloud_find_group(b->c, "big-test-v001"), NULL, NULL, &b->err);
    pthread_mutex_unlock(&b->c->mu);
    return NULL;
}

/* A destroy while the image is still being copied: the instance is terminated while
 * PENDING, and the launch stops what it started. */
static void test_terminate_while_launching(struct cloud *c)
{
    struct bg_launch b = {.c = c};
    pthread_t t;
    int64_t t0 = kiln_mono_us();
    pthread_create(&t, NULL, bg_launch_main, &b);
    char id[CLOUD_ID_MAX] = "";
    int64_t end = kiln_mono_us() + 5000000;
    while (id[0] == '\0' && kiln_mono_us() < end) {
        pthread_mutex_lock(&c->mu);
        for (size_t i = 0; i < c->instances.n; i++) {
            struct cloud_instance *x = c->instances.v[i];
            if (strcmp(x->group, "big-test-v001") == 0 && x->state == KILN_INSTANCE_PENDING) {
                snprintf(id, sizeof id, "%s", x->id);
                ok(x->pid == 0, "caught %s PENDING, before its process exists", x->id);
                cloud_instance_terminate(c, x, "destroy", NULL);
                ok(x->state == KILN_INSTANCE_TERMINATED, "terminated at once");
            }
        }
        pthread_mutex_unlock(&c->mu);
        usleep(500);
    }
    pthread_join(t, NULL);
    diag("launch of a 256 MB image took %lld ms", (long long)((kiln_mono_us() - t0) / 1000));
    ok(id[0] != '\0', "the launch was seen while copying");
    ok(b.rc < 0 && b.err.code == KILN_E_CANCELLED, "the launch reports it was cancelled: %s",
       b.err.msg);
    pthread_mutex_lock(&c->mu);
    struct cloud_instance *x = cloud_find_instance(c, id);
    pid_t pid = x ? x->pid : 0;
    ok(x && x->state == KILN_INSTANCE_TERMINATED && pid > 0, "it stays terminated (pid %d)",
       (int)pid);
    pthread_mutex_unlock(&c->mu);
    end = kiln_mono_us() + 2000000;
    while (pid > 0 && kill(pid, 0) == 0 && kiln_mono_us() < end)
        kiln_sleep_ms(5);
    ok(pid > 0 && kill(pid, 0) < 0, "what it started was killed and reaped");
    char *root = inst_file(id, "root");
    ok(wait_gone(root, 3000), "and its root removed");
    free(root);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "app") == 0)
        return app_main(argc, argv);

    snprintf(tmp, sizeof tmp, "/tmp/kiln-test-instances.XXXXXX");
    if (mkdtemp(tmp) == NULL)
        return 1;
    struct kiln_err err = {0};
    char *home = xasprintf("%s/home", tmp);
    kiln_config_defaults(&cfg);
    if (kiln_paths_resolve(&paths, home, NULL, &err) < 0 ||
        kiln_paths_ensure_home(&paths, &err) < 0 ||
        kiln_mkdir_p(paths.images_dir, 0700, &err) < 0) {
        printf("Bail out! %s\n", err.msg);
        return 1;
    }
    free(home);
    if (make_image() < 0) {
        printf("Bail out! cannot build the test image (needs gcc and cp)\n");
        return 1;
    }

    test_start_ticks();
    test_adopt_after_crash(); /* first: it forks, better before any thread exists */

    struct cloud c;
    cloud_setup(&c);
    populate(&c);
    /* An orphan directory (no such instance) is swept when the supervisor starts. */
    char *orphan = xasprintf("%s/i-00000000deadbeef", paths.instances_dir);
    kiln_mkdir_p(orphan, 0700, NULL);
    ok(cloud_instances_start(&c, &err) == 0, "supervisor started");
    ok(wait_gone(orphan, 2000), "an orphan instance dir is swept away");
    free(orphan);

    test_launch_report(&c);
    test_hello_world(&c);
    test_stubborn(&c);
    test_crash_exit(&c);
    test_launch_failures(&c);
    test_terminate_while_launching(&c);

    /* kilnd stop --all: terminating instances are seen to the end by stop. */
    struct cloud_instance *x = launch(&c, "stubborn-test-v001", &err);
    if (x != NULL) {
        pid_t pid = x->pid;
        char *out = inst_file(x->id, "stdout.log");
        wait_file_has(out, "stubborn ready", 2000);
        free(out);
        pthread_mutex_lock(&c.mu);
        cloud_instance_terminate(&c, x, "stop", &err);
        c.stopping = true;
        pthread_mutex_unlock(&c.mu);
        int64_t t0 = kiln_mono_us();
        cloud_instances_stop(&c);
        int64_t ms = (kiln_mono_us() - t0) / 1000;
        ok(kill(pid, 0) < 0 && ms < 5000,
           "stop waits for instances being terminated (%lld ms), then they are gone",
           (long long)ms);
    }
    cloud_instances_stop(&c); /* twice is harmless */
    cloud_events_close(&c);
    /* Leave no process behind. */
    for (size_t i = 0; i < c.instances.n; i++)
        if (c.instances.v[i]->state != KILN_INSTANCE_TERMINATED && c.instances.v[i]->pid > 0)
            kill(-c.instances.v[i]->pid, SIGKILL);
    cloud_free(&c);

    const char *rw[] = {"chmod", "-R", "u+w", tmp, NULL};
    const char *rm[] = {"rm", "-rf", tmp, NULL};
    if (getenv("KILN_TEST_KEEP") == NULL && run(rw) == 0)
        run(rm);
    kiln_paths_free(&paths);
    return done_testing();
}
