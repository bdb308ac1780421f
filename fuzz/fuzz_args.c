/* fuzz: command-line arguments (kiln_args_parse) against every command of the table.
 *
 * The input is argv with NUL bytes between the words. The first word names the
 * command ("deploy"); when it names none, its first byte picks one of the table, so
 * every input reaches some command. The rest is the command's argv, parsed the way
 * the CLI and the console's `:` line do; nothing is executed. Checked besides "no
 * crash, no leak": a refusal is a usage error with a message; an accepted parse has
 * min..max positionals, flags hold "", option values and the global options the
 * context took all point into argv.
 */
#include "fuzz.h"

#include "kiln/command.h"
#include "kiln/context.h"

#define MAX_WORDS 64

static bool in_argv(const char *p, char **argv, int argc)
{
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (p >= argv[i] && p <= argv[i] + n)
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16 * 1024)
        return 0;
    char *words[MAX_WORDS + 1];
    char *block;
    int n = fuzz_split(data, size, '\0', words, MAX_WORDS, &block);
    words[n] = NULL;

    int n_cmds = 0;
    while (kiln_commands[n_cmds] != NULL)
        n_cmds++;
    const struct kiln_cmd *cmd = kiln_command_find(words[0]);
    if (cmd == NULL)
        cmd = kiln_commands[(unsigned char)words[0][0] % n_cmds];

    int argc = n - 1;
    char **argv = words + 1;
    struct kiln_ctx ctx;
    kiln_ctx_init(&ctx);
    struct kiln_args args;
    struct kiln_err err = {0};
    if (kiln_args_parse(cmd, &ctx, argc, argv, &args, &err) < 0) {
        if (err.code != KILN_E_USAGE || err.msg[0] == '\0')
            fuzz_fail("%s: refusal with code %d and message \"%s\"", cmd->name, err.code,
                      err.msg);
    } else {
        if (args.n_positional < cmd->min_positional || args.n_positional > cmd->max_positional)
            fuzz_fail("%s: %d positionals accepted", cmd->name, args.n_positional);
        for (int i = 0; i < args.n_positional; i++)
            if (!in_argv(args.positional[i], argv, argc))
                fuzz_fail("%s: positional %d points outside argv", cmd->name, i);
        for (int i = 0; cmd->opts != NULL && cmd->opts[i].name != NULL; i++) {
            const char *v = kiln_args_get(cmd, &args, cmd->opts[i].name);
            if (v != args.values[i] || kiln_args_flag(cmd, &args, cmd->opts[i].name) != (v != NULL))
                fuzz_fail("%s: --%s looks up another value", cmd->name, cmd->opts[i].name);
            if (v == NULL)
                continue;
            if (cmd->opts[i].metavar == NULL ? v[0] != '\0' : !in_argv(v, argv, argc))
                fuzz_fail("%s: --%s has value \"%s\"", cmd->name, cmd->opts[i].name, v);
        }
        const char *globals[] = {ctx.opts.home, ctx.opts.provider, ctx.opts.profile,
                                 ctx.opts.region, ctx.opts.config};
        for (size_t i = 0; i < sizeof globals / sizeof globals[0]; i++)
            if (globals[i] != NULL && (globals[i][0] == '\0' || !in_argv(globals[i], argv, argc)))
                fuzz_fail("%s: global option %zu is \"%s\"", cmd->name, i, globals[i]);
        if (ctx.opts.provider != NULL && strcmp(ctx.opts.provider, "local") != 0 &&
            strcmp(ctx.opts.provider, "aws") != 0)
            fuzz_fail("--provider %s accepted", ctx.opts.provider);
    }
    kiln_ctx_free(&ctx);
    free(block);
    return 0;
}
