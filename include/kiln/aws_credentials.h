/* kiln: AWS credentials and where they come from.
 *
 * A credentials provider answers "which keys do I sign with now?". There is one
 * per source, as in aws-c-auth (one file each under src/provider/aws/):
 *
 *   environment   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *   profile       ~/.aws/credentials and ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE,
 *                 AWS_CONFIG_FILE), static keys or role_arn + source_profile /
 *                 credential_source through STS AssumeRole
 *   imds          EC2 instance metadata (IMDSv2: a session token, then the role's keys)
 *   chain         the three in the AWS CLI's order, the first that has keys wins, and
 *                 the result cached until shortly before it expires
 *
 * Providers are reference counted (acquire/release, as aws-c-auth) and thread-safe:
 * the job workers and the refresher share one chain, so an assumed role is asked
 * for once, not once per thread.
 *
 * Secrets: the secret key and the session token are never printed, logged or put in
 * an error message. kiln_aws_credentials_describe() is the only way credentials
 * reach a log line; it shows the first 4 characters of the key id and nothing else
 * secret. Freeing credentials wipes the secrets' memory.
 */
#ifndef KILN_AWS_CREDENTIALS_H
#define KILN_AWS_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/err.h"

struct kiln_aws_credentials {
    char *access_key_id;     /* "AKIA..." / "ASIA..." */
    char *secret_access_key; /* never printed */
    char *session_token;     /* NULL for long-term keys; never printed */
    int64_t expiration_us;   /* µs since the epoch; 0 = does not expire */
    char source[160];        /* where they came from: "environment", "profile dev", ... */
};

/* Wipes and frees the strings; leaves c zeroed. NULL is fine. */
void kiln_aws_credentials_clear(struct kiln_aws_credentials *c);

/* Deep copy into dst (which is overwritten, not freed first). */
void kiln_aws_credentials_copy(struct kiln_aws_credentials *dst,
                               const struct kiln_aws_credentials *src);

/* Fills c from the three strings (copied); token may be NULL or "". */
void kiln_aws_credentials_set(struct kiln_aws_credentials *c, const char *access_key_id,
                              const char *secret_access_key, const char *session_token,
                              int64_t expiration_us, const char *source);

/* Whether c expires within margin_ms of now_us (never for expiration 0). */
bool kiln_aws_credentials_expiring(const struct kiln_aws_credentials *c, int64_t now_us,
                                   int64_t margin_ms);

#define KILN_AWS_CREDS_DESCRIBE_MAX 256

/* For logs and `kiln aws whoami`: "AKID… (session token, expires 2026-11-26T06:16:08Z,
 * from profile dev)". Only the first 4 characters of the key id appear; the secret
 * and the token never do. Returns buf. */
char *kiln_aws_credentials_describe(const struct kiln_aws_credentials *c,
                                    char buf[KILN_AWS_CREDS_DESCRIBE_MAX]);

/* ---- providers ---- */

struct kiln_aws_credentials_provider;

struct kiln_aws_credentials_provider_vtable {
    const char *name; /* "environment", "profile", "imds", "chain", "static" */
    /* Fills *out (the caller clears it). Returns 0, or -1 with err; a source that simply
     * has nothing to offer fails with KILN_E_NOTFOUND so a chain moves on, anything else
     * (a profile that names a role STS refuses) stops the chain: the user asked for it. */
    int (*get)(struct kiln_aws_credentials_provider *p, struct kiln_aws_credentials *out,
               struct kiln_err *err);
    /* Where it looked, for the "no credentials" sentence: "AWS_ACCESS_KEY_ID". */
    void (*describe_search)(struct kiln_aws_credentials_provider *p, char *buf, size_t n);
    void (*destroy)(struct kiln_aws_credentials_provider *p);
};

struct kiln_aws_credentials_provider {
    const struct kiln_aws_credentials_provider_vtable *vtable;
    void *impl;
    int refs; /* atomic */
};

/* Thread-safe. Each returns its provider; a NULL provider is ignored. */
struct kiln_aws_credentials_provider *
kiln_aws_credentials_provider_acquire(struct kiln_aws_credentials_provider *p);
void kiln_aws_credentials_provider_release(struct kiln_aws_credentials_provider *p);

/* Asks p for credentials (thread-safe); the caller clears *out. */
int kiln_aws_credentials_get(struct kiln_aws_credentials_provider *p,
                             struct kiln_aws_credentials *out, struct kiln_err *err);

/* Settings shared by the providers that need more than the environment. */
struct kiln_aws_credentials_options {
    const char *profile;         /* --profile or [aws] profile; NULL: AWS_PROFILE, "default" */
    const char *region;          /* region for STS when the profile has none; may be NULL */
    const char *config_endpoint; /* [aws] endpoint (see aws_endpoint.h); may be NULL */
    bool allow_http_endpoints;
    const char *ca_bundle; /* may be NULL */
    /* Assumed-role credentials are also kept in a 0600 file here (a 0700 directory),
     * so the next kiln process does not call STS again; NULL: memory only. */
    const char *cache_dir;
    int64_t imds_timeout_ms; /* each IMDS request; 0: 1000 ms */
};

/* Fixed credentials (tests, or ones the caller got elsewhere). Copies c. */
struct kiln_aws_credentials_provider *
kiln_aws_credentials_provider_static_new(const struct kiln_aws_credentials *c);

/* AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), read at each get. */
struct kiln_aws_credentials_provider *kiln_aws_credentials_provider_env_new(void);

/* A named profile of the shared files (see the top of this header). */
struct kiln_aws_credentials_provider *
kiln_aws_credentials_provider_profile_new(const struct kiln_aws_credentials_options *o);

/* EC2 instance metadata, IMDSv2. Endpoint http://169.254.169.254, or
 * AWS_EC2_METADATA_SERVICE_ENDPOINT; AWS_EC2_METADATA_DISABLED=true turns it off. */
struct kiln_aws_credentials_provider *
kiln_aws_credentials_provider_imds_new(const struct kiln_aws_credentials_options *o);

/* The default chain: environment, profile, instance metadata; results cached until
 * 5 minutes before they expire. With an explicit --profile (o->profile set) the
 * environment's keys are skipped, as the AWS CLI does. */
struct kiln_aws_credentials_provider *
kiln_aws_credentials_provider_chain_default_new(const struct kiln_aws_credentials_options *o);

/* The profile kiln uses: explicit (non-empty), else AWS_PROFILE, else
 * AWS_DEFAULT_PROFILE, else "default". */
const char *kiln_aws_profile_name(const char *explicit_profile);

/* The region: explicit (--region), else AWS_REGION, else AWS_DEFAULT_REGION, else
 * config_region ([aws] region), else the profile's `region` in ~/.aws/config. Fails with
 * one sentence naming where it looked when none is set. */
int kiln_aws_resolve_region(const char *explicit_region, const char *config_region,
                            const char *profile, char *buf, size_t n, struct kiln_err *err);

/* Test hook: forgets every assumed-role result cached in memory. */
void kiln_aws_credentials_cache_flush(void);

#endif
