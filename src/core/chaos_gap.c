/* kiln: when a chaos monkey strikes next (see include/kiln/chaos_gap.h). */
#include "kiln/chaos_gap.h"

#include <math.h>
#include <sys/random.h>
#include <sys/types.h>

#include "kiln/timeutil.h"

uint64_t kiln_chaos_random(void)
{
    uint64_t v;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
        /* getrandom does not fail for 8 bytes on Linux >= 3.17. */
        v = (uint64_t)kiln_mono_us() * 6364136223846793005ULL + 1442695040888963407ULL;
    }
    return v;
}

double kiln_chaos_unit(uint64_t r)
{
    return (double)((r >> 11) + 1) / 9007199254740992.0; /* 2^53 */
}

int64_t kiln_chaos_gap_us(int64_t mean_ms, int64_t min_ms, double u)
{
    double gap = -(double)mean_ms * 1000.0 * log(u);
    if (!(gap <= (double)KILN_CHAOS_GAP_MAX_US)) /* also NAN, from a u outside (0, 1] */
        gap = (double)KILN_CHAOS_GAP_MAX_US;
    int64_t min_us = min_ms * 1000;
    return (int64_t)gap < min_us ? min_us : (int64_t)gap;
}
