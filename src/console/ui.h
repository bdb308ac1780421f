/* kiln console: what the console's files share (private to src/console).
 *
 * One struct console holds the UI thread's state. Panes are vtables (tig's
 * view_ops): the generic list code in list.c moves, scrolls, filters and draws
 * rows, and each pane says how to build its rows from the snapshot and how to draw
 * one. Only the UI thread touches any of this, curses and readline. */
#ifndef KILN_CONSOLE_UI_H
#define KILN_CONSOLE_UI_H

#include "console/cursesw.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "console/draw.h"
#include "console/evlist.h"
#include "console/feed.h"
#include "console/keys.h"
#include "console/loglist.h"
#include "console/theme.h"
#include "kiln/command.h"
#include "kiln/context.h"
#include "kiln/job.h"
#include "kiln/model.h"
#include "kiln/wake.h"

/* Below this the console says so instead of drawing panes. */
#define UI_MIN_COLS 80
#define UI_MIN_ROWS 24
/* At most this many frames a second for changes that come from other threads. */
#define UI_FRAME_US (1000000 / 30)

enum ui_view { VIEW_MAIN, VIEW_JOBS, VIEW_EVENTS, VIEW_HELP };

enum ui_pane_id {
    PANE_APPS,
    PANE_GROUPS,
    PANE_INSTANCES,
    PANE_LOG,
    PANE_JOBS,
    PANE_EVENTS,
    PANE_HELP,
    PANE_COUNT,
};

struct ui_rect {
    int y, x, h, w;
};

struct console;
struct pane;

struct pane_ops {
    const char *name; /* "apps": the filter prompt says "filter apps" */
    /* The header's title: "Apps (12)". */
    void (*title)(struct console *c, struct pane *p, char *buf, size_t n);
    /* Rebuilds p->n_rows from the snapshot, the filter and the panes it depends on. */
    void (*sync)(struct console *c, struct pane *p);
    /* The identity of row i (a name or id), to keep the selection on the same thing
     * across snapshots, and for copying. */
    void (*row_key)(struct console *c, struct pane *p, size_t i, char *buf, size_t n);
    /* Column titles (may be NULL) and one row, both w columns wide. */
    void (*header)(struct console *c, struct pane *p, int y, int x, int w);
    void (*draw_row)(struct console *c, struct pane *p, size_t i, int y, int x, int w,
                     bool selected);
    /* What to show when there are no rows. */
    const char *(*empty)(struct console *c, struct pane *p);
    /* The pane's own keys (Enter...); returns true when it handled the action. */
    bool (*key)(struct console *c, struct pane *p, enum ui_action a);
    /* A pane that draws itself (log, help) instead of the generic list. */
    void (*draw)(struct console *c, struct pane *p, struct ui_rect r, bool focused);
};

struct pane {
    const struct pane_ops *ops;
    enum ui_pane_id id;
    struct ui_rect rect; /* where it was drawn last, for the mouse */
    int rows_y;          /* the screen row of its first list row */
    size_t n_rows;
    size_t sel, top; /* selected row, first row shown */
    int page;        /* rows shown, for page up/down */
    char filter[128];
    char sel_key[128]; /* the selected row's identity, kept across syncs */
    const void **rows; /* pane-specific pointers, n_rows of them */
    size_t cap;
};

/* A job the console has seen: where its log was read up to, what it last was. */
struct ui_jobtrack {
    uint64_t id;
    uint64_t next_seq;
    enum kiln_job_state state;
    bool announced; /* its end was reported */
};

struct ui_logview {
    uint64_t job; /* only this job's lines; 0 for all */
    bool follow;  /* keep the newest line in view */
    uint64_t cursor, top;
    uint64_t new_below; /* lines that came while not following */
    uint64_t first_drawn, last_drawn;
    int last_h;
    char search[128];
    bool wrap;
    int hscroll;
};

/* The one-line editor used for filters, the log search and typed confirmations
 * (the `:` line is readline's). */
enum ui_edit_mode { EDIT_NONE, EDIT_FILTER, EDIT_SEARCH, EDIT_DIALOG };

struct ui_edit {
    enum ui_edit_mode mode;
    char prompt[64];
    char buf[128];   /* as long as a filter or a search */
    char saved[128]; /* the filter before editing, for Esc */
};

struct ui_dialog;
struct ui_runner;

/* What changed since the last frame. */
enum {
    DIRTY_STATUS = 1 << 0, /* the status line alone (the clock) */
    DIRTY_ALL = 1 << 1,
    DIRTY_CLEAR = 1 << 2, /* repaint every cell (C-l, resize) */
};

struct console {
    struct kiln_ctx *ctx;
    const struct kiln_config *cfg;
    bool read_only;

    struct kiln_wake wake;
    struct kiln_model *model;
    struct kiln_engine *engine;
    struct ui_feed *feed;
    struct ui_feed_state feed_state;
    char feed_logged[256]; /* the provider error last written to the log */
    struct ui_runner *runner;

    const struct kiln_snapshot *snap; /* the one on screen, with a reference */

    struct kiln_job **jobs; /* from the last kiln_engine_list, oldest first */
    size_t n_jobs;
    struct ui_jobtrack *track;
    size_t n_track, cap_track;
    bool ingest_pending; /* a job had more lines than one pass takes */
    struct kiln_log_line *linebuf;

    struct ui_loglist log;
    struct ui_logview logv;
    struct ui_evlist events;

    struct pane panes[PANE_COUNT];
    enum ui_view view;
    enum ui_pane_id focus;      /* in the main view */
    enum ui_pane_id view_focus; /* in the jobs or events view: that list or the log */
    char **help_lines;          /* the Help view's text, made when it opens */
    size_t n_help;

    /* the screen */
    bool started; /* curses is on */
    SCREEN *screen;
    void *terminfo; /* newterm's terminal description (TERMINAL *), freed at the end */
    bool color;
    bool utf8;
    bool mouse;
    struct ui_theme theme;
    int rows, cols;
    bool too_small;
    int top_h; /* rows of the upper panes (titles included) */
    WINDOW *promptwin;
    unsigned dirty;
    int64_t last_frame_us;
    int64_t drawn_second; /* the clock's second on screen */
    int64_t now_us;       /* the frame's time, so every age in it agrees */

    /* the message line */
    char msg[512];
    enum kiln_log_level msg_level;

    /* modal parts */
    bool prompt_active;
    struct ui_edit edit;
    struct ui_dialog *dialog;
    char **matches; /* completions on show above the prompt */
    size_t n_matches;

    bool quit;

    /* stray output of libraries and children: fds 1 and 2 point at a file in the
     * state dir while curses owns the terminal, and new lines show in the log */
    FILE *tty;
    int saved_stdout, saved_stderr;
    int guard_fd;
    off_t guard_off;
};

/* ---- console.c ---- */
void ui_message(struct console *c, enum kiln_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A line in the log pane from the console itself (job 0). */
void ui_log(struct console *c, enum kiln_log_level level, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void ui_dirty(struct console *c);
void ui_set_view(struct console *c, enum ui_view v);
/* Quits, after asking when jobs are running. */
void ui_request_quit(struct console *c);
void ui_focus(struct console *c, enum ui_pane_id id);
struct pane *ui_focused_pane(struct console *c);
/* Sets up curses and the theme; ui_screen_end undoes it. Also used by the bench. */
int ui_screen_start(struct console *c, FILE *out, FILE *in, struct kiln_err *err);
void ui_screen_end(struct console *c);
/* The terminal's description newterm read (cur_term), and freeing it after delscreen. */
void *ui_terminfo_current(void);
void ui_terminfo_free(void *terminal);
void ui_layout(struct console *c);
/* Draws a whole frame (or the status line alone) and updates the terminal. */
void ui_render(struct console *c);
/* Takes the model's current snapshot if it is newer; true when it changed. */
bool ui_take_snapshot(struct console *c);
/* Sets up and frees the parts that do not need a terminal or threads. */
void ui_state_init(struct console *c, struct kiln_ctx *ctx);
void ui_state_free(struct console *c);

/* ---- list.c: the generic list pane ---- */
void ui_list_sync(struct console *c, struct pane *p);
void ui_list_move(struct pane *p, long delta);
void ui_list_select(struct pane *p, size_t row);
bool ui_list_key(struct console *c, struct pane *p, enum ui_action a);
void ui_list_draw(struct console *c, struct pane *p, struct ui_rect r, bool focused);
/* Adds one row to p (for sync functions). */
void ui_list_push(struct pane *p, const void *row);
/* Whether text matches the pane's filter (case-insensitive substring). */
bool ui_filter_match(const struct pane *p, const char *text);
bool ui_pane_focused(struct console *c, const struct pane *p);
/* The attribute of a row: `base`, or the selection's when selected. */
attr_t ui_row_attr(struct console *c, const struct pane *p, bool selected, attr_t base);
/* A header row "── Title ──" across w columns. */
void ui_draw_title(struct console *c, int y, int x, int w, const char *title, bool focused);

/* Column layouts: columns that do not fit are dropped, most droppable first, and
 * the flex column takes the room left. */
#define UI_COLS_MAX 8
struct ui_col {
    const char *title;
    int width; /* the flex column's minimum */
    int drop;  /* 0: always shown; else higher goes first */
    bool flex;
};
struct ui_cols {
    int n;
    bool shown[UI_COLS_MAX];
    int x[UI_COLS_MAX], w[UI_COLS_MAX];
};
void ui_cols_layout(const struct ui_col *cols, int n, int w, struct ui_cols *out);
void ui_cols_header(const struct ui_col *cols, int n, int y, int x, int w);
/* One row: texts[i] in column i with attrs[i] (0 or attrs NULL: base). */
void ui_cols_draw(const struct ui_cols *lo, int y, int x, int w, const char *const *texts,
                  const attr_t *attrs, attr_t base);
void ui_age(int64_t since_us, int64_t now_us, char *buf, size_t n);
/* What tells a group's build apart: "1.0.3-7" of "hello-world-1.0.3-7.x86_64" when the
 * package is the app's own; the whole NVR otherwise; "-" for none. */
void ui_package_release(const char *nvr, const char *app, char *buf, size_t n);

/* ---- panes.c: apps, groups, instances ---- */
extern const struct pane_ops ui_apps_ops, ui_groups_ops, ui_instances_ops;
/* What is selected in the main view (NULL when nothing is). */
const struct kiln_app *ui_selected_app(struct console *c);
const struct kiln_env *ui_selected_env(struct console *c);
const struct kiln_group *ui_selected_group(struct console *c);
const struct kiln_instance *ui_selected_instance(struct console *c);
/* Re-syncs the three main panes in order (each depends on the one before). */
void ui_sync_main(struct console *c);

/* ---- logpane.c ---- */
extern const struct pane_ops ui_log_ops;
/* Tells the log view that a line was added (it counts lines below when scrolled). */
void ui_logview_added(struct console *c, const struct ui_logline *line);
void ui_logview_show_job(struct console *c, uint64_t job);
void ui_logview_search(struct console *c, const char *pattern, bool older);

/* ---- jobs.c ---- */
extern const struct pane_ops ui_jobs_ops;
/* Lists the engine's jobs and takes in their new log lines and state changes. */
void ui_jobs_ingest(struct console *c);
size_t ui_jobs_running(struct console *c);
/* "█████░░░ 5/8" in about width columns. */
void ui_progress_bar(char *buf, size_t n, int done, int total, int width);
void ui_jobs_free(struct console *c);

/* ---- events.c ---- */
extern const struct pane_ops ui_events_ops;
/* Takes the feed's new events in. */
void ui_events_ingest(struct console *c);

/* ---- help.c ---- */
extern const struct pane_ops ui_help_ops;
void ui_help_build(struct console *c);
void ui_help_free(struct console *c);

/* ---- status.c ---- */
void ui_draw_status(struct console *c, int y);
void ui_draw_message(struct console *c, int y);

/* ---- edit.c: the one-line editor ---- */
/* Edits a NUL-terminated field of cap bytes with key ch (Backspace, C-u, C-w,
 * printable bytes). */
enum { FIELD_IGNORED, FIELD_CHANGED };
int ui_field_key(char *buf, size_t cap, int ch);
void ui_edit_open(struct console *c, enum ui_edit_mode mode, const char *prompt,
                  const char *initial);
/* Feeds a key to the editor; true when it took it. */
bool ui_edit_key(struct console *c, int ch);
void ui_edit_draw(struct console *c, int y);

/* ---- prompt.c: the `:` line (readline) ---- */
void ui_prompt_init(struct console *c);
void ui_prompt_open(struct console *c, const char *initial);
void ui_prompt_key(struct console *c, int byte);
void ui_prompt_draw(struct console *c);
void ui_prompt_resize(struct console *c);
void ui_prompt_close(struct console *c);
void ui_prompt_save(struct console *c);
void ui_matches_clear(struct console *c);
/* complete.c: readline's attempted completion for the `:` line. */
char **ui_complete(struct console *c, const char *text, int start, int end);

/* ---- exec.c: running command lines ---- */
/* Runs a `:` line or an action's command line: console commands at once, table
 * commands on the runner thread, after a confirmation when they change things. */
void ui_run_line(struct console *c, const char *line);
/* The same, confirmed already. */
void ui_run_confirmed(struct console *c, const char *line);
/* Takes in the finished commands' output. */
void ui_runner_ingest(struct console *c);
struct ui_runner *ui_runner_start(struct console *c, struct kiln_err *err);
/* Stops the thread, waiting up to wait_ms for a command under way; false when it
 * did not stop (then the runner must not be freed). */
bool ui_runner_stop(struct ui_runner *r, int64_t wait_ms);
/* Frees it, with the contexts of the commands that started jobs: only after the
 * engine has stopped those jobs. */
void ui_runner_free(struct ui_runner *r);
bool ui_runner_busy(struct ui_runner *r, char *what, size_t n);

/* ---- actions.c: what the keys of the "Changing things" group do ---- */
void ui_action_change(struct console *c, enum ui_action a);
void ui_copy(struct console *c, const char *text);

/* ---- dialog.c ---- */
/* What happens when a dialog is accepted. */
enum ui_after { AFTER_RUN, AFTER_QUIT, AFTER_CANCEL_JOB };
/* A yes/no question; danger draws it in dialog.danger. `typed`: instead of y, the
 * user types that word (a protected env's name). */
void ui_confirm(struct console *c, const char *title, const char *const *lines, size_t n_lines,
                bool danger, const char *typed, enum ui_after after, const char *line,
                uint64_t job);
void ui_deploy_dialog(struct console *c, const struct kiln_env *env);
bool ui_dialog_key(struct console *c, int ch);
void ui_dialog_draw(struct console *c);
void ui_dialog_close(struct console *c);

#endif
