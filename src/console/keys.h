/* kiln console: actions and the keys bound to them (tig's request table).
 *
 * Every action is one row of UI_ACTIONS: its name (for [keys] in the config), the
 * keys it has by default, what it does (the Help view's text) and whether it
 * changes things (hidden and refused in read-only mode). The Help view is
 * generated from this table and the current bindings, so it cannot drift. */
#ifndef KILN_CONSOLE_KEYS_H
#define KILN_CONSOLE_KEYS_H

#include "console/cursesw.h"

#include <stdbool.h>
#include <stddef.h>

#include "kiln/config.h"
#include "kiln/err.h"

/* Sections of the Help view. */
enum ui_action_group {
    UI_GROUP_MOVE,
    UI_GROUP_VIEW,
    UI_GROUP_LOG,
    UI_GROUP_CHANGE, /* mutating */
    UI_GROUP_COUNT,
};

/* id, name, default keys (space-separated key names), group, help */
#define UI_ACTIONS(X)                                                                              \
    X(MOVE_DOWN, "move-down", "j Down", MOVE, "Move down")                                         \
    X(MOVE_UP, "move-up", "k Up", MOVE, "Move up")                                                 \
    X(PAGE_DOWN, "page-down", "PgDn C-f", MOVE, "Move down a page")                                \
    X(PAGE_UP, "page-up", "PgUp C-b", MOVE, "Move up a page")                                      \
    X(FIRST, "first", "g Home", MOVE, "Go to the first line")                                      \
    X(LAST, "last", "G End", MOVE, "Go to the last line (the log follows new lines again)")        \
    X(NEXT_PANE, "next-pane", "Tab", MOVE, "Focus the next pane")                                  \
    X(PREV_PANE, "prev-pane", "S-Tab", MOVE, "Focus the previous pane")                            \
    X(LEFT, "left", "Left h", MOVE, "The pane to the left; in the log, scroll left")               \
    X(RIGHT, "right", "Right", MOVE, "The pane to the right; in the log, scroll right")            \
    X(ENTER, "enter", "Enter", MOVE,                                                               \
      "Drill in: cluster, its groups, their instances; a job's log")                               \
    X(BACK, "back", "Esc", MOVE, "Back: clear the filter, leave the pane, close the view")         \
    X(FILTER, "filter", "/", MOVE, "Filter the focused list; in the log, search")                  \
    X(VIEW_JOBS, "view-jobs", "J", VIEW, "Jobs view: every job, its state and progress")           \
    X(VIEW_EVENTS, "view-events", "v", VIEW, "Events view: terminations, chaos, time to recover")  \
    X(VIEW_HELP, "help", "? F1", VIEW, "This help")                                                \
    X(FOCUS_LOG, "focus-log", "l", VIEW, "Focus the log pane")                                     \
    X(COMMAND, "command", ":", VIEW, "Command line: any kiln command (Tab completes)")             \
    X(COPY, "copy", "y", VIEW, "Copy the selected id or log line to the clipboard (OSC 52)")       \
    X(REFRESH, "refresh", "R", VIEW, "Ask the provider for the inventory now")                     \
    X(REDRAW, "redraw", "C-l", VIEW, "Redraw the screen")                                          \
    X(QUIT, "quit", "q", VIEW, "Quit (asks first when jobs are running)")                          \
    X(SEARCH_NEXT, "search-next", "n", LOG, "Next (older) match of the log search")                \
    X(SEARCH_PREV, "search-prev", "N", LOG, "Previous (newer) match of the log search")            \
    X(LOG_ALL, "log-all", "a", LOG, "Show every job's log lines again, not one job's")             \
    X(WRAP, "wrap", "w", LOG, "Wrap long log lines, or cut them and scroll sideways")              \
    X(DEPLOY, "deploy", "d", CHANGE, "Deploy to the selected cluster (a dialog)")                  \
    X(ROLLBACK, "rollback", "r", CHANGE, "Roll back the cluster (to the selected disabled group)") \
    X(PROMOTE, "promote", "p", CHANGE, "Promote the cluster's image to another env")               \
    X(ENABLE, "enable", "e", CHANGE, "Enable the selected group (attach it to the load balancer)") \
    X(DISABLE, "disable", "x", CHANGE, "Disable the selected group (detach it)")                   \
    X(GROW, "grow", "+", CHANGE, "Resize the selected group: one more instance")                   \
    X(SHRINK, "shrink", "-", CHANGE, "Resize the selected group: one instance fewer")              \
    X(DESTROY, "destroy", "D", CHANGE, "Destroy the selected group")                               \
    X(TERMINATE, "terminate", "t", CHANGE, "Terminate the selected instance")                      \
    X(BUILD, "build", "b", CHANGE, "Build the selected app's package")                             \
    X(BAKE, "bake", "B", CHANGE, "Bake the selected app's newest package into an image")           \
    X(CHAOS, "chaos", "c", CHANGE, "Chaos monkey on or off for the selected cluster")              \
    X(CANCEL_JOB, "cancel-job", "X", CHANGE, "Cancel the selected job (Jobs view)")

#define UI_ACTION_ENUM_(id, name, keys, group, help) ACT_##id,
enum ui_action { ACT_NONE = 0, UI_ACTIONS(UI_ACTION_ENUM_) UI_ACTION_COUNT };
#undef UI_ACTION_ENUM_

/* Key codes are what wgetch returns with keypad on: bytes and KEY_* codes. */
#define UI_KEYCODES (KEY_MAX + 1)

const char *ui_action_name(enum ui_action a);
const char *ui_action_help(enum ui_action a);
enum ui_action_group ui_action_group(enum ui_action a);
bool ui_action_mutating(enum ui_action a);
const char *ui_action_group_title(enum ui_action_group g);

/* Binds the defaults (forgetting other bindings). */
void ui_keys_defaults(void);

/* Binds key (a name as Help shows it: "q", "C-c", "PgDn", "F5", "S-Tab", "Space")
 * to the named action, replacing what the key did. */
int ui_keys_bind(const char *action, const char *key, struct kiln_err *err);

/* Applies the config's [keys] lines in order. Bad lines are skipped; the first
 * one is reported naming the config file and its line. */
int ui_keys_apply_config(const struct kiln_config *cfg, struct kiln_err *err);

enum ui_action ui_keys_lookup(int code);

/* The keys bound to a, as "j, Down"; "" when none. */
void ui_keys_describe(enum ui_action a, char *buf, size_t n);

/* The codes of a key name (Enter is CR, LF and KEY_ENTER); returns how many, 0 for
 * an unknown name. */
int ui_key_parse(const char *name, int codes[4]);

/* The name of a key code, "" for a code without one. */
void ui_key_name(int code, char *buf, size_t n);

#endif
