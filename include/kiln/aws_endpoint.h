/* kiln: where each AWS service answers.
 *
 * Defaults are the regional endpoints (https://ec2.REGION.amazonaws.com, ...), Route 53's
 * global one (https://route53.amazonaws.com, signed for us-east-1) and STS's regional
 * one. An override, first found wins:
 *   1. AWS_ENDPOINT_URL_<SERVICE>: EC2, AUTO_SCALING, ELASTIC_LOAD_BALANCING, ROUTE_53, STS
 *   2. AWS_ENDPOINT_URL
 *   3. [aws] endpoint in kiln's config
 * (AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true ignores all three, as the AWS CLI does.)
 * An override points every call at an emulator or a proxy; the signing region stays
 * the configured region. Plain http:// is refused unless the host is loopback
 * (127.0.0.0/8, ::1, localhost) or [aws] allow_http_endpoints is set: the requests
 * carry credentials that must not cross a network in clear. */
#ifndef KILN_AWS_ENDPOINT_H
#define KILN_AWS_ENDPOINT_H

#include <stdbool.h>

#include "kiln/err.h"

enum kiln_aws_service {
    KILN_AWS_EC2,
    KILN_AWS_AUTOSCALING,
    KILN_AWS_ELB,
    KILN_AWS_ROUTE53,
    KILN_AWS_STS,
    KILN_AWS_N_SERVICES
};

struct kiln_aws_endpoint {
    enum kiln_aws_service service;
    char url[512];       /* scheme://host[:port][/base], no trailing slash */
    char host[300];      /* the Host header: "ec2.us-east-1.amazonaws.com", "127.0.0.1:9000" */
    char base_path[256]; /* "" or "/prefix" of an override */
    char signing_region[64];
    const char *signing_name; /* "ec2", "autoscaling", "elasticloadbalancing", "route53", "sts" */
    const char *api_version;  /* "2016-11-15", ... */
    bool https;
    bool overridden; /* came from the environment or the config */
    char origin[64]; /* "default", "AWS_ENDPOINT_URL_EC2", "[aws] endpoint" */
};

/* Resolves svc for region (a region name: [a-z0-9-]). */
int kiln_aws_endpoint_resolve(enum kiln_aws_service svc, const char *region,
                              const char *config_endpoint, bool allow_http,
                              struct kiln_aws_endpoint *out, struct kiln_err *err);

/* "ec2", "autoscaling", "elasticloadbalancing", "route53", "sts". */
const char *kiln_aws_service_name(enum kiln_aws_service svc);
/* The suffix of its AWS_ENDPOINT_URL_ variable: "EC2", "AUTO_SCALING", ... */
const char *kiln_aws_service_env_id(enum kiln_aws_service svc);

/* The API version kiln speaks to it (botocore's service-2.json): "2016-11-15", ... */
const char *kiln_aws_service_api_version(enum kiln_aws_service svc);

/* Whether host (no port, IPv6 without brackets) is a loopback name or address. */
bool kiln_aws_host_is_loopback(const char *host);

#endif
