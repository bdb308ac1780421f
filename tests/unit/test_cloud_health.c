/* Tests for kilnd's health checks against real processes: ELB semantics (200 exactly,
 * healthy/unhealthy thresholds, UNKNOWN at first), what the last probe saw, the initial
 * grace for an app still binding its port, timeouts, suspended HealthCheck, instances
 * that go away mid-probe, and the launch -> healthy time (median of 20). */
#include "cloudtest.h"

#define INTERVAL_MS 1000

static struct cloud cl;
static struct kiln_paths paths;

/* Waits until x's health is `want`; returns how long it took (µs) or -1. */
static int64_t wait_health(struct cloud_instance *x, enum kiln_health want, int timeout_ms)
{
    int64_t t0 = kiln_mono_us();
    for (;;) {
        pthread_mutex_lock(&cl.mu);
        enum kiln_health h = x->health;
        pthread_mutex_unlock(&cl.mu);
        if (h == want)
            return kiln_mono_us() - t0;
        if (kiln_mono_us() - t0 > timeout_ms * 1000LL)
            return -1;
        kiln_sleep_ms(5);
    }
}

static void detail_of(struct cloud_instance *x, char *out, size_t size)
{
    pthread_mutex_lock(&cl.mu);
    snprintf(out, size, "%s", x->health_detail);
    pthread_mutex_unlock(&cl.mu);
}

/* Adds an instance the way a launch does: under mu, then wakes the threads. */
static struct cloud_instance *launch(const char *group, const char *id, int port, pid_t pid,
                                     int64_t launched_us)
{
    pthread_mutex_lock(&cl.mu);
    struct cloud_instance *x =
        ct_add_instance(&cl, group, id, port, pid, KILN_HEALTH_UNKNOWN, launched_us);
    cloud_changed(&cl);
    pthread_mutex_unlock(&cl.mu);
    return x;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char *home = ct_home("health");
    char *hello = ct_build_hello(home);
    ct_cloud(&cl, &paths, home, ct_free_port());
    struct kiln_err err = {0};
    uint64_t seq = 0;

    ct_add_cluster(&cl, "hello-world", "test", INTERVAL_MS, 1000, 2, 2);
    struct cloud_group *g = ct_add_group(&cl, "hello-world-test", 0, false);
    struct cloud_group *gen = ct_add_group(&cl, "hello-world-test", 1, true);
    struct cloud_group *gsus = ct_add_group(&cl, "hello-world-test", 2, false);
    gsus->suspended |= KILN_PROC_HEALTHCHECK;
    ct_add_cluster(&cl, "slow", "test", 500, 300, 2, 2);
    struct cloud_group *gslow = ct_add_group(&cl, "slow-test", 0, false);
    struct cloud_cluster *nopath = ct_add_cluster(&cl, "nopath", "test", 500, 1000, 2, 2);
    snprintf(nopath->health_path, sizeof nopath->health_path, "/no/such/page");
    struct cloud_group *gnopath = ct_add_group(&cl, "nopath-test", 0, false);

    is_int(cloud_health_start(&cl, &err), 0, "the health thread starts (%s)", err.msg);

    /* ---- 20 launches: each healthy after two successes an interval apart ---- */
    enum { N = 20 };
    struct cloud_instance *inst[N];
    pid_t pids[N];
    int64_t t_launch[N];
    for (int i = 0; i < N; i++) {
        char id[CLOUD_ID_MAX];
        snprintf(id, sizeof id, "i-%016x", 0x100 + i);
        int port = ct_free_port();
        t_launch[i] = kiln_now_us();
        pids[i] = ct_start_hello(hello, port, id, false);
        /* The 20th goes into the enabled group: its flip must ask the balancer. */
        inst[i] = launch(i == N - 1 ? gen->name : g->name, id, port, pids[i], t_launch[i]);
    }
    bool all = true;
    for (int i = 0; i < N; i++)
        all &= wait_health(inst[i], KILN_HEALTH_HEALTHY, 5000) >= 0;
    ok(all, "all %d instances become healthy", N);
    int64_t lat[N], lo = INT64_MAX, hi = 0;
    for (int i = 0; i < N; i++) {
        pthread_mutex_lock(&cl.mu);
        lat[i] = inst[i]->healthy_us - t_launch[i];
        pthread_mutex_unlock(&cl.mu);
        lo = lat[i] < lo ? lat[i] : lo;
        hi = lat[i] > hi ? lat[i] : hi;
    }
    int64_t med = ct_median(lat, N);
    diag("launch -> healthy (interval 1 s, threshold 2): median %lld ms, min %lld, max %lld",
         (long long)med / 1000, (long long)lo / 1000, (long long)hi / 1000);
    ok(med <= 1500 * 1000, "median launch -> healthy <= 1.5 s");
    ok(lo >= (INTERVAL_MS - 50) * 1000LL,
       "and never before two probes an interval apart (min %lld ms)", (long long)lo / 1000);
    char d[CLOUD_DETAIL_MAX];
    detail_of(inst[0], d, sizeof d);
    is_str(d, "HTTP 200: ok", "the detail shows what the probe saw");
    ok(ct_event_seen(&cl, &seq, "\"type\":\"health\"", "unknown -> healthy: HTTP 200: ok"),
       "a health event says unknown -> healthy");
    pthread_mutex_lock(&cl.mu);
    uint64_t lb_after_healthy = cl.lb_wanted;
    pthread_mutex_unlock(&cl.mu);
    is_int(lb_after_healthy, 1,
           "the one flip in an enabled group asked the balancer; the 19 others did not");

    /* ---- a health check that answers 500 ---- */
    int pf = ct_free_port();
    int64_t t_fail = kiln_now_us();
    pid_t pid_fail = ct_start_hello(hello, pf, "i-00000000000000f5", true);
    struct cloud_instance *bad = launch(g->name, "i-00000000000000f5", pf, pid_fail, t_fail);

    /* ---- nothing listening, launched long ago (no grace) ---- */
    int pr = ct_free_port();
    struct cloud_instance *refused =
        launch(g->name, "i-00000000000000e1", pr, 0, kiln_now_us() - 60 * 1000000LL);
    /* ---- nothing listening yet, just launched (grace) ---- */
    int pg = ct_free_port();
    int64_t t_grace = kiln_mono_us();
    struct cloud_instance *grace = launch(g->name, "i-00000000000000e2", pg, 0, kiln_now_us());
    /* ---- accepts and never answers ---- */
    int ps;
    int silent = ct_silent_listener(&ps);
    struct cloud_instance *mute =
        launch(gslow->name, "i-00000000000000e3", ps, 0, kiln_now_us() - 60 * 1000000LL);
    /* ---- HealthCheck suspended ---- */
    int psus = ct_free_port();
    pid_t pid_sus = ct_start_hello(hello, psus, "i-00000000000000e4", false);
    struct cloud_instance *sus =
        launch(gsus->name, "i-00000000000000e4", psus, pid_sus, kiln_now_us());
    /* ---- 404: not 200, so not healthy ---- */
    int p404 = ct_free_port();
    pid_t pid_404 = ct_start_hello(hello, p404, "i-00000000000000e5", false);
    struct cloud_instance *nf =
        launch(gnopath->name, "i-00000000000000e5", p404, pid_404, kiln_now_us());

    kiln_sleep_ms(1200);
    pthread_mutex_lock(&cl.mu);
    is_int(grace->health, KILN_HEALTH_UNKNOWN, "in its first 2 s a refused port is not a failure");
    is_int(grace->fail_streak, 0, "(no failure counted)");
    pthread_mutex_unlock(&cl.mu);

    int64_t t = wait_health(bad, KILN_HEALTH_UNHEALTHY, 5000);
    ok(t >= 0, "an instance answering 500 becomes unhealthy");
    detail_of(bad, d, sizeof d);
    is_str(d, "HTTP 500: unhealthy (HELLO_HEALTH=fail)", "its detail has the status and body");
    ok(ct_event_seen(&cl, &seq, "unknown -> unhealthy: HTTP 500: unhealthy (HELLO_HEALTH=fail)",
                     "i-00000000000000f5"),
       "a health event with the detail");

    ok(wait_health(refused, KILN_HEALTH_UNHEALTHY, 5000) >= 0,
       "a port nobody listens on is unhealthy");
    detail_of(refused, d, sizeof d);
    is_str(d, "connection refused", "detail: connection refused");
    ok(wait_health(mute, KILN_HEALTH_UNHEALTHY, 5000) >= 0, "an app that never answers too");
    detail_of(mute, d, sizeof d);
    is_str(d, "timed out after 300ms", "detail: timed out after the cluster's timeout");
    ok(wait_health(nf, KILN_HEALTH_UNHEALTHY, 5000) >= 0, "HTTP 404 is a failure (200 exactly)");
    detail_of(nf, d, sizeof d);
    is_str(d, "HTTP 404: not found", "detail: HTTP 404: not found");
    ok(wait_health(grace, KILN_HEALTH_UNHEALTHY, 6000) >= 0,
       "after the grace, a port still refused counts");
    diag("never-bound instance unhealthy after %lld ms",
         (long long)(kiln_mono_us() - t_grace) / 1000);
    pthread_mutex_lock(&cl.mu);
    is_int(sus->health, KILN_HEALTH_UNKNOWN, "HealthCheck suspended: health stays as it was");
    is_str(sus->health_detail, "", "(never probed)");
    pthread_mutex_unlock(&cl.mu);

    /* ---- healthy, then the process dies ---- */
    ct_stop(pids[0]);
    int64_t t_dead = wait_health(inst[0], KILN_HEALTH_UNHEALTHY, 5000);
    ok(t_dead >= 0, "a healthy instance whose process died becomes unhealthy");
    diag("kill -> unhealthy: %lld ms", (long long)t_dead / 1000);
    ok(ct_event_seen(&cl, &seq, "healthy -> unhealthy: connection refused", inst[0]->id),
       "a health event says healthy -> unhealthy");
    pthread_mutex_lock(&cl.mu);
    ok(inst[0]->healthy_us != 0, "healthy_us keeps the first time it was healthy");
    pthread_mutex_unlock(&cl.mu);

    /* ---- an instance removed while its probe is in flight ---- */
    pthread_mutex_lock(&cl.mu);
    mute->next_probe_us = 0;
    cloud_changed(&cl);
    pthread_mutex_unlock(&cl.mu);
    kiln_sleep_ms(50); /* its probe (300 ms timeout) is now in flight */
    pthread_mutex_lock(&cl.mu);
    cloud_remove_instance(&cl, mute);
    inst[1]->ok_streak = 0; /* to see the next probe of a healthy instance land */
    pthread_mutex_unlock(&cl.mu);
    kiln_sleep_ms(400); /* the removed one's probe has timed out by now */
    /* Its late result must be dropped (a use after free shows in the sanitizer builds),
     * and the health thread must go on probing the others. */
    pthread_mutex_lock(&cl.mu);
    ok(cloud_find_instance(&cl, "i-00000000000000e3") == NULL,
       "an instance removed mid-probe stays removed");
    pthread_mutex_unlock(&cl.mu);
    int streak = 0;
    for (int waited = 0; waited < 2000 && streak == 0; waited += 20) {
        pthread_mutex_lock(&cl.mu);
        streak = inst[1]->ok_streak;
        pthread_mutex_unlock(&cl.mu);
        if (streak == 0)
            kiln_sleep_ms(20);
    }
    ok(streak > 0, "and the other instances are still probed after it (ok streak %d)", streak);

    /* ---- terminated instances are not probed ---- */
    pthread_mutex_lock(&cl.mu);
    refused->state = KILN_INSTANCE_TERMINATED;
    refused->fail_streak = 0;
    pthread_mutex_unlock(&cl.mu);
    kiln_sleep_ms(1200);
    pthread_mutex_lock(&cl.mu);
    is_int(refused->fail_streak, 0, "a terminated instance is not probed");
    pthread_mutex_unlock(&cl.mu);

    /* ---- stop with probes in flight ---- */
    int ps2;
    int silent2 = ct_silent_listener(&ps2);
    launch(gslow->name, "i-00000000000000e6", ps2, 0, kiln_now_us() - 60 * 1000000LL);
    kiln_sleep_ms(50);
    int64_t s0 = kiln_mono_us();
    cloud_health_stop(&cl);
    int64_t stop_ms = (kiln_mono_us() - s0) / 1000;
    ok(stop_ms < 200, "stopping with a probe in flight takes %lld ms", (long long)stop_ms);
    ok(cl.health == NULL, "the health thread is gone");

    for (int i = 0; i < N; i++)
        ct_stop(pids[i]);
    ct_stop(pid_fail);
    ct_stop(pid_sus);
    ct_stop(pid_404);
    close(silent);
    close(silent2);
    ct_cloud_free(&cl, &paths);
    ct_rm_tree(home);
    free(home);
    free(hello);
    curl_global_cleanup();
    return done_testing();
}
