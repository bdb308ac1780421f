/* kiln console: the Log pane's lines (see loglist.h). */
#include "console/loglist.h"

#include "console/draw.h"
#include "kiln/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void ui_loglist_init(struct ui_loglist *l, size_t cap)
{
    l->cap = cap ? cap : 1;
    l->v = xcalloc(l->cap, sizeof *l->v);
    l->first = 1;
    l->next = 1;
}

void ui_loglist_free(struct ui_loglist *l)
{
    for (size_t i = 0; i < l->cap; i++)
        free(l->v[i].text);
    free(l->v);
    l->v = NULL;
}

uint64_t ui_loglist_add(struct ui_loglist *l, uint64_t job, int64_t time_us,
                        enum kiln_log_level level, const char *source, const char *text)
{
    struct ui_logline *slot = &l->v[l->next % l->cap];
    if (l->next - l->first == l->cap) {
        free(slot->text);
        l->first++;
    }
    /* The prefix is formatted once, here, so drawing a frame formats nothing. */
    char prefix[96];
    time_t secs = (time_t)(time_us / 1000000);
    struct tm tm;
    localtime_r(&secs, &tm);
    int n;
    if (job != 0)
        n = snprintf(prefix, sizeof prefix, "%02d:%02d:%02d %s#%llu ", tm.tm_hour, tm.tm_min,
                     tm.tm_sec, source && source[0] ? source : "job", (unsigned long long)job);
    else
        n = snprintf(prefix, sizeof prefix, "%02d:%02d:%02d %s ", tm.tm_hour, tm.tm_min, tm.tm_sec,
                     source && source[0] ? source : "kiln");
    if (n < 0 || (size_t)n >= sizeof prefix)
        n = (int)strlen(prefix);
    size_t tlen = strlen(text);
    char *raw = xmalloc((size_t)n + tlen + 1);
    memcpy(raw, prefix, (size_t)n);
    memcpy(raw + n, text, tlen + 1);
    slot->seq = l->next;
    slot->job = job;
    slot->time_us = time_us;
    slot->level = level;
    slot->text = ui_clean(raw, (size_t)n + tlen, &slot->width, &slot->wide);
    /* The prefix is plain ASCII unless the source is not: measure it cleaned. */
    char *p = ui_clean(prefix, (size_t)n, NULL, NULL);
    slot->prefix_bytes = (int)strlen(p);
    free(p);
    free(raw);
    return l->next++;
}

const struct ui_logline *ui_loglist_get(const struct ui_loglist *l, uint64_t seq)
{
    if (seq < l->first || seq >= l->next)
        return NULL;
    return &l->v[seq % l->cap];
}

uint64_t ui_loglist_last(const struct ui_loglist *l)
{
    return l->next - 1;
}
