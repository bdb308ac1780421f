/* kiln chaos run: the headless chaos monkey for AWS. The local cloud's monkey lives in
 * kilnd; on AWS nothing runs between consoles, so this command is the monkey: run it
 * from cron or a service. Clusters opt in with `kiln chaos APP --env ENV --enable`
 * (a tag on their load balancer). Within the allowed days and hours it kills a random
 * instance of each opted-in cluster's enabled group, on average every mean time and
 * never two within the minimum, and logs every kill (stdout and the history). The
 * Auto Scaling Group replaces the instance; the Events view shows the recovery. */
#include "commands/commands.h"
#include "kiln/chaos_gap.h"
#include "kiln/context.h"
#include "kiln/history.h"
#include "kiln/provider.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHAOS_MAX_CLUSTERS 4096
#define CHAOS_TICK_MS      1000

struct schedule {
    char cluster[96];
    int64_t last_kill_us; /* 0 = none yet */
    int64_t next_kill_us;
};

struct monkey {
    struct kiln_ctx *ctx;
    struct kiln_provider *prov;
    int from_hour, to_hour; /* kills only in [from, to) local time */
    bool weekdays;          /* Monday to Friday only */
    struct schedule *sched;
    size_t n_sched;
    int kills;
};

static volatile sig_atomic_t stop_monkey;

static void on_stop(int sig)
{
    stop_monkey = 1;
}

static bool in_window(const struct monkey *m, int64_t now_us)
{
    time_t t = (time_t)(now_us / 1000000);
    struct tm tm;
    localtime_r(&t, &tm);
    if (m->weekdays && (tm.tm_wday == 0 || tm.tm_wday == 6))
        return false;
    return tm.tm_hour >= m->from_hour && tm.tm_hour < m->to_hour;
}

static struct schedule *schedule_of(struct monkey *m, const char *cluster)
{
    for (size_t i = 0; i < m->n_sched; i++)
        if (strcmp(m->sched[i].cluster, cluster) == 0)
            return &m->sched[i];
    if (m->n_sched >= CHAOS_MAX_CLUSTERS)
        return NULL;
    m->sched = xrealloc(m->sched, (m->n_sched + 1) * sizeof *m->sched);
    struct schedule *s = &m->sched[m->n_sched++];
    memset(s, 0, sizeof *s);
    snprintf(s->cluster, sizeof s->cluster, "%s", cluster);
    return s;
}

static void log_kill(struct monkey *m, const struct kiln_env *env, const char *id,
                     const char *result)
{
    char when[KILN_ISO_TIME_MAX];
    fprintf(m->ctx->out, "%s chaos %s %s: %s\n", kiln_time_iso(kiln_now_us(), when), env->cluster,
            id, result);
    fflush(m->ctx->out);
    struct kiln_history_entry e = {.action = "chaos",
                                   .target = env->cluster,
                                   .result = result,
                                   .duration_ms = -1,
                                   .detail = id};
    struct kiln_err err = {0};
    if (kiln_history_append(m->ctx->paths.history, &e, &err) < 0)
        fprintf(m->ctx->msg, "kiln: could not write the history: %s\n", err.msg);
}

/* One kill in env: a random running instance of its enabled group(s). */
static void kill_one(struct monkey *m, const struct kiln_env *env)
{
    const struct kiln_instance *victims[1024];
    size_t n = 0;
    for (size_t g = 0; g < env->n_groups; g++) {
        const struct kiln_group *grp = env->groups[g];
        if (!grp->enabled)
            continue;
        for (size_t i = 0; i < grp->n_instances && n < 1024; i++)
            if (grp->instances[i]->state == KILN_INSTANCE_RUNNING)
                victims[n++] = grp->instances[i];
    }
    if (n == 0)
        return;
    const struct kiln_instance *v = victims[kiln_chaos_random() % n];
    struct kiln_err err = {0};
    if (m->prov->ops->instance_terminate(m->prov, v->id, false, &err) < 0) {
        log_kill(m, env, v->id, err.msg);
        return;
    }
    m->kills++;
    log_kill(m, env, v->id, "killed");
}

static int monkey_pass(struct monkey *m, struct kiln_err *err)
{
    struct kiln_snapshot *snap = NULL;
    if (m->prov->ops->inventory(m->prov, &snap, err) < 0)
        return -1;
    int64_t now = kiln_now_us();
    bool open = in_window(m, now);
    for (size_t a = 0; a < snap->n_apps; a++) {
        for (size_t e = 0; e < snap->apps[a]->n_envs; e++) {
            const struct kiln_env *env = snap->apps[a]->envs[e];
            if (!env->chaos_enabled || env->chaos_mean_ms <= 0)
                continue;
            struct schedule *s = schedule_of(m, env->cluster);
            if (s == NULL)
                continue;
            if (s->next_kill_us == 0)
                s->next_kill_us = now + kiln_chaos_gap_us(env->chaos_mean_ms, env->chaos_min_ms,
                                                          kiln_chaos_unit(kiln_chaos_random()));
            if (!open || now < s->next_kill_us)
                continue;
            /* The promise users rely on: never two kills inside the minimum. */
            if (s->last_kill_us != 0 && now - s->last_kill_us < env->chaos_min_ms * 1000)
                continue;
            kill_one(m, env);
            s->last_kill_us = now;
            s->next_kill_us = now + kiln_chaos_gap_us(env->chaos_mean_ms, env->chaos_min_ms,
                                                      kiln_chaos_unit(kiln_chaos_random()));
        }
    }
    kiln_snapshot_release(snap);
    return 0;
}

static int parse_hours(const char *s, int *from, int *to, struct kiln_err *err)
{
    if (strcmp(s, "any") == 0) {
        *from = 0;
        *to = 24;
        return 0;
    }
    char extra;
    if (sscanf(s, "%d-%d%c", from, to, &extra) != 2 || *from < 0 || *to > 24 || *from >= *to)
        return kiln_err_set(err, KILN_E_USAGE,
                            "--hours takes FROM-TO in whole hours of local time (e.g. 9-15), or "
                            "any; not '%.20s'",
                            s);
    return 0;
}

int kiln_chaos_run(struct kiln_ctx *ctx, const char *hours, bool weekdays, const char *duration,
                   struct kiln_err *err)
{
    struct monkey m = {.ctx = ctx, .weekdays = weekdays};
    int64_t run_ms = 0;
    if (parse_hours(hours ? hours : "9-15", &m.from_hour, &m.to_hour, err) < 0)
        return -1;
    if (duration != NULL && kiln_parse_duration(duration, &run_ms, err) < 0) {
        kiln_err_prefix(err, "--duration");
        err->code = KILN_E_USAGE;
        return -1;
    }
    /* 0 would mean "until interrupted", which is leaving --duration out. */
    if (duration != NULL && run_ms == 0)
        return kiln_err_set(err, KILN_E_USAGE,
                            "--duration must be longer than 0 (leave it out to run until "
                            "interrupted)");
    if (kiln_ctx_setup(ctx, err) < 0)
        return -1;
    const char *prov =
        ctx->opts.provider ? ctx->opts.provider : kiln_provider_kind_name(ctx->config.provider);
    if (strcmp(prov, "aws") != 0)
        return kiln_err_set(err, KILN_E_USAGE,
                            "the local cloud runs its chaos monkey itself (kiln chaos APP --env "
                            "ENV --enable); chaos run is for --provider aws");
    m.prov = kiln_provider_open(ctx, err);
    if (m.prov == NULL)
        return -1;
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    fprintf(ctx->msg, "kiln: chaos monkey running (%s, %02d:00-%02d:00%s); Ctrl-C stops it\n", prov,
            m.from_hour, m.to_hour, weekdays ? ", Monday to Friday" : "");
    int64_t end = run_ms > 0 ? kiln_mono_us() + run_ms * 1000 : 0;
    int rc = 0;
    while (!stop_monkey && (end == 0 || kiln_mono_us() < end)) {
        if (monkey_pass(&m, err) < 0) {
            /* A failed inventory is worth a line, not the end of the monkey. */
            fprintf(ctx->msg, "kiln: chaos: %s\n", err->msg);
            kiln_err_clear(err);
        }
        kiln_sleep_ms(CHAOS_TICK_MS);
    }
    fprintf(ctx->msg, "kiln: chaos monkey stopped after %d kill%s\n", m.kills,
            m.kills == 1 ? "" : "s");
    kiln_provider_close(m.prov);
    free(m.sched);
    return rc;
}
