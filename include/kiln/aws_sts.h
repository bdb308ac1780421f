/* kiln: STS, the first call a new setup makes (who am I?) and the one behind role_arn
 * profiles (AssumeRole). */
#ifndef KILN_AWS_STS_H
#define KILN_AWS_STS_H

#include <stdint.h>

#include "kiln/aws_client.h"
#include "kiln/aws_credentials.h"
#include "kiln/err.h"

struct kiln_aws_identity {
    char account[32];
    char arn[512];
    char user_id[256];
};

/* GetCallerIdentity: which account and principal the credentials belong to. */
int kiln_aws_whoami(struct kiln_aws_client *c, struct kiln_aws_identity *out, struct kiln_err *err);

struct kiln_aws_assume_role {
    const char *role_arn;
    const char *session_name; /* RoleSessionName; NULL: "kiln-<unix time>" */
    const char *external_id;  /* or NULL */
    int duration_s;           /* DurationSeconds; 0: STS's default (1 hour) */
};

/* AssumeRole with c's credentials; *out gets the temporary ones (the caller clears). */
int kiln_aws_sts_assume_role(struct kiln_aws_client *c, const struct kiln_aws_assume_role *p,
                             struct kiln_aws_credentials *out, struct kiln_err *err);

#endif
