/* kiln: the commands' entries (private to src/commands and src/cli). */
#ifndef KILN_COMMANDS_COMMANDS_H
#define KILN_COMMANDS_COMMANDS_H

#include "kiln/command.h"

extern const struct kiln_cmd kiln_cmd_help;
extern const struct kiln_cmd kiln_cmd_version;
extern const struct kiln_cmd kiln_cmd_config;
extern const struct kiln_cmd kiln_cmd_history;

/* Prints the whole program's usage (global options and command list). */
void kiln_print_usage(FILE *out, bool read_only);

#endif
