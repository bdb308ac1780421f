/* kiln: the pipeline's build step (see include/kiln/rpmbuild.h).
 *
 * What examples/hello-world/README.md found out on Debian 12's rpm 4.18 shapes the
 * command: _sourcedir must be absolute (%prep runs in the build dir), BuildRequires
 * cannot be met from Debian's empty rpm database (--nodeps), and _topdir is ours alone
 * so one build never picks up another's output.
 */
#include "kiln/sandbox.h"
#include "kiln/rpmbuild.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/atomic_file.h"
#include "kiln/fstree.h"
#include "kiln/manifest.h"
#include "kiln/strbuf.h"
#include "kiln/tail.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

/* The directories rpmbuild uses under _topdir, emptied before each build. */
static const char *const topdir_subdirs[] = {"BUILD", "BUILDROOT", "RPMS", "SOURCES",
                                             "SPECS", "SRPMS",     "tmp"};

#define VR_MAX   64 /* version or release */
#define WITH_MAX 64 /* a build conditional's name */
/* Room in the error message for rpmbuild's last lines. */
#define TAIL_BUDGET 640
/* Querying the built package is quick; this only guards against a wedged rpm. */
#define QUERY_TIMEOUT_MS 60000

/* Whether a built Release is this build's: %{app_release} itself, or anything that
 * ends in the %{?dist} kiln defines for the build (".k" and the build's number), as
 * specs written the Fedora way do ("Release: 1%{?dist}" builds as 1.k7). */
static bool release_is_ours(const char *built, const char *release)
{
    if (strcmp(built, release) == 0)
        return true;
    size_t bl = strlen(built), rl = strlen(release);
    return bl > rl + 2 && strcmp(built + bl - rl, release) == 0 &&
           strncmp(built + bl - rl - 2, ".k", 2) == 0;
}

/* rpm's version and release: no dash (it separates them in an NVR). */
/* Whether prog is an executable file in one of $PATH's directories. */
static bool program_in_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (path == NULL || path[0] == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path;;) {
        const char *end = strchrnul(p, ':');
        char *cand = xasprintf("%.*s/%s", (int)(end - p), p, prog);
        bool found = (end > p) && access(cand, X_OK) == 0;
        free(cand);
        if (found)
            return true;
        if (*end == '\0')
            return false;
        p = end + 1;
    }
}

static int check_vr(const char *what, const char *s, struct kiln_err *err)
{
    char q[KILN_QUOTE_SIZE];
    size_t n = strlen(s);
    bool good = n > 0 && n <= VR_MAX &&
                ((s[0] >= '0' && s[0] <= '9') || (s[0] >= 'a' && s[0] <= 'z') ||
                 (s[0] >= 'A' && s[0] <= 'Z'));
    for (size_t i = 0; good && i < n; i++)
        good = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
               (s[i] >= 'A' && s[i] <= 'Z') || strchr("._+~^", s[i]) != NULL;
    if (!good)
        return kiln_err_set(err, KILN_E_INVALID,
                            "%s %s is not valid: 1 to %d letters, digits and . _ + ~ ^, "
                            "starting with a letter or digit, no dash",
                            what, kiln_name_quote(s, q, sizeof q), VR_MAX);
    return 0;
}

static int check_with(const char *s, struct kiln_err *err)
{
    char q[KILN_QUOTE_SIZE];
    size_t n = strlen(s);
    bool good = n > 0 && n <= WITH_MAX && s[0] != '_' && !(s[0] >= '0' && s[0] <= '9');
    for (size_t i = 0; good && i < n; i++)
        good = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
               (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_';
    if (!good)
        return kiln_err_set(err, KILN_E_INVALID,
                            "build option --with %s is not valid: a name of letters, digits "
                            "and _ such as \"broken\"",
                            kiln_name_quote(s, q, sizeof q));
    return 0;
}

/* Whether path is dir itself or below it (both canonical). */
static bool path_within(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Refuses a work dir whose emptying would delete the app's own files. */
static int check_overlap(const char *work, const char *app_dir, const char *sources,
                         struct kiln_err *err)
{
    if (strcmp(work, app_dir) == 0 || path_within(work, sources))
        return kiln_err_set(err, KILN_E_INVALID,
                            "the build's work dir %s is the app's own directory or inside its "
                            "sources; give it a directory of its own",
                            work);
    for (size_t i = 0; i < sizeof topdir_subdirs / sizeof topdir_subdirs[0]; i++) {
        char *sub = xasprintf("%s/%s", work, topdir_subdirs[i]);
        bool hit = path_within(app_dir, sub) || path_within(sources, sub);
        free(sub);
        if (hit)
            return kiln_err_set(err, KILN_E_INVALID,
                                "the app's directory %s lies in %s/%s, which a build in the "
                                "work dir %s empties; give the build another work dir",
                                app_dir, work, topdir_subdirs[i], work);
    }
    return 0;
}

static int fresh_dir(const char *work, const char *name, struct kiln_err *err)
{
    char *path = xasprintf("%s/%s", work, name);
    int rc = kiln_tree_remove(path, err);
    if (rc == 0 && mkdir(path, 0755) < 0)
        rc = kiln_err_sys(err, errno, "cannot create %s", path);
    free(path);
    return rc;
}

/* So that a failed or stopped build leaves no RPM at all, not even a partly written
 * one: rpmbuild writes packages in place, at the end. */
static void clear_rpms(const char *work)
{
    fresh_dir(work, "RPMS", NULL);
}

struct build_run {
    const struct kiln_rpmbuild_opts *o;
    struct kiln_tail tail;
};

static void build_line(void *ctx, enum kiln_stream stream, const char *line)
{
    struct build_run *r = ctx;
    kiln_tail_add(&r->tail, line);
    if (r->o->on_line != NULL)
        r->o->on_line(r->o->ctx, stream, line);
}

static bool build_cancelled(void *ctx)
{
    struct build_run *r = ctx;
    return r->o->cancelled != NULL && r->o->cancelled(r->o->ctx);
}

struct rpm_list {
    char **v;
    size_t n, cap;
};

static void rpm_list_free(struct rpm_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.rpm under work/RPMS/<arch>/, sorted. RPMS was emptied before the build, so
 * these are exactly what it wrote (found on disk rather than in its "Wrote:" lines,
 * which a translated rpmbuild words differently). */
static int find_rpms(const char *work, struct rpm_list *l, struct kiln_err *err)
{
    char *rpms = xasprintf("%s/RPMS", work);
    DIR *d = opendir(rpms);
    if (d == NULL) {
        int rc = kiln_err_sys(err, errno, "cannot list %s after the build", rpms);
        free(rpms);
        return rc;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *arch = xasprintf("%s/%s", rpms, de->d_name);
        DIR *a = opendir(arch);
        struct dirent *f;
        while (a != NULL && (f = readdir(a)) != NULL) {
            size_t n = strlen(f->d_name);
            if (f->d_name[0] == '.' || n <= 4 || strcmp(f->d_name + n - 4, ".rpm") != 0)
                continue;
            if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 8;
                l->v = xrealloc(l->v, l->cap * sizeof *l->v);
            }
            l->v[l->n++] = xasprintf("%s/%s", arch, f->d_name);
        }
        if (a != NULL)
            closedir(a);
        free(arch);
    }
    closedir(d);
    free(rpms);
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, cmp_str);
    return 0;
}

struct query_run {
    struct kiln_strbuf out;
    struct kiln_tail tail;
};

static void query_line(void *ctx, enum kiln_stream stream, const char *line)
{
    struct query_run *q = ctx;
    if (stream == KILN_STREAM_STDOUT) {
        kiln_strbuf_append(&q->out, line);
        kiln_strbuf_appendc(&q->out, '\n');
    } else {
        kiln_tail_add(&q->tail, line);
    }
}

/* Which of the built packages is the app's: asks rpm for each one's name, version,
 * release and arch (one line per package, in the order given). */
static int pick_package(const struct rpm_list *l, const char *app, const char *version,
                        const char *release, char *rpm_path_out, size_t n, char *nvr_out, size_t nn,
                        struct kiln_err *err)
{
    const char **argv = xcalloc(l->n + 8, sizeof *argv);
    size_t k = 0;
    argv[k++] = "rpm";
    argv[k++] = "-qp";
    argv[k++] = "--nomanifest"; /* a file that is not an RPM is not a list of packages */
    argv[k++] = "--nosignature";
    argv[k++] = "--qf";
    argv[k++] = "%{NAME}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n";
    for (size_t i = 0; i < l->n; i++)
        argv[k++] = l->v[i];
    argv[k] = NULL;

    struct query_run q;
    memset(&q, 0, sizeof q);
    struct kiln_spawn_opts so = {.argv = argv,
                                 .on_line = query_line,
                                 .ctx = &q,
                                 .timeout_ms = QUERY_TIMEOUT_MS,
                                 .package = "rpm"};
    int status = 0, rc = -1;
    struct kiln_strbuf built = KILN_STRBUF_INIT;
    if (kiln_spawn_run(&so, &status, err) < 0)
        goto out;
    if (status != 0) {
        struct kiln_strbuf sb = KILN_STRBUF_INIT;
        kiln_tail_format(&q.tail, &sb, TAIL_BUDGET);
        kiln_err_set(err, KILN_E_FAILED,
                     "rpmbuild succeeded but rpm cannot read what it built "
                     "(rpm -qp exit status %d):%s",
                     status, kiln_strbuf_str(&sb));
        kiln_strbuf_free(&sb);
        goto out;
    }
    size_t i = 0;
    for (char *line = q.out.buf, *next; line != NULL && *line != '\0' && i < l->n;
         line = next, i++) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        char *f[4] = {line, NULL, NULL, NULL};
        for (int j = 1; j < 4 && f[j - 1] != NULL; j++) {
            f[j] = strchr(f[j - 1], '\t');
            if (f[j] != NULL)
                *f[j]++ = '\0';
        }
        if (f[3] == NULL)
            continue;
        kiln_strbuf_appendf(&built, "%s%s-%s-%s.%s", built.len ? ", " : "", f[0], f[1], f[2], f[3]);
        if (strcmp(f[0], app) != 0 || rc == 0)
            continue;
        if (version != NULL && strcmp(f[1], version) != 0) {
            kiln_err_set(err, KILN_E_FAILED,
                         "the spec built %s version %s, not the %s asked for: its Version must "
                         "be %%{app_version}",
                         app, f[1], version);
            goto out;
        }
        if (release != NULL && !release_is_ours(f[2], release)) {
            kiln_err_set(err, KILN_E_FAILED,
                         "the spec built %s release %s, not the %s asked for: its Release must "
                         "be %%{app_release}, or end in %%{?dist} (as in 1%%{?dist}), or two "
                         "builds would share one name-version-release",
                         app, f[2], release);
            goto out;
        }
        int w1 = snprintf(nvr_out, nn, "%s-%s-%s.%s", f[0], f[1], f[2], f[3]);
        int w2 = snprintf(rpm_path_out, n, "%s", l->v[i]);
        if (w1 < 0 || (size_t)w1 >= nn || w2 < 0 || (size_t)w2 >= n) {
            kiln_err_set(err, KILN_E_INVALID,
                         "the package %s-%s-%s.%s: its name or path is too "
                         "long for kiln",
                         f[0], f[1], f[2], f[3]);
            goto out;
        }
        rc = 0;
    }
    if (rc < 0)
        kiln_err_set(err, KILN_E_FAILED,
                     "rpmbuild succeeded but built no package named %s (it built: %s); the "
                     "spec's Name must be the app's name in kiln.json",
                     app, built.len ? built.buf : "nothing");
out:
    kiln_strbuf_free(&built);
    kiln_strbuf_free(&q.out);
    free(argv);
    return rc;
}

/* realpath() into a malloc'd string, or NULL with err naming what. */
static char *real_dir(const char *path, const char *what, struct kiln_err *err)
{
    char *r = realpath(path, NULL);
    struct stat st;
    if (r == NULL) {
        kiln_err_sys(err, errno, "%s %s", what, path);
        if (err != NULL && errno == ENOENT)
            err->code = KILN_E_NOTFOUND;
        return NULL;
    }
    if (stat(r, &st) < 0 || !S_ISDIR(st.st_mode)) {
        kiln_err_set(err, KILN_E_INVALID, "%s %s is not a directory", what, path);
        free(r);
        return NULL;
    }
    return r;
}

int kiln_rpmbuild(const struct kiln_rpmbuild_opts *o, char *rpm_path_out, size_t n, char *nvr_out,
                  size_t nn, struct kiln_err *err)
{
    if (n > 0)
        rpm_path_out[0] = '\0';
    if (nn > 0)
        nvr_out[0] = '\0';
    if (o->source_dir == NULL || o->work_dir == NULL)
        return kiln_err_set(err, KILN_E_USAGE, "a build needs the app's directory and a work dir");
    if ((o->version != NULL && check_vr("version", o->version, err) < 0) ||
        (o->release != NULL && check_vr("release", o->release, err) < 0))
        return -1;
    for (size_t i = 0; o->with != NULL && o->with[i] != NULL; i++)
        if (check_with(o->with[i], err) < 0)
            return -1;

    struct kiln_manifest m = {0};
    struct kiln_strbuf msg = KILN_STRBUF_INIT;
    char *app_dir = NULL, *sources = NULL, *work = NULL, *spec = NULL, *manifest = NULL;
    char *defs[6] = {0};
    const char **argv = NULL;
    int rc = -1;

    app_dir = real_dir(o->source_dir, "cannot build: the app's directory", err);
    if (app_dir == NULL)
        goto out;
    manifest = xasprintf("%s/kiln.json", app_dir);
    if (kiln_manifest_load(manifest, &m, err) < 0)
        goto out;
    spec = xasprintf("%s/%s", app_dir, m.spec);
    struct stat st;
    if (stat(spec, &st) < 0 || !S_ISREG(st.st_mode)) {
        kiln_err_set(err, KILN_E_NOTFOUND, "%s names the spec %s, which is not a file in %s",
                     manifest, m.spec, app_dir);
        goto out;
    }
    char *src_path = xasprintf("%s/%s", app_dir, m.source);
    sources = real_dir(src_path, "cannot build: the sources' directory", err);
    free(src_path);
    if (sources == NULL) {
        kiln_err_prefix(err, "%s", manifest);
        goto out;
    }
    if (kiln_mkdir_p(o->work_dir, 0755, err) < 0)
        goto out;
    work = real_dir(o->work_dir, "cannot build: the work dir", err);
    if (work == NULL || check_overlap(work, app_dir, sources, err) < 0)
        goto out;
    for (size_t i = 0; i < sizeof topdir_subdirs / sizeof topdir_subdirs[0]; i++)
        if (fresh_dir(work, topdir_subdirs[i], err) < 0)
            goto out;

    size_t nwith = 0;
    while (o->with != NULL && o->with[nwith] != NULL)
        nwith++;
    argv = xcalloc(24 + 2 * nwith, sizeof *argv);
    size_t k = 0, d = 0;
    /* The spec's scripts run in a sandbox where only the build's own directory can be
     * written (src/util/sandbox.c): %install cannot touch the host or kiln's state. The
     * wrapper is kiln itself, so rpmbuild's absence is checked here, where it can still
     * be said as "not installed". */
    char exe[PATH_MAX];
    bool have_rpmbuild = program_in_path("rpmbuild");
    bool sandboxed = have_rpmbuild && kiln_sandbox_argv(work, exe, sizeof exe, argv);
    if (sandboxed)
        k = 5;
    else if (have_rpmbuild && o->on_line != NULL)
        o->on_line(o->ctx, KILN_STREAM_STDERR,
                   "the build is not sandboxed: kiln cannot find its own binary");
    argv[k++] = "rpmbuild";
    argv[k++] = "-bb";
    argv[k++] = "--nodeps";
    argv[k++] = "--define";
    argv[k++] = defs[d++] = xasprintf("_topdir %s", work);
    argv[k++] = "--define";
    argv[k++] = defs[d++] = xasprintf("_sourcedir %s", sources);
    argv[k++] = "--define";
    argv[k++] = defs[d++] = xasprintf("_tmppath %s/tmp", work);
    if (o->version != NULL) {
        argv[k++] = "--define";
        argv[k++] = defs[d++] = xasprintf("app_version %s", o->version);
    }
    if (o->release != NULL) {
        argv[k++] = "--define";
        argv[k++] = defs[d++] = xasprintf("app_release %s", o->release);
        /* Specs that follow the Fedora/RHEL convention (Release: 1%{?dist}) get a
         * distinct release per build too. */
        argv[k++] = "--define";
        argv[k++] = defs[d++] = xasprintf("dist .k%s", o->release);
    }
    for (size_t i = 0; i < nwith; i++) {
        argv[k++] = "--with";
        argv[k++] = o->with[i];
    }
    argv[k++] = spec;
    argv[k] = NULL;

    struct build_run run = {.o = o};
    struct kiln_spawn_opts so = {.argv = argv,
                                 .cwd = app_dir,
                                 .timeout_ms = o->timeout_ms,
                                 .on_line = build_line,
                                 .cancelled = build_cancelled,
                                 .ctx = &run,
                                 .package = "rpm"};
    int status = 0;
    int64_t t0 = kiln_mono_us();
    if (kiln_spawn_run(&so, &status, err) < 0) {
        if (err != NULL && err->code == KILN_E_NOTFOUND) {
            kiln_err_set(err, KILN_E_NOTFOUND, "rpmbuild is not installed: apt-get install rpm");
        } else if (err != NULL && (err->code == KILN_E_TIMEOUT || err->code == KILN_E_CANCELLED)) {
            char dur[KILN_DURATION_MAX];
            kiln_tail_format(&run.tail, &msg, TAIL_BUDGET);
            if (err->code == KILN_E_TIMEOUT)
                kiln_err_set(err, KILN_E_TIMEOUT,
                             "rpmbuild of %s did not finish within %s and was stopped; its last "
                             "lines:%s",
                             m.name, kiln_format_duration(o->timeout_ms, dur),
                             kiln_strbuf_str(&msg));
            else
                kiln_err_set(err, KILN_E_CANCELLED, "rpmbuild of %s was cancelled after %s", m.name,
                             kiln_format_duration((kiln_mono_us() - t0) / 1000, dur));
        }
        clear_rpms(work);
        goto out;
    }
    if (status != 0) {
        kiln_tail_format(&run.tail, &msg, TAIL_BUDGET);
        kiln_err_set(err, KILN_E_FAILED,
                     "rpmbuild failed (exit status %d) building %s from %s; "
                     "its last lines:%s",
                     status, m.name, m.spec, kiln_strbuf_str(&msg));
        clear_rpms(work);
        goto out;
    }

    struct rpm_list l = {0};
    rc = find_rpms(work, &l, err);
    if (rc == 0)
        rc = pick_package(&l, m.name, o->version, o->release, rpm_path_out, n, nvr_out, nn, err);
    rpm_list_free(&l);
    if (rc < 0) {
        clear_rpms(work);
        if (n > 0)
            rpm_path_out[0] = '\0';
        if (nn > 0)
            nvr_out[0] = '\0';
    }
out:
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        free(defs[i]);
    free(argv);
    free(spec);
    free(manifest);
    free(app_dir);
    free(sources);
    free(work);
    kiln_manifest_free(&m);
    kiln_strbuf_free(&msg);
    return rc;
}

bool kiln_rpmbuild_is_trace(const char *line)
{
    size_t plus = strspn(line, "+");
    return plus > 0 && line[plus] == ' ';
}
