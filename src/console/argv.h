/* kiln console: splitting a `:` line into argv, with shell-like quoting and no
 * shell: 'single quotes' keep everything, "double quotes" take \" \\ \$ \` as
 * escapes, a backslash outside quotes escapes the next character, and blanks
 * separate words. Nothing is expanded: no $VAR, ~, globs, ; or |. */
#ifndef KILN_CONSOLE_ARGV_H
#define KILN_CONSOLE_ARGV_H

#include <stdbool.h>

#include "kiln/err.h"
#include "kiln/strbuf.h"

struct ui_words {
    int argc;
    char **argv; /* argc words then NULL; one allocation, freed by ui_words_free */
};

/* Splits line. An unterminated quote or a trailing backslash is an error, unless
 * `lenient` (completion looks at half-typed lines): then the open word ends the
 * line. */
int ui_split(const char *line, bool lenient, struct ui_words *out, struct kiln_err *err);
void ui_words_free(struct ui_words *w);

/* Appends word to sb quoted so that ui_split gives it back unchanged (as is when
 * it needs no quoting). */
void ui_quote_word(struct kiln_strbuf *sb, const char *word);

#endif
