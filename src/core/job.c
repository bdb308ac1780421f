/* kiln: jobs and the worker pool that runs them (see include/kiln/job.h).
 *
 * Locks: the engine's mutex guards its lists (held jobs, the queue, finished jobs);
 * each job's mutex guards what changes while it runs. When both are needed the
 * engine's is taken first; no kiln lock is held while a job function, a free_arg or
 * the notify hook runs.
 *
 * References: at submit a job has three: the caller's, the engine's list of held
 * jobs, and the queue's. Whoever takes a job off the queue (a worker, kiln_job_cancel
 * or kiln_engine_free) inherits the queue's reference and drops it once the job has
 * finished. The list's is dropped when the job is forgotten (see retire()) or when
 * the engine is freed.
 */
#include "kiln/job.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

struct kiln_job {
    atomic_long refs;
    atomic_bool cancel;

    /* Fixed once submitted. */
    uint64_t id;
    char *kind;
    char *target;
    kiln_job_fn fn;
    void *arg;
    void (*free_arg)(void *);
    struct kiln_engine *engine;
    struct kiln_logring *log;
    int64_t created_us;

    pthread_mutex_t mu;
    pthread_cond_t finished_cv;
    /* Under mu. */
    enum kiln_job_state state;
    struct kiln_job_step *steps;
    size_t nsteps;
    size_t steps_cap;
    int done;
    int total;
    int64_t started_us;
    int64_t finished_us;
    struct kiln_err err;
    kiln_engine_notify_fn notify; /* cleared when the job finishes */
    void *notify_ctx;

    /* Under engine->mu. */
    bool queued;                  /* waiting in the queue */
    struct kiln_job *prev, *next; /* the engine's list of held jobs, in id order */
    struct kiln_job *q_prev, *q_next;
    struct kiln_job *fin_next; /* finished jobs still held, oldest first */
};

struct kiln_engine {
    pthread_mutex_t mu;
    pthread_cond_t work_cv;
    /* Under mu. */
    struct kiln_job *head, *tail;     /* held jobs */
    struct kiln_job *q_head, *q_tail; /* queue */
    struct kiln_job *fin_head, *fin_tail;
    size_t nheld;
    size_t nfinished;
    size_t retain;
    uint64_t next_id;
    bool submitted;
    bool stopping;

    /* Fixed once the first job is submitted. */
    kiln_engine_notify_fn notify;
    void *notify_ctx;
    size_t log_capacity;
    int nworkers;
    pthread_t *workers;
};

static const char *const state_names[] = {
    [KILN_JOB_QUEUED] = "queued",       [KILN_JOB_RUNNING] = "running",
    [KILN_JOB_SUCCEEDED] = "succeeded", [KILN_JOB_FAILED] = "failed",
    [KILN_JOB_CANCELLED] = "cancelled",
};

const char *kiln_job_state_name(enum kiln_job_state state)
{
    if ((unsigned)state < sizeof state_names / sizeof state_names[0])
        return state_names[state];
    return "unknown";
}

bool kiln_job_state_finished(enum kiln_job_state state)
{
    return state == KILN_JOB_SUCCEEDED || state == KILN_JOB_FAILED || state == KILN_JOB_CANCELLED;
}

/* ---- references ---- */

static void job_destroy(struct kiln_job *job)
{
    if (job->free_arg != NULL)
        job->free_arg(job->arg);
    kiln_logring_free(job->log);
    free(job->steps);
    free(job->kind);
    free(job->target);
    pthread_cond_destroy(&job->finished_cv);
    pthread_mutex_destroy(&job->mu);
    free(job);
}

struct kiln_job *kiln_job_ref(struct kiln_job *job)
{
    atomic_fetch_add_explicit(&job->refs, 1, memory_order_relaxed);
    return job;
}

void kiln_job_unref(struct kiln_job *job)
{
    if (job == NULL)
        return;
    if (atomic_fetch_sub_explicit(&job->refs, 1, memory_order_acq_rel) == 1)
        job_destroy(job);
}

void kiln_job_list_free(struct kiln_job **jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kiln_job_unref(jobs[i]);
    free(jobs);
}

/* ---- telling the UI ---- */

/* Releases job->mu, then calls the hook it saw while holding it. */
static void unlock_and_notify(struct kiln_job *job)
{
    kiln_engine_notify_fn fn = job->notify;
    void *ctx = job->notify_ctx;
    pthread_mutex_unlock(&job->mu);
    if (fn != NULL)
        fn(job, ctx);
}

static void log_changed(struct kiln_logring *ring, void *ctx)
{
    struct kiln_job *job = ctx;
    pthread_mutex_lock(&job->mu);
    unlock_and_notify(job);
}

/* ---- the engine's lists (all under engine->mu) ---- */

static void held_push(struct kiln_engine *eng, struct kiln_job *job)
{
    job->prev = eng->tail;
    job->next = NULL;
    if (eng->tail != NULL)
        eng->tail->next = job;
    else
        eng->head = job;
    eng->tail = job;
    eng->nheld++;
}

static void held_unlink(struct kiln_engine *eng, struct kiln_job *job)
{
    if (job->prev != NULL)
        job->prev->next = job->next;
    else
        eng->head = job->next;
    if (job->next != NULL)
        job->next->prev = job->prev;
    else
        eng->tail = job->prev;
    job->prev = job->next = NULL;
    eng->nheld--;
}

static void queue_push(struct kiln_engine *eng, struct kiln_job *job)
{
    job->q_prev = eng->q_tail;
    job->q_next = NULL;
    if (eng->q_tail != NULL)
        eng->q_tail->q_next = job;
    else
        eng->q_head = job;
    eng->q_tail = job;
    job->queued = true;
}

static void queue_unlink(struct kiln_engine *eng, struct kiln_job *job)
{
    if (job->q_prev != NULL)
        job->q_prev->q_next = job->q_next;
    else
        eng->q_head = job->q_next;
    if (job->q_next != NULL)
        job->q_next->q_prev = job->q_prev;
    else
        eng->q_tail = job->q_prev;
    job->q_prev = job->q_next = NULL;
    job->queued = false;
}

/* Forgets the oldest finished jobs beyond the retain limit and returns them chained
 * through fin_next; the caller drops their references after unlocking, since that
 * may run free_arg. */
static struct kiln_job *trim_finished(struct kiln_engine *eng)
{
    struct kiln_job *forgotten = NULL;
    while (eng->nfinished > eng->retain) {
        struct kiln_job *job = eng->fin_head;
        eng->fin_head = job->fin_next;
        if (eng->fin_head == NULL)
            eng->fin_tail = NULL;
        eng->nfinished--;
        held_unlink(eng, job);
        job->fin_next = forgotten;
        forgotten = job;
    }
    return forgotten;
}

static void unref_chain(struct kiln_job *job)
{
    while (job != NULL) {
        struct kiln_job *next = job->fin_next;
        kiln_job_unref(job);
        job = next;
    }
}

/* Puts a finishing job on the finished list, forgetting old ones if need be. */
static void retire(struct kiln_job *job)
{
    struct kiln_engine *eng = job->engine;
    pthread_mutex_lock(&eng->mu);
    job->fin_next = NULL;
    if (eng->fin_tail != NULL)
        eng->fin_tail->fin_next = job;
    else
        eng->fin_head = job;
    eng->fin_tail = job;
    eng->nfinished++;
    struct kiln_job *forgotten = trim_finished(eng);
    pthread_mutex_unlock(&eng->mu);
    unref_chain(forgotten);
}

/* ---- running ---- */

/* The caller holds a reference (the queue's), so retire() may drop the list's. */
static void finish(struct kiln_job *job, enum kiln_job_state state, const struct kiln_err *why)
{
    /* The reason goes into the log, and old jobs out of the engine's list, before the
     * state changes, so whoever wakes from kiln_job_wait finds both done. */
    if (state == KILN_JOB_FAILED)
        kiln_logring_append(job->log, KILN_LOG_ERROR, job->kind, why->msg);
    else if (state == KILN_JOB_CANCELLED)
        kiln_logring_append(job->log, KILN_LOG_WARN, job->kind, why->msg);
    retire(job);

    int64_t now = kiln_now_us();
    pthread_mutex_lock(&job->mu);
    job->state = state;
    job->finished_us = now;
    if (job->nsteps > 0 && job->steps[job->nsteps - 1].state == KILN_JOB_RUNNING) {
        job->steps[job->nsteps - 1].state = state;
        job->steps[job->nsteps - 1].finished_us = now;
    }
    if (state == KILN_JOB_SUCCEEDED)
        kiln_err_clear(&job->err);
    else
        job->err = *why;
    pthread_cond_broadcast(&job->finished_cv);
    kiln_engine_notify_fn fn = job->notify;
    void *ctx = job->notify_ctx;
    /* Nothing changes a finished job, and the hook's owner may go away with the
     * engine while callers still hold the job. */
    job->notify = NULL;
    pthread_mutex_unlock(&job->mu);
    if (fn != NULL)
        fn(job, ctx);
}

static void finish_unstarted(struct kiln_job *job)
{
    struct kiln_err err;
    kiln_err_set(&err, KILN_E_CANCELLED, "%s of %s was cancelled before it started", job->kind,
                 job->target);
    finish(job, KILN_JOB_CANCELLED, &err);
}

static void run(struct kiln_job *job)
{
    pthread_mutex_lock(&job->mu);
    if (atomic_load(&job->cancel)) {
        pthread_mutex_unlock(&job->mu);
        finish_unstarted(job);
        return;
    }
    job->state = KILN_JOB_RUNNING;
    job->started_us = kiln_now_us();
    unlock_and_notify(job);

    struct kiln_err err;
    kiln_err_clear(&err);
    int rc = job->fn(job, job->arg, &err);

    enum kiln_job_state state;
    if (rc == 0) {
        state = KILN_JOB_SUCCEEDED;
    } else if (err.code == KILN_E_CANCELLED || atomic_load(&job->cancel)) {
        state = KILN_JOB_CANCELLED;
        if (err.msg[0] == '\0')
            kiln_err_set(&err, KILN_E_CANCELLED, "%s of %s was cancelled", job->kind, job->target);
    } else {
        state = KILN_JOB_FAILED;
        if (err.msg[0] == '\0')
            kiln_err_set(&err, KILN_E_FAILED,
                         "%s of %s failed without saying why; its log may tell more", job->kind,
                         job->target);
        else if (err.code == KILN_OK)
            err.code = KILN_E_FAILED;
    }
    finish(job, state, &err);
}

static void *worker_main(void *arg)
{
    struct kiln_engine *eng = arg;
    for (;;) {
        pthread_mutex_lock(&eng->mu);
        while (!eng->stopping && eng->q_head == NULL)
            pthread_cond_wait(&eng->work_cv, &eng->mu);
        struct kiln_job *job = eng->q_head;
        if (job == NULL) {
            pthread_mutex_unlock(&eng->mu);
            return NULL;
        }
        queue_unlink(eng, job);
        pthread_mutex_unlock(&eng->mu);

        run(job);
        kiln_job_unref(job); /* the queue's reference, ours since we took the job */
    }
}

/* ---- the engine ---- */

struct kiln_engine *kiln_engine_new(int workers, size_t log_capacity, struct kiln_err *err)
{
    if (workers < 1) {
        kiln_err_set(err, KILN_E_INVALID, "the job engine needs at least one worker thread; got %d",
                     workers);
        return NULL;
    }
    /* Every job makes a ring of this size; make one now, so a bad size fails here
     * rather than at some later submit. */
    struct kiln_logring *probe = kiln_logring_new(log_capacity, err);
    if (probe == NULL) {
        kiln_err_prefix(err, "cannot start the job engine");
        return NULL;
    }
    kiln_logring_free(probe);
    struct kiln_engine *eng = xcalloc(1, sizeof *eng);
    pthread_mutex_init(&eng->mu, NULL);
    pthread_cond_init(&eng->work_cv, NULL);
    eng->retain = KILN_ENGINE_RETAIN_DEFAULT;
    eng->next_id = 1;
    eng->log_capacity = log_capacity;
    eng->workers = xcalloc((size_t)workers, sizeof *eng->workers);

    /* Threads inherit the creator's mask: blocking everything here leaves SIGINT,
     * SIGWINCH and friends to the UI thread, and keeps EINTR out of job code. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = 0;
    while (eng->nworkers < workers) {
        rc = pthread_create(&eng->workers[eng->nworkers], NULL, worker_main, eng);
        if (rc != 0)
            break;
        eng->nworkers++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (rc != 0) {
        kiln_err_sys(err, rc,
                     "cannot start job worker thread %d of %d; ask for fewer workers or "
                     "raise the process limit (ulimit -u)",
                     eng->nworkers + 1, workers);
        kiln_engine_free(eng);
        return NULL;
    }
    return eng;
}

int kiln_engine_set_notify(struct kiln_engine *engine, kiln_engine_notify_fn fn, void *ctx,
                           struct kiln_err *err)
{
    pthread_mutex_lock(&engine->mu);
    bool late = engine->submitted;
    if (!late) {
        engine->notify = fn;
        engine->notify_ctx = ctx;
    }
    pthread_mutex_unlock(&engine->mu);
    if (late)
        return kiln_err_set(err, KILN_E_BUSY,
                            "the job engine's notify hook can only be set before the first "
                            "job is submitted");
    return 0;
}

int kiln_engine_set_next_id(struct kiln_engine *engine, uint64_t id, struct kiln_err *err)
{
    pthread_mutex_lock(&engine->mu);
    uint64_t next = engine->next_id;
    bool ok = id >= next;
    if (ok)
        engine->next_id = id;
    pthread_mutex_unlock(&engine->mu);
    if (!ok)
        return kiln_err_set(err, KILN_E_INVALID,
                            "job ids only grow: cannot start numbering at %llu; use %llu or more",
                            (unsigned long long)id, (unsigned long long)next);
    return 0;
}

void kiln_engine_set_retain(struct kiln_engine *engine, size_t max_finished)
{
    pthread_mutex_lock(&engine->mu);
    engine->retain = max_finished;
    struct kiln_job *forgotten = trim_finished(engine);
    pthread_mutex_unlock(&engine->mu);
    unref_chain(forgotten);
}

struct kiln_job *kiln_engine_submit(struct kiln_engine *engine, const char *kind,
                                    const char *target, kiln_job_fn fn, void *arg,
                                    void (*free_arg)(void *), struct kiln_err *err)
{
    if (kind == NULL)
        kind = "job";
    if (target == NULL)
        target = "";
    if (fn == NULL) {
        kiln_err_set(err, KILN_E_INVALID, "cannot queue %s of %s: no job function was given", kind,
                     target);
        return NULL;
    }
    struct kiln_job *job = xcalloc(1, sizeof *job);
    atomic_init(&job->refs, 3);
    atomic_init(&job->cancel, false);
    job->kind = xstrdup(kind);
    job->target = xstrdup(target);
    job->fn = fn;
    job->arg = arg;
    job->free_arg = free_arg;
    job->engine = engine;
    job->log = kiln_logring_new(engine->log_capacity, NULL);
    job->created_us = kiln_now_us();
    job->state = KILN_JOB_QUEUED;
    pthread_mutex_init(&job->mu, NULL);
    pthread_cond_init(&job->finished_cv, NULL);
    kiln_logring_set_notify(job->log, log_changed, job);

    pthread_mutex_lock(&engine->mu);
    job->id = engine->next_id++;
    engine->submitted = true;
    job->notify = engine->notify;
    job->notify_ctx = engine->notify_ctx;
    held_push(engine, job);
    queue_push(engine, job);
    pthread_cond_signal(&engine->work_cv);
    pthread_mutex_unlock(&engine->mu);

    pthread_mutex_lock(&job->mu);
    unlock_and_notify(job);
    return job;
}

struct kiln_job *kiln_engine_find(struct kiln_engine *engine, uint64_t id)
{
    struct kiln_job *found = NULL;
    pthread_mutex_lock(&engine->mu);
    /* From the newest: the jobs people look up are mostly recent ones. */
    for (struct kiln_job *job = engine->tail; job != NULL; job = job->prev) {
        if (job->id == id) {
            found = kiln_job_ref(job);
            break;
        }
        if (job->id < id)
            break;
    }
    pthread_mutex_unlock(&engine->mu);
    return found;
}

int kiln_engine_list(struct kiln_engine *engine, struct kiln_job ***out, size_t *n,
                     struct kiln_err *err)
{
    pthread_mutex_lock(&engine->mu);
    size_t count = engine->nheld;
    struct kiln_job **jobs = NULL;
    if (count > 0) {
        jobs = xcalloc(count, sizeof *jobs);
        size_t i = 0;
        for (struct kiln_job *job = engine->head; job != NULL; job = job->next)
            jobs[i++] = kiln_job_ref(job);
    }
    pthread_mutex_unlock(&engine->mu);
    *out = jobs;
    *n = count;
    return 0;
}

void kiln_engine_free(struct kiln_engine *engine)
{
    if (engine == NULL)
        return;
    pthread_mutex_lock(&engine->mu);
    engine->stopping = true;
    for (struct kiln_job *job = engine->head; job != NULL; job = job->next)
        atomic_store(&job->cancel, true);
    struct kiln_job *unstarted = engine->q_head;
    for (struct kiln_job *job = unstarted; job != NULL; job = job->q_next)
        job->queued = false;
    engine->q_head = engine->q_tail = NULL;
    pthread_cond_broadcast(&engine->work_cv);
    pthread_mutex_unlock(&engine->mu);

    while (unstarted != NULL) {
        struct kiln_job *next = unstarted->q_next;
        unstarted->q_prev = unstarted->q_next = NULL;
        finish_unstarted(unstarted);
        kiln_job_unref(unstarted); /* the queue's reference */
        unstarted = next;
    }
    for (int i = 0; i < engine->nworkers; i++)
        pthread_join(engine->workers[i], NULL);

    /* Every job has finished and no thread of ours is left, so the list is ours. */
    struct kiln_job *job = engine->head;
    while (job != NULL) {
        struct kiln_job *next = job->next;
        kiln_job_unref(job);
        job = next;
    }
    free(engine->workers);
    pthread_cond_destroy(&engine->work_cv);
    pthread_mutex_destroy(&engine->mu);
    free(engine);
}

/* ---- a job, from outside ---- */

uint64_t kiln_job_id(const struct kiln_job *job)
{
    return job->id;
}

const char *kiln_job_kind(const struct kiln_job *job)
{
    return job->kind;
}

const char *kiln_job_target(const struct kiln_job *job)
{
    return job->target;
}

struct kiln_logring *kiln_job_logring(struct kiln_job *job)
{
    return job->log;
}

void kiln_job_info(struct kiln_job *job, struct kiln_job_info *out)
{
    out->id = job->id;
    out->kind = job->kind;
    out->target = job->target;
    out->created_us = job->created_us;
    pthread_mutex_lock(&job->mu);
    out->state = job->state;
    out->cancel_requested = atomic_load(&job->cancel);
    out->progress_done = job->done;
    out->progress_total = job->total;
    out->step_count = job->nsteps;
    if (job->nsteps > 0) {
        const struct kiln_job_step *last = &job->steps[job->nsteps - 1];
        memcpy(out->step, last->name, sizeof out->step);
        out->step_state = last->state;
    } else {
        out->step[0] = '\0';
        out->step_state = KILN_JOB_QUEUED;
    }
    out->started_us = job->started_us;
    out->finished_us = job->finished_us;
    out->err = job->err;
    pthread_mutex_unlock(&job->mu);
}

size_t kiln_job_steps(struct kiln_job *job, struct kiln_job_step *out, size_t max)
{
    pthread_mutex_lock(&job->mu);
    size_t n = job->nsteps;
    if (max > 0 && n > 0)
        memcpy(out, job->steps, (n < max ? n : max) * sizeof *out);
    pthread_mutex_unlock(&job->mu);
    return n;
}

void kiln_job_cancel(struct kiln_job *job)
{
    pthread_mutex_lock(&job->mu);
    enum kiln_job_state state = job->state;
    if (kiln_job_state_finished(state) || atomic_exchange(&job->cancel, true)) {
        pthread_mutex_unlock(&job->mu);
        return;
    }
    pthread_mutex_unlock(&job->mu);

    if (state == KILN_JOB_QUEUED) {
        struct kiln_engine *eng = job->engine;
        pthread_mutex_lock(&eng->mu);
        bool took = job->queued;
        if (took)
            queue_unlink(eng, job);
        pthread_mutex_unlock(&eng->mu);
        if (took) {
            finish_unstarted(job);
            kiln_job_unref(job); /* the queue's reference */
            return;
        }
        /* A worker took it first; it will see the flag before it runs the job. */
    }
    /* Running: the UI may want to show that a cancel is pending. */
    pthread_mutex_lock(&job->mu);
    unlock_and_notify(job);
}

enum kiln_job_state kiln_job_wait(struct kiln_job *job)
{
    pthread_mutex_lock(&job->mu);
    while (!kiln_job_state_finished(job->state))
        pthread_cond_wait(&job->finished_cv, &job->mu);
    enum kiln_job_state state = job->state;
    pthread_mutex_unlock(&job->mu);
    return state;
}

/* ---- a job, from inside ---- */

void kiln_job_step_begin(struct kiln_job *job, const char *name)
{
    int64_t now = kiln_now_us();
    pthread_mutex_lock(&job->mu);
    if (job->nsteps > 0 && job->steps[job->nsteps - 1].state == KILN_JOB_RUNNING) {
        job->steps[job->nsteps - 1].state = KILN_JOB_SUCCEEDED;
        job->steps[job->nsteps - 1].finished_us = now;
    }
    if (job->nsteps == job->steps_cap) {
        job->steps_cap = job->steps_cap ? job->steps_cap * 2 : 8;
        job->steps = xrealloc(job->steps, job->steps_cap * sizeof *job->steps);
    }
    struct kiln_job_step *step = &job->steps[job->nsteps++];
    snprintf(step->name, sizeof step->name, "%s", name);
    step->state = KILN_JOB_RUNNING;
    step->started_us = now;
    step->finished_us = 0;
    unlock_and_notify(job);
}

void kiln_job_step_end(struct kiln_job *job, enum kiln_job_state state)
{
    if (!kiln_job_state_finished(state))
        return;
    int64_t now = kiln_now_us();
    pthread_mutex_lock(&job->mu);
    if (job->nsteps == 0 || job->steps[job->nsteps - 1].state != KILN_JOB_RUNNING) {
        pthread_mutex_unlock(&job->mu);
        return;
    }
    job->steps[job->nsteps - 1].state = state;
    job->steps[job->nsteps - 1].finished_us = now;
    unlock_and_notify(job);
}

void kiln_job_progress(struct kiln_job *job, int done, int total)
{
    pthread_mutex_lock(&job->mu);
    job->done = done;
    job->total = total;
    unlock_and_notify(job);
}

void kiln_job_log(struct kiln_job *job, enum kiln_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_logring_appendv(job->log, level, job->kind, fmt, ap);
    va_end(ap);
}

bool kiln_job_cancelled(const struct kiln_job *job)
{
    return atomic_load(&job->cancel);
}

int kiln_job_check_cancel(const struct kiln_job *job, struct kiln_err *err)
{
    if (!atomic_load(&job->cancel))
        return 0;
    return kiln_err_set(err, KILN_E_CANCELLED, "%s of %s was cancelled", job->kind, job->target);
}

void *kiln_job_arg(const struct kiln_job *job)
{
    return job->arg;
}
