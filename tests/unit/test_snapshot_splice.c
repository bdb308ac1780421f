/* kiln: kiln_snapshot_splice, one cluster's refresh put into an older whole inventory. */
#include "kiln/model.h"
#include "tap.h"

#include <string.h>

static struct kiln_err err;

struct inst {
    const char *id;
    enum kiln_health health;
};

static void add_group(struct kiln_snapshot *s, struct kiln_env *e, int version, const char *image,
                      const struct inst *insts, size_t n)
{
    struct kiln_group *g =
        kiln_snapshot_add_group(s, e,
                                &(struct kiln_group){.version = version,
                                                     .enabled = true,
                                                     .image_id = image,
                                                     .package = "hello-world-1.0.0-1.x86_64",
                                                     .desired = (int)n},
                                &err);
    for (size_t i = 0; i < n; i++)
        kiln_snapshot_add_instance(s, g,
                                   &(struct kiln_instance){.id = insts[i].id,
                                                           .address = "10.0.0.1",
                                                           .state = KILN_INSTANCE_RUNNING,
                                                           .health = insts[i].health,
                                                           .lb_state = KILN_LB_IN_SERVICE},
                                   &err);
}

static struct kiln_env *add_env(struct kiln_snapshot *s, struct kiln_app *a, const char *app,
                                const char *env)
{
    char lb[64];
    snprintf(lb, sizeof lb, "%s-%s", app, env);
    struct kiln_env *e = kiln_snapshot_add_env(
        s, a, &(struct kiln_env){.name = env, .lb_name = lb, .lb_dns = lb, .health = {"/h"}}, &err);
    kiln_snapshot_add_lb(s, &(struct kiln_lb){.name = lb, .dns = lb, .app = app, .env = env}, &err);
    return e;
}

/* The whole inventory as of a while ago: hello-world test (v000, 2 healthy) and prod,
 * and billing test; two images, one package. */
static struct kiln_snapshot *old_whole(void)
{
    struct kiln_snapshot *s = kiln_snapshot_new();
    struct kiln_app *hw = kiln_snapshot_add_app(s, "hello-world", &err);
    struct kiln_app *bi = kiln_snapshot_add_app(s, "billing", &err);
    add_group(
        s, add_env(s, hw, "hello-world", "test"), 0, "ami-00000001",
        (struct inst[]){{"i-00000001", KILN_HEALTH_HEALTHY}, {"i-00000002", KILN_HEALTH_HEALTHY}},
        2);
    add_group(s, add_env(s, hw, "hello-world", "prod"), 3, "ami-00000001",
              (struct inst[]){{"i-00000003", KILN_HEALTH_HEALTHY}}, 1);
    add_group(s, add_env(s, bi, "billing", "test"), 7, "ami-00000009",
              (struct inst[]){{"i-00000009", KILN_HEALTH_HEALTHY}}, 1);
    kiln_snapshot_add_image(
        s, &(struct kiln_image){"ami-00000001", "hello-world-1.0.0-1.x86_64", 1}, &err);
    kiln_snapshot_add_image(s, &(struct kiln_image){"ami-00000009", "billing-2.0-1.x86_64", 1},
                            &err);
    kiln_snapshot_add_package(s, &(struct kiln_package){"hello-world-1.0.0-1.x86_64", "", 1}, &err);
    if (kiln_snapshot_finish(s, &err) < 0)
        diag("old_whole: %s", err.msg);
    return s;
}

/* hello-world test now: v000 with one instance unhealthy, one gone, and a new v001. */
static struct kiln_snapshot *fresh_test(void)
{
    struct kiln_snapshot *s = kiln_snapshot_new();
    struct kiln_app *hw = kiln_snapshot_add_app(s, "hello-world", &err);
    struct kiln_env *e = add_env(s, hw, "hello-world", "test");
    add_group(s, e, 0, "ami-00000001", (struct inst[]){{"i-00000001", KILN_HEALTH_UNHEALTHY}}, 1);
    add_group(s, e, 1, "ami-00000002", (struct inst[]){{"i-0000000a", KILN_HEALTH_UNKNOWN}}, 1);
    kiln_snapshot_add_image(
        s, &(struct kiln_image){"ami-00000001", "hello-world-1.0.0-1.x86_64", 1}, &err);
    kiln_snapshot_add_image(
        s, &(struct kiln_image){"ami-00000002", "hello-world-1.0.0-2.x86_64", 2}, &err);
    kiln_snapshot_add_package(s, &(struct kiln_package){"hello-world-1.0.0-2.x86_64", "", 2}, &err);
    if (kiln_snapshot_finish(s, &err) < 0)
        diag("fresh_test: %s", err.msg);
    return s;
}

static void test_replace(void)
{
    const struct kiln_snapshot *base = old_whole(), *part = fresh_test();
    struct kiln_snapshot *out = NULL;
    is_int(kiln_snapshot_splice(base, part, "hello-world", "test", &out, &err), 0, "splice");
    const struct kiln_env *t = kiln_snapshot_find_env(out, "hello-world", "test");
    ok(t != NULL && t->n_groups == 2, "the cluster has part's two groups");
    ok(kiln_snapshot_find_group(out, "hello-world-test-v001") != NULL, "v001 is there");
    const struct kiln_instance *i1 = kiln_snapshot_find_instance(out, "i-00000001");
    ok(i1 != NULL && i1->health == KILN_HEALTH_UNHEALTHY, "i-00000001 is as part says: unhealthy");
    ok(kiln_snapshot_find_instance(out, "i-00000002") == NULL, "i-00000002 is gone");
    const struct kiln_env *p = kiln_snapshot_find_env(out, "hello-world", "prod");
    ok(p != NULL && p->n_groups == 1 && p->groups[0]->version == 3 &&
           p->groups[0]->n_instances == 1,
       "hello-world prod is kept as base had it");
    ok(kiln_snapshot_find_group(out, "billing-test-v007") != NULL, "billing test is kept");
    is_int((int)out->n_instances, 4, "4 instances in all (2 from part, 2 from base)");
    is_int((int)out->n_images, 3, "images from both, once each");
    is_int((int)out->n_packages, 2, "packages from both");
    is_int((int)out->n_lbs, 3, "one load balancer per cluster");
    ok(t != NULL && t->lb != NULL && strcmp(t->lb->name, "hello-world-test") == 0,
       "the cluster is linked to its load balancer");
    is_int((int)base->n_instances, 4, "base is unchanged");
    is_int((int)part->n_instances, 2, "part is unchanged");
    kiln_snapshot_release(out);
    kiln_snapshot_release(base);
    kiln_snapshot_release(part);
}

static void test_gone_and_new(void)
{
    const struct kiln_snapshot *base = old_whole();
    struct kiln_snapshot *empty = kiln_snapshot_new();
    kiln_snapshot_finish(empty, &err);
    struct kiln_snapshot *out = NULL;
    is_int(kiln_snapshot_splice(base, empty, "billing", "test", &out, &err), 0,
           "splice a cluster part no longer has");
    ok(kiln_snapshot_find_env(out, "billing", "test") == NULL, "billing test is gone");
    ok(kiln_snapshot_find_app(out, "billing") == NULL, "and so is billing, its only env");
    ok(kiln_snapshot_find_lb(out, "billing-test") == NULL, "and its load balancer");
    is_int((int)out->n_images, 2, "base's images stay");
    kiln_snapshot_release(out);

    /* A cluster base has never seen (created a moment ago). */
    struct kiln_snapshot *part = kiln_snapshot_new();
    struct kiln_app *na = kiln_snapshot_add_app(part, "newapp", &err);
    add_group(part, add_env(part, na, "newapp", "test"), 0, "ami-00000003",
              (struct inst[]){{"i-0000000b", KILN_HEALTH_HEALTHY}}, 1);
    kiln_snapshot_finish(part, &err);
    is_int(kiln_snapshot_splice(base, part, "newapp", "test", &out, &err), 0,
           "splice a new cluster");
    ok(kiln_snapshot_find_group(out, "newapp-test-v000") != NULL, "it is added");
    is_int((int)out->n_apps, 3, "next to base's two apps");
    kiln_snapshot_release(out);
    kiln_snapshot_release(part);
    kiln_snapshot_release(empty);
    kiln_snapshot_release(base);
}

int main(void)
{
    test_replace();
    test_gone_and_new();
    return done_testing();
}
