/* kilnd: health checks, the way a classic ELB does them (the health thread).
 *
 * Every RUNNING instance whose group has not suspended HealthCheck gets an HTTP GET of
 * http://127.0.0.1:PORT<health path> every interval. Healthy means HTTP 200 exactly;
 * anything else (another status, a refused connection, a timeout) is a failure. An
 * instance starts UNKNOWN, turns HEALTHY after `healthy_threshold` successes in a row
 * and UNHEALTHY after `unhealthy_threshold` failures in a row; each flip is an event and
 * asks the balancer to update the routing.
 *
 * Initial grace: a process just launched needs a moment to bind its port. Until its
 * first answer, and for at most INITIAL_GRACE_US after launch (or its cluster's
 * start-up grace period, if longer), a refused connection is not counted and the probe
 * is retried every GRACE_RETRY_US (SLOW_RETRY_US after INITIAL_GRACE_US). So the first
 * counted probe is the first one the app could answer, and the next ones follow at the
 * interval: with interval 1 s and threshold 2 an instance is healthy ~1 s after it
 * binds, not ~2 s. Anything else the app answers (a 500, a timeout) counts from the
 * start; within the grace period the reconciler does not replace it for that, and the
 * detail says how much of the grace is left, so a deploy that waits can tell.
 *
 * Probes run concurrently on one curl multi handle, without mu: the thread copies what
 * it needs under mu, probes, and applies results by instance id (the instance may have
 * gone meanwhile). It sleeps on `changed` until the next probe is due, so a launch,
 * which broadcasts `changed`, is probed at once.
 */
#include "cloud/cloud.h"

#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INITIAL_GRACE_US (2 * 1000000LL)
#define GRACE_RETRY_US   (25 * 1000LL)
#define SLOW_RETRY_US    (100 * 1000LL)
/* While probes are in flight the thread waits in curl, not on `changed`; it looks at
 * the state at least this often so a new instance still gets its first probe promptly. */
#define INFLIGHT_POLL_MS 25
/* With nothing due, look again after this anyway (a cheap scan). */
#define IDLE_WAKE_US (1000 * 1000LL)
/* What of an answer's body is kept for the detail ("HTTP 500: broken build"). */
#define BODY_KEEP       256
#define DETAIL_BODY_MAX 96
/* The sentinel for "a probe is in flight" in next_probe_us. */
#define PROBE_IN_FLIGHT INT64_MAX

struct probe {
    char id[CLOUD_ID_MAX];
    CURL *easy;
    char url[300];
    char errbuf[CURL_ERROR_SIZE];
    char body[BODY_KEEP];
    size_t body_len;
    bool body_cut;      /* we stopped reading: the status line is all that matters */
    int64_t started_us; /* monotonic */
    int64_t timeout_ms;
    /* the outcome, filled when it completes */
    bool success;
    bool refused;
    char detail[CLOUD_DETAIL_MAX];
};

struct cloud_health {
    pthread_t thread;
    atomic_bool quit;
    CURLM *multi;
    struct probe **flight; /* probes on the multi handle */
    size_t n_flight, cap_flight;
    struct probe **done; /* finished, to be applied under mu */
    size_t n_done, cap_done;
};

static void wait_until(struct cloud *c, int64_t deadline_us)
{
    /* `changed` runs on CLOCK_MONOTONIC (cloud_init), the clock of kiln_mono_us. */
    struct timespec ts = {.tv_sec = deadline_us / 1000000,
                          .tv_nsec = (long)(deadline_us % 1000000) * 1000};
    pthread_cond_timedwait(&c->changed, &c->mu, &ts);
}

static size_t keep_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct probe *p = ctx;
    size_t n = size * nmemb;
    size_t room = sizeof p->body - 1 - p->body_len;
    size_t take = n < room ? n : room;
    memcpy(p->body + p->body_len, data, take);
    p->body_len += take;
    p->body[p->body_len] = '\0';
    if (take < n) {
        /* Enough seen: stop a huge or endless body from holding the probe open. */
        p->body_cut = true;
        return 0;
    }
    return n;
}

/* "HTTP 500: broken build": the status and the body's first line, printable only. */
static void http_detail(struct probe *p, long code)
{
    char line[DETAIL_BODY_MAX + 4];
    size_t n = 0;
    for (size_t i = 0; i < p->body_len && p->body[i] != '\n' && p->body[i] != '\r'; i++) {
        if (n == DETAIL_BODY_MAX) {
            memcpy(line + n, "...", 3);
            n += 3;
            break;
        }
        unsigned char ch = (unsigned char)p->body[i];
        line[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    line[n] = '\0';
    while (n > 0 && line[n - 1] == ' ')
        line[--n] = '\0';
    if (n > 0)
        snprintf(p->detail, sizeof p->detail, "HTTP %ld: %s", code, line);
    else
        snprintf(p->detail, sizeof p->detail, "HTTP %ld", code);
}

static void classify(struct probe *p, CURLcode cc)
{
    long code = 0;
    curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &code);
    if (cc == CURLE_OK || (cc == CURLE_WRITE_ERROR && p->body_cut && code != 0)) {
        p->success = code == 200; /* ELB: 200 exactly, not any 2xx or a redirect */
        http_detail(p, code);
        return;
    }
    p->success = false;
    long os_errno = 0;
    curl_easy_getinfo(p->easy, CURLINFO_OS_ERRNO, &os_errno);
    char d[KILN_DURATION_MAX];
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
        if (os_errno == ECONNREFUSED) {
            p->refused = true;
            snprintf(p->detail, sizeof p->detail, "connection refused");
        } else {
            snprintf(p->detail, sizeof p->detail, "cannot connect: %.200s",
                     p->errbuf[0] ? p->errbuf : curl_easy_strerror(cc));
        }
        break;
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(p->detail, sizeof p->detail, "timed out after %s",
                 kiln_format_duration(p->timeout_ms, d));
        break;
    case CURLE_GOT_NOTHING:
        snprintf(p->detail, sizeof p->detail, "connection closed without an answer");
        break;
    case CURLE_URL_MALFORMAT:
        snprintf(p->detail, sizeof p->detail, "bad health check URL %.200s", p->url);
        break;
    default:
        snprintf(p->detail, sizeof p->detail, "probe failed: %.200s",
                 p->errbuf[0] ? p->errbuf : curl_easy_strerror(cc));
        break;
    }
}

static void probe_free(struct probe *p)
{
    if (p->easy != NULL)
        curl_easy_cleanup(p->easy);
    free(p);
}

static void start_probe(struct cloud_health *h, struct probe *p)
{
    CURL *e = curl_easy_init();
    if (e == NULL)
        kiln_oom(0);
    p->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, p->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, p);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for timeouts */
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*"); /* an http_proxy must not see loopback probes */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)p->timeout_ms);
    /* An ELB opens a connection per check; a kept one would hide an app that stopped
     * accepting. */
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "kiln-health/1");
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
    p->started_us = kiln_mono_us();
    if (h->n_flight == h->cap_flight) {
        h->cap_flight = h->cap_flight ? h->cap_flight * 2 : 16;
        h->flight = xrealloc(h->flight, h->cap_flight * sizeof *h->flight);
    }
    h->flight[h->n_flight++] = p;
    curl_multi_add_handle(h->multi, e);
}

static void flight_remove(struct cloud_health *h, struct probe *p)
{
    for (size_t i = 0; i < h->n_flight; i++) {
        if (h->flight[i] == p) {
            h->flight[i] = h->flight[--h->n_flight];
            return;
        }
    }
}

/* The instances whose probe is due, as new probes (caller holds mu). Sets *next_due to
 * when the next one not yet due will be. */
static size_t collect_due(struct cloud *c, int64_t now, struct probe ***out, int64_t *next_due)
{
    size_t n = 0, cap = 0;
    struct probe **v = NULL;
    for (size_t i = 0; i < c->instances.n; i++) {
        struct cloud_instance *in = c->instances.v[i];
        if (in->state != KILN_INSTANCE_RUNNING || in->port <= 0 ||
            in->next_probe_us == PROBE_IN_FLIGHT)
            continue;
        struct cloud_group *g = cloud_find_group(c, in->group);
        if (g == NULL || (g->suspended & KILN_PROC_HEALTHCHECK) != 0)
            continue;
        struct cloud_cluster *cl = cloud_group_cluster(c, g);
        if (cl == NULL)
            continue;
        if (in->next_probe_us == 0)
            in->next_probe_us = now; /* new (or adopted): probe it now */
        if (in->next_probe_us > now) {
            if (in->next_probe_us < *next_due)
                *next_due = in->next_probe_us;
            continue;
        }
        struct probe *p = xcalloc(1, sizeof *p);
        snprintf(p->id, sizeof p->id, "%s", in->id);
        snprintf(p->url, sizeof p->url, "http://127.0.0.1:%d%s%s", in->port,
                 cl->health_path[0] == '/' ? "" : "/", cl->health_path);
        p->timeout_ms = cl->health_timeout_ms > 0 ? cl->health_timeout_ms : 1000;
        in->next_probe_us = PROBE_IN_FLIGHT;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            v = xrealloc(v, cap * sizeof *v);
        }
        v[n++] = p;
    }
    *out = v;
    return n;
}

static void health_event(struct cloud *c, struct cloud_instance *in, const struct cloud_group *g,
                         enum kiln_health from)
{
    char msg[CLOUD_DETAIL_MAX + 96];
    snprintf(msg, sizeof msg, "%s %s -> %s: %s", in->id, kiln_health_name(from),
             kiln_health_name(in->health), in->health_detail);
    struct cloud_event e = {.type = "health",
                            .cluster = g != NULL ? g->cluster : NULL,
                            .group = in->group,
                            .instance = in->id,
                            .message = msg,
                            .recovery_ms = -1};
    cloud_event(c, &e);
}

/* Applies a finished probe to its instance, if it is still there (caller holds mu). */
static void apply_result(struct cloud *c, const struct probe *p)
{
    struct cloud_instance *in = cloud_find_instance(c, p->id);
    if (in == NULL)
        return;
    int64_t now = kiln_mono_us();
    in->next_probe_us = 0; /* in case it is no longer probed: a later resume starts afresh */
    if (in->state != KILN_INSTANCE_RUNNING)
        return;
    struct cloud_group *g = cloud_find_group(c, in->group);
    struct cloud_cluster *cl = g != NULL ? cloud_group_cluster(c, g) : NULL;
    if (g == NULL || cl == NULL || (g->suspended & KILN_PROC_HEALTHCHECK) != 0)
        return; /* suspended while in flight: health stays as it was */

    int64_t wall = kiln_now_us();
    int64_t grace_left = cloud_instance_grace_left_us(c, in, wall);
    if (grace_left > 0 && !p->success) {
        snprintf(in->health_detail, sizeof in->health_detail, "%.200s (start-up grace: %llds left)",
                 p->detail, (long long)((grace_left + 999999) / 1000000));
    } else {
        snprintf(in->health_detail, sizeof in->health_detail, "%s", p->detail);
    }
    bool never_answered =
        in->health == KILN_HEALTH_UNKNOWN && in->ok_streak == 0 && in->fail_streak == 0;
    int64_t since_launch = wall - in->launched_us;
    if (p->refused && never_answered && (since_launch < INITIAL_GRACE_US || grace_left > 0)) {
        /* still binding: not a failure yet */
        in->next_probe_us =
            now + (since_launch < INITIAL_GRACE_US ? GRACE_RETRY_US : SLOW_RETRY_US);
        return;
    }
    int64_t interval_us = (cl->health_interval_ms > 0 ? cl->health_interval_ms : 1000) * 1000;
    /* The cadence is from the start of this probe, as an ELB's; a probe slower than the
     * interval is followed by the next at once. */
    in->next_probe_us = p->started_us + interval_us;
    if (in->next_probe_us < now)
        in->next_probe_us = now;

    enum kiln_health from = in->health, to = from;
    if (p->success) {
        in->ok_streak++;
        in->fail_streak = 0;
        if (in->ok_streak >= cl->healthy_threshold)
            to = KILN_HEALTH_HEALTHY;
    } else {
        in->fail_streak++;
        in->ok_streak = 0;
        if (in->fail_streak >= cl->unhealthy_threshold)
            to = KILN_HEALTH_UNHEALTHY;
    }
    if (to == from)
        return;
    in->health = to;
    if (to == KILN_HEALTH_HEALTHY && in->healthy_us == 0)
        in->healthy_us = kiln_now_us();
    health_event(c, in, g, from);
    /* The routing of an enabled group follows its instances' health. */
    if (cloud_group_enabled(g))
        cloud_balancer_request(c);
    cloud_changed(c);
}

/* Drives the transfers for up to wait_ms; moves finished probes to h->done. */
static void run_multi(struct cloud_health *h, int wait_ms)
{
    int running = 0;
    curl_multi_perform(h->multi, &running);
    if (running > 0 && wait_ms > 0) {
        curl_multi_poll(h->multi, NULL, 0, wait_ms, NULL);
        curl_multi_perform(h->multi, &running);
    }
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct probe *p = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&p);
        CURLcode cc = m->data.result;
        classify(p, cc);
        curl_multi_remove_handle(h->multi, p->easy);
        flight_remove(h, p);
        if (h->n_done == h->cap_done) {
            h->cap_done = h->cap_done ? h->cap_done * 2 : 8;
            h->done = xrealloc(h->done, h->cap_done * sizeof *h->done);
        }
        h->done[h->n_done++] = p;
    }
}

static void *health_main(void *arg)
{
    struct cloud *c = arg;
    struct cloud_health *h = c->health;

    pthread_mutex_lock(&c->mu);
    for (;;) {
        for (size_t i = 0; i < h->n_done; i++) {
            apply_result(c, h->done[i]);
            probe_free(h->done[i]);
        }
        h->n_done = 0;
        if (c->stopping || atomic_load(&h->quit))
            break;

        int64_t now = kiln_mono_us();
        int64_t next_due = now + IDLE_WAKE_US;
        struct probe **fresh = NULL;
        size_t n_fresh = collect_due(c, now, &fresh, &next_due);
        if (n_fresh == 0 && h->n_flight == 0) {
            wait_until(c, next_due);
            continue;
        }
        pthread_mutex_unlock(&c->mu);

        for (size_t i = 0; i < n_fresh; i++)
            start_probe(h, fresh[i]);
        free(fresh);
        int64_t until_due = (next_due - kiln_mono_us()) / 1000;
        int wait_ms =
            until_due < INFLIGHT_POLL_MS ? (int)(until_due > 0 ? until_due : 0) : INFLIGHT_POLL_MS;
        run_multi(h, wait_ms);

        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int cloud_health_start(struct cloud *c, struct kiln_err *err)
{
    if (c->health != NULL)
        return 0;
    struct cloud_health *h = xcalloc(1, sizeof *h);
    atomic_init(&h->quit, false);
    h->multi = curl_multi_init();
    if (h->multi == NULL) {
        free(h);
        return kiln_err_set(err, KILN_E_FAILED,
                            "cannot start the health checker: libcurl's curl_multi_init failed "
                            "(was curl_global_init called?)");
    }
    pthread_mutex_lock(&c->mu);
    c->health = h;
    /* Probes of an earlier run are not in flight any more. */
    for (size_t i = 0; i < c->instances.n; i++)
        c->instances.v[i]->next_probe_us = 0;
    pthread_mutex_unlock(&c->mu);
    int rc = pthread_create(&h->thread, NULL, health_main, c);
    if (rc != 0) {
        pthread_mutex_lock(&c->mu);
        c->health = NULL;
        pthread_mutex_unlock(&c->mu);
        curl_multi_cleanup(h->multi);
        free(h);
        return kiln_err_sys(err, rc, "cannot start the health checker thread");
    }
    return 0;
}

void cloud_health_stop(struct cloud *c)
{
    pthread_mutex_lock(&c->mu);
    struct cloud_health *h = c->health;
    if (h != NULL) {
        atomic_store(&h->quit, true);
        pthread_cond_broadcast(&c->changed);
    }
    pthread_mutex_unlock(&c->mu);
    if (h == NULL)
        return;
    pthread_join(h->thread, NULL);
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < h->n_flight; i++) {
        struct probe *p = h->flight[i];
        struct cloud_instance *in = cloud_find_instance(c, p->id);
        if (in != NULL)
            in->next_probe_us = 0;
        curl_multi_remove_handle(h->multi, p->easy);
        probe_free(p);
    }
    c->health = NULL;
    pthread_mutex_unlock(&c->mu);
    free(h->flight);
    free(h->done);
    curl_multi_cleanup(h->multi);
    free(h);
}
