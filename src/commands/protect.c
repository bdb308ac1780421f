/* kiln: protected envs (`[core] protected_envs`, prod by default) on the CLI. The
 * console asks a person to type the env's name before it changes anything there; the
 * CLI must not be the way around that. On a terminal it asks the same; without one
 * (scripts, CI) the command must say `--confirm ENV`, so a script that deploys to
 * prod says so in its own text, and a copy-pasted line meant for test does not. */
#include "commands/commands.h"
#include "kiln/context.h"
#include "kiln/names.h"
#include "kiln/provider.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Commands that change nothing that serves: making an app, a package, an image. */
static bool exempt(const char *name)
{
    static const char *const names[] = {"create-app", "build", "bake", "try", "completion", NULL};
    for (int i = 0; names[i] != NULL; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

/* The instance's env, from the inventory (only asked when protected envs exist and
 * the command names an instance). */
static bool instance_env(struct kiln_ctx *ctx, const char *id, char env[KILN_ENV_SIZE])
{
    struct kiln_err err = {0};
    struct kiln_provider *p = kiln_provider_open(ctx, &err);
    struct kiln_snapshot *snap = NULL;
    bool found = false;
    if (p != NULL && p->ops->inventory(p, &snap, &err) == 0) {
        const struct kiln_instance *x = kiln_snapshot_find_instance(snap, id);
        if (x != NULL && x->group != NULL && x->group->env != NULL) {
            snprintf(env, KILN_ENV_SIZE, "%s", x->group->env->name);
            found = true;
        }
        kiln_snapshot_release(snap);
    }
    kiln_provider_close(p);
    return found;
}

/* The env a command changes, "" when it names none. */
static void target_env(const struct kiln_cmd *cmd, struct kiln_ctx *ctx, const struct kiln_args *a,
                       char env[KILN_ENV_SIZE])
{
    env[0] = '\0';
    const char *e = kiln_args_get(cmd, a, strcmp(cmd->name, "promote") == 0 ? "to" : "env");
    if (e != NULL) {
        snprintf(env, KILN_ENV_SIZE, "%s", e);
        return;
    }
    if (a->n_positional == 0 || cmd->positional_complete == KILN_COMPLETE_APP)
        return;
    struct kiln_group_name gn;
    if (kiln_group_name_parse(a->positional[0], &gn, NULL) == 0)
        snprintf(env, KILN_ENV_SIZE, "%s", gn.env);
    else if (cmd->positional_complete == KILN_COMPLETE_INSTANCE &&
             kiln_instance_id_validate(a->positional[0], NULL) == 0)
        instance_env(ctx, a->positional[0], env);
}

/* Asks on the terminal; true when the person typed the env's name. */
static bool typed_on_terminal(struct kiln_ctx *ctx, const char *cmd, const char *env)
{
    fprintf(ctx->msg, "kiln: %s is a protected env: type its name to %s there: ", env, cmd);
    fflush(ctx->msg);
    char line[128];
    if (fgets(line, sizeof line, stdin) == NULL)
        return false;
    line[strcspn(line, "\r\n")] = '\0';
    return strcmp(line, env) == 0;
}

int kiln_cmd_confirm_env(struct kiln_ctx *ctx, const char *cmd, const char *env,
                         struct kiln_err *err)
{
    if (ctx->envs_confirmed || env == NULL || env[0] == '\0' ||
        !kiln_config_is_protected_env(&ctx->config, env))
        return 0;
    const char *confirm = ctx->opts.confirm;
    if (confirm != NULL) {
        if (strcmp(confirm, env) == 0)
            return 0;
        return kiln_err_set(err, KILN_E_USAGE,
                            "--confirm %.40s does not name the env this changes (%s, a protected "
                            "env); nothing was done",
                            confirm, env);
    }
    if (isatty(STDIN_FILENO) && isatty(fileno(ctx->msg))) {
        if (typed_on_terminal(ctx, cmd, env))
            return 0;
        return kiln_err_set(err, KILN_E_USAGE, "that is not %s; nothing was done", env);
    }
    return kiln_err_set(err, KILN_E_USAGE,
                        "%s is a protected env: %s there needs --confirm %s (or run it on a "
                        "terminal and type the env's name); nothing was done",
                        env, cmd, env);
}

int kiln_cmd_check_protected(const struct kiln_cmd *cmd, struct kiln_ctx *ctx,
                             const struct kiln_args *a, struct kiln_err *err)
{
    if (!cmd->mutating || exempt(cmd->name) || ctx->envs_confirmed ||
        ctx->config.n_protected_envs == 0)
        return 0;
    char env[KILN_ENV_SIZE];
    target_env(cmd, ctx, a, env);
    return kiln_cmd_confirm_env(ctx, cmd->name, env, err);
}
