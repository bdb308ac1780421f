/* kiln: HTTP to AWS with libcurl.
 *
 * One struct kiln_aws_http owns one CURL handle, reused request after request so the
 * TLS connection is kept (a provider is used by one thread at a time, so this is one
 * handle per thread). TLS peer and host verification are always on; [aws] ca_bundle
 * adds a CA file. The standard proxy variables (https_proxy, no_proxy...) are honoured,
 * as curl does; no redirects are followed; only http and https.
 *
 * kiln_aws_http_send signs each attempt with SigV4 (fresh date, fresh credentials from
 * the provider) and retries, with full-jitter exponential backoff (sleep a random time
 * in [0, min(cap, base * 2^attempt)), base 100 ms, cap 5 s), on throttling error codes,
 * HTTP 429 and 5xx, connection failures and timeouts, at most max_attempts times (8).
 * Whether a call is safe to repeat is the caller's business (ClientToken, idempotent
 * Describe* calls).
 *
 * The debug log (kiln_aws_log_fn) gets one line per request, retry and response. It
 * never contains the Authorization or X-Amz-Security-Token headers, a secret key, a
 * session token, or form values that may hold secrets (UserData, passwords): they are
 * replaced by "<redacted>" before the line is made.
 *
 * Test hooks: KILN_AWS_BACKOFF_SCALE (a factor, e.g. 0.01) shortens every backoff sleep;
 * kiln_aws_http_set_backoff() sets base and cap directly. */
#ifndef KILN_AWS_HTTP_H
#define KILN_AWS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/aws_credentials.h"
#include "kiln/aws_endpoint.h"
#include "kiln/aws_error.h"
#include "kiln/aws_sigv4.h"
#include "kiln/err.h"
#include "kiln/strbuf.h"

typedef void (*kiln_aws_log_fn)(void *ctx, const char *line);

struct kiln_aws_http_options {
    const char *ca_bundle;      /* extra CA file (PEM), or NULL */
    int64_t connect_timeout_ms; /* 0: 5000 */
    int64_t timeout_ms;         /* whole request; 0: 60000 */
    int max_attempts;           /* 0: 8 */
    bool no_proxy;              /* never through a proxy (instance metadata) */
    kiln_aws_log_fn log;        /* debug log, or NULL */
    void *log_ctx;
};

struct kiln_aws_http;

/* Fails only when curl cannot be set up, or ca_bundle is not a readable file. */
struct kiln_aws_http *kiln_aws_http_new(const struct kiln_aws_http_options *o,
                                        struct kiln_err *err);
void kiln_aws_http_free(struct kiln_aws_http *h);

void kiln_aws_http_set_log(struct kiln_aws_http *h, kiln_aws_log_fn log, void *ctx);
/* Backoff base and cap in ms (tests). */
void kiln_aws_http_set_backoff(struct kiln_aws_http *h, int64_t base_ms, int64_t cap_ms);
/* Requests sent, retries included, since kiln_aws_http_new (for the bench). */
uint64_t kiln_aws_http_requests(const struct kiln_aws_http *h);

struct kiln_aws_http_response {
    long status; /* 0 when no response came */
    struct kiln_strbuf body;
    char request_id[128]; /* x-amzn-RequestId / x-amz-request-id */
    int attempts;
    struct kiln_aws_error error; /* when the call failed with an AWS error */
};

void kiln_aws_http_response_free(struct kiln_aws_http_response *r);

/* A signed AWS request. */
struct kiln_aws_request {
    const struct kiln_aws_endpoint *endpoint;
    const char *action;       /* for messages and the log: "DescribeAutoScalingGroups" */
    const char *method;       /* "POST", "GET", ... */
    const char *path;         /* below the endpoint's base path; NULL: "/" */
    const char *query;        /* encoded, after '?', or NULL */
    const char *content_type; /* or NULL */
    const char *body;
    size_t body_len;
};

/* Sends req signed with creds' credentials, retrying as above. 0 on a 2xx answer (body
 * in resp); -1 otherwise, with resp->error filled for AWS errors and err saying
 * "Code: Message (Action, request id ID)", or what failed on the way. The caller frees
 * resp (also on failure). */
int kiln_aws_http_send(struct kiln_aws_http *h, struct kiln_aws_credentials_provider *creds,
                       const struct kiln_aws_request *req, struct kiln_aws_http_response *resp,
                       struct kiln_err *err);

/* One unsigned exchange, no retries (instance metadata, package uploads): 0 when a
 * response came, whatever its status; -1 when none did. */
int kiln_aws_http_exchange(struct kiln_aws_http *h, const char *method, const char *url,
                           const struct kiln_aws_header *headers, size_t n_headers,
                           const void *body, size_t body_len, struct kiln_aws_http_response *resp,
                           struct kiln_err *err);

/* Copies text into out with secrets replaced by "<redacted>": the values of XML
 * elements and JSON members named SecretAccessKey, SessionToken, Token, ... and of form
 * parameters named *Password*, *Secret*, *Token* (but NextToken), UserData. */
void kiln_aws_redact(struct kiln_strbuf *out, const char *text, size_t len);

#endif
