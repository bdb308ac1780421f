/* kiln: the local provider (private to src/provider). */
#ifndef KILN_PROVIDER_LOCAL_H
#define KILN_PROVIDER_LOCAL_H

#include "kiln/paths.h"
#include "kiln/provider.h"

struct cJSON;

/* Connects to kilnd (starting it if needed). */
struct kiln_provider *kiln_local_open(const struct kiln_paths *paths, const char *config,
                                      struct kiln_err *err);

/* kilnd's `state` result as a finished snapshot (for the provider and for tests). */
int kiln_local_snapshot_from_state(const struct cJSON *state, struct kiln_snapshot **out,
                                   struct kiln_err *err);
/* One event object of kilnd's stream into *out; -1 if it has no seq. */
int kiln_local_event_from_json(const struct cJSON *e, struct kiln_event *out);

#endif
