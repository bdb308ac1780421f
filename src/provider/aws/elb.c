/* kiln: the classic ELB calls the aws provider makes, typed, and the name each cluster's
 * ELB gets. Names from botocore's elb/2012-06-01 model (Query protocol). */
#include "provider/aws/aws.h"

#include "kiln/aws_paginate.h"
#include "kiln/aws_xml.h"
#include "kiln/xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ELB_NAME_MAX  32
#define TAGS_PER_CALL 20 /* DescribeTags' limit on LoadBalancerNames */

void aws_elb_name(const char *cluster, char out[AWS_ELB_NAME_SIZE])
{
    size_t n = strlen(cluster);
    /* "internal-" is how AWS names internal ELBs' DNS names: a cluster whose name begins
     * so takes the hashed form too, never to be mistaken for one. */
    if (n <= ELB_NAME_MAX && strncmp(cluster, "internal-", 9) != 0) {
        snprintf(out, AWS_ELB_NAME_SIZE, "%s", cluster);
        return;
    }
    /* FNV-1a: tiny, stable across machines and versions, and 32 bits keep two long
     * names with the same 23-character start apart with odds of 1 in 4 billion. */
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)cluster; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    /* A short name here is one that begins with "internal-": never read past its end. */
    size_t keep = n < ELB_NAME_MAX - 9 ? n : ELB_NAME_MAX - 9;
    while (keep > 0 && cluster[keep - 1] == '-')
        keep--;
    snprintf(out, AWS_ELB_NAME_SIZE, "%.*s-%08x", (int)keep, cluster, (unsigned)h);
    if (strncmp(out, "internal-", 9) == 0)
        snprintf(out, AWS_ELB_NAME_SIZE, "kiln-%08x", (unsigned)h);
}

static void read_lb(const xmlNode *m, struct aws_elb *lb)
{
    memset(lb, 0, sizeof *lb);
    kiln_aws_xml_text_at(m, "LoadBalancerName", lb->name, sizeof lb->name);
    char *dns = kiln_aws_xml_dup_at(m, "DNSName");
    lb->dns = dns ? dns : xstrdup("");
    char created[64];
    if (kiln_aws_xml_text_at(m, "CreatedTime", created, sizeof created))
        kiln_aws_parse_timestamp(created, &lb->created_us);
    xmlNode *lds = kiln_aws_xml_child(m, "ListenerDescriptions");
    for (xmlNode *ld = kiln_aws_xml_child(lds, "member"); ld; ld = kiln_aws_xml_next(ld)) {
        xmlNode *l = kiln_aws_xml_child(ld, "Listener");
        /* The first listener is kiln's (it makes one); a second, added by hand, is
         * left alone. */
        if (lb->lb_port == 0) {
            kiln_aws_xml_text_at(l, "Protocol", lb->protocol, sizeof lb->protocol);
            lb->lb_port = (int)kiln_aws_xml_int_at(l, "LoadBalancerPort", 0);
            lb->instance_port = (int)kiln_aws_xml_int_at(l, "InstancePort", 0);
        }
    }
    xmlNode *hc = kiln_aws_xml_child(m, "HealthCheck");
    char *target = kiln_aws_xml_dup_at(hc, "Target");
    lb->hc_target = target ? target : xstrdup("");
    lb->hc_interval = (int)kiln_aws_xml_int_at(hc, "Interval", 0);
    lb->hc_timeout = (int)kiln_aws_xml_int_at(hc, "Timeout", 0);
    lb->hc_healthy = (int)kiln_aws_xml_int_at(hc, "HealthyThreshold", 0);
    lb->hc_unhealthy = (int)kiln_aws_xml_int_at(hc, "UnhealthyThreshold", 0);
    xmlNode *zs = kiln_aws_xml_child(m, "AvailabilityZones");
    for (xmlNode *z = kiln_aws_xml_child(zs, "member"); z; z = kiln_aws_xml_next(z)) {
        char *s = kiln_aws_xml_text(z);
        aws_strs_add(&lb->zones, s);
        free(s);
    }
    xmlNode *is = kiln_aws_xml_child(m, "Instances");
    for (xmlNode *x = kiln_aws_xml_child(is, "member"); x; x = kiln_aws_xml_next(x)) {
        char id[AWS_ID_SIZE];
        kiln_aws_xml_text_at(x, "InstanceId", id, sizeof id);
        aws_strs_add(&lb->instances, id);
    }
}

struct describe_args {
    const char *const *names;
    size_t n_names;
    struct aws_elbs *out;
};

static void describe_request(struct kiln_aws_query *q, void *arg)
{
    const struct describe_args *d = arg;
    for (size_t i = 0; i < d->n_names; i++) {
        char pn[48];
        snprintf(pn, sizeof pn, "LoadBalancerNames.member.%zu", i + 1);
        kiln_aws_query_add(q, pn, d->names[i]);
    }
    if (d->n_names == 0)
        kiln_aws_query_add(q, "PageSize", "400");
}

static bool describe_item(const xmlNode *m, void *arg)
{
    struct aws_elbs *out = ((struct describe_args *)arg)->out;
    out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
    read_lb(m, &out->v[out->n++]);
    return true;
}

static const struct kiln_aws_describe lbs_pages = {.service = KILN_AWS_ELB,
                                                   .action = "DescribeLoadBalancers",
                                                   .items = "LoadBalancerDescriptions/member",
                                                   .request = describe_request,
                                                   .item = describe_item};

int aws_elb_describe(struct kiln_aws_client *c, const char *const *names, size_t n_names,
                     struct aws_elbs *out, struct kiln_err *err)
{
    memset(out, 0, sizeof *out);
    struct describe_args args = {names, n_names, out};
    int rc = kiln_aws_describe_all(c, &lbs_pages, &args, err);
    if (rc < 0) {
        aws_elbs_free(out);
        if (strstr(kiln_aws_client_last_error(c)->code, "NotFound") != NULL && err != NULL)
            err->code = KILN_E_NOTFOUND;
    }
    return rc;
}

int aws_elb_describe_tags(struct kiln_aws_client *c, struct aws_elb *v, size_t n,
                          struct kiln_err *err)
{
    for (size_t start = 0; start < n; start += TAGS_PER_CALL) {
        size_t end = start + TAGS_PER_CALL < n ? start + TAGS_PER_CALL : n;
        struct kiln_aws_query q;
        kiln_aws_query_init(&q, KILN_AWS_ELB, "DescribeTags");
        for (size_t i = start; i < end; i++) {
            char pn[48];
            snprintf(pn, sizeof pn, "LoadBalancerNames.member.%zu", i - start + 1);
            kiln_aws_query_add(&q, pn, v[i].name);
        }
        xmlDoc *doc = NULL;
        if (aws_call(c, &q, &doc, err) < 0)
            return -1;
        xmlNode *descs =
            kiln_aws_xml_path(xmlDocGetRootElement(doc), "DescribeTagsResult/TagDescriptions");
        for (xmlNode *d = kiln_aws_xml_child(descs, "member"); d; d = kiln_aws_xml_next(d)) {
            char name[AWS_ELB_NAME_SIZE + 8];
            kiln_aws_xml_text_at(d, "LoadBalancerName", name, sizeof name);
            struct aws_elb *lb = NULL;
            for (size_t i = start; i < end && lb == NULL; i++)
                if (strcmp(v[i].name, name) == 0)
                    lb = &v[i];
            if (lb == NULL)
                continue;
            aws_tags_free(&lb->tags);
            xmlNode *tags = kiln_aws_xml_child(d, "Tags");
            for (xmlNode *t = kiln_aws_xml_child(tags, "member"); t; t = kiln_aws_xml_next(t)) {
                char key[128], value[256];
                kiln_aws_xml_text_at(t, "Key", key, sizeof key);
                kiln_aws_xml_text_at(t, "Value", value, sizeof value);
                aws_tags_add(&lb->tags, key, value);
            }
        }
        xmlFreeDoc(doc);
    }
    return 0;
}

void aws_elbs_free(struct aws_elbs *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct aws_elb *lb = &l->v[i];
        free(lb->dns);
        free(lb->hc_target);
        aws_strs_free(&lb->zones);
        aws_strs_free(&lb->instances);
        aws_tags_free(&lb->tags);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void add_tags(struct kiln_aws_query *q, const struct aws_tag *tags, size_t n, bool values)
{
    for (size_t i = 0; i < n; i++) {
        char pn[48];
        snprintf(pn, sizeof pn, "Tags.member.%zu.Key", i + 1);
        kiln_aws_query_add(q, pn, tags[i].key);
        if (values) {
            snprintf(pn, sizeof pn, "Tags.member.%zu.Value", i + 1);
            kiln_aws_query_add(q, pn, tags[i].value);
        }
    }
}

int aws_elb_create(struct kiln_aws_client *c, const struct aws_elb_create *s, char *dns, size_t n,
                   struct kiln_err *err)
{
    dns[0] = '\0';
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_ELB, "CreateLoadBalancer");
    kiln_aws_query_add(&q, "LoadBalancerName", s->name);
    kiln_aws_query_add(&q, "Listeners.member.1.Protocol", s->protocol);
    kiln_aws_query_addf(&q, "Listeners.member.1.LoadBalancerPort", "%d", s->lb_port);
    /* TLS ends at the ELB: behind it the instances serve plain HTTP on their port. */
    kiln_aws_query_add(&q, "Listeners.member.1.InstanceProtocol", "HTTP");
    kiln_aws_query_addf(&q, "Listeners.member.1.InstancePort", "%d", s->instance_port);
    if (s->certificate != NULL)
        kiln_aws_query_add(&q, "Listeners.member.1.SSLCertificateId", s->certificate);
    for (size_t i = 0; s->zones != NULL && i < s->zones->n; i++) {
        char pn[48];
        snprintf(pn, sizeof pn, "AvailabilityZones.member.%zu", i + 1);
        kiln_aws_query_add(&q, pn, s->zones->v[i]);
    }
    add_tags(&q, s->tags, s->n_tags, true);
    xmlDoc *doc = NULL;
    if (aws_call(c, &q, &doc, err) == 0) {
        kiln_aws_xml_text_at(xmlDocGetRootElement(doc), "CreateLoadBalancerResult/DNSName", dns, n);
        xmlFreeDoc(doc);
        if (dns[0] != '\0')
            return 0;
    } else if (!aws_last_error_is(c, "DuplicateLoadBalancerName") &&
               !aws_last_error_is(c, "DuplicateAccessPointName")) {
        kiln_err_prefix(err, "cannot create the load balancer %s", s->name);
        return -1;
    }
    /* It exists (made by an earlier create-app): its DNS name from a describe. */
    kiln_err_clear(err);
    struct aws_elbs l;
    if (aws_elb_describe(c, &s->name, 1, &l, err) < 0)
        return -1;
    if (l.n > 0)
        snprintf(dns, n, "%s", l.v[0].dns);
    aws_elbs_free(&l);
    return 0;
}

int aws_elb_configure_health_check(struct kiln_aws_client *c, const char *name, const char *target,
                                   int interval, int timeout, int healthy, int unhealthy,
                                   struct kiln_err *err)
{
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_ELB, "ConfigureHealthCheck");
    kiln_aws_query_add(&q, "LoadBalancerName", name);
    kiln_aws_query_add(&q, "HealthCheck.Target", target);
    kiln_aws_query_addf(&q, "HealthCheck.Interval", "%d", interval);
    kiln_aws_query_addf(&q, "HealthCheck.Timeout", "%d", timeout);
    kiln_aws_query_addf(&q, "HealthCheck.UnhealthyThreshold", "%d", unhealthy);
    kiln_aws_query_addf(&q, "HealthCheck.HealthyThreshold", "%d", healthy);
    if (aws_call(c, &q, NULL, err) == 0)
        return 0;
    kiln_err_prefix(err, "cannot set the health check of %s", name);
    return -1;
}

int aws_elb_add_tags(struct kiln_aws_client *c, const char *name, const struct aws_tag *tags,
                     size_t n, struct kiln_err *err)
{
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_ELB, "AddTags");
    kiln_aws_query_add(&q, "LoadBalancerNames.member.1", name);
    add_tags(&q, tags, n, true);
    return aws_call(c, &q, NULL, err);
}

int aws_elb_remove_tag(struct kiln_aws_client *c, const char *name, const char *key,
                       struct kiln_err *err)
{
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_ELB, "RemoveTags");
    kiln_aws_query_add(&q, "LoadBalancerNames.member.1", name);
    struct aws_tag t = {.key = (char *)key, .value = NULL};
    add_tags(&q, &t, 1, false);
    return aws_call(c, &q, NULL, err);
}

int aws_elb_get_tag(struct kiln_aws_client *c, const char *name, const char *key, char *value,
                    size_t n, struct kiln_err *err)
{
    value[0] = '\0';
    struct aws_elb lb = {0};
    snprintf(lb.name, sizeof lb.name, "%s", name);
    if (aws_elb_describe_tags(c, &lb, 1, err) < 0) {
        if (strstr(kiln_aws_client_last_error(c)->code, "NotFound") != NULL && err != NULL)
            err->code = KILN_E_NOTFOUND;
        aws_tags_free(&lb.tags);
        return -1;
    }
    const char *v = aws_tags_get(&lb.tags, key);
    if (v != NULL)
        snprintf(value, n, "%s", v);
    aws_tags_free(&lb.tags);
    return 0;
}

int aws_elb_delete(struct kiln_aws_client *c, const char *name, struct kiln_err *err)
{
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_ELB, "DeleteLoadBalancer");
    kiln_aws_query_add(&q, "LoadBalancerName", name);
    if (aws_call(c, &q, NULL, err) == 0)
        return 0;
    kiln_err_prefix(err, "cannot delete the load balancer %s", name);
    return -1;
}

int aws_elb_instance_health(struct kiln_aws_client *c, const char *name,
                            struct aws_health_list *out, struct kiln_err *err)
{
    memset(out, 0, sizeof *out);
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_ELB, "DescribeInstanceHealth");
    kiln_aws_query_add(&q, "LoadBalancerName", name);
    xmlDoc *doc = NULL;
    if (aws_call(c, &q, &doc, err) < 0)
        return -1;
    xmlNode *states =
        kiln_aws_xml_path(xmlDocGetRootElement(doc), "DescribeInstanceHealthResult/InstanceStates");
    size_t n = kiln_aws_xml_count(states, "member");
    out->v = xcalloc(n + 1, sizeof *out->v);
    for (xmlNode *m = kiln_aws_xml_child(states, "member"); m; m = kiln_aws_xml_next(m)) {
        struct aws_instance_health *h = &out->v[out->n++];
        kiln_aws_xml_text_at(m, "InstanceId", h->id, sizeof h->id);
        kiln_aws_xml_text_at(m, "State", h->state, sizeof h->state);
        kiln_aws_xml_text_at(m, "ReasonCode", h->reason, sizeof h->reason);
        kiln_aws_xml_text_at(m, "Description", h->description, sizeof h->description);
    }
    xmlFreeDoc(doc);
    return 0;
}

void aws_health_list_free(struct aws_health_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}
