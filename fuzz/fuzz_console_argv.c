/* fuzz: the console's `:` line: ui_split (src/console/argv.c), shell-like quoting with no
 * shell, then the words through kiln_args_parse as the console runs a command.
 *
 * Checked besides "no crash, no leak": a refusal is a usage error with a message; the
 * lenient split (completion's) never refuses; ui_quote_word gives back each word
 * unchanged through ui_split (argv.h), whatever bytes it holds; the words then parse
 * against the command they name (or one picked by the first byte), as in fuzz_args.
 */
#include "fuzz.h"

#include "console/argv.h"
#include "kiln/command.h"
#include "kiln/context.h"
#include "kiln/strbuf.h"

static void check_round_trip(const struct ui_words *w)
{
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    for (int i = 0; i < w->argc; i++) {
        if (i > 0)
            kiln_strbuf_appendc(&sb, ' ');
        ui_quote_word(&sb, w->argv[i]);
    }
    struct ui_words back;
    struct kiln_err err = {0};
    if (ui_split(kiln_strbuf_str(&sb), false, &back, &err) < 0)
        fuzz_fail("quoted words do not split: %s\n--- line: %s", err.msg, kiln_strbuf_str(&sb));
    if (back.argc != w->argc)
        fuzz_fail("%d words quoted, %d split back from: %s", w->argc, back.argc,
                  kiln_strbuf_str(&sb));
    for (int i = 0; i < w->argc; i++)
        if (strcmp(back.argv[i], w->argv[i]) != 0)
            fuzz_fail("word %d \"%s\" came back as \"%s\"", i, w->argv[i], back.argv[i]);
    if (back.argv[back.argc] != NULL)
        fuzz_fail("argv is not NULL-terminated");
    ui_words_free(&back);
    kiln_strbuf_free(&sb);
}

static void parse_as_command(const struct ui_words *w)
{
    if (w->argc == 0)
        return;
    int n_cmds = 0;
    while (kiln_commands[n_cmds] != NULL)
        n_cmds++;
    const struct kiln_cmd *cmd = kiln_command_find(w->argv[0]);
    if (cmd == NULL)
        cmd = kiln_commands[(unsigned char)w->argv[0][0] % n_cmds];
    struct kiln_ctx ctx;
    kiln_ctx_init(&ctx);
    struct kiln_args args;
    struct kiln_err err = {0};
    if (kiln_args_parse(cmd, &ctx, w->argc - 1, w->argv + 1, &args, &err) < 0 &&
        (err.code != KILN_E_USAGE || err.msg[0] == '\0'))
        fuzz_fail("%s: refusal with code %d", cmd->name, err.code);
    kiln_ctx_free(&ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16 * 1024)
        return 0;
    char *line = fuzz_cstr(data, size);
    struct ui_words w;
    struct kiln_err err = {0};

    if (ui_split(line, false, &w, &err) < 0) {
        if (err.code != KILN_E_USAGE || err.msg[0] == '\0' || w.argv != NULL)
            fuzz_fail("refusal with code %d and message \"%s\"", err.code, err.msg);
    } else {
        check_round_trip(&w);
        parse_as_command(&w);
        ui_words_free(&w);
    }

    if (ui_split(line, true, &w, &err) < 0)
        fuzz_fail("the lenient split refused: %s", err.msg);
    check_round_trip(&w);
    ui_words_free(&w);
    free(line);
    return 0;
}
