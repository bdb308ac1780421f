/* kiln console: the events the Events view shows, newest last, in a bounded ring
 * that only the UI thread touches. Each termination is linked to the instance that
 * replaced it and to its time to recover, from the provider's "launch ...
 * replacing X" and "recovered" events. */
#ifndef KILN_CONSOLE_EVLIST_H
#define KILN_CONSOLE_EVLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/names.h"
#include "kiln/provider.h"

#define UI_ID_SIZE 24

struct ui_event {
    uint64_t seq;
    int64_t time_us;
    char type[16];
    char cluster[KILN_CLUSTER_SIZE];
    char group[KILN_GROUP_SIZE];
    char instance[UI_ID_SIZE];
    char cause[16];
    char *message;
    /* for a "terminate": who replaced it and how long until it was healthy */
    char replacement[UI_ID_SIZE];
    int64_t recovery_ms; /* -1 until known; for "recovered", its own */
};

struct ui_evlist {
    struct ui_event *v;
    size_t cap;
    uint64_t first, next; /* the events kept are [first, next), index i at v[i % cap] */
    uint64_t last_seq;    /* the provider's seq of the newest event, to resume from */
};

void ui_evlist_init(struct ui_evlist *l, size_t cap);
void ui_evlist_free(struct ui_evlist *l);
void ui_evlist_add(struct ui_evlist *l, const struct kiln_event *e);
size_t ui_evlist_count(const struct ui_evlist *l);
/* i-th event kept, 0 the oldest. */
const struct ui_event *ui_evlist_at(const struct ui_evlist *l, size_t i);

struct ui_cluster_summary {
    char cluster[KILN_CLUSTER_SIZE];
    int kills_today;  /* chaos terminations since local midnight */
    int kills;        /* chaos terminations kept */
    int terminations; /* any cause */
    int recoveries;
    int64_t ttr_sum_ms; /* over the recoveries */
    int64_t last_kill_us;
};

/* One row per cluster that has terminations or recoveries, by name; *out is the
 * caller's to free(). */
size_t ui_evlist_summary(const struct ui_evlist *l, int64_t now_us,
                         struct ui_cluster_summary **out);

bool ui_event_is_chaos(const struct ui_event *e);

#endif
