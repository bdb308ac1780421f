/* kiln: files that are either wholly old or wholly new (see include/kiln/atomic_file.h). */
#include "kiln/atomic_file.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/strbuf.h"
#include "kiln/timeutil.h"

#define TEMP_SUFFIX "XXXXXX"

int kiln_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        /* write() returning 0 for a non-zero count means no progress is possible;
         * call it out of space rather than loop forever. */
        if (n == 0) {
            errno = ENOSPC;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Splits path into the directory to sync and the base name; fails for paths that
 * name no file ("", "dir/", "..."). */
static int split_path(const char *path, struct kiln_strbuf *dir, const char **base)
{
    const char *slash = strrchr(path, '/');
    const char *b = slash ? slash + 1 : path;
    if (*b == '\0' || strcmp(b, ".") == 0 || strcmp(b, "..") == 0)
        return -1;
    if (slash == NULL)
        kiln_strbuf_append(dir, ".");
    else if (slash == path)
        kiln_strbuf_append(dir, "/");
    else
        kiln_strbuf_append_len(dir, path, (size_t)(slash - path));
    *base = b;
    return 0;
}

int kiln_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    /* Some file systems cannot sync a directory and say so with EINVAL; there is
     * nothing more to do on them. */
    if (rc < 0 && errno == EINVAL)
        rc = 0;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static bool crash_hook_armed(void)
{
    const char *v = getenv(KILN_TEST_CRASH_ENV);
    return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

/* Writes data to a fresh temporary file beside path and syncs it; the caller
 * moves it into place. The temp's name goes into tmp. */
static int write_temp(const char *path, const char *dir, const char *base, const void *data,
                      size_t len, mode_t mode, struct kiln_strbuf *tmp, struct kiln_err *err)
{
    kiln_strbuf_appendf(tmp, "%s/.%s." TEMP_SUFFIX, strcmp(dir, "/") == 0 ? "" : dir, base);
    int fd = mkostemp(tmp->buf, O_CLOEXEC);
    if (fd < 0)
        return kiln_err_sys(err, errno, "cannot write %s: cannot create a temporary file in %s",
                            path, dir);
    /* Each failure names the step only where strerror alone would puzzle. */
    const char *step;
    if (fchmod(fd, mode) < 0)
        step = ": cannot set its mode";
    else if (kiln_write_all(fd, data, len) < 0)
        step = "";
    else if (fsync(fd) < 0)
        step = ": cannot flush it to disk";
    else if (close(fd) < 0) {
        fd = -1;
        step = ": cannot flush it to disk";
    } else
        return 0;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp->buf);
    return kiln_err_sys(err, saved, "cannot write %s%s", path, step);
}

static int replace(const char *path, const void *data, size_t len, mode_t mode, bool exclusive,
                   struct kiln_err *err)
{
    struct kiln_strbuf dir = KILN_STRBUF_INIT, tmp = KILN_STRBUF_INIT;
    const char *base;
    int rc = -1;
    if (split_path(path, &dir, &base) < 0) {
        kiln_err_set(err, KILN_E_INVALID, "cannot write \"%s\": the path does not name a file",
                     path);
        goto out;
    }
    if (write_temp(path, dir.buf, base, data, len, mode, &tmp, err) < 0)
        goto out;
    if (crash_hook_armed())
        _exit(KILN_TEST_CRASH_EXIT_STATUS);
    if (exclusive) {
        /* link() refuses to replace an existing name, which makes it the atomic
         * "create with these contents, unless someone was first". */
        if (link(tmp.buf, path) < 0) {
            int saved = errno;
            unlink(tmp.buf);
            if (saved == EEXIST)
                kiln_err_set(err, KILN_E_EXISTS, "cannot create %s: it already exists", path);
            else
                kiln_err_sys(err, saved, "cannot create %s", path);
            goto out;
        }
        unlink(tmp.buf);
    } else if (rename(tmp.buf, path) < 0) {
        int saved = errno;
        unlink(tmp.buf);
        kiln_err_sys(err, saved, "cannot write %s: cannot move the new file into place", path);
        goto out;
    }
    if (kiln_sync_dir(dir.buf) < 0) {
        kiln_err_sys(err, errno,
                     "wrote %s but could not sync %s, so the change may not survive a power cut",
                     path, dir.buf);
        goto out;
    }
    rc = 0;
out:
    kiln_strbuf_free(&dir);
    kiln_strbuf_free(&tmp);
    return rc;
}

int kiln_atomic_write(const char *path, const void *data, size_t len, mode_t mode,
                      struct kiln_err *err)
{
    return replace(path, data, len, mode, false, err);
}

int kiln_atomic_create(const char *path, const void *data, size_t len, mode_t mode,
                       struct kiln_err *err)
{
    return replace(path, data, len, mode, true, err);
}

int kiln_read_file(const char *path, char **out, size_t *len, size_t max, struct kiln_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int saved = errno;
        kiln_err_sys(err, saved, "cannot read %s", path);
        if (saved == ENOENT && err != NULL)
            err->code = KILN_E_NOTFOUND;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        kiln_err_sys(err, errno, "cannot read %s", path);
        close(fd);
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return kiln_err_set(err, KILN_E_INVALID, "cannot read %s: it is a directory", path);
    }
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max) {
        close(fd);
        return kiln_err_set(err, KILN_E_INVALID,
                            "cannot read %s: it is %jd bytes, more than the %zu that kiln accepts "
                            "for it; check that it is the right file",
                            path, (intmax_t)st.st_size, max);
    }
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    kiln_strbuf_grow(&sb, S_ISREG(st.st_mode) ? (size_t)st.st_size : 4096);
    for (;;) {
        /* The file may grow while we read it, so the limit is checked here too. */
        if (sb.len > max) {
            kiln_strbuf_free(&sb);
            close(fd);
            return kiln_err_set(err, KILN_E_INVALID,
                                "cannot read %s: it is more than the %zu bytes that kiln accepts "
                                "for it; check that it is the right file",
                                path, max);
        }
        kiln_strbuf_grow(&sb, 4096);
        ssize_t n = read(fd, sb.buf + sb.len, sb.cap - sb.len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            kiln_err_sys(err, errno, "cannot read %s", path);
            kiln_strbuf_free(&sb);
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        sb.len += (size_t)n;
        sb.buf[sb.len] = '\0';
    }
    close(fd);
    *out = kiln_strbuf_detach(&sb, len);
    return 0;
}

static int mkdir_one(const char *path, mode_t mode, struct kiln_err *err)
{
    if (mkdir(path, mode) == 0)
        return 0;
    int saved = errno;
    struct stat st;
    if (saved == EEXIST && stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        saved = ENOTDIR;
    }
    return kiln_err_sys(err, saved, "cannot create directory %s", path);
}

int kiln_mkdir_p(const char *path, mode_t mode, struct kiln_err *err)
{
    if (*path == '\0')
        return kiln_err_set(err, KILN_E_INVALID, "cannot create a directory with an empty name");
    char *p = xstrdup(path);
    int rc = 0;
    /* Create each ancestor in turn; a leading '/' is never a component. */
    for (char *s = p + 1; *s != '\0' && rc == 0; s++) {
        if (*s != '/' || s[-1] == '/')
            continue;
        *s = '\0';
        rc = mkdir_one(p, mode, err);
        *s = '/';
    }
    if (rc == 0)
        rc = mkdir_one(p, mode, err);
    free(p);
    return rc;
}

bool kiln_atomic_is_temp_name(const char *name)
{
    size_t n = strlen(name), suffix = sizeof TEMP_SUFFIX - 1;
    /* "." + at least one character of the target's name + "." + suffix */
    if (name[0] != '.' || n < 1 + 1 + 1 + suffix || name[n - suffix - 1] != '.')
        return false;
    for (size_t i = n - suffix; i < n; i++)
        if (!isalnum((unsigned char)name[i]))
            return false;
    return true;
}

int kiln_atomic_cleanup_temps(const char *dir, int64_t min_age_ms, size_t *removed,
                              struct kiln_err *err)
{
    if (removed != NULL)
        *removed = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return kiln_err_sys(err, errno, "cannot clean up temporary files in %s", dir);
    int64_t now_us = kiln_now_us();
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!kiln_atomic_is_temp_name(de->d_name))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        int64_t mtime_us = (int64_t)st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000;
        if (now_us - mtime_us < min_age_ms * 1000)
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
            if (errno == ENOENT) /* someone else swept it first */
                continue;
            rc = kiln_err_sys(err, errno, "cannot remove temporary file %s/%s", dir, de->d_name);
            continue;
        }
        if (removed != NULL)
            (*removed)++;
    }
    closedir(d);
    return rc;
}

int kiln_open_regular(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct stat st = {0};
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int e = S_ISDIR(st.st_mode) ? EISDIR : ENODEV;
        close(fd);
        errno = e;
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}
