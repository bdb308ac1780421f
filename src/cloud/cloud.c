/* kilnd: the local cloud's state: lookups and the arrays that hold it. */
#include "cloud/cloud.h"

#include "kiln/xalloc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* Terminated instances stay this long so the Events view can show their fate. */
#define TERMINATED_RETENTION_US (15LL * 60 * 1000000)
/* And at most this many, whatever their age: a crash loop makes hundreds in minutes. */
#define TERMINATED_KEEP_MAX 50

int cloud_init(struct cloud *c, const struct kiln_paths *paths, const struct kiln_config *cfg,
               struct kiln_err *err)
{
    memset(c, 0, sizeof *c);
    c->paths = *paths;
    c->config = *cfg;
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->changed, &attr);
    pthread_condattr_destroy(&attr);
    return 0;
}

#define FREE_ARRAY(arr, freefn)                                                                    \
    do {                                                                                           \
        for (size_t i_ = 0; i_ < (arr).n; i_++)                                                    \
            freefn((arr).v[i_]);                                                                   \
        free((arr).v);                                                                             \
        (arr).v = NULL;                                                                            \
        (arr).n = (arr).cap = 0;                                                                   \
    } while (0)

static void cluster_free(struct cloud_cluster *x)
{
    if (x == NULL)
        return;
    for (int i = 0; x->start[i] != NULL; i++)
        free(x->start[i]);
    free(x);
}

void cloud_free(struct cloud *c)
{
    FREE_ARRAY(c->clusters, cluster_free);
    FREE_ARRAY(c->groups, free);
    FREE_ARRAY(c->instances, free);
    FREE_ARRAY(c->images, free);
    FREE_ARRAY(c->packages, free);
    FREE_ARRAY(c->locks, free);
    pthread_cond_destroy(&c->changed);
    pthread_mutex_destroy(&c->mu);
}

struct cloud_cluster *cloud_find_cluster(struct cloud *c, const char *app, const char *env)
{
    for (size_t i = 0; i < c->clusters.n; i++)
        if (strcmp(c->clusters.v[i]->app, app) == 0 && strcmp(c->clusters.v[i]->env, env) == 0)
            return c->clusters.v[i];
    return NULL;
}

struct cloud_cluster *cloud_find_cluster_named(struct cloud *c, const char *cluster)
{
    for (size_t i = 0; i < c->clusters.n; i++)
        if (strcmp(c->clusters.v[i]->name, cluster) == 0)
            return c->clusters.v[i];
    return NULL;
}

struct cloud_group *cloud_find_group(struct cloud *c, const char *name)
{
    for (size_t i = 0; i < c->groups.n; i++)
        if (strcmp(c->groups.v[i]->name, name) == 0)
            return c->groups.v[i];
    return NULL;
}

struct cloud_instance *cloud_find_instance(struct cloud *c, const char *id)
{
    for (size_t i = 0; i < c->instances.n; i++)
        if (strcmp(c->instances.v[i]->id, id) == 0)
            return c->instances.v[i];
    return NULL;
}

struct cloud_image *cloud_find_image(struct cloud *c, const char *id)
{
    for (size_t i = 0; i < c->images.n; i++)
        if (strcmp(c->images.v[i]->id, id) == 0)
            return c->images.v[i];
    return NULL;
}

struct cloud_image *cloud_find_image_by_package(struct cloud *c, const char *nvr)
{
    for (size_t i = 0; i < c->images.n; i++)
        if (strcmp(c->images.v[i]->package, nvr) == 0)
            return c->images.v[i];
    return NULL;
}

struct cloud_package *cloud_find_package(struct cloud *c, const char *nvr)
{
    for (size_t i = 0; i < c->packages.n; i++)
        if (strcmp(c->packages.v[i]->nvr, nvr) == 0)
            return c->packages.v[i];
    return NULL;
}

struct cloud_cluster *cloud_group_cluster(struct cloud *c, const struct cloud_group *g)
{
    return cloud_find_cluster_named(c, g->cluster);
}

size_t cloud_group_live_instances(struct cloud *c, const char *name, struct cloud_instance **out,
                                  size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < c->instances.n; i++) {
        struct cloud_instance *x = c->instances.v[i];
        if (x->state == KILN_INSTANCE_TERMINATED || strcmp(x->group, name) != 0)
            continue;
        if (n < max && out != NULL)
            out[n] = x;
        n++;
    }
    return n;
}

bool cloud_group_enabled(const struct cloud_group *g)
{
    return (g->suspended & KILN_PROC_ADD_TO_LB) == 0;
}

int64_t cloud_instance_grace_left_us(struct cloud *c, const struct cloud_instance *x,
                                     int64_t now_us)
{
    if (x->state != KILN_INSTANCE_PENDING && x->state != KILN_INSTANCE_RUNNING)
        return 0;
    const struct cloud_group *g = cloud_find_group(c, x->group);
    const struct cloud_cluster *cl = g != NULL ? cloud_group_cluster(c, g) : NULL;
    if (cl == NULL)
        return 0;
    int64_t left = x->launched_us + cl->health_grace_ms * 1000 - now_us;
    return left > 0 ? left : 0;
}

#define ARRAY_PUSH(arr, x)                                                                         \
    do {                                                                                           \
        if ((arr).n == (arr).cap) {                                                                \
            (arr).cap = (arr).cap ? (arr).cap * 2 : 16;                                            \
            (arr).v = xrealloc((arr).v, (arr).cap * sizeof *(arr).v);                              \
        }                                                                                          \
        (arr).v[(arr).n++] = (x);                                                                  \
    } while (0)

/* Removes by pointer, keeping the order (the API lists things in creation order). */
#define ARRAY_REMOVE(arr, x, freefn)                                                               \
    do {                                                                                           \
        for (size_t i_ = 0; i_ < (arr).n; i_++) {                                                  \
            if ((arr).v[i_] == (x)) {                                                              \
                memmove(&(arr).v[i_], &(arr).v[i_ + 1], ((arr).n - i_ - 1) * sizeof *(arr).v);     \
                (arr).n--;                                                                         \
                freefn(x);                                                                         \
                break;                                                                             \
            }                                                                                      \
        }                                                                                          \
    } while (0)

void cloud_add_cluster(struct cloud *c, struct cloud_cluster *x)
{
    ARRAY_PUSH(c->clusters, x);
}
void cloud_add_group(struct cloud *c, struct cloud_group *x)
{
    ARRAY_PUSH(c->groups, x);
}
void cloud_add_instance(struct cloud *c, struct cloud_instance *x)
{
    ARRAY_PUSH(c->instances, x);
}
void cloud_add_image(struct cloud *c, struct cloud_image *x)
{
    ARRAY_PUSH(c->images, x);
}
void cloud_add_package(struct cloud *c, struct cloud_package *x)
{
    ARRAY_PUSH(c->packages, x);
}
void cloud_remove_cluster(struct cloud *c, struct cloud_cluster *x)
{
    ARRAY_REMOVE(c->clusters, x, cluster_free);
}
void cloud_remove_group(struct cloud *c, struct cloud_group *x)
{
    ARRAY_REMOVE(c->groups, x, free);
}
void cloud_remove_instance(struct cloud *c, struct cloud_instance *x)
{
    ARRAY_REMOVE(c->instances, x, free);
}

void cloud_prune_terminated(struct cloud *c, int64_t now_us)
{
    size_t terminated = 0;
    for (size_t i = 0; i < c->instances.n; i++)
        terminated += c->instances.v[i]->state == KILN_INSTANCE_TERMINATED;
    /* The array is in launch order, so the first terminated ones are the oldest. */
    for (size_t i = 0; i < c->instances.n;) {
        struct cloud_instance *x = c->instances.v[i];
        if (x->state == KILN_INSTANCE_TERMINATED &&
            (terminated > TERMINATED_KEEP_MAX ||
             (x->terminated_us != 0 && now_us - x->terminated_us > TERMINATED_RETENTION_US))) {
            cloud_remove_instance(c, x);
            c->dirty = true;
            terminated--;
            continue;
        }
        i++;
    }
}

void cloud_new_instance_id(char out[CLOUD_ID_MAX])
{
    unsigned char b[8];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        /* getrandom on Linux >= 3.17 does not fail for 8 bytes; keep ids unique anyway. */
        static unsigned long long counter;
        unsigned long long v = (unsigned long long)getpid() << 32 ^ ++counter;
        memcpy(b, &v, sizeof b);
    }
    snprintf(out, CLOUD_ID_MAX, "i-%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
             b[5], b[6], b[7]);
}

void cloud_changed(struct cloud *c)
{
    c->dirty = true;
    pthread_cond_broadcast(&c->changed);
}
