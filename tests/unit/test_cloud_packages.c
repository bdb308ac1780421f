/* Tests for kilnd's package repo: real RPMs built with rpmbuild, a real yum repo made
 * by createrepo_c; files that are not RPMs, damaged RPMs, source RPMs and a missing
 * createrepo_c are refused, and nothing half-added is left behind. */
#include "cloud/cloud.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kiln/atomic_file.h"
#include "kiln/fstree.h"
#include "kiln/rpmbuild.h"
#include "kiln/spawn.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "tap.h"

static char tmp[64];
static char example[512];
static char arch[65];

/* Builds the example with release rel (and --with broken if broken) and copies the RPM
 * to tmp/<name>; returns that path (static buffer per call site's copy). */
static char *build_rpm(const char *rel, bool broken, const char *name)
{
    char work[256], rpm[1024], nvr[KILN_NVR_SIZE];
    snprintf(work, sizeof work, "%s/work-%s", tmp, name);
    const char *with[] = {"broken", NULL};
    struct kiln_rpmbuild_opts o = {.source_dir = example,
                                   .work_dir = work,
                                   .release = rel,
                                   .with = broken ? with : NULL,
                                   .timeout_ms = 120000};
    struct kiln_err err = {0};
    if (kiln_rpmbuild(&o, rpm, sizeof rpm, nvr, sizeof nvr, &err) < 0) {
        diag("build failed: %s", err.msg);
        return NULL;
    }
    char *out = xasprintf("%s/%s", tmp, name);
    char *data = NULL;
    size_t len = 0;
    kiln_read_file(rpm, &data, &len, 64 << 20, NULL);
    kiln_atomic_write(out, data, len, 0644, NULL);
    free(data);
    return out;
}

struct collect {
    struct kiln_strbuf out;
};

static void collect_line(void *ctx, enum kiln_stream stream, const char *line)
{
    struct collect *c = ctx;
    if (stream == KILN_STREAM_STDOUT) {
        kiln_strbuf_append(&c->out, line);
        kiln_strbuf_appendc(&c->out, '\n');
    }
}

/* stdout of argv (caller frees), or NULL when it fails. */
static char *capture(const char *const *argv)
{
    struct collect c = {KILN_STRBUF_INIT};
    struct kiln_spawn_opts so = {
        .argv = argv, .on_line = collect_line, .ctx = &c, .timeout_ms = 60000};
    int status = 0;
    if (kiln_spawn_run(&so, &status, NULL) < 0 || status != 0) {
        kiln_strbuf_free(&c.out);
        return NULL;
    }
    return kiln_strbuf_detach(&c.out, NULL);
}

/* The package list in the repo's primary metadata, as "name-ver-rel" words. */
static char *repo_primary(struct cloud *c)
{
    char path[512];
    snprintf(path, sizeof path, "%s/repodata", c->paths.packages_dir);
    DIR *d = opendir(path);
    char *file = NULL;
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL)
        if (strstr(de->d_name, "-primary.xml.gz") != NULL)
            file = xasprintf("%s/%s", path, de->d_name);
    if (d != NULL)
        closedir(d);
    if (file == NULL)
        return xstrdup("");
    const char *argv[] = {"gzip", "-dc", file, NULL};
    char *xml = capture(argv);
    free(file);
    return xml ? xml : xstrdup("");
}

/* Entries in packages/ other than *.rpm and repodata: leftovers. */
static int leftovers(struct cloud *c)
{
    DIR *d = opendir(c->paths.packages_dir);
    int n = 0;
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strcmp(de->d_name, "repodata") == 0 ||
            (len > 4 && strcmp(de->d_name + len - 4, ".rpm") == 0 && de->d_name[0] != '.'))
            continue;
        diag("leftover in packages/: %s", de->d_name);
        n++;
    }
    if (d != NULL)
        closedir(d);
    return n;
}

static size_t npackages(struct cloud *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->packages.n;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static char *r3, *r4, *r5, *r3_broken;

static void test_add(struct cloud *c)
{
    struct cloud_package p;
    struct kiln_err err = {0};
    char want[128];
    int64_t t0 = kiln_mono_us();
    int rc = cloud_package_add(c, r3, &p, &err);
    int64_t t1 = kiln_mono_us();
    if (!ok(rc == 0, "add a real RPM"))
        diag("%s", err.msg);
    diag("package add (copy, rpm -qp, rpm -K, createrepo_c): %lld ms", (long long)(t1 - t0) / 1000);
    snprintf(want, sizeof want, "hello-world-1.0.0-3.%s", arch);
    is_str(p.nvr, want, "  its NVR");
    is_str(p.name, "hello-world", "  its name");
    snprintf(want, sizeof want, "hello-world-1.0.0-3.%s.rpm", arch);
    is_str(p.file, want, "  its file name");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", c->paths.packages_dir, p.file);
    struct stat st;
    ok(stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0644,
       "  the file is in packages/, mode 0644");
    snprintf(path, sizeof path, "%s/repodata/repomd.xml", c->paths.packages_dir);
    ok(access(path, F_OK) == 0, "  repodata/repomd.xml exists: a yum repo");
    char *xml = repo_primary(c);
    ok(strstr(xml, "<name>hello-world</name>") && strstr(xml, "rel=\"3\""),
       "  the repo's primary metadata lists it");
    free(xml);
    pthread_mutex_lock(&c->mu);
    struct cloud_package *rec = cloud_find_package(c, p.nvr);
    ok(rec != NULL && c->dirty, "  recorded in the state, marked dirty");
    int64_t created = rec ? rec->created_us : 0;
    c->dirty = false;
    pthread_mutex_unlock(&c->mu);
    is_int(leftovers(c), 0, "  no temporary files left");

    rc = cloud_package_add(c, r3, &p, &err);
    ok(rc == 0, "adding the same file again is fine");
    pthread_mutex_lock(&c->mu);
    rec = cloud_find_package(c, p.nvr);
    ok(c->packages.n == 1 && rec && rec->created_us == created,
       "  still one record, its time unchanged");
    pthread_mutex_unlock(&c->mu);

    /* The same NVR with other bytes: the broken build of release 3. */
    rc = cloud_package_add(c, r3_broken, &p, &err);
    ok(rc < 0 && err.code == KILN_E_EXISTS && strstr(err.msg, "new release"),
       "the same NVR with other contents is refused");
    diag("%s", err.msg);
    snprintf(path, sizeof path, "%s/hello-world-1.0.0-3.%s.rpm", c->paths.packages_dir, arch);
    char *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    kiln_read_file(path, &a, &la, 64 << 20, NULL);
    kiln_read_file(r3, &b, &lb, 64 << 20, NULL);
    ok(a && b && la == lb && memcmp(a, b, la) == 0, "  the repo's copy is still the first one");
    free(a);
    free(b);
    is_int(leftovers(c), 0, "  no temporary files left");
}

static void expect_refused(struct cloud *c, const char *what, const char *path,
                           enum kiln_errcode code, const char *want)
{
    struct cloud_package p;
    struct kiln_err err = {0};
    size_t before = npackages(c);
    int rc = cloud_package_add(c, path, &p, &err);
    if (!ok(rc < 0 && err.code == code && strstr(err.msg, want), "refused: %s", what))
        diag("rc %d code %d: %s", rc, err.code, err.msg);
    else
        diag("%s", err.msg);
    is_int(npackages(c), before, "  nothing recorded");
    is_int(leftovers(c), 0, "  nothing left in packages/");
}

static void test_refusals(struct cloud *c)
{
    char path[512];
    snprintf(path, sizeof path, "%s/notes.rpm", tmp);
    kiln_atomic_write(path, "hello\n", 6, 0644, NULL);
    expect_refused(c, "a text file named .rpm", path, KILN_E_INVALID, "not an RPM");

    /* rpm -qp would read this as a list of packages to query. */
    snprintf(path, sizeof path, "%s/manifest.rpm", tmp);
    kiln_atomic_write(path, r4, strlen(r4), 0644, NULL);
    expect_refused(c, "an rpm manifest (a list of package paths)", path, KILN_E_INVALID,
                   "not an RPM");

    char *data = NULL;
    size_t len = 0;
    kiln_read_file(r4, &data, &len, 64 << 20, NULL);
    snprintf(path, sizeof path, "%s/truncated.rpm", tmp);
    kiln_atomic_write(path, data, len / 3, 0644, NULL);
    expect_refused(c, "a truncated RPM", path, KILN_E_FAILED, "rpm");
    data[len - 100] ^= 0x5a; /* in the compressed payload */
    snprintf(path, sizeof path, "%s/damaged.rpm", tmp);
    kiln_atomic_write(path, data, len, 0644, NULL);
    expect_refused(c, "an RPM with a damaged payload", path, KILN_E_FAILED, "damaged");
    free(data);

    /* A source RPM. */
    char top[256], def_top[300], def_src[600], spec[600];
    snprintf(top, sizeof top, "%s/srpm", tmp);
    snprintf(def_top, sizeof def_top, "_topdir %s", top);
    snprintf(def_src, sizeof def_src, "_sourcedir %s/src", example);
    snprintf(spec, sizeof spec, "%s/hello-world.spec", example);
    const char *argv[] = {"rpmbuild", "-bs", "--define", def_top, "--define", def_src, spec, NULL};
    char *o = capture(argv);
    free(o);
    snprintf(path, sizeof path, "%s/SRPMS/hello-world-1.0.0-1.src.rpm", top);
    expect_refused(c, "a source RPM", path, KILN_E_INVALID, "source RPM");

    expect_refused(c, "a directory", tmp, KILN_E_INVALID, "not a regular file");
    snprintf(path, sizeof path, "%s/nope.rpm", tmp);
    expect_refused(c, "a missing file", path, KILN_E_NOTFOUND, "nope.rpm");
    expect_refused(c, "a relative path", "x/hello.rpm", KILN_E_INVALID, "absolute path");
    expect_refused(c, "/dev/zero", "/dev/zero", KILN_E_INVALID, "not a regular file");
}

static void test_no_createrepo(struct cloud *c)
{
    /* A PATH with rpm but no createrepo_c. */
    char bin[256], link[300];
    snprintf(bin, sizeof bin, "%s/bin-rpm-only", tmp);
    kiln_mkdir_p(bin, 0755, NULL);
    snprintf(link, sizeof link, "%s/rpm", bin);
    const char *rpm = access("/usr/bin/rpm", X_OK) == 0 ? "/usr/bin/rpm" : "/bin/rpm";
    if (symlink(rpm, link) < 0)
        diag("symlink: %s", link);
    char *saved = xstrdup(getenv("PATH"));
    setenv("PATH", bin, 1); /* no other thread runs now */
    struct cloud_package p;
    struct kiln_err err = {0};
    int rc = cloud_package_add(c, r4, &p, &err);
    setenv("PATH", saved, 1);
    free(saved);
    ok(rc < 0 && err.code == KILN_E_NOTFOUND, "without createrepo_c the add fails");
    is_str(err.msg, "createrepo_c is not installed: apt-get install createrepo-c",
           "  saying what to install");
    char path[512];
    snprintf(path, sizeof path, "%s/hello-world-1.0.0-4.%s.rpm", c->paths.packages_dir, arch);
    ok(access(path, F_OK) != 0, "  the RPM is taken out again (files and metadata agree)");
    pthread_mutex_lock(&c->mu);
    snprintf(path, sizeof path, "hello-world-1.0.0-4.%s", arch);
    ok(cloud_find_package(c, path) == NULL, "  and not recorded");
    pthread_mutex_unlock(&c->mu);
    is_int(leftovers(c), 0, "  nothing left in packages/");
}

static void test_stale_repodata(struct cloud *c)
{
    /* What a createrepo_c killed with kilnd leaves behind. */
    char path[512];
    snprintf(path, sizeof path, "%s/.repodata", c->paths.packages_dir);
    kiln_mkdir_p(path, 0755, NULL);
    struct cloud_package p;
    struct kiln_err err = {0};
    int rc = cloud_package_add(c, r4, &p, &err);
    if (!ok(rc == 0, "a stale .repodata/ from a killed createrepo_c does not block adds"))
        diag("%s", err.msg);
    char *xml = repo_primary(c);
    ok(strstr(xml, "rel=\"3\"") && strstr(xml, "rel=\"4\""), "  the metadata lists both");
    free(xml);

    snprintf(path, sizeof path, "%s/.incoming.Ab12Cd", c->paths.packages_dir);
    kiln_atomic_write(path, "half", 4, 0600, NULL);
    snprintf(path, sizeof path, "%s/.repodata", c->paths.packages_dir);
    kiln_mkdir_p(path, 0755, NULL);
    rc = cloud_packages_cleanup(c, &err);
    ok(rc == 0 && leftovers(c) == 0, "cleanup at start removes a half copy and .repodata/");
}

struct adder {
    struct cloud *c;
    const char *path;
    int rc;
    struct kiln_err err;
};

static void *add_thread(void *arg)
{
    struct adder *a = arg;
    struct cloud_package p;
    a->rc = cloud_package_add(a->c, a->path, &p, &a->err);
    return NULL;
}

static void test_concurrent(struct cloud *c)
{
    struct adder a[3] = {{c, r5, 0, {0}}, {c, r4, 0, {0}}, {c, r5, 0, {0}}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, add_thread, &a[i]);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    ok(a[0].rc == 0 && a[1].rc == 0 && a[2].rc == 0, "three adds at once all succeed");
    for (int i = 0; i < 3; i++)
        if (a[i].rc != 0)
            diag("%s", a[i].err.msg);
    is_int(npackages(c), 3, "  releases 3, 4 and 5 recorded once each");
    char *xml = repo_primary(c);
    ok(strstr(xml, "rel=\"5\"") != NULL, "  the metadata lists release 5");
    free(xml);
    is_int(leftovers(c), 0, "  nothing left in packages/");
}

int main(void)
{
    const char *srcdir = getenv("KILN_SRCDIR");
    snprintf(example, sizeof example, "%s/examples/hello-world", srcdir && *srcdir ? srcdir : ".");
    struct utsname u;
    uname(&u);
    snprintf(arch, sizeof arch, "%s", u.machine);
    snprintf(tmp, sizeof tmp, "/tmp/kiln-test-packages-XXXXXX");
    if (mkdtemp(tmp) == NULL)
        return ok(0, "mkdtemp"), done_testing();

    r3 = build_rpm("3", false, "r3.rpm");
    r4 = build_rpm("4", false, "r4.rpm");
    r5 = build_rpm("5", false, "r5.rpm");
    r3_broken = build_rpm("3", true, "r3-broken.rpm");
    if (!ok(r3 && r4 && r5 && r3_broken, "built four RPMs of the example"))
        return done_testing();

    char home[128];
    snprintf(home, sizeof home, "%s/home", tmp);
    struct kiln_paths paths = {0};
    struct kiln_config cfg;
    struct kiln_err err = {0};
    kiln_config_defaults(&cfg);
    if (kiln_paths_resolve(&paths, home, NULL, &err) < 0 ||
        kiln_paths_ensure_home(&paths, &err) < 0)
        return diag("%s", err.msg), ok(0, "state dir"), done_testing();
    struct cloud c;
    cloud_init(&c, &paths, &cfg, &err);
    ok(cloud_packages_cleanup(&c, &err) == 0, "cleanup before anything was added is fine");

    test_add(&c);
    test_refusals(&c);
    test_no_createrepo(&c);
    test_stale_repodata(&c);
    test_concurrent(&c);

    cloud_free(&c);
    kiln_paths_free(&paths);
    kiln_config_free(&cfg);
    free(r3);
    free(r4);
    free(r5);
    free(r3_broken);
    kiln_tree_remove(tmp, NULL);
    return done_testing();
}
