/* kiln: jobs and the worker pool that runs them.
 *
 * A job is one long operation (build, bake, deploy, rollback...) run by one of the
 * engine's worker threads, in the order submitted. While it runs it reports steps,
 * progress and log lines; the UI reads them through copies (kiln_job_info,
 * kiln_job_steps, the job's log ring) and is told of every change by the engine's
 * notify hook, so it never waits for a worker and a worker never waits for it.
 *
 * Cancelling is cooperative: kiln_job_cancel asks, a queued job then never runs, and
 * a running job notices with kiln_job_cancelled() or kiln_job_check_cancel() and
 * returns.
 *
 * Jobs are reference counted (kiln_job_ref / kiln_job_unref); the engine keeps its
 * own references to queued and running jobs and to the last few finished ones (see
 * kiln_engine_set_retain), so the Jobs view can list them.
 */
#ifndef KILN_JOB_H
#define KILN_JOB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/err.h"
#include "kiln/logring.h"

enum kiln_job_state {
    KILN_JOB_QUEUED,
    KILN_JOB_RUNNING,
    KILN_JOB_SUCCEEDED,
    KILN_JOB_FAILED,
    KILN_JOB_CANCELLED,
};

/* "queued", "running", "succeeded", "failed", "cancelled"; "unknown" otherwise. */
const char *kiln_job_state_name(enum kiln_job_state state);

/* True for succeeded, failed and cancelled: the states nothing leaves. */
bool kiln_job_state_finished(enum kiln_job_state state);

struct kiln_job;
struct kiln_engine;

/* Runs on a worker thread. Returns 0 when the work is done, or -1 with err filled.
 * A job that returns -1 after kiln_job_cancel was called, or with err->code
 * KILN_E_CANCELLED, ends CANCELLED rather than FAILED. A job that returns 0 ends
 * SUCCEEDED even if a cancel came in too late to stop it. */
typedef int (*kiln_job_fn)(struct kiln_job *job, void *arg, struct kiln_err *err);

/* Called whenever a job is submitted or changes state, step, progress, log or cancel
 * request, on whichever thread made the change (mostly workers), with no kiln lock
 * held. It must be cheap and must not block: kiln_wake_signal is the intended body.
 * `job` is borrowed for the call. */
typedef void (*kiln_engine_notify_fn)(struct kiln_job *job, void *ctx);

/* ---- the engine ---- */

/* Finished jobs the engine keeps for the Jobs view unless told otherwise. */
#define KILN_ENGINE_RETAIN_DEFAULT 256

/* Starts `workers` threads (at least 1). Each job gets a log ring of `log_capacity`
 * lines (at least 1). Worker threads block all signals, so signals go to the UI
 * thread. Free the engine with kiln_engine_free. */
struct kiln_engine *kiln_engine_new(int workers, size_t log_capacity, struct kiln_err *err);

/* Sets the hook told of every change. Only before the first submit (KILN_E_BUSY
 * afterwards), so workers read it without a lock. */
int kiln_engine_set_notify(struct kiln_engine *engine, kiln_engine_notify_fn fn, void *ctx,
                           struct kiln_err *err);

/* Makes the next job's id `id` (default: 1), e.g. to continue the numbering of a
 * previous session. Ids only grow: an id at or below one already given out is
 * refused (KILN_E_INVALID). */
int kiln_engine_set_next_id(struct kiln_engine *engine, uint64_t id, struct kiln_err *err);

/* How many finished jobs the engine keeps (oldest finished forgotten first); SIZE_MAX
 * for all. A forgotten job lives on for whoever still holds a reference, but
 * kiln_engine_find and kiln_engine_list no longer return it. */
void kiln_engine_set_retain(struct kiln_engine *engine, size_t max_finished);

/* Queues fn(job, arg, err) and returns the job with a reference for the caller, who
 * must kiln_job_unref it. `kind` (e.g. "deploy") and `target` (e.g.
 * "hello-world-test") are copied; kind is also the source of the job's log lines.
 * From here the job owns arg and calls free_arg(arg) (if not NULL) when the job is
 * destroyed. On failure (fn NULL: KILN_E_INVALID) returns NULL and arg stays the
 * caller's. Not to be called concurrently with kiln_engine_free. */
struct kiln_job *kiln_engine_submit(struct kiln_engine *engine, const char *kind,
                                    const char *target, kiln_job_fn fn, void *arg,
                                    void (*free_arg)(void *), struct kiln_err *err);

/* The job with this id, with a new reference for the caller, or NULL if the engine
 * has no such job (never had, or forgot it: see kiln_engine_set_retain). */
struct kiln_job *kiln_engine_find(struct kiln_engine *engine, uint64_t id);

/* Every job the engine holds, oldest id first, each with a new reference. The caller
 * frees the lot with kiln_job_list_free(*out, *n). *out is NULL when *n is 0. */
int kiln_engine_list(struct kiln_engine *engine, struct kiln_job ***out, size_t *n,
                     struct kiln_err *err);

/* Unrefs jobs[0..n) and frees the array. */
void kiln_job_list_free(struct kiln_job **jobs, size_t n);

/* Cancels every job, waits for running ones to return (they must check
 * kiln_job_cancelled), joins the workers and drops the engine's references. Jobs the
 * caller still holds stay readable; they no longer call the notify hook. NULL is a
 * no-op. */
void kiln_engine_free(struct kiln_engine *engine);

/* ---- a job, from outside ---- */

/* Both return `job`'s new / dropped reference; the last unref destroys the job. */
struct kiln_job *kiln_job_ref(struct kiln_job *job);
void kiln_job_unref(struct kiln_job *job);

/* Fixed at submit, so read without a lock. Strings live as long as the job. */
uint64_t kiln_job_id(const struct kiln_job *job);
const char *kiln_job_kind(const struct kiln_job *job);
const char *kiln_job_target(const struct kiln_job *job);

#define KILN_JOB_STEP_NAME_MAX 64

struct kiln_job_step {
    char name[KILN_JOB_STEP_NAME_MAX];
    enum kiln_job_state state; /* RUNNING, or how it ended */
    int64_t started_us;        /* CLOCK_REALTIME µs */
    int64_t finished_us;       /* 0 while running */
};

/* A snapshot of a job, copied under its lock. */
struct kiln_job_info {
    uint64_t id;
    const char *kind; /* the job's own strings: valid while you hold a reference */
    const char *target;
    enum kiln_job_state state;
    bool cancel_requested;
    int progress_done;
    int progress_total;
    size_t step_count;
    char step[KILN_JOB_STEP_NAME_MAX]; /* the latest step's name, "" before the first */
    enum kiln_job_state step_state;    /* and its state (QUEUED before the first) */
    int64_t created_us;                /* CLOCK_REALTIME µs; 0 for what has not happened */
    int64_t started_us;
    int64_t finished_us;
    struct kiln_err err; /* why it failed or was cancelled; code KILN_OK otherwise */
};

void kiln_job_info(struct kiln_job *job, struct kiln_job_info *out);

/* Copies the first min(max, count) steps into out and returns the count, so a caller
 * can size its buffer and ask again. */
size_t kiln_job_steps(struct kiln_job *job, struct kiln_job_step *out, size_t max);

/* The arg given at submit (fixed, read without a lock); the job owns it. For the
 * submitter, who knows its type, to read results the job left there once finished. */
void *kiln_job_arg(const struct kiln_job *job);

/* The job's log, for reading, or for appending lines with a source of their own
 * (e.g. "rpmbuild" output). Lives as long as the job. */
struct kiln_logring *kiln_job_logring(struct kiln_job *job);

/* Asks the job to stop. A queued job ends CANCELLED at once without running; a
 * running one ends when it notices. Does nothing to a finished job. */
void kiln_job_cancel(struct kiln_job *job);

/* Blocks until the job has finished and returns its final state. */
enum kiln_job_state kiln_job_wait(struct kiln_job *job);

/* ---- a job, from inside its kiln_job_fn ---- */

/* Starts a step named `name` (cut to KILN_JOB_STEP_NAME_MAX - 1 bytes); a step
 * still running is ended as succeeded first. */
void kiln_job_step_begin(struct kiln_job *job, const char *name);

/* Ends the running step as `state` (SUCCEEDED, FAILED or CANCELLED; other states
 * are ignored). When the job returns, a step still running ends as the job did. */
void kiln_job_step_end(struct kiln_job *job, enum kiln_job_state state);

/* Reports `done` of `total` units (instances healthy, files copied...). */
void kiln_job_progress(struct kiln_job *job, int done, int total);

/* Appends a line to the job's log with the job's kind as its source. */
void kiln_job_log(struct kiln_job *job, enum kiln_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* True once kiln_job_cancel was called. Cheap: check it between steps and in loops. */
bool kiln_job_cancelled(const struct kiln_job *job);

/* 0 if the job may go on; -1 with err set to KILN_E_CANCELLED if it was cancelled, so
 * a job function can write `if (kiln_job_check_cancel(job, err) < 0) return -1;`. */
int kiln_job_check_cancel(const struct kiln_job *job, struct kiln_err *err);

#endif
