/* kiln: rollback. The previous version is still there, disabled, with its instances:
 * make sure it has its capacity and is healthy, enable it, disable the bad one.
 * Seconds, not a rebuild; it never builds or bakes. */
#include "pipeline/pipe.h"

#include "kiln/context.h"
#include "kiln/names.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define IN_SERVICE_TIMEOUT_MS 60000

/* The default target: the group that served before the current one, unless traffic
 * was rolled back away from it (a rejected version); else the newest disabled group
 * that never was. A rejected version comes back only when named (--to). */
static const struct kiln_group *default_target(const struct kiln_snapshot *snap,
                                               const struct kiln_env *env,
                                               const struct kiln_group *current)
{
    if (current != NULL && current->previous != NULL && current->previous[0]) {
        const struct kiln_group *p = kiln_snapshot_find_group(snap, current->previous);
        if (p != NULL && p->env == env && !p->enabled && p->rejected_us == 0)
            return p;
    }
    /* groups are newest first */
    for (size_t i = 0; i < env->n_groups; i++)
        if (!env->groups[i]->enabled && env->groups[i]->rejected_us == 0)
            return env->groups[i];
    return NULL;
}

static int no_target(const struct kiln_env *env, struct kiln_err *err)
{
    const struct kiln_group *rejected = NULL;
    for (size_t i = 0; i < env->n_groups && rejected == NULL; i++)
        if (!env->groups[i]->enabled)
            rejected = env->groups[i];
    if (rejected == NULL)
        return kiln_err_set(err, KILN_E_NOTFOUND,
                            "%s has no disabled group to roll back to (kiln status %s shows "
                            "its groups)",
                            env->cluster, env->app->name);
    return kiln_err_set(err, KILN_E_NOTFOUND,
                        "%s has no disabled group that was not rolled back from: %s (%s) was "
                        "rejected; to bring it back anyway: kiln rollback %s --env %s --to %s",
                        env->cluster, rejected->name,
                        rejected->package && rejected->package[0] ? rejected->package
                                                                  : rejected->image_id,
                        env->app->name, env->name, rejected->name);
}

static int step_plan(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    const struct kiln_snapshot *snap;
    if (pipe_inventory(pp, &snap, err) < 0)
        return -1;
    const char *app = pipe_str(pp, "app"), *envname = pipe_str(pp, "env");
    const struct kiln_env *env = kiln_snapshot_find_env(snap, app, envname);
    int rc = 0;
    const struct kiln_group *target = NULL, *current = NULL;
    cJSON *cur = cJSON_AddArrayToObject(out, "current");
    for (size_t i = 0; env != NULL && i < env->n_groups; i++) {
        const struct kiln_group *g = env->groups[i];
        if (g->enabled) {
            cJSON_AddItemToArray(cur, cJSON_CreateString(g->name));
            if (current == NULL)
                current = g;
        }
    }
    const char *to = pipe_str(pp, "to");
    if (env == NULL) {
        rc = kiln_err_set(err, KILN_E_NOTFOUND, "there is no app %s in env %s", app, envname);
    } else if (to != NULL) {
        target = kiln_snapshot_find_group(snap, to);
        if (target == NULL || target->env != env)
            rc = kiln_err_set(err, KILN_E_NOTFOUND, "%s is not a server group of %s-%s", to, app,
                              envname);
        else if (target->enabled)
            rc = kiln_err_set(err, KILN_E_INVALID, "%s is already enabled: nothing to roll back",
                              to);
    } else {
        target = default_target(snap, env, current);
        if (target == NULL)
            rc = no_target(env, err);
    }
    if (rc == 0) {
        int desired = target->desired;
        if (desired < 1)
            desired = current && current->desired > 0 ? current->desired : 1;
        cJSON_AddStringToObject(out, "target", target->name);
        cJSON_AddBoolToObject(out, "target_was_rejected", target->rejected_us != 0);
        cJSON_AddNumberToObject(out, "target_desired", desired);
        cJSON_AddNumberToObject(out, "target_min",
                                target->min_size > desired ? desired : target->min_size);
        cJSON_AddNumberToObject(out, "target_max",
                                target->max_size < desired ? desired : target->max_size);
        pipe_log(pp, KILN_LOG_INFO, "rolling back %s-%s to %s (%s) from %s", app, envname,
                 target->name, target->package ? target->package : target->image_id,
                 current ? current->name : "no enabled group");
    }
    kiln_snapshot_release(snap);
    return rc;
}

static int step_capacity(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    const struct kiln_snapshot *snap;
    if (pipe_inventory(pp, &snap, err) < 0)
        return -1;
    const struct kiln_group *g = kiln_snapshot_find_group(snap, pipe_str(pp, "target"));
    int want = (int)pipe_int(pp, "target_desired", 1);
    bool short_of = g != NULL && g->desired < want;
    int min = g ? g->min_size : 0, max = g ? g->max_size : 0;
    kiln_snapshot_release(snap);
    if (g == NULL)
        return kiln_err_set(err, KILN_E_NOTFOUND, "%s disappeared", pipe_str(pp, "target"));
    if (!short_of)
        return 0;
    pipe_log(pp, KILN_LOG_INFO, "scaling %s back up to %d", pipe_str(pp, "target"), want);
    return pp->prov->ops->group_resize(pp->prov, pipe_str(pp, "target"), min > want ? want : min,
                                       max < want ? want : max, want, err);
}

static int step_wait_healthy(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    return pipe_wait_group(pp, pipe_str(pp, "target"), (int)pipe_int(pp, "target_desired", 1),
                           false, pp->ctx->config.health_timeout_ms, err);
}

static int step_enable(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    return pp->prov->ops->group_enable(pp->prov, pipe_str(pp, "target"), err);
}

static int step_wait_in_service(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    return pipe_wait_group(pp, pipe_str(pp, "target"), (int)pipe_int(pp, "target_desired", 1), true,
                           IN_SERVICE_TIMEOUT_MS, err);
}

static int step_disable_current(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    const cJSON *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(pp->data, "current"))
    {
        if (pp->prov->ops->group_disable(pp->prov, g->valuestring, err) < 0)
            return -1;
        pipe_log(pp, KILN_LOG_INFO, "disabled %s", g->valuestring);
    }
    return 0;
}

/* The groups rolled back from are marked rejected (status and the console show it,
 * and no later rollback picks them by default); a rejected target brought back by
 * --to is not rejected any more. */
static int mark(struct pipe *pp, const char *group, bool rejected, struct kiln_err *err)
{
    if (pp->prov->ops->group_mark_rejected == NULL)
        return 0;
    return pp->prov->ops->group_mark_rejected(pp->prov, group, rejected, err);
}

static int step_mark_rejected(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    const cJSON *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(pp->data, "current"))
    {
        if (mark(pp, g->valuestring, true, err) < 0)
            return -1;
        pipe_log(pp, KILN_LOG_INFO, "%s is marked rejected: rollback will not pick it again",
                 g->valuestring);
    }
    const cJSON *was = cJSON_GetObjectItemCaseSensitive(pp->data, "target_was_rejected");
    if (cJSON_IsTrue(was))
        return mark(pp, pipe_str(pp, "target"), false, err);
    return 0;
}

static int lock_cluster(struct pipe *pp, struct kiln_err *err)
{
    char cluster[KILN_CLUSTER_SIZE];
    kiln_cluster_name_format(cluster, sizeof cluster, pipe_str(pp, "app"), pipe_str(pp, "env"));
    return pipe_lock(pp, cluster, err);
}

static int rollback_undo(struct pipe *pp, struct kiln_err *err);

int pipe_rollback(struct pipe *pp, struct kiln_err *err)
{
    if (lock_cluster(pp, err) < 0 || pipe_step(pp, "plan", step_plan, err) < 0 ||
        pipe_step(pp, "capacity", step_capacity, err) < 0 ||
        pipe_step(pp, "wait-healthy", step_wait_healthy, err) < 0)
        return -1;
    if (pipe_step(pp, "enable", step_enable, err) < 0 ||
        pipe_step(pp, "wait-in-service", step_wait_in_service, err) < 0 ||
        pipe_step(pp, "disable-current", step_disable_current, err) < 0 ||
        pipe_step(pp, "mark-rejected", step_mark_rejected, err) < 0)
        return pipe_undo_after_failure(pp, rollback_undo, err);
    pp->result = cJSON_CreateObject();
    cJSON_AddStringToObject(pp->result, "group", pipe_str(pp, "target"));
    cJSON_AddItemToObject(
        pp->result, "disabled",
        cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(pp->data, "current"), true));
    return 0;
}

/* Abort: only what this job changed. The groups that served before serve again if
 * this job may have disabled them; the target goes back to disabled if this job may
 * have enabled it; the marks are put back. */
static int rollback_undo(struct pipe *pp, struct kiln_err *err)
{
    const char *target = pipe_str(pp, "target");
    if (target == NULL) {
        pipe_log(pp, KILN_LOG_INFO, "the rollback never chose a target: nothing to undo");
        return 0;
    }
    const cJSON *g;
    if (pipe_step_started(pp, "disable-current")) {
        cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(pp->data, "current"))
        {
            if (pp->prov->ops->group_enable(pp->prov, g->valuestring, err) < 0)
                return -1;
            pipe_log(pp, KILN_LOG_INFO, "%s serves again", g->valuestring);
        }
    }
    if (pipe_step_started(pp, "mark-rejected")) {
        cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(pp->data, "current"))
        {
            if (mark(pp, g->valuestring, false, err) < 0)
                return -1;
        }
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pp->data, "target_was_rejected")) &&
            mark(pp, target, true, err) < 0)
            return -1;
    }
    if (!pipe_step_started(pp, "enable")) {
        pipe_log(pp, KILN_LOG_INFO, "%s was never enabled by this job: left as it is", target);
        return 0;
    }
    /* Disabling a disabled group is a no-op, so this is right whichever step died. */
    if (pp->prov->ops->group_disable(pp->prov, target, err) < 0)
        return -1;
    pipe_log(pp, KILN_LOG_INFO, "%s is disabled again; the groups serving before serve", target);
    return 0;
}

int pipe_rollback_abort(struct pipe *pp, struct kiln_err *err)
{
    if (lock_cluster(pp, err) < 0)
        return -1;
    return rollback_undo(pp, err);
}
