/* kiln build | bake | deploy | rollback | promote | resize | enable | disable | destroy |
 * terminate: the commands that run a pipeline job. In the CLI each waits for its job
 * and streams its log to stderr; in the console it submits and returns. */
#include "commands/commands.h"
#include "kiln/config.h"
#include "kiln/context.h"
#include "kiln/job.h"
#include "kiln/names.h"
#include "kiln/pipeline.h"
#include "kiln/timeutil.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* Submits the job and, in the CLI, waits; prints `key` of the result (or all of it
 * with --json). */
static int run_job(struct kiln_ctx *ctx, const char *kind, cJSON *args, const char *key,
                   struct kiln_err *err)
{
    struct kiln_job *job = kiln_pipeline_submit(ctx, kind, args, err);
    if (job == NULL)
        return -1;
    if (ctx->detach_jobs) {
        fprintf(ctx->out, "job %llu: %s %s started\n", (unsigned long long)kiln_job_id(job), kind,
                kiln_job_target(job));
        kiln_job_unref(job);
        return 0;
    }
    cJSON *result = NULL;
    int rc = kiln_pipeline_run(ctx, job, &result, err);
    if (rc < 0)
        kiln_err_prefix(err, "%s %s failed (job %llu; kiln log %llu)", kind, kiln_job_target(job),
                        (unsigned long long)kiln_job_id(job), (unsigned long long)kiln_job_id(job));
    kiln_job_unref(job);
    if (rc == 0) {
        if (ctx->json) {
            if (result == NULL)
                result = cJSON_CreateObject();
            char *text = cJSON_PrintUnformatted(result);
            fprintf(ctx->out, "%s\n", text);
            cJSON_free(text);
        } else if (key != NULL) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(result, key);
            if (cJSON_IsString(v))
                fprintf(ctx->out, "%s\n", v->valuestring);
        }
    }
    cJSON_Delete(result);
    return rc;
}

/* ---- argument checks, shared ---- */

static int get_size(const struct kiln_cmd *cmd, const struct kiln_args *a, const char *name,
                    cJSON *args, struct kiln_err *err)
{
    const char *v = kiln_args_get(cmd, a, name);
    if (v == NULL)
        return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < 0 || n > 1000)
        return kiln_err_set(err, KILN_E_USAGE,
                            "--%s must be a whole number from 0 to 1000, not "
                            "'%.20s'",
                            name, v);
    cJSON_AddNumberToObject(args, name, (double)n);
    return 0;
}

static int get_sizes(const struct kiln_cmd *cmd, const struct kiln_args *a, cJSON *args,
                     struct kiln_err *err)
{
    if (get_size(cmd, a, "min", args, err) < 0 || get_size(cmd, a, "max", args, err) < 0 ||
        get_size(cmd, a, "desired", args, err) < 0)
        return -1;
    const cJSON *mn = cJSON_GetObjectItem(args, "min"), *mx = cJSON_GetObjectItem(args, "max"),
                *d = cJSON_GetObjectItem(args, "desired");
    if ((mn && d && mn->valueint > d->valueint) || (d && mx && d->valueint > mx->valueint) ||
        (mn && mx && mn->valueint > mx->valueint))
        return kiln_err_set(err, KILN_E_USAGE, "sizes must satisfy --min <= --desired <= --max");
    return 0;
}

static int app_env(const struct kiln_cmd *cmd, const struct kiln_args *a, const char *env_opt,
                   cJSON *args, struct kiln_err *err)
{
    const char *app = a->positional[0];
    if (kiln_name_validate_app(app, err) < 0)
        return kiln_cmd_usage(err);
    cJSON_AddStringToObject(args, "app", app);
    if (env_opt == NULL)
        return 0;
    const char *env = kiln_args_get(cmd, a, env_opt);
    if (env == NULL)
        return kiln_err_set(err, KILN_E_USAGE, "%s needs --%s ENV (usage: kiln %s %s)", cmd->name,
                            env_opt, cmd->name, cmd->usage);
    if (kiln_name_validate_env(env, err) < 0)
        return kiln_cmd_usage(err);
    cJSON_AddStringToObject(args, strcmp(env_opt, "env") == 0 ? "env" : env_opt, env);
    return 0;
}

static void copy_opt(const struct kiln_cmd *cmd, const struct kiln_args *a, const char *name,
                     const char *key, cJSON *args)
{
    const char *v = kiln_args_get(cmd, a, name);
    if (v != NULL)
        cJSON_AddStringToObject(args, key, v);
}

static int source_opt(const struct kiln_cmd *cmd, const struct kiln_args *a, cJSON *args,
                      struct kiln_err *err)
{
    const char *src = kiln_args_get(cmd, a, "source");
    if (src == NULL)
        return 0;
    char abs[4096];
    if (realpath(src, abs) == NULL)
        return kiln_err_set(err, KILN_E_USAGE, "--source %.200s: no such directory", src);
    cJSON_AddStringToObject(args, "source", abs);
    return 0;
}

/* --take-over JOB: the cluster's interrupted job JOB is aborted first, inside the new
 * job (without it, a cluster with an interrupted job refuses new changes). */
#define TAKE_OVER_OPT                                                                              \
    {                                                                                              \
        "take-over", "JOB", "abort the cluster's interrupted job JOB first, then go on",           \
            KILN_COMPLETE_JOB                                                                      \
    }

static int take_over_opt(const struct kiln_cmd *cmd, const struct kiln_args *a, cJSON *args,
                         struct kiln_err *err)
{
    const char *v = kiln_args_get(cmd, a, "take-over");
    if (v == NULL)
        return 0;
    char *end;
    unsigned long long id = strtoull(v, &end, 10);
    if (*v < '1' || *v > '9' || *end != '\0' || id > (1ULL << 50))
        return kiln_err_set(err, KILN_E_USAGE,
                            "--take-over takes a job id (kiln jobs), not '%.20s'", v);
    cJSON_AddNumberToObject(args, "take_over", (double)id);
    return 0;
}

/* ---- build, bake ---- */

static const struct kiln_opt build_opts[] = {
    {"source", "DIR", "the app's source tree (with kiln.json); default: recorded by create-app",
     KILN_COMPLETE_FILE},
    {"version", "V", "the package version (default: the spec's)", KILN_COMPLETE_NONE},
    {0},
};

static int build_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    cJSON *args = cJSON_CreateObject();
    if (app_env(&kiln_cmd_build, a, NULL, args, err) < 0 ||
        source_opt(&kiln_cmd_build, a, args, err) < 0) {
        cJSON_Delete(args);
        return kiln_cmd_usage(err);
    }
    const char *v = kiln_args_get(&kiln_cmd_build, a, "version");
    if (v != NULL && (strpbrk(v, "-/ \t") != NULL || v[0] == '\0' || strlen(v) > 64)) {
        cJSON_Delete(args);
        return kiln_err_set(err, KILN_E_USAGE,
                            "--version '%.64s' may not be empty or hold a "
                            "dash, slash or space",
                            v);
    }
    copy_opt(&kiln_cmd_build, a, "version", "version", args);
    return run_job(ctx, "build", args, "package", err);
}

const struct kiln_cmd kiln_cmd_build = {
    .name = "build",
    .usage = "APP [--source DIR] [--version V]",
    .summary = "build the app's RPM (rpmbuild) into the package repo",
    .help = "Runs rpmbuild -bb on the app's spec in a build dir of its own, streaming every\n"
            "line, and puts the RPM into the provider's package repo. Each build gets a new\n"
            "release. Prints the package's NVR.",
    .opts = build_opts,
    .min_positional = 1,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_APP,
    .mutating = true,
    .exec = build_exec,
};

static const struct kiln_opt bake_opts[] = {
    {"package", "NVR", "the package to bake (default: the app's newest)", KILN_COMPLETE_PACKAGE},
    {0},
};

static int bake_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    cJSON *args = cJSON_CreateObject();
    if (app_env(&kiln_cmd_bake, a, NULL, args, err) < 0) {
        cJSON_Delete(args);
        return kiln_cmd_usage(err);
    }
    const char *p = kiln_args_get(&kiln_cmd_bake, a, "package");
    if (p != NULL && kiln_package_nvr_validate(p, err) < 0) {
        cJSON_Delete(args);
        return kiln_cmd_usage(err);
    }
    copy_opt(&kiln_cmd_bake, a, "package", "package", args);
    return run_job(ctx, "bake", args, "image", err);
}

const struct kiln_cmd kiln_cmd_bake = {
    .name = "bake",
    .usage = "APP [--package NVR]",
    .summary = "bake a package into an image (the same package gives the same image)",
    .help = "Installs the package on a clean base and freezes it. On the local cloud: an\n"
            "overlay of the base ([local] base, made by kiln base build) with the RPM\n"
            "installed by rpm, scriptlets run and Requires checked (kiln's repo fills\n"
            "them), named by the digest of the base and the packages; without a base the\n"
            "package alone, said in the log. On AWS an AMI. Prints the image id.",
    .opts = bake_opts,
    .min_positional = 1,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_APP,
    .mutating = true,
    .exec = bake_exec,
};

/* ---- deploy, promote ---- */

static int health_timeout(const struct kiln_cmd *cmd, const struct kiln_args *a, cJSON *args,
                          struct kiln_err *err)
{
    const char *v = kiln_args_get(cmd, a, "health-timeout");
    if (v == NULL)
        return 0;
    int64_t ms;
    /* The range of [core] health_timeout, which sets the same thing. */
    if (kiln_config_parse_duration("core", "health_timeout", v, &ms, err) < 0) {
        kiln_err_prefix(err, "--health-timeout");
        err->code = KILN_E_USAGE;
        return -1;
    }
    cJSON_AddNumberToObject(args, "health_timeout_ms", (double)ms);
    return 0;
}

static const struct kiln_opt deploy_opts[] = {
    {"env", "ENV", "the environment to deploy into", KILN_COMPLETE_ENV},
    {"image", "ID", "deploy this image", KILN_COMPLETE_IMAGE},
    {"package", "NVR", "bake this package, then deploy it", KILN_COMPLETE_PACKAGE},
    {"source", "DIR", "build and bake this source, then deploy it", KILN_COMPLETE_FILE},
    {"instance-type", "T", "the instance type (AWS)", KILN_COMPLETE_NONE},
    {"min", "N", "minimum size (default: the serving group's, else 1)", KILN_COMPLETE_NONE},
    {"max", "N", "maximum size", KILN_COMPLETE_NONE},
    {"desired", "N", "desired size", KILN_COMPLETE_NONE},
    {"health-timeout", "DUR", "how long to wait for healthy instances (default 5m)",
     KILN_COMPLETE_NONE},
    TAKE_OVER_OPT,
    {0},
};

static int deploy_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    const struct kiln_cmd *cmd = &kiln_cmd_deploy;
    cJSON *args = cJSON_CreateObject();
    int given = !!kiln_args_get(cmd, a, "image") + !!kiln_args_get(cmd, a, "package") +
                !!kiln_args_get(cmd, a, "source");
    const char *image = kiln_args_get(cmd, a, "image");
    const char *pkg = kiln_args_get(cmd, a, "package");
    if (app_env(cmd, a, "env", args, err) < 0 || get_sizes(cmd, a, args, err) < 0 ||
        health_timeout(cmd, a, args, err) < 0 || source_opt(cmd, a, args, err) < 0 ||
        take_over_opt(cmd, a, args, err) < 0 ||
        (image != NULL && kiln_image_id_validate(image, err) < 0) ||
        (pkg != NULL && kiln_package_nvr_validate(pkg, err) < 0)) {
        cJSON_Delete(args);
        return kiln_cmd_usage(err);
    }
    if (given > 1) {
        cJSON_Delete(args);
        return kiln_err_set(err, KILN_E_USAGE, "give one of --image, --package or --source");
    }
    copy_opt(cmd, a, "image", "image", args);
    copy_opt(cmd, a, "package", "package", args);
    copy_opt(cmd, a, "instance-type", "instance_type", args);
    return run_job(ctx, "deploy", args, "group", err);
}

const struct kiln_cmd kiln_cmd_deploy = {
    .name = "deploy",
    .usage = "APP --env ENV [--image ID | --package NVR | --source DIR] [--min N] [--max N] "
             "[--desired N] [--health-timeout DUR] [--take-over JOB]",
    .summary = "deploy a new version red-black as a new server group",
    .help = "Creates the next group app-env-vNNN from the image (building and baking first\n"
            "when given a package or a source), detached; waits until every instance passes\n"
            "its health check; attaches it to the load balancer; then detaches the group that\n"
            "served before and keeps it, disabled, for `kiln rollback`. If the new group never\n"
            "gets healthy it is destroyed and nothing else changes. Prints the new group.",
    .opts = deploy_opts,
    .min_positional = 1,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_APP,
    .mutating = true,
    .exec = deploy_exec,
};

static const struct kiln_opt promote_opts[] = {
    {"from", "ENV", "the env whose serving image is promoted", KILN_COMPLETE_ENV},
    {"to", "ENV", "the env to deploy it into", KILN_COMPLETE_ENV},
    {"min", "N", "minimum size", KILN_COMPLETE_NONE},
    {"max", "N", "maximum size", KILN_COMPLETE_NONE},
    {"desired", "N", "desired size", KILN_COMPLETE_NONE},
    {"health-timeout", "DUR", "how long to wait for healthy instances", KILN_COMPLETE_NONE},
    TAKE_OVER_OPT,
    {0},
};

static int promote_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    const struct kiln_cmd *cmd = &kiln_cmd_promote;
    cJSON *args = cJSON_CreateObject();
    if (app_env(cmd, a, "from", args, err) < 0 || app_env(cmd, a, "to", args, err) < 0 ||
        get_sizes(cmd, a, args, err) < 0 || health_timeout(cmd, a, args, err) < 0 ||
        take_over_opt(cmd, a, args, err) < 0) {
        cJSON_Delete(args);
        return kiln_cmd_usage(err);
    }
    /* app_env added "app" twice; keep one */
    cJSON_DeleteItemFromObject(args, "app");
    cJSON_AddStringToObject(args, "app", a->positional[0]);
    /* From the command line, not from args: the message outlives cJSON_Delete(args). */
    const char *from = kiln_args_get(cmd, a, "from"), *to = kiln_args_get(cmd, a, "to");
    if (strcmp(from, to) == 0) {
        cJSON_Delete(args);
        return kiln_err_set(err, KILN_E_USAGE,
                            "--from and --to are the same env (%s): promote deploys what serves "
                            "in one env into another",
                            from);
    }
    return run_job(ctx, "promote", args, "group", err);
}

const struct kiln_cmd kiln_cmd_promote = {
    .name = "promote",
    .usage = "APP --from ENV --to ENV [--take-over JOB]",
    .summary = "deploy the exact image serving in one env into another (no rebuild)",
    .help = "Finds the image of the enabled group in --from and deploys it red-black into\n"
            "--to: the same bits that were tested, which is the point of immutable servers.",
    .opts = promote_opts,
    .min_positional = 1,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_APP,
    .mutating = true,
    .exec = promote_exec,
};

/* ---- rollback ---- */

static const struct kiln_opt rollback_opts[] = {
    {"env", "ENV", "the environment", KILN_COMPLETE_ENV},
    {"to", "GROUP", "the group to bring back (default: the one that served before)",
     KILN_COMPLETE_GROUP},
    TAKE_OVER_OPT,
    {0},
};

static int rollback_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    const struct kiln_cmd *cmd = &kiln_cmd_rollback;
    cJSON *args = cJSON_CreateObject();
    const char *to = kiln_args_get(cmd, a, "to");
    struct kiln_group_name gn;
    if (app_env(cmd, a, "env", args, err) < 0 || take_over_opt(cmd, a, args, err) < 0 ||
        (to != NULL && kiln_group_name_parse(to, &gn, err) < 0)) {
        cJSON_Delete(args);
        return kiln_cmd_usage(err);
    }
    copy_opt(cmd, a, "to", "to", args);
    return run_job(ctx, "rollback", args, "group", err);
}

const struct kiln_cmd kiln_cmd_rollback = {
    .name = "rollback",
    .usage = "APP --env ENV [--to GROUP] [--take-over JOB]",
    .summary = "bring back the previous version (re-attach its group): seconds, no rebuild",
    .help = "Brings back the group that served before the current one (or --to), scales it\n"
            "back up if needed, waits until it is healthy, attaches it to the load balancer\n"
            "and detaches the current one (kept, disabled, and marked rejected: no later\n"
            "rollback picks a rejected version unless --to names it). Never builds or bakes.",
    .opts = rollback_opts,
    .min_positional = 1,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_APP,
    .mutating = true,
    .exec = rollback_exec,
};

/* ---- group operations ---- */

static int group_arg(const struct kiln_args *a, cJSON *args, struct kiln_err *err)
{
    struct kiln_group_name gn;
    if (kiln_group_name_parse(a->positional[0], &gn, err) < 0)
        return kiln_cmd_usage(err);
    cJSON_AddStringToObject(args, "group", a->positional[0]);
    return 0;
}

static const struct kiln_opt resize_opts[] = {
    {"min", "N", "minimum size", KILN_COMPLETE_NONE},
    {"max", "N", "maximum size", KILN_COMPLETE_NONE},
    {"desired", "N", "desired size", KILN_COMPLETE_NONE},
    TAKE_OVER_OPT,
    {0},
};

static int resize_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    cJSON *args = cJSON_CreateObject();
    if (group_arg(a, args, err) < 0 || get_sizes(&kiln_cmd_resize, a, args, err) < 0 ||
        take_over_opt(&kiln_cmd_resize, a, args, err) < 0) {
        cJSON_Delete(args);
        return kiln_cmd_usage(err);
    }
    if (!cJSON_GetObjectItem(args, "min") || !cJSON_GetObjectItem(args, "max") ||
        !cJSON_GetObjectItem(args, "desired")) {
        cJSON_Delete(args);
        return kiln_err_set(err, KILN_E_USAGE, "resize needs --min, --max and --desired");
    }
    return run_job(ctx, "resize", args, NULL, err);
}

const struct kiln_cmd kiln_cmd_resize = {
    .name = "resize",
    .usage = "GROUP --min N --max N --desired N [--take-over JOB]",
    .summary = "change a server group's size",
    .help = "The group launches or terminates instances to match.",
    .opts = resize_opts,
    .min_positional = 1,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_GROUP,
    .mutating = true,
    .exec = resize_exec,
};

static const struct kiln_opt group_opts[] = {
    TAKE_OVER_OPT,
    {0},
};

static int simple_group_exec(struct kiln_ctx *ctx, const struct kiln_args *a, const char *kind,
                             struct kiln_err *err)
{
    cJSON *args = cJSON_CreateObject();
    if (group_arg(a, args, err) < 0 || take_over_opt(kiln_command_find(kind), a, args, err) < 0) {
        cJSON_Delete(args);
        return kiln_cmd_usage(err);
    }
    return run_job(ctx, kind, args, NULL, err);
}

static int enable_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    return simple_group_exec(ctx, a, "enable", err);
}

static int disable_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    return simple_group_exec(ctx, a, "disable", err);
}

static int destroy_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    return simple_group_exec(ctx, a, "destroy", err);
}

const struct kiln_cmd kiln_cmd_enable = {
    .name = "enable",
    .usage = "GROUP [--take-over JOB]",
    .opts = group_opts,
    .summary = "attach a group to the load balancer (it takes traffic)",
    .help = "Resumes AddToLoadBalancer and attaches the group; returns once the load\n"
            "balancer serves it.",
    .min_positional = 1,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_GROUP,
    .mutating = true,
    .exec = enable_exec,
};

const struct kiln_cmd kiln_cmd_disable = {
    .name = "disable",
    .usage = "GROUP [--take-over JOB]",
    .opts = group_opts,
    .summary = "detach a group from the load balancer (kept, with its instances)",
    .help = "Suspends AddToLoadBalancer and detaches the group; its instances keep running\n"
            "so it can be enabled again in seconds.",
    .min_positional = 1,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_GROUP,
    .mutating = true,
    .exec = disable_exec,
};

const struct kiln_cmd kiln_cmd_destroy = {
    .name = "destroy",
    .usage = "GROUP [--take-over JOB]",
    .opts = group_opts,
    .summary = "terminate a group's instances and delete it",
    .help = "The group can no longer be rolled back to.",
    .min_positional = 1,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_GROUP,
    .mutating = true,
    .exec = destroy_exec,
};

static const struct kiln_opt terminate_opts[] = {
    {"decrement", NULL, "lower the group's desired size instead of replacing it",
     KILN_COMPLETE_NONE},
    TAKE_OVER_OPT,
    {0},
};

static int terminate_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    if (kiln_instance_id_validate(a->positional[0], err) < 0)
        return kiln_cmd_usage(err);
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "instance", a->positional[0]);
    cJSON_AddNumberToObject(args, "decrement",
                            kiln_args_flag(&kiln_cmd_terminate, a, "decrement") ? 1 : 0);
    if (take_over_opt(&kiln_cmd_terminate, a, args, err) < 0) {
        cJSON_Delete(args);
        return kiln_cmd_usage(err);
    }
    return run_job(ctx, "terminate", args, NULL, err);
}

const struct kiln_cmd kiln_cmd_terminate = {
    .name = "terminate",
    .usage = "INSTANCE [--decrement] [--take-over JOB]",
    .summary = "terminate one instance (its group replaces it unless --decrement)",
    .help = "",
    .opts = terminate_opts,
    .min_positional = 1,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_INSTANCE,
    .mutating = true,
    .exec = terminate_exec,
};

/* ---- try ---- */

static const struct kiln_opt try_opts[] = {
    {"package", "NVR", "a package of the repo", KILN_COMPLETE_PACKAGE},
    {"source", "DIR", "build this source first (not added to the repo)", KILN_COMPLETE_FILE},
    {0},
};

static int try_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    const struct kiln_cmd *cmd = &kiln_cmd_try;
    const char *pkg = kiln_args_get(cmd, a, "package");
    cJSON *args = cJSON_CreateObject();
    if ((pkg != NULL && kiln_package_nvr_validate(pkg, err) < 0) ||
        source_opt(cmd, a, args, err) < 0) {
        cJSON_Delete(args);
        return kiln_cmd_usage(err);
    }
    if ((pkg != NULL) == (kiln_args_get(cmd, a, "source") != NULL)) {
        cJSON_Delete(args);
        return kiln_err_set(err, KILN_E_USAGE, "try needs one of --package NVR or --source DIR");
    }
    copy_opt(cmd, a, "package", "package", args);
    return run_job(ctx, "try", args, "result", err);
}

const struct kiln_cmd kiln_cmd_try = {
    .name = "try",
    .usage = "--package NVR | --source DIR",
    .summary = "install a package into a throwaway instance and run its health check",
    .help = "The fast loop before a slow bake: installs the package into a temporary root on\n"
            "this machine, starts the app as an instance would run, checks its health URL,\n"
            "prints pass or fail with the app's output, and cleans up. Deploys nothing.",
    .opts = try_opts,
    /* It builds and runs processes on this machine: not for read-only users. */
    .mutating = true,
    .exec = try_exec,
};
