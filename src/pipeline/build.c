/* kiln: the build and bake steps: the app's RPM from its source (rpmbuild in a topdir
 * of its own, every line streamed into the job's log), pushed to the provider's
 * package repo; then baked into an image by the provider. */
#include "pipeline/pipe.h"

#include "kiln/atomic_file.h"
#include "kiln/context.h"
#include "kiln/fstree.h"
#include "kiln/manifest.h"
#include "kiln/rpmbuild.h"
#include "kiln/sources.h"
#include "kiln/xalloc.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void on_rpmbuild_line(void *ctx, enum kiln_stream stream, const char *line)
{
    struct pipe *pp = ctx;
    bool warn = stream == KILN_STREAM_STDERR && !kiln_rpmbuild_is_trace(line);
    kiln_logring_append(kiln_job_logring(pp->job), warn ? KILN_LOG_WARN : KILN_LOG_INFO, "rpmbuild",
                        line);
    if (pp->logf != NULL) {
        fprintf(pp->logf, "rpmbuild: %s\n", line);
        fflush(pp->logf);
    }
}

static bool job_cancelled(void *ctx)
{
    struct pipe *pp = ctx;
    return kiln_job_cancelled(pp->job);
}

/* The build number in an NVR: name-version-release.arch, the release after the last
 * dash, either the number itself (%{app_release}) or ending in .kN (a spec's
 * 1%{?dist}, which kiln defines as .kN). */
static long build_number(const char *nvr)
{
    const char *dash = strrchr(nvr, '-');
    if (dash == NULL)
        return 0;
    const char *rel = dash + 1;
    const char *end = strrchr(rel, '.'); /* the arch */
    size_t len = end ? (size_t)(end - rel) : strlen(rel);
    for (size_t i = len; i >= 2; i--) {
        if (rel[i - 2] == '.' && rel[i - 1] == 'k')
            return strtol(rel + i, NULL, 10);
        if (rel[i - 1] < '0' || rel[i - 1] > '9')
            break;
    }
    return strtol(rel, NULL, 10);
}

/* The highest release of app's packages in the repo. */
static int repo_release(struct pipe *pp, const char *app, long *best, struct kiln_err *err)
{
    const struct kiln_snapshot *snap;
    if (pipe_inventory(pp, &snap, err) < 0)
        return -1;
    *best = 0;
    size_t alen = strlen(app);
    for (size_t i = 0; i < snap->n_packages; i++) {
        const char *nvr = snap->packages[i]->nvr;
        if (strncmp(nvr, app, alen) != 0 || nvr[alen] != '-')
            continue;
        long r = build_number(nvr);
        if (r > *best)
            *best = r;
    }
    kiln_snapshot_release(snap);
    return 0;
}

/* The highest release reserved by a build of app (build/releases/APP-N), pruning the
 * reservations the repo has overtaken: a new release is above both anyway. */
static long reserved_release(const char *dir, const char *app, long repo_best)
{
    long best = 0;
    size_t alen = strlen(app);
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, app, alen) != 0 || e->d_name[alen] != '-')
            continue;
        char *end;
        long r = strtol(e->d_name + alen + 1, &end, 10);
        if (*end != '\0' || r <= 0)
            continue;
        if (r <= repo_best)
            unlinkat(dirfd(d), e->d_name, 0);
        else if (r > best)
            best = r;
    }
    closedir(d);
    return best;
}

/* Each build gets a new release: one more than any package of the app so far, and
 * than any release another build is making now. Taking it is an exclusive create of
 * build/releases/APP-N, so two builds at once (two envs deployed from source) never
 * get the same one. */
static int next_release(struct pipe *pp, const char *app, struct kiln_err *err)
{
    long best;
    if (repo_release(pp, app, &best, err) < 0)
        return -1;
    char *dir = xasprintf("%s/build/releases", pp->ctx->paths.home);
    if (kiln_mkdir_p(dir, 0700, err) < 0) {
        free(dir);
        return -1;
    }
    long r = best;
    long reserved = reserved_release(dir, app, best);
    if (reserved > r)
        r = reserved;
    for (int tries = 0; tries < 1000; tries++) {
        r++;
        char *path = xasprintf("%s/%s-%ld", dir, app, r);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        int e = errno;
        free(path);
        if (fd >= 0) {
            close(fd);
            free(dir);
            return (int)r;
        }
        if (e != EEXIST) {
            kiln_err_set(err, KILN_E_IO, "cannot reserve release %ld of %s in %s: %s", r, app, dir,
                         strerror(e));
            free(dir);
            return -1;
        }
    }
    free(dir);
    return kiln_err_set(err, KILN_E_FAILED, "cannot reserve a release of %s", app);
}

int pipe_build_into(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    const char *app = pipe_str(pp, "app");
    char source[PATH_MAX];
    if (pipe_str(pp, "source") != NULL)
        snprintf(source, sizeof source, "%s", pipe_str(pp, "source"));
    else if (kiln_sources_get(&pp->ctx->paths, app, source, sizeof source, err) < 0)
        return -1;

    char *manifest_path = xasprintf("%s/kiln.json", source);
    struct kiln_manifest m;
    int rc = kiln_manifest_load(manifest_path, &m, err);
    free(manifest_path);
    if (rc < 0)
        return -1;
    if (strcmp(m.name, app) != 0) {
        kiln_err_set(err, KILN_E_INVALID,
                     "%s/kiln.json is the manifest of %s, not %s; give the right --source", source,
                     m.name, app);
        kiln_manifest_free(&m);
        return -1;
    }
    kiln_manifest_free(&m);

    int release = next_release(pp, app, err);
    if (release < 0)
        return -1;
    char rel[16];
    snprintf(rel, sizeof rel, "%d", release);
    char *work =
        xasprintf("%s/build/%s-%llu", pp->ctx->paths.home, app, (unsigned long long)pp->id);
    struct kiln_rpmbuild_opts o = {
        .source_dir = source,
        .work_dir = work,
        .version = pipe_str(pp, "version"),
        .release = rel,
        .on_line = on_rpmbuild_line,
        .cancelled = job_cancelled,
        .ctx = pp,
    };
    char rpm[PATH_MAX], nvr[KILN_NVR_SIZE];
    pipe_log(pp, KILN_LOG_INFO, "rpmbuild %s (release %d) from %s", app, release, source);
    rc = kiln_rpmbuild(&o, rpm, sizeof rpm, nvr, sizeof nvr, err);
    if (rc == 0) {
        char pushed[KILN_NVR_SIZE];
        rc = pp->prov->ops->package_push(pp->prov, rpm, pushed, sizeof pushed, err);
        if (rc == 0) {
            pipe_log(pp, KILN_LOG_INFO, "built %s", pushed);
            cJSON_AddStringToObject(out, "package", pushed);
        }
    }
    if (rc < 0) {
        /* A failed build gives its release back, so the next one takes it. */
        char *res = xasprintf("%s/build/releases/%s-%d", pp->ctx->paths.home, app, release);
        unlink(res);
        free(res);
    }
    struct kiln_err rmerr = {0};
    if (kiln_tree_remove(work, &rmerr) < 0)
        pipe_log(pp, KILN_LOG_WARN, "could not clean up %s: %s", work, rmerr.msg);
    free(work);
    return rc;
}

static void on_bake_line(void *ctx, const char *line)
{
    pipe_log(ctx, KILN_LOG_INFO, "%s", line);
}

/* The newest package of the app, when the user did not name one. */
static int newest_package(struct pipe *pp, const char *app, char *buf, size_t n,
                          struct kiln_err *err)
{
    const struct kiln_snapshot *snap;
    if (pipe_inventory(pp, &snap, err) < 0)
        return -1;
    size_t alen = strlen(app);
    int rc = kiln_err_set(err, KILN_E_NOTFOUND,
                          "%s has no package yet; build one first (kiln build %s)", app, app);
    for (size_t i = 0; i < snap->n_packages; i++) { /* newest first */
        const char *nvr = snap->packages[i]->nvr;
        if (strncmp(nvr, app, alen) == 0 && nvr[alen] == '-') {
            snprintf(buf, n, "%s", nvr);
            kiln_err_clear(err);
            rc = 0;
            break;
        }
    }
    kiln_snapshot_release(snap);
    return rc;
}

int pipe_bake_into(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    const char *app = pipe_str(pp, "app");
    char nvr[KILN_NVR_SIZE];
    if (pipe_str(pp, "package") != NULL)
        snprintf(nvr, sizeof nvr, "%s", pipe_str(pp, "package"));
    else if (newest_package(pp, app, nvr, sizeof nvr, err) < 0)
        return -1;
    char image[64];
    bool cached = false;
    pipe_log(pp, KILN_LOG_INFO, "baking %s", nvr);
    if (pp->prov->ops->bake(pp->prov, nvr, app, on_bake_line, pp, image, sizeof image, &cached,
                            err) < 0)
        return -1;
    pipe_log(pp, KILN_LOG_INFO, "%s: %s%s", nvr, image, cached ? " (cache hit)" : "");
    cJSON_AddStringToObject(out, "image", image);
    if (pipe_str(pp, "package") == NULL)
        cJSON_AddStringToObject(out, "package", nvr);
    return 0;
}

static int step_build(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    return pipe_build_into(pp, out, err);
}

static int step_bake(struct pipe *pp, cJSON *out, struct kiln_err *err)
{
    return pipe_bake_into(pp, out, err);
}

int pipe_build(struct pipe *pp, struct kiln_err *err)
{
    if (pipe_step(pp, "build", step_build, err) < 0)
        return -1;
    pp->result = cJSON_CreateObject();
    cJSON_AddStringToObject(pp->result, "package", pipe_str(pp, "package"));
    return 0;
}

int pipe_bake(struct pipe *pp, struct kiln_err *err)
{
    if (pipe_step(pp, "bake", step_bake, err) < 0)
        return -1;
    pp->result = cJSON_CreateObject();
    cJSON_AddStringToObject(pp->result, "image", pipe_str(pp, "image"));
    cJSON_AddStringToObject(pp->result, "package", pipe_str(pp, "package"));
    return 0;
}
