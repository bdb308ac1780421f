/* kiln: SigV4, every stage of every AWS test vector (tests/data/aws-sigv4).
 *
 * Each vector is signed twice, with headers and presigned (query), and each stage is
 * compared with its expected file on its own, so a failure names the stage. */
#include "kiln/aws_sigv4.h"
#include "kiln/atomic_file.h"
#include "kiln/timeutil.h"
#include "tap.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>

struct vector {
    char *method, *path, *query;
    struct kiln_aws_header headers[16];
    size_t n_headers;
    char *body;
    size_t body_len;
    struct kiln_aws_credentials creds;
    char region[32], service[32];
    int64_t time_us;
    bool normalize, sign_body, omit_token;
    int64_t expires_s;
};

static char *slurp(const char *dir, const char *name)
{
    char *path = xasprintf("%s/%s", dir, name), *text = NULL;
    struct kiln_err err;
    if (kiln_read_file(path, &text, NULL, 1 << 20, &err) < 0)
        diag("%s", err.msg);
    free(path);
    return text;
}

/* request.txt: "METHOD target HTTP/1.1", header lines (a line starting with white space
 * continues the previous value), a blank line, the body. The target may hold spaces. */
static int parse_request(struct vector *v, char *text)
{
    char *line_end = strchr(text, '\n');
    if (line_end == NULL)
        return -1;
    *line_end = '\0';
    char *sp1 = strchr(text, ' '), *sp2 = strrchr(text, ' ');
    if (sp1 == NULL || sp2 == sp1)
        return -1;
    v->method = xstrndup(text, (size_t)(sp1 - text));
    char *target = xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    char *q = strchr(target, '?');
    if (q) {
        v->query = xstrdup(q + 1);
        *q = '\0';
    }
    v->path = target;

    char *p = line_end + 1;
    while (*p && *p != '\n') {
        char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if ((*p == ' ' || *p == '\t') && v->n_headers > 0) {
            struct kiln_aws_header *h = &v->headers[v->n_headers - 1];
            char *joined = xasprintf("%s\n%.*s", h->value, (int)len, p);
            free((char *)h->value);
            h->value = joined;
        } else {
            char *colon = memchr(p, ':', len);
            if (colon == NULL || v->n_headers == 16)
                return -1;
            v->headers[v->n_headers].name = xstrndup(p, (size_t)(colon - p));
            v->headers[v->n_headers].value = xstrndup(colon + 1, len - (size_t)(colon - p) - 1);
            v->n_headers++;
        }
        p = e ? e + 1 : p + len;
    }
    if (*p == '\n')
        p++;
    v->body = xstrdup(p);
    v->body_len = strlen(p);
    return 0;
}

static int parse_context(struct vector *v, const char *text)
{
    cJSON *j = cJSON_Parse(text);
    if (j == NULL)
        return -1;
    cJSON *c = cJSON_GetObjectItem(j, "credentials");
    const char *token = cJSON_GetStringValue(cJSON_GetObjectItem(c, "token"));
    kiln_aws_credentials_set(
        &v->creds, cJSON_GetStringValue(cJSON_GetObjectItem(c, "access_key_id")),
        cJSON_GetStringValue(cJSON_GetObjectItem(c, "secret_access_key")), token, 0, "test vector");
    snprintf(v->region, sizeof v->region, "%s",
             cJSON_GetStringValue(cJSON_GetObjectItem(j, "region")));
    snprintf(v->service, sizeof v->service, "%s",
             cJSON_GetStringValue(cJSON_GetObjectItem(j, "service")));
    struct kiln_err err;
    int rc = kiln_time_parse_iso(cJSON_GetStringValue(cJSON_GetObjectItem(j, "timestamp")),
                                 &v->time_us, &err);
    v->normalize = cJSON_IsTrue(cJSON_GetObjectItem(j, "normalize"));
    v->sign_body = cJSON_IsTrue(cJSON_GetObjectItem(j, "sign_body"));
    v->omit_token = cJSON_IsTrue(cJSON_GetObjectItem(j, "omit_session_token"));
    v->expires_s = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "expiration_in_seconds"));
    cJSON_Delete(j);
    return rc;
}

static void free_vector(struct vector *v)
{
    free(v->method);
    free(v->path);
    free(v->query);
    for (size_t i = 0; i < v->n_headers; i++) {
        free((char *)v->headers[i].name);
        free((char *)v->headers[i].value);
    }
    free(v->body);
    kiln_aws_credentials_clear(&v->creds);
}

/* The line of a signed-request file that starts with prefix, without the prefix. */
static char *line_with(const char *text, const char *prefix)
{
    for (const char *p = text; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            return xstrndup(p + strlen(prefix), len - strlen(prefix));
        p = e ? e + 1 : NULL;
    }
    return NULL;
}

static void check_mode(const char *dir, const char *name, struct vector *v,
                       enum kiln_aws_sigv4_mode mode)
{
    const char *m = mode == KILN_AWS_SIGV4_HEADER ? "header" : "query";
    struct kiln_aws_sigv4_request req = {
        .method = v->method,
        .path = v->path,
        .query = v->query,
        .headers = v->headers,
        .n_headers = v->n_headers,
        .body = v->body,
        .body_len = v->body_len,
    };
    struct kiln_aws_sigv4_params params = {
        .creds = &v->creds,
        .region = v->region,
        .service = v->service,
        .time_us = v->time_us,
        .mode = mode,
        .normalize_path = v->normalize,
        .content_sha256_header = v->sign_body,
        .omit_session_token = v->omit_token,
        .expires_s = v->expires_s,
    };
    char file[64];
    struct kiln_err err = {0};
    struct kiln_aws_sigv4 s;
    kiln_aws_sigv4_init(&s, &req, &params);

    int rc = kiln_aws_sigv4_canonical_request(&s, &err);
    if (rc < 0)
        diag("%s", err.msg);
    snprintf(file, sizeof file, "%s-canonical-request.txt", m);
    char *want = slurp(dir, file);
    is_str(kiln_strbuf_str(&s.canonical_request), want, "%s: %s canonical request", name, m);
    free(want);

    kiln_aws_sigv4_string_to_sign(&s);
    snprintf(file, sizeof file, "%s-string-to-sign.txt", m);
    want = slurp(dir, file);
    is_str(kiln_strbuf_str(&s.string_to_sign), want, "%s: %s string to sign", name, m);
    free(want);

    kiln_aws_sigv4_signature(&s);
    snprintf(file, sizeof file, "%s-signature.txt", m);
    want = slurp(dir, file);
    is_str(s.signature, want, "%s: %s signature", name, m);
    free(want);

    kiln_aws_sigv4_authorization(&s);
    snprintf(file, sizeof file, "%s-signed-request.txt", m);
    char *signed_req = slurp(dir, file);
    if (mode == KILN_AWS_SIGV4_HEADER) {
        char *auth = line_with(signed_req, "Authorization:");
        is_str(kiln_strbuf_str(&s.authorization), auth, "%s: Authorization header", name);
        free(auth);
        char *date = line_with(signed_req, "X-Amz-Date:");
        is_str(s.amz_date, date, "%s: X-Amz-Date header", name);
        free(date);
        if (v->creds.session_token) {
            char *tok = line_with(signed_req, "X-Amz-Security-Token:");
            is_str(v->creds.session_token, tok, "%s: X-Amz-Security-Token header", name);
            free(tok);
        }
    } else {
        char *got =
            xasprintf("%s %s?%s HTTP/1.1", v->method, v->path, kiln_strbuf_str(&s.presigned_query));
        char *line = xstrndup(signed_req, strcspn(signed_req, "\n"));
        is_str(got, line, "%s: presigned request line", name);
        free(got);
        free(line);
    }
    free(signed_req);
    kiln_aws_sigv4_free(&s);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_helpers(void)
{
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    kiln_aws_uri_encode(&sb, "a b/c~d+e=%", 11, false);
    is_str(kiln_strbuf_str(&sb), "a%20b%2Fc~d%2Be%3D%25", "uri_encode: all but unreserved");
    kiln_strbuf_reset(&sb);
    kiln_aws_uri_encode(&sb, "/x y/", 5, true);
    is_str(kiln_strbuf_str(&sb), "/x%20y/", "uri_encode: keeps slashes for paths");
    kiln_strbuf_free(&sb);

    /* A real service's request: a path that is already encoded is encoded again, and a
     * session token is signed; no Host header is an error, not a crash. */
    struct kiln_aws_credentials c = {0};
    kiln_aws_credentials_set(&c, "AKIDEXAMPLE", "secret", "tok", 0, "test");
    struct kiln_aws_header h[] = {{"Host", "route53.amazonaws.com"}};
    struct kiln_aws_sigv4_request req = {"GET", "/2013-04-01/a%2Ab", "name=a b", h, 1, NULL, 0};
    struct kiln_aws_sigv4_params p = {.creds = &c,
                                      .region = "us-east-1",
                                      .service = "route53",
                                      .time_us = 1440938160000000LL,
                                      .normalize_path = true};
    struct kiln_aws_sigv4 s;
    struct kiln_err err = {0};
    kiln_aws_sigv4_init(&s, &req, &p);
    is_int(kiln_aws_sigv4_sign(&s, &err), 0, "sign a Route 53 request");
    ok(strstr(kiln_strbuf_str(&s.canonical_request), "\n/2013-04-01/a%252Ab\nname=a%20b\n") != NULL,
       "path double-encoded, query re-encoded");
    ok(strstr(kiln_strbuf_str(&s.signed_headers), "x-amz-security-token") != NULL,
       "session token signed");
    kiln_aws_sigv4_free(&s);
    req.n_headers = 0;
    kiln_aws_sigv4_init(&s, &req, &p);
    is_int(kiln_aws_sigv4_sign(&s, &err), -1, "no Host header: refused");
    ok(strstr(err.msg, "no Host header") != NULL, "and said so: %s", err.msg);
    kiln_aws_sigv4_free(&s);
    kiln_aws_credentials_clear(&c);
}

int main(void)
{
    const char *srcdir = getenv("KILN_SRCDIR") ? getenv("KILN_SRCDIR") : ".";
    char *root = xasprintf("%s/tests/data/aws-sigv4", srcdir);
    DIR *d = opendir(root);
    if (d == NULL) {
        printf("Bail out! cannot open %s\n", root);
        return 1;
    }
    char *names[64] = {0};
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strchr(de->d_name, '.') || n == 64)
            continue;
        char *dir = xasprintf("%s/%s", root, de->d_name);
        DIR *sub = opendir(dir);
        if (sub) {
            closedir(sub);
            names[n++] = xstrdup(de->d_name);
        }
        free(dir);
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare_names);
    is_int(n, 38, "38 vectors");

    for (size_t i = 0; i < n; i++) {
        char *dir = xasprintf("%s/%s", root, names[i]);
        struct vector v = {0};
        char *req = slurp(dir, "request.txt"), *ctx = slurp(dir, "context.json");
        if (!ok(req && ctx && parse_request(&v, req) == 0 && parse_context(&v, ctx) == 0,
                "%s: vector parsed", names[i])) {
            free(req);
            free(ctx);
            free(dir);
            free_vector(&v);
            continue;
        }
        check_mode(dir, names[i], &v, KILN_AWS_SIGV4_HEADER);
        check_mode(dir, names[i], &v, KILN_AWS_SIGV4_QUERY);
        free_vector(&v);
        free(req);
        free(ctx);
        free(dir);
        free(names[i]);
    }
    free(root);
    test_helpers();
    return done_testing();
}
