/* kiln: bounded rings of log lines (see include/kiln/logring.h). */
#include "kiln/logring.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

/* Most log lines (progress, rpmbuild output, events) are well under 140 bytes, so a
 * slot keeps that much text inline and a whole slot is 192 bytes: a ring of 10,000
 * lines costs under 2 MB, and the common append touches no allocator. */
#define SLOT_INLINE 140

struct slot {
    uint64_t seq;
    int64_t time_us;
    char *big; /* the text when it does not fit inline, else NULL */
    uint16_t len;
    uint8_t level;
    bool truncated;
    char source[KILN_LOG_SOURCE_MAX];
    char text[SLOT_INLINE]; /* not NUL-terminated: len says how much */
};

_Static_assert(sizeof(struct slot) == 192, "SLOT_INLINE no longer gives 192-byte slots");
_Static_assert(KILN_LOG_TEXT_MAX - 1 <= UINT16_MAX, "slot lengths are 16 bits");

struct kiln_logring {
    pthread_mutex_t mu;
    size_t capacity;
    /* All under mu. Slot for seq s is slots[(s - 1) % capacity]. */
    uint64_t next_seq;
    size_t count;
    kiln_logring_notify_fn notify;
    void *notify_ctx;
    struct slot *slots;
};

static const char *const level_names[KILN_LOG_LEVEL_COUNT] = {
    [KILN_LOG_DEBUG] = "debug",
    [KILN_LOG_INFO] = "info",
    [KILN_LOG_WARN] = "warn",
    [KILN_LOG_ERROR] = "error",
};

const char *kiln_log_level_name(enum kiln_log_level level)
{
    if ((unsigned)level < KILN_LOG_LEVEL_COUNT)
        return level_names[level];
    return "unknown";
}

int kiln_log_level_parse(const char *name, enum kiln_log_level *out, struct kiln_err *err)
{
    for (int i = 0; i < KILN_LOG_LEVEL_COUNT; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum kiln_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = KILN_LOG_WARN;
        return 0;
    }
    return kiln_err_set(err, KILN_E_INVALID,
                        "unknown log level \"%s\"; use debug, info, warn or error", name);
}

struct kiln_logring *kiln_logring_new(size_t capacity, struct kiln_err *err)
{
    if (capacity == 0) {
        kiln_err_set(err, KILN_E_INVALID, "a log ring must hold at least one line; got 0");
        return NULL;
    }
    if (capacity > SIZE_MAX / sizeof(struct slot)) {
        kiln_err_set(err, KILN_E_INVALID, "a log ring of %zu lines is too big; ask for fewer",
                     capacity);
        return NULL;
    }
    struct kiln_logring *ring = xcalloc(1, sizeof *ring);
    /* calloc'd slots stay untouched zero pages until lines land in them, so a big
     * ring that is mostly empty (a short job's log) costs little. */
    ring->slots = xcalloc(capacity, sizeof *ring->slots);
    ring->capacity = capacity;
    ring->next_seq = 1;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
    /* glibc's adaptive mutex spins briefly before sleeping; with critical sections
     * this short it cut writers' sleeps on the lock several-fold in
     * bench/bench_logring. */
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    pthread_mutex_init(&ring->mu, &attr);
    pthread_mutexattr_destroy(&attr);
    return ring;
}

void kiln_logring_free(struct kiln_logring *ring)
{
    if (ring == NULL)
        return;
    for (size_t i = 0; i < ring->capacity; i++)
        free(ring->slots[i].big);
    free(ring->slots);
    pthread_mutex_destroy(&ring->mu);
    free(ring);
}

void kiln_logring_set_notify(struct kiln_logring *ring, kiln_logring_notify_fn fn, void *ctx)
{
    pthread_mutex_lock(&ring->mu);
    ring->notify = fn;
    ring->notify_ctx = ctx;
    pthread_mutex_unlock(&ring->mu);
}

/* The largest cut <= n that does not split a UTF-8 character, given that s[n] is
 * readable. Gives up after 3 bytes back, which is as far as valid UTF-8 can need, so
 * binary garbage is cut where it was asked. */
static size_t utf8_cut(const char *s, size_t n)
{
    size_t k = n;
    while (k > 0 && n - k < 3 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return ((unsigned char)s[k] & 0xC0) == 0x80 ? n : k;
}

/* Appends text[0..len). `cut` says the caller already lost the end of the text (a
 * formatted line longer than its buffer), so it must be marked truncated and its last
 * byte is not a real line end. */
static uint64_t append_line(struct kiln_logring *ring, enum kiln_log_level level,
                            const char *source, const char *text, size_t len, bool cut)
{
    /* Everything that can be slow happens here, before the lock. */
    if (!cut && len > 0 && text[len - 1] == '\n') {
        len--;
        if (len > 0 && text[len - 1] == '\r')
            len--;
    }
    char *big = NULL;
    bool truncated = false;
    if (cut || len > KILN_LOG_TEXT_MAX - 1) {
        size_t mark = sizeof KILN_LOG_TRUNCATED_MARK - 1;
        size_t keep = utf8_cut(text, KILN_LOG_TEXT_MAX - 1 - mark);
        big = xmalloc(keep + mark);
        memcpy(big, text, keep);
        memcpy(big + keep, KILN_LOG_TRUNCATED_MARK, mark);
        len = keep + mark;
        truncated = true;
    } else if (len > SLOT_INLINE) {
        big = xmalloc(len);
        memcpy(big, text, len);
    }

    char src[KILN_LOG_SOURCE_MAX] = "";
    if (source != NULL) {
        size_t n = strnlen(source, KILN_LOG_SOURCE_MAX);
        if (n == KILN_LOG_SOURCE_MAX)
            n = utf8_cut(source, KILN_LOG_SOURCE_MAX - 1);
        memcpy(src, source, n);
        src[n] = '\0';
    }
    int64_t now = kiln_now_us();

    pthread_mutex_lock(&ring->mu);
    uint64_t seq = ring->next_seq++;
    struct slot *s = &ring->slots[(seq - 1) % ring->capacity];
    char *old_big = s->big;
    s->seq = seq;
    s->time_us = now;
    s->level = (uint8_t)level;
    s->truncated = truncated;
    s->len = (uint16_t)len;
    s->big = big;
    if (big == NULL)
        memcpy(s->text, text, len);
    memcpy(s->source, src, sizeof src);
    if (ring->count < ring->capacity)
        ring->count++;
    kiln_logring_notify_fn notify = ring->notify;
    void *notify_ctx = ring->notify_ctx;
    pthread_mutex_unlock(&ring->mu);

    free(old_big);
    if (notify != NULL)
        notify(ring, notify_ctx);
    return seq;
}

uint64_t kiln_logring_append(struct kiln_logring *ring, enum kiln_log_level level,
                             const char *source, const char *text)
{
    return append_line(ring, level, source, text, strlen(text), false);
}

uint64_t kiln_logring_appendv(struct kiln_logring *ring, enum kiln_log_level level,
                              const char *source, const char *fmt, va_list ap)
{
    /* One byte more than a line may hold, so a line of exactly the maximum is told
     * apart from a longer one that vsnprintf had to cut. */
    char buf[KILN_LOG_TEXT_MAX + 1];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0)
        return append_line(ring, level, source, "(unprintable log message)",
                           sizeof "(unprintable log message)" - 1, false);
    if ((size_t)n >= sizeof buf)
        return append_line(ring, level, source, buf, sizeof buf - 1, true);
    return append_line(ring, level, source, buf, (size_t)n, false);
}

uint64_t kiln_logring_appendf(struct kiln_logring *ring, enum kiln_log_level level,
                              const char *source, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    uint64_t seq = kiln_logring_appendv(ring, level, source, fmt, ap);
    va_end(ap);
    return seq;
}

static void copy_line(const struct slot *s, struct kiln_log_line *out)
{
    out->seq = s->seq;
    out->time_us = s->time_us;
    out->level = (enum kiln_log_level)s->level;
    out->truncated = s->truncated;
    out->len = s->len;
    memcpy(out->source, s->source, sizeof out->source);
    memcpy(out->text, s->big != NULL ? s->big : s->text, s->len);
    out->text[s->len] = '\0';
}

size_t kiln_logring_read(struct kiln_logring *ring, uint64_t from_seq, struct kiln_log_line *out,
                         size_t max, uint64_t *missed, uint64_t *next_seq)
{
    if (from_seq == 0)
        from_seq = 1;
    size_t n = 0;

    pthread_mutex_lock(&ring->mu);
    uint64_t first = ring->next_seq - ring->count;
    uint64_t start = from_seq < first ? first : from_seq;
    uint64_t lost = from_seq < first ? first - from_seq : 0;
    for (uint64_t seq = start; seq < ring->next_seq && n < max; seq++, n++)
        copy_line(&ring->slots[(seq - 1) % ring->capacity], &out[n]);
    pthread_mutex_unlock(&ring->mu);

    if (missed != NULL)
        *missed = lost;
    if (next_seq != NULL)
        *next_seq = start + n;
    return n;
}

void kiln_logring_get_stats(struct kiln_logring *ring, struct kiln_logring_stats *out)
{
    pthread_mutex_lock(&ring->mu);
    out->capacity = ring->capacity;
    out->count = ring->count;
    out->appended = ring->next_seq - 1;
    out->dropped = out->appended - ring->count;
    out->first_seq = ring->next_seq - ring->count;
    out->last_seq = ring->next_seq - 1;
    pthread_mutex_unlock(&ring->mu);
}
