/* kiln: the cluster's DNS name in Route 53 (REST-XML, botocore's route53/2013-04-01):
 * APP.ENV.<hosted_zone>, a CNAME to the cluster's ELB, as the seed's sfapp did. */
#include "provider/aws/aws.h"

#include "kiln/aws_sigv4.h"
#include "kiln/aws_xml.h"
#include "kiln/strbuf.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define R53_NS    "https://route53.amazonaws.com/doc/2013-04-01/"
#define CNAME_TTL 60 /* a rollback never changes the name, so a short TTL costs nothing */

/* Z and upper-case letters and digits, no dot: a zone id, not a name. */
static bool is_zone_id(const char *s)
{
    if (s[0] != 'Z' || strchr(s, '.') != NULL)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

void aws_cluster_fqdn(struct aws *a, const char *app, const char *env, char *out, size_t n)
{
    out[0] = '\0';
    if (a->hosted_zone[0] == '\0')
        return;
    const char *zone = a->hosted_zone;
    if (is_zone_id(zone)) {
        if (a->zone_unknown || aws_route53_zone(a, NULL) < 0) {
            a->zone_unknown = true;
            return;
        }
        zone = a->zone_name;
    }
    snprintf(out, n, "%s.%s.%s", app, env, zone);
}

static void query_param(struct kiln_strbuf *q, const char *name, const char *value)
{
    if (q->len > 0)
        kiln_strbuf_appendc(q, '&');
    kiln_strbuf_append(q, name);
    kiln_strbuf_appendc(q, '=');
    kiln_aws_uri_encode(q, value, strlen(value), false);
}

static void set_name(struct aws *a, const char *name)
{
    snprintf(a->zone_name, sizeof a->zone_name, "%s", name);
    size_t n = strlen(a->zone_name);
    if (n > 0 && a->zone_name[n - 1] == '.')
        a->zone_name[n - 1] = '\0';
}

/* A zone given by id: its name from GetHostedZone. */
static int zone_by_id(struct aws *a, struct kiln_err *err)
{
    char path[200];
    snprintf(path, sizeof path, "/2013-04-01/hostedzone/%s", a->hosted_zone);
    xmlDoc *doc = NULL;
    if (kiln_aws_rest_call(a->client, KILN_AWS_ROUTE53, "GetHostedZone", "GET", path, NULL, NULL,
                           &doc, err) < 0) {
        kiln_err_prefix(err, "cannot look up the hosted zone %s", a->hosted_zone);
        return -1;
    }
    char name[300] = "";
    kiln_aws_xml_text_at(xmlDocGetRootElement(doc), "HostedZone/Name", name, sizeof name);
    xmlFreeDoc(doc);
    if (name[0] == '\0')
        return kiln_err_set(err, KILN_E_INVALID,
                            "malformed XML in the GetHostedZone response: no HostedZone/Name");
    set_name(a, name);
    snprintf(a->zone_id, sizeof a->zone_id, "%s", a->hosted_zone);
    return 0;
}

int aws_route53_zone(struct aws *a, struct kiln_err *err)
{
    if (a->zone_id[0] != '\0')
        return 0;
    if (is_zone_id(a->hosted_zone))
        return zone_by_id(a, err);
    char dotted[300];
    snprintf(dotted, sizeof dotted, "%s.", a->hosted_zone);
    struct kiln_strbuf q = KILN_STRBUF_INIT;
    query_param(&q, "dnsname", dotted);
    query_param(&q, "maxitems", "1");
    xmlDoc *doc = NULL;
    int rc =
        kiln_aws_rest_call(a->client, KILN_AWS_ROUTE53, "ListHostedZonesByName", "GET",
                           "/2013-04-01/hostedzonesbyname", kiln_strbuf_str(&q), NULL, &doc, err);
    kiln_strbuf_free(&q);
    if (rc < 0) {
        kiln_err_prefix(err, "cannot look up the hosted zone %s", a->hosted_zone);
        return -1;
    }
    /* The answer lists zones from that name on, in order: the first is ours only if its
     * name is exactly the one asked for. */
    xmlNode *zone = kiln_aws_xml_path(xmlDocGetRootElement(doc), "HostedZones/HostedZone");
    char name[300] = "", id[128] = "";
    kiln_aws_xml_text_at(zone, "Name", name, sizeof name);
    kiln_aws_xml_text_at(zone, "Id", id, sizeof id);
    xmlFreeDoc(doc);
    if (strcasecmp(name, dotted) != 0 || id[0] == '\0')
        return kiln_err_set(err, KILN_E_NOTFOUND,
                            "there is no Route 53 hosted zone %s in this account: create it, or "
                            "set [aws] hosted_zone to one that exists (or to nothing for no DNS "
                            "name)",
                            a->hosted_zone);
    const char *bare = strncmp(id, "/hostedzone/", 12) == 0 ? id + 12 : id;
    snprintf(a->zone_id, sizeof a->zone_id, "%s", bare);
    set_name(a, a->hosted_zone);
    return 0;
}

static void xml_text(struct kiln_strbuf *sb, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            kiln_strbuf_append(sb, "&amp;");
            break;
        case '<':
            kiln_strbuf_append(sb, "&lt;");
            break;
        case '>':
            kiln_strbuf_append(sb, "&gt;");
            break;
        default:
            kiln_strbuf_appendc(sb, *s);
        }
    }
}

/* The CNAME's current target and TTL, to delete it (DELETE must match exactly). */
static int current_cname(struct aws *a, const char *dotted, char *target, size_t n, long *ttl,
                         struct kiln_err *err)
{
    target[0] = '\0';
    struct kiln_strbuf q = KILN_STRBUF_INIT;
    query_param(&q, "name", dotted);
    query_param(&q, "type", "CNAME");
    query_param(&q, "maxitems", "1");
    char path[160];
    snprintf(path, sizeof path, "/2013-04-01/hostedzone/%s/rrset", a->zone_id);
    xmlDoc *doc = NULL;
    int rc = kiln_aws_rest_call(a->client, KILN_AWS_ROUTE53, "ListResourceRecordSets", "GET", path,
                                kiln_strbuf_str(&q), NULL, &doc, err);
    kiln_strbuf_free(&q);
    if (rc < 0)
        return -1;
    xmlNode *rr =
        kiln_aws_xml_path(xmlDocGetRootElement(doc), "ResourceRecordSets/ResourceRecordSet");
    char name[300] = "", type[16] = "";
    kiln_aws_xml_text_at(rr, "Name", name, sizeof name);
    kiln_aws_xml_text_at(rr, "Type", type, sizeof type);
    if (strcasecmp(name, dotted) == 0 && strcmp(type, "CNAME") == 0) {
        kiln_aws_xml_text_at(rr, "ResourceRecords/ResourceRecord/Value", target, n);
        *ttl = (long)kiln_aws_xml_int_at(rr, "TTL", CNAME_TTL);
    }
    xmlFreeDoc(doc);
    return 0;
}

int aws_route53_cname(struct aws *a, const char *fqdn, const char *target, struct kiln_err *err)
{
    if (aws_route53_zone(a, err) < 0)
        return -1;
    char dotted[300];
    snprintf(dotted, sizeof dotted, "%s.", fqdn);
    char old[300];
    long ttl = CNAME_TTL;
    if (target == NULL) {
        if (current_cname(a, dotted, old, sizeof old, &ttl, err) < 0)
            return -1;
        if (old[0] == '\0')
            return 0; /* nothing to delete */
    }
    struct kiln_strbuf body = KILN_STRBUF_INIT;
    kiln_strbuf_append(&body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                              "<ChangeResourceRecordSetsRequest xmlns=\"" R53_NS "\">"
                              "<ChangeBatch><Comment>kiln</Comment><Changes><Change><Action>");
    kiln_strbuf_append(&body, target ? "UPSERT" : "DELETE");
    kiln_strbuf_append(&body, "</Action><ResourceRecordSet><Name>");
    xml_text(&body, dotted);
    kiln_strbuf_appendf(&body,
                        "</Name><Type>CNAME</Type><TTL>%ld</TTL>"
                        "<ResourceRecords><ResourceRecord><Value>",
                        ttl);
    xml_text(&body, target ? target : old);
    kiln_strbuf_append(&body, "</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>"
                              "</Change></Changes></ChangeBatch>"
                              "</ChangeResourceRecordSetsRequest>");
    char path[160];
    snprintf(path, sizeof path, "/2013-04-01/hostedzone/%s/rrset/", a->zone_id);
    xmlDoc *doc = NULL;
    int rc = kiln_aws_rest_call(a->client, KILN_AWS_ROUTE53, "ChangeResourceRecordSets", "POST",
                                path, NULL, kiln_strbuf_str(&body), &doc, err);
    kiln_strbuf_free(&body);
    xmlFreeDoc(doc);
    if (rc < 0)
        kiln_err_prefix(err, "cannot %s the DNS name %s", target ? "set" : "delete", fqdn);
    return rc;
}
