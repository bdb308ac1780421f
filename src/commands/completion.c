/* kiln completion bash|zsh, and the hidden kiln __complete KIND [APP].
 *
 * The scripts are generated from the command table, so they cannot drift from it:
 * every command, its options (and what each option's value names), its positional
 * kind and literal words. What only the state knows (apps, envs, groups, instance
 * ids, images, packages, job ids) the script asks `kiln __complete KIND`, which reads
 * files in the state dir and nothing else: it never starts kilnd, never calls AWS,
 * never waits on a lock, and prints nothing but candidates (an error prints
 * nothing), so a Tab can neither hang nor write into the command line. */
#include "commands/commands.h"
#include "kiln/atomic_file.h"
#include "kiln/context.h"
#include "kiln/journal.h"
#include "kiln/names.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
    [KILN_COMPLETE_NONE] = "none",   [KILN_COMPLETE_COMMAND] = "command",
    [KILN_COMPLETE_APP] = "app",     [KILN_COMPLETE_ENV] = "env",
    [KILN_COMPLETE_GROUP] = "group", [KILN_COMPLETE_INSTANCE] = "instance",
    [KILN_COMPLETE_IMAGE] = "image", [KILN_COMPLETE_PACKAGE] = "package",
    [KILN_COMPLETE_JOB] = "job",     [KILN_COMPLETE_FILE] = "file",
};

static const char *kind_name(enum kiln_complete k)
{
    if ((unsigned)k < sizeof kind_names / sizeof kind_names[0] && kind_names[k] != NULL)
        return kind_names[k];
    return "none";
}

/* ---- the scripts ---- */

/* The global options (kiln_ctx_global_opt and main.c), with what a value names. */
static const struct {
    const char *name;
    const char *kind; /* NULL for a flag; a kind, or "=" and the literal words */
} global_opts[] = {
    {"--home", "file"},    {"--config", "file"},  {"--provider", "=local aws"},
    {"--profile", "none"}, {"--region", "none"},  {"--theme", "=default light high-contrast mono"},
    {"--confirm", "env"},  {"--read-only", NULL}, {"--json", NULL},
    {"--help", NULL},      {"--version", NULL},
};
#define N_GLOBAL (sizeof global_opts / sizeof global_opts[0])

/* Shell functions shared by both scripts (their syntax is common to bash and zsh):
 * _kiln_spec CMD sets the command's options (_kiln_o), the ones that take a value
 * (_kiln_v, space-padded), its positional kind (_kiln_p), how many positionals it
 * takes (_kiln_n) and the words its first may be (_kiln_w); _kiln_optkind CMD OPT
 * prints what OPT's value names. */
static void print_tables(FILE *out)
{
    fprintf(out, "_kiln_cmds='");
    for (int i = 0, n = 0; kiln_commands[i] != NULL; i++)
        if (!kiln_commands[i]->hidden)
            fprintf(out, "%s%s", n++ ? " " : "", kiln_commands[i]->name);
    fprintf(out, "'\n_kiln_globals='");
    for (size_t i = 0; i < N_GLOBAL; i++)
        fprintf(out, "%s%s", i ? " " : "", global_opts[i].name);
    fprintf(out, "'\n_kiln_gvals=' ");
    for (size_t i = 0; i < N_GLOBAL; i++)
        if (global_opts[i].kind != NULL)
            fprintf(out, "%s ", global_opts[i].name);
    fprintf(out, "'\n\n_kiln_spec() {\n    case $1 in\n");
    for (int i = 0; kiln_commands[i] != NULL; i++) {
        const struct kiln_cmd *c = kiln_commands[i];
        if (c->hidden)
            continue;
        fprintf(out, "    %s)\n        _kiln_o='", c->name);
        for (int j = 0; c->opts != NULL && c->opts[j].name != NULL; j++)
            fprintf(out, "--%s ", c->opts[j].name);
        fprintf(out, "'\n        _kiln_v=' ");
        for (int j = 0; c->opts != NULL && c->opts[j].name != NULL; j++)
            if (c->opts[j].metavar != NULL)
                fprintf(out, "--%s ", c->opts[j].name);
        fprintf(out, "'\n        _kiln_p=%s _kiln_n=%d _kiln_w='%s' ;;\n",
                kind_name(c->positional_complete), c->max_positional, c->words ? c->words : "");
    }
    fprintf(out, "    *) _kiln_o= _kiln_v=' ' _kiln_p=none _kiln_n=0 _kiln_w= ;;\n    esac\n}\n\n");

    fprintf(out, "_kiln_optkind() {\n    case \"$1 $2\" in\n");
    for (int i = 0; kiln_commands[i] != NULL; i++) {
        const struct kiln_cmd *c = kiln_commands[i];
        for (int j = 0; !c->hidden && c->opts != NULL && c->opts[j].name != NULL; j++)
            if (c->opts[j].metavar != NULL)
                fprintf(out, "    '%s --%s') echo %s ;;\n", c->name, c->opts[j].name,
                        kind_name(c->opts[j].complete));
    }
    for (size_t i = 0; i < N_GLOBAL; i++)
        if (global_opts[i].kind != NULL)
            fprintf(out, "    *' %s') echo '%s' ;;\n", global_opts[i].name, global_opts[i].kind);
    fprintf(out, "    *) echo none ;;\n    esac\n}\n\n");
}

/* The walk over the words before the cursor, the same in both shells (arrays are
 * indexed through _kiln_word, which each script defines). It sets cmd, npos (the
 * positionals before the cursor), app (the first positional), fwd (the --home,
 * --config and --provider options to hand to __complete) and want_value (the word
 * before the cursor is an option whose value is being typed). */
static const char walk[] =
    "    local cmd= npos=0 app= want_value= w i\n"
    "    local _kiln_o= _kiln_v=' ' _kiln_p=none _kiln_n=0 _kiln_w=\n"
    "    fwd=()\n"
    "    for ((i = 1; i < _kiln_cur_index; i++)); do\n"
    "        w=$(_kiln_word $i)\n"
    "        if [ -n \"$want_value\" ]; then\n"
    "            case $want_value in --home|--config|--provider) fwd+=(\"$want_value\" \"$w\") ;; "
    "esac\n"
    "            want_value=\n"
    "            continue\n"
    "        fi\n"
    "        case $w in\n"
    "        --home=*|--config=*|--provider=*) fwd+=(\"$w\") ;;\n"
    "        --*=*) ;;\n"
    "        -*)\n"
    "            case \"$_kiln_gvals$_kiln_v\" in *\" $w \"*) want_value=$w ;; esac ;;\n"
    "        *)\n"
    "            if [ -z \"$cmd\" ]; then\n"
    "                cmd=$w\n"
    "                _kiln_spec \"$cmd\"\n"
    "            else\n"
    "                npos=$((npos + 1))\n"
    "                [ \"$npos\" = 1 ] && app=$w\n"
    "            fi ;;\n"
    "        esac\n"
    "    done\n"
    /* What to offer: a kind, or words. */
    "    kind= cands=\n"
    "    if [ -n \"$want_value\" ]; then\n"
    "        kind=$(_kiln_optkind \"$cmd\" \"$want_value\")\n"
    "    elif [ -z \"$cmd\" ]; then\n"
    "        case $cur in -*) cands=$_kiln_globals ;; *) kind=command ;; esac\n"
    "    else\n"
    "        case $cur in\n"
    "        -*) cands=\"$_kiln_o $_kiln_globals\" ;;\n"
    "        *)\n"
    "            if [ \"$npos\" -lt \"$_kiln_n\" ]; then\n"
    "                kind=$_kiln_p\n"
    "                [ \"$npos\" = 0 ] && cands=$_kiln_w\n"
    "            fi ;;\n"
    "        esac\n"
    "    fi\n"
    "    case $kind in\n"
    "    '='*) cands=${kind#=}; kind= ;;\n"
    "    command) cands=$_kiln_cmds; kind= ;;\n"
    "    app|env|group|instance|image|package|job)\n"
    "        cands=\"$cands $(_kiln_values \"$kind\" \"$app\")\"; kind= ;;\n"
    "    esac\n";

static void print_bash(FILE *out)
{
    fprintf(out, "# bash completion for kiln, generated by `kiln completion bash` from its\n"
                 "# command table. Load it with: source <(kiln completion bash)\n\n");
    print_tables(out);
    fprintf(out,
            "_kiln_word() { printf '%%s' \"${COMP_WORDS[$1]}\"; }\n\n"
            "# Values from kiln's state (never kilnd or AWS); nothing on any error.\n"
            "_kiln_values() {\n"
            "    local kiln=${COMP_WORDS[0]}\n"
            "    [ \"${kiln#\\~/}\" != \"$kiln\" ] && kiln=$HOME/${kiln#\\~/}\n"
            "    \"$kiln\" \"${fwd[@]}\" __complete \"$1\" ${2:+\"$2\"} 2>/dev/null </dev/null\n"
            "}\n\n"
            "_kiln() {\n"
            "    local cur=${COMP_WORDS[COMP_CWORD]} _kiln_cur_index=$COMP_CWORD kind cands\n"
            "    local -a fwd\n"
            "    COMPREPLY=()\n"
            "%s"
            "    if [ \"$kind\" = file ]; then\n"
            "        compopt -o filenames 2>/dev/null\n"
            "        COMPREPLY=($(compgen -f -- \"$cur\"))\n"
            "        return 0\n"
            "    fi\n"
            "    local IFS=$' \\t\\n'\n"
            "    COMPREPLY=($(compgen -W \"$cands\" -- \"$cur\"))\n"
            "    return 0\n"
            "}\n\n"
            "complete -F _kiln kiln\n",
            walk);
}

static void print_zsh(FILE *out)
{
    fprintf(out, "#compdef kiln\n"
                 "# zsh completion for kiln, generated by `kiln completion zsh` from its command\n"
                 "# table. Install as _kiln in a directory of $fpath, or: source <(kiln "
                 "completion zsh)\n\n");
    print_tables(out);
    fprintf(out,
            "_kiln_word() { printf '%%s' \"${words[$(($1 + 1))]}\"; }\n\n"
            "# Values from kiln's state (never kilnd or AWS); nothing on any error.\n"
            "_kiln_values() {\n"
            "    local kiln=${words[1]}\n"
            "    \"${~kiln}\" \"${fwd[@]}\" __complete \"$1\" ${2:+\"$2\"} 2>/dev/null </dev/null\n"
            "}\n\n"
            "_kiln() {\n"
            "    emulate -L zsh\n"
            "    setopt local_options no_sh_word_split\n"
            "    local cur=${words[CURRENT]} _kiln_cur_index=$((CURRENT - 1)) kind cands\n"
            "    local -a fwd\n"
            "%s"
            "    if [ \"$kind\" = file ]; then\n"
            "        _files\n"
            "        return\n"
            "    fi\n"
            "    compadd -- ${=cands}\n"
            "}\n\n"
            "if [ \"${funcstack[1]}\" = _kiln ]; then\n"
            "    _kiln \"$@\"\n"
            "else\n"
            "    compdef _kiln kiln\n"
            "fi\n",
            walk);
}

static int completion_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    const char *shell = a->positional[0];
    if (strcmp(shell, "bash") == 0)
        print_bash(ctx->out);
    else if (strcmp(shell, "zsh") == 0)
        print_zsh(ctx->out);
    else
        return kiln_err_set(err, KILN_E_USAGE, "kiln completion takes bash or zsh, not '%.40s'",
                            shell);
    return 0;
}

const struct kiln_cmd kiln_cmd_completion = {
    .name = "completion",
    .usage = "bash|zsh",
    .summary = "print a shell completion script (commands, options, apps, envs, groups...)",
    .help = "Prints a script that completes kiln's commands, options and their values in\n"
            "bash or zsh. Apps, envs, groups, instances, images, packages and job ids come\n"
            "from kiln's state files (the local cloud's store, the journal, the recorded\n"
            "sources): completing never starts kilnd or calls AWS. Try it with\n"
            "`source <(kiln completion bash)`; `make install` installs both where\n"
            "bash-completion and zsh look for them.",
    .min_positional = 1,
    .max_positional = 1,
    .words = "bash zsh",
    .exec = completion_exec,
};

/* ---- __complete: candidates from the state ---- */

struct cands {
    char **v;
    size_t n, cap;
};

static void cand(struct cands *c, const char *s)
{
    if (s == NULL || s[0] == '\0' || strpbrk(s, " \t\n\r'\"\\$`") != NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i], s) == 0)
            return;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 32;
        c->v = realloc(c->v, c->cap * sizeof *c->v);
        if (c->v == NULL)
            abort();
    }
    c->v[c->n] = strdup(s);
    if (c->v[c->n] == NULL)
        abort();
    c->n++;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static cJSON *read_json(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    if (kiln_read_file(path, &text, &len, 64u << 20, NULL) < 0)
        return NULL;
    cJSON *o = cJSON_ParseWithLength(text, len);
    free(text);
    return o;
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Whether a candidate of `app` is wanted: any when no app is typed. */
static bool of_app(const char *want, const char *app)
{
    return want == NULL || (app != NULL && strcmp(want, app) == 0);
}

/* The local cloud's store, cloud.json: what kilnd last saved. */
static void from_cloud(const char *path, enum kiln_complete kind, const char *app, struct cands *c)
{
    cJSON *root = read_json(path);
    if (root == NULL)
        return;
    const cJSON *x;
    switch (kind) {
    case KILN_COMPLETE_APP:
    case KILN_COMPLETE_ENV:
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(root, "clusters"))
        {
            if (kind == KILN_COMPLETE_APP)
                cand(c, str_of(x, "app"));
            else if (of_app(app, str_of(x, "app")))
                cand(c, str_of(x, "env"));
        }
        break;
    case KILN_COMPLETE_GROUP:
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(root, "groups"))
        {
            struct kiln_group_name gn;
            const char *name = str_of(x, "name");
            if (name != NULL && kiln_group_name_parse(name, &gn, NULL) == 0 && of_app(app, gn.app))
                cand(c, name);
        }
        break;
    case KILN_COMPLETE_INSTANCE:
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(root, "instances"))
        {
            struct kiln_group_name gn;
            const char *group = str_of(x, "group");
            if (app == NULL || (group != NULL && kiln_group_name_parse(group, &gn, NULL) == 0 &&
                                of_app(app, gn.app)))
                cand(c, str_of(x, "id"));
        }
        break;
    case KILN_COMPLETE_IMAGE:
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(root, "images"))
            cand(c, str_of(x, "id"));
        break;
    case KILN_COMPLETE_PACKAGE:
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(root, "packages"))
            cand(c, str_of(x, "nvr"));
        break;
    default:
        break;
    }
    cJSON_Delete(root);
}

/* A group name from a journal: its candidate as a group, or its app and env. */
static void journal_group(const char *name, enum kiln_complete kind, const char *app,
                          struct cands *c)
{
    struct kiln_group_name gn;
    if (name == NULL || kiln_group_name_parse(name, &gn, NULL) < 0 || !of_app(app, gn.app))
        return;
    if (kind == KILN_COMPLETE_GROUP)
        cand(c, name);
    else if (kind == KILN_COMPLETE_ENV)
        cand(c, gn.env);
    else if (kind == KILN_COMPLETE_APP)
        cand(c, gn.app);
}

/* The journal: job ids, and the apps, envs and groups jobs worked on (on AWS the
 * only record kiln keeps of them). */
static void from_journal(const char *dir, enum kiln_complete kind, const char *app, struct cands *c)
{
    struct kiln_journal_list l = {0};
    if (kiln_journal_list(dir, &l, NULL) < 0)
        return;
    for (size_t i = l.njobs; i-- > 0;) {
        const struct kiln_journal *j = l.jobs[i];
        const cJSON *args = kiln_journal_args(j);
        const char *a = str_of(args, "app"), *kind_s = kiln_journal_kind(j);
        if (kind == KILN_COMPLETE_JOB) {
            char id[24];
            snprintf(id, sizeof id, "%llu", (unsigned long long)kiln_journal_id(j));
            cand(c, id);
            continue;
        }
        if (kind == KILN_COMPLETE_APP)
            cand(c, a);
        if (kind == KILN_COMPLETE_ENV && of_app(app, a)) {
            cand(c, str_of(args, "env"));
            cand(c, str_of(args, "from"));
            if (kind_s != NULL && strcmp(kind_s, "promote") == 0)
                cand(c, str_of(args, "to"));
        }
        journal_group(str_of(args, "group"), kind, app, c);
        if (kind_s != NULL && strcmp(kind_s, "rollback") == 0)
            journal_group(str_of(args, "to"), kind, app, c);
        struct kiln_journal_step st;
        if (kiln_journal_find_step(j, "result", NULL, &st) && st.data != NULL)
            journal_group(str_of(st.data, "group"), kind, app, c);
    }
    kiln_journal_list_free(&l);
}

/* The apps with a recorded source (sources.json). */
static void from_sources(const char *home, struct cands *c)
{
    char *path = malloc(strlen(home) + sizeof "/sources.json");
    if (path == NULL)
        return;
    strcpy(path, home);
    strcat(path, "/sources.json");
    cJSON *o = read_json(path);
    free(path);
    const cJSON *x;
    cJSON_ArrayForEach(x, o) cand(c, x->string);
    cJSON_Delete(o);
}

static enum kiln_complete kind_of(const char *s)
{
    for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++)
        if (kind_names[i] != NULL && strcmp(kind_names[i], s) == 0)
            return (enum kiln_complete)i;
    return KILN_COMPLETE_NONE;
}

static int complete_exec(struct kiln_ctx *ctx, const struct kiln_args *a, struct kiln_err *err)
{
    (void)err;
    enum kiln_complete kind = kind_of(a->positional[0]);
    const char *app = a->n_positional > 1 && kiln_name_validate_app(a->positional[1], NULL) == 0
                          ? a->positional[1]
                          : NULL;
    struct cands c = {0};
    struct kiln_err serr = {0};
    if (kind == KILN_COMPLETE_COMMAND) {
        for (int i = 0; kiln_commands[i] != NULL; i++)
            if (!kiln_commands[i]->hidden)
                cand(&c, kiln_commands[i]->name);
    } else if (kind != KILN_COMPLETE_NONE && kind != KILN_COMPLETE_FILE &&
               kiln_ctx_setup(ctx, &serr) == 0) {
        const char *prov =
            ctx->opts.provider ? ctx->opts.provider : kiln_provider_kind_name(ctx->config.provider);
        /* The local cloud's store describes the local cloud only. */
        if (strcmp(prov, "local") == 0)
            from_cloud(ctx->paths.cloud_json, kind, app, &c);
        if (kind == KILN_COMPLETE_APP)
            from_sources(ctx->paths.home, &c);
        from_journal(ctx->paths.journal_dir, kind, app, &c);
    }
    /* Jobs newest first, as typed most; the rest in order. */
    if (kind != KILN_COMPLETE_JOB && c.n > 1)
        qsort(c.v, c.n, sizeof *c.v, cmp_str);
    for (size_t i = 0; i < c.n; i++) {
        fprintf(ctx->out, "%s\n", c.v[i]);
        free(c.v[i]);
    }
    free(c.v);
    return 0;
}

const struct kiln_cmd kiln_cmd_complete_values = {
    .name = "__complete",
    .usage = "KIND [APP]",
    .summary = "completion candidates from the state (for the completion scripts)",
    .help = "KIND is app, env, group, instance, image, package, job or command; with APP,\n"
            "only that app's envs, groups and instances. Reads state files only.",
    .min_positional = 1,
    .max_positional = 2,
    .hidden = true,
    .exec = complete_exec,
};
