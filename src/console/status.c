/* kiln console: the status line (provider, cluster, read-only badge, running jobs
 * with their progress, clock) and the message line under it. */
#include "console/ui.h"

#include "kiln/timeutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Running jobs shown with a bar; more are counted. */
#define STATUS_JOBS 3

static void provider_text(struct console *c, char *buf, size_t n)
{
    const struct kiln_ctx *ctx = c->ctx;
    bool aws = ctx->opts.provider ? strcmp(ctx->opts.provider, "aws") == 0
                                  : c->cfg->provider == KILN_PROVIDER_AWS;
    char where[160] = "local";
    if (aws) {
        const char *profile = ctx->opts.profile ? ctx->opts.profile : c->cfg->aws.profile;
        const char *region = ctx->opts.region ? ctx->opts.region : c->cfg->aws.region;
        snprintf(where, sizeof where, "aws %s%s%s", profile[0] ? profile : "default",
                 region[0] ? "/" : "", region);
    }
    const struct ui_feed_state *s = &c->feed_state;
    if (s->text[0] != '\0')
        snprintf(buf, n, " %s: %s ", where, s->text);
    else
        snprintf(buf, n, " %s %s ", where, ui_glyph(s->connected ? G_BULLET : G_CIRCLE));
}

void ui_draw_status(struct console *c, int y)
{
    int w = c->cols;
    attr_t st = ui_colors[ROLE_STATUS];
    ui_fill(stdscr, y, 0, w, st);

    /* The clock first, on the right, so the rest knows its room. */
    time_t now = (time_t)(c->now_us / 1000000);
    struct tm tm;
    localtime_r(&now, &tm);
    char clock[16];
    snprintf(clock, sizeof clock, " %02d:%02d:%02d ", tm.tm_hour, tm.tm_min, tm.tm_sec);
    int right = w - (int)strlen(clock);
    ui_puts(stdscr, y, right, (int)strlen(clock), st, clock);
    c->drawn_second = c->now_us / 1000000;

    int x = 0;
    if (c->read_only)
        x += ui_puts(stdscr, y, x, right - x, ui_colors[ROLE_STATUS_READONLY], " READ-ONLY ");
    char prov[400];
    provider_text(c, prov, sizeof prov);
    x += ui_puts(stdscr, y, x, right - x,
                 c->feed_state.error ? ui_colors[ROLE_STATUS_READONLY] : st, prov);
    const struct kiln_env *env = c->view == VIEW_MAIN ? ui_selected_env(c) : NULL;
    if (env != NULL && x < right - 4) {
        char cl[KILN_CLUSTER_SIZE + 8];
        snprintf(cl, sizeof cl, "%s %s ", ui_glyph(G_VLINE), env->cluster);
        bool prot = kiln_config_is_protected_env(c->cfg, env->name);
        x += ui_puts(stdscr, y, x, right - x, prot ? st | A_BOLD : st, cl);
        if (prot && x < right - 12)
            x += ui_puts(stdscr, y, x, right - x, st | A_BOLD, "(protected) ");
    }

    /* Running jobs, each with its bar. */
    size_t shown = 0, running = 0;
    for (size_t i = 0; i < c->n_jobs; i++) {
        struct kiln_job_info in;
        kiln_job_info(c->jobs[i], &in);
        if (kiln_job_state_finished(in.state))
            continue;
        running++;
        if (shown >= STATUS_JOBS || x >= right - 16)
            continue;
        shown++;
        char label[160];
        snprintf(label, sizeof label, "%s %s %s ", ui_glyph(G_VLINE), in.kind, in.target);
        x += ui_puts(stdscr, y, x, right - x, st, label);
        char bar[128];
        if (in.state == KILN_JOB_QUEUED)
            snprintf(bar, sizeof bar, "queued");
        else if (in.progress_total > 0)
            ui_progress_bar(bar, sizeof bar, in.progress_done, in.progress_total, 14);
        else
            snprintf(bar, sizeof bar, "%s", in.step[0] ? in.step : "running");
        x += ui_puts(stdscr, y, x, right - x, ui_colors[ROLE_PROGRESS], bar);
        x += ui_puts(stdscr, y, x, right - x, st, " ");
    }
    if (running > shown && x < right - 8) {
        char more[32];
        snprintf(more, sizeof more, "+%zu jobs ", running - shown);
        ui_puts(stdscr, y, x, right - x, st, more);
    }
}

void ui_draw_message(struct console *c, int y)
{
    int w = c->cols;
    char what[160], busy[200] = "";
    if (c->runner != NULL && ui_runner_busy(c->runner, what, sizeof what))
        snprintf(busy, sizeof busy, " [running: %.150s]", what);
    int bw = busy[0] ? ui_width(busy) : 0;
    if (c->msg[0] != '\0') {
        attr_t a = c->msg_level == KILN_LOG_ERROR  ? ui_colors[ROLE_LOG_ERROR]
                   : c->msg_level == KILN_LOG_WARN ? ui_colors[ROLE_LOG_WARN]
                                                   : ui_colors[ROLE_NORMAL];
        ui_put(stdscr, y, 0, w - bw, a, c->msg);
    } else {
        ui_put(stdscr, y, 0, w - bw, ui_colors[ROLE_LOG_DEBUG],
               c->view == VIEW_MAIN ? "? help  : command  / filter  Tab next pane  Enter drill in"
                                      "  J jobs  v events  q quit"
                                    : "Esc back  ? help  : command  / filter  q quit");
    }
    if (bw > 0)
        ui_put(stdscr, y, w - bw, bw, ui_colors[ROLE_LOG_DEBUG], busy);
}
