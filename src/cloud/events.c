/* kilnd: the event feed. Every launch, termination, health flip, load balancer change
 * and error becomes one JSON line: kept in a ring for subscribers (kiln's console,
 * `kiln events --follow`) and appended to events.log so the story survives restarts. */
#include "cloud/cloud.h"

#include "kiln/json.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_RING 4096
/* How much of events.log's end is read at start to continue its numbering. */
#define EVENTS_TAIL 65536

struct cloud_events {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    char *ring[EVENTS_RING]; /* JSON lines without the newline; ring[seq % EVENTS_RING] */
    uint64_t last;           /* seq of the newest event, 0 = none yet */
    int fd;                  /* events.log, O_APPEND */
    bool closing;
};

/* The numbering continues from the log so that `since` means the same across restarts. */
static uint64_t last_seq_in_log(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size == 0)
        return 0;
    off_t from = st.st_size > EVENTS_TAIL ? st.st_size - EVENTS_TAIL : 0;
    size_t len = (size_t)(st.st_size - from);
    char *buf = xmalloc(len + 1);
    ssize_t got = pread(fd, buf, len, from);
    uint64_t seq = 0;
    if (got > 0) {
        buf[got] = '\0';
        /* Walk lines; the last parseable one wins (a torn last line is skipped). */
        for (char *line = buf, *nl; line < buf + got; line = nl + 1) {
            nl = strchr(line, '\n');
            if (nl == NULL)
                break;
            *nl = '\0';
            cJSON *o = cJSON_Parse(line);
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "seq");
            if (cJSON_IsNumber(s) && kiln_fits_u64(s->valuedouble) && s->valuedouble > (double)seq)
                seq = (uint64_t)s->valuedouble; /* a damaged line's 1e300 would not convert */
            cJSON_Delete(o);
        }
    }
    free(buf);
    return seq;
}

int cloud_events_open(struct cloud *c, struct kiln_err *err)
{
    struct cloud_events *ev = xcalloc(1, sizeof *ev);
    ev->fd = open(c->paths.events_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (ev->fd < 0) {
        int e = errno;
        free(ev);
        return kiln_err_sys(err, e, "cannot open the event log %s", c->paths.events_log);
    }
    int rfd = open(c->paths.events_log, O_RDONLY | O_CLOEXEC);
    if (rfd >= 0) {
        ev->last = last_seq_in_log(rfd);
        close(rfd);
    }
    pthread_mutex_init(&ev->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&ev->cond, &attr);
    pthread_condattr_destroy(&attr);
    c->events = ev;
    return 0;
}

void cloud_events_close(struct cloud *c)
{
    struct cloud_events *ev = c->events;
    if (ev == NULL)
        return;
    for (size_t i = 0; i < EVENTS_RING; i++)
        free(ev->ring[i]);
    close(ev->fd);
    pthread_cond_destroy(&ev->cond);
    pthread_mutex_destroy(&ev->mu);
    free(ev);
    c->events = NULL;
}

static void add_str(cJSON *o, const char *key, const char *v)
{
    if (v != NULL && v[0] != '\0')
        cJSON_AddStringToObject(o, key, v);
}

uint64_t cloud_event(struct cloud *c, const struct cloud_event *e)
{
    struct cloud_events *ev = c->events;
    if (ev == NULL)
        return 0;
    int64_t now = kiln_now_us();
    char when[KILN_ISO_TIME_MAX];
    kiln_time_iso_ms(now, when);

    pthread_mutex_lock(&ev->mu);
    uint64_t seq = ++ev->last;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "seq", (double)seq);
    cJSON_AddStringToObject(o, "time", when);
    cJSON_AddNumberToObject(o, "time_us", (double)now);
    add_str(o, "type", e->type);
    add_str(o, "cluster", e->cluster);
    add_str(o, "group", e->group);
    add_str(o, "instance", e->instance);
    add_str(o, "cause", e->cause);
    add_str(o, "message", e->message);
    add_str(o, "replaces", e->replaces);
    if (e->recovery_ms >= 0 && strcmp(e->type, "recovered") == 0)
        cJSON_AddNumberToObject(o, "recovery_ms", (double)e->recovery_ms);
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (line == NULL)
        kiln_oom(0);

    free(ev->ring[seq % EVENTS_RING]);
    ev->ring[seq % EVENTS_RING] = line;
    /* One write per line with O_APPEND: lines never interleave; a crash can only tear
     * the last one, which the reader skips. The event log is a record, not state, so
     * it is not fsynced per line. */
    size_t len = strlen(line);
    char *buf = xmalloc(len + 2);
    memcpy(buf, line, len);
    buf[len] = '\n';
    if (write(ev->fd, buf, len + 1) < 0) {
        /* A full disk must not stop the cloud; subscribers still get the event. */
    }
    free(buf);
    pthread_cond_broadcast(&ev->cond);
    pthread_mutex_unlock(&ev->mu);
    return seq;
}

uint64_t cloud_events_last(struct cloud *c)
{
    struct cloud_events *ev = c->events;
    pthread_mutex_lock(&ev->mu);
    uint64_t last = ev->last;
    pthread_mutex_unlock(&ev->mu);
    return last;
}

uint64_t cloud_events_wait(struct cloud *c, uint64_t seq, int timeout_ms, char **out)
{
    struct cloud_events *ev = c->events;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    *out = NULL;
    pthread_mutex_lock(&ev->mu);
    while (ev->last <= seq && !ev->closing && !c->stopping) {
        if (pthread_cond_timedwait(&ev->cond, &ev->mu, &deadline) == ETIMEDOUT)
            break;
    }
    uint64_t from = seq + 1;
    /* A subscriber that fell more than the ring behind skips to what is still kept. */
    if (ev->last >= EVENTS_RING && from <= ev->last - EVENTS_RING)
        from = ev->last - EVENTS_RING + 1;
    if (from <= ev->last) {
        struct kiln_strbuf sb = KILN_STRBUF_INIT;
        for (uint64_t s = from; s <= ev->last; s++) {
            const char *line = ev->ring[s % EVENTS_RING];
            if (line == NULL)
                continue;
            kiln_strbuf_append(&sb, "{\"event\":");
            kiln_strbuf_append(&sb, line);
            kiln_strbuf_append(&sb, "}\n");
        }
        *out = kiln_strbuf_detach(&sb, NULL);
        seq = ev->last;
    }
    pthread_mutex_unlock(&ev->mu);
    return seq;
}

void cloud_events_wake_all(struct cloud *c)
{
    struct cloud_events *ev = c->events;
    if (ev == NULL)
        return;
    pthread_mutex_lock(&ev->mu);
    ev->closing = true;
    pthread_cond_broadcast(&ev->cond);
    pthread_mutex_unlock(&ev->mu);
}

void cloud_emitv(struct cloud *c, const char *type, const char *cluster, const char *group,
                 const char *instance, const char *cause, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    struct cloud_event e = {.type = type,
                            .cluster = cluster,
                            .group = group,
                            .instance = instance,
                            .cause = cause,
                            .message = msg,
                            .recovery_ms = -1};
    cloud_event(c, &e);
}

void cloud_emit(struct cloud *c, const char *type, const char *cluster, const char *group,
                const char *instance, const char *cause, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cloud_emitv(c, type, cluster, group, instance, cause, fmt, ap);
    va_end(ap);
}
