/* kiln: the health gate on private addresses ([aws] health_probe = private).
 *
 * Before a new group is attached to its ELB, nothing on AWS has looked at its HTTP
 * health: Auto Scaling's "Healthy" only means the EC2 status checks pass. With this
 * setting kiln GETs each running instance's health URL (the ELB's own target, such as
 * HTTP:8080/health_check) on its private IP, as the ELB will, so a broken build fails its
 * gate without ever taking traffic. kiln must be able to reach the VPC's addresses (run it
 * inside the VPC or over a VPN); the answer is read as the ELB reads it: 200 is healthy. */
#include "provider/aws/aws.h"

#include "kiln/xalloc.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_TIMEOUT_MAX_MS 5000
/* An address that drops packets (kiln outside the VPC) must not hold a refresh for long. */
#define PROBE_CONNECT_MS 1000

static size_t discard(char *data, size_t size, size_t n, void *ctx)
{
    (void)data;
    (void)ctx;
    return size * n;
}

int aws_probe_target(const char *target, int *port, const char **path)
{
    if (target == NULL || strncmp(target, "HTTP:", 5) != 0)
        return -1;
    char *end;
    long p = strtol(target + 5, &end, 10);
    if (p < 1 || p > 65535 || (*end != '/' && *end != '\0'))
        return -1;
    *port = (int)p;
    *path = *end ? end : "/";
    return 0;
}

void aws_probe_health(const char *ip, int port, const char *path, int timeout_ms,
                      struct aws_probe *out)
{
    out->health = KILN_HEALTH_UNKNOWN;
    out->detail[0] = '\0';
    struct in_addr addr;
    if (inet_pton(AF_INET, ip, &addr) != 1) {
        /* It goes into a URL: only an address AWS could have given. */
        snprintf(out->detail, sizeof out->detail, "not probed: the private address is not IPv4");
        return;
    }
    char *url = xasprintf("http://%s:%d%s", ip, port, path);
    CURL *h = curl_easy_init();
    if (h == NULL) {
        snprintf(out->detail, sizeof out->detail, "cannot probe %.300s: out of memory", url);
        free(url);
        return;
    }
    if (timeout_ms <= 0 || timeout_ms > PROBE_TIMEOUT_MAX_MS)
        timeout_ms = PROBE_TIMEOUT_MAX_MS;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)PROBE_CONNECT_MS);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kiln-health-probe");
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        /* Not up yet, or not reachable from here: unknown, as the ELB's first checks. */
        snprintf(out->detail, sizeof out->detail, "no answer from %.300s: %s", url,
                 curl_easy_strerror(rc));
    } else if (code == 200) {
        out->health = KILN_HEALTH_HEALTHY;
    } else {
        out->health = KILN_HEALTH_UNHEALTHY;
        snprintf(out->detail, sizeof out->detail, "HTTP %ld from %.300s", code, url);
    }
    free(url);
}
