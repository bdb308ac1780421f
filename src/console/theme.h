/* kiln console: colours by role (htop's ColorElements). Drawing code only ever says
 * ui_colors[ROLE_...]; a theme file says what each role looks like. */
#ifndef KILN_CONSOLE_THEME_H
#define KILN_CONSOLE_THEME_H

#include "console/cursesw.h"

#include <stdbool.h>

#include "kiln/err.h"

/* Every role a theme can set, with its name in theme files. The order is the
 * order of themes/default.theme. */
#define UI_ROLES(X)                                                                                \
    X(NORMAL, "normal")                                                                            \
    X(TITLE, "title")                                                                              \
    X(BORDER, "border")                                                                            \
    X(BORDER_FOCUS, "border.focus")                                                                \
    X(SELECTION, "selection")                                                                      \
    X(STATUS, "status")                                                                            \
    X(STATUS_READONLY, "status.readonly")                                                          \
    X(HEALTH_OK, "health.ok")                                                                      \
    X(HEALTH_BAD, "health.bad")                                                                    \
    X(HEALTH_UNKNOWN, "health.unknown")                                                            \
    X(GROUP_ENABLED, "group.enabled")                                                              \
    X(GROUP_DISABLED, "group.disabled")                                                            \
    X(LOG_DEBUG, "log.debug")                                                                      \
    X(LOG_INFO, "log.info")                                                                        \
    X(LOG_WARN, "log.warn")                                                                        \
    X(LOG_ERROR, "log.error")                                                                      \
    X(EVENT_CHAOS, "event.chaos")                                                                  \
    X(PROGRESS, "progress")                                                                        \
    X(PROMPT, "prompt")                                                                            \
    X(DIALOG, "dialog")                                                                            \
    X(DIALOG_DANGER, "dialog.danger")

#define UI_ROLE_ENUM_(id, name) ROLE_##id,
enum ui_role { UI_ROLES(UI_ROLE_ENUM_) UI_ROLE_COUNT };
#undef UI_ROLE_ENUM_

/* What the current theme gives each role, as curses attributes (colour pair
 * included). Filled by ui_theme_apply; read by the UI thread only. */
extern attr_t ui_colors[UI_ROLE_COUNT];

/* -1 is the terminal's default colour. */
struct ui_style {
    short fg, bg;
    attr_t attrs;
};

struct ui_theme {
    char name[64];
    struct ui_style style[UI_ROLE_COUNT];
};

const char *ui_role_name(enum ui_role role);

/* The built-in themes, compiled in so that the console always has one: "default"
 * (the same as themes/default.theme) and "mono" (what NO_COLOR gives). */
void ui_theme_builtin(struct ui_theme *theme, bool mono);

/* Applies theme text on top of *theme: roles the text leaves out keep what they
 * had. `file` names the text in messages ("themes/x.theme:12: ..."). On error the
 * theme is unchanged. */
int ui_theme_parse(struct ui_theme *theme, const char *text, const char *file,
                   struct kiln_err *err);

/* Loads theme `name`: a path when it contains a '/', else NAME.theme from
 * $KILN_THEME_DIR, then themes/ next to the kiln binary (the build tree), then
 * KILN_DATADIR/themes. "default" and "mono" fall back to the built-in copies. On
 * error *theme is the built-in default and err says which file and line failed. */
int ui_theme_load(struct ui_theme *theme, const char *name, struct kiln_err *err);

/* Makes `theme` current: sets up the colour pairs and fills ui_colors. Without
 * colour (NO_COLOR, or a terminal without colours) the built-in mono theme's
 * attributes are used whatever the theme says. Needs curses started. */
void ui_theme_apply(const struct ui_theme *theme, bool color);

#endif
