/* kiln: AWS Signature Version 4.
 *
 * Signing runs in stages, each its own function with its own buffer, as in
 * aws-c-auth, so each can be checked against the AWS test vectors
 * (tests/data/aws-sigv4):
 *
 *     struct kiln_aws_sigv4 s;
 *     kiln_aws_sigv4_init(&s, &request, &params);
 *     kiln_aws_sigv4_canonical_request(&s, &err);   // s.canonical_request
 *     kiln_aws_sigv4_string_to_sign(&s);            // s.string_to_sign
 *     kiln_aws_sigv4_signature(&s);                 // s.signature
 *     kiln_aws_sigv4_authorization(&s);             // s.authorization / s.presigned_query
 *     kiln_aws_sigv4_free(&s);
 *
 * or kiln_aws_sigv4_sign() for all four. kiln never signs for S3, so the path is
 * always normalised when asked and always URI-encoded once more (the "double
 * encoding" every service but S3 expects).
 */
#ifndef KILN_AWS_SIGV4_H
#define KILN_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/aws_credentials.h"
#include "kiln/err.h"
#include "kiln/strbuf.h"

struct kiln_aws_header {
    const char *name;
    const char *value; /* may hold line breaks (obsolete folding); signing collapses them */
};

/* The request as it will go on the wire. */
struct kiln_aws_sigv4_request {
    const char *method; /* "GET", "POST" */
    const char *path;   /* as sent, without the query: "/", "/2013-04-01/hostedzone" */
    const char *query;  /* as sent, after the '?', or NULL */
    const struct kiln_aws_header *headers; /* must include Host */
    size_t n_headers;
    const void *body;
    size_t body_len;
};

enum kiln_aws_sigv4_mode {
    KILN_AWS_SIGV4_HEADER, /* Authorization + X-Amz-Date (+ X-Amz-Security-Token) headers */
    KILN_AWS_SIGV4_QUERY,  /* a presigned URL: X-Amz-* query parameters */
};

struct kiln_aws_sigv4_params {
    const struct kiln_aws_credentials *creds;
    const char *region;  /* signing region: "us-east-1" */
    const char *service; /* signing name: "ec2", "autoscaling", "route53" ... */
    int64_t time_us;     /* signing time, µs since the epoch */
    enum kiln_aws_sigv4_mode mode;
    bool normalize_path;        /* remove "." and ".." segments and empty ones */
    bool content_sha256_header; /* add and sign x-amz-content-sha256 (header mode) */
    /* Sign without the session token and add it afterwards (how some STS clients
     * sign); the vectors' "omit_session_token". */
    bool omit_session_token;
    int64_t expires_s; /* query mode: X-Amz-Expires */
};

struct kiln_aws_sigv4 {
    const struct kiln_aws_sigv4_request *req;
    const struct kiln_aws_sigv4_params *params;
    char amz_date[17]; /* "20150830T123600Z" */
    char date[9];      /* "20150830" */
    char payload_hash[65];
    struct kiln_strbuf scope;             /* "20150830/us-east-1/service/aws4_request" */
    struct kiln_strbuf signed_headers;    /* "host;x-amz-date" */
    struct kiln_strbuf canonical_request; /* stage 1 */
    struct kiln_strbuf string_to_sign;    /* stage 2 */
    char signature[65];                   /* stage 3, lowercase hex */
    /* stage 4, header mode: the Authorization value; the headers to add are
     * x-amz-date (amz_date), X-Amz-Security-Token (creds->session_token, when set) and,
     * when asked, x-amz-content-sha256 (payload_hash). */
    struct kiln_strbuf authorization;
    /* stage 4, query mode: the whole query string to send (the request's own
     * parameters, then the X-Amz-* ones). */
    struct kiln_strbuf presigned_query;
};

/* Nothing here allocates until a stage runs; req and params must outlive s. */
void kiln_aws_sigv4_init(struct kiln_aws_sigv4 *s, const struct kiln_aws_sigv4_request *req,
                         const struct kiln_aws_sigv4_params *params);
void kiln_aws_sigv4_free(struct kiln_aws_sigv4 *s);

/* Stage 1: method, canonical URI, canonical query string, canonical headers, signed
 * headers, payload hash. Fails (KILN_E_INVALID) only on a request without Host or
 * with a header name that is not a token. */
int kiln_aws_sigv4_canonical_request(struct kiln_aws_sigv4 *s, struct kiln_err *err);
/* Stage 2: "AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<hex sha256 of stage 1>". */
void kiln_aws_sigv4_string_to_sign(struct kiln_aws_sigv4 *s);
/* Stage 3: the HMAC-SHA256 key chain (date, region, service, "aws4_request"). */
void kiln_aws_sigv4_signature(struct kiln_aws_sigv4 *s);
/* Stage 4: the Authorization value or the presigned query string. */
void kiln_aws_sigv4_authorization(struct kiln_aws_sigv4 *s);

/* All four stages. */
int kiln_aws_sigv4_sign(struct kiln_aws_sigv4 *s, struct kiln_err *err);

/* RFC 3986 percent-encoding as SigV4 wants it: every byte but A-Z a-z 0-9 - . _ ~
 * becomes %XX (uppercase hex); '/' is kept when keep_slash. Also right for Query API
 * form bodies. */
void kiln_aws_uri_encode(struct kiln_strbuf *out, const char *s, size_t n, bool keep_slash);

/* Lowercase hex SHA-256 of data into hex[65]. */
void kiln_aws_sha256_hex(const void *data, size_t n, char hex[65]);

#endif
