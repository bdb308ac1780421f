/* kiln console: putting text on the screen: UTF-8 to cells with the right widths,
 * control characters made harmless, clipping, wrapping, and the line-drawing
 * glyphs with their ASCII fallback. */
#ifndef KILN_CONSOLE_DRAW_H
#define KILN_CONSOLE_DRAW_H

#include "console/cursesw.h"

#include <stdbool.h>
#include <stddef.h>

enum ui_glyph {
    G_HLINE,
    G_VLINE,
    G_TEE_DOWN,  /* ┬ */
    G_TEE_UP,    /* ┴ */
    G_TEE_RIGHT, /* ├ */
    G_TEE_LEFT,  /* ┤ */
    G_CROSS,     /* ┼ */
    G_UL,
    G_UR,
    G_LL,
    G_LR,
    G_BULLET,   /* ● enabled, healthy */
    G_CIRCLE,   /* ○ disabled */
    G_REJECTED, /* ✗ disabled, rolled back from */
    G_ARROW,    /* → */
    G_BAR_ON,   /* █ */
    G_BAR_OFF,  /* ░ */
    G_DOWN,     /* ↓ new lines below */
    G_ELLIPSIS,
    G_GLYPH_COUNT,
};

/* Set once at start: whether the locale is UTF-8, and whether to draw ASCII
 * anyway (the config's ascii, or a non-UTF-8 locale). */
void ui_draw_init(bool utf8, bool ascii);
bool ui_draw_ascii(void);

/* The glyph as a string, for text (ASCII fallback: "-", "|", "+", "*", "o", "->"...). */
const char *ui_glyph(enum ui_glyph g);
/* And drawn into one cell (two for "->" in ASCII: call ui_put with ui_glyph). */
void ui_put_glyph(WINDOW *win, int y, int x, enum ui_glyph g, attr_t attr);
void ui_hline(WINDOW *win, int y, int x, int w, attr_t attr);
void ui_vline(WINDOW *win, int y, int x, int h, attr_t attr);

/* A copy of s (len bytes) fit for the screen: valid UTF-8 (bad bytes become '?'),
 * control and zero-width characters become '?' or are dropped, tabs become spaces.
 * *width (may be NULL) gets its width in columns and *wide whether any character is
 * wider than one column. Free with free(). */
char *ui_clean(const char *s, size_t len, int *width, bool *wide);

/* The width of clean text in columns. */
int ui_width(const char *s);

/* Part of a text with its own attribute (a search match, a prefix...). */
struct ui_span {
    size_t from, to; /* bytes */
    attr_t attr;
};

/* Draws clean text at (y, x) into at most w columns and `rows` rows (1: cut at the
 * end of the row). With several rows, the text wraps and the first `skip_rows`
 * wrapped rows are skipped; with one row, the first `skip_cols` columns are
 * (horizontal scrolling). Bytes inside a span get its attribute, others `attr`;
 * spans are sorted and do not overlap. Pads the last row drawn with spaces in
 * `attr` to w when `pad`. Returns the rows drawn. */
int ui_text(WINDOW *win, int y, int x, int w, int rows, int skip_rows, int skip_cols, attr_t attr,
            const char *s, const struct ui_span *spans, size_t n_spans, bool pad);

/* Draws text word-wrapped into w columns and at most `rows` rows; with win NULL
 * only counts. Returns the rows it takes. */
int ui_text_words(WINDOW *win, int y, int x, int w, int rows, attr_t attr, const char *s);

/* How many rows clean text of `width` columns takes when wrapped at w; `wide`
 * as ui_clean says (then the rows are counted character by character). */
int ui_text_rows(const char *s, int width, bool wide, int w);

/* One row of (any) text, cut at w columns and padded with spaces to w. */
int ui_put(WINDOW *win, int y, int x, int w, attr_t attr, const char *s);
/* The same, printf-style. */
int ui_putf(WINDOW *win, int y, int x, int w, attr_t attr, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Without padding: returns the columns drawn, to continue after them. */
int ui_puts(WINDOW *win, int y, int x, int w, attr_t attr, const char *s);

/* Spaces. */
void ui_fill(WINDOW *win, int y, int x, int w, attr_t attr);

/* Cuts or pads s (any text) into buf to exactly w columns, for table cells. */
void ui_cell(char *buf, size_t n, const char *s, int w);

#endif
