/* kiln console: the Log pane. It follows the newest line until the user moves up;
 * then it stays where it is and counts the lines that arrive below. It shows every
 * job's lines or one job's, wraps long lines or cuts them and scrolls sideways, and
 * searches with '/', n and N. */
#include "console/ui.h"

#include <stdio.h>
#include <string.h>

static bool line_match(const struct console *c, const struct ui_logline *l)
{
    return c->logv.job == 0 || l->job == c->logv.job;
}

/* The nearest matching line before seq, or 0. */
static uint64_t prev_match(const struct console *c, uint64_t seq)
{
    for (uint64_t s = seq; s > c->log.first;) {
        s--;
        const struct ui_logline *l = ui_loglist_get(&c->log, s);
        if (l != NULL && line_match(c, l))
            return s;
    }
    return 0;
}

/* The nearest matching line after seq, or 0. */
static uint64_t next_match(const struct console *c, uint64_t seq)
{
    for (uint64_t s = seq < c->log.first ? c->log.first : seq + 1; s < c->log.next; s++) {
        const struct ui_logline *l = ui_loglist_get(&c->log, s);
        if (l != NULL && line_match(c, l))
            return s;
    }
    return 0;
}

static int line_rows(const struct console *c, const struct ui_logline *l, int w)
{
    return c->logv.wrap ? ui_text_rows(l->text, l->width, l->wide, w) : 1;
}

/* The top line that puts `bottom` on the pane's last row. */
static uint64_t top_for_bottom(const struct console *c, uint64_t bottom, int h, int w)
{
    uint64_t top = bottom;
    int rows = 0;
    for (uint64_t s = bottom; s != 0; s = prev_match(c, s)) {
        const struct ui_logline *l = ui_loglist_get(&c->log, s);
        rows += line_rows(c, l, w);
        if (rows > h)
            break;
        top = s;
    }
    return top;
}

static int content_width(const struct console *c)
{
    return c->panes[PANE_LOG].rect.w > 0 ? c->panes[PANE_LOG].rect.w : 80;
}

static void ensure_visible(struct console *c)
{
    struct ui_logview *v = &c->logv;
    int h = v->last_h > 0 ? v->last_h : 1;
    int w = content_width(c);
    if (v->top == 0 || v->cursor < v->top) {
        v->top = v->cursor;
        return;
    }
    int rows = 0;
    for (uint64_t s = v->top; s != 0 && s <= v->cursor; s = next_match(c, s)) {
        const struct ui_logline *l = ui_loglist_get(&c->log, s);
        if (l == NULL)
            break;
        rows += line_rows(c, l, w);
    }
    if (rows > h)
        v->top = top_for_bottom(c, v->cursor, h, w);
}

/* Leaves follow mode with the cursor on the newest line shown. */
static void unfollow(struct console *c)
{
    struct ui_logview *v = &c->logv;
    if (!v->follow)
        return;
    v->follow = false;
    v->new_below = 0;
    v->cursor = v->last_drawn ? v->last_drawn : prev_match(c, c->log.next);
    v->top = v->first_drawn ? v->first_drawn : v->cursor;
}

static void follow(struct console *c)
{
    c->logv.follow = true;
    c->logv.new_below = 0;
    c->logv.hscroll = 0;
}

void ui_logview_added(struct console *c, const struct ui_logline *line)
{
    if (!c->logv.follow && line_match(c, line))
        c->logv.new_below++;
}

void ui_logview_show_job(struct console *c, uint64_t job)
{
    c->logv.job = job;
    follow(c);
    c->logv.first_drawn = c->logv.last_drawn = 0;
}

void ui_logview_search(struct console *c, const char *pattern, bool older)
{
    struct ui_logview *v = &c->logv;
    if (pattern != v->search)
        snprintf(v->search, sizeof v->search, "%s", pattern);
    if (v->search[0] == '\0')
        return;
    uint64_t from = v->follow ? c->log.next : v->cursor;
    for (uint64_t s = older ? prev_match(c, from) : next_match(c, from); s != 0;
         s = older ? prev_match(c, s) : next_match(c, s)) {
        const struct ui_logline *l = ui_loglist_get(&c->log, s);
        if (strcasestr(l->text + l->prefix_bytes, v->search) != NULL) {
            if (v->follow) {
                v->follow = false;
                v->new_below = 0;
                v->top = v->first_drawn ? v->first_drawn : s;
            }
            v->cursor = s;
            ensure_visible(c);
            return;
        }
    }
    ui_message(c, KILN_LOG_WARN, "no %s line matches '%s'", older ? "older" : "newer", v->search);
}

static attr_t level_attr(enum kiln_log_level level)
{
    switch (level) {
    case KILN_LOG_DEBUG:
        return ui_colors[ROLE_LOG_DEBUG];
    case KILN_LOG_WARN:
        return ui_colors[ROLE_LOG_WARN];
    case KILN_LOG_ERROR:
        return ui_colors[ROLE_LOG_ERROR];
    default:
        return ui_colors[ROLE_LOG_INFO];
    }
}

/* Spans for the prefix and the search matches of one line. */
static size_t line_spans(const struct console *c, const struct ui_logline *l, bool cursor,
                         struct ui_span *spans, size_t max)
{
    size_t n = 0;
    if (!cursor)
        spans[n++] = (struct ui_span){0, (size_t)l->prefix_bytes, ui_colors[ROLE_LOG_DEBUG]};
    const char *pat = c->logv.search;
    size_t plen = strlen(pat);
    if (plen == 0)
        return n;
    for (const char *p = l->text + l->prefix_bytes; n < max && (p = strcasestr(p, pat)) != NULL;
         p += plen) {
        size_t from = (size_t)(p - l->text);
        spans[n++] = (struct ui_span){from, from + plen, level_attr(l->level) | A_REVERSE};
    }
    return n;
}

static void log_title(struct console *c, char *buf, size_t n)
{
    const struct ui_logview *v = &c->logv;
    size_t len = 0;
    if (v->job == 0) {
        len = (size_t)snprintf(buf, n, "Log: all jobs");
    } else {
        const char *kind = "", *target = "";
        for (size_t i = 0; i < c->n_jobs; i++)
            if (kiln_job_id(c->jobs[i]) == v->job) {
                kind = kiln_job_kind(c->jobs[i]);
                target = kiln_job_target(c->jobs[i]);
            }
        len = (size_t)snprintf(buf, n, "Log: job %llu %s %s (a: all)", (unsigned long long)v->job,
                               kind, target);
    }
    if (len >= n)
        return;
    if (v->search[0] != '\0')
        len += (size_t)snprintf(buf + len, n - len, " /%s", v->search);
    if (len >= n)
        return;
    if (!v->wrap)
        len +=
            (size_t)snprintf(buf + len, n - len, " [cut%s%d]", v->hscroll ? " +" : "", v->hscroll);
    if (len >= n)
        return;
    if (!v->follow && v->new_below > 0)
        snprintf(buf + len, n - len, " %s %llu new line%s below (G follows)", ui_glyph(G_DOWN),
                 (unsigned long long)v->new_below, v->new_below == 1 ? "" : "s");
    else if (!v->follow)
        snprintf(buf + len, n - len, " (scrolled; G follows)");
}

static void log_draw(struct console *c, struct pane *p, struct ui_rect r, bool focused)
{
    struct ui_logview *v = &c->logv;
    p->rect = r;
    char title[512];
    log_title(c, title, sizeof title);
    ui_draw_title(c, r.y, r.x, r.w, title, focused);
    int y0 = r.y + 1, h = r.h - 1, w = r.w;
    v->last_h = h;
    p->page = h;
    if (h <= 0)
        return;

    /* Which lines, from which wrapped row of the first. */
    uint64_t first = 0;
    int skip = 0;
    if (v->follow) {
        int rows = 0;
        for (uint64_t s = prev_match(c, c->log.next); s != 0; s = prev_match(c, s)) {
            const struct ui_logline *l = ui_loglist_get(&c->log, s);
            int lr = line_rows(c, l, w);
            first = s;
            if (rows + lr >= h) {
                skip = rows + lr - h;
                break;
            }
            rows += lr;
        }
    } else {
        if (ui_loglist_get(&c->log, v->top) == NULL ||
            !line_match(c, ui_loglist_get(&c->log, v->top)))
            v->top = next_match(c, v->top < c->log.first ? 0 : v->top);
        if (ui_loglist_get(&c->log, v->cursor) == NULL)
            v->cursor = v->top;
        first = v->top;
    }

    int y = 0;
    v->first_drawn = first;
    v->last_drawn = 0;
    for (uint64_t s = first; s != 0 && y < h; s = next_match(c, s)) {
        const struct ui_logline *l = ui_loglist_get(&c->log, s);
        bool cursor = focused && !v->follow && s == v->cursor;
        attr_t base = cursor ? ui_colors[ROLE_SELECTION] : level_attr(l->level);
        struct ui_span spans[16];
        size_t ns = line_spans(c, l, cursor, spans, 16);
        int rows = v->wrap ? h - y : 1;
        y += ui_text(stdscr, y0 + y, r.x, w, rows, v->wrap ? skip : 0, v->wrap ? 0 : v->hscroll,
                     base, l->text, spans, ns, true);
        skip = 0;
        v->last_drawn = s;
    }
    if (first == 0 && h > 0) {
        ui_put(stdscr, y0, r.x, w, ui_colors[ROLE_LOG_DEBUG],
               v->job ? " (no lines from this job yet; a shows every job's lines)"
                      : " (no log lines yet: jobs and commands write here)");
        y = 1;
    }
    for (; y < h; y++)
        ui_fill(stdscr, y0 + y, r.x, w, ui_colors[ROLE_NORMAL]);
}

static void move_cursor(struct console *c, long n)
{
    struct ui_logview *v = &c->logv;
    unfollow(c);
    for (long i = 0; i < n; i++) {
        uint64_t s = next_match(c, v->cursor);
        if (s == 0) {
            follow(c);
            return;
        }
        v->cursor = s;
    }
    for (long i = 0; i > n; i--) {
        uint64_t s = prev_match(c, v->cursor);
        if (s == 0)
            break;
        v->cursor = s;
    }
    ensure_visible(c);
}

static bool log_key(struct console *c, struct pane *p, enum ui_action a)
{
    struct ui_logview *v = &c->logv;
    int page = v->last_h > 1 ? v->last_h - 1 : 1;
    switch (a) {
    case ACT_MOVE_UP:
        move_cursor(c, -1);
        return true;
    case ACT_MOVE_DOWN:
        if (!v->follow)
            move_cursor(c, 1);
        return true;
    case ACT_PAGE_UP:
        move_cursor(c, -page);
        return true;
    case ACT_PAGE_DOWN:
        if (!v->follow)
            move_cursor(c, page);
        return true;
    case ACT_FIRST:
        unfollow(c);
        v->cursor = v->top = next_match(c, 0);
        if (v->cursor == 0)
            follow(c);
        return true;
    case ACT_LAST:
        follow(c);
        return true;
    case ACT_ENTER: {
        const struct ui_logline *l = v->follow ? NULL : ui_loglist_get(&c->log, v->cursor);
        if (l != NULL && l->job != 0 && v->job == 0) {
            ui_logview_show_job(c, l->job);
            ui_message(c, KILN_LOG_INFO, "showing job %llu's log (a: every job's)",
                       (unsigned long long)l->job);
        }
        return true;
    }
    case ACT_LOG_ALL:
        ui_logview_show_job(c, 0);
        return true;
    case ACT_WRAP:
        v->wrap = !v->wrap;
        v->hscroll = 0;
        ui_message(c, KILN_LOG_INFO, "%s",
                   v->wrap ? "long lines wrap" : "long lines are cut: Left and Right scroll");
        return true;
    case ACT_LEFT:
        if (v->wrap || v->hscroll == 0)
            return false;
        v->hscroll = v->hscroll > 8 ? v->hscroll - 8 : 0;
        return true;
    case ACT_RIGHT:
        if (v->wrap)
            return false;
        v->hscroll += 8;
        return true;
    case ACT_SEARCH_NEXT:
    case ACT_SEARCH_PREV:
        if (v->search[0] == '\0')
            ui_message(c, KILN_LOG_INFO, "no search yet: / searches the log");
        else
            ui_logview_search(c, v->search, a == ACT_SEARCH_NEXT);
        return true;
    default:
        return false;
    }
}

static void log_row_key(struct console *c, struct pane *p, size_t i, char *buf, size_t n)
{
    /* For copying: the selected line without its time and source. */
    const struct ui_logline *l =
        ui_loglist_get(&c->log, c->logv.follow ? prev_match(c, c->log.next) : c->logv.cursor);
    snprintf(buf, n, "%s", l ? l->text + l->prefix_bytes : "");
}

static void log_title_fn(struct console *c, struct pane *p, char *buf, size_t n)
{
    log_title(c, buf, n);
}

const struct pane_ops ui_log_ops = {
    .name = "log",
    .title = log_title_fn,
    .row_key = log_row_key,
    .key = log_key,
    .draw = log_draw,
};
