/* kiln: credentials from the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and,
 * for temporary keys, AWS_SESSION_TOKEN (the older AWS_SECURITY_TOKEN too, as botocore).
 * Read at each call: nothing is kept. */
#include "kiln/aws_credentials.h"
#include "provider/aws/credentials_private.h"

#include <stdio.h>
#include <stdlib.h>

static int env_get(struct kiln_aws_credentials_provider *p, struct kiln_aws_credentials *out,
                   struct kiln_err *err)
{
    const char *id = getenv("AWS_ACCESS_KEY_ID");
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    const char *token = getenv("AWS_SESSION_TOKEN");
    if (token == NULL || token[0] == '\0')
        token = getenv("AWS_SECURITY_TOKEN");
    bool have_id = id && id[0], have_secret = secret && secret[0];
    if (!have_id && !have_secret)
        return kiln_err_set(err, KILN_E_NOTFOUND, "no AWS_ACCESS_KEY_ID in the environment");
    /* Half a pair is a mistake the user wants to hear about, not a reason to go on
     * and use some other identity. */
    if (!have_id || !have_secret)
        return kiln_err_set(err, KILN_E_INVALID,
                            "%s is set but %s is not; set both, or unset it to use a profile",
                            have_id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                            have_id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
    kiln_aws_credentials_set(out, id, secret, token, 0, "environment");
    return 0;
}

static void env_describe(struct kiln_aws_credentials_provider *p, char *buf, size_t n)
{
    snprintf(buf, n, "the environment (AWS_ACCESS_KEY_ID)");
}

static const struct kiln_aws_credentials_provider_vtable env_vtable = {
    "environment",
    env_get,
    env_describe,
    NULL,
};

struct kiln_aws_credentials_provider *kiln_aws_credentials_provider_env_new(void)
{
    return kiln_aws_credentials_provider_new(&env_vtable, NULL);
}
