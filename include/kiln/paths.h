/* kiln: where kiln keeps its state and finds its configuration.
 *
 * State dir: --home DIR, else $KILN_HOME, else $XDG_STATE_HOME/kiln, else
 * $HOME/.local/state/kiln. Config file: --config FILE, else $KILN_CONFIG, else
 * $XDG_CONFIG_HOME/kiln/config, else $HOME/.config/kiln/config. Empty variables count
 * as unset and relative XDG_* ones are ignored (the XDG spec says so); relative
 * --home, KILN_HOME, --config and KILN_CONFIG are made absolute against the current
 * directory, because kilnd changes directory and the socket path must stay right.
 */
#ifndef KILN_PATHS_H
#define KILN_PATHS_H

#include <stddef.h>

#include "kiln/err.h"

/* Every member is an absolute path owned by the struct (kiln_paths_free). */
struct kiln_paths {
    char *home;            /* the state dir */
    char *config_file;     /* may not exist: then the defaults apply */
    char *cloud_json;      /* kilnd's store */
    char *socket;          /* kilnd.sock: kilnd's API */
    char *lock_file;       /* kilnd.lock: one kilnd per state dir */
    char *packages_dir;    /* packages/: the local RPM repo */
    char *bases_dir;       /* bases/: base root filesystems (include/kiln/bases.h) */
    char *images_dir;      /* images/ */
    char *instances_dir;   /* instances/ */
    char *nginx_dir;       /* nginx/: the balancer's private prefix */
    char *journal_dir;     /* journal/ */
    char *history;         /* the audit history */
    char *events_log;      /* events.log */
    char *console_history; /* the console's : line history */
};

/* Fills paths from the options (NULL when not given) and the environment; on
 * failure paths is left empty. Call kiln_paths_free() in either case: it is safe
 * on a zeroed or already freed struct. Nothing is created on disk. */
int kiln_paths_resolve(struct kiln_paths *paths, const char *home_opt, const char *config_opt,
                       struct kiln_err *err);
void kiln_paths_free(struct kiln_paths *paths);

/* Makes sure the state dir exists, creating it (and missing parents) with mode
 * 0700. Refuses a state dir that is not a directory, not owned by the current
 * user, or writable by group or others (other users could then swap kilnd's
 * socket or an instance's files): the message gives the mode and the chmod that
 * fixes it. */
int kiln_paths_ensure_home(const struct kiln_paths *paths, struct kiln_err *err);

/* A UNIX socket path must fit in sockaddr_un.sun_path (108 bytes with the NUL
 * on Linux). Says how long the path is and what to do when it does not fit. */
int kiln_paths_check_socket(const char *socket_path, struct kiln_err *err);

/* Writes path into buf for messages, with $HOME/ shown as ~/. Returns buf. */
const char *kiln_path_display(const char *path, char *buf, size_t size);

#endif
