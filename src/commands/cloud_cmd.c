/* kiln cloud start|status|stop: the local cloud daemon (kilnd) of this state dir. */
#include "commands/commands.h"
#include "kiln/context.h"
#include "kiln/kilnd_client.h"
#include "kiln/atomic_file.h"
#include "kiln/spawn.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <limits.h>
#include <stdlib.h>

#include <cjson/cJSON.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

static void keep_output(void *ctx, enum kiln_stream stream, const char *line)
{
    struct kiln_strbuf *sb = ctx;
    (void)stream;
    if (sb->len < 1500) {
        kiln_strbuf_append(sb, sb->len ? " " : "");
        kiln_strbuf_append(sb, strncmp(line, "kilnd: ", 7) == 0 ? line + 7 : line);
    }
}

static int cloud_start(struct kiln_ctx *ctx, struct kiln_err *err)
{
    bool started;
    if (kiln_kilnd_start(&ctx->paths, ctx->opts.config, &started, err) < 0)
        return -1;
    if (ctx->json)
        fprintf(ctx->out, "{\"started\":%s,\"home\":\"%s\"}\n", started ? "true" : "false",
                ctx->paths.home);
    else
        fprintf(ctx->out, "local cloud %s for %s\n", started ? "started" : "already running",
                ctx->paths.home);
    return 0;
}

/* kilnd --recover: a lost or damaged cloud.json is rebuilt (see src/cloud/recover.c).
 * kilnd's own verdict is the error; what it did is the last such line of its log. */
static int cloud_recover(struct kiln_ctx *ctx, struct kiln_err *err)
{
    char bin[PATH_MAX];
    const char *argv[] = {kiln_kilnd_binary(bin, sizeof bin),
                          "--home",
                          ctx->paths.home,
                          "--recover",
                          NULL,
                          NULL,
                          NULL};
    if (ctx->opts.config != NULL) {
        argv[4] = "--config";
        argv[5] = ctx->opts.config;
    }
    struct kiln_strbuf out = KILN_STRBUF_INIT;
    struct kiln_spawn_opts o = {
        .argv = argv, .timeout_ms = 60000, .on_line = keep_output, .ctx = &out};
    int status = 0;
    int rc = kiln_spawn_run(&o, &status, err);
    if (rc == 0 && status == 3)
        rc = kiln_err_set(err, KILN_E_BUSY,
                          "the local cloud is running for %s: its state is not lost; nothing "
                          "to recover",
                          ctx->paths.home);
    else if (rc == 0 && status != 0)
        rc = kiln_err_set(err, KILN_E_FAILED, "could not recover the local cloud: %s",
                          out.len ? out.buf : "kilnd failed (see kilnd.log in the state dir)");
    kiln_strbuf_free(&out);
    if (rc < 0)
        return -1;
    char *log = xasprintf("%s/kilnd.log", ctx->paths.home);
    char *text = NULL;
    size_t len = 0;
    const char *how = "";
    if (kiln_read_file(log, &text, &len, 16 << 20, NULL) == 0) {
        char *p = text, *last = NULL;
        while ((p = strstr(p, "recovered the state ")) != NULL)
            last = p++;
        if (last != NULL) {
            last[strcspn(last, "\n")] = '\0';
            how = last;
        }
    }
    if (ctx->json)
        fprintf(ctx->out, "{\"recovered\":true,\"home\":\"%s\"}\n", ctx->paths.home);
    else
        fprintf(ctx->out, "local cloud started for %s: %s\n", ctx->paths.home,
                how[0] ? how : "its state was readable; nothing to recover");
    free(text);
    free(log);
    return 0;
}

static int count_live(const cJSON *instances)
{
    int n = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, instances)
    {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(x, "state");
        if (cJSON_IsString(st) && strcmp(st->valuestring, "terminated") != 0)
            n++;
    }
    return n;
}

static int cloud_status(struct kiln_ctx *ctx, struct kiln_err *err)
{
    struct kiln_kilnd *k = kiln_kilnd_connect(&ctx->paths, ctx->opts.config, false, err);
    if (k == NULL)
        return -1;
    cJSON *hello = NULL, *state = NULL;
    int rc = kiln_kilnd_call(k, KILND_OP_HELLO, NULL, &hello, err);
    if (rc == 0)
        rc = kiln_kilnd_call(k, KILND_OP_STATE, NULL, &state, err);
    kiln_kilnd_close(k);
    if (rc == 0) {
        const cJSON *lb = cJSON_GetObjectItemCaseSensitive(state, "lb");
        if (ctx->json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemReferenceToObject(o, "kilnd", hello);
            cJSON_AddNumberToObject(o, "clusters",
                                    cJSON_GetArraySize(cJSON_GetObjectItem(state, "clusters")));
            cJSON_AddNumberToObject(o, "groups",
                                    cJSON_GetArraySize(cJSON_GetObjectItem(state, "groups")));
            cJSON_AddNumberToObject(o, "instances",
                                    count_live(cJSON_GetObjectItem(state, "instances")));
            cJSON_AddItemReferenceToObject(o, "lb", (cJSON *)lb);
            char *text = cJSON_PrintUnformatted(o);
            fprintf(ctx->out, "%s\n", text);
            cJSON_free(text);
            cJSON_Delete(o);
        } else {
            const cJSON *err_lb = cJSON_GetObjectItemCaseSensitive(lb, "error");
            fprintf(ctx->out,
                    "local cloud: running (kilnd pid %d, since %s)\n"
                    "state dir:   %s\n"
                    "load balancer: http://APP.ENV.localhost:%d/%s%s\n"
                    "apps: %d, server groups: %d, instances running: %d\n",
                    cJSON_GetObjectItem(hello, "pid")->valueint,
                    cJSON_GetObjectItem(hello, "started")->valuestring, ctx->paths.home,
                    cJSON_GetObjectItem(hello, "lb_port")->valueint,
                    cJSON_IsString(err_lb) && err_lb->valuestring[0] ? "  (last error: " : "",
                    cJSON_IsString(err_lb) && err_lb->valuestring[0] ? err_lb->valuestring : "",
                    cJSON_GetArraySize(cJSON_GetObjectItem(state, "clusters")),
                    cJSON_GetArraySize(cJSON_GetObjectItem(state, "groups")),
                    count_live(cJSON_GetObjectItem(state, "instances")));
        }
    }
    cJSON_Delete(hello);
    cJSON_Delete(state);
    return rc;
}

static int ask_stop_instances(struct kiln_ctx *ctx, bool *all, struct kiln_err *err)
{
    if (!isatty(0))
        return kiln_err_set(err, KILN_E_USAGE,
                            "say whether the instances should stop too: kiln cloud stop "
                            "--keep-instances, or --all");
    fprintf(ctx->msg, "Stop the running instances and the load balancer too? [y/N] ");
    fflush(ctx->msg);
    char line[16] = "";
    if (fgets(line, sizeof line, stdin) == NULL)
        line[0] = '\0';
    *all = line[0] == 'y' || line[0] == 'Y';
    return 0;
}

static int cloud_stop(struct kiln_ctx *ctx, bool keep, bool all, struct kiln_err *err)
{
    if (keep && all)
        return kiln_err_set(err, KILN_E_USAGE, "--keep-instances and --all contradict each other");
    struct kiln_kilnd *k = kiln_kilnd_connect(&ctx->paths, ctx->opts.config, false, err);
    if (k == NULL)
        return -1;
    if (!keep && !all && ask_stop_instances(ctx, &all, err) < 0) {
        kiln_kilnd_close(k);
        return -1;
    }
    cJSON *hello = NULL;
    if (kiln_kilnd_call(k, KILND_OP_HELLO, NULL, &hello, err) < 0) {
        kiln_kilnd_close(k);
        return -1;
    }
    pid_t pid = (pid_t)cJSON_GetObjectItem(hello, "pid")->valuedouble;
    cJSON_Delete(hello);
    cJSON *args = cJSON_CreateObject();
    cJSON_AddBoolToObject(args, "instances", all);
    cJSON *res = NULL;
    int rc = kiln_kilnd_call(k, KILND_OP_STOP, args, &res, err);
    if (rc == 0) {
        /* Wait for kilnd to be gone (it finishes its instances first with --all), so
         * a start right after works and nothing of it still writes to the state dir. */
        int64_t deadline = kiln_mono_us() + 15 * 1000000LL;
        while (kill(pid, 0) == 0 && kiln_mono_us() < deadline)
            kiln_sleep_ms(20);
        int n = cJSON_GetObjectItem(res, "instances_stopped")->valueint;
        if (ctx->json)
            fprintf(ctx->out, "{\"stopped\":true,\"instances_stopped\":%d}\n", n);
        else if (all)
            fprintf(ctx->out, "local cloud stopped, with %d instance%s and its load balancer\n", n,
                    n == 1 ? "" : "s");
        else
            fprintf(ctx->out, "local cloud stopped; instances and the load balancer keep running "
                              "and are re-adopted at the next start\n");
    }
    cJSON_Delete(res);
    kiln_kilnd_close(k);
    return rc;
}

static int cloud_exec(struct kiln_ctx *ctx, const struct kiln_args *args, struct kiln_err *err)
{
    const char *what = args->positional[0];
    if (kiln_ctx_setup(ctx, err) < 0)
        return -1;
    if (strcmp(what, "start") == 0)
        return cloud_start(ctx, err);
    if (strcmp(what, "status") == 0)
        return cloud_status(ctx, err);
    if (strcmp(what, "recover") == 0) {
        if (ctx->read_only)
            return kiln_err_set(err, KILN_E_READONLY,
                                "'cloud recover' changes things and kiln is in read-only mode; "
                                "nothing was done");
        return cloud_recover(ctx, err);
    }
    if (strcmp(what, "stop") == 0) {
        if (ctx->read_only)
            return kiln_err_set(err, KILN_E_READONLY,
                                "'cloud stop' changes things and kiln is in read-only mode; "
                                "nothing was done");
        return cloud_stop(ctx, kiln_args_flag(&kiln_cmd_cloud, args, "keep-instances"),
                          kiln_args_flag(&kiln_cmd_cloud, args, "all"), err);
    }
    return kiln_err_set(err, KILN_E_USAGE,
                        "kiln cloud takes start, status, stop or recover, not '%.40s'", what);
}

static const struct kiln_opt cloud_opts[] = {
    {"keep-instances", NULL, "stop: leave instances and nginx running (re-adopted at start)",
     KILN_COMPLETE_NONE},
    {"all", NULL, "stop: stop the instances and nginx too", KILN_COMPLETE_NONE},
    {0},
};

const struct kiln_cmd kiln_cmd_cloud = {
    .name = "cloud",
    .usage = "start|status|stop [--keep-instances|--all]|recover",
    .summary = "start, inspect or stop the local cloud (kilnd)",
    .help = "The local cloud is kilnd, one daemon per state dir. kiln starts it when first\n"
            "needed; it keeps running after kiln exits, so instances keep serving and chaos\n"
            "keeps going. `stop` asks whether the instances should stop too, unless told\n"
            "with --keep-instances or --all. `recover` starts kilnd on a state dir whose\n"
            "cloud.json was lost or damaged: from its previous generation (cloud.json.prev),\n"
            "else from the packages and images on disk, stopping instances nobody knows.",
    .opts = cloud_opts,
    .min_positional = 1,
    .max_positional = 1,
    .words = "start status stop",
    .exec = cloud_exec,
};
