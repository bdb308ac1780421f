/* kilnd: the operations of the API (doc/kilnd-api.md), one function each, looked up
 * in a table. Every argument from a client is validated here before it reaches the
 * modules: names, ids, sizes, paths. */
#include "cloud/api.h"
#include "cloud/cloud.h"
#include "kiln/proc.h"

#include "config.h"
#include "kiln/names.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The most instances one local group may ask for: this is one machine. */
#define LOCAL_MAX_GROUP_SIZE 50
#define LB_WAIT_MS           10000

/* ---- argument helpers ---- */

static const char *arg_str(const cJSON *args, const char *key, bool required, size_t max,
                           struct kiln_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);
    if (v == NULL && !required)
        return NULL;
    if (!cJSON_IsString(v)) {
        kiln_err_set(err, KILN_E_INVALID, "argument \"%s\" is missing or not a string", key);
        return NULL;
    }
    if (strlen(v->valuestring) > max || !kiln_text_printable(v->valuestring)) {
        kiln_err_set(err, KILN_E_INVALID,
                     "argument \"%s\" is too long or has unprintable characters", key);
        return NULL;
    }
    return v->valuestring;
}

/* Reads an integer argument; `dflt` when absent. -1 on a bad value. */
static int arg_int(const cJSON *args, const char *key, long long lo, long long hi, long long dflt,
                   long long *out, struct kiln_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);
    if (v == NULL) {
        *out = dflt;
        return 0;
    }
    /* The range first: converting a number beyond long long (1e300) is undefined. */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= (double)lo && v->valuedouble <= (double)hi) ||
        v->valuedouble != (double)(long long)v->valuedouble)
        return kiln_err_set(err, KILN_E_INVALID,
                            "argument \"%s\" must be a whole number from %lld to %lld", key, lo,
                            hi);
    *out = (long long)v->valuedouble;
    return 0;
}

static bool arg_bool(const cJSON *args, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(args, key));
}

static int save(struct cloud *c, struct kiln_err *err)
{
    if (cloud_store_save(c, err) < 0) {
        kiln_err_prefix(err, "the change is made but kilnd could not save its state");
        return -1;
    }
    return 0;
}

static struct cloud_group *find_group_arg(struct cloud *c, const cJSON *args, struct kiln_err *err)
{
    const char *name = arg_str(args, "name", true, KILN_GROUP_MAX, err);
    if (name == NULL)
        return NULL;
    struct kiln_group_name gn;
    if (kiln_group_name_parse(name, &gn, err) < 0)
        return NULL;
    struct cloud_group *g = cloud_find_group(c, name);
    if (g == NULL)
        kiln_err_set(err, KILN_E_NOTFOUND, "there is no server group %s (kiln status lists them)",
                     name);
    return g;
}

/* ---- hello, state ---- */

static int op_hello(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    char when[KILN_ISO_TIME_MAX];
    cJSON_AddNumberToObject(res, "pid", getpid());
    cJSON_AddStringToObject(res, "home", c->paths.home);
    cJSON_AddStringToObject(res, "version", PACKAGE_VERSION);
    cJSON_AddNumberToObject(res, "protocol", KILND_PROTOCOL_VERSION);
    cJSON_AddStringToObject(res, "started", kiln_time_iso(c->started_us, when));
    cJSON_AddNumberToObject(res, "lb_port", c->config.local.lb_port);
    return 0;
}

static int op_state(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    pthread_mutex_lock(&c->mu);
    cJSON *st = cloud_store_to_json(c, true);
    cJSON *lb = cJSON_AddObjectToObject(st, "lb");
    cJSON_AddNumberToObject(lb, "port", c->config.local.lb_port);
    cJSON_AddNumberToObject(lb, "wanted", (double)c->lb_wanted);
    cJSON_AddNumberToObject(lb, "applied", (double)c->lb_applied);
    cJSON_AddStringToObject(lb, "error", c->lb_error);
    pthread_mutex_unlock(&c->mu);
    cJSON_AddNumberToObject(st, "events_last", (double)cloud_events_last(c));
    cJSON *item;
    while ((item = st->child) != NULL) {
        cJSON_DetachItemViaPointer(st, item);
        cJSON_AddItemToObject(res, item->string, item);
    }
    cJSON_Delete(st);
    return 0;
}

/* ---- apps ---- */

static int read_start(const cJSON *args, char *start[CLOUD_START_ARGS_MAX + 1],
                      struct kiln_err *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(args, "start");
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1 ||
        cJSON_GetArraySize(a) > CLOUD_START_ARGS_MAX)
        return kiln_err_set(err, KILN_E_INVALID,
                            "argument \"start\" must be the app's command: an array of 1 to %d "
                            "strings, the first an absolute path inside the image",
                            CLOUD_START_ARGS_MAX);
    int i = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, a)
    {
        if (!cJSON_IsString(s) || strlen(s->valuestring) > 1024 ||
            !kiln_text_printable(s->valuestring))
            return kiln_err_set(err, KILN_E_INVALID,
                                "argument \"start\"[%d] is not a printable string of at most "
                                "1024 bytes",
                                i);
        i++;
    }
    const char *prog = cJSON_GetArrayItem(a, 0)->valuestring;
    if (prog[0] != '/' || strstr(prog, "/../") != NULL ||
        (strlen(prog) >= 3 && strcmp(prog + strlen(prog) - 3, "/..") == 0))
        return kiln_err_set(err, KILN_E_INVALID,
                            "the start command '%.200s' must be an absolute path inside the image "
                            "without '..', e.g. /usr/bin/hello-world",
                            prog);
    i = 0;
    cJSON_ArrayForEach(s, a) start[i++] = xstrdup(s->valuestring);
    start[i] = NULL;
    return 0;
}

static int op_create_app(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    const char *app = arg_str(args, "app", true, KILN_APP_MAX + 16, err);
    const char *env = app ? arg_str(args, "env", true, KILN_ENV_MAX + 16, err) : NULL;
    if (env == NULL || kiln_name_validate_app(app, err) < 0 || kiln_name_validate_env(env, err) < 0)
        return -1;
    const struct kiln_config *cfg = &c->config;
    long long port, interval, timeout, healthy, unhealthy, grace;
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(args, "health");
    if (h != NULL && !cJSON_IsObject(h))
        return kiln_err_set(err, KILN_E_INVALID, "argument \"health\" must be an object");
    if (arg_int(args, "port", 1, 65535, 8080, &port, err) < 0 ||
        arg_int(h, "interval_ms", 100, 600000, cfg->local.health_interval_ms, &interval, err) < 0 ||
        arg_int(h, "timeout_ms", 50, 600000, cfg->local.health_timeout_ms, &timeout, err) < 0 ||
        arg_int(h, "healthy", 1, 10, cfg->local.healthy_threshold, &healthy, err) < 0 ||
        arg_int(h, "unhealthy", 1, 10, cfg->local.unhealthy_threshold, &unhealthy, err) < 0 ||
        arg_int(h, "grace_ms", 0, 3600000, cfg->local.health_check_grace_ms, &grace, err) < 0)
        return -1;
    if (timeout > interval)
        return kiln_err_set(err, KILN_E_INVALID,
                            "the health check timeout (%lld ms) must not exceed its interval "
                            "(%lld ms)",
                            timeout, interval);
    const char *path = h ? arg_str(h, "path", false, 255, err) : NULL;
    if (path == NULL && err != NULL && err->code != KILN_OK)
        return -1;
    if (path == NULL)
        path = "/health_check";
    if (path[0] != '/' || strpbrk(path, " \t\"'{};\\$") != NULL)
        return kiln_err_set(err, KILN_E_INVALID,
                            "the health check URL path '%.100s' must start with / and contain no "
                            "spaces, quotes, braces, ';', '\\' or '$'",
                            path);
    const char *proto = arg_str(args, "protocol", false, 8, err);
    if (proto == NULL)
        proto = "HTTP";
    if (strcmp(proto, "HTTP") != 0 && strcmp(proto, "HTTPS") != 0)
        return kiln_err_set(err, KILN_E_INVALID, "--protocol must be HTTP or HTTPS");

    struct cloud_cluster *x = xcalloc(1, sizeof *x);
    if (read_start(args, x->start, err) < 0) {
        for (int i = 0; x->start[i]; i++)
            free(x->start[i]);
        free(x);
        return -1;
    }
    snprintf(x->app, sizeof x->app, "%s", app);
    snprintf(x->env, sizeof x->env, "%s", env);
    kiln_cluster_name_format(x->name, sizeof x->name, app, env);
    x->port = (int)port;
    snprintf(x->protocol, sizeof x->protocol, "%s", proto);
    snprintf(x->health_path, sizeof x->health_path, "%s", path);
    x->health_interval_ms = interval;
    x->health_timeout_ms = timeout;
    x->healthy_threshold = (int)healthy;
    x->unhealthy_threshold = (int)unhealthy;
    x->health_grace_ms = grace;
    x->created_us = kiln_now_us();
    x->chaos_mean_ms = cfg->local.chaos_mean_ms;
    x->chaos_min_ms = cfg->local.chaos_min_ms;

    pthread_mutex_lock(&c->mu);
    struct cloud_cluster *old = cloud_find_cluster(c, app, env);
    bool existed = old != NULL;
    if (old != NULL) {
        /* Idempotent: the app's settings are updated, its chaos and age kept. */
        x->created_us = old->created_us;
        x->chaos_enabled = old->chaos_enabled;
        x->chaos_mean_ms = old->chaos_mean_ms;
        x->chaos_min_ms = old->chaos_min_ms;
        x->chaos_last_kill_us = old->chaos_last_kill_us;
        cloud_remove_cluster(c, old);
    }
    cloud_add_cluster(c, x);
    cloud_changed(c);
    cloud_balancer_request(c);
    cJSON_AddStringToObject(res, "cluster", x->name);
    char dns[128];
    snprintf(dns, sizeof dns, "%s.%s.localhost", app, env);
    cJSON_AddStringToObject(res, "dns", dns);
    cJSON_AddNumberToObject(res, "lb_port", c->config.local.lb_port);
    cJSON_AddBoolToObject(res, "existed", existed);
    int rc = save(c, err);
    pthread_mutex_unlock(&c->mu);
    if (rc == 0 && !existed)
        cloud_emit(c, "create-app", x->name, NULL, NULL, NULL, "created %s (http://%s:%d/)",
                   x->name, dns, c->config.local.lb_port);
    return rc;
}

static void destroy_group_locked(struct cloud *c, struct cloud_group *g, const char *cause)
{
    for (size_t i = 0; i < c->instances.n; i++) {
        struct cloud_instance *x = c->instances.v[i];
        if (strcmp(x->group, g->name) == 0 && x->state != KILN_INSTANCE_TERMINATED)
            cloud_instance_terminate(c, x, cause, NULL);
    }
    char name[KILN_GROUP_SIZE], cluster[KILN_CLUSTER_SIZE];
    snprintf(name, sizeof name, "%s", g->name);
    snprintf(cluster, sizeof cluster, "%s", g->cluster);
    cloud_remove_group(c, g);
    cloud_changed(c);
    cloud_emit(c, "destroy", cluster, name, NULL, cause, "destroyed %s", name);
}

static int op_delete_app(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    const char *app = arg_str(args, "app", true, KILN_APP_MAX + 16, err);
    const char *env = app ? arg_str(args, "env", true, KILN_ENV_MAX + 16, err) : NULL;
    if (env == NULL || kiln_name_validate_app(app, err) < 0 || kiln_name_validate_env(env, err) < 0)
        return -1;
    bool force = arg_bool(args, "force");
    pthread_mutex_lock(&c->mu);
    struct cloud_cluster *x = cloud_find_cluster(c, app, env);
    if (x == NULL) {
        pthread_mutex_unlock(&c->mu);
        return kiln_err_set(err, KILN_E_NOTFOUND, "there is no app %s in env %s", app, env);
    }
    size_t n_groups = 0;
    for (size_t i = 0; i < c->groups.n; i++)
        if (strcmp(c->groups.v[i]->cluster, x->name) == 0)
            n_groups++;
    if (n_groups > 0 && !force) {
        pthread_mutex_unlock(&c->mu);
        return kiln_err_set(err, KILN_E_BUSY,
                            "%s still has %zu server group%s; destroy them first, or delete with "
                            "--force to destroy them too",
                            x->name, n_groups, n_groups == 1 ? "" : "s");
    }
    for (size_t i = 0; i < c->groups.n;) {
        if (strcmp(c->groups.v[i]->cluster, x->name) == 0) {
            destroy_group_locked(c, c->groups.v[i], "destroy");
            continue;
        }
        i++;
    }
    char name[KILN_CLUSTER_SIZE];
    snprintf(name, sizeof name, "%s", x->name);
    cloud_remove_cluster(c, x);
    cloud_changed(c);
    uint64_t n = cloud_balancer_request(c);
    int rc = save(c, err);
    if (rc == 0)
        rc = cloud_balancer_wait(c, n, LB_WAIT_MS, err);
    pthread_mutex_unlock(&c->mu);
    cJSON_AddNumberToObject(res, "groups_destroyed", (double)n_groups);
    if (rc == 0)
        cloud_emit(c, "delete-app", name, NULL, NULL, NULL, "deleted %s", name);
    return rc;
}

/* ---- packages and images ---- */

static int op_package_add(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    const char *path = arg_str(args, "path", true, 4096, err);
    if (path == NULL)
        return -1;
    if (path[0] != '/')
        return kiln_err_set(err, KILN_E_INVALID, "the package path must be absolute");
    struct cloud_package p;
    if (cloud_package_add(c, path, &p, err) < 0)
        return -1;
    pthread_mutex_lock(&c->mu);
    int rc = save(c, err);
    pthread_mutex_unlock(&c->mu);
    if (rc < 0)
        return -1;
    cJSON_AddStringToObject(res, "nvr", p.nvr);
    cJSON_AddStringToObject(res, "name", p.name);
    cJSON_AddStringToObject(res, "file", p.file);
    return 0;
}

static void collect_line(void *ctx, const char *line)
{
    cJSON_AddItemToArray((cJSON *)ctx, cJSON_CreateString(line));
}

static int op_bake(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    const char *nvr = arg_str(args, "package", true, CLOUD_NVR_MAX - 1, err);
    if (nvr == NULL || kiln_package_nvr_validate(nvr, err) < 0)
        return -1;
    const char *app = arg_str(args, "app", false, KILN_APP_MAX, err);
    if (app != NULL && kiln_name_validate_app(app, err) < 0)
        return -1;
    char image[CLOUD_ID_MAX];
    bool cached = false;
    cJSON *log = cJSON_AddArrayToObject(res, "log");
    if (cloud_bake(c, nvr, app ? app : "", image, &cached, collect_line, log, err) < 0)
        return -1;
    pthread_mutex_lock(&c->mu);
    int rc = save(c, err);
    pthread_mutex_unlock(&c->mu);
    if (rc < 0)
        return -1;
    cJSON_AddStringToObject(res, "image", image);
    cJSON_AddBoolToObject(res, "cached", cached);
    return 0;
}

/* ---- groups ---- */

static int read_sizes(const cJSON *args, int *min, int *max, int *desired, struct kiln_err *err)
{
    long long mn, mx, d;
    if (arg_int(args, "min", 0, LOCAL_MAX_GROUP_SIZE, *min, &mn, err) < 0 ||
        arg_int(args, "max", 0, LOCAL_MAX_GROUP_SIZE, *max, &mx, err) < 0 ||
        arg_int(args, "desired", 0, LOCAL_MAX_GROUP_SIZE, *desired, &d, err) < 0)
        return -1;
    if (!(mn <= d && d <= mx))
        return kiln_err_set(err, KILN_E_INVALID,
                            "sizes must satisfy min <= desired <= max (got min %lld, desired %lld, "
                            "max %lld)",
                            mn, d, mx);
    *min = (int)mn;
    *max = (int)mx;
    *desired = (int)d;
    return 0;
}

static int op_group_create(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    const char *name = arg_str(args, "name", true, KILN_GROUP_MAX, err);
    struct kiln_group_name gn;
    if (name == NULL || kiln_group_name_parse(name, &gn, err) < 0)
        return -1;
    const char *image = arg_str(args, "image", true, CLOUD_ID_MAX - 1, err);
    if (image == NULL || kiln_image_id_validate(image, err) < 0)
        return -1;
    int min = 1, max = 1, desired = 1;
    if (read_sizes(args, &min, &max, &desired, err) < 0)
        return -1;
    const char *previous = NULL;
    if (cJSON_GetObjectItemCaseSensitive(args, "previous") != NULL) {
        previous = arg_str(args, "previous", true, KILN_GROUP_MAX, err);
        if (previous == NULL || kiln_group_name_parse(previous, NULL, err) < 0)
            return -1;
    }

    pthread_mutex_lock(&c->mu);
    int rc = -1;
    struct cloud_cluster *cl = cloud_find_cluster(c, gn.app, gn.env);
    if (cl == NULL) {
        kiln_err_set(err, KILN_E_NOTFOUND,
                     "there is no app %s in env %s; create it first (kiln create-app)", gn.app,
                     gn.env);
    } else if (cloud_find_group(c, name) != NULL) {
        kiln_err_set(err, KILN_E_EXISTS, "server group %s already exists", name);
    } else if (cloud_find_image(c, image) == NULL) {
        kiln_err_set(err, KILN_E_NOTFOUND, "there is no image %s (kiln bake makes one)", image);
    } else {
        struct cloud_group *g = xcalloc(1, sizeof *g);
        snprintf(g->name, sizeof g->name, "%s", name);
        snprintf(g->cluster, sizeof g->cluster, "%s", cl->name);
        g->version = gn.version;
        snprintf(g->image, sizeof g->image, "%s", image);
        g->min_size = min;
        g->max_size = max;
        g->desired = desired;
        /* Born disabled: a new group takes no traffic until it is enabled. */
        g->suspended = KILN_PROC_ADD_TO_LB;
        g->created_us = kiln_now_us();
        if (previous != NULL)
            snprintf(g->previous, sizeof g->previous, "%s", previous);
        cloud_add_group(c, g);
        cloud_changed(c);
        cJSON_AddItemToObject(res, "group", cloud_group_to_json(g));
        rc = save(c, err);
        if (rc == 0)
            cloud_emit(c, "create-group", cl->name, name, NULL, NULL,
                       "created %s from %s (%d instance%s, disabled)", name, image, desired,
                       desired == 1 ? "" : "s");
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int op_group_resize(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    pthread_mutex_lock(&c->mu);
    struct cloud_group *g = find_group_arg(c, args, err);
    int rc = -1;
    if (g != NULL) {
        int min = g->min_size, max = g->max_size, desired = g->desired;
        if (read_sizes(args, &min, &max, &desired, err) == 0) {
            g->min_size = min;
            g->max_size = max;
            g->desired = desired;
            cloud_changed(c);
            cJSON_AddItemToObject(res, "group", cloud_group_to_json(g));
            rc = save(c, err);
            if (rc == 0)
                cloud_emit(c, "resize", g->cluster, g->name, NULL, NULL,
                           "resized %s to min %d, desired %d, max %d", g->name, min, desired, max);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Enable or disable: flips AddToLoadBalancer and returns once nginx serves the result. */
static int set_enabled(struct cloud *c, const cJSON *args, cJSON *res, bool enable,
                       struct kiln_err *err)
{
    pthread_mutex_lock(&c->mu);
    struct cloud_group *g = find_group_arg(c, args, err);
    if (g == NULL) {
        pthread_mutex_unlock(&c->mu);
        return -1;
    }
    char name[KILN_GROUP_SIZE], cluster[KILN_CLUSTER_SIZE];
    snprintf(name, sizeof name, "%s", g->name);
    snprintf(cluster, sizeof cluster, "%s", g->cluster);
    bool was = cloud_group_enabled(g);
    if (enable)
        g->suspended &= ~(unsigned)KILN_PROC_ADD_TO_LB;
    else
        g->suspended |= KILN_PROC_ADD_TO_LB;
    cloud_changed(c);
    uint64_t n = cloud_balancer_request(c);
    int rc = save(c, err);
    if (rc == 0)
        rc = cloud_balancer_wait(c, n, LB_WAIT_MS, err);
    if (rc == 0) {
        size_t in_service = 0;
        for (size_t i = 0; i < c->instances.n; i++)
            if (strcmp(c->instances.v[i]->group, name) == 0 &&
                c->instances.v[i]->lb_state == KILN_LB_IN_SERVICE)
                in_service++;
        cJSON_AddNumberToObject(res, "in_service", (double)in_service);
    }
    pthread_mutex_unlock(&c->mu);
    cJSON_AddBoolToObject(res, "changed", was != enable);
    if (rc == 0 && was != enable)
        cloud_emit(c, enable ? "enable" : "disable", cluster, name, NULL, NULL,
                   enable ? "enabled %s: attached to the load balancer"
                          : "disabled %s: detached from the load balancer",
                   name);
    return rc;
}

static int op_group_enable(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    return set_enabled(c, args, res, true, err);
}

static int op_group_disable(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    return set_enabled(c, args, res, false, err);
}

static int op_group_destroy(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    pthread_mutex_lock(&c->mu);
    struct cloud_group *g = find_group_arg(c, args, err);
    if (g == NULL) {
        pthread_mutex_unlock(&c->mu);
        return -1;
    }
    bool was_enabled = cloud_group_enabled(g);
    destroy_group_locked(c, g, "destroy");
    uint64_t n = cloud_balancer_request(c);
    int rc = save(c, err);
    if (rc == 0 && was_enabled)
        rc = cloud_balancer_wait(c, n, LB_WAIT_MS, err);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int read_processes(const cJSON *args, unsigned *out, struct kiln_err *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(args, "processes");
    if (a == NULL) {
        *out = KILN_PROC_ALL;
        return 0;
    }
    if (!cJSON_IsArray(a))
        return kiln_err_set(err, KILN_E_INVALID, "argument \"processes\" must be an array");
    unsigned bits = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, a)
    {
        enum kiln_process proc;
        if (!cJSON_IsString(p))
            return kiln_err_set(err, KILN_E_INVALID,
                                "argument \"processes\" must be an array of process names");
        if (kiln_process_parse(p->valuestring, &proc, err) < 0)
            return -1;
        bits |= proc;
    }
    *out = bits;
    return 0;
}

static int set_suspended(struct cloud *c, const cJSON *args, cJSON *res, bool suspend,
                         struct kiln_err *err)
{
    unsigned bits = 0;
    if (read_processes(args, &bits, err) < 0)
        return -1;
    pthread_mutex_lock(&c->mu);
    struct cloud_group *g = find_group_arg(c, args, err);
    if (g == NULL) {
        pthread_mutex_unlock(&c->mu);
        return -1;
    }
    if (suspend)
        g->suspended |= bits;
    else
        g->suspended &= ~bits;
    cloud_changed(c);
    uint64_t n = 0;
    if (bits & KILN_PROC_ADD_TO_LB)
        n = cloud_balancer_request(c);
    cJSON_AddItemToObject(res, "group", cloud_group_to_json(g));
    int rc = save(c, err);
    if (rc == 0 && n != 0)
        rc = cloud_balancer_wait(c, n, LB_WAIT_MS, err);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int op_group_suspend(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    return set_suspended(c, args, res, true, err);
}

static int op_group_resume(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    return set_suspended(c, args, res, false, err);
}

static int op_instance_terminate(struct cloud *c, const cJSON *args, cJSON *res,
                                 struct kiln_err *err)
{
    const char *id = arg_str(args, "id", true, CLOUD_ID_MAX - 1, err);
    if (id == NULL || kiln_instance_id_validate(id, err) < 0)
        return -1;
    bool decrement = arg_bool(args, "decrement");
    pthread_mutex_lock(&c->mu);
    int rc = -1;
    struct cloud_instance *x = cloud_find_instance(c, id);
    struct cloud_group *g = x ? cloud_find_group(c, x->group) : NULL;
    if (x == NULL || x->state == KILN_INSTANCE_TERMINATED) {
        kiln_err_set(err, KILN_E_NOTFOUND, "there is no running instance %s", id);
    } else if (decrement && g != NULL && g->desired - 1 < g->min_size) {
        kiln_err_set(err, KILN_E_INVALID,
                     "terminating %s with --decrement would take %s below its minimum size %d; "
                     "lower the minimum first (kiln resize)",
                     id, g->name, g->min_size);
    } else {
        if (decrement && g != NULL)
            g->desired--;
        rc = cloud_instance_terminate(c, x, "user", err);
        cloud_changed(c);
        if (rc == 0)
            rc = save(c, err);
        cJSON_AddStringToObject(res, "id", id);
        if (g != NULL)
            cJSON_AddNumberToObject(res, "desired", g->desired);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Marks a group rejected (traffic was rolled back away from it) or clears the mark, so
 * that a rollback never picks a rejected version by default. */
static int op_group_mark(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    const cJSON *rejected = cJSON_GetObjectItemCaseSensitive(args, "rejected");
    if (!cJSON_IsBool(rejected))
        return kiln_err_set(err, KILN_E_INVALID, "argument \"rejected\" must be true or false");
    pthread_mutex_lock(&c->mu);
    struct cloud_group *g = find_group_arg(c, args, err);
    int rc = -1;
    if (g != NULL) {
        bool was = g->rejected_us != 0;
        g->rejected_us = cJSON_IsTrue(rejected) ? (was ? g->rejected_us : kiln_now_us()) : 0;
        cloud_changed(c);
        cJSON_AddItemToObject(res, "group", cloud_group_to_json(g));
        rc = save(c, err);
        if (rc == 0 && was != (g->rejected_us != 0))
            cloud_emit(c, "mark", g->cluster, g->name, NULL, NULL,
                       cJSON_IsTrue(rejected) ? "%s is marked rejected (rolled back from)"
                                              : "%s is no longer marked rejected",
                       g->name);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---- locks ---- */

static bool lock_stale(const struct cloud_lock *l)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    if (strcmp(host, l->host) != 0)
        return false; /* cannot tell from here; it expires only when released */
    return kiln_proc_start_ticks(l->pid) != l->pid_start_ticks;
}

static cJSON *lock_json(const struct cloud_lock *l)
{
    char since[KILN_ISO_TIME_MAX];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "cluster", l->cluster);
    cJSON_AddStringToObject(o, "user", l->user);
    cJSON_AddStringToObject(o, "host", l->host);
    cJSON_AddNumberToObject(o, "pid", l->pid);
    cJSON_AddNumberToObject(o, "job", (double)l->job);
    cJSON_AddStringToObject(o, "what", l->what);
    cJSON_AddStringToObject(o, "since", kiln_time_iso(l->since_us, since));
    return o;
}

static int op_lock(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    const char *cluster = arg_str(args, "cluster", true, KILN_CLUSTER_SIZE - 1, err);
    const cJSON *owner = cJSON_GetObjectItemCaseSensitive(args, "owner");
    if (cluster == NULL)
        return -1;
    if (!cJSON_IsObject(owner))
        return kiln_err_set(err, KILN_E_INVALID, "argument \"owner\" must be an object");
    const char *user = arg_str(owner, "user", true, 319, err);
    const char *host = user ? arg_str(owner, "host", true, 255, err) : NULL;
    const char *what = host ? arg_str(owner, "what", true, 31, err) : NULL;
    long long pid, job;
    if (what == NULL || arg_int(owner, "pid", 1, 1 << 30, 0, &pid, err) < 0 ||
        arg_int(owner, "job", 0, 1LL << 50, 0, &job, err) < 0)
        return -1;

    pthread_mutex_lock(&c->mu);
    struct cloud_lock *held = NULL;
    for (size_t i = 0; i < c->locks.n; i++)
        if (strcmp(c->locks.v[i]->cluster, cluster) == 0)
            held = c->locks.v[i];
    if (held != NULL && lock_stale(held)) {
        cloud_emit(c, "lock", cluster, NULL, NULL, NULL,
                   "released a stale lock on %s held by job %llu (%s@%s, process gone)", cluster,
                   (unsigned long long)held->job, held->user, held->host);
        for (size_t i = 0; i < c->locks.n; i++)
            if (c->locks.v[i] == held) {
                free(held);
                memmove(&c->locks.v[i], &c->locks.v[i + 1],
                        (c->locks.n - i - 1) * sizeof *c->locks.v);
                c->locks.n--;
                break;
            }
        held = NULL;
    }
    int rc;
    if (held != NULL &&
        !(held->pid == pid && held->job == (uint64_t)job && strcmp(held->host, host) == 0)) {
        char since[KILN_ISO_TIME_MAX];
        kiln_time_iso(held->since_us, since);
        since[19] = '\0'; /* HH:MM:SS is what a person at the console needs */
        rc = kiln_err_set(err, KILN_E_BUSY, "%s is being %s by job %llu (%s, since %s)", cluster,
                          strcmp(held->what, "deploy") == 0     ? "deployed"
                          : strcmp(held->what, "rollback") == 0 ? "rolled back"
                                                                : "changed",
                          (unsigned long long)held->job, held->user, since + 11);
        cJSON_AddItemToObject(res, "holder", lock_json(held));
    } else {
        if (held == NULL) {
            struct cloud_lock *l = xcalloc(1, sizeof *l);
            snprintf(l->cluster, sizeof l->cluster, "%s", cluster);
            snprintf(l->user, sizeof l->user, "%s", user);
            snprintf(l->host, sizeof l->host, "%s", host);
            l->pid = (pid_t)pid;
            l->pid_start_ticks = kiln_proc_start_ticks((pid_t)pid);
            l->job = (uint64_t)job;
            snprintf(l->what, sizeof l->what, "%s", what);
            l->since_us = kiln_now_us();
            if (c->locks.n == c->locks.cap) {
                c->locks.cap = c->locks.cap ? c->locks.cap * 2 : 8;
                c->locks.v = xrealloc(c->locks.v, c->locks.cap * sizeof *c->locks.v);
            }
            c->locks.v[c->locks.n++] = l;
            held = l;
        }
        c->dirty = true;
        rc = save(c, err);
        cJSON_AddItemToObject(res, "lock", lock_json(held));
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int op_unlock(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    const char *cluster = arg_str(args, "cluster", true, KILN_CLUSTER_SIZE - 1, err);
    long long job;
    const cJSON *owner = cJSON_GetObjectItemCaseSensitive(args, "owner");
    if (cluster == NULL || arg_int(owner, "job", 0, 1LL << 50, 0, &job, err) < 0)
        return -1;
    pthread_mutex_lock(&c->mu);
    bool found = false;
    for (size_t i = 0; i < c->locks.n; i++) {
        struct cloud_lock *l = c->locks.v[i];
        if (strcmp(l->cluster, cluster) == 0 && l->job == (uint64_t)job) {
            free(l);
            memmove(&c->locks.v[i], &c->locks.v[i + 1], (c->locks.n - i - 1) * sizeof *c->locks.v);
            c->locks.n--;
            found = true;
            break;
        }
    }
    c->dirty = true;
    int rc = save(c, err);
    pthread_mutex_unlock(&c->mu);
    cJSON_AddBoolToObject(res, "released", found);
    return rc;
}

/* ---- chaos, stop ---- */

static int op_chaos(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    const char *app = arg_str(args, "app", true, KILN_APP_MAX + 16, err);
    const char *env = app ? arg_str(args, "env", true, KILN_ENV_MAX + 16, err) : NULL;
    if (env == NULL || kiln_name_validate_app(app, err) < 0 || kiln_name_validate_env(env, err) < 0)
        return -1;
    pthread_mutex_lock(&c->mu);
    struct cloud_cluster *x = cloud_find_cluster(c, app, env);
    int rc = -1;
    long long mean, min;
    if (x == NULL) {
        kiln_err_set(err, KILN_E_NOTFOUND, "there is no app %s in env %s", app, env);
    } else if (arg_int(args, "mean_ms", 100, 7LL * 24 * 3600 * 1000, x->chaos_mean_ms, &mean,
                       err) == 0 &&
               arg_int(args, "min_ms", 0, 7LL * 24 * 3600 * 1000, x->chaos_min_ms, &min, err) ==
                   0) {
        if (min > mean) {
            kiln_err_set(err, KILN_E_INVALID,
                         "the minimum time between kills (%lld ms) must not exceed the mean "
                         "(%lld ms)",
                         min, mean);
        } else {
            const cJSON *en = cJSON_GetObjectItemCaseSensitive(args, "enable");
            bool was = x->chaos_enabled;
            if (cJSON_IsBool(en))
                x->chaos_enabled = cJSON_IsTrue(en);
            x->chaos_mean_ms = mean;
            x->chaos_min_ms = min;
            x->chaos_next_kill_us = 0; /* reschedule with the new settings */
            cloud_changed(c);
            rc = save(c, err);
            cJSON_AddBoolToObject(res, "enabled", x->chaos_enabled);
            cJSON_AddNumberToObject(res, "mean_ms", (double)mean);
            cJSON_AddNumberToObject(res, "min_ms", (double)min);
            if (rc == 0 && was != x->chaos_enabled)
                cloud_emit(c, "chaos", x->name, NULL, NULL, NULL,
                           x->chaos_enabled ? "chaos enabled on %s: a kill every %llds on average"
                                            : "chaos disabled on %s",
                           x->name, (long long)(mean / 1000));
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int op_stop(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err)
{
    bool instances = arg_bool(args, "instances");
    pthread_mutex_lock(&c->mu);
    size_t n = 0;
    if (instances) {
        for (size_t i = 0; i < c->instances.n; i++) {
            struct cloud_instance *x = c->instances.v[i];
            if (x->state != KILN_INSTANCE_TERMINATED) {
                cloud_instance_terminate(c, x, "stop", NULL);
                n++;
            }
        }
        /* The groups keep their sizes: stopping the local cloud is switching the
         * machine off, not scaling to zero, and the next start relaunches them. */
        cloud_changed(c);
    }
    int rc = save(c, err);
    c->stopping = true;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->mu);
    cJSON_AddNumberToObject(res, "instances_stopped", (double)n);
    cloud_stop_requested(c, instances);
    return rc;
}

/* ---- the table ---- */

typedef int (*op_fn)(struct cloud *c, const cJSON *args, cJSON *res, struct kiln_err *err);

static const struct {
    const char *name;
    op_fn fn;
} ops[] = {
    {KILND_OP_HELLO, op_hello},
    {KILND_OP_STATE, op_state},
    {KILND_OP_CREATE_APP, op_create_app},
    {KILND_OP_DELETE_APP, op_delete_app},
    {KILND_OP_PACKAGE_ADD, op_package_add},
    {KILND_OP_BAKE, op_bake},
    {KILND_OP_GROUP_CREATE, op_group_create},
    {KILND_OP_GROUP_RESIZE, op_group_resize},
    {KILND_OP_GROUP_ENABLE, op_group_enable},
    {KILND_OP_GROUP_DISABLE, op_group_disable},
    {KILND_OP_GROUP_DESTROY, op_group_destroy},
    {KILND_OP_GROUP_SUSPEND, op_group_suspend},
    {KILND_OP_GROUP_RESUME, op_group_resume},
    {KILND_OP_GROUP_MARK, op_group_mark},
    {KILND_OP_INSTANCE_TERMINATE, op_instance_terminate},
    {KILND_OP_LOCK, op_lock},
    {KILND_OP_UNLOCK, op_unlock},
    {KILND_OP_CHAOS, op_chaos},
    {KILND_OP_STOP, op_stop},
};

int cloud_op_run(struct cloud *c, const char *op, const cJSON *args, cJSON *result,
                 struct kiln_err *err)
{
    static const cJSON empty = {0};
    if (args == NULL)
        args = &empty;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, op) == 0)
            return ops[i].fn(c, args, result, err);
    char q[KILN_QUOTE_SIZE];
    return kiln_err_set(err, KILN_E_INVALID, "unknown operation %s (see doc/kilnd-api.md)",
                        kiln_name_quote(op, q, sizeof q));
}
