/* kiln events [--follow] and kiln chaos: watching the cloud, and the monkey. */
#include "commands/commands.h"
#include "kiln/atomic_file.h"
#include "kiln/context.h"
#include "kiln/json.h"
#include "kiln/names.h"
#include "kiln/provider.h"
#include "kiln/timeutil.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static void print_event(struct kiln_ctx *ctx, const struct kiln_event *e)
{
    if (ctx->json) {
        cJSON *o = cJSON_CreateObject();
        char t[KILN_ISO_TIME_MAX];
        cJSON_AddNumberToObject(o, "seq", (double)e->seq);
        cJSON_AddStringToObject(o, "time", kiln_time_iso_ms(e->time_us, t));
        cJSON_AddStringToObject(o, "type", e->type);
        if (e->cluster[0])
            cJSON_AddStringToObject(o, "cluster", e->cluster);
        if (e->group[0])
            cJSON_AddStringToObject(o, "group", e->group);
        if (e->instance[0])
            cJSON_AddStringToObject(o, "instance", e->instance);
        if (e->cause[0])
            cJSON_AddStringToObject(o, "cause", e->cause);
        if (e->recovery_ms >= 0)
            cJSON_AddNumberToObject(o, "recovery_ms", (double)e->recovery_ms);
        if (e->replaces[0])
            cJSON_AddStringToObject(o, "replaces", e->replaces);
        cJSON_AddStringToObject(o, "message", e->message);
        char *text = cJSON_PrintUnformatted(o);
        fprintf(ctx->out, "%s\n", text);
        cJSON_free(text);
        cJSON_Delete(o);
    } else {
        char t[KILN_ISO_TIME_MAX];
        fprintf(ctx->out, "%s  %-10s %-9s %s\n", kiln_time_iso(e->time_us, t), e->type,
                e->cause[0] ? e->cause : "-", e->message);
    }
    fflush(ctx->out);
}

/* The recorded events come from events.log; following them needs the live stream. */
static int print_recorded(struct kiln_ctx *ctx, uint64_t *last, struct kiln_err *err)
{
    char *text = NULL;
    size_t len = 0;
    struct kiln_err rerr = {0};
    if (kiln_read_file(ctx->paths.events_log, &text, &len, 256u << 20, &rerr) < 0) {
        if (rerr.code == KILN_E_NOTFOUND)
            return 0;
        *err = rerr;
        return -1;
    }
    for (char *line = text, *nl; line < text + len; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(text + len - line));
        if (nl == NULL)
            break; /* a torn last line */
        *nl = '\0';
        cJSON *o = cJSON_Parse(line);
        struct kiln_event e;
        if (o != NULL) {
            const cJSON *seq = cJSON_GetObjectItem(o, "seq");
            memset(&e, 0, sizeof e);
            /* Numbers out of range (or NAN for a missing one) would not convert. */
            e.seq = cJSON_IsNumber(seq) && kiln_fits_u64(seq->valuedouble)
                        ? (uint64_t)seq->valuedouble
                        : 0;
            double t = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "time_us"));
            e.time_us = kiln_i64_or(t, 0);
#define F(field)                                                                                   \
    do {                                                                                           \
        const cJSON *v_ = cJSON_GetObjectItem(o, #field);                                          \
        if (cJSON_IsString(v_))                                                                    \
            snprintf(e.field, sizeof e.field, "%s", v_->valuestring);                              \
    } while (0)
            F(type);
            F(cluster);
            F(group);
            F(instance);
            F(cause);
            F(message);
            F(replaces);
#undef F
            const cJSON *r = cJSON_GetObjectItem(o, "recovery_ms");
            e.recovery_ms = kiln_json_i64(r, -1);
            if (e.seq > 0) {
                print_event(ctx, &e);
                *last = e.seq;
            }
        }
        cJSON_Delete(o);
    }
    free(text);
    return 0;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    interrupted = 1;
}

static int events_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    if (kiln_ctx_setup(ctx, err) < 0)
        return -1;
    uint64_t last = 0;
    bool follow = kiln_args_flag(&kiln_cmd_events, a, "follow");
    const char *prov = ctx->opts.provider;
    if (prov == NULL)
        prov = kiln_provider_kind_name(ctx->config.provider);
    bool aws = strcmp(prov, "aws") == 0;
    /* kilnd records the local cloud's events in events.log; AWS keeps its own record
     * (scaling activities), which the provider replays for any `since` > 0. */
    if (!aws && print_recorded(ctx, &last, err) < 0)
        return -1;
    if (!follow && !aws)
        return 0;
    struct kiln_provider *p = kiln_provider_open(ctx, err);
    if (p == NULL)
        return -1;
    if (aws) {
        struct kiln_event e;
        int r;
        while ((r = p->ops->next_event(p, last ? last : 1, 0, &e, err)) == 1) {
            print_event(ctx, &e);
            last = e.seq;
        }
        if (r < 0 || !follow) {
            kiln_provider_close(p);
            return r < 0 ? -1 : 0;
        }
    }
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
    int rc = 0;
    while (!interrupted) {
        struct kiln_event e;
        int r = p->ops->next_event(p, last, 500, &e, err);
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r == 1 && e.seq > last) {
            print_event(ctx, &e);
            last = e.seq;
        }
    }
    kiln_provider_close(p);
    return rc;
}

static const struct kiln_opt events_opts[] = {
    {"follow", NULL, "keep printing new events until interrupted", KILN_COMPLETE_NONE},
    {0},
};

const struct kiln_cmd kiln_cmd_events = {
    .name = "events",
    .usage = "[--follow]",
    .summary = "launches, terminations (with cause), health flips, load balancer changes",
    .help = "Chaos kills have cause `chaos`; a replacement that became healthy shows as a\n"
            "`recovered` event with its time to recover.",
    .opts = events_opts,
    .exec = events_exec,
};

/* ---- chaos ---- */

static const struct kiln_opt chaos_opts[] = {
    {"env", "ENV", "the environment", KILN_COMPLETE_ENV},
    {"enable", NULL, "start killing instances of the enabled group", KILN_COMPLETE_NONE},
    {"disable", NULL, "stop", KILN_COMPLETE_NONE},
    {"mean-time-between-kills", "DUR", "average time between kills (e.g. 30s)", KILN_COMPLETE_NONE},
    {"min-time-between-kills", "DUR", "never two kills closer than this (e.g. 10s)",
     KILN_COMPLETE_NONE},
    {"hours", "FROM-TO", "run: kill only between these hours, local time (default 9-15; any)",
     KILN_COMPLETE_NONE},
    {"weekdays", NULL, "run: kill only Monday to Friday", KILN_COMPLETE_NONE},
    {"duration", "DUR", "run: stop after this long (default: until interrupted)",
     KILN_COMPLETE_NONE},
    {0},
};

static int chaos_status(struct kiln_ctx *ctx, struct kiln_err *err)
{
    struct kiln_provider *p = kiln_provider_open(ctx, err);
    if (p == NULL)
        return -1;
    struct kiln_snapshot *snap = NULL;
    int rc = p->ops->inventory(p, &snap, err);
    kiln_provider_close(p);
    if (rc < 0)
        return -1;
    for (size_t a = 0; a < snap->n_apps; a++)
        for (size_t e = 0; e < snap->apps[a]->n_envs; e++) {
            const struct kiln_env *env = snap->apps[a]->envs[e];
            char mean[KILN_DURATION_MAX], min[KILN_DURATION_MAX];
            fprintf(ctx->out, "%-32s %-4s mean %s, min %s\n", env->cluster,
                    env->chaos_enabled ? "ON" : "off",
                    kiln_format_duration(env->chaos_mean_ms, mean),
                    kiln_format_duration(env->chaos_min_ms, min));
        }
    kiln_snapshot_release(snap);
    return 0;
}

static int chaos_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    const struct kiln_cmd *cmd = &kiln_cmd_chaos;
    const char *app = a->positional[0];
    if (strcmp(app, "status") == 0)
        return chaos_status(ctx, err);
    if (strcmp(app, "run") == 0) {
        if (ctx->read_only)
            return kiln_err_set(err, KILN_E_READONLY,
                                "'chaos run' kills instances and kiln is "
                                "in read-only mode; nothing was done");
        return kiln_chaos_run(ctx, kiln_args_get(cmd, a, "hours"),
                              kiln_args_flag(cmd, a, "weekdays"), kiln_args_get(cmd, a, "duration"),
                              err);
    }
    const char *env = kiln_args_get(cmd, a, "env");
    if (kiln_name_validate_app(app, err) < 0)
        return kiln_cmd_usage(err);
    if (env == NULL)
        return kiln_err_set(err, KILN_E_USAGE, "chaos needs --env ENV (or: kiln chaos status)");
    if (kiln_name_validate_env(env, err) < 0)
        return kiln_cmd_usage(err);
    bool on = kiln_args_flag(cmd, a, "enable"), off = kiln_args_flag(cmd, a, "disable");
    if (on && off)
        return kiln_err_set(err, KILN_E_USAGE, "--enable and --disable contradict each other");
    /* Chaos kills instances: in a protected env it is confirmed like any change. */
    if (kiln_ctx_setup(ctx, err) < 0 || kiln_cmd_confirm_env(ctx, "chaos", env, err) < 0)
        return -1;
    struct kiln_chaos_spec spec = {.enable = on ? 1 : off ? 0 : -1};
    const char *mean = kiln_args_get(cmd, a, "mean-time-between-kills");
    const char *min = kiln_args_get(cmd, a, "min-time-between-kills");
    /* The ranges of [local] chaos_mean and chaos_min, which set the same things. */
    if (mean && kiln_config_parse_duration("local", "chaos_mean", mean, &spec.mean_ms, err) < 0) {
        kiln_err_prefix(err, "--mean-time-between-kills");
        return kiln_cmd_usage(err);
    }
    if (min && kiln_config_parse_duration("local", "chaos_min", min, &spec.min_ms, err) < 0) {
        kiln_err_prefix(err, "--min-time-between-kills");
        return kiln_cmd_usage(err);
    }
    if (min && spec.min_ms == 0)
        /* 0 in the spec means "unchanged": it cannot carry "no minimum". */
        return kiln_err_set(err, KILN_E_USAGE,
                            "--min-time-between-kills must be at least 1ms (for no minimum, "
                            "give 1ms)");
    if (mean && min && spec.min_ms > spec.mean_ms)
        return kiln_err_set(err, KILN_E_USAGE,
                            "--min-time-between-kills (%s) is longer than "
                            "--mean-time-between-kills (%s)",
                            min, mean);
    if (ctx->read_only)
        return kiln_err_set(err, KILN_E_READONLY,
                            "'chaos' changes things and kiln is in "
                            "read-only mode; nothing was done");
    struct kiln_provider *p = kiln_provider_open(ctx, err);
    if (p == NULL)
        return -1;
    int rc = p->ops->chaos(p, app, env, &spec, err);
    kiln_provider_close(p);
    if (rc == 0 && !ctx->json)
        fprintf(ctx->out, "chaos %s for %s-%s\n",
                on    ? "enabled"
                : off ? "disabled"
                      : "updated",
                app, env);
    return rc;
}

const struct kiln_cmd kiln_cmd_chaos = {
    .name = "chaos",
    .usage = "APP --env ENV --enable|--disable [--mean-time-between-kills DUR] "
             "[--min-time-between-kills DUR] | status | run [--hours FROM-TO] [--weekdays] "
             "[--duration DUR]",
    .summary = "the chaos monkey: kill instances of an app on purpose",
    .help = "Opt-in per app and env: kills a random instance of the enabled group with\n"
            "SIGKILL, on average every --mean-time-between-kills, never two within\n"
            "--min-time-between-kills. Every kill is an event with cause chaos.\n"
            "The local cloud's monkey runs in kilnd. On AWS, `kiln chaos run` is the monkey:\n"
            "it kills in the opted-in clusters within --hours (and --weekdays), logs every\n"
            "kill, and runs until interrupted or for --duration.",
    .opts = chaos_opts,
    .min_positional = 1,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_APP,
    .words = "status run",
    /* `chaos status` only reads: chaos_exec refuses the rest in read-only mode. */
    .mutating = false,
    .exec = chaos_exec,
};
