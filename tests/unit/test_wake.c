/* Unit tests for src/core/wake.c: coalescing, pollability, waking poll() from
 * another thread and from a signal handler, and no lost wakes under a race. */
#include "kiln/wake.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

/* Long enough never to expire on a loaded machine; it only turns a lost wake into a
 * failure instead of a hang. */
#define POLL_MS 10000

static int readable(struct kiln_wake *w, int timeout_ms)
{
    struct pollfd pfd = {.fd = kiln_wake_fd(w), .events = POLLIN};
    int n;
    do
        n = poll(&pfd, 1, timeout_ms);
    while (n == -1 && errno == EINTR);
    return n == 1 && (pfd.revents & POLLIN);
}

static int pending_bytes(struct kiln_wake *w)
{
    int n = -1;
    ioctl(kiln_wake_fd(w), FIONREAD, &n);
    return n;
}

static void test_init_flags(void)
{
    struct kiln_wake w;
    ok(kiln_wake_init(&w, NULL) == 0, "init makes a pipe");
    ok(kiln_wake_fd(&w) >= 0, "the fd to poll is valid");
    int rfl = fcntl(w.read_fd, F_GETFL), wfl = fcntl(w.write_fd, F_GETFL);
    ok((rfl & O_NONBLOCK) && (wfl & O_NONBLOCK), "both ends are non-blocking");
    ok((fcntl(w.read_fd, F_GETFD) & FD_CLOEXEC) && (fcntl(w.write_fd, F_GETFD) & FD_CLOEXEC),
       "both ends are close-on-exec");
    kiln_wake_close(&w);
    ok(w.read_fd == -1 && w.write_fd == -1, "close forgets the fds");
    kiln_wake_close(&w); /* twice is harmless */
}

static void test_coalescing(void)
{
    struct kiln_wake w;
    kiln_wake_init(&w, NULL);
    ok(!readable(&w, 0), "a fresh wake is not readable");
    ok(!kiln_wake_drain(&w), "draining a fresh wake finds nothing");
    for (int i = 0; i < 100; i++)
        kiln_wake_signal(&w);
    is_int(pending_bytes(&w), 1, "100 signals leave one byte in the pipe");
    ok(readable(&w, 0), "the fd is readable");
    ok(kiln_wake_drain(&w), "the first drain reports the wake");
    ok(!kiln_wake_drain(&w), "the second drain reports nothing");
    ok(!readable(&w, 0), "the fd is quiet after draining");
    kiln_wake_signal(&w);
    ok(readable(&w, 0) && kiln_wake_drain(&w), "a signal after a drain wakes again");
    kiln_wake_close(&w);
}

static void test_full_pipe(void)
{
    struct kiln_wake w;
    kiln_wake_init(&w, NULL);
    /* Fill the pipe behind kiln_wake's back, so its own write finds it full. */
    char buf[4096] = {0};
    while (write(w.write_fd, buf, sizeof buf) > 0)
        ;
    int saved = errno = EDOM;
    kiln_wake_signal(&w); /* a blocking write would hang the test here */
    is_int(errno, saved, "signalling a full pipe returns without touching errno");
    ok(kiln_wake_drain(&w), "the drain reports the wake");
    is_int(pending_bytes(&w), 0, "and empties the pipe");
    kiln_wake_signal(&w);
    is_int(pending_bytes(&w), 1, "after which a signal writes again");
    kiln_wake_close(&w);
}

struct delayed {
    struct kiln_wake *w;
    atomic_int signalled;
};

static void *signal_later(void *p)
{
    struct delayed *d = p;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    atomic_store(&d->signalled, 1);
    kiln_wake_signal(d->w);
    return NULL;
}

static void test_other_thread(void)
{
    struct kiln_wake w;
    kiln_wake_init(&w, NULL);
    struct delayed d = {.w = &w};
    atomic_init(&d.signalled, 0);
    pthread_t t;
    pthread_create(&t, NULL, signal_later, &d);
    int woke = readable(&w, POLL_MS);
    ok(woke, "a signal from another thread wakes poll()");
    ok(atomic_load(&d.signalled), "... and only after it was sent");
    ok(kiln_wake_drain(&w), "... and the drain reports it");
    pthread_join(t, NULL);
    kiln_wake_close(&w);
}

static struct kiln_wake *handler_wake;

static void on_sigusr1(int sig)
{
    kiln_wake_signal(handler_wake);
}

static void test_signal_handler(void)
{
    struct kiln_wake w;
    kiln_wake_init(&w, NULL);
    handler_wake = &w;
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    raise(SIGUSR1);
    raise(SIGUSR1);
    ok(readable(&w, 0), "a signal handler can wake the poller");
    is_int(pending_bytes(&w), 1, "... and its wakes coalesce too");
    ok(kiln_wake_drain(&w), "... and the drain reports it");
    sigaction(SIGUSR1, &old, NULL);
    kiln_wake_close(&w);
}

/* Producers signal without pause while the consumer polls and drains, thousands of
 * times, as the UI does. A drain that let a signal slip between emptying the pipe and
 * clearing the flag would leave the flag set with nothing in the pipe; no later
 * signal would write, and the consumer would sit in poll() until it timed out. */
#define PRODUCERS 4
#define DRAINS    20000

struct race {
    struct kiln_wake w;
    atomic_int stop;
    atomic_long signals;
};

static void *producer(void *p)
{
    struct race *r = p;
    for (unsigned i = 1; !atomic_load(&r->stop); i++) {
        kiln_wake_signal(&r->w);
        atomic_fetch_add(&r->signals, 1);
        /* Lets the consumer run where threads take turns (valgrind, one CPU). */
        if (i % 16 == 0)
            sched_yield();
    }
    return NULL;
}

static void test_no_lost_wakes(void)
{
    struct race r;
    kiln_wake_init(&r.w, NULL);
    atomic_init(&r.stop, 0);
    atomic_init(&r.signals, 0);
    pthread_t t[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        pthread_create(&t[i], NULL, producer, &r);
    int drains = 0, empty = 0, timed_out = 0;
    while (drains < DRAINS) {
        if (!readable(&r.w, POLL_MS)) {
            timed_out = 1;
            break;
        }
        if (!kiln_wake_drain(&r.w))
            empty++;
        drains++;
    }
    atomic_store(&r.stop, 1);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(t[i], NULL);
    ok(!timed_out, "%d polls and drains racing %d signalling threads lost no wake", drains,
       PRODUCERS);
    diag("%ld signals coalesced into %d wakes (%d spurious)", atomic_load(&r.signals), drains,
         empty);
    kiln_wake_drain(&r.w);
    ok(pending_bytes(&r.w) == 0, "nothing is left in the pipe after a final drain");
    kiln_wake_close(&r.w);
}

int main(void)
{
    test_init_flags();
    test_coalescing();
    test_full_pipe();
    test_other_thread();
    test_signal_handler();
    test_no_lost_wakes();
    return done_testing();
}
