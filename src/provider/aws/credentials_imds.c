/* kiln: credentials of the EC2 instance's role, from instance metadata (IMDSv2).
 *
 *   PUT  /latest/api/token                              X-aws-ec2-metadata-token-ttl-seconds
 *   GET  /latest/meta-data/iam/security-credentials/     -> the role name
 *   GET  /latest/meta-data/iam/security-credentials/ROLE -> JSON with the keys
 * the last two with X-aws-ec2-metadata-token. Each request has a short timeout (1 s)
 * and is tried once, so on a laptop, where 169.254.169.254 answers nothing, the chain
 * gives up within about a second. Never through a proxy: a proxy must not see these
 * answers. */
#include "kiln/aws_credentials.h"
#include "kiln/aws_http.h"
#include "kiln/aws_xml.h"
#include "provider/aws/credentials_private.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#define DEFAULT_ENDPOINT   "http://169.254.169.254"
#define DEFAULT_TIMEOUT_MS 1000
#define TOKEN_TTL_S        "21600"
#define CREDS_PATH         "/latest/meta-data/iam/security-credentials/"

struct imds_provider {
    int64_t timeout_ms;
};

static char *endpoint(void)
{
    const char *e = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (e == NULL || e[0] == '\0')
        e = DEFAULT_ENDPOINT;
    size_t n = strlen(e);
    while (n > 0 && e[n - 1] == '/')
        n--;
    return xstrndup(e, n);
}

static bool disabled(void)
{
    const char *v = getenv("AWS_EC2_METADATA_DISABLED");
    return v && strcasecmp(v, "true") == 0;
}

/* One request; the body on a 200, else -1 (and NOTFOUND: no instance metadata here). */
static int fetch(struct kiln_aws_http *h, const char *method, const char *url,
                 const struct kiln_aws_header *hdr, size_t nh, struct kiln_strbuf *body,
                 struct kiln_err *err)
{
    struct kiln_aws_http_response r = {0};
    int rc = kiln_aws_http_exchange(h, method, url, hdr, nh, NULL, 0, &r, err);
    if (rc == 0 && r.status != 200)
        rc = kiln_err_set(err, KILN_E_NOTFOUND, "instance metadata answered %s with HTTP %ld", url,
                          r.status);
    else if (rc < 0)
        err->code = KILN_E_NOTFOUND; /* nothing answers: not on EC2 */
    else
        kiln_strbuf_append_len(body, r.body.buf ? r.body.buf : "", r.body.len);
    kiln_aws_http_response_free(&r);
    return rc;
}

static int imds_get(struct kiln_aws_credentials_provider *p, struct kiln_aws_credentials *out,
                    struct kiln_err *err)
{
    struct imds_provider *ip = p->impl;
    if (disabled())
        return kiln_err_set(err, KILN_E_NOTFOUND,
                            "instance metadata is off (AWS_EC2_METADATA_DISABLED)");
    struct kiln_err local = {0};
    if (err == NULL)
        err = &local;
    struct kiln_aws_http_options ho = {
        .connect_timeout_ms = ip->timeout_ms,
        .timeout_ms = ip->timeout_ms,
        .max_attempts = 1,
        .no_proxy = true,
    };
    struct kiln_aws_http *h = kiln_aws_http_new(&ho, err);
    if (h == NULL)
        return -1;
    char *base = endpoint(), *url = NULL;
    struct kiln_strbuf token = KILN_STRBUF_INIT, role = KILN_STRBUF_INIT, doc = KILN_STRBUF_INIT;
    int rc = -1;

    url = xasprintf("%s/latest/api/token", base);
    struct kiln_aws_header ttl = {"X-aws-ec2-metadata-token-ttl-seconds", TOKEN_TTL_S};
    if (fetch(h, "PUT", url, &ttl, 1, &token, err) < 0)
        goto out;
    free(url);
    struct kiln_aws_header th = {"X-aws-ec2-metadata-token", kiln_strbuf_str(&token)};
    url = xasprintf("%s" CREDS_PATH, base);
    if (fetch(h, "GET", url, &th, 1, &role, err) < 0)
        goto out;
    /* The first line is the role (an instance has at most one). */
    size_t rl = strcspn(kiln_strbuf_str(&role), "\r\n");
    kiln_strbuf_truncate(&role, rl);
    if (role.len == 0) {
        kiln_err_set(err, KILN_E_NOTFOUND, "this instance has no IAM role");
        goto out;
    }
    free(url);
    struct kiln_strbuf enc = KILN_STRBUF_INIT;
    kiln_aws_uri_encode(&enc, role.buf, role.len, false);
    url = xasprintf("%s" CREDS_PATH "%s", base, kiln_strbuf_str(&enc));
    kiln_strbuf_free(&enc);
    if (fetch(h, "GET", url, &th, 1, &doc, err) < 0)
        goto out;

    cJSON *j = cJSON_Parse(kiln_strbuf_str(&doc));
    const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(j, "Code"));
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(j, "AccessKeyId"));
    const char *secret = cJSON_GetStringValue(cJSON_GetObjectItem(j, "SecretAccessKey"));
    const char *tok = cJSON_GetStringValue(cJSON_GetObjectItem(j, "Token"));
    const char *exp = cJSON_GetStringValue(cJSON_GetObjectItem(j, "Expiration"));
    int64_t exp_us = 0;
    if (code && strcmp(code, "Success") != 0) {
        /* Not NOTFOUND: this is an instance with a role whose keys cannot be had. */
        kiln_err_set(err, KILN_E_FAILED,
                     "instance metadata has no credentials for role %s (Code %s)",
                     kiln_strbuf_str(&role), code);
    } else if (!id || !secret || !tok || !exp || kiln_aws_parse_timestamp(exp, &exp_us) < 0) {
        kiln_err_set(err, KILN_E_FAILED,
                     "instance metadata's credentials for role %s are not the JSON kiln "
                     "expects (AccessKeyId, SecretAccessKey, Token, Expiration)",
                     kiln_strbuf_str(&role));
    } else {
        char source[96];
        snprintf(source, sizeof source, "instance role %.70s", kiln_strbuf_str(&role));
        kiln_aws_credentials_set(out, id, secret, tok, exp_us, source);
        rc = 0;
    }
    if (secret)
        OPENSSL_cleanse((char *)secret, strlen(secret));
    if (tok)
        OPENSSL_cleanse((char *)tok, strlen(tok));
    cJSON_Delete(j);
out:
    if (doc.buf)
        OPENSSL_cleanse(doc.buf, doc.cap);
    if (token.buf)
        OPENSSL_cleanse(token.buf, token.cap);
    kiln_strbuf_free(&doc);
    kiln_strbuf_free(&token);
    kiln_strbuf_free(&role);
    free(url);
    free(base);
    kiln_aws_http_free(h);
    return rc;
}

static void imds_describe(struct kiln_aws_credentials_provider *p, char *buf, size_t n)
{
    char *base = endpoint();
    if (disabled())
        snprintf(buf, n, "instance metadata (off: AWS_EC2_METADATA_DISABLED)");
    else
        snprintf(buf, n, "instance metadata at %s", base);
    free(base);
}

static void imds_destroy(struct kiln_aws_credentials_provider *p)
{
    free(p->impl);
}

static const struct kiln_aws_credentials_provider_vtable imds_vtable = {
    "imds",
    imds_get,
    imds_describe,
    imds_destroy,
};

struct kiln_aws_credentials_provider *
kiln_aws_credentials_provider_imds_new(const struct kiln_aws_credentials_options *o)
{
    struct imds_provider *ip = xcalloc(1, sizeof *ip);
    ip->timeout_ms = o && o->imds_timeout_ms > 0 ? o->imds_timeout_ms : DEFAULT_TIMEOUT_MS;
    return kiln_aws_credentials_provider_new(&imds_vtable, ip);
}
