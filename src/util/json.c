/* kiln: numbers read from JSON (see include/kiln/json.h). */
#include "kiln/json.h"

#include <cjson/cJSON.h>

bool kiln_fits_i64(double d)
{
    /* cppcheck-suppress incorrectLogicOperator ; cppcheck misreads hex floats */
    return d >= -0x1p63 && d < 0x1p63;
}

bool kiln_fits_u64(double d)
{
    return d >= 0 && d < 0x1p64;
}

int64_t kiln_i64_or(double d, int64_t dflt)
{
    return kiln_fits_i64(d) ? (int64_t)d : dflt;
}

int64_t kiln_json_i64(const cJSON *v, int64_t dflt)
{
    return cJSON_IsNumber(v) ? kiln_i64_or(v->valuedouble, dflt) : dflt;
}
