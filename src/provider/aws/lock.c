/* kiln: the cluster lock and the chaos settings on AWS, both tags on the cluster's ELB,
 * so every console on every machine that can see the account sees them.
 *
 * The lock is the tag kiln:lock =
 *     "job=12 user=alice@build1 host=build1 pid=4242 what=deploy
 *      since=2026-11-26T05:16:08Z expires=2026-11-26T05:46:08Z"
 * (one line; ELB tag values allow letters, digits, spaces and _ . : / = + - @ only, so
 * no ';'). Taking it: read the tag; someone else's lock that has not expired means
 * KILN_E_BUSY; otherwise write ours, wait a moment, read it back: whoever wrote last
 * holds it, the other sees that and backs off. Two writers whose read-back both come
 * before the other's write can both believe they hold it; doc/aws.md explains that
 * window and why it is small. The expiry (30 minutes) is pushed forward every 5 minutes
 * while the job runs, so a lock left by a dead job frees itself; on the same host a lock
 * whose process is gone is taken over at once. */
#include "provider/aws/aws.h"

#include "kiln/names.h"
#include "kiln/timeutil.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOCK_TTL_MS     (30 * 60 * 1000)
#define LOCK_REFRESH_MS (5 * 60 * 1000)
/* Time for a concurrent writer's AddTags to land before we read back. */
#define LOCK_SETTLE_MS 700

static bool tag_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("_.:/+-@", c) != NULL;
}

/* Copies s with anything a tag value (or our key=value parsing) cannot hold as '_'. */
static void tag_safe(char *out, size_t n, const char *s)
{
    size_t k = 0;
    for (; s && *s && k + 1 < n; s++)
        out[k++] = tag_char_ok(*s) ? *s : '_';
    out[k] = '\0';
}

static void field(const char *value, const char *key, char *out, size_t n)
{
    out[0] = '\0';
    size_t kl = strlen(key);
    for (const char *p = value; p && *p;) {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            size_t vl = len - kl - 1;
            if (vl >= n)
                vl = n - 1;
            memcpy(out, p + kl + 1, vl);
            out[vl] = '\0';
            return;
        }
        p = end;
    }
}

int aws_lock_parse(const char *value, struct aws_lock_value *out)
{
    memset(out, 0, sizeof *out);
    char buf[64];
    field(value, "job", buf, sizeof buf);
    out->job = strtoull(buf, NULL, 10);
    field(value, "pid", buf, sizeof buf);
    out->pid = atoi(buf);
    field(value, "user", out->user, sizeof out->user);
    field(value, "what", out->what, sizeof out->what);
    field(value, "since", out->since, sizeof out->since);
    field(value, "expires", out->expires, sizeof out->expires);
    if (out->expires[0] == '\0' || kiln_time_parse_iso(out->expires, &out->expires_us, NULL) < 0)
        return -1;
    return 0;
}

static void host_of(const char *value, char *out, size_t n)
{
    field(value, "host", out, n);
}

static void format_value(const struct kiln_lock_owner *o, int64_t since_us, char *out, size_t n)
{
    /* Short enough that the whole value stays within the 256 characters a tag holds. */
    char user[49], host[48], what[16], since[KILN_ISO_TIME_MAX], expires[KILN_ISO_TIME_MAX];
    tag_safe(user, sizeof user, o->user);
    tag_safe(host, sizeof host, o->host);
    tag_safe(what, sizeof what, o->what ? o->what : "job");
    kiln_time_iso(since_us, since);
    kiln_time_iso(kiln_now_us() + LOCK_TTL_MS * 1000LL, expires);
    snprintf(out, n, "job=%llu user=%s host=%s pid=%d what=%s since=%s expires=%s",
             (unsigned long long)o->job, user, host, o->pid, what, since, expires);
}

/* Whether the lock in value belongs to o: the same job of the same process on the same
 * host (a kiln resume of the job in a new process takes it over once that one is gone). */
static bool is_ours(const char *value, const struct kiln_lock_owner *o)
{
    struct aws_lock_value lv;
    char host[64], want[48];
    if (aws_lock_parse(value, &lv) < 0)
        return false;
    host_of(value, host, sizeof host);
    tag_safe(want, sizeof want, o->host);
    return lv.job == o->job && lv.pid == o->pid && strcmp(host, want) == 0;
}

/* Whether nobody holds it any more: expired, unreadable, or held by a process of this
 * host that is gone. */
static bool is_stale(const char *value, const struct kiln_lock_owner *o)
{
    struct aws_lock_value lv;
    if (value[0] == '\0' || aws_lock_parse(value, &lv) < 0 || lv.expires_us <= kiln_now_us())
        return true;
    char host[64], here[48];
    host_of(value, host, sizeof host);
    tag_safe(here, sizeof here, o->host);
    return strcmp(host, here) == 0 && lv.pid > 0 && kill(lv.pid, 0) < 0 && errno == ESRCH;
}

static int busy(const char *cluster, const char *value, struct kiln_err *err)
{
    struct aws_lock_value lv;
    aws_lock_parse(value, &lv);
    const char *since = strlen(lv.since) >= 19 ? lv.since + 11 : lv.since;
    const char *expires = strlen(lv.expires) >= 19 ? lv.expires + 11 : lv.expires;
    return kiln_err_set(err, KILN_E_BUSY,
                        "%s is being %s by job %llu (%s, since %.8s UTC); try again when it is "
                        "done (the lock lapses at %.8s UTC if that job died)",
                        cluster,
                        strcmp(lv.what, "deploy") == 0     ? "deployed"
                        : strcmp(lv.what, "rollback") == 0 ? "rolled back"
                        : strcmp(lv.what, "promote") == 0  ? "promoted"
                                                           : "changed",
                        lv.job, lv.user[0] ? lv.user : "someone", since, expires);
}

static struct aws_held_lock *held(struct aws *a, const char *cluster)
{
    for (size_t i = 0; i < a->n_locks; i++)
        if (strcmp(a->locks[i].cluster, cluster) == 0)
            return &a->locks[i];
    return NULL;
}

static void forget(struct aws *a, const char *cluster)
{
    struct aws_held_lock *h = held(a, cluster);
    if (h == NULL)
        return;
    size_t i = (size_t)(h - a->locks);
    memmove(&a->locks[i], &a->locks[i + 1], (a->n_locks - i - 1) * sizeof *a->locks);
    a->n_locks--;
}

static int write_lock(struct aws *a, const char *lb, const char *value, struct kiln_err *err)
{
    struct aws_tag t = {.key = AWS_TAG_LOCK, .value = (char *)value};
    return aws_elb_add_tags(a->client, lb, &t, 1, err);
}

int aws_lock(struct kiln_provider *p, const char *cluster, const struct kiln_lock_owner *o,
             struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    char lb[AWS_ELB_NAME_SIZE], value[256], now[256];
    aws_elb_name(cluster, lb);
    if (aws_elb_get_tag(a->client, lb, AWS_TAG_LOCK, value, sizeof value, err) < 0) {
        if (err != NULL && err->code == KILN_E_NOTFOUND) {
            /* No ELB, nothing to deploy into: what is left to do there (destroying a
             * group orphaned by a hand-deleted ELB) needs no lock. */
            kiln_err_clear(err);
            return 0;
        }
        kiln_err_prefix(err, "cannot lock %s", cluster);
        return -1;
    }
    int64_t since = kiln_now_us();
    if (value[0] != '\0' && is_ours(value, o)) {
        struct aws_lock_value lv;
        if (aws_lock_parse(value, &lv) == 0 && lv.since[0])
            kiln_time_parse_iso(lv.since, &since, NULL);
    } else if (!is_stale(value, o)) {
        return busy(cluster, value, err);
    }
    char mine[512];
    format_value(o, since, mine, sizeof mine);
    if (write_lock(a, lb, mine, err) < 0) {
        kiln_err_prefix(err, "cannot lock %s", cluster);
        return -1;
    }
    kiln_sleep_ms(LOCK_SETTLE_MS);
    if (aws_elb_get_tag(a->client, lb, AWS_TAG_LOCK, now, sizeof now, err) < 0) {
        kiln_err_prefix(err, "cannot lock %s", cluster);
        return -1;
    }
    if (!is_ours(now, o))
        return busy(cluster, now, err); /* someone wrote after us: theirs */
    forget(a, cluster);
    if (a->n_locks < sizeof a->locks / sizeof a->locks[0]) {
        struct aws_held_lock *h = &a->locks[a->n_locks++];
        memset(h, 0, sizeof *h);
        snprintf(h->cluster, sizeof h->cluster, "%s", cluster);
        snprintf(h->lb, sizeof h->lb, "%s", lb);
        snprintf(h->value, sizeof h->value, "%s", mine);
        h->refreshed_us = kiln_mono_us();
    }
    return 0;
}

int aws_unlock(struct kiln_provider *p, const char *cluster, const struct kiln_lock_owner *o,
               struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    forget(a, cluster);
    char lb[AWS_ELB_NAME_SIZE], value[256];
    aws_elb_name(cluster, lb);
    if (aws_elb_get_tag(a->client, lb, AWS_TAG_LOCK, value, sizeof value, err) < 0) {
        if (err != NULL && err->code == KILN_E_NOTFOUND) {
            kiln_err_clear(err);
            return 0; /* the ELB went (delete-app): so did its lock */
        }
        return -1;
    }
    /* Someone else's lock (ours lapsed and they took it) is theirs to release. */
    if (value[0] == '\0' || !is_ours(value, o))
        return 0;
    return aws_elb_remove_tag(a->client, lb, AWS_TAG_LOCK, err);
}

void aws_lock_refresh(struct aws *a)
{
    int64_t now = kiln_mono_us();
    for (size_t i = 0; i < a->n_locks; i++) {
        struct aws_held_lock *h = &a->locks[i];
        if (now - h->refreshed_us < LOCK_REFRESH_MS * 1000LL)
            continue;
        h->refreshed_us = now;
        /* Only a lock that is still ours: if it lapsed and someone took it, writing over
         * theirs would make two holders. */
        char value[256];
        if (aws_elb_get_tag(a->client, h->lb, AWS_TAG_LOCK, value, sizeof value, NULL) < 0 ||
            strcmp(value, h->value) != 0)
            continue;
        /* The same value with the expiry pushed forward. */
        char *exp = strstr(h->value, " expires=");
        if (exp == NULL)
            continue;
        char expires[KILN_ISO_TIME_MAX];
        kiln_time_iso(kiln_now_us() + LOCK_TTL_MS * 1000LL, expires);
        snprintf(exp, sizeof h->value - (size_t)(exp - h->value), " expires=%s", expires);
        write_lock(a, h->lb, h->value, NULL);
    }
}

/* ---- chaos ---- */

void aws_chaos_parse(const char *value, bool *enabled, int64_t *mean_ms, int64_t *min_ms)
{
    *enabled = false;
    *mean_ms = 0;
    *min_ms = 0;
    if (value == NULL)
        return;
    *enabled = strncmp(value, "on", 2) == 0 && (value[2] == '\0' || value[2] == ' ');
    char buf[32];
    field(value, "mean", buf, sizeof buf);
    *mean_ms = strtoll(buf, NULL, 10);
    field(value, "min", buf, sizeof buf);
    *min_ms = strtoll(buf, NULL, 10);
}

int aws_chaos(struct kiln_provider *p, const char *app, const char *env,
              const struct kiln_chaos_spec *spec, struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    char cluster[KILN_CLUSTER_SIZE], lb[AWS_ELB_NAME_SIZE], value[256];
    if (kiln_cluster_name_format(cluster, sizeof cluster, app, env) < 0)
        return kiln_err_set(err, KILN_E_INVALID, "%s-%s is not a cluster name", app, env);
    aws_elb_name(cluster, lb);
    if (aws_elb_get_tag(a->client, lb, AWS_TAG_CHAOS, value, sizeof value, err) < 0) {
        if (err != NULL && err->code == KILN_E_NOTFOUND)
            return kiln_err_set(err, KILN_E_NOTFOUND,
                                "there is no app %s in env %s (no load balancer %s); create it "
                                "first: kiln create-app %s --env %s ...",
                                app, env, lb, app, env);
        return -1;
    }
    bool on;
    int64_t mean, min;
    aws_chaos_parse(value, &on, &mean, &min);
    if (spec->enable >= 0)
        on = spec->enable == 1;
    if (spec->mean_ms > 0)
        mean = spec->mean_ms;
    if (spec->min_ms > 0)
        min = spec->min_ms;
    /* Times never set take [local] chaos_mean and chaos_min, as a new app does in kilnd,
     * so `chaos --enable` alone means the same on both providers; and, as kilnd does, a
     * minimum longer than the mean is refused rather than silently making it the gap. */
    if (mean <= 0)
        mean = a->chaos_mean_ms;
    if (min <= 0)
        min = a->chaos_min_ms;
    if (min > mean) {
        char mins[KILN_DURATION_MAX], means[KILN_DURATION_MAX];
        return kiln_err_set(err, KILN_E_INVALID,
                            "the minimum time between kills (%s) must not exceed the mean (%s): "
                            "give a longer --mean-time-between-kills or a shorter "
                            "--min-time-between-kills; nothing was changed",
                            kiln_format_duration(min, mins), kiln_format_duration(mean, means));
    }
    char nv[128];
    snprintf(nv, sizeof nv, "%s mean=%lld min=%lld", on ? "on" : "off", (long long)mean,
             (long long)min);
    struct aws_tag t = {.key = AWS_TAG_CHAOS, .value = nv};
    return aws_elb_add_tags(a->client, lb, &t, 1, err);
}
