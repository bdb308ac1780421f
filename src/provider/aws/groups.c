/* kiln: server groups on AWS: an Auto Scaling group and its launch template, both named
 * app-env-vNNN.
 *
 * Disabled, as Spinnaker has it, means AddToLoadBalancer suspended and detached from
 * the cluster's ELB: the group keeps its instances, ready for a rollback in seconds.
 * A new group is created disabled (no load balancer at all, AddToLoadBalancer
 * suspended), so it takes no traffic until the deploy has seen it healthy. */
#include "provider/aws/aws.h"

#include "kiln/names.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS            1000
#define DEREGISTER_WAIT_MS 60000

/* The group's cluster ELB name, from its name. */
static int group_lb(const char *name, struct kiln_group_name *gn, char lb[AWS_ELB_NAME_SIZE],
                    struct kiln_err *err)
{
    if (kiln_group_name_parse(name, gn, err) < 0)
        return -1;
    char cluster[KILN_CLUSTER_SIZE];
    kiln_cluster_name_format(cluster, sizeof cluster, gn->app, gn->env);
    aws_elb_name(cluster, lb);
    return 0;
}

int aws_group_create(struct kiln_provider *p, const struct kiln_group_spec *spec,
                     struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    aws_lock_refresh(a);
    struct kiln_group_name gn;
    char lb[AWS_ELB_NAME_SIZE];
    if (group_lb(spec->name, &gn, lb, err) < 0)
        return -1;
    if (spec->image == NULL || kiln_image_id_validate(spec->image, NULL) < 0 ||
        strncmp(spec->image, "ami-", 4) != 0)
        return kiln_err_set(err, KILN_E_INVALID,
                            "%s needs an AMI (ami-...), not %s: bake the package for AWS, or pass "
                            "--image ami-...",
                            spec->name, spec->image ? spec->image : "nothing");
    /* The group goes where its ELB is: the ELB only routes to instances in its zones. */
    struct aws_elbs elbs;
    if (aws_elb_describe(a->client, (const char *const[]){lb}, 1, &elbs, err) < 0) {
        if (err != NULL && err->code == KILN_E_NOTFOUND)
            return kiln_err_set(err, KILN_E_NOTFOUND,
                                "there is no load balancer %s for %s-%s: create the app first "
                                "(kiln create-app %s --env %s ...)",
                                lb, gn.app, gn.env, gn.app, gn.env);
        return -1;
    }
    const char *type =
        spec->instance_type && spec->instance_type[0] ? spec->instance_type : a->instance_type;
    int rc = aws_ec2_create_launch_template(a->client, spec->name, spec->image, type, err);
    if (rc == 0) {
        struct aws_tag tags[5] = {
            {AWS_TAG_APP, gn.app},
            {AWS_TAG_ENV, gn.env},
            {AWS_TAG_IMAGE, (char *)spec->image},
        };
        size_t n_tags = 3;
        if (spec->package && spec->package[0])
            tags[n_tags++] = (struct aws_tag){AWS_TAG_PACKAGE, (char *)spec->package};
        if (spec->previous && spec->previous[0])
            tags[n_tags++] = (struct aws_tag){AWS_TAG_PREVIOUS, (char *)spec->previous};
        struct aws_asg_create c = {
            .name = spec->name,
            .launch_template = spec->name,
            .min = spec->min_size,
            .max = spec->max_size,
            .desired = spec->desired,
            .zones = elbs.n > 0 && elbs.v[0].zones.n > 0 ? &elbs.v[0].zones : NULL,
            .tags = tags,
            .n_tags = n_tags,
        };
        rc = aws_asg_create(a->client, &c, err);
    }
    aws_elbs_free(&elbs);
    if (rc == 0)
        rc = aws_asg_processes(a->client, spec->name, KILN_PROC_ADD_TO_LB, true, err);
    return rc;
}

int aws_group_resize(struct kiln_provider *p, const char *name, int min, int max, int desired,
                     struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    aws_lock_refresh(a);
    return aws_asg_update_sizes(a->client, name, min, max, desired, err);
}

/* The group as Auto Scaling sees it now; KILN_E_NOTFOUND when there is none. */
static int describe_group(struct aws *a, const char *name, struct aws_asgs *out,
                          struct kiln_err *err)
{
    if (aws_asg_describe(a->client, name, out, err) < 0)
        return -1;
    if (out->n == 0 || out->v[0].status[0] != '\0') {
        aws_asgs_free(out);
        return kiln_err_set(err, KILN_E_NOTFOUND, "there is no server group %s", name);
    }
    return 0;
}

/* How many of the group's instances the ELB has InService; lists the others in why. */
static int count_in_service(struct aws *a, const struct aws_asg *g, const char *lb, int *n,
                            struct kiln_strbuf *why, struct kiln_err *err)
{
    struct aws_health_list h;
    if (aws_elb_instance_health(a->client, lb, &h, err) < 0)
        return -1;
    *n = 0;
    kiln_strbuf_reset(why);
    for (size_t i = 0; i < g->n_instances; i++) {
        const struct aws_asg_instance *x = &g->instances[i];
        if (strncmp(x->lifecycle, "Terminat", 8) == 0)
            continue;
        const struct aws_instance_health *ih = NULL;
        for (size_t k = 0; k < h.n && ih == NULL; k++)
            if (strcmp(h.v[k].id, x->id) == 0)
                ih = &h.v[k];
        if (ih != NULL && strcmp(ih->state, "InService") == 0) {
            (*n)++;
        } else if (why->len < 600) {
            kiln_strbuf_appendf(why, "%s%s %s", why->len ? "; " : "", x->id,
                                ih == NULL ? "not registered yet" : ih->state);
            if (ih != NULL && ih->description[0])
                kiln_strbuf_appendf(why, " (%s)", ih->description);
        }
    }
    aws_health_list_free(&h);
    return 0;
}

int aws_group_enable(struct kiln_provider *p, const char *name, struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    aws_lock_refresh(a);
    struct kiln_group_name gn;
    char lb[AWS_ELB_NAME_SIZE];
    if (group_lb(name, &gn, lb, err) < 0)
        return -1;
    /* Resume first: attaching a group whose AddToLoadBalancer is suspended would
     * register nothing. */
    if (aws_asg_processes(a->client, name, KILN_PROC_ADD_TO_LB, false, err) < 0 ||
        aws_asg_load_balancer(a->client, name, lb, true, err) < 0)
        return -1;
    /* Enabled means serving: wait until the ELB has every instance in service. */
    int64_t deadline = kiln_mono_us() + a->health_timeout_ms * 1000;
    struct kiln_strbuf why = KILN_STRBUF_INIT;
    int rc = 0;
    for (;;) {
        struct aws_asgs asgs;
        if ((rc = describe_group(a, name, &asgs, err)) < 0)
            break;
        int want = asgs.v[0].desired, have = 0;
        rc = count_in_service(a, &asgs.v[0], lb, &have, &why, err);
        aws_asgs_free(&asgs);
        if (rc < 0 || have >= want)
            break;
        if (kiln_mono_us() >= deadline) {
            char t[KILN_DURATION_MAX];
            rc = kiln_err_set(err, KILN_E_TIMEOUT,
                              "%s is attached to %s but only %d of %d instances are in service "
                              "after %s: %s",
                              name, lb, have, want, kiln_format_duration(a->health_timeout_ms, t),
                              why.len ? why.buf : "no instances");
            break;
        }
        kiln_sleep_ms(POLL_MS);
    }
    kiln_strbuf_free(&why);
    return rc;
}

int aws_group_disable(struct kiln_provider *p, const char *name, struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    aws_lock_refresh(a);
    struct kiln_group_name gn;
    char lb[AWS_ELB_NAME_SIZE];
    if (group_lb(name, &gn, lb, err) < 0)
        return -1;
    if (aws_asg_processes(a->client, name, KILN_PROC_ADD_TO_LB, true, err) < 0 ||
        aws_asg_load_balancer(a->client, name, lb, false, err) < 0)
        return -1;
    /* Detaching deregisters the instances (with connection draining, if the ELB has
     * it): wait, within reason, until the ELB no longer sends them traffic. A slow
     * drain is not a failure: the group is disabled either way. */
    int64_t deadline = kiln_mono_us() + DEREGISTER_WAIT_MS * 1000LL;
    struct kiln_strbuf why = KILN_STRBUF_INIT;
    while (kiln_mono_us() < deadline) {
        struct aws_asgs asgs;
        struct kiln_err e = {0};
        if (describe_group(a, name, &asgs, &e) < 0)
            break;
        int have = 0;
        int rc = count_in_service(a, &asgs.v[0], lb, &have, &why, &e);
        aws_asgs_free(&asgs);
        if (rc < 0 || have == 0)
            break;
        kiln_sleep_ms(POLL_MS);
    }
    kiln_strbuf_free(&why);
    return 0;
}

int aws_group_destroy(struct kiln_provider *p, const char *name, struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    aws_lock_refresh(a);
    /* A group still attached (an aborted deploy's, after enable) leaves its ELB first,
     * with connection draining, rather than having its instances cut off under traffic. */
    struct aws_asgs asgs;
    struct kiln_err e = {0};
    if (describe_group(a, name, &asgs, &e) == 0) {
        bool attached = asgs.v[0].lbs.n > 0;
        aws_asgs_free(&asgs);
        if (attached && aws_group_disable(p, name, err) < 0)
            return -1;
    }
    if (aws_asg_delete(a->client, name, err) < 0)
        return -1;
    return aws_ec2_delete_launch_template(a->client, name, err);
}

int aws_group_mark_rejected(struct kiln_provider *p, const char *name, bool rejected,
                            struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    aws_lock_refresh(a);
    char when[KILN_ISO_TIME_MAX];
    return aws_asg_tag(a->client, name, AWS_TAG_REJECTED,
                       rejected ? kiln_time_iso(kiln_now_us(), when) : NULL, err);
}

int aws_group_suspend(struct kiln_provider *p, const char *name, unsigned processes, bool suspend,
                      struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    aws_lock_refresh(a);
    return aws_asg_processes(a->client, name, processes, suspend, err);
}

int aws_instance_terminate(struct kiln_provider *p, const char *id, bool decrement,
                           struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    aws_lock_refresh(a);
    return aws_asg_terminate_instance(a->client, id, decrement, err);
}
