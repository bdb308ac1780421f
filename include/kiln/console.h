/* kiln: the console, what `kiln` with no command opens (doc/design.md, "The console").
 *
 * Apps | Server groups | Instances above a Log pane, a status line and a `:`
 * prompt that runs the commands of the shared table. The UI thread only draws and
 * reads keys: it blocks in poll() on the terminal and a wake pipe, while a
 * refresher thread publishes inventory snapshots, an events thread follows the
 * provider's event stream and the job engine's workers run deploys. */
#ifndef KILN_CONSOLE_H
#define KILN_CONSOLE_H

#include "kiln/err.h"

struct kiln_ctx;

/* Runs the console on the terminal until the user quits. ctx must have been set up
 * (kiln_ctx_setup: paths, config, read_only); the console borrows it for the whole
 * run and leaves it as it found it. Needs a terminal on stdin and stdout.
 *
 * Returns 0 when the user quit, or -1 with err when the console could not start
 * (not a terminal, terminal too dumb, no job engine...). The terminal is restored
 * on every path, including signals and crashes. */
int kiln_console_run(struct kiln_ctx *ctx, struct kiln_err *err);

#endif
