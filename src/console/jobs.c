/* kiln console: following the job engine: each job's new log lines go into the
 * Log pane (with "N lines dropped" when its ring overflowed before the UI came
 * back), its end is announced, and the Jobs view lists them all. */
#include "console/ui.h"

#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lines read from a ring at once (kiln_logring_read holds the ring's lock while
 * it copies), and in one pass over all jobs: past that the UI draws a frame and
 * comes back for more, so a job logging 100,000 lines a second cannot freeze it. */
#define READ_BATCH  64
#define PASS_BUDGET 20000

static struct ui_jobtrack *track_get(struct console *c, uint64_t id)
{
    for (size_t i = 0; i < c->n_track; i++)
        if (c->track[i].id == id)
            return &c->track[i];
    if (c->n_track == c->cap_track) {
        c->cap_track = c->cap_track ? c->cap_track * 2 : 16;
        c->track = xrealloc(c->track, c->cap_track * sizeof *c->track);
    }
    struct ui_jobtrack *t = &c->track[c->n_track++];
    *t = (struct ui_jobtrack){.id = id, .next_seq = 1, .state = KILN_JOB_QUEUED};
    return t;
}

/* Forgets the tracks of jobs the engine no longer lists. */
static void track_prune(struct console *c, struct kiln_job **jobs, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n_track; i++) {
        bool listed = false;
        for (size_t j = 0; j < n && !listed; j++)
            listed = kiln_job_id(jobs[j]) == c->track[i].id;
        if (listed)
            c->track[k++] = c->track[i];
    }
    c->n_track = k;
}

static void announce_end(struct console *c, struct kiln_job *job, const struct kiln_job_info *in)
{
    char took[KILN_DURATION_MAX] = "";
    if (in->started_us && in->finished_us)
        kiln_format_duration((in->finished_us - in->started_us) / 1000, took);
    enum kiln_log_level level = in->state == KILN_JOB_SUCCEEDED ? KILN_LOG_INFO
                                : in->state == KILN_JOB_FAILED  ? KILN_LOG_ERROR
                                                                : KILN_LOG_WARN;
    char line[KILN_ERR_MSG_MAX + 200];
    snprintf(line, sizeof line, "job %llu %s %s %s%s%s%s%s", (unsigned long long)in->id, in->kind,
             in->target, kiln_job_state_name(in->state), took[0] ? " in " : "", took,
             in->err.msg[0] && in->state != KILN_JOB_SUCCEEDED ? ": " : "",
             in->state != KILN_JOB_SUCCEEDED ? in->err.msg : "");
    ui_loglist_add(&c->log, in->id, kiln_now_us(), level, "kiln", line);
    ui_logview_added(c, ui_loglist_get(&c->log, ui_loglist_last(&c->log)));
    ui_message(c, level, "%s", line);
}

/* Reads what job's ring has past the track's cursor, up to *budget lines. */
static void read_lines(struct console *c, struct kiln_job *job, struct ui_jobtrack *t,
                       size_t *budget)
{
    struct kiln_logring *ring = kiln_job_logring(job);
    for (;;) {
        uint64_t missed = 0, next = t->next_seq;
        size_t max = *budget < READ_BATCH ? *budget : READ_BATCH;
        if (max == 0) {
            c->ingest_pending = true;
            return;
        }
        size_t got = kiln_logring_read(ring, t->next_seq, c->linebuf, max, &missed, &next);
        if (missed > 0) {
            struct kiln_logring_stats st;
            kiln_logring_get_stats(ring, &st);
            char msg[200];
            snprintf(msg, sizeof msg,
                     "... %llu lines dropped: they came faster than the console reads (the "
                     "job's log keeps its last %zu) ...",
                     (unsigned long long)missed, st.capacity);
            ui_loglist_add(&c->log, t->id, kiln_now_us(), KILN_LOG_WARN, "kiln", msg);
            ui_logview_added(c, ui_loglist_get(&c->log, ui_loglist_last(&c->log)));
        }
        for (size_t i = 0; i < got; i++) {
            const struct kiln_log_line *l = &c->linebuf[i];
            ui_loglist_add(&c->log, t->id, l->time_us, l->level, l->source, l->text);
            ui_logview_added(c, ui_loglist_get(&c->log, ui_loglist_last(&c->log)));
        }
        t->next_seq = next;
        *budget -= got;
        if (got < max)
            return;
    }
}

void ui_jobs_ingest(struct console *c)
{
    struct kiln_job **list = NULL;
    size_t n = 0;
    if (c->engine == NULL || kiln_engine_list(c->engine, &list, &n, NULL) < 0)
        return;
    c->ingest_pending = false;
    size_t budget = PASS_BUDGET;
    bool ended = false;
    for (size_t i = 0; i < n; i++) {
        struct ui_jobtrack *t = track_get(c, kiln_job_id(list[i]));
        /* The state first: lines logged before the end are then surely read below. */
        struct kiln_job_info info;
        kiln_job_info(list[i], &info);
        read_lines(c, list[i], t, &budget);
        if (kiln_job_state_finished(info.state) && !t->announced && !c->ingest_pending) {
            t->announced = true;
            announce_end(c, list[i], &info);
            ended = true;
        }
        t->state = info.state;
    }
    track_prune(c, list, n);
    kiln_job_list_free(c->jobs, c->n_jobs);
    c->jobs = list;
    c->n_jobs = n;
    if (ended && c->feed != NULL)
        ui_feed_refresh(c->feed); /* a job changed the cloud: show it now */
    if (c->view == VIEW_JOBS)
        ui_list_sync(c, &c->panes[PANE_JOBS]);
}

size_t ui_jobs_running(struct console *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_track; i++)
        if (!kiln_job_state_finished(c->track[i].state))
            n++;
    return n;
}

void ui_jobs_free(struct console *c)
{
    kiln_job_list_free(c->jobs, c->n_jobs);
    c->jobs = NULL;
    c->n_jobs = 0;
    free(c->track);
    c->track = NULL;
    c->n_track = c->cap_track = 0;
}

/* ---- the Jobs view ---- */

static const struct ui_col jobs_cols[] = {
    {"JOB", 4, 0, false},   {"KIND", 9, 0, false},  {"TARGET", 12, 0, true},
    {"STATE", 9, 0, false}, {"STEP", 14, 2, false}, {"PROGRESS", 14, 1, false},
    {"TIME", 7, 3, false},
};
#define N_JOBS_COLS (int)(sizeof jobs_cols / sizeof jobs_cols[0])

static void jobs_sync(struct console *c, struct pane *p)
{
    /* Newest first: what was just started is on top. */
    for (size_t i = c->n_jobs; i-- > 0;) {
        struct kiln_job *j = c->jobs[i];
        if (ui_filter_match(p, kiln_job_kind(j)) || ui_filter_match(p, kiln_job_target(j)))
            ui_list_push(p, j);
    }
}

static void jobs_row_key(struct console *c, struct pane *p, size_t i, char *buf, size_t n)
{
    snprintf(buf, n, "%llu", (unsigned long long)kiln_job_id((struct kiln_job *)p->rows[i]));
}

static void jobs_title(struct console *c, struct pane *p, char *buf, size_t n)
{
    snprintf(buf, n, "Jobs (%zu, %zu running; Enter shows a job's log, Esc goes back)", c->n_jobs,
             ui_jobs_running(c));
}

static void jobs_header(struct console *c, struct pane *p, int y, int x, int w)
{
    ui_cols_header(jobs_cols, N_JOBS_COLS, y, x, w);
}

/* "█████░░░ 5/8" in about `width` columns. */
void ui_progress_bar(char *buf, size_t n, int done, int total, int width)
{
    char num[32];
    int nl = snprintf(num, sizeof num, " %d/%d", done, total);
    int bar = width - nl;
    if (bar < 3 || total <= 0) {
        snprintf(buf, n, "%s", num + 1);
        return;
    }
    int on = done >= total ? bar : (int)((long long)bar * done / total);
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < bar && o + 8 < n; i++) {
        const char *g = ui_glyph(i < on ? G_BAR_ON : G_BAR_OFF);
        size_t gl = strlen(g);
        memcpy(buf + o, g, gl);
        o += gl;
    }
    snprintf(buf + o, n - o, "%s", num);
}

static enum ui_role state_role(enum kiln_job_state s)
{
    switch (s) {
    case KILN_JOB_SUCCEEDED:
        return ROLE_HEALTH_OK;
    case KILN_JOB_FAILED:
        return ROLE_HEALTH_BAD;
    case KILN_JOB_CANCELLED:
        return ROLE_LOG_WARN;
    case KILN_JOB_RUNNING:
        return ROLE_TITLE;
    default:
        return ROLE_HEALTH_UNKNOWN;
    }
}

static void jobs_draw_row(struct console *c, struct pane *p, size_t i, int y, int x, int w,
                          bool selected)
{
    struct kiln_job *j = (struct kiln_job *)p->rows[i];
    struct kiln_job_info in;
    kiln_job_info(j, &in);
    struct ui_cols lo;
    ui_cols_layout(jobs_cols, N_JOBS_COLS, w, &lo);
    char id[24], bar[128] = "", took[KILN_DURATION_MAX] = "-";
    snprintf(id, sizeof id, "%llu", (unsigned long long)in.id);
    if (in.progress_total > 0)
        ui_progress_bar(bar, sizeof bar, in.progress_done, in.progress_total, lo.w[5]);
    if (in.started_us)
        kiln_format_duration(((in.finished_us ? in.finished_us : c->now_us) - in.started_us) / 1000,
                             took);
    char state[24];
    snprintf(state, sizeof state, "%s%s", kiln_job_state_name(in.state),
             in.cancel_requested && !kiln_job_state_finished(in.state) ? "!" : "");
    const char *texts[] = {id, in.kind, in.target, state, in.step, bar, took};
    attr_t base = ui_row_attr(c, p, selected, ui_colors[ROLE_NORMAL]);
    attr_t attrs[] = {0, 0,
                      0, selected ? 0 : ui_colors[state_role(in.state)],
                      0, selected ? 0 : ui_colors[ROLE_HEALTH_OK],
                      0};
    ui_cols_draw(&lo, y, x, w, texts, attrs, base);
}

static const char *jobs_empty(struct console *c, struct pane *p)
{
    return p->filter[0] ? "nothing matches the filter (Esc clears it)"
                        : "no jobs yet: deploys, builds and bakes run here (d, b, B, :deploy...)";
}

static bool jobs_key(struct console *c, struct pane *p, enum ui_action a)
{
    if (a == ACT_ENTER && p->n_rows > 0) {
        uint64_t id = kiln_job_id((struct kiln_job *)p->rows[p->sel]);
        ui_logview_show_job(c, id);
        ui_message(c, KILN_LOG_INFO, "the log shows job %llu (a: every job, l: go to the log)",
                   (unsigned long long)id);
        return true;
    }
    return false;
}

const struct pane_ops ui_jobs_ops = {
    .name = "jobs",
    .title = jobs_title,
    .sync = jobs_sync,
    .row_key = jobs_row_key,
    .header = jobs_header,
    .draw_row = jobs_draw_row,
    .empty = jobs_empty,
    .key = jobs_key,
};
