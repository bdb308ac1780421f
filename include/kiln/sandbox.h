/* kiln: a build's sandbox: a mount namespace in which everything is read-only but the
 * directories the build works in, so a spec's %install cannot write to the host or to
 * kiln's state (src/util/sandbox.c). */
#ifndef KILN_SANDBOX_H
#define KILN_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

/* In the calling process (a child about to exec): a private mount namespace, every
 * mount read-only, writable[] (absolute directories) writable again. Returns 0, or -1
 * with a sentence in why (nothing is changed outside this process either way). */
int kiln_sandbox_enter(const char *const *writable, size_t n_writable, char *why, size_t n);

/* `kiln __sandbox --rw DIR... -- PROGRAM ARGS...`: enters the sandbox and execs
 * PROGRAM (said on stderr, and run unconfined, when the sandbox cannot be made).
 * Returns an exit status only when PROGRAM cannot be run. */
int kiln_sandbox_main(int argc, char **argv);

/* The argv prefix that runs a program in the sandbox with work_dir writable: the
 * kiln binary's own path, "__sandbox", "--rw", work_dir, "--". Fills out[0..4] with
 * pointers to exe (a buffer of exe_size bytes) and work_dir; false when kiln cannot
 * find its own binary (a program that is not kiln names it in KILN_SANDBOX_EXE). */
bool kiln_sandbox_argv(const char *work_dir, char *exe, size_t exe_size, const char *out[5]);

#endif
