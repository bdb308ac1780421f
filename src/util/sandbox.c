/* kiln: a build's sandbox (see include/kiln/sandbox.h). rpmbuild runs a spec's shell
 * scripts as kiln's user, usually root: %install could write anywhere (/etc, /tmp,
 * kiln's own state). In a mount namespace of its own, with every mount made read-only
 * but the build's directories, the spec's scripts can write only where rpmbuild works.
 * Nothing is copied, so it costs about nothing; it is not a security boundary against
 * root (a process with CAP_SYS_ADMIN can remount), but it stops every accident and
 * every careless spec, which is what builds meet. */
#include "kiln/sandbox.h"

#include <stdbool.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A mount namespace: as root directly; otherwise inside a user namespace that maps
 * only our own ids, which lets an unprivileged user make mounts read-only too. */
static int new_mount_namespace(char *why, size_t n)
{
    if (unshare(CLONE_NEWNS) == 0)
        return 0;
    int e = errno;
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (uid == 0 || unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
        snprintf(why, n, "no mount namespace (%s)", strerror(uid == 0 ? e : errno));
        return -1;
    }
    char map[64];
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
    if (write_file("/proc/self/setgroups", "deny") < 0 ||
        write_file("/proc/self/uid_map", map) < 0) {
        snprintf(why, n, "no user namespace mapping (%s)", strerror(errno));
        return -1;
    }
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
    if (write_file("/proc/self/gid_map", map) < 0) {
        snprintf(why, n, "no user namespace mapping (%s)", strerror(errno));
        return -1;
    }
    return 0;
}

static int set_rdonly(const char *path, bool rdonly)
{
    struct mount_attr a = {0};
    if (rdonly)
        a.attr_set = MOUNT_ATTR_RDONLY;
    else
        a.attr_clr = MOUNT_ATTR_RDONLY;
    return mount_setattr(AT_FDCWD, path, AT_RECURSIVE, &a, sizeof a);
}

int kiln_sandbox_enter(const char *const *writable, size_t n_writable, char *why, size_t n)
{
    for (size_t i = 0; i < n_writable; i++) {
        struct stat st;
        if (writable[i][0] != '/' || stat(writable[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
            snprintf(why, n, "%s is not an absolute path of a directory", writable[i]);
            return -1;
        }
    }
    if (new_mount_namespace(why, n) < 0)
        return -1;
    /* Nothing done here may reach the host's mounts. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        snprintf(why, n, "cannot make the mounts private (%s)", strerror(errno));
        return -1;
    }
    /* Each writable directory becomes a mount of its own, so that it can be made
     * writable again on its own after everything is made read-only. */
    for (size_t i = 0; i < n_writable; i++)
        if (mount(writable[i], writable[i], NULL, MS_BIND | MS_REC, NULL) < 0) {
            snprintf(why, n, "cannot bind %s (%s)", writable[i], strerror(errno));
            return -1;
        }
    if (set_rdonly("/", true) < 0) {
        snprintf(why, n, "cannot make the mounts read-only (%s)", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < n_writable; i++)
        if (set_rdonly(writable[i], false) < 0) {
            snprintf(why, n, "cannot make %s writable (%s)", writable[i], strerror(errno));
            return -1;
        }
    return 0;
}

int kiln_sandbox_main(int argc, char **argv)
{
    const char *writable[16];
    size_t nw = 0;
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--rw") == 0 && i + 1 < argc && nw < 16) {
            writable[nw++] = argv[++i];
        } else {
            fprintf(stderr, "kiln __sandbox: usage: --rw DIR ... -- PROGRAM ARGS...\n");
            return 2;
        }
    }
    if (i + 1 >= argc) {
        fprintf(stderr, "kiln __sandbox: no program after --\n");
        return 2;
    }
    char why[512];
    if (kiln_sandbox_enter(writable, nw, why, sizeof why) < 0) {
        /* Said, never silent: the build goes on as before, unconfined. */
        fprintf(stderr, "kiln: the build is not sandboxed: %s\n", why);
    }
    execvp(argv[i + 1], argv + i + 1);
    fprintf(stderr, "kiln: cannot run %s: %s\n", argv[i + 1], strerror(errno));
    return 127;
}

bool kiln_sandbox_argv(const char *work_dir, char *exe, size_t exe_size, const char *out[5])
{
    /* readlink, not /proc/self/exe itself: under valgrind that would run valgrind. A
     * program that is not kiln (a unit test calling the build) names kiln in
     * KILN_SANDBOX_EXE. */
    ssize_t n = readlink("/proc/self/exe", exe, exe_size - 1);
    if (n <= 0 || (size_t)n >= exe_size - 1)
        return false;
    exe[n] = '\0';
    const char *base = strrchr(exe, '/');
    if (strcmp(base ? base + 1 : exe, "kiln") != 0) {
        const char *env = getenv("KILN_SANDBOX_EXE");
        if (env == NULL || env[0] != '/' || strlen(env) >= exe_size || access(env, X_OK) != 0)
            return false;
        snprintf(exe, exe_size, "%s", env);
    }
    out[0] = exe;
    out[1] = "__sandbox";
    out[2] = "--rw";
    out[3] = work_dir;
    out[4] = "--";
    return true;
}
