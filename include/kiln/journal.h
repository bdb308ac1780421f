/* kiln: each job's record of its steps, so a killed kiln can resume or clean up.
 *
 * One file per job, <dir>/<id>.json, rewritten whole with kiln_atomic_write on
 * every record, so it is always either the previous or the new version:
 *
 *     {"job": 12, "kind": "deploy", "target": "hello-world-test",
 *      "user": "ana@build1", "created": "2026-11-26T05:16:08.120Z",
 *      "updated": "...", "state": "running", "args": {...},
 *      "steps": [{"name": "create-group", "phase": "before",
 *                 "time": "...", "data": {"group": "hello-world-test-v004"}},
 *                {"name": "create-group", "phase": "after", "result": "ok",
 *                 "time": "...", "data": {...}}]}
 *
 * A pipeline records "before" a step (with what it is about to do, e.g. the
 * group it will create, so a crash mid-step can still be cleaned up) and
 * "after" it (with the result). A struct kiln_journal belongs to one thread at a
 * time; other processes may list and load the files meanwhile.
 */
#ifndef KILN_JOURNAL_H
#define KILN_JOURNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/err.h"

struct kiln_journal;

/* Journal files are small; anything larger is not one of ours. */
#define KILN_JOURNAL_MAX_BYTES (16u * 1024 * 1024)

/* Starts the record of job `id` in dir (created if missing), in state
 * "running". args is a JSON object of the job's arguments, or NULL; it is copied,
 * the caller keeps it. Fails with KILN_E_EXISTS if the job already has a record.
 * The caller frees the result with kiln_journal_free(). */
struct kiln_journal *kiln_journal_create(const char *dir, uint64_t id, const char *kind,
                                         const char *target, const cJSON *args,
                                         struct kiln_err *err);

/* Records that step `name` is about to run, and writes the file. data is any
 * JSON value or NULL; it is copied. If the write fails the step stays recorded
 * in memory and goes to disk with the next successful record. */
int kiln_journal_step_before(struct kiln_journal *j, const char *name, const cJSON *data,
                             struct kiln_err *err);

/* Records that step `name` has ended with `result` ("ok", "failed", ...), and
 * writes the file. data as for kiln_journal_step_before. */
int kiln_journal_step_after(struct kiln_journal *j, const char *name, const char *result,
                            const cJSON *data, struct kiln_err *err);

/* Sets the job's state ("succeeded", "failed", "cancelled", "interrupted", ...),
 * stamps "finished" and writes the file. */
/* Records which process runs the job now (pid and its start time, see
 * kiln_proc_start_ticks), so another kiln can tell a running job from an interrupted one. */
int kiln_journal_set_owner(struct kiln_journal *j, int pid, unsigned long long pid_start,
                           struct kiln_err *err);
int kiln_journal_finish(struct kiln_journal *j, const char *state, struct kiln_err *err);

/* Reads <dir>/<id>.json. A missing file fails with KILN_E_NOTFOUND, a damaged
 * one with KILN_E_INVALID and a message naming the file. The result can go on
 * recording (that is how a job resumes); free it with kiln_journal_free(). */
struct kiln_journal *kiln_journal_load(const char *dir, uint64_t id, struct kiln_err *err);

void kiln_journal_free(struct kiln_journal *j);

/* Deletes the job's file (e.g. once the user has dismissed a finished job). */
int kiln_journal_remove(const char *dir, uint64_t id, struct kiln_err *err);

/* The id after the highest one with a file in dir (1 if none), so a new kiln
 * does not reuse an old job's number. A missing dir gives 1. */
int kiln_journal_next_id(const char *dir, uint64_t *id, struct kiln_err *err);

/* Everything below reads the journal in memory. Strings and JSON returned
 * belong to the journal and are valid until its next record or its free. */
uint64_t kiln_journal_id(const struct kiln_journal *j);
const char *kiln_journal_path(const struct kiln_journal *j);
const char *kiln_journal_kind(const struct kiln_journal *j);
const char *kiln_journal_target(const struct kiln_journal *j);
const char *kiln_journal_user(const struct kiln_journal *j);
const char *kiln_journal_created(const struct kiln_journal *j);
const char *kiln_journal_state(const struct kiln_journal *j);
const cJSON *kiln_journal_args(const struct kiln_journal *j);
/* The whole record, e.g. for `kiln jobs --json`. */
const cJSON *kiln_journal_json(const struct kiln_journal *j);

struct kiln_journal_step {
    const char *name;
    const char *phase;  /* "before" or "after" */
    const char *result; /* NULL for "before" */
    const char *time;
    const cJSON *data; /* NULL if none */
};

size_t kiln_journal_step_count(const struct kiln_journal *j);

/* Fills *out with the i-th record (oldest first); false if there is none. */
bool kiln_journal_step_at(const struct kiln_journal *j, size_t i, struct kiln_journal_step *out);

/* Where a resumed job picks up: fills *out with the last record and sets
 * *completed to whether it is an "after" (the step ended, see its result) rather
 * than a "before" (the step was running when kiln stopped: it may or may not
 * have taken effect, so redo it or undo it). False if no step was recorded. */
bool kiln_journal_last_step(const struct kiln_journal *j, struct kiln_journal_step *out,
                            bool *completed);

/* The last record of step `name` with this phase (NULL for either); false if
 * none, e.g. to fetch the group a "create-group" step recorded. */
bool kiln_journal_find_step(const struct kiln_journal *j, const char *name, const char *phase,
                            struct kiln_journal_step *out);

struct kiln_journal_list {
    struct kiln_journal **jobs; /* sorted by id */
    size_t njobs;
    char **problems; /* one sentence per job file that could not be read */
    size_t nproblems;
};

/* Loads every job record in dir, skipping temporary files. A file that cannot
 * be read does not fail the list: it is described in problems. A missing dir is
 * an empty list. Free with kiln_journal_list_free(). */
int kiln_journal_list(const char *dir, struct kiln_journal_list *out, struct kiln_err *err);

void kiln_journal_list_free(struct kiln_journal_list *l);

#endif
