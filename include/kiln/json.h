/* kiln: numbers read from JSON. cJSON keeps every number as a double, and converting
 * a double outside the target type's range (1e300 in a damaged journal, a hostile
 * reply) is undefined behaviour in C: every reader checks the range first, with these. */
#ifndef KILN_JSON_H
#define KILN_JSON_H

#include <stdbool.h>
#include <stdint.h>

struct cJSON;

/* Whether d converts to int64_t: -2^63 <= d < 2^63 (false for NaN). */
bool kiln_fits_i64(double d);
/* Whether d converts to uint64_t: 0 <= d < 2^64 (false for NaN). */
bool kiln_fits_u64(double d);

/* d as an int64_t when it fits, else dflt. */
int64_t kiln_i64_or(double d, int64_t dflt);

/* v's value as an int64_t when v is a JSON number that fits; dflt otherwise (also for
 * a NULL v: a missing member). */
int64_t kiln_json_i64(const struct cJSON *v, int64_t dflt);

#endif
