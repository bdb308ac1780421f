/* Tests for clocks, timestamps and durations. */
#include "kiln/timeutil.h"

#include <string.h>

#include "tap.h"

static void parses(const char *s, int64_t want)
{
    int64_t ms = -12345;
    struct kiln_err err = {0};
    int rc = kiln_parse_duration(s, &ms, &err);
    if (!ok(rc == 0 && ms == want, "duration \"%s\" is %lld ms", s, (long long)want))
        diag("rc %d, got %lld, error: %s", rc, (long long)ms, err.msg);
}

static void refuses(const char *s, const char *want_in_msg)
{
    int64_t ms = 777;
    struct kiln_err err = {0};
    int rc = kiln_parse_duration(s, &ms, &err);
    ok(rc == -1 && err.code == KILN_E_INVALID && ms == 777, "duration \"%s\" is refused", s);
    if (!ok(strstr(err.msg, want_in_msg) != NULL, "with a message that says \"%s\"", want_in_msg))
        diag("message: %s", err.msg);
}

static void formats(int64_t ms, const char *want)
{
    char buf[KILN_DURATION_MAX];
    is_str(kiln_format_duration(ms, buf), want, "%lld ms reads \"%s\"", (long long)ms, want);
}

static void test_durations(void)
{
    parses("500ms", 500);
    parses("30s", 30000);
    parses("2m", 120000);
    parses("1h", 3600000);
    parses("1m30s", 90000);
    parses("1h2m3s4ms", 3723004);
    parses("1.5s", 1500);
    parses("0.25m", 15000);
    parses("2d", 172800000);
    parses("2min", 120000);
    parses("1h30min", 5400000);
    parses("0s", 0);
    refuses("", "empty duration");
    refuses("30", "has no unit");
    refuses("1m30", "has no unit");
    refuses("abc", "invalid duration \"abc\"");
    refuses("5mins", "e.g. 500ms, 30s, 1m30s");
    refuses("-5s", "invalid duration");
    refuses(" 5s", "invalid duration");
    refuses("5 s", "invalid duration");
    refuses("s", "invalid duration");
    refuses("99999999999999999999s", "too long");
    refuses("9999999999999999d", "too long");

    formats(0, "0ms");
    formats(750, "750ms");
    formats(1000, "1.0s");
    formats(1299, "1.2s");
    formats(59999, "59.9s");
    formats(60000, "1m00s");
    formats(184000, "3m04s");
    formats(3599999, "59m59s");
    formats(7500000, "2h05m");
    formats(93784000, "1d02h");
    formats(-1500, "-1.5s");
}

static void test_timestamps(void)
{
    char buf[KILN_ISO_TIME_MAX];
    /* 2026-11-26T05:16:08Z, computed independently: 20783 days + 5:16:08. */
    int64_t t = (int64_t)(20783LL * 86400 + 5 * 3600 + 16 * 60 + 8) * 1000000 + 123456;
    is_str(kiln_time_iso(t, buf), "2026-11-26T05:16:08Z", "ISO timestamp in UTC");
    is_str(kiln_time_iso_ms(t, buf), "2026-11-26T05:16:08.123Z", "with milliseconds");
    is_str(kiln_time_iso_ms(-1, buf), "1969-12-31T23:59:59.999Z",
           "a time just before the epoch belongs to the second before it");

    int64_t back = 0;
    struct kiln_err err = {0};
    ok(kiln_time_parse_iso("2026-11-26T05:16:08Z", &back, &err) == 0 && back == t - 123456,
       "parsing the second form gives the time back");
    ok(kiln_time_parse_iso("2026-11-26T05:16:08.123Z", &back, &err) == 0 && back == t - 456,
       "parsing the millisecond form too");
    int64_t now = kiln_now_us();
    ok(kiln_time_parse_iso(kiln_time_iso_ms(now, buf), &back, &err) == 0 &&
           back == now - now % 1000,
       "now survives a round trip to the millisecond");
    const char *bad[] = {"2026-11-26 05:16:08Z", "2026-11-26T05:16:08",   "2026-02-30T00:00:00Z",
                         "2026-11-26T25:00:00Z", "2026-11-26T05:16:08.Z", "yesterday"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kiln_err_clear(&err);
        ok(kiln_time_parse_iso(bad[i], &back, &err) == -1 && err.code == KILN_E_INVALID &&
               strstr(err.msg, bad[i]) != NULL,
           "\"%s\" is refused, naming it", bad[i]);
    }
}

static void test_clocks(void)
{
    int64_t m0 = kiln_mono_us();
    kiln_sleep_ms(20);
    int64_t m1 = kiln_mono_us();
    /* Only a lower bound: a loaded machine may sleep much longer. */
    ok(m1 - m0 >= 20000, "sleep_ms sleeps at least as long as asked (%lld us)",
       (long long)(m1 - m0));
    ok(kiln_now_us() > (int64_t)1700000000 * 1000000, "the realtime clock is in this era");
}

int main(void)
{
    test_durations();
    test_timestamps();
    test_clocks();
    return done_testing();
}
