/* kilnd: the local cloud's state and the modules that act on it (private to src/cloud).
 *
 * One struct cloud per daemon. Everything in it below `mu` is guarded by `mu`; every
 * module takes it for short critical sections only and never holds it across I/O that
 * can take long (running nginx, rpm, cp, HTTP probes): it copies what it needs, lets
 * go, does the work, takes the lock again and applies the result if it still applies.
 *
 * Threads: the main thread accepts API connections (one thread per client), and the
 * modules each run one thread: the supervisor (instances.c: reaps children, watches
 * adopted instances), health (health.c), the reconciler (reconciler.c), the balancer
 * (balancer.c) and chaos (chaos.c). They wake each other through `changed` (a
 * broadcast condition on `mu`) and the balancer's own request counter.
 *
 * State that a deploy needs survives a SIGKILL of kilnd: every change is saved to
 * cloud.json (store.c, atomically) before the request that made it is answered.
 */
#ifndef KILN_CLOUD_CLOUD_H
#define KILN_CLOUD_CLOUD_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kiln/config.h"
#include "kiln/err.h"
#include "kiln/model.h"
#include "kiln/names.h"
#include "kiln/group_process.h"
#include "kiln/kilnd_proto.h"
#include "kiln/paths.h"

#define CLOUD_ID_MAX         32
#define CLOUD_NVR_MAX        256
#define CLOUD_DETAIL_MAX     256
#define CLOUD_START_ARGS_MAX 16

/* A cluster: app + env, its health check and its place behind the load balancer. */
struct cloud_cluster {
    char app[KILN_APP_SIZE];
    char env[KILN_ENV_SIZE];
    char name[KILN_APP_SIZE + KILN_ENV_SIZE]; /* app-env */
    int port;                                 /* the app's port in its manifest (informative) */
    char protocol[8];                         /* HTTP or HTTPS */
    char *start[CLOUD_START_ARGS_MAX + 1];    /* argv, paths inside the image; NULL-terminated */
    char health_path[256];
    int64_t health_interval_ms, health_timeout_ms;
    int healthy_threshold, unhealthy_threshold;
    int64_t health_grace_ms; /* start-up grace: failed checks replace nothing this long */
    int64_t created_us;
    /* chaos (chaos.c) */
    bool chaos_enabled;
    int64_t chaos_mean_ms, chaos_min_ms;
    int64_t chaos_last_kill_us; /* 0 = never */
    int64_t chaos_next_kill_us; /* runtime: when the next kill is due; 0 = not scheduled */
};

struct cloud_group {
    char name[KILN_GROUP_SIZE]; /* app-env-vNNN */
    char cluster[KILN_APP_SIZE + KILN_ENV_SIZE];
    int version;
    char image[CLOUD_ID_MAX];
    int min_size, max_size, desired;
    unsigned suspended; /* enum kiln_process bits; a new group has KILN_PROC_ADD_TO_LB */
    int64_t created_us;
    /* What rollback needs to pick its target: the group that served when this one was
     * created ("" for a first version), and when traffic was rolled back away from this
     * one (a rejected version; 0 = never). */
    char previous[KILN_GROUP_SIZE];
    int64_t rejected_us;
    /* runtime, not saved (reconciler.c): why its instances cannot stay up, "" when they
     * can: a crash loop with the last exit, and the last lines of that instance's
     * stderr ("\n" between lines). Cleared when one of its instances becomes healthy. */
    char failing[CLOUD_DETAIL_MAX * 2];
    char failing_stderr[CLOUD_DETAIL_MAX * 4];
    int64_t failing_since_us;
};

struct cloud_instance {
    char id[CLOUD_ID_MAX]; /* i-<16 hex> */
    char group[KILN_GROUP_SIZE];
    int port;
    pid_t pid;
    unsigned long long start_ticks; /* /proc/PID/stat starttime: tells a reused pid apart */
    enum kiln_instance_state state;
    enum kiln_health health;
    enum kiln_lb_state lb_state;
    int64_t launched_us;
    int64_t healthy_us;    /* when it first became healthy; 0 = not yet */
    int64_t terminated_us; /* 0 = not terminated */
    char cause[24];  /* why it terminated: chaos, user, scale-in, unhealthy, exited, destroy */
    int exit_status; /* for cause "exited": exit code or 128+signal; -1 unknown */
    char replaces[CLOUD_ID_MAX]; /* the instance it replaced, "" if none (for time to recover) */
    /* runtime, not saved: health bookkeeping (health.c) */
    int ok_streak, fail_streak;
    int64_t next_probe_us;
    char health_detail[CLOUD_DETAIL_MAX]; /* what the last probe saw: "HTTP 500: broken build" */
    bool adopted;                         /* not our child: watched by pid, not waitpid */
    unsigned seen; /* runtime: reconciler.c's notes (CLOUD_SEEN_*), so it reports once */
};

struct cJSON;

#define CLOUD_IMAGE_FILES  "files" /* the package's files alone (no base) */
#define CLOUD_IMAGE_ROOT   "root"  /* a whole root: the base, with the package installed */
#define CLOUD_BASE_ID_MAX  64      /* KILN_BASE_ID_MAX */
#define CLOUD_SERVICES_MAX 512

struct cloud_image {
    char id[CLOUD_ID_MAX]; /* img-<12 hex of the digest: content (files), inputs (root)> */
    char package[CLOUD_NVR_MAX];
    char app[KILN_APP_SIZE];
    int64_t created_us;
    char kind[8];                      /* CLOUD_IMAGE_FILES or CLOUD_IMAGE_ROOT */
    char base[CLOUD_BASE_ID_MAX];      /* root: the base's id (its tree is the lower layer) */
    char services[CLOUD_SERVICES_MAX]; /* root: systemd units the bake enabled, space-separated */
};

/* Whether an image is a whole root (runs chrooted) rather than the package's files. */
bool cloud_image_is_root(const struct cloud_image *im);
/* Fills kind, base and services from an image record (images/<id>.json, parsed); an old
 * record without them is a "files" image. */
void cloud_image_from_record(const struct cJSON *o, struct cloud_image *im);

struct cloud_package {
    char nvr[CLOUD_NVR_MAX]; /* hello-world-1.0.0-3.x86_64 */
    char name[KILN_APP_SIZE];
    char file[CLOUD_NVR_MAX + 8]; /* file name inside packages/ */
    int64_t created_us;
};

struct cloud_lock {
    char cluster[KILN_APP_SIZE + KILN_ENV_SIZE];
    char user[320];
    char host[256];
    pid_t pid;
    unsigned long long pid_start_ticks; /* a lock whose owner process is gone is stale */
    uint64_t job;
    char what[32]; /* deploy, rollback, ... */
    int64_t since_us;
};

/* Growable arrays of pointers, so an element's address is stable while others come
 * and go. */
#define CLOUD_ARRAY(type)                                                                          \
    struct {                                                                                       \
        type **v;                                                                                  \
        size_t n, cap;                                                                             \
    }

struct cloud_events;   /* events.c */
struct cloud_balancer; /* balancer.c */
struct cloud_health;   /* health.c */
struct cloud_supervisor;
struct cloud_reconciler;
struct cloud_chaos;

struct cloud {
    struct kiln_paths paths;
    struct kiln_config config;
    char nginx_bin[256]; /* resolved at start; "" when nginx is missing */
    int64_t started_us;

    pthread_mutex_t mu;
    pthread_cond_t changed; /* broadcast after any change a thread may wait for */
    CLOUD_ARRAY(struct cloud_cluster) clusters;
    CLOUD_ARRAY(struct cloud_group) groups;
    CLOUD_ARRAY(struct cloud_instance) instances; /* terminated ones stay a while, for events */
    CLOUD_ARRAY(struct cloud_image) images;
    CLOUD_ARRAY(struct cloud_package) packages;
    CLOUD_ARRAY(struct cloud_lock) locks;
    bool stopping;
    bool dirty; /* state changed since the last save */

    /* balancer (balancer.c), under mu */
    uint64_t lb_wanted;              /* bumped when the routing may have changed */
    uint64_t lb_applied;             /* the last request number whose config is confirmed live */
    char lb_error[KILN_ERR_MSG_MAX]; /* the last failure, "" if the last run worked */
    uint64_t lb_failed; /* the last request number whose run failed (lb_error says why) */
    struct cloud_balancer *balancer; /* balancer.c's private state; NULL when not started */
    struct cloud_health *health;     /* health.c's private state; NULL when not started */

    struct cloud_events *events;
    struct cloud_supervisor *supervisor; /* instances.c, under mu */
    struct cloud_reconciler *reconciler; /* reconciler.c, under mu */
    struct cloud_chaos *chaos;           /* chaos.c, under mu */
};

/* ---- cloud.c: the state and lookups (caller holds mu) ---- */
int cloud_init(struct cloud *c, const struct kiln_paths *paths, const struct kiln_config *cfg,
               struct kiln_err *err);
void cloud_free(struct cloud *c);
struct cloud_cluster *cloud_find_cluster(struct cloud *c, const char *app, const char *env);
struct cloud_cluster *cloud_find_cluster_named(struct cloud *c, const char *cluster);
struct cloud_group *cloud_find_group(struct cloud *c, const char *name);
struct cloud_instance *cloud_find_instance(struct cloud *c, const char *id);
struct cloud_image *cloud_find_image(struct cloud *c, const char *id);
struct cloud_image *cloud_find_image_by_package(struct cloud *c, const char *nvr);
struct cloud_package *cloud_find_package(struct cloud *c, const char *nvr);
struct cloud_cluster *cloud_group_cluster(struct cloud *c, const struct cloud_group *g);
/* Instances of group `name` that are not terminated, into out (up to max); returns count. */
size_t cloud_group_live_instances(struct cloud *c, const char *name, struct cloud_instance **out,
                                  size_t max);
bool cloud_group_enabled(const struct cloud_group *g);
/* How much of its start-up grace period (its cluster's health_grace_ms from launch) a
 * live instance has left at now_us, in µs; 0 when it is past it, or not live. */
int64_t cloud_instance_grace_left_us(struct cloud *c, const struct cloud_instance *x,
                                     int64_t now_us);
/* Adds an element (the array takes ownership of the pointer) / removes and frees one. */
void cloud_add_cluster(struct cloud *c, struct cloud_cluster *x);
void cloud_add_group(struct cloud *c, struct cloud_group *x);
void cloud_add_instance(struct cloud *c, struct cloud_instance *x);
void cloud_add_image(struct cloud *c, struct cloud_image *x);
void cloud_add_package(struct cloud *c, struct cloud_package *x);
void cloud_remove_cluster(struct cloud *c, struct cloud_cluster *x);
void cloud_remove_group(struct cloud *c, struct cloud_group *x);
void cloud_remove_instance(struct cloud *c, struct cloud_instance *x);
/* Forgets terminated instances older than the retention (kept for the Events view). */
void cloud_prune_terminated(struct cloud *c, int64_t now_us);
/* A fresh random id with prefix ("i-" + 16 hex). */
void cloud_new_instance_id(char out[CLOUD_ID_MAX]);
/* Marks the state changed and wakes every thread waiting on `changed`. */
void cloud_changed(struct cloud *c);

/* ---- kilnd.c ---- */
/* Called by the `stop` operation (after setting c->stopping): wakes kilnd's main loop,
 * which stops the threads and exits; with `all`, nginx is shut down too. */
void cloud_stop_requested(struct cloud *c, bool all);

/* ---- store.c: cloud.json (caller holds mu) ---- */
/* Loads the saved state; a missing file is an empty cloud. A damaged file is an error
 * naming the file and what is wrong, and nothing is changed. */
int cloud_store_load(struct cloud *c, struct kiln_err *err);
/* The same from another file (cloud.json.prev, for recovery). */
int cloud_store_load_file(struct cloud *c, const char *file, struct kiln_err *err);
/* Saves atomically if dirty. */
int cloud_store_save(struct cloud *c, struct kiln_err *err);
/* The whole inventory as the API's `state` result (caller frees with cJSON_Delete). */
struct cJSON *cloud_store_to_json(struct cloud *c, bool runtime);
/* One group as it is in cloud.json and in the `state` result; the group-create,
 * group-resize, group-suspend and group-resume replies carry the same object. */
struct cJSON *cloud_group_to_json(const struct cloud_group *g);

/* ---- recover.c: a lost or damaged cloud.json (caller holds mu; before the threads) ---- */
/* -1 with a sentence naming what the state dir holds, and `kiln cloud recover`, when
 * cloud.json is missing but instances, packages or images are there. */
int cloud_recover_check(struct cloud *c, struct kiln_err *err);
/* Moves a damaged cloud.json aside and loads cloud.json.prev, or else rebuilds the
 * packages and images from disk; `how` says which, for the log and the user. */
int cloud_recover(struct cloud *c, char *how, size_t how_size, struct kiln_err *err);

/* ---- events.c: the event feed ---- */
struct cloud_event {
    const char *type;     /* launch, terminate, health, lb, enable, disable, recovered, error */
    const char *cluster;  /* may be NULL */
    const char *group;    /* may be NULL */
    const char *instance; /* may be NULL */
    const char *cause;    /* may be NULL */
    const char *message;  /* a sentence for humans */
    const char *replaces; /* for "recovered": the instance the new one replaced */
    int64_t recovery_ms;  /* for "recovered"; -1 otherwise */
};
int cloud_events_open(struct cloud *c, struct kiln_err *err);
void cloud_events_close(struct cloud *c);
/* Records an event: in the ring subscribers read, and appended to events.log. Safe
 * with or without mu held. Returns its sequence number. */
uint64_t cloud_event(struct cloud *c, const struct cloud_event *e);
/* cloud_event for the common case: a formatted message (cut at 1 KiB), no recovery
 * time, no replaced instance. cluster, group, instance and cause may be NULL. */
void cloud_emit(struct cloud *c, const char *type, const char *cluster, const char *group,
                const char *instance, const char *cause, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
void cloud_emitv(struct cloud *c, const char *type, const char *cluster, const char *group,
                 const char *instance, const char *cause, const char *fmt, va_list ap)
    __attribute__((format(printf, 7, 0)));
/* Waits until an event after `seq` exists (or timeout_ms passes, or stopping), then
 * copies events after `seq` as JSON lines into *out (malloc'd, caller frees) and
 * returns the last seq copied (== seq when none). */
uint64_t cloud_events_wait(struct cloud *c, uint64_t seq, int timeout_ms, char **out);
uint64_t cloud_events_last(struct cloud *c);
/* Wakes every subscriber waiting in cloud_events_wait, for good (kilnd is stopping). */
void cloud_events_wake_all(struct cloud *c);

/* ---- instances.c: real processes (the supervisor thread) ---- */
int cloud_instances_start(struct cloud *c, struct kiln_err *err); /* starts the thread */
/* Joins it; once c->stopping is set, the thread first sees instances being terminated
 * to their end (at most ~4 s). Safe without a start (frees what adopt set up). */
void cloud_instances_stop(struct cloud *c);
/* Launches one instance of group g (caller holds mu; it is released while the image
 * root is copied and the process started, and taken again). On success the instance
 * is in the state as RUNNING, health UNKNOWN, lb OUT_OF_SERVICE, and an event says so. */
int cloud_instance_launch(struct cloud *c, struct cloud_group *g, const char *replaces,
                          struct cloud_instance **out, struct kiln_err *err);
/* Terminates: cause "chaos" is SIGKILL to its process group and TERMINATED at once;
 * any other cause is SIGTERM to the group and TERMINATING until the process is gone
 * (the supervisor sends SIGKILL after 3 s and then marks it TERMINATED); nothing here
 * waits. The supervisor removes the writable root once the process is gone; the logs
 * stay until the instance is pruned. A no-op (0) on a TERMINATING or TERMINATED one.
 * Caller holds mu. */
int cloud_instance_terminate(struct cloud *c, struct cloud_instance *inst, const char *cause,
                             struct kiln_err *err);
/* At start: instances saved as running whose pid still runs with the same start time
 * are adopted; the others are marked terminated (cause "exited"). Caller holds mu. */
void cloud_instances_adopt(struct cloud *c);

/* ---- health.c: HTTP probes (the health thread) ---- */
int cloud_health_start(struct cloud *c, struct kiln_err *err);
void cloud_health_stop(struct cloud *c);

/* ---- reconciler.c: desired capacity, replacements (the reconciler thread) ---- */
int cloud_reconciler_start(struct cloud *c, struct kiln_err *err);
void cloud_reconciler_stop(struct cloud *c);

/* ---- balancer.c: nginx (the balancer thread) ---- */
int cloud_balancer_start(struct cloud *c, struct kiln_err *err);
void cloud_balancer_stop(struct cloud *c);
/* Asks for the routing to be brought up to date and returns the request's number
 * (caller holds mu). */
uint64_t cloud_balancer_request(struct cloud *c);
/* Waits (mu held; released while waiting) until request `n` is live or failed, up to
 * timeout_ms. 0 when live; -1 with nginx's message when it failed or timed out. */
int cloud_balancer_wait(struct cloud *c, uint64_t n, int timeout_ms, struct kiln_err *err);
/* Stops kilnd's nginx (graceful, then forced) for `kiln cloud stop --all`; stops the
 * balancer thread first if it runs. Finds nginx from its pid files, so it also works
 * when the balancer was never started. Caller holds no lock. 0 when no nginx is left. */
int cloud_balancer_shutdown_nginx(struct cloud *c, struct kiln_err *err);

/* ---- chaos.c: the monkey (the chaos thread) ---- */
int cloud_chaos_start(struct cloud *c, struct kiln_err *err);
void cloud_chaos_stop(struct cloud *c);

/* ---- images.c and packages.c: bake and the package repo ---- */
/* Copies an RPM into packages/, updates the repo metadata; fills *out (caller holds no
 * lock; takes mu to record it). */
int cloud_package_add(struct cloud *c, const char *rpm_path, struct cloud_package *out,
                      struct kiln_err *err);
/* Bakes package `nvr` into an image (or finds the one already baked); log lines go to
 * on_line (may be NULL). app NULL or "": the package's name. Caller holds no lock. */
int cloud_bake(struct cloud *c, const char *nvr, const char *app, char image_out[CLOUD_ID_MAX],
               bool *cached, void (*on_line)(void *ctx, const char *line), void *ctx,
               struct kiln_err *err);
/* At start, before the API serves (no add or bake can be running): removes what a
 * killed kilnd left half done: temporary bake roots in images/, temporary copies and
 * createrepo_c's .repodata/ in packages/. */
int cloud_images_cleanup(struct cloud *c, struct kiln_err *err);
int cloud_packages_cleanup(struct cloud *c, struct kiln_err *err);

#endif
