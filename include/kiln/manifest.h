/* kiln: an app's manifest, kiln.json.
 *
 *     {
 *       "name": "hello-world",
 *       "spec": "hello-world.spec",
 *       "source": "src",
 *       "start": ["/usr/bin/hello-world"],
 *       "health_check": {"path": "/health_check"},
 *       "port_env": "PORT"
 *     }
 *
 * The manifest comes from the app's repository, which kiln does not control: every
 * field is checked before any of it reaches rpmbuild's command line, a path on disk or
 * an instance's environment, and a refusal names the file and the field. Unknown fields
 * are refused too, so a typo ("helth_check") is an error rather than a silent default.
 */
#ifndef KILN_MANIFEST_H
#define KILN_MANIFEST_H

#include <stddef.h>

#include "kiln/err.h"
#include "kiln/names.h"

/* The largest kiln.json read, the most start arguments and the longest of each. */
#define KILN_MANIFEST_MAX_BYTES (64 * 1024)
#define KILN_MANIFEST_START_MAX 16
#define KILN_MANIFEST_ARG_MAX   1024
#define KILN_MANIFEST_PATH_MAX  255

/* Every string is owned by the manifest (kiln_manifest_free). */
struct kiln_manifest {
    char name[KILN_APP_SIZE]; /* the app, also the RPM's Name; passes kiln_name_validate_app */
    char *spec;               /* the spec file, relative to the manifest's directory */
    char *source;             /* the sources' directory, relative to the same ("." allowed) */
    char **start;             /* argv, NULL-terminated; start[0] is an absolute path inside
                                 the image */
    size_t n_start;           /* 1..KILN_MANIFEST_START_MAX */
    char *health_path;        /* "/health_check": what the health checker GETs */
    char *port_env;           /* the variable that tells an instance its port; "PORT" if the
                                 manifest does not say */
};

/* Parses and checks the manifest text (len bytes; it need not be NUL-terminated).
 * origin names it in messages ("examples/hello-world/kiln.json"). On failure m is
 * left empty; kiln_manifest_free is safe either way. */
int kiln_manifest_parse(const char *text, size_t len, const char *origin, struct kiln_manifest *m,
                        struct kiln_err *err);

/* Reads and parses the file at path (at most KILN_MANIFEST_MAX_BYTES). */
int kiln_manifest_load(const char *path, struct kiln_manifest *m, struct kiln_err *err);

void kiln_manifest_free(struct kiln_manifest *m);

#endif
