/* kiln: where deployments go. One interface, two implementations: local (a client of
 * kilnd, the local cloud) and aws (EC2, Auto Scaling, ELB, Route 53). The pipeline,
 * the CLI and the console only ever talk to a struct kiln_provider.
 *
 * Every call may block on the network or the daemon: call them from worker threads
 * or the refresher, never from the console's UI thread. A provider is used by one
 * thread at a time; threads that work in parallel open one each (kiln_provider_open). */
#ifndef KILN_PROVIDER_H
#define KILN_PROVIDER_H

#include <stdbool.h>
#include <stdint.h>

#include "kiln/err.h"
#include "kiln/group_process.h"
#include "kiln/model.h"

struct kiln_ctx;
struct cJSON;
struct kiln_provider;

/* A line of output of a long operation (bake), for the job's log. */
typedef void (*kiln_line_fn)(void *ctx, const char *line);

struct kiln_app_spec {
    const char *app, *env;
    int port;
    const char *protocol;     /* "HTTP" or "HTTPS" */
    const char *health_path;  /* "/health_check" */
    const char *const *start; /* the app's command inside the image (NULL-terminated) */
    bool health_grace_set;    /* false: the provider's default ([local] health_check_grace) */
    int64_t health_grace_ms;  /* start-up grace: failed checks replace nothing this long */
};

struct kiln_group_spec {
    const char *name; /* app-env-vNNN */
    const char *image;
    const char *package; /* NVR, recorded with the group (AWS: a tag) */
    const char *instance_type;
    int min_size, max_size, desired;
    const char *previous; /* the group serving now, NULL for a first version (recorded) */
};

struct kiln_lock_owner {
    const char *user; /* "$USER@host" */
    const char *host;
    int pid;
    uint64_t job;
    const char *what; /* "deploy", "rollback", ... */
};

struct kiln_chaos_spec {
    int enable;              /* 1 on, 0 off, -1 unchanged */
    int64_t mean_ms, min_ms; /* 0 = unchanged */
};

/* One event of the cloud: a launch, a termination (with its cause), a health flip, a
 * load balancer change... as kilnd's events (doc/kilnd-api.md). */
struct kiln_event {
    uint64_t seq;
    int64_t time_us;
    char type[24];
    char cluster[80], group[80], instance[40], cause[24];
    char replaces[40]; /* for "recovered": the instance this one replaced */
    char message[512];
    int64_t recovery_ms; /* for "recovered"; -1 otherwise */
};

struct kiln_provider_ops {
    const char *name; /* "local", "aws" */
    /* The whole inventory as a finished snapshot (caller releases it). */
    int (*inventory)(struct kiln_provider *p, struct kiln_snapshot **out, struct kiln_err *err);
    /* Optional (NULL: use inventory): one cluster's part of it, cheaper than the whole
     * on a large account. The snapshot holds that cluster (absent when it does not
     * exist), and the images and packages; kiln_snapshot_splice puts it into a whole
     * one. */
    int (*inventory_cluster)(struct kiln_provider *p, const char *app, const char *env,
                             struct kiln_snapshot **out, struct kiln_err *err);
    int (*create_app)(struct kiln_provider *p, const struct kiln_app_spec *spec,
                      struct kiln_err *err);
    int (*delete_app)(struct kiln_provider *p, const char *app, const char *env, bool force,
                      struct kiln_err *err);
    /* Puts a built RPM into the provider's package repo; fills the NVR. */
    int (*package_push)(struct kiln_provider *p, const char *rpm_path, char *nvr, size_t n,
                        struct kiln_err *err);
    /* Bakes package `nvr` into an image (or finds the one baked before: *cached). */
    int (*bake)(struct kiln_provider *p, const char *nvr, const char *app, kiln_line_fn on_line,
                void *line_ctx, char *image, size_t n, bool *cached, struct kiln_err *err);
    /* Creates a group, disabled (AddToLoadBalancer suspended), launching its instances. */
    int (*group_create)(struct kiln_provider *p, const struct kiln_group_spec *spec,
                        struct kiln_err *err);
    int (*group_resize)(struct kiln_provider *p, const char *name, int min, int max, int desired,
                        struct kiln_err *err);
    /* Attach to the load balancer / detach; return once the change serves traffic. */
    int (*group_enable)(struct kiln_provider *p, const char *name, struct kiln_err *err);
    int (*group_disable)(struct kiln_provider *p, const char *name, struct kiln_err *err);
    int (*group_destroy)(struct kiln_provider *p, const char *name, struct kiln_err *err);
    int (*group_suspend)(struct kiln_provider *p, const char *name, unsigned processes,
                         bool suspend, struct kiln_err *err);
    /* Marks a group rejected (traffic was rolled back away from it) or clears the mark;
     * recorded with the group (AWS: a tag), so every console sees it. */
    int (*group_mark_rejected)(struct kiln_provider *p, const char *name, bool rejected,
                               struct kiln_err *err);
    int (*instance_terminate)(struct kiln_provider *p, const char *id, bool decrement,
                              struct kiln_err *err);
    /* The cluster lock: one mutating job per cluster, across consoles and machines.
     * KILN_E_BUSY with the holder in the message when someone else holds it. */
    int (*lock)(struct kiln_provider *p, const char *cluster, const struct kiln_lock_owner *o,
                struct kiln_err *err);
    int (*unlock)(struct kiln_provider *p, const char *cluster, const struct kiln_lock_owner *o,
                  struct kiln_err *err);
    int (*chaos)(struct kiln_provider *p, const char *app, const char *env,
                 const struct kiln_chaos_spec *spec, struct kiln_err *err);
    /* Events after `since` (0: only new ones): waits up to timeout_ms for the next one.
     * 1 = *out filled, 0 = timeout, -1 = error. The first call starts the stream. */
    int (*next_event)(struct kiln_provider *p, uint64_t since, int timeout_ms,
                      struct kiln_event *out, struct kiln_err *err);
    void (*close)(struct kiln_provider *p);
};

struct kiln_provider {
    const struct kiln_provider_ops *ops;
    void *impl;
};

/* Opens the provider the context names (--provider, else the config). Local starts
 * kilnd when needed. Free with kiln_provider_close. */
struct kiln_provider *kiln_provider_open(struct kiln_ctx *ctx, struct kiln_err *err);
void kiln_provider_close(struct kiln_provider *p);

#endif
