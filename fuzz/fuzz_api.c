/* fuzz: kilnd's API messages: the decoding of src/cloud/api.c's handle_line and the
 * operations behind it (cloud_op_run in src/cloud/ops.c).
 *
 * Each input is up to 16 lines, one message each, run in order against a fresh cloud
 * loaded from a fixed cloud.json (two clusters, enabled and disabled groups, an image,
 * a terminated instance, a lock) in a private directory. None of kilnd's threads run.
 * What must not happen here is kept out:
 *  - nothing may start or signal a process: the state holds no running instance (so
 *    no terminate can reach a pid), no package (so `bake` finds nothing to bake), and
 *    `package-add` with an absolute path (which would copy the file and run rpm) is
 *    not sent; group-create only records the group, as the reconciler does not run;
 *  - nothing may wait: the balancer counts as having applied everything, so enable,
 *    disable and destroy return at once; `subscribe` and `stop` are not sent;
 *  - events go to /dev/null (and to a ring opened for each input).
 * Everything else, validation and the state changes of every other op, runs for
 * real. Checked besides "no crash, no leak": a failure has an error code and one
 * printable sentence; the reply is one line of JSON; no request is answered with
 * changes not yet saved (cloud.h's promise); what the ops saved loads back.
 */
#include "fuzz.h"

#include "cloud/api.h"
#include "cloud/cloud.h"

#include <cjson/cJSON.h>
#include <sys/stat.h>

#define MAX_LINES 16

static const char pristine[] =
    "{\"version\": 1,\n"
    " \"clusters\": [\n"
    "  {\"app\": \"hello-world\", \"env\": \"test\", \"name\": \"hello-world-test\", \"port\": 8080,\n"
    "   \"protocol\": \"HTTP\", \"start\": [\"/usr/bin/hello-world\", \"--verbose\"],\n"
    "   \"health\": {\"path\": \"/health_check\", \"interval_ms\": 1000, \"timeout_ms\": 1000,\n"
    "              \"healthy\": 2, \"unhealthy\": 2},\n"
    "   \"created_us\": 1764134168120000,\n"
    "   \"chaos\": {\"enabled\": false, \"mean_ms\": 30000, \"min_ms\": 10000, \"last_kill_us\": 0}},\n"
    "  {\"app\": \"hello-world\", \"env\": \"prod\", \"name\": \"hello-world-prod\", \"port\": 8080,\n"
    "   \"protocol\": \"HTTP\", \"start\": [\"/usr/bin/hello-world\"],\n"
    "   \"health\": {\"path\": \"/health_check\", \"interval_ms\": 1000, \"timeout_ms\": 500,\n"
    "              \"healthy\": 2, \"unhealthy\": 3},\n"
    "   \"created_us\": 1764134168120000,\n"
    "   \"chaos\": {\"enabled\": true, \"mean_ms\": 60000, \"min_ms\": 10000,\n"
    "             \"last_kill_us\": 1764134200000000}}],\n"
    " \"groups\": [\n"
    "  {\"name\": \"hello-world-test-v000\", \"cluster\": \"hello-world-test\", \"version\": 0,\n"
    "   \"image\": \"img-0123456789ab\", \"min\": 1, \"max\": 3, \"desired\": 2,\n"
    "   \"suspended\": [\"AddToLoadBalancer\"], \"enabled\": false, \"created_us\": 1764134168120000},\n"
    "  {\"name\": \"hello-world-test-v001\", \"cluster\": \"hello-world-test\", \"version\": 1,\n"
    "   \"image\": \"img-0123456789ab\", \"min\": 1, \"max\": 3, \"desired\": 1,\n"
    "   \"suspended\": [], \"enabled\": true, \"created_us\": 1764134169120000}],\n"
    " \"instances\": [\n"
    "  {\"id\": \"i-0123456789abcdef\", \"group\": \"hello-world-test-v001\", \"port\": 20001,\n"
    "   \"pid\": 0, \"start_ticks\": 0, \"state\": \"terminated\", \"health\": \"unknown\",\n"
    "   \"lb_state\": \"out-of-service\", \"launched_us\": 1764134169120000, \"healthy_us\": 0,\n"
    "   \"terminated_us\": 1764134170120000, \"cause\": \"chaos\", \"exit_status\": 137,\n"
    "   \"replaces\": \"\"}],\n"
    " \"images\": [\n"
    "  {\"id\": \"img-0123456789ab\", \"package\": \"hello-world-1.0.0-1.x86_64\",\n"
    "   \"app\": \"hello-world\", \"created_us\": 1764134160000000}],\n"
    " \"packages\": [],\n"
    " \"locks\": [\n"
    "  {\"cluster\": \"hello-world-prod\", \"user\": \"ana\", \"host\": \"build1.example\",\n"
    "   \"pid\": 4242, \"pid_start_ticks\": 123, \"job\": 12, \"what\": \"deploy\",\n"
    "   \"since_us\": 1764134168120000}]}\n";

static struct kiln_paths paths;
static struct kiln_config config;

/* kilnd.c's, which the `stop` op calls; `stop` is never sent. */
void cloud_stop_requested(struct cloud *c, bool all)
{
    fuzz_fail("cloud_stop_requested was reached");
}

static void setup(void)
{
    if (paths.cloud_json != NULL)
        return;
    paths.home = strdup(fuzz_tmpdir());
    paths.cloud_json = fuzz_path("cloud.json");
    paths.events_log = strdup("/dev/null");
    paths.packages_dir = fuzz_path("packages");
    paths.images_dir = fuzz_path("images");
    paths.instances_dir = fuzz_path("instances");
    paths.nginx_dir = fuzz_path("nginx");
    kiln_config_defaults(&config);
}

/* True for a message the harness must not run (see the top of the file). */
static bool kept_out(const char *op, const cJSON *args)
{
    if (strcmp(op, "stop") == 0 || strcmp(op, "subscribe") == 0)
        return true;
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(args, "path");
    return strcmp(op, "package-add") == 0 && cJSON_IsString(path) &&
           path->valuestring[0] == '/';
}

static void reply_check(cJSON *reply)
{
    char *text = cJSON_PrintUnformatted(reply);
    if (text == NULL)
        abort();
    if (strchr(text, '\n') != NULL)
        fuzz_fail("a reply of more than one line: %s", text);
    cJSON *back = cJSON_Parse(text);
    if (back == NULL)
        fuzz_fail("a reply that is not JSON: %s", text);
    cJSON_Delete(back);
    cJSON_free(text);
}

/* handle_line's decoding, with the reply built the same way but checked, not sent. */
static void handle_line(struct cloud *c, const char *line, size_t len)
{
    cJSON *msg = cJSON_ParseWithLength(line, len);
    if (!cJSON_IsObject(msg)) {
        cJSON_Delete(msg);
        return;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, "v");
    const cJSON *idj = cJSON_GetObjectItemCaseSensitive(msg, "id");
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(msg, "op");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(msg, "args");
    double id = cJSON_IsNumber(idj) ? idj->valuedouble : -1;
    if (!cJSON_IsNumber(v) || v->valuedouble != KILND_PROTOCOL_VERSION || !cJSON_IsString(op) ||
        (args != NULL && !cJSON_IsObject(args)) || kept_out(op->valuestring, args)) {
        cJSON_Delete(msg);
        return;
    }
    cJSON *result = cJSON_CreateObject();
    struct kiln_err err = {0};
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "v", KILND_PROTOCOL_VERSION);
    cJSON_AddNumberToObject(r, "id", id);
    if (cloud_op_run(c, op->valuestring, args, result, &err) == 0) {
        cJSON_AddBoolToObject(r, "ok", true);
        cJSON_AddItemToObject(r, "result", result);
    } else {
        if (err.code == KILN_OK || !fuzz_message_ok(err.msg))
            fuzz_fail("%s failed with code %d and message \"%s\"", op->valuestring, err.code,
                      err.msg);
        cJSON_AddBoolToObject(r, "ok", false);
        cJSON *e = cJSON_AddObjectToObject(r, "error");
        cJSON_AddStringToObject(e, "code", kiln_errcode_name(err.code));
        cJSON_AddStringToObject(e, "message", err.msg);
        if (cJSON_GetArraySize(result) > 0)
            cJSON_AddItemToObject(e, "detail", cJSON_Duplicate(result, true));
        cJSON_Delete(result);
    }
    reply_check(r);
    cJSON_Delete(r);
    cJSON_Delete(msg);
}

static ino_t inode(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        fuzz_fail("%s is gone", path);
    return st.st_ino;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    setup();
    fuzz_write_file(paths.cloud_json, pristine, sizeof pristine - 1);
    ino_t written = inode(paths.cloud_json);

    struct cloud c;
    struct kiln_err err = {0};
    cloud_init(&c, &paths, &config, NULL);
    c.lb_applied = UINT64_MAX;
    /* Opened for each input, so that its ring does not carry memory from one input to
     * the next (LeakSanitizer would then scan after every input). */
    if (cloud_events_open(&c, &err) < 0)
        fuzz_fail("cannot open the events: %s", err.msg);
    if (cloud_store_load(&c, &err) < 0)
        fuzz_fail("the fixed state does not load: %s", err.msg);

    const char *p = (const char *)data, *end = p + size;
    for (int i = 0; i < MAX_LINES && p < end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (len > 0)
            handle_line(&c, p, len);
        /* cloud.h: every change is saved before the request that made it is answered. */
        if (c.dirty)
            fuzz_fail("line %d was answered with changes not saved", i + 1);
        p += len + 1;
    }
    cloud_events_close(&c);
    cloud_free(&c);

    /* What the ops saved (kiln_atomic_write renames a new file in) loads back. */
    if (inode(paths.cloud_json) != written) {
        cloud_init(&c, &paths, &config, NULL);
        if (cloud_store_load(&c, &err) < 0)
            fuzz_fail("the state the ops saved does not load back: %s", err.msg);
        cloud_free(&c);
    }
    return 0;
}
