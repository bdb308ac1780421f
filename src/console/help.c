/* kiln console: the Help view, generated from the action table with the keys bound
 * now, and from the command table, so it cannot drift from what the keys and the
 * `:` line do. In read-only mode what changes things is left out. */
#include "console/ui.h"

#include "kiln/strbuf.h"
#include "kiln/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The console's own `:` commands (exec.c runs them). */
static const struct {
    const char *usage;
    const char *help;
} console_cmds[] = {
    {"theme NAME", "switch the colour theme: default, light, high-contrast, mono or a file"},
    {"view main|jobs|events|help", "switch views (also J, v, ?, Esc)"},
    {"jobs", "the Jobs view"},
    {"events", "the Events view"},
    {"log [JOB|all]", "show one job's log lines in the log pane, or every job's"},
    {"filter TEXT", "filter the focused list (as /)"},
    {"help [COMMAND]", "this help, or a command's usage and options in the log"},
    {"quit", "quit the console (also q)"},
};

static void add(struct console *c, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add(struct console *c, size_t *cap, const char *fmt, ...)
{
    if (c->n_help == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        c->help_lines = xrealloc(c->help_lines, *cap * sizeof *c->help_lines);
    }
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    kiln_strbuf_vappendf(&sb, fmt, ap);
    va_end(ap);
    c->help_lines[c->n_help++] = kiln_strbuf_detach(&sb, NULL);
}

void ui_help_free(struct console *c)
{
    for (size_t i = 0; i < c->n_help; i++)
        free(c->help_lines[i]);
    free(c->help_lines);
    c->help_lines = NULL;
    c->n_help = 0;
}

void ui_help_build(struct console *c)
{
    size_t cap = 0;
    ui_help_free(c);
    add(c, &cap, "# kiln console %s j/k scroll, / finds, Esc or q closes this help",
        ui_glyph(G_HLINE));
    if (c->read_only)
        add(c, &cap,
            "  READ-ONLY: kiln runs with --read-only (or read_only in the config), so "
            "the keys and commands that change things are left out.");
    add(c, &cap,
        "  Keys are rebound in the config's [keys] section: action = key (e.g. "
        "quit = C-c).");
    for (int g = 0; g < UI_GROUP_COUNT; g++) {
        if (g == UI_GROUP_CHANGE && c->read_only)
            continue;
        add(c, &cap, "%s", "");
        add(c, &cap, "# %s", ui_action_group_title((enum ui_action_group)g));
        for (int a = 1; a < UI_ACTION_COUNT; a++) {
            if ((int)ui_action_group((enum ui_action)a) != g)
                continue;
            char keys[64];
            ui_keys_describe((enum ui_action)a, keys, sizeof keys);
            add(c, &cap, "  %-14s %-13s %s", keys[0] ? keys : "(unbound)",
                ui_action_name((enum ui_action)a), ui_action_help((enum ui_action)a));
        }
    }
    add(c, &cap, "%s", "");
    add(c, &cap, "# Commands of the : line (as on the shell: kiln COMMAND; Tab completes)");
    for (int i = 0; kiln_commands[i] != NULL; i++) {
        const struct kiln_cmd *cmd = kiln_commands[i];
        if ((c->read_only && cmd->mutating) || cmd->hidden)
            continue;
        char left[160];
        snprintf(left, sizeof left, "%s%s%s", cmd->name, cmd->usage[0] ? " " : "", cmd->usage);
        /* A long usage gets a line of its own, so the summary stays in view. */
        if (strlen(left) > 30) {
            add(c, &cap, "  %s", left);
            add(c, &cap, "  %-30s %s", "", cmd->summary);
        } else {
            add(c, &cap, "  %-30s %s", left, cmd->summary);
        }
    }
    add(c, &cap, "%s", "");
    add(c, &cap, "# The console's own : commands");
    for (size_t i = 0; i < sizeof console_cmds / sizeof console_cmds[0]; i++)
        add(c, &cap, "  %-30s %s", console_cmds[i].usage, console_cmds[i].help);
    add(c, &cap, "%s", "");
    add(c, &cap, "# Screen");
    add(c, &cap,
        "  Apps | Server groups | Instances: %s enabled group or healthy instance, %s "
        "disabled, %s rejected (rolled back from); UP is in-service/desired.",
        ui_glyph(G_BULLET), ui_glyph(G_CIRCLE), ui_glyph(G_REJECTED));
    add(c, &cap, "  Changes to a protected env (%s) ask you to type its name.",
        c->cfg->n_protected_envs ? c->cfg->protected_envs[0] : "none configured");
    add(c, &cap, "  Theme: %s%s. Mouse: %s.", c->theme.name, c->color ? "" : " (no colour)",
        c->mouse ? "on" : "off ([console] mouse = yes)");
}

static void help_sync(struct console *c, struct pane *p)
{
    for (size_t i = 0; i < c->n_help; i++)
        if (c->help_lines[i][0] == '#' || ui_filter_match(p, c->help_lines[i]))
            ui_list_push(p, c->help_lines[i]);
}

static void help_title(struct console *c, struct pane *p, char *buf, size_t n)
{
    snprintf(buf, n, "Help");
}

static void help_draw_row(struct console *c, struct pane *p, size_t i, int y, int x, int w,
                          bool selected)
{
    const char *line = p->rows[i];
    selected = false; /* a pager has no cursor */
    if (line[0] == '#')
        ui_put(stdscr, y, x, w, ui_row_attr(c, p, selected, ui_colors[ROLE_TITLE]), line + 2);
    else
        ui_put(stdscr, y, x, w, ui_row_attr(c, p, selected, ui_colors[ROLE_NORMAL]), line);
}

static void help_row_key(struct console *c, struct pane *p, size_t i, char *buf, size_t n)
{
    snprintf(buf, n, "%s", (const char *)p->rows[i]);
}

static bool help_key(struct console *c, struct pane *p, enum ui_action a)
{
    if (a == ACT_QUIT || a == ACT_VIEW_HELP) {
        ui_set_view(c, VIEW_MAIN);
        return true;
    }
    /* A pager, not a list: moving scrolls at once, from the edge of the page. */
    size_t bottom = p->top + (size_t)(p->page > 0 ? p->page - 1 : 0);
    if (a == ACT_MOVE_DOWN || a == ACT_PAGE_DOWN)
        p->sel = bottom < p->n_rows ? bottom : p->n_rows ? p->n_rows - 1 : 0;
    else if (a == ACT_MOVE_UP || a == ACT_PAGE_UP)
        p->sel = p->top;
    return false; /* the list moves on from there */
}

const struct pane_ops ui_help_ops = {
    .name = "help",
    .title = help_title,
    .sync = help_sync,
    .row_key = help_row_key,
    .draw_row = help_draw_row,
    .key = help_key,
};
