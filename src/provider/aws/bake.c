/* kiln: baking a package into an AMI, two ways ([aws] bake_method):
 *
 * aminate  runs [aws] aminate_command, as the seed ran Netflix's aminator: the line is
 *          split into words without a shell (aws_split_command), {nvr}, {package} (the
 *          RPM's place in the repo: path or URL), {app}, {region} and {base_ami} are
 *          replaced in each word (no placeholder at all: the NVR goes last, aminate's
 *          usage), its output streams into the job's log, and the last AMI id it prints
 *          is the image.
 * builder  RunInstances from [aws] base_ami with a user-data script that installs the
 *          package from the HTTP repo with yum, writes "kiln-bake: ok NVR" (or
 *          "kiln-bake: failed NVR: why") to the console and powers the instance off
 *          (InstanceInitiatedShutdownBehavior stop); kiln waits for "stopped", reads the
 *          marker from GetConsoleOutput, CreateImage, waits for "available" and
 *          terminates the builder, whatever happened.
 *
 * Either way the AMI is tagged kiln:package=NVR and kiln:app=APP, and a bake first looks
 * for an available AMI of ours with that kiln:package: the same package twice is one
 * bake. */
#include "provider/aws/aws.h"

#include "kiln/names.h"
#include "kiln/shellwords.h"
#include "kiln/spawn.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AMINATE_TIMEOUT_MS (2 * 3600 * 1000LL)
#define IMAGE_TIMEOUT_MS   (60 * 60 * 1000LL)
#define BUILDER_TIMEOUT_MS (45 * 60 * 1000LL)
#define POLL_MS            2000

static void say(kiln_line_fn on_line, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(kiln_line_fn on_line, void *ctx, const char *fmt, ...)
{
    if (on_line == NULL)
        return;
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    on_line(ctx, line);
}

/* ---- the command line, without a shell ---- */

int aws_split_command(const char *line, char ***argv, struct kiln_err *err)
{
    /* sh's quoting rules (kiln_sh_split), no shell: nothing in it is ever expanded. */
    int argc = 0;
    char **words = NULL;
    if (kiln_sh_split(line, false, &argc, &words, err) < 0) {
        kiln_err_prefix(err, "[aws] aminate_command %.200s", line);
        if (err != NULL)
            err->code = KILN_E_INVALID; /* the config is wrong, not the command line */
        return -1;
    }
    if (argc == 0) {
        free(words);
        return kiln_err_set(err, KILN_E_INVALID, "[aws] aminate_command is empty");
    }
    char **v = xcalloc((size_t)argc + 1, sizeof *v);
    for (int i = 0; i < argc; i++)
        v[i] = xstrdup(words[i]);
    free(words);
    *argv = v;
    return 0;
}

void aws_argv_free(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

void aws_find_ami_id(const char *text, char *out, size_t n)
{
    for (const char *p = text; (p = strstr(p, "ami-")) != NULL; p++) {
        if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '-' || p[-1] == '_'))
            continue;
        size_t k = 0;
        while (is_hex(p[4 + k]))
            k++;
        char after = p[4 + k];
        if (k < 8 || k > 17 || isalnum((unsigned char)after) || after == '_' || after == '-')
            continue;
        if (n > 4 + k)
            snprintf(out, n, "%.*s", (int)(4 + k), p);
    }
}

/* ---- images ---- */

static int cached_image(struct aws *a, const char *nvr, char *image, size_t n, struct kiln_err *err)
{
    struct aws_ec2_images l;
    if (aws_ec2_describe_images(a->client, nvr, NULL, &l, err) < 0)
        return -1;
    const struct aws_ec2_image *best = NULL;
    for (size_t i = 0; i < l.n; i++)
        if (strcmp(l.v[i].state, "available") == 0 &&
            (best == NULL || l.v[i].created_us > best->created_us))
            best = &l.v[i];
    image[0] = '\0';
    if (best != NULL)
        snprintf(image, n, "%s", best->id);
    aws_ec2_images_free(&l);
    return 0;
}

static int wait_available(struct aws *a, const char *ami, kiln_line_fn on_line, void *ctx,
                          struct kiln_err *err)
{
    int64_t deadline = kiln_mono_us() + IMAGE_TIMEOUT_MS * 1000;
    char last[24] = "";
    for (;;) {
        struct aws_ec2_images l;
        if (aws_ec2_describe_images(a->client, NULL, ami, &l, err) < 0)
            return -1;
        char state[24] = "";
        if (l.n > 0)
            snprintf(state, sizeof state, "%s", l.v[0].state);
        aws_ec2_images_free(&l);
        if (strcmp(state, last) != 0 && state[0])
            say(on_line, ctx, "%s is %s", ami, state);
        snprintf(last, sizeof last, "%s", state);
        if (strcmp(state, "available") == 0)
            return 0;
        if (strcmp(state, "failed") == 0 || strcmp(state, "invalid") == 0 ||
            strcmp(state, "deregistered") == 0)
            return kiln_err_set(err, KILN_E_FAILED, "the image %s is %s: bake again", ami, state);
        if (kiln_mono_us() >= deadline)
            return kiln_err_set(err, KILN_E_TIMEOUT, "%s was not available after an hour (%s)", ami,
                                state[0] ? state : "EC2 does not list it");
        kiln_sleep_ms(POLL_MS);
    }
}

static int tag_image(struct aws *a, const char *ami, const char *nvr, const char *app,
                     struct kiln_err *err)
{
    struct aws_tag tags[] = {{AWS_TAG_PACKAGE, (char *)nvr},
                             {AWS_TAG_APP, (char *)(app ? app : "")}};
    if (aws_ec2_create_tags(a->client, ami, tags, app && app[0] ? 2 : 1, err) == 0)
        return 0;
    kiln_err_prefix(err, "cannot tag the image %s with its package", ami);
    return -1;
}

/* Where the RPM is in the repo, for {package} and the builder's yum. */
static char *package_location(const struct aws *a, const char *nvr)
{
    size_t len = strlen(a->package_repo);
    if (len == 0)
        return xstrdup(nvr);
    return xasprintf("%s%s%s.rpm", a->package_repo, a->package_repo[len - 1] == '/' ? "" : "/",
                     nvr);
}

/* ---- aminate ---- */

struct aminate_run {
    kiln_line_fn on_line;
    void *ctx;
    char ami[AWS_ID_SIZE];
    char last[300];
};

static void on_aminate_line(void *ctx, enum kiln_stream stream, const char *line)
{
    struct aminate_run *r = ctx;
    if (r->on_line != NULL)
        r->on_line(r->ctx, line);
    aws_find_ami_id(line, r->ami, sizeof r->ami);
    if (line[0] != '\0')
        snprintf(r->last, sizeof r->last, "%s", line);
}

static char *substitute(const char *word, const char *const keys[], const char *const values[],
                        bool *used)
{
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    kiln_strbuf_append(&sb, "");
    for (const char *p = word; *p;) {
        bool hit = false;
        for (size_t k = 0; keys[k] != NULL && !hit; k++) {
            size_t kl = strlen(keys[k]);
            if (strncmp(p, keys[k], kl) == 0) {
                kiln_strbuf_append(&sb, values[k]);
                p += kl;
                hit = true;
                if (k < 2)
                    *used = true; /* {nvr} or {package}: the package is on the line */
            }
        }
        if (!hit)
            kiln_strbuf_appendc(&sb, *p++);
    }
    return kiln_strbuf_detach(&sb, NULL);
}

static int bake_aminate(struct aws *a, const char *nvr, const char *app, kiln_line_fn on_line,
                        void *line_ctx, char *image, size_t n, struct kiln_err *err)
{
    char **words;
    if (aws_split_command(a->aminate_command, &words, err) < 0)
        return -1;
    char *location = package_location(a, nvr);
    const char *const keys[] = {"{nvr}", "{package}", "{app}", "{region}", "{base_ami}", NULL};
    const char *const values[] = {nvr, location, app ? app : "", a->region, a->base_ami};
    size_t nw = 0;
    while (words[nw])
        nw++;
    char **argv = xcalloc(nw + 2, sizeof *argv);
    bool used = false;
    for (size_t i = 0; i < nw; i++)
        argv[i] = substitute(words[i], keys, values, &used);
    if (!used)
        argv[nw] = xstrdup(nvr);
    aws_argv_free(words);
    free(location);

    char *shown = kiln_spawn_describe((const char *const *)argv);
    say(on_line, line_ctx, "running %s", shown);
    char region_env[96], default_env[96];
    snprintf(region_env, sizeof region_env, "AWS_REGION=%s", a->region);
    snprintf(default_env, sizeof default_env, "AWS_DEFAULT_REGION=%s", a->region);
    const char *env_add[] = {region_env, default_env, NULL};
    struct aminate_run run = {.on_line = on_line, .ctx = line_ctx};
    struct kiln_spawn_opts o = {
        .argv = (const char *const *)argv,
        .env_add = env_add,
        .timeout_ms = AMINATE_TIMEOUT_MS,
        .on_line = on_aminate_line,
        .ctx = &run,
    };
    int status = 0;
    int rc = kiln_spawn_run(&o, &status, err);
    if (rc < 0)
        kiln_err_prefix(err, "the bake of %s (%s)", nvr, shown);
    else if (status != 0)
        rc = kiln_err_set(err, KILN_E_FAILED,
                          "the bake of %s failed: %s exited with status %d; its last line: %s", nvr,
                          shown, status, run.last[0] ? run.last : "(no output)");
    else if (run.ami[0] == '\0')
        rc = kiln_err_set(err, KILN_E_FAILED,
                          "the bake of %s printed no AMI id (ami-...): check that [aws] "
                          "aminate_command (%s) prints the id of the image it registers",
                          nvr, shown);
    free(shown);
    aws_argv_free(argv);
    if (rc == 0)
        snprintf(image, n, "%s", run.ami);
    return rc;
}

/* ---- builder ---- */

static char *user_data(const char *location, const char *nvr)
{
    /* POSIX sh; every outcome ends in poweroff, so kiln never waits for a timeout to
     * learn that the install failed. The NVR is validated: it needs no quoting. */
    /* Quoted for sh as kiln quotes command lines in its messages: the URL is the config's. */
    char *quoted = kiln_spawn_describe((const char *const[]){location, NULL});
    char *script =
        xasprintf("#!/bin/sh\n"
                  "# kiln builder: install one package, then power off for CreateImage.\n"
                  "say() { echo \"kiln-bake: $*\" >/dev/console 2>/dev/null || :; "
                  "echo \"kiln-bake: $*\"; }\n"
                  "if yum install -y %s >/var/log/kiln-bake.log 2>&1; then\n"
                  "    say 'ok %s'\n"
                  "else\n"
                  "    say \"failed %s: $(tail -n 1 /var/log/kiln-bake.log)\"\n"
                  "fi\n"
                  "sync\n"
                  "poweroff\n",
                  quoted, nvr, nvr);
    free(quoted);
    return script;
}

static int instance_state(struct aws *a, const char *id, char *state, size_t n,
                          struct kiln_err *err)
{
    struct aws_ec2_instances l;
    if (aws_ec2_describe_instances(a->client, NULL, (const char *const[]){id}, 1, &l, err) < 0)
        return -1;
    snprintf(state, n, "%s", l.n > 0 ? l.v[0].state : "");
    aws_ec2_instances_free(&l);
    return 0;
}

static int wait_stopped(struct aws *a, const char *id, kiln_line_fn on_line, void *ctx,
                        struct kiln_err *err)
{
    int64_t deadline = kiln_mono_us() + BUILDER_TIMEOUT_MS * 1000;
    char last[24] = "";
    for (;;) {
        char state[24];
        if (instance_state(a, id, state, sizeof state, err) < 0)
            return -1;
        if (strcmp(state, last) != 0 && state[0])
            say(on_line, ctx, "builder %s is %s", id, state);
        snprintf(last, sizeof last, "%s", state);
        if (strcmp(state, "stopped") == 0)
            return 0;
        if (strcmp(state, "terminated") == 0 || strcmp(state, "shutting-down") == 0)
            return kiln_err_set(err, KILN_E_FAILED,
                                "the builder %s was terminated before it finished", id);
        if (kiln_mono_us() >= deadline)
            return kiln_err_set(err, KILN_E_TIMEOUT,
                                "the builder %s did not power off within 45 minutes (it is %s): "
                                "its user data installs the package and powers off; check its "
                                "console output (aws ec2 get-console-output --instance-id %s)",
                                id, state[0] ? state : "unknown", id);
        kiln_sleep_ms(POLL_MS);
    }
}

/* The kiln-bake marker in the console output: 1 ok, 0 none seen, -1 failed (why filled). */
static int bake_marker(struct aws *a, const char *id, const char *nvr, char *why, size_t n)
{
    char *out = NULL;
    if (aws_ec2_console_output(a->client, id, &out, NULL) < 0)
        return 0;
    int rc = 0;
    char ok[300], failed[300];
    snprintf(ok, sizeof ok, "kiln-bake: ok %s", nvr);
    snprintf(failed, sizeof failed, "kiln-bake: failed %s", nvr);
    const char *f = strstr(out, failed);
    if (strstr(out, ok) != NULL) {
        rc = 1;
    } else if (f != NULL) {
        const char *end = strchr(f, '\n');
        snprintf(why, n, "%.*s", (int)(end ? (size_t)(end - f) : strlen(f)), f);
        rc = -1;
    }
    free(out);
    return rc;
}

static int bake_builder(struct aws *a, const char *nvr, const char *app, kiln_line_fn on_line,
                        void *line_ctx, char *image, size_t n, struct kiln_err *err)
{
    if (a->base_ami[0] == '\0')
        return kiln_err_set(err, KILN_E_INVALID,
                            "[aws] bake_method = builder needs [aws] base_ami, the AMI the "
                            "package is installed on");
    if (strncmp(a->package_repo, "http://", 7) != 0 && strncmp(a->package_repo, "https://", 8) != 0)
        return kiln_err_set(err, KILN_E_INVALID,
                            "the builder instance installs the package from [aws] package_repo "
                            "over HTTP, and %s is not a URL: serve the repo over http(s), or "
                            "use bake_method = aminate",
                            a->package_repo[0] ? a->package_repo : "an empty setting");
    char *location = package_location(a, nvr);
    char *ud = user_data(location, nvr);
    free(location);
    char name[300];
    snprintf(name, sizeof name, "kiln-builder %s", nvr);
    struct aws_tag tags[] = {{"Name", name}, {AWS_TAG_PACKAGE, (char *)nvr}};
    char id[AWS_ID_SIZE];
    int rc = aws_ec2_run_instance(a->client, a->base_ami, a->instance_type, ud, tags, 2, id,
                                  sizeof id, err);
    free(ud);
    if (rc < 0) {
        kiln_err_prefix(err, "cannot start a builder instance from %s", a->base_ami);
        return -1;
    }
    say(on_line, line_ctx, "builder %s started from %s, installing %s", id, a->base_ami, nvr);
    rc = wait_stopped(a, id, on_line, line_ctx, err);
    if (rc == 0) {
        char why[300] = "";
        int m = bake_marker(a, id, nvr, why, sizeof why);
        if (m < 0)
            rc = kiln_err_set(err, KILN_E_FAILED, "the builder could not install %s: %s", nvr, why);
        else if (m == 0)
            say(on_line, line_ctx,
                "no kiln-bake marker in %s's console output (not kept by this endpoint?): "
                "assuming the install worked",
                id);
    }
    char ami_name[200];
    snprintf(ami_name, sizeof ami_name, "%s-%lld", nvr, (long long)(kiln_now_us() / 1000000));
    if (rc == 0 && (rc = aws_ec2_create_image(a->client, id, ami_name, image, n, err)) == 0) {
        say(on_line, line_ctx, "creating %s from %s", image, id);
        rc = tag_image(a, image, nvr, app, err);
        if (rc == 0)
            rc = wait_available(a, image, on_line, line_ctx, err);
    }
    /* The builder goes whatever happened: a stopped instance still costs its disk. */
    struct kiln_err terr = {0};
    if (aws_ec2_terminate(a->client, id, &terr) < 0)
        say(on_line, line_ctx, "could not terminate the builder %s: %s", id, terr.msg);
    else
        say(on_line, line_ctx, "terminated the builder %s", id);
    return rc;
}

int aws_bake(struct kiln_provider *p, const char *nvr, const char *app, kiln_line_fn on_line,
             void *line_ctx, char *image, size_t n, bool *cached, struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    aws_lock_refresh(a);
    *cached = false;
    if (kiln_package_nvr_validate(nvr, err) < 0)
        return -1;
    if (cached_image(a, nvr, image, n, err) < 0)
        return -1;
    if (image[0] != '\0') {
        *cached = true;
        say(on_line, line_ctx, "%s was baked before: %s", nvr, image);
        return 0;
    }
    int rc;
    if (a->bake_method == KILN_BAKE_BUILDER) {
        rc = bake_builder(a, nvr, app, on_line, line_ctx, image, n, err);
    } else {
        rc = bake_aminate(a, nvr, app, on_line, line_ctx, image, n, err);
        if (rc == 0)
            rc = tag_image(a, image, nvr, app, err);
        if (rc == 0)
            rc = wait_available(a, image, on_line, line_ctx, err);
    }
    if (rc < 0)
        image[0] = '\0';
    return rc;
}
