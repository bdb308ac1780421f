/* Tests for sh quoting and shell-word splitting (kiln_sh_*): quoting must round-trip
 * through a real sh and through kiln_sh_split, and splitting must follow the quoting
 * rules the console's `:` prompt documents. */
#include "kiln/shellwords.h"

#include <stdlib.h>
#include <string.h>

#include "kiln/spawn.h"
#include "tap.h"

static const char *const words[] = {"plain",       "",      "two words",  "it's",  "\"dq\"",
                                    "back\\slash", "$HOME", "`id`",       "a\nb",  "tab\there",
                                    "*",           "~",     "semi;colon", "'",     "''",
                                    "x'y'z",       "-n",    "é ü",        "!bang", NULL};

static char *quoted(void (*quote)(struct kiln_strbuf *, const char *), const char *w)
{
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    quote(&sb, w);
    return kiln_strbuf_detach(&sb, NULL);
}

static void test_quote(void)
{
    char *q = quoted(kiln_sh_quote, "it's");
    is_str(q, "'it'\\''s'", "a ' inside single quotes becomes '\\''");
    free(q);
    q = quoted(kiln_sh_quote, "");
    is_str(q, "''", "the empty word is ''");
    free(q);
    q = quoted(kiln_sh_word, "a/b.c-d_e:f=g,h@i%j+k");
    is_str(q, "a/b.c-d_e:f=g,h@i%j+k", "a word sh keeps as is stays unquoted");
    free(q);
    q = quoted(kiln_sh_word, "a b");
    is_str(q, "'a b'", "a word with a blank is quoted");
    free(q);
    q = quoted(kiln_sh_word, "");
    is_str(q, "''", "and so is the empty word");
    free(q);
}

struct lines {
    struct kiln_strbuf all;
};

static void keep(void *ctx, enum kiln_stream stream, const char *line)
{
    struct lines *l = ctx;
    if (stream == KILN_STREAM_STDOUT) {
        kiln_strbuf_append(&l->all, line);
        kiln_strbuf_appendc(&l->all, '\n');
    }
}

/* What sh makes of the quoted words: printf prints each between < and >. */
static void test_round_trip_sh(void (*quote)(struct kiln_strbuf *, const char *), const char *what)
{
    struct kiln_strbuf script = KILN_STRBUF_INIT, want = KILN_STRBUF_INIT;
    kiln_strbuf_append(&script, "printf '<%s>\\n'");
    for (size_t i = 0; words[i] != NULL; i++) {
        kiln_strbuf_appendc(&script, ' ');
        quote(&script, words[i]);
        kiln_strbuf_appendf(&want, "<%s>\n", words[i]);
    }
    struct lines got = {KILN_STRBUF_INIT};
    const char *argv[] = {"sh", "-c", kiln_strbuf_str(&script), NULL};
    struct kiln_spawn_opts o = {.argv = argv, .on_line = keep, .ctx = &got};
    int status = -1;
    struct kiln_err err = {0};
    ok(kiln_spawn_run(&o, &status, &err) == 0 && status == 0, "sh ran the %s words (%s)", what,
       err.msg);
    is_str(kiln_strbuf_str(&got.all), kiln_strbuf_str(&want), "sh reads every %s word back", what);
    kiln_strbuf_free(&script);
    kiln_strbuf_free(&want);
    kiln_strbuf_free(&got.all);
}

static void test_round_trip_split(void)
{
    struct kiln_strbuf line = KILN_STRBUF_INIT;
    size_t n = 0;
    for (; words[n] != NULL; n++) {
        kiln_strbuf_appendc(&line, ' ');
        kiln_sh_word(&line, words[n]);
    }
    int argc = 0;
    char **argv = NULL;
    struct kiln_err err = {0};
    is_int(kiln_sh_split(kiln_strbuf_str(&line), false, &argc, &argv, &err), 0,
           "kiln_sh_split takes the quoted words");
    is_int(argc, n, "one word each");
    bool same = argc == (int)n;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(argv[i], words[i]) == 0;
    ok(same && argv[argc] == NULL, "every word comes back as it was, then NULL");
    free(argv);
    kiln_strbuf_free(&line);
}

static void test_split(void)
{
    int argc;
    char **argv;
    struct kiln_err err = {0};
    is_int(kiln_sh_split("  deploy\thello  --env \"a \\\"b\\\" \\x\" c\\ d '' ", false, &argc,
                         &argv, &err),
           0, "a line with every kind of quoting splits");
    is_int(argc, 6, "into six words");
    if (argc == 6) {
        is_str(argv[0], "deploy", "blanks separate words");
        is_str(argv[3], "a \"b\" \\x", "in double quotes only \\\" \\\\ \\$ \\` are escapes");
        is_str(argv[4], "c d", "a backslash outside quotes escapes a blank");
        is_str(argv[5], "", "'' is an empty word");
    }
    free(argv);
    is_int(kiln_sh_split("   ", false, &argc, &argv, &err), 0, "a blank line splits");
    is_int(argc, 0, "into no words");
    free(argv);

    ok(kiln_sh_split("echo 'open", false, &argc, &argv, &err) < 0 && err.code == KILN_E_USAGE,
       "an unterminated single quote is an error");
    ok(strstr(err.msg, "single quote") != NULL, "that names the quote: %s", err.msg);
    ok(argv == NULL && argc == 0, "and leaves nothing to free");
    ok(kiln_sh_split("echo \\", false, &argc, &argv, &err) < 0, "a trailing backslash is an error");
    is_int(kiln_sh_split("deploy \"hel", true, &argc, &argv, &err), 0,
           "lenient: a half-typed quote is fine");
    ok(argc == 2 && strcmp(argv[1], "hel") == 0, "and the open word ends the line");
    free(argv);
}

int main(void)
{
    test_quote();
    test_round_trip_sh(kiln_sh_quote, "kiln_sh_quote");
    test_round_trip_sh(kiln_sh_word, "kiln_sh_word");
    test_round_trip_split();
    test_split();
    return done_testing();
}
