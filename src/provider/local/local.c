/* kiln: the local provider, a client of kilnd (the local cloud). Each operation is one
 * request on kilnd's socket; the inventory is kilnd's `state` turned into a snapshot. */
#include "provider/local/local.h"

#include "kiln/context.h"
#include "kiln/json.h"
#include "kiln/kilnd_client.h"
#include "kiln/names.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct local {
    struct kiln_paths paths; /* borrowed from the context */
    char *config;
    struct kiln_kilnd *k;      /* requests */
    struct kiln_kilnd *events; /* the event stream, opened on first use */
    uint64_t events_since;
};

static struct local *impl(struct kiln_provider *p)
{
    return p->impl;
}

static int call(struct kiln_provider *p, const char *op, cJSON *args, cJSON **res,
                struct kiln_err *err)
{
    return kiln_kilnd_call(impl(p)->k, op, args, res, err);
}

/* ---- inventory ---- */

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double jnum(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* Numbers as the field's type. A value out of the type's range reads as 0: kilnd never
 * sends one, and converting it would be undefined behaviour. */
static int64_t ji64(const cJSON *o, const char *key)
{
    double d = jnum(o, key);
    return kiln_i64_or(d, 0);
}

static uint64_t ju64(const cJSON *o, const char *key)
{
    double d = jnum(o, key);
    return kiln_fits_u64(d) ? (uint64_t)d : 0;
}

static int jint(const cJSON *o, const char *key)
{
    double d = jnum(o, key);
    return d > INT_MIN - 1.0 && d < INT_MAX + 1.0 ? (int)d : 0;
}

static struct kiln_app *find_or_add_app(struct kiln_snapshot *snap, struct kiln_app ***apps,
                                        size_t *n, const char *name, struct kiln_err *err)
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

static const char *lock_text(const cJSON *locks, const char *cluster, char *buf, size_t n)
{
    const cJSON *l;
    cJSON_ArrayForEach(l, locks)
    {
        if (strcmp(jstr(l, "cluster"), cluster) != 0)
            continue;
        snprintf(buf, n, "%s by job %.0f (%s)", jstr(l, "what"), jnum(l, "job"), jstr(l, "user"));
        return buf;
    }
    return NULL;
}

/* Adds apps, envs and load balancers; envs[i] / names[i] receive the i-th cluster's
 * env and name, for add_groups. */
static int add_clusters(struct kiln_snapshot *snap, const cJSON *state, struct kiln_env **envs,
                        const char **names, struct kiln_err *err)
{
    size_t k = 0;
    struct kiln_app **apps = NULL;
    size_t n_apps = 0;
    const cJSON *locks = cJSON_GetObjectItemCaseSensitive(state, "locks");
    const cJSON *c;
    int rc = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(state, "clusters"))
    {
        struct kiln_app *app = find_or_add_app(snap, &apps, &n_apps, jstr(c, "app"), err);
        if (app == NULL) {
            rc = -1;
            break;
        }
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(c, "health");
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(c, "chaos");
        char dns[256], lock[512];
        snprintf(dns, sizeof dns, "%s:%.0f", jstr(c, "lb_dns"), jnum(c, "lb_port"));
        struct kiln_env tmpl = {
            .name = jstr(c, "env"),
            .lb_name = jstr(c, "name"),
            .lb_dns = dns,
            .health = {.path = jstr(h, "path"),
                       .interval_ms = ji64(h, "interval_ms"),
                       .timeout_ms = ji64(h, "timeout_ms"),
                       .healthy_threshold = jint(h, "healthy"),
                       .unhealthy_threshold = jint(h, "unhealthy")},
            .chaos_enabled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ch, "enabled")),
            .chaos_mean_ms = ji64(ch, "mean_ms"),
            .chaos_min_ms = ji64(ch, "min_ms"),
            .lock = lock_text(locks, jstr(c, "name"), lock, sizeof lock),
        };
        struct kiln_lb lb = {.name = jstr(c, "name"),
                             .dns = dns,
                             .app = jstr(c, "app"),
                             .env = jstr(c, "env"),
                             .port = jint(c, "lb_port")};
        names[k] = jstr(c, "name");
        envs[k] = kiln_snapshot_add_env(snap, app, &tmpl, err);
        if (envs[k++] == NULL || kiln_snapshot_add_lb(snap, &lb, err) == NULL) {
            rc = -1;
            break;
        }
    }
    free(apps);
    return rc;
}

static const char *image_package(const cJSON *state, const char *image)
{
    const cJSON *i;
    cJSON_ArrayForEach(i, cJSON_GetObjectItemCaseSensitive(state, "images"))
        if (strcmp(jstr(i, "id"), image) == 0)
            return jstr(i, "package");
    return "";
}

static unsigned suspended_bits(const cJSON *g)
{
    unsigned bits = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(g, "suspended"))
    {
        enum kiln_process p;
        if (cJSON_IsString(s) && kiln_process_parse(s->valuestring, &p, NULL) == 0)
            bits |= p;
    }
    return bits;
}

static int add_groups(struct kiln_snapshot *snap, const cJSON *state, struct kiln_env **envs,
                      const char **names, size_t n_envs, struct kiln_err *err)
{
    const cJSON *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(state, "groups"))
    {
        struct kiln_env *env = NULL;
        for (size_t i = 0; i < n_envs; i++)
            if (strcmp(names[i], jstr(g, "cluster")) == 0)
                env = envs[i];
        if (env == NULL)
            continue; /* a group whose app was deleted under it: not shown */
        struct kiln_group tmpl = {
            .version = jint(g, "version"),
            .enabled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "enabled")),
            .image_id = jstr(g, "image"),
            .package = image_package(state, jstr(g, "image")),
            .min_size = jint(g, "min"),
            .max_size = jint(g, "max"),
            .desired = jint(g, "desired"),
            .created_us = ji64(g, "created_us"),
            .suspended = suspended_bits(g),
            .previous = jstr(g, "previous"),
            .rejected_us = ji64(g, "rejected_us"),
            .failing = jstr(cJSON_GetObjectItemCaseSensitive(g, "failing"), "reason"),
        };
        struct kiln_group *grp = kiln_snapshot_add_group(snap, env, &tmpl, err);
        if (grp == NULL)
            return -1;
        const cJSON *x;
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(state, "instances"))
        {
            if (strcmp(jstr(x, "group"), grp->name) != 0 ||
                strcmp(jstr(x, "state"), "terminated") == 0)
                continue;
            struct kiln_instance it = {.id = jstr(x, "id"),
                                       .address = jstr(x, "address"),
                                       .launched_us = ji64(x, "launched_us"),
                                       .pid = jint(x, "pid"),
                                       .health_detail = jstr(x, "health_detail")};
            if (kiln_instance_state_parse(jstr(x, "state"), &it.state, err) < 0 ||
                kiln_health_parse(jstr(x, "health"), &it.health, err) < 0 ||
                kiln_lb_state_parse(jstr(x, "lb_state"), &it.lb_state, err) < 0 ||
                kiln_snapshot_add_instance(snap, grp, &it, err) == NULL)
                return -1;
        }
    }
    return 0;
}

int kiln_local_snapshot_from_state(const cJSON *state, struct kiln_snapshot **out,
                                   struct kiln_err *err)
{
    struct kiln_snapshot *snap = kiln_snapshot_new();
    size_t n = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(state, "clusters"));
    struct kiln_env **envs = xcalloc(n + 1, sizeof *envs);
    const char **names = xcalloc(n + 1, sizeof *names);
    int rc = add_clusters(snap, state, envs, names, err);
    if (rc == 0)
        rc = add_groups(snap, state, envs, names, n, err);
    free(envs);
    free(names);
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(state, "images"))
    {
        struct kiln_image im = {.id = jstr(x, "id"),
                                .package = jstr(x, "package"),
                                .created_us = ji64(x, "created_us")};
        if (rc == 0 && kiln_snapshot_add_image(snap, &im, err) == NULL)
            rc = -1;
    }
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(state, "packages"))
    {
        struct kiln_package pk = {
            .nvr = jstr(x, "nvr"), .file = jstr(x, "file"), .created_us = ji64(x, "created_us")};
        if (rc == 0 && kiln_snapshot_add_package(snap, &pk, err) == NULL)
            rc = -1;
    }
    if (rc == 0)
        rc = kiln_snapshot_finish(snap, err);
    if (rc < 0) {
        kiln_err_prefix(err, "the local cloud's inventory cannot be read");
        kiln_snapshot_release(snap);
        return -1;
    }
    *out = snap;
    return 0;
}

static int local_inventory(struct kiln_provider *p, struct kiln_snapshot **out,
                           struct kiln_err *err)
{
    cJSON *state = NULL;
    if (call(p, KILND_OP_STATE, NULL, &state, err) < 0)
        return -1;
    int rc = kiln_local_snapshot_from_state(state, out, err);
    cJSON_Delete(state);
    return rc;
}

/* ---- operations ---- */

static int local_create_app(struct kiln_provider *p, const struct kiln_app_spec *s,
                            struct kiln_err *err)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "app", s->app);
    cJSON_AddStringToObject(a, "env", s->env);
    cJSON_AddNumberToObject(a, "port", s->port);
    cJSON_AddStringToObject(a, "protocol", s->protocol ? s->protocol : "HTTP");
    cJSON *start = cJSON_AddArrayToObject(a, "start");
    for (int i = 0; s->start != NULL && s->start[i] != NULL; i++)
        cJSON_AddItemToArray(start, cJSON_CreateString(s->start[i]));
    cJSON *h = cJSON_AddObjectToObject(a, "health");
    cJSON_AddStringToObject(h, "path", s->health_path);
    if (s->health_grace_set)
        cJSON_AddNumberToObject(h, "grace_ms", (double)s->health_grace_ms);
    return call(p, KILND_OP_CREATE_APP, a, NULL, err);
}

static int local_delete_app(struct kiln_provider *p, const char *app, const char *env, bool force,
                            struct kiln_err *err)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "app", app);
    cJSON_AddStringToObject(a, "env", env);
    cJSON_AddBoolToObject(a, "force", force);
    return call(p, KILND_OP_DELETE_APP, a, NULL, err);
}

static int local_package_push(struct kiln_provider *p, const char *rpm_path, char *nvr, size_t n,
                              struct kiln_err *err)
{
    cJSON *a = cJSON_CreateObject();
    char abs[4096];
    if (rpm_path[0] != '/' && realpath(rpm_path, abs) != NULL)
        rpm_path = abs;
    cJSON_AddStringToObject(a, "path", rpm_path);
    cJSON *res = NULL;
    if (call(p, KILND_OP_PACKAGE_ADD, a, &res, err) < 0) {
        cJSON_Delete(res);
        return -1;
    }
    snprintf(nvr, n, "%s", jstr(res, "nvr"));
    cJSON_Delete(res);
    return 0;
}

static int local_bake(struct kiln_provider *p, const char *nvr, const char *app,
                      kiln_line_fn on_line, void *line_ctx, char *image, size_t n, bool *cached,
                      struct kiln_err *err)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "package", nvr);
    if (app != NULL)
        cJSON_AddStringToObject(a, "app", app);
    cJSON *res = NULL;
    int rc = call(p, KILND_OP_BAKE, a, &res, err);
    /* kilnd returns the bake's output with the result (or the error's detail). */
    const cJSON *line;
    cJSON_ArrayForEach(line, cJSON_GetObjectItemCaseSensitive(
                                 res, "log")) if (cJSON_IsString(line) && on_line != NULL)
        on_line(line_ctx, line->valuestring);
    if (rc == 0) {
        snprintf(image, n, "%s", jstr(res, "image"));
        *cached = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "cached"));
    }
    cJSON_Delete(res);
    return rc;
}

static int local_group_create(struct kiln_provider *p, const struct kiln_group_spec *s,
                              struct kiln_err *err)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "name", s->name);
    cJSON_AddStringToObject(a, "image", s->image);
    cJSON_AddNumberToObject(a, "min", s->min_size);
    cJSON_AddNumberToObject(a, "max", s->max_size);
    cJSON_AddNumberToObject(a, "desired", s->desired);
    if (s->previous != NULL && s->previous[0])
        cJSON_AddStringToObject(a, "previous", s->previous);
    return call(p, KILND_OP_GROUP_CREATE, a, NULL, err);
}

static int local_group_resize(struct kiln_provider *p, const char *name, int min, int max,
                              int desired, struct kiln_err *err)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "name", name);
    cJSON_AddNumberToObject(a, "min", min);
    cJSON_AddNumberToObject(a, "max", max);
    cJSON_AddNumberToObject(a, "desired", desired);
    return call(p, KILND_OP_GROUP_RESIZE, a, NULL, err);
}

static int group_op(struct kiln_provider *p, const char *op, const char *name, struct kiln_err *err)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "name", name);
    return call(p, op, a, NULL, err);
}

static int local_group_enable(struct kiln_provider *p, const char *name, struct kiln_err *err)
{
    return group_op(p, KILND_OP_GROUP_ENABLE, name, err);
}

static int local_group_disable(struct kiln_provider *p, const char *name, struct kiln_err *err)
{
    return group_op(p, KILND_OP_GROUP_DISABLE, name, err);
}

static int local_group_destroy(struct kiln_provider *p, const char *name, struct kiln_err *err)
{
    return group_op(p, KILND_OP_GROUP_DESTROY, name, err);
}

static int local_group_suspend(struct kiln_provider *p, const char *name, unsigned processes,
                               bool suspend, struct kiln_err *err)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "name", name);
    cJSON *procs = cJSON_AddArrayToObject(a, "processes");
    for (unsigned bit = 1; bit <= KILN_PROC_ADD_TO_LB; bit <<= 1)
        if (processes & bit)
            cJSON_AddItemToArray(procs, cJSON_CreateString(kiln_process_name(bit)));
    return call(p, suspend ? KILND_OP_GROUP_SUSPEND : KILND_OP_GROUP_RESUME, a, NULL, err);
}

static int local_group_mark_rejected(struct kiln_provider *p, const char *name, bool rejected,
                                     struct kiln_err *err)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "name", name);
    cJSON_AddBoolToObject(a, "rejected", rejected);
    return call(p, KILND_OP_GROUP_MARK, a, NULL, err);
}

static int local_instance_terminate(struct kiln_provider *p, const char *id, bool decrement,
                                    struct kiln_err *err)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "id", id);
    cJSON_AddBoolToObject(a, "decrement", decrement);
    return call(p, KILND_OP_INSTANCE_TERMINATE, a, NULL, err);
}

static cJSON *owner_json(const struct kiln_lock_owner *o)
{
    cJSON *w = cJSON_CreateObject();
    cJSON_AddStringToObject(w, "user", o->user);
    cJSON_AddStringToObject(w, "host", o->host);
    cJSON_AddNumberToObject(w, "pid", o->pid);
    cJSON_AddNumberToObject(w, "job", (double)o->job);
    cJSON_AddStringToObject(w, "what", o->what);
    return w;
}

static int local_lock(struct kiln_provider *p, const char *cluster, const struct kiln_lock_owner *o,
                      struct kiln_err *err)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "cluster", cluster);
    cJSON_AddItemToObject(a, "owner", owner_json(o));
    cJSON *res = NULL;
    int rc = call(p, KILND_OP_LOCK, a, &res, err);
    cJSON_Delete(res);
    return rc;
}

static int local_unlock(struct kiln_provider *p, const char *cluster,
                        const struct kiln_lock_owner *o, struct kiln_err *err)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "cluster", cluster);
    cJSON_AddItemToObject(a, "owner", owner_json(o));
    return call(p, KILND_OP_UNLOCK, a, NULL, err);
}

static int local_chaos(struct kiln_provider *p, const char *app, const char *env,
                       const struct kiln_chaos_spec *s, struct kiln_err *err)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "app", app);
    cJSON_AddStringToObject(a, "env", env);
    if (s->enable >= 0)
        cJSON_AddBoolToObject(a, "enable", s->enable == 1);
    if (s->mean_ms > 0)
        cJSON_AddNumberToObject(a, "mean_ms", (double)s->mean_ms);
    if (s->min_ms > 0)
        cJSON_AddNumberToObject(a, "min_ms", (double)s->min_ms);
    return call(p, KILND_OP_CHAOS, a, NULL, err);
}

static void copy_field(char *dst, size_t n, const cJSON *o, const char *key)
{
    snprintf(dst, n, "%s", jstr(o, key));
}

int kiln_local_event_from_json(const cJSON *e, struct kiln_event *out)
{
    memset(out, 0, sizeof *out);
    out->seq = ju64(e, "seq");
    out->time_us = ji64(e, "time_us");
    copy_field(out->type, sizeof out->type, e, "type");
    copy_field(out->cluster, sizeof out->cluster, e, "cluster");
    copy_field(out->group, sizeof out->group, e, "group");
    copy_field(out->instance, sizeof out->instance, e, "instance");
    copy_field(out->cause, sizeof out->cause, e, "cause");
    copy_field(out->message, sizeof out->message, e, "message");
    copy_field(out->replaces, sizeof out->replaces, e, "replaces");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "recovery_ms");
    out->recovery_ms = cJSON_IsNumber(r) ? ji64(e, "recovery_ms") : -1;
    return out->seq > 0 ? 0 : -1;
}

static int local_next_event(struct kiln_provider *p, uint64_t since, int timeout_ms,
                            struct kiln_event *out, struct kiln_err *err)
{
    struct local *l = impl(p);
    if (l->events == NULL) {
        l->events = kiln_kilnd_connect(&l->paths, l->config, false, err);
        if (l->events == NULL)
            return -1;
        if (kiln_kilnd_subscribe(l->events, since, err) < 0) {
            kiln_kilnd_close(l->events);
            l->events = NULL;
            return -1;
        }
    }
    cJSON *e = NULL;
    int rc = kiln_kilnd_next_event(l->events, timeout_ms, &e, err);
    if (rc < 0) {
        kiln_kilnd_close(l->events);
        l->events = NULL;
        return -1;
    }
    if (rc == 0)
        return 0;
    kiln_local_event_from_json(e, out);
    cJSON_Delete(e);
    return 1;
}

static void local_close(struct kiln_provider *p)
{
    struct local *l = impl(p);
    kiln_kilnd_close(l->k);
    kiln_kilnd_close(l->events);
    free(l->config);
    free(l);
    free(p);
}

static const struct kiln_provider_ops local_ops = {
    .name = "local",
    .inventory = local_inventory,
    .create_app = local_create_app,
    .delete_app = local_delete_app,
    .package_push = local_package_push,
    .bake = local_bake,
    .group_create = local_group_create,
    .group_mark_rejected = local_group_mark_rejected,
    .group_resize = local_group_resize,
    .group_enable = local_group_enable,
    .group_disable = local_group_disable,
    .group_destroy = local_group_destroy,
    .group_suspend = local_group_suspend,
    .instance_terminate = local_instance_terminate,
    .lock = local_lock,
    .unlock = local_unlock,
    .chaos = local_chaos,
    .next_event = local_next_event,
    .close = local_close,
};

struct kiln_provider *kiln_local_open(const struct kiln_paths *paths, const char *config,
                                      struct kiln_err *err)
{
    struct kiln_kilnd *k = kiln_kilnd_connect(paths, config, true, err);
    if (k == NULL)
        return NULL;
    struct local *l = xcalloc(1, sizeof *l);
    l->paths = *paths;
    l->config = config ? xstrdup(config) : NULL;
    l->k = k;
    struct kiln_provider *p = xcalloc(1, sizeof *p);
    p->ops = &local_ops;
    p->impl = l;
    return p;
}
