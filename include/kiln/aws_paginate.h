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
 * kiln_aws_describe_all() is the whole loop, and what every describe in the aws provider
 * uses: the caller says which action, what each page's request carries besides the
 * token, and how one item is read; the style of token (NextToken, Marker, nextToken)
 * follows from the service, as the APIs require. The pager underneath stays public for a
 * loop of another shape (Route 53's REST paging).
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

/* ---- a whole paged describe ---- */

struct kiln_aws_describe {
    enum kiln_aws_service service; /* EC2, Auto Scaling or ELB: it decides the token style */
    const char *action;            /* "DescribeAutoScalingGroups" */
    /* Where the items are, from the element that holds the answer (the response root for
     * EC2, <ActionResult> for the others): "AutoScalingGroups/member". The first match
     * and its siblings of the same name are the items. */
    const char *items;
    /* Adds a page's own parameters (filters, page size) to q; the token is added after.
     * NULL: none. Called once a page, so a page size may depend on what was read. */
    void (*request)(struct kiln_aws_query *q, void *arg);
    /* Reads one item. Returns false when the caller has all it wants: the rest of the
     * page is skipped and no further page is asked for. */
    bool (*item)(const xmlNode *item, void *arg);
};

/* Asks for every page of d->action and hands each item to d->item, in order; arg is
 * what both callbacks get (the caller's filters and its list). Returns 0,
 * or -1 with err filled (a failed call, or the pager's refusal of a looping endpoint);
 * what the items callback kept before a failure is the caller's to free.
 * kiln_aws_client_last_error() tells which AWS error ended it. */
int kiln_aws_describe_all(struct kiln_aws_client *c, const struct kiln_aws_describe *d, void *arg,
                          struct kiln_err *err);

#endif
