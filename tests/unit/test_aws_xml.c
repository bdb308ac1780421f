/* kiln: AWS XML helpers, the three error formats, malformed answers, and pagination
 * (the pager alone, and kiln_aws_describe_all through the fixture). */
#include "kiln/atomic_file.h"
#include "kiln/aws_client.h"
#include "kiln/aws_error.h"
#include "kiln/aws_paginate.h"
#include "kiln/aws_xml.h"
#include "aws_fixture.h"
#include "tap.h"

#include <stdlib.h>

static struct kiln_err err;

static int msg_has(const char *needle)
{
    int found = strstr(err.msg, needle) != NULL;
    if (!found)
        diag("message: %s", err.msg);
    return found;
}

static xmlDoc *parse(const char *text)
{
    xmlDoc *doc = NULL;
    if (kiln_aws_xml_parse(text, strlen(text), "Test", &doc, &err) < 0)
        diag("%s", err.msg);
    return doc;
}

/* An EC2 answer, in its namespace, with locationName-style lower-case names. */
static const char ec2_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
    "  <requestId>8f7724cf-496f-496e-8fe3-example</requestId>\n"
    "  <reservationSet>\n"
    "    <item><reservationId>r-1</reservationId><instancesSet>\n"
    "      <item><instanceId>i-1</instanceId><instanceState><code>16</code>"
    "<name>running</name></instanceState><launchTime>2026-11-26T05:16:08.000Z</launchTime>"
    "<ebsOptimized>false</ebsOptimized></item>\n"
    "      <item><instanceId>i-2</instanceId><instanceState><code>48</code>"
    "<name>terminated</name></instanceState></item>\n"
    "    </instancesSet></item>\n"
    "  </reservationSet>\n"
    "  <nextToken>tok-2</nextToken>\n"
    "</DescribeInstancesResponse>\n";

static void test_helpers(void)
{
    xmlDoc *doc = parse(ec2_xml);
    if (!ok(doc != NULL, "EC2 answer parsed"))
        return;
    xmlNode *root = xmlDocGetRootElement(doc);
    xmlNode *set = kiln_aws_xml_path(root, "reservationSet/item/instancesSet");
    ok(set != NULL, "path through the namespace by local names");
    is_int(kiln_aws_xml_count(set, "item"), 2, "two instances");
    size_t n = 0;
    xmlNode **items = kiln_aws_xml_children(set, "item", &n);
    is_int(n, 2, "children: 2");
    ok(items[2] == NULL, "NULL-terminated");
    char buf[64];
    ok(kiln_aws_xml_text_at(items[0], "instanceId", buf, sizeof buf), "instanceId there");
    is_str(buf, "i-1", "first instance");
    kiln_aws_xml_text_at(items[1], "instanceState/name", buf, sizeof buf);
    is_str(buf, "terminated", "second instance state");
    is_int(kiln_aws_xml_int_at(items[0], "instanceState/code", -1), 16, "int_at");
    is_int(kiln_aws_xml_int_at(items[0], "instanceState/name", -1), -1, "int_at: not a number");
    is_int(kiln_aws_xml_int_at(items[0], "nothing", 7), 7, "int_at: missing");
    ok(!kiln_aws_xml_bool_at(items[0], "ebsOptimized", true), "bool_at false");
    ok(!kiln_aws_xml_text_at(items[1], "launchTime", buf, sizeof buf) && buf[0] == '\0',
       "missing element: false and \"\"");
    char *t = kiln_aws_xml_dup_at(items[0], "launchTime");
    int64_t us = 0;
    is_int(kiln_aws_parse_timestamp(t, &us), 0, "launchTime parsed");
    is_int(us, 1795670168000000LL, "to the right µs");
    free(t);
    free(items);
    int i = 0;
    for (xmlNode *it = kiln_aws_xml_child(set, "item"); it; it = kiln_aws_xml_next(it))
        i++;
    is_int(i, 2, "child/next iterate");
    ok(kiln_aws_xml_child(NULL, "x") == NULL && kiln_aws_xml_path(NULL, "a/b") == NULL &&
           kiln_aws_xml_text(NULL) == NULL,
       "NULL parents are fine");
    xmlFreeDoc(doc);

    is_int(kiln_aws_parse_timestamp("2026-11-26T05:16:08Z", &us), 0, "Z");
    int64_t base = us;
    kiln_aws_parse_timestamp("2026-11-26T07:16:08+02:00", &us);
    is_int(us, base, "+02:00 offset");
    kiln_aws_parse_timestamp("2026-11-26T05:16:08.5Z", &us);
    is_int(us, base + 500000, "fraction");
    is_int(kiln_aws_parse_timestamp("2026-11-26", &us), -1, "date only refused");
    is_int(kiln_aws_parse_timestamp("2026-13-26T05:16:08Z", &us), -1, "month 13 refused");
}

static void test_malformed(void)
{
    const char *bad[] = {
        "",
        "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult>",
        "<a><b></a></b>",
        "not xml at all",
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;",
        "\xff\xfe<\x00x\x00>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        xmlDoc *doc = NULL;
        int rc =
            kiln_aws_xml_parse(bad[i], strlen(bad[i]), "DescribeAutoScalingGroups", &doc, &err);
        ok(rc == -1 && doc == NULL &&
               strncmp(err.msg, "malformed XML in the DescribeAutoScalingGroups response", 55) == 0,
           "malformed #%zu: %s", i, err.msg);
    }
    /* External entities are never fetched nor expanded. */
    const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM "
                      "\"file:///etc/hostname\">]><x>&e;</x>";
    xmlDoc *doc = NULL;
    if (kiln_aws_xml_parse(xxe, strlen(xxe), "T", &doc, &err) == 0) {
        char *t = kiln_aws_xml_text(xmlDocGetRootElement(doc));
        ok(strlen(t) == 0, "external entity not expanded (\"%s\")", t);
        free(t);
        xmlFreeDoc(doc);
    } else {
        ok(1, "external entity document refused");
    }
}

static void test_errors(void)
{
    struct kiln_aws_error e;
    const char *ec2 = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
                      "<Code>InvalidInstanceID.NotFound</Code><Message>The instance ID 'i-1' "
                      "does not exist</Message></Error></Errors><RequestID>ea966190-f9aa-478e-"
                      "9ede-example</RequestID></Response>";
    kiln_aws_error_parse(ec2, strlen(ec2), 400, "header-id", &e);
    is_str(e.code, "InvalidInstanceID.NotFound", "EC2: code");
    is_str(e.message, "The instance ID 'i-1' does not exist", "EC2: message");
    is_str(e.request_id, "ea966190-f9aa-478e-9ede-example", "EC2: RequestID from the body");
    kiln_aws_error_set(&err, &e, "TerminateInstances");
    is_str(err.msg,
           "InvalidInstanceID.NotFound: The instance ID 'i-1' does not exist "
           "(TerminateInstances, request id ea966190-f9aa-478e-9ede-example)",
           "EC2: the sentence");
    is_int(err.code, KILN_E_NOTFOUND, "NotFound -> KILN_E_NOTFOUND");
    ok(!kiln_aws_error_retryable(&e), "not retryable");

    const char *query = "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/"
                        "\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>AlreadyExists</Code>"
                        "\n    <Message>AutoScalingGroup by this name already exists - A group "
                        "with the name app-test-v001 already exists</Message>\n  </Error>\n  "
                        "<RequestId>7c6e177f-f082-11e1-ac58-example</RequestId>\n"
                        "</ErrorResponse>";
    kiln_aws_error_parse(query, strlen(query), 400, NULL, &e);
    is_str(e.code, "AlreadyExists", "Query: code");
    is_str(e.type, "Sender", "Query: type");
    is_str(e.request_id, "7c6e177f-f082-11e1-ac58-example", "Query: RequestId");
    kiln_aws_error_set(&err, &e, "CreateAutoScalingGroup");
    is_int(err.code, KILN_E_EXISTS, "AlreadyExists -> KILN_E_EXISTS");
    ok(msg_has("AlreadyExists: AutoScalingGroup by this name already exists") &&
           msg_has("(CreateAutoScalingGroup, request id 7c6e177f-f082-11e1-ac58-example)"),
       "Query: the sentence");

    const char *r53 = "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"https://route53.amazonaws"
                      ".com/doc/2013-04-01/\"><Error><Type>Sender</Type><Code>NoSuchHostedZone"
                      "</Code><Message>No hosted zone found with ID: Z1</Message></Error>"
                      "<RequestId>r53-req</RequestId></ErrorResponse>";
    kiln_aws_error_parse(r53, strlen(r53), 404, NULL, &e);
    kiln_aws_error_set(&err, &e, "ListResourceRecordSets");
    is_str(err.msg,
           "NoSuchHostedZone: No hosted zone found with ID: Z1 (ListResourceRecordSets, request "
           "id r53-req)",
           "Route 53: the sentence");
    is_int(err.code, KILN_E_NOTFOUND, "NoSuch -> KILN_E_NOTFOUND");

    const char *batch = "<InvalidChangeBatch xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/"
                        "\"><Messages><Message>Tried to create resource record set [name='a.b.', "
                        "type='CNAME'] but it already exists</Message><Message>second</Message>"
                        "</Messages><RequestId>b-1</RequestId></InvalidChangeBatch>";
    kiln_aws_error_parse(batch, strlen(batch), 400, NULL, &e);
    is_str(e.code, "InvalidChangeBatch", "InvalidChangeBatch: code");
    ok(strstr(e.message, "already exists; second") != NULL, "InvalidChangeBatch: all messages");

    const char *throttle = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                           "<Message>Rate exceeded</Message></Error><RequestId>t</RequestId>"
                           "</ErrorResponse>";
    kiln_aws_error_parse(throttle, strlen(throttle), 400, NULL, &e);
    ok(kiln_aws_error_retryable(&e), "Throttling retryable");
    const char *codes[] = {"ThrottlingException", "RequestLimitExceeded", "RequestThrottled",
                           "PriorRequestNotComplete"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(e.code, sizeof e.code, "%s", codes[i]);
        ok(kiln_aws_error_retryable(&e), "%s retryable", codes[i]);
    }
    snprintf(e.code, sizeof e.code, "LimitExceeded");
    ok(!kiln_aws_error_retryable(&e), "LimitExceeded (a quota) is not");

    kiln_aws_error_parse("<html><body>Service Unavailable</body></html>\r\nmore", 52, 503, "hdr-1",
                         &e);
    is_str(e.code, "HTTP 503 Service Unavailable", "non-XML: HTTP status as the code");
    is_str(e.message, "<html><body>Service Unavailable</body></html>", "the first line");
    is_str(e.request_id, "hdr-1", "the header's request id");
    ok(kiln_aws_error_retryable(&e), "5xx retryable");
    kiln_aws_error_parse(NULL, 0, 403, NULL, &e);
    kiln_aws_error_set(&err, &e, "DescribeInstances");
    is_str(err.msg,
           "HTTP 403 Forbidden: the response had no AWS error in it (DescribeInstances, no "
           "request id)",
           "empty body");
    kiln_aws_error_parse("<Response><Errors></Errors></Response>", 38, 400, NULL, &e);
    is_str(e.code, "HTTP 400 Bad Request", "XML without an error: the status");
    kiln_aws_error_parse("<Response><Errors><Error><Code>X", 32, 400, NULL, &e);
    is_str(e.code, "HTTP 400 Bad Request", "truncated error XML: the status, no crash");
}

static void test_pager(void)
{
    struct kiln_aws_pager pg;
    struct kiln_aws_query q;

    /* EC2: nextToken at the root. */
    kiln_aws_pager_init(&pg, KILN_AWS_PAGE_EC2, "DescribeInstances");
    xmlDoc *doc = parse(ec2_xml);
    is_int(kiln_aws_pager_update(&pg, xmlDocGetRootElement(doc), &err), 0, "EC2 page 1");
    ok(kiln_aws_pager_more(&pg), "more pages");
    kiln_aws_query_init(&q, KILN_AWS_EC2, "DescribeInstances");
    kiln_aws_pager_apply(&pg, &q);
    is_str(kiln_strbuf_str(&q.body), "Action=DescribeInstances&Version=2016-11-15&NextToken=tok-2",
           "NextToken in the next request");
    kiln_aws_query_free(&q);
    is_int(kiln_aws_pager_update(&pg, xmlDocGetRootElement(doc), &err), -1,
           "the same token twice: stopped");
    ok(msg_has("same next-page token twice") && !kiln_aws_pager_more(&pg), "saying so");
    xmlFreeDoc(doc);
    kiln_aws_pager_free(&pg);

    /* ELB: NextMarker in the result; an empty one ends. */
    kiln_aws_pager_init(&pg, KILN_AWS_PAGE_MARKER, "DescribeLoadBalancers");
    doc = parse("<DescribeLoadBalancersResult><NextMarker>m2</NextMarker>"
                "</DescribeLoadBalancersResult>");
    kiln_aws_pager_update(&pg, xmlDocGetRootElement(doc), &err);
    kiln_aws_query_init(&q, KILN_AWS_ELB, "DescribeLoadBalancers");
    kiln_aws_pager_apply(&pg, &q);
    ok(strstr(kiln_strbuf_str(&q.body), "&Version=2012-06-01&Marker=m2") != NULL, "Marker=m2");
    kiln_aws_query_free(&q);
    xmlFreeDoc(doc);
    doc = parse("<DescribeLoadBalancersResult><NextMarker/></DescribeLoadBalancersResult>");
    kiln_aws_pager_update(&pg, xmlDocGetRootElement(doc), &err);
    ok(!kiln_aws_pager_more(&pg), "an empty NextMarker ends");
    xmlFreeDoc(doc);
    kiln_aws_pager_free(&pg);

    /* Route 53 record sets. */
    kiln_aws_pager_init(&pg, KILN_AWS_PAGE_ROUTE53_RRSETS, "ListResourceRecordSets");
    doc = parse("<ListResourceRecordSetsResponse><ResourceRecordSets/><IsTruncated>true"
                "</IsTruncated><MaxItems>1</MaxItems><NextRecordName>b c.example.com."
                "</NextRecordName><NextRecordType>CNAME</NextRecordType>"
                "</ListResourceRecordSetsResponse>");
    is_int(kiln_aws_pager_update(&pg, xmlDocGetRootElement(doc), &err), 0, "Route 53 page");
    struct kiln_strbuf qs = KILN_STRBUF_INIT;
    kiln_strbuf_append(&qs, "maxitems=1");
    kiln_aws_pager_apply_rest(&pg, &qs);
    is_str(kiln_strbuf_str(&qs), "maxitems=1&name=b%20c.example.com.&type=CNAME",
           "name and type in the next query");
    kiln_strbuf_free(&qs);
    xmlFreeDoc(doc);
    doc = parse("<ListResourceRecordSetsResponse><IsTruncated>false</IsTruncated>"
                "</ListResourceRecordSetsResponse>");
    kiln_aws_pager_update(&pg, xmlDocGetRootElement(doc), &err);
    ok(!kiln_aws_pager_more(&pg), "IsTruncated false ends");
    xmlFreeDoc(doc);
    kiln_aws_pager_free(&pg);
    kiln_aws_pager_init(&pg, KILN_AWS_PAGE_ROUTE53_RRSETS, "ListResourceRecordSets");
    doc = parse("<ListResourceRecordSetsResponse><IsTruncated>true</IsTruncated>"
                "</ListResourceRecordSetsResponse>");
    is_int(kiln_aws_pager_update(&pg, xmlDocGetRootElement(doc), &err), -1,
           "truncated without NextRecordName: an error, not a loop");
    xmlFreeDoc(doc);
    kiln_aws_pager_free(&pg);
}

/* What the describes below collect: the items' names, and a stop after `stop_after`. */
struct names {
    struct kiln_strbuf s;
    const char *field;
    int stop_after, seen;
};

static void page_request(struct kiln_aws_query *q, void *arg)
{
    (void)arg;
    kiln_aws_query_add(q, "MaxRecords", "2");
}

static bool name_item(const xmlNode *m, void *arg)
{
    struct names *n = arg;
    char name[64];
    kiln_aws_xml_text_at(m, n->field, name, sizeof name);
    kiln_strbuf_appendf(&n->s, "%s ", name);
    return n->stop_after == 0 || ++n->seen < n->stop_after;
}

/* Runs d against a fixture that answers r[0..n-1] in turn; *f stays for fx_count. */
static int describe_through(struct fixture *f, const struct fx_response *r, size_t n,
                            const struct kiln_aws_describe *d, struct names *names,
                            const char *log_path)
{
    fx_start(f, r, n, log_path);
    struct kiln_aws_credentials c = {0};
    kiln_aws_credentials_set(&c, "AKIDEXAMPLE", "secret", NULL, 0, "test");
    struct kiln_aws_credentials_provider *p = kiln_aws_credentials_provider_static_new(&c);
    kiln_aws_credentials_clear(&c);
    struct kiln_aws_client_options o = {
        .region = "us-east-1", .config_endpoint = f->url, .credentials = p};
    struct kiln_aws_client *cl = kiln_aws_client_new(&o, &err);
    kiln_aws_credentials_provider_release(p);
    kiln_aws_http_set_backoff(kiln_aws_client_http(cl), 1, 10);
    int rc = kiln_aws_describe_all(cl, d, names, &err);
    kiln_aws_client_free(cl);
    fx_stop(f);
    return rc;
}

/* kiln_aws_describe_all through the fixture: pages, retries, the token style of the
 * service, and a caller that has enough before the last page. */
static void test_paging_fixture(void)
{
#define ASG_PAGE(names, next)                                                                      \
    "<DescribeAutoScalingGroupsResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/"  \
    "\"><DescribeAutoScalingGroupsResult><AutoScalingGroups>" names "</AutoScalingGroups>" next    \
    "</DescribeAutoScalingGroupsResult><ResponseMetadata><RequestId>r</RequestId>"                 \
    "</ResponseMetadata></DescribeAutoScalingGroupsResponse>"
#define ASG(n) "<member><AutoScalingGroupName>" n "</AutoScalingGroupName></member>"
#define ELB_PAGE(names, next)                                                                      \
    "<DescribeLoadBalancersResponse><DescribeLoadBalancersResult><LoadBalancerDescriptions>" names \
    "</LoadBalancerDescriptions>" next "</DescribeLoadBalancersResult>"                            \
    "</DescribeLoadBalancersResponse>"
#define ELB(n) "<member><LoadBalancerName>" n "</LoadBalancerName></member>"
    const struct fx_response asg[] = {
        {200, ASG_PAGE(ASG("app-test-v000") ASG("app-test-v001"), "<NextToken>p2</NextToken>"),
         NULL, 0, NULL},
        {400,
         "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate "
         "exceeded</Message></Error><RequestId>x</RequestId></ErrorResponse>",
         NULL, 0, NULL},
        {200, ASG_PAGE(ASG("app-test-v002"), "<NextToken>p3</NextToken>"), NULL, 0, NULL},
        {200, ASG_PAGE(ASG("app-prod-v010"), ""), NULL, 0, NULL},
    };
    const struct fx_response elb[] = {
        {200, ELB_PAGE(ELB("lb-a") ELB("lb-b"), "<NextMarker>m2</NextMarker>"), NULL, 0, NULL},
        {200, ELB_PAGE(ELB("lb-c"), "<NextMarker/>"), NULL, 0, NULL},
    };
    char dir[] = "/tmp/aws/test_xml.XXXXXX";
    kiln_mkdir_p("/tmp/aws", 0755, NULL);
    if (mkdtemp(dir) == NULL)
        return;
    char *log_path = xasprintf("%s/fx.log", dir);
    struct fixture f;
    struct names n = {KILN_STRBUF_INIT, "AutoScalingGroupName", 0, 0};
    struct kiln_aws_describe d = {
        .service = KILN_AWS_AUTOSCALING,
        .action = "DescribeAutoScalingGroups",
        .items = "AutoScalingGroups/member",
        .request = page_request,
        .item = name_item,
    };

    is_int(describe_through(&f, asg, 4, &d, &n, log_path), 0, "paged through");
    is_str(kiln_strbuf_str(&n.s), "app-test-v000 app-test-v001 app-test-v002 app-prod-v010 ",
           "all groups of three pages, despite a throttled request");
    is_int(fx_count(&f, "=== REQUEST"), 4, "four requests (three pages, one retried)");
    is_int(fx_count(&f, "&MaxRecords=2"), 4, "each with the page's own parameters");
    is_int(fx_count(&f, "&NextToken=p2"), 2, "page 2 asked for twice (once throttled)");
    is_int(fx_count(&f, "&NextToken=p3"), 1, "page 3 asked for");

    /* Enough after the first item: the rest of the page is skipped, no page 2. */
    kiln_strbuf_reset(&n.s);
    n.stop_after = 1;
    is_int(describe_through(&f, asg, 1, &d, &n, log_path), 0, "a caller with enough");
    is_str(kiln_strbuf_str(&n.s), "app-test-v000 ", "reads no further item");
    is_int(fx_count(&f, "=== REQUEST"), 1, "and asks for no further page");

    /* ELB pages by Marker, answered as NextMarker; an empty one ends. */
    kiln_strbuf_reset(&n.s);
    n = (struct names){n.s, "LoadBalancerName", 0, 0};
    d.service = KILN_AWS_ELB;
    d.action = "DescribeLoadBalancers";
    d.items = "LoadBalancerDescriptions/member";
    is_int(describe_through(&f, elb, 2, &d, &n, log_path), 0, "ELB paged through");
    is_str(kiln_strbuf_str(&n.s), "lb-a lb-b lb-c ", "both pages' load balancers");
    is_int(fx_count(&f, "&Marker=m2"), 1, "page 2 asked for with Marker");
    is_int(fx_count(&f, "NextToken"), 0, "never with NextToken");
    is_int(fx_count(&f, "=== REQUEST"), 2, "two requests: the empty NextMarker ended it");

    kiln_strbuf_free(&n.s);
    free(log_path);
}

int main(void)
{
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_AUTO_SCALING");
    unsetenv("KILN_AWS_BACKOFF_SCALE");
    test_helpers();
    test_malformed();
    test_errors();
    test_pager();
    test_paging_fixture();
    return done_testing();
}
