/* kiln: bounded rings of log lines: one per job, and one for the global event log.
 *
 * Workers append and the UI reads, and neither waits on the other for longer than a
 * memcpy: every slot is allocated when the ring is made, so an append takes the lock
 * only to copy one line in. Text too long for a slot's inline space is copied to the
 * heap before the lock is taken and freed after it is released. When the ring is
 * full, an append overwrites the oldest line and counts it as dropped.
 *
 * Each line gets a sequence number: 1 for the first line, one more for each append.
 * A reader keeps the next seq it wants as its cursor, and kiln_logring_read tells it
 * exactly how many lines it missed because they were overwritten before it came back.
 *
 * All functions are safe to call from any number of threads at once, except
 * kiln_logring_free.
 */
#ifndef KILN_LOGRING_H
#define KILN_LOGRING_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/err.h"

enum kiln_log_level {
    KILN_LOG_DEBUG,
    KILN_LOG_INFO,
    KILN_LOG_WARN,
    KILN_LOG_ERROR,
};

#define KILN_LOG_LEVEL_COUNT 4

/* "debug", "info", "warn", "error"; "unknown" for anything else. Static storage. */
const char *kiln_log_level_name(enum kiln_log_level level);

/* Parses a level name as kiln_log_level_name writes it, ignoring case; "warning" is
 * taken for "warn". */
int kiln_log_level_parse(const char *name, enum kiln_log_level *out, struct kiln_err *err);

/* Sizes include the terminating NUL. Longer sources are cut silently (they are short
 * names such as "deploy" or "rpmbuild"); longer text is cut and ends with
 * KILN_LOG_TRUNCATED_MARK, with the line's truncated flag set. Cuts never split a
 * UTF-8 character. */
#define KILN_LOG_SOURCE_MAX     24
#define KILN_LOG_TEXT_MAX       4096
#define KILN_LOG_TRUNCATED_MARK " [truncated]"

/* One line as a reader gets it: a plain copy, owned by whoever holds it. */
struct kiln_log_line {
    uint64_t seq;
    int64_t time_us; /* CLOCK_REALTIME, µs since the epoch */
    enum kiln_log_level level;
    bool truncated;
    size_t len; /* strlen(text) */
    char source[KILN_LOG_SOURCE_MAX];
    char text[KILN_LOG_TEXT_MAX];
};

struct kiln_logring;

/* Called after every append, on the appending thread, outside the ring's lock: it
 * may read the ring. It must be cheap (e.g. kiln_wake_signal), since workers call
 * it for every line they log. */
typedef void (*kiln_logring_notify_fn)(struct kiln_logring *ring, void *ctx);

/* A ring holding the last `capacity` lines (at least 1). Its memory is about
 * capacity * 192 bytes, allocated up front. Free it with kiln_logring_free. */
struct kiln_logring *kiln_logring_new(size_t capacity, struct kiln_err *err);

/* Frees the ring and every line in it; nobody may be using it any more. NULL is a
 * no-op. */
void kiln_logring_free(struct kiln_logring *ring);

/* Sets (or, with fn NULL, removes) the hook called after each append. Appends that
 * are already under way may still call the previous hook. */
void kiln_logring_set_notify(struct kiln_logring *ring, kiln_logring_notify_fn fn, void *ctx);

/* Appends one line and returns its seq. `source` may be NULL for none. One trailing
 * newline ("\n" or "\r\n") is dropped; other bytes are kept as they are, so the
 * reader decides how to show control characters. Never fails. */
uint64_t kiln_logring_append(struct kiln_logring *ring, enum kiln_log_level level,
                             const char *source, const char *text);

/* The same with printf-style formatting. */
uint64_t kiln_logring_appendf(struct kiln_logring *ring, enum kiln_log_level level,
                              const char *source, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
uint64_t kiln_logring_appendv(struct kiln_logring *ring, enum kiln_log_level level,
                              const char *source, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* Copies into out[0..max) the oldest lines still held whose seq is >= from_seq (0 is
 * taken as 1), oldest first and without gaps, and returns how many it copied.
 *
 * *missed (if not NULL) is set to the number of lines with seq >= from_seq that were
 * overwritten before this call: they come before out[0]. *next_seq (if not NULL) is
 * the from_seq to pass next time. A reader that always passes the previous *next_seq
 * sees every line exactly once, either copied or counted as missed.
 *
 * The lock is held while copying, so keep max modest (a few hundred) to keep writers
 * from waiting. */
size_t kiln_logring_read(struct kiln_logring *ring, uint64_t from_seq, struct kiln_log_line *out,
                         size_t max, uint64_t *missed, uint64_t *next_seq);

/* A consistent view of the ring's counters. */
struct kiln_logring_stats {
    size_t capacity;
    size_t count;       /* lines held now */
    uint64_t appended;  /* lines ever appended; also the last seq given out */
    uint64_t dropped;   /* lines overwritten: appended - count */
    uint64_t first_seq; /* seq of the oldest line held; last_seq + 1 when empty */
    uint64_t last_seq;  /* seq of the newest line; 0 before the first append */
};

void kiln_logring_get_stats(struct kiln_logring *ring, struct kiln_logring_stats *out);

#endif
