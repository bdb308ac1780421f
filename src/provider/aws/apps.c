/* kiln: an app in an env on AWS: its classic ELB (listener, health check, kiln:app and
 * kiln:env tags) and its Route 53 CNAME, as the seed's `sfapp create_application` made
 * them. Both operations are idempotent: run again, they finish what a failed run began. */
#include "provider/aws/aws.h"

#include "kiln/names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The ELB health check kiln sets: quick enough that a deploy is not kept waiting,
 * slow enough not to flap (the numbers: 10 s, 5 s, 2 and 2). */
#define HC_INTERVAL_S 10
#define HC_TIMEOUT_S  5
#define HC_HEALTHY    2
#define HC_UNHEALTHY  2
#define LISTENER_PORT       80
#define LISTENER_PORT_HTTPS 443
#define ZONES_WANTED  3

/* Where the ELB and the groups live: the region's zones, or its a and b when EC2 will
 * not say (an emulator without DescribeAvailabilityZones). */
static void region_zones(struct aws *a, struct aws_strs *zones)
{
    if (aws_ec2_zones(a->client, zones, ZONES_WANTED, NULL) == 0 && zones->n > 0)
        return;
    aws_strs_free(zones);
    char z[80];
    snprintf(z, sizeof z, "%sa", a->region);
    aws_strs_add(zones, z);
    snprintf(z, sizeof z, "%sb", a->region);
    aws_strs_add(zones, z);
}

/* An ELB of that name that is not this cluster's must not be taken over. */
static int check_owner(struct aws *a, const char *lb, const char *app, const char *env,
                       struct kiln_err *err)
{
    struct aws_elb e = {0};
    snprintf(e.name, sizeof e.name, "%s", lb);
    if (aws_elb_describe_tags(a->client, &e, 1, err) < 0)
        return -1;
    const char *ta = aws_tags_get(&e.tags, AWS_TAG_APP), *te = aws_tags_get(&e.tags, AWS_TAG_ENV);
    int rc = 0;
    if (ta == NULL || te == NULL || strcmp(ta, app) != 0 || strcmp(te, env) != 0)
        rc = kiln_err_set(err, KILN_E_EXISTS,
                          "a load balancer named %s exists and is not kiln's %s-%s (its kiln:app "
                          "and kiln:env tags say %s-%s): delete or rename it, or choose another "
                          "app or env name",
                          lb, app, env, ta ? ta : "nothing", te ? te : "nothing");
    aws_tags_free(&e.tags);
    return rc;
}

int aws_create_app(struct kiln_provider *p, const struct kiln_app_spec *spec, struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    bool https = spec->protocol != NULL && strcmp(spec->protocol, "HTTPS") == 0;
    if (https && a->certificate_arn[0] == '\0')
        return kiln_err_set(err, KILN_E_INVALID,
                            "an HTTPS listener needs a certificate: set [aws] certificate_arn to "
                            "the ARN of an ACM or IAM server certificate for the app's DNS name, "
                            "or create the app with --protocol HTTP");
    char cluster[KILN_CLUSTER_SIZE], lb[AWS_ELB_NAME_SIZE];
    if (kiln_cluster_name_format(cluster, sizeof cluster, spec->app, spec->env) < 0)
        return kiln_err_set(err, KILN_E_INVALID, "%s-%s is not a cluster name", spec->app,
                            spec->env);
    aws_elb_name(cluster, lb);

    struct aws_strs zones = {0};
    region_zones(a, &zones);
    struct aws_tag tags[] = {{AWS_TAG_APP, (char *)spec->app}, {AWS_TAG_ENV, (char *)spec->env}};
    struct aws_elb_create ec = {
        .name = lb,
        .protocol = https ? "HTTPS" : "HTTP",
        .certificate = https ? a->certificate_arn : NULL,
        .lb_port = https ? LISTENER_PORT_HTTPS : LISTENER_PORT,
        .instance_port = spec->port,
        .zones = &zones,
        .tags = tags,
        .n_tags = 2,
    };
    char dns[300];
    int rc = aws_elb_create(a->client, &ec, dns, sizeof dns, err);
    aws_strs_free(&zones);
    if (rc < 0 || check_owner(a, lb, spec->app, spec->env, err) < 0)
        return -1;

    char target[320];
    snprintf(target, sizeof target, "HTTP:%d%s", spec->port,
             spec->health_path && spec->health_path[0] ? spec->health_path : "/");
    if (aws_elb_configure_health_check(a->client, lb, target, HC_INTERVAL_S, HC_TIMEOUT_S,
                                       HC_HEALTHY, HC_UNHEALTHY, err) < 0)
        return -1;

    char fqdn[300];
    if (a->hosted_zone[0] != '\0' && aws_route53_zone(a, err) < 0)
        return -1;
    aws_cluster_fqdn(a, spec->app, spec->env, fqdn, sizeof fqdn);
    if (fqdn[0] != '\0') {
        if (dns[0] == '\0')
            return kiln_err_set(err, KILN_E_FAILED,
                                "the load balancer %s has no DNS name yet, so %s cannot point "
                                "to it; run create-app again in a minute",
                                lb, fqdn);
        if (aws_route53_cname(a, fqdn, dns, err) < 0)
            return -1;
    }
    return 0;
}

int aws_delete_app(struct kiln_provider *p, const char *app, const char *env, bool force,
                   struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    char cluster[KILN_CLUSTER_SIZE], lb[AWS_ELB_NAME_SIZE];
    if (kiln_cluster_name_format(cluster, sizeof cluster, app, env) < 0)
        return kiln_err_set(err, KILN_E_INVALID, "%s-%s is not a cluster name", app, env);
    aws_elb_name(cluster, lb);

    struct aws_asgs asgs;
    if (aws_asg_describe(a->client, NULL, &asgs, err) < 0)
        return -1;
    size_t n = 0;
    char names[256] = "";
    for (size_t i = 0; i < asgs.n; i++) {
        struct kiln_group_name gn;
        if (kiln_group_name_parse(asgs.v[i].name, &gn, NULL) < 0 || strcmp(gn.app, app) != 0 ||
            strcmp(gn.env, env) != 0 || asgs.v[i].status[0] != '\0')
            continue;
        n++;
        size_t len = strlen(names);
        snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "", asgs.v[i].name);
    }
    if (n > 0 && !force) {
        aws_asgs_free(&asgs);
        return kiln_err_set(err, KILN_E_BUSY,
                            "%s still has %zu server group%s (%s): destroy %s first, or delete "
                            "the app with --force to destroy them too",
                            cluster, n, n == 1 ? "" : "s", names, n == 1 ? "it" : "them");
    }
    struct aws_elbs found;
    struct kiln_err derr = {0};
    if (aws_elb_describe(a->client, (const char *const[]){lb}, 1, &found, &derr) < 0) {
        if (derr.code != KILN_E_NOTFOUND) {
            aws_asgs_free(&asgs);
            if (err != NULL)
                *err = derr;
            return -1;
        }
        if (n == 0) {
            aws_asgs_free(&asgs);
            return kiln_err_set(err, KILN_E_NOTFOUND, "there is no app %s in env %s", app, env);
        }
    } else {
        aws_elbs_free(&found);
    }
    int rc = 0;
    for (size_t i = 0; i < asgs.n && rc == 0; i++) {
        struct kiln_group_name gn;
        if (kiln_group_name_parse(asgs.v[i].name, &gn, NULL) == 0 && strcmp(gn.app, app) == 0 &&
            strcmp(gn.env, env) == 0)
            rc = aws_group_destroy(p, asgs.v[i].name, err);
    }
    aws_asgs_free(&asgs);
    if (rc < 0)
        return -1;

    char fqdn[300];
    if (a->hosted_zone[0] != '\0' && aws_route53_zone(a, err) < 0)
        return -1;
    aws_cluster_fqdn(a, app, env, fqdn, sizeof fqdn);
    if (fqdn[0] != '\0' && aws_route53_cname(a, fqdn, NULL, err) < 0)
        return -1;
    /* DeleteLoadBalancer of a name that does not exist succeeds: nothing to special-case. */
    return aws_elb_delete(a->client, lb, err);
}
