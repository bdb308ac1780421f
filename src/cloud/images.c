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
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cJSON.h>

#include "kiln/atomic_file.h"
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
    return rc;
}

/* Debian's rpm warns against installing RPMs on a dpkg system unless told
 * --force-debian, an option only Debian's rpm knows. */
static bool debian_rpm(void)
{
    return access("/var/lib/dpkg/status", F_OK) == 0;
}

/* ---- the digest and the freeze ---- */

struct walk {
    EVP_MD_CTX *md;
    struct kiln_strbuf rel; /* the entry's path relative to the root, "" for the root */
    char *buf;
    size_t files, bytes;
    struct kiln_err *err;
    const char *root;
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
    if (fsync(fd) < 0 || fchmod(fd, frozen) < 0) {
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
    if (fchmodat(dirfd, name, frozen, 0) < 0)
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
    if (rc == 0 && (fsync(fd) < 0 || fchmod(fd, 0555) < 0))
        rc = walk_fail(w, errno, "cannot freeze the directory");
    return rc;
}

/* Digests the tree at root (sha256, 64 hex digits into hex) and makes it read-only. */
static int digest_and_freeze(const char *root, char hex[65], size_t *files, size_t *bytes,
                             struct kiln_err *err)
{
    struct walk w = {.md = EVP_MD_CTX_new(), .buf = xmalloc(IO_BUF), .err = err, .root = root};
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

static int write_metadata(struct cloud *c, const char *id, const char *nvr, const char *app,
                          const char *digest, size_t files, size_t bytes, int64_t created_us,
                          struct kiln_err *err)
{
    char iso[KILN_ISO_TIME_MAX];
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        kiln_oom(64);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "package", nvr);
    cJSON_AddStringToObject(o, "app", app);
    cJSON_AddStringToObject(o, "created", kiln_time_iso(created_us, iso));
    cJSON_AddStringToObject(o, "digest", digest);
    cJSON_AddNumberToObject(o, "files", (double)files);
    cJSON_AddNumberToObject(o, "bytes", (double)bytes);
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
    size_t k = 0;
    argv[k++] = "rpm";
    argv[k++] = "--root";
    argv[k++] = root;
    argv[k++] = "--dbpath";
    argv[k++] = RPMDB_IN_ROOT;
    if (debian_rpm())
        argv[k++] = "--force-debian";
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
    if (rc < 0)
        return -1;

    char *db = xasprintf("%s%s", root, RPMDB_IN_ROOT);
    rc = kiln_tree_remove(db, err);
    free(db);
    if (rc < 0)
        return -1;

    char hex[65];
    size_t files = 0, bytes = 0;
    if (digest_and_freeze(root, hex, &files, &bytes, err) < 0)
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
    if (!described && write_metadata(c, id, nvr, app, hex, files, bytes, kiln_now_us(), err) < 0)
        return -1;
    char dur[KILN_DURATION_MAX];
    if (reused)
        say(log, "%s has the same content as image %s, baked before: reusing it", nvr, id);
    say(log, "baked image %s from %s: %zu file%s, %zu bytes, sha256 %s, in %s", id, nvr, files,
        files == 1 ? "" : "s", bytes, hex, kiln_format_duration((kiln_mono_us() - t0) / 1000, dur));
    return 0;
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
    struct cloud_image *im = cloud_find_image_by_package(c, nvr);
    if (im != NULL)
        snprintf(known, sizeof known, "%s", im->id);
    pthread_mutex_unlock(&c->mu);
    if (file[0] == '\0')
        return kiln_err_set(err, KILN_E_NOTFOUND,
                            "cannot bake %s: no such package in the repo; build it or add it "
                            "first (package-add)",
                            nvr);
    /* Without an app, the image belongs to the app the package is named after. */
    if (!have_app)
        app = pkg_app;

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

    pthread_mutex_lock(&c->mu);
    if (cloud_find_image(c, id) == NULL) {
        struct cloud_image *x = xcalloc(1, sizeof *x);
        snprintf(x->id, sizeof x->id, "%s", id);
        snprintf(x->package, sizeof x->package, "%s", nvr);
        snprintf(x->app, sizeof x->app, "%s", app);
        x->created_us = kiln_now_us();
        cloud_add_image(c, x);
    }
    cloud_changed(c);
    pthread_mutex_unlock(&c->mu);
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
        if (kiln_tree_remove(path, err) < 0)
            rc = -1;
        free(path);
    }
    closedir(d);
    /* Half-written images/<id>.json from kiln_atomic_write. */
    if (kiln_atomic_cleanup_temps(c->paths.images_dir, 0, NULL, err) < 0)
        rc = -1;
    return rc;
}
