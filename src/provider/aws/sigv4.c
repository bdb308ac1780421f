/* kiln: AWS Signature Version 4, in aws-c-auth's stages (see kiln/aws_sigv4.h).
 *
 * Every stage writes its own buffer in struct kiln_aws_sigv4 so the unit test can
 * compare each one with the AWS test suite's expected file; a mismatch then points
 * at the stage that is wrong rather than at "the signature differs". */
#include "kiln/aws_sigv4.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define ALGORITHM "AWS4-HMAC-SHA256"

static const char hexdigits_upper[] = "0123456789ABCDEF";
static const char hexdigits_lower[] = "0123456789abcdef";

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

void kiln_aws_uri_encode(struct kiln_strbuf *out, const char *s, size_t n, bool keep_slash)
{
    kiln_strbuf_grow(out, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            kiln_strbuf_appendc(out, (char)c);
        } else {
            char esc[3] = {'%', hexdigits_upper[c >> 4], hexdigits_upper[c & 15]};
            kiln_strbuf_append_len(out, esc, 3);
        }
    }
}

static void to_hex(const unsigned char *bin, size_t n, char *hex)
{
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = hexdigits_lower[bin[i] >> 4];
        hex[2 * i + 1] = hexdigits_lower[bin[i] & 15];
    }
    hex[2 * n] = '\0';
}

void kiln_aws_sha256_hex(const void *data, size_t n, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
        kiln_oom(n); /* libcrypto fails here only when it cannot allocate */
    to_hex(md, 32, hex);
}

static void hmac_sha256(const void *key, size_t key_len, const void *data, size_t n,
                        unsigned char out[32])
{
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), key, (int)key_len, data, n, out, &len) == NULL || len != 32)
        kiln_oom(n);
}

void kiln_aws_sigv4_init(struct kiln_aws_sigv4 *s, const struct kiln_aws_sigv4_request *req,
                         const struct kiln_aws_sigv4_params *params)
{
    memset(s, 0, sizeof *s);
    s->req = req;
    s->params = params;
}

void kiln_aws_sigv4_free(struct kiln_aws_sigv4 *s)
{
    kiln_strbuf_free(&s->scope);
    kiln_strbuf_free(&s->signed_headers);
    kiln_strbuf_free(&s->canonical_request);
    kiln_strbuf_free(&s->string_to_sign);
    kiln_strbuf_free(&s->authorization);
    kiln_strbuf_free(&s->presigned_query);
}

/* ---- stage 1: the canonical request ---- */

static bool ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* Removes "." and ".." segments and empty segments ("//"), keeping a trailing slash:
 * "/a/./b/../c//" -> "/a/c/". The vectors' *-normalized cases are exactly these rules.
 * Only '/' separates segments: an encoded "%2F" stays part of its segment. */
static char *normalize_path(const char *path)
{
    size_t len = strlen(path);
    /* Segment start offsets in out, a stack for "..". */
    size_t *starts = xcalloc(len + 1, sizeof *starts);
    size_t depth = 0;
    struct kiln_strbuf out = KILN_STRBUF_INIT;
    /* A path ending in "/", "/." or "/.." names a directory: keep its slash. */
    bool trailing = (len > 0 && path[len - 1] == '/') || ends_with(path, len, "/.") ||
                    ends_with(path, len, "/..");
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *seg = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - seg);
        if (n == 0 || (n == 1 && seg[0] == '.'))
            continue;
        if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            if (depth > 0)
                kiln_strbuf_truncate(&out, starts[--depth]);
            continue;
        }
        starts[depth++] = out.len;
        kiln_strbuf_appendc(&out, '/');
        kiln_strbuf_append_len(&out, seg, n);
    }
    /* "/a/.." leaves nothing: that is the root, and the root already ends in '/'. */
    if (out.len == 0 || trailing)
        kiln_strbuf_appendc(&out, '/');
    free(starts);
    return kiln_strbuf_detach(&out, NULL);
}

static void canonical_uri(struct kiln_strbuf *out, const char *path, bool normalize)
{
    if (path == NULL || path[0] == '\0')
        path = "/";
    char *norm = normalize ? normalize_path(path) : xstrdup(path);
    kiln_aws_uri_encode(out, norm, strlen(norm), true);
    free(norm);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) ("%41" -> "A"; a stray '%' stays as it is). '+' is kept:
 * kiln never writes a space as '+', and AWS reads a literal '+' as a plus. */
static void uri_decode(struct kiln_strbuf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            kiln_strbuf_appendc(out, (char)(hi * 16 + lo));
            i += 2;
        } else {
            kiln_strbuf_appendc(out, s[i]);
        }
    }
}

struct query_param {
    char *key;   /* encoded */
    char *value; /* encoded */
};

static int compare_params(const void *a, const void *b)
{
    const struct query_param *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c != 0 ? c : strcmp(x->value, y->value);
}

/* Decodes then re-encodes each name and value, so a query written with raw UTF-8 and
 * one written already encoded sign the same; sorts by name, then value. */
static void add_query_params(struct query_param **params, size_t *n, size_t *cap, const char *query)
{
    const char *p = query;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            struct kiln_strbuf dec = KILN_STRBUF_INIT, enc = KILN_STRBUF_INIT;
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 8;
                *params = xrealloc(*params, *cap * sizeof **params);
            }
            uri_decode(&dec, p, klen);
            kiln_aws_uri_encode(&enc, dec.buf ? dec.buf : "", dec.len, false);
            (*params)[*n].key = kiln_strbuf_detach(&enc, NULL);
            kiln_strbuf_reset(&dec);
            if (eq)
                uri_decode(&dec, eq + 1, len - klen - 1);
            kiln_aws_uri_encode(&enc, dec.buf ? dec.buf : "", dec.len, false);
            (*params)[*n].value = kiln_strbuf_detach(&enc, NULL);
            kiln_strbuf_free(&dec);
            (*n)++;
        }
        p = amp ? amp + 1 : NULL;
    }
}

static void push_param(struct query_param **params, size_t *n, size_t *cap, const char *key,
                       const char *value)
{
    struct kiln_strbuf enc = KILN_STRBUF_INIT;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *params = xrealloc(*params, *cap * sizeof **params);
    }
    kiln_aws_uri_encode(&enc, key, strlen(key), false);
    (*params)[*n].key = kiln_strbuf_detach(&enc, NULL);
    kiln_aws_uri_encode(&enc, value, strlen(value), false);
    (*params)[*n].value = kiln_strbuf_detach(&enc, NULL);
    (*n)++;
}

struct canon_header {
    char *name;               /* lowercase */
    struct kiln_strbuf value; /* trimmed, spaces collapsed, duplicates joined with ',' */
    size_t order;             /* first appearance, to keep the sort stable */
};

static int compare_headers(const void *a, const void *b)
{
    const struct canon_header *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c != 0)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Trims and collapses every run of white space (line breaks of a folded value
 * included) into one space: "  a   b\n   c " -> "a b c". */
static void append_trimmed(struct kiln_strbuf *out, const char *v)
{
    bool pending_space = false, any = false;
    for (; *v; v++) {
        if (is_space(*v)) {
            pending_space = any;
            continue;
        }
        if (pending_space)
            kiln_strbuf_appendc(out, ' ');
        pending_space = false;
        any = true;
        kiln_strbuf_appendc(out, *v);
    }
}

static bool is_token_char(unsigned char c)
{
    return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

/* Headers that kiln adds itself while signing, and ones proxies may change in flight:
 * never taken from the caller's list. */
static bool header_is_skipped(const char *lname)
{
    static const char *const skipped[] = {
        "authorization",
        "x-amz-date",
        "x-amz-security-token",
        "x-amz-content-sha256",
        "user-agent",
        "x-amzn-trace-id",
        "expect",
        "connection",
        "transfer-encoding",
    };
    for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++)
        if (strcmp(lname, skipped[i]) == 0)
            return true;
    return false;
}

static void add_header(struct canon_header **hs, size_t *n, const char *lname, const char *value)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*hs)[i].name, lname) == 0) {
            kiln_strbuf_appendc(&(*hs)[i].value, ',');
            append_trimmed(&(*hs)[i].value, value);
            return;
        }
    }
    struct canon_header *h = &(*hs)[(*n)];
    h->name = xstrdup(lname);
    kiln_strbuf_init(&h->value);
    kiln_strbuf_append(&h->value, ""); /* an empty value is still a value */
    append_trimmed(&h->value, value);
    h->order = *n;
    (*n)++;
}

static void credential_scope(struct kiln_aws_sigv4 *s)
{
    const struct kiln_aws_sigv4_params *p = s->params;
    time_t t = (time_t)(p->time_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(s->amz_date, sizeof s->amz_date, "%Y%m%dT%H%M%SZ", &tm);
    strftime(s->date, sizeof s->date, "%Y%m%d", &tm);
    kiln_strbuf_reset(&s->scope);
    kiln_strbuf_appendf(&s->scope, "%s/%s/%s/aws4_request", s->date, p->region, p->service);
}

static bool has_token(const struct kiln_aws_sigv4_params *p)
{
    return p->creds->session_token != NULL && p->creds->session_token[0] != '\0';
}

int kiln_aws_sigv4_canonical_request(struct kiln_aws_sigv4 *s, struct kiln_err *err)
{
    const struct kiln_aws_sigv4_request *r = s->req;
    const struct kiln_aws_sigv4_params *p = s->params;
    bool query_mode = p->mode == KILN_AWS_SIGV4_QUERY;
    int rc = -1;

    credential_scope(s);
    kiln_aws_sha256_hex(r->body ? r->body : "", r->body ? r->body_len : 0, s->payload_hash);

    /* Headers: lowercase names, values trimmed, duplicates joined in order. */
    struct canon_header *hs = xcalloc(r->n_headers + 4, sizeof *hs);
    size_t nh = 0;
    bool have_host = false;
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *name = r->headers[i].name;
        if (name == NULL || name[0] == '\0') {
            kiln_err_set(err, KILN_E_INVALID, "cannot sign the request: a header has no name");
            goto out;
        }
        char *lname = xstrdup(name);
        bool valid = true;
        for (char *c = lname; *c; c++) {
            valid = valid && is_token_char((unsigned char)*c);
            *c = (char)tolower((unsigned char)*c);
        }
        if (!valid) {
            kiln_err_set(err, KILN_E_INVALID,
                         "cannot sign the request: header name \"%s\" has characters HTTP does "
                         "not allow",
                         name);
            free(lname);
            goto out;
        }
        if (strcmp(lname, "host") == 0)
            have_host = true;
        if (!header_is_skipped(lname))
            add_header(&hs, &nh, lname, r->headers[i].value ? r->headers[i].value : "");
        free(lname);
    }
    if (!have_host) {
        kiln_err_set(err, KILN_E_INVALID, "cannot sign the request: it has no Host header");
        goto out;
    }
    if (!query_mode) {
        add_header(&hs, &nh, "x-amz-date", s->amz_date);
        if (has_token(p) && !p->omit_session_token)
            add_header(&hs, &nh, "x-amz-security-token", p->creds->session_token);
        if (p->content_sha256_header)
            add_header(&hs, &nh, "x-amz-content-sha256", s->payload_hash);
    }
    qsort(hs, nh, sizeof *hs, compare_headers);
    kiln_strbuf_reset(&s->signed_headers);
    kiln_strbuf_append(&s->signed_headers, "");
    for (size_t i = 0; i < nh; i++) {
        if (i > 0)
            kiln_strbuf_appendc(&s->signed_headers, ';');
        kiln_strbuf_append(&s->signed_headers, hs[i].name);
    }

    /* Query: the request's own parameters, plus the X-Amz-* ones when presigning. */
    struct query_param *qp = NULL;
    size_t nq = 0, capq = 0;
    add_query_params(&qp, &nq, &capq, r->query);
    if (query_mode) {
        char expires[24];
        snprintf(expires, sizeof expires, "%lld", (long long)p->expires_s);
        struct kiln_strbuf cred = KILN_STRBUF_INIT;
        kiln_strbuf_appendf(&cred, "%s/%s", p->creds->access_key_id, kiln_strbuf_str(&s->scope));
        push_param(&qp, &nq, &capq, "X-Amz-Algorithm", ALGORITHM);
        push_param(&qp, &nq, &capq, "X-Amz-Credential", kiln_strbuf_str(&cred));
        push_param(&qp, &nq, &capq, "X-Amz-Date", s->amz_date);
        push_param(&qp, &nq, &capq, "X-Amz-Expires", expires);
        if (has_token(p) && !p->omit_session_token)
            push_param(&qp, &nq, &capq, "X-Amz-Security-Token", p->creds->session_token);
        push_param(&qp, &nq, &capq, "X-Amz-SignedHeaders", kiln_strbuf_str(&s->signed_headers));
        kiln_strbuf_free(&cred);
    }
    if (nq > 0)
        qsort(qp, nq, sizeof *qp, compare_params);

    struct kiln_strbuf *cr = &s->canonical_request;
    kiln_strbuf_reset(cr);
    kiln_strbuf_appendf(cr, "%s\n", r->method);
    canonical_uri(cr, r->path, p->normalize_path);
    kiln_strbuf_appendc(cr, '\n');
    for (size_t i = 0; i < nq; i++) {
        kiln_strbuf_appendf(cr, "%s%s=%s", i > 0 ? "&" : "", qp[i].key, qp[i].value);
        free(qp[i].key);
        free(qp[i].value);
    }
    free(qp);
    kiln_strbuf_appendc(cr, '\n');
    for (size_t i = 0; i < nh; i++)
        kiln_strbuf_appendf(cr, "%s:%s\n", hs[i].name, kiln_strbuf_str(&hs[i].value));
    kiln_strbuf_appendf(cr, "\n%s\n%s", kiln_strbuf_str(&s->signed_headers), s->payload_hash);
    rc = 0;
out:
    for (size_t i = 0; i < nh; i++) {
        free(hs[i].name);
        kiln_strbuf_free(&hs[i].value);
    }
    free(hs);
    return rc;
}

/* ---- stage 2: the string to sign ---- */

void kiln_aws_sigv4_string_to_sign(struct kiln_aws_sigv4 *s)
{
    char hash[65];
    kiln_aws_sha256_hex(kiln_strbuf_str(&s->canonical_request), s->canonical_request.len, hash);
    kiln_strbuf_reset(&s->string_to_sign);
    kiln_strbuf_appendf(&s->string_to_sign, ALGORITHM "\n%s\n%s\n%s", s->amz_date,
                        kiln_strbuf_str(&s->scope), hash);
}

/* ---- stage 3: the signature ---- */

void kiln_aws_sigv4_signature(struct kiln_aws_sigv4 *s)
{
    const struct kiln_aws_sigv4_params *p = s->params;
    const char *secret = p->creds->secret_access_key ? p->creds->secret_access_key : "";
    size_t klen = 4 + strlen(secret);
    char *k_secret = xmalloc(klen + 1);
    memcpy(k_secret, "AWS4", 4);
    memcpy(k_secret + 4, secret, klen - 4 + 1);

    unsigned char k_date[32], k_region[32], k_service[32], k_signing[32], sig[32];
    hmac_sha256(k_secret, klen, s->date, strlen(s->date), k_date);
    hmac_sha256(k_date, 32, p->region, strlen(p->region), k_region);
    hmac_sha256(k_region, 32, p->service, strlen(p->service), k_service);
    hmac_sha256(k_service, 32, "aws4_request", 12, k_signing);
    hmac_sha256(k_signing, 32, kiln_strbuf_str(&s->string_to_sign), s->string_to_sign.len, sig);
    to_hex(sig, 32, s->signature);

    /* The derived keys are as good as the secret for a day: do not leave them around. */
    OPENSSL_cleanse(k_secret, klen);
    OPENSSL_cleanse(k_date, sizeof k_date);
    OPENSSL_cleanse(k_region, sizeof k_region);
    OPENSSL_cleanse(k_service, sizeof k_service);
    OPENSSL_cleanse(k_signing, sizeof k_signing);
    free(k_secret);
}

/* ---- stage 4: what goes on the wire ---- */

static void append_query_param(struct kiln_strbuf *q, const char *key, const char *value)
{
    if (q->len > 0)
        kiln_strbuf_appendc(q, '&');
    kiln_strbuf_append(q, key);
    kiln_strbuf_appendc(q, '=');
    kiln_aws_uri_encode(q, value, strlen(value), false);
}

void kiln_aws_sigv4_authorization(struct kiln_aws_sigv4 *s)
{
    const struct kiln_aws_sigv4_params *p = s->params;
    if (p->mode == KILN_AWS_SIGV4_HEADER) {
        kiln_strbuf_reset(&s->authorization);
        kiln_strbuf_appendf(&s->authorization,
                            ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                            p->creds->access_key_id, kiln_strbuf_str(&s->scope),
                            kiln_strbuf_str(&s->signed_headers), s->signature);
        return;
    }
    /* The order aws-c-auth writes them in; any order is valid on the wire. */
    struct kiln_strbuf *q = &s->presigned_query;
    struct kiln_strbuf cred = KILN_STRBUF_INIT;
    char expires[24];
    kiln_strbuf_reset(q);
    if (s->req->query && s->req->query[0])
        kiln_strbuf_append(q, s->req->query);
    kiln_strbuf_appendf(&cred, "%s/%s", p->creds->access_key_id, kiln_strbuf_str(&s->scope));
    snprintf(expires, sizeof expires, "%lld", (long long)p->expires_s);
    append_query_param(q, "X-Amz-Algorithm", ALGORITHM);
    append_query_param(q, "X-Amz-Credential", kiln_strbuf_str(&cred));
    append_query_param(q, "X-Amz-Date", s->amz_date);
    append_query_param(q, "X-Amz-SignedHeaders", kiln_strbuf_str(&s->signed_headers));
    append_query_param(q, "X-Amz-Expires", expires);
    if (has_token(p))
        append_query_param(q, "X-Amz-Security-Token", p->creds->session_token);
    append_query_param(q, "X-Amz-Signature", s->signature);
    kiln_strbuf_free(&cred);
}

int kiln_aws_sigv4_sign(struct kiln_aws_sigv4 *s, struct kiln_err *err)
{
    if (kiln_aws_sigv4_canonical_request(s, err) < 0)
        return -1;
    kiln_aws_sigv4_string_to_sign(s);
    kiln_aws_sigv4_signature(s);
    kiln_aws_sigv4_authorization(s);
    return 0;
}
