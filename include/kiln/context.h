/* kiln: what every command runs with: where state lives, the configuration, how to
 * print. Built once by the CLI (or the console) from options, environment and config. */
#ifndef KILN_CONTEXT_H
#define KILN_CONTEXT_H

#include <stdbool.h>
#include <stdio.h>

#include "kiln/config.h"
#include "kiln/err.h"
#include "kiln/paths.h"

struct kiln_global_opts {
    const char *home;     /* --home DIR */
    const char *provider; /* --provider local|aws */
    const char *profile;  /* --profile NAME */
    const char *region;   /* --region NAME */
    const char *config;   /* --config FILE */
    const char *theme;    /* --theme NAME (the console's colours) */
    const char *confirm;  /* --confirm ENV: yes, change that protected env */
    bool read_only;       /* --read-only */
    bool json;            /* --json */
};

struct kiln_ctx {
    struct kiln_global_opts opts;
    struct kiln_paths paths;
    struct kiln_config config;
    bool config_loaded;
    bool read_only; /* from --read-only or the config */
    bool json;
    FILE *out; /* results: text, or JSON with --json */
    FILE *msg; /* progress and errors for humans */
    /* Where commands run their jobs. A job keeps a pointer to this ctx (paths, config,
     * options) while it runs, so a ctx must outlive every job submitted with it. The CLI makes one
     * and waits for each job, streaming its log to `msg`; the console sets `engine` to its own and
     * `detach_jobs`, so a command submits its job and returns at once. */
    struct kiln_engine *engine;
    bool detach_jobs;
    /* The console asked (typed env name) before running the command: no CLI prompt. */
    bool envs_confirmed;
    /* Set by a command that submitted a job (a reference, the ctx owner's to unref). */
    struct kiln_job *last_job;
};

void kiln_ctx_init(struct kiln_ctx *ctx);
/* Resolves paths and loads the config (once); commands call it before they need either. */
int kiln_ctx_setup(struct kiln_ctx *ctx, struct kiln_err *err);
void kiln_ctx_free(struct kiln_ctx *ctx);

/* Applies a global option if `name` is one; returns 1 if it consumed the option's
 * value too, 0 if it was a flag, -1 if `name` is not a global option, -2 on a bad value. */
int kiln_ctx_global_opt(struct kiln_ctx *ctx, const char *name, const char *value,
                        struct kiln_err *err);

#endif
