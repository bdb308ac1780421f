/* kiln: AWS error responses, three formats into one sentence (see kiln/aws_error.h). */
#include "kiln/aws_error.h"
#include "kiln/names.h"
#include "kiln/aws_xml.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void copy_trimmed(char *dst, size_t n, const char *src)
{
    while (*src && isspace((unsigned char)*src))
        src++;
    snprintf(dst, n, "%s", src);
    size_t len = strlen(dst);
    while (len > 0 && isspace((unsigned char)dst[len - 1]))
        dst[--len] = '\0';
}

static const char *reason_phrase(long status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}

/* A body that is not an AWS error: keep its first line, printable characters only, as
 * a hint ("<html><title>502 Bad Gateway</title>" says it was a proxy). */
static void non_xml(const char *body, size_t len, struct kiln_aws_error *e)
{
    const char *phrase = reason_phrase(e->status);
    snprintf(e->code, sizeof e->code, "HTTP %ld%s%s", e->status, phrase[0] ? " " : "", phrase);
    size_t j = 0;
    for (size_t i = 0; body && i < len && j + 1 < sizeof e->message && j < 160; i++) {
        unsigned char c = (unsigned char)body[i];
        if (c == '\n' || c == '\r') {
            if (j > 0)
                break;
            continue;
        }
        e->message[j++] = (c >= 32 && c < 127) ? (char)c : '?';
    }
    e->message[j] = '\0';
    if (j == 0)
        snprintf(e->message, sizeof e->message, "the response had no AWS error in it");
}

void kiln_aws_error_parse(const char *body, size_t len, long status, const char *header_request_id,
                          struct kiln_aws_error *e)
{
    memset(e, 0, sizeof *e);
    e->status = status;
    xmlDoc *doc = NULL;
    struct kiln_err ignored;
    if (kiln_aws_xml_parse(body, len, "error", &doc, &ignored) == 0) {
        xmlNode *root = xmlDocGetRootElement(doc);
        const char *rname = (const char *)root->name;
        xmlNode *error = NULL;
        char tmp[512];
        if (strcmp(rname, "Response") == 0) {
            /* EC2: <Response><Errors><Error>...</Error></Errors><RequestID> */
            error = kiln_aws_xml_path(root, "Errors/Error");
            kiln_aws_xml_text_at(root, "RequestID", tmp, sizeof tmp);
            copy_trimmed(e->request_id, sizeof e->request_id, tmp);
        } else if (strcmp(rname, "ErrorResponse") == 0) {
            /* awsquery and Route 53: <ErrorResponse><Error>..</Error><RequestId> */
            error = kiln_aws_xml_child(root, "Error");
            kiln_aws_xml_text_at(root, "RequestId", tmp, sizeof tmp);
            copy_trimmed(e->request_id, sizeof e->request_id, tmp);
        } else if (strcmp(rname, "Error") == 0) {
            error = root; /* a bare <Error>, as some emulators and S3-style APIs send */
            kiln_aws_xml_text_at(root, "RequestId", tmp, sizeof tmp);
            copy_trimmed(e->request_id, sizeof e->request_id, tmp);
        } else if (strcmp(rname, "InvalidChangeBatch") == 0) {
            /* Route 53 ChangeResourceRecordSets: one <Message> per refused change. */
            snprintf(e->code, sizeof e->code, "InvalidChangeBatch");
            kiln_aws_xml_text_at(root, "RequestId", tmp, sizeof tmp);
            copy_trimmed(e->request_id, sizeof e->request_id, tmp);
            xmlNode *msgs = kiln_aws_xml_child(root, "Messages");
            size_t used = 0;
            for (xmlNode *m = kiln_aws_xml_child(msgs, "Message"); m; m = kiln_aws_xml_next(m)) {
                char *t = kiln_aws_xml_text(m);
                int w = snprintf(e->message + used, sizeof e->message - used, "%s%s",
                                 used ? "; " : "", t);
                free(t);
                if (w < 0 || (size_t)w >= sizeof e->message - used)
                    break;
                used += (size_t)w;
            }
            if (used == 0)
                kiln_aws_xml_text_at(root, "Message", e->message, sizeof e->message);
        }
        if (error) {
            kiln_aws_xml_text_at(error, "Code", tmp, sizeof tmp);
            copy_trimmed(e->code, sizeof e->code, tmp);
            kiln_aws_xml_text_at(error, "Message", tmp, sizeof tmp);
            copy_trimmed(e->message, sizeof e->message, tmp);
            kiln_aws_xml_text_at(error, "Type", tmp, sizeof tmp);
            copy_trimmed(e->type, sizeof e->type, tmp);
        }
        xmlFreeDoc(doc);
    }
    if (e->code[0] == '\0') {
        char keep_id[sizeof e->request_id];
        memcpy(keep_id, e->request_id, sizeof keep_id);
        non_xml(body, len, e);
        memcpy(e->request_id, keep_id, sizeof keep_id);
    }
    if (e->request_id[0] == '\0' && header_request_id)
        snprintf(e->request_id, sizeof e->request_id, "%s", header_request_id);
    /* What a server says ends up on a terminal: no escapes, no direction overrides. */
    kiln_text_sanitize(e->code);
    kiln_text_sanitize(e->message);
    kiln_text_sanitize(e->type);
    kiln_text_sanitize(e->request_id);
}

bool kiln_aws_error_retryable(const struct kiln_aws_error *e)
{
    /* botocore's and the AWS SDKs' throttling and transient codes. */
    static const char *const codes[] = {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "IDPCommunicationError",
    };
    if (e->status >= 500 || e->status == 429)
        return true;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(e->code, codes[i]) == 0)
            return true;
    return false;
}

static bool contains(const char *s, const char *needle)
{
    return strstr(s, needle) != NULL;
}

static enum kiln_errcode errcode_for(const struct kiln_aws_error *e)
{
    const char *c = e->code;
    if (contains(c, "NotFound") || contains(c, "NoSuch") || strcmp(c, "ResourceNotFound") == 0)
        return KILN_E_NOTFOUND;
    if (contains(c, "AlreadyExists") || contains(c, "Duplicate"))
        return KILN_E_EXISTS;
    if (contains(c, "InUse") || strcmp(c, "ResourceInUse") == 0 ||
        strcmp(c, "ScalingActivityInProgress") == 0 || strcmp(c, "PriorRequestNotComplete") == 0)
        return KILN_E_BUSY;
    if (strcmp(c, "RequestTimeout") == 0 || strcmp(c, "RequestTimeoutException") == 0)
        return KILN_E_TIMEOUT;
    if (contains(c, "Validation") || contains(c, "Invalid") || contains(c, "Malformed") ||
        strcmp(c, "MissingParameter") == 0)
        return KILN_E_INVALID;
    return KILN_E_FAILED;
}

int kiln_aws_error_set(struct kiln_err *err, const struct kiln_aws_error *e, const char *action)
{
    const char *msg = e->message[0] ? e->message : "no message";
    if (e->request_id[0])
        return kiln_err_set(err, errcode_for(e), "%s: %s (%s, request id %s)", e->code, msg, action,
                            e->request_id);
    return kiln_err_set(err, errcode_for(e), "%s: %s (%s, no request id)", e->code, msg, action);
}
