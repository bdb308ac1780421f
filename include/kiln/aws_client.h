/* kiln: one AWS client: a region, its endpoints, a credentials provider and an HTTP
 * handle, and the two ways kiln calls AWS:
 *   Query APIs (EC2, Auto Scaling, ELB, STS): a signed POST of a form body
 *       Action=...&Version=...&Name=value..., Content-Type
 *       application/x-www-form-urlencoded; charset=utf-8;
 *   REST-XML (Route 53): method, path, query and an XML body.
 * Both return the parsed XML answer, or an error sentence "Code: Message (Action,
 * request id ID)".
 *
 * A client is used by one thread at a time (it owns a CURL handle); threads working in
 * parallel make one each and share the credentials provider. */
#ifndef KILN_AWS_CLIENT_H
#define KILN_AWS_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "kiln/aws_credentials.h"
#include "kiln/aws_endpoint.h"
#include "kiln/aws_error.h"
#include "kiln/aws_http.h"
#include "kiln/err.h"
#include "kiln/strbuf.h"

struct kiln_config;

struct kiln_aws_client_options {
    const char *region;          /* required: where the regional services are */
    const char *config_endpoint; /* [aws] endpoint, or NULL */
    bool allow_http_endpoints;
    const char *ca_bundle; /* or NULL */
    /* Acquired by the client (the caller keeps its own reference). */
    struct kiln_aws_credentials_provider *credentials;
    int max_attempts;                       /* 0: 8 */
    int64_t timeout_ms, connect_timeout_ms; /* 0: the HTTP defaults */
    kiln_aws_log_fn log;
    void *log_ctx;
};

struct kiln_aws_client;

/* Resolves every service's endpoint now, so a bad override is reported at start-up,
 * not in the middle of a deploy. Free with kiln_aws_client_free. */
struct kiln_aws_client *kiln_aws_client_new(const struct kiln_aws_client_options *o,
                                            struct kiln_err *err);

/* The usual way in: region and credentials as the AWS CLI finds them, with --profile
 * and --region (each may be NULL) over kiln's [aws] config. cache_dir: where assumed
 * roles are cached on disk (NULL: memory only). */
struct kiln_aws_client *kiln_aws_client_open(const struct kiln_config *cfg, const char *profile,
                                             const char *region, const char *cache_dir,
                                             struct kiln_err *err);

void kiln_aws_client_free(struct kiln_aws_client *c);

const char *kiln_aws_client_region(const struct kiln_aws_client *c);
const struct kiln_aws_endpoint *kiln_aws_client_endpoint(const struct kiln_aws_client *c,
                                                         enum kiln_aws_service svc);
struct kiln_aws_http *kiln_aws_client_http(struct kiln_aws_client *c);
struct kiln_aws_credentials_provider *kiln_aws_client_credentials(struct kiln_aws_client *c);

/* The AWS error of the client's last failed call (code "" when the last call worked or
 * failed before AWS answered): how callers tell AlreadyExists from a real failure. */
const struct kiln_aws_error *kiln_aws_client_last_error(const struct kiln_aws_client *c);

/* ---- Query APIs ---- */

struct kiln_aws_query {
    enum kiln_aws_service service;
    const char *action;
    struct kiln_strbuf body;
};

/* Starts "Action=<action>&Version=<the service's API version>". */
void kiln_aws_query_init(struct kiln_aws_query *q, enum kiln_aws_service svc, const char *action);
/* Appends &name=value, both percent-encoded. */
void kiln_aws_query_add(struct kiln_aws_query *q, const char *name, const char *value);
void kiln_aws_query_addf(struct kiln_aws_query *q, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void kiln_aws_query_free(struct kiln_aws_query *q);

/* Sends q; on success *doc is the answer (the caller frees it with xmlFreeDoc). */
int kiln_aws_query_call(struct kiln_aws_client *c, const struct kiln_aws_query *q, xmlDoc **doc,
                        struct kiln_err *err);

/* ---- REST-XML ---- */

/* method/path/query (encoded) with an optional XML body; *doc as above, or NULL for an
 * answer without a body. */
int kiln_aws_rest_call(struct kiln_aws_client *c, enum kiln_aws_service svc, const char *action,
                       const char *method, const char *path, const char *query,
                       const char *xml_body, xmlDoc **doc, struct kiln_err *err);

#endif
