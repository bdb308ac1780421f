/* kiln: a cluster's interrupted job keeps the cluster. A job killed mid-way (kiln
 * SIGKILLed, the machine rebooted) left the cluster half changed and a journal that
 * knows how to finish or undo it. A new mutation that ran over it would leave that
 * journal describing a world that no longer exists, and a later `kiln abort` of it
 * would undo the newer work (two groups serving). So the next mutation of the
 * cluster is refused, naming the job, its step and the two commands; or, with
 * --take-over JOB, the new job undoes the old one first (aborts it), in its own log,
 * under its own lock, and then goes on. */
#include "pipeline/pipe.h"

#include "kiln/context.h"
#include "kiln/journal.h"
#include "kiln/names.h"
#include "kiln/pipeline.h"
#include "kiln/proc.h"
#include "kiln/xalloc.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The cluster a job's arguments name, "" when they name none that can be known
 * without the cloud (a terminate names only its instance). */
static void job_cluster(const char *kind, const cJSON *args, char *buf, size_t n)
{
    const cJSON *app = cJSON_GetObjectItemCaseSensitive(args, "app");
    const cJSON *env =
        cJSON_GetObjectItemCaseSensitive(args, strcmp(kind, "promote") == 0 ? "to" : "env");
    const cJSON *group = cJSON_GetObjectItemCaseSensitive(args, "group");
    struct kiln_group_name gn;
    buf[0] = '\0';
    if (cJSON_IsString(app) && cJSON_IsString(env))
        kiln_cluster_name_format(buf, n, app->valuestring, env->valuestring);
    else if (cJSON_IsString(group) && kiln_group_name_parse(group->valuestring, &gn, NULL) == 0)
        kiln_cluster_name_format(buf, n, gn.app, gn.env);
}

/* Whether journal j is an interrupted job: it ended as such, or says it runs in a
 * process that is gone. */
static bool is_interrupted(struct kiln_journal *j)
{
    const char *st = kiln_journal_state(j);
    if (strcmp(st, "interrupted") == 0)
        return true;
    return strcmp(st, "running") == 0 && !kiln_pipeline_job_alive(kiln_journal_json(j));
}

static void where_it_stopped(struct kiln_journal *j, char *buf, size_t n)
{
    struct kiln_journal_step st;
    bool done;
    if (!kiln_journal_last_step(j, &st, &done))
        snprintf(buf, n, "before its first step");
    else
        snprintf(buf, n, "%s %s", done ? "after" : "at", st.name);
}

/* Runs the abort of journal j (loaded, interrupted) inside pp's job: pp holds the
 * cluster's lock, which the abort shares. */
static int abort_inside(struct pipe *pp, struct kiln_journal *j, pipe_fn abort_fn,
                        struct kiln_err *err)
{
    struct pipe *sub = xcalloc(1, sizeof *sub);
    sub->ctx = pp->ctx;
    snprintf(sub->kind, sizeof sub->kind, "%s", kiln_journal_kind(j));
    snprintf(sub->target, sizeof sub->target, "%s", kiln_journal_target(j));
    sub->mode = PIPE_ABORT;
    sub->id = kiln_journal_id(j);
    sub->args = cJSON_Duplicate(kiln_journal_args(j), true);
    sub->data = cJSON_CreateObject();
    pipe_merge_journal_data(sub, j);
    sub->journal = j;
    sub->job = pp->job;
    sub->prov = pp->prov;
    sub->owner = pp->owner;
    sub->locked = false;
    snprintf(sub->inherited_lock, sizeof sub->inherited_lock, "%s", pp->locked_cluster);
    char logpath[4200];
    snprintf(logpath, sizeof logpath, "%s/%llu.log", pp->ctx->paths.journal_dir,
             (unsigned long long)sub->id);
    sub->logf = fopen(logpath, "ae");
    pipe_log(sub, KILN_LOG_INFO, "aborting job %llu: taken over by job %llu (%s)",
             (unsigned long long)sub->id, (unsigned long long)pp->id, pp->owner_user);
    int rc = kiln_journal_set_owner(j, (int)getpid(), kiln_proc_start_ticks(getpid()), err);
    if (rc == 0)
        rc = abort_fn(sub, err);
    struct kiln_err jerr = {0};
    if (kiln_journal_finish(j, rc == 0 ? "aborted" : "interrupted", &jerr) < 0 && rc == 0) {
        *err = jerr;
        rc = -1;
    }
    pipe_log(sub, rc == 0 ? KILN_LOG_INFO : KILN_LOG_ERROR, "job %llu %s%s%s",
             (unsigned long long)sub->id, rc == 0 ? "aborted" : "could not be aborted",
             rc == 0 ? "" : ": ", rc == 0 ? "" : err->msg);
    pipe_append_history(sub, rc == 0 ? "aborted" : "interrupted", 0, rc == 0 ? NULL : err->msg);
    if (sub->logf != NULL)
        fclose(sub->logf);
    cJSON_Delete(sub->args);
    cJSON_Delete(sub->data);
    free(sub);
    return rc;
}

/* Takes over interrupted job j: aborts it when its kind can be undone; a job that
 * cannot be (a single-step group operation) is closed, since the new job's own
 * change supersedes it. */
static int take_over(struct pipe *pp, struct kiln_journal *j, struct kiln_err *err)
{
    pipe_fn abort_fn = pipe_kind_abort(kiln_journal_kind(j));
    pipe_log(pp, KILN_LOG_WARN, "taking over interrupted job %llu (%s %s): %s",
             (unsigned long long)kiln_journal_id(j), kiln_journal_kind(j), kiln_journal_target(j),
             abort_fn ? "aborting it first" : "it is closed, this job's change replaces it");
    if (abort_fn != NULL) {
        if (abort_inside(pp, j, abort_fn, err) < 0) {
            kiln_err_prefix(err, "could not take over job %llu (it stays interrupted)",
                            (unsigned long long)kiln_journal_id(j));
            return -1;
        }
        pipe_log(pp, KILN_LOG_INFO, "job %llu is aborted; going on",
                 (unsigned long long)kiln_journal_id(j));
        return 0;
    }
    return kiln_journal_finish(j, "taken-over", err);
}

int pipe_check_interrupted(struct pipe *pp, const char *cluster, struct kiln_err *err)
{
    if (pp->mode != PIPE_RUN)
        return 0; /* resuming or aborting is how the interrupted job is dealt with */
    struct kiln_journal_list l = {0};
    if (kiln_journal_list(pp->ctx->paths.journal_dir, &l, err) < 0)
        return -1;
    long long take = pipe_int(pp, "take_over", 0);
    bool taken = false;
    int rc = 0;
    for (size_t i = 0; i < l.njobs && rc == 0; i++) {
        struct kiln_journal *j = l.jobs[i];
        char jc[KILN_CLUSTER_SIZE];
        if (kiln_journal_id(j) == pp->id || !is_interrupted(j))
            continue;
        job_cluster(kiln_journal_kind(j), kiln_journal_args(j), jc, sizeof jc);
        if (strcmp(jc, cluster) != 0)
            continue;
        unsigned long long id = kiln_journal_id(j);
        if ((unsigned long long)take == id) {
            l.jobs[i] = NULL; /* take_over owns it now */
            rc = take_over(pp, j, err);
            kiln_journal_free(j);
            taken = true;
            continue;
        }
        char where[160];
        where_it_stopped(j, where, sizeof where);
        rc = kiln_err_set(err, KILN_E_BUSY,
                          "%s has an interrupted %s, job %llu (by %s, stopped %s): kiln resume "
                          "%llu finishes it, kiln abort %llu undoes it; or run this again with "
                          "--take-over %llu to undo it first",
                          cluster, kiln_journal_kind(j), id, kiln_journal_user(j), where, id, id,
                          id);
    }
    if (rc == 0 && take != 0 && !taken)
        rc = kiln_err_set(err, KILN_E_NOTFOUND,
                          "--take-over %lld: there is no interrupted job %lld on %s (kiln jobs "
                          "lists them)",
                          take, take, cluster);
    kiln_journal_list_free(&l);
    return rc;
}
