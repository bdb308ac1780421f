/* kiln: a server group's suspendable processes (see include/kiln/group_process.h). */
#include "kiln/group_process.h"

#include <string.h>

#include "kiln/names.h"

/* In bit order: names[i] is bit 1 << i. */
static const char *const names[] = {"Launch", "Terminate", "HealthCheck", "ReplaceUnhealthy",
                                    "AddToLoadBalancer"};

const char *kiln_process_name(enum kiln_process p)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if ((unsigned)p == 1u << i)
            return names[i];
    return "unknown";
}

int kiln_process_parse(const char *s, enum kiln_process *out, struct kiln_err *err)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (s != NULL && strcmp(s, names[i]) == 0) {
            *out = (enum kiln_process)(1u << i);
            return 0;
        }
    }
    char q[KILN_QUOTE_SIZE];
    return kiln_err_set(err, KILN_E_INVALID,
                        "unknown process %s: expected Launch, Terminate, HealthCheck, "
                        "ReplaceUnhealthy or AddToLoadBalancer",
                        kiln_name_quote(s, q, sizeof q));
}
