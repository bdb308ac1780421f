/* kiln: choosing the provider. */
#include "kiln/provider.h"

#include "kiln/context.h"
#include "provider/aws/aws.h"
#include "provider/local/local.h"

#include <string.h>

struct kiln_provider *kiln_provider_open(struct kiln_ctx *ctx, struct kiln_err *err)
{
    if (kiln_ctx_setup(ctx, err) < 0)
        return NULL;
    const char *name = ctx->opts.provider;
    if (name == NULL)
        name = kiln_provider_kind_name(ctx->config.provider);
    if (strcmp(name, "local") == 0)
        return kiln_local_open(&ctx->paths, ctx->opts.config, err);
    if (strcmp(name, "aws") == 0)
        return kiln_aws_open(ctx, err);
    /* --provider is checked when parsed; this is a bad `provider` in the config. */
    kiln_err_set(err, KILN_E_USAGE, "there is no provider '%.40s': use local or aws", name);
    return NULL;
}

void kiln_provider_close(struct kiln_provider *p)
{
    if (p != NULL)
        p->ops->close(p);
}
