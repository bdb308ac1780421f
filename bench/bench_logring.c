/* bench_logring: how many log lines a ring takes in while a reader keeps up, and
 * whether writers ever wait.
 *
 * 4 writer threads append ~80-byte lines as fast as they can into one ring of 10,000
 * lines while 1 reader thread reads continuously, for 2 s per mode: once with
 * kiln_logring_appendf (what job code calls) and once with kiln_logring_append of a
 * preformatted line (what streaming a child's output costs); then a third time with
 * appendf and a reader that catches up 30 times a second, as the console does. Every
 * append is timed.
 * A writer that sleeps on the ring's lock makes a voluntary context switch, so the
 * writers' voluntary switches (getrusage RUSAGE_THREAD) count how often they blocked;
 * involuntary ones are the scheduler taking the CPU away, which no lock can prevent.
 *
 * Usage: bench_logring [seconds per mode [writers]]   (defaults: 2 s, 4 writers; fewer
 * writers, e.g. 1, show how much of the latency is the scheduler rather than the lock)
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "kiln/logring.h"

#define WRITERS_MAX 64
#define CAPACITY    10000
#define READ_BATCH  256

struct writer {
    pthread_t thread;
    struct kiln_logring *ring;
    atomic_int *stop;
    bool formatted;
    int id;
    /* results */
    uint64_t appended;
    uint64_t over_100us;
    uint64_t over_1ms;
    uint64_t max_ns;
    long voluntary_switches;
    long involuntary_switches;
};

struct reader {
    pthread_t thread;
    struct kiln_logring *ring;
    atomic_int *stop;
    long pause_us; /* 0: read continuously; else sleep this long once caught up */
    uint64_t read;
    uint64_t missed;
    uint64_t reads;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *write_lines(void *p)
{
    struct writer *w = p;
    char line[128];
    /* 80 bytes, like a deploy step's progress line. */
    snprintf(line, sizeof line,
             "hello-world-test-v042: instance i-%08x passed health check (3/4) in 412 ms",
             0x5eed0000u + (unsigned)w->id);
    struct rusage before, after;
    getrusage(RUSAGE_THREAD, &before);
    uint64_t n = 0;
    while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
        uint64_t t0 = mono_ns();
        if (w->formatted)
            kiln_logring_appendf(w->ring, KILN_LOG_INFO, "deploy",
                                 "hello-world-test-v%03d: instance i-%08x passed health "
                                 "check (%d/%d) in %d ms",
                                 42, 0x5eed0000u + (unsigned)w->id, (int)(n % 4) + 1, 4,
                                 400 + (int)(n % 100));
        else
            kiln_logring_append(w->ring, KILN_LOG_INFO, "deploy", line);
        uint64_t dt = mono_ns() - t0;
        if (dt > w->max_ns)
            w->max_ns = dt;
        if (dt > 100000)
            w->over_100us++;
        if (dt > 1000000)
            w->over_1ms++;
        n++;
    }
    getrusage(RUSAGE_THREAD, &after);
    w->appended = n;
    w->voluntary_switches = after.ru_nvcsw - before.ru_nvcsw;
    w->involuntary_switches = after.ru_nivcsw - before.ru_nivcsw;
    return NULL;
}

static void *read_lines(void *p)
{
    struct reader *r = p;
    struct kiln_log_line *lines = calloc(READ_BATCH, sizeof *lines);
    uint64_t cursor = 1;
    for (;;) {
        int stopping = atomic_load(r->stop);
        uint64_t missed;
        size_t n = kiln_logring_read(r->ring, cursor, lines, READ_BATCH, &missed, &cursor);
        r->read += n;
        r->missed += missed;
        r->reads++;
        if (stopping && n == 0)
            break;
        if (r->pause_us > 0 && n < READ_BATCH) {
            struct timespec ts = {0, r->pause_us * 1000};
            nanosleep(&ts, NULL);
        }
    }
    free(lines);
    return NULL;
}

static int run(bool formatted, long reader_pause_us, double seconds, int writers)
{
    struct kiln_err err;
    struct kiln_logring *ring = kiln_logring_new(CAPACITY, &err);
    if (ring == NULL) {
        fprintf(stderr, "bench_logring: %s\n", err.msg);
        return 1;
    }
    atomic_int stop_writers, stop_reader;
    atomic_init(&stop_writers, 0);
    atomic_init(&stop_reader, 0);
    struct writer w[WRITERS_MAX];
    struct reader r = {.ring = ring, .stop = &stop_reader, .pause_us = reader_pause_us};
    memset(w, 0, sizeof w);

    pthread_create(&r.thread, NULL, read_lines, &r);
    uint64_t t0 = mono_ns();
    for (int i = 0; i < writers; i++) {
        w[i].ring = ring;
        w[i].stop = &stop_writers;
        w[i].formatted = formatted;
        w[i].id = i;
        pthread_create(&w[i].thread, NULL, write_lines, &w[i]);
    }
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&stop_writers, 1);
    for (int i = 0; i < writers; i++)
        pthread_join(w[i].thread, NULL);
    double elapsed = (double)(mono_ns() - t0) / 1e9;
    atomic_store(&stop_reader, 1);
    pthread_join(r.thread, NULL);

    struct kiln_logring_stats st;
    kiln_logring_get_stats(ring, &st);
    uint64_t appended = 0, over_100us = 0, over_1ms = 0, max_ns = 0;
    long vol = 0, invol = 0;
    for (int i = 0; i < writers; i++) {
        appended += w[i].appended;
        over_100us += w[i].over_100us;
        over_1ms += w[i].over_1ms;
        if (w[i].max_ns > max_ns)
            max_ns = w[i].max_ns;
        vol += w[i].voluntary_switches;
        invol += w[i].involuntary_switches;
    }

    printf("mode: %s, %d writers, 1 reader %s, capacity %d, %.2f s\n",
           formatted ? "appendf (formatting each line)" : "append (preformatted 80-byte line)",
           writers, reader_pause_us ? "catching up 30 times/s like the console" : "continuous",
           CAPACITY, elapsed);
    printf("  ingested:          %" PRIu64 " lines, %.0f lines/s%s\n", appended,
           (double)appended / elapsed,
           (double)appended / elapsed >= 1e6 ? "" : "  (below the 1,000,000 lines/s target)");
    printf("  reader:            %" PRIu64 " lines read, %" PRIu64 " missed, in %" PRIu64
           " reads; read + missed %s appended\n",
           r.read, r.missed, r.reads, r.read + r.missed == st.appended ? "==" : "!=");
    printf("  ring:              %" PRIu64 " appended, %" PRIu64 " dropped\n", st.appended,
           st.dropped);
    printf("  append latency:    max %.1f us; %" PRIu64 " over 100 us, %" PRIu64
           " over 1 ms (of %" PRIu64 ")\n",
           (double)max_ns / 1e3, over_100us, over_1ms, appended);
    printf("  writers blocked:   %ld voluntary context switches (sleeps on the lock), "
           "%ld involuntary (preempted)\n",
           vol, invol);
    kiln_logring_free(ring);
    return r.read + r.missed == st.appended ? 0 : 1;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    int writers = argc > 2 ? atoi(argv[2]) : 4;
    if (seconds <= 0 || writers < 1 || writers > WRITERS_MAX) {
        fprintf(stderr, "usage: bench_logring [seconds per mode [writers, 1 to %d]]\n",
                WRITERS_MAX);
        return 2;
    }
    printf("bench_logring: %ld CPUs online\n", sysconf(_SC_NPROCESSORS_ONLN));
    int rc = run(true, 0, seconds, writers);
    rc |= run(false, 0, seconds, writers);
    rc |= run(true, 33333, seconds, writers);
    return rc;
}
