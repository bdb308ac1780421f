/* Tests for kilnd's load balancer against the real nginx and real instances of the
 * example app: routing by Host, 503 for a cluster with nothing in service, the
 * generation marker, a config nginx -t refuses (the old one keeps serving), a busy port,
 * nginx killed and restarted, adoption by a restarted balancer, red-black switches under
 * load without a failed request, and the switch latency (median of 20). */
#include "cloudtest.h"

#include "kiln/atomic_file.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#define WAIT_MS 10000
#define HOST    "hello-world.test.localhost"

static struct cloud cl;
static struct kiln_paths paths;
static int lb_port;

static size_t token_header(char *data, size_t size, size_t nmemb, void *ctx)
{
    if (size * nmemb > 16 && strncasecmp(data, "X-Kiln-Balancer:", 16) == 0)
        *(bool *)ctx = true;
    return size * nmemb;
}

/* GET /__kiln/generation where kilnd reads it: nginx's socket in the state dir (or, with
 * port > 0, on the TCP port, where it must not be). *token: whether X-Kiln-Balancer came. */
static struct ct_answer marker_get_at(int port, bool *token)
{
    struct ct_answer a = {0};
    bool seen = false;
    CURL *h = curl_easy_init();
    char url[128], *sock = xasprintf("%s/lb.sock", paths.home);
    if (port > 0) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d/__kiln/generation", port);
    } else {
        snprintf(url, sizeof url, "http://localhost/__kiln/generation");
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ct_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, token_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &seen);
    a.cc = curl_easy_perform(h);
    if (a.cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.status);
    curl_easy_cleanup(h);
    free(sock);
    if (token != NULL)
        *token = seen;
    return a;
}

static struct ct_answer marker_get(bool *token)
{
    return marker_get_at(0, token);
}

static pid_t nginx_master(void)
{
    char *path = xasprintf("%s/nginx.pid", paths.nginx_dir), *text = NULL;
    pid_t pid = 0;
    if (kiln_read_file(path, &text, NULL, 64, NULL) == 0)
        pid = (pid_t)strtol(text, NULL, 10);
    free(text);
    free(path);
    return pid;
}

/* Requests a new routing and waits for it; returns 0/-1 and the time it took. */
static int switch_routing(struct cloud *c, int64_t *took_us, struct kiln_err *err)
{
    kiln_err_clear(err);
    int64_t t0 = kiln_mono_us();
    pthread_mutex_lock(&c->mu);
    uint64_t n = cloud_balancer_request(c);
    int rc = cloud_balancer_wait(c, n, WAIT_MS, err);
    pthread_mutex_unlock(&c->mu);
    if (took_us != NULL)
        *took_us = kiln_mono_us() - t0;
    return rc;
}

static void set_enabled(struct cloud *c, struct cloud_group *g, bool on)
{
    pthread_mutex_lock(&c->mu);
    if (on)
        g->suspended &= ~(unsigned)KILN_PROC_ADD_TO_LB;
    else
        g->suspended |= KILN_PROC_ADD_TO_LB;
    pthread_mutex_unlock(&c->mu);
}

static enum kiln_lb_state lb_state_of(struct cloud *c, struct cloud_instance *x)
{
    pthread_mutex_lock(&c->mu);
    enum kiln_lb_state s = x->lb_state;
    pthread_mutex_unlock(&c->mu);
    return s;
}

/* A client hammering the app through nginx while groups switch. */
struct load {
    pthread_t thread;
    atomic_bool stop;
    long ok, failed;
    char last_failure[256];
};

static void *load_main(void *arg)
{
    struct load *l = arg;
    CURL *h = curl_easy_init(); /* one handle: keep-alive, as a browser would */
    while (!atomic_load(&l->stop)) {
        struct ct_answer a = ct_get(h, lb_port, HOST, "/");
        if (a.cc == CURLE_OK && a.status == 200 && strncmp(a.body, "hello-world ", 12) == 0) {
            l->ok++;
        } else {
            l->failed++;
            snprintf(l->last_failure, sizeof l->last_failure, "%s, HTTP %ld: %.100s",
                     curl_easy_strerror(a.cc), a.status, a.body);
        }
    }
    curl_easy_cleanup(h);
    return NULL;
}

/* `test_cloud_balancer --kilnd HOME LB_PORT APP_PORT`: plays a kilnd that starts the
 * balancer, routes to one instance, says "ready" and waits to be SIGKILLed. */
static int kilnd_mode(char **argv)
{
    struct cloud k;
    struct kiln_paths kp;
    struct kiln_err err = {0};
    ct_cloud(&k, &kp, argv[2], atoi(argv[3]));
    ct_add_cluster(&k, "hello-world", "test", 1000, 1000, 2, 2);
    struct cloud_group *g = ct_add_group(&k, "hello-world-test", 0, true);
    ct_add_instance(&k, g->name, "i-00000000000000aa", atoi(argv[4]), 0, KILN_HEALTH_HEALTHY,
                    kiln_now_us());
    if (cloud_balancer_start(&k, &err) < 0 || switch_routing(&k, NULL, &err) < 0) {
        printf("failed: %s\n", err.msg);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    for (;;)
        pause();
}

/* Runs this program in kilnd mode and waits for its "ready"; returns its pid. */
static pid_t start_fake_kilnd(const char *home, int port, int app_port)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    char lp[16], ap[16];
    snprintf(lp, sizeof lp, "%d", port);
    snprintf(ap, sizeof ap, "%d", app_port);
    char *argv[] = {self, "--kilnd", (char *)home, lp, ap, NULL};
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    pid_t pid = -1;
    if (posix_spawn(&pid, self, &fa, NULL, argv, environ) != 0)
        pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    char buf[256] = "";
    ssize_t got = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    buf[got > 0 ? got : 0] = '\0';
    if (strncmp(buf, "ready", 5) != 0) {
        diag("fake kilnd said: %s", buf);
        return -1;
    }
    return pid;
}

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (argc == 5 && strcmp(argv[1], "--kilnd") == 0)
        return kilnd_mode(argv);
    if (access("/usr/sbin/nginx", X_OK) != 0 && access("/usr/bin/nginx", X_OK) != 0) {
        printf("1..0 # SKIP nginx is not installed (Debian package nginx)\n");
        return 0;
    }
    char *home = ct_home("balancer");
    char *hello = ct_build_hello(home);
    lb_port = ct_free_port();
    ct_cloud(&cl, &paths, home, lb_port);
    struct kiln_err err = {0};
    uint64_t seq = 0;

    int port_a = ct_free_port(), port_b = ct_free_port(), port_c = ct_free_port();
    pid_t pid_a = ct_start_hello(hello, port_a, "i-00000000000000aa", false);
    pid_t pid_b = ct_start_hello(hello, port_b, "i-00000000000000bb", false);
    pid_t pid_c = ct_start_hello(hello, port_c, "i-00000000000000cc", false);
    ok(ct_wait_port(port_a, 5000) && ct_wait_port(port_b, 5000) && ct_wait_port(port_c, 5000),
       "three instances of the example app listen");

    ct_add_cluster(&cl, "hello-world", "test", 1000, 1000, 2, 2);
    struct cloud_group *g0 = ct_add_group(&cl, "hello-world-test", 0, true);
    struct cloud_group *g1 = ct_add_group(&cl, "hello-world-test", 1, false);
    struct cloud_instance *a = ct_add_instance(&cl, g0->name, "i-00000000000000aa", port_a, pid_a,
                                               KILN_HEALTH_HEALTHY, kiln_now_us());
    struct cloud_instance *b = ct_add_instance(&cl, g0->name, "i-00000000000000bb", port_b, pid_b,
                                               KILN_HEALTH_HEALTHY, kiln_now_us());
    struct cloud_instance *c3 = ct_add_instance(&cl, g1->name, "i-00000000000000cc", port_c, pid_c,
                                                KILN_HEALTH_HEALTHY, kiln_now_us());

    /* ---- start, route, 404, generation ---- */
    int64_t t0 = kiln_mono_us();
    if (cloud_balancer_start(&cl, &err) < 0)
        printf("Bail out! %s\n", err.msg);
    int64_t took;
    is_int(switch_routing(&cl, &took, &err), 0, "first routing is live (%s)", err.msg);
    diag("nginx started and confirmed in %lld ms", (long long)((kiln_mono_us() - t0) / 1000));
    ok(cl.nginx_bin[0] == '/', "nginx found at %s", cl.nginx_bin);

    bool seen_a = false, seen_b = false, all_ok = true;
    for (int i = 0; i < 20; i++) {
        struct ct_answer r = ct_get(NULL, lb_port, HOST, "/");
        all_ok &= r.status == 200 && strcmp(r.body, "hello-world 1.0.3-1\n") == 0;
        seen_a |= strcmp(r.instance, a->id) == 0;
        seen_b |= strcmp(r.instance, b->id) == 0;
    }
    ok(all_ok, "20 requests with Host %s answer 200 hello-world 1.0.3-1", HOST);
    ok(seen_a && seen_b, "both instances of the enabled group answer");
    is_int(lb_state_of(&cl, a), KILN_LB_IN_SERVICE, "instance a is in service");
    is_int(lb_state_of(&cl, b), KILN_LB_IN_SERVICE, "instance b is in service");
    is_int(lb_state_of(&cl, c3), KILN_LB_OUT_OF_SERVICE, "the disabled group's instance is not");
    ok(ct_event_seen(&cl, &seq, "\"type\":\"lb\"", "i-00000000000000aa is in-service"),
       "an lb event says a went in service");

    struct ct_answer r = ct_get(NULL, lb_port, "nope.test.localhost", "/");
    is_int(r.status, 404, "an unknown Host gets 404");
    char want404[128];
    snprintf(want404, sizeof want404, "unknown app: use http://APP.ENV.localhost:%d/\n", lb_port);
    is_str(r.body, want404, "with a sentence saying how to reach an app");
    /* The first pass (at start) may already have had this routing: then the request
     * was live without a reload and nginx still shows the start's generation. */
    r = marker_get(NULL);
    pthread_mutex_lock(&cl.mu);
    unsigned long long applied = cl.lb_applied;
    pthread_mutex_unlock(&cl.mu);
    char gen[32];
    snprintf(gen, sizeof gen, "%.20s", r.body);
    ok(r.status == 200 && strtoull(gen, NULL, 10) <= applied && applied >= 1,
       "/__kiln/generation answers a generation (%.*s) up to the applied one (%llu)",
       (int)strcspn(gen, "\n"), gen, applied);

    bool token = false;
    marker_get(&token);
    ok(token, "the marker on the state dir's socket carries kilnd's token");
    r = marker_get_at(lb_port, &token);
    ok(r.status == 404 && !token,
       "on the TCP port /__kiln/generation is an unknown app (%ld), without the token: any "
       "local user can reach that port",
       r.status);
    struct stat st;
    char *p = xasprintf("%s/lb.sock", paths.home);
    ok(stat(p, &st) == 0 && S_ISSOCK(st.st_mode), "the marker's socket is in the 0700 state dir");
    free(p);
    p = xasprintf("%s/nginx.conf", paths.nginx_dir);
    ok(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600, "nginx.conf is there, mode 0600");
    free(p);
    p = xasprintf("%s/temp/proxy", paths.nginx_dir);
    ok(stat(p, &st) == 0 && S_ISDIR(st.st_mode), "temp paths live under the state dir");
    free(p);

    /* ---- nothing changed: no reload ---- */
    pid_t master = nginx_master();
    is_int(switch_routing(&cl, &took, &err), 0, "a request without a change succeeds");
    r = marker_get(NULL);
    is_str(r.body, gen, "and does not reload nginx (same generation)");
    diag("no-change request answered in %lld us", (long long)took);

    /* ---- disable: 503 with a sentence; enable again ---- */
    set_enabled(&cl, g0, false);
    is_int(switch_routing(&cl, NULL, &err), 0, "disabling is live (%s)", err.msg);
    r = ct_get(NULL, lb_port, HOST, "/");
    is_int(r.status, 503, "a cluster with nothing in service answers 503");
    is_str(r.body, "no healthy instances in hello-world-test\n", "with a sentence");
    is_int(lb_state_of(&cl, a), KILN_LB_OUT_OF_SERVICE, "a is out of service");
    pthread_mutex_lock(&cl.mu);
    snprintf(gen, sizeof gen, "%llu\n", (unsigned long long)cl.lb_applied);
    pthread_mutex_unlock(&cl.mu);
    is_str(marker_get(NULL).body, gen,
           "after a real change nginx serves the applied request's generation");
    ok(ct_event_seen(&cl, &seq, "i-00000000000000bb is out-of-service", NULL),
       "an lb event says b left");
    set_enabled(&cl, g0, true);
    is_int(switch_routing(&cl, NULL, &err), 0, "enabling again is live");
    r = ct_get(NULL, lb_port, HOST, "/");
    is_int(r.status, 200, "and it answers again");
    is_int(nginx_master(), master, "all through reloads of one nginx master");

    /* ---- an unhealthy or terminated instance leaves the upstream ---- */
    pthread_mutex_lock(&cl.mu);
    b->health = KILN_HEALTH_UNHEALTHY;
    pthread_mutex_unlock(&cl.mu);
    is_int(switch_routing(&cl, NULL, &err), 0, "an unhealthy instance is taken out");
    all_ok = true;
    for (int i = 0; i < 10; i++)
        all_ok &= strcmp(ct_get(NULL, lb_port, HOST, "/").instance, a->id) == 0;
    ok(all_ok, "only the healthy instance answers");
    pthread_mutex_lock(&cl.mu);
    b->health = KILN_HEALTH_HEALTHY;
    pthread_mutex_unlock(&cl.mu);
    is_int(switch_routing(&cl, NULL, &err), 0, "and back in when healthy");

    /* ---- switch latency: request -> confirmed live, median of 20 ---- */
    int64_t lat[20];
    bool right = true;
    for (int i = 0; i < 20; i++) {
        set_enabled(&cl, g0, i % 2 != 0);
        if (switch_routing(&cl, &lat[i], &err) < 0) {
            diag("switch %d: %s", i, err.msg);
            right = false;
        }
        long want = i % 2 != 0 ? 200 : 503;
        /* Right after the confirmation, the answer must be the new routing's. */
        for (int k = 0; k < 5; k++)
            right &= ct_get(NULL, lb_port, HOST, "/").status == want;
    }
    ok(right, "20 switches, each answering per the new routing right after confirmation");
    int64_t worst = 0;
    for (int i = 0; i < 20; i++)
        worst = lat[i] > worst ? lat[i] : worst;
    int64_t med = ct_median(lat, 20);
    diag("LB switch latency (request -> confirmed live): median %lld ms, max %lld ms",
         (long long)med / 1000, (long long)worst / 1000);
    ok(med <= 200 * 1000, "median switch <= 200 ms (%lld us)", (long long)med);

    /* ---- red-black under load: no failed request ---- */
    set_enabled(&cl, g0, true);
    switch_routing(&cl, NULL, &err);
    struct load load = {0};
    atomic_init(&load.stop, false);
    pthread_create(&load.thread, NULL, load_main, &load);
    kiln_sleep_ms(200);
    bool all_switched = true;
    for (int i = 0; i < 10; i++) {
        struct cloud_group *to = i % 2 == 0 ? g1 : g0, *from = i % 2 == 0 ? g0 : g1;
        set_enabled(&cl, to, true); /* enable the new group, then disable the old one */
        all_switched &= switch_routing(&cl, NULL, &err) == 0;
        set_enabled(&cl, from, false);
        all_switched &= switch_routing(&cl, NULL, &err) == 0;
        kiln_sleep_ms(50);
    }
    atomic_store(&load.stop, true);
    pthread_join(load.thread, NULL);
    ok(all_switched, "10 red-black switches (20 reloads) confirmed");
    ok(load.ok > 100 && load.failed == 0, "under load: %ld requests, %ld failed%s%s", load.ok,
       load.failed, load.failed ? ": " : "", load.last_failure);

    /* ---- a config nginx -t refuses: error, the old one keeps serving ---- */
    set_enabled(&cl, g0, true);
    set_enabled(&cl, g1, false);
    switch_routing(&cl, NULL, &err);
    char *log = xasprintf("%s/logs/error.log", paths.nginx_dir);
    char *saved = xasprintf("%s/logs/error.log.saved", paths.nginx_dir);
    rename(log, saved);
    mkdir(log, 0700); /* nginx -t cannot open its error log: a real refusal */
    set_enabled(&cl, g0, false);
    seq = cloud_events_last(&cl);
    is_int(switch_routing(&cl, NULL, &err), -1, "a change whose config nginx -t refuses fails");
    diag("error: %s", err.msg);
    ok(strstr(err.msg, "nginx -t refused") != NULL && strstr(err.msg, "Is a directory") != NULL,
       "with nginx's reason in the message");
    ok(strstr(cl.lb_error, "nginx -t refused") != NULL, "lb_error says so");
    ok(ct_event_seen(&cl, &seq, "\"type\":\"error\"", "nginx -t refused"), "an error event");
    r = ct_get(NULL, lb_port, HOST, "/");
    is_int(r.status, 200, "the old config keeps serving (still routes to the group)");
    is_int(lb_state_of(&cl, a), KILN_LB_IN_SERVICE, "and a stays in service");
    rmdir(log);
    rename(saved, log);
    free(log);
    free(saved);
    is_int(switch_routing(&cl, NULL, &err), 0, "once nginx can load it, the change goes live");
    is_int(ct_get(NULL, lb_port, HOST, "/").status, 503, "the disable took effect");
    ok(cl.lb_error[0] == '\0', "lb_error is cleared");
    set_enabled(&cl, g0, true);
    switch_routing(&cl, NULL, &err);

    /* ---- nginx killed: restarted, traffic resumes ---- */
    master = nginx_master();
    seq = cloud_events_last(&cl);
    int64_t k0 = kiln_mono_us();
    kill(master, SIGKILL);
    int64_t back = -1;
    while (kiln_mono_us() - k0 < 15 * 1000000LL) {
        pid_t now = nginx_master();
        if (now != master && now > 0 && ct_get(NULL, lb_port, HOST, "/").status == 200) {
            back = kiln_mono_us() - k0;
            break;
        }
        kiln_sleep_ms(10);
    }
    ok(back >= 0, "after SIGKILL of nginx's master, a new nginx serves again");
    diag("nginx SIGKILL -> serving again: %lld ms", (long long)back / 1000);
    ok(ct_event_seen(&cl, &seq, "\"type\":\"error\"", "exited (killed by signal 9); restarting"),
       "an error event says nginx died and is restarted");

    /* ---- the balancer stops, nginx keeps serving; a new balancer adopts it ---- */
    master = nginx_master();
    cloud_balancer_stop(&cl);
    ok(cl.balancer == NULL, "the balancer thread stopped");
    is_int(ct_get(NULL, lb_port, HOST, "/").status, 200, "nginx still serves without it");
    is_int(cloud_balancer_start(&cl, &err), 0, "a new balancer starts");
    set_enabled(&cl, g1, true);
    is_int(switch_routing(&cl, NULL, &err), 0, "and applies a change (%s)", err.msg);
    is_int(nginx_master(), master, "through the same nginx (adopted, not a second one)");
    seen_a = false;
    bool seen_c = false;
    for (int i = 0; i < 20; i++) {
        r = ct_get(NULL, lb_port, HOST, "/");
        seen_a |= strcmp(r.instance, a->id) == 0;
        seen_c |= strcmp(r.instance, c3->id) == 0;
    }
    ok(seen_a && seen_c, "both groups answer after the change");
    if (!(seen_a && seen_c)) {
        diag("last answer %ld %s from %s", r.status, r.body, r.instance);
        char *conf = xasprintf("%s/nginx.conf", paths.nginx_dir), *text = NULL;
        kiln_read_file(conf, &text, NULL, 1 << 20, NULL);
        diag("%s", text);
        free(text);
        free(conf);
    }

    /* ---- with the health thread: a launch goes in service by itself ---- */
    {
        is_int(cloud_health_start(&cl, &err), 0, "the health thread starts");
        int port_d = ct_free_port();
        int64_t l0 = kiln_now_us();
        pid_t pid_d = ct_start_hello(hello, port_d, "i-00000000000000dd", false);
        pthread_mutex_lock(&cl.mu);
        struct cloud_instance *dd = ct_add_instance(&cl, g0->name, "i-00000000000000dd", port_d,
                                                    pid_d, KILN_HEALTH_UNKNOWN, l0);
        cloud_changed(&cl);
        pthread_mutex_unlock(&cl.mu);
        int64_t in_service = -1;
        while (kiln_now_us() - l0 < 10 * 1000000LL) {
            if (lb_state_of(&cl, dd) == KILN_LB_IN_SERVICE) {
                in_service = kiln_now_us() - l0;
                break;
            }
            kiln_sleep_ms(2);
        }
        ok(in_service > 0, "a launched instance becomes healthy and in service on its own");
        diag("launch -> healthy -> in service (nginx confirmed): %lld ms",
             (long long)in_service / 1000);
        bool seen_d = false;
        for (int i = 0; i < 30 && !seen_d; i++)
            seen_d = strcmp(ct_get(NULL, lb_port, HOST, "/").instance, dd->id) == 0;
        ok(seen_d, "and nginx sends it traffic");
        ct_stop(pid_d);
        int64_t k1 = kiln_mono_us();
        while (lb_state_of(&cl, dd) == KILN_LB_IN_SERVICE && kiln_mono_us() - k1 < 10000000LL)
            kiln_sleep_ms(2);
        ok(lb_state_of(&cl, dd) == KILN_LB_OUT_OF_SERVICE,
           "killed, it leaves the load balancer once unhealthy (%lld ms)",
           (long long)(kiln_mono_us() - k1) / 1000);
        cloud_health_stop(&cl);
    }

    /* ---- another state dir wanting the same port: a clear error ---- */
    struct cloud other;
    struct kiln_paths other_paths;
    char *home2 = ct_home("balancer2");
    ct_cloud(&other, &other_paths, home2, lb_port);
    snprintf(other.nginx_bin, sizeof other.nginx_bin, "%s", cl.nginx_bin);
    cloud_balancer_start(&other, &err);
    int64_t f0 = kiln_mono_us();
    is_int(switch_routing(&other, NULL, &err), -1, "a second nginx on a busy port fails");
    diag("after %lld ms: %s", (long long)(kiln_mono_us() - f0) / 1000, err.msg);
    ok(strstr(err.msg, "Address already in use") != NULL && strstr(err.msg, "lb_port") != NULL,
       "saying the port is in use and how to choose another");
    cloud_balancer_stop(&other);
    is_int(cloud_balancer_shutdown_nginx(&other, &err), 0, "nothing to shut down there");
    ct_cloud_free(&other, &other_paths);
    ct_rm_tree(home2);
    free(home2);
    is_int(ct_get(NULL, lb_port, HOST, "/").status, 200, "the first nginx still serves");

    /* ---- nginx missing: the Debian package is named ---- */
    struct cloud none;
    struct kiln_paths none_paths;
    char *home3 = ct_home("balancer3");
    ct_cloud(&none, &none_paths, home3, ct_free_port());
    /* resolve_nginx would find /usr/sbin/nginx; an explicit path that is not there is
     * what a machine without the package looks like to the balancer */
    snprintf(none.nginx_bin, sizeof none.nginx_bin, "/nonexistent/nginx");
    cloud_balancer_start(&none, &err);
    is_int(switch_routing(&none, NULL, &err), -1, "a missing nginx binary fails");
    ok(strstr(err.msg, "install the Debian package nginx") != NULL, "naming the package: %s",
       err.msg);
    cloud_balancer_stop(&none);
    ct_cloud_free(&none, &none_paths);
    ct_rm_tree(home3);
    free(home3);

    /* ---- kilnd SIGKILLed: nginx keeps serving; the next kilnd adopts it ---- */
    {
        char *home4 = ct_home("balancer4");
        int port4 = ct_free_port();
        pid_t k = start_fake_kilnd(home4, port4, port_a);
        ok(k > 0, "a kilnd (another process) starts its nginx");
        kill(k, SIGKILL);
        waitpid(k, NULL, 0);
        is_int(ct_get(NULL, port4, HOST, "/").status, 200, "kilnd SIGKILLed: nginx still serves");
        struct cloud k2;
        struct kiln_paths k2p;
        ct_cloud(&k2, &k2p, home4, port4);
        ct_add_cluster(&k2, "hello-world", "test", 1000, 1000, 2, 2);
        struct cloud_group *gk = ct_add_group(&k2, "hello-world-test", 0, true);
        ct_add_instance(&k2, gk->name, "i-00000000000000aa", port_a, 0, KILN_HEALTH_HEALTHY,
                        kiln_now_us());
        struct kiln_paths saved_paths = paths;
        paths = k2p; /* nginx_master() reads the current test cloud's dir */
        pid_t before = nginx_master();
        is_int(cloud_balancer_start(&k2, &err), 0, "the next kilnd's balancer starts");
        is_int(switch_routing(&k2, NULL, &err), 0, "and routes (%s)", err.msg);
        is_int(nginx_master(), before, "through the nginx it adopted (pid %ld)", (long)before);
        int64_t a0 = kiln_mono_us();
        kill(before, SIGKILL); /* not its child: noticed by pid and start time */
        int64_t back4 = -1;
        while (kiln_mono_us() - a0 < 15 * 1000000LL) {
            pid_t now = nginx_master();
            if (now != before && now > 0 && ct_get(NULL, port4, HOST, "/").status == 200) {
                back4 = kiln_mono_us() - a0;
                break;
            }
            kiln_sleep_ms(10);
        }
        ok(back4 >= 0, "an adopted nginx that dies is restarted too (%lld ms)",
           (long long)back4 / 1000);
        is_int(cloud_balancer_shutdown_nginx(&k2, &err), 0, "and shut down");
        paths = saved_paths;
        ct_cloud_free(&k2, &k2p);
        ct_rm_tree(home4);
        free(home4);
    }

    /* ---- kiln cloud stop --all ---- */
    master = nginx_master();
    is_int(cloud_balancer_shutdown_nginx(&cl, &err), 0, "shutting nginx down works");
    ok(kill(master, 0) < 0, "the master is gone");
    ok(!ct_port_accepts(lb_port), "and the port is free");
    p = xasprintf("%s/master", paths.nginx_dir);
    ok(access(p, F_OK) < 0, "the master file is removed");
    free(p);

    ct_stop(pid_a);
    ct_stop(pid_b);
    ct_stop(pid_c);
    ct_cloud_free(&cl, &paths);
    ct_rm_tree(home);
    free(home);
    free(hello);
    curl_global_cleanup();
    return done_testing();
}
