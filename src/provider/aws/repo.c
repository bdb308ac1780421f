/* kiln: the package repository on AWS, where the bake (aminate's yum, or a builder
 * instance) finds the RPM. [aws] package_repo is either
 *   an absolute directory (a yum repo served by something else, an NFS mount...): the
 *     RPM is copied in as NVR.rpm, atomically (temporary file, fsync, rename), or
 *   an http(s):// URL (Artifactory style): the RPM is PUT to URL/NVR.rpm, with basic
 *     authentication from KILN_REPO_USER and KILN_REPO_PASSWORD when they are set.
 * The password never reaches a log line or an error message. */
#include "provider/aws/aws.h"

#include "kiln/url.h"
#include "kiln/names.h"
#include "kiln/spawn.h"
#include "kiln/strbuf.h"
#include "kiln/xalloc.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/atomic_file.h"

#define RPM_QUERY_TIMEOUT_MS 30000
#define UPLOAD_TIMEOUT_MS    (30 * 60 * 1000L)

struct capture {
    struct kiln_strbuf out, err;
};

static void on_capture(void *ctx, enum kiln_stream stream, const char *line)
{
    struct capture *c = ctx;
    struct kiln_strbuf *sb = stream == KILN_STREAM_STDOUT ? &c->out : &c->err;
    if (sb->len < 4096) {
        kiln_strbuf_append(sb, line);
        kiln_strbuf_appendc(sb, '\n');
    }
}

/* NAME-VERSION-RELEASE.ARCH of the RPM at path, as the local cloud names packages. */
static int query_nvr(const char *path, char *nvr, size_t n, struct kiln_err *err)
{
    const char *argv[] = {"rpm",          "-qp",
                          "--nomanifest", "--nosignature",
                          "--qf",         "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n",
                          path,           NULL};
    struct capture cap = {KILN_STRBUF_INIT, KILN_STRBUF_INIT};
    struct kiln_spawn_opts o = {
        .argv = argv,
        .timeout_ms = RPM_QUERY_TIMEOUT_MS,
        .on_line = on_capture,
        .ctx = &cap,
        .package = "rpm",
    };
    int status = 0;
    int rc = kiln_spawn_run(&o, &status, err);
    if (rc == 0 && status != 0)
        rc = kiln_err_set(err, KILN_E_INVALID, "rpm cannot read %s: %.300s", path,
                          cap.err.len ? kiln_strbuf_str(&cap.err) : "no message");
    if (rc == 0) {
        char *nl = cap.out.buf ? strchr(cap.out.buf, '\n') : NULL;
        if (nl == NULL || nl[1] != '\0')
            rc = kiln_err_set(err, KILN_E_INVALID, "rpm did not describe %s as one package", path);
        else {
            *nl = '\0';
            snprintf(nvr, n, "%s", cap.out.buf);
            if (kiln_package_nvr_validate(nvr, err) < 0) {
                kiln_err_prefix(err, "cannot push %s", path);
                rc = -1;
            }
        }
    }
    kiln_strbuf_free(&cap.out);
    kiln_strbuf_free(&cap.err);
    return rc;
}

/* Copies src into dir/name through a temporary file in dir, so yum never sees half. */
static int copy_into(const char *src, const char *dir, const char *name, struct kiln_err *err)
{
    if (kiln_mkdir_p(dir, 0755, err) < 0)
        return -1;
    char *final = xasprintf("%s/%s", dir, name);
    char *tmp = xasprintf("%s/.%s.XXXXXX", dir, name);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = in < 0 ? -1 : mkstemp(tmp);
    int rc = 0;
    if (in < 0) {
        rc = kiln_err_sys(err, errno, "cannot read %s", src);
    } else if (out < 0) {
        rc = kiln_err_sys(err, errno, "cannot write into the package repo %s", dir);
    } else {
        char buf[1 << 16];
        ssize_t r;
        while (rc == 0 && (r = read(in, buf, sizeof buf)) != 0) {
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                rc = kiln_err_sys(err, errno, "cannot read %s", src);
                break;
            }
            for (ssize_t off = 0; off < r && rc == 0;) {
                ssize_t w = write(out, buf + off, (size_t)(r - off));
                if (w < 0 && errno == EINTR)
                    continue;
                if (w < 0)
                    rc = kiln_err_sys(err, errno, "cannot write %s", tmp);
                else
                    off += w;
            }
        }
        /* Readable by the web server or yum that serves the repo. */
        if (rc == 0 && (fchmod(out, 0644) < 0 || fsync(out) < 0))
            rc = kiln_err_sys(err, errno, "cannot write %s", tmp);
        if (close(out) < 0 && rc == 0)
            rc = kiln_err_sys(err, errno, "cannot write %s", tmp);
        if (rc == 0 && rename(tmp, final) < 0)
            rc = kiln_err_sys(err, errno, "cannot put %s into %s", name, dir);
        if (rc < 0)
            unlink(tmp);
    }
    if (in >= 0)
        close(in);
    free(final);
    free(tmp);
    return rc;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    struct kiln_strbuf *sb = ctx;
    if (sb->len < 512)
        kiln_strbuf_append_len(sb, p, size * n < 512 ? size * n : 512);
    return size * n;
}

static int put_file(struct aws *a, const char *src, const char *url, struct kiln_err *err)
{
    FILE *f = fopen(src, "rbe");
    if (f == NULL)
        return kiln_err_sys(err, errno, "cannot read %s", src);
    struct stat st;
    if (fstat(fileno(f), &st) < 0) {
        fclose(f);
        return kiln_err_sys(err, errno, "cannot read %s", src);
    }
    CURL *c = curl_easy_init();
    if (c == NULL) {
        fclose(f);
        return kiln_err_set(err, KILN_E_NOMEM, "cannot set up curl for the upload");
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    struct kiln_strbuf body = KILN_STRBUF_INIT;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READDATA, f);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (a->ca_bundle[0])
        curl_easy_setopt(c, CURLOPT_CAINFO, a->ca_bundle);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, UPLOAD_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    const char *user = getenv("KILN_REPO_USER"), *password = getenv("KILN_REPO_PASSWORD");
    if (user != NULL && user[0] != '\0') {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, password ? password : "");
    }
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    int rc = 0;
    char shown[2048];
    kiln_url_redacted(url, shown, sizeof shown);
    if (cc != CURLE_OK)
        rc = kiln_err_set(err, KILN_E_IO, "cannot upload to %s: %s", shown,
                          errbuf[0] ? errbuf : curl_easy_strerror(cc));
    else if (status == 401 || status == 403)
        rc = kiln_err_set(err, KILN_E_FAILED,
                          "the package repo refused the upload to %s (HTTP %ld): set "
                          "KILN_REPO_USER and KILN_REPO_PASSWORD to an account that may deploy "
                          "there",
                          shown, status);
    else if (status < 200 || status > 299)
        rc = kiln_err_set(err, KILN_E_FAILED,
                          "the package repo answered the upload to %s with "
                          "HTTP %ld: %.200s",
                          shown, status, kiln_strbuf_str(&body));
    kiln_strbuf_free(&body);
    curl_easy_cleanup(c);
    fclose(f);
    return rc;
}

static bool is_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

int aws_package_push(struct kiln_provider *p, const char *rpm_path, char *nvr, size_t n,
                     struct kiln_err *err)
{
    struct aws *a = aws_of(p);
    if (a->package_repo[0] == '\0')
        return kiln_err_set(err, KILN_E_INVALID,
                            "[aws] package_repo is not set: set it to the directory or the "
                            "http(s) URL of the yum repository your bakes install from");
    char abs[PATH_MAX];
    if (rpm_path[0] != '/' && realpath(rpm_path, abs) != NULL)
        rpm_path = abs;
    if (query_nvr(rpm_path, nvr, n, err) < 0)
        return -1;
    char *name = xasprintf("%s.rpm", nvr);
    int rc;
    if (is_url(a->package_repo)) {
        size_t len = strlen(a->package_repo);
        char *url = xasprintf("%s%s%s", a->package_repo,
                              len && a->package_repo[len - 1] == '/' ? "" : "/", name);
        rc = put_file(a, rpm_path, url, err);
        free(url);
    } else {
        rc = copy_into(rpm_path, a->package_repo, name, err);
    }
    free(name);
    return rc;
}

void aws_repo_each(const struct aws *a,
                   void (*fn)(void *ctx, const char *nvr, const char *file, int64_t mtime_us),
                   void *ctx)
{
    if (a->package_repo[0] == '\0' || is_url(a->package_repo))
        return;
    DIR *d = opendir(a->package_repo);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len <= 4 || strcmp(de->d_name + len - 4, ".rpm") != 0)
            continue;
        char nvr[256];
        if (len - 4 >= sizeof nvr)
            continue;
        snprintf(nvr, sizeof nvr, "%.*s", (int)(len - 4), de->d_name);
        if (kiln_package_nvr_validate(nvr, NULL) < 0)
            continue;
        char *file = xasprintf("%s/%s", a->package_repo, de->d_name);
        struct stat st;
        if (stat(file, &st) == 0 && S_ISREG(st.st_mode))
            fn(ctx, nvr, file, (int64_t)st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000);
        free(file);
    }
    closedir(d);
}
