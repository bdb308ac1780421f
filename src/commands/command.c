/* kiln: looking up, running and describing the commands of the table. */
#include "commands/commands.h"
#include "kiln/command.h"
#include "kiln/context.h"

#include <string.h>

const struct kiln_cmd *kiln_command_find(const char *name)
{
    for (int i = 0; kiln_commands[i] != NULL; i++)
        if (strcmp(kiln_commands[i]->name, name) == 0)
            return kiln_commands[i];
    return NULL;
}

/* `kiln deploy --help` (or -h) anywhere before `--`: what every CLI user tries first. */
static bool wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

int kiln_command_run(const struct kiln_cmd *cmd, struct kiln_ctx *ctx, int argc, char **argv,
                     struct kiln_err *err)
{
    struct kiln_args args;
    if (wants_help(argc, argv)) {
        kiln_command_print_help(cmd, ctx->read_only, ctx->out);
        return 0;
    }
    if (kiln_args_parse(cmd, ctx, argc, argv, &args, err) < 0)
        return kiln_err_exit_status(err->code);
    if (cmd->mutating) {
        /* Read-only may come from the config file, so it is known only after setup. */
        if (kiln_ctx_setup(ctx, err) < 0)
            return kiln_err_exit_status(err->code);
        if (ctx->read_only) {
            kiln_err_set(err, KILN_E_READONLY,
                         "'%s' changes things and kiln is in read-only mode (--read-only or "
                         "read_only in the config); nothing was done",
                         cmd->name);
            return 1;
        }
        if (kiln_cmd_check_protected(cmd, ctx, &args, err) < 0)
            return kiln_err_exit_status(err->code);
    }
    if (cmd->exec(ctx, &args, err) < 0)
        return kiln_err_exit_status(err->code);
    return 0;
}

void kiln_command_print_help(const struct kiln_cmd *cmd, bool read_only, FILE *out)
{
    fprintf(out, "usage: kiln %s%s%s\n\n%s\n", cmd->name, cmd->usage[0] ? " " : "", cmd->usage,
            cmd->summary);
    if (cmd->help != NULL && cmd->help[0] != '\0')
        fprintf(out, "\n%s\n", cmd->help);
    if (cmd->opts != NULL && cmd->opts[0].name != NULL) {
        fprintf(out, "\noptions:\n");
        for (int i = 0; cmd->opts[i].name != NULL; i++) {
            char left[64];
            snprintf(left, sizeof left, "--%s%s%s", cmd->opts[i].name,
                     cmd->opts[i].metavar ? " " : "",
                     cmd->opts[i].metavar ? cmd->opts[i].metavar : "");
            fprintf(out, "  %-26s %s\n", left, cmd->opts[i].help);
        }
    }
    if (cmd->mutating && read_only)
        fprintf(out, "\n(kiln is in read-only mode: this command would be refused.)\n");
}

void kiln_command_print_list(bool read_only, FILE *out)
{
    for (int i = 0; kiln_commands[i] != NULL; i++) {
        const struct kiln_cmd *c = kiln_commands[i];
        if ((read_only && c->mutating) || c->hidden)
            continue;
        fprintf(out, "  %-14s %s\n", c->name, c->summary);
    }
}
