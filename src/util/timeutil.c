/* kiln: clocks, sleeping, timestamps and durations (see include/kiln/timeutil.h). */
#include "kiln/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t clock_us(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t kiln_now_us(void)
{
    return clock_us(CLOCK_REALTIME);
}

int64_t kiln_mono_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}

void kiln_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* Splits µs into whole seconds and the µs past them, rounding towards the past so
 * times before the epoch still print the second they fall in. */
static void split_us(int64_t us, time_t *sec, int64_t *frac)
{
    int64_t s = us / 1000000, f = us % 1000000;
    if (f < 0) {
        s -= 1;
        f += 1000000;
    }
    *sec = (time_t)s;
    *frac = f;
}

char *kiln_time_iso(int64_t us, char buf[KILN_ISO_TIME_MAX])
{
    time_t sec;
    int64_t frac;
    struct tm tm;
    split_us(us, &sec, &frac);
    gmtime_r(&sec, &tm);
    strftime(buf, KILN_ISO_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

char *kiln_time_iso_ms(int64_t us, char buf[KILN_ISO_TIME_MAX])
{
    time_t sec;
    int64_t frac;
    struct tm tm;
    split_us(us, &sec, &frac);
    gmtime_r(&sec, &tm);
    size_t n = strftime(buf, KILN_ISO_TIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, KILN_ISO_TIME_MAX - n, ".%03uZ", (unsigned)(frac / 1000) % 1000u);
    return buf;
}

static int parse_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int kiln_time_parse_iso(const char *s, int64_t *us, struct kiln_err *err)
{
    const char *p = s;
    int year, mon, day, hour, min, sec;
    if (parse_digits(&p, 4, &year) || *p++ != '-' || parse_digits(&p, 2, &mon) || *p++ != '-' ||
        parse_digits(&p, 2, &day) || *p++ != 'T' || parse_digits(&p, 2, &hour) || *p++ != ':' ||
        parse_digits(&p, 2, &min) || *p++ != ':' || parse_digits(&p, 2, &sec))
        goto bad;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            if (digits == 6)
                goto bad;
            frac = frac * 10 + (*p++ - '0');
            digits++;
        }
        if (digits == 0)
            goto bad;
        for (; digits < 6; digits++)
            frac *= 10;
    }
    if (strcmp(p, "Z") != 0)
        goto bad;
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59)
        goto bad;
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = mon - 1,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = min,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    /* timegm normalises 31 February into March; a date that moved was not a date. */
    if (tm.tm_mday != day || tm.tm_mon != mon - 1)
        goto bad;
    *us = (int64_t)t * 1000000 + frac;
    return 0;
bad:
    return kiln_err_set(err, KILN_E_INVALID,
                        "invalid time \"%s\": expected UTC ISO-8601 such as 2026-11-26T05:16:08Z",
                        s);
}

static const struct {
    const char *name;
    int64_t ms;
} duration_units[] = {
    /* A unit matches only where no letter follows, so "m" never takes the start of
     * "ms" or "min". */
    {"ms", 1},          {"s", 1000},           {"m", 60 * 1000},
    {"min", 60 * 1000}, {"h", 60 * 60 * 1000}, {"d", 24 * 60 * 60 * 1000},
};

/* One "1.5s" of a duration: its value in ms into *out; p advanced past it. Exact:
 * a value finer than a millisecond is refused, not truncated, since 0.5ms read as
 * 0 would mean something else (unchanged, no limit). */
static int parse_duration_term(const char *s, const char **pp, int64_t *out, struct kiln_err *err)
{
    const char *p = *pp;
    int64_t whole = 0, frac = 0, frac_scale = 1;
    int digits = 0;
    while (isdigit((unsigned char)*p)) {
        if (whole > (INT64_MAX - 9) / 10)
            goto too_long;
        whole = whole * 10 + (*p++ - '0');
        digits++;
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return kiln_err_set(err, KILN_E_INVALID,
                                "invalid duration \"%s\": expected digits after the decimal point",
                                s);
        for (; isdigit((unsigned char)*p); p++, digits++) {
            if (frac_scale >= INT64_C(1000000000))
                return kiln_err_set(err, KILN_E_INVALID,
                                    "invalid duration \"%s\": too many decimals", s);
            frac = frac * 10 + (*p - '0');
            frac_scale *= 10;
        }
    }
    if (digits == 0)
        goto bad;
    size_t i, n = sizeof duration_units / sizeof duration_units[0];
    for (i = 0; i < n; i++) {
        size_t len = strlen(duration_units[i].name);
        if (strncmp(p, duration_units[i].name, len) == 0 && !isalpha((unsigned char)p[len])) {
            p += len;
            break;
        }
    }
    if (i == n) {
        if (*p == '\0')
            return kiln_err_set(err, KILN_E_INVALID,
                                "duration \"%s\" has no unit; a number needs a unit: ms, s, m, h "
                                "or d (e.g. 30s)",
                                s);
        goto bad;
    }
    int64_t unit = duration_units[i].ms;
    /* frac < 1e9 and unit <= 1 day (8.64e7 ms): the product fits. */
    if (frac * unit % frac_scale != 0)
        return kiln_err_set(err, KILN_E_INVALID,
                            "duration \"%s\" is finer than a millisecond, the smallest step kiln "
                            "keeps: write whole milliseconds (e.g. 1ms)",
                            s);
    if (whole > INT64_MAX / unit - 1)
        goto too_long;
    *out = whole * unit + frac * unit / frac_scale;
    *pp = p;
    return 0;
bad:
    return kiln_err_set(err, KILN_E_INVALID,
                        "invalid duration \"%s\": write numbers with units ms, s, m, h or d, "
                        "e.g. 500ms, 30s, 1m30s",
                        s);
too_long:
    return kiln_err_set(err, KILN_E_INVALID, "duration \"%s\" is too long", s);
}

int kiln_parse_duration(const char *s, int64_t *ms, struct kiln_err *err)
{
    const char *p = s;
    int64_t total = 0;
    if (*p == '\0')
        return kiln_err_set(err, KILN_E_INVALID,
                            "empty duration: give a number and a unit, e.g. 500ms, 30s, 1m30s");
    while (*p != '\0') {
        int64_t term = 0;
        if (parse_duration_term(s, &p, &term, err) < 0)
            return -1;
        if (term > INT64_MAX - total)
            return kiln_err_set(err, KILN_E_INVALID, "duration \"%s\" is too long", s);
        total += term;
    }
    *ms = total;
    return 0;
}

char *kiln_format_duration_exact(int64_t ms, char buf[KILN_DURATION_MAX])
{
    static const struct {
        const char *unit;
        int64_t ms;
    } parts[] = {
        {"d", INT64_C(86400000)}, {"h", INT64_C(3600000)}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    size_t len = 0;
    buf[0] = '\0';
    if (ms <= 0) {
        snprintf(buf, KILN_DURATION_MAX, "0s");
        return buf;
    }
    for (size_t i = 0; i < sizeof parts / sizeof parts[0] && len < KILN_DURATION_MAX; i++) {
        if (ms >= parts[i].ms) {
            int n = snprintf(buf + len, KILN_DURATION_MAX - len, "%lld%s",
                             (long long)(ms / parts[i].ms), parts[i].unit);
            len += n > 0 ? (size_t)n : 0;
            ms %= parts[i].ms;
        }
    }
    return buf;
}

char *kiln_format_duration(int64_t ms, char buf[KILN_DURATION_MAX])
{
    const char *sign = "";
    uint64_t v = (uint64_t)ms;
    if (ms < 0) {
        sign = "-";
        v = -(uint64_t)ms;
    }
    if (v < 1000)
        snprintf(buf, KILN_DURATION_MAX, "%s%" PRIu64 "ms", sign, v);
    else if (v < 60 * 1000)
        snprintf(buf, KILN_DURATION_MAX, "%s%" PRIu64 ".%" PRIu64 "s", sign, v / 1000,
                 v % 1000 / 100);
    else if (v < 60 * 60 * 1000)
        snprintf(buf, KILN_DURATION_MAX, "%s%" PRIu64 "m%02" PRIu64 "s", sign, v / 60000,
                 v % 60000 / 1000);
    else if (v < 24 * 60 * 60 * 1000)
        snprintf(buf, KILN_DURATION_MAX, "%s%" PRIu64 "h%02" PRIu64 "m", sign, v / 3600000,
                 v % 3600000 / 60000);
    else
        snprintf(buf, KILN_DURATION_MAX, "%s%" PRIu64 "d%02" PRIu64 "h", sign, v / 86400000,
                 v % 86400000 / 3600000);
    return buf;
}
