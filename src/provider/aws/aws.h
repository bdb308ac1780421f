/* kiln: the aws provider's insides, shared by its files (not a public header).
 *
 *   provider.c     the ops table, kiln_aws_open, the client pool
 *   ec2.c          typed EC2 calls: instances, images, launch templates, tags, zones
 *   autoscaling.c  typed Auto Scaling calls: groups, processes, activities
 *   elb.c          typed classic ELB calls, and how a cluster's ELB is named
 *   route53.c      the cluster's CNAME
 *   inventory.c    the snapshot, with the independent calls made concurrently
 *   groups.c       group_create/enable/disable/destroy/resize/suspend, instance_terminate
 *   apps.c         create_app, delete_app
 *   probe.c        the health gate on private addresses ([aws] health_probe = private)
 *   repo.c         package_push (a directory or an HTTP PUT repository), listing a
 *                  directory repository
 *   bake.c         aminate or a builder instance; the bake cache
 *   lock.c         the cluster lock and the chaos settings, as tags on the cluster's ELB
 *   events.c       next_event, from Auto Scaling activities and inventory differences
 *
 * Everything here runs on the thread that owns the provider, except the inventory's
 * helpers, which run on their own threads with their own clients (kiln_aws_client is
 * one thread's). */
#ifndef KILN_PROVIDER_AWS_AWS_H
#define KILN_PROVIDER_AWS_AWS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/aws_client.h"
#include "kiln/config.h"
#include "kiln/err.h"
#include "kiln/provider.h"

struct kiln_ctx;

/* Opens the aws provider for ctx (--profile, --region and the [aws] config). */
struct kiln_provider *kiln_aws_open(struct kiln_ctx *ctx, struct kiln_err *err);

/* The tags kiln reads and writes. */
#define AWS_TAG_APP      "kiln:app"
#define AWS_TAG_ENV      "kiln:env"
#define AWS_TAG_PACKAGE  "kiln:package"
#define AWS_TAG_IMAGE    "kiln:image"
#define AWS_TAG_LOCK     "kiln:lock"
#define AWS_TAG_CHAOS    "kiln:chaos"
#define AWS_TAG_PREVIOUS "kiln:previous" /* the group serving when this one was made */
#define AWS_TAG_REJECTED "kiln:rejected" /* when traffic was rolled back away from it */

#define AWS_ELB_NAME_SIZE 33 /* ELB names: 1..32 of [a-zA-Z0-9-] */
#define AWS_ID_SIZE       32 /* i-..., ami-..., lt-... */

/* ---- the provider ---- */

struct aws_held_lock {
    char cluster[80];
    char lb[AWS_ELB_NAME_SIZE];
    char value[512];
    int64_t refreshed_us;
};

struct aws_events;

struct aws {
    struct kiln_aws_client *client; /* the owning thread's */
    /* What more clients are made from (the inventory's helper threads). */
    char region[64];
    char *endpoint, *ca_bundle;
    bool allow_http;
    struct kiln_aws_credentials_provider *creds;
    struct kiln_aws_client **pool;
    size_t n_pool;

    /* The [aws] and [core] settings kiln needs, copied (the context may go first). */
    char *hosted_zone; /* "" when unset */
    enum kiln_bake_method bake_method;
    enum kiln_health_probe health_probe;
    int64_t whole_ms; /* the events' whole inventory, [console] whole_refresh_interval */
    char *aminate_command, *base_ami, *instance_type, *package_repo, *certificate_arn;
    int64_t health_timeout_ms;
    /* [local] chaos_mean and chaos_min: what kilnd gives a new app, and so the times an
     * AWS cluster's chaos gets when none are set (aws_chaos). */
    int64_t chaos_mean_ms, chaos_min_ms;
    char *state_dir;

    struct aws_held_lock locks[8];
    size_t n_locks;
    char zone_id[128];   /* the hosted zone's id and name, once looked up */
    char zone_name[300]; /* without the final dot */
    bool zone_unknown;   /* looking it up failed once: the inventory stops asking */

    struct aws_events *events;
};

static inline struct aws *aws_of(struct kiln_provider *p)
{
    return p->impl;
}

/* n more clients like a->client, made on first use and kept for the next inventory (so
 * their connections are reused); NULL entries when one cannot be made. */
struct kiln_aws_client **aws_pool(struct aws *a, size_t n, struct kiln_err *err);

/* Runs fn(client, arg, i) for i in 0..n-1 on up to `threads` threads, each with its
 * own client from the pool (the calling thread's client works too). Returns 0, or -1
 * with the first error a task reported. */
typedef int (*aws_task_fn)(struct kiln_aws_client *c, void *arg, size_t i, struct kiln_err *err);
int aws_parallel(struct aws *a, size_t n, size_t threads, aws_task_fn fn, void *arg,
                 struct kiln_err *err);

/* Refreshes the held cluster locks that are due (called by the mutating operations and
 * the inventory, so a long deploy keeps its lock). Never fails the caller. */
void aws_lock_refresh(struct aws *a);

/* ---- tags ---- */

struct aws_tag {
    char *key, *value;
};

struct aws_tags {
    struct aws_tag *v;
    size_t n;
};

void aws_tags_add(struct aws_tags *t, const char *key, const char *value);
/* The value of key, or NULL. */
const char *aws_tags_get(const struct aws_tags *t, const char *key);
void aws_tags_free(struct aws_tags *t);

/* A string list. */
struct aws_strs {
    char **v;
    size_t n;
};

void aws_strs_add(struct aws_strs *s, const char *v);
bool aws_strs_has(const struct aws_strs *s, const char *v);
void aws_strs_free(struct aws_strs *s);

/* Whether the client's last error had this AWS code. */
bool aws_last_error_is(struct kiln_aws_client *c, const char *code);
/* Makes one Query call and frees the request: the common shape of the typed wrappers.
 * *doc may be NULL (the answer is dropped). */
int aws_call(struct kiln_aws_client *c, struct kiln_aws_query *q, xmlDoc **doc,
             struct kiln_err *err);

/* ---- EC2 ---- */

struct aws_ec2_instance {
    char id[AWS_ID_SIZE];
    char state[24]; /* pending, running, shutting-down, terminated, stopping, stopped */
    char private_ip[48];
    char image[AWS_ID_SIZE];
    int64_t launched_us;
    struct aws_tags tags;
};

struct aws_ec2_instances {
    struct aws_ec2_instance *v;
    size_t n;
};

/* Instances that carry tag key `tag_key` (every page), or, with ids, those instances
 * (in batches); an id EC2 no longer knows is left out, not an error. */
int aws_ec2_describe_instances(struct kiln_aws_client *c, const char *tag_key,
                               const char *const *ids, size_t n_ids, struct aws_ec2_instances *out,
                               struct kiln_err *err);
/* One cluster's instances: tagged kiln:app=app and kiln:env=env, every page. */
int aws_ec2_describe_cluster_instances(struct kiln_aws_client *c, const char *app, const char *env,
                                       struct aws_ec2_instances *out, struct kiln_err *err);
void aws_ec2_instances_free(struct aws_ec2_instances *l);

struct aws_ec2_image {
    char id[AWS_ID_SIZE];
    char state[24]; /* pending, available, failed... */
    int64_t created_us;
    struct aws_tags tags;
};

struct aws_ec2_images {
    struct aws_ec2_image *v;
    size_t n;
};

/* Our own images (Owner self) tagged kiln:package, or with that tag equal to nvr. */
int aws_ec2_describe_images(struct kiln_aws_client *c, const char *nvr, const char *image_id,
                            struct aws_ec2_images *out, struct kiln_err *err);
void aws_ec2_images_free(struct aws_ec2_images *l);

int aws_ec2_create_tags(struct kiln_aws_client *c, const char *resource, const struct aws_tag *tags,
                        size_t n, struct kiln_err *err);
/* A launch template named name (one version) with the image and instance type. An
 * existing template of that name is kept (a resumed job made it). */
int aws_ec2_create_launch_template(struct kiln_aws_client *c, const char *name, const char *image,
                                   const char *instance_type, struct kiln_err *err);
/* Deleting one that is not there is fine. */
int aws_ec2_delete_launch_template(struct kiln_aws_client *c, const char *name,
                                   struct kiln_err *err);
/* The image of a template's version ("$Latest", "$Default" or a number). */
int aws_ec2_launch_template_image(struct kiln_aws_client *c, const char *name, const char *version,
                                  char *image, size_t n, struct kiln_err *err);
/* The region's available zones (at most max, in name order). */
int aws_ec2_zones(struct kiln_aws_client *c, struct aws_strs *out, size_t max,
                  struct kiln_err *err);
/* One instance from image, with user data (plain text; sent base64) and tags. */
int aws_ec2_run_instance(struct kiln_aws_client *c, const char *image, const char *type,
                         const char *user_data, const struct aws_tag *tags, size_t n_tags, char *id,
                         size_t n, struct kiln_err *err);
int aws_ec2_terminate(struct kiln_aws_client *c, const char *id, struct kiln_err *err);
int aws_ec2_create_image(struct kiln_aws_client *c, const char *instance, const char *name,
                         char *ami, size_t n, struct kiln_err *err);
/* The instance's console output, decoded (caller frees); "" when there is none yet. */
int aws_ec2_console_output(struct kiln_aws_client *c, const char *instance, char **out,
                           struct kiln_err *err);

/* ---- Auto Scaling ---- */

struct aws_asg_instance {
    char id[AWS_ID_SIZE];
    char lifecycle[40]; /* Pending, InService, Terminating, Terminated, ... */
    char health[16];    /* Healthy, Unhealthy */
};

struct aws_asg {
    char *name;
    int min, max, desired;
    int64_t created_us;
    unsigned suspended; /* enum kiln_process bits */
    char *status;       /* "" or "Delete in progress" */
    char *lt_name, *lt_version;
    struct aws_strs lbs;
    struct aws_asg_instance *instances;
    size_t n_instances;
    struct aws_tags tags;
};

struct aws_asgs {
    struct aws_asg *v;
    size_t n;
};

/* Groups named name (NULL: every group with a kiln:app tag), every page. */
int aws_asg_describe(struct kiln_aws_client *c, const char *name, struct aws_asgs *out,
                     struct kiln_err *err);
/* The groups tagged kiln:app=app and kiln:env=env, every page. */
int aws_asg_describe_cluster(struct kiln_aws_client *c, const char *app, const char *env,
                             struct aws_asgs *out, struct kiln_err *err);
void aws_asgs_free(struct aws_asgs *l);

struct aws_asg_create {
    const char *name, *launch_template;
    int min, max, desired;
    const struct aws_strs *zones;
    const struct aws_tag *tags;
    size_t n_tags;
};

/* An existing group of that name is fine (a resumed job made it). */
int aws_asg_create(struct kiln_aws_client *c, const struct aws_asg_create *s, struct kiln_err *err);
int aws_asg_update_sizes(struct kiln_aws_client *c, const char *name, int min, int max, int desired,
                         struct kiln_err *err);
/* Suspends or resumes the processes (enum kiln_process bits). */
int aws_asg_processes(struct kiln_aws_client *c, const char *name, unsigned processes, bool suspend,
                      struct kiln_err *err);
int aws_asg_load_balancer(struct kiln_aws_client *c, const char *name, const char *lb, bool attach,
                          struct kiln_err *err);
/* Force: its instances go too. A group that is gone already is fine. */
int aws_asg_delete(struct kiln_aws_client *c, const char *name, struct kiln_err *err);
/* Sets tag key on group name (CreateOrUpdateTags), or deletes it when value is NULL. */
int aws_asg_tag(struct kiln_aws_client *c, const char *name, const char *key, const char *value,
                struct kiln_err *err);
int aws_asg_terminate_instance(struct kiln_aws_client *c, const char *id, bool decrement,
                               struct kiln_err *err);

struct aws_activity {
    char id[64];
    char group[80];
    char *description, *cause;
    char status[32];
    int64_t start_us, end_us; /* end 0 while it runs */
};

struct aws_activities {
    struct aws_activity *v;
    size_t n;
};

/* The most recent activities (newest first, at most max) of group, or of every group
 * when group is NULL. */
int aws_asg_activities(struct kiln_aws_client *c, const char *group, size_t max,
                       struct aws_activities *out, struct kiln_err *err);
void aws_activities_free(struct aws_activities *l);

/* ---- classic ELB ---- */

/* The cluster's ELB name: the cluster name itself when it fits in 32 characters, else
 * a stable short form, its first 23 characters, '-' and 8 hex digits of a hash of the
 * whole name (the same on every machine, so two consoles find the same ELB). */
void aws_elb_name(const char *cluster, char out[AWS_ELB_NAME_SIZE]);

struct aws_elb {
    char name[AWS_ELB_NAME_SIZE];
    char *dns;
    char protocol[8];
    int lb_port, instance_port;
    char *hc_target; /* "HTTP:8080/health" */
    int hc_interval, hc_timeout, hc_healthy, hc_unhealthy;
    int64_t created_us;
    struct aws_strs zones, instances; /* instances: registered ones */
    struct aws_tags tags;
};

struct aws_elbs {
    struct aws_elb *v;
    size_t n;
};

/* The named ELBs (n_names 0: all, every page). An unknown name fails with
 * KILN_E_NOTFOUND. */
int aws_elb_describe(struct kiln_aws_client *c, const char *const *names, size_t n_names,
                     struct aws_elbs *out, struct kiln_err *err);
/* Fills each one's tags (DescribeTags takes 20 names a call). */
int aws_elb_describe_tags(struct kiln_aws_client *c, struct aws_elb *v, size_t n,
                          struct kiln_err *err);
void aws_elbs_free(struct aws_elbs *l);

struct aws_elb_create {
    const char *name, *protocol;
    const char *certificate; /* SSLCertificateId, for HTTPS; the instances still speak HTTP */
    int lb_port, instance_port;
    const struct aws_strs *zones;
    const struct aws_tag *tags;
    size_t n_tags;
};

/* DNS name of the new (or already existing, same name) ELB into dns. */
int aws_elb_create(struct kiln_aws_client *c, const struct aws_elb_create *s, char *dns, size_t n,
                   struct kiln_err *err);
int aws_elb_configure_health_check(struct kiln_aws_client *c, const char *name, const char *target,
                                   int interval, int timeout, int healthy, int unhealthy,
                                   struct kiln_err *err);
int aws_elb_add_tags(struct kiln_aws_client *c, const char *name, const struct aws_tag *tags,
                     size_t n, struct kiln_err *err);
int aws_elb_remove_tag(struct kiln_aws_client *c, const char *name, const char *key,
                       struct kiln_err *err);
/* One tag's value ("" when absent) of one ELB. */
int aws_elb_get_tag(struct kiln_aws_client *c, const char *name, const char *key, char *value,
                    size_t n, struct kiln_err *err);
int aws_elb_delete(struct kiln_aws_client *c, const char *name, struct kiln_err *err);

struct aws_instance_health {
    char id[AWS_ID_SIZE];
    char state[16];  /* InService, OutOfService, Unknown */
    char reason[16]; /* ReasonCode: ELB, Instance, N/A */
    char description[160];
};

struct aws_health_list {
    struct aws_instance_health *v;
    size_t n;
};

int aws_elb_instance_health(struct kiln_aws_client *c, const char *name,
                            struct aws_health_list *out, struct kiln_err *err);
void aws_health_list_free(struct aws_health_list *l);

/* ---- Route 53 ---- */

/* The hosted zone's id and name (cached in a): [aws] hosted_zone is either its id
 * (Z0123456789ABC, as kiln.conf(5) shows) or its name (example.com). */
int aws_route53_zone(struct aws *a, struct kiln_err *err);
/* UPSERT (target set) or DELETE (target NULL; nothing to delete is fine) of the CNAME. */
int aws_route53_cname(struct aws *a, const char *fqdn, const char *target, struct kiln_err *err);
/* "app.env.zone" (no trailing dot) when [aws] hosted_zone is set, else "" (also when a
 * zone given by id cannot be looked up: callers then show the ELB's own name). */
void aws_cluster_fqdn(struct aws *a, const char *app, const char *env, char *out, size_t n);

/* ---- the operations, by file ---- */

int aws_inventory(struct kiln_provider *p, struct kiln_snapshot **out, struct kiln_err *err);
int aws_inventory_cluster(struct kiln_provider *p, const char *app, const char *env,
                          struct kiln_snapshot **out, struct kiln_err *err);
int aws_create_app(struct kiln_provider *p, const struct kiln_app_spec *spec, struct kiln_err *err);
int aws_delete_app(struct kiln_provider *p, const char *app, const char *env, bool force,
                   struct kiln_err *err);
/* One instance's answer to kiln's own health check. */
struct aws_probe {
    enum kiln_health health; /* healthy on 200, unhealthy on another status, else unknown */
    char detail[512];        /* why, when not healthy */
};

/* Port and path of an ELB health check target "HTTP:8080/health"; -1 for any other
 * protocol (TCP, HTTPS, SSL), which kiln does not probe. */
int aws_probe_target(const char *target, int *port, const char **path);
/* GETs http://ip:port/path within timeout_ms (capped at 5 s). */
void aws_probe_health(const char *ip, int port, const char *path, int timeout_ms,
                      struct aws_probe *out);

/* Calls fn for each NVR.rpm in a directory package_repo (nothing for an HTTP one, which
 * cannot be listed); an unreadable directory lists nothing. */
void aws_repo_each(const struct aws *a,
                   void (*fn)(void *ctx, const char *nvr, const char *file, int64_t mtime_us),
                   void *ctx);
int aws_package_push(struct kiln_provider *p, const char *rpm_path, char *nvr, size_t n,
                     struct kiln_err *err);
int aws_bake(struct kiln_provider *p, const char *nvr, const char *app, kiln_line_fn on_line,
             void *line_ctx, char *image, size_t n, bool *cached, struct kiln_err *err);
int aws_group_create(struct kiln_provider *p, const struct kiln_group_spec *spec,
                     struct kiln_err *err);
int aws_group_resize(struct kiln_provider *p, const char *name, int min, int max, int desired,
                     struct kiln_err *err);
int aws_group_enable(struct kiln_provider *p, const char *name, struct kiln_err *err);
int aws_group_disable(struct kiln_provider *p, const char *name, struct kiln_err *err);
int aws_group_destroy(struct kiln_provider *p, const char *name, struct kiln_err *err);
int aws_group_mark_rejected(struct kiln_provider *p, const char *name, bool rejected,
                            struct kiln_err *err);
int aws_group_suspend(struct kiln_provider *p, const char *name, unsigned processes, bool suspend,
                      struct kiln_err *err);
int aws_instance_terminate(struct kiln_provider *p, const char *id, bool decrement,
                           struct kiln_err *err);
int aws_lock(struct kiln_provider *p, const char *cluster, const struct kiln_lock_owner *o,
             struct kiln_err *err);
int aws_unlock(struct kiln_provider *p, const char *cluster, const struct kiln_lock_owner *o,
               struct kiln_err *err);
int aws_chaos(struct kiln_provider *p, const char *app, const char *env,
              const struct kiln_chaos_spec *spec, struct kiln_err *err);
int aws_next_event(struct kiln_provider *p, uint64_t since, int timeout_ms, struct kiln_event *out,
                   struct kiln_err *err);
void aws_events_free(struct aws_events *ev);

/* ---- helpers shared by the operations ---- */

/* The lock tag's parts, for the inventory's "deploy by job 12 (u@h)". */
struct aws_lock_value {
    unsigned long long job;
    char user[96], what[32], since[32], expires[32];
    int pid;
    int64_t expires_us;
};
int aws_lock_parse(const char *value, struct aws_lock_value *out);
/* The chaos tag: "on mean=30000 min=10000" (milliseconds). */
void aws_chaos_parse(const char *value, bool *enabled, int64_t *mean_ms, int64_t *min_ms);

/* Splits a command line into argv without a shell: words separated by blanks, '...'
 * taken literally, "..." with \" \\ \$ escapes, \x outside quotes. *argv is
 * NULL-terminated; free with aws_argv_free. -1 on an unterminated quote. */
int aws_split_command(const char *line, char ***argv, struct kiln_err *err);
void aws_argv_free(char **argv);
/* The last AMI id (ami- and 8 to 17 hex digits, standing alone) in text, or "". */
void aws_find_ami_id(const char *text, char *out, size_t n);

#endif
