/* kiln console: the UI thread's loop and the screen (see include/kiln/console.h).
 *
 * The loop blocks in poll() on the terminal and the wake pipe and nothing else.
 * Other threads (the job engine's workers, the refresher, the events thread, the
 * command runner) change what they own and write one byte to the wake pipe; the
 * loop then takes their news in (snapshot, log lines, events, command output) and
 * draws one frame, at most ~30 a second, and none at all while nothing changes
 * but the clock's second. Signals only set a flag and wake the loop (tmux's way),
 * except the fatal ones, which restore the terminal before the process dies. */
#include "kiln/console.h"

#include "console/ui.h"

#include "kiln/paths.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Lines the log pane keeps, whatever the jobs' rings hold. */
#define LOG_PANE_LINES 20000
/* Events the inbox holds between two passes of the UI. */
#define EVENT_INBOX 4096
/* How long quitting waits for the provider threads. */
#define FEED_STOP_MS 3000

/* ---- signals and restoring the terminal on every way out ---- */

static volatile sig_atomic_t sig_winch;
static volatile sig_atomic_t sig_quit;
static struct kiln_wake *sig_wake;
/* What the emergency restore needs, kept apart from struct console so a signal
 * handler reads nothing half-updated. */
static volatile sig_atomic_t curses_on;
static volatile sig_atomic_t mouse_on;
static int restore_stdout = -1, restore_stderr = -1;
static int tty_fd = -1;

/* Gives the terminal back: curses off, mouse reporting off, fds 1 and 2 back.
 * Called from the OOM hook, atexit, and fatal signal handlers (endwin is not
 * async-signal-safe, but a crashed console that leaves the terminal raw is worse:
 * htop does the same). */
static void emergency_restore(void)
{
    if (curses_on) {
        curses_on = 0;
        endwin();
        if (mouse_on && tty_fd >= 0) {
            static const char off[] = "\033[?1000l\033[?1002l\033[?1006l";
            ssize_t w = write(tty_fd, off, sizeof off - 1);
            (void)w;
        }
    }
    if (restore_stdout >= 0) {
        dup2(restore_stdout, STDOUT_FILENO);
        restore_stdout = -1;
    }
    if (restore_stderr >= 0) {
        dup2(restore_stderr, STDERR_FILENO);
        restore_stderr = -1;
    }
}

static void on_fatal(int sig)
{
    emergency_restore();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_winch(int sig)
{
    (void)sig;
    sig_winch = 1;
    if (sig_wake != NULL)
        kiln_wake_signal(sig_wake);
}

static void on_quit_signal(int sig)
{
    /* The first one quits cleanly; a second one means now. */
    if (sig_quit) {
        on_fatal(sig);
        return;
    }
    sig_quit = sig;
    if (sig_wake != NULL)
        kiln_wake_signal(sig_wake);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_winch;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGWINCH, &sa, NULL);
    sa.sa_handler = on_quit_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGABRT, &sa, NULL);
}

static void restore_signals(void)
{
    int sigs[] = {SIGWINCH, SIGTERM, SIGINT, SIGHUP, SIGQUIT,
                  SIGSEGV,  SIGBUS,  SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], SIG_DFL);
    sig_wake = NULL;
}

/* ---- messages ---- */

void ui_dirty(struct console *c)
{
    c->dirty |= DIRTY_ALL;
}

void ui_message(struct console *c, enum kiln_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    /* One line: a multi-line message keeps its first. */
    c->msg[strcspn(c->msg, "\n")] = '\0';
    c->msg_level = level;
    ui_dirty(c);
}

void ui_log(struct console *c, enum kiln_log_level level, const char *source, const char *fmt, ...)
{
    char buf[KILN_LOG_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ui_loglist_add(&c->log, 0, kiln_now_us(), level, source, buf);
    ui_logview_added(c, ui_loglist_get(&c->log, ui_loglist_last(&c->log)));
    ui_dirty(c);
}

/* ---- views and focus ---- */

struct pane *ui_focused_pane(struct console *c)
{
    switch (c->view) {
    case VIEW_MAIN:
        return &c->panes[c->focus];
    case VIEW_HELP:
        return &c->panes[PANE_HELP];
    default:
        return &c->panes[c->view_focus];
    }
}

void ui_focus(struct console *c, enum ui_pane_id id)
{
    if (c->view == VIEW_MAIN)
        c->focus = id;
    else
        c->view_focus = id;
    ui_dirty(c);
}

void ui_set_view(struct console *c, enum ui_view v)
{
    if (v == VIEW_HELP) {
        ui_help_build(c);
        c->panes[PANE_HELP].sel = c->panes[PANE_HELP].top = 0;
        ui_list_sync(c, &c->panes[PANE_HELP]);
    } else if (v == VIEW_JOBS) {
        c->view_focus = PANE_JOBS;
        ui_list_sync(c, &c->panes[PANE_JOBS]);
    } else if (v == VIEW_EVENTS) {
        c->view_focus = PANE_EVENTS;
        ui_list_sync(c, &c->panes[PANE_EVENTS]);
    }
    c->view = v;
    c->dirty |= DIRTY_ALL;
}

void ui_request_quit(struct console *c)
{
    size_t running = ui_jobs_running(c);
    if (running == 0) {
        c->quit = true;
        return;
    }
    char what[300];
    snprintf(what, sizeof what,
             "%zu job%s still running. Quitting asks %s to stop at the next step; the journal "
             "keeps where %s stopped: kiln jobs lists them, kiln resume JOB finishes one, kiln "
             "abort JOB undoes it.",
             running, running == 1 ? " is" : "s are", running == 1 ? "it" : "them",
             running == 1 ? "it" : "they");
    const char *lines[] = {what};
    ui_confirm(c, "quit while jobs run?", lines, 1, true, NULL, AFTER_QUIT, NULL, 0);
}

/* ---- the snapshot ---- */

bool ui_take_snapshot(struct console *c)
{
    if (c->snap != NULL && c->snap->generation == kiln_model_generation(c->model))
        return false;
    const struct kiln_snapshot *old = c->snap;
    c->snap = kiln_model_acquire(c->model);
    /* The panes still point into the old snapshot until they are synced: only then
     * may it go. */
    ui_sync_main(c);
    kiln_snapshot_release(old);
    return true;
}

/* ---- state without a terminal ---- */

static const struct pane_ops *const pane_ops_of[PANE_COUNT] = {
    [PANE_APPS] = &ui_apps_ops,           [PANE_GROUPS] = &ui_groups_ops,
    [PANE_INSTANCES] = &ui_instances_ops, [PANE_LOG] = &ui_log_ops,
    [PANE_JOBS] = &ui_jobs_ops,           [PANE_EVENTS] = &ui_events_ops,
    [PANE_HELP] = &ui_help_ops,
};

void ui_state_init(struct console *c, struct kiln_ctx *ctx)
{
    memset(c, 0, sizeof *c);
    c->ctx = ctx;
    c->cfg = &ctx->config;
    c->read_only = ctx->read_only;
    c->model = kiln_model_new();
    c->snap = kiln_model_acquire(c->model);
    ui_loglist_init(&c->log, LOG_PANE_LINES);
    ui_evlist_init(&c->events, c->cfg->event_lines > 0 ? (size_t)c->cfg->event_lines : 20000);
    c->linebuf = xmalloc(64 * sizeof *c->linebuf);
    for (int i = 0; i < PANE_COUNT; i++) {
        c->panes[i].ops = pane_ops_of[i];
        c->panes[i].id = (enum ui_pane_id)i;
    }
    c->view = VIEW_MAIN;
    c->focus = PANE_APPS;
    c->view_focus = PANE_JOBS;
    c->logv.follow = true;
    c->logv.wrap = true;
    c->saved_stdout = c->saved_stderr = c->guard_fd = -1;
    ui_keys_defaults();
    ui_theme_builtin(&c->theme, false);
}

void ui_state_free(struct console *c)
{
    ui_jobs_free(c);
    ui_help_free(c);
    ui_matches_clear(c);
    for (int i = 0; i < PANE_COUNT; i++)
        free(c->panes[i].rows);
    ui_loglist_free(&c->log);
    ui_evlist_free(&c->events);
    free(c->linebuf);
    kiln_snapshot_release(c->snap);
    kiln_model_free(c->model);
    c->snap = NULL;
    c->model = NULL;
}

/* ---- the screen ---- */

void ui_layout(struct console *c)
{
    c->rows = LINES;
    c->cols = COLS;
    c->too_small = c->cols < UI_MIN_COLS || c->rows < UI_MIN_ROWS;
    int avail = c->rows - 2; /* the status and message lines */
    c->top_h = avail * 55 / 100;
    if (c->top_h < 6)
        c->top_h = avail > 6 ? 6 : avail;
    ui_prompt_resize(c);
    c->dirty |= DIRTY_ALL | DIRTY_CLEAR;
}

int ui_screen_start(struct console *c, FILE *out, FILE *in, struct kiln_err *err)
{
    const char *term = getenv("TERM");
    SCREEN *s = newterm(NULL, out, in);
    c->terminfo = s != NULL ? ui_terminfo_current() : NULL;
    if (s == NULL)
        return kiln_err_set(err, KILN_E_FAILED,
                            "cannot start the console on terminal type '%.40s'; set TERM to "
                            "your terminal (e.g. xterm-256color) or use the commands (kiln help)",
                            term ? term : "");
    set_term(s);
    c->screen = s;
    curses_on = 1;
    c->started = true;
    raw();
    noecho();
    nonl();
    intrflush(stdscr, FALSE);
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    meta(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);

    const char *cs = nl_langinfo(CODESET);
    c->utf8 = cs != NULL && strcmp(cs, "UTF-8") == 0;
    ui_draw_init(c->utf8, c->cfg->console.ascii);

    const char *no_color = getenv("NO_COLOR");
    c->color = has_colors() && (no_color == NULL || no_color[0] == '\0');
    if (c->color) {
        start_color();
        use_default_colors();
    }
    ui_theme_apply(&c->theme, c->color);

    if (c->cfg->console.mouse) {
        mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON1_DOUBLE_CLICKED | BUTTON4_PRESSED |
                      BUTTON5_PRESSED,
                  NULL);
        mouseinterval(0);
        c->mouse = true;
        mouse_on = 1;
    }

    c->promptwin = newwin(1, COLS, LINES - 1, 0);
    keypad(c->promptwin, FALSE); /* readline reads escape sequences itself */
    nodelay(c->promptwin, TRUE);
    meta(c->promptwin, TRUE);
    ui_layout(c);
    return 0;
}

void ui_screen_end(struct console *c)
{
    if (!c->started)
        return;
    if (c->promptwin != NULL)
        delwin(c->promptwin);
    c->promptwin = NULL;
    emergency_restore();
    /* What newterm allocated goes too: the screen, then the terminal's description,
     * which delscreen leaves as cur_term (ncurses still keeps a few caches for good:
     * tests/lsan-curses.supp). The console ends once per process, after readline. */
    if (c->screen != NULL)
        delscreen(c->screen);
    c->screen = NULL;
    ui_terminfo_free(c->terminfo);
    c->terminfo = NULL;
    c->started = false;
}

static void on_resize(struct console *c)
{
    struct winsize ws;
    int fd = tty_fd >= 0 ? tty_fd : STDOUT_FILENO;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        resize_term(ws.ws_row, ws.ws_col);
    ui_layout(c);
}

/* ---- drawing a frame ---- */

static void draw_main(struct console *c)
{
    int h = c->top_h;
    int w1 = c->cols * 24 / 100, w2 = c->cols * 33 / 100;
    int w3 = c->cols - w1 - w2 - 2;
    int x2 = w1 + 1, x3 = x2 + w2 + 1;
    ui_list_draw(c, &c->panes[PANE_APPS], (struct ui_rect){0, 0, h, w1}, c->focus == PANE_APPS);
    ui_list_draw(c, &c->panes[PANE_GROUPS], (struct ui_rect){0, x2, h, w2},
                 c->focus == PANE_GROUPS);
    ui_list_draw(c, &c->panes[PANE_INSTANCES], (struct ui_rect){0, x3, h, w3},
                 c->focus == PANE_INSTANCES);
    attr_t b = ui_colors[ROLE_BORDER];
    ui_vline(stdscr, 1, w1, h - 1, b);
    ui_vline(stdscr, 1, x3 - 1, h - 1, b);
    ui_put_glyph(stdscr, 0, w1, G_TEE_DOWN, b);
    ui_put_glyph(stdscr, 0, x3 - 1, G_TEE_DOWN, b);
    c->panes[PANE_LOG].ops->draw(c, &c->panes[PANE_LOG],
                                 (struct ui_rect){h, 0, c->rows - 2 - h, c->cols},
                                 c->focus == PANE_LOG);
    /* The separators meet the log's title line, unless its title text is there. */
    for (int k = 0; k < 2; k++) {
        int x = k == 0 ? w1 : x3 - 1;
        cchar_t cc;
        wchar_t wc[CCHARW_MAX + 1];
        attr_t at;
        short pair;
        if (mvin_wch(h, x, &cc) == OK && getcchar(&cc, wc, &at, &pair, NULL) == OK &&
            (wc[0] == L'\x2500' || wc[0] == L'-'))
            ui_put_glyph(stdscr, h, x, G_TEE_UP, b);
    }
}

static void draw_view(struct console *c, enum ui_pane_id id)
{
    int h = c->top_h;
    struct pane *p = &c->panes[id];
    struct ui_rect r = {0, 0, h, c->cols};
    if (p->ops->draw != NULL)
        p->ops->draw(c, p, r, c->view_focus == id);
    else
        ui_list_draw(c, p, r, c->view_focus == id);
    c->panes[PANE_LOG].ops->draw(c, &c->panes[PANE_LOG],
                                 (struct ui_rect){h, 0, c->rows - 2 - h, c->cols},
                                 c->view_focus == PANE_LOG);
}

/* Tab's candidates above the `:` line, in columns. */
static void draw_matches(struct console *c)
{
    if (c->n_matches == 0)
        return;
    int widest = 0;
    for (size_t i = 0; i < c->n_matches; i++) {
        int w = ui_width(c->matches[i]);
        if (w > widest)
            widest = w;
    }
    int colw = widest + 2 > c->cols ? c->cols : widest + 2;
    int ncols = c->cols / colw > 0 ? c->cols / colw : 1;
    int max_rows = c->rows / 3 > 1 ? c->rows / 3 : 1;
    int nrows = (int)((c->n_matches + (size_t)ncols - 1) / (size_t)ncols);
    bool cut = nrows > max_rows;
    if (cut)
        nrows = max_rows;
    int y0 = c->rows - 2 - nrows;
    attr_t a = ui_colors[ROLE_DIALOG];
    for (int r = 0; r < nrows; r++) {
        ui_fill(stdscr, y0 + r, 0, c->cols, a);
        for (int k = 0; k < ncols; k++) {
            size_t i = (size_t)r + (size_t)k * (size_t)nrows;
            if (i < c->n_matches)
                ui_puts(stdscr, y0 + r, k * colw, colw - 1, a, c->matches[i]);
        }
    }
    if (cut) {
        char more[64];
        snprintf(more, sizeof more, " %zu candidates: type more ", c->n_matches);
        ui_puts(stdscr, y0 + nrows - 1, c->cols - ui_width(more), ui_width(more), a | A_BOLD, more);
    }
}

static void draw_too_small(struct console *c)
{
    char msg[128];
    snprintf(msg, sizeof msg, "terminal too small (need %dx%d, have %dx%d)", UI_MIN_COLS,
             UI_MIN_ROWS, c->cols, c->rows);
    int w = ui_width(msg);
    int y = c->rows > 2 ? (c->rows - 2) / 2 : 0;
    int x = c->cols > w ? (c->cols - w) / 2 : 0;
    ui_puts(stdscr, y, x, c->cols - x, ui_colors[ROLE_LOG_WARN] | A_BOLD, msg);
    if (y + 1 < c->rows - 1)
        ui_puts(stdscr, y + 1, x, c->cols - x, ui_colors[ROLE_NORMAL],
                "kiln keeps working; q quits");
}

void ui_render(struct console *c)
{
    c->now_us = kiln_now_us();
    bool status_only =
        c->dirty == DIRTY_STATUS && !c->too_small && c->n_matches == 0 && c->dialog == NULL;
    if (c->dirty & DIRTY_CLEAR)
        clearok(curscr, TRUE);
    if (status_only) {
        ui_draw_status(c, c->rows - 2);
    } else {
        erase();
        if (c->too_small) {
            draw_too_small(c);
        } else {
            switch (c->view) {
            case VIEW_MAIN:
                draw_main(c);
                break;
            case VIEW_JOBS:
                draw_view(c, PANE_JOBS);
                break;
            case VIEW_EVENTS:
                draw_view(c, PANE_EVENTS);
                break;
            case VIEW_HELP:
                ui_list_draw(c, &c->panes[PANE_HELP], (struct ui_rect){0, 0, c->rows - 2, c->cols},
                             true);
                break;
            }
            ui_draw_status(c, c->rows - 2);
            draw_matches(c);
        }
        if (c->rows >= 2) {
            if (c->edit.mode != EDIT_NONE)
                ui_edit_draw(c, c->rows - 1);
            else
                ui_draw_message(c, c->rows - 1);
        }
        if (!c->too_small)
            ui_dialog_draw(c);
        if (c->edit.mode != EDIT_NONE && c->dialog == NULL) /* the cursor goes last */
            ui_edit_draw(c, c->rows - 1);
    }
    wnoutrefresh(stdscr);
    ui_prompt_draw(c);
    doupdate();
    c->dirty = 0;
    c->last_frame_us = kiln_mono_us();
}

/* ---- keys and the mouse ---- */

static enum ui_pane_id panes_of_view(struct console *c, enum ui_pane_id out[4], int *n)
{
    if (c->view == VIEW_MAIN) {
        out[0] = PANE_APPS;
        out[1] = PANE_GROUPS;
        out[2] = PANE_INSTANCES;
        out[3] = PANE_LOG;
        *n = 4;
        return c->focus;
    }
    out[0] = c->view == VIEW_JOBS ? PANE_JOBS : c->view == VIEW_EVENTS ? PANE_EVENTS : PANE_HELP;
    out[1] = PANE_LOG;
    *n = c->view == VIEW_HELP ? 1 : 2;
    return c->view == VIEW_HELP ? PANE_HELP : c->view_focus;
}

static void cycle_pane(struct console *c, int dir)
{
    enum ui_pane_id ids[4];
    int n;
    enum ui_pane_id cur = panes_of_view(c, ids, &n);
    int i = 0;
    while (i < n && ids[i] != cur)
        i++;
    ui_focus(c, ids[(i + n + dir) % n]);
}

static void scroll_pane(struct console *c, struct pane *p, int delta)
{
    if (p->id == PANE_LOG) {
        for (int i = 0; i < (delta < 0 ? -delta : delta); i++)
            p->ops->key(c, p, delta < 0 ? ACT_MOVE_UP : ACT_MOVE_DOWN);
        return;
    }
    ui_list_move(p, delta);
    if (p->n_rows > 0 && p->ops->row_key)
        p->ops->row_key(c, p, p->sel, p->sel_key, sizeof p->sel_key);
    if (p->id <= PANE_INSTANCES)
        ui_sync_main(c);
}

static void on_mouse(struct console *c)
{
    MEVENT ev;
    if (getmouse(&ev) != OK || c->too_small)
        return;
    enum ui_pane_id ids[4];
    int n;
    panes_of_view(c, ids, &n);
    for (int i = 0; i < n; i++) {
        struct pane *p = &c->panes[ids[i]];
        struct ui_rect r = p->rect;
        if (ev.y < r.y || ev.y >= r.y + r.h || ev.x < r.x || ev.x >= r.x + r.w)
            continue;
        if (ev.bstate & BUTTON4_PRESSED) {
            scroll_pane(c, p, -3);
        } else if (ev.bstate & BUTTON5_PRESSED) {
            scroll_pane(c, p, 3);
        } else if (ev.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON1_DOUBLE_CLICKED)) {
            if (c->view != VIEW_HELP)
                ui_focus(c, p->id);
            if (p->id != PANE_LOG && ev.y >= p->rows_y) {
                size_t row = p->top + (size_t)(ev.y - p->rows_y);
                if (row < p->n_rows)
                    scroll_pane(c, p, (int)((long)row - (long)p->sel));
                if ((ev.bstate & BUTTON1_DOUBLE_CLICKED) && p->ops->key)
                    p->ops->key(c, p, ACT_ENTER);
            }
        }
        ui_dirty(c);
        return;
    }
}

static void open_filter(struct console *c)
{
    struct pane *p = ui_focused_pane(c);
    if (p->id == PANE_LOG) {
        ui_edit_open(c, EDIT_SEARCH, "search the log: /", c->logv.search);
        return;
    }
    char prompt[64];
    snprintf(prompt, sizeof prompt, "filter %s: ", p->ops->name);
    ui_edit_open(c, EDIT_FILTER, prompt, p->filter);
}

static void back(struct console *c)
{
    struct pane *p = ui_focused_pane(c);
    if (p->id == PANE_LOG) {
        if (!c->logv.follow || c->logv.search[0]) {
            c->logv.search[0] = '\0';
            p->ops->key(c, p, ACT_LAST);
            return;
        }
        if (c->logv.job != 0) {
            ui_logview_show_job(c, 0);
            return;
        }
    } else if (p->filter[0] != '\0') {
        p->filter[0] = '\0';
        if (p->id <= PANE_INSTANCES)
            ui_sync_main(c);
        else
            ui_list_sync(c, p);
        return;
    }
    if (c->view != VIEW_MAIN) {
        if (c->view_focus == PANE_LOG && c->view != VIEW_HELP)
            c->view_focus = c->view == VIEW_JOBS ? PANE_JOBS : PANE_EVENTS;
        else
            ui_set_view(c, VIEW_MAIN);
        return;
    }
    if (c->focus == PANE_LOG)
        c->focus = PANE_INSTANCES;
    else if (c->focus > PANE_APPS)
        c->focus = (enum ui_pane_id)(c->focus - 1);
}

static void dispatch(struct console *c, enum ui_action a)
{
    struct pane *p = ui_focused_pane(c);
    switch (a) {
    case ACT_COMMAND:
        ui_prompt_open(c, NULL);
        return;
    case ACT_VIEW_HELP:
        ui_set_view(c, c->view == VIEW_HELP ? VIEW_MAIN : VIEW_HELP);
        return;
    case ACT_VIEW_JOBS:
        ui_set_view(c, c->view == VIEW_JOBS ? VIEW_MAIN : VIEW_JOBS);
        return;
    case ACT_VIEW_EVENTS:
        ui_set_view(c, c->view == VIEW_EVENTS ? VIEW_MAIN : VIEW_EVENTS);
        return;
    case ACT_REDRAW:
        c->dirty |= DIRTY_CLEAR;
        return;
    case ACT_REFRESH:
        if (c->feed != NULL)
            ui_feed_refresh(c->feed);
        ui_message(c, KILN_LOG_INFO, "asking the provider for the inventory");
        return;
    case ACT_QUIT:
        if (c->view == VIEW_HELP)
            ui_set_view(c, VIEW_MAIN);
        else
            ui_request_quit(c);
        return;
    case ACT_FILTER:
        open_filter(c);
        return;
    case ACT_COPY: {
        char text[512] = "";
        if (p->ops->row_key != NULL && (p->id == PANE_LOG || p->n_rows > 0))
            p->ops->row_key(c, p, p->sel, text, sizeof text);
        ui_copy(c, text);
        return;
    }
    case ACT_FOCUS_LOG:
        if (c->view != VIEW_HELP)
            ui_focus(c, PANE_LOG);
        return;
    case ACT_BACK:
        back(c);
        return;
    case ACT_NEXT_PANE:
    case ACT_PREV_PANE:
        cycle_pane(c, a == ACT_NEXT_PANE ? 1 : -1);
        return;
    default:
        break;
    }
    if (ui_action_mutating(a)) {
        ui_action_change(c, a);
        return;
    }
    if (p->ops->key != NULL && p->ops->key(c, p, a))
        return;
    if (p->id != PANE_LOG && ui_list_key(c, p, a))
        return;
    /* Left and Right outside a pane that uses them: move between panes. */
    if (a == ACT_LEFT || a == ACT_RIGHT)
        cycle_pane(c, a == ACT_RIGHT ? 1 : -1);
}

static void on_key(struct console *c, int ch)
{
    if (ch == KEY_RESIZE)
        return; /* SIGWINCH is ours: see on_resize */
    if (c->prompt_active) {
        ui_prompt_key(c, ch);
        return;
    }
    if (c->dialog != NULL) {
        ui_dialog_key(c, ch);
        return;
    }
    if (c->edit.mode != EDIT_NONE) {
        ui_edit_key(c, ch);
        return;
    }
    if (ch == KEY_MOUSE) {
        on_mouse(c);
        return;
    }
    c->msg[0] = '\0';
    ui_dirty(c);
    enum ui_action a = ui_keys_lookup(ch);
    if (a == ACT_NONE) {
        char name[16];
        ui_key_name(ch, name, sizeof name);
        if (name[0])
            ui_message(c, KILN_LOG_INFO, "%s does nothing here (? lists the keys)", name);
        return;
    }
    if (c->too_small && a != ACT_QUIT && a != ACT_COMMAND && a != ACT_REDRAW) {
        ui_message(c, KILN_LOG_WARN, "make the terminal at least %dx%d to use the panes",
                   UI_MIN_COLS, UI_MIN_ROWS);
        return;
    }
    dispatch(c, a);
}

/* ---- stray output guard ---- */

static void guard_start(struct console *c)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/console.log", c->ctx->paths.home);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    c->guard_fd = open(path, O_RDONLY | O_CLOEXEC);
    c->guard_off = 0;
    fflush(stdout);
    fflush(stderr);
    restore_stdout = c->saved_stdout = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    restore_stderr = c->saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

static void guard_read(struct console *c)
{
    if (c->guard_fd < 0)
        return;
    char buf[4096];
    ssize_t n;
    while ((n = pread(c->guard_fd, buf, sizeof buf - 1, c->guard_off)) > 0) {
        buf[n] = '\0';
        /* Whole lines only; a partial one waits for its end (or the buffer fills). */
        char *end = strrchr(buf, '\n');
        size_t take = end ? (size_t)(end - buf) + 1 : (size_t)n == sizeof buf - 1 ? (size_t)n : 0;
        if (take == 0)
            break;
        buf[take] = '\0';
        for (char *line = buf, *nl; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            if (line[0] != '\0' && strspn(line, "\a\r") != strlen(line))
                ui_log(c, KILN_LOG_WARN, "stderr", "%s", line);
            if (nl == NULL)
                break;
        }
        c->guard_off += (off_t)take;
    }
}

static void guard_stop(struct console *c)
{
    emergency_restore();
    if (c->guard_fd >= 0)
        close(c->guard_fd);
    if (c->saved_stdout >= 0)
        close(c->saved_stdout);
    if (c->saved_stderr >= 0)
        close(c->saved_stderr);
    c->guard_fd = c->saved_stdout = c->saved_stderr = -1;
}

/* ---- the loop ---- */

static void engine_notify(struct kiln_job *job, void *arg)
{
    (void)job;
    kiln_wake_signal(arg);
}

/* The feed refreshes the selected cluster more often than the rest. */
static void tell_focus(struct console *c)
{
    if (c->feed == NULL)
        return;
    const struct kiln_env *env = ui_selected_env(c);
    ui_feed_focus(c->feed, env ? env->app->name : NULL, env ? env->name : NULL);
}

static void take_news(struct console *c)
{
    ui_take_snapshot(c);
    ui_jobs_ingest(c);
    ui_events_ingest(c);
    ui_runner_ingest(c);
    if (c->feed != NULL) {
        ui_feed_get_state(c->feed, &c->feed_state);
        /* A new provider error goes to the log once, whole (the status line cuts). */
        if (c->feed_state.error && strcmp(c->feed_state.detail, c->feed_logged) != 0) {
            snprintf(c->feed_logged, sizeof c->feed_logged, "%s", c->feed_state.detail);
            ui_log(c, KILN_LOG_ERROR, "provider", "%s", c->feed_state.text);
        } else if (!c->feed_state.error && c->feed_logged[0] != '\0') {
            c->feed_logged[0] = '\0';
            ui_log(c, KILN_LOG_INFO, "provider", "connected again");
        }
    }
    guard_read(c);
    c->dirty |= DIRTY_ALL;
}

static void loop(struct console *c)
{
    struct pollfd fds[2] = {
        {.fd = STDIN_FILENO, .events = POLLIN},
        {.fd = kiln_wake_fd(&c->wake), .events = POLLIN},
    };
    bool input = true;
    while (!c->quit) {
        if (sig_quit) {
            c->quit = true;
            break;
        }
        if (sig_winch) {
            sig_winch = 0;
            on_resize(c);
            input = true;
        }
        int64_t now = kiln_mono_us();
        if (c->dirty != 0) {
            /* Input is answered at once; other threads' news at most ~30 times a second. */
            if (input || now - c->last_frame_us >= UI_FRAME_US) {
                ui_render(c);
                tell_focus(c);
                input = false;
            }
        }
        int timeout;
        if (c->ingest_pending)
            timeout = 0;
        else if (c->dirty != 0)
            timeout = (int)((c->last_frame_us + UI_FRAME_US - kiln_mono_us()) / 1000) + 1;
        else
            timeout = (int)(1000 - (kiln_now_us() / 1000) % 1000) + 2; /* the clock's next second */
        if (timeout < 0)
            timeout = 0;
        int r = poll(fds, 2, timeout);
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0 && (fds[1].revents & POLLIN) && kiln_wake_drain(&c->wake))
            take_news(c);
        else if (c->ingest_pending)
            take_news(c);
        if (r > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (fds[0].revents & (POLLHUP | POLLERR)) {
                c->quit = true; /* the terminal went away */
                break;
            }
            int ch;
            while (!c->quit && (ch = wgetch(c->prompt_active ? c->promptwin : stdscr)) != ERR) {
                on_key(c, ch);
                input = true;
            }
        }
        if (kiln_now_us() / 1000000 != c->drawn_second && !c->too_small) {
            c->dirty |= DIRTY_STATUS;
            guard_read(c);
        }
    }
}

int kiln_console_run(struct kiln_ctx *ctx, struct kiln_err *err)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
        return kiln_err_set(err, KILN_E_USAGE,
                            "the console needs a terminal on stdin and stdout; to script kiln, "
                            "give it a command (kiln help lists them)");
    if (kiln_ctx_setup(ctx, err) < 0)
        return -1;
    if (kiln_paths_ensure_home(&ctx->paths, err) < 0)
        return -1;

    struct console *c = xcalloc(1, sizeof *c);
    ui_state_init(c, ctx);
    if (kiln_wake_init(&c->wake, err) < 0) {
        ui_state_free(c);
        free(c);
        return -1;
    }
    c->engine = kiln_engine_new(c->cfg->workers, (size_t)c->cfg->log_lines, err);
    if (c->engine == NULL || kiln_engine_set_notify(c->engine, engine_notify, &c->wake, err) < 0) {
        kiln_engine_free(c->engine);
        kiln_wake_close(&c->wake);
        ui_state_free(c);
        free(c);
        return -1;
    }
    /* Jobs started from the console run on its engine and return at once. */
    struct kiln_engine *old_engine = ctx->engine;
    bool old_detach = ctx->detach_jobs;
    ctx->engine = c->engine;
    ctx->detach_jobs = true;

    struct kiln_err e = {0};
    if (ui_keys_apply_config(c->cfg, &e) < 0)
        ui_log(c, KILN_LOG_ERROR, "keys", "%s", e.msg);
    kiln_err_clear(&e);
    const char *theme = ctx->opts.theme != NULL ? ctx->opts.theme : c->cfg->console.theme;
    if (ui_theme_load(&c->theme, theme, &e) < 0) {
        ui_log(c, KILN_LOG_ERROR, "theme", "%s", e.msg);
        ui_message(c, KILN_LOG_ERROR, "%s", e.msg);
    }

    /* curses writes to its own copy of the terminal; fds 1 and 2 go to the guard. */
    int dupfd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    c->tty = dupfd >= 0 ? fdopen(dupfd, "w") : NULL;
    tty_fd = dupfd;
    kiln_set_oom_hook(emergency_restore);
    atexit(emergency_restore);
    sig_wake = &c->wake;
    install_signals();
    int rc = c->tty != NULL ? ui_screen_start(c, c->tty, stdin, err) : -1;
    if (c->tty == NULL)
        kiln_err_sys(err, errno, "cannot open the terminal");
    if (rc == 0) {
        guard_start(c);
        ui_prompt_init(c);
        c->runner = ui_runner_start(c, &e);
        if (c->runner == NULL)
            ui_log(c, KILN_LOG_ERROR, "kiln", "%s", e.msg);
        c->feed = ui_feed_start(ctx, c->model, &c->wake, c->cfg->console.refresh_interval_ms,
                                c->cfg->console.whole_refresh_interval_ms, 1, EVENT_INBOX, &e);
        if (c->feed == NULL)
            ui_log(c, KILN_LOG_ERROR, "kiln", "%s", e.msg);
        else
            ui_feed_get_state(c->feed, &c->feed_state);
        ui_log(c, KILN_LOG_INFO, "kiln", "console started: ? shows the keys, : runs a command%s",
               c->read_only ? " (read-only)" : "");
        ui_sync_main(c);
        loop(c);
        ui_prompt_close(c);
        ui_prompt_save(c);
    }

    size_t running = ui_jobs_running(c);
    ui_screen_end(c);
    guard_stop(c);
    restore_signals();
    kiln_set_oom_hook(NULL);
    if (sig_quit)
        fprintf(stderr, "kiln: %s: the console stops\n", strsignal(sig_quit));
    if (running > 0)
        fprintf(stderr,
                "kiln: waiting for %zu job%s to stop at a step boundary (C-c stops waiting; "
                "kiln jobs shows where they stopped)...\n",
                running, running == 1 ? "" : "s");
    bool runner_done = ui_runner_stop(c->runner, FEED_STOP_MS);
    bool feed_done = ui_feed_stop(c->feed, FEED_STOP_MS);
    kiln_engine_free(c->engine);
    if (runner_done) {
        ui_runner_free(c->runner);
        c->runner = NULL;
    }
    ctx->engine = old_engine;
    ctx->detach_jobs = old_detach;
    if (c->tty != NULL)
        fclose(c->tty);
    tty_fd = -1;
    if (feed_done && runner_done) {
        /* A thread stuck in the provider still uses the model and the wake pipe:
         * they stay, the process is about to end anyway. */
        kiln_wake_close(&c->wake);
        ui_state_free(c);
        free(c);
    }
    sig_quit = 0;
    return rc;
}
