/* kiln: one AWS client, the Query and REST-XML calls (see kiln/aws_client.h). */
#include "kiln/aws_client.h"
#include "kiln/aws_xml.h"
#include "kiln/config.h"
#include "kiln/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kiln_aws_client {
    char region[64];
    struct kiln_aws_endpoint endpoints[KILN_AWS_N_SERVICES];
    struct kiln_aws_credentials_provider *creds;
    struct kiln_aws_http *http;
    struct kiln_aws_error last_error;
};

struct kiln_aws_client *kiln_aws_client_new(const struct kiln_aws_client_options *o,
                                            struct kiln_err *err)
{
    struct kiln_aws_client *c = xcalloc(1, sizeof *c);
    snprintf(c->region, sizeof c->region, "%s", o->region ? o->region : "");
    for (int s = 0; s < KILN_AWS_N_SERVICES; s++) {
        if (kiln_aws_endpoint_resolve((enum kiln_aws_service)s, c->region, o->config_endpoint,
                                      o->allow_http_endpoints, &c->endpoints[s], err) < 0) {
            free(c);
            return NULL;
        }
    }
    struct kiln_aws_http_options ho = {
        .ca_bundle = o->ca_bundle,
        .connect_timeout_ms = o->connect_timeout_ms,
        .timeout_ms = o->timeout_ms,
        .max_attempts = o->max_attempts,
        .log = o->log,
        .log_ctx = o->log_ctx,
    };
    c->http = kiln_aws_http_new(&ho, err);
    if (c->http == NULL) {
        free(c);
        return NULL;
    }
    c->creds = kiln_aws_credentials_provider_acquire(o->credentials);
    return c;
}

struct kiln_aws_client *kiln_aws_client_open(const struct kiln_config *cfg, const char *profile,
                                             const char *region, const char *cache_dir,
                                             struct kiln_err *err)
{
    const char *prof = profile && profile[0]                     ? profile
                       : cfg->aws.profile && cfg->aws.profile[0] ? cfg->aws.profile
                                                                 : NULL;
    char reg[64];
    if (kiln_aws_resolve_region(region, cfg->aws.region, prof, reg, sizeof reg, err) < 0)
        return NULL;
    struct kiln_aws_credentials_options co = {
        .profile = prof,
        .region = reg,
        .config_endpoint = cfg->aws.endpoint,
        .allow_http_endpoints = cfg->aws.allow_http_endpoints,
        .ca_bundle = cfg->aws.ca_bundle,
        .cache_dir = cache_dir,
    };
    struct kiln_aws_credentials_provider *chain =
        kiln_aws_credentials_provider_chain_default_new(&co);
    struct kiln_aws_client_options o = {
        .region = reg,
        .config_endpoint = cfg->aws.endpoint,
        .allow_http_endpoints = cfg->aws.allow_http_endpoints,
        .ca_bundle = cfg->aws.ca_bundle,
        .credentials = chain,
    };
    struct kiln_aws_client *c = kiln_aws_client_new(&o, err);
    kiln_aws_credentials_provider_release(chain);
    return c;
}

void kiln_aws_client_free(struct kiln_aws_client *c)
{
    if (c == NULL)
        return;
    kiln_aws_http_free(c->http);
    kiln_aws_credentials_provider_release(c->creds);
    free(c);
}

const char *kiln_aws_client_region(const struct kiln_aws_client *c)
{
    return c->region;
}

const struct kiln_aws_endpoint *kiln_aws_client_endpoint(const struct kiln_aws_client *c,
                                                         enum kiln_aws_service svc)
{
    return svc < KILN_AWS_N_SERVICES ? &c->endpoints[svc] : NULL;
}

struct kiln_aws_http *kiln_aws_client_http(struct kiln_aws_client *c)
{
    return c->http;
}

struct kiln_aws_credentials_provider *kiln_aws_client_credentials(struct kiln_aws_client *c)
{
    return c->creds;
}

const struct kiln_aws_error *kiln_aws_client_last_error(const struct kiln_aws_client *c)
{
    return &c->last_error;
}

/* ---- Query APIs ---- */

void kiln_aws_query_init(struct kiln_aws_query *q, enum kiln_aws_service svc, const char *action)
{
    q->service = svc;
    q->action = action;
    kiln_strbuf_init(&q->body);
    kiln_strbuf_append(&q->body, "Action=");
    kiln_aws_uri_encode(&q->body, action, strlen(action), false);
    kiln_strbuf_appendf(&q->body, "&Version=%s", kiln_aws_service_api_version(svc));
}

void kiln_aws_query_add(struct kiln_aws_query *q, const char *name, const char *value)
{
    kiln_strbuf_appendc(&q->body, '&');
    kiln_aws_uri_encode(&q->body, name, strlen(name), false);
    kiln_strbuf_appendc(&q->body, '=');
    if (value)
        kiln_aws_uri_encode(&q->body, value, strlen(value), false);
}

void kiln_aws_query_addf(struct kiln_aws_query *q, const char *name, const char *fmt, ...)
{
    struct kiln_strbuf v = KILN_STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    kiln_strbuf_vappendf(&v, fmt, ap);
    va_end(ap);
    kiln_aws_query_add(q, name, kiln_strbuf_str(&v));
    kiln_strbuf_free(&v);
}

void kiln_aws_query_free(struct kiln_aws_query *q)
{
    kiln_strbuf_free(&q->body);
}

static int finish(struct kiln_aws_client *c, int rc, struct kiln_aws_http_response *resp,
                  const char *action, xmlDoc **doc, struct kiln_err *err)
{
    c->last_error = resp->error;
    if (rc == 0 && doc) {
        if (resp->body.len == 0)
            *doc = NULL;
        else if (kiln_aws_xml_parse(resp->body.buf, resp->body.len, action, doc, err) < 0)
            rc = -1;
    }
    kiln_aws_http_response_free(resp);
    return rc;
}

int kiln_aws_query_call(struct kiln_aws_client *c, const struct kiln_aws_query *q, xmlDoc **doc,
                        struct kiln_err *err)
{
    if (doc)
        *doc = NULL;
    struct kiln_aws_request req = {
        .endpoint = &c->endpoints[q->service],
        .action = q->action,
        .method = "POST",
        .path = "/",
        .content_type = "application/x-www-form-urlencoded; charset=utf-8",
        .body = kiln_strbuf_str(&q->body),
        .body_len = q->body.len,
    };
    struct kiln_aws_http_response resp = {0};
    int rc = kiln_aws_http_send(c->http, c->creds, &req, &resp, err);
    rc = finish(c, rc, &resp, q->action, doc, err);
    if (rc == 0 && doc && *doc == NULL)
        rc = kiln_err_set(err, KILN_E_INVALID,
                          "malformed XML in the %s response: the body is empty", q->action);
    return rc;
}

int kiln_aws_rest_call(struct kiln_aws_client *c, enum kiln_aws_service svc, const char *action,
                       const char *method, const char *path, const char *query,
                       const char *xml_body, xmlDoc **doc, struct kiln_err *err)
{
    if (doc)
        *doc = NULL;
    struct kiln_aws_request req = {
        .endpoint = &c->endpoints[svc],
        .action = action,
        .method = method,
        .path = path,
        .query = query,
        .content_type = xml_body ? "application/xml" : NULL,
        .body = xml_body,
        .body_len = xml_body ? strlen(xml_body) : 0,
    };
    struct kiln_aws_http_response resp = {0};
    int rc = kiln_aws_http_send(c->http, c->creds, &req, &resp, err);
    return finish(c, rc, &resp, action, doc, err);
}
