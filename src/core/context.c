/* kiln: the run-time context of commands: global options, paths, configuration.
 * In core, not commands: the pipeline and the providers read it too. */
#include "kiln/context.h"

#include <stdlib.h>
#include <string.h>

void kiln_ctx_init(struct kiln_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->out = stdout;
    ctx->msg = stderr;
}

int kiln_ctx_global_opt(struct kiln_ctx *ctx, const char *name, const char *value,
                        struct kiln_err *err)
{
    static const char *const with_value[] = {"home",   "provider", "profile", "region",
                                             "config", "theme",    "confirm"};
    const char **slots[] = {&ctx->opts.home,   &ctx->opts.provider, &ctx->opts.profile,
                            &ctx->opts.region, &ctx->opts.config,   &ctx->opts.theme,
                            &ctx->opts.confirm};

    for (size_t i = 0; i < sizeof with_value / sizeof with_value[0]; i++) {
        if (strcmp(name, with_value[i]) != 0)
            continue;
        if (value == NULL || value[0] == '\0') {
            kiln_err_set(err, KILN_E_USAGE, "option --%s needs a value", name);
            return -2;
        }
        if (strcmp(name, "provider") == 0 && strcmp(value, "local") != 0 &&
            strcmp(value, "aws") != 0) {
            kiln_err_set(err, KILN_E_USAGE, "--provider must be 'local' or 'aws', not '%.40s'",
                         value);
            return -2;
        }
        *slots[i] = value;
        return 1;
    }
    if (strcmp(name, "read-only") == 0) {
        ctx->opts.read_only = true;
        ctx->read_only = true;
        return 0;
    }
    if (strcmp(name, "json") == 0) {
        ctx->opts.json = true;
        ctx->json = true;
        return 0;
    }
    return -1;
}

int kiln_ctx_setup(struct kiln_ctx *ctx, struct kiln_err *err)
{
    if (ctx->config_loaded)
        return 0;
    if (kiln_paths_resolve(&ctx->paths, ctx->opts.home, ctx->opts.config, err) < 0)
        return -1;
    kiln_config_defaults(&ctx->config);
    if (kiln_config_load(&ctx->config, ctx->paths.config_file, err) < 0)
        return -1;
    if (kiln_config_apply_env(&ctx->config, err) < 0)
        return -1;
    ctx->config_loaded = true;
    if (ctx->config.read_only)
        ctx->read_only = true;
    return 0;
}

void kiln_ctx_free(struct kiln_ctx *ctx)
{
    if (ctx->config_loaded)
        kiln_config_free(&ctx->config);
    kiln_paths_free(&ctx->paths);
}
