/* kiln: the list of commands, in the order `kiln help` shows them. Adding a command
 * means adding its file in src/commands/ and one line here; help, completion, the
 * CLI and the console's `:` line all follow from it. */
#include "kiln/command.h"
#include "commands/commands.h"

const struct kiln_cmd *const kiln_commands[] = {
    &kiln_cmd_create_app,
    &kiln_cmd_delete_app,
    &kiln_cmd_apps,
    &kiln_cmd_status,
    &kiln_cmd_build,
    &kiln_cmd_bake,
    &kiln_cmd_base,
    &kiln_cmd_deploy,
    &kiln_cmd_rollback,
    &kiln_cmd_promote,
    &kiln_cmd_try,
    &kiln_cmd_resize,
    &kiln_cmd_enable,
    &kiln_cmd_disable,
    &kiln_cmd_destroy,
    &kiln_cmd_terminate,
    &kiln_cmd_chaos,
    &kiln_cmd_events,
    &kiln_cmd_jobs,
    &kiln_cmd_log,
    &kiln_cmd_resume,
    &kiln_cmd_abort,
    &kiln_cmd_history,
    &kiln_cmd_cloud,
    &kiln_cmd_config,
    &kiln_cmd_completion,
    &kiln_cmd_help,
    &kiln_cmd_version,
    &kiln_cmd_complete_values,
    NULL,
};
