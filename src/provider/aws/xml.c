/* kiln: reading AWS XML responses (see kiln/aws_xml.h). */
#include "kiln/aws_xml.h"
#include "kiln/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

/* libxml2 prints parse errors to stderr unless told otherwise: through a curses
 * console that would scribble over the screen. */
static void ignore_xml_error(void *ctx, const char *msg, ...)
{
}

static void xml_init(void)
{
    xmlInitParser();
}

int kiln_aws_xml_parse(const char *body, size_t len, const char *action, xmlDoc **doc,
                       struct kiln_err *err)
{
    *doc = NULL;
    pthread_once(&xml_once, xml_init);
    /* The generic error hook is per thread in libxml2: set it on each thread that parses. */
    xmlSetGenericErrorFunc(NULL, ignore_xml_error);
    if (body == NULL || len == 0 || len > (size_t)INT32_MAX)
        return kiln_err_set(err, KILN_E_INVALID, "malformed XML in the %s response: the body is %s",
                            action, len == 0 ? "empty" : "too large");
    /* No NOENT (no entity expansion), NONET (no fetching DTDs), no HUGE (keep libxml2's
     * limits on depth and text size). */
    int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
    xmlDoc *d = xmlReadMemory(body, (int)len, "response.xml", NULL, options);
    if (d == NULL || xmlDocGetRootElement(d) == NULL) {
        const xmlError *e = xmlGetLastError();
        char why[160] = "";
        if (e && e->message) {
            snprintf(why, sizeof why, ": %s", e->message);
            size_t n = strlen(why);
            while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == ' '))
                why[--n] = '\0';
            if (e->line > 0 && n + 16 < sizeof why)
                snprintf(why + n, sizeof why - n, " at line %d", e->line);
        }
        xmlResetLastError();
        xmlFreeDoc(d);
        return kiln_err_set(err, KILN_E_INVALID,
                            "malformed XML in the %s response%s; the endpoint may not be an "
                            "AWS API (check AWS_ENDPOINT_URL and [aws] endpoint)",
                            action, why);
    }
    *doc = d;
    return 0;
}

static bool named(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->name && strcmp((const char *)n->name, name) == 0;
}

xmlNode *kiln_aws_xml_child(const xmlNode *parent, const char *name)
{
    if (parent == NULL)
        return NULL;
    for (xmlNode *c = parent->children; c; c = c->next)
        if (named(c, name))
            return c;
    return NULL;
}

xmlNode *kiln_aws_xml_next(const xmlNode *node)
{
    if (node == NULL)
        return NULL;
    for (xmlNode *c = node->next; c; c = c->next)
        if (named(c, (const char *)node->name))
            return c;
    return NULL;
}

xmlNode *kiln_aws_xml_path(const xmlNode *parent, const char *path)
{
    const xmlNode *n = parent;
    const char *p = path;
    char step[128];
    while (n && *p) {
        size_t len = strcspn(p, "/");
        if (len == 0 || len >= sizeof step)
            return NULL;
        memcpy(step, p, len);
        step[len] = '\0';
        n = kiln_aws_xml_child(n, step);
        p += len;
        if (*p == '/')
            p++;
    }
    return (xmlNode *)n;
}

size_t kiln_aws_xml_count(const xmlNode *parent, const char *name)
{
    size_t n = 0;
    for (xmlNode *c = kiln_aws_xml_child(parent, name); c; c = kiln_aws_xml_next(c))
        n++;
    return n;
}

xmlNode **kiln_aws_xml_children(const xmlNode *parent, const char *name, size_t *n)
{
    size_t count = kiln_aws_xml_count(parent, name), i = 0;
    xmlNode **all = xcalloc(count + 1, sizeof *all);
    for (xmlNode *c = kiln_aws_xml_child(parent, name); c; c = kiln_aws_xml_next(c))
        all[i++] = c;
    if (n)
        *n = count;
    return all;
}

char *kiln_aws_xml_text(const xmlNode *node)
{
    if (node == NULL)
        return NULL;
    xmlChar *t = xmlNodeGetContent(node);
    char *s = xstrdup(t ? (const char *)t : "");
    xmlFree(t);
    return s;
}

bool kiln_aws_xml_text_at(const xmlNode *parent, const char *path, char *buf, size_t n)
{
    const xmlNode *node = kiln_aws_xml_path(parent, path);
    if (n > 0)
        buf[0] = '\0';
    if (node == NULL)
        return false;
    char *t = kiln_aws_xml_text(node);
    if (n > 0)
        snprintf(buf, n, "%s", t);
    free(t);
    return true;
}

char *kiln_aws_xml_dup_at(const xmlNode *parent, const char *path)
{
    return kiln_aws_xml_text(kiln_aws_xml_path(parent, path));
}

long long kiln_aws_xml_int_at(const xmlNode *parent, const char *path, long long def)
{
    char buf[64], *end;
    if (!kiln_aws_xml_text_at(parent, path, buf, sizeof buf))
        return def;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    while (*end && isspace((unsigned char)*end))
        end++;
    return errno || end == buf || *end ? def : v;
}

bool kiln_aws_xml_bool_at(const xmlNode *parent, const char *path, bool def)
{
    char buf[16];
    if (!kiln_aws_xml_text_at(parent, path, buf, sizeof buf))
        return def;
    if (strcmp(buf, "true") == 0)
        return true;
    if (strcmp(buf, "false") == 0)
        return false;
    return def;
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return 0;
}

int kiln_aws_parse_timestamp(const char *s, int64_t *us)
{
    if (s == NULL)
        return -1;
    const char *p = s;
    int y, mo, d, h, mi, sec;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
        digits(&p, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int64_t scale = 100000;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p)) {
            frac += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh))
            return -1;
        if (*p == ':')
            p++;
        if (digits(&p, 2, &om))
            return -1;
        offset_s = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p)
        return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *us = ((int64_t)t - offset_s) * 1000000 + frac;
    return 0;
}
