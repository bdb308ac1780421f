/* kiln base build|list|delete|import: the local cloud's base images (include/kiln/bases.h).
 * build is a job (base-build), so its progress streams like any other job's; the others
 * are quick and run here. */
#include "commands/commands.h"
#include "kiln/bases.h"
#include "kiln/context.h"
#include "kiln/job.h"
#include "kiln/pipeline.h"
#include "kiln/timeutil.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const struct kiln_opt base_opts[] = {
    {"packages", "P,Q",
     "build: Debian packages to add (to [local] base_packages and the "
     "required systemd-sysv, rpm, passwd)",
     KILN_COMPLETE_NONE},
    {"tar", "FILE", "import: the root tarball (e.g. docker export of a container)",
     KILN_COMPLETE_FILE},
    {0},
};

static const char *human_size(int64_t bytes, char *buf, size_t n)
{
    if (bytes >= 1000 * 1000 * 1000)
        snprintf(buf, n, "%.1f GB", (double)bytes / 1e9);
    else if (bytes >= 1000 * 1000)
        snprintf(buf, n, "%.0f MB", (double)bytes / 1e6);
    else
        snprintf(buf, n, "%.0f kB", (double)bytes / 1e3);
    return buf;
}

static void print_json(struct kiln_ctx *ctx, cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    fprintf(ctx->out, "%s\n", text);
    cJSON_free(text);
}

/* The name to work on: the positional NAME, else [local] base. */
static const char *name_arg(struct kiln_ctx *ctx, const struct kiln_args *a)
{
    return a->n_positional > 1 ? a->positional[1] : ctx->config.local.base;
}

static int base_build(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    const char *name = name_arg(ctx, a);
    if (kiln_base_name_validate(name, err) < 0)
        return kiln_cmd_usage(err);
    const char *opt = kiln_args_get(&kiln_cmd_base, a, "packages");
    char **asked = NULL;
    size_t n = 0;
    if (opt != NULL && kiln_base_packages_parse(opt, &asked, &n, err) < 0) {
        kiln_err_prefix(err, "--packages");
        return kiln_cmd_usage(err);
    }
    /* Said before anything is written, so a user without root learns it at once. */
    if (kiln_base_check_root("kiln base build", err) < 0) {
        kiln_base_strv_free(asked, n);
        return -1;
    }
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "base", name);
    cJSON *pk = cJSON_AddArrayToObject(args, "packages");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(pk, cJSON_CreateString(asked[i]));
    kiln_base_strv_free(asked, n);
    struct kiln_job *job = kiln_pipeline_submit(ctx, "base-build", args, err);
    if (job == NULL)
        return -1;
    if (ctx->detach_jobs) {
        fprintf(ctx->out, "job %llu: base-build %s started\n", (unsigned long long)kiln_job_id(job),
                name);
        kiln_job_unref(job);
        return 0;
    }
    int64_t t0 = kiln_mono_us();
    cJSON *result = NULL;
    int rc = kiln_pipeline_run(ctx, job, &result, err);
    if (rc < 0)
        kiln_err_prefix(err, "base-build %s failed (job %llu; kiln log %llu)", name,
                        (unsigned long long)kiln_job_id(job), (unsigned long long)kiln_job_id(job));
    kiln_job_unref(job);
    if (rc == 0 && result != NULL) {
        double secs = (double)(kiln_mono_us() - t0) / 1e6;
        if (ctx->json) {
            cJSON_AddNumberToObject(result, "seconds", secs);
            print_json(ctx, result);
        } else {
            char size[32];
            const cJSON *sz = cJSON_GetObjectItem(result, "size_bytes");
            fprintf(
                ctx->out, "%s: %s (%d packages, %s, %.0f s%s)\n", name,
                cJSON_GetObjectItem(result, "base")->valuestring,
                cJSON_GetObjectItem(result, "packages")->valueint,
                human_size(cJSON_IsNumber(sz) ? (int64_t)sz->valuedouble : 0, size, sizeof size),
                secs,
                cJSON_IsTrue(cJSON_GetObjectItem(result, "reused")) ? ", identical to one there"
                                                                    : "");
        }
    }
    cJSON_Delete(result);
    return rc;
}

static int base_list(struct kiln_ctx *ctx, struct kiln_err *err)
{
    struct kiln_base *v;
    size_t n;
    if (kiln_base_list(ctx->paths.bases_dir, &v, &n, err) < 0)
        return -1;
    if (ctx->json) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(a, kiln_base_json(&v[i]));
        print_json(ctx, a);
        cJSON_Delete(a);
    } else if (n == 0) {
        fprintf(ctx->out, "no bases yet: kiln base build makes one (as root)\n");
    } else {
        fprintf(ctx->out, "%-16s %-30s %-10s %8s %8s  %s\n", "NAME", "ID", "SOURCE", "PACKAGES",
                "SIZE", "CREATED");
        for (size_t i = 0; i < n; i++) {
            char names[128] = "", size[32];
            for (size_t k = 0; k < v[i].n_names; k++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? "," : "",
                         v[i].names[k]);
            fprintf(ctx->out, "%-16s %-30s %-10s %8zu %8s  %.16s\n", names[0] ? names : "-",
                    v[i].id, v[i].source, v[i].n_pkgs,
                    human_size(v[i].size_bytes, size, sizeof size), v[i].created);
        }
    }
    kiln_base_list_free(v, n);
    return 0;
}

static void on_import_line(void *arg, const char *line)
{
    struct kiln_ctx *ctx = arg;
    fprintf(ctx->msg, "%s\n", line);
    fflush(ctx->msg);
}

static int base_import(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    const char *tar = kiln_args_get(&kiln_cmd_base, a, "tar");
    if (a->n_positional < 2 || tar == NULL)
        return kiln_err_set(err, KILN_E_USAGE, "usage: kiln base import NAME --tar FILE");
    const char *name = a->positional[1];
    if (kiln_base_name_validate(name, err) < 0)
        return kiln_cmd_usage(err);
    if (kiln_base_check_root("kiln base import", err) < 0 ||
        kiln_paths_ensure_home(&ctx->paths, err) < 0)
        return -1;
    struct kiln_base_make_opts o = {
        .bases_dir = ctx->paths.bases_dir,
        .name = name,
        .tarball = tar,
        .on_line = on_import_line,
        .ctx = ctx,
    };
    struct kiln_base b;
    bool reused;
    if (kiln_base_import(&o, &b, &reused, err) < 0)
        return -1;
    if (ctx->json) {
        cJSON *o2 = kiln_base_json(&b);
        cJSON_AddBoolToObject(o2, "reused", reused);
        print_json(ctx, o2);
        cJSON_Delete(o2);
    } else {
        char size[32];
        fprintf(ctx->out, "%s: %s (%zu packages, %s%s)\n", name, b.id, b.n_pkgs,
                human_size(b.size_bytes, size, sizeof size),
                reused ? ", identical to one there" : "");
    }
    kiln_base_free(&b);
    return 0;
}

static int base_delete(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    if (a->n_positional < 2)
        return kiln_err_set(err, KILN_E_USAGE, "usage: kiln base delete NAME|ID");
    const char *what = a->positional[1];
    if (kiln_base_id_validate(what, NULL) < 0 && kiln_base_name_validate(what, err) < 0)
        return kiln_cmd_usage(err);
    char id[KILN_BASE_ID_MAX];
    if (kiln_base_delete(ctx->paths.bases_dir, what, id, err) < 0)
        return -1;
    if (ctx->json)
        fprintf(ctx->out, "{\"deleted\":\"%s\",\"base_removed\":%s}\n", what,
                id[0] ? "true" : "false");
    else if (id[0] != '\0')
        fprintf(ctx->out, "deleted %s (%s)\n", what, id);
    else
        fprintf(ctx->out, "deleted the name %s; its base keeps its other names\n", what);
    return 0;
}

static int base_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    const char *what = a->positional[0];
    bool changes = strcmp(what, "list") != 0;
    if (strcmp(what, "build") != 0 && strcmp(what, "list") != 0 && strcmp(what, "delete") != 0 &&
        strcmp(what, "import") != 0)
        return kiln_err_set(err, KILN_E_USAGE,
                            "kiln base takes build, list, delete or import, not '%.40s'", what);
    if (changes && ctx->read_only)
        return kiln_err_set(err, KILN_E_READONLY,
                            "'base %s' changes things and kiln is in read-only mode; nothing "
                            "was done",
                            what);
    if (kiln_ctx_setup(ctx, err) < 0)
        return -1;
    if (strcmp(what, "build") == 0)
        return base_build(ctx, a, err);
    if (strcmp(what, "list") == 0)
        return base_list(ctx, err);
    if (strcmp(what, "delete") == 0)
        return base_delete(ctx, a, err);
    return base_import(ctx, a, err);
}

const struct kiln_cmd kiln_cmd_base = {
    .name = "base",
    .usage = "build [NAME] [--packages P,Q] | list | delete NAME|ID | import NAME --tar FILE",
    .summary = "the local cloud's base images: OS roots that images are baked onto",
    .help = "A base is a whole root filesystem, frozen and named by a digest of what is in\n"
            "it (debian-bookworm-0123456789ab); NAME is a label for it (default: [local]\n"
            "base, itself `default` unless set). `build` makes one with mmdebstrap: Debian\n"
            "bookworm minbase with systemd-sysv, rpm and passwd, [local] base_packages and\n"
            "--packages; rpm is told what it holds, so an app's Requires are checked for\n"
            "real. `import` takes any root tarball (docker export of a container). Both\n"
            "need root. `delete` removes a name, and the base with its last name.",
    .opts = base_opts,
    .min_positional = 1,
    .max_positional = 2,
    /* `base list` only reads: base_exec refuses the rest in read-only mode. */
    .mutating = false,
    .exec = base_exec,
};
