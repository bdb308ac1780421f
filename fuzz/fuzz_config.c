/* fuzz: the configuration file (INI), kiln_config_load_string / kiln_config_load.
 *
 * Properties checked besides "no crash, no leak":
 *  - a refusal leaves the config as it was and says why in one printable sentence;
 *  - what loads, kiln_config_dump prints as INI that loads back to the same dump
 *    (config.h promises that `kiln config` output reads back to the same values);
 *  - loading the same text twice on top of itself works (the second load replaces
 *    every value the first set, freeing them) and changes nothing.
 */
#include "fuzz.h"

#include "kiln/config.h"

static char *dump(const struct kiln_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        abort();
    kiln_config_dump(cfg, f);
    fclose(f);
    return buf;
}

/* Loads the input into cfg: text without NUL bytes as a string, anything else through
 * a file (only kiln_config_load sees the bytes after a NUL). */
static int load(struct kiln_config *cfg, const uint8_t *data, size_t size, struct kiln_err *err)
{
    if (memchr(data, '\0', size) == NULL) {
        char *text = fuzz_cstr(data, size);
        int rc = kiln_config_load_string(cfg, text, "fuzz.conf", err);
        free(text);
        return rc;
    }
    char *path = fuzz_path("config");
    fuzz_write_file(path, data, size);
    int rc = kiln_config_load(cfg, path, err);
    free(path);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    struct kiln_config cfg;
    struct kiln_err err = {0};
    kiln_config_defaults(&cfg);
    char *before = dump(&cfg);

    if (load(&cfg, data, size, &err) < 0) {
        if (err.code != KILN_E_INVALID || !fuzz_message_ok(err.msg))
            fuzz_fail("refusal with code %d and message \"%s\"", err.code, err.msg);
        char *after = dump(&cfg);
        if (strcmp(before, after) != 0)
            fuzz_fail("a refused config changed the values");
        free(after);
        free(before);
        kiln_config_free(&cfg);
        return 0;
    }
    free(before);

    char *first = dump(&cfg);
    struct kiln_config again;
    kiln_config_defaults(&again);
    if (kiln_config_load_string(&again, first, "dump", &err) < 0)
        fuzz_fail("the dump does not load back: %s\n--- dump:\n%s", err.msg, first);
    char *second = dump(&again);
    if (strcmp(first, second) != 0)
        fuzz_fail("the dump loads back to other values\n--- first:\n%s--- second:\n%s", first,
                  second);
    free(second);
    kiln_config_free(&again);

    /* The same text on top: every key it sets is set again (new copies), bindings add up. */
    size_t n_keys = cfg.n_keys;
    if (load(&cfg, data, size, &err) < 0)
        fuzz_fail("the same text loads once but not twice: %s", err.msg);
    if (cfg.n_keys != 2 * n_keys)
        fuzz_fail("key bindings: %zu after one load, %zu after two", n_keys, cfg.n_keys);
    free(first);
    kiln_config_free(&cfg);
    return 0;
}
