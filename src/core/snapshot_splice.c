/* kiln: one cluster's fresh inventory put into an older whole one (see model.h).
 *
 * On a large AWS account the whole inventory costs a few hundred requests; the cluster
 * on screen costs about six. The console refreshes that one often and the whole rarely,
 * and shows base with the cluster replaced: everything else as of the last whole
 * refresh, the cluster as of now. */
#include "kiln/model.h"

#include <string.h>

static int copy_env(struct kiln_snapshot *out, struct kiln_app *app, const struct kiln_env *e,
                    struct kiln_err *err)
{
    struct kiln_env *ne = kiln_snapshot_add_env(out, app, e, err);
    if (ne == NULL)
        return -1;
    for (size_t g = 0; g < e->n_groups; g++) {
        const struct kiln_group *grp = e->groups[g];
        struct kiln_group *ng = kiln_snapshot_add_group(out, ne, grp, err);
        if (ng == NULL)
            return -1;
        for (size_t i = 0; i < grp->n_instances; i++)
            if (kiln_snapshot_add_instance(out, ng, grp->instances[i], err) == NULL)
                return -1;
    }
    return 0;
}

static bool is_cluster(const struct kiln_app *a, const struct kiln_env *e, const char *app,
                       const char *env)
{
    return strcmp(a->name, app) == 0 && strcmp(e->name, env) == 0;
}

/* Base's apps, without the cluster; the cluster's app gets part's env (when part has
 * it), and an app only part knows is added. */
static int copy_apps(struct kiln_snapshot *out, const struct kiln_snapshot *base,
                     const struct kiln_env *fresh, const char *app, const char *env,
                     struct kiln_err *err)
{
    bool placed = fresh == NULL;
    for (size_t a = 0; a < base->n_apps; a++) {
        const struct kiln_app *ba = base->apps[a];
        bool ours = strcmp(ba->name, app) == 0;
        size_t kept = 0;
        for (size_t e = 0; e < ba->n_envs; e++)
            kept += !is_cluster(ba, ba->envs[e], app, env);
        if (kept == 0 && ba->n_envs > 0 && !(ours && fresh != NULL))
            continue; /* its only env was the cluster, which is gone */
        struct kiln_app *na = kiln_snapshot_add_app(out, ba->name, err);
        if (na == NULL)
            return -1;
        for (size_t e = 0; e < ba->n_envs; e++)
            if (!is_cluster(ba, ba->envs[e], app, env) && copy_env(out, na, ba->envs[e], err) < 0)
                return -1;
        if (ours && fresh != NULL) {
            if (copy_env(out, na, fresh, err) < 0)
                return -1;
            placed = true;
        }
    }
    if (!placed) {
        struct kiln_app *na = kiln_snapshot_add_app(out, app, err);
        if (na == NULL || copy_env(out, na, fresh, err) < 0)
            return -1;
    }
    return 0;
}

/* Part's images, packages and load balancers, then base's that part does not have
 * (except the cluster's load balancer, which is part's to say). */
static int copy_rest(struct kiln_snapshot *out, const struct kiln_snapshot *base,
                     const struct kiln_snapshot *part, const char *app, const char *env,
                     struct kiln_err *err)
{
    for (size_t i = 0; i < part->n_images; i++)
        if (kiln_snapshot_add_image(out, part->images[i], err) == NULL)
            return -1;
    for (size_t i = 0; i < base->n_images; i++)
        if (kiln_snapshot_find_image(part, base->images[i]->id) == NULL &&
            kiln_snapshot_add_image(out, base->images[i], err) == NULL)
            return -1;
    for (size_t i = 0; i < part->n_packages; i++)
        if (kiln_snapshot_add_package(out, part->packages[i], err) == NULL)
            return -1;
    for (size_t i = 0; i < base->n_packages; i++)
        if (kiln_snapshot_find_package(part, base->packages[i]->nvr) == NULL &&
            kiln_snapshot_add_package(out, base->packages[i], err) == NULL)
            return -1;
    for (size_t i = 0; i < part->n_lbs; i++)
        if (kiln_snapshot_add_lb(out, part->lbs[i], err) == NULL)
            return -1;
    for (size_t i = 0; i < base->n_lbs; i++) {
        const struct kiln_lb *lb = base->lbs[i];
        if ((strcmp(lb->app, app) == 0 && strcmp(lb->env, env) == 0) ||
            kiln_snapshot_find_lb(part, lb->name) != NULL)
            continue;
        if (kiln_snapshot_add_lb(out, lb, err) == NULL)
            return -1;
    }
    return 0;
}

int kiln_snapshot_splice(const struct kiln_snapshot *base, const struct kiln_snapshot *part,
                         const char *app, const char *env, struct kiln_snapshot **out,
                         struct kiln_err *err)
{
    struct kiln_snapshot *s = kiln_snapshot_new();
    const struct kiln_env *fresh = kiln_snapshot_find_env(part, app, env);
    if (copy_apps(s, base, fresh, app, env, err) < 0 ||
        copy_rest(s, base, part, app, env, err) < 0 || kiln_snapshot_finish(s, err) < 0) {
        kiln_snapshot_release(s);
        kiln_err_prefix(err, "cannot put %s-%s's refresh into the inventory", app, env);
        return -1;
    }
    *out = s;
    return 0;
}
