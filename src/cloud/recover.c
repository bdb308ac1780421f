/* kilnd: a state dir whose cloud.json is gone or damaged.
 *
 * Starting an empty cloud over a state dir that still holds instances, packages and
 * images is the worst thing kilnd could do: running instances would go untracked (and
 * the sweep would delete their files), the repo would hold packages kilnd does not
 * know, and every later deploy of the same package would fail. So kilnd refuses to
 * start on such a dir and says what it found; `kiln cloud recover` (kilnd --recover)
 * then starts from the previous generation of the state (cloud.json.prev, which every
 * save keeps), or, without one, rebuilds what the disk can tell: the packages in
 * packages/ and the images in images/ (from their records). Apps and groups live only
 * in the state: without a previous generation they are lost, and instances nobody
 * knows any more are stopped by the supervisor's first sweep (with everything they
 * started).
 */
#include "cloud/cloud.h"

#include "kiln/atomic_file.h"
#include "kiln/names.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct leftovers {
    size_t instances, packages, images;
};

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n > t && strcmp(s + n - t, tail) == 0;
}

static void count_dir(const char *dir, int kind, struct leftovers *l)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (kind == 0 && kiln_instance_id_validate(e->d_name, NULL) == 0)
            l->instances++;
        else if (kind == 1 && e->d_name[0] != '.' && ends_with(e->d_name, ".rpm"))
            l->packages++;
        else if (kind == 2 && kiln_image_id_validate(e->d_name, NULL) == 0)
            l->images++;
    }
    closedir(d);
}

static bool prev_exists(const struct cloud *c, char *path, size_t size)
{
    snprintf(path, size, "%s.prev", c->paths.cloud_json);
    return access(path, F_OK) == 0;
}

int cloud_recover_check(struct cloud *c, struct kiln_err *err)
{
    if (access(c->paths.cloud_json, F_OK) == 0 || errno != ENOENT)
        return 0;
    struct leftovers l = {0};
    count_dir(c->paths.instances_dir, 0, &l);
    count_dir(c->paths.packages_dir, 1, &l);
    count_dir(c->paths.images_dir, 2, &l);
    if (l.instances + l.packages + l.images == 0)
        return 0; /* a new state dir */
    char prev[4200];
    bool has_prev = prev_exists(c, prev, sizeof prev);
    return kiln_err_set(
        err, KILN_E_INVALID,
        "%s is missing, but %s holds %zu instance%s, %zu package%s and %zu image%s that it "
        "described; kilnd will not start an empty cloud over them (it would lose track of "
        "running instances). %s: kiln cloud recover",
        c->paths.cloud_json, c->paths.home, l.instances, l.instances == 1 ? "" : "s", l.packages,
        l.packages == 1 ? "" : "s", l.images, l.images == 1 ? "" : "s",
        has_prev ? "Its previous generation is in cloud.json.prev; to start from it, run"
                 : "To rebuild the state from the packages and images on disk and stop the "
                   "instances nobody knows any more, run");
}

/* Packages from the *.rpm files in packages/: the file name is the NVR (package-add names it so).
 */
static void rebuild_packages(struct cloud *c)
{
    DIR *d = opendir(c->paths.packages_dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, ".rpm") ||
            strlen(e->d_name) >= CLOUD_NVR_MAX)
            continue;
        struct cloud_package *p = xcalloc(1, sizeof *p);
        snprintf(p->file, sizeof p->file, "%s", e->d_name);
        snprintf(p->nvr, sizeof p->nvr, "%.*s", (int)(strlen(e->d_name) - 4), e->d_name);
        /* name-version-release.arch: the name is what is left of the last two '-'. */
        char name[CLOUD_NVR_MAX];
        snprintf(name, sizeof name, "%s", p->nvr);
        for (int k = 0; k < 2; k++) {
            char *dash = strrchr(name, '-');
            if (dash != NULL)
                *dash = '\0';
        }
        struct stat st;
        char *path = xasprintf("%s/%s", c->paths.packages_dir, e->d_name);
        p->created_us = stat(path, &st) == 0 ? (int64_t)st.st_mtime * 1000000 : kiln_now_us();
        free(path);
        if (kiln_package_nvr_validate(p->nvr, NULL) < 0 || kiln_name_validate_app(name, NULL) < 0 ||
            strlen(name) >= sizeof p->name || cloud_find_package(c, p->nvr) != NULL) {
            free(p);
            continue;
        }
        memcpy(p->name, name, strlen(name) + 1);
        cloud_add_package(c, p);
    }
    closedir(d);
}

/* Images from images/<id>/ with their records images/<id>.json. */
static void rebuild_images(struct cloud *c)
{
    DIR *d = opendir(c->paths.images_dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (kiln_image_id_validate(e->d_name, NULL) < 0 || strlen(e->d_name) >= CLOUD_ID_MAX ||
            cloud_find_image(c, e->d_name) != NULL)
            continue;
        char *path = xasprintf("%s/%s.json", c->paths.images_dir, e->d_name);
        char *text = NULL;
        size_t len = 0;
        int rc = kiln_read_file(path, &text, &len, 1 << 20, NULL);
        free(path);
        if (rc < 0)
            continue;
        cJSON *o = cJSON_ParseWithLength(text, len);
        free(text);
        const cJSON *pkg = cJSON_GetObjectItemCaseSensitive(o, "package");
        const cJSON *app = cJSON_GetObjectItemCaseSensitive(o, "app");
        if (cJSON_IsString(pkg) && strlen(pkg->valuestring) < CLOUD_NVR_MAX) {
            struct cloud_image *im = xcalloc(1, sizeof *im);
            memcpy(im->id, e->d_name, strlen(e->d_name) + 1);
            snprintf(im->package, sizeof im->package, "%s", pkg->valuestring);
            if (cJSON_IsString(app) && kiln_name_validate_app(app->valuestring, NULL) == 0 &&
                strlen(app->valuestring) < sizeof im->app)
                memcpy(im->app, app->valuestring, strlen(app->valuestring) + 1);
            im->created_us = kiln_now_us();
            cloud_image_from_record(o, im);
            cloud_add_image(c, im);
        }
        cJSON_Delete(o);
    }
    closedir(d);
}

int cloud_recover(struct cloud *c, char *how, size_t how_size, struct kiln_err *err)
{
    char prev[4200];
    /* A damaged cloud.json is kept aside, for whoever wants to look at it. */
    if (access(c->paths.cloud_json, F_OK) == 0) {
        char aside[4300];
        snprintf(aside, sizeof aside, "%s.damaged-%lld", c->paths.cloud_json,
                 (long long)(kiln_now_us() / 1000000));
        if (rename(c->paths.cloud_json, aside) < 0)
            return kiln_err_sys(err, errno, "cannot move the damaged %s aside",
                                c->paths.cloud_json);
    }
    if (prev_exists(c, prev, sizeof prev)) {
        struct kiln_err perr = {0};
        if (cloud_store_load_file(c, prev, &perr) == 0) {
            snprintf(how, how_size, "from its previous generation %s", prev);
            c->dirty = true;
            return 0;
        }
        snprintf(how, how_size, "(%s could not be read either: %s) ", prev, perr.msg);
    } else {
        how[0] = '\0';
    }
    rebuild_packages(c);
    rebuild_images(c);
    size_t used = strlen(how);
    snprintf(how + used, how_size - used,
             "from disk: %zu package%s and %zu image%s; apps and groups were only in the state: "
             "create them again (kiln create-app, kiln deploy); instances nobody knows any more "
             "are stopped",
             c->packages.n, c->packages.n == 1 ? "" : "s", c->images.n,
             c->images.n == 1 ? "" : "s");
    c->dirty = true;
    (void)err;
    return 0;
}
