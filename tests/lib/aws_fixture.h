/* A canned AWS endpoint for kiln's unit tests: a forked HTTP/1.1 server on 127.0.0.1:0
 * (optionally TLS with a certificate the test made) that answers the n-th request with
 * the n-th canned response (the last one repeats) and appends every request, as it
 * arrived, to a log file the test reads. Connections are kept alive, and the log says
 * which connection each request came on, so tests can see curl's connection reuse.
 *
 * A test tool, never shipped: the responses are whatever the test hands it. Header-only
 * so each test stays one file. */
#ifndef KILN_AWS_FIXTURE_H
#define KILN_AWS_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct fx_response {
    int status;               /* 0: drop the connection without answering */
    const char *body;         /* NULL: "" */
    const char *content_type; /* NULL: text/xml */
    int delay_ms;             /* wait this long before answering */
    const char *headers;      /* extra "Name: value\r\n" lines, or NULL */
};

struct fixture {
    pid_t pid;
    int port;
    char log_path[512];
    char url[64]; /* "http://127.0.0.1:PORT" or https */
};

struct fx_conn {
    int fd;
    SSL *ssl;
};

static ssize_t fx_read(struct fx_conn *c, char *buf, size_t n)
{
    if (c->ssl) {
        int r = SSL_read(c->ssl, buf, (int)n);
        return r > 0 ? r : -1;
    }
    return read(c->fd, buf, n);
}

static void fx_write(struct fx_conn *c, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = c->ssl ? SSL_write(c->ssl, buf, (int)n) : send(c->fd, buf, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        buf += w;
        n -= (size_t)w;
    }
}

static void fx_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Reads one request (headers and Content-Length body) into buf; its length, or -1. */
static ssize_t fx_read_request(struct fx_conn *c, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            size_t head = (size_t)(end + 4 - buf);
            size_t body = 0;
            for (char *p = buf; p < end; p++) {
                if ((p == buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0)
                    body = (size_t)strtoul(p + 15, NULL, 10);
            }
            while (len < head + body && len < cap - 1) {
                ssize_t r = fx_read(c, buf + len, cap - 1 - len);
                if (r <= 0)
                    return -1;
                len += (size_t)r;
            }
            buf[len] = '\0';
            return (ssize_t)len;
        }
        if (len >= cap - 1)
            return -1;
        if (!c->ssl) {
            struct pollfd pfd = {c->fd, POLLIN, 0};
            if (poll(&pfd, 1, 30000) <= 0)
                return -1;
        }
        ssize_t r = fx_read(c, buf + len, cap - 1 - len);
        if (r <= 0)
            return -1;
        len += (size_t)r;
    }
}

static const char *fx_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

static void fx_serve(int lfd, const struct fx_response *r, size_t n, const char *log_path,
                     SSL_CTX *ctx)
{
    size_t next = 0;
    int conn_no = 0;
    static char buf[1 << 20];
    for (;;) {
        struct pollfd pfd = {lfd, POLLIN, 0};
        if (poll(&pfd, 1, 60000) <= 0)
            _exit(0); /* nobody came for a minute: the test is gone */
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        conn_no++;
        struct fx_conn c = {fd, NULL};
        if (ctx) {
            c.ssl = SSL_new(ctx);
            SSL_set_fd(c.ssl, fd);
            if (SSL_accept(c.ssl) <= 0) {
                FILE *log = fopen(log_path, "a");
                if (log) {
                    fprintf(log, "=== TLS HANDSHAKE FAILED conn %d\n", conn_no);
                    fclose(log);
                }
                SSL_free(c.ssl);
                close(fd);
                continue;
            }
        }
        for (;;) {
            ssize_t len = fx_read_request(&c, buf, sizeof buf);
            if (len < 0)
                break;
            const struct fx_response *resp = &r[next < n ? next : n - 1];
            next++;
            FILE *log = fopen(log_path, "a");
            if (log) {
                fprintf(log, "=== REQUEST %zu conn %d\n%s\n=== END\n", next, conn_no, buf);
                fclose(log);
            }
            if (resp->delay_ms)
                fx_sleep_ms(resp->delay_ms);
            if (resp->status == 0)
                break;
            const char *body = resp->body ? resp->body : "";
            char head[1024];
            int hl = snprintf(head, sizeof head,
                              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                              "x-amzn-RequestId: fixture-%zu\r\n%s\r\n",
                              resp->status, fx_reason(resp->status),
                              resp->content_type ? resp->content_type : "text/xml", strlen(body),
                              next, resp->headers ? resp->headers : "");
            fx_write(&c, head, (size_t)hl);
            fx_write(&c, body, strlen(body));
        }
        if (c.ssl) {
            SSL_shutdown(c.ssl);
            SSL_free(c.ssl);
        }
        close(fd);
    }
}

/* Starts the server; cert and key (PEM files) make it HTTPS. 0 or -1. */
static int fx_start_tls(struct fixture *f, const struct fx_response *r, size_t n,
                        const char *log_path, const char *cert, const char *key)
{
    memset(f, 0, sizeof *f);
    snprintf(f->log_path, sizeof f->log_path, "%s", log_path);
    unlink(log_path);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 16) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
        return -1;
    f->port = ntohs(sa.sin_port);
    snprintf(f->url, sizeof f->url, "%s://127.0.0.1:%d", cert ? "https" : "http", f->port);
    fflush(NULL);
    f->pid = fork();
    if (f->pid < 0)
        return -1;
    if (f->pid == 0) {
        signal(SIGPIPE, SIG_IGN);
        SSL_CTX *ctx = NULL;
        if (cert) {
            ctx = SSL_CTX_new(TLS_server_method());
            if (ctx == NULL || SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM) != 1 ||
                SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
                _exit(3);
        }
        fx_serve(lfd, r, n, log_path, ctx);
        _exit(0);
    }
    close(lfd);
    return 0;
}

static int fx_start(struct fixture *f, const struct fx_response *r, size_t n, const char *log_path)
{
    return fx_start_tls(f, r, n, log_path, NULL, NULL);
}

static void fx_stop(struct fixture *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
}

/* The log so far (the caller frees); "" when nothing came. */
static char *fx_log(const struct fixture *f)
{
    FILE *fp = fopen(f->log_path, "r");
    if (fp == NULL)
        return strdup("");
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&text, &cap, '\0', fp);
    fclose(fp);
    if (n < 0) {
        free(text);
        return strdup("");
    }
    return text;
}

static int fx_count(const struct fixture *f, const char *needle)
{
    char *log = fx_log(f);
    int n = 0;
    for (const char *p = log; (p = strstr(p, needle)) != NULL; p++)
        n++;
    free(log);
    return n;
}

#endif
