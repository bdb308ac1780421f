/* kiln: the names of apps, envs, clusters and server groups, and the ids of
 * instances, images and packages.
 *
 * A server group is named app-env-vNNN (hello-world-test-v003). Apps may contain
 * dashes and envs may not, so a group name parses from the right: the last part is
 * the version, the one before it the env, the rest the app. The validators below
 * refuse the names that would make that, or a cluster name app-env, ambiguous.
 *
 * Every validator returns 0 or -1 and fills err with a sentence that quotes the bad
 * value safely (see kiln_name_quote) and states the rule.
 */
#ifndef KILN_NAMES_H
#define KILN_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "kiln/err.h"

#define KILN_APP_MAX       48
#define KILN_ENV_MAX       16
#define KILN_CLUSTER_MAX   (KILN_APP_MAX + 1 + KILN_ENV_MAX) /* app-env */
#define KILN_GROUP_MAX     (KILN_CLUSTER_MAX + 5)            /* app-env-vNNN */
#define KILN_VERSION_COUNT 1000                              /* v000 .. v999 */

/* Buffer sizes, with room for the NUL. */
#define KILN_APP_SIZE     (KILN_APP_MAX + 1)
#define KILN_ENV_SIZE     (KILN_ENV_MAX + 1)
#define KILN_CLUSTER_SIZE (KILN_CLUSTER_MAX + 1)
#define KILN_GROUP_SIZE   (KILN_GROUP_MAX + 1)

/* App: 1..48 of [a-z0-9-], starting with a letter; no leading, trailing or double
 * dash; no dash-separated part that looks like a version ("v" and three digits),
 * since "x-test-v001" would then be both an app and a server group of app x. */
int kiln_name_validate_app(const char *s, struct kiln_err *err);

/* Env: 1..16 of [a-z0-9], starting with a letter, no dash; not "v" and three digits,
 * since the cluster "x-v001" of app x would then read as a server group. */
int kiln_name_validate_env(const char *s, struct kiln_err *err);

struct kiln_group_name {
    char app[KILN_APP_SIZE];
    char env[KILN_ENV_SIZE];
    int version; /* 0..999 */
};

/* Parses "app-env-vNNN" from the right: exactly three digits, valid app and env. */
int kiln_group_name_parse(const char *s, struct kiln_group_name *out, struct kiln_err *err);

/* Write "app-env-vNNN" / "app-env" into buf. Return -1 (and write "") when app, env
 * or version is not valid, or when buf is too small, so that whatever they write
 * parses back; KILN_GROUP_SIZE / KILN_CLUSTER_SIZE are always big enough. */
int kiln_group_name_format(char *buf, size_t size, const char *app, const char *env, int version);
int kiln_cluster_name_format(char *buf, size_t size, const char *app, const char *env);

/* The version for a cluster's next server group (Spinnaker's rule): one after the
 * newest group's version (the most recently created, -1 for an empty cluster),
 * modulo 1000, skipping versions in use; v000 for an empty cluster. in_use may be
 * NULL (nothing in use). Returns -1 when all 1000 are in use or newest is not in
 * -1..999. */
int kiln_version_next(int newest, const bool in_use[KILN_VERSION_COUNT]);

/* Instance ids: "i-" and 8 to 17 lower-case hex digits (local and AWS alike). */
int kiln_instance_id_validate(const char *s, struct kiln_err *err);

/* Image ids: "img-" and 12 lower-case hex digits (a local image, named after its
 * digest) or "ami-" and 8 to 17 (AWS). */
int kiln_image_id_validate(const char *s, struct kiln_err *err);

/* A package's name-version-release, optionally with .arch, as in
 * hello-world-1.0.3-1.x86_64: three non-empty dash-separated parts (the name may
 * itself contain dashes) of letters, digits and . _ + ~ ^, starting with a letter
 * or digit. Loose on purpose (rpm's own rules are looser still); what it guarantees
 * is that the value is safe as one argv word or path component: no slash, space,
 * shell metacharacter or leading dash. */
int kiln_package_nvr_validate(const char *s, struct kiln_err *err);

/* Quoting untrusted text for messages. */

/* Room for any kiln_name_quote result. */
#define KILN_QUOTE_SIZE 256

/* Writes s into buf in double quotes, fit for a one-line message on a terminal:
 * valid UTF-8 stays as it is, while control characters, invisible or bidi
 * formatting characters and bytes that are not UTF-8 become \n, \xNN or \u{NNNN},
 * and " and \ are escaped. Long values are cut after 60 characters, shown as
 * "abc..." (N bytes). NULL is written as (null). Returns buf. */
const char *kiln_name_quote(const char *s, char *buf, size_t size);

/* True when s is valid UTF-8 with no character kiln_name_quote would escape
 * (other than " and \): text that is safe to print as it is. */
bool kiln_text_printable(const char *s);

/* Makes s printable in place (so that kiln_text_printable(s) holds): each control
 * character, invisible or direction-changing character and invalid UTF-8 byte becomes
 * '?'. For text from outside (an API's error message) that reaches a terminal. */
void kiln_text_sanitize(char *s);

#endif
