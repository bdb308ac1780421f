/* kiln: the entry point. `kiln COMMAND ...` runs one command of the table and exits
 * with its status; `kiln` alone opens the console. */
#include "commands/commands.h"
#include "kiln/command.h"
#include "kiln/console.h"
#include "kiln/context.h"
#include "kiln/sandbox.h"

#include "config.h"

#include <cjson/cJSON.h>
#include <locale.h>
#include <signal.h>
#include <string.h>

/* The error for people on stderr and, with --json, for programs on stdout, as one
 * object {"error": {"code": "usage", "message": "..."}}, so a script that reads
 * stdout always gets a document. */
static int print_error(struct kiln_ctx *ctx, const struct kiln_err *err, int status)
{
    const char *msg = err->msg[0] ? err->msg : "failed";
    /* What the command wrote to stdout (held in stdio's buffer when stdout is a file
     * or a pipe) goes first, so that with 2>&1 the error follows it on a line of its
     * own instead of landing before it or inside it. */
    fflush(ctx->out);
    fprintf(ctx->msg, "kiln: %s\n", msg);
    if (ctx->json) {
        cJSON *doc = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(doc, "error");
        cJSON_AddStringToObject(e, "code",
                                err->code == KILN_OK ? "failed" : kiln_errcode_name(err->code));
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddNumberToObject(e, "exit_status", status);
        char *text = cJSON_PrintUnformatted(doc);
        if (text != NULL)
            fprintf(ctx->out, "%s\n", text);
        cJSON_free(text);
        cJSON_Delete(doc);
        fflush(ctx->out);
    }
    return status;
}

/* Global options before the command name; returns the index of the command word. */
static int parse_leading_globals(struct kiln_ctx *ctx, int argc, char **argv, int *exit_now,
                                 struct kiln_err *err)
{
    int i = 1;
    *exit_now = -1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            kiln_print_usage(stdout, ctx->read_only);
            *exit_now = 0;
            return i;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("kiln %s\n", PACKAGE_VERSION);
            *exit_now = 0;
            return i;
        }
        if (strcmp(a, "--") == 0)
            return i + 1;
        if (a[0] != '-')
            return i;
        if (a[1] != '-') {
            kiln_err_set(err, KILN_E_USAGE, "unknown option '%.40s' (see: kiln --help)", a);
            *exit_now = 2;
            return i;
        }
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (len >= sizeof name)
            len = sizeof name - 1;
        memcpy(name, a + 2, len);
        name[len] = '\0';
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
        int r = kiln_ctx_global_opt(ctx, name, value, err);
        if (r == -1)
            kiln_err_set(err, KILN_E_USAGE, "unknown option '--%s' (see: kiln --help)", name);
        if (r < 0) {
            *exit_now = 2;
            return i;
        }
        if (r == 1 && eq == NULL)
            i++;
    }
    return i;
}

int main(int argc, char **argv)
{
    struct kiln_ctx ctx;
    struct kiln_err err = {0};
    int exit_now;

    /* The build sandbox's wrapper (kiln __sandbox --rw DIR -- rpmbuild ...): before
     * anything else, since it only enters the sandbox and execs. */
    if (argc > 1 && strcmp(argv[1], "__sandbox") == 0)
        return kiln_sandbox_main(argc - 1, argv + 1);
    setlocale(LC_ALL, "");
    /* A closed pipe (kiln status | head) must not kill kiln mid-write of state. */
    signal(SIGPIPE, SIG_IGN);
    kiln_ctx_init(&ctx);

    int cmd_at = parse_leading_globals(&ctx, argc, argv, &exit_now, &err);
    if (exit_now >= 0) {
        int st = exit_now ? print_error(&ctx, &err, exit_now) : 0;
        kiln_ctx_free(&ctx);
        return st;
    }
    if (cmd_at >= argc) {
        int st = 0;
        if (kiln_ctx_setup(&ctx, &err) < 0 || kiln_console_run(&ctx, &err) < 0)
            st = print_error(&ctx, &err, kiln_err_exit_status(err.code));
        kiln_ctx_free(&ctx);
        return st;
    }

    const struct kiln_cmd *cmd = kiln_command_find(argv[cmd_at]);
    if (cmd == NULL) {
        kiln_err_set(&err, KILN_E_USAGE, "unknown command '%.40s' (kiln help lists the commands)",
                     argv[cmd_at]);
        print_error(&ctx, &err, 2);
        kiln_ctx_free(&ctx);
        return 2;
    }
    int status = kiln_command_run(cmd, &ctx, argc - cmd_at - 1, argv + cmd_at + 1, &err);
    if (status != 0)
        print_error(&ctx, &err, status);
    if (fflush(ctx.out) != 0 && status == 0) {
        fprintf(ctx.msg, "kiln: cannot write the output\n");
        status = 1;
    }
    kiln_ctx_free(&ctx);
    return status;
}
