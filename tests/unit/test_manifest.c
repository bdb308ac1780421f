/* Tests for kiln.json: the example loads, and hostile or broken manifests are refused
 * with a message that names the file and the field and is safe to print. */
#include "kiln/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln/atomic_file.h"
#include "kiln/names.h"
#include "kiln/strbuf.h"
#include "tap.h"

#define GOOD_START  "\"start\": [\"/usr/bin/hello-world\"]"
#define GOOD_HEALTH "\"health_check\": {\"path\": \"/health_check\"}"

/* A manifest with one field replaced: the others stay good, so a refusal can only be
 * about the field under test. */
static char *with_field(const char *name, const char *spec, const char *source, const char *start,
                        const char *health, const char *extra)
{
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    kiln_strbuf_append(&sb, "{");
    if (name != NULL)
        kiln_strbuf_appendf(&sb, "\"name\": %s, ", name);
    if (spec != NULL)
        kiln_strbuf_appendf(&sb, "\"spec\": %s, ", spec);
    if (source != NULL)
        kiln_strbuf_appendf(&sb, "\"source\": %s, ", source);
    if (health != NULL)
        kiln_strbuf_appendf(&sb, "%s, ", health);
    if (extra != NULL)
        kiln_strbuf_appendf(&sb, "%s, ", extra);
    kiln_strbuf_append(&sb, start != NULL ? start : "\"port_env\": \"PORT\"");
    kiln_strbuf_append(&sb, "}");
    return kiln_strbuf_detach(&sb, NULL);
}

/* Expects text to be refused with a message containing each of want (NULL-ended). */
static void refused(const char *what, const char *text, size_t len, const char *const *want)
{
    struct kiln_manifest m;
    struct kiln_err err = {0};
    int rc = kiln_manifest_parse(text, len, "apps/x/kiln.json", &m, &err);
    bool all = rc < 0 && err.code == KILN_E_INVALID;
    for (size_t i = 0; all && want[i] != NULL; i++)
        all = strstr(err.msg, want[i]) != NULL;
    all = all && strstr(err.msg, "apps/x/kiln.json") != NULL && kiln_text_printable(err.msg);
    if (!ok(all, "refused: %s", what))
        diag("rc %d code %d msg: %s", rc, err.code, err.msg);
    ok(m.spec == NULL && m.start == NULL && m.name[0] == '\0', "  nothing left in the manifest");
    kiln_manifest_free(&m);
}

#define REFUSED(what, text, ...)                                                                   \
    do {                                                                                           \
        const char *w_[] = {__VA_ARGS__, NULL};                                                    \
        refused(what, text, strlen(text), w_);                                                     \
    } while (0)

/* One bad value in `field`, the rest of the manifest good. */
#define BAD_FIELD(what, text, field, ...)                                                          \
    do {                                                                                           \
        char *t_ = text;                                                                           \
        REFUSED(what, t_, "field \"" field "\"", __VA_ARGS__);                                     \
        free(t_);                                                                                  \
    } while (0)

#define NAME   "\"hello-world\""
#define SPEC   "\"hello-world.spec\""
#define SOURCE "\"src\""

static void test_example(void)
{
    /* make check runs in the build dir; KILN_SRCDIR says where the sources are. */
    const char *srcdir = getenv("KILN_SRCDIR");
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    kiln_strbuf_appendf(&sb, "%s/examples/hello-world/kiln.json", srcdir && *srcdir ? srcdir : ".");
    char *path = kiln_strbuf_detach(&sb, NULL);

    struct kiln_manifest m;
    struct kiln_err err = {0};
    int rc = kiln_manifest_load(path, &m, &err);
    if (!ok(rc == 0, "the example's kiln.json loads"))
        diag("%s", err.msg);
    is_str(m.name, "hello-world", "  name");
    is_str(m.spec, "hello-world.spec", "  spec");
    is_str(m.source, "src", "  source");
    is_int(m.n_start, 1, "  one start argument");
    is_str(m.start ? m.start[0] : NULL, "/usr/bin/hello-world", "  start[0]");
    ok(m.start && m.start[1] == NULL, "  start is NULL-terminated");
    is_str(m.health_path, "/health_check", "  health path");
    is_str(m.port_env, "PORT", "  port_env");
    kiln_manifest_free(&m);
    kiln_manifest_free(&m); /* twice is fine */
    free(path);
}

static void test_good_variants(void)
{
    const char *text = "{\"name\": \"shop-api\", \"spec\": \"rpm/shop.spec\", \"source\": \".\","
                       " \"start\": [\"/opt/shop/bin/api\", \"--listen=127.0.0.1\", \"a;b c\","
                       " \"caf\xc3\xa9\"], \"health_check\": {\"path\": \"/hc?deep=1&x=%20\"},"
                       " \"port_env\": \"SHOP_PORT\"}";
    struct kiln_manifest m;
    struct kiln_err err = {0};
    int rc = kiln_manifest_parse(text, strlen(text), "k.json", &m, &err);
    if (!ok(rc == 0, "a manifest with arguments, a query and its own port variable"))
        diag("%s", err.msg);
    is_int(m.n_start, 4, "  four start arguments");
    /* Arguments go to execve as they are, never to a shell: ";" and spaces are data. */
    is_str(m.start ? m.start[2] : NULL, "a;b c", "  an argument with ; and a space is kept");
    is_str(m.source, ".", "  source \".\" is the manifest's own directory");
    is_str(m.health_path, "/hc?deep=1&x=%20", "  health path with a query");
    is_str(m.port_env, "SHOP_PORT", "  port_env");
    kiln_manifest_free(&m);

    /* Not NUL-terminated within len: the parser must not read past it. */
    char buf[256];
    const char *t2 = "{\"name\": \"a\", \"spec\": \"a.spec\", \"source\": \"s\", \"start\": "
                     "[\"/a\"], \"health_check\": {\"path\": \"/\"}}";
    size_t n = strlen(t2);
    memcpy(buf, t2, n);
    memset(buf + n, 'x', sizeof buf - n);
    rc = kiln_manifest_parse(buf, n, "k.json", &m, &err);
    if (!ok(rc == 0, "text without a NUL after it parses within its length"))
        diag("%s", err.msg);
    kiln_manifest_free(&m);
}

static void test_json(void)
{
    REFUSED("truncated JSON", "{\"name\": \"hello-world\",\n \"spec\": ", "not valid JSON",
            "line 2");
    REFUSED("trailing garbage", "{} x", "not valid JSON");
    REFUSED("empty file", "", "not valid JSON");
    REFUSED("an array", "[1, 2]", "must be a JSON object");
    REFUSED("a string", "\"hello\"", "must be a JSON object");
    const char nul[] = "{\"name\": \"a\0b\"}";
    const char *w[] = {"NUL byte", NULL};
    refused("a NUL byte inside", nul, sizeof nul - 1, w);
    REFUSED("not UTF-8", "{\"name\": \"\xff\xfe\"}", "not valid UTF-8");
    REFUSED("overlong UTF-8 for /",
            "{\"spec\": \"\xc0\xaf"
            "etc.spec\"}",
            "not valid UTF-8");
    REFUSED("UTF-8 surrogate", "{\"name\": \"\xed\xa0\x80\"}", "not valid UTF-8");
    REFUSED("truncated UTF-8", "{\"name\": \"\xe2\x82\"}", "not valid UTF-8");

    /* Bigger than a manifest has any reason to be. */
    size_t big = KILN_MANIFEST_MAX_BYTES + 1;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    huge[big] = '\0';
    REFUSED("a manifest over 64 KiB", huge, "bytes, more than");
    free(huge);

    REFUSED("unknown field (a typo)", "{\"name\": \"a\", \"helth_check\": {}}",
            "unknown field \"helth_check\"", "the fields are name, spec");
    REFUSED("a field twice", "{\"name\": \"a\", \"name\": \"b\"}", "the field \"name\" twice");
}

static void test_name(void)
{
    BAD_FIELD("missing name", with_field(NULL, SPEC, SOURCE, GOOD_START, GOOD_HEALTH, NULL), "name",
              "missing");
    BAD_FIELD("name is a number", with_field("42", SPEC, SOURCE, GOOD_START, GOOD_HEALTH, NULL),
              "name", "must be a string");
    BAD_FIELD("upper-case name",
              with_field("\"Hello\"", SPEC, SOURCE, GOOD_START, GOOD_HEALTH, NULL), "name",
              "Hello");
    BAD_FIELD("name with ;", with_field("\"a;rm\"", SPEC, SOURCE, GOOD_START, GOOD_HEALTH, NULL),
              "name", "a;rm");
    BAD_FIELD("name with ../",
              with_field("\"../etc\"", SPEC, SOURCE, GOOD_START, GOOD_HEALTH, NULL), "name",
              "../etc");
    BAD_FIELD("name like a server group",
              with_field("\"app-test-v001\"", SPEC, SOURCE, GOOD_START, GOOD_HEALTH, NULL), "name",
              "app-test-v001");
    BAD_FIELD("name with an escape sequence",
              with_field("\"a\\u001b[31m\"", SPEC, SOURCE, GOOD_START, GOOD_HEALTH, NULL), "name",
              "\\x1b");

    /* 10 kB: refused, and the message stays short. */
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    kiln_strbuf_appendc(&sb, '"');
    for (int i = 0; i < 10000; i++)
        kiln_strbuf_appendc(&sb, 'a');
    kiln_strbuf_appendc(&sb, '"');
    char *t = with_field(sb.buf, SPEC, SOURCE, GOOD_START, GOOD_HEALTH, NULL);
    struct kiln_manifest m;
    struct kiln_err err = {0};
    ok(kiln_manifest_parse(t, strlen(t), "k.json", &m, &err) < 0 && strlen(err.msg) < 400,
       "10 kB name refused with a short message (%zu bytes)", strlen(err.msg));
    free(t);
    t = with_field(NAME, sb.buf, SOURCE, GOOD_START, GOOD_HEALTH, NULL);
    BAD_FIELD("10 kB spec", t, "spec", "longer than 255");
    kiln_strbuf_free(&sb);
}

static void test_paths(void)
{
    struct {
        const char *what, *value, *want;
    } specs[] = {
        {"spec ../", "\"../other/x.spec\"", "\"..\""},
        {"spec absolute", "\"/etc/x.spec\"", "not absolute"},
        {"spec with ;", "\"a;b.spec\"", "only letters"},
        {"spec with a space", "\"a b.spec\"", "only letters"},
        {"spec with $()", "\"$(id).spec\"", "only letters"},
        {"spec not .spec", "\"hello.txt\"", "ends in \".spec\""},
        {"spec //", "\"a//b.spec\"", "empty component"},
        {"spec trailing /", "\"a.spec/\"", "empty component"},
        {"spec starting with -", "\"-rf.spec\"", "may not start with"},
        {"spec non-ASCII", "\"h\xc3\xa9llo.spec\"", "only letters"},
        {"spec empty", "\"\"", "empty"},
        {"spec a list", "[\"a.spec\"]", "must be a string"},
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        BAD_FIELD(specs[i].what,
                  with_field(NAME, specs[i].value, SOURCE, GOOD_START, GOOD_HEALTH, NULL), "spec",
                  specs[i].want);
    BAD_FIELD("missing spec", with_field(NAME, NULL, SOURCE, GOOD_START, GOOD_HEALTH, NULL), "spec",
              "missing");
    BAD_FIELD("source ..", with_field(NAME, SPEC, "\"..\"", GOOD_START, GOOD_HEALTH, NULL),
              "source", "\"..\"");
    BAD_FIELD("source src/../..",
              with_field(NAME, SPEC, "\"src/../..\"", GOOD_START, GOOD_HEALTH, NULL), "source",
              "\"..\"");
    BAD_FIELD("source absolute", with_field(NAME, SPEC, "\"/\"", GOOD_START, GOOD_HEALTH, NULL),
              "source", "not absolute");
    BAD_FIELD("missing source", with_field(NAME, SPEC, NULL, GOOD_START, GOOD_HEALTH, NULL),
              "source", "missing");
}

static void test_start(void)
{
    struct {
        const char *what, *value, *want;
    } starts[] = {
        {"start not a list", "\"start\": \"/usr/bin/x\"", "array of strings"},
        {"start empty", "\"start\": []", "0 elements"},
        {"start relative", "\"start\": [\"bin/app\"]", "absolute path inside the image"},
        {"start ../", "\"start\": [\"/usr/../../bin/sh\"]", "from the image's root downwards"},
        {"start with ;", "\"start\": [\"/usr/bin/app;reboot\"]", "only letters"},
        {"start is /", "\"start\": [\"/\"]", "image's root"},
        {"start //", "\"start\": [\"//usr/bin/x\"]", "empty component"},
        {"start a number", "\"start\": [\"/a\", 5]", "element 1 is not a string"},
        {"start argument with a newline", "\"start\": [\"/a\", \"x\\ny\"]", "control or invisible"},
        {"start argument with bidi override",
         "\"start\": [\"/a\", \"\xe2\x80\xae"
         "abc\"]",
         "control or invisible"},
        {"start with 17 arguments",
         "\"start\": [\"/a\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\","
         "\"12\",\"13\",\"14\",\"15\",\"16\"]",
         "17 elements"},
    };
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
        BAD_FIELD(starts[i].what,
                  with_field(NAME, SPEC, SOURCE, starts[i].value, GOOD_HEALTH, NULL), "start",
                  starts[i].want);
    BAD_FIELD("missing start", with_field(NAME, SPEC, SOURCE, NULL, GOOD_HEALTH, NULL), "start",
              "missing");

    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    kiln_strbuf_append(&sb, "\"start\": [\"/a\", \"");
    for (int i = 0; i < 10000; i++)
        kiln_strbuf_appendc(&sb, 'x');
    kiln_strbuf_append(&sb, "\"]");
    BAD_FIELD("10 kB start argument", with_field(NAME, SPEC, SOURCE, sb.buf, GOOD_HEALTH, NULL),
              "start", "10000 bytes long");
    kiln_strbuf_free(&sb);
}

static void test_health_and_port(void)
{
    BAD_FIELD("missing health_check", with_field(NAME, SPEC, SOURCE, GOOD_START, NULL, NULL),
              "health_check", "missing");
    BAD_FIELD("health_check a string",
              with_field(NAME, SPEC, SOURCE, GOOD_START, "\"health_check\": \"/hc\"", NULL),
              "health_check", "must be an object");
    BAD_FIELD(
        "health path relative",
        with_field(NAME, SPEC, SOURCE, GOOD_START, "\"health_check\": {\"path\": \"hc\"}", NULL),
        "health_check.path", "starting with \"/\"");
    BAD_FIELD("health path with a space (request smuggling)",
              with_field(NAME, SPEC, SOURCE, GOOD_START,
                         "\"health_check\": {\"path\": \"/hc HTTP/1.1\\r\\nHost: x\"}", NULL),
              "health_check.path", "only letters");
    BAD_FIELD(
        "health path with ;",
        with_field(NAME, SPEC, SOURCE, GOOD_START, "\"health_check\": {\"path\": \"/a;b\"}", NULL),
        "health_check.path", "only letters");
    BAD_FIELD("health path ..",
              with_field(NAME, SPEC, SOURCE, GOOD_START,
                         "\"health_check\": {\"path\": \"/a/../admin\"}", NULL),
              "health_check.path", "\"..\" segments");
    BAD_FIELD("health_check unknown field",
              with_field(NAME, SPEC, SOURCE, GOOD_START,
                         "\"health_check\": {\"path\": \"/a\", \"interval\": 5}", NULL),
              "health_check", "unknown field \"interval\"");
    BAD_FIELD("health_check without path",
              with_field(NAME, SPEC, SOURCE, GOOD_START, "\"health_check\": {}", NULL),
              "health_check.path", "missing");

    BAD_FIELD("port_env lower-case",
              with_field(NAME, SPEC, SOURCE, GOOD_START, GOOD_HEALTH, "\"port_env\": \"port\""),
              "port_env", "must start with an upper-case");
    BAD_FIELD(
        "port_env LD_PRELOAD",
        with_field(NAME, SPEC, SOURCE, GOOD_START, GOOD_HEALTH, "\"port_env\": \"LD_PRELOAD\""),
        "port_env", "reserved");
    BAD_FIELD(
        "port_env KILN_ROOT",
        with_field(NAME, SPEC, SOURCE, GOOD_START, GOOD_HEALTH, "\"port_env\": \"KILN_ROOT\""),
        "port_env", "reserved");
    BAD_FIELD("port_env with =",
              with_field(NAME, SPEC, SOURCE, GOOD_START, GOOD_HEALTH, "\"port_env\": \"A=B\""),
              "port_env", "only upper-case");
}

static void test_load_errors(void)
{
    struct kiln_manifest m;
    struct kiln_err err = {0};
    int rc = kiln_manifest_load("/nonexistent/kiln.json", &m, &err);
    ok(rc < 0 && err.code == KILN_E_NOTFOUND && strstr(err.msg, "/nonexistent/kiln.json"),
       "a missing kiln.json: not found, naming the file");
    diag("%s", err.msg);

    char dir[] = "/tmp/kiln-test-manifest-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        ok(0, "mkdtemp");
        return;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/kiln.json", dir);
    const char *text = "{\"name\": \"hello-world\", \"spec\": \"a.spec\"}";
    kiln_atomic_write(path, text, strlen(text), 0644, NULL);
    rc = kiln_manifest_load(path, &m, &err);
    ok(rc < 0 && strstr(err.msg, path) && strstr(err.msg, "field \"source\""),
       "a file's error names its path and the missing field");
    diag("%s", err.msg);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_example();
    test_good_variants();
    test_json();
    test_name();
    test_paths();
    test_start();
    test_health_and_port();
    test_load_errors();
    return done_testing();
}
