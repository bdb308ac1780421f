/* kiln: the Auto Scaling calls the aws provider makes, typed. Names from botocore's
 * autoscaling/2011-01-01 model (Query protocol: lists as Name.member.N, answers inside
 * <ActionResult>). */
#include "provider/aws/aws.h"

#include "kiln/group_process.h"
#include "kiln/aws_paginate.h"
#include "kiln/aws_xml.h"
#include "kiln/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* DescribeAutoScalingGroups' largest page. */
#define GROUPS_PER_PAGE "100"

/* The ASG process names are kiln's own (group_process.h): one table for both clouds. */
static unsigned process_bit(const char *name)
{
    enum kiln_process p;
    return kiln_process_parse(name, &p, NULL) == 0 ? (unsigned)p : 0;
}

static int64_t time_at(const xmlNode *n, const char *path)
{
    char buf[64];
    int64_t us = 0;
    if (kiln_aws_xml_text_at(n, path, buf, sizeof buf))
        kiln_aws_parse_timestamp(buf, &us);
    return us;
}

static char *dup_at(const xmlNode *n, const char *path)
{
    char *s = kiln_aws_xml_dup_at(n, path);
    return s ? s : xstrdup("");
}

static void read_group(const xmlNode *m, struct aws_asg *g)
{
    memset(g, 0, sizeof *g);
    g->name = dup_at(m, "AutoScalingGroupName");
    g->min = (int)kiln_aws_xml_int_at(m, "MinSize", 0);
    g->max = (int)kiln_aws_xml_int_at(m, "MaxSize", 0);
    g->desired = (int)kiln_aws_xml_int_at(m, "DesiredCapacity", 0);
    g->created_us = time_at(m, "CreatedTime");
    g->status = dup_at(m, "Status");
    g->lt_name = dup_at(m, "LaunchTemplate/LaunchTemplateName");
    g->lt_version = dup_at(m, "LaunchTemplate/Version");
    xmlNode *lbs = kiln_aws_xml_child(m, "LoadBalancerNames");
    for (xmlNode *x = kiln_aws_xml_child(lbs, "member"); x; x = kiln_aws_xml_next(x)) {
        char *s = kiln_aws_xml_text(x);
        aws_strs_add(&g->lbs, s);
        free(s);
    }
    xmlNode *sp = kiln_aws_xml_child(m, "SuspendedProcesses");
    for (xmlNode *x = kiln_aws_xml_child(sp, "member"); x; x = kiln_aws_xml_next(x)) {
        char name[64];
        kiln_aws_xml_text_at(x, "ProcessName", name, sizeof name);
        g->suspended |= process_bit(name);
    }
    xmlNode *is = kiln_aws_xml_child(m, "Instances");
    size_t n = kiln_aws_xml_count(is, "member");
    g->instances = xcalloc(n + 1, sizeof *g->instances);
    for (xmlNode *x = kiln_aws_xml_child(is, "member"); x; x = kiln_aws_xml_next(x)) {
        struct aws_asg_instance *in = &g->instances[g->n_instances++];
        kiln_aws_xml_text_at(x, "InstanceId", in->id, sizeof in->id);
        kiln_aws_xml_text_at(x, "LifecycleState", in->lifecycle, sizeof in->lifecycle);
        kiln_aws_xml_text_at(x, "HealthStatus", in->health, sizeof in->health);
    }
    xmlNode *tags = kiln_aws_xml_child(m, "Tags");
    for (xmlNode *x = kiln_aws_xml_child(tags, "member"); x; x = kiln_aws_xml_next(x)) {
        char key[128], value[256];
        kiln_aws_xml_text_at(x, "Key", key, sizeof key);
        kiln_aws_xml_text_at(x, "Value", value, sizeof value);
        aws_tags_add(&g->tags, key, value);
    }
}

struct describe_args {
    const char *name, *app, *env;
    struct aws_asgs *out;
};

/* By name; else one cluster's groups (app and env given); else every kiln group. */
static void describe_request(struct kiln_aws_query *q, void *arg)
{
    const struct describe_args *d = arg;
    if (d->name != NULL) {
        kiln_aws_query_add(q, "AutoScalingGroupNames.member.1", d->name);
    } else if (d->app != NULL) {
        kiln_aws_query_add(q, "Filters.member.1.Name", "tag:" AWS_TAG_APP);
        kiln_aws_query_add(q, "Filters.member.1.Values.member.1", d->app);
        kiln_aws_query_add(q, "Filters.member.2.Name", "tag:" AWS_TAG_ENV);
        kiln_aws_query_add(q, "Filters.member.2.Values.member.1", d->env);
    } else {
        /* Only kiln's groups: the server does the filtering, so a large account's
         * other groups cost neither pages nor parsing. */
        kiln_aws_query_add(q, "Filters.member.1.Name", "tag-key");
        kiln_aws_query_add(q, "Filters.member.1.Values.member.1", AWS_TAG_APP);
    }
    kiln_aws_query_add(q, "MaxRecords", GROUPS_PER_PAGE);
}

static bool describe_item(const xmlNode *m, void *arg)
{
    struct aws_asgs *out = ((struct describe_args *)arg)->out;
    out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
    read_group(m, &out->v[out->n++]);
    return true;
}

static const struct kiln_aws_describe groups_pages = {.service = KILN_AWS_AUTOSCALING,
                                                      .action = "DescribeAutoScalingGroups",
                                                      .items = "AutoScalingGroups/member",
                                                      .request = describe_request,
                                                      .item = describe_item};

static int describe(struct kiln_aws_client *c, const char *name, const char *app, const char *env,
                    struct aws_asgs *out, struct kiln_err *err)
{
    memset(out, 0, sizeof *out);
    struct describe_args args = {name, app, env, out};
    int rc = kiln_aws_describe_all(c, &groups_pages, &args, err);
    if (rc < 0)
        aws_asgs_free(out);
    return rc;
}

int aws_asg_describe(struct kiln_aws_client *c, const char *name, struct aws_asgs *out,
                     struct kiln_err *err)
{
    return describe(c, name, NULL, NULL, out, err);
}

int aws_asg_describe_cluster(struct kiln_aws_client *c, const char *app, const char *env,
                             struct aws_asgs *out, struct kiln_err *err)
{
    return describe(c, NULL, app, env, out, err);
}

void aws_asgs_free(struct aws_asgs *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct aws_asg *g = &l->v[i];
        free(g->name);
        free(g->status);
        free(g->lt_name);
        free(g->lt_version);
        aws_strs_free(&g->lbs);
        free(g->instances);
        aws_tags_free(&g->tags);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int aws_asg_create(struct kiln_aws_client *c, const struct aws_asg_create *s, struct kiln_err *err)
{
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_AUTOSCALING, "CreateAutoScalingGroup");
    kiln_aws_query_add(&q, "AutoScalingGroupName", s->name);
    kiln_aws_query_add(&q, "LaunchTemplate.LaunchTemplateName", s->launch_template);
    kiln_aws_query_add(&q, "LaunchTemplate.Version", "$Latest");
    kiln_aws_query_addf(&q, "MinSize", "%d", s->min);
    kiln_aws_query_addf(&q, "MaxSize", "%d", s->max);
    kiln_aws_query_addf(&q, "DesiredCapacity", "%d", s->desired);
    for (size_t i = 0; s->zones != NULL && i < s->zones->n; i++) {
        char name[48];
        snprintf(name, sizeof name, "AvailabilityZones.member.%zu", i + 1);
        kiln_aws_query_add(&q, name, s->zones->v[i]);
    }
    for (size_t i = 0; i < s->n_tags; i++) {
        char name[64];
#define TAG_FIELD(field, value)                                                                    \
    do {                                                                                           \
        snprintf(name, sizeof name, "Tags.member.%zu." field, i + 1);                              \
        kiln_aws_query_add(&q, name, value);                                                       \
    } while (0)
        TAG_FIELD("ResourceId", s->name);
        TAG_FIELD("ResourceType", "auto-scaling-group");
        TAG_FIELD("Key", s->tags[i].key);
        TAG_FIELD("Value", s->tags[i].value);
        /* On the instances too: the inventory finds them by their kiln:app tag. */
        TAG_FIELD("PropagateAtLaunch", "true");
#undef TAG_FIELD
    }
    if (aws_call(c, &q, NULL, err) == 0)
        return 0;
    if (aws_last_error_is(c, "AlreadyExists")) {
        kiln_err_clear(err);
        return 0;
    }
    kiln_err_prefix(err, "cannot create the Auto Scaling group %s", s->name);
    return -1;
}

int aws_asg_tag(struct kiln_aws_client *c, const char *name, const char *key, const char *value,
                struct kiln_err *err)
{
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_AUTOSCALING, value ? "CreateOrUpdateTags" : "DeleteTags");
    kiln_aws_query_add(&q, "Tags.member.1.ResourceId", name);
    kiln_aws_query_add(&q, "Tags.member.1.ResourceType", "auto-scaling-group");
    kiln_aws_query_add(&q, "Tags.member.1.Key", key);
    if (value != NULL) {
        kiln_aws_query_add(&q, "Tags.member.1.Value", value);
        kiln_aws_query_add(&q, "Tags.member.1.PropagateAtLaunch", "false");
    }
    if (aws_call(c, &q, NULL, err) == 0)
        return 0;
    kiln_err_prefix(err, "cannot tag the Auto Scaling group %s", name);
    return -1;
}

int aws_asg_update_sizes(struct kiln_aws_client *c, const char *name, int min, int max, int desired,
                         struct kiln_err *err)
{
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_AUTOSCALING, "UpdateAutoScalingGroup");
    kiln_aws_query_add(&q, "AutoScalingGroupName", name);
    kiln_aws_query_addf(&q, "MinSize", "%d", min);
    kiln_aws_query_addf(&q, "MaxSize", "%d", max);
    kiln_aws_query_addf(&q, "DesiredCapacity", "%d", desired);
    if (aws_call(c, &q, NULL, err) == 0)
        return 0;
    kiln_err_prefix(err, "cannot resize %s", name);
    return -1;
}

int aws_asg_processes(struct kiln_aws_client *c, const char *name, unsigned processes, bool suspend,
                      struct kiln_err *err)
{
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_AUTOSCALING, suspend ? "SuspendProcesses" : "ResumeProcesses");
    kiln_aws_query_add(&q, "AutoScalingGroupName", name);
    size_t k = 0;
    for (unsigned bit = 1; bit <= KILN_PROC_ADD_TO_LB; bit <<= 1) {
        if (!(processes & bit))
            continue;
        char pn[48];
        snprintf(pn, sizeof pn, "ScalingProcesses.member.%zu", ++k);
        kiln_aws_query_add(&q, pn, kiln_process_name((enum kiln_process)bit));
    }
    if (k == 0) {
        /* No list means every process to AWS: never what a caller with no bits meant. */
        kiln_aws_query_free(&q);
        return 0;
    }
    if (aws_call(c, &q, NULL, err) == 0)
        return 0;
    kiln_err_prefix(err, "cannot %s processes of %s", suspend ? "suspend" : "resume", name);
    return -1;
}

int aws_asg_load_balancer(struct kiln_aws_client *c, const char *name, const char *lb, bool attach,
                          struct kiln_err *err)
{
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_AUTOSCALING,
                        attach ? "AttachLoadBalancers" : "DetachLoadBalancers");
    kiln_aws_query_add(&q, "AutoScalingGroupName", name);
    kiln_aws_query_add(&q, "LoadBalancerNames.member.1", lb);
    if (aws_call(c, &q, NULL, err) == 0)
        return 0;
    kiln_err_prefix(err, "cannot %s %s %s the load balancer %s", attach ? "attach" : "detach", name,
                    attach ? "to" : "from", lb);
    return -1;
}

int aws_asg_delete(struct kiln_aws_client *c, const char *name, struct kiln_err *err)
{
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_AUTOSCALING, "DeleteAutoScalingGroup");
    kiln_aws_query_add(&q, "AutoScalingGroupName", name);
    kiln_aws_query_add(&q, "ForceDelete", "true");
    if (aws_call(c, &q, NULL, err) == 0)
        return 0;
    /* "ValidationError: AutoScalingGroup name not found": gone already. */
    const struct kiln_aws_error *e = kiln_aws_client_last_error(c);
    if (strcmp(e->code, "ValidationError") == 0 && strstr(e->message, "not found") != NULL) {
        kiln_err_clear(err);
        return 0;
    }
    kiln_err_prefix(err, "cannot delete the Auto Scaling group %s", name);
    return -1;
}

int aws_asg_terminate_instance(struct kiln_aws_client *c, const char *id, bool decrement,
                               struct kiln_err *err)
{
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_AUTOSCALING, "TerminateInstanceInAutoScalingGroup");
    kiln_aws_query_add(&q, "InstanceId", id);
    kiln_aws_query_add(&q, "ShouldDecrementDesiredCapacity", decrement ? "true" : "false");
    if (aws_call(c, &q, NULL, err) == 0)
        return 0;
    kiln_err_prefix(err, "cannot terminate %s", id);
    return -1;
}

struct activities_args {
    const char *group;
    size_t max;
    struct aws_activities *out;
};

static void activities_request(struct kiln_aws_query *q, void *arg)
{
    const struct activities_args *d = arg;
    if (d->group != NULL)
        kiln_aws_query_add(q, "AutoScalingGroupName", d->group);
    size_t want = d->max - d->out->n;
    kiln_aws_query_addf(q, "MaxRecords", "%zu", want > 100 ? (size_t)100 : want);
}

static bool activities_item(const xmlNode *m, void *arg)
{
    struct activities_args *d = arg;
    struct aws_activities *out = d->out;
    out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
    struct aws_activity *a = &out->v[out->n++];
    memset(a, 0, sizeof *a);
    kiln_aws_xml_text_at(m, "ActivityId", a->id, sizeof a->id);
    kiln_aws_xml_text_at(m, "AutoScalingGroupName", a->group, sizeof a->group);
    kiln_aws_xml_text_at(m, "StatusCode", a->status, sizeof a->status);
    a->description = dup_at(m, "Description");
    a->cause = dup_at(m, "Cause");
    a->start_us = time_at(m, "StartTime");
    a->end_us = time_at(m, "EndTime");
    return out->n < d->max;
}

static const struct kiln_aws_describe activities_pages = {.service = KILN_AWS_AUTOSCALING,
                                                          .action = "DescribeScalingActivities",
                                                          .items = "Activities/member",
                                                          .request = activities_request,
                                                          .item = activities_item};

int aws_asg_activities(struct kiln_aws_client *c, const char *group, size_t max,
                       struct aws_activities *out, struct kiln_err *err)
{
    memset(out, 0, sizeof *out);
    if (max == 0)
        return 0;
    struct activities_args args = {group, max, out};
    int rc = kiln_aws_describe_all(c, &activities_pages, &args, err);
    if (rc < 0)
        aws_activities_free(out);
    return rc;
}

void aws_activities_free(struct aws_activities *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].description);
        free(l->v[i].cause);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}
