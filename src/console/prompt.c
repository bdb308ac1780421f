/* kiln console: the `:` line, GNU readline inside curses (doc/design.md, "House style":
 * readline inside curses).
 *
 * Readline runs through its callback interface on the UI thread only: the main
 * loop reads a byte with wgetch (from a window without keypad, so escape
 * sequences reach readline as bytes, which inputrc bindings expect) and hands it
 * over with rl_callback_read_char; readline draws through rl_redisplay_function,
 * which only asks for a frame, and the frame draws rl_line_buffer into the prompt
 * window. Readline never touches the terminal itself: no signal handlers, no
 * terminal modes, output to /dev/null. */
#include "console/ui.h"

#include "kiln/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <readline/history.h>
#include <readline/readline.h>

/* History lines kept in the state dir. */
#define HISTORY_MAX 1000

/* Readline's hooks take no context: the console they serve. */
static struct console *pc;
static int stash = -1; /* the byte being handed to readline */
static FILE *rl_null;
static bool history_loaded;

static int prompt_getc(FILE *f)
{
    (void)f;
    if (stash >= 0) {
        int b = stash;
        stash = -1;
        return b;
    }
    /* Readline wants the rest of a multibyte character or key sequence now: its
     * bytes arrive together, so a short wait finds them. */
    wtimeout(pc->promptwin, 50);
    int ch = wgetch(pc->promptwin);
    nodelay(pc->promptwin, TRUE);
    return ch == ERR ? 7 /* C-g: readline drops the half sequence */ : ch;
}

static int prompt_input_available(void)
{
    if (stash >= 0)
        return 1;
    int ch = wgetch(pc->promptwin);
    if (ch == ERR)
        return 0;
    ungetch(ch);
    return 1;
}

static void prompt_redisplay(void)
{
    ui_dirty(pc);
}

static void prep_term(int meta)
{
    (void)meta;
}

static void deprep_term(void)
{
}

static void show_matches(char **matches, int num, int max)
{
    (void)max;
    ui_matches_clear(pc);
    /* matches[0] is the common prefix; the candidates follow. */
    size_t n = (size_t)num;
    pc->matches = xcalloc(n + 1, sizeof *pc->matches);
    for (size_t i = 0; i < n; i++)
        pc->matches[i] = xstrdup(matches[i + 1]);
    pc->n_matches = n;
    ui_dirty(pc);
}

static char **attempted_completion(const char *text, int start, int end)
{
    rl_attempted_completion_over = 1; /* no file names unless asked for */
    return ui_complete(pc, text, start, end);
}

void ui_matches_clear(struct console *c)
{
    for (size_t i = 0; i < c->n_matches; i++)
        free(c->matches[i]);
    free(c->matches);
    c->matches = NULL;
    c->n_matches = 0;
}

void ui_prompt_init(struct console *c)
{
    pc = c;
    rl_readline_name = "kiln";
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_change_environment = 0;
    rl_prep_term_function = prep_term;
    rl_deprep_term_function = deprep_term;
    rl_getc_function = prompt_getc;
    rl_input_available_hook = prompt_input_available;
    rl_redisplay_function = prompt_redisplay;
    rl_null = fopen("/dev/null", "w");
    rl_outstream = rl_null;
    rl_completion_display_matches_hook = show_matches;
    rl_completion_query_items = -1;
    rl_attempted_completion_function = attempted_completion;
    rl_completer_quote_characters = "'\"";
    rl_basic_word_break_characters = " \t=";
    rl_completer_word_break_characters = (char *)" \t=";
    rl_set_screen_size(c->rows > 0 ? c->rows : 24, c->cols > 0 ? c->cols : 80);

    using_history();
    stifle_history(HISTORY_MAX);
    if (c->ctx->paths.console_history != NULL) {
        int e = read_history(c->ctx->paths.console_history);
        history_loaded = e == 0 || e == ENOENT;
        if (!history_loaded)
            ui_log(c, KILN_LOG_WARN, "kiln", "cannot read the : line history %s: %s",
                   c->ctx->paths.console_history, strerror(e));
    }
}

void ui_prompt_save(struct console *c)
{
    if (c->ctx->paths.console_history == NULL || !history_loaded)
        return;
    int e = write_history(c->ctx->paths.console_history);
    if (e != 0)
        ui_log(c, KILN_LOG_WARN, "kiln", "cannot save the : line history to %s: %s",
               c->ctx->paths.console_history, strerror(e));
}

static void on_line(char *line)
{
    struct console *c = pc;
    if (line == NULL) { /* C-d on an empty line */
        ui_prompt_close(c);
        return;
    }
    char *copy = xstrdup(line);
    free(line);
    if (copy[0] != '\0') {
        /* Not twice in a row, as bash's ignoredups. */
        HIST_ENTRY *last =
            history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
        if (last == NULL || strcmp(last->line, copy) != 0)
            add_history(copy);
        ui_prompt_save(c);
    }
    ui_prompt_close(c);
    ui_run_line(c, copy);
    free(copy);
}

void ui_prompt_open(struct console *c, const char *initial)
{
    if (c->prompt_active)
        return;
    c->prompt_active = true;
    c->msg[0] = '\0';
    rl_callback_handler_install(":", on_line);
    if (initial != NULL && initial[0] != '\0')
        rl_insert_text(initial);
    curs_set(1);
    ui_dirty(c);
}

void ui_prompt_close(struct console *c)
{
    if (!c->prompt_active)
        return;
    rl_callback_sigcleanup();
    rl_replace_line("", 0);
    rl_point = rl_end = 0;
    rl_callback_handler_remove();
    c->prompt_active = false;
    ui_matches_clear(c);
    curs_set(0);
    ui_dirty(c);
}

void ui_prompt_key(struct console *c, int byte)
{
    /* In emacs mode Esc alone (no sequence after it) and C-c leave the line; vi
     * mode needs Esc itself. */
    if (byte == 3) {
        ui_prompt_close(c);
        return;
    }
    if (byte == 27 && rl_editing_mode == 1) {
        wtimeout(c->promptwin, 30);
        int next = wgetch(c->promptwin);
        nodelay(c->promptwin, TRUE);
        if (next == ERR) {
            ui_prompt_close(c);
            return;
        }
        ungetch(next);
    }
    if (c->n_matches > 0 && byte != '\t')
        ui_matches_clear(c);
    stash = byte & 0xff;
    rl_callback_read_char();
    stash = -1;
}

void ui_prompt_draw(struct console *c)
{
    if (!c->prompt_active)
        return;
    WINDOW *w = c->promptwin;
    const char *prompt = rl_display_prompt ? rl_display_prompt : ":";
    const char *line = rl_line_buffer ? rl_line_buffer : "";
    int pw = ui_width(prompt);
    /* The cursor's column: the width of the text before rl_point. */
    char *before = xstrndup(line, (size_t)(rl_point >= 0 ? rl_point : 0));
    int cur = pw + ui_width(before);
    free(before);
    int cols = c->cols;
    int off = cur >= cols - 1 ? cur - (cols - 1) + cols / 4 : 0;

    werase(w);
    wbkgdset(w, (chtype)' ' | ui_colors[ROLE_PROMPT]);
    /* Prompt and line as one text, scrolled so the cursor stays in view. */
    size_t n = strlen(prompt) + strlen(line) + 1;
    char *all = xmalloc(n);
    snprintf(all, n, "%s%s", prompt, line);
    ui_text(w, 0, 0, cols, 1, 0, off, ui_colors[ROLE_PROMPT], all, NULL, 0, true);
    free(all);
    wmove(w, 0, cur - off < cols ? cur - off : cols - 1);
    touchwin(w);
    wnoutrefresh(w);
}

void ui_prompt_resize(struct console *c)
{
    if (c->promptwin == NULL)
        return;
    wresize(c->promptwin, 1, c->cols);
    mvwin(c->promptwin, c->rows - 1, 0);
    rl_set_screen_size(c->rows, c->cols);
}
