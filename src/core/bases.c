/* kiln: base images (see include/kiln/bases.h and doc/design.md, "Bases").
 *
 * Decisions, and why:
 * - mmdebstrap, mode root, variant minbase: the smallest Debian that dpkg still manages,
 *   made without debootstrap's second stage. dpkg runs with force-unsafe-io (no fsync
 *   after every file: it halves the build here), and the tree is synced once with
 *   syncfs() before it is recorded, which gives the same durability at the end.
 *   Documentation (man, info, doc but the copyright files) is left out by dpkg's
 *   path-exclude: a server image has no reader for it.
 * - The digest of a build is over the installed package set, not the files: file times,
 *   machine-id and apt's lists differ between two builds of the same packages, which
 *   are still the same base for anything installed onto them.
 * - Programs are spawned from argv arrays. mmdebstrap's own hooks are not used: they
 *   are shell strings, and everything kiln does to the tree it does itself afterwards.
 */
#include "kiln/bases.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln/json.h"
#include "kiln/strbuf.h"
#include "kiln/xalloc.h"

#define RECORD_FORMAT 1

const char *const kiln_base_required_packages[] = {"systemd-sysv", "rpm", "passwd", NULL};

const char kiln_base_dpkg_format[] =
    "${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Abbrev}\\t${Provides}\\n";
const char kiln_base_rpm_queryformat[] =
    "%{NAME}\\t%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\n";

/* ---- small helpers ---- */

void kiln_base_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void kiln_base_pkgs_free(struct kiln_base_pkg *pkgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(pkgs[i].name);
        free(pkgs[i].version);
        free(pkgs[i].arch);
        free(pkgs[i].provides);
    }
    free(pkgs);
}

void kiln_base_free(struct kiln_base *b)
{
    if (b == NULL)
        return;
    free(b->name);
    free(b->created);
    free(b->source);
    free(b->origin);
    free(b->os);
    free(b->package_db);
    free(b->rpm_dbpath);
    free(b->provides);
    kiln_base_strv_free(b->requested, b->n_requested);
    kiln_base_pkgs_free(b->pkgs, b->n_pkgs);
    free(b->root);
    kiln_base_strv_free(b->names, b->n_names);
    memset(b, 0, sizeof *b);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_pkg(const void *a, const void *b)
{
    return strcmp(((const struct kiln_base_pkg *)a)->name, ((const struct kiln_base_pkg *)b)->name);
}

static bool strv_has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static void strv_push(char ***v, size_t *n, const char *s)
{
    *v = xrealloc(*v, (*n + 1) * sizeof **v);
    (*v)[(*n)++] = xstrdup(s);
}

static bool is_hex12(const char *s)
{
    return strlen(s) == 12 && strspn(s, "0123456789abcdef") == 12;
}

/* ---- names and checks ---- */

int kiln_base_id_validate(const char *id, struct kiln_err *err)
{
    size_t n = strlen(id);
    const char *dash = strrchr(id, '-');
    bool ok = n > 13 && n < KILN_BASE_ID_MAX && dash != NULL && dash != id && is_hex12(dash + 1) &&
              id[0] >= 'a' && id[0] <= 'z' &&
              strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n &&
              strstr(id, "--") == NULL && strstr(id, "..") == NULL;
    if (ok)
        return 0;
    return kiln_err_set(err, KILN_E_INVALID,
                        "'%.80s' is not a base id (such as debian-bookworm-0123456789ab); "
                        "kiln base list shows them",
                        id);
}

int kiln_base_name_validate(const char *name, struct kiln_err *err)
{
    size_t n = strlen(name);
    if (n == 0 || n > KILN_BASE_NAME_MAX || name[0] < 'a' || name[0] > 'z' ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != n || name[n - 1] == '-')
        return kiln_err_set(err, KILN_E_INVALID,
                            "'%.80s' is not a base name: use lower-case letters, digits and "
                            "dashes, starting with a letter, at most %d characters (such as "
                            "default or flask)",
                            name, KILN_BASE_NAME_MAX);
    if (kiln_base_id_validate(name, NULL) == 0)
        return kiln_err_set(err, KILN_E_INVALID,
                            "'%.80s' looks like a base id; pick a name that does not end in "
                            "12 hex digits",
                            name);
    return 0;
}

int kiln_base_package_name_validate(const char *name, struct kiln_err *err)
{
    size_t n = strlen(name);
    if (n >= 2 && n <= 128 &&
        (islower((unsigned char)name[0]) || isdigit((unsigned char)name[0])) &&
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789+.-") == n)
        return 0;
    return kiln_err_set(err, KILN_E_INVALID,
                        "'%.80s' is not a Debian package name (lower-case letters, digits, "
                        "+ - and ., at least two characters, such as python3-flask)",
                        name);
}

int kiln_base_packages_parse(const char *text, char ***list, size_t *n, struct kiln_err *err)
{
    const char *p = text ? text : "";
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *s = p;
        while (len > 0 && isspace((unsigned char)*s)) {
            s++;
            len--;
        }
        while (len > 0 && isspace((unsigned char)s[len - 1]))
            len--;
        if (len > 0) {
            char *item = xstrndup(s, len);
            int rc = kiln_base_package_name_validate(item, err);
            if (rc == 0 && !strv_has(*list, *n, item))
                strv_push(list, n, item);
            free(item);
            if (rc < 0)
                return -1;
        }
        p = comma ? comma + 1 : p + strlen(p);
    }
    return 0;
}

int kiln_base_packages_merge(const char *config_list, const char *option_list, char ***list,
                             size_t *n, struct kiln_err *err)
{
    char **v = NULL;
    size_t k = 0;
    for (size_t i = 0; kiln_base_required_packages[i] != NULL; i++)
        strv_push(&v, &k, kiln_base_required_packages[i]);
    if (kiln_base_packages_parse(config_list, &v, &k, err) < 0) {
        kiln_err_prefix(err, "[local] base_packages");
        kiln_base_strv_free(v, k);
        return -1;
    }
    if (kiln_base_packages_parse(option_list, &v, &k, err) < 0) {
        kiln_err_prefix(err, "--packages");
        kiln_base_strv_free(v, k);
        return -1;
    }
    qsort(v, k, sizeof *v, cmp_str);
    *list = v;
    *n = k;
    return 0;
}

/* ---- parsing what the package managers say ---- */

/* Splits line at tabs into up to max fields (pointers into line, which is changed). */
static size_t split_tabs(char *line, char **f, size_t max)
{
    size_t k = 0;
    f[k++] = line;
    for (char *p = line; *p != '\0' && k < max; p++) {
        if (*p == '\t') {
            *p = '\0';
            f[k++] = p + 1;
        }
    }
    return k;
}

static int parse_lines(const char *text, bool dpkg, struct kiln_base_pkg **pkgs, size_t *n,
                       struct kiln_err *err)
{
    struct kiln_base_pkg *v = NULL;
    size_t k = 0;
    char *copy = xstrdup(text ? text : "");
    int rc = 0;
    int lineno = 0;
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *f[5] = {0};
        size_t nf = split_tabs(line, f, 5);
        if (nf < (dpkg ? 4u : 3u) || f[0][0] == '\0' || f[1][0] == '\0') {
            rc = kiln_err_set(err, KILN_E_INVALID,
                              "line %d of the %s package list is not name, version, arch: "
                              "'%.80s'",
                              lineno, dpkg ? "dpkg" : "rpm", f[0]);
            break;
        }
        /* "ii " is installed and configured; anything else (rc: removed, config files
         * left) is not there for a dependency to use. */
        if (dpkg && strncmp(f[3], "ii", 2) != 0)
            continue;
        bool seen = false;
        for (size_t i = 0; i < k && !seen; i++)
            seen = strcmp(v[i].name, f[0]) == 0;
        if (seen)
            continue;
        v = xrealloc(v, (k + 1) * sizeof *v);
        v[k].name = xstrdup(f[0]);
        v[k].version = xstrdup(f[1]);
        v[k].arch = xstrdup(f[2]);
        v[k].provides = xstrdup(dpkg && nf > 4 ? f[4] : "");
        k++;
    }
    free(copy);
    if (rc < 0) {
        kiln_base_pkgs_free(v, k);
        return -1;
    }
    if (k > 0)
        qsort(v, k, sizeof *v, cmp_pkg);
    *pkgs = v;
    *n = k;
    return 0;
}

int kiln_base_dpkg_parse(const char *text, struct kiln_base_pkg **pkgs, size_t *n,
                         struct kiln_err *err)
{
    return parse_lines(text, true, pkgs, n, err);
}

int kiln_base_rpm_parse(const char *text, struct kiln_base_pkg **pkgs, size_t *n,
                        struct kiln_err *err)
{
    return parse_lines(text, false, pkgs, n, err);
}

/* The value of KEY= in an os-release text, unquoted (the caller frees it), or NULL. */
static char *os_release_value(const char *text, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = text; p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            const char *v = p + klen + 1;
            size_t vlen = len - klen - 1;
            if (vlen >= 2 && (v[0] == '"' || v[0] == '\'') && v[vlen - 1] == v[0]) {
                v++;
                vlen -= 2;
            }
            return xstrndup(v, vlen);
        }
        p = nl ? nl + 1 : NULL;
    }
    return NULL;
}

void kiln_base_os_prefix(const char *os_release, char *buf, size_t size)
{
    char *id = os_release_value(os_release ? os_release : "", "ID");
    char *ver = os_release_value(os_release ? os_release : "", "VERSION_CODENAME");
    if (ver == NULL || ver[0] == '\0') {
        free(ver);
        ver = os_release_value(os_release ? os_release : "", "VERSION_ID");
    }
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    const char *parts[] = {id, ver};
    for (size_t i = 0; i < 2; i++) {
        if (parts[i] == NULL)
            continue;
        size_t before = sb.len;
        if (sb.len > 0)
            kiln_strbuf_appendc(&sb, '-');
        size_t mark = sb.len;
        for (const char *c = parts[i]; *c != '\0' && sb.len < 24; c++) {
            char ch = (char)tolower((unsigned char)*c);
            if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.')
                kiln_strbuf_appendc(&sb, ch);
        }
        if (sb.len == mark) /* nothing usable: drop the dash too */
            kiln_strbuf_truncate(&sb, before);
    }
    /* An id starts with a letter (kiln_base_id_validate). */
    if (sb.len == 0 || sb.buf[0] < 'a' || sb.buf[0] > 'z')
        snprintf(buf, size, "import");
    else
        snprintf(buf, size, "%s", sb.buf);
    kiln_strbuf_free(&sb);
    free(id);
    free(ver);
}

char *kiln_base_os_pretty(const char *os_release)
{
    char *v = os_release_value(os_release ? os_release : "", "PRETTY_NAME");
    return v ? v : xstrdup("");
}

/* ---- digests ---- */

static void hex_digest(EVP_MD_CTX *md, char digest[KILN_BASE_DIGEST_MAX])
{
    unsigned char raw[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(md, raw, &len);
    int off = snprintf(digest, KILN_BASE_DIGEST_MAX, "sha256:");
    for (unsigned int i = 0; i < len && off + 2 < KILN_BASE_DIGEST_MAX; i++)
        off += snprintf(digest + off, (size_t)(KILN_BASE_DIGEST_MAX - off), "%02x", raw[i]);
}

static void digest_field(EVP_MD_CTX *md, const char *s)
{
    /* Each field with its length in front: no two lists give the same byte stream. */
    char len[24];
    int n = snprintf(len, sizeof len, "%zu:", strlen(s));
    EVP_DigestUpdate(md, len, (size_t)n);
    EVP_DigestUpdate(md, s, strlen(s));
}

void kiln_base_digest_packages(const char *suite, const char *variant,
                               const struct kiln_base_pkg *pkgs, size_t n,
                               char digest[KILN_BASE_DIGEST_MAX])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL)
        kiln_oom(0);
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    char fmt[32];
    snprintf(fmt, sizeof fmt, "kiln-base-%d", RECORD_FORMAT);
    digest_field(md, fmt);
    digest_field(md, suite);
    digest_field(md, variant);
    /* Sorted by name here too, whatever order the caller has them in. */
    const struct kiln_base_pkg **order = xcalloc(n ? n : 1, sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = &pkgs[i];
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(order[j - 1]->name, order[j]->name) > 0; j--) {
            const struct kiln_base_pkg *t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        digest_field(md, order[i]->name);
        digest_field(md, order[i]->version);
        digest_field(md, order[i]->arch);
    }
    free(order);
    hex_digest(md, digest);
    EVP_MD_CTX_free(md);
}

int kiln_base_digest_file(const char *path, char digest[KILN_BASE_DIGEST_MAX], struct kiln_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kiln_err_sys(err, errno, "cannot read %s", path);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL)
        kiln_oom(0);
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    char *buf = xmalloc(1 << 16);
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, buf, 1 << 16);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = kiln_err_sys(err, errno, "cannot read %s", path);
            break;
        }
        if (r == 0)
            break;
        EVP_DigestUpdate(md, buf, (size_t)r);
    }
    free(buf);
    close(fd);
    if (rc == 0)
        hex_digest(md, digest);
    EVP_MD_CTX_free(md);
    return rc;
}

void kiln_base_make_id(const char *prefix, const char *digest, char id[KILN_BASE_ID_MAX])
{
    const char *hex = strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest;
    snprintf(id, KILN_BASE_ID_MAX, "%.40s-%.12s", prefix, hex);
}

/* ---- what rpm sees ---- */

/* Debian's version is [epoch:]upstream[-revision]; RPM's EVR is [epoch:]version[-release].
 * The mapping, and why:
 * - epoch: the same number, kept as written ("1:" stays "1:"): both read a missing epoch
 *   as 0 and compare epochs first.
 * - revision (after the last '-') becomes the release, unchanged: its characters
 *   (letters, digits, + . ~) are all valid in an RPM release. A native package has no
 *   revision, and its EVR no release: rpm then compares versions only.
 * - upstream becomes the version, with '-' (allowed in Debian's upstream when there is
 *   a revision) and ':' (allowed when there is an epoch) turned into '_': RPM uses those
 *   two to split the EVR itself. rpm treats every run of non-alphanumerics but '~' and
 *   '^' as one separator, so '_' splits the same segments that '-' did.
 * - '~' is kept: in both it sorts before anything, even the end (1.0~rc1 < 1.0).
 * - '+' is kept: valid in RPM versions, and in both 1.0+dfsg sorts after 1.0.
 * Orderings agree for what Requires compare in practice (digits and dots, ~ and +); they
 * can differ in corners (dpkg sorts letters before '+', rpm puts numbers above letters),
 * which a dependency on a Debian package's version has no reason to depend on. */
int kiln_base_rpm_evr(const char *v, char *buf, size_t size, struct kiln_err *err)
{
    const char *colon = strchr(v, ':');
    const char *up = v;
    size_t elen = 0;
    if (colon != NULL) {
        elen = (size_t)(colon - v);
        if (elen == 0 || elen > 9 || strspn(v, "0123456789") != elen)
            goto bad;
        up = colon + 1;
    }
    const char *dash = strrchr(up, '-');
    size_t ulen = dash ? (size_t)(dash - up) : strlen(up);
    const char *rev = dash ? dash + 1 : NULL;
    if (ulen == 0 || (rev != NULL && rev[0] == '\0'))
        goto bad;
    const char *up_ok = colon
                            ? "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+~-:"
                            : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+~-";
    for (size_t i = 0; i < ulen; i++)
        if (strchr(up_ok, up[i]) == NULL)
            goto bad;
    if (rev != NULL &&
        strspn(rev, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+~") !=
            strlen(rev))
        goto bad;
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    if (colon != NULL)
        kiln_strbuf_append_len(&sb, v, elen + 1);
    for (size_t i = 0; i < ulen; i++)
        kiln_strbuf_appendc(&sb, up[i] == '-' || up[i] == ':' ? '_' : up[i]);
    if (rev != NULL)
        kiln_strbuf_appendf(&sb, "-%s", rev);
    int rc = 0;
    if (sb.len + 1 > size)
        rc = kiln_err_set(err, KILN_E_INVALID, "version '%.80s' is too long", v);
    else
        memcpy(buf, sb.buf, sb.len + 1);
    kiln_strbuf_free(&sb);
    return rc;
bad:
    return kiln_err_set(err, KILN_E_INVALID, "'%.80s' is not a Debian version", v);
}

/* A name or path rpm takes as a dependency token in a spec: no spaces, commas or
 * macros ('%'), starting with a letter, a digit, '_' or '/'. */
static bool rpm_token_ok(const char *s)
{
    if (s[0] == '\0' || !(isalnum((unsigned char)s[0]) || s[0] == '_' || s[0] == '/'))
        return false;
    for (const char *p = s; *p != '\0'; p++)
        if (!(isalnum((unsigned char)*p) || strchr("._+-/", *p) != NULL))
            return false;
    return true;
}

/* One "foo" or "foo (= 1.2)" of a dpkg Provides field, as a Provides: line. */
static void virtual_provides(const char *item, struct kiln_strbuf *spec)
{
    char name[256], ver[256] = "", evr[256];
    while (isspace((unsigned char)*item))
        item++;
    size_t n = strcspn(item, " (");
    if (n == 0 || n >= sizeof name)
        return;
    memcpy(name, item, n);
    name[n] = '\0';
    const char *eq = strstr(item + n, "(=");
    if (eq != NULL) {
        const char *s = eq + 2;
        while (*s == ' ')
            s++;
        size_t vl = strcspn(s, " )");
        if (vl < sizeof ver) {
            memcpy(ver, s, vl);
            ver[vl] = '\0';
        }
    }
    char *colon = strchr(name, ':'); /* "foo:any" */
    if (colon != NULL)
        *colon = '\0';
    if (!rpm_token_ok(name))
        return;
    if (ver[0] != '\0' && kiln_base_rpm_evr(ver, evr, sizeof evr, NULL) == 0)
        kiln_strbuf_appendf(spec, "Provides: %s = %s\n", name, evr);
    else
        kiln_strbuf_appendf(spec, "Provides: %s\n", name);
}

int kiln_base_provides_spec(const struct kiln_base_pkg *pkgs, size_t n, const char *const *files,
                            size_t n_files, const char *release, struct kiln_strbuf *spec,
                            struct kiln_strbuf *skipped, struct kiln_err *err)
{
    if (!is_hex12(release) &&
        strspn(release, "0123456789abcdefghijklmnopqrstuvwxyz.") != strlen(release))
        return kiln_err_set(err, KILN_E_INVALID,
                            "'%.40s' is not a release for the provides "
                            "package",
                            release);
    kiln_strbuf_appendf(spec,
                        "# Written by kiln: what a kiln base installed with dpkg, told to rpm,\n"
                        "# so that rpm checks the Requires of packages installed into it.\n"
                        "Name: %s\n"
                        "Version: 1\n"
                        "Release: %s\n"
                        "Summary: What the kiln base provides (its Debian packages and "
                        "programs)\n"
                        "License: Various\n"
                        "BuildArch: noarch\n"
                        "AutoReqProv: no\n",
                        KILN_BASE_PROVIDES_RPM, release);
    for (size_t i = 0; i < n; i++) {
        char evr[256];
        if (!rpm_token_ok(pkgs[i].name) ||
            kiln_base_rpm_evr(pkgs[i].version, evr, sizeof evr, NULL) < 0) {
            if (skipped != NULL)
                kiln_strbuf_appendf(skipped, "%s %s; ", pkgs[i].name, pkgs[i].version);
            continue;
        }
        kiln_strbuf_appendf(spec, "Provides: %s = %s\n", pkgs[i].name, evr);
        const char *p = pkgs[i].provides;
        while (p != NULL && *p != '\0') {
            const char *comma = strchr(p, ',');
            char *item = xstrndup(p, comma ? (size_t)(comma - p) : strlen(p));
            virtual_provides(item, spec);
            free(item);
            p = comma ? comma + 1 : NULL;
        }
    }
    for (size_t i = 0; i < n_files; i++)
        if (files[i][0] == '/' && rpm_token_ok(files[i]))
            kiln_strbuf_appendf(spec, "Provides: %s\n", files[i]);
    kiln_strbuf_appendf(spec, "\n%%description\n"
                              "The Debian packages and programs of a kiln base, for rpm's "
                              "dependency checks.\n"
                              "Installed with --justdb: it has no files of its own.\n"
                              "\n%%files\n");
    return 0;
}

/* ---- the record ---- */

static cJSON *strv_json(char *const *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    return a;
}

static cJSON *record_object(const struct kiln_base *b)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "format", RECORD_FORMAT);
    cJSON_AddStringToObject(o, "id", b->id);
    cJSON_AddStringToObject(o, "digest", b->digest);
    cJSON_AddStringToObject(o, "name", b->name ? b->name : "");
    cJSON_AddStringToObject(o, "created", b->created ? b->created : "");
    cJSON_AddStringToObject(o, "source", b->source ? b->source : "");
    cJSON_AddStringToObject(o, "origin", b->origin ? b->origin : "");
    cJSON_AddStringToObject(o, "os", b->os ? b->os : "");
    cJSON_AddStringToObject(o, "package_db", b->package_db ? b->package_db : "none");
    cJSON_AddStringToObject(o, "rpm_dbpath", b->rpm_dbpath ? b->rpm_dbpath : "");
    cJSON_AddStringToObject(o, "provides", b->provides ? b->provides : "");
    cJSON_AddItemToObject(o, "requested", strv_json(b->requested, b->n_requested));
    cJSON_AddNumberToObject(o, "size_bytes", (double)b->size_bytes);
    cJSON_AddNumberToObject(o, "files", (double)b->files);
    cJSON *pk = cJSON_AddArrayToObject(o, "packages");
    for (size_t i = 0; i < b->n_pkgs; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "name", b->pkgs[i].name);
        cJSON_AddStringToObject(p, "version", b->pkgs[i].version);
        cJSON_AddStringToObject(p, "arch", b->pkgs[i].arch);
        if (b->pkgs[i].provides && b->pkgs[i].provides[0])
            cJSON_AddStringToObject(p, "provides", b->pkgs[i].provides);
        cJSON_AddItemToArray(pk, p);
    }
    return o;
}

char *kiln_base_record_json(const struct kiln_base *b)
{
    cJSON *o = record_object(b);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (text == NULL)
        kiln_oom(0);
    char *out = xasprintf("%s\n", text);
    cJSON_free(text);
    return out;
}

cJSON *kiln_base_json(const struct kiln_base *b)
{
    cJSON *o = record_object(b);
    cJSON *names = cJSON_AddArrayToObject(o, "names");
    for (size_t i = 0; i < b->n_names; i++)
        cJSON_AddItemToArray(names, cJSON_CreateString(b->names[i]));
    cJSON_AddStringToObject(o, "root", b->root ? b->root : "");
    return o;
}

static char *get_str(const cJSON *o, const char *key, bool *ok)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v)) {
        *ok = false;
        return xstrdup("");
    }
    return xstrdup(v->valuestring);
}

int kiln_base_record_parse(const char *json, struct kiln_base *b, struct kiln_err *err)
{
    memset(b, 0, sizeof *b);
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return kiln_err_set(err, KILN_E_INVALID, "the base record is not a JSON object");
    }
    bool ok = true;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(o, "format");
    if (!cJSON_IsNumber(fmt) || fmt->valuedouble != RECORD_FORMAT)
        ok = false;
    char *id = get_str(o, "id", &ok), *digest = get_str(o, "digest", &ok);
    if (kiln_base_id_validate(id, NULL) < 0 || strncmp(digest, "sha256:", 7) != 0 ||
        strlen(digest) != 71)
        ok = false;
    snprintf(b->id, sizeof b->id, "%s", id);
    snprintf(b->digest, sizeof b->digest, "%s", digest);
    free(id);
    free(digest);
    b->name = get_str(o, "name", &ok);
    b->created = get_str(o, "created", &ok);
    b->source = get_str(o, "source", &ok);
    b->origin = get_str(o, "origin", &ok);
    b->os = get_str(o, "os", &ok);
    b->package_db = get_str(o, "package_db", &ok);
    b->rpm_dbpath = get_str(o, "rpm_dbpath", &ok);
    b->provides = get_str(o, "provides", &ok);
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(o, "size_bytes");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(o, "files");
    if (!cJSON_IsNumber(size) || !cJSON_IsNumber(files))
        ok = false;
    b->size_bytes = kiln_json_i64(size, -1);
    b->files = kiln_json_i64(files, -1);
    if (b->size_bytes < 0 || b->files < 0)
        ok = false;
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(o, "requested"), *it;
    if (!cJSON_IsArray(req))
        ok = false;
    cJSON_ArrayForEach(it, req) {
        if (cJSON_IsString(it))
            strv_push(&b->requested, &b->n_requested, it->valuestring);
        else
            ok = false;
    }
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(o, "packages");
    if (!cJSON_IsArray(pk))
        ok = false;
    int np = cJSON_GetArraySize(pk);
    b->pkgs = xcalloc(np > 0 ? (size_t)np : 1, sizeof *b->pkgs);
    cJSON_ArrayForEach(it, pk) {
        struct kiln_base_pkg *p = &b->pkgs[b->n_pkgs++];
        p->name = get_str(it, "name", &ok);
        p->version = get_str(it, "version", &ok);
        p->arch = get_str(it, "arch", &ok);
        const cJSON *pv = cJSON_GetObjectItemCaseSensitive(it, "provides");
        p->provides = xstrdup(cJSON_IsString(pv) ? pv->valuestring : "");
    }
    cJSON_Delete(o);
    if (!ok) {
        kiln_base_free(b);
        return kiln_err_set(err, KILN_E_INVALID,
                            "the base record lacks a field or has one of the wrong type");
    }
    return 0;
}
