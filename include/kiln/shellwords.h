/* kiln: words the way a POSIX shell writes them, without ever running a shell.
 * Quoting is for messages and for commands a user may paste (`rm -rf '/my home'`);
 * splitting is for lines a user typed (the console's `:` prompt). Nothing is expanded:
 * no $VAR, ~, globs, ; or |. */
#ifndef KILN_SHELLWORDS_H
#define KILN_SHELLWORDS_H

#include <stdbool.h>

#include "kiln/err.h"
#include "kiln/strbuf.h"

/* Appends word to sb in single quotes, which keep everything but themselves: a ' in
 * word becomes '\''. sh reads the result back as exactly word. */
void kiln_sh_quote(struct kiln_strbuf *sb, const char *word);

/* Appends word as it is when sh would read it back unchanged (only letters, digits and
 * _@%+=:,./- , and not empty), else quoted as kiln_sh_quote does. */
void kiln_sh_word(struct kiln_strbuf *sb, const char *word);

/* Splits line into words: blanks (space, tab, newline, CR) separate them; 'single
 * quotes' keep everything; in "double quotes" a backslash escapes only " \ $ and `;
 * outside quotes a backslash escapes the next character. '' is an empty word.
 * An unterminated quote or a trailing backslash is an error (KILN_E_USAGE) unless
 * `lenient` (completion looks at half-typed lines): then the open word ends the line.
 * On success *argv holds *argc words and a NULL, in one allocation: free(*argv). */
int kiln_sh_split(const char *line, bool lenient, int *argc, char ***argv, struct kiln_err *err);

#endif
