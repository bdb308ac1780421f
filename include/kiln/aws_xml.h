/* kiln: reading AWS XML responses with libxml2.
 *
 * Lookups go by local name and ignore namespaces: EC2 answers in
 * "http://ec2.amazonaws.com/doc/2016-11-15/", Auto Scaling in its own namespace, and
 * emulators sometimes in none; the element names are what the botocore models call
 * their locationName (EC2: "reservationSet", "nextToken"; the others: "NextToken").
 *
 * Parsing never touches the network, never expands external entities and never
 * prints to stderr (the console owns the terminal); a body that is not well-formed
 * XML gives "malformed XML in the <Action> response", never a crash. */
#ifndef KILN_AWS_XML_H
#define KILN_AWS_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "kiln/err.h"

/* Parses body; the caller frees *doc with xmlFreeDoc. action names the call for the
 * message ("DescribeAutoScalingGroups"). */
int kiln_aws_xml_parse(const char *body, size_t len, const char *action, xmlDoc **doc,
                       struct kiln_err *err);

/* The first element child of parent with this local name, or NULL (parent may be NULL). */
xmlNode *kiln_aws_xml_child(const xmlNode *parent, const char *name);
/* The next element sibling after node with the same local name, or NULL: iterates
 *     for (n = kiln_aws_xml_child(set, "item"); n; n = kiln_aws_xml_next(n)) */
xmlNode *kiln_aws_xml_next(const xmlNode *node);
/* Follows a path of local names separated by '/': "DescribeAutoScalingGroupsResult/
 * AutoScalingGroups". NULL if any step is missing. */
xmlNode *kiln_aws_xml_path(const xmlNode *parent, const char *path);
/* How many element children named name parent has. */
size_t kiln_aws_xml_count(const xmlNode *parent, const char *name);
/* All element children named name, in order, in a NULL-terminated array the caller frees
 * with free() (the nodes belong to the document); *n (may be NULL) gets the count. */
xmlNode **kiln_aws_xml_children(const xmlNode *parent, const char *name, size_t *n);

/* The text content of node, or NULL when node is NULL; the caller frees. */
char *kiln_aws_xml_text(const xmlNode *node);
/* The text at path under parent, copied into buf (cut to n-1 bytes); "" when missing.
 * Returns whether the element was there. */
bool kiln_aws_xml_text_at(const xmlNode *parent, const char *path, char *buf, size_t n);
/* The same, allocated (caller frees); NULL when missing. */
char *kiln_aws_xml_dup_at(const xmlNode *parent, const char *path);
/* Integer and boolean values ("true"/"false"); def when missing or not a number. */
long long kiln_aws_xml_int_at(const xmlNode *parent, const char *path, long long def);
bool kiln_aws_xml_bool_at(const xmlNode *parent, const char *path, bool def);

/* AWS timestamps: "2026-11-26T05:16:08Z", "2026-11-26T05:16:08.123Z",
 * "2026-11-26T05:16:08+00:00" or an offset; to µs since the epoch. */
int kiln_aws_parse_timestamp(const char *s, int64_t *us);

#endif
