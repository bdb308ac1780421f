/* fuzz: the local provider's reading of kilnd's answers (src/provider/local/local.h):
 * kiln_local_snapshot_from_state (the `state` result becomes the inventory every
 * console pane draws) and kiln_local_event_from_json (one event of the stream).
 *
 * The input is JSON; anything cJSON accepts is handed over as kilnd's reply would be.
 * Checked besides "no crash, no leak": a refusal says why; an accepted snapshot is
 * consistent (every group in its env, every instance in its group, lookups find what
 * the lists hold); an event's text fields are NUL-terminated within their buffers.
 */
#include "fuzz.h"

#include "kiln/model.h"
#include "kiln/provider.h"
#include "provider/local/local.h"

#include <cjson/cJSON.h>

static void check_snapshot(const struct kiln_snapshot *s)
{
    size_t groups = 0, instances = 0;
    for (size_t a = 0; a < s->n_apps; a++) {
        const struct kiln_app *app = s->apps[a];
        if (kiln_snapshot_find_app(s, app->name) != app)
            fuzz_fail("app %s is not found by name", app->name);
        for (size_t e = 0; e < app->n_envs; e++) {
            const struct kiln_env *env = app->envs[e];
            if (env->app != app || kiln_snapshot_find_env(s, app->name, env->name) != env)
                fuzz_fail("env %s of %s is not linked", env->name, app->name);
            (void)kiln_env_next_version(env);
            for (size_t g = 0; g < env->n_groups; g++) {
                const struct kiln_group *grp = env->groups[g];
                groups++;
                if (grp->env != env || kiln_snapshot_find_group(s, grp->name) != grp)
                    fuzz_fail("group %s is not linked", grp->name);
                for (size_t i = 0; i < grp->n_instances; i++) {
                    instances++;
                    const struct kiln_instance *x = grp->instances[i];
                    if (x->group != grp || kiln_snapshot_find_instance(s, x->id) != x)
                        fuzz_fail("instance %s is not linked", x->id);
                }
            }
        }
    }
    if (groups != s->n_groups || instances != s->n_instances)
        fuzz_fail("the tree holds %zu groups and %zu instances, the lists %zu and %zu", groups,
                  instances, s->n_groups, s->n_instances);
    for (size_t i = 0; i < s->n_images; i++)
        if (kiln_snapshot_find_image(s, s->images[i]->id) == NULL)
            fuzz_fail("image %s is not found", s->images[i]->id);
    for (size_t i = 0; i < s->n_lbs; i++)
        if (kiln_snapshot_find_lb(s, s->lbs[i]->name) == NULL)
            fuzz_fail("load balancer %s is not found", s->lbs[i]->name);
    (void)kiln_snapshot_memory(s);
}

static void check_event(const cJSON *j)
{
    struct kiln_event e;
    memset(&e, 0xa5, sizeof e);
    int rc = kiln_local_event_from_json(j, &e);
    if ((rc == 0) != (e.seq > 0))
        fuzz_fail("event: rc %d with seq %llu", rc, (unsigned long long)e.seq);
    if (!memchr(e.type, 0, sizeof e.type) || !memchr(e.cluster, 0, sizeof e.cluster) ||
        !memchr(e.group, 0, sizeof e.group) || !memchr(e.instance, 0, sizeof e.instance) ||
        !memchr(e.cause, 0, sizeof e.cause) || !memchr(e.message, 0, sizeof e.message))
        fuzz_fail("event: a text field is not terminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    if (root == NULL)
        return 0;

    struct kiln_snapshot *snap = NULL;
    struct kiln_err err = {0};
    if (kiln_local_snapshot_from_state(root, &snap, &err) < 0) {
        if (err.msg[0] == '\0')
            fuzz_fail("a refused state without a message");
    } else {
        check_snapshot(snap);
        kiln_snapshot_release(snap);
    }

    /* The same JSON as events: the whole value, and each element of it. */
    check_event(root);
    const cJSON *e;
    cJSON_ArrayForEach(e, root) check_event(e);
    cJSON_Delete(root);
    return 0;
}
