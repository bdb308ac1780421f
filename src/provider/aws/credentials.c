/* kiln: AWS credentials, the provider plumbing, the static provider, the default chain,
 * and the profile and region names (see kiln/aws_credentials.h). The sources
 * themselves live one per file: credentials_env.c, credentials_profile.c,
 * credentials_imds.c. */
#include "kiln/aws_credentials.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"
#include "provider/aws/credentials_private.h"
#include "provider/aws/profile_file.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* Refresh credentials this long before they expire, so a request signed just before
 * the expiry does not arrive just after it (the AWS SDKs use 5 to 15 minutes). */
#define REFRESH_MARGIN_MS (5 * 60 * 1000)

static void wipe_free(char *s)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

void kiln_aws_credentials_clear(struct kiln_aws_credentials *c)
{
    if (c == NULL)
        return;
    free(c->access_key_id);
    wipe_free(c->secret_access_key);
    wipe_free(c->session_token);
    memset(c, 0, sizeof *c);
}

void kiln_aws_credentials_set(struct kiln_aws_credentials *c, const char *access_key_id,
                              const char *secret_access_key, const char *session_token,
                              int64_t expiration_us, const char *source)
{
    memset(c, 0, sizeof *c);
    c->access_key_id = xstrdup(access_key_id ? access_key_id : "");
    c->secret_access_key = xstrdup(secret_access_key ? secret_access_key : "");
    c->session_token = session_token && session_token[0] ? xstrdup(session_token) : NULL;
    c->expiration_us = expiration_us;
    snprintf(c->source, sizeof c->source, "%s", source ? source : "");
}

void kiln_aws_credentials_copy(struct kiln_aws_credentials *dst,
                               const struct kiln_aws_credentials *src)
{
    kiln_aws_credentials_set(dst, src->access_key_id, src->secret_access_key, src->session_token,
                             src->expiration_us, src->source);
}

bool kiln_aws_credentials_expiring(const struct kiln_aws_credentials *c, int64_t now_us,
                                   int64_t margin_ms)
{
    return c->expiration_us != 0 && c->expiration_us - margin_ms * 1000 <= now_us;
}

char *kiln_aws_credentials_describe(const struct kiln_aws_credentials *c,
                                    char buf[KILN_AWS_CREDS_DESCRIBE_MAX])
{
    /* Four characters tell AKIA (long-term) from ASIA (temporary) and little else. */
    const char *id = c && c->access_key_id ? c->access_key_id : "";
    char expires[KILN_ISO_TIME_MAX + 16] = "";
    if (c && c->expiration_us != 0) {
        char iso[KILN_ISO_TIME_MAX];
        snprintf(expires, sizeof expires, ", expires %s", kiln_time_iso(c->expiration_us, iso));
    }
    snprintf(buf, KILN_AWS_CREDS_DESCRIBE_MAX, "%.4s\u2026 (%s%s%s%s)", id,
             c && c->session_token ? "session token" : "long-term key", expires,
             c && c->source[0] ? ", from " : "", c ? c->source : "");
    return buf;
}

/* ---- the provider plumbing ---- */

struct kiln_aws_credentials_provider *
kiln_aws_credentials_provider_acquire(struct kiln_aws_credentials_provider *p)
{
    if (p)
        __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
    return p;
}

void kiln_aws_credentials_provider_release(struct kiln_aws_credentials_provider *p)
{
    if (p == NULL || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    if (p->vtable->destroy)
        p->vtable->destroy(p);
    free(p);
}

int kiln_aws_credentials_get(struct kiln_aws_credentials_provider *p,
                             struct kiln_aws_credentials *out, struct kiln_err *err)
{
    memset(out, 0, sizeof *out);
    if (p == NULL)
        return kiln_err_set(err, KILN_E_NOTFOUND, "no AWS credentials provider was set up");
    return p->vtable->get(p, out, err);
}

struct kiln_aws_credentials_provider *
kiln_aws_credentials_provider_new(const struct kiln_aws_credentials_provider_vtable *vt, void *impl)
{
    struct kiln_aws_credentials_provider *p = xcalloc(1, sizeof *p);
    p->vtable = vt;
    p->impl = impl;
    p->refs = 1;
    return p;
}

/* ---- static ---- */

static int static_get(struct kiln_aws_credentials_provider *p, struct kiln_aws_credentials *out,
                      struct kiln_err *err)
{
    kiln_aws_credentials_copy(out, p->impl);
    return 0;
}

static void static_describe(struct kiln_aws_credentials_provider *p, char *buf, size_t n)
{
    snprintf(buf, n, "the credentials given to kiln");
}

static void static_destroy(struct kiln_aws_credentials_provider *p)
{
    kiln_aws_credentials_clear(p->impl);
    free(p->impl);
}

static const struct kiln_aws_credentials_provider_vtable static_vtable = {
    "static",
    static_get,
    static_describe,
    static_destroy,
};

struct kiln_aws_credentials_provider *
kiln_aws_credentials_provider_static_new(const struct kiln_aws_credentials *c)
{
    struct kiln_aws_credentials *copy = xcalloc(1, sizeof *copy);
    kiln_aws_credentials_copy(copy, c);
    return kiln_aws_credentials_provider_new(&static_vtable, copy);
}

/* ---- the default chain ---- */

struct chain {
    struct kiln_aws_credentials_provider *links[3];
    size_t n;
    pthread_mutex_t lock; /* one refresh at a time: other threads wait for its result */
    struct kiln_aws_credentials cached;
    bool have_cached;
};

static int chain_get(struct kiln_aws_credentials_provider *p, struct kiln_aws_credentials *out,
                     struct kiln_err *err)
{
    struct chain *ch = p->impl;
    int rc = -1;
    pthread_mutex_lock(&ch->lock);
    int64_t now = kiln_now_us();
    if (ch->have_cached && !kiln_aws_credentials_expiring(&ch->cached, now, REFRESH_MARGIN_MS)) {
        kiln_aws_credentials_copy(out, &ch->cached);
        rc = 0;
        goto out;
    }
    struct kiln_err link_err = {0};
    for (size_t i = 0; i < ch->n; i++) {
        struct kiln_aws_credentials got = {0};
        kiln_err_clear(&link_err);
        if (ch->links[i]->vtable->get(ch->links[i], &got, &link_err) == 0) {
            kiln_aws_credentials_clear(&ch->cached);
            ch->cached = got;
            ch->have_cached = true;
            kiln_aws_credentials_copy(out, &ch->cached);
            rc = 0;
            goto out;
        }
        kiln_aws_credentials_clear(&got);
        if (link_err.code != KILN_E_NOTFOUND)
            break; /* the user asked for this source and it failed: say why */
    }
    /* A refresh that fails while the old keys are still valid is not an outage yet. */
    if (ch->have_cached && !kiln_aws_credentials_expiring(&ch->cached, now, 0)) {
        kiln_aws_credentials_copy(out, &ch->cached);
        rc = 0;
        goto out;
    }
    if (link_err.code != KILN_E_NOTFOUND && link_err.code != KILN_OK) {
        if (err)
            *err = link_err;
        goto out;
    }
    char where[3][256];
    for (size_t i = 0; i < ch->n; i++)
        ch->links[i]->vtable->describe_search(ch->links[i], where[i], sizeof where[i]);
    if (ch->n == 3)
        kiln_err_set(err, KILN_E_NOTFOUND,
                     "no AWS credentials found: kiln looked in %s, in %s, and in %s; set "
                     "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add the keys to that "
                     "profile (aws configure)",
                     where[0], where[1], where[2]);
    else
        kiln_err_set(err, KILN_E_NOTFOUND,
                     "no AWS credentials found: kiln looked in %s and in %s; add the keys to "
                     "that profile (aws configure) or pick another with --profile",
                     where[0], where[1]);
out:
    pthread_mutex_unlock(&ch->lock);
    return rc;
}

static void chain_describe(struct kiln_aws_credentials_provider *p, char *buf, size_t n)
{
    snprintf(buf, n, "the default credentials chain");
}

static void chain_destroy(struct kiln_aws_credentials_provider *p)
{
    struct chain *ch = p->impl;
    for (size_t i = 0; i < ch->n; i++)
        kiln_aws_credentials_provider_release(ch->links[i]);
    kiln_aws_credentials_clear(&ch->cached);
    pthread_mutex_destroy(&ch->lock);
    free(ch);
}

static const struct kiln_aws_credentials_provider_vtable chain_vtable = {
    "chain",
    chain_get,
    chain_describe,
    chain_destroy,
};

struct kiln_aws_credentials_provider *
kiln_aws_credentials_provider_chain_default_new(const struct kiln_aws_credentials_options *o)
{
    struct chain *ch = xcalloc(1, sizeof *ch);
    pthread_mutex_init(&ch->lock, NULL);
    /* The AWS CLI: an explicit --profile beats the environment's keys. */
    if (o == NULL || o->profile == NULL || o->profile[0] == '\0')
        ch->links[ch->n++] = kiln_aws_credentials_provider_env_new();
    ch->links[ch->n++] = kiln_aws_credentials_provider_profile_new(o);
    ch->links[ch->n++] = kiln_aws_credentials_provider_imds_new(o);
    return kiln_aws_credentials_provider_new(&chain_vtable, ch);
}

/* ---- profile and region names ---- */

const char *kiln_aws_profile_name(const char *explicit_profile)
{
    if (explicit_profile && explicit_profile[0])
        return explicit_profile;
    const char *env = getenv("AWS_PROFILE");
    if (env && env[0])
        return env;
    env = getenv("AWS_DEFAULT_PROFILE");
    if (env && env[0])
        return env;
    return "default";
}

int kiln_aws_resolve_region(const char *explicit_region, const char *config_region,
                            const char *profile, char *buf, size_t n, struct kiln_err *err)
{
    const char *candidates[] = {explicit_region, getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"),
                                config_region};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (candidates[i] && candidates[i][0]) {
            snprintf(buf, n, "%s", candidates[i]);
            return 0;
        }
    }
    const char *name = kiln_aws_profile_name(profile);
    char *config_path = kiln_aws_config_file_path();
    struct kiln_aws_profile_file *f = NULL;
    if (kiln_aws_profile_file_load(config_path, true, &f, err) < 0) {
        free(config_path);
        return -1;
    }
    const char *region = kiln_aws_profile_get(f, name, "region");
    int rc = 0;
    if (region && region[0])
        snprintf(buf, n, "%s", region);
    else
        rc = kiln_err_set(err, KILN_E_NOTFOUND,
                          "no AWS region set: kiln looked at --region, AWS_REGION, "
                          "AWS_DEFAULT_REGION, [aws] region in kiln's config and profile %s in "
                          "%s; set one of them (e.g. AWS_REGION=us-east-1)",
                          name, config_path);
    kiln_aws_profile_file_free(f);
    free(config_path);
    return rc;
}
