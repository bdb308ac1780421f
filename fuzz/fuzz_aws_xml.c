/* fuzz: AWS XML responses (src/provider/aws): kiln_aws_xml_parse and the accessors the
 * provider reads answers with, kiln_aws_parse_timestamp on every text, the pagers of
 * every API family, kiln_aws_error_parse / kiln_aws_error_set on the same body as an
 * error answer, and kiln_aws_redact, which writes bodies into the debug log.
 *
 * An endpoint can be an emulator, a proxy or a captive portal: whatever it sends, kiln
 * must answer with an error, never a crash. Checked besides "no crash, no leak, no UB":
 * a refusal is KILN_E_INVALID with a message; an error answer becomes a sentence that is
 * printable (it reaches the console as it is) with every field NUL-terminated; a pager
 * that sees the same token twice stops.
 */
#include "fuzz.h"

#include "kiln/aws_client.h"
#include "kiln/aws_error.h"
#include "kiln/aws_http.h"
#include "kiln/aws_paginate.h"
#include "kiln/aws_xml.h"
#include "kiln/strbuf.h"

/* Paths the provider and STS read, and a few odd ones. */
static const char *const paths[] = {
    "reservationSet/item/instancesSet/item/instanceId",
    "reservationSet/item/instancesSet/item/launchTime",
    "DescribeAutoScalingGroupsResult/AutoScalingGroups/member/AutoScalingGroupName",
    "DescribeAutoScalingGroupsResult/AutoScalingGroups/member/DesiredCapacity",
    "DescribeAutoScalingGroupsResult/NextToken",
    "DescribeLoadBalancersResult/NextMarker",
    "AssumeRoleResult/Credentials/Expiration",
    "GetCallerIdentityResult/Account",
    "ResourceRecordSets/ResourceRecordSet/Name",
    "IsTruncated",
    "Errors/Error/Code",
    "Error/Message",
    "RequestId",
    "nextToken",
    "",
    "/",
    "a//b",
    "item/",
};

static size_t nodes_seen;

static void visit(const xmlNode *parent, int depth)
{
    for (const xmlNode *c = parent->children; c != NULL && nodes_seen < 4000; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        nodes_seen++;
        const char *name = (const char *)c->name;
        char *text = kiln_aws_xml_text(c);
        int64_t us;
        (void)kiln_aws_parse_timestamp(text, &us);
        free(text);
        (void)kiln_aws_xml_int_at(parent, name, -1);
        (void)kiln_aws_xml_bool_at(parent, name, false);
        char buf[8];
        (void)kiln_aws_xml_text_at(parent, name, buf, sizeof buf);
        size_t n;
        xmlNode **all = kiln_aws_xml_children(parent, name, &n);
        if (n != kiln_aws_xml_count(parent, name) || all[n] != NULL || n == 0)
            fuzz_fail("children and count disagree on <%s>", name);
        free(all);
        if (depth < 64)
            visit(c, depth + 1);
    }
}

static void pages(const xmlNode *root)
{
    static const enum kiln_aws_page_kind kinds[] = {KILN_AWS_PAGE_EC2, KILN_AWS_PAGE_QUERY,
                                                    KILN_AWS_PAGE_MARKER,
                                                    KILN_AWS_PAGE_ROUTE53_RRSETS};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const xmlNode *holders[] = {root, root->children, kiln_aws_xml_child(root, "Result")};
        for (size_t h = 0; h < sizeof holders / sizeof holders[0]; h++) {
            struct kiln_aws_pager pg;
            struct kiln_err err = {0};
            kiln_aws_pager_init(&pg, kinds[k], "DescribeThings");
            int first = kiln_aws_pager_update(&pg, holders[h], &err);
            int second = first == 0 ? kiln_aws_pager_update(&pg, holders[h], &err) : -1;
            if (first == 0 && second == 0 && kiln_aws_pager_more(&pg))
                fuzz_fail("a pager that saw the same token twice goes on");
            struct kiln_aws_query q;
            kiln_aws_query_init(&q, KILN_AWS_AUTOSCALING, "DescribeThings");
            kiln_aws_pager_apply(&pg, &q);
            kiln_aws_query_free(&q);
            struct kiln_strbuf sb = KILN_STRBUF_INIT;
            kiln_aws_pager_apply_rest(&pg, &sb);
            kiln_strbuf_free(&sb);
            kiln_aws_pager_free(&pg);
        }
    }
}

static void check_error(const char *body, size_t len, long status)
{
    struct kiln_aws_error e;
    memset(&e, 0xa5, sizeof e);
    kiln_aws_error_parse(body, len, status, "hdr-0123", &e);
    if (!memchr(e.code, 0, sizeof e.code) || !memchr(e.message, 0, sizeof e.message) ||
        !memchr(e.type, 0, sizeof e.type) || !memchr(e.request_id, 0, sizeof e.request_id))
        fuzz_fail("an error field is not terminated");
    if (e.code[0] == '\0')
        fuzz_fail("an error without a code");
    (void)kiln_aws_error_retryable(&e);
    struct kiln_err err = {0};
    if (kiln_aws_error_set(&err, &e, "DescribeInstances") != -1 || err.code == KILN_OK ||
        !fuzz_message_ok(err.msg))
        fuzz_fail("the error sentence is \"%s\" (code %d)", err.msg, err.code);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    /* A copy of exactly size bytes, so ASan sees any read past the body's end. */
    char *body = malloc(size ? size : 1);
    if (size > 0)
        memcpy(body, data, size);

    xmlDoc *doc = NULL;
    struct kiln_err err = {0};
    if (kiln_aws_xml_parse(body, size, "DescribeThings", &doc, &err) < 0) {
        if (doc != NULL || err.code != KILN_E_INVALID || err.msg[0] == '\0')
            fuzz_fail("refusal with code %d and message \"%s\"", err.code, err.msg);
    } else {
        const xmlNode *root = xmlDocGetRootElement(doc);
        nodes_seen = 0;
        visit(root, 0);
        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
            char *t = kiln_aws_xml_dup_at(root, paths[i]);
            char buf[32];
            if ((t != NULL) != kiln_aws_xml_text_at(root, paths[i], buf, sizeof buf))
                fuzz_fail("dup_at and text_at disagree on %s", paths[i]);
            free(t);
            (void)kiln_aws_xml_int_at(root, paths[i], 0);
        }
        pages(root);
        xmlFreeDoc(doc);
    }

    check_error(body, size, 400);
    check_error(body, size, 503);

    struct kiln_strbuf log = KILN_STRBUF_INIT;
    kiln_aws_redact(&log, body, size);
    kiln_strbuf_free(&log);
    free(body);
    return 0;
}
