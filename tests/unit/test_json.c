/* Tests for the range checks on JSON numbers (kiln_fits_*, kiln_*i64*): every reader
 * of a journal, a state file or a kilnd reply relies on them to avoid the undefined
 * behaviour of converting an out-of-range double. */
#include "kiln/json.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "tap.h"

static void test_fits(void)
{
    ok(kiln_fits_i64(0) && kiln_fits_i64(-1) && kiln_fits_i64(1e18), "small numbers fit int64");
    ok(kiln_fits_i64(-0x1p63), "-2^63 fits (INT64_MIN)");
    ok(!kiln_fits_i64(0x1p63), "2^63 does not (one past INT64_MAX)");
    ok(kiln_fits_i64(0x1p63 - 1024), "the largest double below 2^63 fits");
    ok(!kiln_fits_i64(-0x1p63 - 2048), "the next double below -2^63 does not");
    ok(!kiln_fits_i64(1e300) && !kiln_fits_i64(-1e300), "1e300 and -1e300 do not");
    ok(!kiln_fits_i64(NAN) && !kiln_fits_i64(INFINITY), "nor NaN or infinity");

    ok(kiln_fits_u64(0) && kiln_fits_u64(0x1p64 - 2048),
       "0 and the largest double below 2^64 fit uint64");
    ok(!kiln_fits_u64(0x1p64), "2^64 does not");
    ok(!kiln_fits_u64(-1) && !kiln_fits_u64(NAN), "nor -1 or NaN");
}

static void test_convert(void)
{
    is_int(kiln_i64_or(42.9, -1), 42, "a fitting number converts (truncated)");
    is_int(kiln_i64_or(-0x1p63, 0) == INT64_MIN, 1, "-2^63 converts to INT64_MIN");
    is_int(kiln_i64_or(0x1p63, -7), -7, "2^63 gives the default");
    is_int(kiln_i64_or(NAN, -7), -7, "NaN gives the default");

    cJSON *o = cJSON_Parse("{\"a\": 1234567, \"big\": 1e300, \"s\": \"5\", \"neg\": -3}");
    is_int(kiln_json_i64(cJSON_GetObjectItem(o, "a"), -1), 1234567, "a JSON number");
    is_int(kiln_json_i64(cJSON_GetObjectItem(o, "neg"), 0), -3, "a negative one");
    is_int(kiln_json_i64(cJSON_GetObjectItem(o, "big"), -1), -1, "1e300: the default");
    is_int(kiln_json_i64(cJSON_GetObjectItem(o, "s"), -1), -1, "a string: the default");
    is_int(kiln_json_i64(cJSON_GetObjectItem(o, "missing"), -1), -1,
           "a missing member: the default");
    is_int(kiln_json_i64(NULL, 9), 9, "NULL: the default");
    cJSON_Delete(o);
}

int main(void)
{
    test_fits();
    test_convert();
    return done_testing();
}
