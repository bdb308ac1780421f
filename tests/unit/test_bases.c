/* kiln: base images: names, package lists, dpkg's output, Debian versions as RPM EVRs,
 * the provides spec (built for real with rpmbuild when it is there), digests, records,
 * and list / find / delete on a bases dir laid out by hand (no mmdebstrap, no root). */
#include "kiln/atomic_file.h"
#include "kiln/bases.h"
#include "kiln/fstree.h"
#include "kiln/spawn.h"
#include "kiln/strbuf.h"
#include "kiln/xalloc.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct kiln_err err;

static int msg_has(const char *needle)
{
    int found = strstr(err.msg, needle) != NULL;
    if (!found)
        diag("message: %s", err.msg);
    return found;
}

static void test_names(void)
{
    is_int(kiln_base_name_validate("default", &err), 0, "default is a name");
    is_int(kiln_base_name_validate("flask-2", &err), 0, "flask-2 is a name");
    is_int(kiln_base_name_validate("", &err), -1, "empty is not");
    is_int(kiln_base_name_validate("Default", &err), -1, "upper case is not");
    is_int(kiln_base_name_validate("2x", &err), -1, "a leading digit is not");
    is_int(kiln_base_name_validate("a/b", &err), -1, "a slash is not");
    is_int(kiln_base_name_validate("..", &err), -1, ".. is not");
    is_int(kiln_base_name_validate("x-", &err), -1, "a trailing dash is not");
    ok(msg_has("lower-case letters"), "the message says the rule");
    is_int(kiln_base_name_validate("debian-bookworm-0123456789ab", &err), -1,
           "a name shaped like an id is not");
    ok(msg_has("looks like a base id"), "and says why");
    char longname[KILN_BASE_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    is_int(kiln_base_name_validate(longname, &err), -1, "41 characters are too many");

    is_int(kiln_base_id_validate("debian-bookworm-0123456789ab", &err), 0, "an id");
    is_int(kiln_base_id_validate("amzn-2023-abcdef012345", &err), 0, "an imported one");
    is_int(kiln_base_id_validate("debian-bookworm-0123456789a", &err), -1, "11 hex digits");
    is_int(kiln_base_id_validate("debian-bookworm-0123456789AB", &err), -1, "upper-case hex");
    is_int(kiln_base_id_validate("0123456789ab", &err), -1, "no prefix");
    is_int(kiln_base_id_validate("../x-0123456789ab", &err), -1, "a path");

    is_int(kiln_base_package_name_validate("python3-flask", &err), 0, "python3-flask");
    is_int(kiln_base_package_name_validate("libstdc++6", &err), 0, "libstdc++6");
    is_int(kiln_base_package_name_validate("g++", &err), 0, "g++");
    is_int(kiln_base_package_name_validate("x", &err), -1, "one character is too short");
    is_int(kiln_base_package_name_validate("Flask", &err), -1, "upper case");
    is_int(kiln_base_package_name_validate("-x", &err), -1, "a leading dash (an option)");
    is_int(kiln_base_package_name_validate("a b", &err), -1, "a space");
    is_int(kiln_base_package_name_validate("foo=1.0", &err), -1, "a version pin");
}

static void test_package_lists(void)
{
    char **v = NULL;
    size_t n = 0;
    is_int(kiln_base_packages_parse(" python3-flask , gunicorn,,python3-flask, ", &v, &n, &err), 0,
           "a list with spaces, an empty item and a repeat");
    is_int((int)n, 2, "two packages");
    is_str(n > 0 ? v[0] : "", "python3-flask", "the first");
    is_str(n > 1 ? v[1] : "", "gunicorn", "the second");
    kiln_base_strv_free(v, n);
    v = NULL;
    n = 0;
    is_int(kiln_base_packages_parse("ok-one,Bad", &v, &n, &err), -1, "a bad name fails the list");
    ok(msg_has("'Bad' is not a Debian package name"), "naming it");
    kiln_base_strv_free(v, n);

    is_int(kiln_base_packages_merge("gunicorn", "python3-flask,rpm", &v, &n, &err), 0, "merge");
    is_int((int)n, 5, "required three, config one, option one (rpm once)");
    const char *want[] = {"gunicorn", "passwd", "python3-flask", "rpm", "systemd-sysv"};
    for (size_t i = 0; i < 5 && i < n; i++)
        is_str(v[i], want[i], "sorted: %s", want[i]);
    kiln_base_strv_free(v, n);
    is_int(kiln_base_packages_merge(NULL, NULL, &v, &n, &err), 0, "nothing added");
    is_int((int)n, 3, "only the required ones");
    kiln_base_strv_free(v, n);
    is_int(kiln_base_packages_merge("x y", NULL, &v, &n, &err), -1, "a bad config value");
    ok(msg_has("[local] base_packages"), "names where it came from");
    is_int(kiln_base_packages_merge(NULL, "A", &v, &n, &err), -1, "a bad option");
    ok(msg_has("--packages"), "names where it came from");
}

static void evr_is(const char *deb, const char *want)
{
    char buf[128];
    int rc = kiln_base_rpm_evr(deb, buf, sizeof buf, &err);
    is_int(rc, 0, "%s maps", deb);
    is_str(rc == 0 ? buf : err.msg, want, "%s -> %s", deb, want);
}

static void test_evr(void)
{
    evr_is("2.2.2-3", "2.2.2-3");
    evr_is("3.134", "3.134");                           /* native: no release */
    evr_is("1:2.38.1-5+deb12u3", "1:2.38.1-5+deb12u3"); /* epoch and + kept */
    evr_is("5.7-0.5~deb12u1", "5.7-0.5~deb12u1");       /* ~ in the revision */
    evr_is("3.0~rc1-2", "3.0~rc1-2");                   /* ~ in the version */
    evr_is("1.0-beta-1", "1.0_beta-1");                 /* - inside upstream */
    evr_is("2:1.0:2-1", "2:1.0_2-1");                   /* : inside upstream */
    evr_is("0:1.2", "0:1.2");                           /* a zero epoch as written */
    evr_is("12.4+deb12u15", "12.4+deb12u15");
    evr_is("2.36-9+deb12u14", "2.36-9+deb12u14");
    const char *bad[] = {"",      ":1.0", "a:1.0",     "1:",    "1.0-",        "-1",
                         "1.0 2", "1_0",  "1.0-a-b_c", "1.0/2", "1234567890:1"};
    char buf[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        is_int(kiln_base_rpm_evr(bad[i], buf, sizeof buf, &err), -1, "'%s' is refused", bad[i]);
    ok(msg_has("is not a Debian version"), "the message says so");
    is_int(kiln_base_rpm_evr("1.2.3-4", buf, 4, &err), -1, "too long for the buffer");
}

static const char dpkg_out[] = "adduser\t3.134\tall\tii \t\n"
                               "apt\t2.6.2\tamd64\tii \tapt-transport-https (= 2.6.2)\n"
                               "python3-flask\t2.2.2-3\tall\tii \t\n"
                               "old-thing\t1.0-1\tamd64\trc \t\n"
                               "libc6\t2.36-9+deb12u14\tamd64\tii \t\n"
                               "libc6\t2.36-9+deb12u14\ti386\tii \t\n"
                               "mawk\t1.3.4.20200120-3.1\tamd64\tii \tawk\n"
                               "bsdutils\t1:2.38.1-5+deb12u3\tamd64\tii \t\n";

static void test_dpkg_parse(void)
{
    struct kiln_base_pkg *p = NULL;
    size_t n = 0;
    is_int(kiln_base_dpkg_parse(dpkg_out, &p, &n, &err), 0, "dpkg-query output parses");
    is_int((int)n, 6, "removed (rc) left out, multiarch libc6 once");
    is_str(n ? p[0].name : "", "adduser", "sorted by name");
    is_str(n > 1 ? p[1].provides : "", "apt-transport-https (= 2.6.2)", "apt's Provides kept");
    bool rc_seen = false;
    for (size_t i = 0; i < n; i++)
        rc_seen |= strcmp(p[i].name, "old-thing") == 0;
    ok(!rc_seen, "a removed package is not there");
    kiln_base_pkgs_free(p, n);
    is_int(kiln_base_dpkg_parse("justonefield\n", &p, &n, &err), -1, "a broken line");
    ok(msg_has("line 1"), "says which line");
    is_int(kiln_base_dpkg_parse("", &p, &n, &err), 0, "nothing: no packages");
    is_int((int)n, 0, "none");
    kiln_base_pkgs_free(p, n);

    is_int(kiln_base_rpm_parse("bash\t5.2.15-3.amzn2023\tx86_64\nsystemd\t1:252-1\tx86_64\n", &p,
                               &n, &err),
           0, "rpm -qa output parses");
    is_int((int)n, 2, "two");
    is_str(n > 1 ? p[1].version : "", "1:252-1", "with its epoch");
    kiln_base_pkgs_free(p, n);
}

static void test_os(void)
{
    char buf[48];
    kiln_base_os_prefix(
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"
        "VERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n",
        buf, sizeof buf);
    is_str(buf, "debian-bookworm", "Debian: ID and codename");
    kiln_base_os_prefix(
        "NAME=\"Amazon Linux\"\nVERSION=\"2023\"\nID=\"amzn\"\nVERSION_ID=\"2023\"\n", buf,
        sizeof buf);
    is_str(buf, "amzn-2023", "Amazon Linux: ID and VERSION_ID");
    kiln_base_os_prefix("ID=\"Weird OS!\"\nVERSION_ID=\"$()\"\n", buf, sizeof buf);
    is_str(buf, "weirdos", "odd characters dropped, an empty part left out");
    kiln_base_os_prefix(NULL, buf, sizeof buf);
    is_str(buf, "import", "no os-release");
    kiln_base_os_prefix("ID=9lives\n", buf, sizeof buf);
    is_str(buf, "import", "an id must start with a letter");
    char *pretty = kiln_base_os_pretty("PRETTY_NAME='Amazon Linux 2023'\n");
    is_str(pretty, "Amazon Linux 2023", "PRETTY_NAME unquoted");
    free(pretty);
}

static void test_digest(void)
{
    struct kiln_base_pkg a[] = {{"bash", "5.2.15-2+b13", "amd64", ""},
                                {"adduser", "3.134", "all", ""}};
    struct kiln_base_pkg b[] = {{"adduser", "3.134", "all", "x"},
                                {"bash", "5.2.15-2+b13", "amd64", ""}};
    struct kiln_base_pkg c[] = {{"adduser", "3.134", "all", ""},
                                {"bash", "5.2.15-2+b14", "amd64", ""}};
    char da[KILN_BASE_DIGEST_MAX], db[KILN_BASE_DIGEST_MAX], dc[KILN_BASE_DIGEST_MAX],
        dd[KILN_BASE_DIGEST_MAX];
    kiln_base_digest_packages("bookworm", "minbase", a, 2, da);
    kiln_base_digest_packages("bookworm", "minbase", b, 2, db);
    kiln_base_digest_packages("bookworm", "minbase", c, 2, dc);
    kiln_base_digest_packages("trixie", "minbase", a, 2, dd);
    is_int((int)strlen(da), 71, "sha256: and 64 hex digits");
    is_str(da, db, "the order of the packages does not matter");
    ok(strcmp(da, dc) != 0, "a changed version changes the digest");
    ok(strcmp(da, dd) != 0, "so does the suite");
    char id[KILN_BASE_ID_MAX];
    kiln_base_make_id("debian-bookworm", da, id);
    is_int(kiln_base_id_validate(id, &err), 0, "the id made from it is valid: %s", id);
    ok(strncmp(id + 16, da + 7, 12) == 0, "it holds the digest's first 12 digits");

    char path[] = "/tmp/kiln-test-bases-XXXXXX";
    int fd = mkstemp(path);
    ok(fd >= 0 && write(fd, "abc", 3) == 3, "a file");
    close(fd);
    char df[KILN_BASE_DIGEST_MAX];
    is_int(kiln_base_digest_file(path, df, &err), 0, "digest of a file");
    is_str(df, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
           "sha256 of abc");
    unlink(path);
    is_int(kiln_base_digest_file(path, df, &err), -1, "a missing file");
}

static void fill_base(struct kiln_base *b, const char *id, const char *name, const char *created)
{
    memset(b, 0, sizeof *b);
    snprintf(b->id, sizeof b->id, "%s", id);
    snprintf(b->digest, sizeof b->digest,
             "sha256:%.12s0000000000000000000000000000000000000000000000000000",
             id + strlen(id) - 12);
    b->name = strdup(name);
    b->created = strdup(created);
    b->source = strdup("mmdebstrap");
    b->origin = strdup("bookworm");
    b->os = strdup("Debian GNU/Linux 12 (bookworm)");
    b->package_db = strdup("dpkg");
    b->rpm_dbpath = strdup("/var/lib/rpm");
    b->provides = strdup("kiln-base-provides-1-x.noarch");
    b->requested = calloc(1, sizeof *b->requested);
    b->requested[0] = strdup("rpm");
    b->n_requested = 1;
    b->pkgs = calloc(1, sizeof *b->pkgs);
    b->pkgs[0] = (struct kiln_base_pkg){strdup("rpm"), strdup("4.18.0+dfsg-1+deb12u1"),
                                        strdup("amd64"), strdup("")};
    b->n_pkgs = 1;
    b->size_bytes = 123456789;
    b->files = 4242;
}

static void test_record(void)
{
    struct kiln_base b, back;
    fill_base(&b, "debian-bookworm-0123456789ab", "default", "2025-05-20T10:00:00Z");
    char *json = kiln_base_record_json(&b);
    is_int(kiln_base_record_parse(json, &back, &err), 0, "the record parses back");
    is_str(back.id, b.id, "id");
    is_str(back.digest, b.digest, "digest");
    is_str(back.name, "default", "name");
    is_str(back.created, b.created, "created");
    is_str(back.os, b.os, "os");
    is_str(back.rpm_dbpath, "/var/lib/rpm", "rpm_dbpath");
    is_int((int)back.n_pkgs, 1, "packages");
    is_str(back.n_pkgs ? back.pkgs[0].version : "", "4.18.0+dfsg-1+deb12u1", "with versions");
    ok(back.size_bytes == 123456789 && back.files == 4242, "size and files");
    ok(back.root == NULL && back.n_names == 0, "root and names are not in the record");
    kiln_base_free(&back);

    char *broken = strdup(json);
    char *p = strstr(broken, "\"size_bytes\"");
    if (p != NULL)
        memcpy(p, "\"size_bytez\"", 12);
    is_int(kiln_base_record_parse(broken, &back, &err), -1, "a record without its size");
    ok(msg_has("lacks a field"), "says so");
    free(broken);
    is_int(kiln_base_record_parse("[1]", &back, &err), -1, "not an object");
    is_int(kiln_base_record_parse("{\"format\": 2}", &back, &err), -1, "another format");
    free(json);
    kiln_base_free(&b);
}

static const char *const programs[] = {"/bin/sh", "/usr/bin/python3", "/usr/bin/[", "/usr/bin/a b",
                                       "relative"};

static struct kiln_strbuf provides_spec(struct kiln_strbuf *skipped)
{
    struct kiln_base_pkg *p = NULL;
    size_t n = 0;
    kiln_base_dpkg_parse(dpkg_out, &p, &n, &err);
    p = xrealloc(p, (n + 1) * sizeof *p);
    p[n++] =
        (struct kiln_base_pkg){xstrdup("weird"), xstrdup("1.0_1"), xstrdup("all"), xstrdup("")};
    struct kiln_strbuf spec = KILN_STRBUF_INIT;
    is_int(kiln_base_provides_spec(p, n, programs, 5, "0123456789ab", &spec, skipped, &err), 0,
           "the spec is written");
    kiln_base_pkgs_free(p, n);
    return spec;
}

static void collect(void *ctx, enum kiln_stream s, const char *line)
{
    if (s == KILN_STREAM_STDOUT) {
        kiln_strbuf_append(ctx, line);
        kiln_strbuf_appendc(ctx, '\n');
    }
}

/* rpm -qp --provides of the spec built for real: rpm itself reads what we wrote. */
static void check_with_rpmbuild(const struct kiln_strbuf *spec)
{
    if (access("/usr/bin/rpmbuild", X_OK) != 0) {
        ok(1, "# SKIP rpmbuild is not installed");
        return;
    }
    char dir[] = "/tmp/kiln-test-bases-XXXXXX";
    ok(mkdtemp(dir) != NULL, "a topdir");
    char specfile[256], define[300], rpm[400];
    snprintf(specfile, sizeof specfile, "%s/p.spec", dir);
    snprintf(define, sizeof define, "_topdir %s", dir);
    snprintf(rpm, sizeof rpm, "%s/RPMS/noarch/kiln-base-provides-1-0123456789ab.noarch.rpm", dir);
    kiln_atomic_write(specfile, spec->buf, spec->len, 0644, &err);
    const char *build[] = {"rpmbuild", "-bb", "--quiet", "--define", define, specfile, NULL};
    struct kiln_spawn_opts o = {.argv = build};
    int status = -1;
    is_int(kiln_spawn_run(&o, &status, &err), 0, "rpmbuild ran");
    is_int(status, 0, "rpmbuild took the spec");
    struct kiln_strbuf out = KILN_STRBUF_INIT;
    const char *query[] = {"rpm", "-qp", "--provides", rpm, NULL};
    struct kiln_spawn_opts q = {.argv = query, .on_line = collect, .ctx = &out};
    is_int(kiln_spawn_run(&q, &status, &err), 0, "rpm -qp --provides ran");
    ok(out.buf && strstr(out.buf, "python3-flask = 2.2.2-3\n"),
       "rpm reads python3-flask = 2.2.2-3");
    ok(out.buf && strstr(out.buf, "bsdutils = 1:2.38.1-5+deb12u3\n"), "and the epoch");
    ok(out.buf && strstr(out.buf, "awk\n"), "and the virtual awk");
    ok(out.buf && strstr(out.buf, "/bin/sh\n"), "and /bin/sh");
    kiln_strbuf_free(&out);
    struct kiln_err e2;
    kiln_tree_remove(dir, &e2);
}

static void test_provides(void)
{
    struct kiln_strbuf skipped = KILN_STRBUF_INIT;
    struct kiln_strbuf spec = provides_spec(&skipped);
    const char *s = spec.buf ? spec.buf : "";
    ok(strstr(s, "Name: kiln-base-provides\n") != NULL, "named");
    ok(strstr(s, "Release: 0123456789ab\n") != NULL, "released by the digest");
    ok(strstr(s, "BuildArch: noarch\n") != NULL, "noarch");
    ok(strstr(s, "Provides: python3-flask = 2.2.2-3\n") != NULL, "a package at its version");
    ok(strstr(s, "Provides: bsdutils = 1:2.38.1-5+deb12u3\n") != NULL, "with its epoch");
    ok(strstr(s, "Provides: libc6 = 2.36-9+deb12u14\n") != NULL, "libc6");
    ok(strstr(s, "Provides: apt-transport-https = 2.6.2\n") != NULL, "a versioned virtual one");
    ok(strstr(s, "Provides: awk\n") != NULL, "an unversioned virtual one");
    ok(strstr(s, "Provides: /bin/sh\n") != NULL, "/bin/sh, for scriptlets' Requires");
    ok(strstr(s, "Provides: /usr/bin/python3\n") != NULL, "a program");
    ok(strstr(s, "[") == NULL && strstr(s, "a b") == NULL && strstr(s, "relative") == NULL,
       "paths rpm cannot take are left out");
    ok(strstr(s, "old-thing") == NULL, "a removed package is not provided");
    ok(strstr(s, "weird") == NULL, "a version that does not map is left out");
    ok(skipped.buf && strstr(skipped.buf, "weird 1.0_1") != NULL, "and named");
    ok(strstr(s, "%files\n") != NULL, "it owns no files");
    check_with_rpmbuild(&spec);
    kiln_strbuf_free(&spec);
    kiln_strbuf_free(&skipped);
    struct kiln_strbuf bad = KILN_STRBUF_INIT;
    is_int(kiln_base_provides_spec(NULL, 0, NULL, 0, "a b", &bad, NULL, &err), -1,
           "a release with a space");
    kiln_strbuf_free(&bad);
}

/* A base laid out by hand: tree, record, name, as a build leaves them. */
static void make_base(const char *dir, const char *id, const char *name, const char *created)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, id);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/etc", dir, id);
    mkdir(path, 0755);
    struct kiln_base b;
    fill_base(&b, id, name, created);
    char *json = kiln_base_record_json(&b);
    snprintf(path, sizeof path, "%s/%s.json", dir, id);
    kiln_atomic_create(path, json, strlen(json), 0444, &err);
    free(json);
    kiln_base_free(&b);
    snprintf(path, sizeof path, "%s/names", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/names/%s", dir, name);
    if (symlink(id, path) < 0)
        diag("symlink %s failed", path);
}

static bool there(const char *dir, const char *rel)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return lstat(path, &st) == 0;
}

static void test_store(void)
{
    char home[] = "/tmp/kiln-test-bases-XXXXXX";
    ok(mkdtemp(home) != NULL, "a state dir");
    char dir[300];
    snprintf(dir, sizeof dir, "%s/bases", home);
    struct kiln_base *v;
    size_t n;
    is_int(kiln_base_list(dir, &v, &n, &err), 0, "no bases dir: an empty list");
    is_int((int)n, 0, "none");
    mkdir(dir, 0700);
    make_base(dir, "debian-bookworm-aaaaaaaaaaaa", "default", "2025-01-01T00:00:00Z");
    make_base(dir, "debian-bookworm-bbbbbbbbbbbb", "flask", "2025-02-01T00:00:00Z");
    char path[512];
    snprintf(path, sizeof path, "%s/names/also", dir);
    ok(symlink("debian-bookworm-bbbbbbbbbbbb", path) == 0, "a second name for flask's base");

    is_int(kiln_base_list(dir, &v, &n, &err), 0, "list");
    is_int((int)n, 2, "two bases");
    if (n == 2) {
        is_str(v[0].id, "debian-bookworm-bbbbbbbbbbbb", "newest first");
        is_int((int)v[0].n_names, 2, "with both its names");
        is_str(v[0].n_names ? v[0].names[0] : "", "also", "sorted");
        ok(v[1].root && strstr(v[1].root, "/bases/debian-bookworm-aaaaaaaaaaaa"), "its root");
    }
    kiln_base_list_free(v, n);

    struct kiln_base b;
    is_int(kiln_base_find(dir, "default", &b, &err), 0, "find by name");
    is_str(b.id, "debian-bookworm-aaaaaaaaaaaa", "the bake gets its id");
    ok(b.root && there(b.root, "etc"), "and a root it can use");
    kiln_base_free(&b);
    is_int(kiln_base_find(dir, "debian-bookworm-bbbbbbbbbbbb", &b, &err), 0, "find by id");
    kiln_base_free(&b);
    is_int(kiln_base_find(dir, "nope", &b, &err), -1, "an unknown name");
    is_int(err.code, KILN_E_NOTFOUND, "not found");
    ok(msg_has("bases: also, default, flask"), "the message lists the names there");
    is_int(kiln_base_find(dir, "../etc", &b, &err), -1, "a path is no name");

    char id[KILN_BASE_ID_MAX];
    is_int(kiln_base_delete(dir, "debian-bookworm-bbbbbbbbbbbb", id, &err), -1,
           "a base with names is not deleted by id");
    ok(msg_has("still has names (also, flask)"), "naming them");
    is_int(kiln_base_delete(dir, "also", id, &err), 0, "delete one of two names");
    is_str(id, "", "the base stays");
    ok(there(dir, "debian-bookworm-bbbbbbbbbbbb.json"), "its record too");
    is_int(kiln_base_delete(dir, "flask", id, &err), 0, "delete its last name");
    is_str(id, "debian-bookworm-bbbbbbbbbbbb", "the base went with it");
    ok(!there(dir, "debian-bookworm-bbbbbbbbbbbb") &&
           !there(dir, "debian-bookworm-bbbbbbbbbbbb.json") && !there(dir, "names/flask"),
       "tree, record and name are gone");
    is_int(kiln_base_delete(dir, "flask", id, &err), -1, "deleting it again");
    is_int(err.code, KILN_E_NOTFOUND, "is not found");

    /* What a crash leaves: a tree without record, a name without base, a half delete,
     * a staging dir of a process that is gone. The next change sweeps them. */
    snprintf(path, sizeof path, "%s/debian-bookworm-cccccccccccc", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/names/ghost", dir);
    ok(symlink("debian-bookworm-dddddddddddd", path) == 0, "a dangling name");
    snprintf(path, sizeof path, "%s/.delete-debian-bookworm-eeeeeeeeeeee-1", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/.build-999999999-abcdef", dir);
    mkdir(path, 0700);
    is_int(kiln_base_list(dir, &v, &n, &err), 0, "list with leftovers");
    is_int((int)n, 1, "shows only the whole base");
    kiln_base_list_free(v, n);
    is_int(kiln_base_delete(dir, "default", id, &err), 0, "delete the last base");
    ok(!there(dir, "debian-bookworm-cccccccccccc"), "the tree without record was swept");
    ok(!there(dir, "names/ghost"), "the dangling name too");
    ok(!there(dir, ".delete-debian-bookworm-eeeeeeeeeeee-1"), "the half delete too");
    ok(!there(dir, ".build-999999999-abcdef"), "and the dead build's staging dir");
    is_int(kiln_base_delete(dir, "Bad", id, &err), -1, "a bad name");
    ok(msg_has("is not a base name"), "says so");
    kiln_tree_remove(home, &err);
}

static void test_root_check(void)
{
    if (geteuid() == 0) {
        is_int(kiln_base_check_root("x", &err), 0, "root may build");
        return;
    }
    is_int(kiln_base_check_root("building a base", &err), -1, "others may not");
    ok(msg_has("building a base needs root"), "in one sentence");
}

int main(void)
{
    test_names();
    test_package_lists();
    test_evr();
    test_dpkg_parse();
    test_os();
    test_digest();
    test_record();
    test_provides();
    test_store();
    test_root_check();
    return done_testing();
}
