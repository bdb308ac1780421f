/* kiln create-app | delete-app | apps | status: the apps, and what runs where. */
#include "commands/commands.h"
#include "kiln/context.h"
#include "kiln/manifest.h"
#include "kiln/names.h"
#include "kiln/provider.h"
#include "kiln/sources.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int with_provider(struct kiln_ctx *ctx, struct kiln_provider **p, struct kiln_err *err)
{
    *p = kiln_provider_open(ctx, err);
    return *p ? 0 : -1;
}

/* ---- create-app ---- */

static const struct kiln_opt create_app_opts[] = {
    {"env", "ENV", "the environment (test, staging, prod...)", KILN_COMPLETE_ENV},
    {"health-check-url", "PATH", "what the health check GETs, e.g. /health_check",
     KILN_COMPLETE_NONE},
    {"port", "N", "the port the app listens on", KILN_COMPLETE_NONE},
    {"health-check-grace", "DUR",
     "how long a new instance may fail its health check before it is replaced (default: "
     "[local] health_check_grace, 30s)",
     KILN_COMPLETE_NONE},
    {"protocol", "HTTP|HTTPS", "the listener's protocol (default HTTP)", KILN_COMPLETE_NONE},
    {"source", "DIR", "the app's source tree (kiln.json, spec); remembered for build",
     KILN_COMPLETE_FILE},
    {"start", "PATH",
     "local cloud: the program inside the image that runs the app (default: "
     "the source's start, else /usr/bin/APP)",
     KILN_COMPLETE_NONE},
    {0},
};

/* The settings create-app takes from its flags, checked. */
struct create_app_flags {
    const char *app, *env, *url, *proto, *source, *start;
    int port;
    bool grace_set;
    int64_t grace_ms;
};

static int create_app_flags(const struct kiln_args *a, struct create_app_flags *f,
                            struct kiln_err *err)
{
    const struct kiln_cmd *cmd = &kiln_cmd_create_app;
    const char *port_s = kiln_args_get(cmd, a, "port");
    f->app = a->positional[0];
    f->env = kiln_args_get(cmd, a, "env");
    f->url = kiln_args_get(cmd, a, "health-check-url");
    f->proto = kiln_args_get(cmd, a, "protocol");
    f->source = kiln_args_get(cmd, a, "source");
    f->start = kiln_args_get(cmd, a, "start");
    const char *grace_s = kiln_args_get(cmd, a, "health-check-grace");
    f->grace_set = grace_s != NULL;
    if (grace_s != NULL &&
        (kiln_parse_duration(grace_s, &f->grace_ms, err) < 0 || f->grace_ms > 3600 * 1000LL))
        return kiln_err_set(err, KILN_E_USAGE,
                            "--health-check-grace must be a duration from 0s to 1h, not '%.20s'",
                            grace_s);
    if (kiln_name_validate_app(f->app, err) < 0)
        return kiln_cmd_usage(err);
    if (f->env == NULL || f->url == NULL || port_s == NULL)
        return kiln_err_set(err, KILN_E_USAGE,
                            "create-app needs --env, --health-check-url and "
                            "--port (usage: kiln create-app %s)",
                            cmd->usage);
    if (kiln_name_validate_env(f->env, err) < 0)
        return kiln_cmd_usage(err);
    char *end;
    errno = 0;
    long port = strtol(port_s, &end, 10);
    if (port_s[0] == '\0' || *end != '\0' || errno != 0 || port < 1 || port > 65535)
        return kiln_err_set(err, KILN_E_USAGE, "--port must be from 1 to 65535, not '%.20s'",
                            port_s);
    f->port = (int)port;
    if (f->url[0] != '/' || strpbrk(f->url, " \t\"'{};\\$") != NULL || strlen(f->url) > 255)
        return kiln_err_set(err, KILN_E_USAGE,
                            "--health-check-url must be a URL path such as /health_check, "
                            "without spaces, quotes, braces, ';', '\\' or '$'");
    if (f->proto != NULL && strcmp(f->proto, "HTTP") != 0 && strcmp(f->proto, "HTTPS") != 0)
        return kiln_err_set(err, KILN_E_USAGE, "--protocol must be HTTP or HTTPS");
    if (f->start != NULL &&
        (f->start[0] != '/' || strstr(f->start, "/..") != NULL ||
         strlen(f->start) > KILN_MANIFEST_ARG_MAX || strpbrk(f->start, " \t\n\r") != NULL))
        return kiln_err_set(err, KILN_E_USAGE,
                            "--start must be an absolute path inside the image without '..' or "
                            "spaces, e.g. /usr/bin/%s",
                            f->app);
    return 0;
}

/* The app's source, if it has one: --source, else the one recorded before. 0 with
 * srcdir filled, 1 when the app has none (it is deployed from images or packages
 * made elsewhere), -1 on error. */
static int create_app_source(struct kiln_ctx *ctx, const struct create_app_flags *f,
                             char srcdir[PATH_MAX], struct kiln_err *err)
{
    if (f->source != NULL) {
        if (realpath(f->source, srcdir) == NULL)
            return kiln_err_sys(err, errno, "--source %.200s", f->source);
        return 0;
    }
    struct kiln_err serr = {0};
    if (kiln_sources_get(&ctx->paths, f->app, srcdir, PATH_MAX, &serr) == 0)
        return 0;
    if (serr.code == KILN_E_NOTFOUND)
        return 1;
    if (err != NULL)
        *err = serr;
    return -1;
}

/* Loads srcdir's manifest, which must describe app. */
static int create_app_manifest(const char *srcdir, const char *app, struct kiln_manifest *m,
                               struct kiln_err *err)
{
    char *mpath = xasprintf("%s/kiln.json", srcdir);
    int rc = kiln_manifest_load(mpath, m, err);
    free(mpath);
    if (rc < 0)
        return -1;
    if (strcmp(m->name, app) != 0) {
        kiln_err_set(err, KILN_E_INVALID,
                     "%s/kiln.json describes %s, not %s: give %s's own source, or none (an app "
                     "without a source is deployed from --image or --package)",
                     srcdir, m->name, app, app);
        kiln_manifest_free(m);
        return -1;
    }
    return 0;
}

static int create_app_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    struct create_app_flags f = {0};
    if (create_app_flags(a, &f, err) < 0)
        return -1;
    if (kiln_ctx_setup(ctx, err) < 0)
        return -1;

    /* The start command (what the local cloud runs inside the image) comes from --start,
     * else the app's manifest, else the convention that an RPM named APP installs
     * /usr/bin/APP. AWS images start their app themselves and ignore it. */
    char srcdir[PATH_MAX];
    int have = create_app_source(ctx, &f, srcdir, err);
    if (have < 0)
        return -1;
    struct kiln_manifest m = {0};
    if (have == 0 && create_app_manifest(srcdir, f.app, &m, err) < 0)
        return -1;
    char *default_start = xasprintf("/usr/bin/%s", f.app);
    const char *start_one[] = {f.start ? f.start : default_start, NULL};
    struct kiln_app_spec spec = {
        .app = f.app,
        .env = f.env,
        .port = f.port,
        .protocol = f.proto ? f.proto : "HTTP",
        .health_path = f.url,
        .start = f.start == NULL && have == 0 ? (const char *const *)m.start : start_one,
        .health_grace_set = f.grace_set,
        .health_grace_ms = f.grace_ms,
    };
    struct kiln_provider *p;
    int rc = with_provider(ctx, &p, err);
    if (rc == 0) {
        rc = p->ops->create_app(p, &spec, err);
        kiln_provider_close(p);
    }
    kiln_manifest_free(&m);
    free(default_start);
    if (rc == 0 && f.source != NULL && (rc = kiln_paths_ensure_home(&ctx->paths, err)) == 0)
        rc = kiln_sources_set(&ctx->paths, f.app, srcdir, err);
    if (rc == 0) {
        if (ctx->json)
            fprintf(ctx->out, "{\"app\":\"%s\",\"env\":\"%s\",\"cluster\":\"%s-%s\"}\n", f.app,
                    f.env, f.app, f.env);
        else
            fprintf(ctx->out, "%s-%s\n", f.app, f.env);
    }
    return rc;
}

const struct kiln_cmd kiln_cmd_create_app = {
    .name = "create-app",
    .usage = "APP --env ENV --health-check-url PATH --port N [--protocol HTTP|HTTPS] "
             "[--health-check-grace DUR] [--source DIR] [--start PATH]",
    .summary = "register an app in an env, with its load balancer and health check",
    .help = "Creates the app's cluster APP-ENV: its load balancer (local: nginx, name\n"
            "APP.ENV.localhost; AWS: a classic ELB and a Route 53 name) and its health check,\n"
            "from the flags. Idempotent. --source names the app's tree (kiln.json + spec),\n"
            "remembered for later builds; without one the app is deployed from images\n"
            "(--image) or packages (--package) made elsewhere, and `kiln build APP --source\n"
            "DIR` builds it. On the local cloud an instance runs --start, else the source's\n"
            "start command, else /usr/bin/APP.",
    .opts = create_app_opts,
    .min_positional = 1,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_APP,
    .mutating = true,
    .exec = create_app_exec,
};

/* ---- delete-app ---- */

static const struct kiln_opt delete_app_opts[] = {
    {"env", "ENV", "the environment", KILN_COMPLETE_ENV},
    {"force", NULL, "destroy its server groups too", KILN_COMPLETE_NONE},
    {0},
};

static int delete_app_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    const char *app = a->positional[0];
    const char *env = kiln_args_get(&kiln_cmd_delete_app, a, "env");
    if (kiln_name_validate_app(app, err) < 0)
        return kiln_cmd_usage(err);
    if (env == NULL)
        return kiln_err_set(err, KILN_E_USAGE, "delete-app needs --env ENV");
    if (kiln_name_validate_env(env, err) < 0)
        return kiln_cmd_usage(err);
    struct kiln_provider *p;
    if (with_provider(ctx, &p, err) < 0)
        return -1;
    int rc = p->ops->delete_app(p, app, env, kiln_args_flag(&kiln_cmd_delete_app, a, "force"), err);
    kiln_provider_close(p);
    if (rc == 0 && !ctx->json)
        fprintf(ctx->out, "deleted %s-%s\n", app, env);
    return rc;
}

const struct kiln_cmd kiln_cmd_delete_app = {
    .name = "delete-app",
    .usage = "APP --env ENV [--force]",
    .summary = "remove an app from an env (refused while it has groups, unless --force)",
    .help = "",
    .opts = delete_app_opts,
    .min_positional = 1,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_APP,
    .mutating = true,
    .exec = delete_app_exec,
};

/* ---- apps, status ---- */

/* The inventory; only one cluster's when app and env are given and the provider can
 * (on a large AWS account, six requests instead of hundreds). */
static int with_inventory(struct kiln_ctx *ctx, const char *app, const char *env,
                          const struct kiln_snapshot **snap, struct kiln_err *err)
{
    struct kiln_provider *p;
    if (with_provider(ctx, &p, err) < 0)
        return -1;
    struct kiln_snapshot *s = NULL;
    int rc = app != NULL && env != NULL && p->ops->inventory_cluster != NULL
                 ? p->ops->inventory_cluster(p, app, env, &s, err)
                 : p->ops->inventory(p, &s, err);
    kiln_provider_close(p);
    *snap = s;
    return rc;
}

static void iso(int64_t us, char buf[KILN_ISO_TIME_MAX])
{
    kiln_time_iso(us, buf);
}

static cJSON *instance_json(const struct kiln_instance *x)
{
    char t[KILN_ISO_TIME_MAX];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", x->id);
    cJSON_AddStringToObject(o, "state", kiln_instance_state_name(x->state));
    cJSON_AddStringToObject(o, "health", kiln_health_name(x->health));
    cJSON_AddStringToObject(o, "lb_state", kiln_lb_state_name(x->lb_state));
    cJSON_AddStringToObject(o, "address", x->address);
    iso(x->launched_us, t);
    cJSON_AddStringToObject(o, "launched", t);
    return o;
}

static cJSON *group_json(const struct kiln_group *g)
{
    char t[KILN_ISO_TIME_MAX];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", g->name);
    cJSON_AddNumberToObject(o, "version", g->version);
    cJSON_AddBoolToObject(o, "enabled", g->enabled);
    cJSON_AddBoolToObject(o, "rejected", g->rejected_us != 0);
    if (g->rejected_us != 0) {
        iso(g->rejected_us, t);
        cJSON_AddStringToObject(o, "rejected_at", t);
    }
    cJSON_AddStringToObject(o, "previous", g->previous ? g->previous : "");
    cJSON_AddStringToObject(o, "image", g->image_id);
    cJSON_AddStringToObject(o, "package", g->package ? g->package : "");
    cJSON_AddNumberToObject(o, "min", g->min_size);
    cJSON_AddNumberToObject(o, "max", g->max_size);
    cJSON_AddNumberToObject(o, "desired", g->desired);
    iso(g->created_us, t);
    cJSON_AddStringToObject(o, "created", t);
    cJSON *xs = cJSON_AddArrayToObject(o, "instances");
    for (size_t i = 0; i < g->n_instances; i++)
        cJSON_AddItemToArray(xs, instance_json(g->instances[i]));
    return o;
}

static void print_text_env(FILE *out, const struct kiln_env *env)
{
    fprintf(out, "  %s  (http://%s/)%s\n", env->name, env->lb_dns,
            env->chaos_enabled ? "  chaos on" : "");
    if (env->lock)
        fprintf(out, "    locked: %s\n", env->lock);
    for (size_t g = 0; g < env->n_groups; g++) {
        const struct kiln_group *grp = env->groups[g];
        fprintf(out, "    %-28s %-8s %-18s %-32s %d/%d in service (min %d max %d)\n", grp->name,
                grp->enabled       ? "ENABLED"
                : grp->rejected_us ? "rejected"
                                   : "disabled",
                grp->image_id, grp->package ? grp->package : "", grp->in_service, grp->desired,
                grp->min_size, grp->max_size);
        for (size_t i = 0; i < grp->n_instances; i++) {
            const struct kiln_instance *x = grp->instances[i];
            fprintf(out, "      %-20s %-11s %-9s %-14s %s\n", x->id,
                    kiln_instance_state_name(x->state), kiln_health_name(x->health),
                    kiln_lb_state_name(x->lb_state), x->address);
        }
    }
}

static int status_print(struct kiln_ctx *ctx, const struct kiln_snapshot *snap, const char *app,
                        const char *env, bool brief, struct kiln_err *err)
{
    cJSON *apps = cJSON_CreateArray();
    int found = 0;
    for (size_t a = 0; a < snap->n_apps; a++) {
        const struct kiln_app *ap = snap->apps[a];
        if (app != NULL && strcmp(ap->name, app) != 0)
            continue;
        cJSON *ao = cJSON_CreateObject();
        cJSON_AddStringToObject(ao, "name", ap->name);
        cJSON *envs = cJSON_AddArrayToObject(ao, "envs");
        if (!ctx->json)
            fprintf(ctx->out, "%s\n", ap->name);
        for (size_t e = 0; e < ap->n_envs; e++) {
            const struct kiln_env *en = ap->envs[e];
            if (env != NULL && strcmp(en->name, env) != 0)
                continue;
            found++;
            cJSON *eo = cJSON_CreateObject();
            cJSON_AddStringToObject(eo, "name", en->name);
            cJSON_AddStringToObject(eo, "cluster", en->cluster);
            cJSON_AddStringToObject(eo, "dns", en->lb_dns);
            cJSON *gs = cJSON_AddArrayToObject(eo, "groups");
            for (size_t g = 0; g < en->n_groups; g++)
                cJSON_AddItemToArray(gs, group_json(en->groups[g]));
            cJSON_AddItemToArray(envs, eo);
            if (!ctx->json) {
                if (brief) {
                    const struct kiln_group *serving = NULL;
                    for (size_t g = 0; g < en->n_groups && !serving; g++)
                        if (en->groups[g]->enabled)
                            serving = en->groups[g];
                    fprintf(ctx->out, "  %-10s %-28s %s\n", en->name,
                            serving ? serving->name : "(no enabled group)",
                            serving && serving->package ? serving->package : "");
                } else {
                    print_text_env(ctx->out, en);
                }
            }
        }
        cJSON_AddItemToArray(apps, ao);
    }
    /* A failure writes no result: with --json the caller prints the error document. */
    bool missing = app != NULL && found == 0;
    if (ctx->json && !missing) {
        char *text = cJSON_PrintUnformatted(apps);
        fprintf(ctx->out, "%s\n", text);
        cJSON_free(text);
    }
    cJSON_Delete(apps);
    if (missing)
        return kiln_err_set(err, KILN_E_NOTFOUND, "there is no app %s%s%s", app,
                            env ? " in env " : "", env ? env : "");
    return 0;
}

static int apps_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    const struct kiln_snapshot *snap;
    if (with_inventory(ctx, NULL, NULL, &snap, err) < 0)
        return -1;
    int rc = status_print(ctx, snap, NULL, NULL, true, err);
    kiln_snapshot_release(snap);
    return rc;
}

const struct kiln_cmd kiln_cmd_apps = {
    .name = "apps",
    .usage = "",
    .summary = "list the apps, their envs and what serves in each",
    .help = "",
    .exec = apps_exec,
};

static const struct kiln_opt status_opts[] = {
    {"env", "ENV", "only this env", KILN_COMPLETE_ENV},
    {0},
};

static int status_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    const char *app = a->n_positional ? a->positional[0] : NULL;
    const char *env = kiln_args_get(&kiln_cmd_status, a, "env");
    if ((app != NULL && kiln_name_validate_app(app, err) < 0) ||
        (env != NULL && kiln_name_validate_env(env, err) < 0))
        return kiln_cmd_usage(err);
    const struct kiln_snapshot *snap;
    if (with_inventory(ctx, app, env, &snap, err) < 0)
        return -1;
    int rc = status_print(ctx, snap, app, env, false, err);
    kiln_snapshot_release(snap);
    return rc;
}

const struct kiln_cmd kiln_cmd_status = {
    .name = "status",
    .usage = "[APP] [--env ENV]",
    .summary = "server groups and instances, with health and load balancer state",
    .help = "With --json: apps -> envs -> groups (name, version, enabled, image, package,\n"
            "min, max, desired, created) -> instances (id, state, health, lb_state, address,\n"
            "launched).",
    .opts = status_opts,
    .max_positional = 1,
    .positional_complete = KILN_COMPLETE_APP,
    .exec = status_exec,
};
