/* kiln: waking the UI thread out of poll() (see include/kiln/wake.h). */
#include "kiln/wake.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* A lock-free atomic is what makes kiln_wake_signal usable from a signal handler. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "kiln_wake needs lock-free atomic int");

int kiln_wake_init(struct kiln_wake *wake, struct kiln_err *err)
{
    int fds[2];
    wake->read_fd = -1;
    wake->write_fd = -1;
    atomic_init(&wake->pending, 0);
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1)
        return kiln_err_sys(err, errno,
                            "cannot create the pipe that wakes the console; close some files "
                            "or raise the open-file limit (ulimit -n)");
    wake->read_fd = fds[0];
    wake->write_fd = fds[1];
    return 0;
}

int kiln_wake_fd(const struct kiln_wake *wake)
{
    return wake->read_fd;
}

void kiln_wake_signal(struct kiln_wake *wake)
{
    /* Only the caller that turns pending from 0 to 1 writes; the others know a byte
     * is on its way and that the poller has not drained yet. */
    if (atomic_exchange(&wake->pending, 1) != 0)
        return;
    int saved = errno;
    ssize_t n;
    do
        n = write(wake->write_fd, "w", 1);
    while (n == -1 && errno == EINTR);
    /* EAGAIN means the pipe is full, so the poller will wake anyway. */
    errno = saved;
}

bool kiln_wake_drain(struct kiln_wake *wake)
{
    char buf[64];
    bool woken = false;
    ssize_t n;
    /* Empty the pipe before clearing pending: clearing first would let a signaller
     * set pending and write a byte that this loop then swallows, leaving pending set
     * with nothing in the pipe, and every later wake would be lost. */
    while ((n = read(wake->read_fd, buf, sizeof buf)) > 0 || (n == -1 && errno == EINTR))
        if (n > 0)
            woken = true;
    if (atomic_exchange(&wake->pending, 0) != 0)
        woken = true;
    return woken;
}

void kiln_wake_close(struct kiln_wake *wake)
{
    if (wake->read_fd >= 0)
        close(wake->read_fd);
    if (wake->write_fd >= 0)
        close(wake->write_fd);
    wake->read_fd = -1;
    wake->write_fd = -1;
}
