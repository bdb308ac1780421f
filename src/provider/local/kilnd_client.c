/* kiln: the client side of kilnd's socket (see include/kiln/kilnd_client.h). */
#include "kiln/kilnd_client.h"

#include "kiln/sockio.h"
#include "kiln/spawn.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pwd.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define REPLY_MAX (64u << 20)
/* kilnd answers most operations at once; bakes and load balancer switches take
 * seconds. Beyond this, something is wrong and the user should hear about it. */
#define CALL_TIMEOUT_MS 600000

struct kiln_kilnd {
    int fd;
    uint64_t next_id;
    struct kiln_strbuf in; /* bytes read past the last line */
    char home[PATH_MAX];
};

const char *kiln_kilnd_binary(char *buf, size_t n)
{
    const char *env = getenv("KILN_KILND");
    if (env != NULL && env[0] != '\0') {
        snprintf(buf, n, "%s", env);
        return buf;
    }
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            snprintf(buf, n, "%s/kilnd", self);
            if (access(buf, X_OK) == 0)
                return buf;
        }
    }
    snprintf(buf, n, "kilnd");
    return buf;
}

static int try_connect(const char *path, int *fd_out)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *fd_out = fd;
    return 0;
}

static void forward_line(void *ctx, enum kiln_stream stream, const char *line)
{
    struct kiln_strbuf *sb = ctx;
    if (sb->len < 800) {
        kiln_strbuf_append(sb, line);
        kiln_strbuf_append(sb, " ");
    }
}

int kiln_kilnd_start(const struct kiln_paths *paths, const char *config, bool *started,
                     struct kiln_err *err)
{
    int fd;
    *started = false;
    if (try_connect(paths->socket, &fd) == 0) {
        close(fd);
        return 0;
    }
    char bin[PATH_MAX];
    const char *argv[] = {
        kiln_kilnd_binary(bin, sizeof bin), "--home", paths->home, NULL, NULL, NULL};
    if (config != NULL) {
        argv[3] = "--config";
        argv[4] = config;
    }
    struct kiln_strbuf out = KILN_STRBUF_INIT;
    struct kiln_spawn_opts o = {
        .argv = argv, .timeout_ms = 30000, .on_line = forward_line, .ctx = &out};
    int status = 0;
    int rc = kiln_spawn_run(&o, &status, err);
    if (rc == 0 && status != 0 && status != 3) {
        kiln_err_set(err, KILN_E_FAILED, "could not start the local cloud (kilnd): %s",
                     out.len ? out.buf
                             : "it exited with an error (see kilnd.log in the state dir)");
        rc = -1;
    } else if (rc < 0) {
        kiln_err_prefix(err, "could not start the local cloud");
    }
    kiln_strbuf_free(&out);
    if (rc == 0)
        *started = status == 0;
    return rc;
}

struct kiln_kilnd *kiln_kilnd_connect(const struct kiln_paths *paths, const char *config,
                                      bool autostart, struct kiln_err *err)
{
    int fd = -1;
    if (try_connect(paths->socket, &fd) < 0) {
        int e = errno;
        struct stat st;
        if ((e == EACCES || e == EPERM) && stat(paths->socket, &st) == 0) {
            /* It runs; the socket (0600) is someone else's. */
            struct passwd *pw = getpwuid(st.st_uid);
            kiln_err_set(err, KILN_E_FAILED,
                         "the local cloud for %s is running, but you may not use it (owner %s): "
                         "run kiln as that user, or use your own state dir (--home)",
                         paths->home, pw != NULL ? pw->pw_name : "another user");
            return NULL;
        }
        if (!autostart || (e != ENOENT && e != ECONNREFUSED)) {
            kiln_err_set(err, KILN_E_FAILED,
                         "the local cloud is not running for %s (%s); start it with: kiln cloud "
                         "start",
                         paths->home, strerror(e));
            return NULL;
        }
        bool started;
        if (kiln_kilnd_start(paths, config, &started, err) < 0)
            return NULL;
        if (try_connect(paths->socket, &fd) < 0) {
            kiln_err_sys(err, errno, "kilnd started but its socket %s does not answer",
                         paths->socket);
            return NULL;
        }
    }
    struct kiln_kilnd *k = xcalloc(1, sizeof *k);
    k->fd = fd;
    k->next_id = 1;
    snprintf(k->home, sizeof k->home, "%s", paths->home);
    return k;
}

void kiln_kilnd_close(struct kiln_kilnd *k)
{
    if (k == NULL)
        return;
    close(k->fd);
    kiln_strbuf_free(&k->in);
    free(k);
}

int kiln_kilnd_fd(const struct kiln_kilnd *k)
{
    return k->fd;
}

/* Reads one line (without the newline) into *line (caller frees). 1 = got one,
 * 0 = timeout, -1 = closed or error. */
static int read_line(struct kiln_kilnd *k, int timeout_ms, char **line, struct kiln_err *err)
{
    int64_t deadline = timeout_ms < 0 ? 0 : kiln_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        char *nl = k->in.len ? memchr(k->in.buf, '\n', k->in.len) : NULL;
        if (nl != NULL) {
            size_t n = (size_t)(nl - k->in.buf);
            *line = xstrndup(k->in.buf, n);
            memmove(k->in.buf, nl + 1, k->in.len - n - 1);
            kiln_strbuf_truncate(&k->in, k->in.len - n - 1);
            return 1;
        }
        if (k->in.len > REPLY_MAX)
            return kiln_err_set(err, KILN_E_INVALID, "kilnd sent a reply larger than %u bytes",
                                REPLY_MAX);
        int wait = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - kiln_mono_us();
            if (left <= 0)
                return 0;
            wait = (int)(left / 1000) + 1;
        }
        struct pollfd p = {.fd = k->fd, .events = POLLIN};
        int pr = poll(&p, 1, wait);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            continue;
        char buf[65536];
        ssize_t n = recv(k->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return kiln_err_set(err, KILN_E_IO,
                                "the local cloud (kilnd for %s) closed the connection; see "
                                "kilnd.log there, or restart it with kiln cloud start",
                                k->home);
        kiln_strbuf_append_len(&k->in, buf, (size_t)n);
    }
}

static enum kiln_errcode code_from_name(const char *name)
{
    static const enum kiln_errcode codes[] = {
        KILN_E_FAILED,    KILN_E_USAGE, KILN_E_INVALID,  KILN_E_NOTFOUND,
        KILN_E_EXISTS,    KILN_E_IO,    KILN_E_BUSY,     KILN_E_TIMEOUT,
        KILN_E_CANCELLED, KILN_E_NOMEM, KILN_E_READONLY,
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (name != NULL && strcmp(kiln_errcode_name(codes[i]), name) == 0)
            return codes[i];
    return KILN_E_FAILED;
}

int kiln_kilnd_call(struct kiln_kilnd *k, const char *op, cJSON *args, cJSON **result,
                    struct kiln_err *err)
{
    if (result != NULL)
        *result = NULL;
    uint64_t id = k->next_id++;
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddNumberToObject(msg, "v", KILND_PROTOCOL_VERSION);
    cJSON_AddNumberToObject(msg, "id", (double)id);
    cJSON_AddStringToObject(msg, "op", op);
    cJSON_AddItemToObject(msg, "args", args ? args : cJSON_CreateObject());
    char *text = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    if (text == NULL)
        kiln_oom(0);
    struct kiln_strbuf out = KILN_STRBUF_INIT;
    kiln_strbuf_append(&out, text);
    kiln_strbuf_appendc(&out, '\n');
    cJSON_free(text);
    int rc = kiln_send_all(k->fd, out.buf, out.len);
    kiln_strbuf_free(&out);
    if (rc < 0)
        return kiln_err_sys(err, errno, "cannot talk to the local cloud (kilnd for %s)", k->home);

    char *line = NULL;
    rc = read_line(k, CALL_TIMEOUT_MS, &line, err);
    if (rc == 0)
        return kiln_err_set(err, KILN_E_TIMEOUT, "the local cloud did not answer '%s' in time", op);
    if (rc < 0)
        return -1;
    cJSON *reply = cJSON_Parse(line);
    free(line);
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(reply, "ok");
    if (!cJSON_IsBool(ok)) {
        cJSON_Delete(reply);
        return kiln_err_set(err, KILN_E_INVALID, "kilnd sent a reply kiln cannot read");
    }
    if (cJSON_IsTrue(ok)) {
        if (result != NULL) {
            *result = cJSON_DetachItemFromObjectCaseSensitive(reply, "result");
            if (*result == NULL)
                *result = cJSON_CreateObject();
        }
        cJSON_Delete(reply);
        return 0;
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(reply, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(e, "message");
    kiln_err_set(err, code_from_name(cJSON_IsString(code) ? code->valuestring : NULL), "%s",
                 cJSON_IsString(message) ? message->valuestring : "kilnd reported an error");
    if (result != NULL) {
        cJSON *detail = cJSON_DetachItemFromObjectCaseSensitive((cJSON *)e, "detail");
        *result = detail;
    }
    cJSON_Delete(reply);
    return -1;
}

int kiln_kilnd_subscribe(struct kiln_kilnd *k, uint64_t since, struct kiln_err *err)
{
    cJSON *args = cJSON_CreateObject();
    cJSON_AddNumberToObject(args, "since", (double)since);
    return kiln_kilnd_call(k, KILND_OP_SUBSCRIBE, args, NULL, err);
}

int kiln_kilnd_next_event(struct kiln_kilnd *k, int timeout_ms, cJSON **event, struct kiln_err *err)
{
    *event = NULL;
    char *line = NULL;
    int rc = read_line(k, timeout_ms, &line, err);
    if (rc <= 0)
        return rc;
    cJSON *msg = cJSON_Parse(line);
    free(line);
    cJSON *ev = cJSON_DetachItemFromObjectCaseSensitive(msg, "event");
    cJSON_Delete(msg);
    if (ev == NULL)
        return kiln_err_set(err, KILN_E_INVALID, "kilnd sent an event kiln cannot read");
    *event = ev;
    return 1;
}
