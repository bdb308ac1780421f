/* kiln console: the `:` line's word splitting (see argv.h). */
#include "console/argv.h"

#include "kiln/shellwords.h"

#include <stdlib.h>
#include <string.h>

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int ui_split(const char *line, bool lenient, struct ui_words *out, struct kiln_err *err)
{
    return kiln_sh_split(line, lenient, &out->argc, &out->argv, err);
}

void ui_words_free(struct ui_words *w)
{
    free(w->argv);
    w->argv = NULL;
    w->argc = 0;
}

void ui_quote_word(struct kiln_strbuf *sb, const char *word)
{
    /* Plain by ui_split's rules, which give fewer characters a meaning than sh does:
     * a completed name stays as the user would type it. */
    bool plain = word[0] != '\0';
    for (const char *p = word; *p && plain; p++)
        if (is_blank(*p) || strchr("'\"\\", *p) != NULL)
            plain = false;
    if (plain) {
        kiln_strbuf_append(sb, word);
        return;
    }
    kiln_sh_quote(sb, word);
}
