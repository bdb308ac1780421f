/* kiln: the inventory snapshot that the console reads.
 *
 * The refresher thread builds a snapshot (apps -> envs -> server groups ->
 * instances, plus images, packages and load balancers), finishes it (sorts it,
 * links it, counts), and publishes it into a kiln_model. From then on it is
 * immutable: any thread may read it without locks for as long as it holds a
 * reference. Readers take a reference with kiln_model_acquire() and drop it with
 * kiln_snapshot_release(); the last release frees the snapshot. A reader never
 * sees a half-built snapshot, because only finished ones are published.
 *
 * Everything in a snapshot lives in one arena owned by it, so 50,000 instances
 * cost a few MB and are freed in one go. Strings in a snapshot are never NULL
 * ("" when unknown). Times are µs since the Unix epoch (like kiln/timeutil.h),
 * durations ms.
 *
 *     struct kiln_snapshot *s = kiln_snapshot_new();
 *     struct kiln_app *app = kiln_snapshot_add_app(s, "hello", &err);
 *     struct kiln_env *env = kiln_snapshot_add_env(s, app, &(struct kiln_env){.name = "test"},
 * &err);
 *     ...
 *     kiln_model_publish(model, s, &err);        // takes over the builder's reference
 *
 *     const struct kiln_snapshot *snap = kiln_model_acquire(model);  // UI thread
 *     ... draw from snap ...
 *     kiln_snapshot_release(snap);
 */
#ifndef KILN_MODEL_H
#define KILN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/err.h"

/* The enums and their names, as tables (doc/design.md, "House style": tables, not switch
 * forests). */
#define KILN_INSTANCE_STATES(X)                                                                    \
    X(PENDING, "pending")                                                                          \
    X(RUNNING, "running")                                                                          \
    X(TERMINATING, "terminating")                                                                  \
    X(TERMINATED, "terminated")

#define KILN_HEALTHS(X)                                                                            \
    X(UNKNOWN, "unknown")                                                                          \
    X(HEALTHY, "healthy")                                                                          \
    X(UNHEALTHY, "unhealthy")

#define KILN_LB_STATES(X)                                                                          \
    X(UNKNOWN, "unknown")                                                                          \
    X(IN_SERVICE, "in-service")                                                                    \
    X(OUT_OF_SERVICE, "out-of-service")

#define KILN_ENUM_INSTANCE_(id, name) KILN_INSTANCE_##id,
#define KILN_ENUM_HEALTH_(id, name)   KILN_HEALTH_##id,
#define KILN_ENUM_LB_(id, name)       KILN_LB_##id,
enum kiln_instance_state { KILN_INSTANCE_STATES(KILN_ENUM_INSTANCE_) KILN_INSTANCE_STATE_COUNT };
enum kiln_health { KILN_HEALTHS(KILN_ENUM_HEALTH_) KILN_HEALTH_COUNT };
enum kiln_lb_state { KILN_LB_STATES(KILN_ENUM_LB_) KILN_LB_STATE_COUNT };
#undef KILN_ENUM_INSTANCE_
#undef KILN_ENUM_HEALTH_
#undef KILN_ENUM_LB_

/* "running", "healthy", "in-service"...; "?" for a value out of range. */
const char *kiln_instance_state_name(enum kiln_instance_state state);
const char *kiln_health_name(enum kiln_health health);
const char *kiln_lb_state_name(enum kiln_lb_state state);

/* The reverse, exact names only; an unknown name is an error that lists them. */
int kiln_instance_state_parse(const char *s, enum kiln_instance_state *out, struct kiln_err *err);
int kiln_health_parse(const char *s, enum kiln_health *out, struct kiln_err *err);
int kiln_lb_state_parse(const char *s, enum kiln_lb_state *out, struct kiln_err *err);

struct kiln_app;
struct kiln_env;
struct kiln_group;
struct kiln_lb;
struct kiln_image;

/* In the builder's add functions, the fields marked "set by the snapshot" are
 * ignored in the template and filled in by kiln_snapshot_finish(). */

struct kiln_instance {
    const char *id;      /* i-0123abcd */
    const char *address; /* "127.0.0.1:PORT" (local) or the private IP */
    int64_t launched_us;
    int pid; /* local provider; 0 otherwise */
    enum kiln_instance_state state;
    enum kiln_health health;
    enum kiln_lb_state lb_state;
    const char *health_detail; /* what the last health check saw; may be NULL */

    const struct kiln_group *group; /* set by the snapshot */
};

struct kiln_group {
    int version; /* 0..999 */
    bool enabled;
    const char *image_id;
    const char *package; /* NVR */
    int min_size, max_size, desired;
    int64_t created_us;
    unsigned suspended;   /* suspended processes (enum kiln_process bits, group_process.h) */
    const char *previous; /* the group serving when this one was created; "" for the first */
    int64_t rejected_us;  /* when traffic was rolled back away from it; 0 = never */
    /* The provider's diagnosis of why its instances do not stay up ("its instances keep
     * exiting right after they start..."); "" when it has none. Waiting on is futile. */
    const char *failing;

    /* set by the snapshot: */
    const char *name; /* app-env-vNNN, from the env and version */
    const struct kiln_env *env;
    const struct kiln_image *image;               /* NULL when not in the snapshot */
    const struct kiln_instance *const *instances; /* sorted by id */
    size_t n_instances;
    int running, healthy, in_service; /* instances in each state */
};

struct kiln_health_check {
    const char *path; /* "/health" */
    int64_t interval_ms, timeout_ms;
    int healthy_threshold, unhealthy_threshold;
};

/* A cluster: one app in one env. */
struct kiln_env {
    const char *name; /* test */
    const char *lb_name;
    const char *lb_dns; /* hello-world.test.localhost */
    struct kiln_health_check health;
    bool chaos_enabled;
    int64_t chaos_mean_ms, chaos_min_ms;
    const char *lock; /* who holds the cluster lock ("deploy by job 12 (u@h)"); may be NULL */

    /* set by the snapshot: */
    const char *cluster; /* hello-world-test */
    const struct kiln_app *app;
    const struct kiln_lb *lb;               /* by lb_name; NULL when not in the snapshot */
    const struct kiln_group *const *groups; /* newest first (created_us, then version) */
    size_t n_groups;
};

struct kiln_app {
    const char *name;
    const struct kiln_env *const *envs; /* by name */
    size_t n_envs;
};

struct kiln_image {
    const char *id;      /* img-0123456789ab or ami-... */
    const char *package; /* the NVR baked into it */
    int64_t created_us;
};

struct kiln_package {
    const char *nvr;
    const char *file; /* where the RPM is */
    int64_t created_us;
};

struct kiln_lb {
    const char *name;
    const char *dns;
    const char *app, *env; /* what it serves */
    int port;

    const struct kiln_env *cluster; /* set by the snapshot; NULL when not in it */
};

struct kiln_snapshot {
    uint64_t generation; /* set when published: 1, 2, ...; 0 = nothing published yet */
    int64_t built_us;    /* when kiln_snapshot_new() was called */

    const struct kiln_app *const *apps; /* by name */
    size_t n_apps;
    const struct kiln_group *const *groups; /* all, by name */
    size_t n_groups;
    const struct kiln_instance *const *instances; /* all, by id */
    size_t n_instances;
    const struct kiln_image *const *images; /* newest first */
    size_t n_images;
    const struct kiln_package *const *packages; /* newest first */
    size_t n_packages;
    const struct kiln_lb *const *lbs; /* by name */
    size_t n_lbs;
};

/* ---- building (one thread) ---- */

/* A new, empty snapshot with one reference, the builder's. */
struct kiln_snapshot *kiln_snapshot_new(void);

/* Each add copies the template's strings into the snapshot; the caller keeps the
 * template. They return the new node, to pass as the parent of further adds, or
 * NULL with err for an invalid name, id or version, or after finish. Names must
 * be unique; duplicates are reported by kiln_snapshot_finish(). */
struct kiln_app *kiln_snapshot_add_app(struct kiln_snapshot *snap, const char *name,
                                       struct kiln_err *err);
struct kiln_env *kiln_snapshot_add_env(struct kiln_snapshot *snap, struct kiln_app *app,
                                       const struct kiln_env *tmpl, struct kiln_err *err);
struct kiln_group *kiln_snapshot_add_group(struct kiln_snapshot *snap, struct kiln_env *env,
                                           const struct kiln_group *tmpl, struct kiln_err *err);
struct kiln_instance *kiln_snapshot_add_instance(struct kiln_snapshot *snap,
                                                 struct kiln_group *group,
                                                 const struct kiln_instance *tmpl,
                                                 struct kiln_err *err);
struct kiln_image *kiln_snapshot_add_image(struct kiln_snapshot *snap,
                                           const struct kiln_image *tmpl, struct kiln_err *err);
struct kiln_package *kiln_snapshot_add_package(struct kiln_snapshot *snap,
                                               const struct kiln_package *tmpl,
                                               struct kiln_err *err);
struct kiln_lb *kiln_snapshot_add_lb(struct kiln_snapshot *snap, const struct kiln_lb *tmpl,
                                     struct kiln_err *err);

/* Sorts, links and counts; refuses duplicate names or ids. After it succeeds the
 * snapshot is immutable and lookups work. */
int kiln_snapshot_finish(struct kiln_snapshot *snap, struct kiln_err *err);

/* A new finished snapshot: base, with the cluster app-env (its env, groups, instances and
 * load balancer) as part has it, or without it when part does not have it; images and
 * packages from both (part's win). Neither input changes. (src/core/snapshot_splice.c) */
int kiln_snapshot_splice(const struct kiln_snapshot *base, const struct kiln_snapshot *part,
                         const char *app, const char *env, struct kiln_snapshot **out,
                         struct kiln_err *err);

/* ---- reading (any thread holding a reference) ---- */

/* Lookups by name or id (binary search); NULL when absent. */
const struct kiln_app *kiln_snapshot_find_app(const struct kiln_snapshot *snap, const char *name);
const struct kiln_env *kiln_snapshot_find_env(const struct kiln_snapshot *snap, const char *app,
                                              const char *env);
const struct kiln_group *kiln_snapshot_find_group(const struct kiln_snapshot *snap,
                                                  const char *name);
const struct kiln_instance *kiln_snapshot_find_instance(const struct kiln_snapshot *snap,
                                                        const char *id);
const struct kiln_image *kiln_snapshot_find_image(const struct kiln_snapshot *snap, const char *id);
const struct kiln_package *kiln_snapshot_find_package(const struct kiln_snapshot *snap,
                                                      const char *nvr);
const struct kiln_lb *kiln_snapshot_find_lb(const struct kiln_snapshot *snap, const char *name);

/* The version a new group in env would get (see kiln_version_next), -1 when all
 * 1000 are taken. */
int kiln_env_next_version(const struct kiln_env *env);

/* Bytes the snapshot holds (its arena and bookkeeping). */
size_t kiln_snapshot_memory(const struct kiln_snapshot *snap);

/* Takes one more reference (e.g. to hand the snapshot to another thread). */
const struct kiln_snapshot *kiln_snapshot_ref(const struct kiln_snapshot *snap);

/* Drops a reference; the last one frees the snapshot. NULL is ignored. Also how a
 * builder throws away a snapshot it will not publish. */
void kiln_snapshot_release(const struct kiln_snapshot *snap);

/* ---- the model: the current snapshot ---- */

struct kiln_model;

/* A model whose current snapshot is an empty one with generation 0, so that
 * acquire never returns NULL. */
struct kiln_model *kiln_model_new(void);

/* Drops the model's reference; readers' references stay valid. */
void kiln_model_free(struct kiln_model *model);

/* Makes snap the current snapshot (finishing it first if needed), gives it the
 * next generation and drops the model's reference on the previous one. Takes over
 * the builder's reference: if the snapshot cannot be finished it is released and
 * -1 returned, and the current snapshot stays. A snapshot is published once;
 * publishing it again is refused and releases nothing. */
int kiln_model_publish(struct kiln_model *model, struct kiln_snapshot *snap, struct kiln_err *err);

/* The current snapshot, with a reference the caller drops with
 * kiln_snapshot_release(). Never NULL. */
const struct kiln_snapshot *kiln_model_acquire(struct kiln_model *model);

/* The current generation: a cheap "has anything changed since I drew?". */
uint64_t kiln_model_generation(struct kiln_model *model);

#endif
