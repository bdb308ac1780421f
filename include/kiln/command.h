/* kiln: the command table, shared by the CLI, the console's `:` line, completion
 * and help (tmux's cmd_entry idea). One file per command in src/commands/, each
 * exporting a `const struct kiln_cmd`; src/commands/table.c lists them. */
#ifndef KILN_COMMAND_H
#define KILN_COMMAND_H

#include <stdbool.h>
#include <stdio.h>

#include "kiln/err.h"

struct kiln_ctx;

/* What a value or positional argument names, so completion knows what to offer. */
enum kiln_complete {
    KILN_COMPLETE_NONE = 0,
    KILN_COMPLETE_COMMAND,
    KILN_COMPLETE_APP,
    KILN_COMPLETE_ENV,
    KILN_COMPLETE_GROUP,
    KILN_COMPLETE_INSTANCE,
    KILN_COMPLETE_IMAGE,
    KILN_COMPLETE_PACKAGE,
    KILN_COMPLETE_JOB,
    KILN_COMPLETE_FILE,
};

struct kiln_opt {
    const char *name;    /* long name without dashes: "env" */
    const char *metavar; /* NULL for a flag, else the value's name: "ENV" */
    const char *help;
    enum kiln_complete complete;
};

#define KILN_MAX_POSITIONAL 8
#define KILN_MAX_OPTS       24

/* The parsed arguments of one command; strings point into the caller's argv. */
struct kiln_args {
    const char *positional[KILN_MAX_POSITIONAL];
    int n_positional;
    const char *values[KILN_MAX_OPTS]; /* indexed like cmd->opts; flags hold "" when given */
};

struct kiln_cmd {
    const char *name;
    const char *usage;           /* arguments after the name: "APP --env ENV [--force]" */
    const char *summary;         /* one line for the command list */
    const char *help;            /* paragraphs for `kiln help NAME` */
    const struct kiln_opt *opts; /* terminated by a zeroed entry; may be NULL */
    int min_positional;
    int max_positional;
    enum kiln_complete positional_complete;
    const char *words; /* literal words the first positional may be, for completion: "start
                          status stop"; NULL for none */
    bool mutating;     /* refused in read-only mode, hidden from its help */
    bool hidden;       /* for kiln's own scripts (__complete): not listed nor completed */
    int (*exec)(struct kiln_ctx *ctx, const struct kiln_args *args, struct kiln_err *err);
};

/* The table, NULL-terminated, in the order help lists them. */
extern const struct kiln_cmd *const kiln_commands[];

const struct kiln_cmd *kiln_command_find(const char *name);

/* Parses argv (argv[0] is the first word after the command name) against cmd.
 * Global options (kiln_global_opts) found anywhere are applied to ctx. */
int kiln_args_parse(const struct kiln_cmd *cmd, struct kiln_ctx *ctx, int argc, char **argv,
                    struct kiln_args *out, struct kiln_err *err);

/* The value of option `name` or NULL; whether flag `name` was given. */
const char *kiln_args_get(const struct kiln_cmd *cmd, const struct kiln_args *args,
                          const char *name);
bool kiln_args_flag(const struct kiln_cmd *cmd, const struct kiln_args *args, const char *name);

/* Runs cmd with argv: parses, checks read-only, executes. Returns the exit status
 * (0 ok, 1 failed, 2 usage) and leaves the reason in err. */
int kiln_command_run(const struct kiln_cmd *cmd, struct kiln_ctx *ctx, int argc, char **argv,
                     struct kiln_err *err);

/* Writes the usage line and the help text of cmd. */
void kiln_command_print_help(const struct kiln_cmd *cmd, bool read_only, FILE *out);
/* Writes the list of commands with their summaries (mutating ones left out when read_only). */
void kiln_command_print_list(bool read_only, FILE *out);

#endif
