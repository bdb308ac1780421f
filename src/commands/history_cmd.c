/* kiln history [APP] */
#include "commands/commands.h"
#include "kiln/context.h"
#include "kiln/history.h"
#include "kiln/names.h"
#include "kiln/timeutil.h"

#include <cjson/cJSON.h>

struct history_print {
    struct kiln_ctx *ctx;
    cJSON *array; /* with --json */
    size_t n;
};

static bool print_entry(void *arg, const struct kiln_history_entry *e)
{
    struct history_print *hp = arg;
    hp->n++;
    if (hp->array != NULL) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "time", e->time);
        cJSON_AddStringToObject(o, "user", e->user);
        cJSON_AddStringToObject(o, "action", e->action);
        cJSON_AddStringToObject(o, "target", e->target);
        if (e->job)
            cJSON_AddNumberToObject(o, "job", (double)e->job);
        cJSON_AddStringToObject(o, "result", e->result);
        if (e->duration_ms >= 0)
            cJSON_AddNumberToObject(o, "duration_ms", (double)e->duration_ms);
        if (e->detail)
            cJSON_AddStringToObject(o, "detail", e->detail);
        cJSON_AddItemToArray(hp->array, o);
        return true;
    }
    char dur[KILN_DURATION_MAX] = "-";
    if (e->duration_ms >= 0)
        kiln_format_duration(e->duration_ms, dur);
    char job[24] = "-";
    if (e->job)
        snprintf(job, sizeof job, "%llu", (unsigned long long)e->job);
    fprintf(hp->ctx->out, "%-20s  %-22s  %-10s  %-28s  %5s  %-10s  %6s%s%s\n", e->time, e->user,
            e->action, e->target, job, e->result, dur, e->detail ? "  " : "",
            e->detail ? e->detail : "");
    return true;
}

static int history_exec(struct kiln_ctx *ctx, const struct kiln_args *args, struct kiln_err *err)
{
    const char *app = args->n_positional ? args->positional[0] : NULL;
    if (app != NULL && kiln_name_validate_app(app, err) < 0)
        return kiln_cmd_usage(err);
    if (kiln_ctx_setup(ctx, err) < 0)
        return -1;

    struct history_print hp = {.ctx = ctx};
    if (ctx->json)
        hp.array = cJSON_CreateArray();
    else
        fprintf(ctx->out, "%-20s  %-22s  %-10s  %-28s  %5s  %-10s  %6s\n", "TIME", "WHO", "ACTION",
                "TARGET", "JOB", "RESULT", "TOOK");
    size_t malformed = 0;
    int rc = kiln_history_read(ctx->paths.history, app, print_entry, &hp, &malformed, err);
    if (rc == 0 && hp.array != NULL) {
        char *text = cJSON_PrintUnformatted(hp.array);
        fprintf(ctx->out, "%s\n", text);
        cJSON_free(text);
    }
    cJSON_Delete(hp.array);
    if (rc == 0 && malformed > 0)
        fprintf(ctx->msg, "kiln: skipped %zu damaged line%s in %s\n", malformed,
                malformed == 1 ? "" : "s", ctx->paths.history);
    return rc;
}

const struct kiln_cmd kiln_cmd_history = {
    .name = "history",
    .usage = "[APP]",
    .summary = "who did what, to what, when, and how it ended",
    .help = "Shows the audit history kept in the state dir, oldest first: every mutating job\n"
            "appends who ran it (user@host), what, on which target, the result and how long\n"
            "it took. With APP, only that app's entries.",
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_APP,
    .exec = history_exec,
};
