/* kiln: the apps' source trees (see include/kiln/sources.h), in sources.json. */
#include "kiln/sources.h"

#include "kiln/atomic_file.h"
#include "kiln/xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *sources_path(const struct kiln_paths *paths)
{
    return xasprintf("%s/sources.json", paths->home);
}

static cJSON *load(const char *path, struct kiln_err *err)
{
    char *text = NULL;
    size_t len = 0;
    struct kiln_err rerr = {0};
    if (kiln_read_file(path, &text, &len, 1 << 20, &rerr) < 0) {
        if (rerr.code == KILN_E_NOTFOUND)
            return cJSON_CreateObject();
        if (err != NULL)
            *err = rerr;
        return NULL;
    }
    cJSON *o = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        kiln_err_set(err, KILN_E_INVALID,
                     "%s is damaged (not a JSON object); fix it or remove it and record the "
                     "sources again with kiln create-app --source",
                     path);
        return NULL;
    }
    return o;
}

int kiln_sources_set(const struct kiln_paths *paths, const char *app, const char *dir,
                     struct kiln_err *err)
{
    char abs[PATH_MAX];
    if (realpath(dir, abs) == NULL)
        return kiln_err_sys(err, errno, "cannot use %s as the source of %s", dir, app);
    char *path = sources_path(paths);
    cJSON *o = load(path, err);
    int rc = -1;
    if (o != NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, app);
        cJSON_AddStringToObject(o, app, abs);
        char *text = cJSON_Print(o);
        rc = kiln_atomic_write(path, text, strlen(text), 0600, err);
        cJSON_free(text);
        cJSON_Delete(o);
    }
    free(path);
    return rc;
}

int kiln_sources_get(const struct kiln_paths *paths, const char *app, char *buf, size_t n,
                     struct kiln_err *err)
{
    char *path = sources_path(paths);
    cJSON *o = load(path, err);
    free(path);
    if (o == NULL)
        return -1;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, app);
    int rc = 0;
    if (cJSON_IsString(v))
        snprintf(buf, n, "%s", v->valuestring);
    else
        rc = kiln_err_set(err, KILN_E_NOTFOUND,
                          "%s has no source: give --source DIR (a directory with its kiln.json "
                          "and spec), or record one with kiln create-app %s --env ENV ... "
                          "--source DIR",
                          app, app);
    cJSON_Delete(o);
    return rc;
}
