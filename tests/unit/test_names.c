/* kiln: app, env and server group names; version choice; ids. */
#include "kiln/names.h"
#include "tap.h"

static struct kiln_err err;

/* True when the last error message contains needle. */
static int msg_has(const char *needle)
{
    int found = strstr(err.msg, needle) != NULL;
    if (!found)
        diag("message: %s", err.msg);
    return found;
}

static void test_app(void)
{
    static const char *const good[] = {"a",      "hello",     "hello-world", "a1",    "a-b-c",
                                       "api-v2", "api-v0001", "v003x",       "x-v03", "abc-1-2"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        is_int(kiln_name_validate_app(good[i], &err), 0, "app %s is valid", good[i]);

    char max[KILN_APP_MAX + 2];
    memset(max, 'a', KILN_APP_MAX);
    max[KILN_APP_MAX] = '\0';
    is_int(kiln_name_validate_app(max, &err), 0, "a 48-character app is valid");
    strcat(max, "a");
    is_int(kiln_name_validate_app(max, &err), -1, "49 characters are too many");
    ok(msg_has("49 bytes long, the limit is 48"), "the message gives length and limit");

    is_int(kiln_name_validate_app("", &err), -1, "empty app refused");
    ok(msg_has("app name is empty"), "and says so");
    is_int(kiln_name_validate_app(NULL, &err), -1, "NULL app refused");

    is_int(kiln_name_validate_app("Hello", &err), -1, "upper-case refused");
    is_int(err.code, KILN_E_INVALID, "as invalid input");
    ok(msg_has("upper-case \"H\" at position 1 is not allowed"), "naming the character");
    ok(msg_has("e.g. hello-world"), "and giving the rule with an example");

    is_int(kiln_name_validate_app("1abc", &err), -1, "leading digit refused");
    ok(msg_has("must start with a letter"), "start rule");
    is_int(kiln_name_validate_app("-abc", &err), -1, "leading dash refused");
    is_int(kiln_name_validate_app("abc-", &err), -1, "trailing dash refused");
    ok(msg_has("must not end with a dash"), "trailing dash rule");
    is_int(kiln_name_validate_app("a--b", &err), -1, "double dash refused");
    ok(msg_has("two dashes"), "double dash rule");
    is_int(kiln_name_validate_app("hello_world", &err), -1, "underscore refused");
    ok(msg_has("\"_\" at position 6"), "position counted from 1");
    is_int(kiln_name_validate_app("héllo", &err), -1, "non-ASCII refused");
    ok(msg_has("\"é\" at position 2"), "UTF-8 shown as itself, position in characters");
    is_int(kiln_name_validate_app("a b", &err), -1, "space refused");

    /* Ambiguity with app-env-vNNN. */
    is_int(kiln_name_validate_app("x-test-v001", &err), -1,
           "an app that reads as a server group is refused");
    ok(msg_has("\"v001\" looks like a server group version"), "explaining why");
    ok(msg_has("use e.g. x-test-001"), "and suggesting a fix");
    is_int(kiln_name_validate_app("x-test-001", &err), 0, "the suggestion is valid");
    is_int(kiln_name_validate_app("a-v123-b", &err), -1, "a version-like middle part refused");
    is_int(kiln_name_validate_app("v123", &err), -1, "a version-like app refused");
}

static void test_env(void)
{
    is_int(kiln_name_validate_env("test", &err), 0, "test is a valid env");
    is_int(kiln_name_validate_env("prod2", &err), 0, "prod2 is a valid env");
    is_int(kiln_name_validate_env("abcdefghijklmnop", &err), 0, "16 characters is valid");
    is_int(kiln_name_validate_env("abcdefghijklmnopq", &err), -1, "17 characters is too long");
    is_int(kiln_name_validate_env("us-east", &err), -1, "a dash is refused");
    ok(msg_has("\"-\" at position 3 is not allowed") && msg_has("no dash"), "with the rule");
    is_int(kiln_name_validate_env("v001", &err), -1, "a version-like env is refused");
    ok(msg_has("looks like a server group version"), "explaining why");
    is_int(kiln_name_validate_env("v1", &err), 0, "v1 is not a version (three digits are)");
    is_int(kiln_name_validate_env("Test", &err), -1, "upper-case refused");
    is_int(kiln_name_validate_env("", &err), -1, "empty refused");
}

static void test_group_parse(void)
{
    struct kiln_group_name g;

    is_int(kiln_group_name_parse("hello-world-test-v003", &g, &err), 0, "parse a group name");
    is_str(g.app, "hello-world", "app from the left");
    is_str(g.env, "test", "env before the version");
    is_int(g.version, 3, "version");

    is_int(kiln_group_name_parse("a-b-c-test-v999", &g, &err), 0, "many dashes");
    is_str(g.app, "a-b-c", "app keeps its dashes");
    is_int(g.version, 999, "v999");
    is_int(kiln_group_name_parse("x-prod-v000", &g, &err), 0, "v000");
    is_int(g.version, 0, "v000 is 0");
    is_str(g.app, "x", "one-letter app");

    static const char *const bad[] = {
        "x-test-v1000", "x-test-v03",   "test-v001",  "-test-v001", "X-test-v001",
        "x-TEST-v001",  "x-test-V001",  "x-test-001", "x-test-v",   "x-test-vabc",
        "x-test-v001-", "x--test-v001", "x-v001",     "",           "x-te-st-v001x",
        "x-test-v-01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        g.version = 42;
        is_int(kiln_group_name_parse(bad[i], &g, &err), -1, "refuse \"%s\"", bad[i]);
        is_int(g.version, 42, "leaving the output alone");
    }
    kiln_group_name_parse("x-test-v03", &g, &err);
    ok(msg_has("exactly three digits") && msg_has("hello-world-test-v003"),
       "a short version is explained with an example");
    kiln_group_name_parse("test-v001", &g, &err);
    ok(msg_has("no app"), "no app is explained");
    kiln_group_name_parse("x-test-v1000", &g, &err);
    ok(msg_has("exactly three digits"), "a long version is explained");
    kiln_group_name_parse("a-b-v001-test-v002", &g, &err);
    ok(msg_has("server group name \"a-b-v001-test-v002\"") && msg_has("app name \"a-b-v001\""),
       "an ambiguous app part is reported in context");
    kiln_group_name_parse("Hello-test-v001", &g, &err);
    ok(msg_has("upper-case \"H\""), "upper-case is named");
    is_int(kiln_group_name_parse("x-test-v001", NULL, &err), 0, "out may be NULL (validate)");
}

static void test_format(void)
{
    char buf[KILN_GROUP_SIZE];
    struct kiln_group_name g;

    is_int(kiln_group_name_format(buf, sizeof buf, "hello-world", "test", 3), 0, "format");
    is_str(buf, "hello-world-test-v003", "zero-padded to three digits");
    is_int(kiln_group_name_parse(buf, &g, &err), 0, "it parses back");
    is_int(kiln_group_name_format(buf, sizeof buf, "x", "test", 1000), -1, "v1000 refused");
    is_str(buf, "", "leaving an empty string");
    is_int(kiln_group_name_format(buf, sizeof buf, "x", "test", -1), -1, "negative refused");
    is_int(kiln_group_name_format(buf, sizeof buf, "x", "us-east", 1), -1, "bad env refused");
    is_int(kiln_group_name_format(buf, 8, "hello", "test", 1), -1, "too small a buffer");
    is_str(buf, "", "gives an empty string, not a truncated name");

    char app[KILN_APP_SIZE], env[KILN_ENV_SIZE];
    memset(app, 'a', KILN_APP_MAX);
    app[KILN_APP_MAX] = '\0';
    memset(env, 'e', KILN_ENV_MAX);
    env[KILN_ENV_MAX] = '\0';
    is_int(kiln_group_name_format(buf, sizeof buf, app, env, 999), 0,
           "KILN_GROUP_SIZE holds the longest name");
    is_int((long long)strlen(buf), KILN_GROUP_MAX, "which is KILN_GROUP_MAX long");
    is_int(kiln_group_name_parse(buf, &g, &err), 0, "and parses back");
    is_str(g.app, app, "to the same app");

    char cl[KILN_CLUSTER_SIZE];
    is_int(kiln_cluster_name_format(cl, sizeof cl, app, env), 0, "longest cluster fits");
    is_int(kiln_cluster_name_format(cl, sizeof cl, "hello-world", "prod"), 0, "cluster");
    is_str(cl, "hello-world-prod", "cluster is app-env");
    is_int(kiln_cluster_name_format(cl, sizeof cl, "Hello", "prod"), -1, "bad app refused");
}

static void test_version_next(void)
{
    static bool used[KILN_VERSION_COUNT];

    is_int(kiln_version_next(-1, NULL), 0, "empty cluster starts at v000");
    is_int(kiln_version_next(-1, used), 0, "with an all-false table too");
    is_int(kiln_version_next(3, NULL), 4, "next after v003 is v004");
    used[3] = true;
    used[4] = true;
    used[5] = true;
    is_int(kiln_version_next(3, used), 6, "skips versions in use");
    is_int(kiln_version_next(998, NULL), 999, "v998 -> v999");
    is_int(kiln_version_next(999, NULL), 0, "v999 wraps to v000");

    memset(used, 0, sizeof used);
    used[999] = used[0] = used[1] = used[2] = true;
    is_int(kiln_version_next(999, used), 3, "wraps and keeps skipping");
    used[5] = true;
    is_int(kiln_version_next(1, used), 3, "newest need not be the highest number");

    memset(used, 1, sizeof used);
    is_int(kiln_version_next(500, used), -1, "all 1000 in use gives -1");
    is_int(kiln_version_next(-1, used), -1, "even for a cluster said to be empty");
    used[499] = false;
    is_int(kiln_version_next(500, used), 499, "the one free number is found after a full lap");
    is_int(kiln_version_next(1000, NULL), -1, "newest past v999 is refused");
    is_int(kiln_version_next(-2, NULL), -1, "newest below -1 is refused");
}

static void test_ids(void)
{
    is_int(kiln_instance_id_validate("i-0123abcd", &err), 0, "8-digit instance id");
    is_int(kiln_instance_id_validate("i-0123456789abcdef0", &err), 0, "17-digit instance id");
    is_int(kiln_instance_id_validate("i-0123abc", &err), -1, "7 digits too few");
    is_int(kiln_instance_id_validate("i-0123456789abcdef01", &err), -1, "18 digits too many");
    is_int(kiln_instance_id_validate("i-0123ABCD", &err), -1, "upper-case hex refused");
    is_int(kiln_instance_id_validate("i-0123abcg", &err), -1, "non-hex refused");
    is_int(kiln_instance_id_validate("0123abcd", &err), -1, "prefix needed");
    ok(msg_has("e.g. i-0123456789abcdef0"), "with an example");
    is_int(kiln_instance_id_validate(NULL, &err), -1, "NULL refused");

    is_int(kiln_image_id_validate("img-0123456789ab", &err), 0, "local image id");
    is_int(kiln_image_id_validate("img-0123456789a", &err), -1, "local ids have exactly 12");
    is_int(kiln_image_id_validate("img-0123456789abc", &err), -1, "not 13");
    is_int(kiln_image_id_validate("ami-12345678", &err), 0, "short AMI id");
    is_int(kiln_image_id_validate("ami-0abcdef1234567890", &err), 0, "long AMI id");
    is_int(kiln_image_id_validate("ami-0abcdef12345678901", &err), -1, "AMI id too long");
    is_int(kiln_image_id_validate("ami-", &err), -1, "bare prefix refused");
    is_int(kiln_image_id_validate("i-12345678", &err), -1, "an instance is not an image");

    is_int(kiln_package_nvr_validate("hello-world-1.0.3-1", &err), 0, "NVR");
    is_int(kiln_package_nvr_validate("hello-world-1.0.3-1.x86_64", &err), 0, "NVR.arch");
    is_int(kiln_package_nvr_validate("python3-Foo_bar-2.1~rc1^git1-3.el9.noarch", &err), 0,
           "rpm's other characters");
    is_int(kiln_package_nvr_validate("hello-1.0", &err), -1, "missing release");
    ok(msg_has("name, a version and a release"), "explained");
    is_int(kiln_package_nvr_validate("hello--1", &err), -1, "empty version");
    is_int(kiln_package_nvr_validate("hello-1.0-", &err), -1, "empty release");
    is_int(kiln_package_nvr_validate("-hello-1.0-1", &err), -1, "leading dash (an option)");
    is_int(kiln_package_nvr_validate("../hello-1.0-1", &err), -1, "path refused");
    is_int(kiln_package_nvr_validate("a/b-1.0-1", &err), -1, "slash refused");
    ok(msg_has("\"/\" at position 2") && msg_has("no slashes"), "naming the slash");
    is_int(kiln_package_nvr_validate("hello-1.0-1;rm -rf", &err), -1, "shell characters refused");
    is_int(kiln_package_nvr_validate("hello-1.0-1 x", &err), -1, "whitespace refused");
    is_int(kiln_package_nvr_validate("hello-$(id)-1", &err), -1, "$ refused");
    is_int(kiln_package_nvr_validate("hello-1.0-1.x86_64.rpm", &err), -1, "a file name refused");
    ok(msg_has("leave out the .rpm"), "with a hint");
    is_int(kiln_package_nvr_validate("", &err), -1, "empty refused");
}

static void test_hostile_input(void)
{
    /* 10 kB of otherwise valid characters. */
    static char big[10241];
    memset(big, 'a', sizeof big - 1);
    is_int(kiln_name_validate_app(big, &err), -1, "10 kB app refused");
    ok(msg_has("10240 bytes long"), "saying how long");
    ok(strlen(err.msg) < 600, "without putting 10 kB in the message (%zu bytes)", strlen(err.msg));
    ok(msg_has("\"... (10240 bytes)"), "the quoted value is cut and marked");
    is_int(kiln_group_name_parse(big, NULL, &err), -1, "10 kB group name refused");
    ok(strlen(err.msg) < 600, "with a short message");

    /* Not UTF-8, control characters, an escape sequence and a bidi override. */
    is_int(kiln_name_validate_app("ab\xff\xfe", &err), -1, "non-UTF-8 refused");
    ok(msg_has("\"ab\\xff\\xfe\"") && msg_has("\"\\xff\" at position 3"),
       "bytes that are not UTF-8 are shown as \\xNN");
    is_int(kiln_name_validate_app("a\x1b[31mred", &err), -1, "escape sequence refused");
    ok(strchr(err.msg, 0x1b) == NULL, "and no ESC byte reaches the message");
    ok(msg_has("\\x1b[31mred"), "it is shown escaped");
    is_int(kiln_name_validate_env("te\xe2\x80\xaest", &err), -1, "bidi override refused");
    ok(msg_has("\\u{202e}"), "shown as \\u{202e}");
    is_int(kiln_name_validate_app("a\nb", &err), -1, "newline refused");
    ok(strchr(err.msg, '\n') == NULL && msg_has("a\\nb"), "the message stays one line");
    is_int(kiln_name_validate_app("\xc0\xaf", &err), -1, "overlong UTF-8 refused");
    ok(msg_has("\\xc0\\xaf"), "overlong forms are escaped byte by byte");
    is_int(kiln_name_validate_app("\xed\xa0\x80", &err), -1, "a UTF-16 surrogate refused");
    ok(msg_has("\\xed\\xa0\\x80"), "surrogates are escaped byte by byte");

    /* Every non-NUL byte in every position of a group name: nothing crashes and
     * everything accepted parses into valid parts. */
    char name[] = "app-env-v001";
    int accepted = 0;
    for (size_t pos = 0; pos < sizeof name - 1; pos++) {
        char saved = name[pos];
        for (int c = 1; c < 256; c++) {
            struct kiln_group_name g;
            name[pos] = (char)c;
            if (kiln_group_name_parse(name, &g, NULL) == 0) {
                accepted++;
                if (kiln_name_validate_app(g.app, NULL) < 0 ||
                    kiln_name_validate_env(g.env, NULL) < 0 || g.version < 0 || g.version > 999)
                    break;
            }
        }
        name[pos] = saved;
    }
    /* Letters and digits in 7 name positions (36 each), minus "-v" trouble:
     * nothing exact to say, but the original is accepted 12 times. */
    ok(accepted > 12, "single-byte mutations: %d accepted, all with valid parts", accepted);
}

static void test_quote(void)
{
    char q[KILN_QUOTE_SIZE];
    is_str(kiln_name_quote("plain", q, sizeof q), "\"plain\"", "plain text is quoted");
    is_str(kiln_name_quote("a\"b\\c", q, sizeof q), "\"a\\\"b\\\\c\"", "quote and backslash");
    is_str(kiln_name_quote("tab\there", q, sizeof q), "\"tab\\there\"", "tab");
    is_str(kiln_name_quote("\xc3\xa9t\xc3\xa9", q, sizeof q), "\"\xc3\xa9t\xc3\xa9\"",
           "UTF-8 stays");
    is_str(kiln_name_quote(NULL, q, sizeof q), "(null)", "NULL");
    char small[6];
    is_str(kiln_name_quote("abcdefgh", small, sizeof small), "\"abcd", "small buffers truncate");
    ok(kiln_text_printable("hello wörld"), "printable text");
    ok(!kiln_text_printable("a\x7f"), "DEL is not printable");
    ok(!kiln_text_printable("\xe2\x80\x8b"), "zero-width space is not printable");
    ok(!kiln_text_printable("\xf4\x90\x80\x80"), "past U+10FFFF is not UTF-8");
    ok(kiln_text_printable("\xf0\x9f\x94\xa5"), "an emoji is printable");
}

int main(void)
{
    test_app();
    test_env();
    test_group_parse();
    test_format();
    test_version_next();
    test_ids();
    test_hostile_input();
    test_quote();
    {
        /* Text from outside made safe for a terminal: escapes, direction overrides and
         * broken UTF-8 become '?', printable UTF-8 stays. */
        char t[] = "a\x1b[31mb\xe2\x80\xae" "c\xff d \xc3\xa9";
        kiln_text_sanitize(t);
        is_str(t, "a?[31mb?c? d \xc3\xa9", "kiln_text_sanitize replaces what could fool a terminal");
        ok(kiln_text_printable(t), "and the result is printable");
    }
    return done_testing();
}
