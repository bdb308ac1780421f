/* kiln: following AWS result pages.
 *
 * Each API family pages in its own way (botocore's paginators-1.json):
 *   EC2            request NextToken, answer <nextToken> (empty or absent: last page)
 *   Auto Scaling   request NextToken, answer <NextToken> inside <ActionResult>
 *   ELB            request Marker,    answer <NextMarker> inside <ActionResult>
 *   Route 53 ListResourceRecordSets: answer <IsTruncated>true</IsTruncated> with
 *                  <NextRecordName>, <NextRecordType>, <NextRecordIdentifier>; the next
 *                  request's query is name=..&type=..&identifier=..
 *
 *     struct kiln_aws_pager pg;
 *     kiln_aws_pager_init(&pg, KILN_AWS_PAGE_QUERY, "DescribeAutoScalingGroups");
 *     while (kiln_aws_pager_more(&pg)) {
 *         kiln_aws_query_init(&q, KILN_AWS_AUTOSCALING, "DescribeAutoScalingGroups");
 *         kiln_aws_pager_apply(&pg, &q);
 *         ... call, read the groups ...
 *         if (kiln_aws_pager_update(&pg, result, &err) < 0) ...
 *     }
 *     kiln_aws_pager_free(&pg);
 *
 * A server that hands back the same token twice would loop kiln forever; the pager
 * stops with an error instead, and after 10000 pages whatever happens. */
#ifndef KILN_AWS_PAGINATE_H
#define KILN_AWS_PAGINATE_H

#include <stdbool.h>

#include <libxml/tree.h>

#include "kiln/aws_client.h"
#include "kiln/err.h"
#include "kiln/strbuf.h"

enum kiln_aws_page_kind {
    KILN_AWS_PAGE_EC2,
    KILN_AWS_PAGE_QUERY,
    KILN_AWS_PAGE_MARKER,
    KILN_AWS_PAGE_ROUTE53_RRSETS,
};

struct kiln_aws_pager {
    enum kiln_aws_page_kind kind;
    const char *action;
    char *token; /* NextToken / Marker / NextRecordName */
    char *record_type, *record_identifier;
    bool done;
    int pages;
};

void kiln_aws_pager_init(struct kiln_aws_pager *p, enum kiln_aws_page_kind kind,
                         const char *action);
void kiln_aws_pager_free(struct kiln_aws_pager *p);
bool kiln_aws_pager_more(const struct kiln_aws_pager *p);

/* Adds NextToken=.. / Marker=.. to a Query request (nothing on the first page). */
void kiln_aws_pager_apply(const struct kiln_aws_pager *p, struct kiln_aws_query *q);
/* Appends name=..&type=..&identifier=.. to a REST query string (Route 53). */
void kiln_aws_pager_apply_rest(const struct kiln_aws_pager *p, struct kiln_strbuf *query);

/* Reads the next page's token from the element that holds it: the response root for EC2
 * and Route 53, the <ActionResult> element for Auto Scaling and ELB. */
int kiln_aws_pager_update(struct kiln_aws_pager *p, const xmlNode *holder, struct kiln_err *err);

#endif
