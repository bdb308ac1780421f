/* kiln: the bases of a state dir on disk: building, importing, listing, finding and
 * deleting them (see include/kiln/bases.h for the layout and why it is crash-safe). */
#include "kiln/bases.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kiln/atomic_file.h"
#include "kiln/fstree.h"
#include "kiln/spawn.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#define VARIANT          "minbase"
#define BUILD_TIMEOUT_MS (30 * 60 * 1000)
#define TAR_TIMEOUT_MS   (30 * 60 * 1000)
#define RPM_TIMEOUT_MS   (5 * 60 * 1000)
#define QUERY_TIMEOUT_MS (60 * 1000)
#define STAGING_PREFIX   ".build-"
#define DELETING_PREFIX  ".delete-"
#define NAMES_DIR        "names"
#define LOCK_FILE        ".lock"
#define CAPTURE_MAX      (16 * 1024 * 1024)
#define RECORD_MAX       (16 * 1024 * 1024)
#define MAX_DEPTH        256
#define BUILD_PHASES     9 /* mmdebstrap's six, then the provides, the freeze, the record */

/* mmdebstrap's phase lines, in order: each one reached is progress. */
static const char *const phases[] = {
    "I: running apt-get update",        "I: downloading packages",
    "I: extracting archives",           "I: installing essential packages",
    "I: installing remaining packages", "I: cleaning package lists",
};

struct job {
    const struct kiln_base_make_opts *o;
    int phase;
    struct kiln_strbuf *capture; /* stdout collected here instead of logged, when set */
    bool overflow;
};

static void say(const struct job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct job *j, const char *fmt, ...)
{
    if (j->o->on_line == NULL)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    j->o->on_line(j->o->ctx, line);
}

static void progress(struct job *j, int done)
{
    if (done > j->phase) {
        j->phase = done;
        if (j->o->on_progress != NULL)
            j->o->on_progress(j->o->ctx, done, BUILD_PHASES);
    }
}

static void on_line(void *ctx, enum kiln_stream stream, const char *line)
{
    struct job *j = ctx;
    if (stream == KILN_STREAM_STDOUT && j->capture != NULL) {
        if (j->capture->len + strlen(line) + 1 > CAPTURE_MAX) {
            j->overflow = true;
            return;
        }
        kiln_strbuf_append(j->capture, line);
        kiln_strbuf_appendc(j->capture, '\n');
        return;
    }
    for (size_t i = 0; i < sizeof phases / sizeof phases[0]; i++)
        if (strncmp(line, phases[i], strlen(phases[i])) == 0)
            progress(j, (int)i + 1);
    if (j->o->on_line != NULL)
        j->o->on_line(j->o->ctx, line);
}

static bool on_cancelled(void *ctx)
{
    struct job *j = ctx;
    return j->o->cancelled != NULL && j->o->cancelled(j->o->ctx);
}

/* Runs argv to completion; its stdout goes to capture when that is not NULL, every
 * other line to the log. `what` says what failed, for the message. */
static int run(struct job *j, const char *const *argv, const char *package, int64_t timeout_ms,
               struct kiln_strbuf *capture, const char *what, struct kiln_err *err)
{
    static const char *const env[] = {"LC_ALL=C.UTF-8", NULL};
    j->capture = capture;
    j->overflow = false;
    struct kiln_spawn_opts so = {
        .argv = argv,
        .env_add = env,
        .timeout_ms = timeout_ms,
        .on_line = on_line,
        .cancelled = on_cancelled,
        .ctx = j,
        .package = package,
    };
    int status = 0;
    int rc = kiln_spawn_run(&so, &status, err);
    j->capture = NULL;
    if (rc < 0) {
        kiln_err_prefix(err, "%s", what);
        return -1;
    }
    if (status != 0) {
        char *cmd = kiln_spawn_describe(argv);
        kiln_err_set(err, KILN_E_FAILED,
                     "%s: %.300s exited with status %d (its output is in the log)", what, cmd,
                     status);
        free(cmd);
        return -1;
    }
    if (j->overflow)
        return kiln_err_set(err, KILN_E_FAILED, "%s: %s printed more than %d bytes", what, argv[0],
                            CAPTURE_MAX);
    return 0;
}

int kiln_base_check_root(const char *what, struct kiln_err *err)
{
    if (geteuid() == 0)
        return 0;
    return kiln_err_set(err, KILN_E_FAILED,
                        "%s needs root: the packages and files of an OS root belong to many "
                        "users, which only root can create; run it as root (sudo kiln ...)",
                        what);
}

/* ---- lists of strings ---- */

static void strv_push_keep(char ***v, size_t *n, char *s)
{
    *v = xrealloc(*v, (*n + 1) * sizeof **v);
    (*v)[(*n)++] = s;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- paths, the lock ---- */

static char *path2(const char *a, const char *b)
{
    return xasprintf("%s/%s", a, b);
}

static char *record_path(const char *dir, const char *id)
{
    return xasprintf("%s/%s.json", dir, id);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int take_lock(const char *dir, struct kiln_err *err)
{
    if (kiln_mkdir_p(dir, 0700, err) < 0)
        return -1;
    char *names = path2(dir, NAMES_DIR);
    int rc = kiln_mkdir_p(names, 0700, err);
    free(names);
    if (rc < 0)
        return -1;
    char *p = path2(dir, LOCK_FILE);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        kiln_err_sys(err, errno, "cannot open %s", p);
        free(p);
        return -1;
    }
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            kiln_err_sys(err, errno, "cannot lock %s", p);
            close(fd);
            free(p);
            return -1;
        }
    }
    free(p);
    return fd;
}

static void drop_lock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing releases the flock */
}

/* ---- the immutable flag ---- */

/* Sets or clears FS_IMMUTABLE_FL (chattr +i). 1 when done, 0 when the file system has
 * no such flag, -1 with errno on failure. */
static int set_immutable(const char *path, bool on)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    int flags = 0;
    int rc = 1;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0) {
        rc = errno == ENOTTY || errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS ? 0 : -1;
    } else {
        int want = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
        if (want != flags && ioctl(fd, FS_IOC_SETFLAGS, &want) < 0)
            rc = errno == ENOTTY || errno == EOPNOTSUPP || errno == EINVAL ? 0 : -1;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* ---- mounts ---- */

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r != '\0'; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* The mount points at or under path (*under), and whether a mount names path in its
 * options (an overlayfs with it as a lowerdir: *as_source). */
static void find_mounts(const char *path, char ***under, size_t *n, bool *as_source)
{
    *under = NULL;
    *n = 0;
    if (as_source != NULL)
        *as_source = false;
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (f == NULL)
        return;
    size_t plen = strlen(path);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        /* id parent major:minor root mountpoint options ... - fstype source superoptions */
        char *save = NULL, *tok = strtok_r(line, " \n", &save);
        for (int i = 0; i < 4 && tok != NULL; i++)
            tok = strtok_r(NULL, " \n", &save);
        if (tok == NULL)
            continue;
        char *mp = xstrdup(tok);
        unescape(mp);
        if (strncmp(mp, path, plen) == 0 && (mp[plen] == '\0' || mp[plen] == '/'))
            strv_push_keep(under, n, mp);
        else
            free(mp);
        char *rest = save ? strstr(save, " - ") : NULL;
        if (as_source != NULL && rest != NULL) {
            char *opts = xstrdup(rest);
            unescape(opts);
            char *hit = strstr(opts, path);
            while (hit != NULL && !*as_source) {
                char after = hit[plen];
                char before = hit == opts ? ' ' : hit[-1];
                if ((before == '=' || before == ':' || before == ',' || before == ' ') &&
                    (after == '\0' || after == ':' || after == ',' || after == ' ' ||
                     after == '\n' || after == '/'))
                    *as_source = true;
                hit = strstr(hit + 1, path);
            }
            free(opts);
        }
    }
    free(line);
    fclose(f);
}

static int cmp_len_desc(const void *a, const void *b)
{
    size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
    return la < lb ? 1 : la > lb ? -1 : 0;
}

/* Detaches everything mounted at or under path, deepest first: a build that was killed
 * can leave mmdebstrap's /proc, /sys or /dev/pts mounted in its staging root. Fails if
 * something stays mounted, since removing the tree would then reach into it. */
static int detach_mounts(const char *path, struct kiln_err *err)
{
    char **mps;
    size_t n;
    find_mounts(path, &mps, &n, NULL);
    if (n > 1)
        qsort(mps, n, sizeof *mps, cmp_len_desc);
    for (size_t i = 0; i < n; i++)
        umount2(mps[i], MNT_DETACH | UMOUNT_NOFOLLOW);
    kiln_base_strv_free(mps, n);
    find_mounts(path, &mps, &n, NULL);
    int rc = 0;
    if (n > 0)
        rc = kiln_err_set(err, KILN_E_BUSY,
                          "%s is still mounted and could not be unmounted; "
                          "umount it, then try again",
                          mps[0]);
    kiln_base_strv_free(mps, n);
    return rc;
}

/* Removes a tree kiln made under bases/, its mounts detached and its top unfrozen. */
static int remove_tree(const char *path, struct kiln_err *err)
{
    if (!exists(path))
        return 0;
    if (detach_mounts(path, err) < 0)
        return -1;
    set_immutable(path, false);
    return kiln_tree_remove(path, err);
}

/* ---- inside a root: paths resolved as if it were / ---- */

/* openat2 with RESOLVE_IN_ROOT: an absolute symlink inside an imported tree (/bin/sh ->
 * /bin/dash) resolves inside the tree, never on this machine. */
static int open_in_root(const char *root, const char *rel, int flags)
{
    int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0)
        return -1;
    struct open_how how = {
        .flags = (unsigned long long)(flags | O_CLOEXEC),
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int)syscall(SYS_openat2, rfd, rel, &how, sizeof how);
    int saved = errno;
    close(rfd);
    errno = saved;
    return fd;
}

/* What rel is inside root (S_IFDIR, S_IFREG, ...), 0 when it does not exist. */
static mode_t type_in_root(const char *root, const char *rel)
{
    int fd = open_in_root(root, rel, O_PATH);
    if (fd < 0)
        return 0;
    struct stat st;
    mode_t t = fstat(fd, &st) == 0 ? st.st_mode & S_IFMT : 0;
    close(fd);
    return t;
}

/* A small text file of the root (os-release), or NULL. The caller frees it. */
static char *read_in_root(const char *root, const char *rel)
{
    int fd = open_in_root(root, rel, O_RDONLY);
    if (fd < 0)
        return NULL;
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    char buf[4096];
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0 && sb.len < 65536)
        kiln_strbuf_append_len(&sb, buf, (size_t)r);
    close(fd);
    return kiln_strbuf_detach(&sb, NULL);
}

/* Makes sure each component of rel ("var/lib/rpm") is a real directory of the root,
 * creating what is missing: rpm --root writes its database there, and a symlink in an
 * imported tree must not send it elsewhere on this machine. */
static int real_dirs(const char *root, const char *rel, struct kiln_err *err)
{
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    kiln_strbuf_append(&sb, root);
    const char *p = rel;
    int rc = 0;
    while (*p != '\0' && rc == 0) {
        size_t n = strcspn(p, "/");
        kiln_strbuf_appendc(&sb, '/');
        kiln_strbuf_append_len(&sb, p, n);
        struct stat st;
        if (lstat(sb.buf, &st) < 0) {
            if (errno != ENOENT || mkdir(sb.buf, 0755) < 0)
                rc = kiln_err_sys(err, errno, "cannot create %s", sb.buf);
        } else if (!S_ISDIR(st.st_mode)) {
            rc = kiln_err_set(err, KILN_E_INVALID,
                              "%s is not a directory (a symbolic link?); kiln will not let rpm "
                              "write its database through it",
                              sb.buf);
        }
        p += n;
        while (*p == '/')
            p++;
    }
    kiln_strbuf_free(&sb);
    return rc;
}

/* ---- names ---- */

static char *name_path(const char *dir, const char *name)
{
    return xasprintf("%s/%s/%s", dir, NAMES_DIR, name);
}

/* The id names/<name> points to; -1 with errno (ENOENT: no such name). */
static int read_name(const char *dir, const char *name, char id[KILN_BASE_ID_MAX])
{
    char *p = name_path(dir, name);
    ssize_t n = readlink(p, id, KILN_BASE_ID_MAX - 1);
    int saved = errno;
    free(p);
    if (n < 0) {
        errno = saved;
        return -1;
    }
    id[n] = '\0';
    if (kiln_base_id_validate(id, NULL) < 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* Every name in names/ (sorted), with the id each points to ("" when unreadable). */
static void all_names(const char *dir, char ***names, char ***ids, size_t *n)
{
    *names = NULL;
    *ids = NULL;
    *n = 0;
    char *nd = path2(dir, NAMES_DIR);
    DIR *d = opendir(nd);
    free(nd);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (kiln_base_name_validate(e->d_name, NULL) < 0)
            continue;
        strv_push_keep(names, n, xstrdup(e->d_name));
    }
    closedir(d);
    if (*n > 1)
        qsort(*names, *n, sizeof **names, cmp_str);
    *ids = xcalloc(*n ? *n : 1, sizeof **ids);
    for (size_t i = 0; i < *n; i++) {
        char id[KILN_BASE_ID_MAX];
        (*ids)[i] = xstrdup(read_name(dir, (*names)[i], id) == 0 ? id : "");
    }
}

static void attach_names(struct kiln_base *b, char *const *names, char *const *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], b->id) == 0)
            strv_push_keep(&b->names, &b->n_names, xstrdup(names[i]));
}

/* ---- records ---- */

static int load_record(const char *dir, const char *id, struct kiln_base *b, struct kiln_err *err)
{
    char *p = record_path(dir, id);
    char *text = NULL;
    int rc = kiln_read_file(p, &text, NULL, RECORD_MAX, err);
    if (rc == 0 && kiln_base_record_parse(text, b, err) < 0) {
        kiln_err_prefix(err, "%s", p);
        rc = -1;
    }
    if (rc == 0 && strcmp(b->id, id) != 0) {
        kiln_err_set(err, KILN_E_INVALID, "%s holds the record of another base, %s", p, b->id);
        kiln_base_free(b);
        rc = -1;
    }
    free(text);
    free(p);
    if (rc == 0)
        b->root = path2(dir, id);
    return rc;
}

static bool has_record(const char *dir, const char *id)
{
    char *p = record_path(dir, id);
    bool yes = exists(p);
    free(p);
    return yes;
}

/* ---- sweeping what crashed or killed changes left ---- */

/* Under the lock: staging dirs of processes that are gone, trees being deleted, trees
 * without a record (a commit cut short) and names of bases without one. */
static void sweep(const char *dir, const struct job *j)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    char **gone = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *s = e->d_name;
        if (strncmp(s, STAGING_PREFIX, strlen(STAGING_PREFIX)) == 0) {
            long pid = strtol(s + strlen(STAGING_PREFIX), NULL, 10);
            if (pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
                strv_push_keep(&gone, &n, xstrdup(s));
        } else if (strncmp(s, DELETING_PREFIX, strlen(DELETING_PREFIX)) == 0) {
            strv_push_keep(&gone, &n, xstrdup(s));
        } else if (kiln_base_id_validate(s, NULL) == 0 && !has_record(dir, s)) {
            strv_push_keep(&gone, &n, xstrdup(s));
        }
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        char *p = path2(dir, gone[i]);
        struct kiln_err err = {0};
        if (remove_tree(p, &err) == 0)
            say(j, "removed %s, left by a build, import or delete that did not finish", p);
        else
            say(j, "could not remove %s: %s", p, err.msg);
        free(p);
    }
    kiln_base_strv_free(gone, n);

    char **names, **ids;
    all_names(dir, &names, &ids, &n);
    for (size_t i = 0; i < n; i++) {
        if (ids[i][0] != '\0' && has_record(dir, ids[i]))
            continue;
        char *p = name_path(dir, names[i]);
        if (unlink(p) == 0)
            say(j, "removed the name %s: its base %s is gone", names[i],
                ids[i][0] ? ids[i] : "(unreadable)");
        free(p);
    }
    kiln_base_strv_free(names, n);
    kiln_base_strv_free(ids, n);
}

/* ---- size ---- */

struct usage {
    int64_t bytes, files;
    dev_t dev;
    /* hard links seen, so a file with several names counts once: open addressing */
    struct inode_key {
        dev_t dev;
        ino_t ino;
        bool used;
    } * seen;
    size_t cap, used;
};

static bool seen_before(struct usage *u, dev_t dev, ino_t ino)
{
    if (u->used * 2 >= u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 1024;
        struct inode_key *t = xcalloc(cap, sizeof *t);
        for (size_t i = 0; i < u->cap; i++) {
            if (!u->seen[i].used)
                continue;
            size_t h = (size_t)(u->seen[i].ino * 2654435761u) & (cap - 1);
            while (t[h].used)
                h = (h + 1) & (cap - 1);
            t[h] = u->seen[i];
        }
        free(u->seen);
        u->seen = t;
        u->cap = cap;
    }
    size_t h = (size_t)(ino * 2654435761u) & (u->cap - 1);
    while (u->seen[h].used) {
        if (u->seen[h].ino == ino && u->seen[h].dev == dev)
            return true;
        h = (h + 1) & (u->cap - 1);
    }
    u->seen[h] = (struct inode_key){dev, ino, true};
    u->used++;
    return false;
}

static void walk_usage(int dfd, struct usage *u, int depth)
{
    int copy = dup(dfd);
    DIR *d = copy >= 0 ? fdopendir(copy) : NULL;
    if (d == NULL) {
        if (copy >= 0)
            close(copy);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != u->dev)
            continue; /* gone meanwhile, or another file system mounted here */
        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && seen_before(u, st.st_dev, st.st_ino))
            continue;
        u->bytes += (int64_t)st.st_blocks * 512;
        u->files++;
        if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH) {
            int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                walk_usage(sub, u, depth + 1);
                close(sub);
            }
        }
    }
    closedir(d);
}

/* The tree's size on disk and its number of entries; syncs it first (syncfs), since
 * dpkg ran without fsync and the tree is about to be recorded as done. */
static int measure_and_sync(const char *root, struct kiln_base *b, struct kiln_err *err)
{
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kiln_err_sys(err, errno, "cannot open %s", root);
    if (syncfs(fd) < 0) {
        int e = errno;
        close(fd);
        return kiln_err_sys(err, e, "cannot sync %s to disk", root);
    }
    struct stat st;
    struct usage u = {0};
    if (fstat(fd, &st) == 0) {
        u.dev = st.st_dev;
        u.bytes = (int64_t)st.st_blocks * 512;
        walk_usage(fd, &u, 0);
    }
    close(fd);
    free(u.seen);
    b->size_bytes = u.bytes;
    b->files = u.files;
    return 0;
}

/* ---- the provides package ---- */

static bool program_name_ok(const char *s)
{
    /* What rpm takes in a spec's Provides: ("[" and names with spaces are left out). */
    if (s[0] == '\0' || s[0] == '.')
        return false;
    for (const char *p = s; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("._+-", *p) != NULL))
            return false;
    return true;
}

/* The programs of the root as absolute paths: /usr/bin/X, /usr/sbin/X, and /bin/X,
 * /sbin/X, whether those are directories or (merged /usr) links to usr/bin, usr/sbin.
 * rpm adds Requires: /bin/sh to every package with scriptlets, and the files of dpkg's
 * packages are not in rpm's database: these Provides are how it finds them. */
static void list_programs(const char *root, char ***files, size_t *n)
{
    static const char *const dirs[] = {"bin", "sbin", "usr/bin", "usr/sbin"};
    *files = NULL;
    *n = 0;
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char *p = path2(root, dirs[i]);
        const char *real = NULL;
        char target[PATH_MAX];
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISLNK(st.st_mode)) {
            ssize_t len = readlink(p, target, sizeof target - 1);
            if (len > 0) {
                target[len] = '\0';
                const char *t = target[0] == '/' ? target + 1 : target;
                if (strcmp(t, "usr/bin") == 0 || strcmp(t, "usr/sbin") == 0)
                    real = t;
            }
        } else if (S_ISDIR(st.st_mode)) {
            real = dirs[i];
        }
        free(p);
        if (real == NULL)
            continue;
        char *rp = path2(root, real);
        int dfd = open(rp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        free(rp);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (d == NULL) {
            if (dfd >= 0)
                close(dfd);
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            struct stat es;
            if (!program_name_ok(e->d_name) ||
                fstatat(dirfd(d), e->d_name, &es, AT_SYMLINK_NOFOLLOW) < 0 ||
                !(S_ISREG(es.st_mode) || S_ISLNK(es.st_mode)))
                continue;
            strv_push_keep(files, n, xasprintf("/%s/%s", dirs[i], e->d_name));
        }
        closedir(d);
    }
    if (*n > 1)
        qsort(*files, *n, sizeof **files, cmp_str);
}

size_t kiln_rpm_root_argv(const char **argv, const char *root, const char *dbpath)
{
    size_t k = 0;
    argv[k++] = "rpm";
    argv[k++] = "--root";
    argv[k++] = root;
    argv[k++] = "--dbpath";
    argv[k++] = dbpath;
    /* Debian's rpm refuses to install on a dpkg system unless told --force-debian, an
     * option only it knows: ask for it when this machine is such a system. */
    if (access("/var/lib/dpkg/status", F_OK) == 0)
        argv[k++] = "--force-debian";
    return k;
}

/* Writes %_dbpath into the root's /etc/rpm/macros.kiln, so the root's own rpm (run in a
 * chroot, which Debian builds with ~/.rpmdb as its default) uses the same database that
 * rpm --root --dbpath reached. */
static int write_rpm_macros(const char *root, struct kiln_err *err)
{
    int etc = open_in_root(root, "etc", O_PATH | O_DIRECTORY);
    if (etc < 0)
        return kiln_err_sys(err, errno, "cannot open %s/etc", root);
    if (mkdirat(etc, "rpm", 0755) < 0 && errno != EEXIST) {
        int e = errno;
        close(etc);
        return kiln_err_sys(err, e, "cannot create %s/etc/rpm", root);
    }
    close(etc);
    int dir = open_in_root(root, "etc/rpm", O_PATH | O_DIRECTORY);
    int fd = dir < 0 ? -1
                     : openat(dir, "macros.kiln",
                              O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    int e = errno;
    if (dir >= 0)
        close(dir);
    if (fd < 0)
        return kiln_err_sys(err, e, "cannot write %s/etc/rpm/macros.kiln", root);
    const char text[] = "# Written by kiln: the rpm database kiln put the base's provides in.\n"
                        "%_dbpath " KILN_BASE_RPM_DBPATH "\n";
    ssize_t w = write(fd, text, sizeof text - 1);
    e = errno;
    close(fd);
    if (w != (ssize_t)(sizeof text - 1))
        return kiln_err_sys(err, w < 0 ? e : EIO, "cannot write %s/etc/rpm/macros.kiln", root);
    return 0;
}

/* Builds the provides package for b's packages and installs it into the root's rpm
 * database with --justdb (no files: they are dpkg's). */
static int install_provides(struct job *j, const char *root, const char *staging,
                            struct kiln_base *b, struct kiln_err *err)
{
    char release[13];
    snprintf(release, sizeof release, "%.12s", b->digest + 7);
    char **files;
    size_t nf;
    list_programs(root, &files, &nf);
    struct kiln_strbuf spec = KILN_STRBUF_INIT, skipped = KILN_STRBUF_INIT;
    int rc = kiln_base_provides_spec(b->pkgs, b->n_pkgs, (const char *const *)files, nf, release,
                                     &spec, &skipped, err);
    if (rc == 0 && skipped.len > 0)
        say(j, "not told to rpm (versions rpm cannot take): %s", skipped.buf);
    say(j, "provides: %zu packages and %zu programs, for rpm's dependency checks", b->n_pkgs, nf);
    kiln_base_strv_free(files, nf);
    kiln_strbuf_free(&skipped);

    char *top = path2(staging, "rpm");
    char *specfile = path2(staging, "kiln-base-provides.spec");
    char *rpmfile =
        xasprintf("%s/RPMS/noarch/%s-1-%s.noarch.rpm", top, KILN_BASE_PROVIDES_RPM, release);
    char *define = xasprintf("_topdir %s", top);
    if (rc == 0)
        rc = kiln_atomic_write(specfile, spec.buf, spec.len, 0644, err);
    kiln_strbuf_free(&spec);
    if (rc == 0) {
        const char *argv[] = {"rpmbuild", "-bb", "--quiet", "--define", define, specfile, NULL};
        rc = run(j, argv, "rpm", RPM_TIMEOUT_MS, NULL, "cannot build the provides package", err);
    }
    if (rc == 0)
        rc = real_dirs(root, KILN_BASE_RPM_DBPATH + 1, err);
    if (rc == 0)
        rc = write_rpm_macros(root, err);
    if (rc == 0) {
        /* -U --replacepkgs: a root that has the package already (a base exported and
         * imported again) gets it replaced, one without gets it installed. */
        const char *argv[16];
        size_t k = kiln_rpm_root_argv(argv, root, KILN_BASE_RPM_DBPATH);
        argv[k++] = "-U";
        argv[k++] = "--justdb";
        argv[k++] = "--replacepkgs";
        argv[k++] = rpmfile;
        argv[k] = NULL;
        char *cmd = kiln_spawn_describe(argv);
        say(j, "$ %s", cmd);
        free(cmd);
        rc = run(j, argv, "rpm", RPM_TIMEOUT_MS, NULL,
                 "cannot install the provides package into the base's rpm database", err);
    }
    if (rc == 0) {
        /* What the bake will rely on: rpm answers for a Debian package. */
        struct kiln_strbuf out = KILN_STRBUF_INIT;
        const char *argv[] = {"rpm", "--root",         root,   "--dbpath", KILN_BASE_RPM_DBPATH,
                              "-q",  "--whatprovides", "dpkg", NULL};
        rc = run(j, argv, "rpm", QUERY_TIMEOUT_MS, &out,
                 "rpm does not see the base's Debian packages after the provides package went in",
                 err);
        kiln_strbuf_free(&out);
    }
    if (rc == 0) {
        free(b->provides);
        b->provides = xasprintf("%s-1-%s.noarch", KILN_BASE_PROVIDES_RPM, release);
        free(b->rpm_dbpath);
        b->rpm_dbpath = xstrdup(KILN_BASE_RPM_DBPATH);
    }
    free(top);
    free(specfile);
    free(rpmfile);
    free(define);
    return rc;
}

/* The root's dpkg packages (dpkg-query with its admindir), into b->pkgs. */
static int dpkg_packages(struct job *j, const char *root, struct kiln_base *b, struct kiln_err *err)
{
    char *admin = xasprintf("--admindir=%s/var/lib/dpkg", root);
    char *fmt = xasprintf("--showformat=%s", kiln_base_dpkg_format);
    const char *argv[] = {"dpkg-query", admin, fmt, "-W", NULL};
    struct kiln_strbuf out = KILN_STRBUF_INIT;
    int rc = run(j, argv, "dpkg", QUERY_TIMEOUT_MS, &out, "cannot list the base's packages", err);
    if (rc == 0)
        rc = kiln_base_dpkg_parse(out.buf ? out.buf : "", &b->pkgs, &b->n_pkgs, err);
    kiln_strbuf_free(&out);
    free(admin);
    free(fmt);
    return rc;
}

/* The packages of an rpm-based root (rpm -qa against its database). */
static int rpm_packages(struct job *j, const char *root, const char *dbpath, struct kiln_base *b,
                        struct kiln_err *err)
{
    char *qf = xstrdup(kiln_base_rpm_queryformat);
    const char *argv[] = {"rpm", "--root", root, "--dbpath", dbpath, "-qa", "--qf", qf, NULL};
    struct kiln_strbuf out = KILN_STRBUF_INIT;
    int rc =
        run(j, argv, "rpm", QUERY_TIMEOUT_MS, &out, "cannot list the root's rpm packages", err);
    if (rc == 0)
        rc = kiln_base_rpm_parse(out.buf ? out.buf : "", &b->pkgs, &b->n_pkgs, err);
    kiln_strbuf_free(&out);
    free(qf);
    return rc;
}

/* os-release, where systemd says it may be. */
static void read_os(const char *root, struct kiln_base *b, char *prefix, size_t size)
{
    char *text = read_in_root(root, "etc/os-release");
    if (text == NULL)
        text = read_in_root(root, "usr/lib/os-release");
    kiln_base_os_prefix(text, prefix, size);
    free(b->os);
    b->os = kiln_base_os_pretty(text);
    free(text);
}

/* ---- making a base: staging, committing ---- */

static char *make_staging(const char *dir, struct kiln_err *err)
{
    if (kiln_mkdir_p(dir, 0700, err) < 0)
        return NULL;
    char *tmpl = xasprintf("%s/%s%ld-XXXXXX", dir, STAGING_PREFIX, (long)getpid());
    if (mkdtemp(tmpl) == NULL) {
        kiln_err_sys(err, errno, "cannot create a staging directory in %s", dir);
        free(tmpl);
        return NULL;
    }
    return tmpl;
}

/* Fails when name is taken already (a quick look before a long build; commit looks
 * again under the lock). */
static int check_name_free(const char *dir, const char *name, struct kiln_err *err)
{
    char id[KILN_BASE_ID_MAX];
    if (read_name(dir, name, id) == 0 && has_record(dir, id))
        return kiln_err_set(err, KILN_E_EXISTS,
                            "there is a base named %s already (%s); delete it first (kiln base "
                            "delete %s) or choose another name",
                            name, id, name);
    return 0;
}

static int sync_dir_named(const char *dir, struct kiln_err *err)
{
    if (kiln_sync_dir(dir) < 0)
        return kiln_err_sys(err, errno, "cannot sync %s", dir);
    return 0;
}

/* Puts the staged root in place as base b (b->id set), freezes it, records it and
 * gives it its name, all under the lock. An identical base (its record there already)
 * only gets the name. */
static int commit(struct job *j, const char *root, struct kiln_base *b, bool *reused,
                  struct kiln_err *err)
{
    const char *dir = j->o->bases_dir;
    int lock = take_lock(dir, err);
    if (lock < 0)
        return -1;
    sweep(dir, j);
    int rc = check_name_free(dir, j->o->name, err);
    char *rec = record_path(dir, b->id), *dest = path2(dir, b->id);
    if (rc == 0 && has_record(dir, b->id)) {
        *reused = true;
        say(j, "an identical base is there already: %s; it gets the name %s", b->id, j->o->name);
    } else if (rc == 0) {
        progress(j, BUILD_PHASES - 1);
        if (rename(root, dest) < 0)
            rc = kiln_err_sys(err, errno, "cannot move the new base to %s", dest);
        if (rc == 0)
            rc = sync_dir_named(dir, err);
        char *json = rc == 0 ? kiln_base_record_json(b) : NULL;
        if (rc == 0)
            rc = kiln_atomic_create(rec, json, strlen(json), 0444, err);
        free(json);
        if (rc == 0) {
            int a = set_immutable(dest, true), r = set_immutable(rec, true);
            if (a == 0 || r == 0)
                say(j,
                    "this file system has no immutable flag: %s is read-only by convention "
                    "only",
                    b->id);
            else if (a < 0 || r < 0)
                say(j, "could not make %s immutable: %s", b->id, strerror(errno));
        }
        /* A tree without its record is a leftover: the next sweep removes it. */
    }
    if (rc == 0) {
        char *lnk = name_path(dir, j->o->name);
        unlink(lnk); /* a name left pointing to a base that is gone (swept above) */
        if (symlink(b->id, lnk) < 0)
            rc = kiln_err_sys(err, errno, "cannot create the name %s", lnk);
        free(lnk);
        char *nd = path2(dir, NAMES_DIR);
        if (rc == 0)
            rc = sync_dir_named(nd, err);
        free(nd);
    }
    if (rc == 0)
        progress(j, BUILD_PHASES);
    free(rec);
    free(dest);
    drop_lock(lock);
    return rc;
}

/* What build and import share once the tree is made and described: sync, measure,
 * commit, read back. */
static int finish(struct job *j, const char *staging, const char *root, struct kiln_base *b,
                  struct kiln_base *out, bool *reused, struct kiln_err *err)
{
    char when[KILN_ISO_TIME_MAX];
    free(b->created);
    b->created = xstrdup(kiln_time_iso(kiln_now_us(), when));
    free(b->name);
    b->name = xstrdup(j->o->name);
    int rc = measure_and_sync(root, b, err);
    if (rc == 0)
        rc = commit(j, root, b, reused, err);
    struct kiln_err rmerr = {0};
    if (remove_tree(staging, &rmerr) < 0)
        say(j, "could not clean up %s: %s", staging, rmerr.msg);
    if (rc == 0)
        rc = kiln_base_find(j->o->bases_dir, b->id, out, err);
    return rc;
}

static void base_init(struct kiln_base *b)
{
    memset(b, 0, sizeof *b);
    b->name = xstrdup("");
    b->source = xstrdup("");
    b->origin = xstrdup("");
    b->os = xstrdup("");
    b->package_db = xstrdup("none");
    b->rpm_dbpath = xstrdup("");
    b->provides = xstrdup("");
}

int kiln_base_build(const struct kiln_base_make_opts *o, struct kiln_base *out, bool *reused,
                    struct kiln_err *err)
{
    memset(out, 0, sizeof *out);
    *reused = false;
    struct job j = {.o = o};
    if (kiln_base_check_root("building a base", err) < 0 ||
        kiln_base_name_validate(o->name, err) < 0)
        return -1;
    if (o->n_packages == 0)
        return kiln_err_set(err, KILN_E_INVALID, "a base needs packages to install");
    struct kiln_strbuf include = KILN_STRBUF_INIT;
    for (size_t i = 0; i < o->n_packages; i++) {
        if (kiln_base_package_name_validate(o->packages[i], err) < 0) {
            kiln_strbuf_free(&include);
            return -1;
        }
        kiln_strbuf_appendf(&include, "%s%s", i ? "," : "--include=", o->packages[i]);
    }
    if (check_name_free(o->bases_dir, o->name, err) < 0) {
        kiln_strbuf_free(&include);
        return -1;
    }
    char *staging = make_staging(o->bases_dir, err);
    if (staging == NULL) {
        kiln_strbuf_free(&include);
        return -1;
    }
    char *root = path2(staging, "root");
    struct kiln_base b;
    base_init(&b);
    free(b.source);
    b.source = xstrdup("mmdebstrap");
    free(b.origin);
    b.origin = xstrdup(KILN_BASE_SUITE);
    for (size_t i = 0; i < o->n_packages; i++)
        strv_push_keep(&b.requested, &b.n_requested, xstrdup(o->packages[i]));

    const char *argv[] = {
        "mmdebstrap", "--mode=root", "--variant=" VARIANT, "--format=directory", include.buf,
        "--dpkgopt=force-unsafe-io",
        /* The staging dir is root's alone (0700): apt's _apt user could
         * not write there, so say the download runs as root. */
        "--aptopt=APT::Sandbox::User \"root\"", "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/info/*", "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-include=/usr/share/doc/*/copyright", KILN_BASE_SUITE, root, NULL};
    char *cmd = kiln_spawn_describe(argv);
    say(&j, "$ %s", cmd);
    free(cmd);
    char *what = xasprintf("cannot build base %s", o->name);
    int rc = run(&j, argv, "mmdebstrap", BUILD_TIMEOUT_MS, NULL, what, err);
    free(what);
    kiln_strbuf_free(&include);
    char prefix[48];
    if (rc == 0)
        rc = dpkg_packages(&j, root, &b, err);
    if (rc == 0) {
        read_os(root, &b, prefix, sizeof prefix);
        free(b.package_db);
        b.package_db = xstrdup("dpkg");
        kiln_base_digest_packages(KILN_BASE_SUITE, VARIANT, b.pkgs, b.n_pkgs, b.digest);
        kiln_base_make_id(prefix, b.digest, b.id);
        say(&j, "%zu packages installed; the base is %s", b.n_pkgs, b.id);
        progress(&j, BUILD_PHASES - 3);
        rc = install_provides(&j, root, staging, &b, err);
    }
    if (rc == 0)
        rc = finish(&j, staging, root, &b, out, reused, err);
    else {
        struct kiln_err rmerr = {0};
        if (remove_tree(staging, &rmerr) < 0)
            say(&j, "could not clean up %s: %s", staging, rmerr.msg);
    }
    kiln_base_free(&b);
    free(root);
    free(staging);
    return rc;
}

/* Where an rpm-based root keeps its database, or NULL. */
static const char *find_rpmdb(const char *root)
{
    static const char *const dbs[] = {"usr/lib/sysimage/rpm", "var/lib/rpm"};
    static const char *const files[] = {"rpmdb.sqlite", "Packages", "Packages.db"};
    for (size_t i = 0; i < 2; i++)
        for (size_t k = 0; k < 3; k++) {
            char *p = xasprintf("%s/%s", dbs[i], files[k]);
            mode_t t = type_in_root(root, p);
            free(p);
            if (t == S_IFREG)
                return dbs[i]; /* relative to the root: "/" is put in front by the caller */
        }
    return NULL;
}

/* Whether the unpacked tree looks like an OS root; *db is "dpkg", "rpm" or "none". */
static int check_root_shape(const char *root, const char *tarball, const char **db,
                            struct kiln_err *err)
{
    const char *missing = type_in_root(root, "usr") != S_IFDIR   ? "/usr"
                          : type_in_root(root, "etc") != S_IFDIR ? "/etc"
                                                                 : NULL;
    *db = type_in_root(root, "var/lib/dpkg/status") == S_IFREG ? "dpkg"
          : find_rpmdb(root) != NULL                           ? "rpm"
                                                               : "none";
    if (missing == NULL && strcmp(*db, "none") == 0 && type_in_root(root, "bin/sh") != S_IFREG)
        missing = "an rpm or dpkg database, or at least /bin/sh,";
    if (missing == NULL)
        return 0;
    return kiln_err_set(err, KILN_E_INVALID,
                        "%s does not look like a root filesystem: it has no %s; give a tarball "
                        "of a whole OS root (such as docker export of a container)",
                        tarball, missing);
}

int kiln_base_import(const struct kiln_base_make_opts *o, struct kiln_base *out, bool *reused,
                     struct kiln_err *err)
{
    memset(out, 0, sizeof *out);
    *reused = false;
    struct job j = {.o = o};
    if (kiln_base_check_root("importing a base", err) < 0 ||
        kiln_base_name_validate(o->name, err) < 0)
        return -1;
    struct stat st;
    if (o->tarball == NULL || stat(o->tarball, &st) < 0)
        return kiln_err_sys(err, o->tarball ? errno : ENOENT, "cannot import %s from %s", o->name,
                            o->tarball ? o->tarball : "(no --tar FILE)");
    if (!S_ISREG(st.st_mode))
        return kiln_err_set(err, KILN_E_INVALID, "%s is not a file; give a root tarball",
                            o->tarball);
    if (check_name_free(o->bases_dir, o->name, err) < 0)
        return -1;
    struct kiln_base b;
    base_init(&b);
    if (kiln_base_digest_file(o->tarball, b.digest, err) < 0) {
        kiln_base_free(&b);
        return -1;
    }
    char *staging = make_staging(o->bases_dir, err);
    if (staging == NULL) {
        kiln_base_free(&b);
        return -1;
    }
    char *root = path2(staging, "root");
    free(b.source);
    b.source = xstrdup("import");
    char abs[PATH_MAX];
    free(b.origin);
    b.origin = xstrdup(realpath(o->tarball, abs) ? abs : o->tarball);
    int rc = 0;
    if (mkdir(root, 0755) < 0)
        rc = kiln_err_sys(err, errno, "cannot create %s", root);
    if (rc == 0) {
        char *file = xasprintf("--file=%s", o->tarball);
        char *dir = xasprintf("--directory=%s", root);
        /* As root, tar keeps owners and modes (--same-owner, -p) and capabilities
         * (xattrs); it refuses members with .. and strips a leading /. */
        const char *argv[] = {"tar",
                              "--extract",
                              file,
                              dir,
                              "--numeric-owner",
                              "--same-owner",
                              "--preserve-permissions",
                              "--xattrs",
                              "--xattrs-include=*",
                              NULL};
        char *cmd = kiln_spawn_describe(argv);
        say(&j, "$ %s", cmd);
        free(cmd);
        char *what = xasprintf("cannot import %s: tar could not unpack %s", o->name, o->tarball);
        rc = run(&j, argv, "tar", TAR_TIMEOUT_MS, NULL, what, err);
        free(what);
        free(file);
        free(dir);
    }
    const char *db = "none";
    if (rc == 0)
        rc = check_root_shape(root, o->tarball, &db, err);
    char prefix[48];
    if (rc == 0) {
        read_os(root, &b, prefix, sizeof prefix);
        kiln_base_make_id(prefix, b.digest, b.id);
        free(b.package_db);
        b.package_db = xstrdup(db);
        say(&j, "%s is %s%s%s, packages by %s", o->tarball, b.id, b.os[0] ? ": " : "", b.os, db);
    }
    if (rc == 0 && strcmp(db, "dpkg") == 0) {
        rc = dpkg_packages(&j, root, &b, err);
        if (rc == 0) {
            /* The provides package is named by the package set, like a build's: the same
             * packages get the same provides whichever way the base came. */
            char pkg_digest[KILN_BASE_DIGEST_MAX], tar_digest[KILN_BASE_DIGEST_MAX];
            memcpy(tar_digest, b.digest, sizeof tar_digest);
            kiln_base_digest_packages(KILN_BASE_SUITE, VARIANT, b.pkgs, b.n_pkgs, pkg_digest);
            memcpy(b.digest, pkg_digest, sizeof b.digest);
            rc = install_provides(&j, root, staging, &b, err);
            memcpy(b.digest, tar_digest, sizeof b.digest);
        }
    } else if (rc == 0 && strcmp(db, "rpm") == 0) {
        const char *dbpath = find_rpmdb(root);
        free(b.rpm_dbpath);
        b.rpm_dbpath = xasprintf("/%s", dbpath);
        struct kiln_err qerr = {0};
        if (rpm_packages(&j, root, b.rpm_dbpath, &b, &qerr) < 0)
            say(&j, "the root's packages are not recorded: %s", qerr.msg);
    }
    if (rc == 0)
        rc = finish(&j, staging, root, &b, out, reused, err);
    else {
        struct kiln_err rmerr = {0};
        if (remove_tree(staging, &rmerr) < 0)
            say(&j, "could not clean up %s: %s", staging, rmerr.msg);
    }
    kiln_base_free(&b);
    free(root);
    free(staging);
    return rc;
}

/* ---- list, find, delete ---- */

static int cmp_newest(const void *a, const void *b)
{
    const struct kiln_base *x = a, *y = b;
    int c = strcmp(y->created, x->created);
    return c != 0 ? c : strcmp(x->id, y->id);
}

int kiln_base_list(const char *dir, struct kiln_base **out, size_t *n, struct kiln_err *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT)
            return 0;
        return kiln_err_sys(err, errno, "cannot read %s", dir);
    }
    char **names, **ids;
    size_t nn;
    all_names(dir, &names, &ids, &nn);
    struct kiln_base *v = NULL;
    size_t k = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && rc == 0) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        char id[KILN_BASE_ID_MAX];
        snprintf(id, sizeof id, "%.*s", (int)(len - 5), e->d_name);
        if (kiln_base_id_validate(id, NULL) < 0)
            continue;
        struct kiln_base b;
        if (load_record(dir, id, &b, err) < 0) {
            rc = -1;
            break;
        }
        attach_names(&b, names, ids, nn);
        v = xrealloc(v, (k + 1) * sizeof *v);
        v[k++] = b;
    }
    closedir(d);
    kiln_base_strv_free(names, nn);
    kiln_base_strv_free(ids, nn);
    if (rc < 0) {
        kiln_base_list_free(v, k);
        return -1;
    }
    if (k > 1)
        qsort(v, k, sizeof *v, cmp_newest);
    *out = v;
    *n = k;
    return 0;
}

void kiln_base_list_free(struct kiln_base *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kiln_base_free(&v[i]);
    free(v);
}

/* "default, flask" or "none yet", for messages. */
static void names_there(const char *dir, char *buf, size_t size)
{
    char **names, **ids;
    size_t n;
    all_names(dir, &names, &ids, &n);
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    for (size_t i = 0; i < n; i++)
        if (ids[i][0] && has_record(dir, ids[i]))
            kiln_strbuf_appendf(&sb, "%s%s", sb.len ? ", " : "", names[i]);
    snprintf(buf, size, "%s", sb.len ? sb.buf : "none yet");
    kiln_strbuf_free(&sb);
    kiln_base_strv_free(names, n);
    kiln_base_strv_free(ids, n);
}

int kiln_base_find(const char *dir, const char *name_or_id, struct kiln_base *out,
                   struct kiln_err *err)
{
    memset(out, 0, sizeof *out);
    bool is_id = kiln_base_id_validate(name_or_id, NULL) == 0;
    if (!is_id && kiln_base_name_validate(name_or_id, err) < 0)
        return -1;
    char id[KILN_BASE_ID_MAX];
    if (is_id)
        snprintf(id, sizeof id, "%s", name_or_id);
    else if (read_name(dir, name_or_id, id) < 0)
        id[0] = '\0';
    if (id[0] == '\0' || !has_record(dir, id)) {
        char there[512];
        names_there(dir, there, sizeof there);
        return kiln_err_set(err, KILN_E_NOTFOUND,
                            "there is no base %s (bases: %s); build one with kiln base build%s%s",
                            name_or_id, there, is_id ? "" : " ", is_id ? "" : name_or_id);
    }
    if (load_record(dir, id, out, err) < 0)
        return -1;
    char **names, **ids;
    size_t n;
    all_names(dir, &names, &ids, &n);
    attach_names(out, names, ids, n);
    kiln_base_strv_free(names, n);
    kiln_base_strv_free(ids, n);
    return 0;
}

/* Removes base id: record first (the base is gone for every reader at once), then the
 * tree, renamed aside so a crash meanwhile leaves only a .delete- leftover. */
static int remove_base(const char *dir, const char *id, struct kiln_err *err)
{
    char *rec = record_path(dir, id), *tree = path2(dir, id);
    char *aside = xasprintf("%s/%s%s-%ld", dir, DELETING_PREFIX, id, (long)getpid());
    int rc = 0;
    set_immutable(rec, false);
    if (unlink(rec) < 0 && errno != ENOENT)
        rc = kiln_err_sys(err, errno, "cannot remove %s", rec);
    if (rc == 0)
        rc = sync_dir_named(dir, err);
    if (rc == 0 && exists(tree)) {
        set_immutable(tree, false);
        if (rename(tree, aside) < 0)
            rc = kiln_err_sys(err, errno, "cannot move %s aside", tree);
        if (rc == 0)
            rc = remove_tree(aside, err);
    }
    free(rec);
    free(tree);
    free(aside);
    return rc;
}

/* Refuses to delete a base something is mounted on or from (a bake or an instance). */
static int check_unused(const char *dir, const char *id, struct kiln_err *err)
{
    char *tree = path2(dir, id);
    char **mps;
    size_t n;
    bool source;
    find_mounts(tree, &mps, &n, &source);
    int rc = 0;
    if (n > 0 || source)
        rc = kiln_err_set(err, KILN_E_BUSY,
                          "base %s is in use: %s; stop what uses it (an image being baked, an "
                          "instance), then delete it",
                          id,
                          n > 0 ? "something is mounted inside its tree"
                                : "a mount (an overlay) is made from it");
    kiln_base_strv_free(mps, n);
    free(tree);
    return rc;
}

int kiln_base_delete(const char *dir, const char *name_or_id, char *deleted_id,
                     struct kiln_err *err)
{
    if (deleted_id != NULL)
        deleted_id[0] = '\0';
    bool is_id = kiln_base_id_validate(name_or_id, NULL) == 0;
    if (!is_id && kiln_base_name_validate(name_or_id, err) < 0)
        return -1;
    struct kiln_base_make_opts quiet = {.bases_dir = dir};
    struct job j = {.o = &quiet};
    int lock = take_lock(dir, err);
    if (lock < 0)
        return -1;
    sweep(dir, &j);
    char id[KILN_BASE_ID_MAX] = "";
    char **names, **ids;
    size_t n;
    all_names(dir, &names, &ids, &n);
    int rc = 0;
    if (is_id)
        snprintf(id, sizeof id, "%s", name_or_id);
    else if (read_name(dir, name_or_id, id) < 0)
        id[0] = '\0';
    if (id[0] == '\0' || !has_record(dir, id)) {
        char there[512];
        names_there(dir, there, sizeof there);
        rc = kiln_err_set(err, KILN_E_NOTFOUND, "there is no base %s (bases: %s)", name_or_id,
                          there);
    }
    /* The names pointing to it, but for the one being deleted. */
    struct kiln_strbuf others = KILN_STRBUF_INIT;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (strcmp(ids[i], id) == 0 && (is_id || strcmp(names[i], name_or_id) != 0))
            kiln_strbuf_appendf(&others, "%s%s", others.len ? ", " : "", names[i]);
    if (rc == 0 && is_id && others.len > 0)
        rc = kiln_err_set(err, KILN_E_BUSY,
                          "base %s still has names (%s); delete those (kiln base delete NAME) "
                          "and the base goes with the last",
                          id, others.buf);
    bool last = others.len == 0;
    if (rc == 0 && last)
        rc = check_unused(dir, id, err);
    if (rc == 0 && !is_id) {
        char *lnk = name_path(dir, name_or_id);
        if (unlink(lnk) < 0)
            rc = kiln_err_sys(err, errno, "cannot remove the name %s", lnk);
        free(lnk);
        char *nd = path2(dir, NAMES_DIR);
        if (rc == 0)
            rc = sync_dir_named(nd, err);
        free(nd);
    }
    if (rc == 0 && last) {
        rc = remove_base(dir, id, err);
        if (rc == 0 && deleted_id != NULL)
            snprintf(deleted_id, KILN_BASE_ID_MAX, "%s", id);
    }
    kiln_strbuf_free(&others);
    kiln_base_strv_free(names, n);
    kiln_base_strv_free(ids, n);
    drop_lock(lock);
    return rc;
}
