/* kiln config */
#include "commands/commands.h"
#include "kiln/context.h"

static int config_exec(struct kiln_ctx *ctx, const struct kiln_args *args, struct kiln_err *err)
{
    if (kiln_ctx_setup(ctx, err) < 0)
        return -1;
    fprintf(ctx->out, "# where kiln keeps things\n");
    fprintf(ctx->out, "home = %s\n", ctx->paths.home);
    fprintf(ctx->out, "config = %s\n\n", ctx->paths.config_file);
    fprintf(ctx->out, "# the effective configuration (defaults, the file, the environment)\n");
    kiln_config_dump(&ctx->config, ctx->out);
    return 0;
}

const struct kiln_cmd kiln_cmd_config = {
    .name = "config",
    .usage = "",
    .summary = "where kiln keeps its state, and the effective configuration",
    .help = "Prints the state dir and the configuration file kiln uses, then every setting\n"
            "with its effective value, as INI that can be pasted into the file.\n"
            "See kiln.conf(5).",
    .exec = config_exec,
};
