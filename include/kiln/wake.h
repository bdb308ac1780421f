/* kiln: waking the UI thread out of poll().
 *
 * The UI thread polls the tty and kiln_wake_fd(); any thread (or a signal handler)
 * calls kiln_wake_signal() after changing something the UI shows. Wakes coalesce: a
 * thousand signals before the UI drains still cost one byte and one redraw.
 *
 * The UI must drain before it looks at what changed, so a change made after the
 * drain is always followed by a fresh wake:
 *
 *     poll(fds, ...);
 *     if (fds[WAKE].revents & POLLIN && kiln_wake_drain(&wake))
 *         redraw_dirty();
 */
#ifndef KILN_WAKE_H
#define KILN_WAKE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "kiln/err.h"

/* Embedded by its owner; the fields are kiln_wake's own. */
struct kiln_wake {
    int read_fd;
    int write_fd;
    atomic_int pending; /* 1 while a byte is (or is about to be) in the pipe */
};

/* Makes the pipe (non-blocking, close-on-exec). On failure both fds are -1, so
 * kiln_wake_close is still safe. */
int kiln_wake_init(struct kiln_wake *wake, struct kiln_err *err);

/* The fd to poll for POLLIN. */
int kiln_wake_fd(const struct kiln_wake *wake);

/* Wakes the poller unless a wake is already pending. Never blocks, never fails,
 * keeps errno, and is async-signal-safe: a signal handler may call it. */
void kiln_wake_signal(struct kiln_wake *wake);

/* Empties the pipe and clears the pending wake; true if there was one. Call it from
 * the polling thread only. */
bool kiln_wake_drain(struct kiln_wake *wake);

/* Closes both ends; safe to call twice. Nobody may signal afterwards. */
void kiln_wake_close(struct kiln_wake *wake);

#endif
