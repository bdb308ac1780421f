/* kiln: facts about processes, from /proc. */
#ifndef KILN_PROC_H
#define KILN_PROC_H

#include <sys/types.h>

/* What /proc/PID/stat says of a process, the fields kiln uses. */
struct kiln_proc_stat {
    char comm[64]; /* its name (field 2, without the parentheses); the kernel keeps 15 bytes */
    char state;    /* R, S, D, Z (zombie), X (dead), ... */
    pid_t ppid, pgrp;
    unsigned long long start_ticks; /* field 22: clock ticks after boot */
};

/* Parses the text of a /proc/PID/stat file into *out. Returns 0, or -1 when the text is
 * not in that shape. */
int kiln_proc_stat_parse(const char *text, struct kiln_proc_stat *out);

/* Reads and parses /proc/PID/stat; -1 when there is no such process (or no /proc). */
int kiln_proc_stat_read(pid_t pid, struct kiln_proc_stat *out);

/* The start time of process pid (/proc/PID/stat field 22, clock ticks since boot),
 * which tells a process from a later one that reused its pid; 0 if it is gone or a
 * zombie. */
unsigned long long kiln_proc_start_ticks(pid_t pid);

#endif
