/* kiln console: Tab completion on the `:` line, from the command table (names and
 * options, each option and positional argument saying what it names) and from the
 * snapshot on screen (apps, envs, groups, instances, images, packages) and the
 * jobs. */
#include "console/argv.h"
#include "console/ui.h"

#include "kiln/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <readline/readline.h>

/* The console's own commands, offered with the table's. */
static const char *const console_words[] = {"theme", "view", "quit", "filter", NULL};
static const char *const views[] = {"main", "jobs", "events", "help", NULL};
static const char *const themes[] = {"default", "light", "high-contrast", "mono", NULL};

/* Candidates for one completion, filtered by prefix. */
struct cands {
    const char *prefix;
    size_t plen;
    char **v;
    size_t n, cap;
};

static void cand(struct cands *c, const char *word)
{
    if (word == NULL || word[0] == '\0' || strncmp(word, c->prefix, c->plen) != 0)
        return;
    for (size_t i = 0; i < c->n && c->n < 64; i++) /* small lists: no duplicates */
        if (strcmp(c->v[i], word) == 0)
            return;
    if (c->n + 2 > c->cap) {
        c->cap = c->cap ? c->cap * 2 : 32;
        c->v = xrealloc(c->v, c->cap * sizeof *c->v);
    }
    c->v[c->n++] = xstrdup(word);
}

static void cand_option(struct cands *c, const char *name)
{
    char buf[80];
    snprintf(buf, sizeof buf, "--%s", name);
    cand(c, buf);
}

/* The value of option `name` typed so far on the line (for completing an env of
 * the app given, and so on), or NULL. */
static const char *typed_opt(const struct ui_words *w, const char *name)
{
    size_t len = strlen(name);
    for (int i = 1; i < w->argc; i++) {
        const char *a = w->argv[i];
        if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, len) != 0)
            continue;
        if (a[2 + len] == '=')
            return a + 3 + len;
        if (a[2 + len] == '\0' && i + 1 < w->argc)
            return w->argv[i + 1];
    }
    return NULL;
}

/* The first positional word typed (the app of `deploy APP`), or NULL. */
static const char *typed_positional(const struct kiln_cmd *cmd, const struct ui_words *w)
{
    for (int i = 1; i < w->argc; i++) {
        const char *a = w->argv[i];
        if (strncmp(a, "--", 2) == 0) {
            /* skip an option's separate value */
            const char *name = a + 2;
            if (strchr(name, '=') == NULL && cmd->opts != NULL)
                for (int k = 0; cmd->opts[k].name != NULL; k++)
                    if (strcmp(cmd->opts[k].name, name) == 0 && cmd->opts[k].metavar != NULL)
                        i++;
            continue;
        }
        return a;
    }
    return NULL;
}

static void complete_kind(struct console *con, struct cands *c, enum kiln_complete kind,
                          const struct kiln_cmd *cmd, const struct ui_words *w)
{
    const struct kiln_snapshot *s = con->snap;
    const char *app = cmd ? typed_positional(cmd, w) : NULL;
    const struct kiln_app *a = app ? kiln_snapshot_find_app(s, app) : NULL;
    switch (kind) {
    case KILN_COMPLETE_COMMAND:
        for (int i = 0; kiln_commands[i] != NULL; i++)
            if (!(con->read_only && kiln_commands[i]->mutating) && !kiln_commands[i]->hidden)
                cand(c, kiln_commands[i]->name);
        break;
    case KILN_COMPLETE_APP:
        for (size_t i = 0; i < s->n_apps; i++)
            cand(c, s->apps[i]->name);
        break;
    case KILN_COMPLETE_ENV:
        /* The app's envs when the line names an app; every env name otherwise. */
        for (size_t i = 0; i < s->n_apps; i++)
            if (a == NULL || s->apps[i] == a)
                for (size_t j = 0; j < s->apps[i]->n_envs; j++)
                    cand(c, s->apps[i]->envs[j]->name);
        break;
    case KILN_COMPLETE_GROUP:
        for (size_t i = 0; i < s->n_groups; i++)
            cand(c, s->groups[i]->name);
        break;
    case KILN_COMPLETE_INSTANCE:
        for (size_t i = 0; i < s->n_instances; i++)
            cand(c, s->instances[i]->id);
        break;
    case KILN_COMPLETE_IMAGE:
        for (size_t i = 0; i < s->n_images; i++)
            cand(c, s->images[i]->id);
        break;
    case KILN_COMPLETE_PACKAGE:
        for (size_t i = 0; i < s->n_packages; i++)
            cand(c, s->packages[i]->nvr);
        break;
    case KILN_COMPLETE_JOB:
        for (size_t i = con->n_jobs; i-- > 0;) {
            char id[24];
            snprintf(id, sizeof id, "%llu", (unsigned long long)kiln_job_id(con->jobs[i]));
            cand(c, id);
        }
        break;
    default:
        break;
    }
}

/* readline's generator takes no context: the candidates of the completion under
 * way, handed over one by one. */
static struct cands *current;

static char *generator(const char *text, int state)
{
    static struct cands *cur;
    static size_t next;
    if (state == 0) {
        cur = current;
        next = 0;
    }
    (void)text;
    if (cur == NULL || next >= cur->n)
        return NULL;
    char *s = cur->v[next];
    cur->v[next++] = NULL; /* readline frees it */
    return s;
}

char **ui_complete(struct console *con, const char *text, int start, int end)
{
    (void)end;
    struct cands c = {.prefix = text, .plen = strlen(text)};
    char *before = xstrndup(rl_line_buffer, (size_t)start);
    struct ui_words w = {0};
    bool file = false;
    if (ui_split(before, true, &w, NULL) < 0)
        w.argc = 0;
    /* "--env=te": the option is the word that ends in '='. */
    const char *opt_word = NULL;
    if (start > 0 && rl_line_buffer[start - 1] == '=' && w.argc > 0)
        opt_word = w.argv[w.argc - 1];
    else if (w.argc > 1 && strncmp(w.argv[w.argc - 1], "--", 2) == 0)
        opt_word = w.argv[w.argc - 1];

    if (w.argc == 0) {
        complete_kind(con, &c, KILN_COMPLETE_COMMAND, NULL, &w);
        for (int i = 0; console_words[i]; i++)
            cand(&c, console_words[i]);
    } else if (strcmp(w.argv[0], "view") == 0 && w.argc == 1) {
        for (int i = 0; views[i]; i++)
            cand(&c, views[i]);
    } else if (strcmp(w.argv[0], "theme") == 0 && w.argc == 1) {
        for (int i = 0; themes[i]; i++)
            cand(&c, themes[i]);
    } else {
        const struct kiln_cmd *cmd = kiln_command_find(w.argv[0]);
        if (cmd != NULL) {
            const struct kiln_opt *opt = NULL;
            if (opt_word != NULL && cmd->opts != NULL) {
                char name[64];
                snprintf(name, sizeof name, "%s", opt_word + 2);
                char *eq = strchr(name, '=');
                if (eq)
                    *eq = '\0';
                for (int i = 0; cmd->opts[i].name != NULL; i++)
                    if (strcmp(cmd->opts[i].name, name) == 0 && cmd->opts[i].metavar != NULL)
                        opt = &cmd->opts[i];
            }
            if (opt != NULL) {
                if (opt->complete == KILN_COMPLETE_FILE)
                    file = true;
                else
                    complete_kind(con, &c, opt->complete, cmd, &w);
            } else if (strncmp(text, "-", 1) == 0 && cmd->opts != NULL) {
                for (int i = 0; cmd->opts[i].name != NULL; i++)
                    if (typed_opt(&w, cmd->opts[i].name) == NULL || cmd->opts[i].metavar == NULL)
                        cand_option(&c, cmd->opts[i].name);
            } else if (cmd->positional_complete == KILN_COMPLETE_FILE) {
                file = true;
            } else {
                complete_kind(con, &c, cmd->positional_complete, cmd, &w);
            }
        }
    }
    ui_words_free(&w);
    free(before);
    if (file) {
        for (size_t i = 0; i < c.n; i++)
            free(c.v[i]);
        free(c.v);
        rl_attempted_completion_over = 0; /* readline's own file name completion */
        return NULL;
    }
    if (c.n == 0) {
        free(c.v);
        return NULL;
    }
    current = &c;
    char **m = rl_completion_matches(text, generator);
    current = NULL;
    for (size_t i = 0; i < c.n; i++)
        free(c.v[i]);
    free(c.v);
    return m;
}
