/* kiln: run a program and stream its output, line by line.
 *
 * Programs are started from an argv array with posix_spawn, never through a
 * shell, so arguments arrive exactly as given: no quoting, no globbing, no
 * $(...). The child gets stdin from /dev/null, only fds 0-2, default signal
 * dispositions and an empty signal mask, and its own process group, so a
 * timeout or a cancel stops it together with everything it started.
 *
 * When the program exits by itself, anything it left running in the background
 * is left alone (a daemon it started keeps running); what such a process still
 * writes to the program's stdout or stderr is read for at most a second more.
 *
 * kiln_spawn_run keeps no global state and may be called from several threads
 * at once. It waits for its own child by pid, so the program must not reap
 * children wholesale (waitpid(-1, ...), SIGCHLD set to SIG_IGN).
 */
#ifndef KILN_SPAWN_H
#define KILN_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kiln/err.h"

enum kiln_stream {
    KILN_STREAM_STDOUT = 1,
    KILN_STREAM_STDERR = 2,
};

/* Defaults used when the matching option is 0. */
#define KILN_SPAWN_DEFAULT_GRACE_MS 2000
#define KILN_SPAWN_DEFAULT_MAX_LINE 4096

struct kiln_spawn_opts {
    /* The program and its arguments, NULL-terminated; argv[0] is looked up in
     * kiln's own PATH (not one set in env_add) unless it contains a '/'. */
    const char *const *argv;
    /* "KEY=VALUE" strings, NULL-terminated, added to (or replacing in) the
     * inherited environment; NULL for none. */
    const char *const *env_add;
    /* Directory to run in; NULL for the caller's. */
    const char *cwd;
    /* Stop the program after this long; 0 for no limit. */
    int64_t timeout_ms;
    /* After SIGTERM, how long to wait before SIGKILL; 0 for the default. */
    int64_t grace_ms;
    /* Longer lines are delivered in pieces of this many bytes; 0 for the default. */
    size_t max_line;
    /* Called on the calling thread with each line of output, without its '\n',
     * as soon as the line is complete; a last line without '\n' comes at EOF.
     * Lines of one stream arrive in order; between the two streams, order is as
     * near as the pipes allow. line is only valid during the call. NULL
     * discards the output. */
    void (*on_line)(void *ctx, enum kiln_stream stream, const char *line);
    /* Polled at least every 100 ms; returning true stops the program. NULL for
     * never. */
    bool (*cancelled)(void *ctx);
    void *ctx;
    /* The Debian package that provides argv[0], e.g. "rpm" for rpmbuild: named in
     * the error when the program is missing. NULL if there is none to suggest. */
    const char *package;
};

/* Runs the program to completion and puts its exit status in *status: its exit
 * code, or 128 + the signal that killed it.
 *
 * Returns 0 when it ran to completion, whatever its status. Returns -1 with err
 * set when it could not be started (KILN_E_NOTFOUND: "cannot run rpmbuild: not
 * found in PATH; install the Debian package rpm"), or when it was stopped
 * because it ran out of time (KILN_E_TIMEOUT) or was cancelled
 * (KILN_E_CANCELLED); in those two cases *status is still set, to how the
 * stopped program ended. status may be NULL. */
int kiln_spawn_run(const struct kiln_spawn_opts *opts, int *status, struct kiln_err *err);

/* For messages: "rpmbuild -bb hello.spec", arguments with spaces or quotes
 * quoted for a POSIX shell so the line can be pasted to reproduce. The caller
 * frees the result with free(). */
char *kiln_spawn_describe(const char *const *argv);

/* ---- the parts, for children that are not run to completion ----
 * kilnd's instances and its nginx live on after the call: kilnd watches them itself
 * (pidfds, waitpid), so it starts them with the same child setup as kiln_spawn_run but
 * without the pipes and the waiting. */

struct kiln_spawn_child {
    const char *cwd;    /* the directory to run in; NULL for the caller's */
    int out_fd, err_fd; /* become the child's stdout and stderr (may be the same fd) */
    /* A new session (setsid: no terminal's signals reach it) rather than only a new
     * process group. Either way the child leads its group, so kill(-pid) stops it
     * with everything it started. */
    bool new_session;
};

/* Starts prog (a path: not looked up in PATH) with argv (NULL-terminated) and envp
 * (NULL for our own environment), stdin from /dev/null, only fds 0-2, default signal
 * dispositions and an empty signal mask. Returns 0 with *pid, or the error number
 * (ENOENT, EACCES, ENOEXEC, ...) for the caller to word: it knows what prog is. */
int kiln_spawn_child(const char *prog, char *const argv[], char *const envp[],
                     const struct kiln_spawn_child *how, pid_t *pid);

/* Our environment with env_add ("KEY=VALUE" strings, NULL-terminated; may be NULL)
 * laid over it: an entry of env_add replaces the inherited one of that KEY. The caller
 * frees the array with free(), not the strings, which belong to environ and env_add.
 * Reads environ, so no other thread may call setenv meanwhile: kiln and kilnd set
 * their environment before they start threads. */
char **kiln_env_overlay(const char *const *env_add);

#endif
