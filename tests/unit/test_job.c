/* Unit tests for src/core/job.c: bookkeeping, failure, cancellation (queued and
 * running), the notify hook, ids, retention, 10,000 jobs on 8 workers with a UI
 * thread reading alongside, and freeing an engine with jobs still running. */
#include "kiln/job.h"
#include "kiln/timeutil.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kiln/wake.h"
#include "tap.h"

/* Nothing here waits on a timer to decide pass or fail; a generous alarm only turns
 * a hang (a lost wake-up, a job nobody cancels) into a failure. */
#define HANG_SECONDS 600

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* A gate lets the test and a job take turns: each waits for the other's stage. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stage;
};

static void gate_init(struct gate *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->stage = 0;
}

static void gate_destroy(struct gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static void gate_set(struct gate *g, int stage)
{
    pthread_mutex_lock(&g->mu);
    g->stage = stage;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void gate_wait(struct gate *g, int stage)
{
    pthread_mutex_lock(&g->mu);
    while (g->stage < stage)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static struct kiln_engine *engine(int workers, size_t log_capacity)
{
    struct kiln_err err;
    struct kiln_engine *eng = kiln_engine_new(workers, log_capacity, &err);
    if (eng == NULL) {
        diag("engine: %s", err.msg);
        exit(1);
    }
    return eng;
}

static struct kiln_job *submit(struct kiln_engine *eng, const char *kind, const char *target,
                               kiln_job_fn fn, void *arg)
{
    struct kiln_err err;
    struct kiln_job *job = kiln_engine_submit(eng, kind, target, fn, arg, NULL, &err);
    if (job == NULL) {
        diag("submit: %s", err.msg);
        exit(1);
    }
    return job;
}

static int quick_job(struct kiln_job *job, void *arg, struct kiln_err *err)
{
    return 0;
}

static void test_names(void)
{
    is_str(kiln_job_state_name(KILN_JOB_QUEUED), "queued", "queued's name");
    is_str(kiln_job_state_name(KILN_JOB_RUNNING), "running", "running's name");
    is_str(kiln_job_state_name(KILN_JOB_SUCCEEDED), "succeeded", "succeeded's name");
    is_str(kiln_job_state_name(KILN_JOB_FAILED), "failed", "failed's name");
    is_str(kiln_job_state_name(KILN_JOB_CANCELLED), "cancelled", "cancelled's name");
    is_str(kiln_job_state_name((enum kiln_job_state)99), "unknown", "an unknown state");
    ok_got(!kiln_job_state_finished(KILN_JOB_QUEUED) && !kiln_job_state_finished(KILN_JOB_RUNNING),
           ("queued %d, running %d", kiln_job_state_finished(KILN_JOB_QUEUED),
            kiln_job_state_finished(KILN_JOB_RUNNING)),
           "queued and running are not finished");
    ok_got(kiln_job_state_finished(KILN_JOB_SUCCEEDED) &&
               kiln_job_state_finished(KILN_JOB_FAILED) &&
               kiln_job_state_finished(KILN_JOB_CANCELLED),
           ("succeeded %d, failed %d, cancelled %d", kiln_job_state_finished(KILN_JOB_SUCCEEDED),
            kiln_job_state_finished(KILN_JOB_FAILED), kiln_job_state_finished(KILN_JOB_CANCELLED)),
           "succeeded, failed and cancelled are");
}

static void test_bad_engines(void)
{
    struct kiln_err err;
    kiln_err_clear(&err);
    ok(kiln_engine_new(0, 10, &err) == NULL && err.code == KILN_E_INVALID,
       "an engine without workers is refused: %s", err.msg);
    kiln_err_clear(&err);
    ok(kiln_engine_new(1, 0, &err) == NULL && err.code == KILN_E_INVALID,
       "an engine whose logs hold nothing is refused: %s", err.msg);
    struct kiln_engine *eng = engine(1, 4);
    kiln_err_clear(&err);
    ok(kiln_engine_submit(eng, "deploy", "x", NULL, NULL, NULL, &err) == NULL &&
           err.code == KILN_E_INVALID,
       "a job without a function is refused: %s", err.msg);
    kiln_engine_free(eng);
    kiln_engine_free(NULL);
}

/* ---- steps, progress, log ---- */

static int steps_job(struct kiln_job *job, void *arg, struct kiln_err *err)
{
    struct gate *g = arg;
    kiln_job_step_begin(job, "fetch");
    kiln_job_progress(job, 1, 3);
    kiln_job_log(job, KILN_LOG_INFO, "fetched %d files", 12);
    kiln_job_step_begin(job, "bake");
    kiln_job_progress(job, 2, 3);
    gate_set(g, 1);
    gate_wait(g, 2);
    kiln_job_step_end(job, KILN_JOB_SUCCEEDED);
    kiln_job_step_end(job, KILN_JOB_FAILED); /* nothing running: ignored */
    kiln_job_step_begin(job, "deploy");
    kiln_job_step_end(job, KILN_JOB_RUNNING); /* not an end state: ignored */
    kiln_job_progress(job, 3, 3);
    return 0;
}

static void test_steps_and_progress(void)
{
    struct kiln_engine *eng = engine(2, 16);
    struct gate g;
    gate_init(&g);
    struct kiln_job *job = submit(eng, "build", "hello-world", steps_job, &g);
    is_int(kiln_job_id(job), 1, "the first job is id 1");
    is_str(kiln_job_kind(job), "build", "kind is kept");
    is_str(kiln_job_target(job), "hello-world", "target is kept");

    gate_wait(&g, 1);
    struct kiln_job_info info;
    kiln_job_info(job, &info);
    is_int(info.state, KILN_JOB_RUNNING, "mid-job: running");
    is_int(info.step_count, 2, "mid-job: two steps so far");
    is_str(info.step, "bake", "mid-job: the current step is the latest");
    is_int(info.step_state, KILN_JOB_RUNNING, "mid-job: and it runs");
    ok_got(info.progress_done == 2 && info.progress_total == 3,
           ("progress %d/%d", (int)info.progress_done, (int)info.progress_total),
           "mid-job: progress 2/3");
    ok_got(info.created_us > 0 && info.started_us >= info.created_us && info.finished_us == 0,
           ("created %lld, started %lld, finished %lld", (long long)info.created_us,
            (long long)info.started_us, (long long)info.finished_us),
           "mid-job: created and started, not finished");
    ok(!info.cancel_requested, "mid-job: no cancel asked");
    struct kiln_job_step steps[4];
    memset(steps, 0, sizeof steps);
    is_int(kiln_job_steps(job, steps, 1), 2, "kiln_job_steps returns the count");
    ok(steps[1].name[0] == '\0', "... and copies no more than asked");
    is_str(steps[0].name, "fetch", "the first step is fetch");
    is_int(steps[0].state, KILN_JOB_SUCCEEDED, "starting a step ended the previous one");
    ok_got(steps[0].finished_us >= steps[0].started_us && steps[0].finished_us > 0,
           ("started %lld, finished %lld", (long long)steps[0].started_us,
            (long long)steps[0].finished_us),
           "... with an end time");

    gate_set(&g, 2);
    is_int(kiln_job_wait(job), KILN_JOB_SUCCEEDED, "the job succeeds");
    kiln_job_info(job, &info);
    is_int(info.state, KILN_JOB_SUCCEEDED, "info agrees");
    is_int(info.step_count, 3, "three steps");
    is_str(info.step, "deploy", "the last step is deploy");
    is_int(info.step_state, KILN_JOB_SUCCEEDED, "a step still running ends as the job did");
    ok_got(info.progress_done == 3 && info.progress_total == 3,
           ("progress %d/%d", (int)info.progress_done, (int)info.progress_total), "progress 3/3");
    ok(info.finished_us >= info.started_us, "finished after it started");
    is_int(info.err.code, KILN_OK, "no error");
    is_int(kiln_job_steps(job, steps, 4), 3, "three steps copied");
    is_int(steps[1].state, KILN_JOB_SUCCEEDED, "bake was ended by step_end");
    is_int(steps[2].state, KILN_JOB_SUCCEEDED, "deploy ignored a non-final step_end");

    struct kiln_log_line line;
    uint64_t missed;
    size_t n = kiln_logring_read(kiln_job_logring(job), 1, &line, 1, &missed, NULL);
    ok_got(n == 1 && missed == 0, ("%zu lines, %zu missed", (size_t)n, (size_t)missed),
           "the job logged one line");
    is_str(line.text, "fetched 12 files", "... the one it formatted");
    is_str(line.source, "build", "... with the job's kind as source");
    is_int(line.level, KILN_LOG_INFO, "... at its level");

    kiln_job_unref(job);
    kiln_engine_free(eng);
    gate_destroy(&g);
}

/* ---- failure ---- */

static int failing_job(struct kiln_job *job, void *arg, struct kiln_err *err)
{
    kiln_job_step_begin(job, "compile");
    return kiln_err_set(err, KILN_E_FAILED, "rpmbuild exited with status 1; see the build log");
}

static int silent_job(struct kiln_job *job, void *arg, struct kiln_err *err)
{
    return -1;
}

static void test_failure(void)
{
    struct kiln_engine *eng = engine(1, 8);
    struct kiln_job *job = submit(eng, "build", "hello-world", failing_job, NULL);
    is_int(kiln_job_wait(job), KILN_JOB_FAILED, "a job returning -1 fails");
    struct kiln_job_info info;
    kiln_job_info(job, &info);
    is_int(info.err.code, KILN_E_FAILED, "its error code is kept");
    is_str(info.err.msg, "rpmbuild exited with status 1; see the build log",
           "its error message is kept");
    is_int(info.step_state, KILN_JOB_FAILED, "the running step failed with it");
    struct kiln_log_line line;
    struct kiln_logring_stats st;
    kiln_logring_get_stats(kiln_job_logring(job), &st);
    kiln_logring_read(kiln_job_logring(job), st.last_seq, &line, 1, NULL, NULL);
    ok_got(line.level == KILN_LOG_ERROR && strcmp(line.text, info.err.msg) == 0,
           ("level %d, \"%s\"", (int)line.level, line.text),
           "the reason is the last line of its log, as an error");
    kiln_job_unref(job);

    job = submit(eng, "bake", "hello-world", silent_job, NULL);
    is_int(kiln_job_wait(job), KILN_JOB_FAILED, "a job failing without a reason fails");
    kiln_job_info(job, &info);
    ok_got(info.err.code == KILN_E_FAILED && strstr(info.err.msg, "bake of hello-world") != NULL,
           ("code %d", (int)info.err.code), "... and gets one naming it: %s", info.err.msg);
    kiln_job_unref(job);
    kiln_engine_free(eng);
}

/* ---- cancellation ---- */

enum after_cancel { RETURN_CHECK, RETURN_IO_ERROR, RETURN_OK };

struct cancel_arg {
    struct gate gate;
    enum after_cancel then;
};

static int until_cancelled(struct kiln_job *job, void *arg, struct kiln_err *err)
{
    struct cancel_arg *a = arg;
    kiln_job_step_begin(job, "wait for health");
    gate_set(&a->gate, 1);
    while (!kiln_job_cancelled(job))
        sleep_us(500);
    switch (a->then) {
    case RETURN_CHECK:
        return kiln_job_check_cancel(job, err);
    case RETURN_IO_ERROR:
        return kiln_err_set(err, KILN_E_IO, "lost the connection to kilnd");
    case RETURN_OK:
        return 0;
    }
    return -1;
}

static enum kiln_job_state cancel_running(struct kiln_engine *eng, enum after_cancel then,
                                          struct kiln_job_info *info)
{
    struct cancel_arg a = {.then = then};
    gate_init(&a.gate);
    struct kiln_job *job = submit(eng, "deploy", "hello-world-test", until_cancelled, &a);
    gate_wait(&a.gate, 1);
    kiln_job_info(job, info);
    if (info->state != KILN_JOB_RUNNING || info->cancel_requested)
        diag("before cancel: %s, cancel requested %d", kiln_job_state_name(info->state),
             info->cancel_requested);
    kiln_job_cancel(job);
    kiln_job_cancel(job); /* asking twice is harmless */
    enum kiln_job_state state = kiln_job_wait(job);
    kiln_job_info(job, info);
    kiln_job_unref(job);
    gate_destroy(&a.gate);
    return state;
}

static int cancelled_code_job(struct kiln_job *job, void *arg, struct kiln_err *err)
{
    return kiln_err_set(err, KILN_E_CANCELLED, "the user pressed q");
}

static void test_cancel_running(void)
{
    struct kiln_engine *eng = engine(1, 8);
    struct kiln_job_info info;
    is_int(cancel_running(eng, RETURN_CHECK, &info), KILN_JOB_CANCELLED,
           "a running job that notices the cancel ends cancelled");
    ok(info.cancel_requested, "... with the cancel request recorded");
    is_int(info.err.code, KILN_E_CANCELLED, "... and a cancelled error");
    is_str(info.err.msg, "deploy of hello-world-test was cancelled", "... saying what stopped");
    is_int(info.step_state, KILN_JOB_CANCELLED, "... and its running step cancelled");
    ok(info.started_us > 0, "... it did start");

    is_int(cancel_running(eng, RETURN_IO_ERROR, &info), KILN_JOB_CANCELLED,
           "a job failing after a cancel request ends cancelled, not failed");
    is_str(info.err.msg, "lost the connection to kilnd", "... keeping its own message");

    is_int(cancel_running(eng, RETURN_OK, &info), KILN_JOB_SUCCEEDED,
           "a job finishing its work despite a cancel request succeeded");

    struct kiln_job *job = submit(eng, "deploy", "x", cancelled_code_job, NULL);
    is_int(kiln_job_wait(job), KILN_JOB_CANCELLED,
           "a job returning KILN_E_CANCELLED on its own ends cancelled");
    kiln_job_unref(job);
    kiln_engine_free(eng);
}

static int count_runs(struct kiln_job *job, void *arg, struct kiln_err *err)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}

static void test_cancel_queued(void)
{
    struct kiln_engine *eng = engine(1, 8);
    struct cancel_arg blocker = {.then = RETURN_CHECK};
    gate_init(&blocker.gate);
    struct kiln_job *running = submit(eng, "deploy", "a", until_cancelled, &blocker);
    gate_wait(&blocker.gate, 1); /* the only worker is now busy */

    atomic_int runs;
    atomic_init(&runs, 0);
    struct kiln_job *queued = submit(eng, "deploy", "b", count_runs, &runs);
    struct kiln_job_info info;
    kiln_job_info(queued, &info);
    is_int(info.state, KILN_JOB_QUEUED, "behind a busy worker a job waits");
    kiln_job_cancel(queued);
    /* kiln_job_wait would hang here if the cancel waited for the worker. */
    is_int(kiln_job_wait(queued), KILN_JOB_CANCELLED, "a cancelled queued job ends at once");
    kiln_job_info(queued, &info);
    ok_got(info.started_us == 0 && info.finished_us > 0,
           ("started %lld, finished %lld", (long long)info.started_us, (long long)info.finished_us),
           "... without ever starting");
    ok_got(info.err.code == KILN_E_CANCELLED && strstr(info.err.msg, "before it started") != NULL,
           ("code %d", (int)info.err.code), "... and says so: %s", info.err.msg);
    struct kiln_log_line line;
    ok(kiln_logring_read(kiln_job_logring(queued), 1, &line, 1, NULL, NULL) == 1 &&
           line.level == KILN_LOG_WARN,
       "... in its log too");

    kiln_job_cancel(running);
    is_int(kiln_job_wait(running), KILN_JOB_CANCELLED, "the blocker is cancelled too");
    struct kiln_job *after = submit(eng, "deploy", "c", count_runs, &runs);
    is_int(kiln_job_wait(after), KILN_JOB_SUCCEEDED, "the worker runs the next job");
    is_int(atomic_load(&runs), 1, "the cancelled job's function never ran");

    kiln_job_cancel(after);
    kiln_job_info(after, &info);
    ok_got(info.state == KILN_JOB_SUCCEEDED && !info.cancel_requested,
           ("state %d, cancel requested %d", (int)info.state, (int)info.cancel_requested),
           "cancelling a finished job changes nothing");

    kiln_job_unref(running);
    kiln_job_unref(queued);
    kiln_job_unref(after);
    kiln_engine_free(eng);
    gate_destroy(&blocker.gate);
}

/* ---- the notify hook, through a wake pipe ---- */

struct watcher {
    struct kiln_wake wake;
    atomic_int calls;
    atomic_uint_fast64_t last_id;
};

static void on_change(struct kiln_job *job, void *ctx)
{
    struct watcher *w = ctx;
    atomic_fetch_add(&w->calls, 1);
    atomic_store(&w->last_id, kiln_job_id(job));
    kiln_wake_signal(&w->wake);
}

static int chatty_job(struct kiln_job *job, void *arg, struct kiln_err *err)
{
    struct gate *g = arg;
    kiln_job_step_begin(job, "create group");
    kiln_job_progress(job, 0, 2);
    kiln_job_log(job, KILN_LOG_INFO, "created");
    gate_set(g, 1);
    gate_wait(g, 2);
    return 0;
}

static void test_notify(void)
{
    struct watcher w;
    kiln_wake_init(&w.wake, NULL);
    atomic_init(&w.calls, 0);
    atomic_init(&w.last_id, 0);
    struct kiln_engine *eng = engine(1, 8);
    ok(kiln_engine_set_notify(eng, on_change, &w, NULL) == 0, "the hook can be set before any job");
    struct gate g;
    gate_init(&g);
    struct kiln_job *job = submit(eng, "deploy", "hello-world-test", chatty_job, &g);
    struct kiln_err err;
    kiln_err_clear(&err);
    ok_got(kiln_engine_set_notify(eng, NULL, NULL, &err) == -1 && err.code == KILN_E_BUSY,
           ("code %d", (int)err.code), "but not once jobs exist: %s", err.msg);

    gate_wait(&g, 1);
    struct pollfd pfd = {.fd = kiln_wake_fd(&w.wake), .events = POLLIN};
    ok(poll(&pfd, 1, 10000) == 1, "the hook woke a poller through the wake pipe");
    ok(kiln_wake_drain(&w.wake), "... which drains a wake");
    int mid = atomic_load(&w.calls);
    ok(mid >= 5, "submit, start, step, progress and log each told the hook (%d calls)", mid);
    gate_set(&g, 2);
    kiln_job_wait(job);
    /* The hook runs after the state changes, so kiln_job_wait may return first. */
    int woke = 1;
    while (woke && atomic_load(&w.calls) == mid) {
        woke = poll(&pfd, 1, 10000) == 1;
        kiln_wake_drain(&w.wake);
    }
    ok_got(woke && atomic_load(&w.calls) > mid,
           ("woke %d, %d calls (%d before)", (int)woke, (int)atomic_load(&w.calls), (int)mid),
           "finishing told the hook, which woke the poller");
    is_int(atomic_load(&w.last_id), kiln_job_id(job), "the hook is given the job");

    kiln_engine_free(eng);
    int before = atomic_load(&w.calls);
    kiln_job_log(job, KILN_LOG_INFO, "after the engine is gone");
    is_int(atomic_load(&w.calls), before, "finished jobs no longer call the hook");
    kiln_job_unref(job);
    gate_destroy(&g);
    kiln_wake_close(&w.wake);
}

/* ---- ids, find, list, retention ---- */

static void test_ids_and_lists(void)
{
    struct kiln_engine *eng = engine(1, 4);
    struct kiln_err err;
    ok(kiln_engine_set_next_id(eng, 100, &err) == 0, "numbering can start at 100");
    struct kiln_job *a = submit(eng, "build", "a", quick_job, NULL);
    struct kiln_job *b = submit(eng, "build", "b", quick_job, NULL);
    ok_got(
        kiln_job_id(a) == 100 && kiln_job_id(b) == 101,
        ("ids %llu, %llu", (unsigned long long)kiln_job_id(a), (unsigned long long)kiln_job_id(b)),
        "ids count up from there");
    kiln_err_clear(&err);
    ok_got(kiln_engine_set_next_id(eng, 101, &err) == -1 && err.code == KILN_E_INVALID,
           ("code %d", (int)err.code), "an id already given out is refused: %s", err.msg);
    ok(kiln_engine_set_next_id(eng, 500, NULL) == 0, "a higher one is fine");
    struct kiln_job *c = submit(eng, "build", "c", quick_job, NULL);
    is_int(kiln_job_id(c), 500, "and used");

    struct kiln_job *found = kiln_engine_find(eng, 101);
    ok(found == b, "find returns the job with that id");
    kiln_job_unref(found);
    ok(kiln_engine_find(eng, 7) == NULL, "find returns NULL for an unknown id");

    struct kiln_job **jobs;
    size_t n;
    ok_got(kiln_engine_list(eng, &jobs, &n, NULL) == 0 && n == 3, ("%zu jobs", (size_t)n),
           "list returns all three");
    ok_got(jobs[0] == a && jobs[1] == b && jobs[2] == c,
           ("%p %p %p, want %p %p %p", (void *)jobs[0], (void *)jobs[1], (void *)jobs[2], (void *)a,
            (void *)b, (void *)c),
           "oldest first");
    kiln_job_list_free(jobs, n);
    kiln_job_wait(a);
    kiln_job_wait(b);
    kiln_job_wait(c);
    kiln_job_unref(a);
    kiln_job_unref(b);
    kiln_job_unref(c);
    kiln_engine_free(eng);
}

static void test_retention(void)
{
    struct kiln_engine *eng = engine(1, 4);
    kiln_engine_set_retain(eng, 2);
    struct kiln_job *jobs[5];
    for (int i = 0; i < 5; i++)
        jobs[i] = submit(eng, "resize", "x", quick_job, NULL);
    for (int i = 0; i < 5; i++)
        kiln_job_wait(jobs[i]);
    struct kiln_job **list;
    size_t n;
    kiln_engine_list(eng, &list, &n, NULL);
    ok_got(n == 2 && list[0] == jobs[3] && list[1] == jobs[4], ("%zu jobs", (size_t)n),
           "with retain 2 the engine keeps the last two finished jobs (has %zu)", n);
    kiln_job_list_free(list, n);
    ok(kiln_engine_find(eng, 1) == NULL, "a forgotten job is not found");
    struct kiln_job_info info;
    kiln_job_info(jobs[0], &info);
    is_int(info.state, KILN_JOB_SUCCEEDED, "but a reference to it still reads");
    kiln_engine_set_retain(eng, 0);
    kiln_engine_list(eng, &list, &n, NULL);
    ok_got(n == 0 && list == NULL, ("%zu jobs, list %p", (size_t)n, (void *)list),
           "lowering retain forgets at once");
    for (int i = 0; i < 5; i++)
        kiln_job_unref(jobs[i]);
    kiln_engine_free(eng);
}

/* ---- 10,000 jobs ---- */

#define STRESS_JOBS    10000
#define STRESS_WORKERS 8

enum plan { PLAN_GATE, PLAN_SUCCEED, PLAN_FAIL, PLAN_CANCEL_QUEUED, PLAN_CANCEL_RUNNING };

struct stress {
    struct gate gate;
    atomic_int freed;
    atomic_int notified;
    atomic_int stop_ui;
    struct kiln_engine *eng;
    long ui_passes;
    int ui_bad;
};

struct stress_arg {
    struct stress *s;
    enum plan plan;
    atomic_int ran;
};

static void free_stress_arg(void *p)
{
    struct stress_arg *a = p;
    atomic_fetch_add(&a->s->freed, 1);
    free(a);
}

static void count_notify(struct kiln_job *job, void *ctx)
{
    atomic_fetch_add(&((struct stress *)ctx)->notified, 1);
}

static int stress_job(struct kiln_job *job, void *arg, struct kiln_err *err)
{
    struct stress_arg *a = arg;
    atomic_store(&a->ran, 1);
    switch (a->plan) {
    case PLAN_GATE:
        gate_wait(&a->s->gate, 1);
        return 0;
    case PLAN_SUCCEED:
        kiln_job_step_begin(job, "work");
        kiln_job_progress(job, 1, 1);
        kiln_job_log(job, KILN_LOG_INFO, "job %" PRIu64 " done", kiln_job_id(job));
        return 0;
    case PLAN_FAIL:
        kiln_job_step_begin(job, "work");
        return kiln_err_set(err, KILN_E_FAILED, "planned failure");
    case PLAN_CANCEL_QUEUED:
    case PLAN_CANCEL_RUNNING:
        kiln_job_step_begin(job, "wait");
        while (!kiln_job_cancelled(job))
            sleep_us(200);
        return kiln_job_check_cancel(job, err);
    }
    return -1;
}

/* Reads everything the Jobs view would while the workers churn, for TSan to judge. */
static void *ui_thread(void *p)
{
    struct stress *s = p;
    struct kiln_job_step steps[4];
    struct kiln_log_line *lines = calloc(8, sizeof *lines);
    while (!atomic_load(&s->stop_ui)) {
        struct kiln_job **jobs;
        size_t n;
        kiln_engine_list(s->eng, &jobs, &n, NULL);
        for (size_t i = 0; i < n; i++) {
            struct kiln_job_info info;
            kiln_job_info(jobs[i], &info);
            if (info.id != kiln_job_id(jobs[i]) || info.progress_done > info.progress_total)
                s->ui_bad++;
            kiln_job_steps(jobs[i], steps, 4);
            kiln_logring_read(kiln_job_logring(jobs[i]), 1, lines, 8, NULL, NULL);
        }
        kiln_job_list_free(jobs, n);
        s->ui_passes++;
        sleep_us(2000);
    }
    free(lines);
    return NULL;
}

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64: a fixed seed makes a failing run repeatable. */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_stress(void)
{
    const char *seed = getenv("KILN_TEST_SEED");
    rng_state = seed ? strtoull(seed, NULL, 10) : 20240601;
    if (rng_state == 0)
        rng_state = 1;
    diag("stress seed %" PRIu64 " (set KILN_TEST_SEED to repeat)", rng_state);

    struct stress s = {0};
    gate_init(&s.gate);
    atomic_init(&s.freed, 0);
    atomic_init(&s.notified, 0);
    atomic_init(&s.stop_ui, 0);
    s.eng = engine(STRESS_WORKERS, 8);
    kiln_engine_set_notify(s.eng, count_notify, &s, NULL);
    pthread_t ui;
    pthread_create(&ui, NULL, ui_thread, &s);

    struct kiln_job **jobs = calloc(STRESS_JOBS, sizeof *jobs);
    struct stress_arg **args = calloc(STRESS_JOBS, sizeof *args);
    enum plan *plans = calloc(STRESS_JOBS, sizeof *plans);
    int want[5] = {0};
    int cancelled_at_once = 0;
    /* The first jobs hold every worker until all are submitted, so each job picked
     * for a queued cancel is certain to be queued when it is cancelled. */
    for (int i = 0; i < STRESS_JOBS; i++) {
        enum plan plan;
        int r = (int)(rng() % 100);
        if (i < STRESS_WORKERS)
            plan = PLAN_GATE;
        else if (r < 10)
            plan = PLAN_CANCEL_QUEUED;
        else if (r < 20)
            plan = PLAN_CANCEL_RUNNING;
        else if (r < 25)
            plan = PLAN_FAIL;
        else
            plan = PLAN_SUCCEED;
        plans[i] = plan;
        want[plan]++;
        struct stress_arg *a = calloc(1, sizeof *a);
        a->s = &s;
        a->plan = plan;
        atomic_init(&a->ran, 0);
        args[i] = a;
        struct kiln_err err;
        jobs[i] = kiln_engine_submit(s.eng, "deploy", "stress-test", stress_job, a, free_stress_arg,
                                     &err);
        if (plan == PLAN_CANCEL_QUEUED) {
            kiln_job_cancel(jobs[i]);
            struct kiln_job_info info;
            kiln_job_info(jobs[i], &info);
            cancelled_at_once += info.state == KILN_JOB_CANCELLED;
        }
    }
    is_int(cancelled_at_once, want[PLAN_CANCEL_QUEUED],
           "every job cancelled while queued was cancelled at once");
    gate_set(&s.gate, 1);

    /* Cancel each PLAN_CANCEL_RUNNING job once it is seen running; they hold their
     * worker until then, so this loop is what lets the rest through. */
    int left = want[PLAN_CANCEL_RUNNING];
    char *done = calloc(STRESS_JOBS, 1);
    int premature = 0;
    while (left > 0) {
        for (int i = 0; i < STRESS_JOBS; i++) {
            if (plans[i] != PLAN_CANCEL_RUNNING || done[i])
                continue;
            struct kiln_job_info info;
            kiln_job_info(jobs[i], &info);
            if (info.state == KILN_JOB_RUNNING) {
                kiln_job_cancel(jobs[i]);
                done[i] = 1;
                left--;
            } else if (info.state != KILN_JOB_QUEUED) {
                premature++;
                done[i] = 1;
                left--;
            }
        }
        sleep_us(1000);
    }
    free(done);
    is_int(premature, 0, "no job planned for a running cancel ended before it was cancelled");

    int got[5] = {0}, wrong = 0;
    for (int i = 0; i < STRESS_JOBS; i++) {
        enum kiln_job_state state = kiln_job_wait(jobs[i]);
        struct kiln_job_info info;
        kiln_job_info(jobs[i], &info);
        int ran = atomic_load(&args[i]->ran);
        got[state]++;
        int good;
        switch (plans[i]) {
        case PLAN_GATE:
        case PLAN_SUCCEED:
            good = state == KILN_JOB_SUCCEEDED && ran && info.err.code == KILN_OK;
            break;
        case PLAN_FAIL:
            good = state == KILN_JOB_FAILED && ran && strcmp(info.err.msg, "planned failure") == 0;
            break;
        case PLAN_CANCEL_QUEUED:
            good = state == KILN_JOB_CANCELLED && !ran && info.started_us == 0;
            break;
        case PLAN_CANCEL_RUNNING:
            good = state == KILN_JOB_CANCELLED && ran && info.started_us > 0 &&
                   info.step_state == KILN_JOB_CANCELLED;
            break;
        default:
            good = 0;
        }
        if (!good && wrong++ < 5)
            diag("job %d (plan %d) ended %s, ran %d", i, plans[i], kiln_job_state_name(state), ran);
    }
    is_int(wrong, 0, "every job ended as planned");
    is_int(got[KILN_JOB_SUCCEEDED] + got[KILN_JOB_FAILED] + got[KILN_JOB_CANCELLED], STRESS_JOBS,
           "all %d jobs finished", STRESS_JOBS);
    is_int(got[KILN_JOB_SUCCEEDED], want[PLAN_GATE] + want[PLAN_SUCCEED], "succeeded as planned");
    is_int(got[KILN_JOB_FAILED], want[PLAN_FAIL], "failed as planned");
    is_int(got[KILN_JOB_CANCELLED], want[PLAN_CANCEL_QUEUED] + want[PLAN_CANCEL_RUNNING],
           "cancelled as planned");
    diag("%d succeeded, %d failed, %d cancelled (%d queued, %d running)", got[KILN_JOB_SUCCEEDED],
         got[KILN_JOB_FAILED], got[KILN_JOB_CANCELLED], want[PLAN_CANCEL_QUEUED],
         want[PLAN_CANCEL_RUNNING]);
    ok_got(want[PLAN_CANCEL_QUEUED] > 0 && want[PLAN_CANCEL_RUNNING] > 0,
           ("%d queued, %d running cancels", (int)want[PLAN_CANCEL_QUEUED],
            (int)want[PLAN_CANCEL_RUNNING]),
           "both kinds of cancel were exercised");

    struct kiln_job **list;
    size_t n;
    kiln_engine_list(s.eng, &list, &n, NULL);
    is_int(n, KILN_ENGINE_RETAIN_DEFAULT, "the engine kept only the default number of jobs");
    kiln_job_list_free(list, n);

    atomic_store(&s.stop_ui, 1);
    pthread_join(ui, NULL);
    is_int(s.ui_bad, 0, "the UI thread always read consistent snapshots");
    diag("UI thread made %ld passes; the hook was called %d times", s.ui_passes,
         atomic_load(&s.notified));
    ok(atomic_load(&s.notified) >= 2 * STRESS_JOBS, "the hook heard every job start and end");

    kiln_engine_free(s.eng);
    for (int i = 0; i < STRESS_JOBS; i++)
        kiln_job_unref(jobs[i]);
    is_int(atomic_load(&s.freed), STRESS_JOBS, "every job's arg was freed exactly once");
    free(jobs);
    free(args);
    free(plans);
    gate_destroy(&s.gate);
}

/* ---- freeing an engine under load ---- */

static int stubborn_job(struct kiln_job *job, void *arg, struct kiln_err *err)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    kiln_job_step_begin(job, "wait");
    while (kiln_job_check_cancel(job, err) == 0)
        sleep_us(500);
    return -1;
}

static void test_free_with_running_jobs(void)
{
    struct kiln_engine *eng = engine(2, 4);
    atomic_int runs;
    atomic_init(&runs, 0);
    struct kiln_job *jobs[6];
    for (int i = 0; i < 6; i++)
        jobs[i] = submit(eng, "deploy", "x", stubborn_job, &runs);
    while (atomic_load(&runs) < 2)
        sleep_us(1000);
    int64_t t0 = kiln_mono_us();
    kiln_engine_free(eng); /* would hang here (until the alarm) if it did not cancel */
    int64_t ms = (kiln_mono_us() - t0) / 1000;
    ok(ms < 1000, "freeing an engine with running jobs cancels them and returns (%lld ms)",
       (long long)ms);
    int cancelled = 0, unstarted = 0;
    for (int i = 0; i < 6; i++) {
        struct kiln_job_info info;
        kiln_job_info(jobs[i], &info);
        cancelled += info.state == KILN_JOB_CANCELLED;
        unstarted += info.started_us == 0;
        kiln_job_unref(jobs[i]);
    }
    is_int(cancelled, 6, "every job ended cancelled");
    is_int(atomic_load(&runs), 2, "only the two running jobs ever ran");
    is_int(unstarted, 4, "the four queued ones never started");
}

int main(void)
{
    alarm(HANG_SECONDS);
    test_names();
    test_bad_engines();
    test_steps_and_progress();
    test_failure();
    test_cancel_running();
    test_cancel_queued();
    test_notify();
    test_ids_and_lists();
    test_retention();
    test_stress();
    test_free_with_running_jobs();
    return done_testing();
}
