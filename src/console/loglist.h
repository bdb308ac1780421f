/* kiln console: the lines the Log pane shows: every job's log lines as they are
 * read from the jobs' rings, the output of `:` commands and the console's own
 * messages, in the order the UI thread took them in, in one bounded ring. Only the
 * UI thread touches it. */
#ifndef KILN_CONSOLE_LOGLIST_H
#define KILN_CONSOLE_LOGLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/logring.h"

struct ui_logline {
    uint64_t seq; /* 1, 2, ... in the order taken in */
    uint64_t job; /* the job it came from; 0 for the console's own lines */
    int64_t time_us;
    enum kiln_log_level level;
    bool wide;        /* has characters two columns wide (see ui_clean) */
    int width;        /* of text, in columns */
    int prefix_bytes; /* "12:00:01 deploy#3 " at the start of text */
    char *text;       /* clean (ui_clean), prefix included */
};

struct ui_loglist {
    struct ui_logline *v;
    size_t cap;
    uint64_t first; /* seq of the oldest line kept */
    uint64_t next;  /* seq the next line gets */
};

void ui_loglist_init(struct ui_loglist *l, size_t cap);
void ui_loglist_free(struct ui_loglist *l);

/* Adds a line (text need not be clean; it is cut at its first newline by the
 * caller) and returns its seq. Overwrites the oldest when full. */
uint64_t ui_loglist_add(struct ui_loglist *l, uint64_t job, int64_t time_us,
                        enum kiln_log_level level, const char *source, const char *text);

/* The line with this seq, or NULL when it is not (or no longer) kept. */
const struct ui_logline *ui_loglist_get(const struct ui_loglist *l, uint64_t seq);

/* The last seq given out, 0 when empty. */
uint64_t ui_loglist_last(const struct ui_loglist *l);

#endif
