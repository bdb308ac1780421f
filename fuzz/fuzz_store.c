/* fuzz: kilnd's saved state, cloud.json (cloud_store_load in src/cloud/store.c).
 *
 * The input is written to cloud.json in a private directory and loaded as kilnd does
 * at start. Checked besides "no crash, no leak": a refusal is one printable sentence
 * and leaves the cloud empty (store.c: "nothing is changed"); an accepted state saves
 * (cloud_store_save, atomically, as after every change) and loads back to the same
 * state, and its `state` view (runtime fields included) can be built.
 */
#include "fuzz.h"

#include "cloud/cloud.h"

#include <cjson/cJSON.h>

static struct kiln_paths paths;
static struct kiln_config config;

static void setup(void)
{
    if (paths.cloud_json != NULL)
        return;
    paths.home = strdup(fuzz_tmpdir());
    paths.cloud_json = fuzz_path("cloud.json");
    kiln_config_defaults(&config);
}

static char *state_text(struct cloud *c, bool runtime)
{
    cJSON *j = cloud_store_to_json(c, runtime);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (s == NULL)
        abort();
    return s;
}

static bool empty(const struct cloud *c)
{
    return c->clusters.n == 0 && c->groups.n == 0 && c->instances.n == 0 && c->images.n == 0 &&
           c->packages.n == 0 && c->locks.n == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    setup();
    fuzz_write_file(paths.cloud_json, data, size);

    struct cloud c;
    struct kiln_err err = {0};
    cloud_init(&c, &paths, &config, NULL);
    if (cloud_store_load(&c, &err) < 0) {
        if (err.code != KILN_E_INVALID || !fuzz_message_ok(err.msg))
            fuzz_fail("refusal with code %d and message \"%s\"", err.code, err.msg);
        if (!empty(&c))
            fuzz_fail("a refused state left things in the cloud");
        cloud_free(&c);
        return 0;
    }

    char *first = state_text(&c, false);
    free(state_text(&c, true));
    c.dirty = true;
    if (cloud_store_save(&c, &err) < 0)
        fuzz_fail("an accepted state does not save: %s", err.msg);
    cloud_free(&c);

    cloud_init(&c, &paths, &config, NULL);
    if (cloud_store_load(&c, &err) < 0)
        fuzz_fail("a saved state does not load back: %s\n--- state:\n%s", err.msg, first);
    char *second = state_text(&c, false);
    if (strcmp(first, second) != 0)
        fuzz_fail("the state changed on the way through cloud.json\n--- before:\n%s\n--- after:\n%s",
                  first, second);
    free(first);
    free(second);
    cloud_free(&c);
    return 0;
}
