/* kiln: the inventory snapshot and the model that publishes it. */
#include "kiln/model.h"
#include "kiln/names.h"
#include "tap.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

static struct kiln_err err;

static void test_enums(void)
{
    is_str(kiln_instance_state_name(KILN_INSTANCE_PENDING), "pending", "pending");
    is_str(kiln_instance_state_name(KILN_INSTANCE_TERMINATED), "terminated", "terminated");
    is_str(kiln_instance_state_name(KILN_INSTANCE_STATE_COUNT), "?", "out of range is ?");
    is_str(kiln_health_name(KILN_HEALTH_UNHEALTHY), "unhealthy", "unhealthy");
    is_str(kiln_lb_state_name(KILN_LB_IN_SERVICE), "in-service", "in-service");
    is_str(kiln_lb_state_name(KILN_LB_OUT_OF_SERVICE), "out-of-service", "out-of-service");

    /* Every name parses back to its value. */
    int round_trips = 0;
    for (int i = 0; i < KILN_INSTANCE_STATE_COUNT; i++) {
        enum kiln_instance_state v;
        round_trips +=
            kiln_instance_state_parse(kiln_instance_state_name(i), &v, &err) == 0 && (int)v == i;
    }
    for (int i = 0; i < KILN_HEALTH_COUNT; i++) {
        enum kiln_health v;
        round_trips += kiln_health_parse(kiln_health_name(i), &v, &err) == 0 && (int)v == i;
    }
    for (int i = 0; i < KILN_LB_STATE_COUNT; i++) {
        enum kiln_lb_state v;
        round_trips += kiln_lb_state_parse(kiln_lb_state_name(i), &v, &err) == 0 && (int)v == i;
    }
    is_int(round_trips, 4 + 3 + 3, "every enum name parses back");

    enum kiln_health h = KILN_HEALTH_HEALTHY;
    is_int(kiln_health_parse("Healthy", &h, &err), -1, "names are exact");
    is_int(h, KILN_HEALTH_HEALTHY, "and a failed parse leaves the output");
    is_str(err.msg, "unknown health \"Healthy\": expected unknown, healthy or unhealthy",
           "the message lists the names");
    enum kiln_lb_state l;
    is_int(kiln_lb_state_parse(NULL, &l, &err), -1, "NULL is refused");
}

/* A small snapshot with known content. */
static struct kiln_snapshot *build_small(void)
{
    struct kiln_snapshot *s = kiln_snapshot_new();
    struct kiln_app *zeta = kiln_snapshot_add_app(s, "zeta", &err);
    struct kiln_app *hello = kiln_snapshot_add_app(s, "hello-world", &err);
    struct kiln_env *prod =
        kiln_snapshot_add_env(s, hello,
                              &(struct kiln_env){.name = "prod",
                                                 .lb_name = "hello-world-prod",
                                                 .lb_dns = "hello-world.prod.localhost",
                                                 .health = {"/health", 1000, 1000, 2, 2}},
                              &err);
    struct kiln_env *test =
        kiln_snapshot_add_env(s, hello, &(struct kiln_env){.name = "test"}, &err);
    kiln_snapshot_add_env(s, zeta, &(struct kiln_env){.name = "test"}, &err);

    /* v999 then v000 then v001: wrapped, so creation time orders them. */
    struct kiln_group *g999 = kiln_snapshot_add_group(
        s, prod,
        &(struct kiln_group){
            .version = 999, .image_id = "img-0123456789ab", .desired = 2, .created_us = 100},
        &err);
    struct kiln_group *g001 =
        kiln_snapshot_add_group(s, prod,
                                &(struct kiln_group){.version = 1,
                                                     .enabled = true,
                                                     .image_id = "img-00000000000f",
                                                     .package = "hello-world-1.0.2-1.x86_64",
                                                     .created_us = 300},
                                &err);
    kiln_snapshot_add_group(s, prod, &(struct kiln_group){.version = 0, .created_us = 200}, &err);
    kiln_snapshot_add_group(s, test, &(struct kiln_group){.version = 5, .created_us = 50}, &err);

    kiln_snapshot_add_instance(s, g001,
                               &(struct kiln_instance){.id = "i-000000b2",
                                                       .address = "127.0.0.1:40002",
                                                       .state = KILN_INSTANCE_RUNNING,
                                                       .health = KILN_HEALTH_HEALTHY,
                                                       .lb_state = KILN_LB_IN_SERVICE,
                                                       .pid = 1234},
                               &err);
    kiln_snapshot_add_instance(s, g001,
                               &(struct kiln_instance){.id = "i-000000a1",
                                                       .state = KILN_INSTANCE_RUNNING,
                                                       .health = KILN_HEALTH_UNHEALTHY,
                                                       .lb_state = KILN_LB_OUT_OF_SERVICE},
                               &err);
    kiln_snapshot_add_instance(
        s, g999, &(struct kiln_instance){.id = "i-000000c3", .state = KILN_INSTANCE_PENDING}, &err);

    kiln_snapshot_add_image(s, &(struct kiln_image){.id = "img-00000000000f", .created_us = 20},
                            &err);
    kiln_snapshot_add_image(s, &(struct kiln_image){.id = "ami-12345678", .created_us = 30}, &err);
    kiln_snapshot_add_package(
        s, &(struct kiln_package){.nvr = "hello-world-1.0.2-1.x86_64", .created_us = 5}, &err);
    kiln_snapshot_add_package(
        s, &(struct kiln_package){.nvr = "hello-world-1.0.3-1.x86_64", .created_us = 9}, &err);
    kiln_snapshot_add_lb(
        s,
        &(struct kiln_lb){
            .name = "hello-world-prod", .app = "hello-world", .env = "prod", .port = 8080},
        &err);
    return s;
}

static void test_small(void)
{
    struct kiln_snapshot *s = build_small();
    is_int(kiln_snapshot_finish(s, &err), 0, "finish a small snapshot");
    is_int(kiln_snapshot_finish(s, &err), 0, "finishing twice is harmless");

    is_int(s->n_apps, 2, "two apps");
    is_str(s->apps[0]->name, "hello-world", "apps sorted by name");
    is_str(s->apps[1]->name, "zeta", "zeta last");
    const struct kiln_app *hello = kiln_snapshot_find_app(s, "hello-world");
    ok(hello == s->apps[0], "find_app");
    ok(kiln_snapshot_find_app(s, "nope") == NULL, "find_app of a missing app");
    is_int(hello->n_envs, 2, "hello-world has two envs");
    is_str(hello->envs[0]->name, "prod", "envs sorted by name");

    const struct kiln_env *prod = kiln_snapshot_find_env(s, "hello-world", "prod");
    ok(prod != NULL && prod->app == hello, "find_env, linked to its app");
    is_str(prod->cluster, "hello-world-prod", "cluster name");
    is_str(prod->health.path, "/health", "health check path copied");
    ok(prod->lb != NULL && prod->lb->port == 8080, "env linked to its load balancer");
    ok(s->lbs[0]->cluster == prod, "and the load balancer to its env");
    ok(kiln_snapshot_find_env(s, "hello-world", "staging") == NULL, "missing env");
    ok(kiln_snapshot_find_env(s, "zeta", "test")->lb == NULL, "no lb: NULL");
    is_str(kiln_snapshot_find_env(s, "zeta", "test")->lb_dns, "", "unset strings are \"\"");

    is_int(prod->n_groups, 3, "three groups in prod");
    is_str(prod->groups[0]->name, "hello-world-prod-v001", "newest first: v001");
    is_str(prod->groups[1]->name, "hello-world-prod-v000", "then v000");
    is_str(prod->groups[2]->name, "hello-world-prod-v999", "then v999 (oldest)");
    is_int(kiln_env_next_version(prod), 2, "next version after v001 is v002");
    is_int(kiln_env_next_version(kiln_snapshot_find_env(s, "zeta", "test")), 0,
           "an empty cluster starts at v000");

    const struct kiln_group *g = kiln_snapshot_find_group(s, "hello-world-prod-v001");
    ok(g == prod->groups[0], "find_group");
    ok(g->env == prod, "group linked to env");
    ok(g->enabled, "enabled copied");
    is_int(g->n_instances, 2, "two instances");
    is_str(g->instances[0]->id, "i-000000a1", "instances sorted by id");
    is_int(g->running, 2, "two running");
    is_int(g->healthy, 1, "one healthy");
    is_int(g->in_service, 1, "one in service");
    ok(g->image != NULL && g->image == kiln_snapshot_find_image(s, "img-00000000000f"),
       "group linked to its image");
    ok(kiln_snapshot_find_group(s, "hello-world-prod-v999")->image == NULL,
       "an image not in the snapshot: NULL");

    const struct kiln_instance *in = kiln_snapshot_find_instance(s, "i-000000b2");
    ok(in != NULL && in->group == g, "find_instance, linked to its group");
    is_str(in->address, "127.0.0.1:40002", "address");
    is_int(in->pid, 1234, "pid");
    ok(kiln_snapshot_find_instance(s, "i-ffffffff") == NULL, "missing instance");
    is_int(s->n_instances, 3, "three instances in all");

    is_str(s->images[0]->id, "ami-12345678", "images newest first");
    ok(kiln_snapshot_find_image(s, "ami-12345678") == s->images[0], "find_image");
    is_str(s->packages[0]->nvr, "hello-world-1.0.3-1.x86_64", "packages newest first");
    ok(kiln_snapshot_find_package(s, "hello-world-1.0.2-1.x86_64") == s->packages[1],
       "find_package");

    ok(kiln_snapshot_add_app(s, "late", &err) == NULL, "no adding after finish");
    ok(strstr(err.msg, "already finished") != NULL, "says why");
    kiln_snapshot_release(s);
}

static void test_invalid(void)
{
    struct kiln_snapshot *s = kiln_snapshot_new();
    ok(kiln_snapshot_add_app(s, "Bad", &err) == NULL, "an invalid app name is refused");
    ok(strstr(err.msg, "app name \"Bad\"") != NULL, "with the name's message");
    struct kiln_app *a = kiln_snapshot_add_app(s, "a", &err);
    ok(kiln_snapshot_add_env(s, a, &(struct kiln_env){.name = "us-east"}, &err) == NULL,
       "an invalid env name is refused");
    struct kiln_env *e = kiln_snapshot_add_env(s, a, &(struct kiln_env){.name = "test"}, &err);
    ok(kiln_snapshot_add_group(s, e, &(struct kiln_group){.version = 1000}, &err) == NULL,
       "version 1000 is refused");
    ok(strstr(err.msg, "version 1000 of a-test") != NULL, "naming the cluster");
    struct kiln_group *g = kiln_snapshot_add_group(s, e, &(struct kiln_group){.version = 1}, &err);
    ok(kiln_snapshot_add_instance(s, g, &(struct kiln_instance){.id = "x"}, &err) == NULL,
       "a bad instance id is refused");
    ok(kiln_snapshot_add_instance(s, g, &(struct kiln_instance){.id = "i-12345678", .state = 9},
                                  &err) == NULL,
       "a state out of range is refused");
    ok(kiln_snapshot_add_image(s, &(struct kiln_image){.id = "img-1"}, &err) == NULL,
       "a bad image id is refused");
    ok(kiln_snapshot_add_package(s, &(struct kiln_package){.nvr = "a/b-1-1"}, &err) == NULL,
       "a bad package is refused");
    ok(kiln_snapshot_add_lb(s, &(struct kiln_lb){.name = "two words"}, &err) == NULL,
       "a bad load balancer name is refused");
    is_int(kiln_snapshot_finish(s, &err), 0, "what was accepted still finishes");
    kiln_snapshot_release(s);

    /* Duplicates are found at finish. */
    static const char *const what[] = {"app",   "server group", "instance",
                                       "image", "package",      "cluster"};
    for (int k = 0; k < 6; k++) {
        s = kiln_snapshot_new();
        a = kiln_snapshot_add_app(s, "a", &err);
        if (k == 0)
            kiln_snapshot_add_app(s, "a", &err);
        e = kiln_snapshot_add_env(s, a, &(struct kiln_env){.name = "test"}, &err);
        if (k == 5)
            kiln_snapshot_add_env(s, a, &(struct kiln_env){.name = "test"}, &err);
        g = kiln_snapshot_add_group(s, e, &(struct kiln_group){.version = 1}, &err);
        if (k == 1)
            kiln_snapshot_add_group(s, e, &(struct kiln_group){.version = 1}, &err);
        for (int n = 0; n < (k == 2 ? 2 : 1); n++)
            kiln_snapshot_add_instance(s, g, &(struct kiln_instance){.id = "i-12345678"}, &err);
        for (int n = 0; n < (k == 3 ? 2 : 1); n++)
            kiln_snapshot_add_image(s, &(struct kiln_image){.id = "ami-12345678"}, &err);
        for (int n = 0; n < (k == 4 ? 2 : 1); n++)
            kiln_snapshot_add_package(s, &(struct kiln_package){.nvr = "a-1-1"}, &err);
        is_int(kiln_snapshot_finish(s, &err), -1, "a duplicate %s is refused", what[k]);
        char want[64];
        snprintf(want, sizeof want, "lists %s ", what[k]);
        ok(strstr(err.msg, want) != NULL && strstr(err.msg, "twice") != NULL,
           "the message names it");
        is_int(kiln_snapshot_finish(s, &err), -1, "and finishing again still fails");
        kiln_snapshot_release(s);
    }
}

static void test_model_basics(void)
{
    struct kiln_model *m = kiln_model_new();
    const struct kiln_snapshot *empty = kiln_model_acquire(m);
    ok(empty != NULL, "a new model has a snapshot");
    is_int(empty->generation, 0, "of generation 0");
    is_int(empty->n_apps, 0, "with nothing in it");
    ok(kiln_snapshot_find_app(empty, "a") == NULL, "lookups in it work");
    is_int(kiln_model_generation(m), 0, "generation 0");

    struct kiln_snapshot *s = build_small();
    is_int(kiln_model_publish(m, s, &err), 0, "publish (finishing it)");
    is_int(kiln_model_generation(m), 1, "generation 1");
    is_int(kiln_model_publish(m, s, &err), -1, "publishing it again is refused");
    const struct kiln_snapshot *one = kiln_model_acquire(m);
    ok(one == s && one->generation == 1, "acquire returns it, with generation 1");

    struct kiln_snapshot *bad = kiln_snapshot_new();
    kiln_snapshot_add_app(bad, "a", &err);
    kiln_snapshot_add_app(bad, "a", &err);
    is_int(kiln_model_publish(m, bad, &err), -1, "a snapshot that cannot finish");
    ok(strstr(err.msg, "twice") != NULL, "is refused with the reason");
    const struct kiln_snapshot *still = kiln_model_acquire(m);
    ok(still == one, "and the current one stays");
    kiln_snapshot_release(still);

    is_int(kiln_model_publish(m, kiln_snapshot_new(), &err), 0, "publish another");
    is_int(kiln_model_generation(m), 2, "generation 2");
    /* The model dropped its reference on `one`; ours keeps it alive. */
    ok(kiln_snapshot_find_group(one, "hello-world-prod-v001") != NULL,
       "an old snapshot stays readable while referenced");
    const struct kiln_snapshot *extra = kiln_snapshot_ref(one);
    kiln_snapshot_release(one);
    ok(extra->apps[0]->n_envs == 2, "and through a second reference");
    kiln_model_free(m);
    ok(extra->n_instances == 3, "even after the model is freed");
    kiln_snapshot_release(extra);
    kiln_snapshot_release(empty);
    kiln_snapshot_release(NULL);
}

static long rss_kb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* 1,000 apps, 5,000 groups, 50,000 instances, added in a scrambled order. */
static void test_big(void)
{
    enum { APPS = 1000, GROUPS_PER_APP = 5, PER_GROUP = 10 };
    long rss0 = rss_kb();
    struct kiln_snapshot *s = kiln_snapshot_new();
    int bad_adds = 0;
    unsigned id = 0;

    for (int k = 0; k < APPS; k++) {
        int n = (k * 7919) % APPS; /* 7919 is prime: a permutation of 0..999 */
        char name[32], lb[64], dns[96], nvr[64], addr[32];
        snprintf(name, sizeof name, "app-%04d", n);
        struct kiln_app *app = kiln_snapshot_add_app(s, name, &err);
        struct kiln_env *envs[2];
        for (int e = 0; e < 2; e++) {
            const char *en = e == 0 ? "test" : "prod";
            snprintf(lb, sizeof lb, "%s-%s", name, en);
            snprintf(dns, sizeof dns, "%s.%s.localhost", name, en);
            envs[e] =
                kiln_snapshot_add_env(s, app,
                                      &(struct kiln_env){.name = en,
                                                         .lb_name = lb,
                                                         .lb_dns = dns,
                                                         .health = {"/health", 1000, 1000, 2, 2}},
                                      &err);
            bad_adds += envs[e] == NULL;
        }
        for (int v = 0; v < GROUPS_PER_APP; v++) {
            snprintf(nvr, sizeof nvr, "%s-1.0.%d-1.x86_64", name, v);
            struct kiln_group *g =
                kiln_snapshot_add_group(s, envs[v % 2],
                                        &(struct kiln_group){.version = v,
                                                             .enabled = v >= 3,
                                                             .image_id = "img-0123456789ab",
                                                             .package = nvr,
                                                             .min_size = PER_GROUP,
                                                             .max_size = PER_GROUP,
                                                             .desired = PER_GROUP,
                                                             .created_us = 1000000 + v},
                                        &err);
            bad_adds += g == NULL;
            for (int i = 0; i < PER_GROUP; i++) {
                char iid[32];
                /* Scramble ids so that sorting has work to do. */
                snprintf(iid, sizeof iid, "i-%08x", (id++ * 2654435761u));
                snprintf(addr, sizeof addr, "127.0.0.1:%d", 20000 + (int)(id % 40000));
                bad_adds += kiln_snapshot_add_instance(
                                s, g,
                                &(struct kiln_instance){.id = iid,
                                                        .address = addr,
                                                        .pid = 1000 + (int)id,
                                                        .launched_us = 2000000,
                                                        .state = KILN_INSTANCE_RUNNING,
                                                        .health = KILN_HEALTH_HEALTHY,
                                                        .lb_state = i % 2 ? KILN_LB_IN_SERVICE
                                                                          : KILN_LB_OUT_OF_SERVICE},
                                &err) == NULL;
            }
        }
    }
    is_int(bad_adds, 0, "every add succeeds");
    is_int(kiln_snapshot_finish(s, &err), 0, "finish the big snapshot");
    is_int(s->n_apps, APPS, "1,000 apps");
    is_int(s->n_groups, APPS * GROUPS_PER_APP, "5,000 groups");
    is_int(s->n_instances, APPS * GROUPS_PER_APP * PER_GROUP, "50,000 instances");

    int unsorted = 0, lost = 0, wrong_order = 0, counts = 0;
    for (size_t i = 1; i < s->n_apps; i++)
        unsorted += strcmp(s->apps[i - 1]->name, s->apps[i]->name) >= 0;
    for (size_t i = 1; i < s->n_instances; i++)
        unsorted += strcmp(s->instances[i - 1]->id, s->instances[i]->id) >= 0;
    for (size_t i = 0; i < s->n_instances; i++)
        lost += kiln_snapshot_find_instance(s, s->instances[i]->id) != s->instances[i];
    for (size_t i = 0; i < s->n_groups; i++) {
        const struct kiln_group *g = s->groups[i];
        lost += kiln_snapshot_find_group(s, g->name) != g;
        counts += g->n_instances != PER_GROUP || g->in_service != PER_GROUP / 2;
    }
    for (size_t i = 0; i < s->n_apps; i++) {
        const struct kiln_app *a = s->apps[i];
        lost += kiln_snapshot_find_app(s, a->name) != a;
        for (size_t e = 0; e < a->n_envs; e++) {
            const struct kiln_env *env = a->envs[e];
            for (size_t j = 1; j < env->n_groups; j++)
                wrong_order += env->groups[j - 1]->created_us < env->groups[j]->created_us;
        }
    }
    is_int(unsorted, 0, "apps and instances are sorted");
    is_int(lost, 0, "every app, group and instance is found by binary search");
    is_int(wrong_order, 0, "groups are newest first");
    is_int(counts, 0, "every group has its 10 instances, 5 in service");

    size_t bytes = kiln_snapshot_memory(s);
    long rss1 = rss_kb();
    diag("snapshot of 1,000 apps / 5,000 groups / 50,000 instances: %.1f MB in the arena "
         "(%.0f bytes per instance all told); RSS grew by %ld kB",
         bytes / 1048576.0, (double)bytes / (APPS * GROUPS_PER_APP * PER_GROUP),
         rss0 >= 0 && rss1 >= 0 ? rss1 - rss0 : -1);
    ok(bytes < 16u * 1024 * 1024, "it takes under 16 MB (%zu bytes)", bytes);
    kiln_snapshot_release(s);
}

/* ---- concurrent readers ---- */

enum { READERS = 4, PUBLISHES = 1000 };

static struct kiln_model *shared;
static atomic_bool writer_done;

/* Instances per group in generation g: changes every generation. */
static size_t per_group(uint64_t g)
{
    return g == 0 ? 0 : 1 + g % 7;
}

static struct kiln_snapshot *build_generation(uint64_t g)
{
    struct kiln_snapshot *s = kiln_snapshot_new();
    unsigned id = 0;
    for (int a = 0; a < 3; a++) {
        char name[16];
        snprintf(name, sizeof name, "app%d", a);
        struct kiln_app *app = kiln_snapshot_add_app(s, name, NULL);
        for (int e = 0; e < 2; e++) {
            struct kiln_env *env = kiln_snapshot_add_env(
                s, app, &(struct kiln_env){.name = e ? "prod" : "test"}, NULL);
            for (int v = 0; v < 2; v++) {
                struct kiln_group *grp = kiln_snapshot_add_group(
                    s, env,
                    &(struct kiln_group){.version = (int)((g + (uint64_t)v) % 1000),
                                         .desired = (int)per_group(g),
                                         .created_us = (int64_t)v},
                    NULL);
                for (size_t i = 0; i < per_group(g); i++) {
                    char iid[32];
                    snprintf(iid, sizeof iid, "i-%08x", id++);
                    kiln_snapshot_add_instance(
                        s, grp,
                        &(struct kiln_instance){
                            .id = iid, .lb_state = i % 2 ? KILN_LB_IN_SERVICE : KILN_LB_UNKNOWN},
                        NULL);
                }
            }
        }
    }
    return s;
}

struct reader_result {
    long walks;
    long violations;
    uint64_t last_generation;
};

/* Checks everything that must hold within one generation. */
static long check_snapshot(const struct kiln_snapshot *s)
{
    long bad = 0;
    size_t want = per_group(s->generation);
    if (s->generation == 0)
        return s->n_apps != 0;
    bad += s->n_apps != 3 || s->n_groups != 12 || s->n_instances != 12 * want;
    for (size_t a = 0; a < s->n_apps; a++) {
        const struct kiln_app *app = s->apps[a];
        for (size_t e = 0; e < app->n_envs; e++) {
            const struct kiln_env *env = app->envs[e];
            bad += env->app != app || env->n_groups != 2;
            for (size_t gi = 0; gi < env->n_groups; gi++) {
                const struct kiln_group *g = env->groups[gi];
                bad += g->env != env || g->n_instances != want || (size_t)g->desired != want;
                bad += (size_t)g->in_service != want / 2;
                for (size_t i = 0; i < g->n_instances; i++)
                    bad += g->instances[i]->group != g;
            }
        }
    }
    return bad;
}

static void *reader(void *arg)
{
    struct reader_result *r = arg;
    const struct kiln_snapshot *held[3] = {NULL, NULL, NULL};
    bool last_round = false;

    for (;;) {
        /* Read the flag before acquiring: after the writer is done, one more walk
         * must see the final generation. */
        last_round = atomic_load(&writer_done);
        const struct kiln_snapshot *s = kiln_model_acquire(shared);
        if (s->generation < r->last_generation)
            r->violations++;
        r->last_generation = s->generation;
        r->violations += check_snapshot(s);
        r->walks++;
        /* Keep a few older snapshots alive across publishes, then check them again:
         * they must not have changed or been freed under us. */
        kiln_snapshot_release(held[r->walks % 3]);
        held[r->walks % 3] = s;
        for (int i = 0; i < 3; i++) {
            if (held[i] != NULL)
                r->violations += check_snapshot(held[i]);
        }
        if (last_round)
            break;
        sched_yield();
    }
    for (int i = 0; i < 3; i++)
        kiln_snapshot_release(held[i]);
    return NULL;
}

static void test_concurrent(void)
{
    pthread_t threads[READERS];
    struct reader_result results[READERS];
    memset(results, 0, sizeof results);
    shared = kiln_model_new();
    atomic_store(&writer_done, false);

    for (int i = 0; i < READERS; i++)
        pthread_create(&threads[i], NULL, reader, &results[i]);
    int failed = 0;
    for (uint64_t g = 1; g <= PUBLISHES; g++) {
        failed += kiln_model_publish(shared, build_generation(g), &err) < 0;
        if (g % 8 == 0)
            sched_yield();
    }
    atomic_store(&writer_done, true);
    for (int i = 0; i < READERS; i++)
        pthread_join(threads[i], NULL);

    is_int(failed, 0, "the writer published %d snapshots", PUBLISHES);
    is_int(kiln_model_generation(shared), PUBLISHES, "generation counts them");
    long walks = 0, violations = 0;
    int saw_last = 0;
    for (int i = 0; i < READERS; i++) {
        walks += results[i].walks;
        violations += results[i].violations;
        saw_last += results[i].last_generation == PUBLISHES;
    }
    diag("%d readers walked %ld snapshots while %d were published", READERS, walks, PUBLISHES);
    ok(walks >= READERS, "every reader walked");
    is_int(violations, 0, "no reader ever saw a half-built, changed or out-of-order snapshot");
    is_int(saw_last, READERS, "every reader's last walk saw the last generation");
    kiln_model_free(shared);
}

int main(void)
{
    test_enums();
    test_small();
    test_invalid();
    test_model_basics();
    test_big();
    test_concurrent();
    return done_testing();
}
