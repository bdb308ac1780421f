/* kiln: an app's manifest, kiln.json (see include/kiln/manifest.h).
 *
 * The rules are narrow on purpose. spec, source and start[0] become paths and rpmbuild
 * arguments, the health path goes on an HTTP request line, port_env into an environment:
 * each gets the smallest alphabet its job needs, so "../", ";", spaces, control bytes
 * and non-ASCII never get as far as a command line or a file name.
 */
#include "kiln/manifest.h"

#include <cJSON.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/atomic_file.h"
#include "kiln/strbuf.h"
#include "kiln/xalloc.h"

#define PORT_ENV_MAX 64

static const char *const known_fields[] = {"name",  "spec",         "source",
                                           "start", "health_check", "port_env"};
#define KNOWN_FIELDS "name, spec, source, start, health_check and port_env"

__attribute__((format(printf, 4, 5))) static int bad(struct kiln_err *err, const char *origin,
                                                     const char *field, const char *fmt, ...)
{
    char msg[KILN_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kiln_err_set(err, KILN_E_INVALID, "%s: field \"%s\": %s", origin, field, msg);
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static bool path_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '+' || c == '-';
}

/* A relative path of plain components: "src", "pkg/app.spec". Returns NULL when it is
 * fine, else why not (for the message). in_image: a path inside the image (start's
 * program), named from the image's root, not from the directory holding kiln.json. */
static const char *relative_path_problem(const char *s, bool in_image)
{
    size_t n = strlen(s);
    if (n == 0)
        return "it is empty";
    if (n > KILN_MANIFEST_PATH_MAX)
        return "it is longer than 255 bytes";
    if (s[0] == '/')
        return "it must be relative to the directory holding kiln.json, not absolute";
    for (const char *p = s;;) {
        const char *end = strchrnul(p, '/');
        size_t len = (size_t)(end - p);
        if (len == 0)
            return "it has an empty component (\"//\" or a trailing \"/\")";
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return in_image ? "\".\" and \"..\" components are not allowed: name the program "
                              "from the image's root downwards, e.g. \"/usr/bin/APP\""
                            : "\".\" and \"..\" components are not allowed: name the path from "
                              "the directory holding kiln.json downwards";
        if (p[0] == '-')
            return "a component may not start with \"-\"";
        for (size_t i = 0; i < len; i++)
            if (!path_char(p[i]))
                return "only letters, digits, \".\", \"_\", \"+\", \"-\" and \"/\" are allowed";
        if (*end == '\0')
            return NULL;
        p = end + 1;
    }
}

static bool health_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '~' || c == '-' || c == '/';
}

static bool query_char(char c)
{
    return health_char(c) || c == '=' || c == '&' || c == '%';
}

static const char *health_path_problem(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || s[0] != '/')
        return "it must be a URL path starting with \"/\", e.g. \"/health_check\"";
    if (n > KILN_MANIFEST_PATH_MAX)
        return "it is longer than 255 bytes";
    const char *q = strchr(s, '?');
    for (const char *p = s; p < (q ? q : s + n); p++)
        if (!health_char(*p))
            return "only letters, digits, \".\", \"_\", \"~\", \"-\" and \"/\" are allowed in "
                   "the path (and \"=\", \"&\", \"%\" after a \"?\")";
    for (const char *p = q ? q + 1 : s + n; *p != '\0'; p++)
        if (!query_char(*p))
            return "only letters, digits, \".\", \"_\", \"~\", \"-\", \"/\", \"=\", \"&\" and "
                   "\"%\" are allowed in the query";
    /* "/a/../b" reaches another URL than it says; refuse it like a path. */
    for (const char *p = s; (p = strstr(p, "/..")) != NULL; p += 3)
        if (p[3] == '/' || p[3] == '\0' || p[3] == '?')
            return "\"..\" segments are not allowed";
    return NULL;
}

static const char *port_env_problem(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PORT_ENV_MAX)
        return "it must be 1 to 64 characters";
    if (!((s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return "it must start with an upper-case letter or \"_\"";
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return "only upper-case letters, digits and \"_\" are allowed";
    /* kiln sets KILN_* itself, and the port must not be able to redirect the loader or
     * the program search of the instance. */
    if (strncmp(s, "KILN_", 5) == 0 || strncmp(s, "LD_", 3) == 0 || strcmp(s, "PATH") == 0)
        return "KILN_*, LD_* and PATH are reserved";
    return NULL;
}

/* The string in item, or NULL (with err set) when it is not a string. */
static const char *string_field(const cJSON *item, const char *origin, const char *field,
                                const char *example, struct kiln_err *err)
{
    if (!cJSON_IsString(item) || item->valuestring == NULL) {
        bad(err, origin, field, "it must be a string, e.g. %s", example);
        return NULL;
    }
    return item->valuestring;
}

static int check_duplicates(const cJSON *obj, const char *origin, const char *where,
                            struct kiln_err *err)
{
    for (const cJSON *a = obj->child; a != NULL; a = a->next)
        for (const cJSON *b = a->next; b != NULL; b = b->next)
            if (strcmp(a->string, b->string) == 0) {
                char q[KILN_QUOTE_SIZE];
                return kiln_err_set(err, KILN_E_INVALID, "%s: %s has the field %s twice", origin,
                                    where, kiln_name_quote(a->string, q, sizeof q));
            }
    return 0;
}

static int parse_start(const cJSON *arr, const char *origin, struct kiln_manifest *m,
                       struct kiln_err *err)
{
    const char *example = "[\"/usr/bin/hello-world\"]";
    if (!cJSON_IsArray(arr))
        return bad(err, origin, "start", "it must be an array of strings, e.g. %s", example);
    int n = cJSON_GetArraySize(arr);
    if (n < 1 || n > KILN_MANIFEST_START_MAX)
        return bad(err, origin, "start", "it has %d elements; it needs 1 to %d, e.g. %s", n,
                   KILN_MANIFEST_START_MAX, example);
    m->start = xcalloc((size_t)n + 1, sizeof *m->start);
    int i = 0;
    for (const cJSON *e = arr->child; e != NULL; e = e->next, i++) {
        char q[KILN_QUOTE_SIZE];
        if (!cJSON_IsString(e) || e->valuestring == NULL)
            return bad(err, origin, "start", "element %d is not a string", i);
        const char *s = e->valuestring;
        if (i == 0) {
            /* The program: a path inside the image, run as $KILN_ROOT<path>. */
            const char *why = s[0] != '/'    ? "it must be an absolute path inside the image, "
                                               "e.g. \"/usr/bin/hello-world\""
                              : s[1] == '\0' ? "it names the image's root, not a program"
                              : s[1] == '/'  ? "it has an empty component (\"//\")"
                                             : relative_path_problem(s + 1, true);
            if (why != NULL)
                return bad(err, origin, "start", "element 0 (the program) %s is refused: %s",
                           kiln_name_quote(s, q, sizeof q), why);
        } else {
            /* Arguments go to the program as they are (argv, never a shell), so any
             * printable text will do; what a terminal or a log would misrender will not. */
            if (strlen(s) > KILN_MANIFEST_ARG_MAX)
                return bad(err, origin, "start", "element %d is %zu bytes long, the limit is %d", i,
                           strlen(s), KILN_MANIFEST_ARG_MAX);
            if (!kiln_text_printable(s))
                return bad(err, origin, "start",
                           "element %d %s has control or invisible characters", i,
                           kiln_name_quote(s, q, sizeof q));
        }
        m->start[i] = xstrdup(s);
    }
    m->n_start = (size_t)n;
    return 0;
}

static int parse_health(const cJSON *obj, const char *origin, struct kiln_manifest *m,
                        struct kiln_err *err)
{
    const char *example = "{\"path\": \"/health_check\"}";
    if (!cJSON_IsObject(obj))
        return bad(err, origin, "health_check", "it must be an object, e.g. %s", example);
    if (check_duplicates(obj, origin, "\"health_check\"", err) < 0)
        return -1;
    for (const cJSON *f = obj->child; f != NULL; f = f->next) {
        if (strcmp(f->string, "path") != 0) {
            char q[KILN_QUOTE_SIZE];
            return bad(err, origin, "health_check", "unknown field %s; the only field is path",
                       kiln_name_quote(f->string, q, sizeof q));
        }
    }
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(obj, "path");
    if (p == NULL)
        return bad(err, origin, "health_check.path", "it is missing, e.g. %s", example);
    const char *s = string_field(p, origin, "health_check.path", "\"/health_check\"", err);
    if (s == NULL)
        return -1;
    const char *why = health_path_problem(s);
    if (why != NULL) {
        char q[KILN_QUOTE_SIZE];
        return bad(err, origin, "health_check.path", "%s is refused: %s",
                   kiln_name_quote(s, q, sizeof q), why);
    }
    m->health_path = xstrdup(s);
    return 0;
}

/* The relative path in field `name` into *out. */
static int parse_relative(const cJSON *root, const char *origin, const char *name,
                          const char *example, bool dot_ok, const char *suffix, char **out,
                          struct kiln_err *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);
    if (item == NULL)
        return bad(err, origin, name, "it is missing, e.g. %s", example);
    const char *s = string_field(item, origin, name, example, err);
    if (s == NULL)
        return -1;
    const char *why = dot_ok && strcmp(s, ".") == 0 ? NULL : relative_path_problem(s, false);
    size_t n = strlen(s), sl = suffix ? strlen(suffix) : 0;
    if (why == NULL && suffix != NULL && (n <= sl || strcmp(s + n - sl, suffix) != 0))
        why = "a spec file's name ends in \".spec\"";
    if (why != NULL) {
        char q[KILN_QUOTE_SIZE];
        return bad(err, origin, name, "%s is refused: %s", kiln_name_quote(s, q, sizeof q), why);
    }
    *out = xstrdup(s);
    return 0;
}

/* "line 3, column 14" of position pos in text. */
static void position(const char *text, size_t pos, char *buf, size_t size)
{
    int line = 1, col = 1;
    for (size_t i = 0; i < pos && text[i] != '\0'; i++) {
        if (text[i] == '\n')
            line++, col = 1;
        else
            col++;
    }
    snprintf(buf, size, "line %d, column %d", line, col);
}

static int parse_root(const cJSON *root, const char *origin, struct kiln_manifest *m,
                      struct kiln_err *err)
{
    if (!cJSON_IsObject(root))
        return kiln_err_set(err, KILN_E_INVALID,
                            "%s: the manifest must be a JSON object with the fields %s", origin,
                            KNOWN_FIELDS);
    if (check_duplicates(root, origin, "the manifest", err) < 0)
        return -1;
    for (const cJSON *f = root->child; f != NULL; f = f->next) {
        bool known = false;
        for (size_t i = 0; i < sizeof known_fields / sizeof known_fields[0]; i++)
            known |= strcmp(f->string, known_fields[i]) == 0;
        if (!known) {
            char q[KILN_QUOTE_SIZE];
            return kiln_err_set(err, KILN_E_INVALID, "%s: unknown field %s; the fields are %s",
                                origin, kiln_name_quote(f->string, q, sizeof q), KNOWN_FIELDS);
        }
    }

    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (name == NULL)
        return bad(err, origin, "name", "it is missing: the app's name, e.g. \"hello-world\"");
    const char *s = string_field(name, origin, "name", "\"hello-world\"", err);
    if (s == NULL)
        return -1;
    if (kiln_name_validate_app(s, err) < 0) {
        kiln_err_prefix(err, "%s: field \"name\"", origin);
        return -1;
    }
    snprintf(m->name, sizeof m->name, "%s", s);

    if (parse_relative(root, origin, "spec", "\"hello-world.spec\"", false, ".spec", &m->spec,
                       err) < 0 ||
        parse_relative(root, origin, "source", "\"src\"", true, NULL, &m->source, err) < 0)
        return -1;

    const cJSON *start = cJSON_GetObjectItemCaseSensitive(root, "start");
    if (start == NULL)
        return bad(err, origin, "start",
                   "it is missing: the command that starts one instance, e.g. "
                   "[\"/usr/bin/hello-world\"]");
    if (parse_start(start, origin, m, err) < 0)
        return -1;

    const cJSON *health = cJSON_GetObjectItemCaseSensitive(root, "health_check");
    if (health == NULL)
        return bad(err, origin, "health_check",
                   "it is missing: the URL path probed for health, e.g. "
                   "{\"path\": \"/health_check\"}");
    if (parse_health(health, origin, m, err) < 0)
        return -1;

    const cJSON *port_env = cJSON_GetObjectItemCaseSensitive(root, "port_env");
    if (port_env == NULL) {
        m->port_env = xstrdup("PORT");
    } else {
        s = string_field(port_env, origin, "port_env", "\"PORT\"", err);
        if (s == NULL)
            return -1;
        const char *why = port_env_problem(s);
        if (why != NULL) {
            char q[KILN_QUOTE_SIZE];
            return bad(err, origin, "port_env", "%s is refused: %s",
                       kiln_name_quote(s, q, sizeof q), why);
        }
        m->port_env = xstrdup(s);
    }
    return 0;
}

int kiln_manifest_parse(const char *text, size_t len, const char *origin, struct kiln_manifest *m,
                        struct kiln_err *err)
{
    memset(m, 0, sizeof *m);
    if (origin == NULL)
        origin = "kiln.json";
    if (len > KILN_MANIFEST_MAX_BYTES)
        return kiln_err_set(err, KILN_E_INVALID,
                            "%s: the manifest is %zu bytes, more than the %d a kiln.json may have",
                            origin, len, KILN_MANIFEST_MAX_BYTES);
    if (memchr(text, '\0', len) != NULL)
        return kiln_err_set(err, KILN_E_INVALID, "%s: the manifest contains a NUL byte", origin);
    /* cJSON passes any bytes through inside strings; a name or path must be text. */
    if (!utf8_valid((const unsigned char *)text, len))
        return kiln_err_set(err, KILN_E_INVALID, "%s: the manifest is not valid UTF-8", origin);

    /* cJSON wants the NUL inside the length when it checks for trailing garbage. */
    char *copy = xstrndup(text, len);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(copy, len + 1, &end, true);
    int rc;
    if (root == NULL) {
        if (end == NULL) /* cJSON's only failure without a position is out of memory */
            kiln_oom(len);
        char where[64];
        position(copy, (size_t)(end - copy), where, sizeof where);
        rc = kiln_err_set(err, KILN_E_INVALID, "%s: not valid JSON (at %s)", origin, where);
    } else {
        rc = parse_root(root, origin, m, err);
        cJSON_Delete(root);
    }
    free(copy);
    if (rc < 0)
        kiln_manifest_free(m);
    return rc;
}

int kiln_manifest_load(const char *path, struct kiln_manifest *m, struct kiln_err *err)
{
    memset(m, 0, sizeof *m);
    char *text = NULL;
    size_t len = 0;
    if (kiln_read_file(path, &text, &len, KILN_MANIFEST_MAX_BYTES, err) < 0) {
        if (err != NULL && err->code == KILN_E_NOTFOUND)
            return kiln_err_set(err, KILN_E_NOTFOUND,
                                "%s does not exist: an app's directory needs a kiln.json "
                                "manifest (see examples/hello-world/kiln.json)",
                                path);
        return -1;
    }
    int rc = kiln_manifest_parse(text, len, path, m, err);
    free(text);
    return rc;
}

void kiln_manifest_free(struct kiln_manifest *m)
{
    if (m == NULL)
        return;
    free(m->spec);
    free(m->source);
    for (size_t i = 0; m->start != NULL && m->start[i] != NULL; i++)
        free(m->start[i]);
    free(m->start);
    free(m->health_path);
    free(m->port_env);
    memset(m, 0, sizeof *m);
}
