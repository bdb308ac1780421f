/* kiln console: the one-line editor of filters and the log search (the `:` line is
 * readline's; dialogs use ui_field_key for their fields). */
#include "console/ui.h"

#include <stdio.h>
#include <string.h>

int ui_field_key(char *buf, size_t cap, int ch)
{
    size_t len = strlen(buf);
    if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
        /* Back over one whole UTF-8 character. */
        while (len > 0 && ((unsigned char)buf[len - 1] & 0xc0) == 0x80)
            len--;
        if (len > 0)
            len--;
        buf[len] = '\0';
        return FIELD_CHANGED;
    }
    if (ch == 21) { /* C-u */
        buf[0] = '\0';
        return FIELD_CHANGED;
    }
    if (ch == 23) { /* C-w: the last word */
        while (len > 0 && buf[len - 1] == ' ')
            len--;
        while (len > 0 && buf[len - 1] != ' ')
            len--;
        buf[len] = '\0';
        return FIELD_CHANGED;
    }
    if (ch >= 32 && ch < 256 && ch != 127) {
        if (len + 1 < cap) {
            buf[len] = (char)ch;
            buf[len + 1] = '\0';
        }
        return FIELD_CHANGED;
    }
    return FIELD_IGNORED;
}

void ui_edit_open(struct console *c, enum ui_edit_mode mode, const char *prompt,
                  const char *initial)
{
    struct ui_edit *e = &c->edit;
    e->mode = mode;
    snprintf(e->prompt, sizeof e->prompt, "%s", prompt);
    snprintf(e->buf, sizeof e->buf, "%s", initial ? initial : "");
    snprintf(e->saved, sizeof e->saved, "%s", initial ? initial : "");
    curs_set(1);
    ui_dirty(c);
}

static void edit_close(struct console *c)
{
    c->edit.mode = EDIT_NONE;
    curs_set(0);
    ui_dirty(c);
}

static void apply_filter(struct console *c, const char *text)
{
    struct pane *p = ui_focused_pane(c);
    snprintf(p->filter, sizeof p->filter, "%s", text);
    if (p->id <= PANE_INSTANCES)
        ui_sync_main(c);
    else
        ui_list_sync(c, p);
}

bool ui_edit_key(struct console *c, int ch)
{
    struct ui_edit *e = &c->edit;
    if (e->mode == EDIT_NONE)
        return false;
    if (ch == 27 || ch == 7 || ch == 3) { /* Esc, C-g, C-c */
        if (e->mode == EDIT_FILTER)
            apply_filter(c, e->saved);
        edit_close(c);
        return true;
    }
    if (ch == '\r' || ch == '\n' || ch == KEY_ENTER) {
        enum ui_edit_mode mode = e->mode;
        edit_close(c);
        if (mode == EDIT_SEARCH)
            ui_logview_search(c, e->buf, true);
        else if (mode == EDIT_FILTER && e->buf[0] != '\0')
            ui_message(c, KILN_LOG_INFO, "filtered by '%s' (Esc in the list clears it)", e->buf);
        return true;
    }
    if (ui_field_key(e->buf, sizeof e->buf, ch) == FIELD_CHANGED) {
        if (e->mode == EDIT_FILTER)
            apply_filter(c, e->buf);
        ui_dirty(c);
    }
    return true;
}

void ui_edit_draw(struct console *c, int y)
{
    struct ui_edit *e = &c->edit;
    int x = ui_puts(stdscr, y, 0, c->cols, ui_colors[ROLE_PROMPT] | A_BOLD, e->prompt);
    /* Show the end of a value longer than the line. */
    const char *text = e->buf;
    int room = c->cols - x - 1;
    while (ui_width(text) > room && *text) {
        text++;
        while (((unsigned char)*text & 0xc0) == 0x80) /* a whole character at a time */
            text++;
    }
    int tw = ui_put(stdscr, y, x, c->cols - x, ui_colors[ROLE_PROMPT], text);
    move(y, x + tw);
}
