/* kiln: the last lines of a program's output, for the error message when it fails.
 *
 * Every line already streams into a job's log as it comes; when the program fails, the
 * error itself should still say why without sending the user to the log, and rpmbuild,
 * rpm and createrepo_c all print the reason last. The lines are kept cleaned of control
 * characters, so they are safe to show on a terminal.
 */
#ifndef KILN_TAIL_H
#define KILN_TAIL_H

#include <stddef.h>

#include "kiln/strbuf.h"

#define KILN_TAIL_LINES    8
#define KILN_TAIL_LINE_MAX 200 /* longer lines are cut, with "..." */

struct kiln_tail {
    char line[KILN_TAIL_LINES][KILN_TAIL_LINE_MAX + 4];
    size_t seen; /* lines added so far; the newest is at (seen - 1) % KILN_TAIL_LINES */
};

/* Keeps a cleaned copy of line; blank lines are skipped. Zero-initialise t first. */
void kiln_tail_add(struct kiln_tail *t, const char *line);

/* Appends the newest lines, oldest first, each as "\n  <line>", as many as fit in
 * `budget` bytes (at least the last one, cut to fit). Appends nothing when no line was
 * kept. */
void kiln_tail_format(const struct kiln_tail *t, struct kiln_strbuf *sb, size_t budget);

#endif
