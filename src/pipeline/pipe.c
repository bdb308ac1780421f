/* kiln: the pipeline's machinery: submitting jobs, journaled steps, the cluster lock,
 * history, and following a job from the CLI. */
#include "pipeline/pipe.h"

#include "kiln/context.h"
#include "kiln/history.h"
#include "kiln/json.h"
#include "kiln/logring.h"
#include "kiln/pipeline.h"
#include "kiln/proc.h"
#include "kiln/atomic_file.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "kiln/wake.h"
#include "kiln/xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How often a wait looks at the cloud again. */
#define POLL_MS 100

static const struct {
    const char *kind;
    pipe_fn run;
    pipe_fn abort;
} kinds[] = {
    {"build", pipe_build, NULL},
    {"bake", pipe_bake, NULL},
    {"deploy", pipe_deploy, pipe_deploy_abort},
    {"promote", pipe_promote, pipe_deploy_abort},
    {"rollback", pipe_rollback, pipe_rollback_abort},
    {"resize", pipe_group_op, NULL},
    {"enable", pipe_group_op, NULL},
    {"disable", pipe_group_op, NULL},
    {"destroy", pipe_group_op, NULL},
    {"terminate", pipe_group_op, NULL},
    {"try", pipe_try, NULL},
    {"base-build", pipe_base_build, NULL},
};

/* Kinds that run on this machine alone: they open no provider (no kilnd, no AWS). */
static bool kind_is_local(const char *kind)
{
    return strcmp(kind, "base-build") == 0;
}

static int kind_index(const char *kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].kind, kind) == 0)
            return (int)i;
    return -1;
}

pipe_fn pipe_kind_abort(const char *kind)
{
    int k = kind_index(kind);
    return k < 0 ? NULL : kinds[k].abort;
}

/* ---- logging ---- */

/* A line into the job's log file only (kiln log JOB). */
static void log_file(struct pipe *pp, enum kiln_log_level level, const char *line)
{
    if (pp->logf != NULL) {
        char when[KILN_ISO_TIME_MAX];
        fprintf(pp->logf, "%s %-5s %s\n", kiln_time_iso(kiln_now_us(), when),
                kiln_log_level_name(level), line);
        fflush(pp->logf);
    }
}

void pipe_log(struct pipe *pp, enum kiln_log_level level, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (pp->job != NULL)
        kiln_logring_append(kiln_job_logring(pp->job), level, pp->kind, line);
    log_file(pp, level, line);
}

/* ---- args and data ---- */

static const cJSON *lookup(struct pipe *pp, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(pp->data, key);
    if (v == NULL)
        v = cJSON_GetObjectItemCaseSensitive(pp->args, key);
    return v;
}

const char *pipe_str(struct pipe *pp, const char *key)
{
    const cJSON *v = lookup(pp, key);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

long long pipe_int(struct pipe *pp, const char *key, long long dflt)
{
    const cJSON *v = lookup(pp, key);
    /* A journal's number out of range (1e300) would not convert: take the default. */
    return kiln_json_i64(v, dflt);
}

static void merge_data(struct pipe *pp, const cJSON *from)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, from)
    {
        cJSON_DeleteItemFromObjectCaseSensitive(pp->data, item->string);
        cJSON_AddItemToObject(pp->data, item->string, cJSON_Duplicate(item, true));
    }
}

/* ---- steps ---- */

void pipe_test_kill_point(struct pipe *pp, const char *step, const char *phase)
{
    const char *at = getenv("KILN_TEST_KILL_AT");
    if (at == NULL || at[0] == '\0')
        return;
    char want[160];
    snprintf(want, sizeof want, "%s:%s:%s", pp->kind, step, phase);
    if (strcmp(at, want) == 0) {
        if (pp->logf != NULL)
            fflush(pp->logf);
        kill(getpid(), SIGKILL);
    }
}

bool pipe_test_fail_point(struct pipe *pp, const char *step, struct kiln_err *err)
{
    const char *at = getenv("KILN_TEST_FAIL_AT");
    if (at == NULL || at[0] == '\0')
        return false;
    char want[160];
    snprintf(want, sizeof want, "%s:%s", pp->kind, step);
    if (strcmp(at, want) != 0)
        return false;
    kiln_err_set(err, KILN_E_FAILED, "step %s failed (KILN_TEST_FAIL_AT)", step);
    return true;
}

bool pipe_step_started(struct pipe *pp, const char *name)
{
    struct kiln_journal_step st;
    return pp->journal != NULL && kiln_journal_find_step(pp->journal, name, NULL, &st);
}

bool pipe_step_done(struct pipe *pp, const char *name)
{
    struct kiln_journal_step st;
    return pp->journal != NULL && kiln_journal_find_step(pp->journal, name, "after", &st) &&
           st.result != NULL && strcmp(st.result, "ok") == 0;
}

int pipe_step(struct pipe *pp, const char *name, pipe_step_fn fn, struct kiln_err *err)
{
    if (pipe_step_done(pp, name)) {
        struct kiln_journal_step st;
        kiln_journal_find_step(pp->journal, name, "after", &st);
        if (st.data != NULL)
            merge_data(pp, st.data);
        pipe_log(pp, KILN_LOG_INFO, "step %s: done before, skipped", name);
        return 0;
    }
    if (kiln_job_check_cancel(pp->job, err) < 0)
        return -1;
    kiln_job_step_begin(pp->job, name);
    if (kiln_journal_step_before(pp->journal, name, NULL, err) < 0)
        return -1;
    pipe_test_kill_point(pp, name, "before");
    cJSON *out = cJSON_CreateObject();
    int rc = pipe_test_fail_point(pp, name, err) ? -1 : fn(pp, out, err);
    merge_data(pp, out);
    struct kiln_err jerr = {0};
    if (kiln_journal_step_after(pp->journal, name, rc == 0 ? "ok" : "failed", out, &jerr) < 0 &&
        rc == 0) {
        *err = jerr;
        rc = -1;
    }
    cJSON_Delete(out);
    kiln_job_step_end(pp->job, rc == 0 ? KILN_JOB_SUCCEEDED : KILN_JOB_FAILED);
    if (rc == 0)
        pipe_test_kill_point(pp, name, "after");
    return rc;
}

/* ---- the lock ---- */

int pipe_lock(struct pipe *pp, const char *cluster, struct kiln_err *err)
{
    if (strcmp(pp->inherited_lock, cluster) == 0)
        return 0;
    if (pp->prov->ops->lock(pp->prov, cluster, &pp->owner, err) < 0)
        return -1;
    pp->locked = true;
    snprintf(pp->locked_cluster, sizeof pp->locked_cluster, "%s", cluster);
    /* Under the lock, so no other kiln starts a job on the cluster meanwhile. */
    if (pipe_check_interrupted(pp, cluster, err) < 0) {
        pipe_unlock(pp);
        return -1;
    }
    return 0;
}

void pipe_unlock(struct pipe *pp)
{
    if (!pp->locked)
        return;
    struct kiln_err err = {0};
    if (pp->prov->ops->unlock(pp->prov, pp->locked_cluster, &pp->owner, &err) < 0)
        pipe_log(pp, KILN_LOG_WARN, "could not release the lock on %s: %s", pp->locked_cluster,
                 err.msg);
    pp->locked = false;
}

/* ---- the cloud ---- */

int pipe_inventory(struct pipe *pp, const struct kiln_snapshot **out, struct kiln_err *err)
{
    struct kiln_snapshot *snap = NULL;
    if (pp->prov->ops->inventory(pp->prov, &snap, err) < 0)
        return -1;
    *out = snap;
    return 0;
}

static void describe_unready(const struct kiln_group *g, bool in_service, struct kiln_strbuf *sb)
{
    for (size_t i = 0; i < g->n_instances && sb->len < 700; i++) {
        const struct kiln_instance *x = g->instances[i];
        bool ready = x->state == KILN_INSTANCE_RUNNING && x->health == KILN_HEALTH_HEALTHY &&
                     (!in_service || x->lb_state == KILN_LB_IN_SERVICE);
        if (ready)
            continue;
        kiln_strbuf_appendf(sb, "%s%s %s, health %s%s%s%s", sb->len ? "; " : "", x->id,
                            kiln_instance_state_name(x->state), kiln_health_name(x->health),
                            x->health_detail && x->health_detail[0] ? " (" : "",
                            x->health_detail ? x->health_detail : "",
                            x->health_detail && x->health_detail[0] ? ")" : "");
    }
}

int pipe_wait_group(struct pipe *pp, const char *name, int want, bool in_service,
                    int64_t timeout_ms, struct kiln_err *err)
{
    int64_t deadline = kiln_mono_us() + timeout_ms * 1000;
    int last_ready = -1;
    for (;;) {
        if (kiln_job_check_cancel(pp->job, err) < 0)
            return -1;
        const struct kiln_snapshot *snap;
        if (pipe_inventory(pp, &snap, err) < 0) {
            /* A blip of the cloud's API (retries exhausted once) is not the end of a
             * deploy that is only waiting: look again until the deadline. Losing kilnd
             * (KILN_E_IO) interrupts the job as everywhere else. */
            if (err->code == KILN_E_IO || err->code == KILN_E_CANCELLED ||
                kiln_mono_us() >= deadline)
                return -1;
            pipe_log(pp, KILN_LOG_WARN, "%s: the inventory failed (%s); waiting on", name,
                     err->msg);
            kiln_err_clear(err);
            kiln_sleep_ms(POLL_MS * 5);
            continue;
        }
        const struct kiln_group *g = kiln_snapshot_find_group(snap, name);
        if (g == NULL) {
            kiln_snapshot_release(snap);
            return kiln_err_set(err, KILN_E_NOTFOUND,
                                "server group %s disappeared while kiln "
                                "waited for it",
                                name);
        }
        int ready = in_service ? g->in_service : g->healthy;
        if (ready != last_ready) {
            kiln_job_progress(pp->job, ready < want ? ready : want, want);
            pipe_log(pp, KILN_LOG_INFO, "%s: %d/%d %s", name, ready, want,
                     in_service ? "in service" : "healthy");
            last_ready = ready;
        }
        if (ready >= want) {
            kiln_snapshot_release(snap);
            return 0;
        }
        /* The cloud knows the instances cannot come up (a crash loop): waiting out
         * the timeout would only hide its reason. */
        if (g->failing != NULL && g->failing[0] != '\0') {
            kiln_err_set(err, KILN_E_FAILED, "%s: only %d of %d instances %s: %s", name, ready,
                         want, in_service ? "in service" : "healthy", g->failing);
            kiln_snapshot_release(snap);
            return -1;
        }
        if (kiln_mono_us() >= deadline) {
            struct kiln_strbuf sb = KILN_STRBUF_INIT;
            describe_unready(g, in_service, &sb);
            char t[KILN_DURATION_MAX];
            kiln_err_set(err, KILN_E_TIMEOUT, "%s: only %d of %d instances %s after %s: %s", name,
                         ready, want, in_service ? "in service" : "healthy",
                         kiln_format_duration(timeout_ms, t),
                         sb.len ? sb.buf : "no instance is running");
            kiln_strbuf_free(&sb);
            kiln_snapshot_release(snap);
            return -1;
        }
        kiln_snapshot_release(snap);
        kiln_sleep_ms(POLL_MS);
    }
}

/* ---- running a job ---- */

static void pipe_free(void *arg)
{
    struct pipe *pp = arg;
    cJSON_Delete(pp->args);
    cJSON_Delete(pp->data);
    cJSON_Delete(pp->result);
    free(pp);
}

void pipe_append_history(struct pipe *pp, const char *result, int64_t took_ms, const char *detail)
{
    struct kiln_history_entry e = {
        .user = pp->owner_user,
        .action = pp->kind,
        .target = pp->target,
        .job = pp->id,
        .result = result,
        .duration_ms = took_ms,
        .detail = detail,
    };
    struct kiln_err err = {0};
    if (kiln_history_append(pp->ctx->paths.history, &e, &err) < 0)
        pipe_log(pp, KILN_LOG_WARN, "could not write the history: %s", err.msg);
}

static int job_main(struct kiln_job *job, void *arg, struct kiln_err *err)
{
    struct pipe *pp = arg;
    pp->job = job;
    int64_t t0 = kiln_mono_us();
    char logpath[4200];
    snprintf(logpath, sizeof logpath, "%s/%llu.log", pp->ctx->paths.journal_dir,
             (unsigned long long)pp->id);
    pp->logf = fopen(logpath, "ae");
    if (pp->mode != PIPE_RUN)
        pipe_log(pp, KILN_LOG_INFO, "%s job %llu by %s",
                 pp->mode == PIPE_RESUME ? "resuming" : "aborting", (unsigned long long)pp->id,
                 pp->owner_user);
    else
        pipe_log(pp, KILN_LOG_INFO, "%s %s (job %llu, %s)", pp->kind, pp->target,
                 (unsigned long long)pp->id, pp->owner_user);

    int rc = -1;
    /* Who runs the job now, so another kiln can tell it from an interrupted one. */
    int k = kind_index(pp->kind);
    bool owned = kiln_journal_set_owner(pp->journal, (int)getpid(), kiln_proc_start_ticks(getpid()),
                                        err) == 0;
    bool local = kind_is_local(pp->kind);
    if (owned && !local)
        pp->prov = kiln_provider_open(pp->ctx, err);
    if (owned && (pp->prov != NULL || local)) {
        if (pp->mode == PIPE_ABORT) {
            rc = kinds[k].abort ? kinds[k].abort(pp, err)
                                : kiln_err_set(err, KILN_E_INVALID,
                                               "a %s job has nothing to undo; it can only be "
                                               "resumed",
                                               pp->kind);
        } else {
            rc = kinds[k].run(pp, err);
        }
        pipe_unlock(pp);
    }
    /* A job cut off from the cloud (kilnd died, the disk filled) did not fail: it was
     * interrupted, and `kiln resume` or `kiln abort` take it from its journal. */
    const char *state = rc == 0 ? (pp->mode == PIPE_ABORT ? "aborted" : "succeeded")
                        : err->code == KILN_E_CANCELLED             ? "cancelled"
                        : err->code == KILN_E_IO || pp->interrupted ? "interrupted"
                                                                    : "failed";
    if (strcmp(state, "interrupted") == 0) {
        char why[KILN_ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        kiln_err_set(err, KILN_E_IO,
                     "%.700s (job %llu is interrupted: kiln resume %llu finishes "
                     "it, kiln abort %llu undoes it)",
                     why, (unsigned long long)pp->id, (unsigned long long)pp->id,
                     (unsigned long long)pp->id);
    }
    if (rc == 0)
        pipe_log(pp, KILN_LOG_INFO, "%s %s: %s", pp->kind, pp->target, state);
    else {
        /* The engine puts the reason into the job's log itself as the job ends (its
         * last line); here it goes only to the file, so it is not shown twice. */
        char line[KILN_ERR_MSG_MAX + 200];
        snprintf(line, sizeof line, "%s %s %s: %s", pp->kind, pp->target, state, err->msg);
        log_file(pp, KILN_LOG_ERROR, line);
    }
    struct kiln_err jerr = {0};
    if (pp->journal != NULL && kiln_journal_finish(pp->journal, state, &jerr) < 0)
        pipe_log(pp, KILN_LOG_WARN, "could not close the journal: %s", jerr.msg);
    if (rc == 0 && pp->result != NULL && pp->journal != NULL) {
        /* The result rides in the journal too, for `kiln jobs` and scripts. */
        kiln_journal_step_after(pp->journal, "result", "ok", pp->result, NULL);
    }
    pipe_append_history(pp, state, (kiln_mono_us() - t0) / 1000, rc == 0 ? NULL : err->msg);
    kiln_provider_close(pp->prov);
    pp->prov = NULL;
    kiln_journal_free(pp->journal);
    pp->journal = NULL;
    if (pp->logf != NULL)
        fclose(pp->logf);
    pp->logf = NULL;
    return rc;
}

static struct kiln_wake cli_wake;

static void on_job_change(struct kiln_job *job, void *ctx)
{
    kiln_wake_signal(ctx);
}

/* The CLI's engine: its jobs wake the CLI, which follows them (kiln_pipeline_run).
 * The console makes its own engine, with its own notify hook, before any submit. */
static int ensure_engine(struct kiln_ctx *ctx, struct kiln_err *err)
{
    if (ctx->engine != NULL)
        return 0;
    if (kiln_wake_init(&cli_wake, err) < 0)
        return -1;
    ctx->engine = kiln_engine_new(ctx->config.workers, ctx->config.log_lines, err);
    if (ctx->engine == NULL)
        return -1;
    return kiln_engine_set_notify(ctx->engine, on_job_change, &cli_wake, err);
}

static int ensure_journal_dir(struct kiln_ctx *ctx, struct kiln_err *err)
{
    if (kiln_paths_ensure_home(&ctx->paths, err) < 0)
        return -1;
    return kiln_mkdir_p(ctx->paths.journal_dir, 0700, err);
}

static struct pipe *pipe_new(struct kiln_ctx *ctx, const char *kind, const char *target)
{
    struct pipe *pp = xcalloc(1, sizeof *pp);
    pp->ctx = ctx;
    snprintf(pp->kind, sizeof pp->kind, "%s", kind);
    snprintf(pp->target, sizeof pp->target, "%s", target);
    pp->data = cJSON_CreateObject();
    kiln_user_at_host(pp->owner_user, sizeof pp->owner_user);
    gethostname(pp->owner_host, sizeof pp->owner_host - 1);
    pp->owner.user = pp->owner_user;
    pp->owner.host = pp->owner_host;
    pp->owner.pid = (int)getpid();
    pp->owner.what = pp->kind;
    return pp;
}

static struct kiln_job *start(struct kiln_ctx *ctx, struct pipe *pp, struct kiln_err *err)
{
    pp->owner.job = pp->id;
    struct kiln_err ignore;
    kiln_engine_set_next_id(ctx->engine, pp->id, &ignore);
    struct kiln_job *job =
        kiln_engine_submit(ctx->engine, pp->kind, pp->target, job_main, pp, pipe_free, err);
    if (job == NULL) {
        kiln_journal_free(pp->journal);
        pipe_free(pp);
        return NULL;
    }
    if (ctx->last_job != NULL)
        kiln_job_unref(ctx->last_job);
    ctx->last_job = kiln_job_ref(job);
    return job;
}

static const char *target_of(const char *kind, const cJSON *args, char *buf, size_t n)
{
    const cJSON *app = cJSON_GetObjectItemCaseSensitive(args, "app");
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(args, "env");
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(args, "to");
    const cJSON *group = cJSON_GetObjectItemCaseSensitive(args, "group");
    const cJSON *inst = cJSON_GetObjectItemCaseSensitive(args, "instance");
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(args, "base");
    if (cJSON_IsString(base))
        snprintf(buf, n, "%s", base->valuestring);
    else if (cJSON_IsString(group))
        snprintf(buf, n, "%s", group->valuestring);
    else if (cJSON_IsString(inst))
        snprintf(buf, n, "%s", inst->valuestring);
    else if (cJSON_IsString(app) && cJSON_IsString(env))
        snprintf(buf, n, "%s-%s", app->valuestring, env->valuestring);
    else if (strcmp(kind, "promote") == 0 && cJSON_IsString(app) && cJSON_IsString(to))
        snprintf(buf, n, "%s-%s", app->valuestring, to->valuestring);
    else if (cJSON_IsString(app))
        snprintf(buf, n, "%s", app->valuestring);
    else
        snprintf(buf, n, "-");
    return buf;
}

struct kiln_job *kiln_pipeline_submit(struct kiln_ctx *ctx, const char *kind, cJSON *args,
                                      struct kiln_err *err)
{
    if (kind_index(kind) < 0) {
        cJSON_Delete(args);
        kiln_err_set(err, KILN_E_INVALID, "there is no job kind %s", kind);
        return NULL;
    }
    if (kiln_ctx_setup(ctx, err) < 0 || ensure_engine(ctx, err) < 0 ||
        ensure_journal_dir(ctx, err) < 0) {
        cJSON_Delete(args);
        return NULL;
    }
    char target[96];
    struct pipe *pp = pipe_new(ctx, kind, target_of(kind, args, target, sizeof target));
    pp->args = args;
    /* Journal ids are unique across processes: creation is exclusive, so two kilns
     * starting jobs at once take different ids. */
    for (int tries = 0; tries < 100; tries++) {
        if (kiln_journal_next_id(ctx->paths.journal_dir, &pp->id, err) < 0)
            break;
        struct kiln_err jerr = {0};
        pp->journal =
            kiln_journal_create(ctx->paths.journal_dir, pp->id, kind, pp->target, args, &jerr);
        if (pp->journal != NULL || jerr.code != KILN_E_EXISTS) {
            if (pp->journal == NULL && err != NULL)
                *err = jerr;
            break;
        }
    }
    if (pp->journal == NULL) {
        pipe_free(pp);
        return NULL;
    }
    return start(ctx, pp, err);
}

int pipe_undo_after_failure(struct pipe *pp, pipe_fn undo, struct kiln_err *err)
{
    if (err->code == KILN_E_IO)
        return -1;
    struct kiln_err uerr = {0};
    if (undo(pp, &uerr) < 0) {
        pipe_log(pp, KILN_LOG_ERROR, "could not put %s back as it was: %s", pp->locked_cluster,
                 uerr.msg);
        pp->interrupted = true;
        kiln_err_prefix(err, "and the undo failed (%.300s)", uerr.msg);
        return -1;
    }
    pipe_log(pp, KILN_LOG_INFO, "%s is as it was before this job", pp->locked_cluster);
    return -1;
}

void pipe_merge_journal_data(struct pipe *pp, struct kiln_journal *j)
{
    /* What completed steps found comes back with them, as they are skipped. */
    for (size_t i = 0; i < kiln_journal_step_count(j); i++) {
        struct kiln_journal_step st;
        if (kiln_journal_step_at(j, i, &st) && strcmp(st.phase, "after") == 0 && st.data != NULL)
            merge_data(pp, st.data);
    }
}

static struct kiln_job *reopen(struct kiln_ctx *ctx, uint64_t id, enum pipe_mode mode,
                               struct kiln_err *err)
{
    if (kiln_ctx_setup(ctx, err) < 0 || ensure_engine(ctx, err) < 0)
        return NULL;
    struct kiln_journal *j = kiln_journal_load(ctx->paths.journal_dir, id, err);
    if (j == NULL)
        return NULL;
    const char *state = kiln_journal_state(j);
    if (kiln_pipeline_job_alive(kiln_journal_json(j))) {
        kiln_err_set(err, KILN_E_BUSY,
                     "job %llu is still running in another kiln (see kiln jobs); wait for it, or "
                     "stop that kiln first",
                     (unsigned long long)id);
        kiln_journal_free(j);
        return NULL;
    }
    if (strcmp(state, "running") != 0 && strcmp(state, "interrupted") != 0) {
        kiln_err_set(err, KILN_E_INVALID,
                     "job %llu already ended (%s); only interrupted jobs "
                     "can be resumed or aborted",
                     (unsigned long long)id, state);
        kiln_journal_free(j);
        return NULL;
    }
    if (kind_index(kiln_journal_kind(j)) < 0) {
        kiln_err_set(err, KILN_E_INVALID, "job %llu is a %s job, which this kiln cannot run",
                     (unsigned long long)id, kiln_journal_kind(j));
        kiln_journal_free(j);
        return NULL;
    }
    struct pipe *pp = pipe_new(ctx, kiln_journal_kind(j), kiln_journal_target(j));
    pp->id = id;
    pp->mode = mode;
    pp->args = cJSON_Duplicate(kiln_journal_args(j), true);
    pp->journal = j;
    pipe_merge_journal_data(pp, j);
    return start(ctx, pp, err);
}

struct kiln_job *kiln_pipeline_resume(struct kiln_ctx *ctx, uint64_t id, struct kiln_err *err)
{
    return reopen(ctx, id, PIPE_RESUME, err);
}

struct kiln_job *kiln_pipeline_abort(struct kiln_ctx *ctx, uint64_t id, struct kiln_err *err)
{
    return reopen(ctx, id, PIPE_ABORT, err);
}

bool kiln_pipeline_job_alive(const cJSON *journal_json)
{
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(journal_json, "state");
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(journal_json, "pid");
    const cJSON *ticks = cJSON_GetObjectItemCaseSensitive(journal_json, "pid_start");
    if (!cJSON_IsString(state) || strcmp(state->valuestring, "running") != 0)
        return false;
    /* A damaged record's pid or start time out of range is no live process. */
    if (!cJSON_IsNumber(pid) || !cJSON_IsNumber(ticks) ||
        !(pid->valuedouble >= 1 && pid->valuedouble <= INT_MAX) ||
        !kiln_fits_u64(ticks->valuedouble))
        return false;
    return kiln_proc_start_ticks((int)pid->valuedouble) == (unsigned long long)ticks->valuedouble;
}

cJSON *kiln_pipeline_result(struct kiln_job *job)
{
    struct pipe *pp = kiln_job_arg(job);
    return pp && pp->result ? cJSON_Duplicate(pp->result, true) : NULL;
}

/* ---- following a job from the CLI ---- */

/* Streams the job's new log lines. The job's reason for failing (the engine's last
 * line) is left out, since the caller prints it once with the job's id: while the job
 * runs, a newest line that is an error is held back, as it may be that reason. */
static void print_new_lines(struct kiln_ctx *ctx, struct kiln_job *job, uint64_t *cursor,
                            bool finished, const char *reason)
{
    struct kiln_log_line lines[64];
    uint64_t missed = 0, next = *cursor;
    size_t n;
    do {
        n = kiln_logring_read(kiln_job_logring(job), *cursor, lines, 64, &missed, &next);
        if (missed > 0)
            fprintf(ctx->msg, "kiln: (%llu log lines dropped)\n", (unsigned long long)missed);
        for (size_t i = 0; i < n; i++) {
            bool newest = i + 1 == n && n < 64;
            if (newest && !finished && lines[i].level == KILN_LOG_ERROR) {
                next = lines[i].seq;
                break;
            }
            if (newest && reason != NULL &&
                (lines[i].truncated ? strncmp(lines[i].text, reason, lines[i].len)
                                    : strcmp(lines[i].text, reason)) == 0)
                continue;
            char when[KILN_ISO_TIME_MAX];
            kiln_time_iso(lines[i].time_us, when);
            fprintf(ctx->msg, "%s %s%s%s\n", when + 11,
                    lines[i].level >= KILN_LOG_WARN ? kiln_log_level_name(lines[i].level) : "",
                    lines[i].level >= KILN_LOG_WARN ? ": " : "", lines[i].text);
        }
        *cursor = next;
    } while (n == 64);
    fflush(ctx->msg);
}

int kiln_pipeline_run(struct kiln_ctx *ctx, struct kiln_job *job, cJSON **result,
                      struct kiln_err *err)
{
    if (result != NULL)
        *result = NULL;
    if (ctx->detach_jobs)
        return 0;
    uint64_t cursor = 1;
    for (;;) {
        struct kiln_job_info info;
        kiln_job_info(job, &info);
        bool finished = kiln_job_state_finished(info.state);
        print_new_lines(ctx, job, &cursor, finished,
                        finished && info.state != KILN_JOB_SUCCEEDED ? info.err.msg : NULL);
        if (finished) {
            if (info.state == KILN_JOB_SUCCEEDED) {
                if (result != NULL)
                    *result = kiln_pipeline_result(job);
                return 0;
            }
            if (err != NULL)
                *err = info.err;
            return -1;
        }
        struct pollfd p = {.fd = kiln_wake_fd(&cli_wake), .events = POLLIN};
        if (poll(&p, 1, -1) > 0)
            kiln_wake_drain(&cli_wake);
    }
}
