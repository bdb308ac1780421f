/* kiln: run a program and stream its output, line by line (see include/kiln/spawn.h).
 *
 * posix_spawn rather than fork+exec: glibc starts the child with vfork
 * semantics and reports a failed exec (program not found, not executable) as the
 * return value, so there is no error pipe to manage and nothing runs between
 * fork and exec that could take a lock another thread holds.
 */
#include "kiln/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kiln/shellwords.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"

extern char **environ;

/* How often the cancel callback is asked, at the latest. */
#define CANCEL_POLL_MS 100
/* After the program exits, how long to keep reading from something it left
 * behind that still holds its stdout or stderr open. */
#define LINGER_MS 1000

struct line_reader {
    int fd; /* -1 once at EOF */
    enum kiln_stream stream;
    char *buf; /* max_line + 2 bytes: a full line, its '\n', and a NUL */
    size_t len;
};

struct run {
    const struct kiln_spawn_opts *opts;
    size_t max_line;
    struct line_reader out, err;
};

static void deliver(struct run *r, struct line_reader *lr, char *line, size_t len)
{
    char saved = line[len];
    line[len] = '\0';
    if (r->opts->on_line != NULL)
        r->opts->on_line(r->opts->ctx, lr->stream, line);
    line[len] = saved;
}

/* Hands every complete line in lr's buffer to the callback, and a piece of
 * max_line bytes when a line is longer than that; at EOF also what is left. */
static void split_lines(struct run *r, struct line_reader *lr, bool eof)
{
    size_t start = 0;
    for (;;) {
        char *p = lr->buf + start;
        size_t avail = lr->len - start;
        char *nl = memchr(p, '\n', avail);
        if (nl != NULL && (size_t)(nl - p) <= r->max_line) {
            deliver(r, lr, p, (size_t)(nl - p));
            start += (size_t)(nl - p) + 1;
        } else if (avail > r->max_line) {
            deliver(r, lr, p, r->max_line);
            start += r->max_line;
        } else if (eof && avail > 0) {
            deliver(r, lr, p, avail);
            start += avail;
        } else {
            break;
        }
    }
    memmove(lr->buf, lr->buf + start, lr->len - start);
    lr->len -= start;
}

static void reader_close(struct run *r, struct line_reader *lr)
{
    if (lr->fd < 0)
        return;
    split_lines(r, lr, true);
    close(lr->fd);
    lr->fd = -1;
}

static void reader_read(struct run *r, struct line_reader *lr)
{
    ssize_t n = read(lr->fd, lr->buf + lr->len, r->max_line + 1 - lr->len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        reader_close(r, lr);
        return;
    }
    lr->len += (size_t)n;
    split_lines(r, lr, false);
}

/* Moves fd above 0-2, so that setting up the child's stdin, stdout and stderr
 * cannot overwrite it when the caller runs with some of those closed. */
static int fd_above_stdio(int fd)
{
    if (fd > STDERR_FILENO)
        return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    close(fd);
    return moved;
}

static int make_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    fds[0] = fd_above_stdio(fds[0]);
    fds[1] = fd_above_stdio(fds[1]);
    if (fds[0] < 0 || fds[1] < 0) {
        int saved = errno;
        if (fds[0] >= 0)
            close(fds[0]);
        if (fds[1] >= 0)
            close(fds[1]);
        errno = saved;
        return -1;
    }
    return 0;
}

static bool env_key_matches(const char *entry, const char *kv)
{
    size_t keylen = (size_t)(strchr(kv, '=') - kv);
    return strncmp(entry, kv, keylen) == 0 && entry[keylen] == '=';
}

char **kiln_env_overlay(const char *const *env_add)
{
    size_t n_env = 0, n_add = 0;
    while (environ[n_env] != NULL)
        n_env++;
    while (env_add != NULL && env_add[n_add] != NULL)
        n_add++;
    char **envp = xcalloc(n_env + n_add + 1, sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++) {
        bool replaced = false;
        for (size_t j = 0; j < n_add && !replaced; j++)
            replaced = env_key_matches(environ[i], env_add[j]);
        if (!replaced)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < n_add; j++)
        envp[k++] = (char *)env_add[j];
    envp[k] = NULL;
    return envp;
}

static int check_opts(const struct kiln_spawn_opts *opts, struct kiln_err *err)
{
    if (opts->argv == NULL || opts->argv[0] == NULL || opts->argv[0][0] == '\0')
        return kiln_err_set(err, KILN_E_USAGE, "cannot run a program without a name");
    for (size_t j = 0; opts->env_add != NULL && opts->env_add[j] != NULL; j++) {
        const char *eq = strchr(opts->env_add[j], '=');
        if (eq == NULL || eq == opts->env_add[j])
            return kiln_err_set(err, KILN_E_USAGE,
                                "cannot run %s: environment entry \"%s\" is not KEY=VALUE",
                                opts->argv[0], opts->env_add[j]);
    }
    if (opts->cwd != NULL) {
        /* A failed chdir in the child comes back as ENOENT, just like a missing
         * program; checking first keeps the two apart. */
        struct stat st;
        if (stat(opts->cwd, &st) < 0)
            return kiln_err_sys(err, errno, "cannot run %s in %s", opts->argv[0], opts->cwd);
        if (!S_ISDIR(st.st_mode))
            return kiln_err_set(err, KILN_E_INVALID, "cannot run %s in %s: not a directory",
                                opts->argv[0], opts->cwd);
    }
    return 0;
}

/* Whether path is a regular file we may execute; sets errno when not. */
static bool executable(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return false;
    if (!S_ISREG(st.st_mode)) {
        errno = EACCES;
        return false;
    }
    return faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0;
}

/* Looks prog up the way execvp would and returns the path to run (the caller
 * frees it), or NULL with errno ENOENT or EACCES. Done here rather than left to
 * posix_spawnp so that a missing program is reported the same way wherever the
 * exec error cannot travel back from the child (valgrind, qemu-user). */
static char *find_program(const char *prog)
{
    if (strchr(prog, '/') != NULL)
        return executable(prog) ? xstrdup(prog) : NULL;
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/bin:/usr/bin"; /* glibc's default, so we find what execvp would */
    bool denied = false;
    for (const char *p = path;; p++) {
        const char *end = strchrnul(p, ':');
        /* An empty entry means the current directory. */
        char *cand =
            end == p ? xasprintf("./%s", prog) : xasprintf("%.*s/%s", (int)(end - p), p, prog);
        if (executable(cand))
            return cand;
        denied |= errno == EACCES;
        free(cand);
        if (*end == '\0')
            break;
        p = end;
    }
    errno = denied ? EACCES : ENOENT;
    return NULL;
}

static int spawn_error(const struct kiln_spawn_opts *opts, int errnum, struct kiln_err *err)
{
    const char *prog = opts->argv[0];
    if (errnum == ENOENT && strchr(prog, '/') == NULL) {
        if (opts->package != NULL)
            return kiln_err_set(err, KILN_E_NOTFOUND,
                                "cannot run %s: not found in PATH; install the Debian package %s",
                                prog, opts->package);
        return kiln_err_set(err, KILN_E_NOTFOUND,
                            "cannot run %s: not found in PATH; install it or fix PATH", prog);
    }
    kiln_err_sys(err, errnum, "cannot run %s", prog);
    if (errnum == ENOENT && err != NULL)
        err->code = KILN_E_NOTFOUND;
    return -1;
}

int kiln_spawn_child(const char *prog, char *const argv[], char *const envp[],
                     const struct kiln_spawn_child *how, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    sigfillset(&all);

    int rc = 0;
    if (how->cwd != NULL)
        rc = rc ? rc : posix_spawn_file_actions_addchdir_np(&fa, how->cwd);
    /* stdout and stderr before stdin: should out_fd be 0 (a caller started with
     * stdin closed), opening /dev/null first would clobber it. */
    rc = rc ? rc : posix_spawn_file_actions_adddup2(&fa, how->out_fd, STDOUT_FILENO);
    rc = rc ? rc : posix_spawn_file_actions_adddup2(&fa, how->err_fd, STDERR_FILENO);
    rc = rc ? rc : posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    /* Our own fds are O_CLOEXEC; this also catches any a library opened without (and
     * keeps kilnd's lock file out of an nginx that outlives it). */
    rc = rc ? rc : posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
    /* Its own process group (or session): one kill(-pid) stops it with everything it
     * started, and a ^C meant for us does not reach it. */
    short group = how->new_session ? POSIX_SPAWN_SETSID : POSIX_SPAWN_SETPGROUP;
    rc = rc ? rc
            : posix_spawnattr_setflags(&attr,
                                       group | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (!how->new_session)
        rc = rc ? rc : posix_spawnattr_setpgroup(&attr, 0);
    rc = rc ? rc : posix_spawnattr_setsigmask(&attr, &none);
    /* We may ignore SIGPIPE or handle SIGINT and SIGTERM; the child should not inherit
     * that. */
    rc = rc ? rc : posix_spawnattr_setsigdefault(&attr, &all);

    if (rc == 0)
        rc = posix_spawn(pid, prog, &fa, &attr, argv, envp != NULL ? envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

static int start_child(const struct kiln_spawn_opts *opts, int out_w, int err_w, pid_t *pid,
                       struct kiln_err *err)
{
    char *prog = find_program(opts->argv[0]);
    if (prog == NULL)
        return spawn_error(opts, errno, err);

    struct kiln_spawn_child how = {.cwd = opts->cwd, .out_fd = out_w, .err_fd = err_w};
    char **envp = kiln_env_overlay(opts->env_add);
    int rc = kiln_spawn_child(prog, (char *const *)opts->argv, envp, &how, pid);
    free(envp);
    free(prog);
    return rc == 0 ? 0 : spawn_error(opts, rc, err);
}

/* Whether the child has exited, leaving it a zombie: until it is reaped its pid
 * stays reserved, so signalling its process group cannot hit a stranger. */
static bool child_exited(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
        if (errno != EINTR)
            return true; /* ECHILD: someone reaped it for us; nothing to wait for */
    return si.si_pid != 0;
}

static int pidfd_for(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    return -1;
#endif
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int kiln_spawn_run(const struct kiln_spawn_opts *opts, int *status, struct kiln_err *err)
{
    if (check_opts(opts, err) < 0)
        return -1;

    struct run r = {.opts = opts,
                    .max_line = opts->max_line ? opts->max_line : KILN_SPAWN_DEFAULT_MAX_LINE};
    int out_pipe[2], err_pipe[2];
    if (make_pipe(out_pipe) < 0)
        return kiln_err_sys(err, errno, "cannot run %s: cannot create a pipe", opts->argv[0]);
    if (make_pipe(err_pipe) < 0) {
        int saved = errno;
        close(out_pipe[0]);
        close(out_pipe[1]);
        return kiln_err_sys(err, saved, "cannot run %s: cannot create a pipe", opts->argv[0]);
    }
    pid_t pid;
    int rc = start_child(opts, out_pipe[1], err_pipe[1], &pid, err);
    /* Only the child writes; our copies would keep the pipes from ever ending. */
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (rc < 0) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        return -1;
    }

    r.out = (struct line_reader){out_pipe[0], KILN_STREAM_STDOUT, xmalloc(r.max_line + 2), 0};
    r.err = (struct line_reader){err_pipe[0], KILN_STREAM_STDERR, xmalloc(r.max_line + 2), 0};
    int pidfd = pidfd_for(pid);
    int64_t grace_us = (opts->grace_ms ? opts->grace_ms : KILN_SPAWN_DEFAULT_GRACE_MS) * 1000;
    int64_t deadline = opts->timeout_ms > 0 ? kiln_mono_us() + opts->timeout_ms * 1000 : 0;
    enum kiln_errcode why = KILN_OK; /* becomes TIMEOUT or CANCELLED once we stop it */
    int64_t term_at = 0, linger_until = 0;
    bool exited = false, killed = false;

    for (;;) {
        int64_t now = kiln_mono_us();
        if (!exited && child_exited(pid)) {
            exited = true;
            linger_until = now + LINGER_MS * 1000;
            if (why != KILN_OK && !killed) {
                /* What it left behind is to go too; no need to wait out the grace. */
                kill(-pid, SIGKILL);
                killed = true;
            }
        }
        if (exited && (r.out.fd < 0 && r.err.fd < 0))
            break;
        if (exited && now >= linger_until)
            break;

        if (why == KILN_OK && !exited) {
            if (deadline != 0 && now >= deadline)
                why = KILN_E_TIMEOUT;
            else if (opts->cancelled != NULL && opts->cancelled(opts->ctx))
                why = KILN_E_CANCELLED;
            if (why != KILN_OK) {
                kill(-pid, SIGTERM);
                term_at = now;
            }
        } else if (why != KILN_OK && !killed && now >= term_at + grace_us) {
            kill(-pid, SIGKILL);
            killed = true;
        }

        int64_t wait_us = CANCEL_POLL_MS * 1000;
        if (why == KILN_OK && deadline != 0)
            wait_us = min64(wait_us, deadline - now);
        if (why != KILN_OK && !killed)
            wait_us = min64(wait_us, term_at + grace_us - now);
        if (exited)
            wait_us = min64(wait_us, linger_until - now);

        struct pollfd pfd[3];
        struct line_reader *who[2];
        nfds_t n = 0;
        if (r.out.fd >= 0) {
            who[n] = &r.out;
            pfd[n++] = (struct pollfd){.fd = r.out.fd, .events = POLLIN};
        }
        if (r.err.fd >= 0) {
            who[n] = &r.err;
            pfd[n++] = (struct pollfd){.fd = r.err.fd, .events = POLLIN};
        }
        nfds_t npipes = n;
        if (!exited && pidfd >= 0)
            pfd[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
        else if (!exited && npipes == 0)
            /* Without a pidfd nothing wakes us at exit; look again soon. */
            wait_us = min64(wait_us, 5 * 1000);

        int timeout_ms = wait_us > 0 ? (int)((wait_us + 999) / 1000) : 0;
        if (poll(pfd, n, timeout_ms) < 0 && errno != EINTR)
            break; /* cannot happen with valid fds; reap below rather than spin */
        for (nfds_t i = 0; i < npipes; i++)
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
                reader_read(&r, who[i]);
    }

    /* Stopping means the whole group: anything that ignored SIGTERM goes now. The
     * leader is still unreaped, so the group id is still ours. */
    if (why != KILN_OK)
        kill(-pid, SIGKILL);
    reader_close(&r, &r.out);
    reader_close(&r, &r.err);
    free(r.out.buf);
    free(r.err.buf);
    if (pidfd >= 0)
        close(pidfd);

    int ws = 0;
    pid_t got;
    while ((got = waitpid(pid, &ws, 0)) < 0 && errno == EINTR)
        ;
    if (got < 0)
        return kiln_err_set(err, KILN_E_FAILED,
                            "cannot tell how %s ended: its exit status was collected elsewhere "
                            "(kiln must not ignore SIGCHLD)",
                            opts->argv[0]);
    int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : 255;
    if (status != NULL)
        *status = code;

    if (why == KILN_E_TIMEOUT) {
        char d[KILN_DURATION_MAX];
        return kiln_err_set(err, KILN_E_TIMEOUT, "%s did not finish within %s and was stopped",
                            opts->argv[0], kiln_format_duration(opts->timeout_ms, d));
    }
    if (why == KILN_E_CANCELLED)
        return kiln_err_set(err, KILN_E_CANCELLED, "%s was cancelled and stopped", opts->argv[0]);
    return 0;
}

char *kiln_spawn_describe(const char *const *argv)
{
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    for (size_t i = 0; argv != NULL && argv[i] != NULL; i++) {
        if (i > 0)
            kiln_strbuf_appendc(&sb, ' ');
        kiln_sh_word(&sb, argv[i]);
    }
    return kiln_strbuf_detach(&sb, NULL);
}
