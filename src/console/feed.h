/* kiln console: the two threads that bring the cloud to the UI without ever making
 * it wait (doc/design.md, "Threads and data flow in kiln").
 *
 * The refresher asks the provider for the inventory every refresh interval, or
 * soon after an event says something changed, and publishes it into the model. Where
 * the provider can read one cluster alone (AWS), only the cluster on screen is read at
 * that pace and spliced into the last whole inventory, which is read every "whole"
 * interval: on a large account that is six requests instead of hundreds.
 * The events thread follows the provider's event stream into a bounded inbox.
 * Both wake the UI, reconnect with a growing back-off when the provider fails, and
 * say what is going on in a state the status line shows. */
#ifndef KILN_CONSOLE_FEED_H
#define KILN_CONSOLE_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/err.h"
#include "kiln/model.h"
#include "kiln/provider.h"
#include "kiln/wake.h"

struct kiln_ctx;
struct ui_feed;

struct ui_feed_state {
    bool connected;       /* the last inventory worked */
    bool ever_connected;  /* one inventory at least was published */
    bool events_ok;       /* the event stream is up */
    char text[300];       /* for the status line: "connecting...", an error */
    bool error;           /* text is an error */
    char detail[256];     /* the error alone, without the retry countdown */
    int64_t refreshed_us; /* when the last inventory was published */
    uint64_t changes;     /* grows whenever the state changes */
};

/* Starts both threads. ctx is copied (the threads print nothing: their out and msg
 * are /dev/null) and must outlive the feed. Events after `since` are followed
 * (0: only new ones); the inbox keeps `inbox_cap` events between two UI passes. */
struct ui_feed *ui_feed_start(const struct kiln_ctx *ctx, struct kiln_model *model,
                              struct kiln_wake *wake, int64_t refresh_ms, int64_t whole_ms,
                              uint64_t since, size_t inbox_cap, struct kiln_err *err);

/* The cluster on screen (NULL, NULL: none); a new one is refreshed at once. */
void ui_feed_focus(struct ui_feed *f, const char *app, const char *env);

/* Whether the next refresh reads the whole inventory rather than the focused cluster:
 * when the provider cannot read one cluster, nothing is focused, no whole inventory was
 * read yet, or the last is whole_ms old. */
bool ui_feed_plan_whole(bool can_focus, bool has_focus, bool have_whole, int64_t since_whole_ms,
                        int64_t whole_ms);

/* Asks for the whole inventory now (e.g. after the user's command finished: it may have
 * made a cluster, or changed one that is not on screen). */
void ui_feed_refresh(struct ui_feed *f);

void ui_feed_get_state(struct ui_feed *f, struct ui_feed_state *out);

/* Moves up to max events out of the inbox, oldest first; *lost (may be NULL) gets
 * how many were dropped because the inbox was full since the last call. */
size_t ui_feed_take_events(struct ui_feed *f, struct kiln_event *out, size_t max, uint64_t *lost);

/* Stops both threads, waiting up to wait_ms for them (a provider call may be slow
 * to return). Returns true and frees everything when both stopped; false when one
 * did not, and then leaves the feed allocated for it (the process is exiting). */
bool ui_feed_stop(struct ui_feed *f, int64_t wait_ms);

#endif
