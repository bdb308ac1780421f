/* kilnd: the chaos monkey, per app + env and opt-in.
 *
 * For each cluster with chaos enabled the next kill is due a random time after the
 * previous one (or after chaos was enabled): exponentially distributed with the
 * cluster's mean, but never sooner than its minimum. When a kill is due, a random
 * RUNNING instance of the cluster's enabled group(s) gets SIGKILL through
 * cloud_instance_terminate(..., "chaos"), whose "terminate" event carries cause
 * chaos; the reconciler replaces it like any other loss.
 *
 * The promise users rely on: never two kills of one cluster within its minimum time.
 * It is kept on the monotonic clock (a wall-clock jump cannot shorten it) and, across
 * a restart of kilnd, on the saved time of the last kill.
 *
 * The thread sleeps on `changed` until the next kill is due, so enabling chaos or
 * changing its times takes effect at once and an idle monkey costs nothing.
 */
#include "cloud/cloud.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln/chaos_gap.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

/* The longest the thread sleeps when nothing is due. */
#define CHAOS_IDLE_WAIT_US (60LL * 1000000)

struct chaos_note {
    char cluster[KILN_CLUSTER_SIZE];
    bool enabled;
    int64_t mean_ms, min_ms;
    int64_t next_mono; /* when the next kill is due; 0 = not scheduled */
    int64_t last_mono; /* the last kill by this kilnd; 0 = none */
};

struct cloud_chaos {
    pthread_t thread;
    bool running, quit;
    struct chaos_note *notes;
    size_t n, cap;
};

static struct chaos_note *note_get(struct cloud_chaos *ch, const char *cluster)
{
    for (size_t i = 0; i < ch->n; i++)
        if (strcmp(ch->notes[i].cluster, cluster) == 0)
            return &ch->notes[i];
    if (ch->n == ch->cap) {
        ch->cap = ch->cap ? ch->cap * 2 : 8;
        ch->notes = xrealloc(ch->notes, ch->cap * sizeof *ch->notes);
    }
    struct chaos_note *n = &ch->notes[ch->n++];
    memset(n, 0, sizeof *n);
    snprintf(n->cluster, sizeof n->cluster, "%s", cluster);
    return n;
}

/* The earliest moment (monotonic) the next kill of this cluster is allowed. */
static int64_t earliest_allowed(const struct cloud_cluster *cl, const struct chaos_note *n,
                                int64_t now_us, int64_t mono)
{
    int64_t min_us = cl->chaos_min_ms * 1000;
    if (n->last_mono != 0)
        return n->last_mono + min_us;
    if (cl->chaos_last_kill_us != 0) {
        /* A kill by an earlier kilnd: its wall time is all we have. A clock set back
         * could make that look recent for long; wait at most min from now. */
        int64_t wait = cl->chaos_last_kill_us + min_us - now_us;
        if (wait > min_us)
            wait = min_us;
        return wait > 0 ? mono + wait : mono;
    }
    return mono;
}

static void schedule(struct cloud_cluster *cl, struct chaos_note *n, int64_t now_us, int64_t mono)
{
    int64_t at = mono + kiln_chaos_gap_us(cl->chaos_mean_ms, cl->chaos_min_ms,
                                          kiln_chaos_unit(kiln_chaos_random()));
    int64_t earliest = earliest_allowed(cl, n, now_us, mono);
    n->next_mono = at > earliest ? at : earliest;
    cl->chaos_next_kill_us = now_us + (n->next_mono - mono); /* for display */
}

/* A random RUNNING instance of the cluster's enabled groups, or NULL. */
static struct cloud_instance *pick_victim(struct cloud *c, const struct cloud_cluster *cl)
{
    size_t n = 0;
    for (int round = 0; round < 2; round++) {
        /* cppcheck-suppress zerodiv ; round 1 runs only when round 0 counted n > 0 */
        size_t target = round == 1 ? (size_t)(kiln_chaos_random() % n) : 0;
        size_t k = 0;
        for (size_t i = 0; i < c->instances.n; i++) {
            struct cloud_instance *x = c->instances.v[i];
            if (x->state != KILN_INSTANCE_RUNNING)
                continue;
            const struct cloud_group *g = cloud_find_group(c, x->group);
            if (g == NULL || !cloud_group_enabled(g) || strcmp(g->cluster, cl->name) != 0)
                continue;
            if (round == 1 && k == target)
                return x;
            k++;
        }
        n = k;
        if (n == 0)
            return NULL;
    }
    return NULL;
}

static void kill_one(struct cloud *c, struct cloud_cluster *cl, struct chaos_note *n,
                     int64_t now_us, int64_t mono)
{
    struct cloud_instance *x = pick_victim(c, cl);
    if (x == NULL) {
        schedule(cl, n, now_us, mono); /* nothing to kill now: try again later */
        return;
    }
    /* The guarantee, checked where it could be broken, against the moment the last
     * kill had certainly happened (taken after it) and a fresh clock reading now: the
     * two kill(2) calls are then at least min apart, and so are their events. */
    int64_t min_us = cl->chaos_min_ms * 1000;
    int64_t before = kiln_mono_us();
    if (n->last_mono != 0 && before - n->last_mono < min_us) {
        n->next_mono = n->last_mono + min_us;
        return;
    }
    assert(n->last_mono == 0 || before - n->last_mono >= min_us);
    struct kiln_err err = {0};
    if (cloud_instance_terminate(c, x, "chaos", &err) < 0) {
        cloud_emit(c, "error", cl->name, x->group, x->id, "chaos", "%s", err.msg);
    }
    /* Counted as a kill even if it failed: the minimum holds for attempts too. */
    n->last_mono = kiln_mono_us();
    cl->chaos_last_kill_us = kiln_now_us();
    cloud_changed(c);
    schedule(cl, n, cl->chaos_last_kill_us, n->last_mono);
}

static void *chaos_main(void *arg)
{
    struct cloud *c = arg;
    pthread_mutex_lock(&c->mu);
    struct cloud_chaos *ch = c->chaos;
    while (!c->stopping && !ch->quit) {
        int64_t now_us = kiln_now_us(), mono = kiln_mono_us();
        int64_t wake = mono + CHAOS_IDLE_WAIT_US;
        for (size_t i = 0; i < c->clusters.n; i++) {
            struct cloud_cluster *cl = c->clusters.v[i];
            struct chaos_note *n = note_get(ch, cl->name);
            if (!cl->chaos_enabled) {
                n->enabled = false;
                n->next_mono = 0;
                cl->chaos_next_kill_us = 0;
                continue;
            }
            /* Newly enabled, or its times changed (the API then also clears
             * chaos_next_kill_us): a fresh schedule from now. */
            if (!n->enabled || n->mean_ms != cl->chaos_mean_ms || n->min_ms != cl->chaos_min_ms ||
                cl->chaos_next_kill_us == 0 || n->next_mono == 0) {
                n->enabled = true;
                n->mean_ms = cl->chaos_mean_ms;
                n->min_ms = cl->chaos_min_ms;
                schedule(cl, n, now_us, mono);
            }
            if (mono >= n->next_mono) {
                int64_t earliest = earliest_allowed(cl, n, now_us, mono);
                if (mono < earliest) {
                    n->next_mono = earliest;
                    cl->chaos_next_kill_us = now_us + (earliest - mono);
                } else {
                    kill_one(c, cl, n, now_us, mono);
                }
            }
            if (n->next_mono < wake)
                wake = n->next_mono;
        }
        int64_t wait = wake - kiln_mono_us();
        if (wait <= 0)
            continue;
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += (time_t)(wait / 1000000);
        deadline.tv_nsec += (long)(wait % 1000000) * 1000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        int rc = pthread_cond_timedwait(&c->changed, &c->mu, &deadline);
        if (rc != 0 && rc != ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int cloud_chaos_start(struct cloud *c, struct kiln_err *err)
{
    pthread_mutex_lock(&c->mu);
    if (c->chaos == NULL)
        c->chaos = xcalloc(1, sizeof *c->chaos);
    struct cloud_chaos *ch = c->chaos;
    pthread_mutex_unlock(&c->mu);
    int rc = pthread_create(&ch->thread, NULL, chaos_main, c);
    if (rc != 0)
        return kiln_err_sys(err, rc, "cannot start the chaos thread");
    ch->running = true;
    return 0;
}

void cloud_chaos_stop(struct cloud *c)
{
    pthread_mutex_lock(&c->mu);
    struct cloud_chaos *ch = c->chaos;
    if (ch != NULL)
        ch->quit = true;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->mu);
    if (ch == NULL)
        return;
    if (ch->running)
        pthread_join(ch->thread, NULL);
    pthread_mutex_lock(&c->mu);
    free(ch->notes);
    free(ch);
    c->chaos = NULL;
    pthread_mutex_unlock(&c->mu);
}
