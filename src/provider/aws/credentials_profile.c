/* kiln: credentials from a profile of the AWS CLI's shared files.
 *
 * As the AWS CLI: a profile's settings come from ~/.aws/credentials and ~/.aws/config
 * (the credentials file wins a key both set). A profile with role_arn is an assumed
 * role, even if it also has keys: its source is source_profile (another profile, or
 * itself if it has keys) or credential_source (Environment, Ec2InstanceMetadata), and
 * STS AssumeRole turns that into temporary credentials, cached until 5 minutes before
 * they expire: in memory for this process, and in a 0600 file under cache_dir when one
 * is given, so the next kiln command does not call STS again (the AWS CLI keeps
 * ~/.aws/cli/cache for the same reason). Otherwise the profile's aws_access_key_id,
 * aws_secret_access_key and aws_session_token are used as they are. */
#include "kiln/atomic_file.h"
#include "kiln/aws_client.h"
#include "kiln/aws_credentials.h"
#include "kiln/aws_sigv4.h"
#include "kiln/aws_sts.h"
#include "kiln/aws_xml.h"
#include "kiln/timeutil.h"
#include "provider/aws/credentials_private.h"
#include "provider/aws/profile_file.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define REFRESH_MARGIN_MS (5 * 60 * 1000)
#define MAX_ROLE_CHAIN    5

struct profile_provider {
    char *profile; /* NULL: resolve at each call (AWS_PROFILE may be set later) */
    char *region;
    char *config_endpoint;
    char *ca_bundle;
    char *cache_dir;
    bool allow_http;
    int64_t imds_timeout_ms;
};

/* ---- the assumed-role cache, shared by every provider of the process ---- */

struct cache_entry {
    char key[65];
    struct kiln_aws_credentials creds;
    struct cache_entry *next;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_entry *cache_head;

void kiln_aws_credentials_cache_flush(void)
{
    pthread_mutex_lock(&cache_lock);
    while (cache_head) {
        struct cache_entry *e = cache_head;
        cache_head = e->next;
        kiln_aws_credentials_clear(&e->creds);
        free(e);
    }
    pthread_mutex_unlock(&cache_lock);
}

static bool memory_cache_get(const char *key, struct kiln_aws_credentials *out)
{
    bool found = false;
    pthread_mutex_lock(&cache_lock);
    for (struct cache_entry *e = cache_head; e; e = e->next) {
        if (strcmp(e->key, key) == 0 &&
            !kiln_aws_credentials_expiring(&e->creds, kiln_now_us(), REFRESH_MARGIN_MS)) {
            kiln_aws_credentials_copy(out, &e->creds);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return found;
}

static void memory_cache_put(const char *key, const struct kiln_aws_credentials *c)
{
    pthread_mutex_lock(&cache_lock);
    struct cache_entry *e = cache_head;
    while (e && strcmp(e->key, key) != 0)
        e = e->next;
    if (e == NULL) {
        e = xcalloc(1, sizeof *e);
        snprintf(e->key, sizeof e->key, "%s", key);
        e->next = cache_head;
        cache_head = e;
    } else {
        kiln_aws_credentials_clear(&e->creds);
    }
    kiln_aws_credentials_copy(&e->creds, c);
    pthread_mutex_unlock(&cache_lock);
}

static char *cache_file(const struct profile_provider *pp, const char *key)
{
    return xasprintf("%s/%s.json", pp->cache_dir, key);
}

/* A cache file is trusted only if it is ours and no one else can read or change it. */
static bool file_cache_get(const struct profile_provider *pp, const char *key,
                           struct kiln_aws_credentials *out)
{
    if (pp->cache_dir == NULL)
        return false;
    char *path = cache_file(pp, key), *text = NULL;
    struct stat st;
    bool found = false;
    if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid() ||
        (st.st_mode & 077) != 0 || kiln_read_file(path, &text, NULL, 64 * 1024, NULL) < 0)
        goto out;
    cJSON *j = cJSON_Parse(text);
    cJSON *c = cJSON_GetObjectItem(j, "Credentials");
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(c, "AccessKeyId"));
    const char *secret = cJSON_GetStringValue(cJSON_GetObjectItem(c, "SecretAccessKey"));
    const char *token = cJSON_GetStringValue(cJSON_GetObjectItem(c, "SessionToken"));
    const char *exp = cJSON_GetStringValue(cJSON_GetObjectItem(c, "Expiration"));
    const char *source = cJSON_GetStringValue(cJSON_GetObjectItem(j, "Source"));
    int64_t exp_us;
    if (id && secret && token && exp && kiln_aws_parse_timestamp(exp, &exp_us) == 0 &&
        exp_us - REFRESH_MARGIN_MS * 1000LL > kiln_now_us()) {
        kiln_aws_credentials_set(out, id, secret, token, exp_us, source ? source : "cache");
        found = true;
    }
    if (secret)
        OPENSSL_cleanse((char *)secret, strlen(secret));
    if (token)
        OPENSSL_cleanse((char *)token, strlen(token));
    cJSON_Delete(j);
out:
    if (text) {
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
    free(path);
    return found;
}

static void file_cache_put(const struct profile_provider *pp, const char *key,
                           const struct kiln_aws_credentials *c)
{
    if (pp->cache_dir == NULL)
        return;
    /* A cache that cannot be written costs an STS call next time, nothing more. */
    if (kiln_mkdir_p(pp->cache_dir, 0700, NULL) < 0)
        return;
    char iso[KILN_ISO_TIME_MAX];
    cJSON *j = cJSON_CreateObject();
    cJSON *cr = cJSON_AddObjectToObject(j, "Credentials");
    cJSON_AddStringToObject(cr, "AccessKeyId", c->access_key_id);
    cJSON_AddStringToObject(cr, "SecretAccessKey", c->secret_access_key);
    cJSON_AddStringToObject(cr, "SessionToken", c->session_token ? c->session_token : "");
    cJSON_AddStringToObject(cr, "Expiration", kiln_time_iso(c->expiration_us, iso));
    cJSON_AddStringToObject(j, "Source", c->source);
    char *text = cJSON_PrintUnformatted(j);
    if (text == NULL)
        kiln_oom(0);
    char *path = cache_file(pp, key);
    kiln_atomic_write(path, text, strlen(text), 0600, NULL);
    OPENSSL_cleanse(text, strlen(text));
    cJSON_free(text);
    cJSON_Delete(j); /* cJSON's copies are freed unwiped: short-lived, same process */
    free(path);
}

/* ---- the files ---- */

struct files {
    struct kiln_aws_profile_file *creds, *config;
    char *creds_path, *config_path;
};

static int load_files(struct files *f, struct kiln_err *err)
{
    memset(f, 0, sizeof *f);
    f->creds_path = kiln_aws_credentials_file_path();
    f->config_path = kiln_aws_config_file_path();
    if (kiln_aws_profile_file_load(f->creds_path, false, &f->creds, err) < 0 ||
        kiln_aws_profile_file_load(f->config_path, true, &f->config, err) < 0)
        return -1;
    return 0;
}

static void free_files(struct files *f)
{
    kiln_aws_profile_file_free(f->creds);
    kiln_aws_profile_file_free(f->config);
    free(f->creds_path);
    free(f->config_path);
}

/* The credentials file wins a key both files set. */
static const char *get(const struct files *f, const char *profile, const char *key)
{
    const char *v = kiln_aws_profile_get(f->creds, profile, key);
    if (v == NULL || v[0] == '\0')
        v = kiln_aws_profile_get(f->config, profile, key);
    return v && v[0] ? v : NULL;
}

static bool exists(const struct files *f, const char *profile)
{
    return kiln_aws_profile_exists(f->creds, profile) ||
           kiln_aws_profile_exists(f->config, profile);
}

static bool static_keys(const struct files *f, const char *profile,
                        struct kiln_aws_credentials *out)
{
    const char *id = get(f, profile, "aws_access_key_id");
    const char *secret = get(f, profile, "aws_secret_access_key");
    const char *token = get(f, profile, "aws_session_token");
    if (token == NULL)
        token = get(f, profile, "aws_security_token");
    if (id == NULL || secret == NULL)
        return false;
    char source[96];
    snprintf(source, sizeof source, "profile %.80s", profile);
    kiln_aws_credentials_set(out, id, secret, token, 0, source);
    return true;
}

/* ---- assume role ---- */

static int resolve(struct profile_provider *pp, const struct files *f, const char *profile,
                   int depth, const char **visited, struct kiln_aws_credentials *out,
                   struct kiln_err *err);

static void cache_key(const struct files *f, const char *profile, const char *role_arn,
                      char key[65])
{
    /* Everything that makes the answer differ; the hash keeps the ARN out of file names. */
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    const char *fields[] = {"role_session_name", "external_id", "duration_seconds",
                            "source_profile", "credential_source"};
    kiln_strbuf_appendf(&sb, "%s\n%s", profile, role_arn);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v = get(f, profile, fields[i]);
        kiln_strbuf_appendf(&sb, "\n%s", v ? v : "");
    }
    kiln_aws_sha256_hex(kiln_strbuf_str(&sb), sb.len, key);
    kiln_strbuf_free(&sb);
}

static int role_source(struct profile_provider *pp, const struct files *f, const char *profile,
                       int depth, const char **visited, struct kiln_aws_credentials *out,
                       struct kiln_err *err)
{
    const char *source_profile = get(f, profile, "source_profile");
    const char *credential_source = get(f, profile, "credential_source");
    if (source_profile && credential_source)
        return kiln_err_set(err, KILN_E_INVALID,
                            "profile %s sets both source_profile and credential_source in %s; "
                            "keep one",
                            profile, f->config_path);
    if (source_profile) {
        /* A role profile may name itself as the source of its own keys. */
        if (strcmp(source_profile, profile) == 0) {
            if (static_keys(f, profile, out))
                return 0;
            return kiln_err_set(err, KILN_E_INVALID,
                                "profile %s is its own source_profile but has no "
                                "aws_access_key_id and aws_secret_access_key",
                                profile);
        }
        return resolve(pp, f, source_profile, depth + 1, visited, out, err);
    }
    if (credential_source) {
        struct kiln_aws_credentials_provider *src = NULL;
        if (strcasecmp(credential_source, "Environment") == 0) {
            src = kiln_aws_credentials_provider_env_new();
        } else if (strcasecmp(credential_source, "Ec2InstanceMetadata") == 0) {
            struct kiln_aws_credentials_options o = {.imds_timeout_ms = pp->imds_timeout_ms};
            src = kiln_aws_credentials_provider_imds_new(&o);
        } else {
            return kiln_err_set(err, KILN_E_INVALID,
                                "profile %s: credential_source = %s is not supported by kiln; "
                                "use Environment, Ec2InstanceMetadata or a source_profile",
                                profile, credential_source);
        }
        int rc = kiln_aws_credentials_get(src, out, err);
        kiln_aws_credentials_provider_release(src);
        if (rc < 0)
            kiln_err_prefix(err, "profile %s (credential_source = %s)", profile, credential_source);
        return rc;
    }
    return kiln_err_set(err, KILN_E_INVALID,
                        "profile %s has role_arn but neither source_profile nor "
                        "credential_source; add one to %s",
                        profile, f->config_path);
}

static int assume_role(struct profile_provider *pp, const struct files *f, const char *profile,
                       const char *role_arn, int depth, const char **visited,
                       struct kiln_aws_credentials *out, struct kiln_err *err)
{
    char key[65];
    cache_key(f, profile, role_arn, key);
    if (memory_cache_get(key, out))
        return 0;
    if (file_cache_get(pp, key, out)) {
        memory_cache_put(key, out);
        return 0;
    }
    if (get(f, profile, "mfa_serial"))
        return kiln_err_set(err, KILN_E_INVALID,
                            "profile %s needs an MFA code (mfa_serial), which kiln cannot ask "
                            "for; get temporary keys with the aws CLI and export them as "
                            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN",
                            profile);

    struct kiln_aws_credentials source = {0};
    if (role_source(pp, f, profile, depth, visited, &source, err) < 0) {
        kiln_aws_credentials_clear(&source);
        return -1;
    }
    /* STS in the profile's region, else the one kiln uses; STS is in every region. */
    const char *region = get(f, profile, "region");
    if (region == NULL)
        region = pp->region && pp->region[0] ? pp->region : "us-east-1";
    struct kiln_aws_credentials_provider *src = kiln_aws_credentials_provider_static_new(&source);
    kiln_aws_credentials_clear(&source);
    struct kiln_aws_client_options co = {
        .region = region,
        .config_endpoint = pp->config_endpoint,
        .allow_http_endpoints = pp->allow_http,
        .ca_bundle = pp->ca_bundle,
        .credentials = src,
    };
    struct kiln_aws_client *client = kiln_aws_client_new(&co, err);
    kiln_aws_credentials_provider_release(src);
    if (client == NULL)
        return -1;
    const char *duration = get(f, profile, "duration_seconds");
    struct kiln_aws_assume_role ar = {
        .role_arn = role_arn,
        .session_name = get(f, profile, "role_session_name"),
        .external_id = get(f, profile, "external_id"),
        .duration_s = duration ? atoi(duration) : 0,
    };
    int rc = kiln_aws_sts_assume_role(client, &ar, out, err);
    kiln_aws_client_free(client);
    if (rc < 0) {
        kiln_err_prefix(err, "profile %s", profile);
        return -1;
    }
    snprintf(out->source, sizeof out->source, "profile %.60s (role %.80s)", profile, role_arn);
    memory_cache_put(key, out);
    file_cache_put(pp, key, out);
    return 0;
}

static int resolve(struct profile_provider *pp, const struct files *f, const char *profile,
                   int depth, const char **visited, struct kiln_aws_credentials *out,
                   struct kiln_err *err)
{
    for (int i = 0; i < depth; i++)
        if (strcmp(visited[i], profile) == 0)
            return kiln_err_set(err, KILN_E_INVALID,
                                "profile %s is its own source through a loop of "
                                "source_profile settings in %s",
                                profile, f->config_path);
    if (depth >= MAX_ROLE_CHAIN)
        return kiln_err_set(err, KILN_E_INVALID,
                            "profile %s: more than %d roles chained by source_profile", profile,
                            MAX_ROLE_CHAIN);
    visited[depth] = profile;
    if (!exists(f, profile)) {
        if (depth == 0 && strcmp(profile, "default") == 0)
            return kiln_err_set(err, KILN_E_NOTFOUND, "no default profile");
        if (depth == 0)
            return kiln_err_set(err, KILN_E_NOTFOUND,
                                "the AWS profile %s is in neither %s nor %s; check --profile, "
                                "AWS_PROFILE or [aws] profile",
                                profile, f->creds_path, f->config_path);
        return kiln_err_set(err, KILN_E_INVALID, "the source_profile %s is in neither %s nor %s",
                            profile, f->creds_path, f->config_path);
    }
    const char *role_arn = get(f, profile, "role_arn");
    if (role_arn)
        return assume_role(pp, f, profile, role_arn, depth, visited, out, err);
    if (static_keys(f, profile, out))
        return 0;
    if (depth == 0)
        return kiln_err_set(err, KILN_E_NOTFOUND, "profile %s has no keys", profile);
    return kiln_err_set(err, KILN_E_INVALID,
                        "the source_profile %s has neither aws_access_key_id and "
                        "aws_secret_access_key nor role_arn",
                        profile);
}

static int profile_get(struct kiln_aws_credentials_provider *p, struct kiln_aws_credentials *out,
                       struct kiln_err *err)
{
    struct profile_provider *pp = p->impl;
    struct files f;
    if (load_files(&f, err) < 0) {
        free_files(&f);
        return -1;
    }
    const char *profile = kiln_aws_profile_name(pp->profile);
    const char *visited[MAX_ROLE_CHAIN];
    int rc = resolve(pp, &f, profile, 0, visited, out, err);
    /* A profile the user named explicitly that is missing is a mistake, not a reason
     * to fall through to the instance's role. */
    if (rc < 0 && err && err->code == KILN_E_NOTFOUND && strcmp(profile, "default") != 0 &&
        !exists(&f, profile))
        err->code = KILN_E_INVALID;
    free_files(&f);
    return rc;
}

static void profile_describe(struct kiln_aws_credentials_provider *p, char *buf, size_t n)
{
    struct profile_provider *pp = p->impl;
    char *creds = kiln_aws_credentials_file_path(), *config = kiln_aws_config_file_path();
    snprintf(buf, n, "profile %s of %s and %s", kiln_aws_profile_name(pp->profile), creds, config);
    free(creds);
    free(config);
}

static void profile_destroy(struct kiln_aws_credentials_provider *p)
{
    struct profile_provider *pp = p->impl;
    free(pp->profile);
    free(pp->region);
    free(pp->config_endpoint);
    free(pp->ca_bundle);
    free(pp->cache_dir);
    free(pp);
}

static const struct kiln_aws_credentials_provider_vtable profile_vtable = {
    "profile",
    profile_get,
    profile_describe,
    profile_destroy,
};

static char *dup_or_null(const char *s)
{
    return s && s[0] ? xstrdup(s) : NULL;
}

struct kiln_aws_credentials_provider *
kiln_aws_credentials_provider_profile_new(const struct kiln_aws_credentials_options *o)
{
    struct profile_provider *pp = xcalloc(1, sizeof *pp);
    if (o) {
        pp->profile = dup_or_null(o->profile);
        pp->region = dup_or_null(o->region);
        pp->config_endpoint = dup_or_null(o->config_endpoint);
        pp->ca_bundle = dup_or_null(o->ca_bundle);
        pp->cache_dir = dup_or_null(o->cache_dir);
        pp->allow_http = o->allow_http_endpoints;
        pp->imds_timeout_ms = o->imds_timeout_ms;
    }
    return kiln_aws_credentials_provider_new(&profile_vtable, pp);
}
