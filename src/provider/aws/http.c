/* kiln: HTTP to AWS with libcurl: signing, retries, redacted debug log
 * (see kiln/aws_http.h). */
#include "config.h"

#include "kiln/aws_http.h"
#include "kiln/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_TIMEOUT_MS         60000
#define DEFAULT_MAX_ATTEMPTS       8
#define BACKOFF_BASE_MS            100
#define BACKOFF_CAP_MS             5000
/* An AWS answer is at most a few MB; past this something is wrong at the other end. */
#define MAX_RESPONSE_BYTES (64u << 20)
/* How much of a body the debug log shows. */
#define LOG_BODY_MAX 4096

struct kiln_aws_http {
    CURL *curl;
    char *ca_bundle;
    int64_t connect_timeout_ms, timeout_ms;
    int max_attempts;
    bool no_proxy;
    kiln_aws_log_fn log;
    void *log_ctx;
    int64_t backoff_base_ms, backoff_cap_ms;
    uint64_t rng;
    uint64_t requests;
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    /* curl_global_init is not thread-safe in every libcurl: once, before any handle. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct kiln_aws_http *kiln_aws_http_new(const struct kiln_aws_http_options *o, struct kiln_err *err)
{
    pthread_once(&curl_once, curl_init);
    if (o && o->ca_bundle && o->ca_bundle[0] && access(o->ca_bundle, R_OK) != 0) {
        kiln_err_sys(err, errno, "cannot read [aws] ca_bundle %s", o->ca_bundle);
        return NULL;
    }
    struct kiln_aws_http *h = xcalloc(1, sizeof *h);
    h->curl = curl_easy_init();
    if (h->curl == NULL) {
        free(h);
        kiln_err_set(err, KILN_E_FAILED, "cannot set up libcurl for the AWS requests");
        return NULL;
    }
    h->ca_bundle = o && o->ca_bundle && o->ca_bundle[0] ? xstrdup(o->ca_bundle) : NULL;
    h->connect_timeout_ms =
        o && o->connect_timeout_ms > 0 ? o->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    h->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    h->max_attempts = o && o->max_attempts > 0 ? o->max_attempts : DEFAULT_MAX_ATTEMPTS;
    h->no_proxy = o && o->no_proxy;
    h->log = o ? o->log : NULL;
    h->log_ctx = o ? o->log_ctx : NULL;
    double scale = 1.0;
    const char *s = getenv("KILN_AWS_BACKOFF_SCALE");
    if (s && *s) {
        char *end;
        double v = strtod(s, &end);
        if (*end == '\0' && v >= 0 && v <= 100)
            scale = v;
    }
    h->backoff_base_ms = (int64_t)(BACKOFF_BASE_MS * scale);
    h->backoff_cap_ms = (int64_t)(BACKOFF_CAP_MS * scale);
    if (getrandom(&h->rng, sizeof h->rng, GRND_NONBLOCK) != (ssize_t)sizeof h->rng)
        h->rng = (uint64_t)kiln_mono_us() ^ ((uint64_t)getpid() << 32);
    h->rng |= 1;
    return h;
}

void kiln_aws_http_free(struct kiln_aws_http *h)
{
    if (h == NULL)
        return;
    curl_easy_cleanup(h->curl);
    free(h->ca_bundle);
    free(h);
}

void kiln_aws_http_set_log(struct kiln_aws_http *h, kiln_aws_log_fn log, void *ctx)
{
    h->log = log;
    h->log_ctx = ctx;
}

void kiln_aws_http_set_backoff(struct kiln_aws_http *h, int64_t base_ms, int64_t cap_ms)
{
    h->backoff_base_ms = base_ms;
    h->backoff_cap_ms = cap_ms;
}

uint64_t kiln_aws_http_requests(const struct kiln_aws_http *h)
{
    return h->requests;
}

void kiln_aws_http_response_free(struct kiln_aws_http_response *r)
{
    if (r == NULL)
        return;
    /* An STS or instance-metadata answer carries a secret key and a token. */
    if (r->body.buf)
        OPENSSL_cleanse(r->body.buf, r->body.cap);
    kiln_strbuf_free(&r->body);
    memset(r, 0, sizeof *r);
}

/* ---- the debug log, redacted ---- */

static bool sensitive_name(const char *name, size_t n)
{
    char low[128];
    if (n == 0 || n >= sizeof low)
        return false;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[n] = '\0';
    /* The last dotted part of a form name: "LaunchTemplateData.UserData" -> "userdata". */
    const char *last = strrchr(low, '.');
    last = last ? last + 1 : low;
    if (strcmp(last, "nexttoken") == 0 || strcmp(last, "clienttoken") == 0)
        return false;
    return strstr(low, "secret") || strstr(low, "password") || strstr(low, "token") ||
           strstr(low, "signature") || strstr(low, "authorization") ||
           strcmp(last, "userdata") == 0;
}

static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.' || c == ':' || c == '%';
}

void kiln_aws_redact(struct kiln_strbuf *out, const char *t, size_t len)
{
    size_t i = 0;
    kiln_strbuf_append(out, "");
    while (i < len) {
        /* XML: <Name ...>value</Name> */
        if (t[i] == '<' && i + 1 < len && isalpha((unsigned char)t[i + 1])) {
            size_t j = i + 1;
            while (j < len && name_char(t[j]))
                j++;
            size_t gt = j;
            while (gt < len && t[gt] != '>')
                gt++;
            /* The local name: after a namespace prefix, if any. */
            const char *nm = t + i + 1;
            size_t nl = j - i - 1;
            const char *colon = memchr(nm, ':', nl);
            if (colon) {
                nl -= (size_t)(colon + 1 - nm);
                nm = colon + 1;
            }
            if (gt < len && t[gt - 1] != '/' && sensitive_name(nm, nl)) {
                kiln_strbuf_append_len(out, t + i, gt + 1 - i);
                kiln_strbuf_append(out, "<redacted>");
                i = gt + 1;
                while (i < len && t[i] != '<')
                    i++;
                continue;
            }
            kiln_strbuf_append_len(out, t + i, j - i);
            i = j;
            continue;
        }
        /* JSON: "Name" : "value" */
        if (t[i] == '"') {
            size_t j = i + 1;
            while (j < len && t[j] != '"')
                j += t[j] == '\\' ? 2 : 1;
            if (j >= len) {
                kiln_strbuf_append_len(out, t + i, len - i);
                break;
            }
            size_t k = j + 1;
            while (k < len && isspace((unsigned char)t[k]))
                k++;
            if (k < len && t[k] == ':' && sensitive_name(t + i + 1, j - i - 1)) {
                k++;
                while (k < len && isspace((unsigned char)t[k]))
                    k++;
                if (k < len && t[k] == '"') {
                    size_t v = k + 1;
                    while (v < len && t[v] != '"')
                        v += t[v] == '\\' ? 2 : 1;
                    kiln_strbuf_append_len(out, t + i, j + 1 - i);
                    kiln_strbuf_append(out, ": \"<redacted>\"");
                    i = v < len ? v + 1 : len;
                    continue;
                }
            }
            kiln_strbuf_append_len(out, t + i, j + 1 - i);
            i = j + 1;
            continue;
        }
        /* Form or query: name=value&... */
        if ((i == 0 || t[i - 1] == '&' || t[i - 1] == '?') && name_char(t[i])) {
            size_t j = i;
            while (j < len && name_char(t[j]))
                j++;
            if (j < len && t[j] == '=' && sensitive_name(t + i, j - i)) {
                kiln_strbuf_append_len(out, t + i, j + 1 - i);
                kiln_strbuf_append(out, "<redacted>");
                i = j + 1;
                while (i < len && t[i] != '&')
                    i++;
                continue;
            }
            kiln_strbuf_append_len(out, t + i, j - i);
            i = j;
            continue;
        }
        kiln_strbuf_appendc(out, t[i]);
        i++;
    }
}

__attribute__((format(printf, 2, 3))) static void logf_(struct kiln_aws_http *h, const char *fmt,
                                                        ...)
{
    if (h->log == NULL)
        return;
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    kiln_strbuf_vappendf(&sb, fmt, ap);
    va_end(ap);
    h->log(h->log_ctx, kiln_strbuf_str(&sb));
    kiln_strbuf_free(&sb);
}

/* "label: <body, redacted, cut, one line>" */
static void log_body(struct kiln_aws_http *h, const char *label, const char *body, size_t len)
{
    if (h->log == NULL || body == NULL || len == 0)
        return;
    struct kiln_strbuf red = KILN_STRBUF_INIT;
    kiln_aws_redact(&red, body, len);
    size_t shown = red.len < LOG_BODY_MAX ? red.len : LOG_BODY_MAX;
    for (size_t i = 0; i < shown; i++)
        if (red.buf[i] == '\n' || red.buf[i] == '\r')
            red.buf[i] = ' ';
    logf_(h, "aws: %s: %.*s%s", label, (int)shown, red.buf, shown < red.len ? " [...]" : "");
    kiln_strbuf_free(&red);
}

/* ---- one exchange ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct kiln_aws_http_response *r = ctx;
    size_t n = size * nmemb;
    if (r->body.len + n > MAX_RESPONSE_BYTES)
        return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
    kiln_strbuf_append_len(&r->body, data, n);
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct kiln_aws_http_response *r = ctx;
    size_t n = size * nmemb;
    static const char *const names[] = {"x-amzn-requestid:", "x-amz-request-id:"};
    for (size_t i = 0; i < 2; i++) {
        size_t nl = strlen(names[i]);
        if (n > nl && strncasecmp(data, names[i], nl) == 0) {
            const char *v = data + nl;
            size_t vl = n - nl;
            while (vl > 0 && isspace((unsigned char)*v))
                v++, vl--;
            while (vl > 0 && isspace((unsigned char)v[vl - 1]))
                vl--;
            snprintf(r->request_id, sizeof r->request_id, "%.*s", (int)vl, v);
        }
    }
    return n;
}

enum outcome { DONE, TRANSPORT_RETRY, TRANSPORT_FATAL };

static enum outcome perform(struct kiln_aws_http *h, const char *method, const char *url,
                            struct curl_slist *headers, const void *body, size_t body_len,
                            int64_t timeout_ms, struct kiln_aws_http_response *resp, CURLcode *code)
{
    CURL *c = h->curl;
    /* reset keeps the connection cache, DNS cache and TLS sessions: that is the reuse. */
    curl_easy_reset(c);
    kiln_strbuf_reset(&resp->body);
    resp->status = 0;
    resp->request_id[0] = '\0';
    h->errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->ca_bundle)
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_bundle);
    if (h->no_proxy)
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kiln/" PACKAGE_VERSION);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        if (body_len > 0 || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body_len ? body : "");
        }
    }
    h->requests++;
    *code = curl_easy_perform(c);
    if (*code == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
        return DONE;
    }
    switch (*code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return TRANSPORT_RETRY;
    default:
        return TRANSPORT_FATAL;
    }
}

static bool tls_verify_failure(CURLcode code)
{
    return code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE ||
           code == CURLE_SSL_CERTPROBLEM || code == CURLE_SSL_ISSUER_ERROR;
}

/* The sentence for a request that got no HTTP answer. */
static int transport_error(struct kiln_aws_http *h, struct kiln_err *err, CURLcode code,
                           const char *url, const char *what, int attempts)
{
    const char *detail = h->errbuf[0] ? h->errbuf : curl_easy_strerror(code);
    if (tls_verify_failure(code))
        return kiln_err_set(err, KILN_E_FAILED,
                            "the TLS certificate of %s could not be verified (%s; %s); if it "
                            "is an emulator or a proxy with its own CA, point [aws] ca_bundle "
                            "at that CA's certificate",
                            url, detail, what);
    if (code == CURLE_OPERATION_TIMEDOUT)
        return kiln_err_set(err, KILN_E_TIMEOUT,
                            "no answer from %s in time (%s; %s, %d attempt%s); check the "
                            "network or the endpoint",
                            url, detail, what, attempts, attempts == 1 ? "" : "s");
    return kiln_err_set(err, KILN_E_FAILED,
                        "cannot reach %s (%s; %s, %d attempt%s); check the network, the "
                        "region and AWS_ENDPOINT_URL",
                        url, detail, what, attempts, attempts == 1 ? "" : "s");
}

int kiln_aws_http_exchange(struct kiln_aws_http *h, const char *method, const char *url,
                           const struct kiln_aws_header *headers, size_t n_headers,
                           const void *body, size_t body_len, struct kiln_aws_http_response *resp,
                           struct kiln_err *err)
{
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < n_headers; i++) {
        char *line = xasprintf("%s: %s", headers[i].name, headers[i].value);
        list = curl_slist_append(list, line);
        free(line);
    }
    list = curl_slist_append(list, "Expect:");
    logf_(h, "aws: %s %s", method, url);
    CURLcode code;
    int64_t t0 = kiln_mono_us();
    enum outcome o = perform(h, method, url, list, body, body_len, h->timeout_ms, resp, &code);
    curl_slist_free_all(list);
    resp->attempts = 1;
    if (o != DONE) {
        logf_(h, "aws: %s %s failed: %s", method, url,
              h->errbuf[0] ? h->errbuf : curl_easy_strerror(code));
        return transport_error(h, err, code, url, method, 1);
    }
    logf_(h, "aws: %ld from %s in %lld ms, %zu bytes", resp->status, url,
          (long long)((kiln_mono_us() - t0) / 1000), resp->body.len);
    return 0;
}

/* ---- signed requests with retries ---- */

static uint64_t next_random(struct kiln_aws_http *h)
{
    /* xorshift64*: jitter needs spread, not secrecy. */
    h->rng ^= h->rng >> 12;
    h->rng ^= h->rng << 25;
    h->rng ^= h->rng >> 27;
    return h->rng * 2685821657736338717ULL;
}

/* Full jitter (the AWS Architecture Blog's "Exponential Backoff and Jitter"): a random
 * time in [0, min(cap, base * 2^retry)), so many clients throttled together spread out
 * instead of coming back in step. */
static int64_t backoff_ms(struct kiln_aws_http *h, int retry)
{
    int64_t ceiling = h->backoff_base_ms;
    for (int i = 0; i < retry && ceiling < h->backoff_cap_ms; i++)
        ceiling *= 2;
    if (ceiling > h->backoff_cap_ms)
        ceiling = h->backoff_cap_ms;
    if (ceiling <= 0)
        return 0;
    return (int64_t)(next_random(h) % (uint64_t)ceiling);
}

static char *request_url(const struct kiln_aws_request *req)
{
    const char *path = req->path && req->path[0] ? req->path : "/";
    if (req->query && req->query[0])
        return xasprintf("%s%s?%s", req->endpoint->url, path, req->query);
    return xasprintf("%s%s", req->endpoint->url, path);
}

int kiln_aws_http_send(struct kiln_aws_http *h, struct kiln_aws_credentials_provider *creds,
                       const struct kiln_aws_request *req, struct kiln_aws_http_response *resp,
                       struct kiln_err *err)
{
    const struct kiln_aws_endpoint *ep = req->endpoint;
    const char *action = req->action ? req->action : "request";
    char *url = request_url(req);
    char *sign_path = xasprintf("%s%s", ep->base_path, req->path && req->path[0] ? req->path : "/");
    int rc = -1;
    memset(&resp->error, 0, sizeof resp->error);

    for (int attempt = 1; attempt <= h->max_attempts; attempt++) {
        resp->attempts = attempt;
        struct kiln_aws_credentials c = {0};
        if (kiln_aws_credentials_get(creds, &c, err) < 0) {
            kiln_aws_credentials_clear(&c);
            goto out;
        }
        struct kiln_aws_header sh[2] = {{"Host", ep->host}, {"Content-Type", req->content_type}};
        struct kiln_aws_sigv4_request sreq = {
            .method = req->method,
            .path = sign_path,
            .query = req->query,
            .headers = sh,
            .n_headers = req->content_type ? 2 : 1,
            .body = req->body,
            .body_len = req->body_len,
        };
        struct kiln_aws_sigv4_params sp = {
            .creds = &c,
            .region = ep->signing_region,
            .service = ep->signing_name,
            .time_us = kiln_now_us(),
            .mode = KILN_AWS_SIGV4_HEADER,
            .normalize_path = true,
        };
        struct kiln_aws_sigv4 s;
        kiln_aws_sigv4_init(&s, &sreq, &sp);
        if (kiln_aws_sigv4_sign(&s, err) < 0) {
            kiln_aws_sigv4_free(&s);
            kiln_aws_credentials_clear(&c);
            goto out;
        }
        struct curl_slist *list = NULL;
        char *line = xasprintf("Host: %s", ep->host);
        list = curl_slist_append(list, line);
        free(line);
        if (req->content_type) {
            line = xasprintf("Content-Type: %s", req->content_type);
            list = curl_slist_append(list, line);
            free(line);
        }
        line = xasprintf("X-Amz-Date: %s", s.amz_date);
        list = curl_slist_append(list, line);
        free(line);
        if (c.session_token) {
            line = xasprintf("X-Amz-Security-Token: %s", c.session_token);
            list = curl_slist_append(list, line);
            free(line);
        }
        line = xasprintf("Authorization: %s", kiln_strbuf_str(&s.authorization));
        list = curl_slist_append(list, line);
        free(line);
        list = curl_slist_append(list, "Expect:");

        if (h->log) {
            logf_(h, "aws: %s %s %s (attempt %d/%d) Authorization: <redacted>%s, signed as %s",
                  req->method, url, action, attempt, h->max_attempts,
                  c.session_token ? ", X-Amz-Security-Token: <redacted>" : "",
                  kiln_strbuf_str(&s.scope));
            log_body(h, "request body", req->body, req->body_len);
        }
        kiln_aws_sigv4_free(&s);
        kiln_aws_credentials_clear(&c);

        CURLcode code;
        int64_t t0 = kiln_mono_us();
        enum outcome o = perform(h, req->method, url, list, req->body, req->body_len, h->timeout_ms,
                                 resp, &code);
        /* The list held the signature and the token: wipe before freeing. */
        for (struct curl_slist *l = list; l; l = l->next)
            memset(l->data, 0, strlen(l->data));
        curl_slist_free_all(list);
        int64_t took = (kiln_mono_us() - t0) / 1000;

        bool retry;
        if (o == DONE) {
            logf_(h, "aws: %ld %s in %lld ms, %zu bytes, request id %s", resp->status, action,
                  (long long)took, resp->body.len, resp->request_id[0] ? resp->request_id : "-");
            log_body(h, "response body", resp->body.buf, resp->body.len);
            if (resp->status >= 200 && resp->status < 300) {
                rc = 0;
                goto out;
            }
            kiln_aws_error_parse(resp->body.buf, resp->body.len, resp->status, resp->request_id,
                                 &resp->error);
            retry = kiln_aws_error_retryable(&resp->error);
            if (!retry || attempt == h->max_attempts) {
                kiln_aws_error_set(err, &resp->error, action);
                if (retry)
                    kiln_err_prefix(err, "AWS still failing after %d attempts", attempt);
                goto out;
            }
        } else {
            const char *detail = h->errbuf[0] ? h->errbuf : curl_easy_strerror(code);
            logf_(h, "aws: %s %s failed after %lld ms: %s", req->method, url, (long long)took,
                  detail);
            retry = o == TRANSPORT_RETRY;
            if (!retry || attempt == h->max_attempts) {
                transport_error(h, err, code, url, action, attempt);
                goto out;
            }
        }
        int64_t sleep_ms = backoff_ms(h, attempt - 1);
        logf_(h, "aws: retrying %s in %lld ms (attempt %d/%d): %s%s%s", action, (long long)sleep_ms,
              attempt + 1, h->max_attempts, o == DONE ? resp->error.code : "connection failed",
              o == DONE ? ": " : "", o == DONE ? resp->error.message : "");
        kiln_sleep_ms(sleep_ms);
    }
out:
    free(url);
    free(sign_path);
    return rc;
}
