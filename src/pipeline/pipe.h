/* kiln: what the pipeline's jobs share (private to src/pipeline): the running job's
 * context, journaled steps, the cluster lock, waiting on the cloud. */
#ifndef KILN_PIPELINE_PIPE_H
#define KILN_PIPELINE_PIPE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kiln/config.h"
#include "kiln/err.h"
#include "kiln/job.h"
#include "kiln/journal.h"
#include "kiln/model.h"
#include "kiln/paths.h"
#include "kiln/provider.h"

struct cJSON;
struct kiln_ctx;

enum pipe_mode { PIPE_RUN, PIPE_RESUME, PIPE_ABORT };

/* One pipeline job: owned by the engine's job (its arg). */
struct pipe {
    struct kiln_ctx *ctx; /* paths, config, options: read-only while jobs run */
    char kind[24];
    char target[96];
    enum pipe_mode mode;
    uint64_t id; /* the journal's id: what users see */
    struct cJSON *args;
    struct cJSON *data;   /* what the steps found and made, merged; journaled */
    struct cJSON *result; /* what the job reports when it succeeds */

    /* set while running, on the worker */
    struct kiln_job *job;
    struct kiln_provider *prov;
    struct kiln_journal *journal;
    FILE *logf; /* journal/<id>.log */
    struct kiln_lock_owner owner;
    char owner_user[320], owner_host[256];
    bool locked;
    char locked_cluster[96];
    /* A job run inside another (an abort by --take-over) shares that job's lock. */
    char inherited_lock[96];
    /* Set when the job could not put the cluster back after a failure: it ends
     * interrupted, so `kiln abort` can, instead of failed. */
    bool interrupted;
};

/* The body of a kind of job. */
typedef int (*pipe_fn)(struct pipe *pp, struct kiln_err *err);

int pipe_build(struct pipe *pp, struct kiln_err *err);
int pipe_bake(struct pipe *pp, struct kiln_err *err);
int pipe_deploy(struct pipe *pp, struct kiln_err *err);
int pipe_deploy_abort(struct pipe *pp, struct kiln_err *err);
int pipe_rollback(struct pipe *pp, struct kiln_err *err);
int pipe_rollback_abort(struct pipe *pp, struct kiln_err *err);
int pipe_promote(struct pipe *pp, struct kiln_err *err);
int pipe_group_op(struct pipe *pp, struct kiln_err *err);
int pipe_try(struct pipe *pp, struct kiln_err *err);
int pipe_base_build(struct pipe *pp, struct kiln_err *err);

/* After a step failed once the job's group may take traffic: runs undo at once (the
 * cluster goes back as it was, rather than a job that says failed and cannot be
 * aborted while its group serves). Cut off from the cloud (KILN_E_IO) nothing can be
 * undone now: the job ends interrupted and `kiln abort` undoes it later; so it does
 * when undo fails. Returns -1, err still the step's failure. */
int pipe_undo_after_failure(struct pipe *pp, pipe_fn undo, struct kiln_err *err);

/* The abort of a kind of job, NULL when the kind has none. */
pipe_fn pipe_kind_abort(const char *kind);
/* Puts what journal j's completed steps found into pp->data. */
void pipe_merge_journal_data(struct pipe *pp, struct kiln_journal *j);
/* Appends the job's line to the audit history. */
void pipe_append_history(struct pipe *pp, const char *result, int64_t took_ms, const char *detail);

/* Refuses a new mutation of `cluster` while one of its jobs is interrupted (naming
 * it, its step, and kiln resume / kiln abort), unless the job's "take_over" argument
 * names that job: then it is aborted first, inside this job (takeover.c). */
int pipe_check_interrupted(struct pipe *pp, const char *cluster, struct kiln_err *err);

/* The build and bake steps, shared by the build/bake jobs and deploy: they put
 * "package" / "image" into out. */
int pipe_build_into(struct pipe *pp, struct cJSON *out, struct kiln_err *err);
int pipe_bake_into(struct pipe *pp, struct cJSON *out, struct kiln_err *err);

/* Logs a line to the job's log and its file. */
void pipe_log(struct pipe *pp, enum kiln_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Runs step `name` once: skipped when the journal says it completed (its data merged
 * back into pp->data), else journaled before and after. `fn` may add to `out`, which
 * is merged into pp->data and journaled with the step. */
typedef int (*pipe_step_fn)(struct pipe *pp, struct cJSON *out, struct kiln_err *err);
int pipe_step(struct pipe *pp, const char *name, pipe_step_fn fn, struct kiln_err *err);

/* Whether step `name` completed (in this run or an earlier one). */
bool pipe_step_done(struct pipe *pp, const char *name);
/* Whether step `name` began (it may or may not have taken effect). */
bool pipe_step_started(struct pipe *pp, const char *name);

/* The cluster lock for the job's whole run (the provider's: seen by every console). */
int pipe_lock(struct pipe *pp, const char *cluster, struct kiln_err *err);
void pipe_unlock(struct pipe *pp);

/* Reads from args or data; NULL / dflt when absent. */
const char *pipe_str(struct pipe *pp, const char *key);
long long pipe_int(struct pipe *pp, const char *key, long long dflt);

/* A fresh inventory (the caller releases it). */
int pipe_inventory(struct pipe *pp, const struct kiln_snapshot **out, struct kiln_err *err);

/* Waits until group `name` has `want` instances running and healthy (and, with
 * in_service, in service behind the load balancer), reporting n/N as the job's
 * progress. On timeout: KILN_E_TIMEOUT naming the instances that are not and what
 * their health checks saw. */
int pipe_wait_group(struct pipe *pp, const char *name, int want, bool in_service,
                    int64_t timeout_ms, struct kiln_err *err);

/* Test hook: KILN_TEST_KILL_AT=kind:step:before|after makes kiln SIGKILL itself
 * there, so tests can prove that every step boundary is resumable. */
void pipe_test_kill_point(struct pipe *pp, const char *step, const char *phase);
/* Test hook: KILN_TEST_FAIL_AT=kind:step makes that step fail without running, so
 * tests can prove that a failure at every step leaves the cluster as it was. */
bool pipe_test_fail_point(struct pipe *pp, const char *step, struct kiln_err *err);

#endif
