/* kiln: words the way a POSIX shell writes them (see include/kiln/shellwords.h). */
#include "kiln/shellwords.h"

#include <stdlib.h>
#include <string.h>

#include "kiln/xalloc.h"

void kiln_sh_quote(struct kiln_strbuf *sb, const char *word)
{
    kiln_strbuf_appendc(sb, '\'');
    for (const char *p = word; *p != '\0'; p++) {
        if (*p == '\'')
            kiln_strbuf_append(sb, "'\\''");
        else
            kiln_strbuf_appendc(sb, *p);
    }
    kiln_strbuf_appendc(sb, '\'');
}

static bool needs_quotes(const char *s)
{
    if (*s == '\0')
        return true;
    for (; *s != '\0'; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-", *s))
            return true;
    return false;
}

void kiln_sh_word(struct kiln_strbuf *sb, const char *word)
{
    if (needs_quotes(word))
        kiln_sh_quote(sb, word);
    else
        kiln_strbuf_append(sb, word);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int kiln_sh_split(const char *line, bool lenient, int *argc_out, char ***argv_out,
                  struct kiln_err *err)
{
    size_t len = strlen(line);
    /* Words are never longer than the line, and there are at most len/2+1 of them:
     * one block holds the pointers and the text. */
    size_t max_words = len / 2 + 2;
    char **argv = xmalloc(max_words * sizeof *argv + len + max_words);
    char *text = (char *)(argv + max_words);
    int argc = 0;
    const char *p = line;

    *argc_out = 0;
    *argv_out = NULL;
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
    *argc_out = argc;
    *argv_out = argv;
    return 0;
}
