/* kiln: the last lines of a program's output (see include/kiln/tail.h). */
#include "kiln/tail.h"

#include <string.h>

void kiln_tail_add(struct kiln_tail *t, const char *line)
{
    const unsigned char *p = (const unsigned char *)line;
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    if (*p == '\0')
        return;
    char *out = t->line[t->seen % KILN_TAIL_LINES];
    size_t n = 0;
    for (; *p != '\0' && n < KILN_TAIL_LINE_MAX; p++) {
        /* Tabs become spaces; other control bytes (colour escapes, \r) would garble
         * the terminal the message ends up on. UTF-8 passes: bytes >= 0x80. */
        unsigned char c = *p;
        out[n++] = c == '\t' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    /* A cut in the middle of a UTF-8 sequence would leave half a character. */
    if (*p != '\0') {
        while (n > 0 && ((unsigned char)out[n - 1] & 0xc0) == 0x80)
            n--;
        if (n > 0 && (unsigned char)out[n - 1] >= 0xc0)
            n--;
        memcpy(out + n, "...", 3);
        n += 3;
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
    t->seen++;
}

void kiln_tail_format(const struct kiln_tail *t, struct kiln_strbuf *sb, size_t budget)
{
    size_t kept = t->seen < KILN_TAIL_LINES ? t->seen : KILN_TAIL_LINES;
    if (kept == 0)
        return;
    /* Walk back from the newest line while the lines fit. */
    size_t take = 0, used = 0;
    while (take < kept) {
        const char *l = t->line[(t->seen - 1 - take) % KILN_TAIL_LINES];
        size_t need = strlen(l) + 3;
        if (used + need > budget && take > 0)
            break;
        used += need;
        take++;
    }
    for (size_t i = take; i > 0; i--) {
        const char *l = t->line[(t->seen - i) % KILN_TAIL_LINES];
        size_t len = strlen(l);
        if (i == 1 && take == 1 && len + 3 > budget)
            len = budget > 3 ? budget - 3 : 0; /* only one line, and it is too long */
        while (len > 0 && len < strlen(l) && ((unsigned char)l[len] & 0xc0) == 0x80)
            len--; /* not inside a UTF-8 character */
        kiln_strbuf_append(sb, "\n  ");
        kiln_strbuf_append_len(sb, l, len);
    }
}
