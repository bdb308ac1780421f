/* kiln: a growable string buffer.
 *
 * The buffer is always NUL-terminated once anything has been appended, so
 * kiln_strbuf_str() can be handed to any C string function. Allocation failure
 * aborts (see kiln/xalloc.h): callers never check.
 *
 *     struct kiln_strbuf sb = KILN_STRBUF_INIT;
 *     kiln_strbuf_appendf(&sb, "%s-v%03d", cluster, n);
 *     use(kiln_strbuf_str(&sb));
 *     kiln_strbuf_free(&sb);
 */
#ifndef KILN_STRBUF_H
#define KILN_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "kiln/xalloc.h"

struct kiln_strbuf {
    char *buf;  /* NULL until the first append */
    size_t len; /* bytes in use, not counting the NUL */
    size_t cap; /* bytes allocated */
};

#define KILN_STRBUF_INIT                                                                           \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void kiln_strbuf_init(struct kiln_strbuf *sb);

/* Frees the memory and leaves sb empty and reusable. */
void kiln_strbuf_free(struct kiln_strbuf *sb);

/* Empties sb but keeps its memory for the next appends. */
void kiln_strbuf_reset(struct kiln_strbuf *sb);

/* Hands the string to the caller, who frees it with free(); never NULL (an empty
 * buffer gives ""). len may be NULL. sb is left empty and reusable. */
char *kiln_strbuf_detach(struct kiln_strbuf *sb, size_t *len);

/* The contents, "" when empty; valid until the next call that changes sb. */
const char *kiln_strbuf_str(const struct kiln_strbuf *sb);

/* Makes room for `extra` more bytes (plus the NUL) without changing the contents. */
void kiln_strbuf_grow(struct kiln_strbuf *sb, size_t extra);

void kiln_strbuf_append(struct kiln_strbuf *sb, const char *s);
/* Appends n bytes of s; s may contain NULs. */
void kiln_strbuf_append_len(struct kiln_strbuf *sb, const char *s, size_t n);
void kiln_strbuf_appendc(struct kiln_strbuf *sb, char c);
void kiln_strbuf_appendf(struct kiln_strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void kiln_strbuf_vappendf(struct kiln_strbuf *sb, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Shortens sb to len bytes (no-op if it is already shorter). */
void kiln_strbuf_truncate(struct kiln_strbuf *sb, size_t len);

#endif
