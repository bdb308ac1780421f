/* kiln console: theme files and the colour of each role (see theme.h).
 *
 * A theme file has one role per line, `role = FOREGROUND [BACKGROUND] [attr...]`,
 * '#' comments and blank lines. Parsing knows nothing of the terminal; applying
 * maps the colours onto what the terminal has, so a 256-colour theme still works
 * (with default colours) on an 8-colour terminal. */
#include "console/theme.h"

#include "kiln/atomic_file.h"
#include "kiln/strbuf.h"
#include "kiln/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef KILN_DATADIR
#define KILN_DATADIR "/usr/local/share/kiln"
#endif

/* Theme files are a few dozen lines; anything much larger is not a theme. */
#define THEME_FILE_MAX (64 * 1024)

attr_t ui_colors[UI_ROLE_COUNT];

#define UI_ROLE_NAME_(id, name) name,
static const char *const role_names[UI_ROLE_COUNT] = {UI_ROLES(UI_ROLE_NAME_)};
#undef UI_ROLE_NAME_

/* Compiled-in copies of themes/default.theme and themes/mono.theme (a unit test
 * checks they say the same), so the console has colours even when no theme file
 * is installed. */
static const char builtin_default[] = "normal         = default default\n"
                                      "title          = cyan default bold\n"
                                      "border         = blue default\n"
                                      "border.focus   = cyan default bold\n"
                                      "selection      = black cyan\n"
                                      "status         = black blue\n"
                                      "status.readonly = white red bold\n"
                                      "health.ok      = green default\n"
                                      "health.bad     = red default bold\n"
                                      "health.unknown = yellow default\n"
                                      "group.enabled  = green default bold\n"
                                      "group.disabled = default default dim\n"
                                      "log.debug      = default default dim\n"
                                      "log.info       = default default\n"
                                      "log.warn       = yellow default\n"
                                      "log.error      = red default bold\n"
                                      "event.chaos    = magenta default bold\n"
                                      "progress       = black green\n"
                                      "prompt         = default default\n"
                                      "dialog         = default default\n"
                                      "dialog.danger  = white red bold\n";

static const char builtin_mono[] = "normal         = default default\n"
                                   "title          = default default bold\n"
                                   "border         = default default\n"
                                   "border.focus   = default default bold\n"
                                   "selection      = default default reverse\n"
                                   "status         = default default reverse\n"
                                   "status.readonly = default default reverse bold\n"
                                   "health.ok      = default default\n"
                                   "health.bad     = default default bold\n"
                                   "health.unknown = default default dim\n"
                                   "group.enabled  = default default bold\n"
                                   "group.disabled = default default dim\n"
                                   "log.debug      = default default dim\n"
                                   "log.info       = default default\n"
                                   "log.warn       = default default bold\n"
                                   "log.error      = default default bold underline\n"
                                   "event.chaos    = default default reverse\n"
                                   "progress       = default default reverse\n"
                                   "prompt         = default default\n"
                                   "dialog         = default default\n"
                                   "dialog.danger  = default default reverse bold\n";

static const char *const colour_names[] = {"black", "red",     "green", "yellow",
                                           "blue",  "magenta", "cyan",  "white"};

static const struct {
    const char *name;
    attr_t attr;
} attr_names[] = {
    {"bold", A_BOLD},           {"dim", A_DIM},       {"reverse", A_REVERSE},
    {"underline", A_UNDERLINE}, {"blink", A_BLINK},   {"standout", A_STANDOUT},
    {"italic", A_ITALIC},       {"normal", A_NORMAL},
};

const char *ui_role_name(enum ui_role role)
{
    return (unsigned)role < UI_ROLE_COUNT ? role_names[role] : "?";
}

static bool parse_colour(const char *w, short *out)
{
    if (strcmp(w, "default") == 0) {
        *out = -1;
        return true;
    }
    for (size_t i = 0; i < sizeof colour_names / sizeof colour_names[0]; i++)
        if (strcmp(w, colour_names[i]) == 0) {
            *out = (short)i;
            return true;
        }
    if (!isdigit((unsigned char)w[0]) || strlen(w) > 3)
        return false;
    char *end;
    long v = strtol(w, &end, 10);
    if (*end != '\0' || v < 0 || v > 255)
        return false;
    *out = (short)v;
    return true;
}

static bool parse_attr(const char *w, attr_t *out)
{
    for (size_t i = 0; i < sizeof attr_names / sizeof attr_names[0]; i++)
        if (strcmp(w, attr_names[i].name) == 0) {
            *out |= attr_names[i].attr;
            return true;
        }
    return false;
}

static int find_role(const char *name)
{
    for (int i = 0; i < UI_ROLE_COUNT; i++)
        if (strcmp(role_names[i], name) == 0)
            return i;
    return -1;
}

/* One "role = fg [bg] [attrs]" line (comments and blanks already skipped). */
static int parse_line(struct ui_theme *t, char *line, const char *file, int lineno,
                      struct kiln_err *err)
{
    char *eq = strchr(line, '=');
    if (eq == NULL)
        return kiln_err_set(err, KILN_E_INVALID,
                            "%s:%d: expected 'role = FOREGROUND [BACKGROUND] [attributes]'", file,
                            lineno);
    *eq = '\0';
    char *name = line + strspn(line, " \t");
    size_t n = strlen(name);
    while (n > 0 && isspace((unsigned char)name[n - 1]))
        name[--n] = '\0';
    int role = find_role(name);
    if (role < 0)
        return kiln_err_set(err, KILN_E_INVALID,
                            "%s:%d: unknown role '%.40s' (the roles are listed in "
                            "themes/default.theme)",
                            file, lineno, name);

    struct ui_style st = {-1, -1, A_NORMAL};
    int words = 0;
    char *save = NULL;
    for (char *w = strtok_r(eq + 1, " \t\r", &save); w != NULL;
         w = strtok_r(NULL, " \t\r", &save)) {
        short c;
        if (words < 2 && parse_colour(w, &c)) {
            if (words == 0)
                st.fg = c;
            else
                st.bg = c;
            words++;
            continue;
        }
        if (words == 0)
            return kiln_err_set(err, KILN_E_INVALID,
                                "%s:%d: %s: '%.40s' is not a colour (use default, black, red, "
                                "green, yellow, blue, magenta, cyan, white or 0-255)",
                                file, lineno, name, w);
        words = 2; /* attributes may follow the foreground alone */
        if (!parse_attr(w, &st.attrs))
            return kiln_err_set(err, KILN_E_INVALID,
                                "%s:%d: %s: '%.40s' is neither a colour nor an attribute (bold, "
                                "dim, reverse, underline, blink, standout, italic)",
                                file, lineno, name, w);
    }
    if (words == 0)
        return kiln_err_set(err, KILN_E_INVALID, "%s:%d: %s: no colour given", file, lineno, name);
    t->style[role] = st;
    return 0;
}

int ui_theme_parse(struct ui_theme *theme, const char *text, const char *file, struct kiln_err *err)
{
    struct ui_theme t = *theme;
    char *copy = xstrdup(text);
    int lineno = 0, rc = 0;
    /* strtok_r would skip empty lines and break the numbering: walk by hand. */
    for (char *line = copy, *next; line != NULL && rc == 0; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        lineno++;
        char *hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        char *p = line + strspn(line, " \t\r");
        if (*p == '\0')
            continue;
        rc = parse_line(&t, p, file, lineno, err);
    }
    free(copy);
    if (rc == 0)
        *theme = t;
    return rc;
}

void ui_theme_builtin(struct ui_theme *theme, bool mono)
{
    memset(theme, 0, sizeof *theme);
    for (int i = 0; i < UI_ROLE_COUNT; i++)
        theme->style[i] = (struct ui_style){-1, -1, A_NORMAL};
    snprintf(theme->name, sizeof theme->name, "%s", mono ? "mono" : "default");
    /* Cannot fail: the unit test parses both. */
    (void)ui_theme_parse(theme, mono ? builtin_mono : builtin_default, theme->name, NULL);
}

/* Reads a whole (small) file; NULL with err. */
static char *read_theme_file(const char *path, struct kiln_err *err)
{
    int fd = kiln_open_regular(path);
    if (fd < 0 && errno == ENODEV)
        return kiln_err_set(err, KILN_E_INVALID,
                            "theme file %s is not a regular file (a FIFO, socket or device)", path),
               NULL;
    FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
    if (f == NULL) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return kiln_err_sys(err, e, "cannot read theme file %s", path), NULL;
    }
    char *buf = xmalloc(THEME_FILE_MAX + 1);
    size_t n = fread(buf, 1, THEME_FILE_MAX + 1, f);
    bool bad = ferror(f);
    fclose(f);
    if (bad || n > THEME_FILE_MAX) {
        free(buf);
        kiln_err_set(err, KILN_E_INVALID, "%s: %s", path,
                     bad ? "read error" : "too big for a theme file (64 KiB at most)");
        return NULL;
    }
    if (memchr(buf, '\0', n) != NULL) {
        free(buf);
        kiln_err_set(err, KILN_E_INVALID, "%s: not a text file", path);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* The directory of the running binary, for themes/ in the build tree. */
static bool exe_dir(char *buf, size_t n)
{
    ssize_t len = readlink("/proc/self/exe", buf, n - 1);
    if (len <= 0)
        return false;
    buf[len] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash == NULL)
        return false;
    *slash = '\0';
    return true;
}

static bool theme_name_ok(const char *name)
{
    if (name[0] == '\0' || name[0] == '.' || strlen(name) > 48)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return false;
    return true;
}

int ui_theme_load(struct ui_theme *theme, const char *name, struct kiln_err *err)
{
    ui_theme_builtin(theme, false);
    if (name == NULL || name[0] == '\0')
        name = "default";

    char path[PATH_MAX];
    struct kiln_strbuf tried = KILN_STRBUF_INIT;
    bool found = false;
    if (strchr(name, '/') != NULL) {
        snprintf(path, sizeof path, "%s", name);
        found = true;
    } else if (!theme_name_ok(name)) {
        return kiln_err_set(err, KILN_E_INVALID,
                            "theme '%.60s': a theme is a name such as 'light' or a path to a "
                            "file; using the default theme",
                            name);
    } else {
        char dirs[4][PATH_MAX];
        int nd = 0;
        const char *env = getenv("KILN_THEME_DIR");
        if (env != NULL && env[0] != '\0')
            snprintf(dirs[nd++], PATH_MAX, "%s", env);
        char exe[PATH_MAX];
        if (exe_dir(exe, sizeof exe))
            snprintf(dirs[nd++], PATH_MAX, "%.*s/themes", PATH_MAX - 16, exe);
        snprintf(dirs[nd++], PATH_MAX, "%s/themes", KILN_DATADIR);
        /* Last, ./themes: running from a source tree whose binary is elsewhere. */
        snprintf(dirs[nd++], PATH_MAX, "themes");
        /* The same directory twice (KILN_THEME_DIR set to the build tree's) once;
         * the order stays. */
        for (int i = 1; i < nd; i++)
            for (int j = 0; j < i; j++)
                if (strcmp(dirs[i], dirs[j]) == 0) {
                    memmove(dirs[i], dirs[i + 1], (size_t)(nd - i - 1) * PATH_MAX);
                    nd--;
                    i--;
                    break;
                }
        for (int i = 0; i < nd && !found; i++) {
            snprintf(path, sizeof path, "%.*s/%s.theme", PATH_MAX - 64, dirs[i], name);
            if (access(path, F_OK) == 0)
                found = true;
            else
                kiln_strbuf_appendf(&tried, "%s%s", tried.len ? ", " : "", dirs[i]);
        }
    }
    if (!found) {
        int rc = 0;
        if (strcmp(name, "default") == 0 || strcmp(name, "mono") == 0)
            ui_theme_builtin(theme, strcmp(name, "mono") == 0);
        else
            rc = kiln_err_set(err, KILN_E_NOTFOUND,
                              "theme '%s' not found (looked in %.600s); using the default theme",
                              name, kiln_strbuf_str(&tried));
        kiln_strbuf_free(&tried);
        return rc;
    }
    kiln_strbuf_free(&tried);

    char *text = read_theme_file(path, err);
    if (text == NULL) {
        kiln_err_prefix(err, "theme '%.60s'", name);
        return -1;
    }
    int rc = ui_theme_parse(theme, text, path, err);
    free(text);
    if (rc < 0) {
        size_t l = strlen(err->msg);
        snprintf(err->msg + l, sizeof err->msg - l, "; using the default theme");
        return -1;
    }
    const char *base = strrchr(name, '/');
    snprintf(theme->name, sizeof theme->name, "%s", base ? base + 1 : name);
    return 0;
}

/* A colour the terminal has, else the default colour. */
static short usable(short c)
{
    return c >= 0 && c < COLORS ? c : -1;
}

void ui_theme_apply(const struct ui_theme *theme, bool color)
{
    if (!color) {
        struct ui_theme mono;
        ui_theme_builtin(&mono, true);
        for (int i = 0; i < UI_ROLE_COUNT; i++)
            ui_colors[i] = mono.style[i].attrs;
        return;
    }
    for (int i = 0; i < UI_ROLE_COUNT; i++) {
        const struct ui_style *s = &theme->style[i];
        if (i + 1 < COLOR_PAIRS && init_pair((short)(i + 1), usable(s->fg), usable(s->bg)) == OK)
            ui_colors[i] = s->attrs | COLOR_PAIR(i + 1);
        else
            ui_colors[i] = s->attrs;
    }
}
