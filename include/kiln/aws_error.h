/* kiln: AWS error responses.
 *
 * Three formats reach kiln, all parsed into one struct and one sentence,
 * "Code: Message (Action, request id ID)":
 *   EC2:            <Response><Errors><Error><Code/><Message/></Error></Errors>
 *                   <RequestID/></Response>
 *   Query (awsquery: Auto Scaling, ELB, STS):
 *                   <ErrorResponse><Error><Type/><Code/><Message/></Error>
 *                   <RequestId/></ErrorResponse>
 *   REST-XML (Route 53): the same ErrorResponse shape (or <InvalidChangeBatch> with
 *                   <Messages><Message/>... for a bad ChangeResourceRecordSets).
 * A body that is none of these (an HTML page from a proxy, nothing at all) gives
 * "HTTP 503 Service Unavailable" with the start of the body. */
#ifndef KILN_AWS_ERROR_H
#define KILN_AWS_ERROR_H

#include <stdbool.h>
#include <stddef.h>

#include "kiln/err.h"

struct kiln_aws_error {
    long status;    /* HTTP status; 0 when no response came */
    char code[128]; /* "Throttling", "ValidationError", "HTTP 503" */
    char message[512];
    char type[16];        /* "Sender", "Receiver" or "" */
    char request_id[128]; /* from the body, else the x-amzn-RequestId header */
};

/* Fills e from an error response. header_request_id (may be NULL) is used when the body
 * has none. Never fails: an unreadable body becomes an "HTTP <status>" error. */
void kiln_aws_error_parse(const char *body, size_t len, long status, const char *header_request_id,
                          struct kiln_aws_error *e);

/* Whether retrying may help: throttling codes (Throttling, ThrottlingException,
 * RequestLimitExceeded, RequestThrottled, PriorRequestNotComplete, ...), HTTP 429 and
 * every 5xx. */
bool kiln_aws_error_retryable(const struct kiln_aws_error *e);

/* "Code: Message (Action, request id ID)" into err, with a KILN_E_* code that fits
 * (NotFound codes -> KILN_E_NOTFOUND, AlreadyExists -> KILN_E_EXISTS, ...). */
int kiln_aws_error_set(struct kiln_err *err, const struct kiln_aws_error *e, const char *action);

#endif
