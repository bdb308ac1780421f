/* fuzz: names and ids (kiln/names.h): apps, envs, server groups, packages, instance and
 * image ids, and kiln_name_quote, which every refusal uses to show the bad value.
 *
 * The input is cut at its first NUL into two strings a and b. Checked besides "no
 * crash, no leak":
 *  - every refusal is one printable sentence (names.h: the bad value is quoted safely);
 *  - kiln_name_quote's result is printable and fits, whatever the bytes, and
 *    kiln_text_sanitize's is printable and no longer than what it was given;
 *  - a server group name that parses formats back to itself, and what
 *    kiln_group_name_format / kiln_cluster_name_format write parses back (names.h);
 *  - the validators accept only the alphabets they state.
 */
#include "fuzz.h"

#include "kiln/names.h"

static void check_refusal(const char *what, int rc, const struct kiln_err *err)
{
    if (rc == 0)
        return;
    if (rc != -1 || err->code != KILN_E_INVALID || !fuzz_message_ok(err->msg))
        fuzz_fail("%s: rc %d, code %d, message \"%s\"", what, rc, err->code, err->msg);
}

static bool only(const char *s, const char *alphabet)
{
    return strspn(s, alphabet) == strlen(s);
}

static void check_quote(const char *s)
{
    char q[KILN_QUOTE_SIZE];
    kiln_name_quote(s, q, sizeof q);
    if (!kiln_text_printable(q) || q[0] != '"')
        fuzz_fail("kiln_name_quote gave unprintable \"%s\"", q);
    /* Short buffers are cut, never overrun (ASan watches the small one). */
    char *small = malloc(7);
    kiln_name_quote(s, small, 7);
    if (strlen(small) > 6)
        fuzz_fail("kiln_name_quote overran its buffer");
    free(small);
    /* Printable text without quotes or backslashes is shown as it is when short. */
    if (kiln_text_printable(s) && strlen(s) <= 60 && strpbrk(s, "\"\\") == NULL) {
        if (strlen(q) != strlen(s) + 2 || strncmp(q + 1, s, strlen(s)) != 0)
            fuzz_fail("kiln_name_quote changed printable \"%s\" into %s", s, q);
    }
}

/* kiln_text_sanitize: the result is printable, no longer than the input, and printable
 * text is left as it is. */
static void check_sanitize(const char *s)
{
    char *t = strdup(s);
    kiln_text_sanitize(t);
    if (!kiln_text_printable(t) || strlen(t) > strlen(s))
        fuzz_fail("kiln_text_sanitize gave \"%s\"", t);
    if (kiln_text_printable(s) && strcmp(s, t) != 0)
        fuzz_fail("kiln_text_sanitize changed printable \"%s\"", s);
    free(t);
}

static void check_one(const char *a)
{
    struct kiln_err err = {0};
    int rc;

    rc = kiln_name_validate_app(a, &err);
    check_refusal("app", rc, &err);
    if (rc == 0 && (strlen(a) > KILN_APP_MAX || !only(a, "abcdefghijklmnopqrstuvwxyz0123456789-")))
        fuzz_fail("app \"%s\" accepted", a);

    rc = kiln_name_validate_env(a, &err);
    check_refusal("env", rc, &err);
    if (rc == 0 && (strlen(a) > KILN_ENV_MAX || !only(a, "abcdefghijklmnopqrstuvwxyz0123456789")))
        fuzz_fail("env \"%s\" accepted", a);

    struct kiln_group_name gn;
    rc = kiln_group_name_parse(a, &gn, &err);
    check_refusal("group", rc, &err);
    if (rc == 0) {
        char buf[KILN_GROUP_SIZE];
        if (kiln_group_name_format(buf, sizeof buf, gn.app, gn.env, gn.version) < 0 ||
            strcmp(buf, a) != 0)
            fuzz_fail("group \"%s\" parses to %s/%s/%d, which formats as \"%s\"", a, gn.app,
                      gn.env, gn.version, buf);
    }

    rc = kiln_package_nvr_validate(a, &err);
    check_refusal("package", rc, &err);
    if (rc == 0 && (a[0] == '-' || strpbrk(a, "/ \t\n;|&$`'\"\\<>*?(){}[]!#") != NULL))
        fuzz_fail("package \"%s\" accepted", a);

    rc = kiln_instance_id_validate(a, &err);
    check_refusal("instance", rc, &err);
    if (rc == 0 && (strncmp(a, "i-", 2) != 0 || !only(a + 2, "0123456789abcdef")))
        fuzz_fail("instance id \"%s\" accepted", a);

    rc = kiln_image_id_validate(a, &err);
    check_refusal("image", rc, &err);
    if (rc == 0 && !only(a + 4, "0123456789abcdef"))
        fuzz_fail("image id \"%s\" accepted", a);

    check_quote(a);
    check_sanitize(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16 * 1024)
        return 0;
    char *words[2];
    char *block;
    int n = fuzz_split(data, size, '\0', words, 2, &block);
    const char *a = words[0], *b = n > 1 ? words[1] : "test";

    check_one(a);
    if (n > 1)
        check_one(b);

    /* Formatting from parts: whatever is written parses back to the same parts. */
    int version = size > 0 ? (data[size - 1] * 7) % 1000 : 0;
    char group[KILN_GROUP_SIZE], cluster[KILN_CLUSTER_SIZE];
    int grc = kiln_group_name_format(group, sizeof group, a, b, version);
    int crc = kiln_cluster_name_format(cluster, sizeof cluster, a, b);
    bool valid = kiln_name_validate_app(a, NULL) == 0 && kiln_name_validate_env(b, NULL) == 0;
    if ((grc == 0) != valid || (crc == 0) != valid)
        fuzz_fail("format of \"%s\"/\"%s\": %d/%d, names valid: %d", a, b, grc, crc, valid);
    if (grc == 0) {
        struct kiln_group_name gn;
        if (kiln_group_name_parse(group, &gn, NULL) < 0 || strcmp(gn.app, a) != 0 ||
            strcmp(gn.env, b) != 0 || gn.version != version)
            fuzz_fail("\"%s\" does not parse back to %s/%s/%d", group, a, b, version);
    } else if (group[0] != '\0' || cluster[0] != '\0') {
        fuzz_fail("a refused format left text in the buffer");
    }
    /* A buffer too small is refused, never overrun. */
    char tiny[8];
    if (kiln_group_name_format(tiny, sizeof tiny, a, b, version) == 0 &&
        strlen(a) + strlen(b) + 6 > sizeof tiny - 1)
        fuzz_fail("group name formatted into a buffer too small");
    free(block);
    return 0;
}
