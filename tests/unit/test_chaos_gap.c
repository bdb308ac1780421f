/* Tests for the chaos monkeys' gap maths (kilnd's and `kiln chaos run`'s). */
#include "kiln/chaos_gap.h"

#include <math.h>
#include <stdint.h>

#include "tap.h"

static void test_unit(void)
{
    is_int(kiln_chaos_unit(0) > 0, 1, "0 random bits still give a number above 0");
    ok(kiln_chaos_unit(UINT64_MAX) == 1.0, "all bits set give exactly 1");
    ok(kiln_chaos_unit(1ULL << 63) == 0.5 + 1.0 / 9007199254740992.0,
       "the top bit alone gives just above one half");
}

static void test_gap(void)
{
    /* -ln(u) * mean: u = e^-1 is one mean, u = e^-2 two. */
    is_int(kiln_chaos_gap_us(60000, 0, exp(-1.0)), 60000000, "u = 1/e: exactly the mean");
    is_int(kiln_chaos_gap_us(60000, 0, exp(-2.0)), 120000000, "u = 1/e^2: twice the mean");
    is_int(kiln_chaos_gap_us(60000, 10000, 1.0), 10000000, "u = 1 (no wait): the minimum");
    is_int(kiln_chaos_gap_us(60000, 10000, 0.9), 10000000,
           "a draw shorter than the minimum waits the minimum");
    is_int(kiln_chaos_gap_us(7LL * 24 * 3600 * 1000, 0, 1e-300), KILN_CHAOS_GAP_MAX_US,
           "a week's mean and a tiny u are capped at 30 days");
    is_int(kiln_chaos_gap_us(1000, 0, 0.0), KILN_CHAOS_GAP_MAX_US, "u = 0 (ln = -inf): the cap");
    is_int(kiln_chaos_gap_us(1000, 0, NAN), KILN_CHAOS_GAP_MAX_US, "u = NaN: the cap, not UB");
}

static void test_mean(void)
{
    /* The sample mean of many draws is near the mean: 20000 draws of an exponential
     * have a standard error of 0.7%; 5% is more than 7 of them. */
    double sum = 0;
    int n = 20000;
    for (int i = 0; i < n; i++)
        sum += (double)kiln_chaos_gap_us(1000, 0, kiln_chaos_unit(kiln_chaos_random()));
    double mean = sum / n;
    ok(mean > 950000 && mean < 1050000, "the draws average the mean (%.0f µs for 1 s)", mean);
}

int main(void)
{
    test_unit();
    test_gap();
    test_mean();
    return done_testing();
}
