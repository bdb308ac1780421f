/* kiln: where each app's source tree is (recorded by `create-app --source DIR`), so
 * `kiln build APP` and `kiln deploy APP` know what to build. Kept in the state dir. */
#ifndef KILN_SOURCES_H
#define KILN_SOURCES_H

#include <stddef.h>

#include "kiln/err.h"
#include "kiln/paths.h"

/* Records dir (made absolute) as app's source. */
int kiln_sources_set(const struct kiln_paths *paths, const char *app, const char *dir,
                     struct kiln_err *err);
/* The app's recorded source into buf; -1 with KILN_E_NOTFOUND when none. */
int kiln_sources_get(const struct kiln_paths *paths, const char *app, char *buf, size_t n,
                     struct kiln_err *err);

#endif
