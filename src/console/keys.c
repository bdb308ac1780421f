/* kiln console: the action table and the key map (see keys.h). */
#include "console/keys.h"

#include <stdio.h>
#include <string.h>

struct action_row {
    const char *name;
    const char *keys;
    enum ui_action_group group;
    const char *help;
};

#define UI_ACTION_ROW_(id, name, keys, group, help) {name, keys, UI_GROUP_##group, help},
static const struct action_row actions[UI_ACTION_COUNT] = {{"none", "", UI_GROUP_MOVE, ""},
                                                           UI_ACTIONS(UI_ACTION_ROW_)};
#undef UI_ACTION_ROW_

static enum ui_action keymap[UI_KEYCODES];

/* Named keys other than printable ASCII and C-x. */
static const struct {
    const char *name;
    int code;
} named_keys[] = {
    {"Up", KEY_UP},
    {"Down", KEY_DOWN},
    {"Left", KEY_LEFT},
    {"Right", KEY_RIGHT},
    {"PgUp", KEY_PPAGE},
    {"PgDn", KEY_NPAGE},
    {"Home", KEY_HOME},
    {"End", KEY_END},
    {"Insert", KEY_IC},
    {"Delete", KEY_DC},
    {"Backspace", KEY_BACKSPACE},
    {"Tab", '\t'},
    {"S-Tab", KEY_BTAB},
    {"Esc", 27},
    {"Space", ' '},
};

const char *ui_action_name(enum ui_action a)
{
    return (unsigned)a < UI_ACTION_COUNT ? actions[a].name : "?";
}

const char *ui_action_help(enum ui_action a)
{
    return (unsigned)a < UI_ACTION_COUNT ? actions[a].help : "";
}

enum ui_action_group ui_action_group(enum ui_action a)
{
    return (unsigned)a < UI_ACTION_COUNT ? actions[a].group : UI_GROUP_MOVE;
}

bool ui_action_mutating(enum ui_action a)
{
    return ui_action_group(a) == UI_GROUP_CHANGE;
}

const char *ui_action_group_title(enum ui_action_group g)
{
    static const char *const titles[UI_GROUP_COUNT] = {"Moving around", "Views and tools",
                                                       "The log pane", "Changing things"};
    return (unsigned)g < UI_GROUP_COUNT ? titles[g] : "";
}

int ui_key_parse(const char *name, int codes[4])
{
    size_t len = strlen(name);
    if (len == 0)
        return 0;
    if (strcmp(name, "Enter") == 0) {
        codes[0] = '\r';
        codes[1] = '\n';
        codes[2] = KEY_ENTER;
        return 3;
    }
    if (strcmp(name, "Backspace") == 0) {
        codes[0] = KEY_BACKSPACE;
        codes[1] = 127;
        codes[2] = 8;
        return 3;
    }
    for (size_t i = 0; i < sizeof named_keys / sizeof named_keys[0]; i++)
        if (strcmp(name, named_keys[i].name) == 0) {
            codes[0] = named_keys[i].code;
            return 1;
        }
    if (len == 1 && name[0] > ' ' && name[0] < 127) {
        codes[0] = (unsigned char)name[0];
        return 1;
    }
    /* C-a .. C-z, and C-[ C-\ C-] C-^ C-_ */
    if (len == 3 && name[0] == 'C' && name[1] == '-') {
        char c = name[2];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c >= '@' && c <= '_') {
            codes[0] = c - '@';
            return 1;
        }
        return 0;
    }
    if (name[0] == 'F' && len <= 3) {
        int n = 0;
        for (size_t i = 1; i < len; i++) {
            if (name[i] < '0' || name[i] > '9')
                return 0;
            n = n * 10 + (name[i] - '0');
        }
        if (n >= 1 && n <= 12) {
            codes[0] = KEY_F(n);
            return 1;
        }
    }
    return 0;
}

void ui_key_name(int code, char *buf, size_t n)
{
    buf[0] = '\0';
    if (code == '\r' || code == '\n' || code == KEY_ENTER) {
        snprintf(buf, n, "Enter");
        return;
    }
    if (code == 127 || code == 8 || code == KEY_BACKSPACE) {
        snprintf(buf, n, "Backspace");
        return;
    }
    for (size_t i = 0; i < sizeof named_keys / sizeof named_keys[0]; i++)
        if (named_keys[i].code == code) {
            snprintf(buf, n, "%s", named_keys[i].name);
            return;
        }
    if (code > ' ' && code < 127)
        snprintf(buf, n, "%c", code);
    else if (code >= 0 && code < 32)
        snprintf(buf, n, "C-%c",
                 (char)(code + '@' >= 'A' && code + '@' <= 'Z' ? code + 'a' - 1 : code + '@'));
    else if (code >= KEY_F(1) && code <= KEY_F(12))
        snprintf(buf, n, "F%d", code - KEY_F(0));
}

static void bind_codes(enum ui_action a, const int *codes, int n)
{
    for (int i = 0; i < n; i++)
        if (codes[i] >= 0 && codes[i] < UI_KEYCODES)
            keymap[codes[i]] = a;
}

void ui_keys_defaults(void)
{
    memset(keymap, 0, sizeof keymap);
    for (int a = 1; a < UI_ACTION_COUNT; a++) {
        char keys[64];
        snprintf(keys, sizeof keys, "%s", actions[a].keys);
        char *save = NULL;
        for (char *k = strtok_r(keys, " ", &save); k != NULL; k = strtok_r(NULL, " ", &save)) {
            int codes[4];
            int n = ui_key_parse(k, codes);
            bind_codes((enum ui_action)a, codes, n);
        }
    }
}

static enum ui_action find_action(const char *name)
{
    for (int a = 1; a < UI_ACTION_COUNT; a++)
        if (strcmp(actions[a].name, name) == 0)
            return (enum ui_action)a;
    return ACT_NONE;
}

int ui_keys_bind(const char *action, const char *key, struct kiln_err *err)
{
    enum ui_action a = find_action(action);
    if (a == ACT_NONE)
        return kiln_err_set(err, KILN_E_INVALID,
                            "unknown action '%.40s' (the console's Help, key ?, lists them)",
                            action);
    /* The config may quote a key, as it must for ';' or '#'. */
    char k[32];
    size_t len = strlen(key);
    if (len >= 2 && (key[0] == '"' || key[0] == '\'') && key[len - 1] == key[0])
        snprintf(k, sizeof k, "%.*s", (int)(len - 2), key + 1);
    else
        snprintf(k, sizeof k, "%s", key);
    int codes[4];
    int n = ui_key_parse(k, codes);
    if (n == 0)
        return kiln_err_set(err, KILN_E_INVALID,
                            "unknown key '%.40s' for %s (keys are written as Help shows them: "
                            "q, C-c, Enter, Esc, Tab, S-Tab, Up, PgDn, Home, F5, Space...)",
                            k, action);
    bind_codes(a, codes, n);
    return 0;
}

int ui_keys_apply_config(const struct kiln_config *cfg, struct kiln_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < cfg->n_keys; i++) {
        struct kiln_err e = {0};
        if (ui_keys_bind(cfg->keys[i].action, cfg->keys[i].key, &e) < 0 && rc == 0) {
            rc = kiln_err_set(err, KILN_E_INVALID, "%s:%d: [keys] %s",
                              cfg->source ? cfg->source : "config", cfg->keys[i].line, e.msg);
        }
    }
    return rc;
}

enum ui_action ui_keys_lookup(int code)
{
    return code >= 0 && code < UI_KEYCODES ? keymap[code] : ACT_NONE;
}

/* Whether the list "a, b, c" has the item name. */
static bool has_item(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p++)
        if ((p == list || p[-1] == ' ') && (p[len] == '\0' || p[len] == ','))
            return true;
    return false;
}

void ui_keys_describe(enum ui_action a, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int code = 0; code < UI_KEYCODES && len + 1 < n; code++) {
        if (keymap[code] != a)
            continue;
        char name[16];
        ui_key_name(code, name, sizeof name);
        /* Enter and Backspace have several codes but one name. */
        if (name[0] == '\0' || has_item(buf, name))
            continue;
        int w = snprintf(buf + len, n - len, "%s%s", len ? ", " : "", name);
        if (w < 0 || (size_t)w >= n - len)
            break;
        len += (size_t)w;
    }
}
