/*
 * hello-world: the example app that kiln builds, bakes and deploys.
 *
 * A small HTTP/1.1 server: one process, one thread, a poll() loop over
 * non-blocking sockets. C11 + POSIX, no external libraries.
 *
 *   GET /health_check  -> 200 "ok\n"   (500 when built with -DHEALTH_BROKEN
 *                                       or started with HELLO_HEALTH=fail)
 *   GET /              -> 200 "hello-world <version>-<release>\n"
 *   anything else      -> 404
 *
 * Environment:
 *   PORT              TCP port to listen on (required, 1-65535; exit 2 if bad)
 *   HELLO_BIND        IPv4 address to bind (default 127.0.0.1)
 *   KILN_INSTANCE_ID  instance id, shown in the start line and sent back in
 *                     the X-Instance-Id response header
 *   HELLO_HEALTH      "fail" makes /health_check answer 500
 *
 * Keep-alive is honoured (HTTP/1.1 default, HTTP/1.0 with
 * "Connection: keep-alive"); pipelined requests are answered in order.
 * Slow clients cannot hold a connection forever: a request must arrive in
 * full within REQUEST_TIMEOUT_MS of its first byte, a stalled write is
 * dropped after the same time, idle keep-alive connections after
 * KEEPALIVE_TIMEOUT_MS. SIGTERM/SIGINT: stop accepting, finish the requests
 * in flight (at most DRAIN_MS), exit 0.
 *
 * Build: cc -std=c11 -O2 -Wall -Wextra -DAPP_VERSION='"1.0.3-1"' \
 *           -o hello-world hello-world.c
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifndef APP_VERSION
#define APP_VERSION "0.0.0-dev"
#endif

#define APP_NAME "hello-world"

#ifdef HEALTH_BROKEN
#define BUILD_TAG " (HEALTH_BROKEN)"
#else
#define BUILD_TAG ""
#endif

enum {
    LISTEN_BACKLOG = 1024,
    REQ_MAX = 8192,     /* request line + headers */
    OUT_MAX = 1024,     /* one response */
    BODY_MAX = 1 << 20, /* request bodies are read and dropped */
    REQUEST_TIMEOUT_MS = 10000,
    KEEPALIVE_TIMEOUT_MS = 75000, /* longer than nginx's upstream keepalive_timeout (60s) */
    LINGER_MS = 2000,             /* after our FIN, drain what the client still sends */
    DRAIN_MS = 5000,              /* on SIGTERM */
    ACCEPT_BATCH = 256,
    ACCEPT_PAUSE_MS = 100, /* after EMFILE and friends */
};

enum cstate { C_READ, C_WRITE, C_LINGER };

struct conn {
    int fd;
    enum cstate st;
    int keep; /* keep the connection after the current response */
    size_t inlen;
    size_t body_left; /* request body bytes still to read and drop */
    size_t outlen, outoff;
    long long deadline; /* CLOCK_MONOTONIC ms */
    char in[REQ_MAX];
    char out[OUT_MAX];
};

static volatile sig_atomic_t g_stop;
static int g_wake[2] = {-1, -1};
static int g_draining;
static int g_health_fail;
static const char *g_instance;
static char g_instance_hdr[160];

static struct conn **g_conns;
static size_t g_nconns, g_capconns;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *http_date(void)
{
    static char buf[64];
    static time_t cached = (time_t)-1;
    time_t t = time(NULL);
    if (t != cached) {
        struct tm tm;
        gmtime_r(&t, &tm);
        /* the "C" locale is in force: setlocale() is never called */
        strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached = t;
    }
    return buf;
}

static void on_signal(int sig)
{
    int saved = errno;
    g_stop = sig;
    if (g_wake[1] >= 0) {
        char b = 1;
        ssize_t r = write(g_wake[1], &b, 1);
        (void)r;
    }
    errno = saved;
}

static int set_fd_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
        return -1;
    return 0;
}

static void die(const char *what)
{
    fprintf(stderr, APP_NAME ": %s: %s\n", what, strerror(errno));
    exit(1);
}

/* ---- HTTP ---------------------------------------------------------------- */

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

static void respond(struct conn *c, int status, const char *body, int head_only)
{
    size_t blen = strlen(body);
    int n = snprintf(c->out, sizeof c->out,
                     "HTTP/1.1 %d %s\r\n"
                     "Server: " APP_NAME "/" APP_VERSION "\r\n"
                     "Date: %s\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n"
                     "%s%s"
                     "Connection: %s\r\n"
                     "\r\n"
                     "%s",
                     status, reason(status), http_date(), blen, g_instance_hdr,
                     status == 405 ? "Allow: GET, HEAD\r\n" : "", c->keep ? "keep-alive" : "close",
                     head_only ? "" : body);
    if (n < 0 || (size_t)n >= sizeof c->out) {
        /* cannot happen with the fixed bodies below; fail closed */
        c->keep = 0;
        n = snprintf(c->out, sizeof c->out,
                     "HTTP/1.1 500 Internal Server Error\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n");
    }
    c->outlen = (size_t)n;
    c->outoff = 0;
    c->st = C_WRITE;
}

static int token_eq(const char *p, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(p, lit, n) == 0;
}

static int is_tchar(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/*
 * Index just past the blank line that ends the header block, or 0 when it
 * has not arrived yet. Accepts CRLF and bare LF line ends.
 */
static size_t header_end(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\n')
            continue;
        if (i + 1 < n && p[i + 1] == '\n')
            return i + 2;
        if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* One complete request head in c->in[0..end): build the response. */
static void handle_request(struct conn *c, size_t end)
{
    const char *p = c->in, *e = c->in + end;
    const char *eol = memchr(p, '\n', (size_t)(e - p));
    size_t ll = (size_t)(eol - p);
    if (ll && p[ll - 1] == '\r')
        ll--;

    c->keep = 0; /* until the request proves otherwise */

    /* request line: method SP target SP HTTP/x.y */
    const char *sp1 = memchr(p, ' ', ll);
    if (!sp1 || sp1 == p) {
        respond(c, 400, "bad request\n", 0);
        return;
    }
    const char *method = p;
    size_t mlen = (size_t)(sp1 - p);
    for (size_t i = 0; i < mlen; i++)
        if (!is_tchar((unsigned char)method[i])) {
            respond(c, 400, "bad request\n", 0);
            return;
        }
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', (size_t)(p + ll - target));
    if (!sp2 || sp2 == target) {
        respond(c, 400, "bad request\n", 0);
        return;
    }
    size_t tlen = (size_t)(sp2 - target);
    const char *ver = sp2 + 1;
    size_t vlen = (size_t)(p + ll - ver);
    if (vlen != 8 || memcmp(ver, "HTTP/", 5) != 0 || ver[6] != '.' || ver[5] < '0' ||
        ver[5] > '9' || ver[7] < '0' || ver[7] > '9') {
        respond(c, 400, "bad request\n", 0);
        return;
    }
    if (ver[5] != '1') {
        respond(c, 505, "http version not supported\n", 0);
        return;
    }
    int http11 = ver[7] != '0';
    int head_only = token_eq(method, mlen, "HEAD");

    /* header fields */
    int conn_close = 0, conn_keep = 0, has_te = 0, has_cl = 0;
    unsigned long long cl = 0;
    const char *line = eol + 1;
    for (;;) {
        const char *nl = memchr(line, '\n', (size_t)(e - line));
        if (!nl)
            break; /* cannot happen: the block ends with a blank line */
        size_t len = (size_t)(nl - line);
        if (len && line[len - 1] == '\r')
            len--;
        if (len == 0)
            break;
        const char *colon = memchr(line, ':', len);
        if (!colon || colon == line) {
            respond(c, 400, "bad request\n", head_only);
            return;
        }
        for (const char *q = line; q < colon; q++)
            if (!is_tchar((unsigned char)*q)) { /* also rejects obs-fold */
                respond(c, 400, "bad request\n", head_only);
                return;
            }
        size_t nlen = (size_t)(colon - line);
        const char *v = colon + 1, *ve = line + len;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;

        if (token_eq(line, nlen, "Connection")) {
            const char *t = v;
            while (t < ve) {
                const char *te = memchr(t, ',', (size_t)(ve - t));
                if (!te)
                    te = ve;
                const char *a = t, *b = te;
                while (a < b && (*a == ' ' || *a == '\t'))
                    a++;
                while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
                    b--;
                if (token_eq(a, (size_t)(b - a), "close"))
                    conn_close = 1;
                else if (token_eq(a, (size_t)(b - a), "keep-alive"))
                    conn_keep = 1;
                t = te + 1;
            }
        } else if (token_eq(line, nlen, "Content-Length")) {
            unsigned long long x = 0;
            if (v == ve) {
                respond(c, 400, "bad request\n", head_only);
                return;
            }
            for (const char *q = v; q < ve; q++) {
                if (*q < '0' || *q > '9' || x > (1ULL << 40)) {
                    respond(c, 400, "bad request\n", head_only);
                    return;
                }
                x = x * 10 + (unsigned)(*q - '0');
            }
            if (has_cl && x != cl) {
                respond(c, 400, "bad request\n", head_only);
                return;
            }
            has_cl = 1;
            cl = x;
        } else if (token_eq(line, nlen, "Transfer-Encoding")) {
            has_te = 1;
        }
        line = nl + 1;
    }

    if (has_te) {
        /* chunked bodies are not supported: answer and close */
        respond(c, 501, "transfer-encoding not supported\n", head_only);
        return;
    }
    if (cl > BODY_MAX) {
        respond(c, 413, "request body too large\n", head_only);
        return;
    }
    c->body_left = (size_t)cl;
    c->keep = !g_draining && (http11 ? !conn_close : (conn_keep && !conn_close));

    /* route on the path: drop an absolute-form prefix, query and fragment */
    const char *path = target;
    size_t plen = tlen;
    if (plen > 7 && (strncasecmp(path, "http://", 7) == 0 ||
                     (plen > 8 && strncasecmp(path, "https://", 8) == 0))) {
        const char *auth = (const char *)memchr(path, '/', plen) + 2;
        const char *slash = memchr(auth, '/', (size_t)(path + plen - auth));
        if (slash) {
            plen -= (size_t)(slash - path);
            path = slash;
        } else {
            path = "/";
            plen = 1;
        }
    }
    for (size_t i = 0; i < plen; i++)
        if (path[i] == '?' || path[i] == '#') {
            plen = i;
            break;
        }

    int get = token_eq(method, mlen, "GET") || head_only;
    if (token_eq(path, plen, "/health_check")) {
        if (!get)
            respond(c, 405, "method not allowed\n", 0);
#ifdef HEALTH_BROKEN
        else
            respond(c, 500, "broken build\n", head_only);
#else
        else if (g_health_fail)
            respond(c, 500, "unhealthy (HELLO_HEALTH=fail)\n", head_only);
        else
            respond(c, 200, "ok\n", head_only);
#endif
    } else if (token_eq(path, plen, "/")) {
        if (!get)
            respond(c, 405, "method not allowed\n", 0);
        else
            respond(c, 200, APP_NAME " " APP_VERSION "\n", head_only);
    } else {
        respond(c, 404, "not found\n", head_only);
    }
}

/*
 * In C_READ: drop body bytes, then answer one complete request if there is
 * one. 1: a response is ready (C_WRITE); 0: need more input.
 */
static int conn_parse(struct conn *c)
{
    if (c->body_left) {
        size_t k = c->body_left < c->inlen ? c->body_left : c->inlen;
        memmove(c->in, c->in + k, c->inlen - k);
        c->inlen -= k;
        c->body_left -= k;
        if (c->body_left)
            return 0;
    }
    size_t s = 0; /* empty lines before a request line are ignored */
    while (s < c->inlen && (c->in[s] == '\r' || c->in[s] == '\n'))
        s++;
    if (s) {
        memmove(c->in, c->in + s, c->inlen - s);
        c->inlen -= s;
    }
    if (c->inlen == 0)
        return 0;
    size_t end = header_end(c->in, c->inlen);
    if (!end) {
        if (c->inlen < sizeof c->in)
            return 0;
        c->keep = 0;
        respond(c, 431, "request header too large\n", 0);
        c->inlen = 0;
        return 1;
    }
    handle_request(c, end);
    memmove(c->in, c->in + end, c->inlen - end);
    c->inlen -= end;
    return 1;
}

/* 1: all sent; 0: would block; -1: error. */
static int conn_send(struct conn *c, long long now)
{
    while (c->outoff < c->outlen) {
        ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
        if (n > 0) {
            c->outoff += (size_t)n;
            c->deadline = now + REQUEST_TIMEOUT_MS;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        } else {
            return -1;
        }
    }
    c->outlen = c->outoff = 0;
    return 1;
}

/* Drive the connection as far as it goes without blocking. -1: close it. */
static int conn_run(struct conn *c, long long now)
{
    for (;;) {
        if (c->st == C_READ) {
            if (!conn_parse(c))
                return 0;
        }
        if (c->st != C_WRITE)
            return 0;
        int r = conn_send(c, now);
        if (r <= 0)
            return r;
        if (c->keep && !g_draining) {
            c->st = C_READ;
            c->deadline =
                now + (c->inlen || c->body_left ? REQUEST_TIMEOUT_MS : KEEPALIVE_TIMEOUT_MS);
            continue; /* a pipelined request may be waiting */
        }
        /* lingering close: our FIN now, then drop what still arrives so
         * the kernel does not answer it with a RST that could destroy
         * the response on its way */
        shutdown(c->fd, SHUT_WR);
        c->st = C_LINGER;
        c->deadline = now + LINGER_MS;
        return 0;
    }
}

/* Readable (or hung up). -1: close it. */
static int conn_on_read(struct conn *c, long long now)
{
    if (c->st == C_LINGER) {
        char junk[4096];
        for (;;) {
            ssize_t n = recv(c->fd, junk, sizeof junk, 0);
            if (n > 0)
                continue;
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return 0;
            return -1; /* EOF or error: done */
        }
    }
    if (c->st != C_READ)
        return 0;
    int was_idle = c->inlen == 0 && c->body_left == 0;
    ssize_t n;
    do
        n = recv(c->fd, c->in + c->inlen, sizeof c->in - c->inlen, 0);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return -1; /* EOF: nothing to answer (a partial request is dropped) */
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    c->inlen += (size_t)n;
    if (was_idle) /* the whole request must arrive within this time */
        c->deadline = now + REQUEST_TIMEOUT_MS;
    return conn_run(c, now);
}

static void conn_free(struct conn *c)
{
    close(c->fd);
    free(c);
}

static void conns_compact(void)
{
    size_t j = 0;
    for (size_t i = 0; i < g_nconns; i++)
        if (g_conns[i])
            g_conns[j++] = g_conns[i];
    g_nconns = j;
}

static void accept_some(int lfd, long long now, long long *paused_until)
{
    static long long last_warn;
    for (int k = 0; k < ACCEPT_BATCH; k++) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (now - last_warn >= 1000) {
                fprintf(stderr, APP_NAME ": accept: %s\n", strerror(errno));
                last_warn = now;
            }
            /* EMFILE, ENFILE, ENOBUFS, ENOMEM...: the listen socket stays
             * readable, so stop polling it for a moment instead of spinning */
            *paused_until = now + ACCEPT_PAUSE_MS;
            return;
        }
        if (set_fd_flags(fd) < 0) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (g_nconns == g_capconns) {
            size_t cap = g_capconns ? g_capconns * 2 : 64;
            struct conn **nc = realloc(g_conns, cap * sizeof *nc);
            if (!nc) {
                close(fd);
                continue;
            }
            g_conns = nc;
            g_capconns = cap;
        }
        struct conn *c = malloc(sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->st = C_READ;
        c->keep = 0;
        c->inlen = c->body_left = c->outlen = c->outoff = 0;
        c->deadline = now + REQUEST_TIMEOUT_MS;
        g_conns[g_nconns++] = c;
    }
}

/* ---- setup --------------------------------------------------------------- */

static int parse_port(const char *s)
{
    if (!s || !*s) {
        fprintf(stderr, APP_NAME ": PORT is not set: set PORT to the TCP port "
                                 "to listen on (1-65535)\n");
        exit(2);
    }
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > 65535) {
            v = -1;
            break;
        }
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535) {
        fprintf(stderr,
                APP_NAME ": PORT=\"%s\" is not a TCP port number "
                         "(want 1-65535)\n",
                s);
        exit(2);
    }
    return (int)v;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = rl.rlim_max;
    if (want == RLIM_INFINITY || want > 65536)
        want = 65536;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = want;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: PORT=N " APP_NAME " [--version | --help]\n"
               "HTTP server for kiln's examples: GET / and GET /health_check on\n"
               "$HELLO_BIND (default 127.0.0.1):$PORT.\n"
               "env: PORT (required), HELLO_BIND, KILN_INSTANCE_ID, HELLO_HEALTH=fail\n");
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "--version") == 0) {
            printf(APP_NAME " " APP_VERSION BUILD_TAG "\n");
            return 0;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        usage(stderr);
        return 2;
    }

    int port = parse_port(getenv("PORT"));
    const char *bind_s = getenv("HELLO_BIND");
    if (!bind_s || !*bind_s)
        bind_s = "127.0.0.1";
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, bind_s, &sa.sin_addr) != 1) {
        fprintf(stderr, APP_NAME ": HELLO_BIND=\"%s\" is not an IPv4 address\n", bind_s);
        return 2;
    }

    const char *hh = getenv("HELLO_HEALTH");
    if (hh && strcmp(hh, "fail") == 0)
        g_health_fail = 1;
    else if (hh && *hh && strcmp(hh, "ok") != 0)
        fprintf(stderr,
                APP_NAME ": HELLO_HEALTH=\"%s\" ignored "
                         "(want \"fail\" or \"ok\")\n",
                hh);

    g_instance = getenv("KILN_INSTANCE_ID");
    if (g_instance && *g_instance) {
        int ok = strlen(g_instance) < 100;
        for (const char *p = g_instance; ok && *p; p++)
            ok = *p > ' ' && *p < 127;
        if (ok)
            snprintf(g_instance_hdr, sizeof g_instance_hdr, "X-Instance-Id: %s\r\n", g_instance);
    } else {
        g_instance = "-";
    }

    struct sigaction sig;
    memset(&sig, 0, sizeof sig);
    sig.sa_handler = SIG_IGN;
    sigemptyset(&sig.sa_mask);
    sigaction(SIGPIPE, &sig, NULL);
    if (pipe(g_wake) != 0 || set_fd_flags(g_wake[0]) || set_fd_flags(g_wake[1]))
        die("pipe");
    sig.sa_handler = on_signal;
    sigaction(SIGTERM, &sig, NULL);
    sigaction(SIGINT, &sig, NULL);

    raise_nofile();

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        die("socket");
    int one = 1;
    if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        die("setsockopt SO_REUSEADDR");
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, APP_NAME ": cannot listen on %s:%d: %s\n", bind_s, port, strerror(errno));
        return 1;
    }
    if (listen(lfd, LISTEN_BACKLOG) != 0)
        die("listen");
    if (set_fd_flags(lfd) != 0)
        die("fcntl");

    printf(APP_NAME " " APP_VERSION " listening on %s:%d instance %s\n", bind_s, port, g_instance);
    fflush(stdout);
#ifdef HEALTH_BROKEN
    fprintf(stderr, APP_NAME ": built with HEALTH_BROKEN: /health_check "
                             "answers 500\n");
#else
    if (g_health_fail)
        fprintf(stderr, APP_NAME ": HELLO_HEALTH=fail: /health_check "
                                 "answers 500\n");
#endif

    struct pollfd *pfds = NULL;
    size_t pcap = 0;
    long long accept_paused_until = 0, drain_deadline = 0;

    for (;;) {
        long long now = now_ms();

        if (g_stop && !g_draining) {
            g_draining = 1;
            drain_deadline = now + DRAIN_MS;
            close(lfd);
            lfd = -1;
            /* idle connections go now; the rest get their answer
             * with "Connection: close" */
            for (size_t i = 0; i < g_nconns; i++) {
                struct conn *c = g_conns[i];
                c->keep = 0;
                if (c->st == C_READ && c->inlen == 0 && c->body_left == 0) {
                    conn_free(c);
                    g_conns[i] = NULL;
                }
            }
            conns_compact();
        }
        if (g_draining && (g_nconns == 0 || now >= drain_deadline))
            break;

        /* timeouts */
        for (size_t i = 0; i < g_nconns; i++)
            if (g_conns[i]->deadline <= now) {
                conn_free(g_conns[i]);
                g_conns[i] = NULL;
            }
        conns_compact();

        if (pcap < g_nconns + 2) {
            size_t cap = (g_nconns + 2) * 2;
            struct pollfd *np = realloc(pfds, cap * sizeof *np);
            if (!np)
                die("realloc");
            pfds = np;
            pcap = cap;
        }
        nfds_t n = 0;
        long long next = now + 1000;
        pfds[n].fd = g_wake[0];
        pfds[n].events = POLLIN;
        pfds[n++].revents = 0;
        nfds_t lidx = 0; /* 0: listener not polled */
        if (lfd >= 0) {
            if (now >= accept_paused_until) {
                lidx = n;
                pfds[n].fd = lfd;
                pfds[n].events = POLLIN;
                pfds[n++].revents = 0;
            } else if (accept_paused_until < next) {
                next = accept_paused_until;
            }
        }
        nfds_t base = n;
        size_t npolled = g_nconns;
        for (size_t i = 0; i < npolled; i++) {
            struct conn *c = g_conns[i];
            pfds[n].fd = c->fd;
            pfds[n].events = c->st == C_WRITE ? POLLOUT : POLLIN;
            pfds[n++].revents = 0;
            if (c->deadline < next)
                next = c->deadline;
        }
        if (g_draining && drain_deadline < next)
            next = drain_deadline;
        long long wait = next - now;
        if (wait < 0)
            wait = 0;

        int r = poll(pfds, n, (int)wait);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            die("poll");
        }
        now = now_ms();
        if (pfds[0].revents) {
            char buf[64];
            while (read(g_wake[0], buf, sizeof buf) > 0)
                ;
        }
        for (size_t i = 0; i < npolled; i++) {
            short re = pfds[base + i].revents;
            if (!re)
                continue;
            struct conn *c = g_conns[i];
            int rc;
            if (re & POLLNVAL)
                rc = -1;
            else if (c->st == C_WRITE)
                rc = (re & (POLLOUT | POLLERR | POLLHUP)) ? conn_run(c, now) : 0;
            else
                rc = conn_on_read(c, now); /* POLLIN, POLLHUP, POLLERR */
            if (rc < 0) {
                conn_free(c);
                g_conns[i] = NULL;
            }
        }
        conns_compact();
        if (lidx && (pfds[lidx].revents & POLLIN))
            accept_some(lfd, now, &accept_paused_until);
    }

    for (size_t i = 0; i < g_nconns; i++)
        conn_free(g_conns[i]);
    free(g_conns);
    free(pfds);
    close(g_wake[0]);
    close(g_wake[1]);
    printf(APP_NAME " " APP_VERSION " stopping (%s) instance %s\n",
           g_stop == SIGINT ? "SIGINT" : "SIGTERM", g_instance);
    fflush(stdout);
    return 0;
}
