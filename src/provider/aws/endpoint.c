/* kiln: AWS endpoints, defaults and overrides (see kiln/aws_endpoint.h). */
#include "kiln/url.h"
#include "kiln/aws_endpoint.h"
#include "kiln/xalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

struct service_info {
    const char *name;    /* endpoint prefix and signing name */
    const char *env_id;  /* AWS_ENDPOINT_URL_<env_id> */
    const char *version; /* the API version kiln speaks (botocore's service-2.json) */
    bool global;         /* one endpoint for the whole partition */
};

static const struct service_info services[KILN_AWS_N_SERVICES] = {
    [KILN_AWS_EC2] = {"ec2", "EC2", "2016-11-15", false},
    [KILN_AWS_AUTOSCALING] = {"autoscaling", "AUTO_SCALING", "2011-01-01", false},
    [KILN_AWS_ELB] = {"elasticloadbalancing", "ELASTIC_LOAD_BALANCING", "2012-06-01", false},
    [KILN_AWS_ROUTE53] = {"route53", "ROUTE_53", "2013-04-01", true},
    [KILN_AWS_STS] = {"sts", "STS", "2011-06-15", false},
};

const char *kiln_aws_service_name(enum kiln_aws_service svc)
{
    return svc < KILN_AWS_N_SERVICES ? services[svc].name : "?";
}

const char *kiln_aws_service_env_id(enum kiln_aws_service svc)
{
    return svc < KILN_AWS_N_SERVICES ? services[svc].env_id : "?";
}

const char *kiln_aws_service_api_version(enum kiln_aws_service svc)
{
    return svc < KILN_AWS_N_SERVICES ? services[svc].version : "?";
}

bool kiln_aws_host_is_loopback(const char *host)
{
    if (host == NULL)
        return false;
    if (strcasecmp(host, "localhost") == 0)
        return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

static bool valid_region(const char *r)
{
    if (r == NULL || r[0] == '\0' || strlen(r) > 40)
        return false;
    for (; *r; r++)
        if (!(islower((unsigned char)*r) || isdigit((unsigned char)*r) || *r == '-'))
            return false;
    return true;
}

/* The DNS suffix of the region's partition. */
static const char *dns_suffix(const char *region)
{
    return strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
}

static void set_default(struct kiln_aws_endpoint *e, const struct service_info *si,
                        const char *region)
{
    if (si->global) {
        /* Route 53 has one endpoint per partition, signed for that partition's
         * first region. */
        if (strncmp(region, "cn-", 3) == 0) {
            snprintf(e->host, sizeof e->host, "route53.amazonaws.com.cn");
            snprintf(e->signing_region, sizeof e->signing_region, "cn-northwest-1");
        } else if (strncmp(region, "us-gov-", 7) == 0) {
            snprintf(e->host, sizeof e->host, "route53.us-gov.amazonaws.com");
            snprintf(e->signing_region, sizeof e->signing_region, "us-gov-west-1");
        } else {
            snprintf(e->host, sizeof e->host, "route53.amazonaws.com");
            snprintf(e->signing_region, sizeof e->signing_region, "us-east-1");
        }
    } else {
        snprintf(e->host, sizeof e->host, "%s.%s.%s", si->name, region, dns_suffix(region));
        snprintf(e->signing_region, sizeof e->signing_region, "%s", region);
    }
    snprintf(e->url, sizeof e->url, "https://%s", e->host);
    e->https = true;
    snprintf(e->origin, sizeof e->origin, "default");
}

static int parse_override(struct kiln_aws_endpoint *e, const char *raw_url, const char *origin,
                          bool allow_http, struct kiln_err *err)
{
    /* Messages quote the URL without its userinfo (a password there is a secret). */
    char url[2048];
    kiln_url_redacted(raw_url, url, sizeof url);
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL;
    int rc = -1;
    if (u == NULL)
        kiln_oom(sizeof(void *));
    if (curl_url_set(u, CURLUPART_URL, raw_url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        kiln_err_set(err, KILN_E_INVALID,
                     "%s = \"%s\" is not a URL; write it as https://host[:port]", origin, url);
        goto out;
    }
    bool https = strcasecmp(scheme, "https") == 0;
    if (!https && strcasecmp(scheme, "http") != 0) {
        kiln_err_set(err, KILN_E_INVALID,
                     "%s = \"%s\": kiln speaks only https:// (or http:// to loopback)", origin,
                     url);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        kiln_err_set(err, KILN_E_INVALID,
                     "%s = \"%s\": an endpoint has no query and no user name; give only "
                     "scheme://host[:port][/path]",
                     origin, url);
        goto out;
    }
    /* CURLU keeps IPv6 brackets in the host; the loopback test wants the bare address. */
    char bare[300];
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']')
        snprintf(bare, sizeof bare, "%.*s", (int)(hl - 2), host + 1);
    else
        snprintf(bare, sizeof bare, "%s", host);
    /* An IPv6 zone id ("fe80::1%25eth0") is not loopback; inet_pton refuses it. */
    if (!https && !allow_http && !kiln_aws_host_is_loopback(bare)) {
        kiln_err_set(err, KILN_E_INVALID,
                     "%s = \"%s\" would send signed AWS requests over plain http to a host "
                     "that is not loopback; use https://, or set allow_http_endpoints = true "
                     "in kiln's [aws] config if that network is trusted",
                     origin, url);
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0); /* only when written in the URL */
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    const char *p = path ? path : "";
    size_t pl = strlen(p);
    while (pl > 0 && p[pl - 1] == '/')
        pl--;
    if (pl >= sizeof e->base_path) {
        kiln_err_set(err, KILN_E_INVALID, "%s = \"%s\": the path is too long", origin, url);
        goto out;
    }
    snprintf(e->base_path, sizeof e->base_path, "%.*s", (int)pl, p);
    if (port)
        snprintf(e->host, sizeof e->host, "%s:%s", host, port);
    else
        snprintf(e->host, sizeof e->host, "%s", host);
    int n = snprintf(e->url, sizeof e->url, "%s://%s%s", https ? "https" : "http", e->host,
                     e->base_path);
    if (n < 0 || (size_t)n >= sizeof e->url) {
        kiln_err_set(err, KILN_E_INVALID, "%s = \"%s\": the URL is too long", origin, url);
        goto out;
    }
    e->https = https;
    e->overridden = true;
    snprintf(e->origin, sizeof e->origin, "%s", origin);
    rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_free(user);
    curl_url_cleanup(u);
    return rc;
}

static bool env_true(const char *name)
{
    const char *v = getenv(name);
    return v && strcasecmp(v, "true") == 0;
}

int kiln_aws_endpoint_resolve(enum kiln_aws_service svc, const char *region,
                              const char *config_endpoint, bool allow_http,
                              struct kiln_aws_endpoint *out, struct kiln_err *err)
{
    memset(out, 0, sizeof *out);
    if (svc >= KILN_AWS_N_SERVICES)
        return kiln_err_set(err, KILN_E_INVALID, "unknown AWS service %d", (int)svc);
    if (!valid_region(region))
        return kiln_err_set(err, KILN_E_INVALID,
                            "\"%s\" is not an AWS region name (like us-east-1); check --region, "
                            "AWS_REGION or [aws] region",
                            region ? region : "");
    const struct service_info *si = &services[svc];
    out->service = svc;
    out->signing_name = si->name;
    out->api_version = si->version;
    set_default(out, si, region);

    if (env_true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"))
        return 0;
    char var[64];
    snprintf(var, sizeof var, "AWS_ENDPOINT_URL_%s", si->env_id);
    const char *url = getenv(var), *origin = var;
    if (url == NULL || url[0] == '\0') {
        url = getenv("AWS_ENDPOINT_URL");
        origin = "AWS_ENDPOINT_URL";
    }
    if (url == NULL || url[0] == '\0') {
        url = config_endpoint;
        origin = "[aws] endpoint";
    }
    if (url == NULL || url[0] == '\0')
        return 0;
    /* Overridden: Route 53 is still signed for its partition's region (set above), the
     * regional services for the configured one. */
    char signing[64];
    snprintf(signing, sizeof signing, "%s", out->signing_region);
    if (parse_override(out, url, origin, allow_http, err) < 0)
        return -1;
    snprintf(out->signing_region, sizeof out->signing_region, "%s", signing);
    return 0;
}
