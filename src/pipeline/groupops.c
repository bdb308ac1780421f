/* kiln: the single-step group operations (resize, enable, disable, destroy, terminate
 * an instance), run as jobs like the rest so they take the cluster lock, are journaled
 * and land in the history. */
#include "pipeline/pipe.h"

#include "kiln/names.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static int step_apply(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    const struct kiln_provider_ops *ops = pp->prov->ops;
    const char *group = pipe_str(pp, "group");
    if (strcmp(pp->kind, "resize") == 0)
        return ops->group_resize(pp->prov, group, (int)pipe_int(pp, "min", 0),
                                 (int)pipe_int(pp, "max", 0), (int)pipe_int(pp, "desired", 0), err);
    if (strcmp(pp->kind, "enable") == 0)
        return ops->group_enable(pp->prov, group, err);
    if (strcmp(pp->kind, "disable") == 0)
        return ops->group_disable(pp->prov, group, err);
    if (strcmp(pp->kind, "destroy") == 0)
        return ops->group_destroy(pp->prov, group, err);
    if (strcmp(pp->kind, "terminate") == 0)
        return ops->instance_terminate(pp->prov, pipe_str(pp, "instance"),
                                       pipe_int(pp, "decrement", 0) != 0, err);
    return kiln_err_set(err, KILN_E_INVALID, "no group operation %s", pp->kind);
}

/* The cluster an instance belongs to, for its lock. */
static int instance_cluster(struct pipe *pp, char *buf, size_t n, struct kiln_err *err)
{
    const struct kiln_snapshot *snap;
    if (pipe_inventory(pp, &snap, err) < 0)
        return -1;
    const struct kiln_instance *x = kiln_snapshot_find_instance(snap, pipe_str(pp, "instance"));
    int rc = 0;
    if (x == NULL)
        rc = kiln_err_set(err, KILN_E_NOTFOUND, "there is no running instance %s",
                          pipe_str(pp, "instance"));
    else
        snprintf(buf, n, "%s", x->group->env->cluster);
    kiln_snapshot_release(snap);
    return rc;
}

int pipe_group_op(struct pipe *pp, struct kiln_err *err)
{
    char cluster[KILN_CLUSTER_SIZE];
    if (pipe_str(pp, "group") != NULL) {
        struct kiln_group_name gn;
        if (kiln_group_name_parse(pipe_str(pp, "group"), &gn, err) < 0)
            return -1;
        kiln_cluster_name_format(cluster, sizeof cluster, gn.app, gn.env);
    } else if (instance_cluster(pp, cluster, sizeof cluster, err) < 0) {
        return -1;
    }
    if (pipe_lock(pp, cluster, err) < 0 || pipe_step(pp, pp->kind, step_apply, err) < 0)
        return -1;
    pp->result = cJSON_CreateObject();
    if (pipe_str(pp, "group"))
        cJSON_AddStringToObject(pp->result, "group", pipe_str(pp, "group"));
    if (pipe_str(pp, "instance"))
        cJSON_AddStringToObject(pp->result, "instance", pipe_str(pp, "instance"));
    return 0;
}
