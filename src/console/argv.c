/* kiln console: the `:` line's word splitting (see argv.h). */
#include "console/argv.h"

#include "kiln/xalloc.h"

#include <stdlib.h>
#include <string.h>

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int ui_split(const char *line, bool lenient, struct ui_words *out, struct kiln_err *err)
{
    size_t len = strlen(line);
    /* Words are never longer than the line, and there are at most len/2+1 of them:
     * one block holds the pointers and the text. */
    size_t max_words = len / 2 + 2;
    char **argv = xmalloc(max_words * sizeof *argv + len + max_words);
    char *text = (char *)(argv + max_words);
    int argc = 0;
    const char *p = line;

    out->argc = 0;
    out->argv = NULL;
    for (;;) {
        while (is_blank(*p))
            p++;
        if (*p == '\0')
            break;
        argv[argc++] = text;
        char quote = 0;
        for (; *p != '\0' && (quote || !is_blank(*p)); p++) {
            if (quote == '\'') {
                if (*p == '\'')
                    quote = 0;
                else
                    *text++ = *p;
            } else if (quote == '"') {
                if (*p == '"') {
                    quote = 0;
                } else if (*p == '\\' && p[1] != '\0' && strchr("\"\\$`", p[1]) != NULL) {
                    *text++ = *++p;
                } else {
                    *text++ = *p;
                }
            } else if (*p == '\'' || *p == '"') {
                quote = *p;
            } else if (*p == '\\') {
                if (p[1] == '\0') {
                    if (lenient)
                        continue;
                    free(argv);
                    return kiln_err_set(err, KILN_E_USAGE,
                                        "the line ends with a backslash: nothing to escape");
                }
                *text++ = *++p;
            } else {
                *text++ = *p;
            }
        }
        *text++ = '\0';
        if (quote && !lenient) {
            free(argv);
            return kiln_err_set(err, KILN_E_USAGE, "a %s quote (%c) is not closed",
                                quote == '"' ? "double" : "single", quote);
        }
    }
    argv[argc] = NULL;
    out->argc = argc;
    out->argv = argv;
    return 0;
}

void ui_words_free(struct ui_words *w)
{
    free(w->argv);
    w->argv = NULL;
    w->argc = 0;
}

void ui_quote_word(struct kiln_strbuf *sb, const char *word)
{
    bool plain = word[0] != '\0';
    for (const char *p = word; *p && plain; p++)
        if (is_blank(*p) || strchr("'\"\\", *p) != NULL)
            plain = false;
    if (plain) {
        kiln_strbuf_append(sb, word);
        return;
    }
    /* Single quotes keep everything but themselves: 'it'\''s'. */
    kiln_strbuf_appendc(sb, '\'');
    for (const char *p = word; *p; p++) {
        if (*p == '\'')
            kiln_strbuf_append(sb, "'\\''");
        else
            kiln_strbuf_appendc(sb, *p);
    }
    kiln_strbuf_appendc(sb, '\'');
}
