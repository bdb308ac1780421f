/* kiln: where state and configuration live (see include/kiln/paths.h). */
#include "kiln/paths.h"
#include "kiln/shellwords.h"

#include <errno.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "kiln/strbuf.h"
#include "kiln/xalloc.h"

#define HOME_HINT "choose another state directory with --home DIR or KILN_HOME"

/* The value of an environment variable, or NULL when it is unset or empty. */
static const char *env_value(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* An absolute base directory from an XDG variable; the spec says relative ones
 * are invalid and must be ignored. */
static const char *xdg_value(const char *name)
{
    const char *v = env_value(name);
    return v != NULL && v[0] == '/' ? v : NULL;
}

/* The user's home: $HOME, else the password database, for daemons and cron jobs
 * started without one. */
static const char *user_home(struct kiln_err *err)
{
    const char *h = xdg_value("HOME");
    if (h != NULL)
        return h;
    struct passwd *pw = getpwuid(getuid());
    if (pw != NULL && pw->pw_dir != NULL && pw->pw_dir[0] == '/')
        return pw->pw_dir;
    kiln_err_set(err, KILN_E_FAILED,
                 "cannot find your home directory: HOME is not set and uid %u has no entry in "
                 "the password database; set HOME, or KILN_HOME and KILN_CONFIG",
                 (unsigned)getuid());
    return NULL;
}

/* A malloc'd absolute copy of path: relative paths are taken from the current
 * directory; repeated and trailing slashes and "." parts are dropped. ".." is
 * kept, since with symlinks it cannot be resolved by text alone. */
static char *absolute_path(const char *path, const char *what, struct kiln_err *err)
{
    struct kiln_strbuf raw;
    kiln_strbuf_init(&raw);
    if (path[0] != '/') {
        char *cwd = getcwd(NULL, 0);
        if (cwd == NULL) {
            kiln_strbuf_free(&raw);
            kiln_err_set(err, KILN_E_IO,
                         "cannot make the %s %s absolute: the current directory is unknown "
                         "(%s); give an absolute path",
                         what, path, strerror(errno));
            return NULL;
        }
        kiln_strbuf_append(&raw, cwd);
        kiln_strbuf_appendc(&raw, '/');
        free(cwd);
    }
    kiln_strbuf_append(&raw, path);

    const char *s = kiln_strbuf_str(&raw);
    struct kiln_strbuf out;
    kiln_strbuf_init(&out);
    for (const char *p = s; *p != '\0';) {
        while (*p == '/')
            p++;
        size_t len = strcspn(p, "/");
        if (len == 0 || (len == 1 && p[0] == '.')) {
            p += len;
            continue;
        }
        kiln_strbuf_appendc(&out, '/');
        kiln_strbuf_append_len(&out, p, len);
        p += len;
    }
    if (kiln_strbuf_str(&out)[0] == '\0')
        kiln_strbuf_appendc(&out, '/');
    kiln_strbuf_free(&raw);
    return kiln_strbuf_detach(&out, NULL);
}

static char *join(const char *dir, const char *name)
{
    return xasprintf("%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name);
}

int kiln_paths_resolve(struct kiln_paths *paths, const char *home_opt, const char *config_opt,
                       struct kiln_err *err)
{
    memset(paths, 0, sizeof *paths);

    const char *home = home_opt != NULL && home_opt[0] != '\0' ? home_opt : env_value("KILN_HOME");
    const char *what = home_opt != NULL && home_opt[0] != '\0' ? "--home directory" : "KILN_HOME";
    const char *xdg;
    const char *uhome = NULL;
    if (home != NULL) {
        paths->home = absolute_path(home, what, err);
    } else if ((xdg = xdg_value("XDG_STATE_HOME")) != NULL) {
        char *p = join(xdg, "kiln");
        paths->home = absolute_path(p, "XDG_STATE_HOME directory", err);
        free(p);
    } else if ((uhome = user_home(err)) != NULL) {
        char *p = join(uhome, ".local/state/kiln");
        paths->home = absolute_path(p, "home directory", err);
        free(p);
    }
    if (paths->home == NULL)
        goto fail;

    const char *config =
        config_opt != NULL && config_opt[0] != '\0' ? config_opt : env_value("KILN_CONFIG");
    what = config_opt != NULL && config_opt[0] != '\0' ? "--config file" : "KILN_CONFIG file";
    if (config != NULL) {
        paths->config_file = absolute_path(config, what, err);
    } else if ((xdg = xdg_value("XDG_CONFIG_HOME")) != NULL) {
        char *p = join(xdg, "kiln/config");
        paths->config_file = absolute_path(p, "XDG_CONFIG_HOME directory", err);
        free(p);
    } else if ((uhome = user_home(err)) != NULL) {
        char *p = join(uhome, ".config/kiln/config");
        paths->config_file = absolute_path(p, "home directory", err);
        free(p);
    }
    if (paths->config_file == NULL)
        goto fail;

    paths->cloud_json = join(paths->home, "cloud.json");
    paths->socket = join(paths->home, "kilnd.sock");
    paths->lock_file = join(paths->home, "kilnd.lock");
    paths->packages_dir = join(paths->home, "packages");
    paths->bases_dir = join(paths->home, "bases");
    paths->images_dir = join(paths->home, "images");
    paths->instances_dir = join(paths->home, "instances");
    paths->nginx_dir = join(paths->home, "nginx");
    paths->journal_dir = join(paths->home, "journal");
    paths->history = join(paths->home, "history");
    paths->events_log = join(paths->home, "events.log");
    paths->console_history = join(paths->home, "console_history");
    return 0;

fail:
    kiln_paths_free(paths);
    return -1;
}

void kiln_paths_free(struct kiln_paths *paths)
{
    char **all[] = {&paths->home,
                    &paths->config_file,
                    &paths->cloud_json,
                    &paths->socket,
                    &paths->lock_file,
                    &paths->packages_dir,
                    &paths->images_dir,
                    &paths->instances_dir,
                    &paths->nginx_dir,
                    &paths->journal_dir,
                    &paths->history,
                    &paths->events_log,
                    &paths->console_history,
                    &paths->bases_dir};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        free(*all[i]);
        *all[i] = NULL;
    }
}

const char *kiln_path_display(const char *path, char *buf, size_t size)
{
    const char *home = env_value("HOME");
    size_t n = home != NULL ? strlen(home) : 0;
    while (n > 1 && home[n - 1] == '/')
        n--;
    if (n > 1 && strncmp(path, home, n) == 0 && (path[n] == '/' || path[n] == '\0'))
        snprintf(buf, size, "~%s", path + n);
    else
        snprintf(buf, size, "%s", path);
    return buf;
}

/* mkdir -p with mode 0700 for every directory it creates. path is modified while
 * it runs and restored before it returns. */
static int make_dirs(char *path, struct kiln_err *err)
{
    char shown[4096];
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            int e = errno;
            kiln_err_set(err, KILN_E_IO, "cannot create the directory %s (%s); " HOME_HINT,
                         kiln_path_display(path, shown, sizeof shown), strerror(e));
            *p = saved;
            return -1;
        }
        *p = saved;
        if (saved == '\0')
            return 0;
    }
}

static const char *user_name(uid_t uid, char *buf, size_t size)
{
    struct passwd *pw = getpwuid(uid);
    snprintf(buf, size, "%s", pw != NULL && pw->pw_name != NULL ? pw->pw_name : "?");
    return buf;
}

int kiln_paths_ensure_home(const struct kiln_paths *paths, struct kiln_err *err)
{
    const char *home = paths->home;
    char shown[4096];
    struct stat st;

    kiln_path_display(home, shown, sizeof shown);
    if (stat(home, &st) < 0) {
        if (errno != ENOENT) {
            return kiln_err_set(err, KILN_E_IO,
                                "cannot use the state directory %s (%s); " HOME_HINT, shown,
                                strerror(errno));
        }
        char *copy = xstrdup(home);
        int rc = make_dirs(copy, err);
        free(copy);
        if (rc < 0)
            return -1;
        /* mkdir's mode went through the umask; say exactly what we mean. */
        if (chmod(home, 0700) < 0 || stat(home, &st) < 0) {
            return kiln_err_set(err, KILN_E_IO,
                                "cannot set up the state directory %s (%s); " HOME_HINT, shown,
                                strerror(errno));
        }
    }

    if (!S_ISDIR(st.st_mode)) {
        return kiln_err_set(err, KILN_E_INVALID,
                            "the state directory %s exists but is not a directory; move it "
                            "away, or " HOME_HINT,
                            shown);
    }
    if (st.st_uid != geteuid()) {
        char owner[64], me[64];
        return kiln_err_set(err, KILN_E_INVALID,
                            "the state directory %s belongs to %s (uid %u), not to you (%s, uid "
                            "%u); kiln keeps its socket and instances there, so it must be "
                            "yours: " HOME_HINT,
                            shown, user_name(st.st_uid, owner, sizeof owner), (unsigned)st.st_uid,
                            user_name(geteuid(), me, sizeof me), (unsigned)geteuid());
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        const char *who = (st.st_mode & S_IWGRP) && (st.st_mode & S_IWOTH) ? "its group and others"
                          : (st.st_mode & S_IWGRP)                         ? "its group"
                                                                           : "others";
        struct kiln_strbuf fix;
        kiln_strbuf_init(&fix);
        kiln_sh_quote(&fix, home);
        kiln_err_set(err, KILN_E_INVALID,
                     "the state directory %s has mode %04o, so %s can write to it and could "
                     "replace kilnd's socket or an instance's files; kiln refuses to use it. "
                     "Fix it with: chmod 700 %s",
                     shown, (unsigned)(st.st_mode & 07777), who, kiln_strbuf_str(&fix));
        kiln_strbuf_free(&fix);
        return -1;
    }
    return 0;
}

int kiln_paths_check_socket(const char *socket_path, struct kiln_err *err)
{
    size_t max = sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1;
    size_t n = strlen(socket_path);
    if (n <= max)
        return 0;
    char shown[4096];
    return kiln_err_set(err, KILN_E_INVALID,
                        "the socket path %s is %zu bytes long, but a UNIX socket path can have "
                        "at most %zu; " HOME_HINT " whose path is at least %zu bytes shorter",
                        kiln_path_display(socket_path, shown, sizeof shown), n, max, n - max);
}
