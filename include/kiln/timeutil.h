/* kiln: clocks, sleeping, timestamps and durations.
 *
 * Times are int64_t microseconds: realtime (since the Unix epoch) for what is
 * shown or stored, monotonic for measuring and deadlines. Durations a user types
 * or reads are milliseconds. Everything here is thread-safe.
 */
#ifndef KILN_TIMEUTIL_H
#define KILN_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/err.h"

/* Wall-clock time in µs since the epoch; jumps when the clock is set. */
int64_t kiln_now_us(void);

/* Monotonic time in µs from an arbitrary start; use for deadlines. */
int64_t kiln_mono_us(void);

/* Sleeps at least ms milliseconds, resuming after signals. */
void kiln_sleep_ms(int64_t ms);

/* "2026-11-26T05:16:08Z" is 20 characters; the ms form 24. */
#define KILN_ISO_TIME_MAX 32

/* Writes the UTC time `us` (µs since the epoch) into buf as "2026-11-26T05:16:08Z";
 * returns buf. */
char *kiln_time_iso(int64_t us, char buf[KILN_ISO_TIME_MAX]);

/* The same with milliseconds: "2026-11-26T05:16:08.123Z"; returns buf. */
char *kiln_time_iso_ms(int64_t us, char buf[KILN_ISO_TIME_MAX]);

/* Parses what kiln_time_iso or kiln_time_iso_ms wrote (UTC, "Z" suffix, optional
 * fraction of up to 6 digits) into µs since the epoch. */
int kiln_time_parse_iso(const char *s, int64_t *us, struct kiln_err *err);

/* Parses a duration such as "500ms", "30s", "2m", "1h", "1m30s", "1.5s" into
 * milliseconds: the one parser of the CLI, the console and the config file. Units:
 * ms, s, m (or min), h, d. A bare number is refused, since "30" could mean seconds
 * or minutes; so is a value finer than a millisecond ("0.5ms"), never truncated. */
int kiln_parse_duration(const char *s, int64_t *ms, struct kiln_err *err);

/* Big enough for any int64_t duration formatted below. */
#define KILN_DURATION_MAX 32

/* Formats ms for people: "750ms", "1.2s", "3m04s", "2h05m", "3d04h"; the finer
 * unit is truncated, not rounded, so a time never looks longer than it was.
 * Returns buf. */
char *kiln_format_duration(int64_t ms, char buf[KILN_DURATION_MAX]);

/* Formats ms exactly, in the form kiln_parse_duration reads back: 90000 is "1m30s",
 * 1500 "1s500ms", 0 (or less) "0s". Returns buf. */
char *kiln_format_duration_exact(int64_t ms, char buf[KILN_DURATION_MAX]);

#endif
