/* kiln console: the three panes of the main view: Apps (one row per cluster),
 * Server groups of the selected cluster, Instances of the selected group. Each
 * builds its rows from the snapshot on screen and the pane to its left. */
#include "console/ui.h"

#include "kiln/xalloc.h"

#include <stdio.h>
#include <string.h>

/* ---- Apps: one row per app and env (a cluster) ---- */

struct apps_row {
    const struct kiln_app *app;
    const struct kiln_env *env; /* NULL for an app without envs */
};

static struct apps_row *apps_rows;
static size_t apps_cap;

static const struct ui_col apps_cols[] = {
    {"APP", 6, 0, true},
    {"ENV", 5, 0, false},
    {"UP", 5, 1, false},
};
#define N_APPS_COLS (int)(sizeof apps_cols / sizeof apps_cols[0])

static void apps_push(struct pane *p, const struct kiln_app *app, const struct kiln_env *env)
{
    if (p->n_rows == apps_cap) {
        apps_cap = apps_cap ? apps_cap * 2 : 256;
        apps_rows = xrealloc(apps_rows, apps_cap * sizeof *apps_rows);
    }
    apps_rows[p->n_rows++] = (struct apps_row){app, env};
}

static void apps_sync(struct console *c, struct pane *p)
{
    const struct kiln_snapshot *s = c->snap;
    for (size_t i = 0; i < s->n_apps; i++) {
        const struct kiln_app *app = s->apps[i];
        if (app->n_envs == 0) {
            if (ui_filter_match(p, app->name))
                apps_push(p, app, NULL);
            continue;
        }
        for (size_t j = 0; j < app->n_envs; j++) {
            const struct kiln_env *env = app->envs[j];
            if (ui_filter_match(p, env->cluster))
                apps_push(p, app, env);
        }
    }
}

static void apps_row_key(struct console *c, struct pane *p, size_t i, char *buf, size_t n)
{
    const struct apps_row *r = &apps_rows[i];
    snprintf(buf, n, "%s", r->env ? r->env->cluster : r->app->name);
}

static void apps_title(struct console *c, struct pane *p, char *buf, size_t n)
{
    snprintf(buf, n, "Apps (%zu)", c->snap->n_apps);
}

static void apps_header(struct console *c, struct pane *p, int y, int x, int w)
{
    ui_cols_header(apps_cols, N_APPS_COLS, y, x, w);
}

/* The cluster's health: what its enabled groups serve against what they want. */
static void cluster_health(const struct kiln_env *env, char *buf, size_t n, enum ui_role *role)
{
    int in_service = 0, desired = 0, unhealthy = 0, enabled = 0;
    for (size_t i = 0; i < env->n_groups; i++) {
        const struct kiln_group *g = env->groups[i];
        if (!g->enabled)
            continue;
        enabled++;
        in_service += g->in_service;
        desired += g->desired;
        unhealthy += g->running - g->healthy;
    }
    if (enabled == 0) {
        snprintf(buf, n, "%s -", ui_glyph(G_CIRCLE));
        *role = ROLE_GROUP_DISABLED;
        return;
    }
    snprintf(buf, n, "%s%d/%d", ui_glyph(G_BULLET), in_service, desired);
    *role = in_service >= desired && unhealthy == 0 ? ROLE_HEALTH_OK
            : in_service == 0                       ? ROLE_HEALTH_BAD
                                                    : ROLE_HEALTH_UNKNOWN;
}

static void apps_draw_row(struct console *c, struct pane *p, size_t i, int y, int x, int w,
                          bool selected)
{
    const struct apps_row *r = &apps_rows[i];
    struct ui_cols lo;
    ui_cols_layout(apps_cols, N_APPS_COLS, w, &lo);
    char up[32] = "";
    enum ui_role role = ROLE_NORMAL;
    if (r->env != NULL)
        cluster_health(r->env, up, sizeof up, &role);
    /* An app's name is written on its first env's row only, as a tree. */
    bool first = i == 0 || apps_rows[i - 1].app != r->app;
    const char *texts[] = {first ? r->app->name : "", r->env ? r->env->name : "-", up};
    attr_t base = ui_row_attr(c, p, selected, ui_colors[ROLE_NORMAL]);
    attr_t attrs[] = {0, 0, selected ? 0 : ui_colors[role]};
    ui_cols_draw(&lo, y, x, w, texts, attrs, base);
}

static const char *apps_empty(struct console *c, struct pane *p)
{
    if (p->filter[0] != '\0')
        return "nothing matches the filter (Esc clears it)";
    if (!c->feed_state.ever_connected)
        return c->feed_state.error ? "no inventory yet: see the status line"
                                   : "asking the provider for the inventory...";
    return c->read_only ? "no apps yet"
                        : "no apps yet: :create-app APP --env ENV --port N "
                          "--health-check-url PATH";
}

static bool apps_key(struct console *c, struct pane *p, enum ui_action a)
{
    if (a == ACT_ENTER || a == ACT_RIGHT) {
        ui_focus(c, PANE_GROUPS);
        return true;
    }
    return false;
}

const struct pane_ops ui_apps_ops = {
    .name = "apps",
    .title = apps_title,
    .sync = apps_sync,
    .row_key = apps_row_key,
    .header = apps_header,
    .draw_row = apps_draw_row,
    .empty = apps_empty,
    .key = apps_key,
};

const struct kiln_env *ui_selected_env(struct console *c)
{
    const struct pane *p = &c->panes[PANE_APPS];
    return p->n_rows > 0 && p->sel < p->n_rows ? apps_rows[p->sel].env : NULL;
}

const struct kiln_app *ui_selected_app(struct console *c)
{
    const struct pane *p = &c->panes[PANE_APPS];
    return p->n_rows > 0 && p->sel < p->n_rows ? apps_rows[p->sel].app : NULL;
}

/* ---- Server groups of the selected cluster, newest first ---- */

static const struct ui_col groups_cols[] = {
    {"VER", 4, 0, false},    {"", 1, 0, false},       {"UP", 5, 1, false},
    {"RELEASE", 8, 0, true}, {"IMAGE", 16, 3, false}, {"AGE", 4, 2, false},
};
#define N_GROUPS_COLS (int)(sizeof groups_cols / sizeof groups_cols[0])

static void groups_sync(struct console *c, struct pane *p)
{
    const struct kiln_env *env = ui_selected_env(c);
    if (env == NULL)
        return;
    for (size_t i = 0; i < env->n_groups; i++) {
        const struct kiln_group *g = env->groups[i];
        if (ui_filter_match(p, g->name) || ui_filter_match(p, g->package) ||
            ui_filter_match(p, g->image_id))
            ui_list_push(p, g);
    }
}

static void groups_row_key(struct console *c, struct pane *p, size_t i, char *buf, size_t n)
{
    snprintf(buf, n, "%s", ((const struct kiln_group *)p->rows[i])->name);
}

static void groups_title(struct console *c, struct pane *p, char *buf, size_t n)
{
    const struct kiln_env *env = ui_selected_env(c);
    if (env == NULL) {
        snprintf(buf, n, "Server groups");
        return;
    }
    snprintf(buf, n, "%s%s%s", env->cluster, env->chaos_enabled ? " (chaos on)" : "",
             env->lock != NULL && env->lock[0] ? " (locked)" : "");
}

static void groups_header(struct console *c, struct pane *p, int y, int x, int w)
{
    ui_cols_header(groups_cols, N_GROUPS_COLS, y, x, w);
}

static void groups_draw_row(struct console *c, struct pane *p, size_t i, int y, int x, int w,
                            bool selected)
{
    const struct kiln_group *g = p->rows[i];
    struct ui_cols lo;
    ui_cols_layout(groups_cols, N_GROUPS_COLS, w, &lo);
    char ver[8], up[16], age[16], release[256];
    snprintf(ver, sizeof ver, "v%03d", g->version);
    ui_package_release(g->package, g->env->app->name, release, sizeof release);
    snprintf(up, sizeof up, "%d/%d", g->in_service, g->desired);
    ui_age(g->created_us, c->now_us, age, sizeof age);
    const char *texts[] = {ver,
                           ui_glyph(g->enabled            ? G_BULLET
                                    : g->rejected_us != 0 ? G_REJECTED
                                                          : G_CIRCLE),
                           up,
                           release,
                           g->image_id[0] ? g->image_id : "-",
                           age};
    attr_t role = ui_colors[g->enabled ? ROLE_GROUP_ENABLED : ROLE_GROUP_DISABLED];
    attr_t base = ui_row_attr(c, p, selected, role);
    enum ui_role up_role = !g->enabled                   ? ROLE_GROUP_DISABLED
                           : g->in_service >= g->desired ? ROLE_HEALTH_OK
                                                         : ROLE_HEALTH_UNKNOWN;
    attr_t attrs[] = {0, 0, selected ? 0 : ui_colors[up_role], 0, 0, 0};
    ui_cols_draw(&lo, y, x, w, texts, attrs, base);
}

static const char *groups_empty(struct console *c, struct pane *p)
{
    if (ui_selected_env(c) == NULL)
        return "select a cluster on the left";
    if (p->filter[0] != '\0')
        return "nothing matches the filter (Esc clears it)";
    return c->read_only ? "no server groups" : "no server groups yet: d deploys";
}

static bool groups_key(struct console *c, struct pane *p, enum ui_action a)
{
    if (a == ACT_ENTER || a == ACT_RIGHT) {
        ui_focus(c, PANE_INSTANCES);
        return true;
    }
    if (a == ACT_LEFT) {
        ui_focus(c, PANE_APPS);
        return true;
    }
    return false;
}

const struct pane_ops ui_groups_ops = {
    .name = "server groups",
    .title = groups_title,
    .sync = groups_sync,
    .row_key = groups_row_key,
    .header = groups_header,
    .draw_row = groups_draw_row,
    .empty = groups_empty,
    .key = groups_key,
};

const struct kiln_group *ui_selected_group(struct console *c)
{
    const struct pane *p = &c->panes[PANE_GROUPS];
    return p->n_rows > 0 && p->sel < p->n_rows ? p->rows[p->sel] : NULL;
}

/* ---- Instances of the selected group ---- */

static const struct ui_col inst_cols[] = {
    {"INSTANCE", 19, 0, true}, {"HEALTH", 11, 0, false},  {"LB", 3, 1, false},
    {"STATE", 8, 2, false},    {"ADDRESS", 15, 4, false}, {"UP", 4, 3, false},
};
#define N_INST_COLS (int)(sizeof inst_cols / sizeof inst_cols[0])

static void inst_sync(struct console *c, struct pane *p)
{
    const struct kiln_group *g = ui_selected_group(c);
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n_instances; i++) {
        const struct kiln_instance *x = g->instances[i];
        if (ui_filter_match(p, x->id) || ui_filter_match(p, x->address) ||
            ui_filter_match(p, kiln_health_name(x->health)) ||
            ui_filter_match(p, kiln_instance_state_name(x->state)))
            ui_list_push(p, x);
    }
}

static void inst_row_key(struct console *c, struct pane *p, size_t i, char *buf, size_t n)
{
    snprintf(buf, n, "%s", ((const struct kiln_instance *)p->rows[i])->id);
}

static void inst_title(struct console *c, struct pane *p, char *buf, size_t n)
{
    const struct kiln_group *g = ui_selected_group(c);
    if (g == NULL)
        snprintf(buf, n, "Instances");
    else
        snprintf(buf, n, "v%03d: %d running, %d healthy", g->version, g->running, g->healthy);
}

static void inst_header(struct console *c, struct pane *p, int y, int x, int w)
{
    ui_cols_header(inst_cols, N_INST_COLS, y, x, w);
}

static enum ui_role health_role(const struct kiln_instance *x)
{
    if (x->state == KILN_INSTANCE_TERMINATED || x->state == KILN_INSTANCE_TERMINATING)
        return ROLE_GROUP_DISABLED;
    return x->health == KILN_HEALTH_HEALTHY     ? ROLE_HEALTH_OK
           : x->health == KILN_HEALTH_UNHEALTHY ? ROLE_HEALTH_BAD
                                                : ROLE_HEALTH_UNKNOWN;
}

static void inst_draw_row(struct console *c, struct pane *p, size_t i, int y, int x, int w,
                          bool selected)
{
    const struct kiln_instance *in = p->rows[i];
    struct ui_cols lo;
    ui_cols_layout(inst_cols, N_INST_COLS, w, &lo);
    char health[32], uptime[16];
    snprintf(health, sizeof health, "%s %s", ui_glyph(G_BULLET), kiln_health_name(in->health));
    ui_age(in->launched_us, c->now_us, uptime, sizeof uptime);
    const char *lb = in->lb_state == KILN_LB_IN_SERVICE       ? "in"
                     : in->lb_state == KILN_LB_OUT_OF_SERVICE ? "out"
                                                              : "-";
    const char *texts[] = {
        in->id, health, lb, kiln_instance_state_name(in->state), in->address[0] ? in->address : "-",
        uptime};
    attr_t base = ui_row_attr(c, p, selected, ui_colors[ROLE_NORMAL]);
    attr_t attrs[] = {0, selected ? 0 : ui_colors[health_role(in)], 0, 0, 0, 0};
    ui_cols_draw(&lo, y, x, w, texts, attrs, base);
}

static const char *inst_empty(struct console *c, struct pane *p)
{
    if (ui_selected_group(c) == NULL)
        return "select a server group";
    if (p->filter[0] != '\0')
        return "nothing matches the filter (Esc clears it)";
    return "no instances";
}

static bool inst_key(struct console *c, struct pane *p, enum ui_action a)
{
    const struct kiln_instance *in = ui_selected_instance(c);
    if (a == ACT_ENTER && in != NULL) {
        char launched[16];
        ui_age(in->launched_us, c->now_us, launched, sizeof launched);
        ui_log(c, KILN_LOG_INFO, "instance",
               "%s of %s: %s, %s, load balancer %s, %s, pid %d, up %s%s%s", in->id,
               in->group ? in->group->name : "?", kiln_instance_state_name(in->state),
               kiln_health_name(in->health), kiln_lb_state_name(in->lb_state),
               in->address[0] ? in->address : "no address", in->pid, launched,
               in->health_detail && in->health_detail[0] ? "; health check: " : "",
               in->health_detail ? in->health_detail : "");
        return true;
    }
    if (a == ACT_LEFT) {
        ui_focus(c, PANE_GROUPS);
        return true;
    }
    if (a == ACT_RIGHT) {
        ui_focus(c, PANE_LOG);
        return true;
    }
    return false;
}

const struct pane_ops ui_instances_ops = {
    .name = "instances",
    .title = inst_title,
    .sync = inst_sync,
    .row_key = inst_row_key,
    .header = inst_header,
    .draw_row = inst_draw_row,
    .empty = inst_empty,
    .key = inst_key,
};

const struct kiln_instance *ui_selected_instance(struct console *c)
{
    const struct pane *p = &c->panes[PANE_INSTANCES];
    return p->n_rows > 0 && p->sel < p->n_rows ? p->rows[p->sel] : NULL;
}

void ui_sync_main(struct console *c)
{
    /* Compare identities (names), never rows: the rows may point into the snapshot
     * that was just replaced. */
    char cluster_before[sizeof c->panes[0].sel_key];
    char group_before[sizeof c->panes[0].sel_key];
    snprintf(cluster_before, sizeof cluster_before, "%s", c->panes[PANE_APPS].sel_key);
    snprintf(group_before, sizeof group_before, "%s", c->panes[PANE_GROUPS].sel_key);

    ui_list_sync(c, &c->panes[PANE_APPS]);

    /* Another cluster: its groups start at the enabled one, not at the row number
     * the previous cluster had selected. */
    const struct kiln_env *env = ui_selected_env(c);
    struct pane *gp = &c->panes[PANE_GROUPS];
    struct pane *ip = &c->panes[PANE_INSTANCES];
    if (strcmp(c->panes[PANE_APPS].sel_key, cluster_before) != 0) {
        gp->sel = gp->top = 0;
        gp->sel_key[0] = '\0';
        if (env != NULL)
            for (size_t i = 0; i < env->n_groups; i++)
                if (env->groups[i]->enabled) {
                    snprintf(gp->sel_key, sizeof gp->sel_key, "%s", env->groups[i]->name);
                    break;
                }
    }
    ui_list_sync(c, gp);
    if (strcmp(gp->sel_key, group_before) != 0) {
        ip->sel = ip->top = 0;
        ip->sel_key[0] = '\0';
    }
    ui_list_sync(c, ip);
}
