/* kiln: the processes of a server group that can be suspended and resumed, as AWS
 * Auto Scaling names them. kilnd (src/cloud) keeps them for its groups with AWS's
 * meaning; the providers pass them on; the console and the CLI show them. */
#ifndef KILN_GROUP_PROCESS_H
#define KILN_GROUP_PROCESS_H

#include "kiln/err.h"

/* One bit each, so a set of them is an `unsigned`. */
enum kiln_process {
    KILN_PROC_LAUNCH = 1 << 0,            /* no new instances: scale-out and replacement stop */
    KILN_PROC_TERMINATE = 1 << 1,         /* no scale-in */
    KILN_PROC_HEALTHCHECK = 1 << 2,       /* health is not probed (stays as it was) */
    KILN_PROC_REPLACE_UNHEALTHY = 1 << 3, /* unhealthy instances are kept */
    KILN_PROC_ADD_TO_LB = 1 << 4,         /* suspended <=> the group is disabled */
};
#define KILN_PROC_ALL 0x1f

/* "Launch", "Terminate", "HealthCheck", "ReplaceUnhealthy", "AddToLoadBalancer";
 * "unknown" for anything but one of the bits. */
const char *kiln_process_name(enum kiln_process p);

/* The process named s (one of the names above, exactly); -1 with err (may be NULL)
 * naming the choices otherwise. */
int kiln_process_parse(const char *s, enum kiln_process *out, struct kiln_err *err);

#endif
