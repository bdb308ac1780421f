/* kiln: facts about processes. */
#ifndef KILN_PROC_H
#define KILN_PROC_H

#include <sys/types.h>

/* The start time of process pid (/proc/PID/stat field 22, clock ticks since boot),
 * which tells a process from a later one that reused its pid; 0 if it is gone. */
unsigned long long kiln_proc_start_ticks(pid_t pid);

#endif
