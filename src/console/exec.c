/* kiln console: running command lines, from the `:` line and from keys alike.
 *
 * A line is split into argv (argv.c, no shell) and looked up in the shared
 * command table, so the console runs exactly what `kiln COMMAND` runs. The
 * console's own commands (theme, view...) are handled here. Commands that change
 * things are confirmed first, by typing the env's name in a protected env. Table
 * commands run on the runner thread, one at a time, since even a read-only one
 * (status) waits on the provider; their output (the ctx's out and msg, captured
 * with open_memstream) comes back to the log pane, and a job they start is
 * announced and followed like any other. */
#include "console/argv.h"
#include "console/ui.h"

#include "kiln/names.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Mutating commands that neither move traffic nor destroy anything: no question. */
static const char *const unconfirmed[] = {"build", "bake", "try", "create-app", NULL};
/* Those that take something away: the question is drawn in red. */
static const char *const dangerous[] = {"destroy",  "terminate", "delete-app", "disable",
                                        "rollback", "abort",     NULL};

static bool in_list(const char *const *list, const char *name)
{
    for (int i = 0; list[i] != NULL; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

/* ---- the runner thread ---- */

struct run_item {
    struct run_item *next;
    char *line;
    /* the result */
    int status;
    struct kiln_err err;
    char *output;
    uint64_t job;
    bool mutating;
};

/* A command's context. Jobs keep a pointer to the ctx they were started with (the
 * pipeline reads its paths and config while it runs), so each command's copy
 * lives until the console ends, after the engine has stopped every job. */
struct ctx_keep {
    struct ctx_keep *next;
    struct kiln_ctx ctx;
    struct ui_words words;
};

struct ui_runner {
    struct kiln_ctx ctx; /* the template each command's ctx is copied from */
    FILE *devnull;       /* what a command's ctx prints to once it returned */
    struct ctx_keep *kept;
    struct kiln_wake *wake;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct run_item *todo, *todo_tail;
    struct run_item *done, *done_tail;
    char busy[160];
    bool stop;
};

static void run_one(struct ui_runner *r, struct run_item *it)
{
    struct ui_words w;
    if (ui_split(it->line, false, &w, &it->err) < 0 || w.argc == 0) {
        it->status = 2;
        return;
    }
    const struct kiln_cmd *cmd = kiln_command_find(w.argv[0]);
    if (cmd == NULL) {
        kiln_err_set(&it->err, KILN_E_USAGE, "unknown command '%.40s'", w.argv[0]);
        it->status = 2;
        ui_words_free(&w);
        return;
    }
    it->mutating = cmd->mutating;
    size_t len = 0;
    FILE *out = open_memstream(&it->output, &len);
    if (out == NULL) {
        kiln_err_sys(&it->err, errno, "cannot capture the output of '%s'", cmd->name);
        it->status = 1;
        ui_words_free(&w);
        return;
    }
    /* A copy per command: global options on the line (--json...) stay with it.
     * The strings it keeps (--env's value...) point into argv: they are copied
     * with it, so argv is kept too. */
    struct ctx_keep *k = xcalloc(1, sizeof *k);
    k->ctx = r->ctx;
    struct kiln_ctx *ctx = &k->ctx;
    ctx->out = out;
    ctx->msg = out;
    ctx->detach_jobs = true;
    ctx->envs_confirmed = true; /* the console asked before it ran the line (exec.c) */
    ctx->last_job = NULL;
    it->status = kiln_command_run(cmd, ctx, w.argc - 1, w.argv + 1, &it->err);
    /* From now on what a job prints through its ctx goes nowhere, not into a
     * closed stream. */
    ctx->out = r->devnull;
    ctx->msg = r->devnull;
    fclose(out);
    if (ctx->last_job != NULL) {
        it->job = kiln_job_id(ctx->last_job);
        kiln_job_unref(ctx->last_job);
        ctx->last_job = NULL;
        k->next = r->kept;
        r->kept = k;
        k->words = w; /* the ctx's option values point into it */
        return;
    }
    /* No job: nothing else holds the ctx. */
    free(k);
    ui_words_free(&w);
}

static void *runner_main(void *arg)
{
    struct ui_runner *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (r->todo == NULL && !r->stop)
            pthread_cond_wait(&r->cond, &r->mu);
        if (r->stop)
            break;
        struct run_item *it = r->todo;
        r->todo = it->next;
        if (r->todo == NULL)
            r->todo_tail = NULL;
        snprintf(r->busy, sizeof r->busy, "%.150s", it->line);
        pthread_mutex_unlock(&r->mu);

        run_one(r, it);

        pthread_mutex_lock(&r->mu);
        r->busy[0] = '\0';
        it->next = NULL;
        if (r->done_tail)
            r->done_tail->next = it;
        else
            r->done = it;
        r->done_tail = it;
        kiln_wake_signal(r->wake);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

struct ui_runner *ui_runner_start(struct console *c, struct kiln_err *err)
{
    struct ui_runner *r = xcalloc(1, sizeof *r);
    r->ctx = *c->ctx;
    r->ctx.engine = c->engine;
    r->wake = &c->wake;
    r->devnull = fopen("/dev/null", "w");
    if (r->devnull == NULL) {
        kiln_err_sys(err, errno, "cannot open /dev/null");
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&r->thread, NULL, runner_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        kiln_err_sys(err, e, "cannot start the console's command thread");
        fclose(r->devnull);
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cond);
        free(r);
        return NULL;
    }
    return r;
}

static void free_items(struct run_item *it)
{
    while (it != NULL) {
        struct run_item *next = it->next;
        free(it->line);
        free(it->output);
        free(it);
        it = next;
    }
}

void ui_runner_free(struct ui_runner *r)
{
    if (r == NULL)
        return;
    while (r->kept != NULL) {
        struct ctx_keep *k = r->kept;
        r->kept = k->next;
        ui_words_free(&k->words);
        free(k);
    }
    free_items(r->done);
    fclose(r->devnull);
    free(r);
}

bool ui_runner_stop(struct ui_runner *r, int64_t wait_ms)
{
    if (r == NULL)
        return true;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
    /* A command under way finishes first: they are short (jobs run on the engine's
     * workers), but one waiting on a provider that does not answer is left behind. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(wait_ms / 1000);
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    if (pthread_timedjoin_np(r->thread, NULL, &ts) != 0)
        return false;
    free_items(r->todo);
    r->todo = r->todo_tail = NULL;
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cond);
    return true;
}

bool ui_runner_busy(struct ui_runner *r, char *what, size_t n)
{
    pthread_mutex_lock(&r->mu);
    bool busy = r->busy[0] != '\0';
    if (busy)
        snprintf(what, n, "%s", r->busy);
    pthread_mutex_unlock(&r->mu);
    return busy;
}

static void runner_push(struct ui_runner *r, const char *line)
{
    struct run_item *it = xcalloc(1, sizeof *it);
    it->line = xstrdup(line);
    pthread_mutex_lock(&r->mu);
    if (r->todo_tail)
        r->todo_tail->next = it;
    else
        r->todo = it;
    r->todo_tail = it;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

void ui_runner_ingest(struct console *c)
{
    if (c->runner == NULL)
        return;
    pthread_mutex_lock(&c->runner->mu);
    struct run_item *list = c->runner->done;
    c->runner->done = c->runner->done_tail = NULL;
    pthread_mutex_unlock(&c->runner->mu);

    for (struct run_item *it = list; it != NULL; it = it->next) {
        char name[48];
        snprintf(name, sizeof name, "%.40s", it->line);
        name[strcspn(name, " \t")] = '\0';
        size_t n_lines = 0;
        if (it->output != NULL) {
            for (char *line = it->output, *nl; *line != '\0'; line = nl + 1) {
                nl = strchr(line, '\n');
                if (nl != NULL)
                    *nl = '\0';
                ui_log(c, KILN_LOG_INFO, name, "%s", line);
                n_lines++;
                if (nl == NULL)
                    break;
            }
        }
        if (it->status != 0) {
            ui_log(c, KILN_LOG_ERROR, name, "%s", it->err.msg[0] ? it->err.msg : "failed");
            ui_message(c, KILN_LOG_ERROR, "%s: %s", name, it->err.msg[0] ? it->err.msg : "failed");
        } else if (it->job != 0) {
            ui_message(c, KILN_LOG_INFO, "started job %llu (%s); J lists the jobs",
                       (unsigned long long)it->job, it->line);
        } else if (n_lines == 1 && it->output != NULL) {
            ui_message(c, KILN_LOG_INFO, "%s", it->output);
        } else if (n_lines > 0) {
            ui_message(c, KILN_LOG_INFO, "%s: %zu lines in the log", name, n_lines);
        } else {
            ui_message(c, KILN_LOG_INFO, "%s: done", name);
        }
        if (it->mutating && c->feed != NULL)
            ui_feed_refresh(c->feed);
    }
    free_items(list);
}

/* ---- what a command would do, for its confirmation ---- */

/* The env a command acts on, from its options or the group or instance it names
 * ("" when it cannot tell). */
static void target_env(struct console *c, const struct kiln_cmd *cmd, const struct kiln_args *a,
                       char env[KILN_ENV_SIZE], char cluster[KILN_CLUSTER_SIZE])
{
    env[0] = cluster[0] = '\0';
    const char *e = kiln_args_get(cmd, a, "env");
    if (strcmp(cmd->name, "promote") == 0)
        e = kiln_args_get(cmd, a, "to");
    if (e != NULL && a->n_positional > 0) {
        snprintf(env, KILN_ENV_SIZE, "%.16s", e);
        kiln_cluster_name_format(cluster, KILN_CLUSTER_SIZE, a->positional[0], env);
        return;
    }
    if (e != NULL) {
        snprintf(env, KILN_ENV_SIZE, "%.16s", e);
        return;
    }
    if (a->n_positional == 0)
        return;
    struct kiln_group_name gn;
    if (kiln_group_name_parse(a->positional[0], &gn, NULL) == 0) {
        snprintf(env, KILN_ENV_SIZE, "%s", gn.env);
        kiln_cluster_name_format(cluster, KILN_CLUSTER_SIZE, gn.app, gn.env);
        return;
    }
    const struct kiln_instance *in = kiln_snapshot_find_instance(c->snap, a->positional[0]);
    if (in != NULL && in->group != NULL && in->group->env != NULL) {
        snprintf(env, KILN_ENV_SIZE, "%s", in->group->env->name);
        snprintf(cluster, KILN_CLUSTER_SIZE, "%s", in->group->env->cluster);
    }
}

static const struct kiln_group *enabled_group(const struct kiln_env *env)
{
    for (size_t i = 0; env != NULL && i < env->n_groups; i++)
        if (env->groups[i]->enabled)
            return env->groups[i];
    return NULL;
}

/* One or two sentences on what the command will do, from the snapshot. */
static void describe(struct console *c, const struct kiln_cmd *cmd, const struct kiln_args *a,
                     const char *cluster, struct kiln_strbuf *sb)
{
    const char *n = cmd->name;
    const char *arg0 = a->n_positional > 0 ? a->positional[0] : "";
    const struct kiln_group *g = kiln_snapshot_find_group(c->snap, arg0);
    const struct kiln_env *env = NULL;
    if (g != NULL)
        env = g->env;
    else if (cluster[0] != '\0') {
        for (size_t i = 0; i < c->snap->n_apps && env == NULL; i++)
            for (size_t j = 0; j < c->snap->apps[i]->n_envs; j++)
                if (strcmp(c->snap->apps[i]->envs[j]->cluster, cluster) == 0)
                    env = c->snap->apps[i]->envs[j];
    }
    const struct kiln_group *on = enabled_group(env);

    if (strcmp(n, "deploy") == 0) {
        kiln_strbuf_appendf(sb,
                            "Creates a new server group in %s and, once its instances are "
                            "healthy, moves the traffic to it",
                            cluster);
        if (on != NULL)
            kiln_strbuf_appendf(sb, " from %s, which is then disabled and kept for rollback",
                                on->name);
        kiln_strbuf_append(sb, ".");
    } else if (strcmp(n, "rollback") == 0) {
        const char *to = kiln_args_get(cmd, a, "to");
        kiln_strbuf_appendf(sb, "Moves the traffic of %s back to %s", cluster,
                            to ? to : "its newest disabled group");
        if (on != NULL)
            kiln_strbuf_appendf(sb, " and disables %s", on->name);
        kiln_strbuf_append(sb, ".");
    } else if (strcmp(n, "promote") == 0) {
        kiln_strbuf_appendf(
            sb, "Deploys the image that %s's %s env runs into %s (no rebuild).", arg0,
            kiln_args_get(cmd, a, "from") ? kiln_args_get(cmd, a, "from") : "?", cluster);
    } else if (strcmp(n, "enable") == 0) {
        kiln_strbuf_appendf(sb, "Attaches %s to the load balancer: it takes traffic.", arg0);
    } else if (strcmp(n, "disable") == 0) {
        kiln_strbuf_appendf(sb, "Detaches %s from the load balancer: it stops taking traffic.",
                            arg0);
        if (g != NULL && g->enabled && env != NULL) {
            int enabled = 0;
            for (size_t i = 0; i < env->n_groups; i++)
                enabled += env->groups[i]->enabled;
            if (enabled == 1)
                kiln_strbuf_appendf(sb,
                                    " It is the only enabled group of %s: the app will "
                                    "answer 503 until another is enabled.",
                                    env->cluster);
        }
    } else if (strcmp(n, "resize") == 0) {
        kiln_strbuf_appendf(sb, "Resizes %s", arg0);
        if (g != NULL)
            kiln_strbuf_appendf(sb, " from min %d, max %d, desired %d", g->min_size, g->max_size,
                                g->desired);
        kiln_strbuf_appendf(sb, " to min %s, max %s, desired %s.",
                            kiln_args_get(cmd, a, "min") ? kiln_args_get(cmd, a, "min") : "=",
                            kiln_args_get(cmd, a, "max") ? kiln_args_get(cmd, a, "max") : "=",
                            kiln_args_get(cmd, a, "desired") ? kiln_args_get(cmd, a, "desired")
                                                             : "=");
    } else if (strcmp(n, "destroy") == 0) {
        kiln_strbuf_appendf(sb, "Terminates the instances of %s", arg0);
        if (g != NULL)
            kiln_strbuf_appendf(sb, " (%zu)", g->n_instances);
        kiln_strbuf_append(sb, " and deletes the group; it can no longer be rolled back to.");
        if (g != NULL && g->enabled)
            kiln_strbuf_append(sb, " It is ENABLED: it serves traffic now.");
    } else if (strcmp(n, "terminate") == 0) {
        const struct kiln_instance *in = kiln_snapshot_find_instance(c->snap, arg0);
        kiln_strbuf_appendf(sb, "Terminates instance %s%s%s", arg0, in && in->group ? " of " : "",
                            in && in->group ? in->group->name : "");
        kiln_strbuf_append(sb, kiln_args_flag(cmd, a, "decrement")
                                   ? "; the group shrinks by one."
                                   : "; its group launches a replacement.");
    } else if (strcmp(n, "chaos") == 0) {
        kiln_strbuf_appendf(sb, "Turns the chaos monkey %s for %s%s.",
                            kiln_args_flag(cmd, a, "disable") ? "OFF" : "ON", cluster,
                            kiln_args_flag(cmd, a, "disable")
                                ? ""
                                : ": it kills instances of the enabled group at random");
    } else if (strcmp(n, "delete-app") == 0) {
        kiln_strbuf_appendf(sb, "Deletes %s and its load balancer%s.", cluster,
                            kiln_args_flag(cmd, a, "force") ? ", with its groups and instances"
                                                            : "");
    } else if (strcmp(n, "cloud") == 0) {
        kiln_strbuf_append(sb, kiln_args_flag(cmd, a, "all")
                                   ? "Stops the local cloud with every instance and the load "
                                     "balancer: every app stops answering."
                                   : "Starts or stops the local cloud (kilnd); the instances "
                                     "keep running. The console starts it again when it next "
                                     "asks for the inventory.");
    } else if (strcmp(n, "abort") == 0) {
        kiln_strbuf_appendf(sb, "Aborts job %s and returns its cluster to where it was before.",
                            arg0);
    } else {
        kiln_strbuf_appendf(sb, "'%s' changes things.", n);
    }
}

/* ---- the console's own commands ---- */

static bool console_command(struct console *c, const struct ui_words *w)
{
    const char *name = w->argv[0];
    if (strcmp(name, "quit") == 0 || strcmp(name, "q") == 0) {
        ui_request_quit(c);
        return true;
    }
    if (strcmp(name, "theme") == 0) {
        if (w->argc != 2) {
            ui_message(c, KILN_LOG_WARN,
                       "usage: theme NAME (default, light, high-contrast, mono "
                       "or a file)");
            return true;
        }
        struct ui_theme t;
        struct kiln_err err = {0};
        if (ui_theme_load(&t, w->argv[1], &err) < 0) {
            ui_log(c, KILN_LOG_ERROR, "theme", "%s", err.msg);
            ui_message(c, KILN_LOG_ERROR, "%s", err.msg);
            return true;
        }
        c->theme = t;
        ui_theme_apply(&c->theme, c->color);
        c->dirty |= DIRTY_CLEAR;
        ui_message(c, KILN_LOG_INFO, "theme %s%s", t.name,
                   c->color ? "" : " (colours are off: NO_COLOR or the terminal)");
        return true;
    }
    if (strcmp(name, "view") == 0) {
        static const char *const names[] = {"main", "jobs", "events", "help"};
        for (int i = 0; w->argc == 2 && i < 4; i++)
            if (strcmp(w->argv[1], names[i]) == 0) {
                ui_set_view(c, (enum ui_view)i);
                return true;
            }
        ui_message(c, KILN_LOG_WARN, "usage: view main|jobs|events|help");
        return true;
    }
    if (strcmp(name, "jobs") == 0 && w->argc == 1) {
        ui_set_view(c, VIEW_JOBS);
        return true;
    }
    if (strcmp(name, "events") == 0) {
        /* `kiln events --follow` never ends; the view is the console's way. */
        ui_set_view(c, VIEW_EVENTS);
        return true;
    }
    if (strcmp(name, "help") == 0 && w->argc == 1) {
        ui_set_view(c, VIEW_HELP);
        return true;
    }
    if (strcmp(name, "filter") == 0) {
        struct pane *p = ui_focused_pane(c);
        snprintf(p->filter, sizeof p->filter, "%s", w->argc > 1 ? w->argv[1] : "");
        if (p->id <= PANE_INSTANCES)
            ui_sync_main(c);
        else
            ui_list_sync(c, p);
        return true;
    }
    if (strcmp(name, "log") == 0 && w->argc == 2) {
        if (strcmp(w->argv[1], "all") == 0) {
            ui_logview_show_job(c, 0);
            return true;
        }
        char *end;
        unsigned long long id = strtoull(w->argv[1], &end, 10);
        for (size_t i = 0; *end == '\0' && i < c->n_track; i++)
            if (c->track[i].id == id) {
                ui_logview_show_job(c, id);
                ui_message(c, KILN_LOG_INFO, "the log shows job %llu (a: every job)", id);
                return true;
            }
        return false; /* not one of this console's jobs: `kiln log` reads the journal */
    }
    return false;
}

/* ---- running a line ---- */

/* Whether the command line changes things: the table says so, and `chaos --enable`
 * / `--disable` change things whatever the table says (it marks chaos read-only
 * because `chaos status` is). */
static bool has_word(const struct ui_words *w, const char *word)
{
    for (int i = 1; i < w->argc; i++)
        if (strcmp(w->argv[i], word) == 0)
            return true;
    return false;
}

static bool changes_things(const struct kiln_cmd *cmd, const struct ui_words *w)
{
    if (cmd->mutating)
        return true;
    if (strcmp(cmd->name, "chaos") == 0)
        return has_word(w, "--enable") || has_word(w, "--disable");
    /* Stopping the local cloud stops every instance with it. */
    if (strcmp(cmd->name, "cloud") == 0)
        return has_word(w, "stop") || has_word(w, "start");
    return false;
}

void ui_run_confirmed(struct console *c, const char *line)
{
    if (c->runner == NULL) {
        ui_message(c, KILN_LOG_ERROR, "commands cannot run: the command thread did not start");
        return;
    }
    runner_push(c->runner, line);
    ui_dirty(c);
}

void ui_run_line(struct console *c, const char *line)
{
    struct ui_words w;
    struct kiln_err err = {0};
    if (ui_split(line, false, &w, &err) < 0) {
        ui_message(c, KILN_LOG_ERROR, "%s", err.msg);
        return;
    }
    if (w.argc == 0) {
        ui_words_free(&w);
        return;
    }
    if (console_command(c, &w)) {
        ui_words_free(&w);
        return;
    }
    const struct kiln_cmd *cmd = kiln_command_find(w.argv[0]);
    if (cmd == NULL) {
        ui_message(c, KILN_LOG_ERROR,
                   "unknown command '%.40s' (? lists the commands; Tab completes them)", w.argv[0]);
        ui_words_free(&w);
        return;
    }
    bool mutating = changes_things(cmd, &w);
    /* `cloud stop` asks on the terminal which answer it wants: the console cannot let
     * it read the keyboard, so the answer must be on the line. */
    if (strcmp(cmd->name, "cloud") == 0 && has_word(&w, "stop") && !has_word(&w, "--all") &&
        !has_word(&w, "--keep-instances")) {
        ui_message(c, KILN_LOG_WARN,
                   "cloud stop: say --all (the instances stop too) or --keep-instances");
        ui_words_free(&w);
        return;
    }
    if (mutating && c->read_only) {
        ui_message(c, KILN_LOG_ERROR,
                   "read-only: '%s' changes things, so it is off (kiln runs with --read-only "
                   "or read_only in the config)",
                   cmd->name);
        ui_words_free(&w);
        return;
    }
    if (!mutating || in_list(unconfirmed, cmd->name)) {
        ui_words_free(&w);
        ui_run_confirmed(c, line);
        return;
    }

    /* Parse now, on a scratch context, to say what it will do and catch usage
     * errors before asking. */
    struct kiln_ctx scratch = *c->ctx;
    struct kiln_args args;
    if (kiln_args_parse(cmd, &scratch, w.argc - 1, w.argv + 1, &args, &err) < 0) {
        ui_message(c, KILN_LOG_ERROR, "%s", err.msg);
        ui_words_free(&w);
        return;
    }
    char env[KILN_ENV_SIZE], cluster[KILN_CLUSTER_SIZE];
    target_env(c, cmd, &args, env, cluster);
    bool protected_env = env[0] && kiln_config_is_protected_env(c->cfg, env);
    struct kiln_strbuf what = KILN_STRBUF_INIT, cmdline = KILN_STRBUF_INIT, prot = KILN_STRBUF_INIT;
    describe(c, cmd, &args, cluster, &what);
    kiln_strbuf_appendf(&cmdline, "kiln %s", line);
    if (protected_env)
        kiln_strbuf_appendf(&prot, "%s is a protected env: type its name to go on.", env);
    const char *lines[] = {kiln_strbuf_str(&what), "", kiln_strbuf_str(&cmdline),
                           kiln_strbuf_str(&prot)};
    char title[80];
    snprintf(title, sizeof title, "%s%s?", cmd->name, protected_env ? " in a protected env" : "");
    ui_confirm(c, title, lines, protected_env ? 4 : 3,
               protected_env || in_list(dangerous, cmd->name), protected_env ? env : NULL,
               AFTER_RUN, line, 0);
    kiln_strbuf_free(&what);
    kiln_strbuf_free(&cmdline);
    kiln_strbuf_free(&prot);
    ui_words_free(&w);
}
