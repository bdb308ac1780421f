/* kiln: following AWS result pages (see kiln/aws_paginate.h). */
#include "kiln/aws_paginate.h"
#include "kiln/aws_sigv4.h"
#include "kiln/aws_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAGES 10000

void kiln_aws_pager_init(struct kiln_aws_pager *p, enum kiln_aws_page_kind kind, const char *action)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->action = action;
}

void kiln_aws_pager_free(struct kiln_aws_pager *p)
{
    free(p->token);
    free(p->record_type);
    free(p->record_identifier);
    memset(p, 0, sizeof *p);
}

bool kiln_aws_pager_more(const struct kiln_aws_pager *p)
{
    return !p->done;
}

void kiln_aws_pager_apply(const struct kiln_aws_pager *p, struct kiln_aws_query *q)
{
    if (p->token == NULL)
        return;
    kiln_aws_query_add(q, p->kind == KILN_AWS_PAGE_MARKER ? "Marker" : "NextToken", p->token);
}

static void add_param(struct kiln_strbuf *query, const char *name, const char *value)
{
    if (value == NULL)
        return;
    if (query->len > 0)
        kiln_strbuf_appendc(query, '&');
    kiln_strbuf_append(query, name);
    kiln_strbuf_appendc(query, '=');
    kiln_aws_uri_encode(query, value, strlen(value), false);
}

void kiln_aws_pager_apply_rest(const struct kiln_aws_pager *p, struct kiln_strbuf *query)
{
    kiln_strbuf_append(query, "");
    add_param(query, "name", p->token);
    add_param(query, "type", p->record_type);
    add_param(query, "identifier", p->record_identifier);
}

static bool same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static char *nonempty(char *s)
{
    if (s && s[0] == '\0') {
        free(s);
        return NULL;
    }
    return s;
}

int kiln_aws_pager_update(struct kiln_aws_pager *p, const xmlNode *holder, struct kiln_err *err)
{
    char *token = NULL, *type = NULL, *ident = NULL;
    p->pages++;
    switch (p->kind) {
    case KILN_AWS_PAGE_EC2:
        token = nonempty(kiln_aws_xml_dup_at(holder, "nextToken"));
        break;
    case KILN_AWS_PAGE_QUERY:
        token = nonempty(kiln_aws_xml_dup_at(holder, "NextToken"));
        break;
    case KILN_AWS_PAGE_MARKER:
        token = nonempty(kiln_aws_xml_dup_at(holder, "NextMarker"));
        break;
    case KILN_AWS_PAGE_ROUTE53_RRSETS:
        if (kiln_aws_xml_bool_at(holder, "IsTruncated", false)) {
            token = nonempty(kiln_aws_xml_dup_at(holder, "NextRecordName"));
            type = nonempty(kiln_aws_xml_dup_at(holder, "NextRecordType"));
            ident = nonempty(kiln_aws_xml_dup_at(holder, "NextRecordIdentifier"));
            if (token == NULL) {
                free(type);
                free(ident);
                p->done = true;
                return kiln_err_set(err, KILN_E_INVALID,
                                    "malformed XML in the %s response: IsTruncated is true "
                                    "but NextRecordName is missing",
                                    p->action);
            }
        }
        break;
    }
    if (token == NULL) {
        p->done = true;
        return 0;
    }
    if (same(token, p->token) && same(type, p->record_type) && same(ident, p->record_identifier)) {
        free(token);
        free(type);
        free(ident);
        p->done = true;
        return kiln_err_set(err, KILN_E_INVALID,
                            "the %s response gave the same next-page token twice; kiln stopped "
                            "rather than loop (a bug in the endpoint?)",
                            p->action);
    }
    if (p->pages >= MAX_PAGES) {
        free(token);
        free(type);
        free(ident);
        p->done = true;
        return kiln_err_set(err, KILN_E_INVALID, "%s: more than %d pages; kiln stopped there",
                            p->action, MAX_PAGES);
    }
    free(p->token);
    free(p->record_type);
    free(p->record_identifier);
    p->token = token;
    p->record_type = type;
    p->record_identifier = ident;
    return 0;
}

/* The token style each Query family uses (the header's table). */
static enum kiln_aws_page_kind kind_of(enum kiln_aws_service svc)
{
    switch (svc) {
    case KILN_AWS_EC2:
        return KILN_AWS_PAGE_EC2;
    case KILN_AWS_ELB:
        return KILN_AWS_PAGE_MARKER;
    default:
        return KILN_AWS_PAGE_QUERY;
    }
}

/* The element that holds the items and the next token: EC2 answers at the root, the
 * other Query APIs inside <ActionResult>. */
static const xmlNode *holder_of(const xmlDoc *doc, enum kiln_aws_service svc, const char *action)
{
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (svc == KILN_AWS_EC2)
        return root;
    char name[128];
    snprintf(name, sizeof name, "%sResult", action);
    return kiln_aws_xml_child(root, name);
}

int kiln_aws_describe_all(struct kiln_aws_client *c, const struct kiln_aws_describe *d, void *arg,
                          struct kiln_err *err)
{
    struct kiln_aws_pager pg;
    kiln_aws_pager_init(&pg, kind_of(d->service), d->action);
    bool want_more = true;
    int rc = 0;
    while (rc == 0 && want_more && kiln_aws_pager_more(&pg)) {
        struct kiln_aws_query q;
        kiln_aws_query_init(&q, d->service, d->action);
        if (d->request != NULL)
            d->request(&q, arg);
        kiln_aws_pager_apply(&pg, &q);
        xmlDoc *doc = NULL;
        rc = kiln_aws_query_call(c, &q, &doc, err);
        kiln_aws_query_free(&q);
        if (rc < 0)
            break;
        const xmlNode *holder = holder_of(doc, d->service, d->action);
        for (const xmlNode *x = kiln_aws_xml_path(holder, d->items); x && want_more;
             x = kiln_aws_xml_next(x))
            want_more = d->item(x, arg);
        /* Even after the last item wanted: a looping endpoint is reported either way. */
        rc = kiln_aws_pager_update(&pg, holder, err);
        xmlFreeDoc(doc);
    }
    kiln_aws_pager_free(&pg);
    return rc;
}
