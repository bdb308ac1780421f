/* kiln: the commands' entries (private to src/commands and src/cli). */
#ifndef KILN_COMMANDS_COMMANDS_H
#define KILN_COMMANDS_COMMANDS_H

#include "kiln/command.h"

extern const struct kiln_cmd kiln_cmd_help;
extern const struct kiln_cmd kiln_cmd_version;
extern const struct kiln_cmd kiln_cmd_config;
extern const struct kiln_cmd kiln_cmd_history;
extern const struct kiln_cmd kiln_cmd_cloud;
extern const struct kiln_cmd kiln_cmd_create_app;
extern const struct kiln_cmd kiln_cmd_delete_app;
extern const struct kiln_cmd kiln_cmd_apps;
extern const struct kiln_cmd kiln_cmd_status;
extern const struct kiln_cmd kiln_cmd_build;
extern const struct kiln_cmd kiln_cmd_bake;
extern const struct kiln_cmd kiln_cmd_base;
extern const struct kiln_cmd kiln_cmd_deploy;
extern const struct kiln_cmd kiln_cmd_rollback;
extern const struct kiln_cmd kiln_cmd_promote;
extern const struct kiln_cmd kiln_cmd_resize;
extern const struct kiln_cmd kiln_cmd_enable;
extern const struct kiln_cmd kiln_cmd_disable;
extern const struct kiln_cmd kiln_cmd_destroy;
extern const struct kiln_cmd kiln_cmd_terminate;
extern const struct kiln_cmd kiln_cmd_jobs;
extern const struct kiln_cmd kiln_cmd_log;
extern const struct kiln_cmd kiln_cmd_resume;
extern const struct kiln_cmd kiln_cmd_abort;
extern const struct kiln_cmd kiln_cmd_events;
extern const struct kiln_cmd kiln_cmd_chaos;
extern const struct kiln_cmd kiln_cmd_try;
extern const struct kiln_cmd kiln_cmd_completion;
extern const struct kiln_cmd kiln_cmd_complete_values;

/* Turns the error just set (a bad name or id in the arguments) into a usage error:
 * the caller named something wrongly, which is exit status 2. Returns -1. */
static inline int kiln_cmd_usage(struct kiln_err *err)
{
    if (err != NULL)
        err->code = KILN_E_USAGE;
    return -1;
}

/* The headless chaos monkey (src/commands/chaos_run.c), for `kiln chaos run`. */
int kiln_chaos_run(struct kiln_ctx *ctx, const char *hours, bool weekdays, const char *duration,
                   struct kiln_err *err);

/* A mutating command whose target env is protected goes on only when confirmed: the
 * console asked (ctx->envs_confirmed), --confirm ENV names it, or a person typed its
 * name on the terminal (src/commands/protect.c). Else KILN_E_USAGE, nothing done. */
int kiln_cmd_check_protected(const struct kiln_cmd *cmd, struct kiln_ctx *ctx,
                             const struct kiln_args *a, struct kiln_err *err);
/* The same for a command that changes env (given by the command itself: chaos). */
int kiln_cmd_confirm_env(struct kiln_ctx *ctx, const char *cmd, const char *env,
                         struct kiln_err *err);

/* Prints the whole program's usage (global options and command list). */
void kiln_print_usage(FILE *out, bool read_only);

#endif
