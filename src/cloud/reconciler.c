/* kilnd: the reconciler keeps every server group at its desired capacity.
 *
 * One thread, woken by `changed` and at least every RECONCILE_TICK_MS. Each pass,
 * with mu held and no I/O but the state file:
 *   - notes what happened since the last pass: a replacement that became healthy
 *     gives a "recovered" event with the time to recover; instances that exit right
 *     after they start make the group back off, so a broken build does not spin;
 *   - per group: unhealthy instances are terminated (cause "unhealthy") unless
 *     ReplaceUnhealthy is suspended; missing instances are launched unless Launch is
 *     suspended; extra ones are terminated, newest first (cause "scale-in"), unless
 *     Terminate is suspended;
 *   - asks the balancer to update nginx when the instances that should be in service
 *     (RUNNING, HEALTHY, in an enabled group) changed;
 *   - saves the state and prunes old terminated instances.
 *
 * Launches run in parallel, one short-lived thread each, because a launch copies the
 * image root and starts a process: a group of 3 comes up in about the time of one.
 * A launch thread takes its slot (marks itself started) in the same critical section
 * in which cloud_instance_launch puts the PENDING instance into the state, so a pass
 * counts each launch exactly once: as a job before, as an instance after.
 *
 * Counting: PENDING and RUNNING instances count towards desired capacity; TERMINATING
 * ones do not (as in an ASG), so a replacement starts while the old process is still
 * being given its grace period.
 */
#include "cloud/cloud.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kiln/strbuf.h"
#include "kiln/tail.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#define RECONCILE_TICK_MS 500
/* How often terminated instances past their retention are forgotten. */
#define PRUNE_INTERVAL_US (10LL * 1000000)
/* A terminated instance this recent, not replaced yet, is what a new launch replaces. */
#define REPLACES_WINDOW_US (10LL * 60 * 1000000)
/* An instance that exits this soon after launch, never healthy, counts as a crash. */
#define EARLY_EXIT_US (10LL * 1000000)
/* Back-off after repeated crashes or failed launches: 500 ms doubling up to 30 s. */
#define BACKOFF_MIN_US (500LL * 1000)
#define BACKOFF_MAX_US (30LL * 1000000)
/* While the routing differs from what it should be, ask the balancer again this often. */
#define LB_RETRY_US (5LL * 1000000)
/* Crashes in a row that make a crash loop: reported, and the group's `failing` set. */
#define CRASH_LOOP_STREAK 3
/* What of a crashed instance's stderr.log is read for the diagnosis. */
#define STDERR_TAIL_BYTES 2048

/* cloud_instance.seen bits: what the reconciler has already taken into account. */
enum {
    CLOUD_SEEN_HEALTHY = 1u << 0,   /* its first healthy moment (back-off reset) */
    CLOUD_SEEN_EXIT = 1u << 1,      /* its termination (crash back-off) */
    CLOUD_SEEN_RECOVERED = 1u << 2, /* its "recovered" event, if it replaced another */
};

struct launch_job {
    struct cloud *c;
    char group[KILN_GROUP_SIZE];
    char replaces[CLOUD_ID_MAX];
    pthread_t thread;
    bool started; /* it took its slot: its instance is in the state, or it gave up */
    bool done;    /* it has let go of mu for the last time: join it */
};

struct group_note {
    char group[KILN_GROUP_SIZE];
    int streak;         /* crashes or failed launches in a row */
    int64_t hold_until; /* monotonic µs: no launches before */
    bool reported;      /* the crash loop was reported in an event */
};

struct cloud_reconciler {
    pthread_t thread;
    bool running, quit;
    struct launch_job **jobs;
    size_t n_jobs, cap_jobs;
    struct group_note *notes;
    size_t n_notes, cap_notes;
    uint64_t lb_sig;     /* fingerprint of the in-service set last asked for */
    bool lb_asked;       /* lb_sig is valid */
    uint64_t lb_request; /* the balancer request number we got */
    int64_t lb_asked_at; /* monotonic µs */
    int64_t next_prune;
    char save_error[KILN_ERR_MSG_MAX]; /* the last save failure reported */
};

/* A replacement is healthy: the event names what it replaced and why that went, so
 * the Events view can pair each termination with its recovery. */
static void emit_recovered(struct cloud *c, const char *cluster, const struct cloud_instance *x,
                           const struct cloud_instance *old, int64_t ms, const char *msg)
{
    struct cloud_event e = {.type = "recovered",
                            .cluster = cluster,
                            .group = x->group,
                            .instance = x->id,
                            .cause = old->cause,
                            .replaces = old->id,
                            .message = msg,
                            .recovery_ms = ms};
    cloud_event(c, &e);
}

static struct group_note *note_get(struct cloud_reconciler *r, const char *group)
{
    for (size_t i = 0; i < r->n_notes; i++)
        if (strcmp(r->notes[i].group, group) == 0)
            return &r->notes[i];
    if (r->n_notes == r->cap_notes) {
        r->cap_notes = r->cap_notes ? r->cap_notes * 2 : 16;
        r->notes = xrealloc(r->notes, r->cap_notes * sizeof *r->notes);
    }
    struct group_note *n = &r->notes[r->n_notes++];
    memset(n, 0, sizeof *n);
    snprintf(n->group, sizeof n->group, "%s", group);
    return n;
}

static int64_t backoff_us(int streak)
{
    int64_t d = BACKOFF_MIN_US;
    for (int i = 2; i < streak && d < BACKOFF_MAX_US; i++)
        d *= 2;
    return d < BACKOFF_MAX_US ? d : BACKOFF_MAX_US;
}

static void note_failure(struct group_note *n, int64_t now)
{
    n->streak++;
    /* The first crash is replaced at once (a port taken in a race, a fluke); from the
     * second on in a row, wait longer each time. */
    if (n->streak >= 2)
        n->hold_until = now + backoff_us(n->streak);
}

static bool live(const struct cloud_instance *x)
{
    return x->state == KILN_INSTANCE_PENDING || x->state == KILN_INSTANCE_RUNNING;
}

static size_t count_live(struct cloud *c, const char *group)
{
    size_t n = 0;
    for (size_t i = 0; i < c->instances.n; i++)
        if (live(c->instances.v[i]) && strcmp(c->instances.v[i]->group, group) == 0)
            n++;
    return n;
}

static size_t count_waiting_jobs(struct cloud_reconciler *r, const char *group)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_jobs; i++)
        if (!r->jobs[i]->started && strcmp(r->jobs[i]->group, group) == 0)
            n++;
    return n;
}

/* ---- launch jobs ---- */

static void *launch_main(void *arg)
{
    struct launch_job *j = arg;
    struct cloud *c = j->c;
    pthread_mutex_lock(&c->mu);
    struct cloud_reconciler *r = c->reconciler;
    j->started = true;
    struct cloud_group *g = cloud_find_group(c, j->group);
    /* Still needed? The group may have been resized, suspended or destroyed since. */
    bool needed = g != NULL && !c->stopping && !r->quit && !(g->suspended & KILN_PROC_LAUNCH) &&
                  count_live(c, g->name) + count_waiting_jobs(r, g->name) < (size_t)g->desired;
    if (needed) {
        struct kiln_err err = {0};
        if (cloud_instance_launch(c, g, j->replaces[0] ? j->replaces : NULL, NULL, &err) < 0 &&
            err.code != KILN_E_CANCELLED) {
            /* launch has sent the error event; hold the group back a while. */
            note_failure(note_get(r, j->group), kiln_mono_us());
        }
        cloud_store_save(c, NULL);
    }
    j->done = true;
    pthread_cond_broadcast(&c->changed); /* so the reconciler joins us */
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void join_done_jobs(struct cloud_reconciler *r, bool all)
{
    for (size_t i = 0; i < r->n_jobs;) {
        struct launch_job *j = r->jobs[i];
        if (!j->done && !all) {
            i++;
            continue;
        }
        /* done is set as the thread's last act under mu, which we hold now: it is
         * past its critical section and only returning, so this join is short. */
        pthread_join(j->thread, NULL);
        free(j);
        memmove(&r->jobs[i], &r->jobs[i + 1], (r->n_jobs - i - 1) * sizeof *r->jobs);
        r->n_jobs--;
    }
}

static bool replaces_taken(struct cloud *c, struct cloud_reconciler *r, const char *id)
{
    for (size_t i = 0; i < c->instances.n; i++)
        if (strcmp(c->instances.v[i]->replaces, id) == 0)
            return true;
    for (size_t i = 0; i < r->n_jobs; i++)
        if (strcmp(r->jobs[i]->replaces, id) == 0 && !r->jobs[i]->done)
            return true;
    return false;
}

/* The instance a new launch in group g replaces: the one terminated longest ago
 * (recently, for a reason that calls for a replacement) that nothing replaces yet. */
static const char *pick_replaces(struct cloud *c, struct cloud_reconciler *r,
                                 const struct cloud_group *g, int64_t now_us)
{
    const struct cloud_instance *best = NULL;
    for (size_t i = 0; i < c->instances.n; i++) {
        const struct cloud_instance *x = c->instances.v[i];
        /* A TERMINATING one counts too: its replacement starts before it is gone. */
        if ((x->state != KILN_INSTANCE_TERMINATED && x->state != KILN_INSTANCE_TERMINATING) ||
            strcmp(x->group, g->name) != 0 ||
            (x->terminated_us != 0 && now_us - x->terminated_us > REPLACES_WINDOW_US))
            continue;
        if (strcmp(x->cause, "scale-in") == 0 || strcmp(x->cause, "destroy") == 0 ||
            strcmp(x->cause, "stop") == 0)
            continue;
        if (best != NULL && best->terminated_us <= x->terminated_us)
            continue;
        if (replaces_taken(c, r, x->id))
            continue;
        best = x;
    }
    return best != NULL ? best->id : NULL;
}

static void start_launch(struct cloud *c, struct cloud_reconciler *r, const struct cloud_group *g,
                         int64_t now_us)
{
    struct launch_job *j = xcalloc(1, sizeof *j);
    j->c = c;
    snprintf(j->group, sizeof j->group, "%s", g->name);
    const char *rep = pick_replaces(c, r, g, now_us);
    snprintf(j->replaces, sizeof j->replaces, "%s", rep != NULL ? rep : "");
    int rc = pthread_create(&j->thread, NULL, launch_main, j);
    if (rc != 0) {
        free(j);
        cloud_emit(c, "error", g->cluster, g->name, NULL, NULL,
                   "cannot start a thread to launch an instance of %s: %s; will retry", g->name,
                   strerror(rc));
        return;
    }
    if (r->n_jobs == r->cap_jobs) {
        r->cap_jobs = r->cap_jobs ? r->cap_jobs * 2 : 16;
        r->jobs = xrealloc(r->jobs, r->cap_jobs * sizeof *r->jobs);
    }
    r->jobs[r->n_jobs++] = j;
}

/* ---- one pass ---- */

/* A replacement is healthy: the time to recover is from the moment the instance it
 * replaces was gone. If that one is still terminating (a grace period), wait for it. */
static void report_recovery(struct cloud *c, struct cloud_instance *x)
{
    const struct cloud_instance *old = x->replaces[0] ? cloud_find_instance(c, x->replaces) : NULL;
    if (old != NULL && old->state == KILN_INSTANCE_TERMINATING)
        return;
    x->seen |= CLOUD_SEEN_RECOVERED;
    if (old == NULL || old->terminated_us == 0)
        return; /* replaced nothing, or nothing left to measure from */
    struct cloud_group *g = cloud_find_group(c, x->group);
    const char *cluster = g != NULL ? g->cluster : NULL;
    if (x->healthy_us < old->terminated_us) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "%s recovered: %s replaced %s (%s) and was healthy before %s was gone", x->group,
                 x->id, old->id, old->cause, old->id);
        emit_recovered(c, cluster, x, old, 0, msg);
        return;
    }
    int64_t ms = (x->healthy_us - old->terminated_us) / 1000;
    char took[KILN_DURATION_MAX], msg[512];
    snprintf(msg, sizeof msg, "%s recovered: %s replaced %s (%s) and is healthy %s after it went",
             x->group, x->id, old->id, old->cause, kiln_format_duration(ms, took));
    emit_recovered(c, cluster, x, old, ms, msg);
}

/* The last lines of instance id's stderr.log into t. A read of at most STDERR_TAIL_BYTES
 * of a local file, the one piece of I/O the reconciler does under mu: it happens once
 * per crash of a looping group, which is throttled by the back-off. */
static void read_stderr_tail(struct cloud *c, const char *id, struct kiln_tail *t)
{
    char *path = xasprintf("%s/%s/stderr.log", c->paths.instances_dir, id);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    free(path);
    if (fd < 0)
        return;
    char buf[STDERR_TAIL_BYTES + 1];
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > STDERR_TAIL_BYTES ? end - STDERR_TAIL_BYTES : 0;
    ssize_t n = end >= 0 ? pread(fd, buf, STDERR_TAIL_BYTES, from) : -1;
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    char *save = NULL;
    char *line = strtok_r(buf, "\n", &save);
    if (from > 0 && line != NULL)
        line = strtok_r(NULL, "\n", &save); /* the first one is cut */
    for (; line != NULL; line = strtok_r(NULL, "\n", &save))
        kiln_tail_add(t, line);
}

/* A crash loop: the group's `failing` says so, with how the last one ended and what it
 * said, so that whoever waits on the group (a deploy) can stop waiting and say why. */
static void diagnose_crash_loop(struct cloud *c, struct cloud_group *g,
                                const struct cloud_instance *x, int streak)
{
    char how[64];
    if (x->exit_status >= 128) {
        const char *abbrev = sigabbrev_np(x->exit_status - 128);
        snprintf(how, sizeof how, "signal %d (SIG%s)", x->exit_status - 128, abbrev ? abbrev : "?");
    } else if (x->exit_status >= 0) {
        snprintf(how, sizeof how, "status %d", x->exit_status);
    } else {
        snprintf(how, sizeof how, "%s", "an unknown status");
    }
    struct kiln_tail t = {0};
    read_stderr_tail(c, x->id, &t);
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    kiln_tail_format(&t, &sb, sizeof g->failing_stderr - 1);
    /* kiln_tail_format writes "\n  line" per line: keep the lines, drop the indent. */
    size_t k = 0;
    const char *s = kiln_strbuf_str(&sb);
    for (size_t i = 0; s[i] != '\0' && k + 1 < sizeof g->failing_stderr; i++) {
        if (s[i] == '\n') {
            if (k > 0)
                g->failing_stderr[k++] = '\n';
            while (s[i + 1] == ' ')
                i++;
            continue;
        }
        g->failing_stderr[k++] = s[i];
    }
    g->failing_stderr[k] = '\0';
    const char *last = strrchr(g->failing_stderr, '\n');
    last = last != NULL ? last + 1 : g->failing_stderr;
    snprintf(g->failing, sizeof g->failing,
             "its instances keep exiting right after they start (%d in a row); the last, %s, "
             "exited with %s%s%.200s%s",
             streak, x->id, how, last[0] ? " saying \"" : "", last, last[0] ? "\"" : "");
    if (g->failing_since_us == 0 || streak == CRASH_LOOP_STREAK)
        g->failing_since_us = kiln_now_us();
    kiln_strbuf_free(&sb);
}

/* What happened to instances since the last pass: recoveries and crashes. */
static void note_instances(struct cloud *c, struct cloud_reconciler *r, int64_t mono)
{
    for (size_t i = 0; i < c->instances.n; i++) {
        struct cloud_instance *x = c->instances.v[i];
        if (x->healthy_us != 0 && !(x->seen & CLOUD_SEEN_HEALTHY)) {
            x->seen |= CLOUD_SEEN_HEALTHY;
            struct group_note *n = note_get(r, x->group);
            n->streak = 0;
            n->hold_until = 0;
            n->reported = false;
            struct cloud_group *g = cloud_find_group(c, x->group);
            if (g != NULL)
                g->failing[0] = g->failing_stderr[0] = '\0';
        }
        if (x->healthy_us != 0 && !(x->seen & CLOUD_SEEN_RECOVERED))
            report_recovery(c, x);
        if (x->state == KILN_INSTANCE_TERMINATED && !(x->seen & CLOUD_SEEN_EXIT)) {
            x->seen |= CLOUD_SEEN_EXIT;
            if (strcmp(x->cause, "exited") == 0 && x->healthy_us == 0 &&
                x->terminated_us - x->launched_us < EARLY_EXIT_US) {
                struct group_note *n = note_get(r, x->group);
                note_failure(n, mono);
                struct cloud_group *g = cloud_find_group(c, x->group);
                if (n->streak >= CRASH_LOOP_STREAK && g != NULL)
                    diagnose_crash_loop(c, g, x, n->streak);
                if (n->streak >= CRASH_LOOP_STREAK && !n->reported) {
                    n->reported = true;
                    cloud_emit(c, "error", g != NULL ? g->cluster : NULL, x->group, x->id, NULL,
                               "instances of %s keep exiting right after they start (%d in a row); "
                               "see instances/%s/stderr.log; kilnd retries less and less often",
                               x->group, n->streak, x->id);
                }
            }
        }
    }
}

static void reconcile_group(struct cloud *c, struct cloud_reconciler *r, struct cloud_group *g,
                            int64_t now_us, int64_t mono)
{
    /* Unhealthy instances go first, so their replacements are launched below; not
     * those still in their start-up grace period (an ASG's HealthCheckGracePeriod):
     * an app that takes a while to listen is not killed before it could answer. */
    if (!(g->suspended & KILN_PROC_REPLACE_UNHEALTHY)) {
        for (size_t i = 0; i < c->instances.n; i++) {
            struct cloud_instance *x = c->instances.v[i];
            if (x->state == KILN_INSTANCE_RUNNING && x->health == KILN_HEALTH_UNHEALTHY &&
                strcmp(x->group, g->name) == 0 && cloud_instance_grace_left_us(c, x, now_us) == 0)
                cloud_instance_terminate(c, x, "unhealthy", NULL);
        }
    }

    size_t have = count_live(c, g->name) + count_waiting_jobs(r, g->name);
    size_t want = g->desired > 0 ? (size_t)g->desired : 0;
    if (have < want && !(g->suspended & KILN_PROC_LAUNCH)) {
        struct group_note *n = note_get(r, g->name);
        if (mono >= n->hold_until) {
            if (n->streak >= 2) {
                /* After crashes in a row, one launch per back-off period is a fair test. */
                start_launch(c, r, g, now_us);
                n->hold_until = mono + backoff_us(n->streak);
            } else {
                for (size_t k = have; k < want; k++)
                    start_launch(c, r, g, now_us);
            }
        }
    } else if (have > want && !(g->suspended & KILN_PROC_TERMINATE)) {
        /* Launches not started yet give up by themselves (they check again); the
         * newest instances go, as the most recent are the least proven. */
        size_t extra = count_live(c, g->name);
        extra = extra > want ? extra - want : 0;
        while (extra > 0) {
            struct cloud_instance *newest = NULL;
            for (size_t i = 0; i < c->instances.n; i++) {
                struct cloud_instance *x = c->instances.v[i];
                if (live(x) && strcmp(x->group, g->name) == 0 &&
                    (newest == NULL || x->launched_us >= newest->launched_us))
                    newest = x;
            }
            if (newest == NULL)
                break;
            cloud_instance_terminate(c, newest, "scale-in", NULL);
            if (live(newest))
                break; /* could not be terminated: try again next pass */
            extra--;
        }
    }
}

static bool should_serve(struct cloud *c, const struct cloud_instance *x)
{
    if (x->state != KILN_INSTANCE_RUNNING || x->health != KILN_HEALTH_HEALTHY)
        return false;
    const struct cloud_group *g = cloud_find_group(c, x->group);
    return g != NULL && cloud_group_enabled(g);
}

/* Asks the balancer for new routing when the set of instances that should be in
 * service changed, and again now and then while what it marked differs from that. */
static void check_balancer(struct cloud *c, struct cloud_reconciler *r, int64_t mono)
{
    uint64_t sig = 1469598103934665603ULL; /* FNV-1a over the ids that should serve */
    bool differs = false;
    for (size_t i = 0; i < c->instances.n; i++) {
        const struct cloud_instance *x = c->instances.v[i];
        bool should = should_serve(c, x);
        if (should) {
            for (const char *p = x->id; *p; p++)
                sig = (sig ^ (unsigned char)*p) * 1099511628211ULL;
            sig = (sig ^ ';') * 1099511628211ULL;
        }
        if (x->state != KILN_INSTANCE_TERMINATED && should != (x->lb_state == KILN_LB_IN_SERVICE))
            differs = true;
    }
    bool changed = !r->lb_asked || sig != r->lb_sig;
    bool retry = differs && mono - r->lb_asked_at >= LB_RETRY_US &&
                 (c->lb_applied >= r->lb_request || c->lb_failed >= r->lb_request);
    if (changed || retry) {
        r->lb_request = cloud_balancer_request(c);
        r->lb_sig = sig;
        r->lb_asked = true;
        r->lb_asked_at = mono;
    }
}

static void save(struct cloud *c, struct cloud_reconciler *r)
{
    struct kiln_err err = {0};
    if (cloud_store_save(c, &err) == 0) {
        r->save_error[0] = '\0';
        return;
    }
    /* Report a failure once, not every pass; it is retried while the state is dirty. */
    if (strcmp(err.msg, r->save_error) != 0) {
        snprintf(r->save_error, sizeof r->save_error, "%s", err.msg);
        cloud_emit(c, "error", NULL, NULL, NULL, NULL, "cannot save the state: %s", err.msg);
    }
}

static void pass(struct cloud *c, struct cloud_reconciler *r)
{
    int64_t now_us = kiln_now_us(), mono = kiln_mono_us();
    join_done_jobs(r, false);
    note_instances(c, r, mono);
    for (size_t i = 0; i < c->groups.n; i++)
        reconcile_group(c, r, c->groups.v[i], now_us, mono);
    check_balancer(c, r, mono);
    if (mono >= r->next_prune) {
        cloud_prune_terminated(c, now_us);
        r->next_prune = mono + PRUNE_INTERVAL_US;
    }
    save(c, r);
}

static void *reconciler_main(void *arg)
{
    struct cloud *c = arg;
    pthread_mutex_lock(&c->mu);
    struct cloud_reconciler *r = c->reconciler;
    /* What happened before this start was reported by the kilnd that saw it. */
    for (size_t i = 0; i < c->instances.n; i++) {
        struct cloud_instance *x = c->instances.v[i];
        if (x->healthy_us != 0)
            x->seen |= CLOUD_SEEN_HEALTHY | CLOUD_SEEN_RECOVERED;
        if (x->state == KILN_INSTANCE_TERMINATED)
            x->seen |= CLOUD_SEEN_EXIT;
    }
    while (!c->stopping && !r->quit) {
        pass(c, r);
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_nsec += RECONCILE_TICK_MS * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        if (c->stopping || r->quit)
            break;
        int rc = pthread_cond_timedwait(&c->changed, &c->mu, &deadline);
        if (rc != 0 && rc != ETIMEDOUT)
            break;
    }
    /* Launches under way finish (a few ms: a copy and a spawn); those not started
     * give up. They need mu, so wait for them on `changed`, which they broadcast. */
    for (;;) {
        bool busy = false;
        for (size_t i = 0; i < r->n_jobs; i++)
            busy |= !r->jobs[i]->done;
        if (!busy)
            break;
        pthread_cond_wait(&c->changed, &c->mu);
    }
    join_done_jobs(r, true);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int cloud_reconciler_start(struct cloud *c, struct kiln_err *err)
{
    pthread_mutex_lock(&c->mu);
    if (c->reconciler == NULL)
        c->reconciler = xcalloc(1, sizeof *c->reconciler);
    struct cloud_reconciler *r = c->reconciler;
    pthread_mutex_unlock(&c->mu);
    int rc = pthread_create(&r->thread, NULL, reconciler_main, c);
    if (rc != 0)
        return kiln_err_sys(err, rc, "cannot start the reconciler thread");
    r->running = true;
    return 0;
}

void cloud_reconciler_stop(struct cloud *c)
{
    pthread_mutex_lock(&c->mu);
    struct cloud_reconciler *r = c->reconciler;
    if (r != NULL)
        r->quit = true;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->mu);
    if (r == NULL)
        return;
    if (r->running)
        pthread_join(r->thread, NULL);
    pthread_mutex_lock(&c->mu);
    join_done_jobs(r, true);
    free(r->jobs);
    free(r->notes);
    free(r);
    c->reconciler = NULL;
    pthread_mutex_unlock(&c->mu);
}
