/* Tests for the build step: the example app really built with rpmbuild into a temp
 * dir, its output streamed; broken specs, a spec that ignores the release, a missing
 * rpmbuild, cancel and timeout all fail with rpmbuild's own words and leave no RPM. */
#include "kiln/rpmbuild.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kiln/atomic_file.h"
#include "kiln/fstree.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "tap.h"

static char tmp[64];
static char example[512];
static char arch[65];

struct lines {
    int n, out, err;
    bool saw_wrote, saw_gcc;
    int64_t first_us;
    int cancel_after; /* > 0: ask to stop once this many lines came */
};

static void on_line(void *ctx, enum kiln_stream stream, const char *line)
{
    struct lines *l = ctx;
    if (l->n++ == 0)
        l->first_us = kiln_mono_us();
    if (stream == KILN_STREAM_STDOUT)
        l->out++;
    else
        l->err++;
    l->saw_wrote |= strncmp(line, "Wrote: ", 7) == 0;
    l->saw_gcc |= strstr(line, "gcc ") != NULL;
}

static bool cancelled(void *ctx)
{
    struct lines *l = ctx;
    return l->cancel_after > 0 && l->n >= l->cancel_after;
}

/* Copies the example app to dir, with `from` replaced by `to` in file `which` (NULL:
 * unchanged). */
static void copy_example(const char *dir, const char *which, const char *from, const char *to)
{
    const char *files[] = {"kiln.json", "hello-world.spec", "src/hello-world.c"};
    char path[700];
    snprintf(path, sizeof path, "%s/src", dir);
    kiln_mkdir_p(path, 0755, NULL);
    for (size_t i = 0; i < 3; i++) {
        char *text = NULL;
        size_t len = 0;
        snprintf(path, sizeof path, "%s/%s", example, files[i]);
        if (kiln_read_file(path, &text, &len, 1 << 20, NULL) < 0) {
            ok(0, "read %s", path);
            continue;
        }
        struct kiln_strbuf sb = KILN_STRBUF_INIT;
        char *hit = which && strcmp(which, files[i]) == 0 ? strstr(text, from) : NULL;
        if (which && strcmp(which, files[i]) == 0 && hit == NULL)
            diag("copy_example: %s not found in %s", from, files[i]);
        if (hit != NULL) {
            kiln_strbuf_append_len(&sb, text, (size_t)(hit - text));
            kiln_strbuf_append(&sb, to);
            kiln_strbuf_append(&sb, hit + strlen(from));
        } else {
            kiln_strbuf_append_len(&sb, text, len);
        }
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        kiln_atomic_write(path, sb.buf, sb.len, 0644, NULL);
        kiln_strbuf_free(&sb);
        free(text);
    }
}

/* How many *.rpm files are under work/RPMS. */
static int count_rpms(const char *work)
{
    char path[700];
    snprintf(path, sizeof path, "%s/RPMS", work);
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char sub[1000];
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        DIR *a = opendir(sub);
        struct dirent *f;
        while (a != NULL && (f = readdir(a)) != NULL)
            n += strstr(f->d_name, ".rpm") != NULL;
        if (a != NULL)
            closedir(a);
    }
    if (d != NULL)
        closedir(d);
    return n;
}

static int build(const char *src, const char *work, const char *version, const char *release,
                 struct lines *l, char *rpm, char *nvr, struct kiln_err *err)
{
    struct kiln_rpmbuild_opts o = {.source_dir = src,
                                   .work_dir = work,
                                   .version = version,
                                   .release = release,
                                   .on_line = on_line,
                                   .cancelled = cancelled,
                                   .ctx = l,
                                   .timeout_ms = 120000};
    return kiln_rpmbuild(&o, rpm, KILN_NVR_SIZE * 4, nvr, KILN_NVR_SIZE, err);
}

static void test_example_builds(void)
{
    char work[128], rpm[KILN_NVR_SIZE * 4], nvr[KILN_NVR_SIZE], want[512], stale[512];
    snprintf(work, sizeof work, "%s/work", tmp);
    /* Leftovers of an earlier build must not survive into this one. */
    snprintf(stale, sizeof stale, "%s/RPMS/%s", work, arch);
    kiln_mkdir_p(stale, 0755, NULL);
    snprintf(stale, sizeof stale, "%s/RPMS/%s/old-app-1-1.%s.rpm", work, arch, arch);
    kiln_atomic_write(stale, "old", 3, 0444, NULL);
    snprintf(stale, sizeof stale, "%s/BUILD/ro", work);
    kiln_mkdir_p(stale, 0755, NULL);
    chmod(stale, 0555);

    struct lines l = {0};
    struct kiln_err err = {0};
    int64_t t0 = kiln_mono_us();
    int rc = build(example, work, NULL, "3", &l, rpm, nvr, &err);
    int64_t t1 = kiln_mono_us();
    if (!ok(rc == 0, "the example app builds"))
        diag("%s", err.msg);
    snprintf(want, sizeof want, "hello-world-1.0.0-3.%s", arch);
    is_str(nvr, want, "  NVR with the release asked for");
    snprintf(want, sizeof want, "%s/RPMS/%s/hello-world-1.0.0-3.%s.rpm", work, arch, arch);
    char *real_want = realpath(want, NULL);
    is_str(rpm, real_want ? real_want : want, "  the RPM's path in the work dir");
    free(real_want);
    struct stat st;
    ok(stat(rpm, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 1000, "  the RPM exists");
    is_int(count_rpms(work), 1, "  the only RPM there: the stale one is gone");
    ok(access(stale, F_OK) != 0, "  a read-only leftover in BUILD is gone");
    ok(l.n > 10 && l.saw_wrote && l.saw_gcc, "  %d lines streamed (gcc and Wrote: among them)",
       l.n);
    ok(l.err > 0 && l.out > 0, "  from both streams (%d stdout, %d stderr)", l.out, l.err);
    ok(t1 - l.first_us > 50000, "  the first line came %lld ms before the end, not at it",
       (long long)(t1 - l.first_us) / 1000);
    diag("build took %lld ms", (long long)(t1 - t0) / 1000);

    /* Version override, and a second build in the same work dir. */
    memset(&l, 0, sizeof l);
    rc = build(example, work, "2.5.1", "12", &l, rpm, nvr, &err);
    snprintf(want, sizeof want, "hello-world-2.5.1-12.%s", arch);
    if (!ok(rc == 0, "a version override builds"))
        diag("%s", err.msg);
    is_str(nvr, want, "  NVR with version and release asked for");
    is_int(count_rpms(work), 1, "  only this build's RPM in the work dir");
}

static void test_broken(void)
{
    char src[128], work[128], rpm[KILN_NVR_SIZE * 4] = "x", nvr[KILN_NVR_SIZE] = "x";
    struct lines l = {0};
    struct kiln_err err = {0};

    /* A %build that fails: C that does not compile. */
    snprintf(src, sizeof src, "%s/broken-c", tmp);
    snprintf(work, sizeof work, "%s/work-broken", tmp);
    copy_example(src, "src/hello-world.c", "int main(", "this is not C;\nint main(");
    int rc = build(src, work, NULL, "4", &l, rpm, nvr, &err);
    ok(rc < 0 && err.code == KILN_E_FAILED, "a %%build that fails fails the build");
    ok(strstr(err.msg, "rpmbuild failed (exit status 1)") != NULL, "  says rpmbuild failed");
    ok(strstr(err.msg, "Bad exit status") && strstr(err.msg, "%build"),
       "  with rpmbuild's own last lines");
    diag("%s", err.msg);
    is_str(rpm, "", "  no RPM path");
    is_str(nvr, "", "  no NVR");
    is_int(count_rpms(work), 0, "  no RPM in the work dir");

    /* A spec with a syntax error. */
    snprintf(src, sizeof src, "%s/broken-spec", tmp);
    snprintf(work, sizeof work, "%s/work-spec", tmp);
    copy_example(src, "hello-world.spec", "Name:  ", "Nmae:  ");
    memset(&l, 0, sizeof l);
    rc = build(src, work, NULL, "4", &l, rpm, nvr, &err);
    ok(rc < 0 && strstr(err.msg, "Unknown tag") != NULL,
       "a spec with a syntax error fails with rpmbuild's message");
    diag("%s", err.msg);
    is_int(count_rpms(work), 0, "  no RPM");

    /* A spec that ignores app_release: two builds would share an NVR. */
    snprintf(src, sizeof src, "%s/fixed-release", tmp);
    snprintf(work, sizeof work, "%s/work-release", tmp);
    copy_example(src, "hello-world.spec", "%{app_release}\nSummary", "1\nSummary");
    rc = build(src, work, NULL, "5", &l, rpm, nvr, &err);
    ok(rc < 0 && strstr(err.msg, "release 1, not the 5") && strstr(err.msg, "%{app_release}"),
       "a spec that ignores the release is refused");
    diag("%s", err.msg);
    is_int(count_rpms(work), 0, "  and its RPM is not left behind");

    /* A spec written the Fedora way, Release: 1%{?dist}: kiln's dist makes it distinct. */
    snprintf(src, sizeof src, "%s/dist-release", tmp);
    snprintf(work, sizeof work, "%s/work-dist", tmp);
    copy_example(src, "hello-world.spec", "%{app_release}\nSummary", "1%{?dist}\nSummary");
    rc = build(src, work, NULL, "7", &l, rpm, nvr, &err);
    is_int(rc, 0, "a spec with Release: 1%%{?dist} builds (%s)", rc ? err.msg : "");
    ok(strstr(nvr, "-1.k7.") != NULL, "  as release 1.k7 of build 7 (%s)", nvr);

    /* The manifest names another app than the spec builds. */
    snprintf(src, sizeof src, "%s/other-name", tmp);
    snprintf(work, sizeof work, "%s/work-name", tmp);
    copy_example(src, "kiln.json", "\"hello-world\"", "\"other-app\"");
    rc = build(src, work, NULL, "5", &l, rpm, nvr, &err);
    ok(rc < 0 && strstr(err.msg, "no package named other-app") &&
           strstr(err.msg, "hello-world-1.0.0-5"),
       "a spec whose Name is not the app's is refused, saying what it built");
    diag("%s", err.msg);

    /* A broken manifest never reaches rpmbuild. */
    snprintf(src, sizeof src, "%s/bad-manifest", tmp);
    copy_example(src, "kiln.json", "\"hello-world.spec\"", "\"../../etc/x.spec\"");
    memset(&l, 0, sizeof l);
    rc = build(src, work, NULL, "5", &l, rpm, nvr, &err);
    ok(rc < 0 && err.code == KILN_E_INVALID && strstr(err.msg, "field \"spec\"") && l.n == 0,
       "a hostile manifest is refused before rpmbuild runs");
}

/* A spec whose %install writes outside its BUILDROOT, as root can: into /tmp and next
 * to the build (kiln's state dir). In the build's sandbox both writes fail, the build
 * fails with rpmbuild's words, and neither file exists afterwards. */
static void test_sandbox(void)
{
    char src[128], work[128], rpm[KILN_NVR_SIZE * 4] = "x", nvr[KILN_NVR_SIZE] = "x";
    char escape_tmp[128], escape_state[160], install[512];
    struct lines l = {0};
    struct kiln_err err = {0};
    snprintf(escape_tmp, sizeof escape_tmp, "/tmp/kiln-escape.%d", (int)getpid());
    snprintf(escape_state, sizeof escape_state, "%s/escaped-into-state", tmp);
    unlink(escape_tmp);
    snprintf(src, sizeof src, "%s/escape", tmp);
    snprintf(work, sizeof work, "%s/work-escape", tmp);
    snprintf(install, sizeof install, "%%install\necho pwned > %s || true\necho pwned > %s\n",
             escape_tmp, escape_state);
    copy_example(src, "hello-world.spec", "%install\n", install);
    int rc = build(src, work, NULL, "6", &l, rpm, nvr, &err);
    ok(rc < 0, "a spec writing outside its build dir fails to build");
    ok(strstr(err.msg, "Read-only file system") != NULL, "  saying the file system is read-only");
    diag("%s", err.msg);
    ok(access(escape_tmp, F_OK) != 0, "  nothing was written to %s", escape_tmp);
    ok(access(escape_state, F_OK) != 0, "  nor next to the build, %s", escape_state);
    unlink(escape_tmp);
    unlink(escape_state);
}

static void test_refusals(void)
{
    char work[128], rpm[KILN_NVR_SIZE * 4], nvr[KILN_NVR_SIZE];
    struct lines l = {0};
    struct kiln_err err = {0};
    snprintf(work, sizeof work, "%s/work-refuse", tmp);

    int rc = build(example, work, "1.0-3", "1", &l, rpm, nvr, &err);
    ok(rc < 0 && err.code == KILN_E_INVALID && strstr(err.msg, "no dash"),
       "a version with a dash is refused");
    rc = build(example, work, NULL, "1;reboot", &l, rpm, nvr, &err);
    ok(rc < 0 && err.code == KILN_E_INVALID, "a release with ; is refused");
    const char *with[] = {"broken", "--define=x", NULL};
    struct kiln_rpmbuild_opts o = {.source_dir = example, .work_dir = work, .with = with};
    rc = kiln_rpmbuild(&o, rpm, sizeof rpm, nvr, sizeof nvr, &err);
    ok(rc < 0 && err.code == KILN_E_INVALID && strstr(err.msg, "--with"),
       "a --with that looks like an option is refused");

    /* The work dir must not be where emptying it deletes the app. */
    char app[128], inner[160];
    snprintf(app, sizeof app, "%s/selfwork", tmp);
    copy_example(app, NULL, NULL, NULL);
    rc = build(app, app, NULL, "1", &l, rpm, nvr, &err);
    ok(rc < 0 && err.code == KILN_E_INVALID && strstr(err.msg, "work dir"),
       "the app's own directory as work dir is refused");
    snprintf(inner, sizeof inner, "%s/w/SOURCES/app", tmp);
    copy_example(inner, NULL, NULL, NULL);
    snprintf(work, sizeof work, "%s/w", tmp);
    rc = build(inner, work, NULL, "1", &l, rpm, nvr, &err);
    ok(rc < 0 && strstr(err.msg, "SOURCES") && access(inner, F_OK) == 0,
       "a work dir whose SOURCES holds the app is refused, the app untouched");
    diag("%s", err.msg);

    rc = build("/nonexistent/app", work, NULL, "1", &l, rpm, nvr, &err);
    ok(rc < 0 && err.code == KILN_E_NOTFOUND && strstr(err.msg, "/nonexistent/app"),
       "a missing app dir: not found");
}

static void test_missing_rpmbuild(void)
{
    char work[128], rpm[KILN_NVR_SIZE * 4], nvr[KILN_NVR_SIZE], empty[128];
    snprintf(work, sizeof work, "%s/work-nopath", tmp);
    snprintf(empty, sizeof empty, "%s/empty-bin", tmp);
    kiln_mkdir_p(empty, 0755, NULL);
    char *saved = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    setenv("PATH", empty, 1); /* single-threaded here */
    struct lines l = {0};
    struct kiln_err err = {0};
    int rc = build(example, work, NULL, "1", &l, rpm, nvr, &err);
    setenv("PATH", saved, 1);
    free(saved);
    ok(rc < 0 && err.code == KILN_E_NOTFOUND, "without rpmbuild in PATH: not found");
    is_str(err.msg, "rpmbuild is not installed: apt-get install rpm", "  says what to install");
}

static void test_cancel_and_timeout(void)
{
    char work[128], rpm[KILN_NVR_SIZE * 4], nvr[KILN_NVR_SIZE];
    snprintf(work, sizeof work, "%s/work-cancel", tmp);
    struct lines l = {.cancel_after = 3};
    struct kiln_err err = {0};
    int rc = build(example, work, NULL, "1", &l, rpm, nvr, &err);
    ok(rc < 0 && err.code == KILN_E_CANCELLED && strstr(err.msg, "cancelled"),
       "a cancelled build stops");
    diag("%s", err.msg);
    is_int(count_rpms(work), 0, "  no RPM");

    struct kiln_rpmbuild_opts o = {.source_dir = example, .work_dir = work, .timeout_ms = 20};
    rc = kiln_rpmbuild(&o, rpm, sizeof rpm, nvr, sizeof nvr, &err);
    ok(rc < 0 && err.code == KILN_E_TIMEOUT && strstr(err.msg, "did not finish within 20ms"),
       "a build over its time is stopped");
    diag("%s", err.msg);
    is_int(count_rpms(work), 0, "  no RPM");
}

static bool in_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[1024];
    for (const char *p = path ? path : "/usr/bin:/bin"; *p != '\0';) {
        const char *end = strchrnul(p, ':');
        snprintf(buf, sizeof buf, "%.*s/%s", (int)(end - p), p, prog);
        if (access(buf, X_OK) == 0)
            return true;
        p = *end ? end + 1 : end;
    }
    return false;
}

int main(void)
{
    const char *srcdir = getenv("KILN_SRCDIR");
    snprintf(example, sizeof example, "%s/examples/hello-world", srcdir && *srcdir ? srcdir : ".");
    struct utsname u;
    uname(&u);
    snprintf(arch, sizeof arch, "%s", u.machine);
    snprintf(tmp, sizeof tmp, "/tmp/kiln-test-rpmbuild-XXXXXX");
    if (mkdtemp(tmp) == NULL) {
        ok(0, "mkdtemp");
        return done_testing();
    }
    if (!in_path("rpmbuild") || !in_path("gcc")) {
        diag("rpmbuild is not installed: apt-get install rpm");
        printf("1..0 # SKIP rpmbuild or gcc is not installed\n");
        return 0;
    }
    test_example_builds();
    test_broken();
    test_sandbox();
    test_refusals();
    test_missing_rpmbuild();
    test_cancel_and_timeout();
    kiln_tree_remove(tmp, NULL);
    return done_testing();
}
