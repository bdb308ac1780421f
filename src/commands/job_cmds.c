/* kiln jobs | log | resume | abort: the journal of jobs, across kiln processes. */
#include "commands/commands.h"
#include "kiln/atomic_file.h"
#include "kiln/context.h"
#include "kiln/job.h"
#include "kiln/journal.h"
#include "kiln/pipeline.h"
#include "kiln/xalloc.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* "running" in a journal whose process is gone means the job was interrupted. */
static const char *job_state(struct kiln_journal *j)
{
    const char *st = kiln_journal_state(j);
    if (strcmp(st, "running") == 0 && !kiln_pipeline_job_alive(kiln_journal_json(j)))
        return "interrupted";
    return st;
}

static const char *last_step(struct kiln_journal *j, char *buf, size_t n)
{
    struct kiln_journal_step st;
    bool done;
    if (!kiln_journal_last_step(j, &st, &done)) {
        snprintf(buf, n, "-");
        return buf;
    }
    snprintf(buf, n, "%s%s", st.name, done ? "" : " (started)");
    return buf;
}

static int jobs_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    if (kiln_ctx_setup(ctx, err) < 0)
        return -1;
    struct kiln_journal_list l = {0};
    struct kiln_err lerr = {0};
    if (kiln_journal_list(ctx->paths.journal_dir, &l, &lerr) < 0 && lerr.code != KILN_E_NOTFOUND) {
        *err = lerr;
        return -1;
    }
    cJSON *arr = ctx->json ? cJSON_CreateArray() : NULL;
    if (!ctx->json)
        fprintf(ctx->out, "%5s  %-10s  %-28s  %-12s  %-20s  %-24s  %s\n", "JOB", "KIND", "TARGET",
                "STATE", "STARTED", "LAST STEP", "BY");
    for (size_t i = 0; i < l.njobs; i++) {
        struct kiln_journal *j = l.jobs[i];
        char step[96];
        if (arr != NULL) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "job", (double)kiln_journal_id(j));
            cJSON_AddStringToObject(o, "kind", kiln_journal_kind(j));
            cJSON_AddStringToObject(o, "target", kiln_journal_target(j));
            cJSON_AddStringToObject(o, "state", job_state(j));
            cJSON_AddStringToObject(o, "created", kiln_journal_created(j));
            cJSON_AddStringToObject(o, "last_step", last_step(j, step, sizeof step));
            cJSON_AddStringToObject(o, "user", kiln_journal_user(j));
            cJSON_AddItemToArray(arr, o);
        } else {
            fprintf(ctx->out, "%5llu  %-10s  %-28s  %-12s  %-20.20s  %-24s  %s\n",
                    (unsigned long long)kiln_journal_id(j), kiln_journal_kind(j),
                    kiln_journal_target(j), job_state(j), kiln_journal_created(j),
                    last_step(j, step, sizeof step), kiln_journal_user(j));
        }
    }
    for (size_t i = 0; i < l.nproblems; i++)
        fprintf(ctx->msg, "kiln: %s\n", l.problems[i]);
    if (arr != NULL) {
        char *text = cJSON_PrintUnformatted(arr);
        fprintf(ctx->out, "%s\n", text);
        cJSON_free(text);
        cJSON_Delete(arr);
    }
    kiln_journal_list_free(&l);
    return 0;
}

const struct kiln_cmd kiln_cmd_jobs = {
    .name = "jobs",
    .usage = "",
    .summary = "all jobs, with their state (interrupted ones can be resumed or aborted)",
    .help = "Lists the journal: every job any kiln ran in this state dir. A job whose kiln\n"
            "died shows as interrupted: `kiln resume JOB` finishes it, `kiln abort JOB`\n"
            "puts the cluster back as it was before it.",
    .exec = jobs_exec,
};

static int job_id(const char *s, uint64_t *id, struct kiln_err *err)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v == 0)
        return kiln_err_set(err, KILN_E_USAGE, "'%.20s' is not a job number (kiln jobs lists them)",
                            s);
    *id = v;
    return 0;
}

static int log_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    uint64_t id;
    if (job_id(a->positional[0], &id, err) < 0 || kiln_ctx_setup(ctx, err) < 0)
        return -1;
    char *path = xasprintf("%s/%llu.log", ctx->paths.journal_dir, (unsigned long long)id);
    char *text = NULL;
    size_t len = 0;
    int rc = kiln_read_file(path, &text, &len, 64u << 20, err);
    if (rc < 0 && err->code == KILN_E_NOTFOUND)
        kiln_err_set(err, KILN_E_NOTFOUND, "job %llu has no log (kiln jobs lists the jobs)",
                     (unsigned long long)id);
    if (rc == 0)
        fwrite(text, 1, len, ctx->out);
    free(text);
    free(path);
    return rc;
}

const struct kiln_cmd kiln_cmd_log = {
    .name = "log",
    .usage = "JOB",
    .summary = "the log of a job",
    .help = "",
    .min_positional = 1,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_JOB,
    .exec = log_exec,
};

static int reopen_exec(struct kiln_ctx *ctx, const struct kiln_args *a, bool abort_it,
                       struct kiln_err *err)
{
    uint64_t id;
    if (job_id(a->positional[0], &id, err) < 0)
        return -1;
    struct kiln_job *job =
        abort_it ? kiln_pipeline_abort(ctx, id, err) : kiln_pipeline_resume(ctx, id, err);
    if (job == NULL)
        return -1;
    int rc = kiln_pipeline_run(ctx, job, NULL, err);
    if (rc == 0 && !ctx->detach_jobs)
        fprintf(ctx->out, "job %llu %s\n", (unsigned long long)id,
                abort_it ? "aborted: the cluster is as it was before it" : "finished");
    kiln_job_unref(job);
    return rc;
}

static int resume_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    return reopen_exec(ctx, a, false, err);
}

static int abort_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    return reopen_exec(ctx, a, true, err);
}

const struct kiln_cmd kiln_cmd_resume = {
    .name = "resume",
    .usage = "JOB",
    .summary = "finish an interrupted job from where it stopped",
    .help = "Steps that completed are skipped; the rest run as they would have.",
    .min_positional = 1,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_JOB,
    .mutating = true,
    .exec = resume_exec,
};

const struct kiln_cmd kiln_cmd_abort = {
    .name = "abort",
    .usage = "JOB",
    .summary = "undo an interrupted job: the cluster goes back to how it was",
    .help = "For a deploy: the groups that served before serve again and the new group is\n"
            "destroyed. For a rollback: the group that served before serves again.",
    .min_positional = 1,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_JOB,
    .mutating = true,
    .exec = abort_exec,
};
