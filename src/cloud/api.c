/* kilnd: the API socket. One thread per client connection, one JSON message per line
 * (doc/kilnd-api.md). A client can send anything: garbage gets an error reply, an
 * oversized message an error reply and a closed connection; nothing a client sends
 * can crash or wedge the daemon. */
#include "cloud/api.h"
#include "cloud/cloud.h"

#include "kiln/json.h"
#include "kiln/sockio.h"
#include "kiln/strbuf.h"
#include "kiln/xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define API_MAX_MESSAGE (1u << 20)
#define API_READ_CHUNK  65536
/* A client that sends nothing for this long while mid-message is cut off, so a
 * half-sent message cannot hold a thread forever. */
#define API_PARTIAL_TIMEOUT_MS 30000

struct client {
    struct cloud *cloud;
    int fd;
};

static atomic_int clients_running;

int api_listen(const char *path, struct kiln_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return kiln_err_set(err, KILN_E_INVALID,
                            "the socket path %s is too long for a UNIX socket (%zu bytes at most); "
                            "use a shorter --home",
                            path, sizeof sa.sun_path - 1);
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return kiln_err_sys(err, errno, "cannot create a socket");
    /* We hold kilnd's lock, so a socket file left here is from a dead kilnd. */
    unlink(path);
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc < 0) {
        int e = errno;
        close(fd);
        return kiln_err_sys(err, e, "cannot listen on %s", path);
    }
    if (chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
        int e = errno;
        close(fd);
        return kiln_err_sys(err, e, "cannot listen on %s", path);
    }
    return fd;
}

static int send_json(int fd, cJSON *msg)
{
    char *text = cJSON_PrintUnformatted(msg);
    if (text == NULL)
        kiln_oom(0);
    size_t len = strlen(text);
    char *line = xmalloc(len + 2);
    memcpy(line, text, len);
    line[len] = '\n';
    int rc = kiln_send_all(fd, line, len + 1);
    free(line);
    cJSON_free(text);
    return rc;
}

static int send_error(int fd, double id, const char *code, const char *message, const cJSON *extra)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "v", KILND_PROTOCOL_VERSION);
    if (id >= 0)
        cJSON_AddNumberToObject(r, "id", id);
    cJSON_AddBoolToObject(r, "ok", false);
    cJSON *e = cJSON_AddObjectToObject(r, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    if (extra != NULL)
        cJSON_AddItemToObject(e, "detail", cJSON_Duplicate(extra, true));
    int rc = send_json(fd, r);
    cJSON_Delete(r);
    return rc;
}

/* True when the peer has hung up (or sent more, which a subscriber must not). */
static bool peer_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0)
        return false;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
        return true;
    char b;
    return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static void serve_subscription(struct cloud *c, int fd, double id, const cJSON *args)
{
    const cJSON *since = cJSON_GetObjectItemCaseSensitive(args, "since");
    /* In range before converting: (uint64_t)1e300 is undefined. */
    uint64_t seq =
        cJSON_IsNumber(since) && kiln_fits_u64(since->valuedouble) && since->valuedouble > 0
            ? (uint64_t)since->valuedouble
            : cloud_events_last(c);
    cJSON *ok = cJSON_CreateObject();
    cJSON_AddNumberToObject(ok, "v", KILND_PROTOCOL_VERSION);
    cJSON_AddNumberToObject(ok, "id", id);
    cJSON_AddBoolToObject(ok, "ok", true);
    cJSON *res = cJSON_AddObjectToObject(ok, "result");
    cJSON_AddNumberToObject(res, "last", (double)cloud_events_last(c));
    int rc = send_json(fd, ok);
    cJSON_Delete(ok);
    while (rc == 0 && !c->stopping) {
        char *lines = NULL;
        seq = cloud_events_wait(c, seq, 1000, &lines);
        if (lines != NULL) {
            rc = kiln_send_all(fd, lines, strlen(lines));
            free(lines);
        }
        if (peer_gone(fd))
            break;
    }
}

/* Handles one complete line; returns -1 when the connection should close. */
static int handle_line(struct cloud *c, int fd, const char *line, size_t len)
{
    cJSON *msg = cJSON_ParseWithLength(line, len);
    if (!cJSON_IsObject(msg)) {
        cJSON_Delete(msg);
        return send_error(fd, -1, "invalid",
                          "the message is not a JSON object (one object per line, see "
                          "doc/kilnd-api.md)",
                          NULL);
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, "v");
    const cJSON *idj = cJSON_GetObjectItemCaseSensitive(msg, "id");
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(msg, "op");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(msg, "args");
    double id = cJSON_IsNumber(idj) ? idj->valuedouble : -1;
    int rc;
    if (!cJSON_IsNumber(v) || v->valuedouble != KILND_PROTOCOL_VERSION) {
        char m[200];
        snprintf(m, sizeof m,
                 "this kilnd speaks protocol version %d and the client sent %s; use a kiln and "
                 "kilnd of the same release (kiln cloud stop, then start it again)",
                 KILND_PROTOCOL_VERSION, cJSON_IsNumber(v) ? "another" : "none");
        rc = send_error(fd, id, "version", m, NULL);
    } else if (!cJSON_IsString(op)) {
        rc = send_error(fd, id, "invalid", "the message has no \"op\" string", NULL);
    } else if (args != NULL && !cJSON_IsObject(args)) {
        rc = send_error(fd, id, "invalid", "\"args\" must be an object", NULL);
    } else if (strcmp(op->valuestring, KILND_OP_SUBSCRIBE) == 0) {
        serve_subscription(c, fd, id, args);
        rc = -1;
    } else {
        cJSON *result = cJSON_CreateObject();
        struct kiln_err err = {0};
        if (cloud_op_run(c, op->valuestring, args, result, &err) == 0) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddNumberToObject(r, "v", KILND_PROTOCOL_VERSION);
            cJSON_AddNumberToObject(r, "id", id);
            cJSON_AddBoolToObject(r, "ok", true);
            cJSON_AddItemToObject(r, "result", result);
            result = NULL;
            rc = send_json(fd, r);
            cJSON_Delete(r);
        } else {
            rc = send_error(fd, id, kiln_errcode_name(err.code), err.msg,
                            cJSON_GetArraySize(result) > 0 ? result : NULL);
        }
        cJSON_Delete(result);
    }
    cJSON_Delete(msg);
    return rc;
}

static void *client_main(void *arg)
{
    struct client *cl = arg;
    struct kiln_strbuf in = KILN_STRBUF_INIT;
    char *chunk = xmalloc(API_READ_CHUNK);

    for (;;) {
        struct pollfd p = {.fd = cl->fd, .events = POLLIN};
        int timeout = in.len > 0 ? API_PARTIAL_TIMEOUT_MS : 1000;
        int pr = poll(&p, 1, timeout);
        if (cl->cloud->stopping)
            break;
        if (pr == 0) {
            if (in.len > 0) {
                send_error(cl->fd, -1, "timeout", "the message was never finished (no newline)",
                           NULL);
                break;
            }
            continue;
        }
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        ssize_t n = recv(cl->fd, chunk, API_READ_CHUNK, 0);
        if (n <= 0)
            break;
        size_t start = 0;
        bool close_now = false;
        for (size_t i = 0; i < (size_t)n && !close_now; i++) {
            if (chunk[i] != '\n')
                continue;
            kiln_strbuf_append_len(&in, chunk + start, i - start);
            if (in.len > API_MAX_MESSAGE) {
                send_error(cl->fd, -1, "too-large",
                           "the message is larger than 1 MiB; the "
                           "connection is closed",
                           NULL);
                close_now = true;
            } else if (in.len > 0 && handle_line(cl->cloud, cl->fd, in.buf, in.len) < 0) {
                close_now = true;
            }
            kiln_strbuf_reset(&in);
            start = i + 1;
        }
        if (close_now)
            break;
        kiln_strbuf_append_len(&in, chunk + start, (size_t)n - start);
        if (in.len > API_MAX_MESSAGE) {
            char m[160];
            snprintf(m, sizeof m, "the message is larger than %u bytes; the connection is closed",
                     API_MAX_MESSAGE);
            send_error(cl->fd, -1, "too-large", m, NULL);
            break;
        }
    }
    free(chunk);
    kiln_strbuf_free(&in);
    close(cl->fd);
    free(cl);
    atomic_fetch_sub(&clients_running, 1);
    return NULL;
}

int api_serve_client(struct cloud *c, int fd)
{
    struct client *cl = xcalloc(1, sizeof *cl);
    cl->cloud = c;
    cl->fd = fd;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    atomic_fetch_add(&clients_running, 1);
    int rc = pthread_create(&t, &attr, client_main, cl);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        atomic_fetch_sub(&clients_running, 1);
        close(fd);
        free(cl);
        return -1;
    }
    return 0;
}

int api_clients_running(void)
{
    return atomic_load(&clients_running);
}
