/* kilnd: instances as real processes, and the supervisor thread that watches them.
 *
 * An instance is a process started by argv from a writable copy of its image
 * (instances/<id>/root), in its own session and process group, with stdin from
 * /dev/null and stdout/stderr appended to instances/<id>/stdout.log and stderr.log.
 *
 * Watching: every instance process, our child or one adopted after a restart, has a
 * pidfd (pidfd_open, Linux 5.3+) that the supervisor thread polls; it becomes
 * readable when the process exits. Without pidfds the supervisor checks every
 * 200 ms instead. Our children are reaped with waitpid() on their own pid, never
 * wholesale: kiln_spawn_run, used by other threads (cp, nginx, rpm), waits for its
 * own children by pid too, and a waitpid(-1) here would steal them.
 *
 * Termination: cause "chaos" is SIGKILL to the group, and the instance is
 * TERMINATED at once (a chaos monkey does not ask politely). Any other cause is
 * SIGTERM to the group: the instance is TERMINATING until its process exits, and the
 * supervisor sends SIGKILL if it has not after TERMINATE_GRACE_US; nobody blocks
 * holding mu for the grace period.
 *
 * Files: the writable root is removed once the process is gone; the logs stay, in
 * instances/<id>/, for as long as the terminated instance is kept in the state (the
 * Events view links to them), and the supervisor's sweep removes the directory of
 * an instance the state no longer knows (pruned, or left behind by a crash).
 */
#include "cloud/cloud.h"
#include "kiln/proc.h"

#include <dirent.h>
#include <sched.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kiln/atomic_file.h"
#include "kiln/fstree.h"
#include "kiln/spawn.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

/* How long a process has after SIGTERM before it gets SIGKILL. */
#define TERMINATE_GRACE_US (3LL * 1000000)
/* How often processes are checked when there is no pidfd to poll. */
#define FALLBACK_POLL_MS 200
/* How often the supervisor sweeps instances/ for directories nobody needs. */
#define SWEEP_INTERVAL_US (60LL * 1000000)
/* When kilnd stops, how long it waits for instances it is terminating. */
#define STOP_WAIT_US (TERMINATE_GRACE_US + 1000000)

struct watch {
    char id[CLOUD_ID_MAX];
    char group[KILN_GROUP_SIZE];
    pid_t pid;
    int pidfd;       /* -1: no pidfd, checked every FALLBACK_POLL_MS */
    bool child;      /* ours: reaped with waitpid; else adopted */
    int64_t kill_at; /* monotonic µs when SIGKILL is due; 0 = none */
    bool killed;     /* SIGKILL was sent after the grace period */
    bool ns;         /* PID 1 of its own PID namespace (ns_init): 128+N means signal N */
    unsigned long long start_ticks;
};

struct cloud_supervisor {
    pthread_t thread;
    bool running, quit;
    int wake_fd; /* eventfd: a new watch, a new deadline, or quit */
    struct watch *w;
    size_t n, cap;
    /* Instances whose launch is under way (their root is being copied): the sweep
     * leaves their directory alone. */
    char (*launching)[CLOUD_ID_MAX];
    size_t n_launching, cap_launching;
};

/* ---- small helpers ---- */

static struct cloud_supervisor *sup_get(struct cloud *c)
{
    if (c->supervisor == NULL) {
        struct cloud_supervisor *s = xcalloc(1, sizeof *s);
        s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        c->supervisor = s;
    }
    return c->supervisor;
}

static void sup_wake(struct cloud_supervisor *s)
{
    uint64_t one = 1;
    if (s->wake_fd >= 0 && write(s->wake_fd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is full, so the thread is awake anyway. */
    }
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0)
        fcntl(fd, F_SETFD, FD_CLOEXEC); /* pidfds are close-on-exec already; be sure */
    return fd;
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

static struct watch *watch_add(struct cloud_supervisor *s, const char *id, const char *group,
                               pid_t pid, int pidfd, bool child, unsigned long long ticks)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->w = xrealloc(s->w, s->cap * sizeof *s->w);
    }
    struct watch *w = &s->w[s->n++];
    memset(w, 0, sizeof *w);
    snprintf(w->id, sizeof w->id, "%s", id);
    snprintf(w->group, sizeof w->group, "%s", group);
    w->pid = pid;
    w->pidfd = pidfd;
    w->child = child;
    w->start_ticks = ticks;
    sup_wake(s);
    return w;
}

static struct watch *watch_find(struct cloud_supervisor *s, const char *id, pid_t pid)
{
    for (size_t i = 0; s != NULL && i < s->n; i++)
        if (s->w[i].pid == pid && strcmp(s->w[i].id, id) == 0)
            return &s->w[i];
    return NULL;
}

static void launching_add(struct cloud_supervisor *s, const char *id)
{
    if (s->n_launching == s->cap_launching) {
        s->cap_launching = s->cap_launching ? s->cap_launching * 2 : 8;
        s->launching = xrealloc(s->launching, s->cap_launching * sizeof *s->launching);
    }
    snprintf(s->launching[s->n_launching++], CLOUD_ID_MAX, "%s", id);
}

static void launching_remove(struct cloud_supervisor *s, const char *id)
{
    for (size_t i = 0; i < s->n_launching; i++) {
        if (strcmp(s->launching[i], id) == 0) {
            s->launching[i][0] = '\0';
            memmove(&s->launching[i], &s->launching[i + 1],
                    (s->n_launching - i - 1) * sizeof *s->launching);
            s->n_launching--;
            return;
        }
    }
}

static bool launching_has(const struct cloud_supervisor *s, const char *id)
{
    for (size_t i = 0; i < s->n_launching; i++)
        if (strcmp(s->launching[i], id) == 0)
            return true;
    return false;
}

static void cluster_of_group(const char *group, char *out, size_t size)
{
    struct kiln_group_name gn;
    if (kiln_group_name_parse(group, &gn, NULL) == 0)
        kiln_cluster_name_format(out, size, gn.app, gn.env);
    else
        snprintf(out, size, "%s", "");
}

/* An event about an instance of group: its cluster is the group's. */
static void emit(struct cloud *c, const char *type, const char *group, const char *instance,
                 const char *cause, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void emit(struct cloud *c, const char *type, const char *group, const char *instance,
                 const char *cause, const char *fmt, ...)
{
    char cluster[KILN_CLUSTER_SIZE];
    cluster_of_group(group, cluster, sizeof cluster);
    va_list ap;
    va_start(ap, fmt);
    cloud_emitv(c, type, cluster[0] ? cluster : NULL, group, instance, cause, fmt, ap);
    va_end(ap);
}

static char *instance_dir(const struct cloud *c, const char *id)
{
    return xasprintf("%s/%s", c->paths.instances_dir, id);
}

/* ---- /proc ---- */

/* Whether process pid's environment holds exactly `entry` ("KILN_INSTANCE_ID=i-..."). */
static bool environ_has(pid_t pid, const char *entry)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    /* KILN_INSTANCE_ID is in the middle of the environment that build_env made; a
     * process that rebuilt a huge one is read up to this much. */
    static const size_t cap = 256 * 1024;
    char *buf = xmalloc(cap + 1);
    size_t len = 0;
    ssize_t n;
    while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    size_t want = strlen(entry);
    bool found = false;
    for (size_t i = 0; i < len && !found; i += strlen(buf + i) + 1)
        found = strncmp(buf + i, entry, want + 1) == 0;
    free(buf);
    return found;
}

/* SIGKILLs every process left of instance id: whatever still carries its
 * KILN_INSTANCE_ID in its environment. A process group does not hold a child that
 * called setsid (a daemonizing app), and without root there is no PID namespace to
 * take it down with the instance; the environment is inherited through setsid and
 * fork, so this finds such children unless they cleared their environment. Returns
 * how many were killed. Called without mu: it reads /proc. */
static int kill_strays(const char *id)
{
    char entry[CLOUD_ID_MAX + 24];
    snprintf(entry, sizeof entry, "KILN_INSTANCE_ID=%s", id);
    int killed = 0;
    /* A stray may fork while we look: a few rounds, until one finds nothing. */
    for (int round = 0; round < 5; round++) {
        DIR *d = opendir("/proc");
        if (d == NULL)
            return killed;
        int found = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char *end;
            long pid = strtol(e->d_name, &end, 10);
            if (*end != '\0' || pid <= 1 || pid == (long)getpid())
                continue;
            if (environ_has((pid_t)pid, entry) && kill((pid_t)pid, SIGKILL) == 0)
                found++;
        }
        closedir(d);
        killed += found;
        if (found == 0)
            break;
    }
    return killed;
}

/* ---- files ---- */

/* ---- launching ---- */

/* What a launch needs from the state, copied so that mu can be released. */
struct launch {
    char id[CLOUD_ID_MAX];
    char group[KILN_GROUP_SIZE];
    char image[CLOUD_ID_MAX];
    int port;
    char *start[CLOUD_START_ARGS_MAX + 1];
    /* A root image: the process runs chrooted into an overlay of image and base (lower
     * layers, in this order, lowerdir syntax) under a per-instance upper layer. NULL for
     * a files image. */
    char *lower;
};

static void launch_free(struct launch *l)
{
    for (int i = 0; l->start[i] != NULL; i++)
        free(l->start[i]);
    free(l->lower);
}

static bool port_taken(struct cloud *c, int port)
{
    for (size_t i = 0; i < c->instances.n; i++)
        if (c->instances.v[i]->state != KILN_INSTANCE_TERMINATED && c->instances.v[i]->port == port)
            return true;
    return false;
}

/* A free loopback port, from the kernel (bind to port 0). It is free when we look;
 * the instance binds it a few ms later, and if something else took it meanwhile the
 * instance exits and is replaced. Ports of our other instances are skipped, since a
 * sibling still starting up has not bound its port yet. Caller holds mu. */
static int pick_port(struct cloud *c, struct kiln_err *err)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return kiln_err_sys(err, errno, "cannot find a free port for an instance");
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
            getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
            int e = errno;
            close(fd);
            return kiln_err_sys(err, e, "cannot find a free port on 127.0.0.1 for an instance");
        }
        close(fd);
        int port = ntohs(a.sin_port);
        if (!port_taken(c, port))
            return port;
    }
    return kiln_err_set(err, KILN_E_FAILED,
                        "cannot find a free port on 127.0.0.1 for an instance: the kernel kept "
                        "offering ports in use by other instances");
}

struct cmd_output {
    struct kiln_strbuf text; /* the last lines, for the error message */
};

static void keep_line(void *ctx, enum kiln_stream stream, const char *line)
{
    struct cmd_output *o = ctx;
    if (kiln_strbuf_str(&o->text)[0] != '\0')
        kiln_strbuf_append(&o->text, "; ");
    if (o->text.len < 600)
        kiln_strbuf_append_len(&o->text, line, strnlen(line, 300));
}

/* Runs a short helper program (cp, chmod) by argv; on failure the message names
 * the command and quotes what it said. */
static int run_helper(const char *const *argv, const char *what, struct kiln_err *err)
{
    struct cmd_output out = {.text = KILN_STRBUF_INIT};
    struct kiln_spawn_opts o = {.argv = argv,
                                .timeout_ms = 10 * 60 * 1000,
                                .on_line = keep_line,
                                .ctx = &out,
                                .package = "coreutils"};
    int status = 0;
    int rc = kiln_spawn_run(&o, &status, err);
    if (rc == 0 && status != 0) {
        char *cmd = kiln_spawn_describe(argv);
        rc = kiln_err_set(err, KILN_E_FAILED, "%s failed: %s exited with status %d%s%s", what, cmd,
                          status, out.text.len ? ": " : "", kiln_strbuf_str(&out.text));
        free(cmd);
    } else if (rc < 0) {
        kiln_err_prefix(err, "%s", what);
    }
    kiln_strbuf_free(&out.text);
    return rc;
}

/* Moves fd above 0-2, so setting up the child's stdio cannot clobber it when kilnd
 * runs with some of those closed. */
static int fd_above_stdio(int fd)
{
    if (fd < 0 || fd > STDERR_FILENO)
        return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    close(fd);
    return moved;
}

static int open_log(const char *dir, const char *name, struct kiln_err *err)
{
    char *path = xasprintf("%s/%s", dir, name);
    int fd = fd_above_stdio(open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (fd < 0)
        kiln_err_sys(err, errno, "cannot open the instance log %s", path);
    free(path);
    return fd;
}

/* An instance's command line and environment: start[0] as prog (already resolved by
 * the caller), the rest of start, and $PORT, $KILN_INSTANCE_ID and $KILN_ROOT on top of
 * kilnd's environment. */
struct start_cmd {
    char *argv[CLOUD_START_ARGS_MAX + 1];
    char *add[3];
    char **envp;
};

static void start_cmd_init(struct start_cmd *sc, const struct launch *l, char *prog,
                           const char *kiln_root)
{
    sc->argv[0] = prog;
    int argc = 1;
    for (; l->start[argc] != NULL; argc++)
        sc->argv[argc] = l->start[argc];
    sc->argv[argc] = NULL;
    sc->add[0] = xasprintf("PORT=%d", l->port);
    sc->add[1] = xasprintf("KILN_INSTANCE_ID=%s", l->id);
    sc->add[2] = xasprintf("KILN_ROOT=%s", kiln_root);
    const char *const env_add[] = {sc->add[0], sc->add[1], sc->add[2], NULL};
    sc->envp = kiln_env_overlay(env_add);
}

static void start_cmd_free(struct start_cmd *sc)
{
    free(sc->envp);
    for (int i = 0; i < 3; i++)
        free(sc->add[i]);
}

static int spawn_instance(const struct launch *l, const char *root, int out_fd, int err_fd,
                          pid_t *pid, struct kiln_err *err)
{
    const char *inside = l->start[0];
    char *prog = xasprintf("%s%s%s", root, inside[0] == '/' ? "" : "/", inside);
    struct start_cmd sc;
    start_cmd_init(&sc, l, prog, root);
    /* Its own session (and so process group): a terminal's signals do not reach it,
     * and one kill(-pid) stops it with everything it started. */
    struct kiln_spawn_child how = {
        .cwd = root, .out_fd = out_fd, .err_fd = err_fd, .new_session = true};
    int rc = kiln_spawn_child(prog, sc.argv, sc.envp, &how, pid);
    if (rc != 0) {
        if (rc == ENOENT || rc == EACCES || rc == ENOEXEC)
            kiln_err_set(err, rc == ENOENT ? KILN_E_NOTFOUND : KILN_E_FAILED,
                         "cannot start %s: %s: %s; image %s has no runnable %s (check the "
                         "start command in the app's kiln.json)",
                         l->id, prog, strerror(rc), l->image, inside);
        else
            kiln_err_sys(err, rc, "cannot start %s (%s)", l->id, prog);
    }
    start_cmd_free(&sc);
    free(prog);
    return rc == 0 ? 0 : -1;
}

/* ---- a PID namespace per instance (root) ---- */

/* What the namespace's init needs, prepared before clone: after it, the child of a
 * multithreaded kilnd may only make async-signal-safe calls. */
struct ns_start {
    const char *prog, *root;
    char **argv, **envp;
    int out_fd, err_fd, null_fd;
    int report_fd; /* write end of a close-on-exec pipe: a struct ns_report on failure */
    /* A root image (CLONE_NEWNS): overlay options, and where to mount it, /proc and /dev;
     * NULL for a files image. */
    const char *overlay_opts, *merged, *proc_dir, *dev_dir;
};

/* What went wrong in the namespace's init before the app ran. */
enum ns_stage { NS_SETUP, NS_EXEC, NS_PRIVATE, NS_OVERLAY, NS_PROC, NS_DEV, NS_CHROOT };
struct ns_report {
    int stage; /* enum ns_stage */
    int err;   /* errno */
};

static const char *const ns_stage_what[] = {
    [NS_SETUP] = "setting up its stdio",
    [NS_EXEC] = "executing it",
    [NS_PRIVATE] = "making its mount namespace private",
    [NS_OVERLAY] = "mounting its root (overlayfs: the image and its base under its own layer)",
    [NS_PROC] = "mounting /proc in its root",
    [NS_DEV] = "binding /dev into its root",
    [NS_CHROOT] = "entering its root (chroot)",
};

static void ns_fail(int fd, int stage, int e)
{
    struct ns_report r = {stage, e};
    if (write(fd, &r, sizeof r) < 0) {
        /* kilnd reads EOF and sees the process exit */
    }
    _exit(127);
}

/* A root image's mounts, made inside the instance's own mount namespace: private first,
 * so nothing propagates back to the host's (a shared / would carry them there); they
 * vanish with the namespace when its last process exits, kilnd or no kilnd. */
static void ns_enter_root(const struct ns_start *a)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        ns_fail(a->report_fd, NS_PRIVATE, errno);
    if (mount("overlay", a->merged, "overlay", 0, a->overlay_opts) < 0)
        ns_fail(a->report_fd, NS_OVERLAY, errno);
    /* The namespace's own /proc: the app sees its PID namespace, not the host's. */
    if (mount("proc", a->proc_dir, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        ns_fail(a->report_fd, NS_PROC, errno);
    if (mount("/dev", a->dev_dir, NULL, MS_BIND | MS_REC, NULL) < 0)
        ns_fail(a->report_fd, NS_DEV, errno);
    if (chroot(a->merged) < 0)
        ns_fail(a->report_fd, NS_CHROOT, errno);
}

static void ns_close_from(int lowest)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, lowest, ~0U, 0) == 0)
        return;
#endif
    for (int fd = lowest; fd < 1024; fd++)
        close(fd);
}

/* PID 1 of the instance's namespace: starts the app as its child (PID 2) and lives
 * exactly as long as it. When PID 1 exits the kernel kills everything left in the
 * namespace, setsid daemons included, and a SIGKILL to it (chaos, or the end of a
 * grace period) does the same. It keeps the default dispositions, so a signal from
 * kilnd's namespace to it alone is ignored; kilnd signals the process group, which
 * reaches the app. A death by signal N is reported as exit status 128+N, as a shell
 * does. */
static int ns_init(void *arg)
{
    const struct ns_start *a = arg;
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &all, NULL);
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (int s = 1; s < NSIG; s++)
        sigaction(s, &dfl, NULL); /* kilnd ignores SIGPIPE and handles SIGTERM */
    setsid();
    if (a->overlay_opts != NULL)
        ns_enter_root(a);
    if (chdir(a->overlay_opts != NULL ? "/" : a->root) < 0 || dup2(a->null_fd, STDIN_FILENO) < 0 ||
        dup2(a->out_fd, STDOUT_FILENO) < 0 || dup2(a->err_fd, STDERR_FILENO) < 0)
        ns_fail(a->report_fd, NS_SETUP, errno);
    int report_fd = a->report_fd;
    if (report_fd <= STDERR_FILENO)
        _exit(127);
    /* vfork, not fork: glibc's fork takes malloc's locks, which another thread of kilnd
     * may have held at the moment of the clone, forever in this copy. */
    pid_t app = vfork();
    if (app == 0) {
        /* Everything but the report pipe, which execve closes (close-on-exec). */
#ifdef SYS_close_range
        if (report_fd > STDERR_FILENO + 1)
            syscall(SYS_close_range, STDERR_FILENO + 1, report_fd - 1, 0);
        syscall(SYS_close_range, report_fd + 1, ~0U, 0);
#endif
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(a->prog, a->argv, a->envp);
        ns_fail(report_fd, NS_EXEC, errno);
    }
    close(report_fd);
    ns_close_from(STDERR_FILENO + 1);
    if (app < 0)
        _exit(126);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (;;) {
        int ws;
        pid_t p = waitpid(-1, &ws, 0);
        if (p == app)
            _exit(WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws));
        if (p < 0 && errno == ECHILD)
            _exit(0);
    }
}

/* -1 unknown, 0 no (not root, or the kernel refused once), 1 yes. Launches run in
 * parallel without mu, hence atomic. */
static atomic_int ns_usable = -1;

/* Starts the instance as PID 1 of a new PID namespace (see ns_init). 1 when the kernel
 * does not allow it (not root, no CAP_SYS_ADMIN): the caller falls back to
 * posix_spawn, and strays are then found by their environment (kill_strays). */
static int spawn_instance_ns(const struct launch *l, const char *root, int out_fd, int err_fd,
                             pid_t *pid, struct kiln_err *err)
{
    if (ns_usable == 0)
        return 1;
    if (geteuid() != 0) {
        ns_usable = 0;
        return 1;
    }
    const char *inside = l->start[0];
    bool chrooted = l->lower != NULL;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* The sanitizers' runtime does not survive ns_init's raw clone and vfork (the app
     * dies of SIGSEGV): sanitizer builds run files images the posix_spawn way, which
     * their tests cover; root images, which need the namespace, still take it. */
    if (!chrooted)
        return 1;
#endif
    /* In a root image the program is looked up after the chroot, where its links
     * (/usr/bin/x -> /etc/alternatives/x) resolve as the image means them. */
    char *prog = chrooted ? xasprintf("%s%s", inside[0] == '/' ? "" : "/", inside)
                          : xasprintf("%s%s%s", root, inside[0] == '/' ? "" : "/", inside);
    if (!chrooted && access(prog, X_OK) < 0) {
        int e = errno;
        kiln_err_set(err, e == ENOENT ? KILN_E_NOTFOUND : KILN_E_FAILED,
                     "cannot start %s: %s: %s; image %s has no runnable %s (check the start "
                     "command in the app's kiln.json)",
                     l->id, prog, strerror(e), l->image, inside);
        free(prog);
        return -1;
    }
    struct start_cmd sc;
    start_cmd_init(&sc, l, prog, chrooted ? "/" : root);
    char *merged = NULL, *opts = NULL, *proc_dir = NULL, *dev_dir = NULL;
    if (chrooted) {
        merged = xasprintf("%s/merged", root);
        opts = xasprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", l->lower, root, root);
        proc_dir = xasprintf("%s/proc", merged);
        dev_dir = xasprintf("%s/dev", merged);
    }
    int report[2] = {-1, -1};
    int null_fd = fd_above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC));
    int rc = -1;
    if (null_fd < 0 || pipe2(report, O_CLOEXEC) < 0) {
        kiln_err_sys(err, errno, "cannot start %s (a pipe or /dev/null)", l->id);
        goto out;
    }
    report[0] = fd_above_stdio(report[0]);
    report[1] = fd_above_stdio(report[1]);
    struct ns_start a = {.prog = prog,
                         .root = root,
                         .argv = sc.argv,
                         .envp = sc.envp,
                         .out_fd = out_fd,
                         .err_fd = err_fd,
                         .null_fd = null_fd,
                         .report_fd = report[1],
                         .overlay_opts = opts,
                         .merged = merged,
                         .proc_dir = proc_dir,
                         .dev_dir = dev_dir};
    size_t stack_size = 256 * 1024;
    char *stack = xmalloc(stack_size);
    pid_t child = clone(ns_init, stack + stack_size,
                        CLONE_NEWPID | (chrooted ? CLONE_NEWNS : 0) | SIGCHLD, &a);
    int e = errno;
    free(stack); /* the child runs on its own copy: no CLONE_VM */
    close(report[1]);
    report[1] = -1;
    if (child < 0) {
        if (e == EPERM || e == EINVAL || e == ENOSPC || e == EUSERS) {
            ns_usable = 0;
            rc = 1;
        } else {
            kiln_err_sys(err, e, "cannot start %s (clone)", l->id);
        }
        goto out;
    }
    ns_usable = 1;
    struct ns_report rep = {0};
    ssize_t n;
    while ((n = read(report[0], &rep, sizeof rep)) < 0 && errno == EINTR)
        ;
    if (n == (ssize_t)sizeof rep) {
        /* The app could not be started: its init exits at once; reap it. */
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
            ;
        if (rep.stage == NS_EXEC)
            kiln_err_set(err, KILN_E_FAILED,
                         "cannot start %s: %s: %s; image %s has no runnable %s (check the start "
                         "command in the app's kiln.json)",
                         l->id, prog, strerror(rep.err), l->image, inside);
        else
            kiln_err_set(
                err, KILN_E_FAILED, "cannot start %s of image %s: %s failed: %s", l->id, l->image,
                rep.stage >= 0 && rep.stage <= NS_CHROOT ? ns_stage_what[rep.stage] : "its init",
                strerror(rep.err));
        goto out;
    }
    *pid = child;
    rc = 0;
out:
    if (report[0] >= 0)
        close(report[0]);
    if (report[1] >= 0)
        close(report[1]);
    if (null_fd >= 0)
        close(null_fd);
    start_cmd_free(&sc);
    free(prog);
    free(merged);
    free(opts);
    free(proc_dir);
    free(dev_dir);
    return rc;
}

/* A root image's instance dir: root/upper (what the instance writes; its top dir takes
 * the image's owner and mode, as it becomes the instance's /), root/work (overlayfs's)
 * and root/merged (where its init mounts the root, inside its own mount namespace).
 * Nothing is copied: terminating throws root/ away. */
static int root_layers(const struct launch *l, const char *image, const char *root,
                       struct kiln_err *err)
{
    struct stat st;
    if (stat(image, &st) < 0)
        return kiln_err_sys(err, errno, "cannot start %s: its image %s is missing", l->id, image);
    char *upper = xasprintf("%s/upper", root), *work = xasprintf("%s/work", root),
         *merged = xasprintf("%s/merged", root);
    int rc = 0;
    if (mkdir(root, 0700) < 0 || mkdir(upper, 0700) < 0 || chmod(upper, st.st_mode & 07777) < 0 ||
        chown(upper, st.st_uid, st.st_gid) < 0 || mkdir(work, 0700) < 0 || mkdir(merged, 0755) < 0)
        rc = kiln_err_sys(err, errno, "cannot prepare the root of %s in %s", l->id, root);
    free(upper);
    free(work);
    free(merged);
    return rc;
}

/* The slow part of a launch, without mu: copy the image, open the logs, start the
 * process. On failure nothing is left running and the directory is removed. */
static int start_process(struct cloud *c, const struct launch *l, pid_t *pid, int *pidfd,
                         unsigned long long *ticks, bool *in_ns, struct kiln_err *err)
{
    char *dir = instance_dir(c, l->id);
    char *root = xasprintf("%s/root", dir);
    char *image = xasprintf("%s/%s", c->paths.images_dir, l->image);
    int out_fd = -1, err_fd = -1, rc = -1;

    if (kiln_mkdir_p(c->paths.instances_dir, 0700, err) < 0)
        goto out;
    if (mkdir(dir, 0700) < 0) {
        kiln_err_sys(err, errno, "cannot make the instance directory %s", dir);
        goto out;
    }
    if (l->lower != NULL) {
        if (root_layers(l, image, root, err) < 0)
            goto out;
        if ((out_fd = open_log(dir, "stdout.log", err)) < 0 ||
            (err_fd = open_log(dir, "stderr.log", err)) < 0)
            goto out;
        int ns = spawn_instance_ns(l, root, out_fd, err_fd, pid, err);
        if (ns == 1)
            kiln_err_set(err, KILN_E_FAILED,
                         "cannot start %s: image %s is a whole root, and running one needs root "
                         "(a mount namespace and overlayfs); run kilnd as root",
                         l->id, l->image);
        if (ns != 0)
            goto out;
        *in_ns = true;
        *pidfd = open_pidfd(*pid);
        *ticks = kiln_proc_start_ticks(*pid);
        rc = 0;
        goto out;
    }
    /* cp -a keeps modes, links and times; --reflink=auto shares blocks where the file
     * system can (btrfs, xfs) and copies elsewhere. Images are read-only, so the copy
     * is made writable for the app. */
    const char *cp[] = {"cp", "-a", "--reflink=auto", "--", image, root, NULL};
    const char *chmod_[] = {"chmod", "-R", "u+w", "--", root, NULL};
    char what[160];
    snprintf(what, sizeof what, "copying image %s for %s", l->image, l->id);
    if (run_helper(cp, what, err) < 0)
        goto out;
    snprintf(what, sizeof what, "making the root of %s writable", l->id);
    if (run_helper(chmod_, what, err) < 0)
        goto out;
    if ((out_fd = open_log(dir, "stdout.log", err)) < 0 ||
        (err_fd = open_log(dir, "stderr.log", err)) < 0)
        goto out;
    int ns = spawn_instance_ns(l, root, out_fd, err_fd, pid, err);
    if (ns < 0 || (ns == 1 && spawn_instance(l, root, out_fd, err_fd, pid, err) < 0))
        goto out;
    *in_ns = ns == 0;
    /* Still our unreaped child, so the pid cannot have been reused yet. */
    *pidfd = open_pidfd(*pid);
    *ticks = kiln_proc_start_ticks(*pid);
    rc = 0;
out:
    if (out_fd >= 0)
        close(out_fd);
    if (err_fd >= 0)
        close(err_fd);
    if (rc < 0)
        kiln_tree_remove(dir, NULL); /* best effort: the sweep retries */
    free(image);
    free(root);
    free(dir);
    return rc;
}

int cloud_instance_launch(struct cloud *c, struct cloud_group *g, const char *replaces,
                          struct cloud_instance **out, struct kiln_err *err)
{
    struct cloud_supervisor *s = sup_get(c);
    struct cloud_cluster *cl = cloud_group_cluster(c, g);
    if (out != NULL)
        *out = NULL;
    if (cl == NULL)
        return kiln_err_set(err, KILN_E_NOTFOUND,
                            "cannot launch an instance of %s: its cluster %s is not registered "
                            "(create the app again with kiln create-app)",
                            g->name, g->cluster);
    if (cl->start[0] == NULL || cl->start[0][0] == '\0')
        return kiln_err_set(err, KILN_E_INVALID,
                            "cannot launch an instance of %s: app %s has no start command (set "
                            "\"start\" in its kiln.json and create the app again)",
                            g->name, cl->name);
    if (cloud_find_image(c, g->image) == NULL)
        return kiln_err_set(err, KILN_E_NOTFOUND,
                            "cannot launch an instance of %s: its image %s is gone (bake the "
                            "package again and deploy a new group)",
                            g->name, g->image);

    struct launch l = {0};
    int port = pick_port(c, err);
    if (port < 0)
        return -1;
    l.port = port;
    snprintf(l.group, sizeof l.group, "%s", g->name);
    snprintf(l.image, sizeof l.image, "%s", g->image);
    const struct cloud_image *im = cloud_find_image(c, g->image);
    if (cloud_image_is_root(im)) {
        char *base = xasprintf("%s/%s", c->paths.bases_dir, im->base);
        struct stat st;
        if (stat(base, &st) < 0 || !S_ISDIR(st.st_mode)) {
            free(base);
            return kiln_err_set(err, KILN_E_NOTFOUND,
                                "cannot launch an instance of %s: image %s was baked on base %s, "
                                "which is gone (kiln base build or import it again, or bake the "
                                "package onto the base there is and deploy)",
                                g->name, g->image, im->base);
        }
        /* Upper layers first: the image over its base. */
        l.lower = xasprintf("%s/%s:%s", c->paths.images_dir, g->image, base);
        free(base);
    }
    for (int i = 0; i < CLOUD_START_ARGS_MAX && cl->start[i] != NULL; i++)
        l.start[i] = xstrdup(cl->start[i]);
    do
        cloud_new_instance_id(l.id);
    while (cloud_find_instance(c, l.id) != NULL);

    /* The instance is in the state, PENDING, from the start, so the reconciler counts
     * it and a destroy of the group sees it while its root is being copied. */
    struct cloud_instance *x = xcalloc(1, sizeof *x);
    snprintf(x->id, sizeof x->id, "%s", l.id);
    snprintf(x->group, sizeof x->group, "%s", l.group);
    snprintf(x->replaces, sizeof x->replaces, "%s", replaces != NULL ? replaces : "");
    x->port = port;
    x->state = KILN_INSTANCE_PENDING;
    x->health = KILN_HEALTH_UNKNOWN;
    x->lb_state = KILN_LB_OUT_OF_SERVICE;
    x->launched_us = kiln_now_us();
    x->exit_status = -1;
    cloud_add_instance(c, x);
    launching_add(s, l.id);
    cloud_changed(c);

    pthread_mutex_unlock(&c->mu);
    pid_t pid = 0;
    int pidfd = -1;
    unsigned long long ticks = 0;
    struct kiln_err lerr = {0};
    bool in_ns = false;
    int rc = start_process(c, &l, &pid, &pidfd, &ticks, &in_ns, &lerr);
    pthread_mutex_lock(&c->mu);

    launching_remove(s, l.id);
    x = cloud_find_instance(c, l.id); /* the old pointer may be gone */
    if (rc < 0) {
        /* It never ran: it leaves no instance behind, only the event. */
        if (x != NULL)
            cloud_remove_instance(c, x);
        cloud_changed(c);
        emit(c, "error", l.group, l.id, NULL, "launch of %s in %s failed: %s", l.id, l.group,
             lerr.msg);
        launch_free(&l);
        if (err != NULL)
            *err = lerr;
        return -1;
    }

    struct watch *w = watch_add(s, l.id, l.group, pid, pidfd, true, ticks);
    w->ns = in_ns;
    bool group_gone = cloud_find_group(c, l.group) == NULL;
    if (x == NULL || x->state == KILN_INSTANCE_TERMINATED || group_gone) {
        /* Terminated or its group destroyed while it was starting: stop it now; the
         * supervisor reaps it and removes its root. */
        kill(-pid, SIGKILL);
        w->killed = true;
        if (x != NULL) {
            x->pid = pid; /* for the record, and so the supervisor's report finds it */
            x->start_ticks = ticks;
            x->exit_status = 128 + SIGKILL;
        }
        if (x != NULL && x->state != KILN_INSTANCE_TERMINATED) {
            x->state = KILN_INSTANCE_TERMINATED;
            x->terminated_us = kiln_now_us();
            snprintf(x->cause, sizeof x->cause, "%s", "destroy");
            emit(c, "terminate", l.group, l.id, "destroy",
                 "%s of %s stopped as it started: its group was destroyed meanwhile", l.id,
                 l.group);
        }
        cloud_changed(c);
        launch_free(&l);
        return kiln_err_set(err, KILN_E_CANCELLED, "%s of %s was terminated while it was starting",
                            l.id, l.group);
    }
    x->pid = pid;
    x->start_ticks = ticks;
    x->state = KILN_INSTANCE_RUNNING;
    cloud_changed(c);
    if (x->replaces[0] != '\0')
        emit(c, "launch", l.group, l.id, NULL,
             "launched %s of %s on port %d (pid %d), replacing %s", l.id, l.group, port, (int)pid,
             x->replaces);
    else
        emit(c, "launch", l.group, l.id, NULL, "launched %s of %s on port %d (pid %d)", l.id,
             l.group, port, (int)pid);
    launch_free(&l);
    if (out != NULL)
        *out = x;
    return 0;
}

/* ---- terminating ---- */

/* Whether the watched process is still running: for a child, until we reap it its
 * pid is ours; for an adopted process, the pidfd or the start time says. */
static bool watch_alive(const struct watch *w)
{
    if (w->child)
        return true;
    if (w->pidfd >= 0) {
        struct pollfd p = {.fd = w->pidfd, .events = POLLIN};
        return poll(&p, 1, 0) == 0;
    }
    return kiln_proc_start_ticks(w->pid) == w->start_ticks;
}

static void mark_terminated(struct cloud *c, struct cloud_instance *x, const char *cause)
{
    x->state = KILN_INSTANCE_TERMINATED;
    x->terminated_us = kiln_now_us();
    snprintf(x->cause, sizeof x->cause, "%s", cause);
    cloud_changed(c);
}

int cloud_instance_terminate(struct cloud *c, struct cloud_instance *x, const char *cause,
                             struct kiln_err *err)
{
    struct cloud_supervisor *s = sup_get(c);
    if (x->state == KILN_INSTANCE_TERMINATED || x->state == KILN_INSTANCE_TERMINATING)
        return 0; /* already on its way; the first cause stands */
    bool chaos = strcmp(cause, "chaos") == 0;
    struct watch *w = x->pid > 0 ? watch_find(s, x->id, x->pid) : NULL;

    if (x->pid <= 0 || w == NULL || !watch_alive(w)) {
        /* Not started yet (its launch stops it when it gets this far), or already
         * gone (the supervisor's report of the exit is on its way). */
        mark_terminated(c, x, cause);
        emit(c, "terminate", x->group, x->id, cause, "%s of %s terminated (%s)", x->id, x->group,
             cause);
        return 0;
    }
    if (chaos) {
        if (kill(-x->pid, SIGKILL) < 0 && errno != ESRCH)
            return kiln_err_sys(err, errno, "cannot kill %s (process group %d)", x->id,
                                (int)x->pid);
        w->killed = true;
        mark_terminated(c, x, cause);
        x->exit_status = 128 + SIGKILL;
        emit(c, "terminate", x->group, x->id, cause, "chaos killed %s of %s (pid %d, SIGKILL)",
             x->id, x->group, (int)x->pid);
        return 0;
    }
    if (kill(-x->pid, SIGTERM) < 0) {
        if (errno != ESRCH)
            return kiln_err_sys(err, errno, "cannot stop %s (process group %d)", x->id,
                                (int)x->pid);
        /* The group is empty: the leader exited and the supervisor will report it. */
    }
    x->state = KILN_INSTANCE_TERMINATING;
    snprintf(x->cause, sizeof x->cause, "%s", cause);
    w->kill_at = kiln_mono_us() + TERMINATE_GRACE_US;
    sup_wake(s);
    cloud_changed(c);
    return 0;
}

/* ---- adopting after a restart ---- */

void cloud_instances_adopt(struct cloud *c)
{
    struct cloud_supervisor *s = sup_get(c);
    for (size_t i = 0; i < c->instances.n; i++) {
        struct cloud_instance *x = c->instances.v[i];
        if (x->state == KILN_INSTANCE_TERMINATED)
            continue;
        /* Same pid and same start time: the same process, not a stranger that was
         * given a recycled pid. The start time is read again after pidfd_open, so the
         * pidfd cannot refer to a process that took the pid in between. */
        int pidfd = -1;
        bool alive =
            x->pid > 0 && x->start_ticks != 0 && kiln_proc_start_ticks(x->pid) == x->start_ticks;
        if (alive) {
            pidfd = open_pidfd(x->pid);
            alive = kiln_proc_start_ticks(x->pid) == x->start_ticks;
        }
        if (!alive) {
            if (pidfd >= 0)
                close(pidfd);
            bool was_terminating = x->state == KILN_INSTANCE_TERMINATING;
            mark_terminated(c, x, was_terminating && x->cause[0] ? x->cause : "exited");
            x->exit_status = -1;
            /* What it started may have outlived it while kilnd was down. At start, before
             * the other threads, so reading /proc under mu holds nobody up. */
            kill_strays(x->id);
            emit(c, "terminate", x->group, x->id, x->cause,
                 "kilnd found %s of %s gone after restart (pid %d)", x->id, x->group, (int)x->pid);
            continue;
        }
        x->adopted = true;
        struct watch *w = watch_add(s, x->id, x->group, x->pid, pidfd, false, x->start_ticks);
        if (x->state == KILN_INSTANCE_PENDING) {
            x->state = KILN_INSTANCE_RUNNING;
            c->dirty = true;
        } else if (x->state == KILN_INSTANCE_TERMINATING) {
            /* Its grace period began before the restart. */
            kill(-x->pid, SIGKILL);
            w->killed = true;
        }
    }
}

/* ---- the supervisor thread ---- */

/* Whether w's process has exited; *status gets its exit status (-1 if unknown) and
 * `how` says it in words. */
static bool check_exit(struct watch *w, bool pidfd_ready, int *status, char *how, size_t size)
{
    *status = -1;
    snprintf(how, size, "%s", "an unknown status");
    if (w->child) {
        if (w->pidfd >= 0 && !pidfd_ready)
            return false;
        siginfo_t si;
        memset(&si, 0, sizeof si);
        /* Peek first: while it is an unreaped zombie its pid is reserved, so the
         * process group can still be swept of anything the app left behind. */
        if (waitid(P_PID, (id_t)w->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
            return errno == ECHILD; /* reaped elsewhere: gone, status unknown */
        if (si.si_pid == 0)
            return false;
        kill(-w->pid, SIGKILL);
        int ws;
        while (waitpid(w->pid, &ws, 0) < 0 && errno == EINTR)
            ;
        int sig = 0;
        if (WIFEXITED(ws)) {
            *status = WEXITSTATUS(ws);
            snprintf(how, size, "status %d", *status);
            if (w->ns && *status > 128 && *status < 128 + NSIG)
                sig = *status - 128; /* its init's way of saying the app died of it */
        } else if (WIFSIGNALED(ws)) {
            sig = WTERMSIG(ws);
        }
        if (sig != 0) {
            *status = 128 + sig;
            const char *abbrev = sigabbrev_np(sig); /* strsignal is not thread-safe */
            snprintf(how, size, "signal %d (SIG%s)", sig, abbrev ? abbrev : "?");
        }
        return true;
    }
    if (w->pidfd >= 0)
        return pidfd_ready;
    return kiln_proc_start_ticks(w->pid) != w->start_ticks;
}

/* Applies an exit to the state (mu held). Returns the root to remove (caller frees). */
static char *on_exit_locked(struct cloud *c, const struct watch *w, int status, const char *how)
{
    struct cloud_instance *x = cloud_find_instance(c, w->id);
    if (x != NULL && x->pid == w->pid) {
        if (x->state == KILN_INSTANCE_TERMINATING) {
            x->state = KILN_INSTANCE_TERMINATED;
            x->terminated_us = kiln_now_us();
            x->exit_status = status;
            if (w->killed)
                emit(c, "terminate", x->group, x->id, x->cause,
                     "%s of %s terminated (%s): it did not stop within %llds of SIGTERM and was "
                     "killed",
                     x->id, x->group, x->cause, TERMINATE_GRACE_US / 1000000);
            else if (status < 0) /* adopted: not our child, its status is not ours to see */
                emit(c, "terminate", x->group, x->id, x->cause,
                     "%s of %s terminated (%s): it stopped on SIGTERM", x->id, x->group, x->cause);
            else
                emit(c, "terminate", x->group, x->id, x->cause,
                     "%s of %s terminated (%s): stopped on SIGTERM with %s", x->id, x->group,
                     x->cause, how);
        } else if (x->state != KILN_INSTANCE_TERMINATED) {
            x->state = KILN_INSTANCE_TERMINATED;
            x->terminated_us = kiln_now_us();
            x->exit_status = status;
            snprintf(x->cause, sizeof x->cause, "%s", "exited");
            if (w->child)
                emit(c, "terminate", x->group, x->id, "exited",
                     "%s of %s exited with %s (see instances/%s/stderr.log)", x->id, x->group, how,
                     x->id);
            else
                emit(c, "terminate", x->group, x->id, "exited",
                     "%s of %s exited (see instances/%s/stderr.log)", x->id, x->group, x->id);
        } else if (x->exit_status < 0 && status >= 0) {
            x->exit_status = status; /* killed by chaos: now we know how it ended */
        }
        cloud_changed(c);
    }
    return xasprintf("%s/%s/root", c->paths.instances_dir, w->id);
}

/* Removes the directories of instances that the state no longer knows, and the roots
 * of terminated ones (what a crash of kilnd may have left). Called without mu. */
static void sweep(struct cloud *c)
{
    DIR *d = opendir(c->paths.instances_dir);
    if (d == NULL)
        return;
    /* The listing comes first: a directory in it was made by a launch that had
     * already put its instance in the state, so it cannot be mistaken for an orphan. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (kiln_instance_id_validate(e->d_name, NULL) < 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);

    char **remove = xcalloc(n + 1, sizeof *remove);
    size_t nr = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; i++) {
        struct cloud_instance *x = cloud_find_instance(c, names[i]);
        if (launching_has(c->supervisor, names[i]))
            continue;
        if (x == NULL)
            remove[nr++] = instance_dir(c, names[i]);
        else if (x->state == KILN_INSTANCE_TERMINATED &&
                 watch_find(c->supervisor, x->id, x->pid) == NULL)
            remove[nr++] = xasprintf("%s/%s/root", c->paths.instances_dir, names[i]);
    }
    pthread_mutex_unlock(&c->mu);
    for (size_t i = 0; i < nr; i++) {
        struct stat st;
        if (lstat(remove[i], &st) == 0) {
            /* An instance the state does not know may still run (a state lost or
             * rolled back): its processes go before its files. */
            const char *base = strrchr(remove[i], '/');
            if (base != NULL && kiln_instance_id_validate(base + 1, NULL) == 0)
                kill_strays(base + 1);
            kiln_tree_remove(remove[i], NULL); /* best effort: the sweep retries */
        }
        free(remove[i]);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(remove);
}

static void *supervisor_main(void *arg)
{
    struct cloud *c = arg;
    struct pollfd *fds = NULL;
    size_t fds_cap = 0;
    int64_t next_sweep = 0, stop_deadline = 0;

    pthread_mutex_lock(&c->mu);
    struct cloud_supervisor *s = c->supervisor;
    for (;;) {
        int64_t now = kiln_mono_us();
        bool stopping = c->stopping || s->quit;
        bool terminating = false;
        /* SIGKILL for whoever outstayed the grace period. */
        for (size_t i = 0; i < s->n; i++) {
            struct watch *w = &s->w[i];
            if (w->kill_at != 0 && now >= w->kill_at) {
                if (watch_alive(w))
                    kill(-w->pid, SIGKILL);
                w->killed = true;
                w->kill_at = 0;
            }
            struct cloud_instance *x = cloud_find_instance(c, w->id);
            if (x != NULL && x->pid == w->pid && x->state == KILN_INSTANCE_TERMINATING)
                terminating = true;
        }
        if (stopping) {
            /* Instances being terminated are seen to the end (kiln cloud stop --all),
             * within a bound; the others keep running without us. */
            if (stop_deadline == 0)
                stop_deadline = now + STOP_WAIT_US;
            if (!terminating || now >= stop_deadline)
                break;
        }

        /* Poll the pidfds and the wake fd; the timeout is the next deadline. */
        int64_t timeout_us = next_sweep > now ? next_sweep - now : 0;
        if (next_sweep == 0)
            timeout_us = 0;
        size_t nfds = 0;
        if (fds_cap < s->n + 1) {
            fds_cap = s->n + 16;
            fds = xrealloc(fds, fds_cap * sizeof *fds);
        }
        /* cppcheck-suppress nullPointer ; fds_cap starts at 0, so the first pass allocates */
        fds[nfds++] = (struct pollfd){.fd = s->wake_fd, .events = POLLIN};
        for (size_t i = 0; i < s->n; i++) {
            struct watch *w = &s->w[i];
            fds[nfds++] = (struct pollfd){.fd = w->pidfd, .events = POLLIN};
            if (w->pidfd < 0 && timeout_us > FALLBACK_POLL_MS * 1000LL)
                timeout_us = FALLBACK_POLL_MS * 1000LL;
            if (w->kill_at != 0 && w->kill_at - now < timeout_us)
                timeout_us = w->kill_at > now ? w->kill_at - now : 0;
        }
        if (stopping && stop_deadline - now < timeout_us)
            timeout_us = stop_deadline > now ? stop_deadline - now : 0;
        size_t polled = s->n; /* watches are only removed by this thread, so index i stays */
        pthread_mutex_unlock(&c->mu);

        if (next_sweep == 0 || now >= next_sweep) {
            sweep(c);
            next_sweep = kiln_mono_us() + SWEEP_INTERVAL_US;
            for (size_t i = 0; i < nfds; i++)
                fds[i].revents = 0;
        } else {
            int ms = (int)((timeout_us + 999) / 1000);
            if (poll(fds, nfds, ms) < 0)
                for (size_t i = 0; i < nfds; i++)
                    fds[i].revents = 0;
        }
        if (fds[0].revents & POLLIN) {
            uint64_t v;
            if (read(s->wake_fd, &v, sizeof v) < 0) {
                /* EAGAIN: someone else drained it */
            }
        }

        pthread_mutex_lock(&c->mu);
        char **roots = NULL, **ids = NULL, **groups = NULL;
        size_t nroots = 0;
        for (size_t i = 0; i < s->n;) {
            struct watch *w = &s->w[i];
            bool ready = i < polled && (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
            int status;
            char how[96];
            if (!check_exit(w, ready, &status, how, sizeof how)) {
                i++;
                continue;
            }
            roots = xrealloc(roots, (nroots + 1) * sizeof *roots);
            ids = xrealloc(ids, (nroots + 1) * sizeof *ids);
            ids[nroots] = xstrdup(w->id);
            groups = xrealloc(groups, (nroots + 1) * sizeof *groups);
            groups[nroots] = xstrdup(w->group);
            roots[nroots++] = on_exit_locked(c, w, status, how);
            if (w->pidfd >= 0)
                close(w->pidfd);
            /* Keep the order so the pollfd indices of the watches still to check hold. */
            memmove(w, w + 1, (s->n - i - 1) * sizeof *w);
            s->n--;
            if (i < polled) {
                memmove(&fds[i + 1], &fds[i + 2], (polled - i - 1) * sizeof *fds);
                polled--;
            }
        }
        if (nroots > 0) {
            cloud_store_save(c, NULL);
            pthread_mutex_unlock(&c->mu);
            for (size_t i = 0; i < nroots; i++) {
                /* Its main process is gone: so is everything it started. */
                int n = kill_strays(ids[i]);
                if (n > 0)
                    emit(c, "cleanup", groups[i], ids[i], NULL,
                         "%s: killed %d process%s it had left running (daemonized, outside its "
                         "process group)",
                         ids[i], n, n == 1 ? "" : "es");
                kiln_tree_remove(roots[i], NULL); /* best effort: the sweep retries */
                free(roots[i]);
                free(ids[i]);
                free(groups[i]);
            }
            free(roots);
            free(ids);
            free(groups);
            pthread_mutex_lock(&c->mu);
        }
    }
    pthread_mutex_unlock(&c->mu);
    free(fds);
    return NULL;
}

int cloud_instances_start(struct cloud *c, struct kiln_err *err)
{
    pthread_mutex_lock(&c->mu);
    struct cloud_supervisor *s = sup_get(c);
    pthread_mutex_unlock(&c->mu);
    if (s->wake_fd < 0)
        return kiln_err_sys(err, errno, "cannot start the instance supervisor (eventfd)");
    int rc = pthread_create(&s->thread, NULL, supervisor_main, c);
    if (rc != 0)
        return kiln_err_sys(err, rc, "cannot start the instance supervisor thread");
    s->running = true;
    return 0;
}

void cloud_instances_stop(struct cloud *c)
{
    pthread_mutex_lock(&c->mu);
    struct cloud_supervisor *s = c->supervisor;
    if (s != NULL) {
        s->quit = true;
        sup_wake(s);
    }
    pthread_mutex_unlock(&c->mu);
    if (s == NULL)
        return;
    if (s->running)
        pthread_join(s->thread, NULL);
    /* Instances keep running; a later kilnd adopts them. Our children that are still
     * running are reparented to init when kilnd exits. */
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < s->n; i++)
        if (s->w[i].pidfd >= 0)
            close(s->w[i].pidfd);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    free(s->w);
    free(s->launching);
    free(s);
    c->supervisor = NULL;
    pthread_mutex_unlock(&c->mu);
}
