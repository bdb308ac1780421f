/* kilnd: the package repo, packages/ (a real yum repository).
 *
 * An add copies the RPM into packages/ under a temporary name, asks rpm what it is and
 * whether its digests hold, and only then gives it its real name (<NVR>.rpm) with a
 * rename: a crash, a kill or a full disk never leaves half an RPM under a name a bake or
 * yum would trust. What is checked is the copy, not the caller's file, so the file
 * cannot change between the check and the use. Then createrepo_c refreshes repodata/.
 *
 * A missing createrepo_c fails the add: the issue asks for a real yum repo, and a repo
 * whose metadata silently lags behind its files is worse than a clear error.
 *
 * One NVR names one build: adding an NVR that is already there with the same bytes is
 * fine (nothing changes), with other bytes it is refused. Replacing it would leave an
 * image baked from the old bytes cached under the same NVR, and yum clients that cached
 * the old metadata would fetch a package whose checksum no longer matches.
 */
#include "cloud/cloud.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/atomic_file.h"
#include "kiln/fstree.h"
#include "kiln/spawn.h"
#include "kiln/strbuf.h"
#include "kiln/tail.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#define RPM_QUERY_TIMEOUT_MS  60000
#define CREATEREPO_TIMEOUT_MS 300000
#define TAIL_BUDGET           512
#define ARCH_MAX              32

/* An RPM file starts with the lead's magic number. Checked before rpm sees the file:
 * rpm -qp reads a file that is not a package as a list of package files to query. */
static const unsigned char rpm_magic[4] = {0xed, 0xab, 0xee, 0xdb};

/* createrepo_c refuses to run while its temporary .repodata/ exists, and two runs at
 * once would race for it: one add at a time, in this process; kilnd's lock keeps other
 * processes out of the state dir. */
static pthread_mutex_t repo_mu = PTHREAD_MUTEX_INITIALIZER;

struct capture {
    struct kiln_strbuf out;
    struct kiln_tail tail; /* both streams, for errors */
};

static void capture_line(void *ctx, enum kiln_stream stream, const char *line)
{
    struct capture *cap = ctx;
    if (stream == KILN_STREAM_STDOUT) {
        kiln_strbuf_append(&cap->out, line);
        kiln_strbuf_appendc(&cap->out, '\n');
    }
    kiln_tail_add(&cap->tail, line);
}

/* Runs argv to completion, capturing; -1 when it cannot run or exits non-zero, with
 * `what` and the program's last lines in err. Missing programs: "X is not installed:
 * apt-get install P". */
static int run(const char *const *argv, const char *package, int64_t timeout_ms,
               struct capture *cap, const char *what, struct kiln_err *err)
{
    memset(cap, 0, sizeof *cap);
    struct kiln_spawn_opts so = {.argv = argv,
                                 .on_line = capture_line,
                                 .ctx = cap,
                                 .timeout_ms = timeout_ms,
                                 .package = package};
    int status = 0;
    if (kiln_spawn_run(&so, &status, err) < 0) {
        if (err != NULL && err->code == KILN_E_NOTFOUND)
            kiln_err_set(err, KILN_E_NOTFOUND, "%s is not installed: apt-get install %s", argv[0],
                         package);
        else
            kiln_err_prefix(err, "%s", what);
        return -1;
    }
    if (status != 0) {
        struct kiln_strbuf sb = KILN_STRBUF_INIT;
        kiln_tail_format(&cap->tail, &sb, TAIL_BUDGET);
        kiln_err_set(err, KILN_E_FAILED, "%s: %s exited with status %d%s%s", what, argv[0], status,
                     sb.len ? ":" : "", kiln_strbuf_str(&sb));
        kiln_strbuf_free(&sb);
        return -1;
    }
    return 0;
}

/* Copies src to a new temp file in dir (a name kiln_atomic_cleanup_temps sweeps), mode
 * 0644, synced. Checks the RPM magic on the way. */
static int copy_in(const char *src, const char *dir, struct kiln_strbuf *tmp, struct kiln_err *err)
{
    /* O_NONBLOCK so a FIFO cannot hang the API thread; regular files ignore it. */
    int in = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (in < 0) {
        kiln_err_sys(err, errno, "cannot add the package %s", src);
        if (err != NULL && errno == ENOENT)
            err->code = KILN_E_NOTFOUND;
        return -1;
    }
    struct stat st;
    if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(in);
        return kiln_err_set(err, KILN_E_INVALID, "cannot add %s: not a regular file", src);
    }
    unsigned char magic[4];
    if (pread(in, magic, sizeof magic, 0) != (ssize_t)sizeof magic ||
        memcmp(magic, rpm_magic, sizeof magic) != 0) {
        close(in);
        return kiln_err_set(err, KILN_E_INVALID,
                            "cannot add %s: it is not an RPM package (it does not start with "
                            "RPM's magic number)",
                            src);
    }
    kiln_strbuf_appendf(tmp, "%s/.incoming.XXXXXX", dir);
    int out = mkostemp(tmp->buf, O_CLOEXEC);
    if (out < 0) {
        int saved = errno;
        close(in);
        return kiln_err_sys(err, saved, "cannot add %s: cannot create a file in %s", src, dir);
    }
    char *buf = xmalloc(1 << 16);
    const char *step = NULL;
    int saved = 0;
    for (;;) {
        ssize_t n = read(in, buf, 1 << 16);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            saved = errno, step = "cannot read it";
            break;
        }
        if (n == 0)
            break;
        if (kiln_write_all(out, buf, (size_t)n) < 0) {
            saved = errno, step = "cannot copy it";
            break;
        }
    }
    free(buf);
    close(in);
    if (step == NULL && fchmod(out, 0644) < 0)
        saved = errno, step = "cannot set its mode";
    if (step == NULL && fsync(out) < 0)
        saved = errno, step = "cannot flush it to disk";
    if (close(out) < 0 && step == NULL)
        saved = errno, step = "cannot flush it to disk";
    if (step != NULL) {
        unlink(tmp->buf);
        return kiln_err_sys(err, saved, "cannot add %s to %s: %s", src, dir, step);
    }
    return 0;
}

/* 1 when the files have the same bytes, 0 when not, -1 on error. */
static int same_contents(const char *a, const char *b)
{
    int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
    struct stat sa, sb;
    int rc = -1;
    if (fa < 0 || fb < 0 || fstat(fa, &sa) < 0 || fstat(fb, &sb) < 0)
        goto out;
    rc = 0;
    if (sa.st_size != sb.st_size)
        goto out;
    char *ba = xmalloc(1 << 16), *bb = xmalloc(1 << 16);
    for (off_t off = 0; off < sa.st_size;) {
        ssize_t na = pread(fa, ba, 1 << 16, off), nb = pread(fb, bb, 1 << 16, off);
        if (na <= 0 || na != nb) {
            rc = na < 0 || nb < 0 ? -1 : 0;
            break;
        }
        if (memcmp(ba, bb, (size_t)na) != 0)
            break;
        off += na;
        if (off == sa.st_size)
            rc = 1;
    }
    if (sa.st_size == 0)
        rc = 1;
    free(ba);
    free(bb);
out:
    if (fa >= 0)
        close(fa);
    if (fb >= 0)
        close(fb);
    return rc;
}

struct rpm_info {
    char name[KILN_APP_SIZE];
    char nvr[CLOUD_NVR_MAX];
};

/* What the package in file says it is, checked: a binary package whose name is an app
 * name and whose NVR is safe as a file name. shown is the caller's name for it. */
static int query_package(const char *file, const char *shown, struct rpm_info *info,
                         struct kiln_err *err)
{
    const char *argv[] = {"rpm",
                          "-qp",
                          "--nomanifest",
                          "--nosignature",
                          "--qf",
                          "%{NAME}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t"
                          "%|SOURCEPACKAGE?{src}:{bin}|\n",
                          file,
                          NULL};
    struct capture cap;
    char *what = xasprintf("cannot add %s: rpm cannot read it", shown);
    int rc = run(argv, "rpm", RPM_QUERY_TIMEOUT_MS, &cap, what, err);
    free(what);
    if (rc < 0)
        goto out;
    rc = -1;
    char *f[5] = {cap.out.buf, NULL, NULL, NULL, NULL};
    char *nl = cap.out.buf ? strchr(cap.out.buf, '\n') : NULL;
    if (nl != NULL)
        *nl = '\0';
    for (int j = 1; j < 5 && f[j - 1] != NULL; j++) {
        f[j] = strchr(f[j - 1], '\t');
        if (f[j] != NULL)
            *f[j]++ = '\0';
    }
    if (f[4] == NULL || nl == NULL || nl[1] != '\0') {
        kiln_err_set(err, KILN_E_INVALID, "cannot add %s: rpm did not describe it as one package",
                     shown);
        goto out;
    }
    if (strcmp(f[4], "src") == 0) {
        kiln_err_set(err, KILN_E_INVALID,
                     "cannot add %s: it is a source RPM; the repo holds binary packages "
                     "(rpmbuild -bb)",
                     shown);
        goto out;
    }
    if (kiln_name_validate_app(f[0], err) < 0) {
        kiln_err_prefix(err, "cannot add %s: the repo holds apps' packages, and its name", shown);
        goto out;
    }
    bool arch_ok = f[3][0] != '\0' && strlen(f[3]) <= ARCH_MAX;
    for (const char *p = f[3]; arch_ok && *p; p++)
        arch_ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
    if (!arch_ok) {
        char q[KILN_QUOTE_SIZE];
        kiln_err_set(err, KILN_E_INVALID, "cannot add %s: its architecture %s is not a plain name",
                     shown, kiln_name_quote(f[3], q, sizeof q));
        goto out;
    }
    int w = snprintf(info->nvr, sizeof info->nvr, "%s-%s-%s.%s", f[0], f[1], f[2], f[3]);
    if (w < 0 || (size_t)w >= sizeof info->nvr) {
        kiln_err_set(err, KILN_E_INVALID, "cannot add %s: its name-version-release is too long",
                     shown);
        goto out;
    }
    if (kiln_package_nvr_validate(info->nvr, err) < 0) {
        kiln_err_prefix(err, "cannot add %s", shown);
        goto out;
    }
    snprintf(info->name, sizeof info->name, "%s", f[0]);
    rc = 0;
out:
    kiln_strbuf_free(&cap.out);
    return rc;
}

/* rpm -K checks the header and payload digests: a truncated or damaged download is
 * caught here, not half-way through a bake. Signatures are not checked: kiln's own
 * builds are unsigned. */
static int verify_digests(const char *file, const char *shown, struct kiln_err *err)
{
    const char *argv[] = {"rpm", "-K", "--nosignature", file, NULL};
    struct capture cap;
    char *what = xasprintf("cannot add %s: it is damaged (its digests do not match)", shown);
    int rc = run(argv, "rpm", RPM_QUERY_TIMEOUT_MS, &cap, what, err);
    free(what);
    kiln_strbuf_free(&cap.out);
    return rc;
}

static int refresh_metadata(struct cloud *c, struct kiln_err *err)
{
    /* A createrepo_c killed with kilnd leaves its temporary .repodata/ behind, and every
     * later run would refuse to start. We are the only writer here (repo_mu, and kilnd's
     * lock on the state dir), so it is a leftover. */
    char *stale = xasprintf("%s/.repodata", c->paths.packages_dir);
    int rc = kiln_tree_remove(stale, err);
    free(stale);
    if (rc < 0)
        return -1;
    const char *argv[] = {"createrepo_c", "--update", "--quiet", c->paths.packages_dir, NULL};
    struct capture cap;
    char *what = xasprintf("cannot update the repo metadata in %s", c->paths.packages_dir);
    rc = run(argv, "createrepo-c", CREATEREPO_TIMEOUT_MS, &cap, what, err);
    free(what);
    kiln_strbuf_free(&cap.out);
    return rc;
}

/* With repo_mu held. */
static int package_add_locked(struct cloud *c, const char *rpm_path, struct cloud_package *out,
                              struct kiln_err *err)
{
    const char *dir = c->paths.packages_dir;
    struct kiln_strbuf tmp = KILN_STRBUF_INIT;
    char *final = NULL;
    bool placed = false, existed = false;
    int rc = -1;

    if (kiln_mkdir_p(dir, 0755, err) < 0)
        goto out;
    if (copy_in(rpm_path, dir, &tmp, err) < 0)
        goto out;
    struct rpm_info info;
    if (query_package(tmp.buf, rpm_path, &info, err) < 0 ||
        verify_digests(tmp.buf, rpm_path, err) < 0)
        goto out;

    final = xasprintf("%s/%s.rpm", dir, info.nvr);
    struct stat st;
    if (lstat(final, &st) == 0) {
        int same = S_ISREG(st.st_mode) ? same_contents(tmp.buf, final) : 0;
        if (same < 0) {
            kiln_err_sys(err, errno, "cannot compare %s with %s", rpm_path, final);
            goto out;
        }
        if (same == 0) {
            kiln_err_set(err, KILN_E_EXISTS,
                         "the repo already has %s with other contents; a name-version-release "
                         "names one build, so give this build a new release (kiln build picks "
                         "one)",
                         info.nvr);
            goto out;
        }
        existed = true; /* the same bytes: adding it again changes nothing */
    } else {
        if (rename(tmp.buf, final) < 0) {
            kiln_err_sys(err, errno, "cannot add %s: cannot move it into place as %s", rpm_path,
                         final);
            goto out;
        }
        placed = true;
        if (kiln_sync_dir(dir) < 0) {
            kiln_err_sys(err, errno, "cannot add %s: cannot sync %s", rpm_path, dir);
            goto out;
        }
    }
    if (refresh_metadata(c, err) < 0)
        goto out;

    struct cloud_package p = {0};
    snprintf(p.nvr, sizeof p.nvr, "%s", info.nvr);
    snprintf(p.name, sizeof p.name, "%s", info.name);
    snprintf(p.file, sizeof p.file, "%s.rpm", info.nvr);
    p.created_us = kiln_now_us();
    pthread_mutex_lock(&c->mu);
    struct cloud_package *rec = cloud_find_package(c, p.nvr);
    if (rec == NULL) {
        rec = xmalloc(sizeof *rec);
        *rec = p;
        cloud_add_package(c, rec);
    } else {
        /* Same bytes as before (checked above): keep when it was first added. */
        snprintf(rec->name, sizeof rec->name, "%s", p.name);
        snprintf(rec->file, sizeof rec->file, "%s", p.file);
    }
    if (out != NULL)
        *out = *rec;
    cloud_changed(c);
    pthread_mutex_unlock(&c->mu);
    rc = 0;
out:
    if (tmp.buf != NULL && !placed)
        unlink(tmp.buf);
    if (rc < 0 && placed && !existed && final != NULL) {
        /* The metadata could not be brought up to date: take the file out again, so the
         * repo's files and its metadata (and cloud.json) agree. */
        unlink(final);
        kiln_sync_dir(dir);
    }
    free(final);
    kiln_strbuf_free(&tmp);
    return rc;
}

int cloud_package_add(struct cloud *c, const char *rpm_path, struct cloud_package *out,
                      struct kiln_err *err)
{
    if (rpm_path == NULL || rpm_path[0] == '\0')
        return kiln_err_set(err, KILN_E_USAGE, "package-add needs the path of an RPM file");
    if (rpm_path[0] != '/')
        return kiln_err_set(err, KILN_E_INVALID,
                            "package-add needs an absolute path (kilnd does not run in your "
                            "directory), not %s",
                            rpm_path);
    pthread_mutex_lock(&repo_mu);
    int rc = package_add_locked(c, rpm_path, out, err);
    pthread_mutex_unlock(&repo_mu);
    return rc;
}

int cloud_packages_cleanup(struct cloud *c, struct kiln_err *err)
{
    struct stat st;
    if (stat(c->paths.packages_dir, &st) < 0)
        return 0; /* nothing was ever added */
    pthread_mutex_lock(&repo_mu);
    int rc = kiln_atomic_cleanup_temps(c->paths.packages_dir, 0, NULL, err);
    char *stale = xasprintf("%s/.repodata", c->paths.packages_dir);
    if (kiln_tree_remove(stale, err) < 0)
        rc = -1;
    free(stale);
    pthread_mutex_unlock(&repo_mu);
    return rc;
}
