/* kiln: the list of commands, in the order `kiln help` shows them. Adding a command
 * means adding its file in src/commands/ and one line here; help, completion, the
 * CLI and the console's `:` line all follow from it. */
#include "kiln/command.h"
#include "commands/commands.h"

const struct kiln_cmd *const kiln_commands[] = {
    &kiln_cmd_help,
    &kiln_cmd_version,
    &kiln_cmd_config,
    &kiln_cmd_history,
    NULL,
};
