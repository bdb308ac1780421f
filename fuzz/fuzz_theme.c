/* fuzz: console theme files (ui_theme_parse in src/console/theme.c), which users write
 * and share.
 *
 * The input is applied on top of the built-in default theme. Checked besides "no crash,
 * no leak": a refusal is KILN_E_INVALID with a message and leaves the theme as it was
 * (theme.h); an accepted theme has every colour in -1..255; the same text applied to
 * its own result changes nothing more.
 */
#include "fuzz.h"

#include "console/theme.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    char *text = fuzz_cstr(data, size);
    struct ui_theme theme, before;
    struct kiln_err err = {0};
    ui_theme_builtin(&theme, false);
    before = theme;

    if (ui_theme_parse(&theme, text, "fuzz.theme", &err) < 0) {
        if (err.code != KILN_E_INVALID || err.msg[0] == '\0')
            fuzz_fail("refusal with code %d and message \"%s\"", err.code, err.msg);
        if (memcmp(&theme, &before, sizeof theme) != 0)
            fuzz_fail("a refused theme changed the theme");
    } else {
        for (int i = 0; i < UI_ROLE_COUNT; i++) {
            const struct ui_style *s = &theme.style[i];
            if (s->fg < -1 || s->fg > 255 || s->bg < -1 || s->bg > 255)
                fuzz_fail("%s: colours %d/%d", ui_role_name(i), s->fg, s->bg);
        }
        struct ui_theme again = theme;
        if (ui_theme_parse(&again, text, "fuzz.theme", &err) < 0 ||
            memcmp(&again, &theme, sizeof theme) != 0)
            fuzz_fail("the same theme applied twice gives another result");
    }
    free(text);
    return 0;
}
