/* The console's parts that need no terminal: the `:` line's word splitting, theme
 * files, key names and bindings, the events list's linking of terminations to
 * their replacements, and the log pane's line list. */
#include "tap.h"

#include "console/argv.h"
#include "console/draw.h"
#include "console/evlist.h"
#include "console/keys.h"
#include "console/loglist.h"
#include "console/theme.h"
#include "console/ui.h"
#include "kiln/config.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *split_join(const char *line, bool lenient)
{
    static char buf[512];
    struct ui_words w;
    struct kiln_err err = {0};
    if (ui_split(line, lenient, &w, &err) < 0) {
        snprintf(buf, sizeof buf, "ERR %.400s", err.msg);
        return buf;
    }
    buf[0] = '\0';
    for (int i = 0; i < w.argc; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s[%s]", i ? " " : "", w.argv[i]);
    ui_words_free(&w);
    return buf;
}

static void test_split(void)
{
    is_str(split_join("deploy hello-world --env test", false),
           "[deploy] [hello-world] [--env] [test]", "words split on blanks");
    is_str(split_join("  a\t b  ", false), "[a] [b]", "leading, trailing and repeated blanks");
    is_str(split_join("", false), "", "an empty line has no words");
    is_str(split_join("a 'b c' \"d e\"", false), "[a] [b c] [d e]", "quotes keep blanks");
    is_str(split_join("'it'\\''s'", false), "[it's]", "a quote inside single quotes, shell style");
    is_str(split_join("\"a \\\"b\\\" \\\\ \\$x \\n\"", false), "[a \"b\" \\ $x \\n]",
           "double quotes take \\\" \\\\ \\$ as escapes and keep other backslashes");
    is_str(split_join("a\\ b c", false), "[a b] [c]", "a backslash escapes a blank");
    is_str(split_join("x'y'\"z\"", false), "[xyz]", "quoted parts join a word");
    is_str(split_join("''", false), "[]", "'' is an empty word");
    is_str(split_join("$HOME ~ * ; | &&", false), "[$HOME] [~] [*] [;] [|] [&&]",
           "nothing is expanded and nothing is special");
    ok(strncmp(split_join("a 'b", false), "ERR ", 4) == 0, "an open quote is an error");
    ok(strstr(split_join("a 'b", false), "not closed") != NULL, "which says so");
    ok(strncmp(split_join("a \\", false), "ERR ", 4) == 0, "a trailing backslash is an error");
    is_str(split_join("deploy 'hello wor", true), "[deploy] [hello wor]",
           "lenient splitting (for completion) takes the open word");

    /* Quoting gives back the same word. */
    const char *words[] = {"plain", "two words", "it's", "a\"b", "back\\slash", "", "tab\there"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        struct kiln_strbuf sb = KILN_STRBUF_INIT;
        ui_quote_word(&sb, words[i]);
        struct ui_words w;
        int rc = ui_split(kiln_strbuf_str(&sb), false, &w, NULL);
        ok(rc == 0 && w.argc == 1 && strcmp(w.argv[0], words[i]) == 0,
           "quoting '%s' round-trips (%s)", words[i], kiln_strbuf_str(&sb));
        if (rc == 0)
            ui_words_free(&w);
        kiln_strbuf_free(&sb);
    }
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void test_themes(void)
{
    const char *src = getenv("KILN_SRCDIR");
    char path[4096];
    struct kiln_err err = {0};
    static const char *const names[] = {"default", "light", "high-contrast", "mono"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/themes/%s.theme", src ? src : ".", names[i]);
        struct ui_theme t;
        ui_theme_builtin(&t, false);
        const char *text = read_file(path);
        ok(text != NULL && ui_theme_parse(&t, text, path, &err) == 0, "themes/%s.theme parses%s%s",
           names[i], err.msg[0] ? ": " : "", err.msg);
        /* Every role is set by every shipped theme. */
        int missing = 0;
        for (int r = 0; text && r < UI_ROLE_COUNT; r++) {
            char key[64];
            snprintf(key, sizeof key, "\n%s ", ui_role_name((enum ui_role)r));
            if (strstr(text, key) == NULL) {
                snprintf(key, sizeof key, "\n%s=", ui_role_name((enum ui_role)r));
                if (strstr(text, key) == NULL)
                    missing++;
            }
        }
        is_int(missing, 0, "themes/%s.theme sets every role", names[i]);
        if (i == 0 || i == 3) {
            struct ui_theme builtin;
            ui_theme_builtin(&builtin, i == 3);
            ok(memcmp(builtin.style, t.style, sizeof t.style) == 0,
               "the built-in %s theme says what themes/%s.theme says", names[i], names[i]);
        }
    }

    struct ui_theme t;
    ui_theme_builtin(&t, false);
    struct ui_theme before = t;
    err.msg[0] = '\0';
    int rc =
        ui_theme_parse(&t, "# comment\n\nnormal = red\ntitle = purple default\n", "x.theme", &err);
    is_int(rc, -1, "an unknown colour is an error");
    ok(strstr(err.msg, "x.theme:4:") != NULL && strstr(err.msg, "purple") != NULL,
       "naming the file, the line and the word: %s", err.msg);
    ok(memcmp(&before, &t, sizeof t) == 0, "and the theme is left as it was");
    rc = ui_theme_parse(&t, "nosuchrole = red\n", "y.theme", &err);
    ok(rc == -1 && strstr(err.msg, "y.theme:1: unknown role 'nosuchrole'") != NULL,
       "an unknown role: %s", err.msg);
    rc = ui_theme_parse(&t, "title red\n", "z.theme", &err);
    ok(rc == -1 && strstr(err.msg, "z.theme:1:") != NULL, "a line without '='");
    rc = ui_theme_parse(&t, "title = 300\n", "z.theme", &err);
    is_int(rc, -1, "a colour beyond 255");
    rc = ui_theme_parse(&t, "title = 202 17 bold underline\nborder = yellow dim\n", "ok.theme",
                        &err);
    is_int(rc, 0, "256-colour numbers and attributes, with or without a background");
    ok(t.style[ROLE_TITLE].fg == 202 && t.style[ROLE_TITLE].bg == 17 &&
           (t.style[ROLE_TITLE].attrs & A_BOLD) && (t.style[ROLE_TITLE].attrs & A_UNDERLINE),
       "and they are read right");
    ok(t.style[ROLE_BORDER].fg == COLOR_YELLOW && t.style[ROLE_BORDER].bg == -1 &&
           (t.style[ROLE_BORDER].attrs & A_DIM),
       "a foreground alone leaves the background the default");

    rc = ui_theme_load(&t, "no-such-theme", &err);
    ok(rc == -1 && strstr(err.msg, "not found") != NULL, "an unknown theme name: %s", err.msg);
    ok(strcmp(t.name, "default") == 0, "falls back to the default");
    rc = ui_theme_load(&t, "bad name!", &err);
    ok(rc == -1 && strstr(err.msg, "a theme is a name") != NULL, "a name that is not a name");
    rc = ui_theme_load(&t, "mono", &err);
    is_int(rc, 0, "mono is always there (built in when no file is found)");
    char fifo[64];
    snprintf(fifo, sizeof fifo, "/tmp/kiln-theme-fifo.%d", (int)getpid());
    if (mkfifo(fifo, 0600) == 0) {
        rc = ui_theme_load(&t, fifo, &err);
        ok(rc == -1 && strstr(err.msg, "not a regular file") != NULL,
           "a FIFO as the theme is refused at once: %s", err.msg);
        unlink(fifo);
    }
}

static void test_keys(void)
{
    int codes[4];
    is_int(ui_key_parse("q", codes), 1, "a letter is a key");
    is_int(codes[0], 'q', "itself");
    is_int(ui_key_parse("C-c", codes), 1, "C-c");
    is_int(codes[0], 3, "is 3");
    is_int(ui_key_parse("Enter", codes), 3, "Enter is CR, LF and KEY_ENTER");
    is_int(ui_key_parse("PgDn", codes), 1, "PgDn");
    is_int(codes[0], KEY_NPAGE, "is KEY_NPAGE");
    is_int(ui_key_parse("F12", codes), 1, "F12");
    is_int(ui_key_parse("F13", codes), 0, "F13 is not a key");
    is_int(ui_key_parse("Ctrl-c", codes), 0, "unknown names are refused");
    is_int(ui_key_parse("", codes), 0, "so is nothing");

    char name[16];
    ui_key_name(3, name, sizeof name);
    is_str(name, "C-c", "3 is named C-c");
    ui_key_name('\r', name, sizeof name);
    is_str(name, "Enter", "CR is Enter");
    ui_key_name(KEY_BTAB, name, sizeof name);
    is_str(name, "S-Tab", "KEY_BTAB is S-Tab");

    ui_keys_defaults();
    is_int(ui_keys_lookup('j'), ACT_MOVE_DOWN, "j moves down");
    is_int(ui_keys_lookup('J'), ACT_VIEW_JOBS, "J is the Jobs view");
    is_int(ui_keys_lookup('v'), ACT_VIEW_EVENTS, "v the Events view");
    is_int(ui_keys_lookup('d'), ACT_DEPLOY, "d deploys");
    ok(ui_action_mutating(ACT_DEPLOY) && !ui_action_mutating(ACT_MOVE_DOWN),
       "deploy changes things, moving does not");
    char keys[64];
    ui_keys_describe(ACT_MOVE_DOWN, keys, sizeof keys);
    is_str(keys, "j, Down", "the Help view's key list");
    ui_keys_describe(ACT_ENTER, keys, sizeof keys);
    is_str(keys, "Enter", "Enter once, for its three codes");

    struct kiln_err err = {0};
    is_int(ui_keys_bind("quit", "C-c", &err), 0, "binding quit to C-c");
    is_int(ui_keys_lookup(3), ACT_QUIT, "takes");
    is_int(ui_keys_lookup('q'), ACT_QUIT, "and q still quits");
    is_int(ui_keys_bind("quit", "\";\"", &err), 0, "a quoted key");
    is_int(ui_keys_lookup(';'), ACT_QUIT, "is unquoted");
    is_int(ui_keys_bind("frobnicate", "x", &err), -1, "an unknown action is refused");
    is_int(ui_keys_bind("quit", "Hyper-x", &err), -1, "an unknown key is refused");

    struct kiln_keybinding kb[] = {{"help", "F2", 3}, {"nope", "x", 4}, {"deploy", "Z", 5}};
    struct kiln_config cfg;
    kiln_config_defaults(&cfg);
    cfg.keys = kb;
    cfg.n_keys = 3;
    cfg.source = "/home/u/.config/kiln/config";
    is_int(ui_keys_apply_config(&cfg, &err), -1, "a bad [keys] line is reported");
    ok(strstr(err.msg, "/home/u/.config/kiln/config:4:") != NULL && strstr(err.msg, "nope"),
       "with the file and line: %s", err.msg);
    is_int(ui_keys_lookup(KEY_F(2)), ACT_VIEW_HELP, "the good lines still apply");
    is_int(ui_keys_lookup('Z'), ACT_DEPLOY, "before and after it");
}

static struct kiln_event ev(uint64_t seq, const char *type, const char *inst, const char *cause,
                            const char *msg, int64_t rec)
{
    struct kiln_event e;
    memset(&e, 0, sizeof e);
    e.seq = seq;
    e.time_us = (int64_t)time(NULL) * 1000000 + (int64_t)seq;
    snprintf(e.type, sizeof e.type, "%s", type);
    snprintf(e.group, sizeof e.group, "hello-world-test-v001");
    snprintf(e.instance, sizeof e.instance, "%s", inst);
    snprintf(e.cause, sizeof e.cause, "%s", cause);
    snprintf(e.message, sizeof e.message, "%s", msg);
    e.recovery_ms = rec;
    return e;
}

static void test_events(void)
{
    struct ui_evlist l;
    ui_evlist_init(&l, 8);
    struct kiln_event e;
    e = ev(1, "terminate", "i-00000001", "chaos", "chaos killed i-00000001", -1);
    ui_evlist_add(&l, &e);
    e = ev(2, "launch", "i-00000002", "",
           "launched i-00000002 of g on port 1 (pid 9), replacing "
           "i-00000001",
           -1);
    ui_evlist_add(&l, &e);
    const struct ui_event *t = ui_evlist_at(&l, 0);
    is_str(t->cluster, "hello-world-test", "the cluster comes from the group name");
    is_str(t->replacement, "i-00000002", "a launch 'replacing X' names X's replacement");
    is_int(t->recovery_ms, -1, "not recovered yet");
    e = ev(3, "recovered", "i-00000002", "",
           "g recovered: i-00000002 replaced i-00000001 (chaos) and is healthy 1.5s after", 1500);
    ui_evlist_add(&l, &e);
    is_int(t->recovery_ms, 1500, "'recovered' gives the termination its time to recover");
    e = ev(4, "terminate", "i-00000003", "user", "i-00000003 terminated (user)", -1);
    ui_evlist_add(&l, &e);
    e = ev(5, "recovered", "i-00000004", "", "recovered, the replaced one in its own field", 500);
    snprintf(e.replaces, sizeof e.replaces, "i-00000003");
    ui_evlist_add(&l, &e);
    is_int(ui_evlist_at(&l, 3)->recovery_ms, 500, "a recovery names what it replaced");
    is_str(ui_evlist_at(&l, 3)->replacement, "i-00000004", "which gets its replacement");
    ok(ui_event_is_chaos(ui_evlist_at(&l, 0)) && !ui_event_is_chaos(ui_evlist_at(&l, 3)),
       "chaos kills are told from other terminations");

    struct ui_cluster_summary *sum = NULL;
    size_t n = ui_evlist_summary(&l, (int64_t)time(NULL) * 1000000, &sum);
    is_int(n, 1, "one cluster in the summary");
    is_int(sum[0].kills_today, 1, "one kill today");
    is_int(sum[0].terminations, 2, "two terminations");
    is_int(sum[0].recoveries, 2, "two recoveries");
    is_int(sum[0].ttr_sum_ms / sum[0].recoveries, 1000, "mean time to recover");
    free(sum);

    for (uint64_t s = 6; s < 20; s++) {
        e = ev(s, "health", "i-00000002", "", "health flip", -1);
        ui_evlist_add(&l, &e);
    }
    is_int(ui_evlist_count(&l), 8, "the list keeps its capacity, newest");
    is_int(ui_evlist_at(&l, 7)->seq, 19, "the newest is last");
    is_int(l.last_seq, 19, "and the seq to resume from");
    ui_evlist_free(&l);
}

static void test_loglist(void)
{
    struct ui_loglist l;
    ui_loglist_init(&l, 3);
    uint64_t s1 = ui_loglist_add(&l, 0, 0, KILN_LOG_INFO, "kiln", "one");
    ui_loglist_add(&l, 7, 0, KILN_LOG_WARN, "deploy", "two\x1b[31m red");
    const struct ui_logline *x = ui_loglist_get(&l, s1 + 1);
    ok(x != NULL && strstr(x->text, "deploy#7 two?[31m red") != NULL,
       "lines get their prefix and lose their escapes: %s", x ? x->text : "");
    is_int(x->job, 7, "and keep their job");
    ui_loglist_add(&l, 0, 0, KILN_LOG_INFO, "kiln", "three");
    ui_loglist_add(&l, 0, 0, KILN_LOG_INFO, "kiln", "four");
    ok(ui_loglist_get(&l, s1) == NULL, "the oldest goes when the list is full");
    is_int(ui_loglist_last(&l), 4, "seqs go on");
    ui_loglist_free(&l);

    int w;
    bool wide;
    char *c = ui_clean("a\tb\x07\xff\xe2\x80\xaeok \xe2\x94\x80", 15, &w, &wide);
    is_str(c, "a   b???ok \xe2\x94\x80", "ui_clean: tabs, controls, bad bytes, bidi overrides");
    is_int(w, 12, "and measures the width");
    free(c);
}

static void test_release(void)
{
    char b[256];
    ui_package_release("hello-world-1.0.3-7.x86_64", "hello-world", b, sizeof b);
    is_str(b, "1.0.3-7", "the Groups pane shows version-release of the app's package");
    ui_package_release("hello-world-2.0-12", "hello-world", b, sizeof b);
    is_str(b, "2.0-12", "without an arch too");
    ui_package_release("hello-1.0-1.noarch", "hello-world", b, sizeof b);
    is_str(b, "hello-1.0-1.noarch", "another package's name is shown whole");
    ui_package_release("", "hello-world", b, sizeof b);
    is_str(b, "-", "no package: -");
    ui_package_release("hello-world-", "hello-world", b, sizeof b);
    is_str(b, "hello-world-", "a name that is only the app's is shown as it is");
}

int main(void)
{
    setlocale(LC_ALL, "C.UTF-8");
    ui_draw_init(true, false);
    test_split();
    test_themes();
    test_keys();
    test_events();
    test_loglist();
    test_release();
    return done_testing();
}
