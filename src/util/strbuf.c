/* kiln: a growable string buffer (see include/kiln/strbuf.h). */
#include "kiln/strbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kiln_strbuf_init(struct kiln_strbuf *sb)
{
    sb->buf = NULL;
    sb->len = 0;
    sb->cap = 0;
}

void kiln_strbuf_free(struct kiln_strbuf *sb)
{
    free(sb->buf);
    kiln_strbuf_init(sb);
}

void kiln_strbuf_reset(struct kiln_strbuf *sb)
{
    kiln_strbuf_truncate(sb, 0);
}

void kiln_strbuf_truncate(struct kiln_strbuf *sb, size_t len)
{
    if (len < sb->len) {
        sb->len = len;
        sb->buf[len] = '\0';
    }
}

char *kiln_strbuf_detach(struct kiln_strbuf *sb, size_t *len)
{
    char *s = sb->buf != NULL ? sb->buf : xstrdup("");
    if (len != NULL)
        *len = sb->len;
    kiln_strbuf_init(sb);
    return s;
}

const char *kiln_strbuf_str(const struct kiln_strbuf *sb)
{
    return sb->buf != NULL ? sb->buf : "";
}

void kiln_strbuf_grow(struct kiln_strbuf *sb, size_t extra)
{
    if (extra > SIZE_MAX - sb->len - 1)
        kiln_oom(SIZE_MAX);
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return;
    /* Doubling keeps appends amortised O(1); 64 avoids a string of tiny reallocs. */
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    sb->buf = xrealloc(sb->buf, cap);
    sb->cap = cap;
    if (sb->len == 0)
        sb->buf[0] = '\0';
}

void kiln_strbuf_append_len(struct kiln_strbuf *sb, const char *s, size_t n)
{
    kiln_strbuf_grow(sb, n);
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void kiln_strbuf_append(struct kiln_strbuf *sb, const char *s)
{
    kiln_strbuf_append_len(sb, s, strlen(s));
}

void kiln_strbuf_appendc(struct kiln_strbuf *sb, char c)
{
    kiln_strbuf_append_len(sb, &c, 1);
}

void kiln_strbuf_vappendf(struct kiln_strbuf *sb, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    /* First try into the space we have; most calls fit and need one pass. */
    kiln_strbuf_grow(sb, 64);
    size_t room = sb->cap - sb->len;
    int n = vsnprintf(sb->buf + sb->len, room, fmt, ap);
    if (n < 0) {
        /* Only a bad format gets here; leave the buffer as it was. */
        sb->buf[sb->len] = '\0';
        va_end(copy);
        return;
    }
    if ((size_t)n >= room) {
        kiln_strbuf_grow(sb, (size_t)n);
        vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, copy);
    }
    va_end(copy);
    sb->len += (size_t)n;
}

void kiln_strbuf_appendf(struct kiln_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_strbuf_vappendf(sb, fmt, ap);
    va_end(ap);
}
