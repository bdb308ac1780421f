/* kiln: facts about processes (see include/kiln/proc.h). */
#include "kiln/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads the number after the space at *p into *out and moves *p past it. */
static int next_number(const char **p, long long *out)
{
    if (**p != ' ')
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(*p + 1, &end, 10);
    if (errno != 0 || end == *p + 1)
        return -1;
    *out = v;
    *p = end;
    return 0;
}

int kiln_proc_stat_parse(const char *text, struct kiln_proc_stat *out)
{
    /* "PID (comm) S ppid pgrp ...": comm may hold spaces and ')' itself, so it runs from
     * the first '(' to the LAST ')'. Field 3 is the state, 4 the parent, 5 the process
     * group, 22 the start time. */
    const char *lp = strchr(text, '('), *rp = strrchr(text, ')');
    if (lp == NULL || rp == NULL || rp < lp || rp[1] != ' ' || rp[2] == '\0')
        return -1;
    memset(out, 0, sizeof *out);
    snprintf(out->comm, sizeof out->comm, "%.*s", (int)(rp - lp - 1), lp + 1);
    out->state = rp[2];
    const char *p = rp + 3;
    long long v[20]; /* fields 4 to 22 */
    for (int field = 4; field <= 22; field++)
        if (next_number(&p, &v[field - 4]) < 0)
            return -1;
    if (*p != ' ' && *p != '\n' && *p != '\0')
        return -1;
    if (v[22 - 4] < 0)
        return -1;
    out->ppid = (pid_t)v[4 - 4];
    out->pgrp = (pid_t)v[5 - 4];
    out->start_ticks = (unsigned long long)v[22 - 4];
    return 0;
}

int kiln_proc_stat_read(pid_t pid, struct kiln_proc_stat *out)
{
    if (pid <= 0)
        return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf - 1)) < 0 && errno == EINTR)
        ;
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return kiln_proc_stat_parse(buf, out);
}

unsigned long long kiln_proc_start_ticks(pid_t pid)
{
    struct kiln_proc_stat st;
    if (kiln_proc_stat_read(pid, &st) < 0)
        return 0;
    if (st.state == 'Z' || st.state == 'X')
        return 0; /* a zombie has exited: as good as gone */
    return st.start_ticks;
}
