/* kiln help [COMMAND] */
#include "commands/commands.h"
#include "kiln/context.h"

#include <string.h>

void kiln_print_usage(FILE *out, bool read_only)
{
    fprintf(out, "usage: kiln [GLOBAL OPTIONS] [COMMAND [ARGS]]\n\n"
                 "kiln is a console for immutable-server deployments: build an RPM, bake it into\n"
                 "an image, deploy it red-black as a new server group, roll back in seconds.\n"
                 "Without a command, kiln opens the console.\n\n"
                 "commands:\n");
    kiln_command_print_list(read_only, out);
    fprintf(out, "\nglobal options (anywhere on the line):\n"
                 "  --home DIR                 keep all state in DIR (default $KILN_HOME,\n"
                 "                             else $XDG_STATE_HOME/kiln)\n"
                 "  --config FILE              read FILE instead of $XDG_CONFIG_HOME/kiln/config\n"
                 "  --provider local|aws       where to deploy (default: local)\n"
                 "  --profile NAME             AWS profile\n"
                 "  --region NAME              AWS region\n"
                 "  --read-only                refuse every command that changes something\n"
                 "  --theme NAME               the console's colours (default, light,\n"
                 "                             high-contrast, mono, or a file)\n"
                 "  --json                     machine-readable output on stdout\n"
                 "  -h, --help                 this help; kiln COMMAND --help for one command\n"
                 "  -V, --version              print the version\n\n"
                 "Exit status: 0 success, 1 the operation failed, 2 usage error.\n"
                 "See kiln(1) and kiln.conf(5).\n");
}

static int help_exec(struct kiln_ctx *ctx, const struct kiln_args *args, struct kiln_err *err)
{
    if (args->n_positional == 0) {
        kiln_print_usage(ctx->out, ctx->read_only);
        return 0;
    }
    const struct kiln_cmd *cmd = kiln_command_find(args->positional[0]);
    if (cmd == NULL)
        return kiln_err_set(err, KILN_E_USAGE,
                            "no command named '%.40s' (kiln help lists them all)",
                            args->positional[0]);
    kiln_command_print_help(cmd, ctx->read_only, ctx->out);
    return 0;
}

const struct kiln_cmd kiln_cmd_help = {
    .name = "help",
    .usage = "[COMMAND]",
    .summary = "show the commands, or how to use one",
    .help = "Without an argument, lists every command. With one, shows its usage and options.",
    .min_positional = 0,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_COMMAND,
    .exec = help_exec,
};
