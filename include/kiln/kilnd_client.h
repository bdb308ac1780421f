/* kiln: talking to kilnd, the local cloud, over its UNIX socket (doc/kilnd-api.md).
 * Starts kilnd when it is not running, the way a tmux client starts its server. */
#ifndef KILN_KILND_CLIENT_H
#define KILN_KILND_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "kiln/err.h"
#include "kiln/kilnd_proto.h" /* the op names kiln_kilnd_call takes */
#include "kiln/paths.h"

struct cJSON;
struct kiln_kilnd;

/* Connects to the kilnd of `paths->home`; with `autostart`, starts it first if none
 * answers. `config` (may be NULL) is passed on to a kilnd it starts. Returns NULL with
 * err on failure. Free with kiln_kilnd_close. */
struct kiln_kilnd *kiln_kilnd_connect(const struct kiln_paths *paths, const char *config,
                                      bool autostart, struct kiln_err *err);
void kiln_kilnd_close(struct kiln_kilnd *k);

/* Starts kilnd for paths->home if it is not running; *started tells whether this call
 * started it. */
int kiln_kilnd_start(const struct kiln_paths *paths, const char *config, bool *started,
                     struct kiln_err *err);

/* Sends operation `op` with `args` (taken over; NULL for none) and waits for the reply.
 * On success *result (may be NULL to ignore) is the reply's result object, the
 * caller's to cJSON_Delete. On an error reply, -1 with kilnd's code and message;
 * *result then holds the error's detail, if any. */
int kiln_kilnd_call(struct kiln_kilnd *k, const char *op, struct cJSON *args, struct cJSON **result,
                    struct kiln_err *err);

/* Turns this connection into an event stream from event `since` (0: only new ones). */
int kiln_kilnd_subscribe(struct kiln_kilnd *k, uint64_t since, struct kiln_err *err);
/* The next event of a subscribed connection: waits up to timeout_ms (-1 forever).
 * Returns 1 with *event (the caller's), 0 on timeout, -1 when the stream ended. */
int kiln_kilnd_next_event(struct kiln_kilnd *k, int timeout_ms, struct cJSON **event,
                          struct kiln_err *err);
/* The fd, for poll() in the console. */
int kiln_kilnd_fd(const struct kiln_kilnd *k);

/* Where kilnd's binary is: $KILN_KILND, else next to this kiln, else PATH. */
const char *kiln_kilnd_binary(char *buf, size_t n);

#endif
