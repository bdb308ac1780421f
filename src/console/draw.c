/* kiln console: text and glyphs on the screen (see draw.h).
 *
 * Everything that reaches the screen goes through next_char(), which decodes
 * UTF-8 and turns what a terminal would act on (control characters, escapes, bad
 * bytes) into '?', so no name, log line or message can move the cursor or change
 * the terminal's state. */
#include "console/draw.h"

#include "kiln/xalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

static bool utf8_locale = true;
static bool ascii_glyphs;

struct glyph_pair {
    wchar_t wide;
    const char *utf8, *ascii;
};

static const struct glyph_pair glyphs[G_GLYPH_COUNT] = {
    [G_HLINE] = {L'\x2500', "\u2500", "-"},     [G_VLINE] = {L'\x2502', "\u2502", "|"},
    [G_TEE_DOWN] = {L'\x252c', "\u252c", "+"},  [G_TEE_UP] = {L'\x2534', "\u2534", "+"},
    [G_TEE_RIGHT] = {L'\x251c', "\u251c", "+"}, [G_TEE_LEFT] = {L'\x2524', "\u2524", "+"},
    [G_CROSS] = {L'\x253c', "\u253c", "+"},     [G_UL] = {L'\x250c', "\u250c", "+"},
    [G_UR] = {L'\x2510', "\u2510", "+"},        [G_LL] = {L'\x2514', "\u2514", "+"},
    [G_LR] = {L'\x2518', "\u2518", "+"},        [G_BULLET] = {L'\x25cf', "\u25cf", "*"},
    [G_CIRCLE] = {L'\x25cb', "\u25cb", "o"},    [G_ARROW] = {L'\x2192', "\u2192", ">"},
    [G_BAR_ON] = {L'\x2588', "\u2588", "#"},    [G_BAR_OFF] = {L'\x2591', "\u2591", "."},
    [G_DOWN] = {L'\x2193', "\u2193", "v"},      [G_ELLIPSIS] = {L'\x2026', "\u2026", "~"},
    [G_REJECTED] = {L'\x2717', "\u2717", "x"},
};

void ui_draw_init(bool utf8, bool ascii)
{
    utf8_locale = utf8;
    ascii_glyphs = ascii || !utf8;
}

bool ui_draw_ascii(void)
{
    return ascii_glyphs;
}

const char *ui_glyph(enum ui_glyph g)
{
    return ascii_glyphs ? glyphs[g].ascii : glyphs[g].utf8;
}

void ui_put_glyph(WINDOW *win, int y, int x, enum ui_glyph g, attr_t attr)
{
    if (ascii_glyphs) {
        mvwaddch(win, y, x, (chtype)(unsigned char)glyphs[g].ascii[0] | attr);
        return;
    }
    cchar_t cc;
    wchar_t wc[2] = {glyphs[g].wide, L'\0'};
    setcchar(&cc, wc, attr, (short)PAIR_NUMBER(attr), NULL);
    mvwadd_wch(win, y, x, &cc);
}

void ui_hline(WINDOW *win, int y, int x, int w, attr_t attr)
{
    for (int i = 0; i < w; i++)
        ui_put_glyph(win, y, x + i, G_HLINE, attr);
}

void ui_vline(WINDOW *win, int y, int x, int h, attr_t attr)
{
    for (int i = 0; i < h; i++)
        ui_put_glyph(win, y + i, x, G_VLINE, attr);
}

/* Decodes one character at *p (advancing it) into what is safe to show: *wc and its
 * width *cw (1 or 2; 0 for a character to drop). Bad UTF-8, control characters and
 * unprintable ones come out as '?'; a tab as a space. */
static void next_char(const char **p, wchar_t *wc, int *cw)
{
    const unsigned char *s = (const unsigned char *)*p;
    unsigned c = s[0];
    *cw = 1;
    if (c < 0x80) {
        *p += 1;
        if (c == '\t')
            *wc = L' ';
        else if (c < 0x20 || c == 0x7f)
            *wc = L'?';
        else
            *wc = (wchar_t)c;
        return;
    }
    int n = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (c >= 0xf5)
        n = 0;
    uint32_t cp = n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            n = 0;
            break;
        }
        cp = cp << 6 | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and out-of-range values are bad too. */
    if (n == 0 || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
        *p += 1;
        *wc = L'?';
        return;
    }
    *p += n;
    if (!utf8_locale) {
        *wc = L'?';
        return;
    }
    /* C1 controls, and the bidi and invisible formatting characters that would
     * make text read differently from what it is. */
    if ((cp >= 0x80 && cp < 0xa0) || (cp >= 0x202a && cp <= 0x202e) ||
        (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f || cp == 0x061c) {
        *wc = L'?';
        return;
    }
    int w = wcwidth((wchar_t)cp);
    if (w < 0) {
        *wc = L'?';
        return;
    }
    *wc = (wchar_t)cp;
    *cw = w > 2 ? 2 : w;
}

char *ui_clean(const char *s, size_t len, int *width, bool *wide)
{
    /* '?' for a bad byte is one byte, spaces for a tab at most 4: len * 4 is plenty. */
    char *out = xmalloc(len * 4 + 1);
    char *o = out;
    const char *p = s, *end = s + len;
    int col = 0;
    bool any_wide = false;
    while (p < end && *p != '\0') {
        if (*p == '\t') {
            int spaces = 4 - col % 4;
            memset(o, ' ', (size_t)spaces);
            o += spaces;
            col += spaces;
            p++;
            continue;
        }
        const char *start = p;
        wchar_t wc;
        int cw;
        next_char(&p, &wc, &cw);
        if (p > end)
            break; /* a character cut by len */
        if (cw == 0)
            continue;
        if (wc == L'?' && !(p - start == 1 && *start == '?')) {
            *o++ = '?';
        } else {
            memcpy(o, start, (size_t)(p - start));
            o += p - start;
        }
        col += cw;
        any_wide |= cw > 1;
    }
    *o = '\0';
    if (width != NULL)
        *width = col;
    if (wide != NULL)
        *wide = any_wide;
    return out;
}

int ui_width(const char *s)
{
    int w = 0;
    while (*s) {
        wchar_t wc;
        int cw;
        next_char(&s, &wc, &cw);
        w += cw;
    }
    return w;
}

int ui_text_rows(const char *s, int width, bool wide, int w)
{
    if (w <= 0)
        return 1;
    if (!wide)
        return width <= w ? 1 : (width + w - 1) / w;
    int rows = 1, col = 0;
    while (*s) {
        wchar_t wc;
        int cw;
        next_char(&s, &wc, &cw);
        if (cw == 0)
            continue;
        if (col + cw > w) {
            rows++;
            col = 0;
        }
        col += cw;
    }
    return rows;
}

/* A run of characters of one attribute, written with one curses call. */
struct run {
    WINDOW *win;
    int y, x;
    attr_t attr;
    int n;
    wchar_t buf[256];
};

static void run_flush(struct run *r)
{
    if (r->n == 0)
        return;
    wattrset(r->win, r->attr);
    mvwaddnwstr(r->win, r->y, r->x, r->buf, r->n);
    r->n = 0;
}

static void run_add(struct run *r, int y, int x, attr_t attr, wchar_t wc)
{
    if (r->n > 0 && (r->y != y || r->attr != attr || r->n == (int)(sizeof r->buf / sizeof *r->buf)))
        run_flush(r);
    if (r->n == 0) {
        r->y = y;
        r->x = x;
        r->attr = attr;
    }
    r->buf[r->n++] = wc;
}

int ui_text(WINDOW *win, int y, int x, int w, int rows, int skip_rows, int skip_cols, attr_t attr,
            const char *s, const struct ui_span *spans, size_t n_spans, bool pad)
{
    if (w <= 0 || rows <= 0)
        return 0;
    struct run r = {.win = win};
    int row = 0, col = 0; /* wrapped row of the text, column in it */
    int drawn = 0;        /* rows drawn */
    size_t si = 0;
    const char *p = s;
    bool wrap = rows > 1;
    int vcol = 0; /* virtual column, for horizontal scrolling */

    while (*p) {
        size_t off = (size_t)(p - s);
        while (si < n_spans && spans[si].to <= off)
            si++;
        attr_t a = si < n_spans && spans[si].from <= off ? spans[si].attr : attr;
        wchar_t wc;
        int cw;
        next_char(&p, &wc, &cw);
        if (cw == 0)
            continue;
        if (wrap) {
            if (col + cw > w) {
                if (row >= skip_rows && pad) {
                    run_flush(&r);
                    ui_fill(win, y + row - skip_rows, x + col, w - col, attr);
                }
                row++;
                col = 0;
            }
            if (row - skip_rows >= rows)
                break;
            if (row >= skip_rows) {
                run_add(&r, y + row - skip_rows, x + col, a, wc);
                drawn = row - skip_rows + 1;
            }
            col += cw;
        } else {
            if (vcol >= skip_cols + w)
                break;
            if (vcol >= skip_cols) {
                if (vcol + cw > skip_cols + w) {
                    run_add(&r, y, x + col, a, L' ');
                    col++;
                    break;
                }
                run_add(&r, y, x + col, a, wc);
                col += cw;
            } else if (vcol + cw > skip_cols) {
                /* a wide character cut by the left edge */
                run_add(&r, y, x + col, a, L' ');
                col++;
            }
            vcol += cw;
            drawn = 1;
        }
    }
    run_flush(&r);
    if (drawn == 0)
        drawn = 1; /* an empty text still takes its row */
    if (pad) {
        if (!wrap)
            ui_fill(win, y, x + col, w - col, attr);
        else if (row >= skip_rows && row - skip_rows < rows)
            ui_fill(win, y + row - skip_rows, x + col, w - col, attr);
    }
    return drawn;
}

int ui_puts(WINDOW *win, int y, int x, int w, attr_t attr, const char *s)
{
    if (w <= 0)
        return 0;
    struct run r = {.win = win};
    int col = 0;
    while (*s) {
        wchar_t wc;
        int cw;
        next_char(&s, &wc, &cw);
        if (cw == 0)
            continue;
        if (col + cw > w)
            break;
        run_add(&r, y, x + col, attr, wc);
        col += cw;
    }
    run_flush(&r);
    return col;
}

int ui_put(WINDOW *win, int y, int x, int w, attr_t attr, const char *s)
{
    int col = ui_puts(win, y, x, w, attr, s);
    ui_fill(win, y, x + col, w - col, attr);
    return col;
}

int ui_putf(WINDOW *win, int y, int x, int w, attr_t attr, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return ui_put(win, y, x, w, attr, buf);
}

void ui_fill(WINDOW *win, int y, int x, int w, attr_t attr)
{
    if (w <= 0)
        return;
    /* whline takes its attributes from the character, not from wattrset. */
    mvwhline(win, y, x, (chtype)' ' | attr, w);
}

void ui_cell(char *buf, size_t n, const char *s, int w)
{
    size_t o = 0;
    int col = 0;
    const char *p = s;
    while (*p && o + 8 < n) {
        const char *start = p;
        wchar_t wc;
        int cw;
        next_char(&p, &wc, &cw);
        if (col + cw > w)
            break;
        if (wc == L'?' && !(p - start == 1 && *start == '?'))
            buf[o++] = '?';
        else
            for (const char *q = start; q < p; q++)
                buf[o++] = *q;
        col += cw;
    }
    while (col < w && o + 1 < n) {
        buf[o++] = ' ';
        col++;
    }
    buf[o] = '\0';
}

int ui_text_words(WINDOW *win, int y, int x, int w, int rows, attr_t attr, const char *s)
{
    if (w <= 0 || rows <= 0)
        return 0;
    int row = 0;
    const char *p = s;
    while (*p != '\0' && row < rows) {
        /* Take words while they fit; a word longer than a row is cut. */
        const char *end = p, *fit = NULL;
        while (*end != '\0') {
            const char *word_end = end + strcspn(end, " ");
            char *piece = xstrndup(p, (size_t)(word_end - p));
            int pw = ui_width(piece);
            free(piece);
            if (pw > w)
                break;
            fit = word_end;
            end = word_end + strspn(word_end, " ");
        }
        size_t len = fit != NULL ? (size_t)(fit - p) : 0;
        char *line = len ? xstrndup(p, len) : NULL;
        if (line == NULL) {
            /* not even one word fits: cut it */
            line = xstrdup(p);
            if (win != NULL)
                ui_text(win, y + row, x, w, 1, 0, 0, attr, line, NULL, 0, false);
            free(line);
            /* skip the characters drawn */
            int col = 0;
            while (*p) {
                const char *q = p;
                wchar_t wc;
                int cw;
                next_char(&q, &wc, &cw);
                if (col + cw > w)
                    break;
                col += cw;
                p = q;
            }
        } else {
            if (win != NULL)
                ui_puts(win, y + row, x, w, attr, line);
            free(line);
            p = fit;
        }
        p += strspn(p, " ");
        row++;
    }
    return row > 0 ? row : 1;
}
