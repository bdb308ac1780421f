/* kiln console: events and the chaos summary (see evlist.h). */
#include "console/evlist.h"

#include "kiln/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How far back a launch or recovery looks for the termination it answers. */
#define LINK_WINDOW 4096

void ui_evlist_init(struct ui_evlist *l, size_t cap)
{
    memset(l, 0, sizeof *l);
    l->cap = cap ? cap : 1;
    l->v = xcalloc(l->cap, sizeof *l->v);
}

void ui_evlist_free(struct ui_evlist *l)
{
    for (uint64_t i = l->first; i < l->next; i++)
        free(l->v[i % l->cap].message);
    free(l->v);
    l->v = NULL;
}

size_t ui_evlist_count(const struct ui_evlist *l)
{
    return (size_t)(l->next - l->first);
}

const struct ui_event *ui_evlist_at(const struct ui_evlist *l, size_t i)
{
    return i < ui_evlist_count(l) ? &l->v[(l->first + i) % l->cap] : NULL;
}

bool ui_event_is_chaos(const struct ui_event *e)
{
    return strcmp(e->type, "terminate") == 0 && strcmp(e->cause, "chaos") == 0;
}

/* The termination of instance id, newest first. */
static struct ui_event *find_termination(struct ui_evlist *l, const char *id)
{
    size_t n = ui_evlist_count(l);
    for (size_t k = 0; k < n && k < LINK_WINDOW; k++) {
        struct ui_event *e = &l->v[(l->next - 1 - k) % l->cap];
        if (strcmp(e->type, "terminate") == 0 && strcmp(e->instance, id) == 0)
            return e;
    }
    return NULL;
}

static struct ui_event *find_replaced_by(struct ui_evlist *l, const char *id)
{
    size_t n = ui_evlist_count(l);
    for (size_t k = 0; k < n && k < LINK_WINDOW; k++) {
        struct ui_event *e = &l->v[(l->next - 1 - k) % l->cap];
        if (strcmp(e->type, "terminate") == 0 && strcmp(e->replacement, id) == 0)
            return e;
    }
    return NULL;
}

/* The instance id after `word` in msg ("... replacing i-0123abcd"), or false. */
static bool id_after(const char *msg, const char *word, char out[UI_ID_SIZE])
{
    const char *p = strstr(msg, word);
    if (p == NULL)
        return false;
    p += strlen(word);
    if (strncmp(p, "i-", 2) != 0)
        return false;
    size_t n = strspn(p + 2, "0123456789abcdef") + 2;
    if (n < 3 || n >= UI_ID_SIZE)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* Copies src into dst[size], cut to fit (ids and names are short; kiln_event's
 * fields are roomier than they need). */
static void copy_field(char *dst, size_t size, const char *src, size_t src_size)
{
    size_t n = strnlen(src, src_size);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void ui_evlist_add(struct ui_evlist *l, const struct kiln_event *src)
{
    if (l->next - l->first == l->cap) {
        free(l->v[l->first % l->cap].message);
        l->first++;
    }
    struct ui_event *e = &l->v[l->next % l->cap];
    memset(e, 0, sizeof *e);
    e->seq = src->seq;
    e->time_us = src->time_us;
    copy_field(e->type, sizeof e->type, src->type, sizeof src->type);
    copy_field(e->cluster, sizeof e->cluster, src->cluster, sizeof src->cluster);
    copy_field(e->group, sizeof e->group, src->group, sizeof src->group);
    copy_field(e->instance, sizeof e->instance, src->instance, sizeof src->instance);
    copy_field(e->cause, sizeof e->cause, src->cause, sizeof src->cause);
    e->message = xstrndup(src->message, strnlen(src->message, sizeof src->message));
    e->recovery_ms = strcmp(src->type, "recovered") == 0 ? src->recovery_ms : -1;
    if (e->cluster[0] == '\0' && e->group[0] != '\0') {
        struct kiln_group_name gn;
        if (kiln_group_name_parse(e->group, &gn, NULL) == 0)
            kiln_cluster_name_format(e->cluster, sizeof e->cluster, gn.app, gn.env);
    }
    if (src->seq > l->last_seq)
        l->last_seq = src->seq;

    char old[UI_ID_SIZE];
    if (strcmp(e->type, "launch") == 0 && id_after(e->message, "replacing ", old)) {
        struct ui_event *t = find_termination(l, old);
        if (t != NULL && t->replacement[0] == '\0')
            snprintf(t->replacement, sizeof t->replacement, "%s", e->instance);
    } else if (strcmp(e->type, "recovered") == 0 && e->instance[0] != '\0') {
        struct ui_event *t = NULL;
        /* The event names what it replaced; older kilnds said it in the message. */
        if (src->replaces[0] != '\0') {
            copy_field(old, sizeof old, src->replaces, sizeof src->replaces);
            t = find_termination(l, old);
        } else if (id_after(e->message, "replaced ", old)) {
            t = find_termination(l, old);
        }
        if (t == NULL)
            t = find_replaced_by(l, e->instance);
        if (t != NULL) {
            if (t->replacement[0] == '\0')
                snprintf(t->replacement, sizeof t->replacement, "%s", e->instance);
            t->recovery_ms = e->recovery_ms;
        }
    }
    l->next++;
}

static int64_t local_midnight_us(int64_t now_us)
{
    time_t t = (time_t)(now_us / 1000000);
    struct tm tm;
    localtime_r(&t, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm) * 1000000;
}

static int by_cluster(const void *a, const void *b)
{
    return strcmp(((const struct ui_cluster_summary *)a)->cluster,
                  ((const struct ui_cluster_summary *)b)->cluster);
}

size_t ui_evlist_summary(const struct ui_evlist *l, int64_t now_us, struct ui_cluster_summary **out)
{
    int64_t midnight = local_midnight_us(now_us);
    struct ui_cluster_summary *v = NULL;
    size_t n = 0, cap = 0;
    size_t count = ui_evlist_count(l);
    for (size_t i = 0; i < count; i++) {
        const struct ui_event *e = ui_evlist_at(l, i);
        bool term = strcmp(e->type, "terminate") == 0;
        bool rec = strcmp(e->type, "recovered") == 0 && e->recovery_ms >= 0;
        if ((!term && !rec) || e->cluster[0] == '\0')
            continue;
        /* Clusters are few: a linear search keeps this simple. */
        size_t k = 0;
        while (k < n && strcmp(v[k].cluster, e->cluster) != 0)
            k++;
        if (k == n) {
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                v = xrealloc(v, cap * sizeof *v);
            }
            memset(&v[n], 0, sizeof v[n]);
            snprintf(v[n].cluster, sizeof v[n].cluster, "%s", e->cluster);
            n++;
        }
        struct ui_cluster_summary *s = &v[k];
        if (term) {
            s->terminations++;
            if (ui_event_is_chaos(e)) {
                s->kills++;
                if (e->time_us >= midnight)
                    s->kills_today++;
                if (e->time_us > s->last_kill_us)
                    s->last_kill_us = e->time_us;
            }
        } else {
            s->recoveries++;
            s->ttr_sum_ms += e->recovery_ms;
        }
    }
    if (n > 1)
        qsort(v, n, sizeof *v, by_cluster);
    *out = v;
    return n;
}
