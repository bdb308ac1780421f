/* kiln console: the Events view: the provider's events, newest first, chaos kills
 * highlighted, each termination with the instance that replaced it and how long
 * the cluster took to recover; above them, per cluster, kills today and the mean
 * time to recover. */
#include "console/ui.h"

#include "kiln/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Summary rows shown at most; the rest are a "+N more" line. */
#define SUMMARY_ROWS 4

void ui_events_ingest(struct console *c)
{
    if (c->feed == NULL)
        return;
    struct kiln_event batch[32];
    size_t got;
    uint64_t lost = 0, lost_total = 0;
    bool any = false;
    while ((got = ui_feed_take_events(c->feed, batch, 32, &lost)) > 0 || lost > 0) {
        lost_total += lost;
        for (size_t i = 0; i < got; i++) {
            ui_evlist_add(&c->events, &batch[i]);
            /* Errors of the cloud belong where people look: the log. */
            if (strcmp(batch[i].type, "error") == 0)
                ui_log(c, KILN_LOG_ERROR, "cloud", "%s", batch[i].message);
        }
        any = true;
        if (got == 0)
            break;
    }
    if (lost_total > 0)
        ui_log(c, KILN_LOG_WARN, "events",
               "%llu events came faster than the console took them and were skipped",
               (unsigned long long)lost_total);
    if (any && c->view == VIEW_EVENTS)
        ui_list_sync(c, &c->panes[PANE_EVENTS]);
}

static const struct ui_col ev_cols[] = {
    {"TIME", 8, 0, false},   {"EVENT", 9, 0, false}, {"INSTANCE", 19, 1, false},
    {"GROUP", 22, 2, false}, {"WHAT", 46, 0, true},
};
#define N_EV_COLS (int)(sizeof ev_cols / sizeof ev_cols[0])

static bool event_match(const struct pane *p, const struct ui_event *e)
{
    return ui_filter_match(p, e->type) || ui_filter_match(p, e->group) ||
           ui_filter_match(p, e->instance) || ui_filter_match(p, e->cause) ||
           ui_filter_match(p, e->message);
}

static void ev_sync(struct console *c, struct pane *p)
{
    size_t n = ui_evlist_count(&c->events);
    for (size_t i = n; i-- > 0;) {
        const struct ui_event *e = ui_evlist_at(&c->events, i);
        if (event_match(p, e))
            ui_list_push(p, e);
    }
}

static void ev_row_key(struct console *c, struct pane *p, size_t i, char *buf, size_t n)
{
    const struct ui_event *e = p->rows[i];
    /* Copying an event gives its instance id, the thing one pastes elsewhere. */
    snprintf(buf, n, "%s", e->instance[0] ? e->instance : e->group);
}

static void ev_title(struct console *c, struct pane *p, char *buf, size_t n)
{
    snprintf(buf, n, "Events, newest first (%zu)", ui_evlist_count(&c->events));
}

static void ev_header(struct console *c, struct pane *p, int y, int x, int w)
{
    ui_cols_header(ev_cols, N_EV_COLS, y, x, w);
}

static void clock_of(int64_t us, char *buf, size_t n)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    localtime_r(&t, &tm);
    snprintf(buf, n, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void ev_what(const struct ui_event *e, char *buf, size_t n)
{
    char took[KILN_DURATION_MAX];
    if (strcmp(e->type, "terminate") == 0) {
        if (e->replacement[0] && e->recovery_ms >= 0)
            snprintf(buf, n, "%s %s %s, recovered in %s", e->cause[0] ? e->cause : "?",
                     ui_glyph(G_ARROW), e->replacement, kiln_format_duration(e->recovery_ms, took));
        else if (e->recovery_ms >= 0)
            snprintf(buf, n, "%s, recovered in %s", e->cause[0] ? e->cause : "?",
                     kiln_format_duration(e->recovery_ms, took));
        else if (e->replacement[0])
            snprintf(buf, n, "%s %s %s, not healthy yet", e->cause[0] ? e->cause : "?",
                     ui_glyph(G_ARROW), e->replacement);
        else
            snprintf(buf, n, "%s", e->cause[0] ? e->cause : e->message);
        return;
    }
    snprintf(buf, n, "%s", e->message);
}

static void ev_draw_row(struct console *c, struct pane *p, size_t i, int y, int x, int w,
                        bool selected)
{
    const struct ui_event *e = p->rows[i];
    struct ui_cols lo;
    ui_cols_layout(ev_cols, N_EV_COLS, w, &lo);
    char when[16], what[640];
    clock_of(e->time_us, when, sizeof when);
    ev_what(e, what, sizeof what);
    const char *texts[] = {when, e->type, e->instance, e->group, what};
    enum ui_role role = ui_event_is_chaos(e)                ? ROLE_EVENT_CHAOS
                        : strcmp(e->type, "error") == 0     ? ROLE_LOG_ERROR
                        : strcmp(e->type, "terminate") == 0 ? ROLE_LOG_WARN
                        : strcmp(e->type, "recovered") == 0 ? ROLE_HEALTH_OK
                                                            : ROLE_NORMAL;
    attr_t base = ui_row_attr(c, p, selected, ui_colors[role]);
    ui_cols_draw(&lo, y, x, w, texts, NULL, base);
}

static const char *ev_empty(struct console *c, struct pane *p)
{
    if (p->filter[0])
        return "nothing matches the filter (Esc clears it)";
    return c->feed_state.events_ok ? "no events yet: launches, terminations, health and load "
                                     "balancer changes show here as they happen"
                                   : "not connected to the event stream yet";
}

static void ev_summary(struct console *c, struct ui_rect r, int rows)
{
    struct ui_cluster_summary *sum = NULL;
    size_t n = ui_evlist_summary(&c->events, c->now_us, &sum);
    static const struct ui_col cols[] = {
        {"CLUSTER", 16, 0, true},     {"KILLS TODAY", 11, 0, false}, {"KILLS", 6, 3, false},
        {"TERMINATED", 10, 2, false}, {"RECOVERED", 9, 4, false},    {"MEAN TTR", 9, 0, false},
        {"LAST KILL", 9, 1, false},
    };
    int ncols = (int)(sizeof cols / sizeof cols[0]);
    ui_cols_header(cols, ncols, r.y, r.x, r.w);
    struct ui_cols lo;
    ui_cols_layout(cols, ncols, r.w, &lo);
    for (int i = 0; i < rows - 1; i++) {
        int y = r.y + 1 + i;
        if ((size_t)i >= n) {
            ui_put(stdscr, y, r.x, r.w, ui_colors[ROLE_LOG_DEBUG],
                   i == 0 ? " no terminations yet" : "");
            continue;
        }
        if (i == rows - 2 && n > (size_t)rows - 1) {
            ui_putf(stdscr, y, r.x, r.w, ui_colors[ROLE_LOG_DEBUG], " +%zu more clusters",
                    n - (size_t)i);
            continue;
        }
        const struct ui_cluster_summary *s = &sum[i];
        char today[16], kills[16], terms[16], recs[16], ttr[KILN_DURATION_MAX] = "-",
                                                        last[16] = "-";
        snprintf(today, sizeof today, "%d", s->kills_today);
        snprintf(kills, sizeof kills, "%d", s->kills);
        snprintf(terms, sizeof terms, "%d", s->terminations);
        snprintf(recs, sizeof recs, "%d", s->recoveries);
        if (s->recoveries > 0)
            kiln_format_duration(s->ttr_sum_ms / s->recoveries, ttr);
        if (s->last_kill_us)
            clock_of(s->last_kill_us, last, sizeof last);
        const char *texts[] = {s->cluster, today, kills, terms, recs, ttr, last};
        attr_t attrs[] = {0, s->kills_today ? ui_colors[ROLE_EVENT_CHAOS] : 0, 0, 0, 0, 0, 0};
        ui_cols_draw(&lo, y, r.x, r.w, texts, attrs, ui_colors[ROLE_NORMAL]);
    }
    free(sum);
}

static void ev_draw(struct console *c, struct pane *p, struct ui_rect r, bool focused)
{
    /* The summary: a title, a header and up to SUMMARY_ROWS clusters. */
    struct ui_cluster_summary *sum = NULL;
    size_t n = ui_evlist_summary(&c->events, c->now_us, &sum);
    free(sum);
    int rows = 1 + (int)(n == 0 ? 1 : n > SUMMARY_ROWS ? SUMMARY_ROWS : n);
    if (r.h < rows + 5)
        rows = 0; /* too little room: the events matter more */
    if (rows > 0) {
        ui_draw_title(c, r.y, r.x, r.w, "Chaos and recovery by cluster (today: since midnight)",
                      false);
        ev_summary(c, (struct ui_rect){r.y + 1, r.x, rows, r.w}, rows);
        r.y += rows + 1;
        r.h -= rows + 1;
    }
    ui_list_draw(c, p, r, focused);
}

const struct pane_ops ui_events_ops = {
    .name = "events",
    .title = ev_title,
    .sync = ev_sync,
    .row_key = ev_row_key,
    .header = ev_header,
    .draw_row = ev_draw_row,
    .empty = ev_empty,
    .draw = ev_draw,
};
