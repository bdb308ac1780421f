/* kiln console: the generic list pane: moving, scrolling, filtering, drawing rows,
 * and keeping the selection on the same item across snapshots (see ui.h). */
#include "console/ui.h"

#include "kiln/xalloc.h"

#include <stdio.h>
#include <string.h>

void ui_list_push(struct pane *p, const void *row)
{
    if (p->n_rows == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->rows = xrealloc(p->rows, p->cap * sizeof *p->rows);
    }
    p->rows[p->n_rows++] = row;
}

bool ui_filter_match(const struct pane *p, const char *text)
{
    return p->filter[0] == '\0' || strcasestr(text, p->filter) != NULL;
}

static void keep_visible(struct pane *p)
{
    if (p->n_rows == 0) {
        p->sel = p->top = 0;
        return;
    }
    if (p->sel >= p->n_rows)
        p->sel = p->n_rows - 1;
    int page = p->page > 0 ? p->page : 1;
    if (p->sel < p->top)
        p->top = p->sel;
    if (p->sel >= p->top + (size_t)page)
        p->top = p->sel - (size_t)page + 1;
    /* No empty space below the last row when the list could fill the pane. */
    if (p->n_rows >= (size_t)page && p->top + (size_t)page > p->n_rows)
        p->top = p->n_rows - (size_t)page;
    if (p->n_rows < (size_t)page)
        p->top = 0;
}

static void remember(struct console *c, struct pane *p)
{
    if (p->n_rows > 0 && p->ops->row_key != NULL)
        p->ops->row_key(c, p, p->sel, p->sel_key, sizeof p->sel_key);
    else
        p->sel_key[0] = '\0';
}

void ui_list_sync(struct console *c, struct pane *p)
{
    size_t old_sel = p->sel;
    p->n_rows = 0;
    if (p->ops->sync != NULL)
        p->ops->sync(c, p);
    /* Find the remembered item again; failing that, stay at the same place. */
    bool found = false;
    if (p->sel_key[0] != '\0' && p->ops->row_key != NULL) {
        char key[sizeof p->sel_key];
        /* Look near the old place first: lists mostly change little. */
        if (old_sel < p->n_rows) {
            p->ops->row_key(c, p, old_sel, key, sizeof key);
            found = strcmp(key, p->sel_key) == 0;
        }
        for (size_t i = 0; !found && i < p->n_rows; i++) {
            p->ops->row_key(c, p, i, key, sizeof key);
            if (strcmp(key, p->sel_key) == 0) {
                p->sel = i;
                found = true;
            }
        }
    }
    if (!found)
        p->sel = old_sel;
    keep_visible(p);
    remember(c, p);
}

void ui_list_move(struct pane *p, long delta)
{
    if (p->n_rows == 0)
        return;
    long s = (long)p->sel + delta;
    if (s < 0)
        s = 0;
    if (s >= (long)p->n_rows)
        s = (long)p->n_rows - 1;
    p->sel = (size_t)s;
    keep_visible(p);
}

void ui_list_select(struct pane *p, size_t row)
{
    if (row < p->n_rows) {
        p->sel = row;
        keep_visible(p);
    }
}

bool ui_list_key(struct console *c, struct pane *p, enum ui_action a)
{
    int page = p->page > 1 ? p->page - 1 : 1;
    size_t before = p->sel;
    switch (a) {
    case ACT_MOVE_DOWN:
        ui_list_move(p, 1);
        break;
    case ACT_MOVE_UP:
        ui_list_move(p, -1);
        break;
    case ACT_PAGE_DOWN:
        ui_list_move(p, page);
        break;
    case ACT_PAGE_UP:
        ui_list_move(p, -page);
        break;
    case ACT_FIRST:
        ui_list_move(p, -(long)p->n_rows);
        break;
    case ACT_LAST:
        ui_list_move(p, (long)p->n_rows);
        break;
    default:
        return false;
    }
    remember(c, p);
    if (p->sel != before && p->id <= PANE_INSTANCES)
        ui_sync_main(c); /* the panes to the right follow the selection */
    return true;
}

bool ui_pane_focused(struct console *c, const struct pane *p)
{
    if (c->view == VIEW_MAIN)
        return c->focus == p->id;
    return c->view_focus == p->id;
}

attr_t ui_row_attr(struct console *c, const struct pane *p, bool selected, attr_t base)
{
    if (!selected)
        return base;
    /* The selection shows in every pane; the focused pane's is the bright one. */
    return ui_pane_focused(c, p) ? ui_colors[ROLE_SELECTION] : base | A_BOLD | A_UNDERLINE;
}

void ui_draw_title(struct console *c, int y, int x, int w, const char *title, bool focused)
{
    attr_t line = focused ? ui_colors[ROLE_BORDER_FOCUS] : ui_colors[ROLE_BORDER];
    attr_t text = focused ? ui_colors[ROLE_BORDER_FOCUS] : ui_colors[ROLE_TITLE];
    ui_hline(stdscr, y, x, w, line);
    if (w < 6)
        return;
    char buf[256];
    snprintf(buf, sizeof buf, " %s ", title);
    ui_puts(stdscr, y, x + 1, w - 2, text, buf);
}

void ui_cols_layout(const struct ui_col *cols, int n, int w, struct ui_cols *out)
{
    memset(out, 0, sizeof *out);
    out->n = n > UI_COLS_MAX ? UI_COLS_MAX : n;
    int total = -1, flex = -1;
    for (int i = 0; i < out->n; i++) {
        out->shown[i] = true;
        total += cols[i].width + 1;
        if (cols[i].flex && flex < 0)
            flex = i;
    }
    /* Drop the most droppable column until the rest fit. */
    while (total > w) {
        int worst = -1;
        for (int i = 0; i < out->n; i++)
            if (out->shown[i] && cols[i].drop > 0 && (worst < 0 || cols[i].drop > cols[worst].drop))
                worst = i;
        if (worst < 0)
            break;
        out->shown[worst] = false;
        total -= cols[worst].width + 1;
    }
    int x = 0;
    for (int i = 0; i < out->n; i++) {
        if (!out->shown[i])
            continue;
        out->x[i] = x;
        out->w[i] = cols[i].width + (i == flex && total < w ? w - total : 0);
        if (x + out->w[i] > w)
            out->w[i] = w - x > 0 ? w - x : 0;
        x += out->w[i] + 1;
    }
}

void ui_cols_draw(const struct ui_cols *lo, int y, int x, int w, const char *const *texts,
                  const attr_t *attrs, attr_t base)
{
    ui_fill(stdscr, y, x, w, base);
    for (int i = 0; i < lo->n; i++) {
        if (!lo->shown[i] || lo->w[i] <= 0 || texts[i] == NULL)
            continue;
        ui_puts(stdscr, y, x + lo->x[i], lo->w[i], attrs != NULL && attrs[i] ? attrs[i] : base,
                texts[i]);
    }
}

void ui_cols_header(const struct ui_col *cols, int n, int y, int x, int w)
{
    struct ui_cols lo;
    const char *titles[UI_COLS_MAX];
    ui_cols_layout(cols, n, w, &lo);
    for (int i = 0; i < lo.n; i++)
        titles[i] = cols[i].title;
    ui_cols_draw(&lo, y, x, w, titles, NULL, ui_colors[ROLE_TITLE]);
}

/* "45s", "12m", "3h", "2d": ages fit in four columns. */
void ui_package_release(const char *nvr, const char *app, char *buf, size_t n)
{
    size_t alen = strlen(app);
    if (nvr == NULL || nvr[0] == '\0') {
        snprintf(buf, n, "-");
        return;
    }
    if (strncmp(nvr, app, alen) != 0 || nvr[alen] != '-' || nvr[alen + 1] == '\0') {
        snprintf(buf, n, "%s", nvr); /* another package's name: all of it */
        return;
    }
    const char *vr = nvr + alen + 1;
    const char *dash = strrchr(vr, '-');
    const char *dot = dash ? strrchr(dash, '.') : NULL;
    snprintf(buf, n, "%.*s", (int)(dot ? (size_t)(dot - vr) : strlen(vr)), vr);
}

void ui_age(int64_t since_us, int64_t now_us, char *buf, size_t n)
{
    if (since_us <= 0) {
        snprintf(buf, n, "-");
        return;
    }
    int64_t s = (now_us - since_us) / 1000000;
    if (s < 0)
        s = 0;
    if (s < 60)
        snprintf(buf, n, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(buf, n, "%lldm", (long long)(s / 60));
    else if (s < 86400)
        snprintf(buf, n, "%lldh", (long long)(s / 3600));
    else
        snprintf(buf, n, "%lldd", (long long)(s / 86400));
}

void ui_list_draw(struct console *c, struct pane *p, struct ui_rect r, bool focused)
{
    p->rect = r;
    char title[256];
    p->ops->title(c, p, title, sizeof title);
    if (p->filter[0] != '\0') {
        size_t l = strlen(title);
        snprintf(title + l, sizeof title - l, " /%s", p->filter);
    }
    ui_draw_title(c, r.y, r.x, r.w, title, focused);
    int y = r.y + 1, h = r.h - 1;
    if (p->ops->header != NULL && h > 1) {
        p->ops->header(c, p, y, r.x, r.w);
        y++;
        h--;
    }
    p->page = h;
    p->rows_y = y;
    keep_visible(p);
    if (p->n_rows == 0) {
        const char *e = p->ops->empty ? p->ops->empty(c, p) : "";
        for (int i = 0; i < h; i++)
            ui_fill(stdscr, y + i, r.x, r.w, ui_colors[ROLE_NORMAL]);
        if (h > 0)
            ui_text_words(stdscr, y, r.x + 1, r.w - 2, h, ui_colors[ROLE_HEALTH_UNKNOWN], e);
        return;
    }
    for (int i = 0; i < h; i++) {
        size_t row = p->top + (size_t)i;
        if (row >= p->n_rows) {
            ui_fill(stdscr, y + i, r.x, r.w, ui_colors[ROLE_NORMAL]);
            continue;
        }
        p->ops->draw_row(c, p, row, y + i, r.x, r.w, row == p->sel);
    }
}
