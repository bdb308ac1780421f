/* kiln: when a chaos monkey strikes next. kilnd's monkey (src/cloud/chaos.c) and the
 * headless one for AWS (`kiln chaos run`) draw their gaps the same way. */
#ifndef KILN_CHAOS_GAP_H
#define KILN_CHAOS_GAP_H

#include <stdint.h>

/* No gap is longer than this (30 days): a huge mean cannot overflow a time. */
#define KILN_CHAOS_GAP_MAX_US (30LL * 24 * 3600 * 1000000)

/* 64 random bits from getrandom; should that fail, from the clock (random enough for
 * a monkey, and it never blocks). */
uint64_t kiln_chaos_random(void);

/* The top 53 bits of r as a number in (0, 1]: never 0, so its logarithm is finite. */
double kiln_chaos_unit(uint64_t r);

/* The time to the next kill, in µs, for u in (0, 1] (kiln_chaos_unit): exponential
 * with mean mean_ms (-mean ln u), never below min_ms, never above
 * KILN_CHAOS_GAP_MAX_US. */
int64_t kiln_chaos_gap_us(int64_t mean_ms, int64_t min_ms, double u);

#endif
