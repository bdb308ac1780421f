/* kilnd's reconciler and chaos monkey (src/cloud/reconciler.c, chaos.c), with the real
 * supervisor (instances.c) and health checker (health.c) around them: real processes
 * of the example app, real HTTP probes, real kills.
 *
 * One stand-in, for the balancer (balancer.c needs nginx and has its own test):
 * cloud_balancer_request below counts the requests and marks lb_state the way the
 * balancer does once nginx confirms, so the test can see what the reconciler asked. */
#include "cloud/cloud.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cJSON.h"
#include "kiln/atomic_file.h"
#include "kiln/spawn.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"
#include "tap.h"

#define IMAGE "img-0123456789ab"
#define HW    "hello-world-test-v001"
#define CRASH "crash-test-v001"

static struct kiln_paths paths;
static struct kiln_config cfg;
static struct cloud C;
/* Short for a quick test; KILN_TEST_HEALTH_INTERVAL_MS=1000 measures with the default. */
static int64_t health_interval_ms = 250;

/* ---- the balancer stand-in (test only) ---- */

static int lb_requests;

uint64_t cloud_balancer_request(struct cloud *c)
{
    lb_requests++;
    uint64_t n = ++c->lb_wanted;
    for (size_t i = 0; i < c->instances.n; i++) {
        struct cloud_instance *x = c->instances.v[i];
        struct cloud_group *g = cloud_find_group(c, x->group);
        bool in = x->state == KILN_INSTANCE_RUNNING && x->health == KILN_HEALTH_HEALTHY &&
                  g != NULL && cloud_group_enabled(g);
        x->lb_state = in ? KILN_LB_IN_SERVICE : KILN_LB_OUT_OF_SERVICE;
    }
    c->lb_applied = n;
    return n;
}

/* ---- the app ---- */

static int app_main(int argc, char **argv)
{
    fprintf(stderr, "crashing on purpose\n");
    usleep(50 * 1000);
    return 3;
}

static int run(const char *const *argv)
{
    struct kiln_err err = {0};
    struct kiln_spawn_opts o = {.argv = argv, .timeout_ms = 120000};
    int status = -1;
    if (kiln_spawn_run(&o, &status, &err) < 0) {
        diag("%s", err.msg);
        return -1;
    }
    return status;
}

static int make_image(void)
{
    char *bin = xasprintf("%s/%s/usr/bin", paths.images_dir, IMAGE);
    char *hw = xasprintf("%s/hello-world", bin);
    char *self = xasprintf("%s/kiln-test-app", bin);
    const char *srcdir = getenv("KILN_SRCDIR") ? getenv("KILN_SRCDIR") : ".";
    char *src = xasprintf("%s/examples/hello-world/src/hello-world.c", srcdir);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    int rc = kiln_mkdir_p(bin, 0755, NULL);
    const char *cc[] = {"gcc", "-std=c11", "-O2", "-DAPP_VERSION=\"1.0.3-1\"", "-o", hw, src, NULL};
    const char *cp[] = {"cp", exe, self, NULL};
    const char *ro[] = {"chmod", "-R", "a-w", paths.images_dir, NULL};
    if (rc == 0 && (run(cc) != 0 || run(cp) != 0 || run(ro) != 0))
        rc = -1;
    free(bin), free(hw), free(self), free(src);
    return rc;
}

static void setup_state(struct cloud *c)
{
    struct cloud_image *im = xcalloc(1, sizeof *im);
    snprintf(im->id, sizeof im->id, IMAGE);
    snprintf(im->package, sizeof im->package, "hello-world-1.0.3-1.x86_64");
    snprintf(im->app, sizeof im->app, "hello-world");
    cloud_add_image(c, im);
    const char *apps[] = {"hello-world", "crash"};
    for (int i = 0; i < 2; i++) {
        struct cloud_cluster *x = xcalloc(1, sizeof *x);
        snprintf(x->app, sizeof x->app, "%s", apps[i]);
        snprintf(x->env, sizeof x->env, "test");
        snprintf(x->name, sizeof x->name, "%s-test", apps[i]);
        x->start[0] = xstrdup(i == 0 ? "/usr/bin/hello-world" : "/usr/bin/kiln-test-app");
        if (i == 1)
            x->start[1] = xstrdup("app");
        snprintf(x->health_path, sizeof x->health_path, "/health_check");
        snprintf(x->protocol, sizeof x->protocol, "HTTP");
        x->health_interval_ms = health_interval_ms;
        x->health_timeout_ms = 200;
        x->healthy_threshold = 2;
        x->unhealthy_threshold = 2;
        x->chaos_mean_ms = 1000;
        x->chaos_min_ms = 500;
        cloud_add_cluster(c, x);

        struct cloud_group *g = xcalloc(1, sizeof *g);
        snprintf(g->name, sizeof g->name, "%s-test-v001", apps[i]);
        snprintf(g->cluster, sizeof g->cluster, "%s-test", apps[i]);
        g->version = 1;
        snprintf(g->image, sizeof g->image, IMAGE);
        g->max_size = 10;
        g->suspended = i == 0 ? 0 : KILN_PROC_ADD_TO_LB; /* hello-world enabled */
        cloud_add_group(c, g);
    }
}

/* ---- looking at the state ---- */

struct counts {
    int live, running, healthy, in_service, terminated, terminating;
};

static struct counts count(const char *group)
{
    struct counts n = {0};
    for (size_t i = 0; i < C.instances.n; i++) {
        struct cloud_instance *x = C.instances.v[i];
        if (strcmp(x->group, group) != 0)
            continue;
        n.live += x->state == KILN_INSTANCE_PENDING || x->state == KILN_INSTANCE_RUNNING;
        n.running += x->state == KILN_INSTANCE_RUNNING;
        n.healthy += x->state == KILN_INSTANCE_RUNNING && x->health == KILN_HEALTH_HEALTHY;
        n.in_service += x->state == KILN_INSTANCE_RUNNING && x->lb_state == KILN_LB_IN_SERVICE;
        n.terminated += x->state == KILN_INSTANCE_TERMINATED;
        n.terminating += x->state == KILN_INSTANCE_TERMINATING;
    }
    return n;
}

/* Waits until cond(group) holds (checked under mu); returns ms waited or -1. */
static int64_t wait_for(bool (*cond)(const char *), const char *group, int timeout_ms)
{
    int64_t t0 = kiln_mono_us(), end = t0 + timeout_ms * 1000LL;
    for (;;) {
        pthread_mutex_lock(&C.mu);
        bool yes = cond(group);
        pthread_mutex_unlock(&C.mu);
        if (yes)
            return (kiln_mono_us() - t0) / 1000;
        if (kiln_mono_us() > end)
            return -1;
        kiln_sleep_ms(5);
    }
}

static int want_n;
static bool n_running(const char *g)
{
    struct counts n = count(g);
    return n.running == want_n && n.live == want_n;
}
static bool n_in_service(const char *g)
{
    struct counts n = count(g);
    return n.healthy == want_n && n.live == want_n && n.in_service == want_n;
}

static void set_group(const char *group, int desired, unsigned suspend, unsigned resume)
{
    pthread_mutex_lock(&C.mu);
    struct cloud_group *g = cloud_find_group(&C, group);
    if (desired >= 0)
        g->desired = desired;
    g->suspended = (g->suspended | suspend) & ~resume;
    cloud_changed(&C);
    pthread_mutex_unlock(&C.mu);
}

/* Events of the log, parsed, oldest first. */
static cJSON *events(void)
{
    char *text = NULL;
    cJSON *all = cJSON_CreateArray();
    if (kiln_read_file(paths.events_log, &text, NULL, 64 << 20, NULL) < 0)
        return all;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        cJSON *e = cJSON_Parse(line);
        if (e != NULL)
            cJSON_AddItemToArray(all, e);
    }
    free(text);
    return all;
}

static const char *ev_str(const cJSON *e, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double ev_num(const cJSON *e, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- tests ---- */

static void test_scale_out(void)
{
    int64_t t0 = kiln_mono_us();
    set_group(HW, 3, 0, 0);
    want_n = 3;
    int64_t running_ms = wait_for(n_running, HW, 5000);
    ok(running_ms >= 0, "desired 3: 3 instances running after %lld ms", (long long)running_ms);
    pthread_mutex_lock(&C.mu);
    int64_t lo = INT64_MAX, hi = 0;
    for (size_t i = 0; i < C.instances.n; i++) {
        int64_t l = C.instances.v[i]->launched_us;
        lo = l < lo ? l : lo;
        hi = l > hi ? l : hi;
    }
    pthread_mutex_unlock(&C.mu);
    /* In parallel, all three start together; one after another, each would wait for
     * the previous copy and spawn. */
    ok(hi - lo < 30000, "the 3 launches started together (within %lld ms)",
       (long long)((hi - lo) / 1000));
    int64_t healthy_ms = wait_for(n_in_service, HW, 5000);
    ok(healthy_ms >= 0, "all healthy and in service %lld ms after desired was set",
       (long long)((kiln_mono_us() - t0) / 1000));
    diag("group of 3: running in %lld ms, healthy + in service in %lld ms", (long long)running_ms,
         (long long)((kiln_mono_us() - t0) / 1000));

    /* Steady state: no more launches, no more balancer requests. A health flip still in
     * flight when the last instance went in service may ask once more: let it land. */
    kiln_sleep_ms(600);
    pthread_mutex_lock(&C.mu);
    int req = lb_requests;
    size_t n = C.instances.n;
    pthread_mutex_unlock(&C.mu);
    kiln_sleep_ms(1500);
    pthread_mutex_lock(&C.mu);
    ok(lb_requests == req, "steady: no new balancer requests (%d then %d)", req, lb_requests);
    is_int(C.instances.n, n, "steady: no new instances");
    pthread_mutex_unlock(&C.mu);
}

static int64_t recovery_figures[32];
static size_t n_recovery;

static void test_replace_killed(void)
{
    for (int round = 0; round < 3; round++) {
        pthread_mutex_lock(&C.mu);
        struct cloud_instance *victim = NULL;
        for (size_t i = 0; i < C.instances.n && victim == NULL; i++)
            if (C.instances.v[i]->state == KILN_INSTANCE_RUNNING &&
                strcmp(C.instances.v[i]->group, HW) == 0)
                victim = C.instances.v[i];
        if (victim == NULL) {
            pthread_mutex_unlock(&C.mu);
            ok(0, "round %d: %s has a running instance to kill", round, HW);
            return;
        }
        char id[CLOUD_ID_MAX];
        snprintf(id, sizeof id, "%s", victim->id);
        pid_t pid = victim->pid;
        pthread_mutex_unlock(&C.mu);

        int64_t t0 = kiln_mono_us();
        kill(pid, SIGKILL);
        want_n = 3;
        kiln_sleep_ms(20);
        int64_t ms = wait_for(n_in_service, HW, 6000);
        int64_t total = (kiln_mono_us() - t0) / 1000;
        ok(ms >= 0, "SIGKILLed %s: replaced, healthy and in service in %lld ms", id,
           (long long)total);
        pthread_mutex_lock(&C.mu);
        struct cloud_instance *old = cloud_find_instance(&C, id), *repl = NULL;
        for (size_t i = 0; i < C.instances.n; i++)
            if (strcmp(C.instances.v[i]->replaces, id) == 0)
                repl = C.instances.v[i];
        ok(old && old->state == KILN_INSTANCE_TERMINATED && strcmp(old->cause, "exited") == 0 &&
               old->lb_state == KILN_LB_OUT_OF_SERVICE,
           "the killed one: terminated (exited), out of service");
        ok(repl != NULL && repl->state == KILN_INSTANCE_RUNNING, "its replacement %s says so",
           repl ? repl->id : "(none)");
        char rid[CLOUD_ID_MAX] = "";
        if (repl)
            snprintf(rid, sizeof rid, "%s", repl->id);
        pthread_mutex_unlock(&C.mu);

        /* The recovered event is emitted on the reconciler's next pass. */
        kiln_sleep_ms(600);
        cJSON *all = events(), *e, *rec = NULL;
        cJSON_ArrayForEach(e, all)
        {
            if (strcmp(ev_str(e, "type"), "recovered") == 0 &&
                strcmp(ev_str(e, "instance"), rid) == 0)
                rec = e;
        }
        double rms = rec ? ev_num(rec, "recovery_ms") : -1;
        ok(rec != NULL && rms > 0 && rms <= (double)total + 50, "recovered event: %s (%.0f ms)",
           rec ? ev_str(rec, "message") : "(none)", rms);
        if (rec && n_recovery < 32)
            recovery_figures[n_recovery++] = (int64_t)rms;
        cJSON_Delete(all);
    }
}

static void test_scale_in(void)
{
    pthread_mutex_lock(&C.mu);
    /* The two newest are the ones to go. */
    struct cloud_instance *live[8];
    size_t n = 0;
    for (size_t i = 0; i < C.instances.n && n < 8; i++)
        if (C.instances.v[i]->state == KILN_INSTANCE_RUNNING &&
            strcmp(C.instances.v[i]->group, HW) == 0)
            live[n++] = C.instances.v[i];
    char keep[CLOUD_ID_MAX] = "";
    int64_t oldest = INT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (live[i]->launched_us < oldest) {
            oldest = live[i]->launched_us;
            snprintf(keep, sizeof keep, "%s", live[i]->id);
        }
    pthread_mutex_unlock(&C.mu);

    set_group(HW, 1, KILN_PROC_TERMINATE, 0);
    kiln_sleep_ms(1000);
    pthread_mutex_lock(&C.mu);
    is_int(count(HW).live, 3, "Terminate suspended: no scale-in");
    pthread_mutex_unlock(&C.mu);

    set_group(HW, -1, 0, KILN_PROC_TERMINATE);
    want_n = 1;
    int64_t ms = wait_for(n_running, HW, 3000);
    ok(ms >= 0, "Terminate resumed, desired 1: scaled in (%lld ms)", (long long)ms);
    pthread_mutex_lock(&C.mu);
    struct cloud_instance *k = cloud_find_instance(&C, keep);
    ok(k && k->state == KILN_INSTANCE_RUNNING, "the oldest instance is the one kept");
    int scaled = 0;
    for (size_t i = 0; i < C.instances.n; i++)
        scaled += strcmp(C.instances.v[i]->cause, "scale-in") == 0;
    is_int(scaled, 2, "two terminated with cause scale-in");
    pthread_mutex_unlock(&C.mu);
    kiln_sleep_ms(700);
    pthread_mutex_lock(&C.mu);
    struct counts c = count(HW);
    ok(c.live == 1 && c.terminating == 0, "scale-in is not replaced (live %d)", c.live);
    pthread_mutex_unlock(&C.mu);
}

static void test_launch_suspended(void)
{
    set_group(HW, 2, KILN_PROC_LAUNCH, 0);
    kiln_sleep_ms(1000);
    pthread_mutex_lock(&C.mu);
    is_int(count(HW).live, 1, "Launch suspended: desired 2 launches nothing");
    pthread_mutex_unlock(&C.mu);
    set_group(HW, -1, 0, KILN_PROC_LAUNCH);
    want_n = 2;
    ok(wait_for(n_in_service, HW, 4000) >= 0, "Launch resumed: 2 healthy in service");
}

/* Stops one instance's process (SIGSTOP): its probes time out and it turns unhealthy. */
static void test_unhealthy(void)
{
    set_group(HW, -1, KILN_PROC_REPLACE_UNHEALTHY, 0);
    pthread_mutex_lock(&C.mu);
    struct cloud_instance *x = NULL;
    for (size_t i = 0; i < C.instances.n && x == NULL; i++)
        if (C.instances.v[i]->state == KILN_INSTANCE_RUNNING &&
            strcmp(C.instances.v[i]->group, HW) == 0)
            x = C.instances.v[i];
    if (x == NULL) {
        pthread_mutex_unlock(&C.mu);
        ok(0, "%s has a running instance to make unhealthy", HW);
        return;
    }
    char id[CLOUD_ID_MAX];
    snprintf(id, sizeof id, "%s", x->id);
    pid_t pid = x->pid;
    pthread_mutex_unlock(&C.mu);
    kill(-pid, SIGSTOP); /* the group: as root, pid is its PID namespace's init */

    int64_t end = kiln_mono_us() + 4000000;
    bool unhealthy = false;
    while (!unhealthy && kiln_mono_us() < end) {
        pthread_mutex_lock(&C.mu);
        unhealthy = cloud_find_instance(&C, id)->health == KILN_HEALTH_UNHEALTHY;
        pthread_mutex_unlock(&C.mu);
        kiln_sleep_ms(20);
    }
    ok(unhealthy, "a frozen instance turns unhealthy");
    kiln_sleep_ms(1200);
    pthread_mutex_lock(&C.mu);
    x = cloud_find_instance(&C, id);
    ok(x->state == KILN_INSTANCE_RUNNING && x->lb_state == KILN_LB_OUT_OF_SERVICE,
       "ReplaceUnhealthy suspended: it is kept, but out of service");
    is_int(count(HW).live, 2, "and nothing is launched for it");
    pthread_mutex_unlock(&C.mu);

    set_group(HW, -1, 0, KILN_PROC_REPLACE_UNHEALTHY);
    want_n = 2;
    int64_t t0 = kiln_mono_us();
    int64_t ms = wait_for(n_in_service, HW, 6000);
    ok(ms >= 0, "ReplaceUnhealthy resumed: replaced, 2 healthy again in %lld ms",
       (long long)((kiln_mono_us() - t0) / 1000));
    pthread_mutex_lock(&C.mu);
    x = cloud_find_instance(&C, id);
    ok(x && (x->state == KILN_INSTANCE_TERMINATING || x->state == KILN_INSTANCE_TERMINATED) &&
           strcmp(x->cause, "unhealthy") == 0,
       "the frozen one is terminated with cause unhealthy");
    pthread_mutex_unlock(&C.mu);
    end = kiln_mono_us() + 5000000;
    while (kill(pid, 0) == 0 && kiln_mono_us() < end)
        kiln_sleep_ms(20);
    ok(kill(pid, 0) < 0, "and its (stopped) process is gone after the grace period");
}

static void test_crash_backoff(void)
{
    int64_t t0 = kiln_mono_us();
    set_group(CRASH, 1, 0, 0);
    kiln_sleep_ms(4000);
    set_group(CRASH, 0, 0, 0);
    kiln_sleep_ms(300);
    pthread_mutex_lock(&C.mu);
    int launched = 0;
    for (size_t i = 0; i < C.instances.n; i++)
        launched += strcmp(C.instances.v[i]->group, CRASH) == 0;
    pthread_mutex_unlock(&C.mu);
    /* Without a back-off: one launch every ~60 ms (a 50 ms life), ~60 in 4 s. */
    ok(launched >= 3 && launched <= 8,
       "an app that crashes at start is relaunched with a back-off: "
       "%d launches in %lld ms",
       launched, (long long)((kiln_mono_us() - t0) / 1000));
    cJSON *all = events(), *e;
    bool reported = false;
    cJSON_ArrayForEach(e, all)
    {
        if (strcmp(ev_str(e, "type"), "error") == 0 && strcmp(ev_str(e, "group"), CRASH) == 0 &&
            strstr(ev_str(e, "message"), "keep exiting"))
            reported = true;
    }
    ok(reported, "the crash loop is reported once as an error event");
    cJSON_Delete(all);
}

static void test_chaos(void)
{
    set_group(HW, 3, 0, 0);
    want_n = 3;
    ok(wait_for(n_in_service, HW, 5000) >= 0, "3 healthy before chaos");
    int64_t t_start = kiln_now_us();
    /* A 1 s mean with a 500 ms minimum for 8 s. */
    pthread_mutex_lock(&C.mu);
    struct cloud_cluster *cl = cloud_find_cluster_named(&C, "hello-world-test");
    cl->chaos_enabled = true;
    cl->chaos_mean_ms = 1000;
    cl->chaos_min_ms = 500;
    cl->chaos_next_kill_us = 0;
    /* Chaos must leave clusters alone that did not opt in. */
    cloud_changed(&C);
    pthread_mutex_unlock(&C.mu);
    kiln_sleep_ms(8000);
    /* Then a mean far below the minimum: the minimum alone sets the pace. */
    pthread_mutex_lock(&C.mu);
    cl->chaos_mean_ms = 100;
    cl->chaos_next_kill_us = 0;
    cloud_changed(&C);
    pthread_mutex_unlock(&C.mu);
    kiln_sleep_ms(4000);
    pthread_mutex_lock(&C.mu);
    cl->chaos_enabled = false;
    cloud_changed(&C);
    pthread_mutex_unlock(&C.mu);

    int64_t t_end = kiln_now_us();
    cJSON *all = events(), *e;
    int64_t kills[256] = {0};
    char killed[256][CLOUD_ID_MAX];
    size_t n = 0;
    cJSON_ArrayForEach(e, all)
    {
        int64_t t = (int64_t)ev_num(e, "time_us");
        if (strcmp(ev_str(e, "type"), "terminate") == 0 &&
            strcmp(ev_str(e, "cause"), "chaos") == 0 && t >= t_start && n < 256) {
            ok(strcmp(ev_str(e, "cluster"), "hello-world-test") == 0 &&
                   strstr(ev_str(e, "message"), "chaos killed") != NULL,
               "kill %zu: %s", n + 1, ev_str(e, "message"));
            kills[n] = t;
            snprintf(killed[n], sizeof killed[n], "%s", ev_str(e, "instance"));
            n++;
        }
    }
    cJSON_Delete(all);
    int64_t sorted[256], min_gap = INT64_MAX;
    memcpy(sorted, kills, n * sizeof *kills);
    qsort(sorted, n, sizeof *sorted, cmp_i64);
    for (size_t i = 1; i < n; i++)
        if (sorted[i] - sorted[i - 1] < min_gap)
            min_gap = sorted[i] - sorted[i - 1];
    ok(n >= 8, "chaos killed %zu instances in %.1f s", n, (double)(t_end - t_start) / 1e6);
    ok(n >= 2 && min_gap >= 500000,
       "never two kills within the minimum: the closest were "
       "%.1f ms apart",
       (double)min_gap / 1000);
    diag("chaos: %zu kills, closest two %.1f ms apart", n, (double)min_gap / 1000);
    for (size_t i = 0; i < n; i++)
        diag("  kill at +%.3f s", (double)(sorted[i] - t_start) / 1e6);

    want_n = 3;
    int64_t ms = wait_for(n_in_service, HW, 6000);
    ok(ms >= 0, "after chaos: 3 healthy in service again");
    pthread_mutex_lock(&C.mu);
    size_t replaced = 0;
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < C.instances.n; i++)
            if (strcmp(C.instances.v[i]->replaces, killed[k]) == 0) {
                replaced++;
                break;
            }
    }
    is_int(replaced, n, "every killed instance was replaced");
    ok(n > 0 && cl->chaos_last_kill_us >= sorted[n - 1], "chaos_last_kill_us recorded");
    ok(cloud_find_group(&C, CRASH)->desired == 0 && count(CRASH).live == 0,
       "the other cluster was left alone");
    pthread_mutex_unlock(&C.mu);

    /* Recovery times of the chaos kills. */
    all = events();
    cJSON_ArrayForEach(e, all)
    {
        if (strcmp(ev_str(e, "type"), "recovered") == 0 && ev_num(e, "time_us") >= t_start &&
            n_recovery < 32)
            recovery_figures[n_recovery++] = (int64_t)ev_num(e, "recovery_ms");
    }
    cJSON_Delete(all);
}

static void test_chaos_no_victims(void)
{
    /* Chaos on a cluster whose only group is disabled: nothing to kill. */
    set_group(CRASH, 0, 0, 0);
    pthread_mutex_lock(&C.mu);
    struct cloud_cluster *cl = cloud_find_cluster_named(&C, "crash-test");
    cl->chaos_enabled = true;
    cl->chaos_mean_ms = 100;
    cl->chaos_min_ms = 100;
    cloud_changed(&C);
    struct cloud_group *g = cloud_find_group(&C, HW);
    g->suspended |= KILN_PROC_ADD_TO_LB; /* hello-world disabled too, with chaos off */
    int64_t since = kiln_now_us();
    pthread_mutex_unlock(&C.mu);
    kiln_sleep_ms(1000);
    cJSON *all = events(), *e;
    int kills = 0;
    cJSON_ArrayForEach(e, all)
    {
        if (strcmp(ev_str(e, "cause"), "chaos") == 0 && ev_num(e, "time_us") >= since)
            kills++;
    }
    cJSON_Delete(all);
    is_int(kills, 0, "no kills without a running instance in an enabled group");
    pthread_mutex_lock(&C.mu);
    cl->chaos_enabled = false;
    g->suspended &= ~(unsigned)KILN_PROC_ADD_TO_LB;
    cloud_changed(&C);
    pthread_mutex_unlock(&C.mu);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "app") == 0)
        return app_main(argc, argv);
    char tmp[] = "/tmp/kiln-test-reconciler.XXXXXX";
    if (mkdtemp(tmp) == NULL)
        return 1;
    struct kiln_err err = {0};
    char *home = xasprintf("%s/home", tmp);
    kiln_config_defaults(&cfg);
    if (kiln_paths_resolve(&paths, home, NULL, &err) < 0 ||
        kiln_paths_ensure_home(&paths, &err) < 0 ||
        kiln_mkdir_p(paths.images_dir, 0700, &err) < 0) {
        printf("Bail out! %s\n", err.msg);
        return 1;
    }
    free(home);
    if (make_image() < 0) {
        printf("Bail out! cannot build the test image (needs gcc and cp)\n");
        return 1;
    }
    if (getenv("KILN_TEST_HEALTH_INTERVAL_MS") != NULL)
        health_interval_ms = atoi(getenv("KILN_TEST_HEALTH_INTERVAL_MS"));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    cloud_init(&C, &paths, &cfg, &err);
    C.started_us = kiln_now_us();
    cloud_events_open(&C, &err);
    setup_state(&C);
    if (cloud_instances_start(&C, &err) < 0 || cloud_health_start(&C, &err) < 0 ||
        cloud_reconciler_start(&C, &err) < 0 || cloud_chaos_start(&C, &err) < 0) {
        printf("Bail out! %s\n", err.msg);
        return 1;
    }

    test_scale_out();
    test_replace_killed();
    test_scale_in();
    test_launch_suspended();
    test_unhealthy();
    test_crash_backoff();
    test_chaos();
    test_chaos_no_victims();

    if (n_recovery > 0) {
        qsort(recovery_figures, n_recovery, sizeof recovery_figures[0], cmp_i64);
        diag("time to recover (kill -> replacement healthy), %zu samples: median %lld ms, max "
             "%lld ms (health interval %lld ms, threshold 2)",
             n_recovery, (long long)recovery_figures[n_recovery / 2],
             (long long)recovery_figures[n_recovery - 1], (long long)health_interval_ms);
    }

    /* The state was saved along the way. */
    char *saved = NULL;
    ok(kiln_read_file(paths.cloud_json, &saved, NULL, 64 << 20, NULL) == 0 &&
           strstr(saved, "\"hello-world-test-v001\"") != NULL,
       "the reconciler saved the state");
    free(saved);

    /* Stop everything and kill what runs (a real kilnd would leave it for the next). */
    pthread_mutex_lock(&C.mu);
    C.stopping = true;
    pthread_cond_broadcast(&C.changed);
    pthread_mutex_unlock(&C.mu);
    cloud_chaos_stop(&C);
    cloud_reconciler_stop(&C);
    cloud_health_stop(&C);
    cloud_instances_stop(&C);
    for (size_t i = 0; i < C.instances.n; i++)
        if (C.instances.v[i]->state != KILN_INSTANCE_TERMINATED && C.instances.v[i]->pid > 0)
            kill(-C.instances.v[i]->pid, SIGKILL);
    cloud_events_close(&C);
    cloud_free(&C);
    curl_global_cleanup();
    const char *rw[] = {"chmod", "-R", "u+w", tmp, NULL};
    const char *rm[] = {"rm", "-rf", tmp, NULL};
    if (getenv("KILN_TEST_KEEP") == NULL && run(rw) == 0)
        run(rm);
    kiln_paths_free(&paths);
    return done_testing();
}
