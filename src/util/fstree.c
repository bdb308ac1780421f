/* kiln: whole directory trees on disk (see include/kiln/fstree.h).
 *
 * Every step works relative to an open directory fd (openat, unlinkat), so a path is
 * resolved once, from the top, and a symlink planted inside the tree while we work can
 * at worst be unlinked, never followed.
 */
#include "kiln/fstree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/strbuf.h"
#include "kiln/xalloc.h"

/* Each level of a tree holds one fd while its children are removed; deeper trees than
 * this would run a default process (1024 fds) out of them. */
#define MAX_DEPTH 512

struct names {
    char **v;
    size_t n, cap;
};

static void names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
}

/* Reads a directory's entries (without . and ..) from fd, which stays open. The names
 * are read before anything is removed: POSIX leaves it open whether readdir() sees an
 * entry removed meanwhile. */
static int read_names(int fd, struct names *ns)
{
    int dfd = dup(fd);
    if (dfd < 0)
        return -1;
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        int saved = errno;
        close(dfd);
        errno = saved;
        return -1;
    }
    /* fd and dfd share the file offset: start from the top whatever was read before. */
    rewinddir(d);
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (ns->n == ns->cap) {
            ns->cap = ns->cap ? ns->cap * 2 : 32;
            ns->v = xrealloc(ns->v, ns->cap * sizeof *ns->v);
        }
        ns->v[ns->n++] = xstrdup(de->d_name);
        errno = 0;
    }
    int saved = errno;
    closedir(d);
    errno = saved;
    return saved == 0 ? 0 : -1;
}

/* Removes `name` in the directory dirfd; `shown` is its path for messages. */
static int remove_at(int dirfd, const char *name, struct kiln_strbuf *shown, int depth,
                     struct kiln_err *err)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : kiln_err_sys(err, errno, "cannot remove %s", shown->buf);
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
            return kiln_err_sys(err, errno, "cannot remove %s", shown->buf);
        return 0;
    }
    if (depth >= MAX_DEPTH)
        return kiln_err_set(err, KILN_E_IO,
                            "cannot remove %s: the tree is more than %d directories deep",
                            shown->buf, MAX_DEPTH);
    /* We need to read the directory, enter it and delete from it. An image is made
     * read-only (0555) on purpose; give back what is missing. fchmodat follows symlinks,
     * but fstatat just said this is a directory, and a swap in between would need
     * someone else writing in our private state dir. */
    if ((st.st_mode & S_IRWXU) != S_IRWXU &&
        fchmodat(dirfd, name, (st.st_mode & 07777) | S_IRWXU, 0) < 0 && errno != ENOENT)
        return kiln_err_sys(err, errno, "cannot remove %s: cannot make it writable", shown->buf);
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : kiln_err_sys(err, errno, "cannot remove %s", shown->buf);

    struct names ns = {0};
    int rc = 0;
    if (read_names(fd, &ns) < 0) {
        rc = kiln_err_sys(err, errno, "cannot remove %s: cannot list it", shown->buf);
    } else {
        size_t len = shown->len;
        for (size_t i = 0; i < ns.n && rc == 0; i++) {
            kiln_strbuf_appendf(shown, "/%s", ns.v[i]);
            rc = remove_at(fd, ns.v[i], shown, depth + 1, err);
            kiln_strbuf_truncate(shown, len);
        }
    }
    names_free(&ns);
    close(fd);
    if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        rc = kiln_err_sys(err, errno, "cannot remove %s", shown->buf);
    return rc;
}

int kiln_tree_remove(const char *path, struct kiln_err *err)
{
    if (path == NULL || path[0] == '\0')
        return kiln_err_set(err, KILN_E_INVALID, "cannot remove a directory tree without a path");
    struct kiln_strbuf shown = KILN_STRBUF_INIT;
    kiln_strbuf_append(&shown, path);
    int rc = remove_at(AT_FDCWD, path, &shown, 0, err);
    kiln_strbuf_free(&shown);
    return rc;
}
