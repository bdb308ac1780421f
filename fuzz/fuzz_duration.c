/* fuzz: durations and timestamps (kiln/timeutil.h): kiln_parse_duration, which reads
 * what users type (--health-timeout 5m), and kiln_time_parse_iso, which reads the times
 * in journals, history and kilnd's answers.
 *
 * Checked besides "no crash": a refusal is KILN_E_INVALID with a message; an accepted
 * duration is not negative and formats within KILN_DURATION_MAX; an accepted time
 * formats back (kiln_time_iso_ms) to a string that parses to the same time, cut to
 * the millisecond. The first 8 bytes also go to kiln_format_duration as any int64_t.
 */
#include "fuzz.h"

#include "kiln/timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = fuzz_cstr(data, size);
    struct kiln_err err = {0};
    char buf[KILN_DURATION_MAX];

    int64_t ms = -1;
    if (kiln_parse_duration(s, &ms, &err) < 0) {
        if (err.code != KILN_E_INVALID || err.msg[0] == '\0')
            fuzz_fail("duration refusal with code %d", err.code);
    } else {
        if (ms < 0)
            fuzz_fail("duration \"%s\" is %lld ms", s, (long long)ms);
        kiln_format_duration(ms, buf);
        if (strlen(buf) >= sizeof buf)
            fuzz_fail("formatted duration overflows");
    }

    int64_t us;
    if (kiln_time_parse_iso(s, &us, &err) < 0) {
        if (err.code != KILN_E_INVALID || err.msg[0] == '\0')
            fuzz_fail("time refusal with code %d", err.code);
    } else if (s[0] != '0') {
        /* strftime writes years before 1000 without leading zeros, which the parser
         * (four digits) does not take; kiln never writes such years. */
        char iso[KILN_ISO_TIME_MAX];
        int64_t back;
        kiln_time_iso_ms(us, iso);
        int64_t want = us - ((us % 1000) + 1000) % 1000;
        if (kiln_time_parse_iso(iso, &back, &err) < 0 || back != want)
            fuzz_fail("\"%s\" is %lld us, written as \"%s\", read back as %lld", s, (long long)us,
                      iso, (long long)back);
        kiln_time_iso(us, iso);
        if (kiln_time_parse_iso(iso, &back, &err) < 0)
            fuzz_fail("\"%s\" written as \"%s\" does not parse", s, iso);
    }

    if (size >= 8) {
        int64_t any;
        memcpy(&any, data, sizeof any);
        kiln_format_duration(any, buf);
        if (strlen(buf) >= sizeof buf)
            fuzz_fail("formatted duration overflows");
    }
    free(s);
    return 0;
}
