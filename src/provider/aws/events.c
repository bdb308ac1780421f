/* kiln: the Events feed on AWS. AWS pushes nothing kiln can subscribe to without more
 * infrastructure (SNS, EventBridge), so the feed is derived:
 *   - history: Auto Scaling's scaling activities ("Launching a new EC2 instance: i-..",
 *     "Terminating EC2 instance: i-..", with their cause), when the caller asks for events
 *     after a point (since > 0), so `kiln events` shows what happened while nobody watched;
 *   - live: the differences between successive inventories: launches, terminations (with
 *     the cause from the matching scaling activity), health and load balancer flips, and
 *     "recovered" when a replacement in a group that lost an instance becomes healthy,
 *     with the time since the loss.
 * A large account's whole inventory is hundreds of requests, so it is compared only every
 * whole interval ([console] whole_refresh_interval, 30 s). Every poll in between (5 s)
 * costs one DescribeScalingActivities for the whole account, plus one cluster's
 * inventory (six requests) for each "hot" cluster: one with a recent or running scaling
 * activity, a loss not yet recovered, or an instance on its way up or down. A chaos kill
 * anywhere shows within a poll or two; a quiet account costs one request a poll.
 * Sequence numbers are times (an activity's start, or when a difference was seen; see
 * seq_of), so they are the same in every process and `since` means "after that moment". */
#include "provider/aws/aws.h"

#include "kiln/model.h"
#include "kiln/names.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS_DEFAULT 5000
#define HISTORY_MAX     100

struct seen {
    char id[AWS_ID_SIZE];
    char group[KILN_GROUP_SIZE];
    enum kiln_instance_state state;
    enum kiln_health health;
    enum kiln_lb_state lb;
};

struct lost {
    char group[KILN_GROUP_SIZE];
    char id[AWS_ID_SIZE];
    int64_t time_us;
};

struct aws_events {
    bool started, baseline;
    uint64_t last_seq;
    int64_t next_poll_us, next_whole_us; /* monotonic */
    int64_t poll_ms, whole_ms;
    int64_t last_poll_wall_us; /* when the last poll asked for activities */
    struct kiln_event *queue;
    size_t n_queue, cap_queue;
    struct seen *seen;
    size_t n_seen;
    struct lost *lost;
    size_t n_lost;
};

void aws_events_free(struct aws_events *ev)
{
    if (ev == NULL)
        return;
    free(ev->queue);
    free(ev->seen);
    free(ev->lost);
    free(ev);
}

static struct kiln_event *push(struct aws_events *ev, uint64_t seq, int64_t time_us,
                               const char *type, const char *group, const char *instance,
                               const char *cause, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static struct kiln_event *push(struct aws_events *ev, uint64_t seq, int64_t time_us,
                               const char *type, const char *group, const char *instance,
                               const char *cause, const char *fmt, ...)
{
    if (ev->n_queue == ev->cap_queue) {
        ev->cap_queue = ev->cap_queue ? 2 * ev->cap_queue : 32;
        ev->queue = xrealloc(ev->queue, ev->cap_queue * sizeof *ev->queue);
    }
    struct kiln_event *e = &ev->queue[ev->n_queue++];
    memset(e, 0, sizeof *e);
    e->seq = seq;
    e->time_us = time_us;
    e->recovery_ms = -1;
    snprintf(e->type, sizeof e->type, "%s", type);
    snprintf(e->group, sizeof e->group, "%s", group ? group : "");
    snprintf(e->instance, sizeof e->instance, "%s", instance ? instance : "");
    snprintf(e->cause, sizeof e->cause, "%s", cause ? cause : "");
    struct kiln_group_name gn;
    if (group && kiln_group_name_parse(group, &gn, NULL) == 0)
        kiln_cluster_name_format(e->cluster, sizeof e->cluster, gn.app, gn.env);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return e;
}

/* A time as a sequence number: milliseconds times 100, so that up to 100 events of one
 * millisecond get numbers of their own, and the numbers stay below 10^15 (JSON readers
 * that hold numbers as doubles, and cJSON printing them, keep them exact and integral). */
static uint64_t seq_of(int64_t time_us)
{
    return time_us > 0 ? (uint64_t)(time_us / 1000) * 100 : 0;
}

/* A live event's sequence number: now, and always after the last one handed out. */
static uint64_t next_seq(struct aws_events *ev)
{
    uint64_t now = seq_of(kiln_now_us());
    uint64_t last = ev->n_queue ? ev->queue[ev->n_queue - 1].seq : ev->last_seq;
    return now > last ? now : last + 1;
}

/* What a termination's cause text says, as one word. */
static const char *classify(const char *cause)
{
    if (cause == NULL || cause[0] == '\0')
        return "";
    if (strstr(cause, "terminated or stopped") != NULL)
        return "terminated"; /* killed outside Auto Scaling: a chaos monkey, a person */
    if (strstr(cause, "user request") != NULL)
        return "user";
    if (strstr(cause, "health") != NULL)
        return "unhealthy";
    if (strstr(cause, "difference between desired and actual") != NULL)
        return "scale-in";
    return "autoscaling";
}

/* "Launching a new EC2 instance: i-0abc" -> "i-0abc". */
static void activity_instance(const char *description, char *id, size_t n)
{
    id[0] = '\0';
    const char *p = strstr(description, ": i-");
    if (p == NULL)
        return;
    p += 2;
    size_t k = 2;
    while (p[k] && ((p[k] >= '0' && p[k] <= '9') || (p[k] >= 'a' && p[k] <= 'f')))
        k++;
    snprintf(id, n, "%.*s", (int)k, p);
}

/* By time, then by instance, so that two activities of the same moment (a group
 * launching two instances at once) come in the same order in every process. */
static int cmp_seq(const void *x, const void *y)
{
    const struct kiln_event *a = x, *b = y;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    int c = strcmp(a->instance, b->instance);
    return c ? c : strcmp(a->message, b->message);
}

/* The activities after `since` as events, oldest first. */
static int replay_history(struct aws *a, struct aws_events *ev, uint64_t since,
                          struct kiln_err *err)
{
    struct aws_activities acts;
    if (aws_asg_activities(a->client, NULL, HISTORY_MAX, &acts, err) < 0)
        return -1;
    for (size_t i = 0; i < acts.n; i++) {
        const struct aws_activity *x = &acts.v[i];
        struct kiln_group_name gn;
        if (seq_of(x->start_us) <= since || kiln_group_name_parse(x->group, &gn, NULL) < 0)
            continue;
        char id[AWS_ID_SIZE];
        activity_instance(x->description, id, sizeof id);
        bool launch = strncmp(x->description, "Launching", 9) == 0;
        bool failed = strcmp(x->status, "Failed") == 0 || strcmp(x->status, "Cancelled") == 0;
        push(ev, seq_of(x->start_us), x->start_us, launch ? "launch" : "terminate", x->group, id,
             launch ? (failed ? "failed" : "") : classify(x->cause), "%s%s%s%s", x->description,
             failed ? " (" : "", failed ? x->status : "", failed ? ")" : "");
    }
    aws_activities_free(&acts);
    if (ev->n_queue > 1)
        qsort(ev->queue, ev->n_queue, sizeof *ev->queue, cmp_seq);
    /* Sequence numbers must be unique: ties move up by a microsecond. */
    for (size_t i = 1; i < ev->n_queue; i++)
        if (ev->queue[i].seq <= ev->queue[i - 1].seq)
            ev->queue[i].seq = ev->queue[i - 1].seq + 1;
    return 0;
}

static const struct seen *find_seen(const struct aws_events *ev, const char *id)
{
    for (size_t i = 0; i < ev->n_seen; i++)
        if (strcmp(ev->seen[i].id, id) == 0)
            return &ev->seen[i];
    return NULL;
}

/* The causes of the terminations in gone[] from the recent activities. */
static void termination_causes(const struct aws_activities *acts, char (*ids)[AWS_ID_SIZE],
                               const char **causes, int64_t *times, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < acts->n && causes[i][0] == '\0'; k++) {
            char id[AWS_ID_SIZE];
            activity_instance(acts->v[k].description, id, sizeof id);
            if (strncmp(acts->v[k].description, "Terminating", 11) == 0 &&
                strcmp(id, ids[i]) == 0) {
                causes[i] = classify(acts->v[k].cause);
                /* When Auto Scaling started on it: the loss began then, not at our look. */
                if (acts->v[k].start_us > 0 && acts->v[k].start_us < times[i])
                    times[i] = acts->v[k].start_us;
            }
        }
}

static void note_lost(struct aws_events *ev, const char *group, const char *id, int64_t t)
{
    ev->lost = xrealloc(ev->lost, (ev->n_lost + 1) * sizeof *ev->lost);
    struct lost *l = &ev->lost[ev->n_lost++];
    snprintf(l->group, sizeof l->group, "%s", group);
    snprintf(l->id, sizeof l->id, "%s", id);
    l->time_us = t;
}

/* A new healthy instance in a group that lost one: the oldest loss is recovered. */
static void check_recovered(struct aws_events *ev, const struct kiln_instance *x)
{
    for (size_t i = 0; i < ev->n_lost; i++) {
        struct lost *l = &ev->lost[i];
        if (strcmp(l->group, x->group->name) != 0 || strcmp(l->id, x->id) == 0)
            continue;
        int64_t now = kiln_now_us();
        struct kiln_event *e = push(ev, next_seq(ev), now, "recovered", l->group, x->id, "",
                                    "%s replaced %s in %s", x->id, l->id, l->group);
        snprintf(e->replaces, sizeof e->replaces, "%s", l->id);
        e->recovery_ms = (now - l->time_us) / 1000;
        char d[KILN_DURATION_MAX];
        size_t len = strlen(e->message);
        snprintf(e->message + len, sizeof e->message - len, " after %s",
                 kiln_format_duration(e->recovery_ms, d));
        memmove(l, l + 1, (ev->n_lost - i - 1) * sizeof *l);
        ev->n_lost--;
        return;
    }
}

/* The cluster (app-env) of a group name app-env-vNNN into out; false when it is not one. */
static bool cluster_of(const char *group, char *out, size_t n)
{
    struct kiln_group_name gn;
    return kiln_group_name_parse(group, &gn, NULL) == 0 &&
           kiln_cluster_name_format(out, n, gn.app, gn.env) == 0;
}

/* Whether a group belongs to the cluster being compared (NULL: every cluster). */
static bool in_scope(const char *group, const char *cluster)
{
    char c[KILN_CLUSTER_SIZE];
    return cluster == NULL || (cluster_of(group, c, sizeof c) && strcmp(c, cluster) == 0);
}

/* A fresh inventory (of one cluster, or of everything when cluster is NULL) compared with
 * what was seen of it. acts: the recent activities, for the causes of terminations
 * (fetched here when NULL and needed). */
static void diff_snapshot(struct aws *a, struct aws_events *ev, const struct kiln_snapshot *snap,
                          const char *cluster, const struct aws_activities *acts)
{
    int64_t now = kiln_now_us();
    struct seen *next = xcalloc(ev->n_seen + snap->n_instances + 1, sizeof *next);
    size_t n_next = 0;
    for (size_t i = 0; i < ev->n_seen; i++)
        if (!in_scope(ev->seen[i].group, cluster))
            next[n_next++] = ev->seen[i]; /* not looked at this time: as it was */
    for (size_t i = 0; i < snap->n_instances; i++) {
        const struct kiln_instance *x = snap->instances[i];
        if (!in_scope(x->group->name, cluster))
            continue;
        struct seen *s = &next[n_next++];
        snprintf(s->id, sizeof s->id, "%s", x->id);
        snprintf(s->group, sizeof s->group, "%s", x->group->name);
        s->state = x->state;
        s->health = x->health;
        s->lb = x->lb_state;
        if (!ev->baseline)
            continue;
        const struct seen *old = find_seen(ev, x->id);
        if (old == NULL) {
            push(ev, next_seq(ev), x->launched_us ? x->launched_us : now, "launch", s->group, x->id,
                 "", "%s launched in %s", x->id, s->group);
            if (x->health == KILN_HEALTH_HEALTHY)
                check_recovered(ev, x);
            continue;
        }
        if (old->health != x->health) {
            push(ev, next_seq(ev), now, "health", s->group, x->id, "", "%s is %s%s%s", x->id,
                 kiln_health_name(x->health), x->health_detail && x->health_detail[0] ? ": " : "",
                 x->health_detail ? x->health_detail : "");
            if (x->health == KILN_HEALTH_HEALTHY)
                check_recovered(ev, x);
        }
        if (old->lb != x->lb_state)
            push(ev, next_seq(ev), now, "lb", s->group, x->id, "", "%s is %s in %s", x->id,
                 kiln_lb_state_name(x->lb_state), x->group->env->lb_name);
    }
    /* The ones that went (or started to go) since the last look. */
    size_t n_gone = 0;
    char(*gone)[AWS_ID_SIZE] = xcalloc(ev->n_seen + 1, sizeof *gone);
    const char **causes = xcalloc(ev->n_seen + 1, sizeof *causes);
    int64_t *times = xcalloc(ev->n_seen + 1, sizeof *times);
    char(*groups)[KILN_GROUP_SIZE] = xcalloc(ev->n_seen + 1, sizeof *groups);
    for (size_t i = 0; ev->baseline && i < ev->n_seen; i++) {
        const struct seen *old = &ev->seen[i];
        if (!in_scope(old->group, cluster))
            continue;
        const struct kiln_instance *x = kiln_snapshot_find_instance(snap, old->id);
        bool went = x == NULL || (x->state == KILN_INSTANCE_TERMINATING &&
                                  old->state != KILN_INSTANCE_TERMINATING);
        if (!went || old->state == KILN_INSTANCE_TERMINATING)
            continue;
        snprintf(gone[n_gone], AWS_ID_SIZE, "%s", old->id);
        snprintf(groups[n_gone], KILN_GROUP_SIZE, "%s", old->group);
        times[n_gone] = now;
        causes[n_gone++] = "";
    }
    struct aws_activities fetched = {0};
    if (n_gone > 0 && acts == NULL &&
        aws_asg_activities(a->client, NULL, HISTORY_MAX, &fetched, NULL) == 0)
        acts = &fetched;
    if (n_gone > 0 && acts != NULL)
        termination_causes(acts, gone, causes, times, n_gone);
    aws_activities_free(&fetched);
    for (size_t i = 0; i < n_gone; i++) {
        push(ev, next_seq(ev), times[i], "terminate", groups[i], gone[i], causes[i],
             "%s terminated in %s%s%s%s", gone[i], groups[i], causes[i][0] ? " (" : "", causes[i],
             causes[i][0] ? ")" : "");
        /* A loss the group will make good: it still wants more healthy instances than it
         * has (a terminate with --decrement or a scale-in lowered what it wants). */
        const struct kiln_group *g = kiln_snapshot_find_group(snap, groups[i]);
        if (g != NULL && g->healthy < g->desired)
            note_lost(ev, groups[i], gone[i], times[i]);
    }
    free(gone);
    free(causes);
    free(times);
    free(groups);
    free(ev->seen);
    ev->seen = next;
    ev->n_seen = n_next;
}

/* The whole inventory, compared with everything seen. */
static int diff_whole(struct kiln_provider *p, struct aws_events *ev, struct kiln_err *err)
{
    struct kiln_snapshot *snap = NULL;
    if (aws_inventory(p, &snap, err) < 0)
        return -1;
    diff_snapshot(aws_of(p), ev, snap, NULL, NULL);
    ev->baseline = true;
    kiln_snapshot_release(snap);
    return 0;
}

/* Adds group's cluster to the set (a few entries: a linear search is right). */
static void hot_add(struct kiln_group_name **hot, size_t *n, const char *group)
{
    struct kiln_group_name gn;
    if (kiln_group_name_parse(group, &gn, NULL) < 0)
        return;
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*hot)[i].app, gn.app) == 0 && strcmp((*hot)[i].env, gn.env) == 0)
            return;
    *hot = xrealloc(*hot, (*n + 1) * sizeof **hot);
    (*hot)[(*n)++] = gn;
}

/* The clusters worth a look now (see the top of the file). */
static size_t hot_clusters(const struct aws_events *ev, const struct aws_activities *acts,
                           int64_t since_us, struct kiln_group_name **hot)
{
    size_t n = 0;
    for (size_t i = 0; i < acts->n; i++) {
        const struct aws_activity *x = &acts->v[i];
        if (x->end_us == 0 || x->start_us >= since_us || x->end_us >= since_us)
            hot_add(hot, &n, x->group);
    }
    for (size_t i = 0; i < ev->n_lost; i++)
        hot_add(hot, &n, ev->lost[i].group);
    for (size_t i = 0; i < ev->n_seen; i++) {
        const struct seen *s = &ev->seen[i];
        if (s->state == KILN_INSTANCE_PENDING || s->state == KILN_INSTANCE_TERMINATING ||
            (s->state == KILN_INSTANCE_RUNNING && s->health == KILN_HEALTH_UNKNOWN))
            hot_add(hot, &n, s->group);
    }
    return n;
}

/* Between two whole looks: the account's activities, then each hot cluster by itself. */
static int diff_hot(struct kiln_provider *p, struct aws_events *ev, struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    struct aws_activities acts;
    int64_t asked = kiln_now_us();
    if (aws_asg_activities(a->client, NULL, HISTORY_MAX, &acts, err) < 0)
        return -1;
    /* A little before the last look: activities are stamped by AWS's clock, not ours. */
    struct kiln_group_name *hot = NULL;
    size_t n = hot_clusters(ev, &acts, ev->last_poll_wall_us - 2 * ev->poll_ms * 1000, &hot);
    ev->last_poll_wall_us = asked;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char cluster[KILN_CLUSTER_SIZE];
        struct kiln_snapshot *part = NULL;
        kiln_cluster_name_format(cluster, sizeof cluster, hot[i].app, hot[i].env);
        rc = aws_inventory_cluster(p, hot[i].app, hot[i].env, &part, err);
        if (rc == 0)
            diff_snapshot(a, ev, part, cluster, &acts);
        kiln_snapshot_release(part);
    }
    free(hot);
    aws_activities_free(&acts);
    return rc;
}

int aws_next_event(struct kiln_provider *p, uint64_t since, int timeout_ms, struct kiln_event *out,
                   struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    if (a->events == NULL) {
        a->events = xcalloc(1, sizeof *a->events);
        const char *ms = getenv("KILN_AWS_EVENT_POLL_MS");
        a->events->poll_ms = ms && atoll(ms) > 0 ? atoll(ms) : POLL_MS_DEFAULT;
        a->events->whole_ms = a->whole_ms > a->events->poll_ms ? a->whole_ms : a->events->poll_ms;
    }
    struct aws_events *ev = a->events;
    if (!ev->started) {
        ev->started = true;
        ev->last_seq = since ? since : seq_of(kiln_now_us());
        if (since > 0 && replay_history(a, ev, since, err) < 0) {
            ev->started = false;
            return -1;
        }
    }
    int64_t deadline = kiln_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        /* The oldest queued event after since. */
        while (ev->n_queue > 0) {
            struct kiln_event e = ev->queue[0];
            memmove(ev->queue, ev->queue + 1, (ev->n_queue - 1) * sizeof *ev->queue);
            ev->n_queue--;
            if (e.seq > since) {
                *out = e;
                if (e.seq > ev->last_seq)
                    ev->last_seq = e.seq;
                return 1;
            }
        }
        if (timeout_ms <= 0)
            return 0; /* only what is queued: `kiln events` without --follow */
        int64_t now = kiln_mono_us();
        if (now >= ev->next_poll_us) {
            ev->next_poll_us = now + ev->poll_ms * 1000;
            bool whole = !ev->baseline || now >= ev->next_whole_us;
            if (whole) {
                ev->next_whole_us = now + ev->whole_ms * 1000;
                ev->last_poll_wall_us = kiln_now_us();
            }
            if ((whole ? diff_whole(p, ev, err) : diff_hot(p, ev, err)) < 0)
                return -1;
            continue;
        }
        if (now >= deadline)
            return 0;
        int64_t wait = ev->next_poll_us < deadline ? ev->next_poll_us - now : deadline - now;
        kiln_sleep_ms(wait / 1000 + 1);
    }
}
