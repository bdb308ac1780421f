/* kiln: the pipeline. Build, bake, deploy (red-black), rollback, promote and the group
 * operations, each a job run by the engine's workers as a journaled state machine of
 * idempotent steps: every step is written to the journal before and after it runs, so
 * a kiln killed at any point leaves a job that `kiln resume` finishes and `kiln abort`
 * undoes. */
#ifndef KILN_PIPELINE_H
#define KILN_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "kiln/err.h"

struct cJSON;
struct kiln_ctx;
struct kiln_job;

/* The kinds of job, and what each takes in `args` (the command's options as JSON):
 *   build    app, source, version
 *   bake     app, package
 *   deploy   app, env, image | package | source, instance_type, min, max, desired,
 *            health_timeout_ms
 *   rollback app, env, to
 *   promote  app, from, to, (min, max, desired, health_timeout_ms)
 *   resize   group, min, max, desired
 *   enable / disable / destroy   group
 *   terminate instance, decrement
 *   base-build base (a name), packages (an array): runs on this machine, with no provider
 */

/* Starts a job of `kind` on ctx->engine (made on first use), journaled under a new
 * id. Takes `args`. Returns the job (a reference, also kept in ctx->last_job) or NULL
 * with err. */
struct kiln_job *kiln_pipeline_submit(struct kiln_ctx *ctx, const char *kind, struct cJSON *args,
                                      struct kiln_err *err);

/* Continues an interrupted job from its journal: steps that completed are skipped. */
struct kiln_job *kiln_pipeline_resume(struct kiln_ctx *ctx, uint64_t id, struct kiln_err *err);

/* Undoes an interrupted job: the cluster goes back to how it was before the job
 * (exactly one enabled group as before, no group or instance the job made). */
struct kiln_job *kiln_pipeline_abort(struct kiln_ctx *ctx, uint64_t id, struct kiln_err *err);

/* The CLI's way to run a job: submit, then (unless ctx->detach_jobs) stream its log
 * to ctx->msg until it ends. Returns 0 when it succeeded, else -1 with its error.
 * On success *result (may be NULL) is the job's result object (the caller's). */
int kiln_pipeline_run(struct kiln_ctx *ctx, struct kiln_job *job, struct cJSON **result,
                      struct kiln_err *err);

/* What a finished job produced (e.g. {"group": "hello-world-test-v004"}); a new object
 * the caller deletes, or NULL. */
struct cJSON *kiln_pipeline_result(struct kiln_job *job);

/* Whether the journal's job is still being run by a live process. */
bool kiln_pipeline_job_alive(const struct cJSON *journal_json);

#endif
