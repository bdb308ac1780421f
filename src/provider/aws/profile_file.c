/* kiln: the AWS CLI's shared files (see profile_file.h for why this is not inih). */
#include "provider/aws/profile_file.h"
#include "kiln/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

struct entry {
    char *section;
    char *key;
    char *value;
};

struct kiln_aws_profile_file {
    struct entry *entries;
    size_t n, cap;
    char **sections;
    size_t n_sections;
};

static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static void add_section(struct kiln_aws_profile_file *f, const char *name)
{
    for (size_t i = 0; i < f->n_sections; i++)
        if (strcmp(f->sections[i], name) == 0)
            return;
    f->sections = xrealloc(f->sections, (f->n_sections + 1) * sizeof *f->sections);
    f->sections[f->n_sections++] = xstrdup(name);
}

static struct entry *find(const struct kiln_aws_profile_file *f, const char *section,
                          const char *key)
{
    /* The last one wins: search backwards. */
    for (size_t i = f->n; i-- > 0;)
        if (strcmp(f->entries[i].section, section) == 0 && strcmp(f->entries[i].key, key) == 0)
            return &f->entries[i];
    return NULL;
}

static void add_entry(struct kiln_aws_profile_file *f, const char *section, const char *key,
                      const char *value)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 16;
        f->entries = xrealloc(f->entries, f->cap * sizeof *f->entries);
    }
    f->entries[f->n].section = xstrdup(section);
    f->entries[f->n].key = xstrdup(key);
    f->entries[f->n].value = xstrdup(value);
    f->n++;
}

/* The profile a section header names, or NULL for one to skip. */
static char *section_profile(char *inside, bool is_config)
{
    char *name = trim(inside);
    if (!is_config)
        return name[0] ? xstrdup(name) : NULL;
    if (strcmp(name, "default") == 0)
        return xstrdup(name);
    if (strncmp(name, "profile", 7) == 0 && isspace((unsigned char)name[7])) {
        char *p = trim(name + 8);
        return p[0] ? xstrdup(p) : NULL;
    }
    return NULL;
}

int kiln_aws_profile_file_load(const char *path, bool is_config, struct kiln_aws_profile_file **out,
                               struct kiln_err *err)
{
    struct kiln_aws_profile_file *f = xcalloc(1, sizeof *f);
    *out = f;
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        int e = errno;
        kiln_aws_profile_file_free(f);
        *out = NULL;
        return kiln_err_sys(err, e, "cannot read the AWS file %s", path);
    }
    char *line = NULL, *section = NULL;
    size_t cap = 0;
    ssize_t len;
    bool first = true;
    struct entry *last = NULL; /* for continuation lines */
    while ((len = getline(&line, &cap, fp)) >= 0) {
        char *l = line;
        if (first && (unsigned char)l[0] == 0xEF && (unsigned char)l[1] == 0xBB &&
            (unsigned char)l[2] == 0xBF)
            l += 3;
        first = false;
        bool indented = l[0] == ' ' || l[0] == '\t';
        char *t = trim(l);
        if (t[0] == '\0' || t[0] == '#' || t[0] == ';')
            continue;
        if (t[0] == '[') {
            char *close = strrchr(t, ']');
            free(section);
            section = NULL;
            last = NULL;
            if (close) {
                *close = '\0';
                section = section_profile(t + 1, is_config);
                if (section)
                    add_section(f, section);
            }
            continue;
        }
        if (section == NULL)
            continue;
        if (indented && last) {
            /* A nested setting ("s3 =\n  max_concurrent_requests = 10"): kept as text. */
            char *joined = xasprintf("%s\n%s", last->value, t);
            free(last->value);
            last->value = joined;
            continue;
        }
        char *eq = strchr(t, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        char *key = trim(t), *value = trim(eq + 1);
        for (char *c = key; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        add_entry(f, section, key, value);
        last = &f->entries[f->n - 1];
    }
    int e = ferror(fp) ? errno : 0;
    fclose(fp);
    /* The lines held secrets. */
    if (line)
        OPENSSL_cleanse(line, cap);
    free(line);
    free(section);
    if (e) {
        kiln_aws_profile_file_free(f);
        *out = NULL;
        return kiln_err_sys(err, e, "cannot read the AWS file %s", path);
    }
    return 0;
}

void kiln_aws_profile_file_free(struct kiln_aws_profile_file *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->entries[i].section);
        free(f->entries[i].key);
        OPENSSL_cleanse(f->entries[i].value, strlen(f->entries[i].value));
        free(f->entries[i].value);
    }
    for (size_t i = 0; i < f->n_sections; i++)
        free(f->sections[i]);
    free(f->sections);
    free(f->entries);
    free(f);
}

bool kiln_aws_profile_exists(const struct kiln_aws_profile_file *f, const char *profile)
{
    if (f == NULL)
        return false;
    for (size_t i = 0; i < f->n_sections; i++)
        if (strcmp(f->sections[i], profile) == 0)
            return true;
    return false;
}

const char *kiln_aws_profile_get(const struct kiln_aws_profile_file *f, const char *profile,
                                 const char *key)
{
    if (f == NULL)
        return NULL;
    struct entry *e = find(f, profile, key);
    return e ? e->value : NULL;
}

static char *home_path(const char *rest)
{
    const char *home = getenv("HOME");
    if (home == NULL || home[0] == '\0') {
        struct passwd *pw = getpwuid(getuid());
        home = pw && pw->pw_dir ? pw->pw_dir : "/";
    }
    return xasprintf("%s/%s", home, rest);
}

static char *file_path(const char *env, const char *default_rest)
{
    const char *v = getenv(env);
    if (v && v[0]) {
        if (v[0] == '~' && v[1] == '/')
            return home_path(v + 2);
        return xstrdup(v);
    }
    return home_path(default_rest);
}

char *kiln_aws_credentials_file_path(void)
{
    return file_path("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
}

char *kiln_aws_config_file_path(void)
{
    return file_path("AWS_CONFIG_FILE", ".aws/config");
}
