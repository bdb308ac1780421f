/* Unit tests for src/core/logring.c: order, seq numbers, truncation, exact drop
 * counts, and a reader racing writers that overflow the ring. */
#include "kiln/logring.h"

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/timeutil.h"
#include "tap.h"

static struct kiln_log_line *lines_new(size_t n)
{
    return calloc(n, sizeof(struct kiln_log_line));
}

static void test_levels(void)
{
    struct kiln_err err;
    enum kiln_log_level level;
    const enum kiln_log_level all[] = {KILN_LOG_DEBUG, KILN_LOG_INFO, KILN_LOG_WARN,
                                       KILN_LOG_ERROR};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *name = kiln_log_level_name(all[i]);
        ok(kiln_log_level_parse(name, &level, &err) == 0 && level == all[i],
           "level %s parses back to itself", name);
    }
    is_str(kiln_log_level_name(KILN_LOG_WARN), "warn", "warn's name");
    ok(kiln_log_level_parse("ERROR", &level, &err) == 0 && level == KILN_LOG_ERROR,
       "level names ignore case");
    ok(kiln_log_level_parse("warning", &level, &err) == 0 && level == KILN_LOG_WARN,
       "\"warning\" means warn");
    is_str(kiln_log_level_name((enum kiln_log_level)42), "unknown", "out-of-range level");
    kiln_err_clear(&err);
    is_int(kiln_log_level_parse("loud", &level, &err), -1, "an unknown level is refused");
    is_int(err.code, KILN_E_INVALID, "... as invalid input");
    ok(strstr(err.msg, "loud") != NULL && strstr(err.msg, "debug") != NULL,
       "... naming the bad level and the good ones: %s", err.msg);
}

static void test_new_refuses_zero(void)
{
    struct kiln_err err;
    kiln_err_clear(&err);
    ok(kiln_logring_new(0, &err) == NULL, "a ring of 0 lines is refused");
    is_int(err.code, KILN_E_INVALID, "... as invalid");
}

static void test_empty(void)
{
    struct kiln_logring *ring = kiln_logring_new(4, NULL);
    struct kiln_log_line *out = lines_new(4);
    struct kiln_logring_stats st;
    kiln_logring_get_stats(ring, &st);
    ok(st.capacity == 4 && st.count == 0 && st.appended == 0 && st.dropped == 0,
       "a new ring is empty");
    is_int(st.first_seq, 1, "empty ring: first_seq is the next seq");
    is_int(st.last_seq, 0, "empty ring: last_seq is 0");
    uint64_t missed = 99, next = 99;
    is_int(kiln_logring_read(ring, 0, out, 4, &missed, &next), 0, "reading an empty ring");
    ok(missed == 0 && next == 1, "... misses nothing and asks for seq 1 next");
    free(out);
    kiln_logring_free(ring);
}

static void test_order_and_fields(void)
{
    struct kiln_logring *ring = kiln_logring_new(8, NULL);
    struct kiln_log_line *out = lines_new(8);
    int64_t before = kiln_now_us();
    is_int(kiln_logring_append(ring, KILN_LOG_INFO, "deploy", "creating hello-world-test-v001"), 1,
           "the first line is seq 1");
    is_int(kiln_logring_appendf(ring, KILN_LOG_WARN, "kilnd", "instance %d unhealthy", 3), 2,
           "the second seq 2");
    is_int(kiln_logring_append(ring, KILN_LOG_ERROR, NULL, "no source\n"), 3, "the third seq 3");
    is_int(kiln_logring_append(ring, KILN_LOG_DEBUG, "x", "crlf\r\n"), 4, "the fourth seq 4");
    int64_t after = kiln_now_us();

    uint64_t missed = 99, next = 0;
    size_t n = kiln_logring_read(ring, 1, out, 8, &missed, &next);
    is_int(n, 4, "all four lines come back");
    ok(missed == 0 && next == 5, "nothing missed; next is 5");
    for (size_t i = 0; i < n; i++)
        is_int(out[i].seq, i + 1, "line %zu has seq %zu", i, i + 1);
    is_str(out[0].text, "creating hello-world-test-v001", "line 1's text");
    is_str(out[0].source, "deploy", "line 1's source");
    is_int(out[0].level, KILN_LOG_INFO, "line 1's level");
    is_int(out[0].len, strlen("creating hello-world-test-v001"), "line 1's len");
    ok(!out[0].truncated, "line 1 is whole");
    is_str(out[1].text, "instance 3 unhealthy", "appendf formats");
    is_int(out[1].level, KILN_LOG_WARN, "line 2's level");
    is_str(out[2].source, "", "a NULL source is empty");
    is_str(out[2].text, "no source", "a trailing newline is dropped");
    is_str(out[3].text, "crlf", "a trailing CRLF is dropped");
    ok(out[0].time_us >= before && out[3].time_us <= after, "times are the wall clock at append");
    ok(out[0].time_us <= out[1].time_us && out[1].time_us <= out[2].time_us,
       "times follow the order of appends");

    n = kiln_logring_read(ring, 3, out, 8, &missed, &next);
    ok(n == 2 && out[0].seq == 3 && out[1].seq == 4 && next == 5,
       "reading from seq 3 gives 3 and 4");
    n = kiln_logring_read(ring, 5, out, 8, &missed, &next);
    ok(n == 0 && missed == 0 && next == 5, "reading from the next seq gives nothing yet");
    n = kiln_logring_read(ring, 50, out, 8, &missed, &next);
    ok(n == 0 && missed == 0 && next == 50, "reading from the future gives nothing");
    free(out);
    kiln_logring_free(ring);
}

static void test_overflow_counts(void)
{
    struct kiln_logring *ring = kiln_logring_new(4, NULL);
    struct kiln_log_line *out = lines_new(8);
    for (int i = 1; i <= 10; i++)
        kiln_logring_appendf(ring, KILN_LOG_INFO, "t", "line %d", i);
    struct kiln_logring_stats st;
    kiln_logring_get_stats(ring, &st);
    is_int(st.appended, 10, "10 appended");
    is_int(st.count, 4, "4 held");
    is_int(st.dropped, 6, "6 dropped");
    is_int(st.first_seq, 7, "oldest held is seq 7");
    is_int(st.last_seq, 10, "newest is seq 10");

    uint64_t missed, next;
    size_t n = kiln_logring_read(ring, 1, out, 8, &missed, &next);
    is_int(n, 4, "a reader from seq 1 gets the 4 held lines");
    is_int(missed, 6, "... and is told it missed 6");
    is_str(out[0].text, "line 7", "... the oldest held first");
    is_str(out[3].text, "line 10", "... the newest last");
    is_int(next, 11, "... next is 11");

    n = kiln_logring_read(ring, 8, out, 8, &missed, &next);
    ok(n == 3 && missed == 0 && out[0].seq == 8, "a reader from seq 8 missed nothing");

    n = kiln_logring_read(ring, 2, out, 2, &missed, &next);
    ok(n == 2 && missed == 5 && out[0].seq == 7 && out[1].seq == 8 && next == 9,
       "max limits the copy; missed counts from from_seq");
    n = kiln_logring_read(ring, next, out, 2, &missed, &next);
    ok(n == 2 && missed == 0 && out[0].seq == 9 && next == 11,
       "following next_seq misses nothing more");

    n = kiln_logring_read(ring, 1, out, 0, &missed, &next);
    ok(n == 0 && missed == 6 && next == 7, "max 0 still reports what was missed");

    /* One more append evicts exactly one more. */
    kiln_logring_append(ring, KILN_LOG_INFO, "t", "line 11");
    kiln_logring_get_stats(ring, &st);
    ok(st.dropped == 7 && st.first_seq == 8 && st.count == 4, "each overwrite drops one");
    free(out);
    kiln_logring_free(ring);
}

static void test_truncation(void)
{
    struct kiln_logring *ring = kiln_logring_new(4, NULL);
    struct kiln_log_line *out = lines_new(4);
    size_t mark = strlen(KILN_LOG_TRUNCATED_MARK);

    char *huge = malloc(10000);
    memset(huge, 'a', 9999);
    huge[9999] = '\0';
    kiln_logring_append(ring, KILN_LOG_INFO, "t", huge);
    kiln_logring_read(ring, 1, out, 1, NULL, NULL);
    ok(out[0].truncated, "a 9999-byte line is marked truncated");
    is_int(out[0].len, KILN_LOG_TEXT_MAX - 1, "... and cut to the maximum");
    is_int(strlen(out[0].text), out[0].len, "... len matches the text");
    ok(strcmp(out[0].text + out[0].len - mark, KILN_LOG_TRUNCATED_MARK) == 0,
       "... ending with the truncation mark");
    ok(strspn(out[0].text, "a") == out[0].len - mark, "... after the start of the text");

    /* Exactly the maximum fits, even with a newline after it. */
    huge[KILN_LOG_TEXT_MAX - 1] = '\n';
    huge[KILN_LOG_TEXT_MAX] = '\0';
    kiln_logring_append(ring, KILN_LOG_INFO, "t", huge);
    kiln_logring_read(ring, 2, out, 1, NULL, NULL);
    ok(!out[0].truncated && out[0].len == KILN_LOG_TEXT_MAX - 1,
       "a line of exactly the maximum is kept whole");

    /* A formatted line over the maximum is cut the same way. */
    kiln_logring_appendf(ring, KILN_LOG_INFO, "t", "%s%s", huge, huge);
    kiln_logring_read(ring, 3, out, 1, NULL, NULL);
    ok(out[0].truncated && out[0].len == KILN_LOG_TEXT_MAX - 1 &&
           strcmp(out[0].text + out[0].len - mark, KILN_LOG_TRUNCATED_MARK) == 0,
       "appendf cuts and marks long lines too");

    /* A cut never splits a UTF-8 character: fill with 2-byte "é" so the cut falls
     * in the middle of one. */
    size_t keep = KILN_LOG_TEXT_MAX - 1 - mark;
    size_t i = 0;
    if (keep % 2 == 0)
        huge[i++] = 'x'; /* shift so that byte `keep` is a continuation byte */
    for (; i + 1 < 9999; i += 2) {
        huge[i] = (char)0xC3;
        huge[i + 1] = (char)0xA9;
    }
    huge[i] = '\0';
    kiln_logring_append(ring, KILN_LOG_INFO, "t", huge);
    kiln_logring_read(ring, 4, out, 1, NULL, NULL);
    size_t body = out[0].len - mark;
    ok(out[0].truncated && body == keep - 1, "the cut backs off to a character boundary");
    ok((unsigned char)out[0].text[body - 1] == 0xA9 && (unsigned char)out[0].text[body - 2] == 0xC3,
       "... so the text ends with a whole character");
    free(huge);

    char src[64];
    memset(src, 's', sizeof src - 1);
    src[sizeof src - 1] = '\0';
    kiln_logring_append(ring, KILN_LOG_INFO, src, "x");
    kiln_logring_read(ring, 5, out, 1, NULL, NULL);
    is_int(strlen(out[0].source), KILN_LOG_SOURCE_MAX - 1, "a long source is cut");
    free(out);
    kiln_logring_free(ring);
}

static void test_long_lines_reuse_slots(void)
{
    /* One slot, so every append overwrites it: long and short lines alternate
     * between heap and inline storage, and valgrind checks nothing leaks. */
    struct kiln_logring *ring = kiln_logring_new(1, NULL);
    struct kiln_log_line *out = lines_new(1);
    char longline[1000];
    int good = 1;
    for (int i = 0; i < 50; i++) {
        if (i % 3 == 0) {
            memset(longline, 'a' + i % 26, sizeof longline - 1);
            longline[sizeof longline - 1] = '\0';
            kiln_logring_append(ring, KILN_LOG_INFO, "t", longline);
        } else {
            kiln_logring_appendf(ring, KILN_LOG_INFO, "t", "short %d", i);
        }
        uint64_t missed;
        size_t n = kiln_logring_read(ring, 0, out, 1, &missed, NULL);
        if (n != 1 || missed != (uint64_t)i || out[0].seq != (uint64_t)i + 1)
            good = 0;
        else if (i % 3 == 0 &&
                 (out[0].len != sizeof longline - 1 || out[0].text[500] != 'a' + i % 26))
            good = 0;
        else if (i % 3 != 0 && atoi(out[0].text + 6) != i)
            good = 0;
    }
    ok(good, "a one-line ring alternating long and short lines keeps the newest intact");
    kiln_logring_free(ring);
    free(out);
}

struct notified {
    struct kiln_logring *ring;
    int calls;
    uint64_t last_seen;
};

static void on_append(struct kiln_logring *ring, void *ctx)
{
    struct notified *n = ctx;
    n->ring = ring;
    n->calls++;
    struct kiln_logring_stats st;
    kiln_logring_get_stats(ring, &st); /* the hook runs outside the lock */
    n->last_seen = st.last_seq;
}

static void test_notify(void)
{
    struct kiln_logring *ring = kiln_logring_new(2, NULL);
    struct notified n = {0};
    kiln_logring_set_notify(ring, on_append, &n);
    kiln_logring_append(ring, KILN_LOG_INFO, "t", "one");
    kiln_logring_appendf(ring, KILN_LOG_INFO, "t", "%s", "two");
    kiln_logring_append(ring, KILN_LOG_INFO, "t", "three");
    is_int(n.calls, 3, "the notify hook runs once per append");
    ok(n.ring == ring, "... with the ring");
    is_int(n.last_seen, 3, "... after the line is in");
    kiln_logring_set_notify(ring, NULL, NULL);
    kiln_logring_append(ring, KILN_LOG_INFO, "t", "four");
    is_int(n.calls, 3, "a removed hook is not called");
    kiln_logring_free(ring);
}

/* ---- a reader racing writers ---- */

#define WRITERS          4
#define LINES_PER_WRITER 20000
#define RACE_CAPACITY    64
#define READ_BATCH       16

struct race {
    struct kiln_logring *ring;
    atomic_int writers_done;
    /* the reader's findings */
    uint64_t read, missed, next;
    int order_ok, contiguous_ok, format_ok;
};

struct writer_arg {
    struct race *race;
    int id;
};

static void *writer(void *p)
{
    struct writer_arg *w = p;
    for (int i = 1; i <= LINES_PER_WRITER; i++)
        kiln_logring_appendf(w->race->ring, KILN_LOG_INFO, "w", "w%d %d", w->id, i);
    atomic_fetch_add(&w->race->writers_done, 1);
    return NULL;
}

static void *reader(void *p)
{
    struct race *r = p;
    struct kiln_log_line *out = lines_new(READ_BATCH);
    int last[WRITERS] = {0};
    uint64_t cursor = 1;
    r->order_ok = r->contiguous_ok = r->format_ok = 1;
    for (;;) {
        /* Seen before reading, so one empty read after all writers are done means
         * there is nothing left. */
        int done = atomic_load(&r->writers_done) == WRITERS;
        uint64_t missed, next;
        size_t n = kiln_logring_read(r->ring, cursor, out, READ_BATCH, &missed, &next);
        r->missed += missed;
        r->read += n;
        for (size_t i = 0; i < n; i++) {
            if (out[i].seq != cursor + missed + i)
                r->contiguous_ok = 0;
            int w, k;
            if (sscanf(out[i].text, "w%d %d", &w, &k) != 2 || w < 0 || w >= WRITERS) {
                r->format_ok = 0;
                continue;
            }
            if (k <= last[w])
                r->order_ok = 0;
            last[w] = k;
        }
        if (next != cursor + missed + n)
            r->contiguous_ok = 0;
        cursor = next;
        if (n == 0 && done)
            break;
        if (n == 0)
            sched_yield();
    }
    r->next = cursor;
    free(out);
    return NULL;
}

static void test_reader_races_writers(void)
{
    struct race r = {0};
    r.ring = kiln_logring_new(RACE_CAPACITY, NULL);
    atomic_init(&r.writers_done, 0);
    pthread_t rt, wt[WRITERS];
    struct writer_arg wa[WRITERS];
    pthread_create(&rt, NULL, reader, &r);
    for (int i = 0; i < WRITERS; i++) {
        wa[i] = (struct writer_arg){&r, i};
        pthread_create(&wt[i], NULL, writer, &wa[i]);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(wt[i], NULL);
    pthread_join(rt, NULL);

    struct kiln_logring_stats st;
    kiln_logring_get_stats(r.ring, &st);
    uint64_t total = (uint64_t)WRITERS * LINES_PER_WRITER;
    is_int(st.appended, total, "every writer's line was appended");
    is_int(r.read + r.missed, total, "the reader read or was told it missed every line");
    is_int(st.dropped, total - RACE_CAPACITY, "dropped counts every overwritten line");
    is_int(r.next, total + 1, "the reader's cursor ends after the last line");
    ok(r.contiguous_ok, "seqs came in order with gaps only where lines were missed");
    ok(r.format_ok, "every line read was whole");
    ok(r.order_ok, "each writer's lines came in the order it wrote them");
    diag("reader read %" PRIu64 " lines and missed %" PRIu64, r.read, r.missed);
    kiln_logring_free(r.ring);
}

int main(void)
{
    test_levels();
    test_new_refuses_zero();
    test_empty();
    test_order_and_fields();
    test_overflow_counts();
    test_truncation();
    test_long_lines_reuse_slots();
    test_notify();
    test_reader_races_writers();
    return done_testing();
}
