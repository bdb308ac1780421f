/* kilnd: cloud.json, the local cloud's state on disk.
 *
 * Written atomically after every change (kiln_atomic_write), read once at start. A
 * damaged file stops kilnd with a sentence naming the file and the bad field rather
 * than starting an empty cloud over real instances. */
#include "cloud/cloud.h"

#include "kiln/atomic_file.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STORE_VERSION   1
#define STORE_MAX_BYTES (64u << 20)

/* ---- writing ---- */

static cJSON *cluster_to_json(const struct cloud_cluster *x, bool runtime, int lb_port)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "app", x->app);
    cJSON_AddStringToObject(o, "env", x->env);
    cJSON_AddStringToObject(o, "name", x->name);
    cJSON_AddNumberToObject(o, "port", x->port);
    cJSON_AddStringToObject(o, "protocol", x->protocol);
    cJSON *start = cJSON_AddArrayToObject(o, "start");
    for (int i = 0; x->start[i] != NULL; i++)
        cJSON_AddItemToArray(start, cJSON_CreateString(x->start[i]));
    cJSON *h = cJSON_AddObjectToObject(o, "health");
    cJSON_AddStringToObject(h, "path", x->health_path);
    cJSON_AddNumberToObject(h, "interval_ms", (double)x->health_interval_ms);
    cJSON_AddNumberToObject(h, "timeout_ms", (double)x->health_timeout_ms);
    cJSON_AddNumberToObject(h, "healthy", x->healthy_threshold);
    cJSON_AddNumberToObject(h, "unhealthy", x->unhealthy_threshold);
    cJSON_AddNumberToObject(h, "grace_ms", (double)x->health_grace_ms);
    cJSON_AddNumberToObject(o, "created_us", (double)x->created_us);
    cJSON *ch = cJSON_AddObjectToObject(o, "chaos");
    cJSON_AddBoolToObject(ch, "enabled", x->chaos_enabled);
    cJSON_AddNumberToObject(ch, "mean_ms", (double)x->chaos_mean_ms);
    cJSON_AddNumberToObject(ch, "min_ms", (double)x->chaos_min_ms);
    cJSON_AddNumberToObject(ch, "last_kill_us", (double)x->chaos_last_kill_us);
    if (runtime) {
        char dns[256];
        snprintf(dns, sizeof dns, "%s.%s.localhost", x->app, x->env);
        cJSON_AddStringToObject(o, "lb_dns", dns);
        cJSON_AddNumberToObject(o, "lb_port", lb_port);
        cJSON_AddNumberToObject(ch, "next_kill_us", (double)x->chaos_next_kill_us);
    }
    return o;
}

cJSON *cloud_group_to_json(const struct cloud_group *x)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", x->name);
    cJSON_AddStringToObject(o, "cluster", x->cluster);
    cJSON_AddNumberToObject(o, "version", x->version);
    cJSON_AddStringToObject(o, "image", x->image);
    cJSON_AddNumberToObject(o, "min", x->min_size);
    cJSON_AddNumberToObject(o, "max", x->max_size);
    cJSON_AddNumberToObject(o, "desired", x->desired);
    cJSON *s = cJSON_AddArrayToObject(o, "suspended");
    for (unsigned bit = 1; bit <= KILN_PROC_ADD_TO_LB; bit <<= 1)
        if (x->suspended & bit)
            cJSON_AddItemToArray(s, cJSON_CreateString(kiln_process_name(bit)));
    cJSON_AddBoolToObject(o, "enabled", cloud_group_enabled(x));
    cJSON_AddNumberToObject(o, "created_us", (double)x->created_us);
    if (x->previous[0])
        cJSON_AddStringToObject(o, "previous", x->previous);
    if (x->rejected_us != 0)
        cJSON_AddNumberToObject(o, "rejected_us", (double)x->rejected_us);
    return o;
}

/* A group as the `state` operation shows it: with kilnd's diagnosis of a group whose
 * instances cannot stay up, so a deploy waiting on it fails at once with it. */
static cJSON *group_with_runtime(const struct cloud_group *x, bool runtime)
{
    cJSON *o = cloud_group_to_json(x);
    if (runtime && x->failing[0] != '\0') {
        cJSON *f = cJSON_AddObjectToObject(o, "failing");
        cJSON_AddStringToObject(f, "reason", x->failing);
        cJSON_AddNumberToObject(f, "since_us", (double)x->failing_since_us);
        cJSON *lines = cJSON_AddArrayToObject(f, "stderr");
        char buf[sizeof x->failing_stderr];
        snprintf(buf, sizeof buf, "%s", x->failing_stderr);
        char *save = NULL;
        for (char *l = strtok_r(buf, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save))
            cJSON_AddItemToArray(lines, cJSON_CreateString(l));
    }
    return o;
}

static cJSON *instance_to_json(const struct cloud_instance *x, bool runtime, int64_t grace_left_us)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", x->id);
    cJSON_AddStringToObject(o, "group", x->group);
    cJSON_AddNumberToObject(o, "port", x->port);
    cJSON_AddNumberToObject(o, "pid", x->pid);
    cJSON_AddNumberToObject(o, "start_ticks", (double)x->start_ticks);
    cJSON_AddStringToObject(o, "state", kiln_instance_state_name(x->state));
    cJSON_AddStringToObject(o, "health", kiln_health_name(x->health));
    cJSON_AddStringToObject(o, "lb_state", kiln_lb_state_name(x->lb_state));
    cJSON_AddNumberToObject(o, "launched_us", (double)x->launched_us);
    cJSON_AddNumberToObject(o, "healthy_us", (double)x->healthy_us);
    cJSON_AddNumberToObject(o, "terminated_us", (double)x->terminated_us);
    cJSON_AddStringToObject(o, "cause", x->cause);
    cJSON_AddNumberToObject(o, "exit_status", x->exit_status);
    cJSON_AddStringToObject(o, "replaces", x->replaces);
    if (runtime) {
        char addr[32];
        snprintf(addr, sizeof addr, "127.0.0.1:%d", x->port);
        cJSON_AddStringToObject(o, "address", addr);
        cJSON_AddStringToObject(o, "health_detail", x->health_detail);
        cJSON_AddBoolToObject(o, "adopted", x->adopted);
        /* In its start-up grace period: failing checks do not get it replaced yet. */
        cJSON_AddBoolToObject(o, "in_grace", grace_left_us > 0);
        cJSON_AddNumberToObject(o, "grace_left_ms", (double)(grace_left_us / 1000));
    }
    return o;
}

static cJSON *image_to_json(const struct cloud_image *x)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", x->id);
    cJSON_AddStringToObject(o, "package", x->package);
    cJSON_AddStringToObject(o, "app", x->app);
    cJSON_AddNumberToObject(o, "created_us", (double)x->created_us);
    cJSON_AddStringToObject(o, "kind",
                            cloud_image_is_root(x) ? CLOUD_IMAGE_ROOT : CLOUD_IMAGE_FILES);
    cJSON_AddStringToObject(o, "base", x->base);
    cJSON *sv = cJSON_AddArrayToObject(o, "services");
    char buf[CLOUD_SERVICES_MAX];
    snprintf(buf, sizeof buf, "%s", x->services);
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save))
        cJSON_AddItemToArray(sv, cJSON_CreateString(t));
    return o;
}

static cJSON *package_to_json(const struct cloud_package *x)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "nvr", x->nvr);
    cJSON_AddStringToObject(o, "name", x->name);
    cJSON_AddStringToObject(o, "file", x->file);
    cJSON_AddNumberToObject(o, "created_us", (double)x->created_us);
    return o;
}

static cJSON *lock_to_json(const struct cloud_lock *x)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "cluster", x->cluster);
    cJSON_AddStringToObject(o, "user", x->user);
    cJSON_AddStringToObject(o, "host", x->host);
    cJSON_AddNumberToObject(o, "pid", x->pid);
    cJSON_AddNumberToObject(o, "pid_start_ticks", (double)x->pid_start_ticks);
    cJSON_AddNumberToObject(o, "job", (double)x->job);
    cJSON_AddStringToObject(o, "what", x->what);
    cJSON_AddNumberToObject(o, "since_us", (double)x->since_us);
    return o;
}

cJSON *cloud_store_to_json(struct cloud *c, bool runtime)
{
    int64_t now = kiln_now_us();
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "version", STORE_VERSION);
    cJSON *a = cJSON_AddArrayToObject(root, "clusters");
    for (size_t i = 0; i < c->clusters.n; i++)
        cJSON_AddItemToArray(a,
                             cluster_to_json(c->clusters.v[i], runtime, c->config.local.lb_port));
    a = cJSON_AddArrayToObject(root, "groups");
    for (size_t i = 0; i < c->groups.n; i++)
        cJSON_AddItemToArray(a, group_with_runtime(c->groups.v[i], runtime));
    a = cJSON_AddArrayToObject(root, "instances");
    for (size_t i = 0; i < c->instances.n; i++)
        cJSON_AddItemToArray(
            a, instance_to_json(c->instances.v[i], runtime,
                                runtime ? cloud_instance_grace_left_us(c, c->instances.v[i], now)
                                        : 0));
    a = cJSON_AddArrayToObject(root, "images");
    for (size_t i = 0; i < c->images.n; i++)
        cJSON_AddItemToArray(a, image_to_json(c->images.v[i]));
    a = cJSON_AddArrayToObject(root, "packages");
    for (size_t i = 0; i < c->packages.n; i++)
        cJSON_AddItemToArray(a, package_to_json(c->packages.v[i]));
    a = cJSON_AddArrayToObject(root, "locks");
    for (size_t i = 0; i < c->locks.n; i++)
        cJSON_AddItemToArray(a, lock_to_json(c->locks.v[i]));
    return root;
}

/* The generation being replaced becomes cloud.json.prev: a hard link renamed into
 * place, so it costs no copy and .prev is always a whole file. If it fails the save
 * goes on: the previous generation is a second chance, not a condition. */
static void keep_previous(struct cloud *c)
{
    char prev[4200], tmp[4300];
    snprintf(prev, sizeof prev, "%s.prev", c->paths.cloud_json);
    snprintf(tmp, sizeof tmp, "%s.prev.tmp", c->paths.cloud_json);
    unlink(tmp);
    if (link(c->paths.cloud_json, tmp) == 0 && rename(tmp, prev) < 0)
        unlink(tmp);
}

int cloud_store_save(struct cloud *c, struct kiln_err *err)
{
    if (!c->dirty)
        return 0;
    cJSON *root = cloud_store_to_json(c, false);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL)
        kiln_oom(0);
    keep_previous(c);
    int rc = kiln_atomic_write(c->paths.cloud_json, text, strlen(text), 0600, err);
    cJSON_free(text);
    if (rc == 0)
        c->dirty = false;
    return rc;
}

/* ---- reading ---- */

struct reader {
    const char *file;
    char where[96]; /* "instances[3]" */
    struct kiln_err *err;
};

static int bad(struct reader *r, const char *key, const char *what)
{
    return kiln_err_set(r->err, KILN_E_INVALID,
                        "%s is damaged: %s.%s %s; kilnd will not start on it (kiln cloud recover "
                        "starts from its previous generation, cloud.json.prev, or rebuilds "
                        "what the disk holds)",
                        r->file, r->where, key, what);
}

static int get_str(struct reader *r, const cJSON *o, const char *key, char *buf, size_t size,
                   bool required)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL && !required) {
        buf[0] = '\0';
        return 0;
    }
    if (!cJSON_IsString(v))
        return bad(r, key, "is missing or not a string");
    if (strlen(v->valuestring) >= size)
        return bad(r, key, "is too long");
    strcpy(buf, v->valuestring);
    return 0;
}

static int get_num(struct reader *r, const cJSON *o, const char *key, double lo, double hi,
                   double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        return bad(r, key, "is missing or not a number");
    if (v->valuedouble < lo || v->valuedouble > hi)
        return bad(r, key, "is out of range");
    *out = v->valuedouble;
    return 0;
}

static int get_int(struct reader *r, const cJSON *o, const char *key, int lo, int hi, int *out)
{
    double d;
    if (get_num(r, o, key, lo, hi, &d) < 0)
        return -1;
    *out = (int)d;
    return 0;
}

static int get_i64(struct reader *r, const cJSON *o, const char *key, int64_t *out)
{
    double d;
    if (get_num(r, o, key, 0, 9.0e15, &d) < 0)
        return -1;
    *out = (int64_t)d;
    return 0;
}

static int read_cluster(struct reader *r, const cJSON *o, struct cloud_cluster *x)
{
    char buf[64];
    if (get_str(r, o, "app", x->app, sizeof x->app, true) < 0 ||
        get_str(r, o, "env", x->env, sizeof x->env, true) < 0 ||
        get_int(r, o, "port", 0, 65535, &x->port) < 0 ||
        get_str(r, o, "protocol", x->protocol, sizeof x->protocol, true) < 0 ||
        get_i64(r, o, "created_us", &x->created_us) < 0)
        return -1;
    if (kiln_name_validate_app(x->app, NULL) < 0 || kiln_name_validate_env(x->env, NULL) < 0)
        return bad(r, "app", "is not a valid app or env name");
    kiln_cluster_name_format(x->name, sizeof x->name, x->app, x->env);
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(o, "start");
    if (!cJSON_IsArray(start) || cJSON_GetArraySize(start) < 1 ||
        cJSON_GetArraySize(start) > CLOUD_START_ARGS_MAX)
        return bad(r, "start", "is not an array of 1 to 16 strings");
    int i = 0;
    const cJSON *arg;
    cJSON_ArrayForEach(arg, start)
    {
        if (!cJSON_IsString(arg))
            return bad(r, "start", "holds something that is not a string");
        x->start[i++] = xstrdup(arg->valuestring);
    }
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "health");
    if (!cJSON_IsObject(h))
        return bad(r, "health", "is missing");
    if (get_str(r, h, "path", x->health_path, sizeof x->health_path, true) < 0 ||
        get_i64(r, h, "interval_ms", &x->health_interval_ms) < 0 ||
        get_i64(r, h, "timeout_ms", &x->health_timeout_ms) < 0 ||
        get_int(r, h, "healthy", 1, 100, &x->healthy_threshold) < 0 ||
        get_int(r, h, "unhealthy", 1, 100, &x->unhealthy_threshold) < 0)
        return -1;
    /* Absent in a state written before the grace period existed: none, as then. */
    if (cJSON_GetObjectItemCaseSensitive(h, "grace_ms") != NULL &&
        get_i64(r, h, "grace_ms", &x->health_grace_ms) < 0)
        return -1;
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(o, "chaos");
    if (cJSON_IsObject(ch)) {
        x->chaos_enabled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ch, "enabled"));
        if (get_i64(r, ch, "mean_ms", &x->chaos_mean_ms) < 0 ||
            get_i64(r, ch, "min_ms", &x->chaos_min_ms) < 0 ||
            get_i64(r, ch, "last_kill_us", &x->chaos_last_kill_us) < 0)
            return -1;
    }
    (void)buf;
    return 0;
}

static int read_group(struct reader *r, const cJSON *o, struct cloud_group *x)
{
    if (get_str(r, o, "name", x->name, sizeof x->name, true) < 0 ||
        get_str(r, o, "image", x->image, sizeof x->image, true) < 0 ||
        get_int(r, o, "min", 0, 1000, &x->min_size) < 0 ||
        get_int(r, o, "max", 0, 1000, &x->max_size) < 0 ||
        get_int(r, o, "desired", 0, 1000, &x->desired) < 0 ||
        get_i64(r, o, "created_us", &x->created_us) < 0 ||
        get_str(r, o, "previous", x->previous, sizeof x->previous, false) < 0)
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(o, "rejected_us") != NULL &&
        get_i64(r, o, "rejected_us", &x->rejected_us) < 0)
        return -1;
    if (x->previous[0] && kiln_group_name_parse(x->previous, NULL, NULL) < 0)
        return bad(r, "previous", "is not a server group name (app-env-vNNN)");
    struct kiln_group_name gn;
    if (kiln_group_name_parse(x->name, &gn, NULL) < 0)
        return bad(r, "name", "is not a server group name (app-env-vNNN)");
    kiln_cluster_name_format(x->cluster, sizeof x->cluster, gn.app, gn.env);
    x->version = gn.version;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "suspended");
    if (!cJSON_IsArray(s))
        return bad(r, "suspended", "is not an array");
    const cJSON *p;
    cJSON_ArrayForEach(p, s)
    {
        enum kiln_process proc;
        if (!cJSON_IsString(p) || kiln_process_parse(p->valuestring, &proc, NULL) < 0)
            return bad(r, "suspended", "names an unknown process");
        x->suspended |= proc;
    }
    return 0;
}

static int read_instance(struct reader *r, const cJSON *o, struct cloud_instance *x)
{
    char state[24], health[24], lb[24];
    int64_t ticks;
    if (get_str(r, o, "id", x->id, sizeof x->id, true) < 0 ||
        get_str(r, o, "group", x->group, sizeof x->group, true) < 0 ||
        get_int(r, o, "port", 0, 65535, &x->port) < 0 ||
        get_int(r, o, "pid", 0, 1 << 30, &x->pid) < 0 || get_i64(r, o, "start_ticks", &ticks) < 0 ||
        get_str(r, o, "state", state, sizeof state, true) < 0 ||
        get_str(r, o, "health", health, sizeof health, true) < 0 ||
        get_str(r, o, "lb_state", lb, sizeof lb, true) < 0 ||
        get_i64(r, o, "launched_us", &x->launched_us) < 0 ||
        get_i64(r, o, "healthy_us", &x->healthy_us) < 0 ||
        get_i64(r, o, "terminated_us", &x->terminated_us) < 0 ||
        get_str(r, o, "cause", x->cause, sizeof x->cause, false) < 0 ||
        get_int(r, o, "exit_status", -1, 1000, &x->exit_status) < 0 ||
        get_str(r, o, "replaces", x->replaces, sizeof x->replaces, false) < 0)
        return -1;
    x->start_ticks = (unsigned long long)ticks;
    if (kiln_instance_id_validate(x->id, NULL) < 0)
        return bad(r, "id", "is not an instance id");
    if (kiln_instance_state_parse(state, &x->state, NULL) < 0)
        return bad(r, "state", "is not an instance state");
    if (kiln_health_parse(health, &x->health, NULL) < 0)
        return bad(r, "health", "is not a health");
    if (kiln_lb_state_parse(lb, &x->lb_state, NULL) < 0)
        return bad(r, "lb_state", "is not a load balancer state");
    return 0;
}

static int read_image(struct reader *r, const cJSON *o, struct cloud_image *x)
{
    if (get_str(r, o, "id", x->id, sizeof x->id, true) < 0 ||
        get_str(r, o, "package", x->package, sizeof x->package, true) < 0 ||
        get_str(r, o, "app", x->app, sizeof x->app, false) < 0 ||
        get_i64(r, o, "created_us", &x->created_us) < 0)
        return -1;
    if (kiln_image_id_validate(x->id, NULL) < 0)
        return bad(r, "id", "is not an image id");
    /* kind, base and services came with root images: a state without them is older. */
    cloud_image_from_record(o, x);
    if (cloud_image_is_root(x) && x->base[0] == '\0')
        return bad(r, "base", "is missing for a root image");
    return 0;
}

static int read_package(struct reader *r, const cJSON *o, struct cloud_package *x)
{
    if (get_str(r, o, "nvr", x->nvr, sizeof x->nvr, true) < 0 ||
        get_str(r, o, "name", x->name, sizeof x->name, true) < 0 ||
        get_str(r, o, "file", x->file, sizeof x->file, true) < 0 ||
        get_i64(r, o, "created_us", &x->created_us) < 0)
        return -1;
    if (strchr(x->file, '/') != NULL || x->file[0] == '.')
        return bad(r, "file", "is not a plain file name");
    return 0;
}

static int read_lock(struct reader *r, const cJSON *o, struct cloud_lock *x)
{
    int64_t ticks, job;
    if (get_str(r, o, "cluster", x->cluster, sizeof x->cluster, true) < 0 ||
        get_str(r, o, "user", x->user, sizeof x->user, true) < 0 ||
        get_str(r, o, "host", x->host, sizeof x->host, true) < 0 ||
        get_int(r, o, "pid", 0, 1 << 30, &x->pid) < 0 ||
        get_i64(r, o, "pid_start_ticks", &ticks) < 0 || get_i64(r, o, "job", &job) < 0 ||
        get_str(r, o, "what", x->what, sizeof x->what, true) < 0 ||
        get_i64(r, o, "since_us", &x->since_us) < 0)
        return -1;
    x->pid_start_ticks = (unsigned long long)ticks;
    x->job = (uint64_t)job;
    return 0;
}

/* Reads array `key` of root, each element with fn into a fresh calloc'd struct that
 * add() takes. */
#define READ_ARRAY(r, root, key, type, fn, add)                                                    \
    do {                                                                                           \
        const cJSON *arr_ = cJSON_GetObjectItemCaseSensitive(root, key);                           \
        if (!cJSON_IsArray(arr_)) {                                                                \
            bad(r, key, "is missing or not an array");                                             \
            goto fail; /* frees root and what was read so far */                                   \
        }                                                                                          \
        int i_ = 0;                                                                                \
        const cJSON *el_;                                                                          \
        cJSON_ArrayForEach(el_, arr_)                                                              \
        {                                                                                          \
            snprintf((r)->where, sizeof(r)->where, "%s[%d]", key, i_++);                           \
            type *x_ = xcalloc(1, sizeof *x_);                                                     \
            if (!cJSON_IsObject(el_) || fn(r, el_, x_) < 0) {                                      \
                if (!cJSON_IsObject(el_))                                                          \
                    bad(r, "", "is not an object");                                                \
                add(&tmp, x_);                                                                     \
                goto fail;                                                                         \
            }                                                                                      \
            add(&tmp, x_);                                                                         \
        }                                                                                          \
    } while (0)

static void move_state(struct cloud *to, struct cloud *from)
{
    to->clusters = from->clusters;
    to->groups = from->groups;
    to->instances = from->instances;
    to->images = from->images;
    to->packages = from->packages;
    to->locks = from->locks;
}

static void add_lock(struct cloud *c, struct cloud_lock *x)
{
    if (c->locks.n == c->locks.cap) {
        c->locks.cap = c->locks.cap ? c->locks.cap * 2 : 8;
        c->locks.v = xrealloc(c->locks.v, c->locks.cap * sizeof *c->locks.v);
    }
    c->locks.v[c->locks.n++] = x;
}

int cloud_store_load_file(struct cloud *c, const char *file, struct kiln_err *err)
{
    char *text = NULL;
    size_t len = 0;
    struct kiln_err rerr = {0};
    if (kiln_read_file(file, &text, &len, STORE_MAX_BYTES, &rerr) < 0) {
        if (rerr.code == KILN_E_NOTFOUND)
            return 0;
        if (err != NULL)
            *err = rerr;
        return -1;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    struct reader r = {.file = file, .where = "top", .err = err};
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return kiln_err_set(err, KILN_E_INVALID,
                            "%s is damaged: it is not a JSON object; kilnd will not start on it "
                            "(kiln cloud recover starts from its previous generation, "
                            "cloud.json.prev, or rebuilds what the disk holds)",
                            file);
    }
    int version = 0;
    if (get_int(&r, root, "version", 1, 1000, &version) < 0) {
        cJSON_Delete(root);
        return -1;
    }
    if (version != STORE_VERSION) {
        cJSON_Delete(root);
        return kiln_err_set(err, KILN_E_INVALID,
                            "%s was written by another kilnd (state version %d, this one reads "
                            "%d); use the kiln that wrote it",
                            file, version, STORE_VERSION);
    }

    /* Read everything into a scratch cloud: on any error nothing of it is kept. */
    struct cloud tmp;
    memset(&tmp, 0, sizeof tmp);
    READ_ARRAY(&r, root, "clusters", struct cloud_cluster, read_cluster, cloud_add_cluster);
    READ_ARRAY(&r, root, "groups", struct cloud_group, read_group, cloud_add_group);
    READ_ARRAY(&r, root, "instances", struct cloud_instance, read_instance, cloud_add_instance);
    READ_ARRAY(&r, root, "images", struct cloud_image, read_image, cloud_add_image);
    READ_ARRAY(&r, root, "packages", struct cloud_package, read_package, cloud_add_package);
    READ_ARRAY(&r, root, "locks", struct cloud_lock, read_lock, add_lock);
    cJSON_Delete(root);
    move_state(c, &tmp);
    c->dirty = false;
    return 0;

fail:
    cJSON_Delete(root);
    /* cloud_free's array part only; tmp's mutex was never initialised. */
    for (size_t i = 0; i < tmp.clusters.n; i++) {
        for (int j = 0; tmp.clusters.v[i]->start[j] != NULL; j++)
            free(tmp.clusters.v[i]->start[j]);
        free(tmp.clusters.v[i]);
    }
    free(tmp.clusters.v);
#define FREE_PLAIN(a)                                                                              \
    do {                                                                                           \
        for (size_t i = 0; i < (a).n; i++)                                                         \
            free((a).v[i]);                                                                        \
        free((a).v);                                                                               \
    } while (0)
    FREE_PLAIN(tmp.groups);
    FREE_PLAIN(tmp.instances);
    FREE_PLAIN(tmp.images);
    FREE_PLAIN(tmp.packages);
    FREE_PLAIN(tmp.locks);
#undef FREE_PLAIN
    return -1;
}

int cloud_store_load(struct cloud *c, struct kiln_err *err)
{
    return cloud_store_load_file(c, c->paths.cloud_json, err);
}
