/* kiln: the AWS inventory as a snapshot.
 *
 * Few requests, made concurrently, whatever the account's size:
 *   phase 1, four at once: DescribeLoadBalancers (400 a page), DescribeAutoScalingGroups
 *     filtered on the kiln:app tag (100 a page), DescribeInstances filtered on the
 *     kiln:app tag the groups propagate to their instances (1000 a page), DescribeImages
 *     (Owner self, tag kiln:package);
 *   phase 2, on up to 8 threads: DescribeTags for the ELBs (20 a call),
 *     DescribeInstanceHealth for each ELB that has some of kiln's instances registered
 *     (the only per-cluster call; ELBs with nothing registered cost nothing), the
 *     instances phase 1 missed (launched a moment ago, tags not there yet) by id, and
 *     the image of any group without a kiln:image tag from its launch template;
 *   phase 3, with [aws] health_probe = private only: kiln's own HTTP health check of each
 *     running instance of a group that is not attached to its cluster's ELB (probe.c).
 *
 * One cluster's inventory (aws_inventory_cluster, for what is on screen and for `status
 * APP --env ENV`) makes the same calls narrowed to it: its ELB by name, the groups and
 * instances tagged with its app and env, and phase 2 for that one ELB; about six
 * requests whatever the account's size.
 *
 * What an instance's health means on AWS (the pipeline waits for "healthy", then for
 * "in service" after enabling):
 *   lb_state  in-service / out-of-service as the cluster's ELB says
 *             (DescribeInstanceHealth); out-of-service when it is not registered.
 *   health    healthy    running, and InService in the ELB; or, not registered (a
 *                        disabled group), Auto Scaling's HealthStatus is Healthy (EC2
 *                        status checks): the HTTP check itself only runs once the group
 *                        is attached, which is why enabling waits for InService;
 *             unhealthy  OutOfService with ReasonCode Instance (it failed the ELB's
 *                        health check), or Auto Scaling says Unhealthy;
 *             unknown    not running yet, or registered and still being checked
 *                        (ReasonCode ELB). */
#include "provider/aws/aws.h"

#include "kiln/names.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 8

struct inv {
    struct aws *a;
    const char *app, *env;      /* one cluster only, when app is set */
    char lb[AWS_ELB_NAME_SIZE]; /* its ELB */
    struct aws_elbs elbs;
    struct aws_asgs asgs;
    struct aws_ec2_instances ec2;
    struct aws_ec2_instances missing; /* phase 2's by-id lookups, merged after */
    struct aws_ec2_images images;
    struct aws_health_list *health; /* per ELB (elbs.v[i]) */
    bool *want_health;
    char (*lt_image)[AWS_ID_SIZE]; /* per group, when it has no kiln:image tag */
    /* phase 2's task list */
    size_t n_tag_tasks, n_health, n_missing_tasks, n_lt;
    size_t *health_elb, *lt_group;
    const char **missing_ids;
    size_t n_missing_ids;
    struct aws_ec2_instances *missing_parts;
    /* phase 3's probes */
    struct probe_task *probes;
    size_t n_probes;
};

struct probe_task {
    const char *id, *ip, *path;
    int port, timeout_ms;
    struct aws_probe result;
};

/* ---- phase 1 ---- */

static int phase1(struct kiln_aws_client *c, void *arg, size_t i, struct kiln_err *err)
{
    struct inv *v = arg;
    switch (i) {
    case 0:
        if (v->app == NULL)
            return aws_elb_describe(c, NULL, 0, &v->elbs, err);
        if (aws_elb_describe(c, (const char *const[]){v->lb}, 1, &v->elbs, err) == 0)
            return 0;
        if (err->code != KILN_E_NOTFOUND)
            return -1;
        kiln_err_clear(err); /* no ELB: the cluster may still have groups */
        return 0;
    case 1:
        return v->app ? aws_asg_describe_cluster(c, v->app, v->env, &v->asgs, err)
                      : aws_asg_describe(c, NULL, &v->asgs, err);
    case 2:
        return v->app ? aws_ec2_describe_cluster_instances(c, v->app, v->env, &v->ec2, err)
                      : aws_ec2_describe_instances(c, AWS_TAG_APP, NULL, 0, &v->ec2, err);
    default:
        return aws_ec2_describe_images(c, NULL, NULL, &v->images, err);
    }
}

/* ---- phase 2 ---- */

#define TAGS_PER_TASK 20
#define IDS_PER_TASK  200

static int phase2(struct kiln_aws_client *c, void *arg, size_t i, struct kiln_err *err)
{
    struct inv *v = arg;
    if (i < v->n_tag_tasks) {
        size_t start = i * TAGS_PER_TASK;
        size_t n = v->elbs.n - start < TAGS_PER_TASK ? v->elbs.n - start : TAGS_PER_TASK;
        return aws_elb_describe_tags(c, v->elbs.v + start, n, err);
    }
    i -= v->n_tag_tasks;
    if (i < v->n_health) {
        size_t e = v->health_elb[i];
        if (aws_elb_instance_health(c, v->elbs.v[e].name, &v->health[e], err) == 0)
            return 0;
        /* Deleted between the two calls: no health, not a failed inventory. */
        if (strstr(kiln_aws_client_last_error(c)->code, "NotFound") != NULL) {
            kiln_err_clear(err);
            return 0;
        }
        return -1;
    }
    i -= v->n_health;
    if (i < v->n_missing_tasks) {
        size_t start = i * IDS_PER_TASK;
        size_t n =
            v->n_missing_ids - start < IDS_PER_TASK ? v->n_missing_ids - start : IDS_PER_TASK;
        return aws_ec2_describe_instances(c, NULL, v->missing_ids + start, n, &v->missing_parts[i],
                                          err);
    }
    i -= v->n_missing_tasks;
    struct aws_asg *g = &v->asgs.v[v->lt_group[i]];
    if (aws_ec2_launch_template_image(c, g->lt_name, g->lt_version, v->lt_image[v->lt_group[i]],
                                      AWS_ID_SIZE, err) == 0)
        return 0;
    kiln_err_clear(err); /* a template deleted by hand: the group just shows no image */
    return 0;
}

static int cmp_ec2(const void *x, const void *y)
{
    return strcmp(((const struct aws_ec2_instance *)x)->id,
                  ((const struct aws_ec2_instance *)y)->id);
}

static const struct aws_ec2_instance *find_ec2(const struct aws_ec2_instances *l, const char *id)
{
    struct aws_ec2_instance key = {0};
    snprintf(key.id, sizeof key.id, "%s", id);
    return l->n ? bsearch(&key, l->v, l->n, sizeof *l->v, cmp_ec2) : NULL;
}

static bool kiln_group(const struct aws_asg *g, struct kiln_group_name *gn)
{
    return g->status[0] == '\0' && kiln_group_name_parse(g->name, gn, NULL) == 0;
}

static int plan_phase2(struct inv *v)
{
    v->n_tag_tasks = (v->elbs.n + TAGS_PER_TASK - 1) / TAGS_PER_TASK;
    v->health = xcalloc(v->elbs.n + 1, sizeof *v->health);
    v->want_health = xcalloc(v->elbs.n + 1, sizeof *v->want_health);
    v->health_elb = xcalloc(v->elbs.n + 1, sizeof *v->health_elb);
    v->lt_image = xcalloc(v->asgs.n + 1, sizeof *v->lt_image);
    v->lt_group = xcalloc(v->asgs.n + 1, sizeof *v->lt_group);
    if (v->ec2.n > 1) /* qsort wants a non-null array even for none */
        qsort(v->ec2.v, v->ec2.n, sizeof *v->ec2.v, cmp_ec2);
    size_t n_ids = 0;
    for (size_t i = 0; i < v->asgs.n; i++)
        n_ids += v->asgs.v[i].n_instances;
    v->missing_ids = xcalloc(n_ids + 1, sizeof *v->missing_ids);
    for (size_t i = 0; i < v->asgs.n; i++) {
        struct aws_asg *g = &v->asgs.v[i];
        struct kiln_group_name gn;
        if (!kiln_group(g, &gn))
            continue;
        for (size_t k = 0; k < g->n_instances; k++) {
            const char *id = g->instances[k].id;
            if (strcmp(g->instances[k].lifecycle, "Terminated") != 0 &&
                find_ec2(&v->ec2, id) == NULL)
                v->missing_ids[v->n_missing_ids++] = id;
        }
        /* Health only from the ELBs kiln's groups are attached to, or, for a group
         * detached a moment ago, its cluster's ELB while instances are still registered. */
        char cluster[KILN_CLUSTER_SIZE], lb[AWS_ELB_NAME_SIZE];
        kiln_cluster_name_format(cluster, sizeof cluster, gn.app, gn.env);
        aws_elb_name(cluster, lb);
        for (size_t e = 0; e < v->elbs.n; e++) {
            const struct aws_elb *elb = &v->elbs.v[e];
            if (!v->want_health[e] && elb->instances.n > 0 &&
                (strcmp(elb->name, lb) == 0 || aws_strs_has(&g->lbs, elb->name)))
                v->want_health[e] = true;
        }
        /* A group without kiln's image tag (made by hand, or by an older tool): its
         * instances say which AMI they run; only an empty one costs a template lookup. */
        const char *img = aws_tags_get(&g->tags, AWS_TAG_IMAGE);
        if (img == NULL || img[0] == '\0') {
            for (size_t k = 0; k < g->n_instances && v->lt_image[i][0] == '\0'; k++) {
                const struct aws_ec2_instance *x = find_ec2(&v->ec2, g->instances[k].id);
                if (x != NULL && x->image[0] != '\0')
                    snprintf(v->lt_image[i], AWS_ID_SIZE, "%s", x->image);
            }
            if (v->lt_image[i][0] == '\0' && g->lt_name[0] != '\0')
                v->lt_group[v->n_lt++] = i;
        }
    }
    for (size_t e = 0; e < v->elbs.n; e++)
        if (v->want_health[e])
            v->health_elb[v->n_health++] = e;
    v->n_missing_tasks = (v->n_missing_ids + IDS_PER_TASK - 1) / IDS_PER_TASK;
    v->missing_parts = xcalloc(v->n_missing_tasks + 1, sizeof *v->missing_parts);
    return (int)(v->n_tag_tasks + v->n_health + v->n_missing_tasks + v->n_lt);
}

static void merge_missing(struct inv *v)
{
    for (size_t t = 0; t < v->n_missing_tasks; t++) {
        struct aws_ec2_instances *part = &v->missing_parts[t];
        for (size_t k = 0; k < part->n; k++) {
            v->ec2.v = xrealloc(v->ec2.v, (v->ec2.n + 1) * sizeof *v->ec2.v);
            v->ec2.v[v->ec2.n++] = part->v[k]; /* takes over its tags */
        }
        free(part->v);
        part->v = NULL;
        part->n = 0;
    }
    if (v->ec2.n > 1) /* qsort wants a non-null array even for none */
        qsort(v->ec2.v, v->ec2.n, sizeof *v->ec2.v, cmp_ec2);
}

/* ---- phase 3 ---- */

static const struct aws_elb *find_elb(const struct inv *v, const char *name)
{
    for (size_t e = 0; e < v->elbs.n; e++)
        if (strcmp(v->elbs.v[e].name, name) == 0)
            return &v->elbs.v[e];
    return NULL;
}

/* True when g is its cluster's newest group: a group on its health gate always is, and
 * the older disabled ones kept for rollback need no probing on every refresh. */
static bool newest_in_cluster(const struct inv *v, const struct aws_asg *g,
                              const struct kiln_group_name *gn)
{
    for (size_t i = 0; i < v->asgs.n; i++) {
        const struct aws_asg *o = &v->asgs.v[i];
        struct kiln_group_name on;
        if (o != g && kiln_group(o, &on) && strcmp(on.app, gn->app) == 0 &&
            strcmp(on.env, gn->env) == 0 &&
            (o->created_us > g->created_us ||
             (o->created_us == g->created_us && on.version > gn->version)))
            return false;
    }
    return true;
}

/* The running instances of the newest group of each cluster when kiln's ELB does not
 * serve it yet (a new group on its health gate), with the ELB's own target. */
static void plan_probes(struct inv *v)
{
    if (v->a->health_probe != KILN_PROBE_PRIVATE)
        return;
    size_t cap = 0;
    for (size_t i = 0; i < v->asgs.n; i++) {
        const struct aws_asg *g = &v->asgs.v[i];
        struct kiln_group_name gn;
        if (!kiln_group(g, &gn))
            continue;
        char cluster[KILN_CLUSTER_SIZE], lb[AWS_ELB_NAME_SIZE];
        kiln_cluster_name_format(cluster, sizeof cluster, gn.app, gn.env);
        aws_elb_name(cluster, lb);
        const struct aws_elb *elb = find_elb(v, lb);
        int port;
        const char *path;
        if (elb == NULL || aws_strs_has(&g->lbs, lb) || !newest_in_cluster(v, g, &gn) ||
            aws_probe_target(elb->hc_target, &port, &path) < 0)
            continue;
        for (size_t k = 0; k < g->n_instances; k++) {
            const struct aws_ec2_instance *x = find_ec2(&v->ec2, g->instances[k].id);
            if (x == NULL || strcmp(x->state, "running") != 0 || x->private_ip[0] == '\0' ||
                aws_strs_has(&elb->instances, x->id))
                continue;
            if (v->n_probes == cap) {
                cap = cap ? 2 * cap : 16;
                v->probes = xrealloc(v->probes, cap * sizeof *v->probes);
            }
            v->probes[v->n_probes++] = (struct probe_task){
                .id = x->id,
                .ip = x->private_ip,
                .path = path,
                .port = port,
                .timeout_ms =
                    elb->hc_timeout > 0 && elb->hc_timeout < 60 ? elb->hc_timeout * 1000 : 5000,
            };
        }
    }
}

static int phase3(struct kiln_aws_client *c, void *arg, size_t i, struct kiln_err *err)
{
    (void)c;
    (void)err;
    struct inv *v = arg;
    struct probe_task *t = &v->probes[i];
    aws_probe_health(t->ip, t->port, t->path, t->timeout_ms, &t->result);
    return 0;
}

static const struct aws_probe *find_probe(const struct inv *v, const char *id)
{
    for (size_t i = 0; i < v->n_probes; i++)
        if (strcmp(v->probes[i].id, id) == 0)
            return &v->probes[i].result;
    return NULL;
}

static void inv_free(struct inv *v)
{
    /* The health lists first: there is one per ELB, counted by elbs.n. */
    for (size_t e = 0; v->health != NULL && e < v->elbs.n + 1; e++)
        aws_health_list_free(&v->health[e]);
    aws_elbs_free(&v->elbs);
    aws_asgs_free(&v->asgs);
    aws_ec2_instances_free(&v->ec2);
    aws_ec2_images_free(&v->images);
    for (size_t t = 0; v->missing_parts != NULL && t < v->n_missing_tasks; t++)
        aws_ec2_instances_free(&v->missing_parts[t]);
    free(v->missing_parts);
    free(v->health);
    free(v->want_health);
    free(v->health_elb);
    free(v->lt_image);
    free(v->lt_group);
    free(v->missing_ids);
    free(v->probes);
}

/* ---- building the snapshot ---- */

struct cluster {
    char app[KILN_APP_SIZE], env[KILN_ENV_SIZE];
    struct kiln_env *node;
    const struct aws_elb *elb;
    const struct aws_health_list *health;
};

static struct cluster *find_cluster(struct cluster *v, size_t n, const char *app, const char *env)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].app, app) == 0 && strcmp(v[i].env, env) == 0)
            return &v[i];
    return NULL;
}

static struct kiln_app *app_node(struct kiln_snapshot *snap, struct kiln_app ***apps, size_t *n,
                                 const char *name, struct kiln_err *err)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*apps)[i]->name, name) == 0)
            return (*apps)[i];
    struct kiln_app *a = kiln_snapshot_add_app(snap, name, err);
    if (a != NULL) {
        *apps = xrealloc(*apps, (*n + 1) * sizeof **apps);
        (*apps)[(*n)++] = a;
    }
    return a;
}

/* "HTTP:8080/health" -> "/health". */
static const char *target_path(const char *target)
{
    const char *colon = strchr(target, ':');
    const char *slash = colon ? strchr(colon, '/') : NULL;
    return slash ? slash : "";
}

static const char *lock_text(const struct aws_tags *tags, char *buf, size_t n)
{
    const char *v = aws_tags_get(tags, AWS_TAG_LOCK);
    struct aws_lock_value lv;
    if (v == NULL || v[0] == '\0' || aws_lock_parse(v, &lv) < 0 || lv.expires_us <= kiln_now_us())
        return NULL;
    snprintf(buf, n, "%s by job %llu (%s)", lv.what[0] ? lv.what : "a job", lv.job, lv.user);
    return buf;
}

static int add_cluster(struct inv *v, struct kiln_snapshot *snap, struct kiln_app ***apps,
                       size_t *n_apps, struct cluster **cl, size_t *n_cl, const char *app,
                       const char *env, const struct aws_elb *elb,
                       const struct aws_health_list *health, struct kiln_err *err)
{
    if (kiln_name_validate_app(app, NULL) < 0 || kiln_name_validate_env(env, NULL) < 0)
        return 0; /* tags written by hand that kiln cannot name: not kiln's */
    if (find_cluster(*cl, *n_cl, app, env) != NULL)
        return 0; /* two ELBs tagged for one cluster: the first (by name) wins */
    struct kiln_app *an = app_node(snap, apps, n_apps, app, err);
    if (an == NULL)
        return -1;
    char fqdn[300], lock[320];
    aws_cluster_fqdn(v->a, app, env, fqdn, sizeof fqdn);
    bool chaos = false;
    int64_t mean = 0, min = 0;
    if (elb != NULL)
        aws_chaos_parse(aws_tags_get(&elb->tags, AWS_TAG_CHAOS), &chaos, &mean, &min);
    struct kiln_env tmpl = {
        .name = env,
        .lb_name = elb ? elb->name : "",
        .lb_dns = fqdn[0] ? fqdn
                  : elb   ? elb->dns
                          : "",
        .health = {.path = elb ? target_path(elb->hc_target) : "",
                   .interval_ms = elb ? elb->hc_interval * 1000LL : 0,
                   .timeout_ms = elb ? elb->hc_timeout * 1000LL : 0,
                   .healthy_threshold = elb ? elb->hc_healthy : 0,
                   .unhealthy_threshold = elb ? elb->hc_unhealthy : 0},
        .chaos_enabled = chaos,
        .chaos_mean_ms = mean,
        .chaos_min_ms = min,
        .lock = elb ? lock_text(&elb->tags, lock, sizeof lock) : NULL,
    };
    struct kiln_env *node = kiln_snapshot_add_env(snap, an, &tmpl, err);
    if (node == NULL)
        return -1;
    if (elb != NULL) {
        struct kiln_lb lb = {
            .name = elb->name, .dns = elb->dns, .app = app, .env = env, .port = elb->lb_port};
        if (kiln_snapshot_add_lb(snap, &lb, err) == NULL)
            return -1;
    }
    *cl = xrealloc(*cl, (*n_cl + 1) * sizeof **cl);
    struct cluster *c = &(*cl)[(*n_cl)++];
    memset(c, 0, sizeof *c);
    snprintf(c->app, sizeof c->app, "%s", app);
    snprintf(c->env, sizeof c->env, "%s", env);
    c->node = node;
    c->elb = elb;
    c->health = health;
    return 0;
}

static enum kiln_instance_state instance_state(const struct aws_ec2_instance *x,
                                               const struct aws_asg_instance *ai)
{
    const char *s = x ? x->state : "";
    if (strcmp(s, "running") == 0)
        return KILN_INSTANCE_RUNNING;
    if (strcmp(s, "pending") == 0)
        return KILN_INSTANCE_PENDING;
    if (strcmp(s, "terminated") == 0)
        return KILN_INSTANCE_TERMINATED;
    if (s[0] != '\0')
        return KILN_INSTANCE_TERMINATING; /* shutting-down, stopping, stopped */
    /* EC2 has not shown it yet: what Auto Scaling says. */
    if (strncmp(ai->lifecycle, "Pending", 7) == 0)
        return KILN_INSTANCE_PENDING;
    if (strncmp(ai->lifecycle, "Terminat", 8) == 0)
        return strcmp(ai->lifecycle, "Terminated") == 0 ? KILN_INSTANCE_TERMINATED
                                                        : KILN_INSTANCE_TERMINATING;
    return KILN_INSTANCE_RUNNING;
}

static const struct aws_instance_health *find_health(const struct aws_health_list *l,
                                                     const char *id)
{
    for (size_t i = 0; l != NULL && i < l->n; i++)
        if (strcmp(l->v[i].id, id) == 0)
            return &l->v[i];
    return NULL;
}

static int add_instances(struct inv *v, struct kiln_snapshot *snap, struct kiln_group *grp,
                         const struct aws_asg *g, const struct cluster *c, struct kiln_err *err)
{
    for (size_t k = 0; k < g->n_instances; k++) {
        const struct aws_asg_instance *ai = &g->instances[k];
        if (kiln_instance_id_validate(ai->id, NULL) < 0)
            continue;
        const struct aws_ec2_instance *x = find_ec2(&v->ec2, ai->id);
        struct kiln_instance it = {
            .id = ai->id,
            .address = x ? x->private_ip : "",
            .launched_us = x ? x->launched_us : 0,
            .state = instance_state(x, ai),
            .health = KILN_HEALTH_UNKNOWN,
            .lb_state = KILN_LB_OUT_OF_SERVICE,
            .health_detail = "",
        };
        if (it.state == KILN_INSTANCE_TERMINATED)
            continue;
        const struct aws_instance_health *h = c->elb && aws_strs_has(&c->elb->instances, ai->id)
                                                  ? find_health(c->health, ai->id)
                                                  : NULL;
        const struct aws_probe *probe = h == NULL ? find_probe(v, ai->id) : NULL;
        if (h != NULL && strcmp(h->state, "InService") == 0)
            it.lb_state = KILN_LB_IN_SERVICE;
        if (it.state != KILN_INSTANCE_RUNNING) {
            it.health = KILN_HEALTH_UNKNOWN;
        } else if (strcmp(ai->health, "Unhealthy") == 0) {
            it.health = KILN_HEALTH_UNHEALTHY;
            it.health_detail = "Auto Scaling marked it unhealthy";
        } else if (h != NULL) {
            if (strcmp(h->state, "InService") == 0)
                it.health = KILN_HEALTH_HEALTHY;
            else if (strcmp(h->reason, "Instance") == 0)
                it.health = KILN_HEALTH_UNHEALTHY;
            if (strcmp(h->description, "N/A") != 0)
                it.health_detail = h->description;
        } else if (probe != NULL) {
            it.health = probe->health;
            it.health_detail = probe->detail;
        } else if (strcmp(ai->health, "Healthy") == 0) {
            it.health = KILN_HEALTH_HEALTHY;
        }
        if (kiln_snapshot_add_instance(snap, grp, &it, err) == NULL)
            return -1;
    }
    return 0;
}

static const char *image_package(const struct inv *v, const char *image)
{
    for (size_t i = 0; i < v->images.n; i++)
        if (strcmp(v->images.v[i].id, image) == 0) {
            const char *p = aws_tags_get(&v->images.v[i].tags, AWS_TAG_PACKAGE);
            return p ? p : "";
        }
    return "";
}

/* The kiln:rejected tag's time; a tag that does not parse still marks the group. */
static int64_t rejected_since(const char *tag)
{
    if (tag == NULL || tag[0] == '\0')
        return 0;
    int64_t us = 0;
    return kiln_time_parse_iso(tag, &us, NULL) == 0 && us > 0 ? us : 1;
}

static int add_groups(struct inv *v, struct kiln_snapshot *snap, struct kiln_app ***apps,
                      size_t *n_apps, struct cluster **cl, size_t *n_cl, struct kiln_err *err)
{
    for (size_t i = 0; i < v->asgs.n; i++) {
        const struct aws_asg *g = &v->asgs.v[i];
        struct kiln_group_name gn;
        if (!kiln_group(g, &gn))
            continue;
        struct cluster *c = find_cluster(*cl, *n_cl, gn.app, gn.env);
        if (c == NULL) {
            /* Its ELB is gone (deleted by hand): still shown, so it can be destroyed. */
            if (add_cluster(v, snap, apps, n_apps, cl, n_cl, gn.app, gn.env, NULL, NULL, err) < 0)
                return -1;
            c = find_cluster(*cl, *n_cl, gn.app, gn.env);
            if (c == NULL)
                continue;
        }
        const char *image = aws_tags_get(&g->tags, AWS_TAG_IMAGE);
        if (image == NULL || image[0] == '\0')
            image = v->lt_image[i];
        if (kiln_image_id_validate(image, NULL) < 0)
            image = "";
        const char *package = aws_tags_get(&g->tags, AWS_TAG_PACKAGE);
        if (package == NULL || package[0] == '\0')
            package = image_package(v, image);
        struct kiln_group tmpl = {
            .version = gn.version,
            .enabled = !(g->suspended & KILN_PROC_ADD_TO_LB),
            .image_id = image,
            .package = package,
            .min_size = g->min,
            .max_size = g->max,
            .desired = g->desired,
            .created_us = g->created_us,
            .suspended = g->suspended,
            .previous = aws_tags_get(&g->tags, AWS_TAG_PREVIOUS),
            .rejected_us = rejected_since(aws_tags_get(&g->tags, AWS_TAG_REJECTED)),
        };
        struct kiln_group *grp = kiln_snapshot_add_group(snap, c->node, &tmpl, err);
        if (grp == NULL || add_instances(v, snap, grp, g, c, err) < 0)
            return -1;
    }
    return 0;
}

static int add_images(struct inv *v, struct kiln_snapshot *snap, struct kiln_err *err)
{
    for (size_t i = 0; i < v->images.n; i++) {
        const struct aws_ec2_image *im = &v->images.v[i];
        const char *pkg = aws_tags_get(&im->tags, AWS_TAG_PACKAGE);
        if (strcmp(im->state, "failed") == 0 || kiln_image_id_validate(im->id, NULL) < 0)
            continue;
        struct kiln_image t = {
            .id = im->id, .package = pkg ? pkg : "", .created_us = im->created_us};
        if (kiln_snapshot_add_image(snap, &t, err) == NULL)
            return -1;
    }
    return 0;
}

/* The packages kiln knows on AWS: the directory repo's RPMs, and every package an AMI of
 * ours was baked from (an HTTP repo cannot be listed). A build's release is one more than
 * the newest of these, so rebuilding changed code never reuses an NVR that was baked. */
struct package_list {
    struct kiln_snapshot *snap;
    const char **seen;
    size_t n;
    int rc;
    struct kiln_err *err;
};

static void add_package(void *ctx, const char *nvr, const char *file, int64_t created_us)
{
    struct package_list *l = ctx;
    if (l->rc < 0)
        return;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->seen[i], nvr) == 0)
            return;
    struct kiln_package t = {.nvr = nvr, .file = file, .created_us = created_us};
    const struct kiln_package *pk = kiln_snapshot_add_package(l->snap, &t, l->err);
    if (pk == NULL) {
        l->rc = -1;
        return;
    }
    l->seen = xrealloc(l->seen, (l->n + 1) * sizeof *l->seen);
    l->seen[l->n++] = pk->nvr;
}

static int add_packages(struct inv *v, struct kiln_snapshot *snap, struct kiln_err *err)
{
    struct package_list l = {.snap = snap, .err = err};
    aws_repo_each(v->a, add_package, &l);
    for (size_t i = 0; i < v->images.n && l.rc == 0; i++) {
        const struct aws_ec2_image *im = &v->images.v[i];
        const char *pkg = aws_tags_get(&im->tags, AWS_TAG_PACKAGE);
        if (pkg != NULL && kiln_package_nvr_validate(pkg, NULL) == 0)
            add_package(&l, pkg, "", im->created_us);
    }
    free(l.seen);
    return l.rc;
}

static int build(struct inv *v, struct kiln_snapshot *snap, struct kiln_err *err)
{
    struct kiln_app **apps = NULL;
    size_t n_apps = 0, n_cl = 0;
    struct cluster *cl = NULL;
    int rc = 0;
    for (size_t e = 0; e < v->elbs.n && rc == 0; e++) {
        const struct aws_elb *elb = &v->elbs.v[e];
        const char *app = aws_tags_get(&elb->tags, AWS_TAG_APP);
        const char *env = aws_tags_get(&elb->tags, AWS_TAG_ENV);
        if (app != NULL && env != NULL)
            rc =
                add_cluster(v, snap, &apps, &n_apps, &cl, &n_cl, app, env, elb, &v->health[e], err);
    }
    if (rc == 0)
        rc = add_groups(v, snap, &apps, &n_apps, &cl, &n_cl, err);
    if (rc == 0)
        rc = add_images(v, snap, err);
    if (rc == 0)
        rc = add_packages(v, snap, err);
    free(apps);
    free(cl);
    return rc;
}

static int inventory(struct inv *v, struct kiln_snapshot **out, struct kiln_err *err)
{
    struct kiln_snapshot *snap = NULL;
    int rc = aws_parallel(v->a, 4, 4, phase1, v, err);
    if (rc == 0) {
        size_t n = (size_t)plan_phase2(v);
        rc = aws_parallel(v->a, n, MAX_THREADS, phase2, v, err);
    }
    if (rc == 0) {
        merge_missing(v);
        plan_probes(v);
        rc = aws_parallel(v->a, v->n_probes, MAX_THREADS, phase3, v, err);
    }
    if (rc == 0) {
        snap = kiln_snapshot_new();
        rc = build(v, snap, err);
        if (rc == 0)
            rc = kiln_snapshot_finish(snap, err);
    }
    inv_free(v);
    if (rc < 0) {
        kiln_snapshot_release(snap);
        return -1;
    }
    *out = snap;
    return 0;
}

int aws_inventory(struct kiln_provider *p, struct kiln_snapshot **out, struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    aws_lock_refresh(a);
    struct inv v = {.a = a};
    if (inventory(&v, out, err) < 0) {
        kiln_err_prefix(err, "cannot read the AWS inventory");
        return -1;
    }
    return 0;
}

int aws_inventory_cluster(struct kiln_provider *p, const char *app, const char *env,
                          struct kiln_snapshot **out, struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    char cluster[KILN_CLUSTER_SIZE];
    if (kiln_name_validate_app(app, err) < 0 || kiln_name_validate_env(env, err) < 0 ||
        kiln_cluster_name_format(cluster, sizeof cluster, app, env) < 0)
        return -1;
    aws_lock_refresh(a);
    struct inv v = {.a = a, .app = app, .env = env};
    aws_elb_name(cluster, v.lb);
    if (inventory(&v, out, err) < 0) {
        kiln_err_prefix(err, "cannot read %s's AWS inventory", cluster);
        return -1;
    }
    return 0;
}
