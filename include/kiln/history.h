/* kiln: the audit history, one JSON object per line in <state>/history.
 *
 *     {"time":"2026-11-26T05:16:08Z","user":"ana@build1","action":"deploy",
 *      "target":"hello-world-test","job":12,"result":"succeeded",
 *      "duration_ms":8123,"detail":"hello-world-test-v004 enabled"}
 *
 * Appends from several threads and processes interleave as whole lines. A line
 * torn by a crash is skipped (and counted) by the reader and never swallows the
 * next line.
 */
#ifndef KILN_HISTORY_H
#define KILN_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/err.h"

struct kiln_history_entry {
    const char *time;    /* UTC ISO-8601; NULL when appending means now */
    const char *user;    /* "user@host"; NULL when appending means kiln_user_at_host() */
    const char *action;  /* "deploy", "rollback", ...; required */
    const char *target;  /* "hello-world-test", ...; required, may be "" */
    uint64_t job;        /* the job's id; 0 for none */
    const char *result;  /* "succeeded", "failed", ...; required */
    int64_t duration_ms; /* negative for unknown */
    const char *detail;  /* NULL for none */
};

/* Appends one entry to the history file at path, creating it if need be, and
 * syncs it to disk. */
int kiln_history_append(const char *path, const struct kiln_history_entry *e, struct kiln_err *err);

/* Called with each entry in file order; e and its strings are valid only during
 * the call. Return true to go on, false to stop reading. */
typedef bool (*kiln_history_fn)(void *ctx, const struct kiln_history_entry *e);

/* Reads the history at path, oldest first. With target_prefix, only entries whose
 * target is target_prefix or starts with target_prefix followed by '-' (so
 * "hello-world" matches "hello-world-test-v004" but "hello" does not match
 * "helloworld-test"). Lines that are not whole, valid entries are skipped and
 * counted in *malformed (may be NULL). A missing file is an empty history. */
int kiln_history_read(const char *path, const char *target_prefix, kiln_history_fn fn, void *ctx,
                      size_t *malformed, struct kiln_err *err);

/* Room for "user@host" with the longest user and host names Linux allows. */
#define KILN_USER_AT_HOST_MAX 320

/* Writes "user@host" into buf: $USER, else the name of the effective uid, else
 * "uid<N>"; the host from gethostname(). Returns buf. */
char *kiln_user_at_host(char *buf, size_t n);

#endif
