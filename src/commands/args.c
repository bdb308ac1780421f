/* kiln: parsing a command's arguments, the same way for the CLI and the `:` line.
 * GNU-style long options (`--env test`, `--env=test`), `--` ends options, global
 * options are accepted anywhere so `kiln status --json` and `kiln --json status`
 * both work. */
#include "kiln/command.h"
#include "kiln/context.h"

#include <string.h>

static int opt_index(const struct kiln_cmd *cmd, const char *name, size_t len)
{
    if (cmd->opts == NULL)
        return -1;
    for (int i = 0; i < KILN_MAX_OPTS && cmd->opts[i].name != NULL; i++)
        if (strlen(cmd->opts[i].name) == len && strncmp(cmd->opts[i].name, name, len) == 0)
            return i;
    return -1;
}

/* Handles one "--name[=value]" word; *i is advanced past a separate value word. */
static int parse_option(const struct kiln_cmd *cmd, struct kiln_ctx *ctx, int argc, char **argv,
                        int *i, struct kiln_args *out, struct kiln_err *err)
{
    const char *word = argv[*i] + 2;
    const char *eq = strchr(word, '=');
    size_t len = eq ? (size_t)(eq - word) : strlen(word);
    int idx = opt_index(cmd, word, len);

    if (idx >= 0) {
        const struct kiln_opt *o = &cmd->opts[idx];
        if (o->metavar == NULL) {
            if (eq != NULL)
                return kiln_err_set(err, KILN_E_USAGE, "option --%s takes no value (kiln help %s)",
                                    o->name, cmd->name);
            out->values[idx] = "";
            return 0;
        }
        if (eq != NULL) {
            out->values[idx] = eq + 1;
        } else if (*i + 1 < argc) {
            out->values[idx] = argv[++*i];
        } else {
            return kiln_err_set(err, KILN_E_USAGE, "option --%s needs a value %s (kiln help %s)",
                                o->name, o->metavar, cmd->name);
        }
        return 0;
    }

    char name[64];
    if (len >= sizeof name)
        len = sizeof name - 1;
    memcpy(name, word, len);
    name[len] = '\0';
    const char *value = eq ? eq + 1 : (*i + 1 < argc ? argv[*i + 1] : NULL);
    int r = kiln_ctx_global_opt(ctx, name, value, err);
    if (r == -2)
        return -1;
    if (r == 1 && eq == NULL)
        ++*i;
    if (r >= 0)
        return 0;
    return kiln_err_set(err, KILN_E_USAGE, "unknown option --%s for '%s' (see: kiln help %s)", name,
                        cmd->name, cmd->name);
}

int kiln_args_parse(const struct kiln_cmd *cmd, struct kiln_ctx *ctx, int argc, char **argv,
                    struct kiln_args *out, struct kiln_err *err)
{
    bool options_done = false;
    memset(out, 0, sizeof *out);

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        if (!options_done && a[0] == '-' && a[1] == '-' && a[2] != '\0') {
            if (parse_option(cmd, ctx, argc, argv, &i, out, err) < 0)
                return -1;
            continue;
        }
        if (!options_done && a[0] == '-' && a[1] != '\0')
            return kiln_err_set(err, KILN_E_USAGE,
                                "unknown option '%.40s' for '%s': kiln takes long options such as "
                                "--env (see: kiln help %s)",
                                a, cmd->name, cmd->name);
        if (out->n_positional >= cmd->max_positional || out->n_positional >= KILN_MAX_POSITIONAL)
            return kiln_err_set(err, KILN_E_USAGE,
                                "too many arguments for '%s' at '%.40s' (usage: kiln %s%s%s)",
                                cmd->name, a, cmd->name, cmd->usage[0] ? " " : "", cmd->usage);
        out->positional[out->n_positional++] = a;
    }
    if (out->n_positional < cmd->min_positional)
        return kiln_err_set(err, KILN_E_USAGE, "'%s' needs more arguments (usage: kiln %s%s%s)",
                            cmd->name, cmd->name, cmd->usage[0] ? " " : "", cmd->usage);
    return 0;
}

const char *kiln_args_get(const struct kiln_cmd *cmd, const struct kiln_args *args,
                          const char *name)
{
    int idx = opt_index(cmd, name, strlen(name));
    return idx >= 0 ? args->values[idx] : NULL;
}

bool kiln_args_flag(const struct kiln_cmd *cmd, const struct kiln_args *args, const char *name)
{
    return kiln_args_get(cmd, args, name) != NULL;
}
