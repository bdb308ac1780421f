/* kiln: the inventory snapshot and the model that publishes it (see include/kiln/model.h). */
#include "kiln/model.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln/names.h"
#include "kiln/xalloc.h"

/* ---- enum names ---- */

#define NAME_(id, name) name,
static const char *const instance_state_names[] = {KILN_INSTANCE_STATES(NAME_)};
static const char *const health_names[] = {KILN_HEALTHS(NAME_)};
static const char *const lb_state_names[] = {KILN_LB_STATES(NAME_)};
#undef NAME_

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *kiln_instance_state_name(enum kiln_instance_state state)
{
    return (unsigned)state < COUNT(instance_state_names) ? instance_state_names[state] : "?";
}

const char *kiln_health_name(enum kiln_health health)
{
    return (unsigned)health < COUNT(health_names) ? health_names[health] : "?";
}

const char *kiln_lb_state_name(enum kiln_lb_state state)
{
    return (unsigned)state < COUNT(lb_state_names) ? lb_state_names[state] : "?";
}

static int parse_name(const char *const *names, size_t n, const char *what, const char *s, int *out,
                      struct kiln_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (s != NULL && strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    char list[256] = "", q[KILN_QUOTE_SIZE];
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof list; i++) {
        int w = snprintf(list + len, sizeof list - len, "%s%s",
                         i == 0       ? ""
                         : i + 1 == n ? " or "
                                      : ", ",
                         names[i]);
        len += w > 0 ? (size_t)w : 0;
    }
    return kiln_err_set(err, KILN_E_INVALID, "unknown %s %s: expected %s", what,
                        kiln_name_quote(s, q, sizeof q), list);
}

int kiln_instance_state_parse(const char *s, enum kiln_instance_state *out, struct kiln_err *err)
{
    int v = 0;
    if (parse_name(instance_state_names, COUNT(instance_state_names), "instance state", s, &v,
                   err) < 0)
        return -1;
    *out = (enum kiln_instance_state)v;
    return 0;
}

int kiln_health_parse(const char *s, enum kiln_health *out, struct kiln_err *err)
{
    int v = 0;
    if (parse_name(health_names, COUNT(health_names), "health", s, &v, err) < 0)
        return -1;
    *out = (enum kiln_health)v;
    return 0;
}

int kiln_lb_state_parse(const char *s, enum kiln_lb_state *out, struct kiln_err *err)
{
    int v = 0;
    if (parse_name(lb_state_names, COUNT(lb_state_names), "load balancer state", s, &v, err) < 0)
        return -1;
    *out = (enum kiln_lb_state)v;
    return 0;
}

/* ---- the arena ---- */

/* Big enough that malloc overhead is nothing, small enough that an empty snapshot
 * costs little and glibc serves it from the heap rather than a fresh mmap. */
#define CHUNK_SIZE (64 * 1024)

struct chunk {
    struct chunk *next;
    size_t size, used;
    max_align_t data[];
};

struct arena {
    struct chunk *head; /* the chunk being filled */
    size_t bytes;       /* all chunks, headers included */
};

/* Zeroed memory that lives until arena_free. */
static void *arena_alloc(struct arena *a, size_t size, size_t align)
{
    struct chunk *c = a->head;
    if (c != NULL) {
        size_t off = (c->used + align - 1) & ~(align - 1);
        if (off <= c->size && size <= c->size - off) {
            c->used = off + size;
            return memset((char *)c->data + off, 0, size);
        }
    }
    size_t cap = CHUNK_SIZE - sizeof(struct chunk);
    bool alone = size > cap / 4;
    if (alone)
        cap = size;
    struct chunk *n = xmalloc(sizeof *n + cap);
    n->size = cap;
    n->used = size;
    a->bytes += sizeof *n + cap;
    /* A big block gets a chunk of its own, put behind the current one so that the
     * current one's free space is still used. */
    if (alone && c != NULL) {
        n->next = c->next;
        c->next = n;
    } else {
        n->next = c;
        a->head = n;
    }
    return memset(n->data, 0, size);
}

#define ARENA_NEW(a, type) ((type *)arena_alloc((a), sizeof(type), _Alignof(type)))
#define ARENA_ARRAY(a, type, n)                                                                    \
    ((type *)arena_alloc((a), (n) * sizeof(type) + ((n) == 0), _Alignof(type)))

static const char *arena_strdup(struct arena *a, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return "";
    size_t n = strlen(s) + 1;
    return memcpy(arena_alloc(a, n, 1), s, n);
}

static void arena_free(struct arena *a)
{
    for (struct chunk *c = a->head, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
    a->bytes = 0;
}

/* ---- the snapshot ---- */

/* Growable pointer lists, used only while building. */
struct vec {
    void **v;
    size_t n, cap;
};

static void vec_push(struct vec *v, void *p)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->v = xrealloc(v->v, v->cap * sizeof *v->v);
    }
    v->v[v->n++] = p;
}

static void vec_free(struct vec *v)
{
    free(v->v);
    memset(v, 0, sizeof *v);
}

struct snapshot_impl {
    struct kiln_snapshot pub;
    atomic_uint refs;
    atomic_bool published;
    bool finished;
    bool broken;    /* finish failed half-way; only release is left */
    bool is_static; /* the empty snapshot of a new model: never freed */
    struct arena arena;
    struct vec apps, envs, groups, instances, images, packages, lbs;
    const struct kiln_image *const *images_by_id;
    const struct kiln_package *const *packages_by_nvr;
};

static struct snapshot_impl *impl_of(const struct kiln_snapshot *snap)
{
    return (struct snapshot_impl *)((char *)snap - offsetof(struct snapshot_impl, pub));
}

static struct snapshot_impl empty_snapshot = {.finished = true, .is_static = true};

struct kiln_snapshot *kiln_snapshot_new(void)
{
    struct snapshot_impl *s = xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    atomic_init(&s->published, false);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->pub.built_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    return &s->pub;
}

static void snapshot_destroy(struct snapshot_impl *s)
{
    struct vec *vecs[] = {&s->apps,   &s->envs,     &s->groups, &s->instances,
                          &s->images, &s->packages, &s->lbs};
    for (size_t i = 0; i < COUNT(vecs); i++)
        vec_free(vecs[i]);
    arena_free(&s->arena);
    free(s);
}

const struct kiln_snapshot *kiln_snapshot_ref(const struct kiln_snapshot *snap)
{
    struct snapshot_impl *s = impl_of(snap);
    if (!s->is_static)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return snap;
}

void kiln_snapshot_release(const struct kiln_snapshot *snap)
{
    if (snap == NULL)
        return;
    struct snapshot_impl *s = impl_of(snap);
    if (s->is_static)
        return;
    /* acq_rel: every reader's last use happens before the thread that frees. */
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        snapshot_destroy(s);
}

size_t kiln_snapshot_memory(const struct kiln_snapshot *snap)
{
    const struct snapshot_impl *s = impl_of(snap);
    if (s->is_static)
        return 0;
    size_t n = sizeof *s + s->arena.bytes;
    const struct vec *vecs[] = {&s->apps,   &s->envs,     &s->groups, &s->instances,
                                &s->images, &s->packages, &s->lbs};
    for (size_t i = 0; i < COUNT(vecs); i++)
        n += vecs[i]->cap * sizeof(void *);
    return n;
}

/* ---- building ---- */

static int check_building(struct snapshot_impl *s, struct kiln_err *err)
{
    if (!s->finished && !s->broken)
        return 0;
    return kiln_err_set(err, KILN_E_FAILED,
                        "cannot add to a snapshot that is already finished; build a new one");
}

struct kiln_app *kiln_snapshot_add_app(struct kiln_snapshot *snap, const char *name,
                                       struct kiln_err *err)
{
    struct snapshot_impl *s = impl_of(snap);
    if (check_building(s, err) < 0 || kiln_name_validate_app(name, err) < 0)
        return NULL;
    struct kiln_app *app = ARENA_NEW(&s->arena, struct kiln_app);
    app->name = arena_strdup(&s->arena, name);
    vec_push(&s->apps, app);
    return app;
}

struct kiln_env *kiln_snapshot_add_env(struct kiln_snapshot *snap, struct kiln_app *app,
                                       const struct kiln_env *tmpl, struct kiln_err *err)
{
    struct snapshot_impl *s = impl_of(snap);
    if (check_building(s, err) < 0 || kiln_name_validate_env(tmpl->name, err) < 0)
        return NULL;
    struct kiln_env *env = ARENA_NEW(&s->arena, struct kiln_env);
    char cluster[KILN_CLUSTER_SIZE];
    kiln_cluster_name_format(cluster, sizeof cluster, app->name, tmpl->name);
    env->name = arena_strdup(&s->arena, tmpl->name);
    env->cluster = arena_strdup(&s->arena, cluster);
    env->app = app;
    env->lb_name = arena_strdup(&s->arena, tmpl->lb_name);
    env->lb_dns = arena_strdup(&s->arena, tmpl->lb_dns);
    env->health = tmpl->health;
    env->health.path = arena_strdup(&s->arena, tmpl->health.path);
    env->chaos_enabled = tmpl->chaos_enabled;
    env->chaos_mean_ms = tmpl->chaos_mean_ms;
    env->chaos_min_ms = tmpl->chaos_min_ms;
    env->lock = tmpl->lock ? arena_strdup(&s->arena, tmpl->lock) : NULL;
    vec_push(&s->envs, env);
    return env;
}

struct kiln_group *kiln_snapshot_add_group(struct kiln_snapshot *snap, struct kiln_env *env,
                                           const struct kiln_group *tmpl, struct kiln_err *err)
{
    struct snapshot_impl *s = impl_of(snap);
    char name[KILN_GROUP_SIZE];
    if (check_building(s, err) < 0)
        return NULL;
    if (kiln_group_name_format(name, sizeof name, env->app->name, env->name, tmpl->version) < 0) {
        kiln_err_set(err, KILN_E_INVALID,
                     "server group version %d of %s is not valid: versions run from 0 to %d",
                     tmpl->version, env->cluster, KILN_VERSION_COUNT - 1);
        return NULL;
    }
    struct kiln_group *g = ARENA_NEW(&s->arena, struct kiln_group);
    g->version = tmpl->version;
    g->enabled = tmpl->enabled;
    g->image_id = arena_strdup(&s->arena, tmpl->image_id);
    g->package = arena_strdup(&s->arena, tmpl->package);
    g->previous = arena_strdup(&s->arena, tmpl->previous ? tmpl->previous : "");
    g->min_size = tmpl->min_size;
    g->max_size = tmpl->max_size;
    g->desired = tmpl->desired;
    g->created_us = tmpl->created_us;
    g->suspended = tmpl->suspended;
    g->rejected_us = tmpl->rejected_us;
    g->failing = arena_strdup(&s->arena, tmpl->failing);
    g->name = arena_strdup(&s->arena, name);
    g->env = env;
    vec_push(&s->groups, g);
    return g;
}

struct kiln_instance *kiln_snapshot_add_instance(struct kiln_snapshot *snap,
                                                 struct kiln_group *group,
                                                 const struct kiln_instance *tmpl,
                                                 struct kiln_err *err)
{
    struct snapshot_impl *s = impl_of(snap);
    if (check_building(s, err) < 0 || kiln_instance_id_validate(tmpl->id, err) < 0)
        return NULL;
    if ((unsigned)tmpl->state >= KILN_INSTANCE_STATE_COUNT ||
        (unsigned)tmpl->health >= KILN_HEALTH_COUNT ||
        (unsigned)tmpl->lb_state >= KILN_LB_STATE_COUNT) {
        kiln_err_set(err, KILN_E_INVALID,
                     "instance %s has a state, health or load balancer state out of range "
                     "(%d, %d, %d)",
                     tmpl->id, (int)tmpl->state, (int)tmpl->health, (int)tmpl->lb_state);
        return NULL;
    }
    struct kiln_instance *i = ARENA_NEW(&s->arena, struct kiln_instance);
    *i = *tmpl;
    i->id = arena_strdup(&s->arena, tmpl->id);
    i->address = arena_strdup(&s->arena, tmpl->address);
    i->health_detail = tmpl->health_detail ? arena_strdup(&s->arena, tmpl->health_detail) : NULL;
    i->group = group;
    vec_push(&s->instances, i);
    return i;
}

struct kiln_image *kiln_snapshot_add_image(struct kiln_snapshot *snap,
                                           const struct kiln_image *tmpl, struct kiln_err *err)
{
    struct snapshot_impl *s = impl_of(snap);
    if (check_building(s, err) < 0 || kiln_image_id_validate(tmpl->id, err) < 0)
        return NULL;
    struct kiln_image *im = ARENA_NEW(&s->arena, struct kiln_image);
    im->id = arena_strdup(&s->arena, tmpl->id);
    im->package = arena_strdup(&s->arena, tmpl->package);
    im->created_us = tmpl->created_us;
    vec_push(&s->images, im);
    return im;
}

struct kiln_package *kiln_snapshot_add_package(struct kiln_snapshot *snap,
                                               const struct kiln_package *tmpl,
                                               struct kiln_err *err)
{
    struct snapshot_impl *s = impl_of(snap);
    if (check_building(s, err) < 0 || kiln_package_nvr_validate(tmpl->nvr, err) < 0)
        return NULL;
    struct kiln_package *p = ARENA_NEW(&s->arena, struct kiln_package);
    p->nvr = arena_strdup(&s->arena, tmpl->nvr);
    p->file = arena_strdup(&s->arena, tmpl->file);
    p->created_us = tmpl->created_us;
    vec_push(&s->packages, p);
    return p;
}

struct kiln_lb *kiln_snapshot_add_lb(struct kiln_snapshot *snap, const struct kiln_lb *tmpl,
                                     struct kiln_err *err)
{
    struct snapshot_impl *s = impl_of(snap);
    char q[KILN_QUOTE_SIZE];
    if (check_building(s, err) < 0)
        return NULL;
    if (tmpl->name == NULL || tmpl->name[0] == '\0' || !kiln_text_printable(tmpl->name) ||
        strpbrk(tmpl->name, " \t") != NULL) {
        kiln_err_set(err, KILN_E_INVALID,
                     "load balancer name %s is not valid: it must be one word of plain text",
                     kiln_name_quote(tmpl->name, q, sizeof q));
        return NULL;
    }
    struct kiln_lb *lb = ARENA_NEW(&s->arena, struct kiln_lb);
    lb->name = arena_strdup(&s->arena, tmpl->name);
    lb->dns = arena_strdup(&s->arena, tmpl->dns);
    lb->app = arena_strdup(&s->arena, tmpl->app);
    lb->env = arena_strdup(&s->arena, tmpl->env);
    lb->port = tmpl->port;
    vec_push(&s->lbs, lb);
    return lb;
}

/* ---- finishing ---- */

#define PTR(type, p) (*(type *const *)(p))

static int cmp_app(const void *a, const void *b)
{
    return strcmp(PTR(struct kiln_app, a)->name, PTR(struct kiln_app, b)->name);
}

static int cmp_env(const void *a, const void *b)
{
    return strcmp(PTR(struct kiln_env, a)->name, PTR(struct kiln_env, b)->name);
}

static int cmp_group_name(const void *a, const void *b)
{
    return strcmp(PTR(struct kiln_group, a)->name, PTR(struct kiln_group, b)->name);
}

/* Newest first. Versions wrap at 999, so the creation time decides; the version
 * only breaks ties between groups created in the same µs. */
static int cmp_group_newest(const void *a, const void *b)
{
    const struct kiln_group *x = PTR(struct kiln_group, a), *y = PTR(struct kiln_group, b);
    if (x->created_us != y->created_us)
        return x->created_us > y->created_us ? -1 : 1;
    return y->version - x->version;
}

static int cmp_instance(const void *a, const void *b)
{
    return strcmp(PTR(struct kiln_instance, a)->id, PTR(struct kiln_instance, b)->id);
}

static int cmp_image_id(const void *a, const void *b)
{
    return strcmp(PTR(struct kiln_image, a)->id, PTR(struct kiln_image, b)->id);
}

static int cmp_image_newest(const void *a, const void *b)
{
    const struct kiln_image *x = PTR(struct kiln_image, a), *y = PTR(struct kiln_image, b);
    if (x->created_us != y->created_us)
        return x->created_us > y->created_us ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int cmp_package_nvr(const void *a, const void *b)
{
    return strcmp(PTR(struct kiln_package, a)->nvr, PTR(struct kiln_package, b)->nvr);
}

static int cmp_package_newest(const void *a, const void *b)
{
    const struct kiln_package *x = PTR(struct kiln_package, a), *y = PTR(struct kiln_package, b);
    if (x->created_us != y->created_us)
        return x->created_us > y->created_us ? -1 : 1;
    return strcmp(x->nvr, y->nvr);
}

static int cmp_lb(const void *a, const void *b)
{
    return strcmp(PTR(struct kiln_lb, a)->name, PTR(struct kiln_lb, b)->name);
}

/* Sorts v and reports the first pair that compares equal. */
static int sort_unique(void **v, size_t n, int (*cmp)(const void *, const void *),
                       const char *(*key)(const void *), const char *what, struct kiln_err *err)
{
    if (n > 1)
        qsort(v, n, sizeof *v, cmp);
    for (size_t i = 1; i < n; i++) {
        if (cmp(&v[i - 1], &v[i]) == 0) {
            char q[KILN_QUOTE_SIZE];
            return kiln_err_set(err, KILN_E_INVALID,
                                "the inventory lists %s %s twice, so kiln cannot tell them "
                                "apart; refresh, and if it stays, check the provider's state",
                                what, kiln_name_quote(key(v[i]), q, sizeof q));
        }
    }
    return 0;
}

static const char *app_key(const void *p)
{
    return ((const struct kiln_app *)p)->name;
}

static const char *env_key(const void *p)
{
    return ((const struct kiln_env *)p)->cluster;
}

static const char *group_key(const void *p)
{
    return ((const struct kiln_group *)p)->name;
}

static const char *instance_key(const void *p)
{
    return ((const struct kiln_instance *)p)->id;
}

static const char *image_key(const void *p)
{
    return ((const struct kiln_image *)p)->id;
}

static const char *package_key(const void *p)
{
    return ((const struct kiln_package *)p)->nvr;
}

static const char *lb_key(const void *p)
{
    return ((const struct kiln_lb *)p)->name;
}

/* A copy of a build list in the arena, so that the finished snapshot is one
 * arena and nothing else. */
static const void *const *freeze(struct arena *a, struct vec *v)
{
    void **out = ARENA_ARRAY(a, void *, v->n);
    if (v->n > 0)
        memcpy(out, v->v, v->n * sizeof *out);
    return (const void *const *)out;
}

int kiln_snapshot_finish(struct kiln_snapshot *snap, struct kiln_err *err)
{
    struct snapshot_impl *s = impl_of(snap);
    struct arena *a = &s->arena;

    if (s->finished)
        return 0;
    if (s->broken)
        return kiln_err_set(err, KILN_E_FAILED,
                            "this snapshot could not be finished before; build a new one");
    s->broken = true; /* until we get to the end */

    if (sort_unique(s->apps.v, s->apps.n, cmp_app, app_key, "app", err) < 0 ||
        sort_unique(s->groups.v, s->groups.n, cmp_group_name, group_key, "server group", err) < 0 ||
        sort_unique(s->instances.v, s->instances.n, cmp_instance, instance_key, "instance", err) <
            0 ||
        sort_unique(s->lbs.v, s->lbs.n, cmp_lb, lb_key, "load balancer", err) < 0)
        return -1;

    /* Children into their parents: count, allocate, fill (n counts up again). */
    for (size_t i = 0; i < s->envs.n; i++)
        ((struct kiln_app *)((struct kiln_env *)s->envs.v[i])->app)->n_envs++;
    for (size_t i = 0; i < s->apps.n; i++) {
        struct kiln_app *app = s->apps.v[i];
        app->envs = ARENA_ARRAY(a, const struct kiln_env *, app->n_envs);
        app->n_envs = 0;
    }
    for (size_t i = 0; i < s->envs.n; i++) {
        struct kiln_env *env = s->envs.v[i];
        struct kiln_app *app = (struct kiln_app *)env->app;
        ((const struct kiln_env **)app->envs)[app->n_envs++] = env;
    }
    for (size_t i = 0; i < s->apps.n; i++) {
        struct kiln_app *app = s->apps.v[i];
        if (sort_unique((void **)app->envs, app->n_envs, cmp_env, env_key, "cluster", err) < 0)
            return -1;
    }

    for (size_t i = 0; i < s->groups.n; i++)
        ((struct kiln_env *)((struct kiln_group *)s->groups.v[i])->env)->n_groups++;
    for (size_t i = 0; i < s->envs.n; i++) {
        struct kiln_env *env = s->envs.v[i];
        env->groups = ARENA_ARRAY(a, const struct kiln_group *, env->n_groups);
        env->n_groups = 0;
    }
    for (size_t i = 0; i < s->groups.n; i++) {
        struct kiln_group *g = s->groups.v[i];
        struct kiln_env *env = (struct kiln_env *)g->env;
        ((const struct kiln_group **)env->groups)[env->n_groups++] = g;
    }
    for (size_t i = 0; i < s->envs.n; i++) {
        struct kiln_env *env = s->envs.v[i];
        if (env->n_groups > 1)
            qsort((void *)env->groups, env->n_groups, sizeof *env->groups, cmp_group_newest);
    }

    /* Instances are sorted by id already, so each group's list is too. */
    for (size_t i = 0; i < s->instances.n; i++)
        ((struct kiln_group *)((struct kiln_instance *)s->instances.v[i])->group)->n_instances++;
    for (size_t i = 0; i < s->groups.n; i++) {
        struct kiln_group *g = s->groups.v[i];
        g->instances = ARENA_ARRAY(a, const struct kiln_instance *, g->n_instances);
        g->n_instances = 0;
    }
    for (size_t i = 0; i < s->instances.n; i++) {
        struct kiln_instance *in = s->instances.v[i];
        struct kiln_group *g = (struct kiln_group *)in->group;
        ((const struct kiln_instance **)g->instances)[g->n_instances++] = in;
        g->running += in->state == KILN_INSTANCE_RUNNING;
        g->healthy += in->health == KILN_HEALTH_HEALTHY;
        g->in_service += in->lb_state == KILN_LB_IN_SERVICE;
    }

    /* Images and packages: shown newest first, looked up through an index. */
    struct vec by_id = {0};
    for (size_t i = 0; i < s->images.n; i++)
        vec_push(&by_id, s->images.v[i]);
    int rc = sort_unique(by_id.v, by_id.n, cmp_image_id, image_key, "image", err);
    s->images_by_id = (const struct kiln_image *const *)freeze(a, &by_id);
    vec_free(&by_id);
    if (rc < 0)
        return -1;
    for (size_t i = 0; i < s->packages.n; i++)
        vec_push(&by_id, s->packages.v[i]);
    rc = sort_unique(by_id.v, by_id.n, cmp_package_nvr, package_key, "package", err);
    s->packages_by_nvr = (const struct kiln_package *const *)freeze(a, &by_id);
    vec_free(&by_id);
    if (rc < 0)
        return -1;
    if (s->images.n > 1)
        qsort(s->images.v, s->images.n, sizeof(void *), cmp_image_newest);
    if (s->packages.n > 1)
        qsort(s->packages.v, s->packages.n, sizeof(void *), cmp_package_newest);

    struct kiln_snapshot *p = &s->pub;
    p->apps = (const struct kiln_app *const *)freeze(a, &s->apps);
    p->n_apps = s->apps.n;
    p->groups = (const struct kiln_group *const *)freeze(a, &s->groups);
    p->n_groups = s->groups.n;
    p->instances = (const struct kiln_instance *const *)freeze(a, &s->instances);
    p->n_instances = s->instances.n;
    p->images = (const struct kiln_image *const *)freeze(a, &s->images);
    p->n_images = s->images.n;
    p->packages = (const struct kiln_package *const *)freeze(a, &s->packages);
    p->n_packages = s->packages.n;
    p->lbs = (const struct kiln_lb *const *)freeze(a, &s->lbs);
    p->n_lbs = s->lbs.n;

    /* Cross links, now that lookups work. */
    for (size_t i = 0; i < s->groups.n; i++) {
        struct kiln_group *g = s->groups.v[i];
        g->image = g->image_id[0] != '\0' ? kiln_snapshot_find_image(p, g->image_id) : NULL;
    }
    for (size_t i = 0; i < s->envs.n; i++) {
        struct kiln_env *env = s->envs.v[i];
        env->lb = env->lb_name[0] != '\0' ? kiln_snapshot_find_lb(p, env->lb_name) : NULL;
    }
    for (size_t i = 0; i < s->lbs.n; i++) {
        struct kiln_lb *lb = s->lbs.v[i];
        lb->cluster = kiln_snapshot_find_env(p, lb->app, lb->env);
    }

    struct vec *vecs[] = {&s->apps,   &s->envs,     &s->groups, &s->instances,
                          &s->images, &s->packages, &s->lbs};
    for (size_t i = 0; i < COUNT(vecs); i++)
        vec_free(vecs[i]);
    s->broken = false;
    s->finished = true;
    return 0;
}

/* ---- lookups ---- */

/* Binary search of a sorted pointer array whose elements start with (or are keyed
 * by) a string; key() gives it. */
static const void *find(const void *const *v, size_t n, const char *name,
                        const char *(*key)(const void *))
{
    if (name == NULL)
        return NULL;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, key(v[mid]));
        if (c == 0)
            return v[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static const char *env_name_key(const void *p)
{
    return ((const struct kiln_env *)p)->name;
}

const struct kiln_app *kiln_snapshot_find_app(const struct kiln_snapshot *snap, const char *name)
{
    return find((const void *const *)snap->apps, snap->n_apps, name, app_key);
}

const struct kiln_env *kiln_snapshot_find_env(const struct kiln_snapshot *snap, const char *app,
                                              const char *env)
{
    const struct kiln_app *a = kiln_snapshot_find_app(snap, app);
    if (a == NULL)
        return NULL;
    return find((const void *const *)a->envs, a->n_envs, env, env_name_key);
}

const struct kiln_group *kiln_snapshot_find_group(const struct kiln_snapshot *snap,
                                                  const char *name)
{
    return find((const void *const *)snap->groups, snap->n_groups, name, group_key);
}

const struct kiln_instance *kiln_snapshot_find_instance(const struct kiln_snapshot *snap,
                                                        const char *id)
{
    return find((const void *const *)snap->instances, snap->n_instances, id, instance_key);
}

const struct kiln_image *kiln_snapshot_find_image(const struct kiln_snapshot *snap, const char *id)
{
    const struct snapshot_impl *s = impl_of(snap);
    return find((const void *const *)s->images_by_id, snap->n_images, id, image_key);
}

const struct kiln_package *kiln_snapshot_find_package(const struct kiln_snapshot *snap,
                                                      const char *nvr)
{
    const struct snapshot_impl *s = impl_of(snap);
    return find((const void *const *)s->packages_by_nvr, snap->n_packages, nvr, package_key);
}

const struct kiln_lb *kiln_snapshot_find_lb(const struct kiln_snapshot *snap, const char *name)
{
    return find((const void *const *)snap->lbs, snap->n_lbs, name, lb_key);
}

int kiln_env_next_version(const struct kiln_env *env)
{
    bool in_use[KILN_VERSION_COUNT] = {false};
    for (size_t i = 0; i < env->n_groups; i++)
        in_use[env->groups[i]->version] = true;
    return kiln_version_next(env->n_groups > 0 ? env->groups[0]->version : -1, in_use);
}

/* ---- the model ---- */

struct kiln_model {
    pthread_mutex_t lock; /* guards current and generation */
    struct snapshot_impl *current;
    uint64_t generation;
};

struct kiln_model *kiln_model_new(void)
{
    struct kiln_model *m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    m->current = &empty_snapshot;
    return m;
}

void kiln_model_free(struct kiln_model *model)
{
    if (model == NULL)
        return;
    kiln_snapshot_release(&model->current->pub);
    pthread_mutex_destroy(&model->lock);
    free(model);
}

int kiln_model_publish(struct kiln_model *model, struct kiln_snapshot *snap, struct kiln_err *err)
{
    struct snapshot_impl *s = impl_of(snap);

    if (s->is_static || atomic_exchange(&s->published, true)) {
        /* Someone else owns it now; giving it a new generation would change it
         * under their readers. */
        return kiln_err_set(err, KILN_E_FAILED,
                            "this snapshot was published already; build a new one");
    }
    if (kiln_snapshot_finish(snap, err) < 0) {
        kiln_snapshot_release(snap);
        return -1;
    }

    pthread_mutex_lock(&model->lock);
    struct snapshot_impl *old = model->current;
    s->pub.generation = ++model->generation;
    model->current = s;
    pthread_mutex_unlock(&model->lock);

    /* Outside the lock: freeing 50,000 instances must not hold up readers. */
    kiln_snapshot_release(&old->pub);
    return 0;
}

const struct kiln_snapshot *kiln_model_acquire(struct kiln_model *model)
{
    pthread_mutex_lock(&model->lock);
    const struct kiln_snapshot *snap = kiln_snapshot_ref(&model->current->pub);
    pthread_mutex_unlock(&model->lock);
    return snap;
}

uint64_t kiln_model_generation(struct kiln_model *model)
{
    pthread_mutex_lock(&model->lock);
    uint64_t g = model->generation;
    pthread_mutex_unlock(&model->lock);
    return g;
}
