/* kiln: names of apps, envs, clusters and server groups; ids (see include/kiln/names.h). */
#include "kiln/names.h"

#include <stdio.h>
#include <string.h>

/* Quoted values show at most this many characters, and this many bytes of escaped
 * text, so a 10 kB name cannot flood a message. */
#define QUOTE_CHARS 60
#define QUOTE_BYTES 200

#define NVR_MAX 255

/* Decodes one well-formed UTF-8 sequence from s (n > 0 bytes available) into *cp
 * and returns its length; returns 0 for anything else (stray continuation bytes,
 * overlong forms, surrogates, code points past U+10FFFF, truncated sequences). */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        c &= 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
        c &= 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
        c &= 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        unsigned b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (b & 0x3f);
    }
    *cp = c;
    return len;
}

/* Characters a terminal would not show, or would show misleadingly: controls, and
 * the invisible and bidi formatting characters behind "trojan source" tricks. */
static bool invisible(unsigned cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0xad ||
           (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
           (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb);
}

const char *kiln_name_quote(const char *s, char *buf, size_t size)
{
    char tmp[KILN_QUOTE_SIZE];
    size_t len = 0;

    if (size == 0)
        return buf;
    if (s == NULL) {
        snprintf(buf, size, "(null)");
        return buf;
    }

    const unsigned char *p = (const unsigned char *)s;
    size_t total = strlen(s), i = 0;
    int chars = 0;

    tmp[len++] = '"';
    while (i < total && chars < QUOTE_CHARS) {
        char piece[16];
        int plen;
        unsigned cp;
        size_t k = utf8_decode(p + i, total - i, &cp);

        if (k == 0) {
            plen = snprintf(piece, sizeof piece, "\\x%02x", p[i]);
            k = 1;
        } else if (cp == '"' || cp == '\\') {
            plen = snprintf(piece, sizeof piece, "\\%c", (char)cp);
        } else if (cp == '\n') {
            plen = snprintf(piece, sizeof piece, "\\n");
        } else if (cp == '\t') {
            plen = snprintf(piece, sizeof piece, "\\t");
        } else if (cp == '\r') {
            plen = snprintf(piece, sizeof piece, "\\r");
        } else if (cp < 0x80 && invisible(cp)) {
            plen = snprintf(piece, sizeof piece, "\\x%02x", cp);
        } else if (invisible(cp)) {
            plen = snprintf(piece, sizeof piece, "\\u{%04x}", cp);
        } else {
            memcpy(piece, p + i, k);
            plen = (int)k;
        }
        if (len + (size_t)plen > QUOTE_BYTES)
            break;
        memcpy(tmp + len, piece, (size_t)plen);
        len += (size_t)plen;
        i += k;
        chars++;
    }
    tmp[len++] = '"';
    tmp[len] = '\0';
    if (i < total)
        snprintf(tmp + len, sizeof tmp - len, "... (%zu bytes)", total);
    snprintf(buf, size, "%s", tmp);
    return buf;
}

bool kiln_text_printable(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);

    for (size_t i = 0; i < n;) {
        unsigned cp;
        size_t k = utf8_decode(p + i, n - i, &cp);
        if (k == 0 || invisible(cp))
            return false;
        i += k;
    }
    return true;
}

void kiln_text_sanitize(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t n = strlen(s), o = 0;

    for (size_t i = 0; i < n;) {
        unsigned cp;
        size_t k = utf8_decode(p + i, n - i, &cp);
        if (k == 0 || invisible(cp)) {
            /* A control, a direction override, a broken sequence: one '?' per byte or
             * character, so nothing can move the cursor or reorder what people read. */
            p[o++] = '?';
            i += k ? k : 1;
            continue;
        }
        memmove(p + o, p + i, k);
        o += k;
        i += k;
    }
    p[o] = '\0';
}

/* "'x' at position 3" for the character starting at byte i of s, counting
 * characters (not bytes) from 1, so that the position matches what people see. */
static const char *describe_char_at(const char *s, size_t i, char *buf, size_t size)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), pos = 1;
    unsigned cp;

    for (size_t j = 0; j < i;) {
        size_t k = utf8_decode(p + j, n - j, &cp);
        j += k ? k : 1;
        pos++;
    }
    size_t k = utf8_decode(p + i, n - i, &cp);
    char one[8] = "";
    memcpy(one, p + i, k ? k : 1);

    char q[KILN_QUOTE_SIZE];
    kiln_name_quote(one, q, sizeof q);
    snprintf(buf, size, "%s%s at position %zu",
             k == 1 && cp >= 'A' && cp <= 'Z' ? "upper-case " : "", q, pos);
    return buf;
}

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* True for "v" and exactly three digits: the version part of a group name. */
static bool looks_like_version(const char *s, size_t n)
{
    return n == 4 && s[0] == 'v' && is_digit(s[1]) && is_digit(s[2]) && is_digit(s[3]);
}

struct name_rule {
    const char *what; /* "app name" */
    size_t max;
    bool dashes;
    const char *rule; /* the whole rule, said once at the end of every message */
};

static const struct name_rule app_rule = {
    "app name", KILN_APP_MAX, true,
    "an app name is 1 to 48 lower-case letters, digits and single dashes, starting with a "
    "letter, e.g. hello-world"};

static const struct name_rule env_rule = {
    "env name", KILN_ENV_MAX, false,
    "an env name is 1 to 16 lower-case letters and digits, starting with a letter, with no "
    "dash, e.g. test or prod"};

static int name_invalid(const struct name_rule *r, const char *s, struct kiln_err *err,
                        const char *why)
{
    char q[KILN_QUOTE_SIZE];
    return kiln_err_set(err, KILN_E_INVALID, "%s %s is not valid: %s; %s", r->what,
                        kiln_name_quote(s, q, sizeof q), why, r->rule);
}

static int validate_name(const struct name_rule *r, const char *s, struct kiln_err *err)
{
    char why[KILN_QUOTE_SIZE + 160];

    if (s == NULL || s[0] == '\0')
        return kiln_err_set(err, KILN_E_INVALID, "%s is empty; %s", r->what, r->rule);

    size_t n = strlen(s);
    if (n > r->max) {
        snprintf(why, sizeof why, "it is %zu bytes long, the limit is %zu", n, r->max);
        return name_invalid(r, s, err, why);
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (is_lower(c) || is_digit(c) || (c == '-' && r->dashes))
            continue;
        char where[KILN_QUOTE_SIZE + 64];
        describe_char_at(s, i, where, sizeof where);
        snprintf(why, sizeof why, "%s is not allowed", where);
        return name_invalid(r, s, err, why);
    }
    if (!is_lower(s[0]))
        return name_invalid(r, s, err, "it must start with a letter a-z");
    if (s[n - 1] == '-')
        return name_invalid(r, s, err, "it must not end with a dash");
    if (strstr(s, "--") != NULL)
        return name_invalid(r, s, err, "it must not contain two dashes in a row");

    for (const char *part = s; *part != '\0';) {
        size_t len = strcspn(part, "-");
        if (looks_like_version(part, len)) {
            if (!r->dashes) {
                snprintf(why, sizeof why,
                         "it looks like a server group version, so a cluster named "
                         "app-%s would read as a server group of \"app\"",
                         s);
            } else {
                /* Suggest the same name without the "v", which is always valid. */
                char fixed[KILN_APP_SIZE];
                size_t at = (size_t)(part - s);
                snprintf(fixed, sizeof fixed, "%.*s%s", (int)at, s, part + 1);
                snprintf(why, sizeof why,
                         "its part \"%.4s\" looks like a server group version, which would "
                         "make group names built from it ambiguous; use e.g. %s",
                         part, fixed);
            }
            return name_invalid(r, s, err, why);
        }
        part += len;
        if (*part == '-')
            part++;
    }
    return 0;
}

int kiln_name_validate_app(const char *s, struct kiln_err *err)
{
    return validate_name(&app_rule, s, err);
}

int kiln_name_validate_env(const char *s, struct kiln_err *err)
{
    return validate_name(&env_rule, s, err);
}

#define GROUP_RULE "a server group name is app-env-vNNN, e.g. hello-world-test-v003"

static int group_invalid(const char *s, struct kiln_err *err, const char *why)
{
    char q[KILN_QUOTE_SIZE];
    return kiln_err_set(err, KILN_E_INVALID, "server group name %s is not valid: %s; " GROUP_RULE,
                        kiln_name_quote(s, q, sizeof q), why);
}

int kiln_group_name_parse(const char *s, struct kiln_group_name *out, struct kiln_err *err)
{
    char why[KILN_QUOTE_SIZE + 128];

    if (s == NULL || s[0] == '\0')
        return kiln_err_set(err, KILN_E_INVALID, "server group name is empty; " GROUP_RULE);

    size_t n = strlen(s);
    if (n > KILN_GROUP_MAX) {
        snprintf(why, sizeof why, "it is %zu bytes long, the limit is %d", n, KILN_GROUP_MAX);
        return group_invalid(s, err, why);
    }
    for (size_t i = 0; i < n; i++) {
        if (is_lower(s[i]) || is_digit(s[i]) || s[i] == '-')
            continue;
        char where[KILN_QUOTE_SIZE + 64];
        describe_char_at(s, i, where, sizeof where);
        snprintf(why, sizeof why, "%s is not allowed", where);
        return group_invalid(s, err, why);
    }

    const char *vdash = strrchr(s, '-');
    if (vdash == NULL || !looks_like_version(vdash + 1, strlen(vdash + 1)))
        return group_invalid(s, err, "it must end in -v and exactly three digits (v000 to v999)");

    const char *edash = memrchr(s, '-', (size_t)(vdash - s));
    if (edash == NULL || edash == s)
        return group_invalid(s, err, "it has no app before the env");

    char app[KILN_GROUP_SIZE], env[KILN_GROUP_SIZE];
    memcpy(app, s, (size_t)(edash - s));
    app[edash - s] = '\0';
    memcpy(env, edash + 1, (size_t)(vdash - edash - 1));
    env[vdash - edash - 1] = '\0';

    char q[KILN_QUOTE_SIZE];
    if (kiln_name_validate_env(env, err) < 0 || kiln_name_validate_app(app, err) < 0) {
        kiln_err_prefix(err, "server group name %s", kiln_name_quote(s, q, sizeof q));
        return -1;
    }
    if (out != NULL) {
        /* Both were validated, so both fit. */
        memcpy(out->app, app, strlen(app) + 1);
        memcpy(out->env, env, strlen(env) + 1);
        out->version = (vdash[2] - '0') * 100 + (vdash[3] - '0') * 10 + (vdash[4] - '0');
    }
    return 0;
}

int kiln_group_name_format(char *buf, size_t size, const char *app, const char *env, int version)
{
    if (size > 0)
        buf[0] = '\0';
    if (version < 0 || version >= KILN_VERSION_COUNT || kiln_name_validate_app(app, NULL) < 0 ||
        kiln_name_validate_env(env, NULL) < 0)
        return -1;
    int n = snprintf(buf, size, "%s-%s-v%03d", app, env, version);
    if (n < 0 || (size_t)n >= size) {
        if (size > 0)
            buf[0] = '\0';
        return -1;
    }
    return 0;
}

int kiln_cluster_name_format(char *buf, size_t size, const char *app, const char *env)
{
    if (size > 0)
        buf[0] = '\0';
    if (kiln_name_validate_app(app, NULL) < 0 || kiln_name_validate_env(env, NULL) < 0)
        return -1;
    int n = snprintf(buf, size, "%s-%s", app, env);
    if (n < 0 || (size_t)n >= size) {
        if (size > 0)
            buf[0] = '\0';
        return -1;
    }
    return 0;
}

int kiln_version_next(int newest, const bool in_use[KILN_VERSION_COUNT])
{
    if (newest < -1 || newest >= KILN_VERSION_COUNT)
        return -1;
    int start = (newest + 1) % KILN_VERSION_COUNT;
    for (int i = 0; i < KILN_VERSION_COUNT; i++) {
        int v = (start + i) % KILN_VERSION_COUNT;
        if (in_use == NULL || !in_use[v])
            return v;
    }
    return -1;
}

/* prefix followed by min..max lower-case hex digits. */
static bool prefixed_hex(const char *s, const char *prefix, size_t min, size_t max)
{
    size_t plen = strlen(prefix);
    if (strncmp(s, prefix, plen) != 0)
        return false;
    size_t n = 0;
    for (const char *p = s + plen; *p != '\0'; p++, n++) {
        if (!is_hex(*p) || n >= max)
            return false;
    }
    return n >= min;
}

int kiln_instance_id_validate(const char *s, struct kiln_err *err)
{
    char q[KILN_QUOTE_SIZE];
    if (s != NULL && prefixed_hex(s, "i-", 8, 17))
        return 0;
    return kiln_err_set(err, KILN_E_INVALID,
                        "instance id %s is not valid: an instance id is \"i-\" and 8 to 17 "
                        "lower-case hex digits, e.g. i-0123456789abcdef0",
                        kiln_name_quote(s, q, sizeof q));
}

int kiln_image_id_validate(const char *s, struct kiln_err *err)
{
    char q[KILN_QUOTE_SIZE];
    if (s != NULL && (prefixed_hex(s, "img-", 12, 12) || prefixed_hex(s, "ami-", 8, 17)))
        return 0;
    return kiln_err_set(err, KILN_E_INVALID,
                        "image id %s is not valid: an image id is \"img-\" and 12 lower-case "
                        "hex digits for a local image (e.g. img-0123456789ab), or \"ami-\" and "
                        "8 to 17 for an AWS one (e.g. ami-0abcdef1234567890)",
                        kiln_name_quote(s, q, sizeof q));
}

#define NVR_RULE                                                                                   \
    "a package is name-version-release with an optional .arch, e.g. hello-world-1.0.3-1.x86_64, "  \
    "made of letters, digits, dashes and . _ + ~ ^"

static int nvr_invalid(const char *s, struct kiln_err *err, const char *why)
{
    char q[KILN_QUOTE_SIZE];
    return kiln_err_set(err, KILN_E_INVALID, "package %s is not valid: %s; " NVR_RULE,
                        kiln_name_quote(s, q, sizeof q), why);
}

int kiln_package_nvr_validate(const char *s, struct kiln_err *err)
{
    char why[KILN_QUOTE_SIZE + 160];

    if (s == NULL || s[0] == '\0')
        return kiln_err_set(err, KILN_E_INVALID, "package name is empty; " NVR_RULE);
    size_t n = strlen(s);
    if (n > NVR_MAX) {
        snprintf(why, sizeof why, "it is %zu bytes long, the limit is %d", n, NVR_MAX);
        return nvr_invalid(s, err, why);
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (is_lower(c) || (c >= 'A' && c <= 'Z') || is_digit(c) || strchr("-._+~^", c) != NULL)
            continue;
        char where[KILN_QUOTE_SIZE + 64];
        describe_char_at(s, i, where, sizeof where);
        snprintf(why, sizeof why, "%s is not allowed (no slashes, spaces or shell characters)",
                 where);
        return nvr_invalid(s, err, why);
    }
    if (n > 4 && strcmp(s + n - 4, ".rpm") == 0)
        return nvr_invalid(s, err, "that is a file name; leave out the .rpm");
    if (!(is_lower(s[0]) || (s[0] >= 'A' && s[0] <= 'Z') || is_digit(s[0])))
        return nvr_invalid(s, err, "it must start with a letter or a digit");

    /* Release and version contain no dash, so both split off from the right. */
    const char *rdash = strrchr(s, '-');
    const char *vdash = rdash ? memrchr(s, '-', (size_t)(rdash - s)) : NULL;
    if (rdash == NULL || vdash == NULL || rdash[1] == '\0' || rdash == vdash + 1 ||
        vdash[-1] == '-')
        return nvr_invalid(s, err, "it needs a name, a version and a release, each non-empty");
    return 0;
}
