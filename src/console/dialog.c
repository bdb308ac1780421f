/* kiln console: dialogs: the yes/no question before a change (typing the env's
 * name in a protected env) and the deploy form with its preview of what will
 * change. A dialog is modal: it takes every key until it closes. */
#include "console/argv.h"
#include "console/ui.h"

#include "kiln/names.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum dlg_kind { DLG_CONFIRM, DLG_DEPLOY };

/* A preview line: wider than any dialog, so cut on screen, never here. */
#define PREVIEW_LINE 300

enum deploy_field { F_IMAGE, F_PACKAGE, F_SOURCE, F_MIN, F_MAX, F_DESIRED, F_TIMEOUT, F_COUNT };

static const char *const field_labels[F_COUNT] = {
    "Image", "Package", "Source dir", "Min", "Max", "Desired", "Health timeout",
};

struct ui_dialog {
    enum dlg_kind kind;
    char title[128];
    char **lines;
    size_t n_lines;
    bool danger;
    char typed[KILN_ENV_SIZE]; /* what must be typed; "" for y/n */
    char input[64];
    enum ui_after after;
    char *line;
    uint64_t job;

    /* the deploy form */
    char app[KILN_APP_SIZE], env[KILN_ENV_SIZE], cluster[KILN_CLUSTER_SIZE];
    char field[F_COUNT][256];
    int cur; /* a field, or F_COUNT for [Deploy], F_COUNT + 1 for [Cancel] */
    char error[256];
};

static void dialog_free(struct ui_dialog *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n_lines; i++)
        free(d->lines[i]);
    free(d->lines);
    free(d->line);
    free(d);
}

void ui_dialog_close(struct console *c)
{
    dialog_free(c->dialog);
    c->dialog = NULL;
    curs_set(0);
    ui_dirty(c);
}

void ui_confirm(struct console *c, const char *title, const char *const *lines, size_t n_lines,
                bool danger, const char *typed, enum ui_after after, const char *line, uint64_t job)
{
    ui_dialog_close(c);
    struct ui_dialog *d = xcalloc(1, sizeof *d);
    d->kind = DLG_CONFIRM;
    snprintf(d->title, sizeof d->title, "%s", title);
    d->lines = xcalloc(n_lines ? n_lines : 1, sizeof *d->lines);
    for (size_t i = 0; i < n_lines; i++)
        d->lines[i] = xstrdup(lines[i]);
    d->n_lines = n_lines;
    d->danger = danger;
    if (typed != NULL)
        snprintf(d->typed, sizeof d->typed, "%s", typed);
    d->after = after;
    d->line = line ? xstrdup(line) : NULL;
    d->job = job;
    c->dialog = d;
    if (d->typed[0])
        curs_set(1);
    ui_dirty(c);
}

static void accept(struct console *c)
{
    struct ui_dialog *d = c->dialog;
    c->dialog = NULL;
    curs_set(0);
    switch (d->after) {
    case AFTER_RUN:
        ui_run_confirmed(c, d->line);
        break;
    case AFTER_QUIT:
        c->quit = true;
        break;
    case AFTER_CANCEL_JOB: {
        struct kiln_job *job = c->engine ? kiln_engine_find(c->engine, d->job) : NULL;
        if (job != NULL) {
            kiln_job_cancel(job);
            kiln_job_unref(job);
            ui_message(c, KILN_LOG_WARN, "asked job %llu to stop", (unsigned long long)d->job);
        }
        break;
    }
    }
    dialog_free(d);
    ui_dirty(c);
}

static bool confirm_key(struct console *c, int ch)
{
    struct ui_dialog *d = c->dialog;
    if (ch == 27 || ch == 3 || ch == 7 || (!d->typed[0] && (ch == 'n' || ch == 'N'))) {
        ui_dialog_close(c);
        ui_message(c, KILN_LOG_INFO, "nothing was done");
        return true;
    }
    if (!d->typed[0]) {
        if (ch == 'y' || ch == 'Y')
            accept(c);
        return true;
    }
    if (ch == '\r' || ch == '\n' || ch == KEY_ENTER) {
        if (strcmp(d->input, d->typed) == 0) {
            accept(c);
        } else {
            char typed[sizeof d->input], want[sizeof d->typed];
            snprintf(typed, sizeof typed, "%s", d->input);
            snprintf(want, sizeof want, "%s", d->typed);
            ui_dialog_close(c);
            ui_message(c, KILN_LOG_WARN, "'%s' is not '%s': nothing was done", typed, want);
        }
        return true;
    }
    ui_field_key(d->input, sizeof d->input, ch);
    ui_dirty(c);
    return true;
}

/* ---- the deploy form ---- */

static const struct kiln_group *enabled_of(const struct kiln_env *env)
{
    for (size_t i = 0; env && i < env->n_groups; i++)
        if (env->groups[i]->enabled)
            return env->groups[i];
    return NULL;
}

/* The newest package built for app, or NULL. */
static const struct kiln_package *newest_package(const struct kiln_snapshot *s, const char *app)
{
    size_t len = strlen(app);
    for (size_t i = 0; i < s->n_packages; i++) {
        const char *nvr = s->packages[i]->nvr;
        /* name-version-release: the name is app, then a version starting with a digit */
        if (strncmp(nvr, app, len) == 0 && nvr[len] == '-' && nvr[len + 1] >= '0' &&
            nvr[len + 1] <= '9')
            return s->packages[i];
    }
    return NULL;
}

void ui_deploy_dialog(struct console *c, const struct kiln_env *env)
{
    ui_dialog_close(c);
    struct ui_dialog *d = xcalloc(1, sizeof *d);
    d->kind = DLG_DEPLOY;
    snprintf(d->app, sizeof d->app, "%s", env->app->name);
    snprintf(d->env, sizeof d->env, "%s", env->name);
    snprintf(d->cluster, sizeof d->cluster, "%s", env->cluster);
    snprintf(d->title, sizeof d->title, "Deploy to %s", env->cluster);
    const struct kiln_group *on = enabled_of(env);
    const struct kiln_package *pkg = newest_package(c->snap, d->app);
    if (pkg != NULL)
        snprintf(d->field[F_PACKAGE], sizeof d->field[0], "%s", pkg->nvr);
    snprintf(d->field[F_MIN], sizeof d->field[0], "%d", on ? on->min_size : 1);
    snprintf(d->field[F_MAX], sizeof d->field[0], "%d", on ? on->max_size : 1);
    snprintf(d->field[F_DESIRED], sizeof d->field[0], "%d", on ? on->desired : 1);
    char dur[KILN_DURATION_MAX];
    snprintf(d->field[F_TIMEOUT], sizeof d->field[0], "%s",
             kiln_format_duration(c->cfg->health_timeout_ms, dur));
    d->cur = pkg != NULL ? F_PACKAGE : F_SOURCE;
    d->danger = kiln_config_is_protected_env(c->cfg, d->env);
    c->dialog = d;
    curs_set(1);
    ui_dirty(c);
}

static bool parse_size(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || v < 0 || v > 10000)
        return false;
    *out = (int)v;
    return true;
}

/* Checks the form and builds the command line; false with d->error. */
static bool deploy_line(struct ui_dialog *d, struct kiln_strbuf *sb)
{
    int given =
        (d->field[F_IMAGE][0] != 0) + (d->field[F_PACKAGE][0] != 0) + (d->field[F_SOURCE][0] != 0);
    if (given > 1) {
        snprintf(d->error, sizeof d->error,
                 "give one of image, package and source dir, not several");
        return false;
    }
    int mn, mx, ds;
    if (!parse_size(d->field[F_MIN], &mn) || !parse_size(d->field[F_MAX], &mx) ||
        !parse_size(d->field[F_DESIRED], &ds)) {
        snprintf(d->error, sizeof d->error, "min, max and desired are whole numbers");
        return false;
    }
    if (mn > ds || ds > mx) {
        snprintf(d->error, sizeof d->error, "sizes must be min <= desired <= max");
        return false;
    }
    int64_t ms;
    if (d->field[F_TIMEOUT][0] && kiln_parse_duration(d->field[F_TIMEOUT], &ms, NULL) < 0) {
        snprintf(d->error, sizeof d->error, "the health timeout is a duration: 90s, 5m, 1m30s");
        return false;
    }
    d->error[0] = '\0';
    kiln_strbuf_append(sb, "deploy ");
    ui_quote_word(sb, d->app);
    kiln_strbuf_append(sb, " --env ");
    ui_quote_word(sb, d->env);
    static const char *const opt[] = {"--image", "--package", "--source"};
    for (int i = F_IMAGE; i <= F_SOURCE; i++)
        if (d->field[i][0]) {
            kiln_strbuf_appendf(sb, " %s ", opt[i]);
            ui_quote_word(sb, d->field[i]);
        }
    kiln_strbuf_appendf(sb, " --min %d --max %d --desired %d", mn, mx, ds);
    if (d->field[F_TIMEOUT][0]) {
        kiln_strbuf_append(sb, " --health-timeout ");
        ui_quote_word(sb, d->field[F_TIMEOUT]);
    }
    return true;
}

/* What the deploy will change, from the snapshot on screen. */
static size_t deploy_preview(struct console *c, struct ui_dialog *d, char lines[][PREVIEW_LINE],
                             size_t max)
{
    size_t n = 0;
    const struct kiln_env *env = kiln_snapshot_find_env(c->snap, d->app, d->env);
    if (env == NULL) {
        snprintf(lines[n++], PREVIEW_LINE, "%s is not in the inventory any more", d->cluster);
        return n;
    }
    const struct kiln_group *on = enabled_of(env);
    int next = kiln_env_next_version(env);
    const char *from = d->field[F_IMAGE][0]     ? d->field[F_IMAGE]
                       : d->field[F_PACKAGE][0] ? d->field[F_PACKAGE]
                                                : d->field[F_SOURCE];
    const char *what = d->field[F_IMAGE][0]     ? "image"
                       : d->field[F_PACKAGE][0] ? "package (baked first)"
                       : d->field[F_SOURCE][0]  ? "source (built and baked first)"
                                                : "the app's own source (built and baked first)";
    snprintf(lines[n++], PREVIEW_LINE, "new  %s-v%03d from %s %.100s", d->cluster,
             next < 0 ? 0 : next, what, from);
    snprintf(lines[n++], PREVIEW_LINE,
             "     min %.8s, max %.8s, desired %.8s; healthy within %.16s", d->field[F_MIN],
             d->field[F_MAX], d->field[F_DESIRED], d->field[F_TIMEOUT]);
    if (on != NULL)
        snprintf(lines[n++], PREVIEW_LINE,
                 "then %s (%s, %d/%d in service) is disabled, kept for rollback", on->name,
                 on->package[0] ? on->package : on->image_id, on->in_service, on->desired);
    else
        snprintf(lines[n++], PREVIEW_LINE,
                 "then it takes all the traffic (no group is enabled now)");
    /* Disabled groups beyond max_remaining_groups go, oldest first. */
    int keep = c->cfg->max_remaining_groups;
    int disabled = on != NULL ? 1 : 0;
    for (size_t i = 0; i < env->n_groups && n < max; i++) {
        const struct kiln_group *g = env->groups[i];
        if (g->enabled)
            continue;
        if (++disabled > keep)
            snprintf(lines[n++], PREVIEW_LINE, "and  %s is destroyed (keeping %d disabled group%s)",
                     g->name, keep, keep == 1 ? "" : "s");
    }
    return n;
}

static bool deploy_key(struct console *c, int ch)
{
    struct ui_dialog *d = c->dialog;
    if (ch == 27 || ch == 3 || ch == 7) {
        ui_dialog_close(c);
        ui_message(c, KILN_LOG_INFO, "deploy cancelled: nothing was done");
        return true;
    }
    bool enter = ch == '\r' || ch == '\n' || ch == KEY_ENTER;
    if (enter && d->cur == F_COUNT + 1) {
        ui_dialog_close(c);
        ui_message(c, KILN_LOG_INFO, "deploy cancelled: nothing was done");
        return true;
    }
    if (enter && d->cur == F_COUNT) {
        struct kiln_strbuf sb = KILN_STRBUF_INIT;
        if (deploy_line(d, &sb)) {
            char *line = kiln_strbuf_detach(&sb, NULL);
            ui_dialog_close(c);
            ui_run_line(c, line); /* asks for the confirmation */
            free(line);
        } else {
            kiln_strbuf_free(&sb);
            ui_dirty(c);
        }
        return true;
    }
    if (enter || ch == '\t' || ch == KEY_DOWN)
        d->cur = (d->cur + 1) % (F_COUNT + 2);
    else if (ch == KEY_BTAB || ch == KEY_UP)
        d->cur = (d->cur + F_COUNT + 1) % (F_COUNT + 2);
    else if (d->cur < F_COUNT)
        ui_field_key(d->field[d->cur], sizeof d->field[0], ch);
    else if (ch == KEY_LEFT || ch == KEY_RIGHT)
        d->cur = d->cur == F_COUNT ? F_COUNT + 1 : F_COUNT;
    curs_set(d->cur < F_COUNT ? 1 : 0);
    ui_dirty(c);
    return true;
}

bool ui_dialog_key(struct console *c, int ch)
{
    if (c->dialog == NULL)
        return false;
    if (ch == KEY_MOUSE || ch == KEY_RESIZE)
        return true;
    return c->dialog->kind == DLG_DEPLOY ? deploy_key(c, ch) : confirm_key(c, ch);
}

/* ---- drawing ---- */

static void dialog_box(int y, int x, int h, int w, attr_t frame, attr_t fill, const char *title)
{
    for (int i = 0; i < h; i++)
        ui_fill(stdscr, y + i, x, w, fill);
    ui_put_glyph(stdscr, y, x, G_UL, frame);
    ui_put_glyph(stdscr, y, x + w - 1, G_UR, frame);
    ui_put_glyph(stdscr, y + h - 1, x, G_LL, frame);
    ui_put_glyph(stdscr, y + h - 1, x + w - 1, G_LR, frame);
    ui_hline(stdscr, y, x + 1, w - 2, frame);
    ui_hline(stdscr, y + h - 1, x + 1, w - 2, frame);
    ui_vline(stdscr, y + 1, x, h - 2, frame);
    ui_vline(stdscr, y + 1, x + w - 1, h - 2, frame);
    char t[160];
    snprintf(t, sizeof t, " %s ", title);
    ui_puts(stdscr, y, x + 2, w - 4, frame | A_BOLD, t);
}

static void draw_confirm(struct console *c, struct ui_dialog *d)
{
    int w = c->cols - 8 > 76 ? 76 : c->cols - 8;
    int inner = w - 4;
    int rows = 0;
    for (size_t i = 0; i < d->n_lines; i++)
        rows += ui_text_words(NULL, 0, 0, inner, 100, 0, d->lines[i]);
    int h = rows + 4;
    if (h > c->rows - 2)
        h = c->rows - 2;
    int y = (c->rows - h) / 2, x = (c->cols - w) / 2;
    attr_t frame = ui_colors[d->danger ? ROLE_DIALOG_DANGER : ROLE_BORDER_FOCUS];
    attr_t fill = ui_colors[ROLE_DIALOG];
    dialog_box(y, x, h, w, frame, fill, d->title);
    int row = y + 1;
    for (size_t i = 0; i < d->n_lines && row < y + h - 2; i++)
        row += ui_text_words(stdscr, row, x + 2, inner, y + h - 2 - row, fill, d->lines[i]);
    int ay = y + h - 2;
    if (d->typed[0]) {
        char label[64];
        snprintf(label, sizeof label, "type %s to confirm, Esc to cancel: ", d->typed);
        int lx = ui_puts(stdscr, ay, x + 2, inner, fill | A_BOLD, label);
        int ix = ui_put(stdscr, ay, x + 2 + lx, inner - lx, ui_colors[ROLE_SELECTION], d->input);
        move(ay, x + 2 + lx + ix);
    } else {
        ui_puts(stdscr, ay, x + 2, inner, fill | A_BOLD, "y: yes, go ahead     n or Esc: no");
    }
}

static void draw_deploy(struct console *c, struct ui_dialog *d)
{
    char preview[12][PREVIEW_LINE];
    size_t np = deploy_preview(c, d, preview, 12);
    int w = c->cols - 8 > 90 ? 90 : c->cols - 8;
    int inner = w - 4;
    int prows = 0;
    for (size_t i = 0; i < np; i++)
        prows += ui_text_words(NULL, 0, 0, inner, 4, 0, preview[i]);
    int h = F_COUNT + prows + 7 + (d->error[0] ? 1 : 0);
    if (h > c->rows - 2)
        h = c->rows - 2;
    int y = (c->rows - h) / 2, x = (c->cols - w) / 2;
    attr_t frame = ui_colors[d->danger ? ROLE_DIALOG_DANGER : ROLE_BORDER_FOCUS];
    attr_t fill = ui_colors[ROLE_DIALOG];
    dialog_box(y, x, h, w, frame, fill, d->title);
    int row = y + 1;
    ui_puts(stdscr, row++, x + 2, inner, fill,
            "What to deploy: one of image, package, source dir (none: the app's source).");
    int cur_y = -1, cur_x = -1;
    for (int i = 0; i < F_COUNT && row < y + h - 1; i++, row++) {
        char label[32];
        snprintf(label, sizeof label, "%-15s", field_labels[i]);
        ui_puts(stdscr, row, x + 2, 16, fill | (i == d->cur ? A_BOLD : 0), label);
        attr_t fa = i == d->cur ? ui_colors[ROLE_SELECTION] : fill | A_UNDERLINE;
        const char *v = d->field[i];
        int fw = inner - 16;
        while (ui_width(v) > fw - 1 && *v)
            v++;
        int vw = ui_put(stdscr, row, x + 18, fw, fa, v);
        if (i == d->cur) {
            cur_y = row;
            cur_x = x + 18 + vw;
        }
    }
    row++;
    for (size_t i = 0; i < np && row < y + h - 3; i++)
        row += ui_text_words(stdscr, row, x + 2, inner, y + h - 3 - row, fill, preview[i]);
    if (d->error[0] && row < y + h - 3)
        ui_put(stdscr, row, x + 2, inner, ui_colors[ROLE_LOG_ERROR], d->error);
    int by = y + h - 2;
    ui_puts(stdscr, by, x + 2, 12, d->cur == F_COUNT ? ui_colors[ROLE_SELECTION] : fill | A_BOLD,
            "[ Deploy ]");
    ui_puts(stdscr, by, x + 15, 12,
            d->cur == F_COUNT + 1 ? ui_colors[ROLE_SELECTION] : fill | A_BOLD, "[ Cancel ]");
    if (cur_y >= 0)
        move(cur_y, cur_x);
}

void ui_dialog_draw(struct console *c)
{
    if (c->dialog == NULL)
        return;
    if (c->dialog->kind == DLG_DEPLOY)
        draw_deploy(c, c->dialog);
    else
        draw_confirm(c, c->dialog);
}
