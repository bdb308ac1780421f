/* kiln: each job's record of its steps (see include/kiln/journal.h). */
#include "kiln/journal.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln/atomic_file.h"
#include "kiln/history.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"

struct kiln_journal {
    uint64_t id;
    char *path;
    cJSON *root;
    cJSON *steps; /* inside root */
};

static cJSON *must(cJSON *item)
{
    if (item == NULL)
        kiln_oom(0);
    return item;
}

static char *job_path(const char *dir, uint64_t id)
{
    return xasprintf("%s/%" PRIu64 ".json", dir, id);
}

/* Whether name is "<id>.json" with id written the way job_path writes it. */
static bool parse_job_name(const char *name, uint64_t *id)
{
    const char *p = name;
    uint64_t v = 0;
    if (*p == '0' && p[1] != '.')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (p == name || strcmp(p, ".json") != 0)
        return false;
    *id = v;
    return true;
}

static void set_string(cJSON *o, const char *key, const char *value)
{
    cJSON *s = must(cJSON_CreateString(value));
    /* Case-sensitive, like the replace: cJSON_HasObjectItem would take "State" for
     * "state", the replace would then find nothing, and s would be lost. */
    if (cJSON_GetObjectItemCaseSensitive(o, key) != NULL)
        cJSON_ReplaceItemInObjectCaseSensitive(o, key, s);
    else
        cJSON_AddItemToObject(o, key, s);
}

static void stamp(cJSON *o, const char *key)
{
    char now[KILN_ISO_TIME_MAX];
    set_string(o, key, kiln_time_iso_ms(kiln_now_us(), now));
}

static char *serialise(const struct kiln_journal *j, size_t *len)
{
    char *json = cJSON_Print(j->root);
    if (json == NULL)
        kiln_oom(0);
    /* A trailing newline keeps `cat` and diff happy. */
    char *text = xasprintf("%s\n", json);
    cJSON_free(json);
    *len = strlen(text);
    return text;
}

static int save(struct kiln_journal *j, struct kiln_err *err)
{
    stamp(j->root, "updated");
    size_t len;
    char *text = serialise(j, &len);
    int rc = kiln_atomic_write(j->path, text, len, 0600, err);
    free(text);
    if (rc < 0)
        kiln_err_prefix(err, "cannot record job %" PRIu64, j->id);
    return rc;
}

static int check_name(const char *what, const char *value, struct kiln_err *err)
{
    if (value == NULL || *value == '\0')
        return kiln_err_set(err, KILN_E_USAGE, "cannot record the job: %s is empty", what);
    return 0;
}

struct kiln_journal *kiln_journal_create(const char *dir, uint64_t id, const char *kind,
                                         const char *target, const cJSON *args,
                                         struct kiln_err *err)
{
    if (check_name("the job's kind", kind, err) < 0 || target == NULL)
        return NULL;
    if (args != NULL && !cJSON_IsObject(args)) {
        kiln_err_set(err, KILN_E_USAGE, "cannot record job %" PRIu64 ": args must be an object",
                     id);
        return NULL;
    }
    if (kiln_mkdir_p(dir, 0700, err) < 0)
        return NULL;
    char user[KILN_USER_AT_HOST_MAX];
    struct kiln_journal *j = xcalloc(1, sizeof *j);
    j->id = id;
    j->path = job_path(dir, id);
    j->root = must(cJSON_CreateObject());
    must(cJSON_AddNumberToObject(j->root, "job", (double)id));
    set_string(j->root, "kind", kind);
    set_string(j->root, "target", target);
    set_string(j->root, "user", kiln_user_at_host(user, sizeof user));
    stamp(j->root, "created");
    stamp(j->root, "updated");
    set_string(j->root, "state", "running");
    cJSON_AddItemToObject(j->root, "args",
                          must(args ? cJSON_Duplicate(args, true) : cJSON_CreateObject()));
    j->steps = must(cJSON_AddArrayToObject(j->root, "steps"));

    size_t len;
    char *text = serialise(j, &len);
    int rc = kiln_atomic_create(j->path, text, len, 0600, err);
    free(text);
    if (rc < 0) {
        if (err != NULL && err->code == KILN_E_EXISTS)
            kiln_err_set(err, KILN_E_EXISTS,
                         "cannot start job %" PRIu64 ": %s already holds a job with that number",
                         id, j->path);
        kiln_journal_free(j);
        return NULL;
    }
    return j;
}

static int add_step(struct kiln_journal *j, const char *name, const char *phase, const char *result,
                    const cJSON *data, struct kiln_err *err)
{
    if (check_name("the step's name", name, err) < 0)
        return -1;
    if (result != NULL && check_name("the step's result", result, err) < 0)
        return -1;
    cJSON *step = must(cJSON_CreateObject());
    set_string(step, "name", name);
    set_string(step, "phase", phase);
    if (result != NULL)
        set_string(step, "result", result);
    stamp(step, "time");
    if (data != NULL)
        cJSON_AddItemToObject(step, "data", must(cJSON_Duplicate(data, true)));
    cJSON_AddItemToArray(j->steps, step);
    return save(j, err);
}

int kiln_journal_step_before(struct kiln_journal *j, const char *name, const cJSON *data,
                             struct kiln_err *err)
{
    return add_step(j, name, "before", NULL, data, err);
}

int kiln_journal_step_after(struct kiln_journal *j, const char *name, const char *result,
                            const cJSON *data, struct kiln_err *err)
{
    if (check_name("the step's result", result, err) < 0)
        return -1;
    return add_step(j, name, "after", result, data, err);
}

int kiln_journal_finish(struct kiln_journal *j, const char *state, struct kiln_err *err)
{
    if (check_name("the job's state", state, err) < 0)
        return -1;
    set_string(j->root, "state", state);
    stamp(j->root, "finished");
    return save(j, err);
}

void kiln_journal_free(struct kiln_journal *j)
{
    if (j == NULL)
        return;
    cJSON_Delete(j->root);
    free(j->path);
    free(j);
}

static bool is_string(const cJSON *o, const char *key)
{
    return cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* What is wrong with a parsed record, or NULL if nothing. */
static const char *check_record(const cJSON *root, uint64_t id)
{
    if (!cJSON_IsObject(root))
        return "it is not a JSON object";
    const cJSON *job = cJSON_GetObjectItemCaseSensitive(root, "job");
    if (!cJSON_IsNumber(job) || job->valuedouble != (double)id)
        return "its \"job\" number does not match its file name";
    if (!is_string(root, "kind") || !is_string(root, "target") || !is_string(root, "state"))
        return "\"kind\", \"target\" or \"state\" is missing";
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(root, "args");
    if (args != NULL && !cJSON_IsObject(args))
        return "\"args\" is not an object";
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(root, "steps");
    if (!cJSON_IsArray(steps))
        return "\"steps\" is missing or not a list";
    const cJSON *s;
    cJSON_ArrayForEach(s, steps)
    {
        const cJSON *phase = cJSON_GetObjectItemCaseSensitive(s, "phase");
        if (!cJSON_IsObject(s) || !is_string(s, "name") || !is_string(s, "time") ||
            !cJSON_IsString(phase))
            return "a step lacks its name, phase or time";
        if (strcmp(phase->valuestring, "before") != 0 && strcmp(phase->valuestring, "after") != 0)
            return "a step's phase is neither \"before\" nor \"after\"";
        if (strcmp(phase->valuestring, "after") == 0 && !is_string(s, "result"))
            return "a finished step has no result";
    }
    return NULL;
}

struct kiln_journal *kiln_journal_load(const char *dir, uint64_t id, struct kiln_err *err)
{
    char *path = job_path(dir, id);
    char *text;
    size_t len;
    if (kiln_read_file(path, &text, &len, KILN_JOURNAL_MAX_BYTES, err) < 0) {
        free(path);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, true);
    const char *problem = NULL;
    if (root == NULL) {
        if (len == 0)
            kiln_err_set(err, KILN_E_INVALID,
                         "cannot read journal %s: the file is empty; move it aside to go on", path);
        else
            kiln_err_set(err, KILN_E_INVALID,
                         "cannot read journal %s: not valid JSON at byte %zu of %zu (the file may "
                         "be truncated or damaged); move it aside to go on",
                         path, end != NULL && end >= text ? (size_t)(end - text) : 0, len);
    } else if ((problem = check_record(root, id)) != NULL) {
        kiln_err_set(err, KILN_E_INVALID, "cannot read journal %s: %s; move it aside to go on",
                     path, problem);
    }
    free(text);
    if (root == NULL || problem != NULL) {
        cJSON_Delete(root);
        free(path);
        return NULL;
    }
    if (cJSON_GetObjectItemCaseSensitive(root, "args") == NULL)
        cJSON_AddItemToObject(root, "args", must(cJSON_CreateObject()));
    struct kiln_journal *j = xcalloc(1, sizeof *j);
    j->id = id;
    j->path = path;
    j->root = root;
    j->steps = cJSON_GetObjectItemCaseSensitive(root, "steps");
    return j;
}

int kiln_journal_remove(const char *dir, uint64_t id, struct kiln_err *err)
{
    char *path = job_path(dir, id);
    int rc = 0;
    if (unlink(path) < 0) {
        int saved = errno;
        rc = kiln_err_sys(err, saved, "cannot remove journal %s", path);
        if (saved == ENOENT && err != NULL)
            err->code = KILN_E_NOTFOUND;
    }
    free(path);
    return rc;
}

/* Collects the ids of the job files in dir, unsorted. A missing dir is empty. */
static int scan_ids(const char *dir, uint64_t **ids, size_t *n, struct kiln_err *err)
{
    *ids = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT)
            return 0;
        return kiln_err_sys(err, errno, "cannot list jobs in %s", dir);
    }
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t id;
        /* Temporary files start with '.', so parse_job_name already skips them. */
        if (!parse_job_name(de->d_name, &id))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *ids = xrealloc(*ids, cap * sizeof **ids);
        }
        (*ids)[(*n)++] = id;
    }
    closedir(d);
    return 0;
}

int kiln_journal_next_id(const char *dir, uint64_t *id, struct kiln_err *err)
{
    uint64_t *ids, max = 0;
    size_t n;
    if (scan_ids(dir, &ids, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (ids[i] > max)
            max = ids[i];
    free(ids);
    *id = max + 1;
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int kiln_journal_list(const char *dir, struct kiln_journal_list *out, struct kiln_err *err)
{
    memset(out, 0, sizeof *out);
    uint64_t *ids;
    size_t n;
    if (scan_ids(dir, &ids, &n, err) < 0)
        return -1;
    if (n > 1)
        qsort(ids, n, sizeof *ids, cmp_id);
    out->jobs = xcalloc(n ? n : 1, sizeof *out->jobs);
    for (size_t i = 0; i < n; i++) {
        struct kiln_err e = {0};
        struct kiln_journal *j = kiln_journal_load(dir, ids[i], &e);
        if (j != NULL) {
            out->jobs[out->njobs++] = j;
        } else if (e.code != KILN_E_NOTFOUND) { /* NOTFOUND: removed since the scan */
            out->problems = xrealloc(out->problems, (out->nproblems + 1) * sizeof *out->problems);
            out->problems[out->nproblems++] = xstrdup(e.msg);
        }
    }
    free(ids);
    return 0;
}

void kiln_journal_list_free(struct kiln_journal_list *l)
{
    for (size_t i = 0; i < l->njobs; i++)
        kiln_journal_free(l->jobs[i]);
    for (size_t i = 0; i < l->nproblems; i++)
        free(l->problems[i]);
    free(l->jobs);
    free(l->problems);
    memset(l, 0, sizeof *l);
}

static const char *string_of(const cJSON *o, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

uint64_t kiln_journal_id(const struct kiln_journal *j)
{
    return j->id;
}

const char *kiln_journal_path(const struct kiln_journal *j)
{
    return j->path;
}

const char *kiln_journal_kind(const struct kiln_journal *j)
{
    return string_of(j->root, "kind");
}

const char *kiln_journal_target(const struct kiln_journal *j)
{
    return string_of(j->root, "target");
}

const char *kiln_journal_user(const struct kiln_journal *j)
{
    const char *u = string_of(j->root, "user");
    return u ? u : "";
}

const char *kiln_journal_created(const struct kiln_journal *j)
{
    const char *c = string_of(j->root, "created");
    return c ? c : "";
}

const char *kiln_journal_state(const struct kiln_journal *j)
{
    return string_of(j->root, "state");
}

const cJSON *kiln_journal_args(const struct kiln_journal *j)
{
    return cJSON_GetObjectItemCaseSensitive(j->root, "args");
}

const cJSON *kiln_journal_json(const struct kiln_journal *j)
{
    return j->root;
}

size_t kiln_journal_step_count(const struct kiln_journal *j)
{
    return (size_t)cJSON_GetArraySize(j->steps);
}

static void fill_step(const cJSON *s, struct kiln_journal_step *out)
{
    out->name = string_of(s, "name");
    out->phase = string_of(s, "phase");
    out->result = string_of(s, "result");
    out->time = string_of(s, "time");
    out->data = cJSON_GetObjectItemCaseSensitive(s, "data");
}

bool kiln_journal_step_at(const struct kiln_journal *j, size_t i, struct kiln_journal_step *out)
{
    if (i >= kiln_journal_step_count(j))
        return false;
    fill_step(cJSON_GetArrayItem(j->steps, (int)i), out);
    return true;
}

bool kiln_journal_last_step(const struct kiln_journal *j, struct kiln_journal_step *out,
                            bool *completed)
{
    size_t n = kiln_journal_step_count(j);
    if (n == 0)
        return false;
    kiln_journal_step_at(j, n - 1, out);
    if (completed != NULL)
        *completed = strcmp(out->phase, "after") == 0;
    return true;
}

bool kiln_journal_find_step(const struct kiln_journal *j, const char *name, const char *phase,
                            struct kiln_journal_step *out)
{
    /* The newest match wins: a step retried after a resume counts by its latest record. */
    bool found = false;
    const cJSON *s;
    cJSON_ArrayForEach(s, j->steps)
    {
        struct kiln_journal_step st;
        fill_step(s, &st);
        if (strcmp(st.name, name) == 0 && (phase == NULL || strcmp(st.phase, phase) == 0)) {
            *out = st;
            found = true;
        }
    }
    return found;
}

int kiln_journal_set_owner(struct kiln_journal *j, int pid, unsigned long long pid_start,
                           struct kiln_err *err)
{
    cJSON_DeleteItemFromObjectCaseSensitive(j->root, "pid");
    cJSON_DeleteItemFromObjectCaseSensitive(j->root, "pid_start");
    must(cJSON_AddNumberToObject(j->root, "pid", pid));
    must(cJSON_AddNumberToObject(j->root, "pid_start", (double)pid_start));
    return save(j, err);
}
