/* kiln console: what the keys that change things do. Each builds the command line
 * that `kiln` would take on the shell and runs it through the command table
 * (exec.c), which confirms it first: a key is a shortcut for typing, never a
 * second way of doing things. */
#include "console/argv.h"
#include "console/ui.h"

#include "kiln/strbuf.h"
#include "kiln/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Appends " word" quoted as needed. */
static void word(struct kiln_strbuf *sb, const char *w)
{
    kiln_strbuf_appendc(sb, ' ');
    ui_quote_word(sb, w);
}

static void run(struct console *c, struct kiln_strbuf *sb)
{
    char *line = kiln_strbuf_detach(sb, NULL);
    ui_run_line(c, line);
    free(line);
}

static bool need(struct console *c, const void *what, const char *msg)
{
    if (what == NULL)
        ui_message(c, KILN_LOG_WARN, "%s", msg);
    return what != NULL;
}

static void resize_by(struct console *c, const struct kiln_group *g, int delta)
{
    int desired = g->desired + delta;
    if (desired < 0) {
        ui_message(c, KILN_LOG_WARN, "%s has no instance to remove", g->name);
        return;
    }
    int mn = g->min_size < desired ? g->min_size : desired;
    int mx = g->max_size > desired ? g->max_size : desired;
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    kiln_strbuf_append(&sb, "resize");
    word(&sb, g->name);
    kiln_strbuf_appendf(&sb, " --min %d --max %d --desired %d", mn, mx, desired);
    run(c, &sb);
}

static void cancel_job(struct console *c)
{
    struct pane *p = &c->panes[PANE_JOBS];
    if (c->view != VIEW_JOBS || p->n_rows == 0) {
        ui_message(c, KILN_LOG_WARN, "select a job in the Jobs view (J) to cancel it");
        return;
    }
    struct kiln_job *job = (struct kiln_job *)p->rows[p->sel];
    struct kiln_job_info in;
    kiln_job_info(job, &in);
    if (kiln_job_state_finished(in.state)) {
        ui_message(c, KILN_LOG_WARN, "job %llu has finished already", (unsigned long long)in.id);
        return;
    }
    char what[200];
    snprintf(what, sizeof what,
             "Stops job %llu (%s %s) at its next step; its journal says where "
             "it stopped (kiln resume or kiln abort).",
             (unsigned long long)in.id, in.kind, in.target);
    const char *lines[] = {what};
    ui_confirm(c, "cancel the job?", lines, 1, true, NULL, AFTER_CANCEL_JOB, NULL, in.id);
}

void ui_action_change(struct console *c, enum ui_action a)
{
    if (c->read_only) {
        ui_message(c, KILN_LOG_ERROR,
                   "read-only: '%s' changes things, so it is off (kiln runs with --read-only "
                   "or read_only in the config)",
                   ui_action_name(a));
        return;
    }
    if (a == ACT_CANCEL_JOB) {
        cancel_job(c);
        return;
    }
    if (c->view != VIEW_MAIN) {
        ui_message(c, KILN_LOG_WARN, "'%s' works on the main view's selection: Esc goes back",
                   ui_action_name(a));
        return;
    }
    const struct kiln_app *app = ui_selected_app(c);
    const struct kiln_env *env = ui_selected_env(c);
    const struct kiln_group *g = ui_selected_group(c);
    const struct kiln_instance *in = ui_selected_instance(c);
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    switch (a) {
    case ACT_DEPLOY:
        if (need(c, env, "select a cluster (an app and env) to deploy to"))
            ui_deploy_dialog(c, env);
        return;
    case ACT_ROLLBACK:
        if (!need(c, env, "select a cluster to roll back"))
            return;
        kiln_strbuf_append(&sb, "rollback");
        word(&sb, env->app->name);
        kiln_strbuf_append(&sb, " --env");
        word(&sb, env->name);
        /* On a disabled group in the groups pane: back to that one. */
        if (c->focus == PANE_GROUPS && g != NULL && !g->enabled) {
            kiln_strbuf_append(&sb, " --to");
            word(&sb, g->name);
        }
        run(c, &sb);
        return;
    case ACT_PROMOTE:
        if (!need(c, env, "select the cluster whose image to promote"))
            return;
        /* The target env is the user's to name: the `:` line, filled in, completes it. */
        kiln_strbuf_append(&sb, "promote");
        word(&sb, env->app->name);
        kiln_strbuf_append(&sb, " --from");
        word(&sb, env->name);
        kiln_strbuf_append(&sb, " --to ");
        ui_prompt_open(c, kiln_strbuf_str(&sb));
        kiln_strbuf_free(&sb);
        return;
    case ACT_ENABLE:
    case ACT_DISABLE:
    case ACT_DESTROY:
        if (!need(c, g, "select a server group"))
            return;
        kiln_strbuf_append(&sb, a == ACT_ENABLE    ? "enable"
                                : a == ACT_DISABLE ? "disable"
                                                   : "destroy");
        word(&sb, g->name);
        run(c, &sb);
        return;
    case ACT_GROW:
    case ACT_SHRINK:
        if (need(c, g, "select a server group to resize"))
            resize_by(c, g, a == ACT_GROW ? 1 : -1);
        return;
    case ACT_TERMINATE:
        if (!need(c, in, "select an instance to terminate"))
            return;
        kiln_strbuf_append(&sb, "terminate");
        word(&sb, in->id);
        run(c, &sb);
        return;
    case ACT_BUILD:
    case ACT_BAKE:
        if (!need(c, app, "select an app"))
            return;
        kiln_strbuf_append(&sb, a == ACT_BUILD ? "build" : "bake");
        word(&sb, app->name);
        run(c, &sb);
        return;
    case ACT_CHAOS:
        if (!need(c, env, "select a cluster"))
            return;
        kiln_strbuf_append(&sb, "chaos");
        word(&sb, env->app->name);
        kiln_strbuf_append(&sb, " --env");
        word(&sb, env->name);
        kiln_strbuf_append(&sb, env->chaos_enabled ? " --disable" : " --enable");
        run(c, &sb);
        return;
    default:
        return;
    }
}

/* ---- copying (OSC 52: the terminal puts it on the clipboard, even over ssh) ---- */

static void base64(const unsigned char *in, size_t n, struct kiln_strbuf *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        kiln_strbuf_appendc(out, tab[v >> 18 & 63]);
        kiln_strbuf_appendc(out, tab[v >> 12 & 63]);
        kiln_strbuf_appendc(out, i + 1 < n ? tab[v >> 6 & 63] : '=');
        kiln_strbuf_appendc(out, i + 2 < n ? tab[v & 63] : '=');
    }
}

void ui_copy(struct console *c, const char *text)
{
    if (text == NULL || text[0] == '\0') {
        ui_message(c, KILN_LOG_WARN, "nothing selected to copy");
        return;
    }
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    kiln_strbuf_append(&sb, "\033]52;c;");
    base64((const unsigned char *)text, strlen(text), &sb);
    kiln_strbuf_append(&sb, "\a");
    /* Straight to the terminal, between two frames: it moves no cursor. Inside tmux
     * the sequence is tmux's to pass on (set-clipboard). */
    if (c->tty != NULL) {
        fflush(c->tty);
        ssize_t w = write(fileno(c->tty), kiln_strbuf_str(&sb), sb.len);
        (void)w;
    }
    kiln_strbuf_free(&sb);
    char shown[64];
    ui_cell(shown, sizeof shown, text, 40);
    ui_message(c, KILN_LOG_INFO, "copied to the clipboard: %s", shown);
}
