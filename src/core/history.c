/* kiln: the audit history (see include/kiln/history.h).
 *
 * Why append and not kiln_atomic_write: the history only ever grows, and
 * rewriting a growing file on every entry costs O(size) each time and makes two
 * writers lose each other's entries (both read, both rename). Instead each entry
 * is one write() of a whole line to a file opened O_APPEND: Linux holds the
 * inode lock across such a write, so concurrent appends from threads and
 * processes land as whole lines, one after the other. A crash can still leave
 * the last line torn (short write on a full disk, power cut before fsync); the
 * reader skips a line that does not parse or has no '\n', and the next append
 * starts on a fresh line so a torn tail never swallows a good entry.
 */
#include "kiln/history.h"
#include "kiln/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/strbuf.h"
#include "kiln/timeutil.h"

static cJSON *must(cJSON *item)
{
    if (item == NULL)
        kiln_oom(0);
    return item;
}

char *kiln_user_at_host(char *buf, size_t n)
{
    const char *user = getenv("USER");
    char pwbuf[1024], uidbuf[32], host[256];
    struct passwd pw, *found = NULL;
    if (user == NULL || *user == '\0') {
        if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof pwbuf, &found) == 0 && found != NULL)
            user = pw.pw_name;
        else {
            snprintf(uidbuf, sizeof uidbuf, "uid%u", (unsigned)geteuid());
            user = uidbuf;
        }
    }
    if (gethostname(host, sizeof host) < 0 || host[0] == '\0')
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(buf, n, "%s@%s", user, host);
    return buf;
}

static char *entry_line(const struct kiln_history_entry *e)
{
    char now[KILN_ISO_TIME_MAX], user[KILN_USER_AT_HOST_MAX];
    cJSON *o = must(cJSON_CreateObject());
    must(cJSON_AddStringToObject(o, "time", e->time ? e->time : kiln_time_iso(kiln_now_us(), now)));
    must(cJSON_AddStringToObject(o, "user",
                                 e->user ? e->user : kiln_user_at_host(user, sizeof user)));
    must(cJSON_AddStringToObject(o, "action", e->action));
    must(cJSON_AddStringToObject(o, "target", e->target));
    if (e->job != 0)
        must(cJSON_AddNumberToObject(o, "job", (double)e->job));
    must(cJSON_AddStringToObject(o, "result", e->result));
    if (e->duration_ms >= 0)
        must(cJSON_AddNumberToObject(o, "duration_ms", (double)e->duration_ms));
    if (e->detail != NULL)
        must(cJSON_AddStringToObject(o, "detail", e->detail));
    /* Unformatted output escapes every control character, so the record is one
     * line whatever the strings hold. */
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (json == NULL)
        kiln_oom(0);
    return json;
}

/* Whether the file's last byte is a '\n' (or the file is empty). */
static bool ends_with_newline(int fd)
{
    struct stat st;
    char last;
    if (fstat(fd, &st) < 0 || st.st_size == 0)
        return true;
    if (pread(fd, &last, 1, st.st_size - 1) != 1)
        return true;
    return last == '\n';
}

int kiln_history_append(const char *path, const struct kiln_history_entry *e, struct kiln_err *err)
{
    if (e->action == NULL || e->target == NULL || e->result == NULL)
        return kiln_err_set(err, KILN_E_USAGE,
                            "cannot record history: an entry needs an action, target and result");
    char *json = entry_line(e);
    /* Read access too, for the look at the last byte. */
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        kiln_err_sys(err, errno, "cannot record history in %s", path);
        free(json);
        return -1;
    }
    struct kiln_strbuf line = KILN_STRBUF_INIT;
    /* After a crash the file may end in a torn line; start ours on a line of its
     * own. Two writers racing here at worst leave an empty line, which readers
     * ignore. */
    if (!ends_with_newline(fd))
        kiln_strbuf_appendc(&line, '\n');
    kiln_strbuf_append(&line, json);
    kiln_strbuf_appendc(&line, '\n');
    free(json);

    int rc = 0;
    ssize_t n;
    /* One write(), never a loop: finishing a short write with a second one would
     * let another appender's line land in the middle of ours. A short write is a
     * torn line, which the reader skips. */
    do
        n = write(fd, line.buf, line.len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        rc = kiln_err_sys(err, errno, "cannot record history in %s", path);
    else if ((size_t)n < line.len)
        rc = kiln_err_set(err, KILN_E_IO,
                          "cannot record history in %s: only part of the entry was written; "
                          "check free disk space",
                          path);
    else if (fsync(fd) < 0)
        rc = kiln_err_sys(err, errno, "cannot record history in %s: cannot flush it to disk", path);
    if (close(fd) < 0 && rc == 0)
        rc = kiln_err_sys(err, errno, "cannot record history in %s", path);
    kiln_strbuf_free(&line);
    return rc;
}

static const char *get_string(const cJSON *o, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* Fills e from one parsed line; false if the line is not a valid entry. */
static bool parse_entry(const cJSON *o, struct kiln_history_entry *e)
{
    if (!cJSON_IsObject(o))
        return false;
    e->time = get_string(o, "time");
    e->user = get_string(o, "user");
    e->action = get_string(o, "action");
    e->target = get_string(o, "target");
    e->result = get_string(o, "result");
    e->detail = get_string(o, "detail");
    if (e->time == NULL || e->action == NULL || e->target == NULL || e->result == NULL)
        return false;
    if (e->user == NULL)
        e->user = "";
    const cJSON *job = cJSON_GetObjectItemCaseSensitive(o, "job");
    const cJSON *dur = cJSON_GetObjectItemCaseSensitive(o, "duration_ms");
    e->job = 0;
    e->duration_ms = -1;
    /* A number out of the type's range is a damaged line (converting it would be
     * undefined behaviour), like any other bad value. */
    if (job != NULL) {
        if (!cJSON_IsNumber(job) || !kiln_fits_u64(job->valuedouble))
            return false;
        e->job = (uint64_t)job->valuedouble;
    }
    if (dur != NULL) {
        if (!cJSON_IsNumber(dur) || !kiln_fits_i64(dur->valuedouble))
            return false;
        e->duration_ms = (int64_t)dur->valuedouble;
    }
    return true;
}

static bool target_matches(const char *target, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(target, prefix, n) == 0 && (target[n] == '\0' || target[n] == '-');
}

int kiln_history_read(const char *path, const char *target_prefix, kiln_history_fn fn, void *ctx,
                      size_t *malformed, struct kiln_err *err)
{
    if (malformed != NULL)
        *malformed = 0;
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        return kiln_err_sys(err, errno, "cannot read history %s", path);
    }
    char *line = NULL;
    size_t cap = 0, bad = 0;
    ssize_t len;
    bool go_on = true;
    while (go_on && (len = getline(&line, &cap, f)) >= 0) {
        /* Only a line with its '\n' was written whole. */
        if (len == 0 || line[len - 1] != '\n') {
            bad++;
            continue;
        }
        line[--len] = '\0';
        if (len == 0)
            continue;
        cJSON *o = cJSON_ParseWithLengthOpts(line, (size_t)len + 1, NULL, true);
        struct kiln_history_entry e;
        if (o == NULL || !parse_entry(o, &e))
            bad++;
        else if (target_prefix == NULL || target_matches(e.target, target_prefix))
            go_on = fn(ctx, &e);
        cJSON_Delete(o);
    }
    int rc = 0;
    if (ferror(f))
        rc = kiln_err_sys(err, errno, "cannot read history %s", path);
    free(line);
    fclose(f);
    if (malformed != NULL)
        *malformed = bad;
    return rc;
}
