/* A tiny TAP producer for kiln's C unit tests (automake's tap-driver reads it).
 * Header-only so every test is one file. */
#ifndef KILN_TAP_H
#define KILN_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n;
static int tap_failed;

__attribute__((format(printf, 5, 6), unused)) static int
tap_ok(int cond, const char *what, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    tap_n++;
    printf("%sok %d - ", cond ? "" : "not ", tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!cond) {
        printf("#   failed: %s (%s:%d)\n", what, file, line);
        tap_failed++;
    }
    fflush(stdout);
    return cond;
}

/* ok(COND, DESCRIPTION...): a failure also prints COND as written and where it is. */
#define ok(cond, ...) tap_ok(!!(cond), #cond, __FILE__, __LINE__, __VA_ARGS__)

/* ok_got(COND, (FORMAT, ARGS...), DESCRIPTION...): ok() for a compound COND (a && b ...),
 * which on failure also says what it got, e.g.
 *     ok_got(n == 2 && v[0] == 7, ("n %zu, v[0] %d", n, v[0]), "two, the first 7");
 * prints "#   got n 3, v[0] 7" under the "not ok" line. */
#define ok_got(cond, got, ...)                                                                     \
    do {                                                                                           \
        if (!ok(cond, __VA_ARGS__)) {                                                              \
            printf("#   got ");                                                                    \
            printf got;                                                                            \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

#define is_int(got, want, ...)                                                                     \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (!tap_ok(g_ == w_, #got " == " #want, __FILE__, __LINE__, __VA_ARGS__))                 \
            printf("#   got %lld, want %lld (%s:%d)\n", g_, w_, __FILE__, __LINE__);               \
    } while (0)

#define is_str(got, want, ...)                                                                     \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        if (!tap_ok(g_ && w_ && strcmp(g_, w_) == 0, #got " eq " #want, __FILE__, __LINE__,        \
                    __VA_ARGS__))                                                                  \
            printf("#   got \"%s\", want \"%s\" (%s:%d)\n", g_ ? g_ : "(null)",                    \
                   w_ ? w_ : "(null)", __FILE__, __LINE__);                                        \
    } while (0)

__attribute__((format(printf, 1, 2), unused)) static void diag(const char *fmt, ...)
{
    va_list ap;
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static int done_testing(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
