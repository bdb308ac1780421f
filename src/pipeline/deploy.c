/* kiln: the red-black deploy, and promote (the same deploy of an image that already
 * runs in another env).
 *
 * A new version never changes a running server: it is a new group, created detached;
 * it takes traffic only once every instance passes its health check; then the old
 * group is detached and kept, disabled, for a rollback in seconds. If any step after
 * the new group exists fails, the job puts the cluster back as it was (the old groups
 * serve, the new one is destroyed); if even that fails it ends interrupted, so that
 * `kiln abort` can finish the undo. */
#include "pipeline/pipe.h"

#include "kiln/context.h"
#include "kiln/names.h"
#include "kiln/strbuf.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* How long enabling may take to show every instance in service behind the LB. */
#define IN_SERVICE_TIMEOUT_MS 60000

static const char *cluster_app(struct pipe *pp)
{
    return pipe_str(pp, "app");
}

static const char *cluster_env(struct pipe *pp)
{
    return pipe_str(pp, "env");
}

static int step_build(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    return pipe_build_into(pp, out, err);
}

static int step_bake(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    return pipe_bake_into(pp, out, err);
}

/* Sizes: what the user asked, else what the group taking traffic now has, else 1. */
static void choose_sizes(struct pipe *pp, const struct kiln_group *current, cJSON *out)
{
    int min = current ? current->min_size : 1;
    int max = current ? current->max_size : 1;
    int desired = current ? current->desired : 1;
    min = (int)pipe_int(pp, "min", min);
    max = (int)pipe_int(pp, "max", max);
    desired = (int)pipe_int(pp, "desired", desired);
    if (desired < min)
        desired = min;
    if (max < desired)
        max = desired;
    cJSON_AddNumberToObject(out, "min", min);
    cJSON_AddNumberToObject(out, "max", max);
    cJSON_AddNumberToObject(out, "desired", desired);
}

static int step_plan(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    const struct kiln_snapshot *snap;
    if (pipe_inventory(pp, &snap, err) < 0)
        return -1;
    const struct kiln_env *env = kiln_snapshot_find_env(snap, cluster_app(pp), cluster_env(pp));
    if (env == NULL) {
        kiln_snapshot_release(snap);
        return kiln_err_set(err, KILN_E_NOTFOUND,
                            "there is no app %s in env %s; create it first: kiln create-app %s "
                            "--env %s ...",
                            cluster_app(pp), cluster_env(pp), cluster_app(pp), cluster_env(pp));
    }
    int version = kiln_env_next_version(env);
    if (version < 0) {
        kiln_snapshot_release(snap);
        return kiln_err_set(err, KILN_E_FAILED,
                            "%s has 1000 server groups: destroy some first (kiln destroy GROUP)",
                            env->cluster);
    }
    char name[KILN_GROUP_SIZE];
    kiln_group_name_format(name, sizeof name, cluster_app(pp), cluster_env(pp), version);
    cJSON_AddStringToObject(out, "group", name);
    cJSON *old = cJSON_AddArrayToObject(out, "old");
    const struct kiln_group *current = NULL;
    for (size_t i = 0; i < env->n_groups; i++) {
        if (env->groups[i]->enabled) {
            cJSON_AddItemToArray(old, cJSON_CreateString(env->groups[i]->name));
            if (current == NULL)
                current = env->groups[i];
        }
    }
    choose_sizes(pp, current, out);
    /* Recorded with the new group: rollback's default target is what served before. */
    if (current != NULL)
        cJSON_AddStringToObject(out, "previous", current->name);
    pipe_log(pp, KILN_LOG_INFO, "new group %s from %s; %s", name, pipe_str(pp, "image"),
             current ? "the group taking traffic now is kept for rollback" : "first version");
    kiln_snapshot_release(snap);
    return 0;
}

static int step_create(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    const struct kiln_snapshot *snap;
    if (pipe_inventory(pp, &snap, err) < 0)
        return -1;
    bool exists = kiln_snapshot_find_group(snap, pipe_str(pp, "group")) != NULL;
    kiln_snapshot_release(snap);
    if (exists) {
        /* A resumed job whose group was made before kiln died. */
        pipe_log(pp, KILN_LOG_INFO, "%s exists already", pipe_str(pp, "group"));
        return 0;
    }
    struct kiln_group_spec spec = {
        .name = pipe_str(pp, "group"),
        .image = pipe_str(pp, "image"),
        .package = pipe_str(pp, "package"),
        .instance_type = pipe_str(pp, "instance_type"),
        .min_size = (int)pipe_int(pp, "min", 1),
        .max_size = (int)pipe_int(pp, "max", 1),
        .desired = (int)pipe_int(pp, "desired", 1),
        .previous = pipe_str(pp, "previous"),
    };
    return pp->prov->ops->group_create(pp->prov, &spec, err);
}

static int step_wait_healthy(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    return pipe_wait_group(pp, pipe_str(pp, "group"), (int)pipe_int(pp, "desired", 1), false,
                           pipe_int(pp, "health_timeout_ms", pp->ctx->config.health_timeout_ms),
                           err);
}

static int step_enable(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    return pp->prov->ops->group_enable(pp->prov, pipe_str(pp, "group"), err);
}

static int step_wait_in_service(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    return pipe_wait_group(pp, pipe_str(pp, "group"), (int)pipe_int(pp, "desired", 1), true,
                           IN_SERVICE_TIMEOUT_MS, err);
}

static int step_disable_old(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(pp->data, "old");
    const cJSON *g;
    cJSON_ArrayForEach(g, old)
    {
        if (pp->prov->ops->group_disable(pp->prov, g->valuestring, err) < 0)
            return -1;
        pipe_log(pp, KILN_LOG_INFO, "disabled %s (kept for rollback)", g->valuestring);
    }
    return 0;
}

/* The last known-good group of env once `fresh` serves: the group that served before
 * it unless traffic was rolled back away from that one, else the newest disabled
 * group that never was. NULL when there is none. */
static const struct kiln_group *last_known_good(const struct kiln_snapshot *snap,
                                                const struct kiln_env *env, const char *fresh,
                                                const char *previous)
{
    const struct kiln_group *p = previous ? kiln_snapshot_find_group(snap, previous) : NULL;
    if (p != NULL && p->env == env && !p->enabled && p->rejected_us == 0)
        return p;
    for (size_t i = 0; env != NULL && i < env->n_groups; i++) {
        const struct kiln_group *g = env->groups[i];
        if (!g->enabled && g->rejected_us == 0 && strcmp(g->name, fresh) != 0)
            return g;
    }
    return NULL;
}

static int step_cleanup(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    const struct kiln_snapshot *snap;
    if (pipe_inventory(pp, &snap, err) < 0)
        return -1;
    const struct kiln_env *env = kiln_snapshot_find_env(snap, cluster_app(pp), cluster_env(pp));
    const char *fresh = pipe_str(pp, "group");
    /* max_remaining_groups never destroys the last known-good group: it counts first,
     * then the newest others (the likeliest rollbacks), rejected versions included. */
    const struct kiln_group *good = last_known_good(snap, env, fresh, pipe_str(pp, "previous"));
    int keep = pp->ctx->config.max_remaining_groups;
    int kept = good != NULL ? 1 : 0;
    int rc = 0;
    cJSON *destroyed = cJSON_AddArrayToObject(out, "destroyed");
    for (size_t i = 0; env != NULL && i < env->n_groups && rc == 0; i++) {
        const struct kiln_group *g = env->groups[i];
        if (g->enabled || g == good || strcmp(g->name, fresh) == 0)
            continue;
        if (kept < keep) {
            kept++;
            continue;
        }
        pipe_log(pp, KILN_LOG_INFO, "destroying %s (more than %d disabled groups%s)", g->name, keep,
                 good ? "; the last known-good one is kept" : "");
        rc = pp->prov->ops->group_destroy(pp->prov, g->name, err);
        if (rc == 0)
            cJSON_AddItemToArray(destroyed, cJSON_CreateString(g->name));
    }
    kiln_snapshot_release(snap);
    return rc;
}

static int destroy_new(struct pipe *pp, struct kiln_err *err)
{
    const char *group = pipe_str(pp, "group");
    const struct kiln_snapshot *snap;
    if (group == NULL || pipe_inventory(pp, &snap, err) < 0)
        return group == NULL ? 0 : -1;
    bool exists = kiln_snapshot_find_group(snap, group) != NULL;
    kiln_snapshot_release(snap);
    if (!exists)
        return 0;
    pipe_log(pp, KILN_LOG_WARN, "destroying %s; the groups serving before were not touched", group);
    return pp->prov->ops->group_destroy(pp->prov, group, err);
}

static int deploy_undo(struct pipe *pp, struct kiln_err *err);

static int deploy_steps(struct pipe *pp, struct kiln_err *err)
{
    if (pipe_step(pp, "plan", step_plan, err) < 0 ||
        pipe_step(pp, "create-group", step_create, err) < 0)
        return -1;
    if (pipe_step(pp, "wait-healthy", step_wait_healthy, err) < 0 ||
        pipe_step(pp, "enable", step_enable, err) < 0 ||
        pipe_step(pp, "wait-in-service", step_wait_in_service, err) < 0 ||
        pipe_step(pp, "disable-old", step_disable_old, err) < 0)
        return pipe_undo_after_failure(pp, deploy_undo, err);
    /* The new group serves: a failed cleanup leaves extra disabled groups, no harm. */
    if (pipe_step(pp, "cleanup", step_cleanup, err) < 0)
        return -1;
    pp->result = cJSON_CreateObject();
    cJSON_AddStringToObject(pp->result, "group", pipe_str(pp, "group"));
    cJSON_AddStringToObject(pp->result, "image", pipe_str(pp, "image"));
    if (pipe_str(pp, "package"))
        cJSON_AddStringToObject(pp->result, "package", pipe_str(pp, "package"));
    return 0;
}

int pipe_deploy(struct pipe *pp, struct kiln_err *err)
{
    char cluster[KILN_CLUSTER_SIZE];
    kiln_cluster_name_format(cluster, sizeof cluster, cluster_app(pp), cluster_env(pp));
    if (pipe_lock(pp, cluster, err) < 0)
        return -1;
    if (pipe_str(pp, "image") == NULL) {
        if (pipe_str(pp, "package") == NULL && pipe_step(pp, "build", step_build, err) < 0)
            return -1;
        if (pipe_step(pp, "bake", step_bake, err) < 0)
            return -1;
    }
    return deploy_steps(pp, err);
}

static int step_resolve(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    const struct kiln_snapshot *snap;
    if (pipe_inventory(pp, &snap, err) < 0)
        return -1;
    const char *from = pipe_str(pp, "from");
    const struct kiln_env *env = kiln_snapshot_find_env(snap, cluster_app(pp), from);
    const struct kiln_group *serving = NULL;
    for (size_t i = 0; env != NULL && i < env->n_groups && serving == NULL; i++)
        if (env->groups[i]->enabled)
            serving = env->groups[i];
    int rc = 0;
    if (serving == NULL) {
        rc = kiln_err_set(err, KILN_E_NOTFOUND,
                          "%s has no enabled group in %s to promote; deploy it there first",
                          cluster_app(pp), from ? from : "?");
    } else {
        cJSON_AddStringToObject(out, "image", serving->image_id);
        if (serving->package && serving->package[0])
            cJSON_AddStringToObject(out, "package", serving->package);
        cJSON_AddStringToObject(out, "env", pipe_str(pp, "to"));
        cJSON_AddStringToObject(out, "promoted_from", serving->name);
        pipe_log(pp, KILN_LOG_INFO, "promoting %s from %s (%s) to %s: same image, no rebuild",
                 serving->image_id, serving->name, serving->package ? serving->package : "",
                 pipe_str(pp, "to"));
    }
    kiln_snapshot_release(snap);
    return rc;
}

int pipe_promote(struct pipe *pp, struct kiln_err *err)
{
    char cluster[KILN_CLUSTER_SIZE];
    kiln_cluster_name_format(cluster, sizeof cluster, cluster_app(pp), pipe_str(pp, "to"));
    if (pipe_lock(pp, cluster, err) < 0)
        return -1;
    if (pipe_step(pp, "resolve", step_resolve, err) < 0)
        return -1;
    return deploy_steps(pp, err);
}

/* Undo: only what this job changed, and never against what changed after it. The
 * groups that served before are enabled again only if this job may have disabled
 * them (disable-old began) and nothing else serves now; then the new group goes,
 * unless it is the only thing serving. */
static int deploy_undo(struct pipe *pp, struct kiln_err *err)
{
    const char *fresh = pipe_str(pp, "group");
    const struct kiln_snapshot *snap;
    if (fresh == NULL)
        return 0;
    if (pipe_inventory(pp, &snap, err) < 0)
        return -1;
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(pp->data, "old");
    const struct kiln_group *mine = kiln_snapshot_find_group(snap, fresh);
    const struct kiln_env *env = mine ? mine->env : NULL;
    const struct kiln_group *foreign = NULL;
    for (size_t i = 0; env != NULL && i < env->n_groups && foreign == NULL; i++) {
        const struct kiln_group *g = env->groups[i];
        bool was_old = false;
        const cJSON *o;
        cJSON_ArrayForEach(o, old) was_old |= strcmp(o->valuestring, g->name) == 0;
        if (g->enabled && g != mine && !was_old)
            foreign = g;
    }
    int rc = 0;
    int serving_old = 0;
    const cJSON *g;
    cJSON_ArrayForEach(g, old)
    {
        const struct kiln_group *og = kiln_snapshot_find_group(snap, g->valuestring);
        if (og == NULL) {
            pipe_log(pp, KILN_LOG_WARN, "%s is gone (destroyed after this job): not restored",
                     g->valuestring);
        } else if (og->enabled) {
            serving_old++;
        } else if (foreign != NULL) {
            pipe_log(pp, KILN_LOG_WARN,
                     "%s is left disabled: %s serves now, enabled after this job", og->name,
                     foreign->name);
        } else if (!pipe_step_started(pp, "disable-old")) {
            pipe_log(pp, KILN_LOG_WARN,
                     "%s is left disabled: this job never disabled it (it was changed after)",
                     og->name);
        } else if (rc == 0) {
            rc = pp->prov->ops->group_enable(pp->prov, og->name, err);
            if (rc == 0) {
                serving_old++;
                pipe_log(pp, KILN_LOG_INFO, "%s serves again", og->name);
            }
        }
    }
    bool mine_enabled = mine != NULL && mine->enabled;
    kiln_snapshot_release(snap);
    if (rc < 0 || mine == NULL)
        return rc;
    if (mine_enabled && serving_old == 0 && foreign == NULL && cJSON_GetArraySize(old) > 0) {
        return kiln_err_set(err, KILN_E_FAILED,
                            "%s is the only group serving and the groups before it cannot "
                            "serve again: it is kept (kiln rollback or kiln destroy)",
                            fresh);
    }
    return destroy_new(pp, err);
}

int pipe_deploy_abort(struct pipe *pp, struct kiln_err *err)
{
    const char *env = cluster_env(pp) ? cluster_env(pp) : pipe_str(pp, "to");
    char cluster[KILN_CLUSTER_SIZE];
    kiln_cluster_name_format(cluster, sizeof cluster, cluster_app(pp), env);
    if (pipe_lock(pp, cluster, err) < 0)
        return -1;
    if (pipe_str(pp, "group") == NULL) {
        pipe_log(pp, KILN_LOG_INFO, "the job never planned a group: nothing to undo");
        return 0;
    }
    return deploy_undo(pp, err);
}
