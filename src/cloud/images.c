/* kilnd: images, baked from packages (doc/design.md, "Images and the bake cache": the
 * package installed into a clean root, frozen).
 *
 * A bake installs the RPM with rpm --root into a fresh temporary root under images/,
 * digests the tree, makes it read-only and renames it to images/img-<digest>: the image
 * appears whole or not at all, and its name says what is in it.
 *
 * Decisions, and why:
 * - Scriptlets are not run (--noscripts --notriggers, and the log says which ones the
 *   package has). The local base is empty: there is no /bin/sh in the root for them
 *   to run with, and running them with the host's shell outside a chroot (which needs
 *   root) would let a package's %post change this machine. The example app has none.
 * - The rpm database is not part of the image. rpm keeps it at /.kiln-rpmdb inside the
 *   root (a path no package owns), and it is removed before the digest: it holds install
 *   times, so it would make two bakes of one package differ, and SQLite's -shm/-wal
 *   files have no business in a read-only tree. images/<id>.json records the package.
 * - The digest is sha256 over a canonical walk: entries sorted by name in each
 *   directory; for each its path, type, permission bits as frozen, and its contents
 *   (files) or target (symlinks). Owners and times are left out: rpm run by an ordinary
 *   user cannot set owners, and times say when, not what. Directory modes are left out
 *   too: the freeze makes every directory 0555 whatever the umask made it.
 * - Same content baked from another NVR (rare: a rebuild with nothing changed but the
 *   release compiled into nothing) reuses the existing image; the image's record keeps
 *   the package it was first baked from.
 */
#include "cloud/cloud.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cJSON.h>

#include "kiln/atomic_file.h"
#include "kiln/bases.h"
#include "kiln/fstree.h"
#include "kiln/spawn.h"
#include "kiln/strbuf.h"
#include "kiln/tail.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#define RPMDB_IN_ROOT      "/.kiln-rpmdb"
#define BAKE_PREFIX        ".bake-"
#define INSTALL_TIMEOUT_MS (10 * 60 * 1000)
#define QUERY_TIMEOUT_MS   60000
#define TAIL_BUDGET        512
#define MAX_DEPTH          512
#define IO_BUF             (1 << 16)

struct bake_log {
    void (*on_line)(void *ctx, const char *line);
    void *ctx;
};

__attribute__((format(printf, 2, 3))) static void say(const struct bake_log *log, const char *fmt,
                                                      ...)
{
    if (log->on_line == NULL)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log->on_line(log->ctx, line);
}

/* ---- running rpm ---- */

struct rpm_run {
    const struct bake_log *log; /* NULL: keep the output to ourselves */
    struct kiln_strbuf out;
    struct kiln_strbuf all; /* both streams, one line each */
    struct kiln_tail tail;
};

static void rpm_line(void *ctx, enum kiln_stream stream, const char *line)
{
    struct rpm_run *r = ctx;
    kiln_tail_add(&r->tail, line);
    if (stream == KILN_STREAM_STDOUT) {
        kiln_strbuf_append(&r->out, line);
        kiln_strbuf_appendc(&r->out, '\n');
    }
    if (r->all.len < (1 << 20)) {
        kiln_strbuf_append(&r->all, line);
        kiln_strbuf_appendc(&r->all, '\n');
    }
    if (r->log != NULL)
        say(r->log, "%s", line);
}

/* Runs rpm with argv; -1 when it cannot run or fails, err saying `what` and rpm's last
 * lines. r->out has its stdout either way (the caller frees it). */
static int run_rpm(const char *const *argv, int64_t timeout_ms, struct rpm_run *r, const char *what,
                   struct kiln_err *err)
{
    struct kiln_spawn_opts so = {
        .argv = argv, .on_line = rpm_line, .ctx = r, .timeout_ms = timeout_ms, .package = "rpm"};
    int status = 0;
    if (kiln_spawn_run(&so, &status, err) < 0) {
        if (err != NULL && err->code == KILN_E_NOTFOUND)
            kiln_err_set(err, KILN_E_NOTFOUND, "rpm is not installed: apt-get install rpm");
        else
            kiln_err_prefix(err, "%s", what);
        return -1;
    }
    if (status != 0) {
        struct kiln_strbuf sb = KILN_STRBUF_INIT;
        kiln_tail_format(&r->tail, &sb, TAIL_BUDGET);
        kiln_err_set(err, KILN_E_FAILED, "%s: rpm exited with status %d%s%s", what, status,
                     sb.len ? ":" : "", kiln_strbuf_str(&sb));
        kiln_strbuf_free(&sb);
        return -1;
    }
    return 0;
}

/* Says which install-time scriptlets the package has, since they will not run. */
static int report_scriptlets(const char *file, const char *nvr, const struct bake_log *log,
                             struct kiln_err *err)
{
    /* A scriptlet is a body (PREIN) or only an interpreter (PREINPROG: %post -p
     * /sbin/ldconfig); either counts. */
    const char *argv[] = {"rpm",
                          "-qp",
                          "--nomanifest",
                          "--nosignature",
                          "--qf",
                          "%|PREIN?{pre }|%|PREINPROG?{pre }|%|POSTIN?{post }|"
                          "%|POSTINPROG?{post }|%|PRETRANS?{pretrans }|"
                          "%|PRETRANSPROG?{pretrans }|%|POSTTRANS?{posttrans }|"
                          "%|POSTTRANSPROG?{posttrans }|%|TRIGGERNAME?{triggers }|\n",
                          file,
                          NULL};
    struct rpm_run r = {0};
    char *what = xasprintf("cannot bake %s: rpm cannot read the package %s", nvr, file);
    int rc = run_rpm(argv, QUERY_TIMEOUT_MS, &r, what, err);
    free(what);
    if (rc == 0) {
        const char *order[] = {"pretrans", "pre", "post", "posttrans", "triggers"};
        struct kiln_strbuf has = KILN_STRBUF_INIT;
        for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
            /* Whole words only: "post " is inside "posttrans " too. */
            char *word = xasprintf("%s ", order[i]);
            const char *out = kiln_strbuf_str(&r.out);
            bool found = false;
            for (const char *p = out; !found && (p = strstr(p, word)) != NULL; p++)
                found = p == out || p[-1] == ' ';
            free(word);
            if (found)
                kiln_strbuf_appendf(&has, "%s%s%s", has.len ? ", " : "",
                                    strcmp(order[i], "triggers") ? "%" : "", order[i]);
        }
        if (has.len == 0)
            say(log,
                "--noscripts: the local base image has no /bin/sh, so scriptlets are "
                "skipped; %s has none",
                nvr);
        else
            say(log,
                "--noscripts: the local base image has no /bin/sh, so scriptlets are "
                "skipped; NOT run from %s: %s",
                nvr, has.buf);
        kiln_strbuf_free(&has);
    }
    kiln_strbuf_free(&r.out);
    kiln_strbuf_free(&r.all);
    return rc;
}

/* ---- the digest and the freeze ---- */

struct walk {
    EVP_MD_CTX *md;
    struct kiln_strbuf rel; /* the entry's path relative to the root, "" for the root */
    char *buf;
    size_t files, bytes;
    struct kiln_err *err;
    const char *root;
    bool freeze; /* make it read-only as it goes (files images); a root keeps its modes */
};

static void digest_record(struct walk *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void digest_record(struct walk *w, const char *fmt, ...)
{
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    kiln_strbuf_vappendf(&sb, fmt, ap);
    va_end(ap);
    /* Lengths in front of every variable part: no two trees give the same byte stream. */
    EVP_DigestUpdate(w->md, sb.buf, sb.len);
    kiln_strbuf_free(&sb);
}

static int walk_fail(struct walk *w, int errnum, const char *what)
{
    return kiln_err_sys(w->err, errnum, "cannot bake: %s %s/%s", what, w->root, w->rel.buf);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of the directory open as fd, sorted (caller frees each and the array). */
static int sorted_names(int fd, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int dfd = dup(fd);
    DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
    if (d == NULL) {
        int saved = errno;
        if (dfd >= 0)
            close(dfd);
        errno = saved;
        return -1;
    }
    size_t cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, cap * sizeof **out);
        }
        (*out)[(*n)++] = xstrdup(de->d_name);
        errno = 0;
    }
    int saved = errno;
    closedir(d);
    if (saved != 0) {
        errno = saved;
        return -1;
    }
    if (*n > 1)
        qsort(*out, *n, sizeof **out, cmp_names);
    return 0;
}

static int walk_file(struct walk *w, int dirfd, const char *name, const struct stat *st)
{
    mode_t frozen = st->st_mode & 07777 & ~(mode_t)0222;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == EACCES && fchmodat(dirfd, name, (st->st_mode & 07777) | 0400, 0) == 0)
        fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC); /* a 0000 file */
    if (fd < 0)
        return walk_fail(w, errno, "cannot read");
    struct stat now;
    if (fstat(fd, &now) < 0 || now.st_ino != st->st_ino || !S_ISREG(now.st_mode)) {
        close(fd);
        return kiln_err_set(w->err, KILN_E_IO, "cannot bake: %s/%s changed while it was read",
                            w->root, w->rel.buf);
    }
    digest_record(w, "f %04o %zu:%s %lld:", (unsigned)frozen, w->rel.len, w->rel.buf,
                  (long long)st->st_size);
    long long total = 0;
    for (;;) {
        ssize_t n = read(fd, w->buf, IO_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            close(fd);
            return walk_fail(w, saved, "cannot read");
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(w->md, w->buf, (size_t)n);
        total += n;
    }
    /* The size is in the record before the bytes: they must agree, or a file that grew
     * meanwhile would make the stream ambiguous. */
    if (total != (long long)st->st_size) {
        close(fd);
        return kiln_err_set(w->err, KILN_E_IO, "cannot bake: %s/%s changed while it was read",
                            w->root, w->rel.buf);
    }
    EVP_DigestUpdate(w->md, "\n", 1);
    /* The image must survive a power cut once its name says it is complete. */
    if (fsync(fd) < 0 || (w->freeze && fchmod(fd, frozen) < 0)) {
        int saved = errno;
        close(fd);
        return walk_fail(w, saved, "cannot freeze");
    }
    close(fd);
    w->files++;
    w->bytes += (size_t)st->st_size;
    return 0;
}

static int walk_dir(struct walk *w, int fd, int depth);

static int walk_entry(struct walk *w, int dirfd, const char *name, int depth)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return walk_fail(w, errno, "cannot stat");
    mode_t frozen = st.st_mode & 07777 & ~(mode_t)0222;
    if (S_ISREG(st.st_mode))
        return walk_file(w, dirfd, name, &st);
    if (S_ISDIR(st.st_mode)) {
        digest_record(w, "d %zu:%s\n", w->rel.len, w->rel.buf);
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return walk_fail(w, errno, "cannot open");
        int rc = walk_dir(w, fd, depth + 1);
        close(fd);
        return rc;
    }
    if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = readlinkat(dirfd, name, target, sizeof target - 1);
        if (n < 0)
            return walk_fail(w, errno, "cannot read the link");
        target[n] = '\0';
        digest_record(w, "l %zu:%s %zd:%s\n", w->rel.len, w->rel.buf, n, target);
        return 0;
    }
    char type = S_ISCHR(st.st_mode)    ? 'c'
                : S_ISBLK(st.st_mode)  ? 'b'
                : S_ISFIFO(st.st_mode) ? 'p'
                                       : 's';
    digest_record(w, "%c %04o %zu:%s %u,%u\n", type, (unsigned)frozen, w->rel.len, w->rel.buf,
                  major(st.st_rdev), minor(st.st_rdev));
    if (w->freeze && fchmodat(dirfd, name, frozen, 0) < 0)
        return walk_fail(w, errno, "cannot freeze");
    return 0;
}

/* Digests and freezes the directory open as fd, whose path is w->rel. */
static int walk_dir(struct walk *w, int fd, int depth)
{
    if (depth > MAX_DEPTH)
        return kiln_err_set(w->err, KILN_E_INVALID,
                            "cannot bake: the package's tree is more than %d directories deep",
                            MAX_DEPTH);
    char **names;
    size_t n;
    if (sorted_names(fd, &names, &n) < 0)
        return walk_fail(w, errno, "cannot list");
    int rc = 0;
    size_t len = w->rel.len;
    for (size_t i = 0; i < n && rc == 0; i++) {
        kiln_strbuf_appendf(&w->rel, "%s%s", len ? "/" : "", names[i]);
        rc = walk_entry(w, fd, names[i], depth);
        kiln_strbuf_truncate(&w->rel, len);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    /* After its children: their syncs are then covered by the directory's own. */
    if (rc == 0 && (fsync(fd) < 0 || (w->freeze && fchmod(fd, 0555) < 0)))
        rc = walk_fail(w, errno, "cannot freeze the directory");
    return rc;
}

/* Digests the tree at root (sha256, 64 hex digits into hex), syncs it and, with freeze,
 * makes it read-only. */
static int digest_tree(const char *root, bool freeze, char hex[65], size_t *files, size_t *bytes,
                       struct kiln_err *err)
{
    struct walk w = {
        .md = EVP_MD_CTX_new(), .buf = xmalloc(IO_BUF), .err = err, .root = root, .freeze = freeze};
    if (w.md == NULL)
        kiln_oom(sizeof(void *));
    kiln_strbuf_append(&w.rel, "");
    int rc = -1;
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        kiln_err_sys(err, errno, "cannot bake: cannot open %s", root);
    } else if (EVP_DigestInit_ex(w.md, EVP_sha256(), NULL) != 1) {
        kiln_err_set(err, KILN_E_FAILED, "cannot bake: OpenSSL has no sha256");
    } else {
        digest_record(&w, "kiln-image-v1\nd 0:\n");
        rc = walk_dir(&w, fd, 0);
    }
    if (fd >= 0)
        close(fd);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (rc == 0 && EVP_DigestFinal_ex(w.md, md, &mdlen) == 1 && mdlen == 32) {
        for (unsigned i = 0; i < mdlen; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
        *files = w.files;
        *bytes = w.bytes;
    } else if (rc == 0) {
        rc = kiln_err_set(err, KILN_E_FAILED, "cannot bake: the sha256 digest failed");
    }
    EVP_MD_CTX_free(w.md);
    free(w.buf);
    kiln_strbuf_free(&w.rel);
    return rc;
}

/* ---- the bake ---- */

/* chattr +i on a directory, as bases do; 0 when done or the file system has no such
 * flag, -1 with errno otherwise. */
static int set_immutable(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int flags = 0, rc = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && !(flags & FS_IMMUTABLE_FL)) {
        flags |= FS_IMMUTABLE_FL;
        if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0 && errno != ENOTTY && errno != EOPNOTSUPP)
            rc = -1;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

bool cloud_image_is_root(const struct cloud_image *im)
{
    return strcmp(im->kind, CLOUD_IMAGE_ROOT) == 0;
}

void cloud_image_from_record(const cJSON *o, struct cloud_image *im)
{
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(o, "base");
    const cJSON *services = cJSON_GetObjectItemCaseSensitive(o, "services");
    bool root = cJSON_IsString(kind) && strcmp(kind->valuestring, CLOUD_IMAGE_ROOT) == 0;
    snprintf(im->kind, sizeof im->kind, "%s", root ? CLOUD_IMAGE_ROOT : CLOUD_IMAGE_FILES);
    im->base[0] = '\0';
    if (root && cJSON_IsString(base) && kiln_base_id_validate(base->valuestring, NULL) == 0 &&
        strlen(base->valuestring) < sizeof im->base)
        snprintf(im->base, sizeof im->base, "%s", base->valuestring);
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    kiln_strbuf_append(&sb, "");
    const cJSON *u;
    cJSON_ArrayForEach(u, services) {
        if (cJSON_IsString(u) && u->valuestring[0] != '\0' && strchr(u->valuestring, ' ') == NULL)
            kiln_strbuf_appendf(&sb, "%s%s", sb.len ? " " : "", u->valuestring);
    }
    if (sb.len < sizeof im->services)
        memcpy(im->services, sb.buf, sb.len + 1);
    else
        im->services[0] = '\0';
    kiln_strbuf_free(&sb);
}

/* What an image's record says besides its counts. */
struct image_meta {
    const char *id, *nvr, *app, *digest;
    const char *kind;      /* CLOUD_IMAGE_FILES or CLOUD_IMAGE_ROOT */
    const char *base;      /* root: the base's id; NULL otherwise */
    const char *base_name; /* root: the name it was found by */
    const char *services;  /* root: space-separated units; NULL otherwise */
    const char *extra;     /* root: repo packages installed with it, space-separated */
    size_t files, bytes;
};

static void add_words(cJSON *o, const char *key, const char *words)
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    char *buf = xstrdup(words != NULL ? words : "");
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save))
        cJSON_AddItemToArray(a, cJSON_CreateString(t));
    free(buf);
}

static int write_metadata(struct cloud *c, const struct image_meta *m, int64_t created_us,
                          struct kiln_err *err)
{
    char iso[KILN_ISO_TIME_MAX];
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        kiln_oom(64);
    const char *id = m->id;
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "package", m->nvr);
    cJSON_AddStringToObject(o, "app", m->app);
    cJSON_AddStringToObject(o, "created", kiln_time_iso(created_us, iso));
    cJSON_AddStringToObject(o, "digest", m->digest);
    cJSON_AddNumberToObject(o, "files", (double)m->files);
    cJSON_AddNumberToObject(o, "bytes", (double)m->bytes);
    cJSON_AddStringToObject(o, "kind", m->kind);
    if (m->base != NULL) {
        cJSON_AddStringToObject(o, "base", m->base);
        cJSON_AddStringToObject(o, "base_name", m->base_name != NULL ? m->base_name : "");
        add_words(o, "services", m->services);
        add_words(o, "with_packages", m->extra);
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (text == NULL)
        kiln_oom(256);
    char *path = xasprintf("%s/%s.json", c->paths.images_dir, id);
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    kiln_strbuf_append(&sb, text);
    kiln_strbuf_appendc(&sb, '\n');
    int rc = kiln_atomic_write(path, sb.buf, sb.len, 0644, err);
    kiln_strbuf_free(&sb);
    free(text);
    free(path);
    return rc;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Adds a baked image to the inventory (once: a concurrent bake of the same inputs may
 * have added it), base and services "" for a files image. Takes mu. */
static void record_image(struct cloud *c, const char *id, const char *nvr, const char *app,
                         const char *kind, const char *base, const char *services)
{
    pthread_mutex_lock(&c->mu);
    if (cloud_find_image(c, id) == NULL) {
        struct cloud_image *x = xcalloc(1, sizeof *x);
        snprintf(x->id, sizeof x->id, "%s", id);
        snprintf(x->package, sizeof x->package, "%s", nvr);
        snprintf(x->app, sizeof x->app, "%s", app);
        snprintf(x->kind, sizeof x->kind, "%s", kind);
        snprintf(x->base, sizeof x->base, "%s", base);
        snprintf(x->services, sizeof x->services, "%s", services);
        x->created_us = kiln_now_us();
        cloud_add_image(c, x);
    }
    cloud_changed(c);
    pthread_mutex_unlock(&c->mu);
}

/* Installs file into the fresh root, removes the rpm database, digests and freezes it,
 * and moves it to images/<id> (or finds that image already there). */
static int bake_root(struct cloud *c, const char *nvr, const char *app, const char *file,
                     const char *root, char id[CLOUD_ID_MAX], const struct bake_log *log,
                     struct kiln_err *err)
{
    int64_t t0 = kiln_mono_us();
    if (report_scriptlets(file, nvr, log, err) < 0)
        return -1;
    const char *argv[16];
    size_t k = kiln_rpm_root_argv(argv, root, RPMDB_IN_ROOT);
    argv[k++] = "-i";
    argv[k++] = "-v";
    /* The empty base provides nothing (not even libc.so.6): dependencies are the host's
     * business on the local cloud, where instances run against the host's libraries. */
    argv[k++] = "--nodeps";
    argv[k++] = "--noscripts";
    argv[k++] = "--notriggers";
    argv[k++] = file;
    argv[k] = NULL;
    char *cmd = kiln_spawn_describe(argv);
    say(log, "$ %s", cmd);
    free(cmd);
    struct rpm_run r = {.log = log};
    char *what = xasprintf("cannot bake %s: rpm could not install it", nvr);
    int rc = run_rpm(argv, INSTALL_TIMEOUT_MS, &r, what, err);
    free(what);
    kiln_strbuf_free(&r.out);
    kiln_strbuf_free(&r.all);
    if (rc < 0)
        return -1;

    char *db = xasprintf("%s%s", root, RPMDB_IN_ROOT);
    rc = kiln_tree_remove(db, err);
    free(db);
    if (rc < 0)
        return -1;

    char hex[65];
    size_t files = 0, bytes = 0;
    if (digest_tree(root, true, hex, &files, &bytes, err) < 0)
        return -1;
    snprintf(id, CLOUD_ID_MAX, "img-%.12s", hex);
    char *final = xasprintf("%s/%s", c->paths.images_dir, id);
    bool reused = false;
    /* Same parent directory: renaming a read-only directory needs no write permission
     * on it (only a move to another parent rewrites its ".."). */
    if (rename(root, final) < 0) {
        if (errno != EEXIST && errno != ENOTEMPTY) {
            rc = kiln_err_sys(err, errno, "cannot bake %s: cannot move %s to %s", nvr, root, final);
            free(final);
            return rc;
        }
        reused = true; /* the same content is there already: ours goes */
        if (kiln_tree_remove(root, err) < 0) {
            free(final);
            return -1;
        }
    } else if (kiln_sync_dir(c->paths.images_dir) < 0) {
        rc = kiln_err_sys(err, errno, "cannot bake %s: cannot sync %s", nvr, c->paths.images_dir);
        free(final);
        return rc;
    }
    free(final);

    /* A reused image keeps the description of its first bake, as its record does. */
    char *meta = xasprintf("%s/%s.json", c->paths.images_dir, id);
    bool described = reused && access(meta, F_OK) == 0;
    free(meta);
    const struct image_meta m = {.id = id,
                                 .nvr = nvr,
                                 .app = app,
                                 .digest = hex,
                                 .kind = CLOUD_IMAGE_FILES,
                                 .files = files,
                                 .bytes = bytes};
    if (!described && write_metadata(c, &m, kiln_now_us(), err) < 0)
        return -1;
    char dur[KILN_DURATION_MAX];
    if (reused)
        say(log, "%s has the same content as image %s, baked before: reusing it", nvr, id);
    say(log, "baked image %s from %s: %zu file%s, %zu bytes, sha256 %s, in %s", id, nvr, files,
        files == 1 ? "" : "s", bytes, hex, kiln_format_duration((kiln_mono_us() - t0) / 1000, dur));
    return 0;
}

/* ---- baking onto a base (a whole root) ---- */

/* A repo package a bake may install alongside the one it bakes. */
struct repo_pkg {
    char nvr[CLOUD_NVR_MAX];
    char name[KILN_APP_SIZE];
    char *path;     /* packages/<file> */
    char *provides; /* "\n"-separated capability names, NULL until asked */
    bool chosen;
};

struct root_bake {
    struct cloud *c;
    const struct bake_log *log;
    const struct kiln_base *base;
    const char *base_name;
    const char *nvr;
    char *stage;  /* images/.bake-XXXXXX */
    char *upper;  /* stage/upper: what the install changed, later images/<id> */
    char *work;   /* stage/work: overlayfs's own */
    char *merged; /* stage/merged: the base with upper on top, where rpm installs */
    bool mounted;
    struct repo_pkg *repo;
    size_t n_repo;
    const char **files; /* what rpm -i gets: the package first, then chosen repo packages */
    size_t n_files;
};

/* rpm's argv for the root: --root, --dbpath the base's, --force-debian where needed,
 * then `what` (NULL-terminated) and the files. The caller frees the array. */
static const char **root_rpm_argv(const struct root_bake *b, const char *const *what)
{
    size_t n = 0;
    while (what[n] != NULL)
        n++;
    const char **argv = xcalloc(8 + n + b->n_files, sizeof *argv);
    size_t k = kiln_rpm_root_argv(
        argv, b->merged, b->base->rpm_dbpath[0] ? b->base->rpm_dbpath : KILN_BASE_RPM_DBPATH);
    for (size_t i = 0; i < n; i++)
        argv[k++] = what[i];
    for (size_t i = 0; i < b->n_files; i++)
        argv[k++] = b->files[i];
    argv[k] = NULL;
    return argv;
}

/* The capability names of a repo package (its Provides, which include its own name). */
static const char *repo_provides(struct repo_pkg *p)
{
    if (p->provides != NULL)
        return p->provides;
    const char *argv[] = {
        "rpm", "-qp", "--nomanifest", "--nosignature", "--qf", "[%{PROVIDENAME}\n]", p->path, NULL};
    struct rpm_run r = {0};
    struct kiln_err e = {0};
    if (run_rpm(argv, QUERY_TIMEOUT_MS, &r, "reading a repo package", &e) < 0)
        kiln_strbuf_truncate(&r.out, 0);
    kiln_strbuf_append(&r.out, "");
    p->provides = xasprintf("\n%s", r.out.buf);
    kiln_strbuf_free(&r.out);
    kiln_strbuf_free(&r.all);
    return p->provides;
}

/* A repo package, not chosen yet, that provides capability `name`: by its own name
 * first, else by its Provides. The newest one added wins (they are in repo order). */
static struct repo_pkg *repo_provider(struct root_bake *b, const char *name)
{
    for (size_t i = b->n_repo; i-- > 0;)
        if (!b->repo[i].chosen && strcmp(b->repo[i].name, name) == 0)
            return &b->repo[i];
    char *line = xasprintf("\n%s\n", name);
    struct repo_pkg *found = NULL;
    for (size_t i = b->n_repo; found == NULL && i-- > 0;)
        if (!b->repo[i].chosen && strstr(repo_provides(&b->repo[i]), line) != NULL)
            found = &b->repo[i];
    free(line);
    return found;
}

/* The capabilities in rpm's "X is needed by Y" lines, one per line of *missing; the
 * lines themselves into *lines. */
static void needed_lines(const char *out, struct kiln_strbuf *missing, struct kiln_strbuf *lines)
{
    const char *p = out;
    while (*p != '\0') {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *line = xstrndup(p, len);
        char *at = strstr(line, " is needed by ");
        if (at != NULL) {
            char *cap = line;
            while (*cap == ' ' || *cap == '\t')
                cap++;
            kiln_strbuf_appendf(lines, "%s%s", lines->len ? "; " : "", cap);
            *at = '\0';
            kiln_strbuf_appendf(missing, "%s\n", cap);
        }
        free(line);
        p += len + (end ? 1 : 0);
    }
}

/* Resolves the package's Requires as yum would, against what the base provides (its
 * rpm database, with kiln-base-provides) and kiln's repo: rpm --test says what is
 * missing, a repo package providing it is added, until nothing is missing or nothing
 * in the repo helps. What is still missing fails the bake with rpm's own lines. */
static int resolve_requires(struct root_bake *b, struct kiln_err *err)
{
    static const char *const test[] = {"-i", "--test", NULL};
    for (int round = 0; round < 32; round++) {
        const char **argv = root_rpm_argv(b, test);
        struct kiln_spawn_opts so = {
            .argv = argv, .on_line = rpm_line, .timeout_ms = INSTALL_TIMEOUT_MS, .package = "rpm"};
        struct rpm_run r = {0};
        so.ctx = &r;
        int status = 0;
        int rc = kiln_spawn_run(&so, &status, err);
        free(argv);
        if (rc < 0) {
            kiln_strbuf_free(&r.out);
            kiln_strbuf_free(&r.all);
            kiln_err_prefix(err, "cannot bake %s: rpm cannot check its Requires", b->nvr);
            return -1;
        }
        if (status == 0) {
            kiln_strbuf_free(&r.out);
            kiln_strbuf_free(&r.all);
            return 0;
        }
        /* rpm writes its dependency errors to stderr. */
        struct kiln_strbuf missing = KILN_STRBUF_INIT, lines = KILN_STRBUF_INIT,
                           unmet = KILN_STRBUF_INIT;
        kiln_strbuf_append(&r.all, "");
        needed_lines(r.all.buf, &missing, &lines);
        bool added = false;
        kiln_strbuf_append(&missing, "");
        char *save = NULL;
        for (char *cap = strtok_r(missing.buf, "\n", &save); cap != NULL;
             cap = strtok_r(NULL, "\n", &save)) {
            char name[CLOUD_NVR_MAX];
            snprintf(name, sizeof name, "%.*s", (int)strcspn(cap, " "), cap);
            struct repo_pkg *p = repo_provider(b, name);
            if (p != NULL) {
                p->chosen = true;
                b->files = xrealloc(b->files, (b->n_files + 1) * sizeof *b->files);
                b->files[b->n_files++] = p->path;
                say(b->log, "%s is needed: installing %s from kiln's package repo with it", cap,
                    p->nvr);
                added = true;
            } else if (strchr(name, '/') == NULL && strchr(name, '(') == NULL &&
                       strstr(unmet.len ? unmet.buf : "", name) == NULL) {
                kiln_strbuf_appendf(&unmet, "%s%s", unmet.len ? "," : "", name);
            }
        }
        int result = 0;
        if (!added) {
            if (lines.len == 0) {
                struct kiln_strbuf tail = KILN_STRBUF_INIT;
                kiln_tail_format(&r.tail, &tail, TAIL_BUDGET);
                kiln_err_set(err, KILN_E_FAILED,
                             "cannot bake %s: rpm refuses to install it into base %s: %s", b->nvr,
                             b->base->id, kiln_strbuf_str(&tail));
                kiln_strbuf_free(&tail);
            } else {
                kiln_err_set(err, KILN_E_FAILED,
                             "cannot bake %s: its Requires are met neither by base %s (%s) nor "
                             "by kiln's package repo: %s%s%s%s",
                             b->nvr, b->base_name, b->base->id, lines.buf,
                             unmet.len ? "; Debian packages go into the base: kiln base build "
                                         "--packages "
                                       : "",
                             kiln_strbuf_str(&unmet),
                             unmet.len ? " (or [local] base_packages) makes one that has them"
                                       : "");
            }
            result = -1;
        }
        kiln_strbuf_free(&r.all);
        kiln_strbuf_free(&missing);
        kiln_strbuf_free(&lines);
        kiln_strbuf_free(&unmet);
        kiln_strbuf_free(&r.out);
        if (result < 0)
            return -1;
    }
    return kiln_err_set(err, KILN_E_FAILED,
                        "cannot bake %s: its Requires did not settle after 32 rounds of adding "
                        "repo packages",
                        b->nvr);
}

static int file_sha256(const char *path, char hex[65], struct kiln_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kiln_err_sys(err, errno, "cannot bake: cannot read %s", path);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL)
        kiln_oom(sizeof(void *));
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    char *buf = xmalloc(IO_BUF);
    ssize_t n;
    while ((n = read(fd, buf, IO_BUF)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            EVP_DigestUpdate(md, buf, (size_t)n);
    int saved = errno;
    close(fd);
    free(buf);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(md, out, &len);
    EVP_MD_CTX_free(md);
    if (n < 0)
        return kiln_err_sys(err, saved, "cannot bake: cannot read %s", path);
    for (unsigned i = 0; i < len && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", out[i]);
    return 0;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The image's identity: same base + same packages -> same image. sha256 over the base's
 * id, the NVR baked and the bytes of every file installed (the package and the repo
 * packages its Requires pulled in, in a fixed order), so a package rebuilt under the
 * same NVR is a new image. */
static int root_key(const struct root_bake *b, char hex[65], struct kiln_err *err)
{
    const char **sorted = xcalloc(b->n_files, sizeof *sorted);
    memcpy(sorted, b->files, b->n_files * sizeof *sorted);
    if (b->n_files > 2)
        qsort(sorted + 1, b->n_files - 1, sizeof *sorted, cmp_strp);
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    kiln_strbuf_appendf(&sb, "kiln-root-image-v1\nbase %s\npackage %s\n", b->base->id, b->nvr);
    int rc = 0;
    for (size_t i = 0; i < b->n_files && rc == 0; i++) {
        char fh[65];
        const char *slash = strrchr(sorted[i], '/');
        rc = file_sha256(sorted[i], fh, err);
        kiln_strbuf_appendf(&sb, "file %s %s\n", slash ? slash + 1 : sorted[i], fh);
    }
    free(sorted);
    if (rc == 0) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        EVP_Digest(sb.buf, sb.len, md, &len, EVP_sha256(), NULL);
        for (unsigned i = 0; i < len && i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    kiln_strbuf_free(&sb);
    return rc;
}

/* "<target>.wants/<unit>" entries of root's /etc/systemd/system, one per line. */
static void wanted_units(const char *root, struct kiln_strbuf *out)
{
    char *dir = xasprintf("%s/etc/systemd/system", root);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    char **targets = NULL;
    size_t nt = 0;
    if (fd < 0 || sorted_names(fd, &targets, &nt) < 0) {
        if (fd >= 0)
            close(fd);
        return;
    }
    for (size_t i = 0; i < nt; i++) {
        size_t len = strlen(targets[i]);
        int wfd = -1;
        char **units = NULL;
        size_t nu = 0;
        if (len > 6 && strcmp(targets[i] + len - 6, ".wants") == 0 &&
            (wfd = openat(fd, targets[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0 &&
            sorted_names(wfd, &units, &nu) == 0) {
            for (size_t j = 0; j < nu; j++)
                kiln_strbuf_appendf(out, "%s/%s\n", targets[i], units[j]);
        }
        for (size_t j = 0; j < nu; j++)
            free(units[j]);
        free(units);
        if (wfd >= 0)
            close(wfd);
        free(targets[i]);
    }
    free(targets);
    close(fd);
}

/* The units the install enabled: wanted in the image and not in the base, as unit names
 * (space-separated, sorted, each once). */
static void enabled_services(const struct root_bake *b, struct kiln_strbuf *out)
{
    struct kiln_strbuf before = KILN_STRBUF_INIT, after = KILN_STRBUF_INIT;
    wanted_units(b->base->root, &before);
    wanted_units(b->merged, &after);
    kiln_strbuf_append(&before, "");
    kiln_strbuf_append(&after, "");
    kiln_strbuf_append(out, "");
    char *save = NULL;
    for (char *e = strtok_r(after.buf, "\n", &save); e != NULL; e = strtok_r(NULL, "\n", &save)) {
        char *line = xasprintf("%s\n", e);
        bool old = strncmp(before.buf, line, strlen(line)) == 0;
        char *nl = xasprintf("\n%s", line);
        old = old || strstr(before.buf, nl) != NULL;
        free(nl);
        free(line);
        const char *unit = strchr(e, '/') + 1;
        char *word = xasprintf(" %s ", unit);
        char *have = xasprintf(" %s ", out->buf);
        if (!old && strstr(have, word) == NULL)
            kiln_strbuf_appendf(out, "%s%s", out->len ? " " : "", unit);
        free(word);
        free(have);
    }
    kiln_strbuf_free(&before);
    kiln_strbuf_free(&after);
}

static void root_unmount(struct root_bake *b)
{
    if (!b->mounted)
        return;
    /* Detached when something still holds it: it goes once let go, and is out of the
     * tree at once, so removing the stage cannot reach into it. */
    if (umount2(b->merged, 0) == 0 || umount2(b->merged, MNT_DETACH) == 0)
        b->mounted = false;
}

/* Sets up the stage: upper and work dirs, and the base mounted with upper on top. The
 * upper's top dir becomes the image's /, so it takes the base's owner and mode (mkdtemp
 * made the stage 0700). */
static int root_stage(struct root_bake *b, struct kiln_err *err)
{
    if (mkdtemp(b->stage) == NULL) {
        int e = errno;
        b->stage[0] = '\0';
        return kiln_err_sys(err, e, "cannot bake %s: cannot create a stage in %s", b->nvr,
                            b->c->paths.images_dir);
    }
    b->upper = xasprintf("%s/upper", b->stage);
    b->work = xasprintf("%s/work", b->stage);
    b->merged = xasprintf("%s/merged", b->stage);
    struct stat st;
    if (stat(b->base->root, &st) < 0)
        return kiln_err_sys(err, errno, "cannot bake %s: base %s has no tree at %s", b->nvr,
                            b->base->id, b->base->root);
    if (mkdir(b->upper, st.st_mode & 07777) < 0 || chmod(b->upper, st.st_mode & 07777) < 0 ||
        chown(b->upper, st.st_uid, st.st_gid) < 0 || mkdir(b->work, 0700) < 0 ||
        mkdir(b->merged, 0755) < 0)
        return kiln_err_sys(err, errno, "cannot bake %s: cannot prepare %s", b->nvr, b->stage);
    char *opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", b->base->root, b->upper, b->work);
    int rc = mount("overlay", b->merged, "overlay", 0, opts);
    int e = errno;
    free(opts);
    if (rc < 0)
        return kiln_err_sys(err, e,
                            "cannot bake %s: cannot mount base %s as an overlay's lower layer on "
                            "%s (overlayfs needs root and a file system that supports it)",
                            b->nvr, b->base->id, b->merged);
    b->mounted = true;
    return 0;
}

/* rpm -i into the overlay, scriptlets and triggers run (rpm chroots into the root for
 * them). Their output is rpm's, and so in the log and, on failure, in the error. */
static int root_install(struct root_bake *b, struct kiln_err *err)
{
    static const char *const install[] = {"-i", "-v", NULL};
    const char **argv = root_rpm_argv(b, install);
    char *cmd = kiln_spawn_describe(argv);
    say(b->log, "$ %s", cmd);
    free(cmd);
    struct rpm_run r = {.log = b->log};
    char *what = xasprintf("cannot bake %s: rpm could not install it into base %s (a scriptlet "
                           "failing fails the bake; its output is above)",
                           b->nvr, b->base->id);
    int rc = run_rpm(argv, INSTALL_TIMEOUT_MS, &r, what, err);
    /* rpm only warns when %post, %posttrans or a trigger fails (the package stays
     * installed, the exit status is 0); a bake fails on any failed scriptlet. */
    if (rc == 0 && strstr(kiln_strbuf_str(&r.all), " scriptlet failed") != NULL) {
        struct kiln_strbuf sb = KILN_STRBUF_INIT;
        kiln_tail_format(&r.tail, &sb, TAIL_BUDGET);
        rc = kiln_err_set(err, KILN_E_FAILED,
                          "cannot bake %s: a scriptlet failed while rpm installed it into base "
                          "%s:%s%s",
                          b->nvr, b->base->id, sb.len ? " " : "", kiln_strbuf_str(&sb));
        kiln_strbuf_free(&sb);
    }
    free(what);
    free(argv);
    kiln_strbuf_free(&r.out);
    kiln_strbuf_free(&r.all);
    return rc;
}

static void root_bake_free(struct root_bake *b)
{
    root_unmount(b);
    if (b->mounted)
        say(b->log, "could not unmount %s: the bake's stage %s is left for kilnd's next start",
            b->merged, b->stage);
    else if (b->stage != NULL && b->stage[0] != '\0') {
        struct kiln_err e = {0};
        if (kiln_tree_remove(b->stage, &e) < 0)
            say(b->log, "could not clean up the bake's stage: %s", e.msg);
    }
    free(b->stage);
    free(b->upper);
    free(b->work);
    free(b->merged);
    for (size_t i = 0; i < b->n_repo; i++) {
        free(b->repo[i].path);
        free(b->repo[i].provides);
    }
    free(b->repo);
    free(b->files);
}

/* Bakes nvr (its file at path) onto base: the base as an overlay's lower layer, rpm -i
 * into it with scriptlets and dependencies, the upper layer (what the install changed)
 * becoming images/<id>. An instance later mounts that over the base again (instances.c).
 *
 * Why an overlay and not a copy of the base: a bake writes only what the package changes
 * (a few MB, not the base's ~200), so it takes a second; an image stays bound to its
 * base, whose tree is frozen and named by its own digest, so the pair is exactly what
 * was tested. Instances stack image and base as two lower layers under their own upper
 * layer: a plain, writable root that systemd can boot from later (nspawn and the kernel
 * treat an overlayfs root like any other), with nothing copied per instance. */
static int bake_on_base(struct cloud *c, const char *nvr, const char *app, const char *path,
                        const struct kiln_base *base, const char *base_name,
                        char image_out[CLOUD_ID_MAX], bool *cached, const struct bake_log *log,
                        struct kiln_err *err)
{
    int64_t t0 = kiln_mono_us();
    struct root_bake b = {.c = c, .log = log, .base = base, .base_name = base_name, .nvr = nvr};
    b.stage = xasprintf("%s/" BAKE_PREFIX "XXXXXX", c->paths.images_dir);
    b.files = xcalloc(1, sizeof *b.files);
    b.files[b.n_files++] = path;
    pthread_mutex_lock(&c->mu);
    b.repo = xcalloc(c->packages.n + 1, sizeof *b.repo);
    for (size_t i = 0; i < c->packages.n; i++) {
        const struct cloud_package *p = c->packages.v[i];
        if (strcmp(p->nvr, nvr) == 0)
            continue;
        struct repo_pkg *r = &b.repo[b.n_repo++];
        snprintf(r->nvr, sizeof r->nvr, "%s", p->nvr);
        snprintf(r->name, sizeof r->name, "%s", p->name);
        r->path = xasprintf("%s/%s", c->paths.packages_dir, p->file);
    }
    pthread_mutex_unlock(&c->mu);

    int rc = -1;
    char key[65], id[CLOUD_ID_MAX];
    struct kiln_strbuf services = KILN_STRBUF_INIT, extra = KILN_STRBUF_INIT;
    say(log,
        "baking %s onto base %s (%s): installed by rpm inside it, scriptlets run, Requires "
        "checked",
        nvr, base_name, base->id);
    if (root_stage(&b, err) < 0 || resolve_requires(&b, err) < 0 || root_key(&b, key, err) < 0)
        goto out;
    snprintf(id, sizeof id, "img-%.12s", key);
    for (size_t i = 0; i < b.n_repo; i++)
        if (b.repo[i].chosen)
            kiln_strbuf_appendf(&extra, "%s%s", extra.len ? " " : "", b.repo[i].nvr);
    kiln_strbuf_append(&extra, "");

    char *final = xasprintf("%s/%s", c->paths.images_dir, id);
    pthread_mutex_lock(&c->mu);
    bool known = cloud_find_image(c, id) != NULL;
    pthread_mutex_unlock(&c->mu);
    if (known && is_dir(final)) {
        free(final);
        snprintf(image_out, CLOUD_ID_MAX, "%s", id);
        *cached = true;
        say(log, "image %s already baked from %s on base %s (cache hit)", id, nvr, base->id);
        rc = 0;
        goto out;
    }
    if (root_install(&b, err) < 0) {
        free(final);
        goto out;
    }
    enabled_services(&b, &services);
    root_unmount(&b);
    if (b.mounted) {
        kiln_err_sys(err, errno, "cannot bake %s: cannot unmount %s", nvr, b.merged);
        free(final);
        goto out;
    }
    if (services.len)
        say(log, "the package enabled: %s", services.buf);

    char hex[65];
    size_t files = 0, bytes = 0;
    /* Synced, modes kept: the OS's own (/tmp 1777, /etc/shadow 0640) must stay. */
    if (digest_tree(b.upper, false, hex, &files, &bytes, err) < 0) {
        free(final);
        goto out;
    }
    bool reused = false;
    if (rename(b.upper, final) < 0) {
        if (errno != EEXIST && errno != ENOTEMPTY) {
            kiln_err_sys(err, errno, "cannot bake %s: cannot move %s to %s", nvr, b.upper, final);
            free(final);
            goto out;
        }
        reused = true; /* a bake of the same inputs won the race: ours goes with the stage */
    } else if (kiln_sync_dir(c->paths.images_dir) < 0) {
        kiln_err_sys(err, errno, "cannot bake %s: cannot sync %s", nvr, c->paths.images_dir);
        free(final);
        goto out;
    }
    /* Frozen as bases are: the top dir immutable, its contents keep their modes (an
     * immutable file inside would be carried up, immutable, into every instance). */
    if (!reused && set_immutable(final) < 0)
        say(log, "could not make %s immutable: %s", final, strerror(errno));
    free(final);
    const struct image_meta m = {.id = id,
                                 .nvr = nvr,
                                 .app = app,
                                 .digest = hex,
                                 .kind = CLOUD_IMAGE_ROOT,
                                 .base = base->id,
                                 .base_name = base_name,
                                 .services = kiln_strbuf_str(&services),
                                 .extra = extra.buf,
                                 .files = files,
                                 .bytes = bytes};
    if (!reused && write_metadata(c, &m, kiln_now_us(), err) < 0)
        goto out;

    record_image(c, id, nvr, app, CLOUD_IMAGE_ROOT, base->id, kiln_strbuf_str(&services));
    char dur[KILN_DURATION_MAX];
    say(log, "baked image %s from %s on base %s%s%s: %zu file%s, %zu bytes over the base, in %s",
        id, nvr, base->id, extra.len ? " with " : "", extra.buf, files, files == 1 ? "" : "s",
        bytes, kiln_format_duration((kiln_mono_us() - t0) / 1000, dur));
    snprintf(image_out, CLOUD_ID_MAX, "%s", id);
    rc = 0;
out:
    root_bake_free(&b);
    kiln_strbuf_free(&services);
    kiln_strbuf_free(&extra);
    return rc;
}

/* The base this bake goes onto: 1 with *base (the caller frees it), 0 when the package is
 * to be baked alone (said in the log, never silently), -1 when [local] base names a base
 * that is not there. */
static int find_base(struct cloud *c, const char *nvr, struct kiln_base *base,
                     const char **name_out, const struct bake_log *log, struct kiln_err *err)
{
    const char *name = c->config.local.base;
    bool configured = name != NULL && name[0] != '\0' && strcmp(name, KILN_BASE_DEFAULT_NAME) != 0;
    if (name == NULL || name[0] == '\0')
        name = KILN_BASE_DEFAULT_NAME;
    *name_out = name;
    if (c->paths.bases_dir == NULL) {
        say(log, "no base image: the package is baked alone; kiln base build makes one");
        return 0;
    }
    struct kiln_err e = {0};
    if (kiln_base_find(c->paths.bases_dir, name, base, &e) < 0) {
        if (e.code != KILN_E_NOTFOUND || configured) {
            kiln_err_set(err, e.code, "cannot bake %s: [local] base is %s: %s", nvr, name, e.msg);
            return -1;
        }
        say(log, "no base image: the package is baked alone; kiln base build makes one");
        return 0;
    }
    if (geteuid() != 0) {
        say(log,
            "base %s (%s) is there, but kilnd does not run as root, which mounting it needs: "
            "the package is baked alone",
            name, base->id);
        kiln_base_free(base);
        memset(base, 0, sizeof *base);
        return 0;
    }
    return 1;
}

int cloud_bake(struct cloud *c, const char *nvr, const char *app, char image_out[CLOUD_ID_MAX],
               bool *cached, void (*on_line)(void *ctx, const char *line), void *ctx,
               struct kiln_err *err)
{
    const struct bake_log log = {on_line, ctx};
    image_out[0] = '\0';
    *cached = false;
    bool have_app = app != NULL && app[0] != '\0';
    if (kiln_package_nvr_validate(nvr, err) < 0 ||
        (have_app && kiln_name_validate_app(app, err) < 0)) {
        kiln_err_prefix(err, "cannot bake");
        return -1;
    }

    char file[CLOUD_NVR_MAX + 8] = "", known[CLOUD_ID_MAX] = "", pkg_app[KILN_APP_SIZE] = "";
    pthread_mutex_lock(&c->mu);
    struct cloud_package *p = cloud_find_package(c, nvr);
    if (p != NULL) {
        snprintf(file, sizeof file, "%s", p->file);
        snprintf(pkg_app, sizeof pkg_app, "%s", p->name);
    }
    /* Without a base, only an image of the package's files alone will do. */
    for (size_t i = 0; i < c->images.n && known[0] == '\0'; i++)
        if (strcmp(c->images.v[i]->package, nvr) == 0 && !cloud_image_is_root(c->images.v[i]))
            snprintf(known, sizeof known, "%s", c->images.v[i]->id);
    pthread_mutex_unlock(&c->mu);
    if (file[0] == '\0')
        return kiln_err_set(err, KILN_E_NOTFOUND,
                            "cannot bake %s: no such package in the repo; build it or add it "
                            "first (package-add)",
                            nvr);
    /* Without an app, the image belongs to the app the package is named after. */
    if (!have_app)
        app = pkg_app;

    struct kiln_base base = {0};
    const char *base_name = NULL;
    int on_base = find_base(c, nvr, &base, &base_name, &log, err);
    if (on_base < 0)
        return -1;
    if (on_base == 1) {
        char *path = xasprintf("%s/%s", c->paths.packages_dir, file);
        struct stat st;
        int rc = -1;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            kiln_err_set(err, KILN_E_NOTFOUND,
                         "cannot bake %s: its file %s is missing from the repo; add the package "
                         "again",
                         nvr, path);
        else if (kiln_mkdir_p(c->paths.images_dir, 0755, err) == 0)
            rc = bake_on_base(c, nvr, app, path, &base, base_name, image_out, cached, &log, err);
        free(path);
        kiln_base_free(&base);
        return rc;
    }

    if (known[0] != '\0') {
        char *dir = xasprintf("%s/%s", c->paths.images_dir, known);
        bool there = is_dir(dir);
        free(dir);
        if (there) {
            snprintf(image_out, CLOUD_ID_MAX, "%s", known);
            *cached = true;
            say(&log, "image %s already baked from %s (cache hit)", known, nvr);
            return 0;
        }
        say(&log, "image %s was baked from %s but its directory is gone: baking it again", known,
            nvr);
    }

    char *path = xasprintf("%s/%s", c->paths.packages_dir, file);
    char *root = xasprintf("%s/" BAKE_PREFIX "XXXXXX", c->paths.images_dir);
    char id[CLOUD_ID_MAX] = "";
    int rc = -1;
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        kiln_err_set(err, KILN_E_NOTFOUND,
                     "cannot bake %s: its file %s is missing from the repo; add the package "
                     "again",
                     nvr, path);
        goto out;
    }
    if (kiln_mkdir_p(c->paths.images_dir, 0755, err) < 0)
        goto out;
    if (mkdtemp(root) == NULL) {
        kiln_err_sys(err, errno, "cannot bake %s: cannot create a root in %s", nvr,
                     c->paths.images_dir);
        root[0] = '\0';
        goto out;
    }
    say(&log, "baking %s into a fresh root", nvr);
    if (bake_root(c, nvr, app, path, root, id, &log, err) < 0) {
        /* The root may be half installed and partly read-only: kiln_tree_remove copes. */
        struct kiln_err rm_err = {0};
        if (kiln_tree_remove(root, &rm_err) < 0)
            say(&log, "could not clean up after the failed bake: %s", rm_err.msg);
        goto out;
    }

    record_image(c, id, nvr, app, CLOUD_IMAGE_FILES, "", "");
    snprintf(image_out, CLOUD_ID_MAX, "%s", id);
    rc = 0;
out:
    free(path);
    free(root);
    return rc;
}

int cloud_images_cleanup(struct cloud *c, struct kiln_err *err)
{
    DIR *d = opendir(c->paths.images_dir);
    if (d == NULL)
        return errno == ENOENT
                   ? 0
                   : kiln_err_sys(err, errno, "cannot clean up %s", c->paths.images_dir);
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, BAKE_PREFIX, strlen(BAKE_PREFIX)) != 0)
            continue;
        char *path = xasprintf("%s/%s", c->paths.images_dir, de->d_name);
        /* A bake onto a base that kilnd did not live to finish may still have the base
         * mounted in its stage: out of the tree first, so removing cannot reach into it. */
        char *merged = xasprintf("%s/merged", path);
        if (umount2(merged, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT &&
            errno != EPERM) {
            rc = kiln_err_sys(err, errno, "cannot unmount %s", merged);
        } else if (kiln_tree_remove(path, err) < 0) {
            rc = -1;
        }
        free(merged);
        free(path);
    }
    closedir(d);
    /* Half-written images/<id>.json from kiln_atomic_write. */
    if (kiln_atomic_cleanup_temps(c->paths.images_dir, 0, NULL, err) < 0)
        rc = -1;
    return rc;
}
