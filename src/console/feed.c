/* kiln console: the refresher and events threads (see feed.h). */
#include "console/feed.h"

#include "kiln/context.h"
#include "kiln/names.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* An event burst (a deploy, chaos) asks for many refreshes: take at most one per
 * this many ms, so the provider is not hammered and the UI still looks live. */
#define REFRESH_MIN_GAP_MS 250
#define BACKOFF_FIRST_MS   1000
#define BACKOFF_MAX_MS     30000
/* next_event waits at most this long, so a stop is noticed soon enough. */
#define EVENT_POLL_MS 500

/* Events that change the inventory. */
static const char *const changing_events[] = {"launch", "terminate", "health",   "lb",
                                              "enable", "disable",   "recovered"};

struct ui_feed {
    struct kiln_ctx ctx; /* the threads' copy */
    FILE *devnull;
    struct kiln_model *model;
    struct kiln_wake *wake;
    int64_t refresh_ms, whole_ms;
    char focus_app[KILN_APP_SIZE], focus_env[KILN_ENV_SIZE]; /* under mu; "": none */

    pthread_mutex_t mu;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    bool stop;
    bool refresh_now;
    bool whole_now; /* the next refresh reads everything (a job or command changed things) */
    struct ui_feed_state state;
    char inv_err[256], ev_err[256];
    uint64_t since;

    struct kiln_event *inbox; /* ring */
    size_t inbox_cap, inbox_head, inbox_n;
    uint64_t inbox_lost;

    pthread_t refresher, events;
    bool refresher_started, events_started;
    int running; /* threads not yet finished, under mu */
};

/* Waits on the feed's condition until stop, a refresh request (when `wake_on_refresh`)
 * or ms pass. Called and returns with mu held. */
static void wait_locked(struct ui_feed *f, int64_t ms, bool wake_on_refresh)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (!f->stop && !(wake_on_refresh && f->refresh_now))
        if (pthread_cond_timedwait(&f->cond, &f->mu, &ts) == ETIMEDOUT)
            break;
}

/* Rebuilds the state text from both threads' news; mu held. */
static void state_update_locked(struct ui_feed *f)
{
    struct ui_feed_state *s = &f->state;
    const char *prov = f->ctx.config.provider == KILN_PROVIDER_AWS ? "aws" : "local";
    if (f->ctx.opts.provider != NULL)
        prov = f->ctx.opts.provider;
    s->error = f->inv_err[0] != '\0' || f->ev_err[0] != '\0';
    const char *e = f->inv_err[0] != '\0' ? f->inv_err : f->ev_err;
    if (s->error) {
        snprintf(s->text, sizeof s->text, "%s", e);
        /* "what (retrying in Ns): message": the message alone, for the log */
        const char *m = strstr(e, "): ");
        snprintf(s->detail, sizeof s->detail, "%s", m ? m + 3 : e);
    } else if (!s->ever_connected)
        snprintf(s->text, sizeof s->text, "%s: connecting%s...", prov,
                 strcmp(prov, "local") == 0 ? " (starting the local cloud if needed)" : "");
    else
        s->text[0] = '\0';
    s->changes++;
}

static void set_error(struct ui_feed *f, char *slot, const char *what, const struct kiln_err *err,
                      int64_t retry_ms)
{
    pthread_mutex_lock(&f->mu);
    if (err == NULL)
        slot[0] = '\0';
    else
        snprintf(slot, 256, "%s (retrying in %llds): %.200s", what, (long long)(retry_ms / 1000),
                 err->msg[0] ? err->msg : "failed");
    state_update_locked(f);
    pthread_mutex_unlock(&f->mu);
    kiln_wake_signal(f->wake);
}

static int64_t next_backoff(int64_t b)
{
    return b == 0 ? BACKOFF_FIRST_MS : b * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b * 2;
}

static void thread_done(struct ui_feed *f)
{
    pthread_mutex_lock(&f->mu);
    f->running--;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
}

bool ui_feed_plan_whole(bool can_focus, bool has_focus, bool have_whole, int64_t since_whole_ms,
                        int64_t whole_ms)
{
    return !can_focus || !has_focus || !have_whole || since_whole_ms >= whole_ms;
}

/* The focused cluster, read now, in the last published inventory. */
static int refresh_cluster(struct ui_feed *f, struct kiln_provider *p, const char *app,
                           const char *env, struct kiln_snapshot **out, struct kiln_err *err)
{
    struct kiln_snapshot *part = NULL;
    if (p->ops->inventory_cluster(p, app, env, &part, err) < 0)
        return -1;
    const struct kiln_snapshot *base = kiln_model_acquire(f->model);
    int rc = kiln_snapshot_splice(base, part, app, env, out, err);
    kiln_snapshot_release(base);
    kiln_snapshot_release(part);
    return rc;
}

static void *refresher_main(void *arg)
{
    struct ui_feed *f = arg;
    struct kiln_provider *p = NULL;
    int64_t backoff = 0;
    bool have_whole = false;
    int64_t whole_at = 0; /* monotonic µs */

    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        f->refresh_now = false;
        bool force_whole = f->whole_now;
        f->whole_now = false;
        char app[KILN_APP_SIZE], env[KILN_ENV_SIZE];
        snprintf(app, sizeof app, "%s", f->focus_app);
        snprintf(env, sizeof env, "%s", f->focus_env);
        pthread_mutex_unlock(&f->mu);

        struct kiln_err err = {0};
        struct kiln_snapshot *snap = NULL;
        int rc = -1;
        if (p == NULL) {
            p = kiln_provider_open(&f->ctx, &err);
            have_whole = false; /* what was read through another connection may be old */
        }
        if (p != NULL) {
            int64_t now = kiln_mono_us();
            if (force_whole ||
                ui_feed_plan_whole(p->ops->inventory_cluster != NULL, app[0] && env[0], have_whole,
                                   (now - whole_at) / 1000, f->whole_ms)) {
                rc = p->ops->inventory(p, &snap, &err);
                if (rc == 0) {
                    have_whole = true;
                    whole_at = now;
                }
            } else {
                rc = refresh_cluster(f, p, app, env, &snap, &err);
            }
        }
        if (rc == 0 && kiln_model_publish(f->model, snap, &err) < 0)
            rc = -1;
        if (rc < 0) {
            /* A broken connection is not repaired by asking again: start afresh. */
            if (p != NULL)
                kiln_provider_close(p);
            p = NULL;
            backoff = next_backoff(backoff);
            set_error(f, f->inv_err, "no inventory", &err, backoff);
        } else {
            backoff = 0;
            pthread_mutex_lock(&f->mu);
            bool news = f->inv_err[0] != '\0' || !f->state.ever_connected;
            f->inv_err[0] = '\0';
            f->state.connected = true;
            f->state.ever_connected = true;
            f->state.refreshed_us = kiln_now_us();
            if (news)
                state_update_locked(f);
            pthread_mutex_unlock(&f->mu);
            kiln_wake_signal(f->wake);
        }

        pthread_mutex_lock(&f->mu);
        if (rc < 0) {
            f->state.connected = false;
            wait_locked(f, backoff, false);
            continue;
        }
        wait_locked(f, REFRESH_MIN_GAP_MS, false);
        if (!f->refresh_now)
            wait_locked(f, f->refresh_ms - REFRESH_MIN_GAP_MS, true);
    }
    pthread_mutex_unlock(&f->mu);
    if (p != NULL)
        kiln_provider_close(p);
    thread_done(f);
    return NULL;
}

static bool changes_inventory(const char *type)
{
    for (size_t i = 0; i < sizeof changing_events / sizeof changing_events[0]; i++)
        if (strcmp(type, changing_events[i]) == 0)
            return true;
    return false;
}

static void inbox_push(struct ui_feed *f, const struct kiln_event *e)
{
    pthread_mutex_lock(&f->mu);
    if (f->inbox_n == f->inbox_cap) {
        f->inbox_head = (f->inbox_head + 1) % f->inbox_cap;
        f->inbox_n--;
        f->inbox_lost++;
    }
    f->inbox[(f->inbox_head + f->inbox_n) % f->inbox_cap] = *e;
    f->inbox_n++;
    if (e->seq > f->since)
        f->since = e->seq;
    if (changes_inventory(e->type)) {
        f->refresh_now = true;
        pthread_cond_broadcast(&f->cond);
    }
    pthread_mutex_unlock(&f->mu);
    kiln_wake_signal(f->wake);
}

static void *events_main(void *arg)
{
    struct ui_feed *f = arg;
    struct kiln_provider *p = NULL;
    int64_t backoff = 0;
    bool up = false;
    struct kiln_event *ev = xmalloc(sizeof *ev);

    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        uint64_t since = f->since;
        pthread_mutex_unlock(&f->mu);

        struct kiln_err err = {0};
        int rc = -1;
        if (p == NULL) {
            p = kiln_provider_open(&f->ctx, &err);
            if (p != NULL && p->ops->next_event == NULL) {
                /* A provider without events: the refresher alone keeps the view live. */
                kiln_provider_close(p);
                p = NULL;
                pthread_mutex_lock(&f->mu);
                break;
            }
        }
        if (p != NULL) {
            memset(ev, 0, sizeof *ev);
            rc = p->ops->next_event(p, since, EVENT_POLL_MS, ev, &err);
        }
        if (rc < 0) {
            if (p != NULL)
                kiln_provider_close(p);
            p = NULL;
            backoff = next_backoff(backoff);
            set_error(f, f->ev_err, "no events", &err, backoff);
            up = false;
            pthread_mutex_lock(&f->mu);
            f->state.events_ok = false;
            wait_locked(f, backoff, false);
            continue;
        }
        if (!up) {
            up = true;
            backoff = 0;
            pthread_mutex_lock(&f->mu);
            f->state.events_ok = true;
            f->ev_err[0] = '\0';
            state_update_locked(f);
            pthread_mutex_unlock(&f->mu);
            kiln_wake_signal(f->wake);
        }
        if (rc == 1) {
            ev->type[sizeof ev->type - 1] = '\0';
            ev->message[sizeof ev->message - 1] = '\0';
            inbox_push(f, ev);
        }
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    if (p != NULL)
        kiln_provider_close(p);
    free(ev);
    thread_done(f);
    return NULL;
}

struct ui_feed *ui_feed_start(const struct kiln_ctx *ctx, struct kiln_model *model,
                              struct kiln_wake *wake, int64_t refresh_ms, int64_t whole_ms,
                              uint64_t since, size_t inbox_cap, struct kiln_err *err)
{
    struct ui_feed *f = xcalloc(1, sizeof *f);
    f->ctx = *ctx;
    f->devnull = fopen("/dev/null", "w");
    if (f->devnull == NULL) {
        kiln_err_sys(err, errno, "cannot open /dev/null");
        free(f);
        return NULL;
    }
    /* Whatever a provider prints must not land on the console's screen. */
    f->ctx.out = f->devnull;
    f->ctx.msg = f->devnull;
    f->ctx.engine = NULL;
    f->ctx.last_job = NULL;
    f->model = model;
    f->wake = wake;
    f->refresh_ms = refresh_ms > REFRESH_MIN_GAP_MS ? refresh_ms : 2 * REFRESH_MIN_GAP_MS;
    f->whole_ms = whole_ms > f->refresh_ms ? whole_ms : f->refresh_ms;
    f->since = since;
    f->inbox_cap = inbox_cap ? inbox_cap : 1;
    f->inbox = xcalloc(f->inbox_cap, sizeof *f->inbox);

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&f->mu, NULL);
    pthread_mutex_lock(&f->mu);
    state_update_locked(f);
    pthread_mutex_unlock(&f->mu);

    /* Signals (SIGWINCH, SIGTERM...) belong to the UI thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e1 = pthread_create(&f->refresher, NULL, refresher_main, f);
    f->refresher_started = e1 == 0;
    int e2 = e1 == 0 ? pthread_create(&f->events, NULL, events_main, f) : e1;
    f->events_started = e2 == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    f->running = f->refresher_started + f->events_started;
    if (e1 != 0 || e2 != 0) {
        kiln_err_sys(err, e1 ? e1 : e2, "cannot start the console's refresher threads");
        ui_feed_stop(f, 10000);
        return NULL;
    }
    return f;
}

void ui_feed_focus(struct ui_feed *f, const char *app, const char *env)
{
    if (app == NULL || env == NULL)
        app = env = "";
    pthread_mutex_lock(&f->mu);
    if (strcmp(f->focus_app, app) != 0 || strcmp(f->focus_env, env) != 0) {
        snprintf(f->focus_app, sizeof f->focus_app, "%s", app);
        snprintf(f->focus_env, sizeof f->focus_env, "%s", env);
        if (app[0] != '\0')
            f->refresh_now = true;
        pthread_cond_broadcast(&f->cond);
    }
    pthread_mutex_unlock(&f->mu);
}

void ui_feed_refresh(struct ui_feed *f)
{
    pthread_mutex_lock(&f->mu);
    f->refresh_now = true;
    f->whole_now = true;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
}

void ui_feed_get_state(struct ui_feed *f, struct ui_feed_state *out)
{
    pthread_mutex_lock(&f->mu);
    *out = f->state;
    pthread_mutex_unlock(&f->mu);
}

size_t ui_feed_take_events(struct ui_feed *f, struct kiln_event *out, size_t max, uint64_t *lost)
{
    size_t n = 0;
    pthread_mutex_lock(&f->mu);
    while (n < max && f->inbox_n > 0) {
        out[n++] = f->inbox[f->inbox_head];
        f->inbox_head = (f->inbox_head + 1) % f->inbox_cap;
        f->inbox_n--;
    }
    if (lost != NULL)
        *lost = f->inbox_lost;
    f->inbox_lost = 0;
    pthread_mutex_unlock(&f->mu);
    return n;
}

bool ui_feed_stop(struct ui_feed *f, int64_t wait_ms)
{
    if (f == NULL)
        return true;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_broadcast(&f->cond);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(wait_ms / 1000);
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (f->running > 0)
        if (pthread_cond_timedwait(&f->cond, &f->mu, &ts) == ETIMEDOUT)
            break;
    bool done = f->running == 0;
    pthread_mutex_unlock(&f->mu);
    if (!done)
        return false;
    if (f->refresher_started)
        pthread_join(f->refresher, NULL);
    if (f->events_started)
        pthread_join(f->events, NULL);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->mu);
    fclose(f->devnull);
    free(f->inbox);
    free(f);
    return true;
}
