/* kiln: the argument parser shared by the CLI and the `:` line. */
#include "kiln/command.h"
#include "kiln/context.h"
#include "tap.h"

static int noop(struct kiln_ctx *ctx, const struct kiln_args *args, struct kiln_err *err)
{
    return 0;
}

static const struct kiln_opt deploy_opts[] = {
    {"env", "ENV", "the environment", KILN_COMPLETE_ENV},
    {"min", "N", "minimum size", KILN_COMPLETE_NONE},
    {"force", NULL, "do it anyway", KILN_COMPLETE_NONE},
    {0},
};

static const struct kiln_cmd fake_deploy = {
    .name = "deploy",
    .usage = "APP --env ENV",
    .summary = "deploy",
    .opts = deploy_opts,
    .min_positional = 1,
    .max_positional = 1,
    .mutating = true,
    .exec = noop,
};

static int parse(struct kiln_ctx *ctx, struct kiln_args *a, struct kiln_err *err, int argc,
                 char **argv)
{
    kiln_ctx_init(ctx);
    kiln_err_clear(err);
    return kiln_args_parse(&fake_deploy, ctx, argc, argv, a, err);
}

int main(void)
{
    struct kiln_ctx ctx;
    struct kiln_args a;
    struct kiln_err err;

    char *v1[] = {"hello-world", "--env", "test", "--min=2", "--force"};
    is_int(parse(&ctx, &a, &err, 5, v1), 0, "positional, --opt VALUE, --opt=VALUE and a flag");
    is_str(a.positional[0], "hello-world", "the positional argument");
    is_str(kiln_args_get(&fake_deploy, &a, "env"), "test", "--env VALUE");
    is_str(kiln_args_get(&fake_deploy, &a, "min"), "2", "--min=VALUE");
    ok(kiln_args_flag(&fake_deploy, &a, "force"), "--force flag is set");

    char *v2[] = {"--json", "hello-world", "--home", "/tmp/h", "--env", "prod"};
    is_int(parse(&ctx, &a, &err, 6, v2), 0, "global options anywhere");
    ok(ctx.json, "--json reached the context");
    is_str(ctx.opts.home, "/tmp/h", "--home reached the context");
    ok(!kiln_args_flag(&fake_deploy, &a, "force"), "a flag not given is not set");

    char *v3[] = {"hello-world", "--envv", "x"};
    is_int(parse(&ctx, &a, &err, 3, v3), -1, "an unknown option fails");
    is_int(err.code, KILN_E_USAGE, "as a usage error");
    ok(strstr(err.msg, "--envv") != NULL, "naming the option: %s", err.msg);

    char *v4[] = {"hello-world", "--env"};
    is_int(parse(&ctx, &a, &err, 2, v4), -1, "an option missing its value fails");
    ok(strstr(err.msg, "needs a value ENV") != NULL, "saying what value: %s", err.msg);

    char *v5[] = {"a", "b"};
    is_int(parse(&ctx, &a, &err, 2, v5), -1, "too many positionals fail");
    char *v6[] = {"--env", "x"};
    is_int(parse(&ctx, &a, &err, 2, v6), -1, "too few positionals fail");
    ok(strstr(err.msg, "usage: kiln deploy APP --env ENV") != NULL, "with the usage: %s", err.msg);

    char *v7[] = {"--", "--weird-app"};
    is_int(parse(&ctx, &a, &err, 2, v7), 0, "-- ends the options");
    is_str(a.positional[0], "--weird-app", "the word after -- is positional");

    char *v8[] = {"app", "--force=yes"};
    is_int(parse(&ctx, &a, &err, 2, v8), -1, "a flag given a value fails");

    char *v9[] = {"app", "-e", "x"};
    is_int(parse(&ctx, &a, &err, 3, v9), -1, "short options are refused clearly");

    char *v10[] = {"app", "--provider", "gcp"};
    is_int(parse(&ctx, &a, &err, 3, v10), -1, "a bad global option value fails");
    ok(strstr(err.msg, "'local' or 'aws'") != NULL, "saying the choices: %s", err.msg);

    ok(kiln_command_find("help") != NULL, "the table has help");
    ok(kiln_command_find("nope") == NULL, "an unknown name is not found");
    int n = 0;
    for (int i = 0; kiln_commands[i] != NULL; i++, n++) {
        const struct kiln_cmd *c = kiln_commands[i];
        ok(c->name && c->usage && c->summary && c->exec, "command %s is complete", c->name);
    }
    ok(n > 0, "the table is not empty");
    return done_testing();
}
