/* kiln: the configuration file (see include/kiln/config.h and doc/kiln.conf.5).
 *
 * One table, `keys`, says every key's section, type, range and default; parsing,
 * the defaults, the dump and the "did you mean" hints all read it, so they cannot
 * drift apart. Keep it in the order of kiln.conf(5).
 */
#include "kiln/url.h"
#include "kiln/atomic_file.h"
#include "kiln/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/bases.h"
#include "kiln/names.h"
#include "kiln/paths.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

/* A config file is a few kB; anything this big is the wrong file. */
#define CONFIG_FILE_MAX (1024 * 1024)

#define MS_PER_S   INT64_C(1000)
#define MS_PER_MIN (60 * MS_PER_S)
#define MS_PER_H   (60 * MS_PER_MIN)
#define MS_PER_DAY (24 * MS_PER_H)

enum key_type {
    T_BOOL,
    T_INT,
    T_DURATION,
    T_STRING,
    T_ENUM,
    T_LIST, /* protected_envs */
};

/* Checks a string value; on failure writes why into a buffer of WHY_SIZE. */
#define WHY_SIZE KILN_ERR_MSG_MAX
typedef bool (*string_check)(const char *value, char *why);

struct key_spec {
    const char *section;
    const char *name;
    enum key_type type;
    size_t offset;
    int64_t min, max;           /* T_INT, T_DURATION */
    int64_t def;                /* T_BOOL, T_INT, T_DURATION, T_ENUM */
    const char *def_str;        /* T_STRING: the default itself, never freed */
    const char *const *choices; /* T_ENUM, NULL-terminated, in enum order */
    string_check check;         /* T_STRING */
};

static const char *const sections[] = {"core", "console", "keys", "local", "aws"};
#define N_SECTIONS (sizeof sections / sizeof sections[0])

static const char *const provider_names[] = {"local", "aws", NULL};
static const char *const bake_method_names[] = {"aminate", "builder", NULL};
static const char *const health_probe_names[] = {"elb", "private", NULL};
static const char *const default_protected_envs[] = {"prod"};

_Static_assert(sizeof(enum kiln_provider_kind) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum kiln_bake_method) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum kiln_health_probe) == sizeof(int), "enums are stored as int");

static bool check_text(const char *v, char *why);
static bool check_nonempty(const char *v, char *why);
static bool check_word(const char *v, char *why);
static bool check_region(const char *v, char *why);
static bool check_url(const char *v, char *why);
static bool check_repo(const char *v, char *why);
static bool check_abs_path(const char *v, char *why);
static bool check_ami(const char *v, char *why);
static bool check_instance_type(const char *v, char *why);
static bool check_arn(const char *v, char *why);
static bool check_base_name(const char *v, char *why);
static bool check_package_list(const char *v, char *why);

#define AT(member) offsetof(struct kiln_config, member)
#define BOOL(sec, key, member, d)                                                                  \
    {                                                                                              \
        sec, key, T_BOOL, AT(member), 0, 1, d, NULL, NULL, NULL                                    \
    }
#define INT(sec, key, member, lo, hi, d)                                                           \
    {                                                                                              \
        sec, key, T_INT, AT(member), lo, hi, d, NULL, NULL, NULL                                   \
    }
#define DURATION(sec, key, member, lo, hi, d)                                                      \
    {                                                                                              \
        sec, key, T_DURATION, AT(member), lo, hi, d, NULL, NULL, NULL                              \
    }
#define STRING(sec, key, member, d, chk)                                                           \
    {                                                                                              \
        sec, key, T_STRING, AT(member), 0, 0, 0, d, NULL, chk                                      \
    }
#define ENUM(sec, key, member, names, d)                                                           \
    {                                                                                              \
        sec, key, T_ENUM, AT(member), 0, 0, d, NULL, names, NULL                                   \
    }

static const struct key_spec keys[] = {
    ENUM("core", "provider", provider, provider_names, KILN_PROVIDER_LOCAL),
    INT("core", "workers", workers, 1, 64, 4),
    INT("core", "log_lines", log_lines, 100, 1000000, 5000),
    INT("core", "event_lines", event_lines, 100, 1000000, 20000),
    BOOL("core", "read_only", read_only, false),
    INT("core", "max_remaining_groups", max_remaining_groups, 0, 20, 2),
    {"core", "protected_envs", T_LIST, AT(protected_envs), 0, 0, 0, NULL, NULL, NULL},
    DURATION("core", "health_timeout", health_timeout_ms, MS_PER_S, MS_PER_DAY, 5 * MS_PER_MIN),

    STRING("console", "theme", console.theme, "default", check_word),
    BOOL("console", "mouse", console.mouse, false),
    DURATION("console", "whole_refresh_interval", console.whole_refresh_interval_ms, 500, MS_PER_H,
             30 * MS_PER_S),
    DURATION("console", "refresh_interval", console.refresh_interval_ms, 500, MS_PER_H,
             2 * MS_PER_S),
    BOOL("console", "ascii", console.ascii, false),

    INT("local", "lb_port", local.lb_port, 1, 65535, 8080),
    DURATION("local", "health_interval", local.health_interval_ms, 100, MS_PER_H, MS_PER_S),
    DURATION("local", "health_timeout", local.health_timeout_ms, 100, MS_PER_H, MS_PER_S),
    INT("local", "healthy_threshold", local.healthy_threshold, 1, 10, 2),
    INT("local", "unhealthy_threshold", local.unhealthy_threshold, 1, 10, 2),
    DURATION("local", "health_check_grace", local.health_check_grace_ms, 0, MS_PER_H,
             30 * MS_PER_S),
    DURATION("local", "chaos_mean", local.chaos_mean_ms, MS_PER_S, 7 * MS_PER_DAY, 30 * MS_PER_S),
    DURATION("local", "chaos_min", local.chaos_min_ms, 0, 7 * MS_PER_DAY, 10 * MS_PER_S),
    STRING("local", "base", local.base, KILN_BASE_DEFAULT_NAME, check_base_name),
    STRING("local", "base_packages", local.base_packages, "", check_package_list),

    STRING("aws", "region", aws.region, "", check_region),
    STRING("aws", "profile", aws.profile, "", check_word),
    STRING("aws", "endpoint", aws.endpoint, "", check_url),
    STRING("aws", "hosted_zone", aws.hosted_zone, "", check_word),
    ENUM("aws", "bake_method", aws.bake_method, bake_method_names, KILN_BAKE_AMINATE),
    ENUM("aws", "health_probe", aws.health_probe, health_probe_names, KILN_PROBE_ELB),
    STRING("aws", "aminate_command", aws.aminate_command, "aminate", check_nonempty),
    STRING("aws", "base_ami", aws.base_ami, "", check_ami),
    STRING("aws", "instance_type", aws.instance_type, "t3.micro", check_instance_type),
    STRING("aws", "package_repo", aws.package_repo, "", check_repo),
    STRING("aws", "certificate_arn", aws.certificate_arn, "", check_arn),
    BOOL("aws", "allow_http_endpoints", aws.allow_http_endpoints, false),
    STRING("aws", "ca_bundle", aws.ca_bundle, "", check_abs_path),
};
#define N_KEYS (sizeof keys / sizeof keys[0])

/* Environment variables that override a key. */
static const struct {
    const char *var;
    const char *section, *name;
} env_overrides[] = {
    {"KILN_LB_PORT", "local", "lb_port"},
};

/* Typed access to a key's member of a config. */
static void *member(struct kiln_config *cfg, const struct key_spec *k)
{
    return (char *)cfg + k->offset;
}

static const void *cmember(const struct kiln_config *cfg, const struct key_spec *k)
{
    return (const char *)cfg + k->offset;
}

static const struct key_spec *find_key(const char *section, const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
            return &keys[i];
    }
    return NULL;
}

/* ---- string checks ---- */

static bool check_text(const char *v, char *why)
{
    if (kiln_text_printable(v))
        return true;
    snprintf(why, WHY_SIZE,
             "it contains control characters or bytes that are not UTF-8; write plain text");
    return false;
}

static bool check_nonempty(const char *v, char *why)
{
    if (!check_text(v, why))
        return false;
    if (v[0] != '\0')
        return true;
    snprintf(why, WHY_SIZE, "it must not be empty; leave the line out for the default");
    return false;
}

/* One word: no spaces. */
static bool check_word(const char *v, char *why)
{
    if (!check_text(v, why))
        return false;
    if (strpbrk(v, " \t") == NULL)
        return true;
    snprintf(why, WHY_SIZE, "it must be one word, without spaces");
    return false;
}

static bool check_region(const char *v, char *why)
{
    if (strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(v))
        return true;
    snprintf(why, WHY_SIZE,
             "expected an AWS region name such as us-east-1 (lower-case letters, digits and "
             "dashes), or nothing to use AWS_REGION or the profile's region");
    return false;
}

static bool is_http_url(const char *v)
{
    const char *rest = NULL;
    if (strncmp(v, "https://", 8) == 0)
        rest = v + 8;
    else if (strncmp(v, "http://", 7) == 0)
        rest = v + 7;
    return rest != NULL && rest[0] != '\0' && rest[0] != '/' && strpbrk(v, " \t") == NULL &&
           kiln_text_printable(v);
}

static bool check_url(const char *v, char *why)
{
    if (v[0] == '\0' || is_http_url(v))
        return true;
    snprintf(why, WHY_SIZE, "expected an https:// or http:// URL, such as http://localhost:4566");
    return false;
}

static bool check_abs_path(const char *v, char *why)
{
    if (!check_text(v, why))
        return false;
    if (v[0] == '\0' || v[0] == '/')
        return true;
    snprintf(why, WHY_SIZE, "expected an absolute path, starting with /");
    return false;
}

static bool check_repo(const char *v, char *why)
{
    if (v[0] == '\0' || is_http_url(v) || (v[0] == '/' && kiln_text_printable(v)))
        return true;
    snprintf(why, WHY_SIZE,
             "expected an http:// or https:// URL or an absolute directory, such as "
             "https://rpm.example.com/kiln or /srv/rpms");
    return false;
}

static bool check_ami(const char *v, char *why)
{
    struct kiln_err e;
    if (v[0] == '\0' || (strncmp(v, "ami-", 4) == 0 && kiln_image_id_validate(v, &e) == 0))
        return true;
    snprintf(why, WHY_SIZE, "expected an AMI id: \"ami-\" and 8 to 17 lower-case hex digits");
    return false;
}

static bool check_instance_type(const char *v, char *why)
{
    const char *dot = strchr(v, '.');
    const char *family = "abcdefghijklmnopqrstuvwxyz0123456789-";
    if (dot != NULL && dot != v && dot[1] != '\0' && strspn(v, family) == (size_t)(dot - v) &&
        strspn(dot + 1, "abcdefghijklmnopqrstuvwxyz0123456789") == strlen(dot + 1))
        return true;
    snprintf(why, WHY_SIZE, "expected an EC2 instance type such as t3.micro or m5.large");
    return false;
}

static bool check_arn(const char *v, char *why)
{
    size_t n = strlen(v);
    if (n == 0 || (strncmp(v, "arn:", 4) == 0 && n <= 2048 && kiln_text_printable(v) &&
                   strpbrk(v, " \t") == NULL))
        return true;
    snprintf(why, WHY_SIZE,
             "expected the ARN of a certificate, such as "
             "arn:aws:acm:us-east-1:123456789012:certificate/...");
    return false;
}

static bool check_base_name(const char *v, char *why)
{
    struct kiln_err e;
    if (kiln_base_name_validate(v, &e) == 0)
        return true;
    snprintf(why, WHY_SIZE, "%s", e.msg);
    return false;
}

/* "python3-flask, gunicorn": Debian package names separated by commas. */
static bool check_package_list(const char *v, char *why)
{
    struct kiln_err e;
    char **list = NULL;
    size_t n = 0;
    int rc = kiln_base_packages_parse(v, &list, &n, &e);
    kiln_base_strv_free(list, n);
    if (rc == 0)
        return true;
    snprintf(why, WHY_SIZE, "%s", e.msg);
    return false;
}

/* ---- values ---- */

static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool parse_int(const char *v, int64_t *out)
{
    const char *p = v[0] == '-' || v[0] == '+' ? v + 1 : v;
    if (*p < '0' || *p > '9')
        return false;
    errno = 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return false;
    *out = n;
    return true;
}

/* ---- defaults and freeing ---- */

static bool string_owned(const struct kiln_config *cfg, const struct key_spec *k)
{
    const char *s = *(const char *const *)cmember(cfg, k);
    return s != NULL && s != k->def_str;
}

static void free_key(struct kiln_config *cfg, const struct key_spec *k)
{
    if (k->type == T_STRING && string_owned(cfg, k))
        free(*(char **)member(cfg, k));
    else if (k->type == T_LIST && cfg->protected_envs != default_protected_envs)
        free((void *)cfg->protected_envs);
}

static void free_bindings(const struct kiln_keybinding *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)v[i].action);
        free((char *)v[i].key);
    }
    free((void *)v);
}

static void set_default(struct kiln_config *cfg, const struct key_spec *k)
{
    void *m = member(cfg, k);
    int iv = (int)k->def;
    switch (k->type) {
    case T_BOOL:
        *(bool *)m = k->def != 0;
        break;
    case T_INT:
    case T_ENUM:
        memcpy(m, &iv, sizeof iv);
        break;
    case T_DURATION:
        *(int64_t *)m = k->def;
        break;
    case T_STRING:
        *(const char **)m = k->def_str;
        break;
    case T_LIST:
        cfg->protected_envs = default_protected_envs;
        cfg->n_protected_envs = sizeof default_protected_envs / sizeof default_protected_envs[0];
        break;
    }
}

void kiln_config_defaults(struct kiln_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_KEYS; i++)
        set_default(cfg, &keys[i]);
}

void kiln_config_free(struct kiln_config *cfg)
{
    for (size_t i = 0; i < N_KEYS; i++)
        free_key(cfg, &keys[i]);
    free_bindings(cfg->keys, cfg->n_keys);
    free((char *)cfg->source);
    kiln_config_defaults(cfg);
}

/* ---- parsing ---- */

struct parse {
    const char *name; /* the file as shown in messages */
    const char *text;
    size_t len, pos;
    int line; /* of the line the reader last gave inih */

    struct kiln_config cfg; /* cfg being changed; shares unchanged strings with the caller's */
    int set_line[N_KEYS];   /* where this file set each key; 0 = not set (value not ours) */
    struct kiln_keybinding *bindings;
    size_t n_bindings, cap_bindings;

    int err_line; /* first error found by the reader or handler, 0 = none */
    struct kiln_err err;
};

static void fail_at(struct parse *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_at(struct parse *ps, int line, const char *fmt, ...)
{
    if (ps->err_line != 0 && ps->err_line <= line)
        return;
    char msg[KILN_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ps->err_line = line;
    kiln_err_set(&ps->err, KILN_E_INVALID, "%s:%d: %s", ps->name, line, msg);
}

/* A value as shown in a message: as it is when it is short plain text, quoted
 * and escaped otherwise. */
static const char *shown(const char *raw, char *buf, size_t size)
{
    /* A URL's user:password@ never goes into a message. */
    char red[1024];
    const char *v = kiln_url_redacted(raw, red, sizeof red);
    if (kiln_text_printable(v) && strlen(v) <= 60) {
        snprintf(buf, size, "%s", v);
        return buf;
    }
    return kiln_name_quote(v, buf, size);
}

/* Edit distance, for "did you mean"; names are short, so O(n*m) is nothing. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return SIZE_MAX;
    size_t row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost =
                tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *closest(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t best_d = 3; /* at most two edits away */
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(word, cands[i]);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    return best;
}

static bool known_section(const char *s)
{
    for (size_t i = 0; i < N_SECTIONS; i++) {
        if (strcmp(sections[i], s) == 0)
            return true;
    }
    return false;
}

#define SECTION_LIST "[core], [console], [keys], [local] and [aws]"

/* The reader sees section headers before inih does, and inih does not tell the
 * handler about sections without keys: check them here. */
static void check_section_line(struct parse *ps, const char *line, size_t n)
{
    char name[KILN_QUOTE_SIZE], q[KILN_QUOTE_SIZE];
    const char *close = memchr(line, ']', n);
    if (close == NULL)
        return; /* inih reports the syntax error */
    size_t len = (size_t)(close - line - 1);
    if (len >= sizeof name)
        len = sizeof name - 1;
    memcpy(name, line + 1, len);
    name[len] = '\0';

    const char *rest = close + 1, *end = line + n;
    while (rest < end && isspace((unsigned char)*rest))
        rest++;
    if (rest < end && *rest != ';' && *rest != '#') {
        fail_at(ps, ps->line, "unexpected text after [%s]; put keys on lines of their own",
                shown(name, q, sizeof q));
        return;
    }
    if (known_section(name))
        return;
    const char *hint = closest(name, sections, N_SECTIONS);
    char sug[64] = "";
    if (hint != NULL)
        snprintf(sug, sizeof sug, "did you mean [%s]? ", hint);
    fail_at(ps, ps->line, "unknown section [%s]; %sthe sections are " SECTION_LIST,
            shown(name, q, sizeof q), sug);
}

/* inih's reader callback (fgets-like), serving one physical line per call so that
 * inih's line numbers and ours agree. Leading whitespace is dropped: inih would
 * otherwise take an indented line as the continuation of the previous value,
 * which surprises people who indent keys. Lines inih cannot take whole (too long,
 * or containing NUL) are reported and replaced by empty ones. */
static char *read_line(char *str, int num, void *stream)
{
    struct parse *ps = stream;
    if (ps->pos >= ps->len || num < 2)
        return NULL;

    const char *start = ps->text + ps->pos;
    const char *nl = memchr(start, '\n', ps->len - ps->pos);
    size_t n = nl != NULL ? (size_t)(nl - start) : ps->len - ps->pos;
    ps->pos += n + (nl != NULL);
    ps->line++;

    while (n > 0 && isspace((unsigned char)*start)) {
        start++;
        n--;
    }
    if (memchr(start, '\0', n) != NULL) {
        fail_at(ps, ps->line, "the line contains a NUL byte; is this a text file?");
        n = 0;
    } else if (n + 2 > (size_t)num) {
        fail_at(ps, ps->line, "the line is %zu characters long; a line can have at most %d", n,
                num - 2);
        n = 0;
    } else if (n > 0 && start[0] == '[') {
        check_section_line(ps, start, n);
    }
    memcpy(str, start, n);
    str[n] = '\n';
    str[n + 1] = '\0';
    return str;
}

static void add_binding(struct parse *ps, const char *action, const char *key)
{
    char q1[KILN_QUOTE_SIZE], q2[KILN_QUOTE_SIZE];
    if (!kiln_text_printable(action) || !kiln_text_printable(key) || key[0] == '\0') {
        fail_at(ps, ps->line,
                "[keys] %s = %s: expected action = key, e.g. quit = q, in plain text; see "
                "kiln.conf(5)",
                shown(action, q1, sizeof q1), shown(key, q2, sizeof q2));
        return;
    }
    if (ps->n_bindings == ps->cap_bindings) {
        ps->cap_bindings = ps->cap_bindings ? 2 * ps->cap_bindings : 16;
        ps->bindings = xrealloc(ps->bindings, ps->cap_bindings * sizeof *ps->bindings);
    }
    ps->bindings[ps->n_bindings++] =
        (struct kiln_keybinding){xstrdup(action), xstrdup(key), ps->line};
}

/* Splits "prod, staging qa" into one malloc'd block: the pointers, then the names. */
static bool parse_env_list(const char *v, const char *const **out, size_t *n_out, char *why)
{
    size_t n = 0, bytes = 0;
    for (const char *p = v + strspn(v, ", \t"); *p != '\0'; p += strspn(p, ", \t")) {
        size_t len = strcspn(p, ", \t");
        char env[KILN_QUOTE_SIZE];
        struct kiln_err e;
        /* A cut copy of a very long word is still too long for the validator. */
        snprintf(env, sizeof env, "%.*s", (int)(len < sizeof env - 1 ? len : sizeof env - 1), p);
        if (kiln_name_validate_env(env, &e) < 0) {
            snprintf(why, WHY_SIZE, "%.1000s", e.msg);
            return false;
        }
        n++;
        bytes += len + 1;
        p += len;
    }
    char **list = xmalloc(n * sizeof *list + bytes);
    char *names = (char *)(list + n);
    size_t i = 0;
    for (const char *p = v + strspn(v, ", \t"); *p != '\0'; p += strspn(p, ", \t")) {
        size_t len = strcspn(p, ", \t");
        memcpy(names, p, len);
        names[len] = '\0';
        list[i++] = names;
        names += len + 1;
        p += len;
    }
    *out = (const char *const *)list;
    *n_out = n;
    return true;
}

static void describe_range(const struct key_spec *k, char *buf, size_t size)
{
    char lo[32], hi[32];
    switch (k->type) {
    case T_INT:
        snprintf(buf, size, "expected a whole number from %lld to %lld", (long long)k->min,
                 (long long)k->max);
        break;
    case T_DURATION:
        kiln_format_duration_exact(k->min, lo);
        kiln_format_duration_exact(k->max, hi);
        snprintf(buf, size, "expected a duration from %s to %s, such as 500ms, 30s, 2m or 1h", lo,
                 hi);
        break;
    case T_BOOL:
        snprintf(buf, size, "expected true or false (or yes/no, on/off, 1/0)");
        break;
    case T_ENUM: {
        size_t len = (size_t)snprintf(buf, size, "expected ");
        for (size_t i = 0; k->choices[i] != NULL && len < size; i++) {
            int w = snprintf(buf + len, size - len, "%s%s", i == 0 ? "" : " or ", k->choices[i]);
            len += w > 0 ? (size_t)w : 0;
        }
        break;
    }
    default:
        buf[0] = '\0';
    }
}

int kiln_config_parse_duration(const char *section, const char *name, const char *value,
                               int64_t *ms, struct kiln_err *err)
{
    const struct key_spec *k = find_key(section, name);
    if (k == NULL || k->type != T_DURATION)
        return kiln_err_set(err, KILN_E_INVALID, "[%s] %s is not a duration of the config", section,
                            name);
    int64_t n;
    if (kiln_parse_duration(value, &n, err) < 0)
        return -1;
    if (n < k->min || n > k->max) {
        char range[256];
        describe_range(k, range, sizeof range);
        return kiln_err_set(err, KILN_E_INVALID, "%.400s, not %.100s (as [%s] %s)", range, value,
                            section, name);
    }
    *ms = n;
    return 0;
}

/* Parses value for k into the config under construction; false with why on error. */
static bool set_value(struct parse *ps, const struct key_spec *k, const char *v, char *why)
{
    void *m = member(&ps->cfg, k);
    int64_t n;
    bool b;

    switch (k->type) {
    case T_BOOL:
        if (!parse_bool(v, &b)) {
            describe_range(k, why, WHY_SIZE);
            return false;
        }
        *(bool *)m = b;
        return true;
    case T_INT:
        if (!parse_int(v, &n) || n < k->min || n > k->max) {
            describe_range(k, why, WHY_SIZE);
            return false;
        }
        int iv = (int)n;
        memcpy(m, &iv, sizeof iv);
        return true;
    case T_DURATION: {
        struct kiln_err derr = {0};
        if (kiln_parse_duration(v, &n, &derr) < 0) {
            /* The parser quotes the value as it is: no raw control or broken bytes in a
             * message that reaches a terminal. */
            kiln_text_sanitize(derr.msg);
            char range[256];
            describe_range(k, range, sizeof range);
            snprintf(why, WHY_SIZE, "%.300s; %.500s", derr.msg, range);
            return false;
        }
        if (n < k->min || n > k->max) {
            describe_range(k, why, WHY_SIZE);
            return false;
        }
        *(int64_t *)m = n;
        return true;
    }
    case T_ENUM:
        for (int i = 0; k->choices[i] != NULL; i++) {
            if (strcasecmp(v, k->choices[i]) == 0) {
                memcpy(m, &i, sizeof i);
                return true;
            }
        }
        describe_range(k, why, WHY_SIZE);
        return false;
    case T_STRING:
        if (!check_text(v, why) || (k->check != NULL && !k->check(v, why)))
            return false;
        *(char **)m = xstrdup(v);
        return true;
    case T_LIST:
        return parse_env_list(v, &ps->cfg.protected_envs, &ps->cfg.n_protected_envs, why);
    }
    return false;
}

static int on_key(void *user, const char *section, const char *name, const char *raw)
{
    struct parse *ps = user;
    char qn[KILN_QUOTE_SIZE], qv[KILN_QUOTE_SIZE], why[WHY_SIZE];

    if (ps->err_line != 0)
        return 1; /* only the first error is reported */

    /* "value" in double quotes keeps spaces and a leading ; that would otherwise
     * be stripped or taken for a comment. */
    char *value = xstrdup(raw);
    size_t vlen = strlen(value);
    if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
        memmove(value, value + 1, vlen - 2);
        value[vlen - 2] = '\0';
    }

    const struct key_spec *k = NULL;
    if (section[0] == '\0') {
        const char *home = NULL;
        for (size_t i = 0; i < N_KEYS && home == NULL; i++) {
            if (strcmp(keys[i].name, name) == 0)
                home = keys[i].section;
        }
        char where[80] = "";
        if (home != NULL)
            snprintf(where, sizeof where, " (%s belongs in [%s])", name, home);
        fail_at(ps, ps->line, "%s = %s: a key must come after a [section] header%s",
                shown(name, qn, sizeof qn), shown(value, qv, sizeof qv), where);
    } else if (strcmp(section, "keys") == 0) {
        add_binding(ps, name, value);
    } else if ((k = find_key(section, name)) == NULL) {
        const char *cands[N_KEYS];
        size_t n = 0;
        const char *elsewhere = NULL;
        for (size_t i = 0; i < N_KEYS; i++) {
            if (strcmp(keys[i].section, section) == 0)
                cands[n++] = keys[i].name;
            else if (strcmp(keys[i].name, name) == 0)
                elsewhere = keys[i].section;
        }
        const char *hint = closest(name, cands, n);
        char sug[96] = "";
        if (elsewhere != NULL)
            snprintf(sug, sizeof sug, "; %s belongs in [%s]", name, elsewhere);
        else if (hint != NULL)
            snprintf(sug, sizeof sug, "; did you mean %s?", hint);
        /* The section too goes through shown(): inih skips a second byte order mark
         * that read_line does not, so a section it never checked can get here. */
        char qs[KILN_QUOTE_SIZE];
        fail_at(ps, ps->line, "[%s] %s = %s: unknown key%s (kiln.conf(5) lists the keys)",
                shown(section, qs, sizeof qs), shown(name, qn, sizeof qn),
                shown(value, qv, sizeof qv), sug);
    } else {
        size_t idx = (size_t)(k - keys);
        if (ps->set_line[idx] != 0) {
            fail_at(ps, ps->line, "[%s] %s is already set on line %d; keep one of them", section,
                    name, ps->set_line[idx]);
        } else if (!set_value(ps, k, value, why)) {
            fail_at(ps, ps->line, "[%s] %s = %s: %s", section, name, shown(value, qv, sizeof qv),
                    why);
        } else {
            ps->set_line[idx] = ps->line;
        }
    }
    free(value);
    return ps->err_line == 0;
}

/* The text of line `line` (1-based) of ps->text, for syntax error messages. */
static const char *line_text(const struct parse *ps, int line, char *buf, size_t size)
{
    const char *p = ps->text, *end = ps->text + ps->len;
    for (int i = 1; i < line && p < end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl != NULL ? nl + 1 : end;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = (nl != NULL ? nl : end) - p;
    while (n > 0 && isspace((unsigned char)*p)) {
        p++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)p[n - 1]))
        n--;
    snprintf(buf, size, "%.*s", (int)(n < 200 ? n : 200), p);
    return buf;
}

/* Frees what the failed parse allocated; the caller's config is untouched. */
static void discard(struct parse *ps)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (ps->set_line[i] != 0)
            free_key(&ps->cfg, &keys[i]);
    }
    free_bindings(ps->bindings, ps->n_bindings);
}

/* Moves the parse's results into cfg, freeing the values they replace. */
static void commit(struct parse *ps, struct kiln_config *cfg, const char *source)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (ps->set_line[i] != 0)
            free_key(cfg, &keys[i]);
    }
    if (ps->n_bindings > 0) {
        struct kiln_keybinding *all = xmalloc((cfg->n_keys + ps->n_bindings) * sizeof *all);
        if (cfg->n_keys > 0)
            memcpy(all, cfg->keys, cfg->n_keys * sizeof *all);
        memcpy(all + cfg->n_keys, ps->bindings, ps->n_bindings * sizeof *all);
        free((void *)cfg->keys);
        ps->cfg.keys = all;
        ps->cfg.n_keys = cfg->n_keys + ps->n_bindings;
    }
    free(ps->bindings);
    free((char *)cfg->source);
    ps->cfg.source = xstrdup(source);
    *cfg = ps->cfg;
}

/* Where this file set a key; 1 when it did not, so that a message still has a
 * line (and err_line stays non-zero). */
static int line_of(const struct parse *ps, const char *section, const char *name)
{
    int line = ps->set_line[find_key(section, name) - keys];
    return line > 0 ? line : 1;
}

/* Relations between keys, checked once the whole file is read. */
static void check_relations(struct parse *ps)
{
    const struct kiln_config *c = &ps->cfg;
    char a[32], b[32];
    int line_ht = line_of(ps, "local", "health_timeout");
    int line_hi = line_of(ps, "local", "health_interval");
    int line_cm = line_of(ps, "local", "chaos_min");
    int line_mean = line_of(ps, "local", "chaos_mean");

    if (c->local.health_timeout_ms > c->local.health_interval_ms) {
        kiln_format_duration_exact(c->local.health_timeout_ms, a);
        kiln_format_duration_exact(c->local.health_interval_ms, b);
        fail_at(ps, line_ht > line_hi ? line_ht : line_hi,
                "[local] health_timeout (%s) is longer than health_interval (%s): a check must "
                "end before the next one starts; shorten the timeout or lengthen the interval",
                a, b);
    }
    if (c->local.chaos_min_ms > c->local.chaos_mean_ms) {
        kiln_format_duration_exact(c->local.chaos_min_ms, a);
        kiln_format_duration_exact(c->local.chaos_mean_ms, b);
        fail_at(ps, line_cm > line_mean ? line_cm : line_mean,
                "[local] chaos_min (%s) is longer than chaos_mean (%s); the minimum time "
                "between kills cannot exceed the mean",
                a, b);
    }
}

static int load_text(struct kiln_config *cfg, const char *text, size_t len, const char *shown_name,
                     const char *source, struct kiln_err *err)
{
    struct parse ps;
    memset(&ps, 0, sizeof ps);
    ps.name = shown_name;
    ps.text = text;
    ps.len = len;
    ps.cfg = *cfg;

    /* A UTF-8 byte order mark, as some editors write. */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        ps.pos = 3;

    int rc = ini_parse_stream(read_line, &ps, on_key, &ps);
    if (rc == -2)
        kiln_oom(0);
    if (rc > 0 && (ps.err_line == 0 || rc < ps.err_line)) {
        char line[256], q[KILN_QUOTE_SIZE];
        line_text(&ps, rc, line, sizeof line);
        ps.err_line = 0;
        fail_at(&ps, rc, "syntax error in %s: %s", kiln_name_quote(line, q, sizeof q),
                line[0] == '[' ? "a section header is [name], with the closing ]"
                               : "expected a [section] header, key = value, or a comment");
    }
    if (ps.err_line == 0)
        check_relations(&ps);
    if (ps.err_line != 0) {
        if (err != NULL)
            *err = ps.err;
        discard(&ps);
        return -1;
    }
    commit(&ps, cfg, source);
    return 0;
}

int kiln_config_load_string(struct kiln_config *cfg, const char *text, const char *name,
                            struct kiln_err *err)
{
    return load_text(cfg, text, strlen(text), name, name, err);
}

int kiln_config_load(struct kiln_config *cfg, const char *path, struct kiln_err *err)
{
    char display[PATH_MAX];
    kiln_path_display(path, display, sizeof display);

    int fd = kiln_open_regular(path);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (errno == EISDIR)
            return kiln_err_set(err, KILN_E_INVALID,
                                "the config file %s is a directory; the configuration is a file "
                                "(see kiln.conf(5))",
                                display);
        if (errno == ENODEV)
            return kiln_err_set(err, KILN_E_INVALID,
                                "the config file %s is not a regular file (a FIFO, socket or "
                                "device); the configuration is a file (see kiln.conf(5))",
                                display);
        return kiln_err_set(err, KILN_E_IO,
                            "cannot read the config file %s (%s); fix it, or name another "
                            "with --config FILE or KILN_CONFIG",
                            display, strerror(errno));
    }

    struct kiln_strbuf sb;
    kiln_strbuf_init(&sb);
    char chunk[8192];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            kiln_strbuf_free(&sb);
            return kiln_err_set(err, KILN_E_IO, "cannot read the config file %s (%s)", display,
                                strerror(e));
        }
        if (n == 0)
            break;
        if (sb.len + (size_t)n > CONFIG_FILE_MAX) {
            close(fd);
            kiln_strbuf_free(&sb);
            return kiln_err_set(err, KILN_E_INVALID,
                                "the config file %s is over %d bytes; is it the right file?",
                                display, CONFIG_FILE_MAX);
        }
        kiln_strbuf_append_len(&sb, chunk, (size_t)n);
    }
    close(fd);

    int rc = load_text(cfg, kiln_strbuf_str(&sb), sb.len, display, path, err);
    kiln_strbuf_free(&sb);
    return rc;
}

int kiln_config_apply_env(struct kiln_config *cfg, struct kiln_err *err)
{
    for (size_t i = 0; i < sizeof env_overrides / sizeof env_overrides[0]; i++) {
        const char *v = getenv(env_overrides[i].var);
        if (v == NULL || v[0] == '\0')
            continue;
        const struct key_spec *k = find_key(env_overrides[i].section, env_overrides[i].name);
        struct parse ps;
        char why[WHY_SIZE], q[KILN_QUOTE_SIZE];
        memset(&ps, 0, sizeof ps);
        ps.cfg = *cfg;
        /* Only scalar keys are overridable, so nothing is allocated here. */
        if (k == NULL || k->type == T_STRING || k->type == T_LIST || !set_value(&ps, k, v, why)) {
            return kiln_err_set(err, KILN_E_INVALID,
                                "environment variable %s=%s: %s; fix or unset it",
                                env_overrides[i].var, shown(v, q, sizeof q), why);
        }
        *cfg = ps.cfg;
    }
    return 0;
}

bool kiln_config_is_protected_env(const struct kiln_config *cfg, const char *env)
{
    for (size_t i = 0; i < cfg->n_protected_envs; i++) {
        if (strcmp(cfg->protected_envs[i], env) == 0)
            return true;
    }
    return false;
}

const char *kiln_provider_kind_name(enum kiln_provider_kind kind)
{
    return (unsigned)kind < 2 ? provider_names[kind] : "unknown";
}

const char *kiln_bake_method_name(enum kiln_bake_method method)
{
    return (unsigned)method < 2 ? bake_method_names[method] : "unknown";
}

/* The longest line inih takes (read_line refuses longer ones). */
#define LINE_MAX_CHARS (INI_MAX_LINE - 2)

/* Writes "name = value" so that the parser reads it back unchanged: the value in
 * quotes when inih would otherwise strip its spaces, take it for a comment, or strip
 * quotes; and without the spaces around '=' when the line would otherwise be too
 * long, since a value that loaded as name=value must load again. */
static void dump_string(FILE *out, const char *name, const char *raw)
{
    /* A URL's user:password@ is shown as ***@: kiln config is pasted into tickets. */
    char red[1024];
    const char *v = kiln_url_redacted(raw, red, sizeof red);
    size_t n = strlen(v);
    bool quote = n > 0 && (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1]) ||
                           v[0] == ';' || (n >= 2 && v[0] == '"' && v[n - 1] == '"'));
    const char *eq = strlen(name) + 3 + n + (quote ? 2 : 0) > LINE_MAX_CHARS ? "=" : " = ";
    if (n == 0)
        fprintf(out, "%s =\n", name);
    else
        fprintf(out, quote ? "%s%s\"%s\"\n" : "%s%s%s\n", name, eq, v);
}

void kiln_config_dump(const struct kiln_config *cfg, FILE *out)
{
    const char *section = NULL;
    char buf[64];

    for (size_t s = 0; s < N_SECTIONS; s++) {
        section = sections[s];
        fprintf(out, "%s[%s]\n", s == 0 ? "" : "\n", section);
        if (strcmp(section, "keys") == 0) {
            if (cfg->n_keys == 0)
                fprintf(out, "# no bindings: the console's defaults apply\n");
            for (size_t i = 0; i < cfg->n_keys; i++) {
                dump_string(out, cfg->keys[i].action, cfg->keys[i].key);
            }
            continue;
        }
        for (size_t i = 0; i < N_KEYS; i++) {
            const struct key_spec *k = &keys[i];
            const void *m = cmember(cfg, k);
            int iv;
            if (strcmp(k->section, section) != 0)
                continue;
            if (k->type != T_STRING && k->type != T_LIST)
                fprintf(out, "%s =", k->name);
            switch (k->type) {
            case T_BOOL:
                fprintf(out, " %s\n", *(const bool *)m ? "true" : "false");
                break;
            case T_INT:
                memcpy(&iv, m, sizeof iv);
                fprintf(out, " %d\n", iv);
                break;
            case T_ENUM:
                memcpy(&iv, m, sizeof iv);
                fprintf(out, " %s\n", k->choices[iv]);
                break;
            case T_DURATION:
                kiln_format_duration_exact(*(const int64_t *)m, buf);
                fprintf(out, " %s\n", buf);
                break;
            case T_STRING:
                dump_string(out, k->name, *(const char *const *)m);
                break;
            case T_LIST: {
                /* "a, b" as people write lists; "a,b" when that would not fit a line. */
                size_t len = strlen(k->name) + 2; /* "name =", then " a", ", b", ... */
                for (size_t j = 0; j < cfg->n_protected_envs; j++)
                    len += (j == 0 ? 1 : 2) + strlen(cfg->protected_envs[j]);
                bool tight = len > LINE_MAX_CHARS;
                fprintf(out, "%s%s", k->name, tight ? "=" : " =");
                for (size_t j = 0; j < cfg->n_protected_envs; j++)
                    fprintf(out, "%s%s", j == 0 ? (tight ? "" : " ") : (tight ? "," : ", "),
                            cfg->protected_envs[j]);
                fprintf(out, "\n");
                break;
            }
            }
        }
    }
}
