/* kilnd: the API socket and the operations behind it (private to src/cloud). */
#ifndef KILN_CLOUD_API_H
#define KILN_CLOUD_API_H

#include <stddef.h>

#include "cloud/cloud.h"

struct cJSON;

/* Binds and listens on the UNIX socket at path (0600); returns the fd or -1. */
int api_listen(const char *path, struct kiln_err *err);
/* Serves one accepted connection on its own thread; takes the fd. */
int api_serve_client(struct cloud *c, int fd);
/* How many client threads are still running (kilnd waits for them when stopping). */
int api_clients_running(void);

/* Runs operation `op` with `args` (may be NULL); fills `result` (an object). On
 * failure returns -1 with err, and may put details into `result`. Takes c->mu itself. */
int cloud_op_run(struct cloud *c, const char *op, const struct cJSON *args, struct cJSON *result,
                 struct kiln_err *err);

#endif
