/* kiln: the command table as a whole. Read-only mode must refuse every command that
 * changes something, so the table's `mutating` flags are checked against the short
 * list of commands that are allowed to only read: a new command is mutating unless
 * someone decides here, on purpose, that it only reads. */
#include "commands/commands.h"
#include "kiln/command.h"
#include "kiln/context.h"
#include "tap.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* The commands that only read (cloud, chaos and base check their mutating sub-commands
 * themselves: `cloud stop`, `chaos --enable`, `base build`). */
static const char *const read_only_ok[] = {
    "apps",
    "status",
    "events",
    "jobs",
    "log",
    "history",
    "cloud",
    "config",
    "help",
    "version",
    "chaos",
    "base",
    /* They print a script, and read state files for its candidates. */
    "completion",
    "__complete",
    NULL,
};

static int allowed(const char *name)
{
    for (int i = 0; read_only_ok[i] != NULL; i++)
        if (strcmp(read_only_ok[i], name) == 0)
            return 1;
    return 0;
}

int main(void)
{
    char tmp[] = "/tmp/kiln-test-commands.XXXXXX";
    if (mkdtemp(tmp) == NULL)
        return 1;
    setenv("KILN_HOME", tmp, 1);
    setenv("XDG_CONFIG_HOME", tmp, 1);

    int n = 0;
    for (int i = 0; kiln_commands[i] != NULL; i++, n++) {
        const struct kiln_cmd *c = kiln_commands[i];
        if (!c->mutating) {
            ok(allowed(c->name), "%s only reads (it is on the read-only list)", c->name);
            continue;
        }
        struct kiln_ctx ctx;
        kiln_ctx_init(&ctx);
        ctx.opts.read_only = ctx.read_only = true;
        char *argv[KILN_MAX_POSITIONAL + 1];
        for (int k = 0; k < c->min_positional; k++)
            argv[k] = "x";
        struct kiln_err err = {0};
        int status = kiln_command_run(c, &ctx, c->min_positional, argv, &err);
        ok_got(status == 1 && err.code == KILN_E_READONLY,
               ("status %d, code %d", status, (int)err.code), "read-only refuses %s: %s", c->name,
               err.msg);
        kiln_ctx_free(&ctx);
    }
    ok(n > 20, "the table has its commands (%d)", n);

    /* Every command is documented: a summary, and a usage string. */
    for (int i = 0; kiln_commands[i] != NULL; i++)
        ok(kiln_commands[i]->summary[0] != '\0', "%s has a summary", kiln_commands[i]->name);

    char *rm[] = {"rm", "-rf", tmp, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        execvp("rm", rm);
        _exit(127); /* never run the rest of the test twice */
    }
    int status = -1;
    ok_got(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
               WEXITSTATUS(status) == 0,
           ("pid %d, status 0x%x", (int)pid, status), "the test's state dir is removed");
    return done_testing();
}
