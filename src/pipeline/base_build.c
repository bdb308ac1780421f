/* kiln: the base-build job: a base root filesystem built with mmdebstrap (core's
 * kiln_base_build), every line of its output streamed into the job's log and its phases
 * shown as the job's progress, like any other job in the console and the CLI. */
#include "pipeline/pipe.h"

#include "kiln/bases.h"
#include "kiln/context.h"
#include "kiln/strbuf.h"
#include "kiln/xalloc.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static void on_line(void *ctx, const char *line)
{
    struct pipe *pp = ctx;
    kiln_logring_append(kiln_job_logring(pp->job), KILN_LOG_INFO, "base", line);
    if (pp->logf != NULL) {
        fprintf(pp->logf, "base: %s\n", line);
        fflush(pp->logf);
    }
}

static void on_progress(void *ctx, int done, int total)
{
    struct pipe *pp = ctx;
    kiln_job_progress(pp->job, done, total);
}

static bool cancelled(void *ctx)
{
    struct pipe *pp = ctx;
    return kiln_job_cancelled(pp->job);
}

/* args: base (the name), packages (an array: what --packages asked for; the config's
 * [local] base_packages and the required ones are added here, when the job runs). */
static int step_build(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    const char *name = pipe_str(pp, "base");
    if (name == NULL)
        name = KILN_BASE_DEFAULT_NAME;
    struct kiln_strbuf asked = KILN_STRBUF_INIT;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(pp->args, "packages"), *it;
    cJSON_ArrayForEach(it, v)
    {
        if (cJSON_IsString(it))
            kiln_strbuf_appendf(&asked, "%s%s", asked.len ? "," : "", it->valuestring);
    }
    char **pkgs = NULL;
    size_t n = 0;
    int rc = kiln_base_packages_merge(pp->ctx->config.local.base_packages,
                                      asked.len ? asked.buf : NULL, &pkgs, &n, err);
    kiln_strbuf_free(&asked);
    if (rc < 0)
        return -1;
    struct kiln_base_make_opts o = {
        .bases_dir = pp->ctx->paths.bases_dir,
        .name = name,
        .packages = (const char *const *)pkgs,
        .n_packages = n,
        .on_line = on_line,
        .on_progress = on_progress,
        .cancelled = cancelled,
        .ctx = pp,
    };
    struct kiln_base b;
    bool reused = false;
    rc = kiln_base_build(&o, &b, &reused, err);
    kiln_base_strv_free(pkgs, n);
    if (rc < 0)
        return -1;
    pipe_log(pp, KILN_LOG_INFO, "base %s: %s, %zu packages, %.0f MB%s", name, b.id, b.n_pkgs,
             (double)b.size_bytes / 1e6, reused ? " (an identical base was there already)" : "");
    cJSON_AddStringToObject(out, "base", b.id);
    pp->result = cJSON_CreateObject();
    cJSON_AddStringToObject(pp->result, "name", name);
    cJSON_AddStringToObject(pp->result, "base", b.id);
    cJSON_AddStringToObject(pp->result, "root", b.root);
    cJSON_AddNumberToObject(pp->result, "packages", (double)b.n_pkgs);
    cJSON_AddNumberToObject(pp->result, "size_bytes", (double)b.size_bytes);
    cJSON_AddBoolToObject(pp->result, "reused", reused);
    kiln_base_free(&b);
    return 0;
}

int pipe_base_build(struct pipe *pp, struct kiln_err *err)
{
    return pipe_step(pp, "build", step_build, err);
}
