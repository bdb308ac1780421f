/* kiln: AWS endpoints, the HTTP layer (signing on the wire, retries, timeouts, TLS), the
 * debug log's redaction, and STS GetCallerIdentity, against a local fixture server. */
#include "kiln/atomic_file.h"
#include "kiln/aws_client.h"
#include "kiln/aws_endpoint.h"
#include "kiln/aws_http.h"
#include "kiln/aws_sts.h"
#include "kiln/aws_xml.h"
#include "kiln/spawn.h"
#include "kiln/timeutil.h"
#include "aws_fixture.h"
#include "tap.h"

#include <stdlib.h>

static char tmpdir[256];
static struct kiln_err err;

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzzSECRETzz"
#define TOKEN  "FwoGZXIvYXdzEJr//////////TOKENtokenTOKENtoken+/=="

static const char ident_xml[] =
    "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <GetCallerIdentityResult>\n"
    "    <Arn>arn:aws:iam::123456789012:user/alice</Arn>\n"
    "    <UserId>AIDACKCEVSQ6C2EXAMPLE</UserId>\n"
    "    <Account>123456789012</Account>\n"
    "  </GetCallerIdentityResult>\n"
    "  <ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>"
    "</ResponseMetadata>\n"
    "</GetCallerIdentityResponse>\n";

static const char throttled_xml[] =
    "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">"
    "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    "<RequestId>req-throttle</RequestId></ErrorResponse>";

static const char ec2_limit_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
    "<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error>"
    "</Errors><RequestID>ec2-req-1</RequestID></Response>";

static const char internal_xml[] =
    "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>"
    "<Message>We encountered an internal error.</Message></Error>"
    "<RequestId>req-500</RequestId></ErrorResponse>";

static const char validation_xml[] =
    "<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code>"
    "<Message>Group name too long</Message></Error><RequestId>req-400</RequestId>"
    "</ErrorResponse>";

static void clear_aws_env(void)
{
    const char *vars[] = {"AWS_ACCESS_KEY_ID",
                          "AWS_SECRET_ACCESS_KEY",
                          "AWS_SESSION_TOKEN",
                          "AWS_SECURITY_TOKEN",
                          "AWS_PROFILE",
                          "AWS_DEFAULT_PROFILE",
                          "AWS_REGION",
                          "AWS_DEFAULT_REGION",
                          "AWS_ENDPOINT_URL",
                          "AWS_ENDPOINT_URL_EC2",
                          "AWS_ENDPOINT_URL_AUTO_SCALING",
                          "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING",
                          "AWS_ENDPOINT_URL_ROUTE_53",
                          "AWS_ENDPOINT_URL_STS",
                          "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
                          "AWS_SHARED_CREDENTIALS_FILE",
                          "AWS_CONFIG_FILE",
                          "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                          "KILN_AWS_BACKOFF_SCALE",
                          "https_proxy",
                          "HTTPS_PROXY",
                          "http_proxy",
                          "all_proxy",
                          "ALL_PROXY"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static int msg_has(const char *needle)
{
    int found = strstr(err.msg, needle) != NULL;
    if (!found)
        diag("message: %s", err.msg);
    return found;
}

/* ---- endpoints ---- */

static void test_endpoints(void)
{
    struct kiln_aws_endpoint e;
    clear_aws_env();
    is_int(kiln_aws_endpoint_resolve(KILN_AWS_EC2, "eu-west-1", NULL, false, &e, &err), 0,
           "ec2 default");
    is_str(e.url, "https://ec2.eu-west-1.amazonaws.com", "ec2 regional URL");
    is_str(e.host, "ec2.eu-west-1.amazonaws.com", "ec2 Host");
    is_str(e.signing_region, "eu-west-1", "signed for the region");
    is_str(e.api_version, "2016-11-15", "EC2 API version");
    kiln_aws_endpoint_resolve(KILN_AWS_AUTOSCALING, "eu-west-1", NULL, false, &e, &err);
    is_str(e.url, "https://autoscaling.eu-west-1.amazonaws.com", "autoscaling URL");
    kiln_aws_endpoint_resolve(KILN_AWS_ELB, "eu-west-1", NULL, false, &e, &err);
    is_str(e.url, "https://elasticloadbalancing.eu-west-1.amazonaws.com", "elb URL");
    is_str(e.signing_name, "elasticloadbalancing", "elb signing name");
    kiln_aws_endpoint_resolve(KILN_AWS_STS, "eu-west-1", NULL, false, &e, &err);
    is_str(e.url, "https://sts.eu-west-1.amazonaws.com", "sts regional URL");
    kiln_aws_endpoint_resolve(KILN_AWS_ROUTE53, "eu-west-1", NULL, false, &e, &err);
    is_str(e.url, "https://route53.amazonaws.com", "route53 global URL");
    is_str(e.signing_region, "us-east-1", "route53 signed for us-east-1");
    kiln_aws_endpoint_resolve(KILN_AWS_EC2, "cn-north-1", NULL, false, &e, &err);
    is_str(e.url, "https://ec2.cn-north-1.amazonaws.com.cn", "China partition suffix");

    is_int(kiln_aws_endpoint_resolve(KILN_AWS_EC2, "us-east-1/../evil", NULL, false, &e, &err), -1,
           "a region with a slash is refused");

    is_int(kiln_aws_endpoint_resolve(KILN_AWS_EC2, "us-west-2", "https://admin:hunter2@127.0.0.1",
                                     false, &e, &err),
           -1, "an endpoint with a user and password is refused");
    ok(strstr(err.msg, "hunter2") == NULL && strstr(err.msg, "https://***@127.0.0.1") != NULL,
       "without showing the password: %s", err.msg);

    /* Overrides: config < AWS_ENDPOINT_URL < AWS_ENDPOINT_URL_<SERVICE>. */
    kiln_aws_endpoint_resolve(KILN_AWS_EC2, "us-west-2", "http://127.0.0.1:4566", false, &e, &err);
    is_str(e.url, "http://127.0.0.1:4566", "config endpoint used");
    is_str(e.host, "127.0.0.1:4566", "Host has the port");
    is_str(e.origin, "[aws] endpoint", "origin config");
    is_str(e.signing_region, "us-west-2", "still signed for the region");
    setenv("AWS_ENDPOINT_URL", "http://localhost:5000/", 1);
    kiln_aws_endpoint_resolve(KILN_AWS_EC2, "us-west-2", "http://127.0.0.1:4566", false, &e, &err);
    is_str(e.url, "http://localhost:5000", "AWS_ENDPOINT_URL beats the config");
    setenv("AWS_ENDPOINT_URL_EC2", "http://[::1]:6000/base/", 1);
    kiln_aws_endpoint_resolve(KILN_AWS_EC2, "us-west-2", NULL, false, &e, &err);
    is_str(e.url, "http://[::1]:6000/base", "AWS_ENDPOINT_URL_EC2 beats AWS_ENDPOINT_URL");
    is_str(e.base_path, "/base", "base path kept");
    kiln_aws_endpoint_resolve(KILN_AWS_AUTOSCALING, "us-west-2", NULL, false, &e, &err);
    is_str(e.url, "http://localhost:5000", "other services keep AWS_ENDPOINT_URL");
    setenv("AWS_ENDPOINT_URL_ROUTE_53", "http://127.0.0.9:7000", 1);
    kiln_aws_endpoint_resolve(KILN_AWS_ROUTE53, "eu-west-1", NULL, false, &e, &err);
    is_str(e.url, "http://127.0.0.9:7000", "AWS_ENDPOINT_URL_ROUTE_53");
    is_str(e.signing_region, "us-east-1", "overridden Route 53 still signed for us-east-1");
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
    kiln_aws_endpoint_resolve(KILN_AWS_EC2, "us-west-2", "http://127.0.0.1:1", false, &e, &err);
    is_str(e.url, "https://ec2.us-west-2.amazonaws.com", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    clear_aws_env();

    /* http:// only to loopback unless allowed. */
    is_int(kiln_aws_endpoint_resolve(KILN_AWS_EC2, "us-east-1", "http://10.1.2.3:4566", false, &e,
                                     &err),
           -1, "http to a non-loopback host refused");
    ok(msg_has("plain http") && msg_has("allow_http_endpoints"), "and says how to allow it");
    is_int(kiln_aws_endpoint_resolve(KILN_AWS_EC2, "us-east-1", "http://10.1.2.3:4566", true, &e,
                                     &err),
           0, "allowed with allow_http_endpoints");
    is_int(kiln_aws_endpoint_resolve(KILN_AWS_EC2, "us-east-1", "https://emulator.example:8443",
                                     false, &e, &err),
           0, "https to any host is fine");
    is_int(kiln_aws_endpoint_resolve(KILN_AWS_EC2, "us-east-1", "http://localhost.evil.com", false,
                                     &e, &err),
           -1, "a name that only starts with localhost is not loopback");
    is_int(kiln_aws_endpoint_resolve(KILN_AWS_EC2, "us-east-1", "ftp://127.0.0.1", false, &e, &err),
           -1, "ftp refused");
    is_int(kiln_aws_endpoint_resolve(KILN_AWS_EC2, "us-east-1", "not a url", false, &e, &err), -1,
           "garbage refused");
    ok(msg_has("[aws] endpoint"), "the message names where the URL came from");
    ok(kiln_aws_host_is_loopback("127.255.0.1"), "127/8 is loopback");
    ok(kiln_aws_host_is_loopback("::1"), "::1 is loopback");
    ok(!kiln_aws_host_is_loopback("128.0.0.1"), "128.0.0.1 is not");
}

/* ---- HTTP against the fixture ---- */

static struct kiln_strbuf debug_log = KILN_STRBUF_INIT;

static void capture_log(void *ctx, const char *line)
{
    kiln_strbuf_appendf(&debug_log, "%s\n", line);
}

static struct kiln_aws_credentials_provider *test_creds(void)
{
    struct kiln_aws_credentials c = {0};
    kiln_aws_credentials_set(&c, "ASIATESTKEYID1234567", SECRET, TOKEN, 0, "test");
    struct kiln_aws_credentials_provider *p = kiln_aws_credentials_provider_static_new(&c);
    kiln_aws_credentials_clear(&c);
    return p;
}

static struct kiln_aws_client *client_for(const struct fixture *f, int max_attempts,
                                          int64_t timeout_ms, const char *ca_bundle)
{
    struct kiln_aws_credentials_provider *p = test_creds();
    struct kiln_aws_client_options o = {
        .region = "us-east-1",
        .config_endpoint = f->url,
        .ca_bundle = ca_bundle,
        .credentials = p,
        .max_attempts = max_attempts,
        .timeout_ms = timeout_ms,
        .connect_timeout_ms = 15000, /* a TLS handshake under valgrind is slow */
        .log = capture_log,
    };
    struct kiln_aws_client *c = kiln_aws_client_new(&o, &err);
    kiln_aws_credentials_provider_release(p);
    if (c)
        kiln_aws_http_set_backoff(kiln_aws_client_http(c), 1, 20);
    return c;
}

static char *header_of(const char *req, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = req; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            return xstrndup(v, strcspn(v, "\r\n"));
        }
    }
    return NULL;
}

/* Re-signs what arrived on the wire and compares with its Authorization: proves that the
 * host, path, body and headers kiln signed are the ones it sent. */
static void check_wire_signature(const char *log)
{
    const char *req = strstr(log, "=== REQUEST 1 ");
    req = req ? strchr(req, '\n') + 1 : NULL;
    if (!ok(req != NULL, "a request reached the fixture"))
        return;
    const char *body = strstr(req, "\r\n\r\n");
    const char *end = strstr(req, "\n=== END");
    char *host = header_of(req, "Host"), *ctype = header_of(req, "Content-Type");
    char *date = header_of(req, "X-Amz-Date"), *auth = header_of(req, "Authorization");
    char *tok = header_of(req, "X-Amz-Security-Token");
    char *method = xstrndup(req, strcspn(req, " "));
    const char *target = req + strlen(method) + 1;
    char *path = xstrndup(target, strcspn(target, " ?"));
    is_str(tok, TOKEN, "X-Amz-Security-Token sent");
    struct kiln_aws_credentials c = {0};
    kiln_aws_credentials_set(&c, "ASIATESTKEYID1234567", SECRET, TOKEN, 0, "test");
    struct tm tm = {0};
    strptime(date ? date : "", "%Y%m%dT%H%M%SZ", &tm);
    struct kiln_aws_header h[] = {{"Host", host}, {"Content-Type", ctype}};
    struct kiln_aws_sigv4_request sr = {
        method, path, NULL, h, 2, body ? body + 4 : "", body && end ? (size_t)(end - body - 4) : 0};
    struct kiln_aws_sigv4_params sp = {.creds = &c,
                                       .region = "us-east-1",
                                       .service = "sts",
                                       .time_us = (int64_t)timegm(&tm) * 1000000,
                                       .normalize_path = true};
    struct kiln_aws_sigv4 s;
    kiln_aws_sigv4_init(&s, &sr, &sp);
    kiln_aws_sigv4_sign(&s, &err);
    is_str(auth, kiln_strbuf_str(&s.authorization), "the signature matches what went on the wire");
    kiln_aws_sigv4_free(&s);
    kiln_aws_credentials_clear(&c);
    free(host), free(ctype), free(date), free(auth), free(tok), free(method), free(path);
}

static void test_whoami(void)
{
    struct fixture f;
    struct fx_response r[] = {{200, ident_xml, NULL, 0, NULL}};
    char *log_path = xasprintf("%s/whoami.log", tmpdir);
    fx_start(&f, r, 1, log_path);
    struct kiln_aws_client *c = client_for(&f, 3, 5000, NULL);
    struct kiln_aws_identity id;
    is_int(kiln_aws_whoami(c, &id, &err), 0, "whoami against the fixture");
    is_str(id.account, "123456789012", "Account");
    is_str(id.arn, "arn:aws:iam::123456789012:user/alice", "Arn");
    is_str(id.user_id, "AIDACKCEVSQ6C2EXAMPLE", "UserId");
    char *log = fx_log(&f);
    ok(strstr(log, "POST / HTTP/1.1") != NULL, "a POST to /");
    ok(strstr(log, "Action=GetCallerIdentity&Version=2011-06-15") != NULL, "the form body");
    ok(strstr(log, "Content-Type: application/x-www-form-urlencoded; charset=utf-8") != NULL,
       "the form content type");
    ok(strstr(log, "Credential=ASIATESTKEYID1234567/") &&
           strstr(log, "/us-east-1/sts/aws4_request"),
       "signed for sts in us-east-1");
    check_wire_signature(log);
    free(log);
    kiln_aws_client_free(c);
    fx_stop(&f);
    free(log_path);
}

static void test_retries(void)
{
    struct fixture f;
    char *log_path = xasprintf("%s/retry.log", tmpdir);

    /* Throttling twice, then the answer: success, on one kept-alive connection. */
    struct fx_response thr[] = {{400, throttled_xml, NULL, 0, NULL},
                                {503, ec2_limit_xml, NULL, 0, NULL},
                                {200, ident_xml, NULL, 0, NULL}};
    fx_start(&f, thr, 3, log_path);
    struct kiln_aws_client *c = client_for(&f, 8, 5000, NULL);
    struct kiln_aws_identity id;
    kiln_strbuf_reset(&debug_log);
    is_int(kiln_aws_whoami(c, &id, &err), 0, "throttled twice, then success");
    is_int(fx_count(&f, "=== REQUEST"), 3, "three requests");
    is_int(fx_count(&f, " conn 1\n"), 3, "all on one connection (reused)");
    ok(strstr(kiln_strbuf_str(&debug_log), "retrying GetCallerIdentity") != NULL,
       "the retries are in the debug log");
    ok(strstr(kiln_strbuf_str(&debug_log), "Throttling: Rate exceeded") != NULL, "with the reason");
    kiln_aws_client_free(c);
    fx_stop(&f);

    /* 5xx for ever: a bounded number of attempts and one clear sentence. */
    struct fx_response fail[] = {{500, internal_xml, NULL, 0, NULL}};
    fx_start(&f, fail, 1, log_path);
    c = client_for(&f, 4, 5000, NULL);
    int64_t t0 = kiln_mono_us();
    is_int(kiln_aws_whoami(c, &id, &err), -1, "5xx beyond the bound fails");
    ok(kiln_mono_us() - t0 < 3000000, "quickly, with the test's short backoff");
    is_int(fx_count(&f, "=== REQUEST"), 4, "after exactly 4 attempts");
    ok(msg_has("after 4 attempts") &&
           msg_has("InternalFailure: We encountered an internal error. (GetCallerIdentity, "
                   "request id req-500)"),
       "message: code: message (action, request id)");
    is_int(kiln_aws_client_last_error(c)->status, 500, "last error kept for the caller");
    kiln_aws_client_free(c);
    fx_stop(&f);

    /* A client error is not retried. */
    struct fx_response bad[] = {{400, validation_xml, NULL, 0, NULL}};
    fx_start(&f, bad, 1, log_path);
    c = client_for(&f, 8, 5000, NULL);
    is_int(kiln_aws_whoami(c, &id, &err), -1, "ValidationError fails");
    is_int(fx_count(&f, "=== REQUEST"), 1, "without a retry");
    ok(msg_has("ValidationError: Group name too long (GetCallerIdentity, request id req-400)"),
       "the Query error format");
    is_int(err.code, KILN_E_INVALID, "as an invalid-input error");
    is_str(kiln_aws_client_last_error(c)->code, "ValidationError", "code for the caller");
    kiln_aws_client_free(c);
    fx_stop(&f);

    /* A connection dropped without an answer, then a timeout, then the answer. */
    struct fx_response flaky[] = {{0, NULL, NULL, 0, NULL},
                                  {200, ident_xml, NULL, 900, NULL},
                                  {200, ident_xml, NULL, 0, NULL}};
    fx_start(&f, flaky, 3, log_path);
    c = client_for(&f, 5, 600, NULL);
    kiln_err_clear(&err);
    is_int(kiln_aws_whoami(c, &id, &err), 0, "dropped connection and timeout are retried");
    if (err.msg[0])
        diag("%s", err.msg);
    ok(fx_count(&f, "=== REQUEST") >= 3, "three or more requests");
    is_str(id.account, "123456789012", "and the answer read");
    kiln_aws_client_free(c);
    fx_stop(&f);

    /* Nothing listening: bounded retries, then "cannot reach". */
    fx_start(&f, fail, 1, log_path);
    fx_stop(&f); /* the port is now closed */
    c = client_for(&f, 3, 1000, NULL);
    is_int(kiln_aws_whoami(c, &id, &err), -1, "connection refused fails");
    ok(msg_has("cannot reach") && msg_has("3 attempts"), "after retries, saying so");
    kiln_aws_client_free(c);

    /* A 200 with a body that is not XML: a clear error, no crash. */
    struct fx_response garbage[] = {{200, "<GetCallerIdentityResponse><GetCaller", NULL, 0, NULL}};
    fx_start(&f, garbage, 1, log_path);
    c = client_for(&f, 3, 5000, NULL);
    is_int(kiln_aws_whoami(c, &id, &err), -1, "malformed XML answer fails");
    ok(msg_has("malformed XML in the GetCallerIdentity response"), "with a clear message");
    kiln_aws_client_free(c);
    fx_stop(&f);

    /* A non-XML error page from a proxy: the status and the start of the page. */
    struct fx_response html[] = {
        {502, "<html><head><title>502 Bad Gateway</title>", "text/html", 0, NULL}};
    fx_start(&f, html, 1, log_path);
    c = client_for(&f, 2, 5000, NULL);
    is_int(kiln_aws_whoami(c, &id, &err), -1, "HTML 502 fails");
    ok(msg_has("HTTP 502 Bad Gateway") && msg_has("request id fixture-2"),
       "HTTP status, the page, and the header's request id");
    kiln_aws_client_free(c);
    fx_stop(&f);
    free(log_path);
}

static void test_redaction(void)
{
    struct fixture f;
    char *log_path = xasprintf("%s/redact.log", tmpdir);
    static const char assume_xml[] = "<AssumeRoleResponse><AssumeRoleResult><Credentials>"
                                     "<AccessKeyId>ASIAROLEKEY</AccessKeyId>"
                                     "<SecretAccessKey>roleSECRETroleSECRET</SecretAccessKey>"
                                     "<SessionToken>roleTOKENroleTOKEN</SessionToken>"
                                     "<Expiration>2099-01-01T00:00:00Z</Expiration>"
                                     "</Credentials></AssumeRoleResult></AssumeRoleResponse>";
    struct fx_response r[] = {{200, assume_xml, NULL, 0, NULL}};
    fx_start(&f, r, 1, log_path);
    struct kiln_aws_client *c = client_for(&f, 2, 5000, NULL);
    kiln_strbuf_reset(&debug_log);
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_EC2, "RunInstances");
    kiln_aws_query_add(&q, "UserData", "IyEvYmluL3NoCnBhc3N3b3JkPWh1bnRlcjI=");
    kiln_aws_query_add(&q, "Password", "hunter2");
    kiln_aws_query_add(&q, "NextToken", "page-2");
    xmlDoc *doc = NULL;
    is_int(kiln_aws_query_call(c, &q, &doc, &err), 0, "call with secrets in and out");
    xmlFreeDoc(doc);
    kiln_aws_query_free(&q);
    const char *l = kiln_strbuf_str(&debug_log);
    ok(strstr(l, "RunInstances") != NULL, "the debug log has the call");
    ok(strstr(l, SECRET) == NULL && strstr(l, "CYzzSECRETzz") == NULL, "no secret key in it");
    ok(strstr(l, TOKEN) == NULL && strstr(l, "TOKENtoken") == NULL, "no session token in it");
    ok(strstr(l, "roleSECRET") == NULL && strstr(l, "roleTOKEN") == NULL,
       "no secret or token from the response");
    ok(strstr(l, "hunter2") == NULL && strstr(l, "IyEvYmluL3No") == NULL,
       "no password, no user data");
    ok(strstr(l, "Signature=") == NULL && strstr(l, "Authorization: AWS4") == NULL,
       "no Authorization value");
    ok(strstr(l, "<redacted>") != NULL, "redacted markers instead");
    ok(strstr(l, "NextToken=page-2") != NULL, "NextToken is not a secret");
    ok(strstr(l, "ASIAROLEKEY") != NULL, "key ids are not secret");
    if (strstr(l, "hunter2") || strstr(l, "SECRET") || strstr(l, "TOKENtoken"))
        diag("log: %s", l);
    kiln_aws_client_free(c);
    fx_stop(&f);
    free(log_path);

    struct kiln_strbuf out = KILN_STRBUF_INIT;
    const char *json = "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIA1\",\"SecretAccessKey\" : "
                       "\"s3cr\\\"et\",\"Token\":\"tok\",\"Expiration\":\"2099\"}";
    kiln_aws_redact(&out, json, strlen(json));
    is_str(kiln_strbuf_str(&out),
           "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIA1\",\"SecretAccessKey\": "
           "\"<redacted>\",\"Token\": \"<redacted>\",\"Expiration\":\"2099\"}",
           "JSON secrets redacted");
    kiln_strbuf_reset(&out);
    const char *xml = "<a:SessionToken x=\"1\">abc</a:SessionToken><Other>keep</Other>";
    kiln_aws_redact(&out, xml, strlen(xml));
    is_str(kiln_strbuf_str(&out),
           "<a:SessionToken x=\"1\"><redacted></a:SessionToken><Other>keep</Other>",
           "XML secrets redacted, prefixes and all");
    kiln_strbuf_reset(&out);
    const char *form = "Action=X&LaunchTemplateData.UserData=abc&ClientToken=t1&X-Amz-Signature=ff";
    kiln_aws_redact(&out, form, strlen(form));
    is_str(kiln_strbuf_str(&out),
           "Action=X&LaunchTemplateData.UserData=<redacted>&ClientToken=t1&"
           "X-Amz-Signature=<redacted>",
           "form secrets redacted");
    kiln_strbuf_free(&out);
}

/* ---- TLS ---- */

static int run_argv(const char *const *argv)
{
    struct kiln_spawn_opts o = {.argv = argv, .timeout_ms = 60000};
    int status = -1;
    if (kiln_spawn_run(&o, &status, &err) < 0) {
        diag("%s", err.msg);
        return -1;
    }
    return status;
}

static void test_tls(void)
{
    char *cert = xasprintf("%s/cert.pem", tmpdir), *key = xasprintf("%s/key.pem", tmpdir);
    const char *argv[] = {"openssl",  "req",
                          "-x509",    "-newkey",
                          "rsa:2048", "-nodes",
                          "-keyout",  key,
                          "-out",     cert,
                          "-days",    "1",
                          "-subj",    "/CN=localhost",
                          "-addext",  "subjectAltName=IP:127.0.0.1,DNS:localhost",
                          NULL};
    if (!ok(run_argv(argv) == 0, "made a self-signed certificate")) {
        free(cert), free(key);
        return;
    }
    struct fixture f;
    char *log_path = xasprintf("%s/tls.log", tmpdir);
    struct fx_response r[] = {{200, ident_xml, NULL, 0, NULL}};
    if (!ok(fx_start_tls(&f, r, 1, log_path, cert, key) == 0, "HTTPS fixture started"))
        return;
    struct kiln_aws_client *c = client_for(&f, 3, 30000, NULL);
    struct kiln_aws_identity id;
    is_int(kiln_aws_whoami(c, &id, &err), -1, "a self-signed certificate is refused");
    ok(msg_has("could not be verified") && msg_has("ca_bundle"),
       "saying so, and what to do about it");
    is_int(fx_count(&f, "=== REQUEST"), 0, "no request got through");
    kiln_aws_client_free(c);

    c = client_for(&f, 3, 30000, cert);
    kiln_err_clear(&err);
    is_int(kiln_aws_whoami(c, &id, &err), 0, "accepted with ca_bundle pointing at it");
    if (err.msg[0])
        diag("%s", err.msg);
    is_str(id.account, "123456789012", "and the answer read over TLS");
    kiln_aws_client_free(c);
    fx_stop(&f);

    struct kiln_aws_http_options ho = {.ca_bundle = "/nonexistent/ca.pem"};
    ok(kiln_aws_http_new(&ho, &err) == NULL && msg_has("ca_bundle"),
       "a missing ca_bundle is an error at start-up");
    free(cert), free(key), free(log_path);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/aws/test_http.XXXXXX");
    kiln_mkdir_p("/tmp/aws", 0755, NULL);
    if (mkdtemp(tmpdir) == NULL) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }
    clear_aws_env();
    test_endpoints();
    test_whoami();
    test_retries();
    test_redaction();
    test_tls();
    kiln_strbuf_free(&debug_log);
    return done_testing();
}
