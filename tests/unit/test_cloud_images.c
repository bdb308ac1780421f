/* Tests for bakes: real RPMs of the example app, installed with rpm --root into real
 * roots. The same package bakes to the same id (also in another state dir, at another
 * time), a cache hit says so, another release gives another id, the image is read-only
 * and its program runs, and a bake that fails leaves no root and no image. */
#include "cloud/cloud.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/atomic_file.h"
#include "kiln/fstree.h"
#include "kiln/rpmbuild.h"
#include "kiln/spawn.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "tap.h"

#include <cJSON.h>

static char tmp[64];
static char example[512];

struct home {
    struct kiln_paths paths;
    struct kiln_config cfg;
    struct cloud c;
};

static int home_open(struct home *h, const char *name)
{
    char dir[128];
    struct kiln_err err = {0};
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    memset(h, 0, sizeof *h);
    kiln_config_defaults(&h->cfg);
    if (kiln_paths_resolve(&h->paths, dir, NULL, &err) < 0 ||
        kiln_paths_ensure_home(&h->paths, &err) < 0 ||
        cloud_init(&h->c, &h->paths, &h->cfg, &err) < 0) {
        diag("%s", err.msg);
        return -1;
    }
    return 0;
}

static void home_close(struct home *h)
{
    cloud_free(&h->c);
    kiln_paths_free(&h->paths);
    kiln_config_free(&h->cfg);
}

/* Builds the example with release rel into tmp/<rel>.rpm (path returned, caller frees). */
static char *build_rpm(const char *rel)
{
    char work[256], rpm[1024], nvr[KILN_NVR_SIZE];
    snprintf(work, sizeof work, "%s/work-%s", tmp, rel);
    struct kiln_rpmbuild_opts o = {
        .source_dir = example, .work_dir = work, .release = rel, .timeout_ms = 120000};
    struct kiln_err err = {0};
    if (kiln_rpmbuild(&o, rpm, sizeof rpm, nvr, sizeof nvr, &err) < 0) {
        diag("build failed: %s", err.msg);
        return NULL;
    }
    return xstrdup(rpm);
}

static int add(struct cloud *c, const char *rpm, char nvr[CLOUD_NVR_MAX])
{
    struct cloud_package p;
    struct kiln_err err = {0};
    if (cloud_package_add(c, rpm, &p, &err) < 0) {
        diag("add failed: %s", err.msg);
        return -1;
    }
    snprintf(nvr, CLOUD_NVR_MAX, "%s", p.nvr);
    return 0;
}

struct log {
    struct kiln_strbuf text;
    int n;
};

static void on_line(void *ctx, const char *line)
{
    struct log *l = ctx;
    kiln_strbuf_append(&l->text, line);
    kiln_strbuf_appendc(&l->text, '\n');
    l->n++;
}

static int bake(struct cloud *c, const char *nvr, char id[CLOUD_ID_MAX], bool *cached,
                struct log *l, struct kiln_err *err)
{
    kiln_strbuf_free(&l->text);
    l->n = 0;
    return cloud_bake(c, nvr, "hello-world", id, cached, on_line, l, err);
}

/* Entries in images/ whose names start with ".": temp roots and temp files. */
static int hidden_entries(struct cloud *c)
{
    DIR *d = opendir(c->paths.images_dir);
    int n = 0;
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL)
        if (de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            diag("left in images/: %s", de->d_name);
            n++;
        }
    if (d != NULL)
        closedir(d);
    return n;
}

static int count_images(struct cloud *c)
{
    DIR *d = opendir(c->paths.images_dir);
    int n = 0;
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL)
        n += strncmp(de->d_name, "img-", 4) == 0 && strchr(de->d_name, '.') == NULL;
    if (d != NULL)
        closedir(d);
    return n;
}

static bool id_shape(const char *id)
{
    if (strncmp(id, "img-", 4) != 0 || strlen(id) != 16)
        return false;
    for (const char *p = id + 4; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* Whether every entry under path has no write bit, directories being 0555. */
static bool read_only_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return false;
    if (S_ISLNK(st.st_mode))
        return true;
    if ((st.st_mode & 0222) != 0)
        return diag("writable: %s (%o)", path, st.st_mode & 07777), false;
    if (!S_ISDIR(st.st_mode))
        return true;
    if ((st.st_mode & 07777) != 0555)
        return diag("directory not 0555: %s", path), false;
    DIR *d = opendir(path);
    bool good = d != NULL;
    struct dirent *de;
    while (good && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *sub = xasprintf("%s/%s", path, de->d_name);
        good = read_only_tree(sub);
        free(sub);
    }
    if (d != NULL)
        closedir(d);
    return good;
}

struct collect {
    struct kiln_strbuf out;
};

static void collect_line(void *ctx, enum kiln_stream stream, const char *line)
{
    struct collect *c = ctx;
    kiln_strbuf_append(&c->out, line);
}

static char *image_version(struct cloud *c, const char *id)
{
    char *prog = xasprintf("%s/%s/usr/bin/hello-world", c->paths.images_dir, id);
    const char *argv[] = {prog, "--version", NULL};
    struct collect col = {KILN_STRBUF_INIT};
    struct kiln_spawn_opts so = {
        .argv = argv, .on_line = collect_line, .ctx = &col, .timeout_ms = 10000};
    int status = -1;
    kiln_spawn_run(&so, &status, NULL);
    free(prog);
    return kiln_strbuf_detach(&col.out, NULL);
}

static char *r3, *r4, *r5;
static char id3[CLOUD_ID_MAX];

static void test_bake(struct home *h)
{
    struct cloud *c = &h->c;
    char nvr[CLOUD_NVR_MAX], id[CLOUD_ID_MAX];
    bool cached = true;
    struct log l = {KILN_STRBUF_INIT, 0};
    struct kiln_err err = {0};
    if (add(c, r3, nvr) < 0)
        return;

    int64_t t0 = kiln_mono_us();
    int rc = bake(c, nvr, id, &cached, &l, &err);
    int64_t t1 = kiln_mono_us();
    if (!ok(rc == 0, "bake a real package"))
        diag("%s", err.msg);
    diag("first bake: %lld ms", (long long)(t1 - t0) / 1000);
    ok(id_shape(id), "  the id is img- and 12 hex digits: %s", id);
    ok(!cached, "  not from the cache");
    const char *log = kiln_strbuf_str(&l.text);
    ok(strstr(log, "--noscripts: the local base image has no /bin/sh") && strstr(log, "has none"),
       "  the log says scriptlets are skipped, and that this package has none");
    ok(strstr(log, "rpm --root") && strstr(log, "Preparing packages"),
       "  the log has the command and rpm's own lines");
    ok(strstr(log, "baked image img-") != NULL, "  and the result");
    ok(strstr(log, "no base image: the package is baked alone; kiln base build makes one") != NULL,
       "  with no base, the log says the package is baked alone");
    diag("bake log:\n%s", log);
    snprintf(id3, sizeof id3, "%s", id);

    char *root = xasprintf("%s/%s", c->paths.images_dir, id);
    ok(read_only_tree(root), "  the image is read-only: directories 0555, no write bits");
    struct stat st;
    char *prog = xasprintf("%s/usr/bin/hello-world", root);
    ok(stat(prog, &st) == 0 && (st.st_mode & 07777) == 0555, "  the program keeps its x bits");
    char *db = xasprintf("%s/.kiln-rpmdb", root);
    ok(access(db, F_OK) != 0, "  the rpm database is not in the image");
    char *version = image_version(c, id);
    is_str(version, "hello-world 1.0.0-3", "  the image's program runs and is release 3");
    free(version);
    free(prog);
    free(db);
    free(root);

    char *meta_path = xasprintf("%s/%s.json", c->paths.images_dir, id);
    char *meta = NULL;
    ok(kiln_read_file(meta_path, &meta, NULL, 65536, NULL) == 0 && strstr(meta, nvr) &&
           strstr(meta, "\"app\":\t\"hello-world\"") && strstr(meta, "\"kind\":\t\"files\""),
       "  images/%s.json names the package, the app and its kind (files)", id);
    free(meta);
    free(meta_path);
    is_int(hidden_entries(c), 0, "  no temporary root left");

    pthread_mutex_lock(&c->mu);
    struct cloud_image *im = cloud_find_image(c, id);
    ok(im && strcmp(im->package, nvr) == 0 && strcmp(im->app, "hello-world") == 0 &&
           !cloud_image_is_root(im) && im->base[0] == '\0' && c->dirty,
       "  recorded with its package and app, a files image without a base");
    pthread_mutex_unlock(&c->mu);

    char id2[CLOUD_ID_MAX];
    t0 = kiln_mono_us();
    rc = bake(c, nvr, id2, &cached, &l, &err);
    t1 = kiln_mono_us();
    ok(rc == 0 && cached && strcmp(id, id2) == 0, "baking it again: the same image, cached");
    ok(strstr(kiln_strbuf_str(&l.text), "(cache hit)") != NULL, "  the log says cache hit");
    diag("cache hit: %lld us", (long long)(t1 - t0));

    /* Forget the record: a real second install must give the same digest. */
    pthread_mutex_lock(&c->mu);
    im = cloud_find_image(c, id);
    for (size_t i = 0; im != NULL && i < c->images.n; i++)
        if (c->images.v[i] == im) {
            memmove(&c->images.v[i], &c->images.v[i + 1],
                    (c->images.n - i - 1) * sizeof *c->images.v);
            c->images.n--;
            free(im);
            break;
        }
    pthread_mutex_unlock(&c->mu);
    rc = bake(c, nvr, id2, &cached, &l, &err);
    ok(rc == 0 && !cached && strcmp(id, id2) == 0,
       "a second real install of the same package digests to the same id");
    ok(strstr(kiln_strbuf_str(&l.text), "reusing it") != NULL,
       "  and reuses the image dir already there");
    is_int(count_images(c), 1, "  one image dir");
    is_int(hidden_entries(c), 0, "  no temporary root left");

    /* The image dir vanished (someone removed it): bake again rather than hand out a
     * missing image. */
    root = xasprintf("%s/%s", c->paths.images_dir, id);
    kiln_tree_remove(root, NULL);
    rc = bake(c, nvr, id2, &cached, &l, &err);
    ok(rc == 0 && !cached && strcmp(id, id2) == 0 && access(root, F_OK) == 0,
       "a recorded image whose dir is gone is baked again, to the same id");
    ok(strstr(kiln_strbuf_str(&l.text), "gone") != NULL, "  the log says why");
    free(root);
    kiln_strbuf_free(&l.text);
}

static void test_other_release(struct home *h)
{
    struct cloud *c = &h->c;
    char nvr[CLOUD_NVR_MAX], id[CLOUD_ID_MAX];
    bool cached;
    struct log l = {KILN_STRBUF_INIT, 0};
    struct kiln_err err = {0};
    if (add(c, r4, nvr) < 0)
        return;
    int rc = bake(c, nvr, id, &cached, &l, &err);
    ok(rc == 0 && id_shape(id) && strcmp(id, id3) != 0,
       "another release (its version compiled in) gives another id: %s", id);
    char *v = image_version(c, id);
    is_str(v, "hello-world 1.0.0-4", "  and runs as release 4");
    free(v);
    is_int(count_images(c), 2, "  two images");
    kiln_strbuf_free(&l.text);
}

static void test_other_home(void)
{
    /* Another state dir, another time, another temp root name: the same id. */
    struct home h2;
    if (home_open(&h2, "home2") < 0)
        return;
    char nvr[CLOUD_NVR_MAX], id[CLOUD_ID_MAX];
    bool cached;
    struct log l = {KILN_STRBUF_INIT, 0};
    struct kiln_err err = {0};
    if (add(&h2.c, r3, nvr) == 0) {
        int rc = bake(&h2.c, nvr, id, &cached, &l, &err);
        ok(rc == 0 && strcmp(id, id3) == 0, "the same package in another state dir: same id %s",
           id);
    }
    kiln_strbuf_free(&l.text);
    home_close(&h2);
}

static void test_failures(struct home *h)
{
    struct cloud *c = &h->c;
    char nvr[CLOUD_NVR_MAX], id[CLOUD_ID_MAX] = "x";
    bool cached = true;
    struct log l = {KILN_STRBUF_INIT, 0};
    struct kiln_err err = {0};
    if (add(c, r5, nvr) < 0)
        return;
    /* The repo's copy is damaged after it was added (a bad disk, a careless hand). */
    pthread_mutex_lock(&c->mu);
    struct cloud_package *p = cloud_find_package(c, nvr);
    char *file = xasprintf("%s/%s", c->paths.packages_dir, p ? p->file : "?");
    size_t images_before = c->images.n;
    pthread_mutex_unlock(&c->mu);
    char *data = NULL;
    size_t len = 0;
    kiln_read_file(file, &data, &len, 64 << 20, NULL);
    if (data != NULL) {
        data[len - 100] ^= 0x5a;
        kiln_atomic_write(file, data, len, 0644, NULL);
    }
    free(data);
    int dirs_before = count_images(c);
    int rc = bake(c, nvr, id, &cached, &l, &err);
    ok(rc < 0 && err.code == KILN_E_FAILED && strstr(err.msg, "rpm could not install"),
       "a damaged package fails the bake");
    ok(strstr(err.msg, "does not verify") || strstr(err.msg, "BAD"),
       "  with rpm's own reason in the message");
    diag("%s", err.msg);
    is_str(id, "", "  no image id");
    is_int(hidden_entries(c), 0, "  no temporary root left");
    is_int(count_images(c), dirs_before, "  no image dir");
    pthread_mutex_lock(&c->mu);
    ok(c->images.n == images_before && cloud_find_image_by_package(c, nvr) == NULL,
       "  no image recorded");
    pthread_mutex_unlock(&c->mu);

    /* The package file is gone from the repo. */
    unlink(file);
    rc = bake(c, nvr, id, &cached, &l, &err);
    ok(rc < 0 && err.code == KILN_E_NOTFOUND && strstr(err.msg, "missing from the repo"),
       "a package whose file is gone: not found");
    free(file);

    rc = bake(c, "hello-world-9.9.9-1.x86_64", id, &cached, &l, &err);
    ok(rc < 0 && err.code == KILN_E_NOTFOUND && strstr(err.msg, "package-add"),
       "an unknown package: not found, saying how to add it");
    rc = bake(c, "../../etc-1-1", id, &cached, &l, &err);
    ok(rc < 0 && err.code == KILN_E_INVALID, "a hostile NVR is refused");
    rc = cloud_bake(c, nvr, "Bad App", id, &cached, NULL, NULL, &err);
    ok(rc < 0 && err.code == KILN_E_INVALID, "a bad app name is refused");
    kiln_strbuf_free(&l.text);
}

static void test_scriptlets(struct home *h)
{
    /* A package with a %post: the log must say it is not run. */
    char dir[256], spec[300], def[300];
    snprintf(dir, sizeof dir, "%s/scripty", tmp);
    kiln_mkdir_p(dir, 0755, NULL);
    snprintf(spec, sizeof spec, "%s/scripty.spec", dir);
    const char *text = "Name: scripty\nVersion: 1\nRelease: 1\nSummary: x\nLicense: MIT\n"
                       "BuildArch: noarch\n%description\nx\n"
                       "%install\nmkdir -p %{buildroot}/etc\necho hi > %{buildroot}/etc/scripty\n"
                       "%post\necho installed > /tmp/scripty-was-here\n"
                       "%files\n/etc/scripty\n";
    kiln_atomic_write(spec, text, strlen(text), 0644, NULL);
    snprintf(def, sizeof def, "_topdir %s/top", dir);
    const char *argv[] = {"rpmbuild", "-bb", "--define", def, spec, NULL};
    struct kiln_spawn_opts so = {.argv = argv, .timeout_ms = 60000};
    int status = -1;
    kiln_spawn_run(&so, &status, NULL);
    char *rpm = xasprintf("%s/top/RPMS/noarch/scripty-1-1.noarch.rpm", dir);
    char nvr[CLOUD_NVR_MAX], id[CLOUD_ID_MAX];
    bool cached;
    struct log l = {KILN_STRBUF_INIT, 0};
    struct kiln_err err = {0};
    if (status == 0 && add(&h->c, rpm, nvr) == 0) {
        int rc = cloud_bake(&h->c, nvr, NULL, id, &cached, on_line, &l, &err);
        ok(rc == 0, "a package with a %%post bakes");
        pthread_mutex_lock(&h->c.mu);
        struct cloud_image *im = cloud_find_image(&h->c, id);
        is_str(im ? im->app : NULL, "scripty", "  without an app, the package's name is the app");
        pthread_mutex_unlock(&h->c.mu);
        ok(strstr(kiln_strbuf_str(&l.text), "NOT run from scripty-1-1.noarch: %post") != NULL,
           "  the log says its %%post is not run");
        char *f = xasprintf("%s/%s/etc/scripty", h->c.paths.images_dir, id);
        ok(access(f, F_OK) == 0, "  its files are in the image");
        free(f);
    } else {
        ok(0, "build and add the scriptlet package (status %d)", status);
    }
    kiln_strbuf_free(&l.text);
    free(rpm);
}

struct baker {
    struct cloud *c;
    const char *nvr;
    char id[CLOUD_ID_MAX];
    bool cached;
    int rc;
    struct kiln_err err;
};

static void *bake_thread(void *arg)
{
    struct baker *b = arg;
    b->rc = cloud_bake(b->c, b->nvr, "hello-world", b->id, &b->cached, NULL, NULL, &b->err);
    return NULL;
}

static void test_concurrent(void)
{
    struct home h3;
    if (home_open(&h3, "home3") < 0)
        return;
    char nvr[CLOUD_NVR_MAX];
    if (add(&h3.c, r4, nvr) == 0) {
        struct baker b[3];
        pthread_t t[3];
        for (int i = 0; i < 3; i++) {
            memset(&b[i], 0, sizeof b[i]);
            b[i].c = &h3.c;
            b[i].nvr = nvr;
            pthread_create(&t[i], NULL, bake_thread, &b[i]);
        }
        for (int i = 0; i < 3; i++)
            pthread_join(t[i], NULL);
        ok(b[0].rc == 0 && b[1].rc == 0 && b[2].rc == 0 && strcmp(b[0].id, b[1].id) == 0 &&
               strcmp(b[1].id, b[2].id) == 0,
           "three bakes of one package at once: one id (%s)", b[0].id);
        pthread_mutex_lock(&h3.c.mu);
        is_int(h3.c.images.n, 1, "  one image recorded");
        pthread_mutex_unlock(&h3.c.mu);
        is_int(count_images(&h3.c), 1, "  one image dir");
        is_int(hidden_entries(&h3.c), 0, "  no temporary root left");
    }
    home_close(&h3);
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* Full bakes (record and dir removed each time), for the figure in the report. */
static void measure(struct home *h)
{
    enum { N = 21 };
    struct cloud *c = &h->c;
    char nvr[CLOUD_NVR_MAX];
    snprintf(nvr, sizeof nvr, "%s", "");
    pthread_mutex_lock(&c->mu);
    struct cloud_image *im = cloud_find_image(c, id3);
    if (im != NULL)
        snprintf(nvr, sizeof nvr, "%s", im->package);
    pthread_mutex_unlock(&c->mu);
    long long t[N] = {0};
    int done = 0;
    for (int i = 0; i < N && nvr[0]; i++) {
        pthread_mutex_lock(&c->mu);
        for (size_t k = 0; k < c->images.n; k++)
            if (strcmp(c->images.v[k]->package, nvr) == 0) {
                free(c->images.v[k]);
                memmove(&c->images.v[k], &c->images.v[k + 1],
                        (c->images.n - k - 1) * sizeof *c->images.v);
                c->images.n--;
                break;
            }
        pthread_mutex_unlock(&c->mu);
        char *root = xasprintf("%s/%s", c->paths.images_dir, id3);
        kiln_tree_remove(root, NULL);
        free(root);
        char id[CLOUD_ID_MAX];
        bool cached;
        struct kiln_err err = {0};
        int64_t t0 = kiln_mono_us();
        int rc = cloud_bake(c, nvr, "hello-world", id, &cached, NULL, NULL, &err);
        t[i] = kiln_mono_us() - t0;
        if (rc == 0 && strcmp(id, id3) == 0)
            done++;
    }
    is_int(done, N, "%d full bakes, each to the same id", N);
    qsort(t, N, sizeof t[0], cmp_ll);
    diag("bake (uncached: 2 rpm runs, install, digest, freeze, rename): median %.1f ms, "
         "min %.1f ms, max %.1f ms over %d",
         t[N / 2] / 1000.0, t[0] / 1000.0, t[N - 1] / 1000.0, N);
}

static void test_cleanup(struct home *h)
{
    char *stale = xasprintf("%s/.bake-Zz9Yy8/usr/bin", h->c.paths.images_dir);
    kiln_mkdir_p(stale, 0755, NULL);
    char *f = xasprintf("%s/x", stale);
    kiln_atomic_write(f, "x", 1, 0444, NULL);
    chmod(stale, 0555);
    char *parent = xasprintf("%s/.bake-Zz9Yy8", h->c.paths.images_dir);
    chmod(parent, 0555);
    struct kiln_err err = {0};
    int rc = cloud_images_cleanup(&h->c, &err);
    ok(rc == 0 && hidden_entries(&h->c) == 0,
       "cleanup at start removes a killed bake's read-only root");
    ok(count_images(&h->c) >= 1, "  and leaves the images alone");
    free(stale);
    free(f);
    free(parent);
}

/* What an image record says of its kind, base and services, and what an older record
 * without them means. */
static void test_records(void)
{
    struct cloud_image im = {0};
    cJSON *o = cJSON_Parse("{\"kind\": \"root\", \"base\": \"debian-bookworm-0123456789ab\", "
                           "\"services\": [\"app.service\", \"app-worker.service\"]}");
    cloud_image_from_record(o, &im);
    ok(cloud_image_is_root(&im) && strcmp(im.base, "debian-bookworm-0123456789ab") == 0 &&
           strcmp(im.services, "app.service app-worker.service") == 0,
       "a root image's record gives its kind, base and services");
    cJSON_Delete(o);
    memset(&im, 0, sizeof im);
    o = cJSON_Parse("{\"kind\": \"root\", \"base\": \"../../etc\", \"services\": [\"a b\"]}");
    cloud_image_from_record(o, &im);
    ok(cloud_image_is_root(&im) && im.base[0] == '\0' && im.services[0] == '\0',
       "  a base that is no base id, and a unit with a space, are not taken");
    cJSON_Delete(o);
    memset(&im, 0, sizeof im);
    o = cJSON_Parse("{\"package\": \"x-1-1.noarch\"}");
    cloud_image_from_record(o, &im);
    ok(!cloud_image_is_root(&im) && strcmp(im.kind, CLOUD_IMAGE_FILES) == 0 && im.base[0] == '\0',
       "  a record from before bases is a files image");
    cJSON_Delete(o);
}

int main(void)
{
    test_records();
    const char *srcdir = getenv("KILN_SRCDIR");
    snprintf(example, sizeof example, "%s/examples/hello-world", srcdir && *srcdir ? srcdir : ".");
    snprintf(tmp, sizeof tmp, "/tmp/kiln-test-images-XXXXXX");
    if (mkdtemp(tmp) == NULL)
        return ok(0, "mkdtemp"), done_testing();
    r3 = build_rpm("3");
    r4 = build_rpm("4");
    r5 = build_rpm("5");
    if (!ok(r3 && r4 && r5, "built releases 3, 4 and 5 of the example"))
        return done_testing();

    struct home h;
    if (home_open(&h, "home") < 0)
        return ok(0, "state dir"), done_testing();
    test_bake(&h);
    test_other_release(&h);
    test_other_home();
    test_failures(&h);
    test_scriptlets(&h);
    test_concurrent();
    measure(&h);
    test_cleanup(&h);
    home_close(&h);
    free(r3);
    free(r4);
    free(r5);
    kiln_tree_remove(tmp, NULL);
    return done_testing();
}
