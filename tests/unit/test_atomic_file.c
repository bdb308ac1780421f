/* Tests for atomic file writes: a crash, a kill or a full disk leaves the old
 * file whole, and readers never see half a file. */
#include "kiln/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kiln/strbuf.h"
#include "tap.h"

static char root[] = "/tmp/kiln-test-atomic.XXXXXX";

static char *path_in(const char *name)
{
    return xasprintf("%s/%s", root, name);
}

static char *slurp(const char *path)
{
    char *s = NULL;
    if (kiln_read_file(path, &s, NULL, 1 << 24, NULL) < 0)
        return NULL;
    return s;
}

static int count_temps(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        n += kiln_atomic_is_temp_name(de->d_name);
    closedir(d);
    return n;
}

static void test_write_and_read(void)
{
    char *p = path_in("cloud.json");
    struct kiln_err err = {0};
    ok(kiln_atomic_write(p, "{\"v\":1}\n", 8, 0640, &err) == 0, "write a new file");
    struct stat st;
    ok(stat(p, &st) == 0 && (st.st_mode & 07777) == 0640, "with exactly the mode asked for");
    char *s = NULL;
    size_t len = 0;
    ok(kiln_read_file(p, &s, &len, 100, &err) == 0, "read it back");
    is_str(s, "{\"v\":1}\n", "same contents");
    is_int(len, 8, "same length");
    free(s);

    ok(kiln_atomic_write(p, "{\"v\":2}", 7, 0600, &err) == 0, "overwrite it");
    s = slurp(p);
    is_str(s, "{\"v\":2}", "the new contents replace the old entirely");
    free(s);
    is_int(count_temps(root), 0, "no temporary file is left behind");

    ok(kiln_atomic_write(p, "", 0, 0600, &err) == 0, "an empty file can be written");
    s = slurp(p);
    is_str(s, "", "and reads back empty");
    free(s);

    ok(kiln_read_file(p, &s, &len, 3, &err) == 0, "a file within the limit is read");
    free(s);
    kiln_atomic_write(p, "0123456789", 10, 0600, NULL);
    s = (char *)"untouched";
    ok(kiln_read_file(p, &s, &len, 9, &err) == -1 && err.code == KILN_E_INVALID,
       "a file over the limit is refused");
    ok(strstr(err.msg, p) != NULL && strstr(err.msg, "10 bytes, more than the 9") != NULL,
       "saying which file and how big: %s", err.msg);
    is_str(s, "untouched", "and *out is not touched");
    free(p);

    p = path_in("missing");
    ok(kiln_read_file(p, &s, &len, 9, &err) == -1 && err.code == KILN_E_NOTFOUND,
       "a missing file is KILN_E_NOTFOUND");
    ok(strstr(err.msg, p) != NULL && strstr(err.msg, "No such file") != NULL, "naming it: %s",
       err.msg);
    free(p);
    ok(kiln_read_file(root, &s, &len, 9, &err) == -1 && strstr(err.msg, "is a directory"),
       "a directory is refused: %s", err.msg);

    p = path_in("no-such-dir/cloud.json");
    ok(kiln_atomic_write(p, "x", 1, 0600, &err) == -1, "writing into a missing directory fails");
    ok(strstr(err.msg, "cannot write ") && strstr(err.msg, p) &&
           strstr(err.msg, "No such file or directory"),
       "naming the path and the reason: %s", err.msg);
    free(p);
    p = path_in("dir/");
    ok(kiln_atomic_write(p, "x", 1, 0600, &err) == -1 && err.code == KILN_E_INVALID,
       "a path ending in / names no file: %s", err.msg);
    free(p);
}

static void test_create(void)
{
    char *p = path_in("7.json");
    struct kiln_err err = {0};
    ok(kiln_atomic_create(p, "first", 5, 0600, &err) == 0, "atomic_create makes a new file");
    ok(kiln_atomic_create(p, "second", 6, 0600, &err) == -1 && err.code == KILN_E_EXISTS,
       "but refuses an existing one");
    ok(strstr(err.msg, p) && strstr(err.msg, "already exists"), "saying so: %s", err.msg);
    char *s = slurp(p);
    is_str(s, "first", "the first file is unchanged");
    free(s);
    is_int(count_temps(root), 0, "and no temporary file is left behind");
    free(p);
}

static void test_mkdir_p(void)
{
    struct kiln_err err = {0};
    char *p = path_in("a/b//c/");
    struct stat st;
    ok(kiln_mkdir_p(p, 0755, &err) == 0, "mkdir_p creates nested directories");
    ok(stat(p, &st) == 0 && S_ISDIR(st.st_mode), "which exist afterwards");
    ok(kiln_mkdir_p(p, 0755, &err) == 0, "and is happy when they already exist");
    free(p);
    p = path_in("a/file");
    kiln_atomic_write(p, "x", 1, 0600, NULL);
    free(p);
    p = path_in("a/file/sub");
    ok(kiln_mkdir_p(p, 0755, &err) == -1, "a file in the way is an error");
    ok(strstr(err.msg, "a/file") && strstr(err.msg, "Not a directory"), "naming it: %s", err.msg);
    free(p);
}

static void test_temp_names(void)
{
    ok(kiln_atomic_is_temp_name(".cloud.json.aB3xY9"), ".cloud.json.aB3xY9 is a temp");
    ok(!kiln_atomic_is_temp_name("cloud.json"), "cloud.json is not");
    ok(!kiln_atomic_is_temp_name(".bashrc"), ".bashrc is not");
    ok(!kiln_atomic_is_temp_name("..aB3xY9"), "..aB3xY9 (no name) is not");
    ok(!kiln_atomic_is_temp_name(".x.aB3x-9"), "a suffix with punctuation is not");
}

/* The hook stops a writer after its data is safely in the temp file but before
 * the rename: the worst moment for a crash. */
static void test_crash_before_rename(void)
{
    char *p = path_in("state.json");
    kiln_atomic_write(p, "old contents", 12, 0600, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setenv(KILN_TEST_CRASH_ENV, "1", 1);
        kiln_atomic_write(p, "NEW CONTENTS, LONGER", 20, 0600, NULL);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == KILN_TEST_CRASH_EXIT_STATUS,
       "the writer died at the hook, between fsync and rename");
    char *s = slurp(p);
    is_str(s, "old contents", "the target still has exactly the old contents");
    free(s);
    is_int(count_temps(root), 1, "a stale temporary file is left");

    size_t removed = 99;
    struct kiln_err err = {0};
    ok(kiln_atomic_cleanup_temps(root, 3600 * 1000, &removed, &err) == 0 && removed == 0,
       "a sweep with a one-hour age limit keeps the young temp (it may be a live writer's)");
    ok(kiln_atomic_cleanup_temps(root, 0, &removed, &err) == 0 && removed == 1,
       "a sweep with no age limit removes it");
    is_int(count_temps(root), 0, "no temporary file is left");
    s = slurp(p);
    is_str(s, "old contents", "and the target is untouched by the sweep");
    free(s);
    ok(kiln_atomic_write(p, "after", 5, 0600, &err) == 0, "the file can be written again");
    free(p);
}

#define BIG (256 * 1024)

/* Whether s is one whole version: BIG bytes, all the same letter. */
static bool whole_version(const char *s, size_t len)
{
    if (len != BIG)
        return false;
    for (size_t i = 1; i < len; i++)
        if (s[i] != s[0])
            return false;
    return s[0] == 'A' || s[0] == 'B';
}

/* A writer rewrites a big file as fast as it can and is SIGKILLed at an
 * arbitrary moment, while the parent reads it over and over: every read must
 * see one whole version, and so must the read after the kill. */
static void test_kill_during_rewrites(void)
{
    char *p = path_in("big.json");
    char *a = xmalloc(BIG), *b = xmalloc(BIG);
    memset(a, 'A', BIG);
    memset(b, 'B', BIG);
    kiln_atomic_write(p, a, BIG, 0600, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        for (unsigned i = 0;; i++)
            kiln_atomic_write(p, i % 2 ? a : b, BIG, 0600, NULL);
    }
    int reads = 0, partial = 0, seen_b = 0;
    for (; reads < 300; reads++) {
        char *s = NULL;
        size_t len = 0;
        if (kiln_read_file(p, &s, &len, 1 << 24, NULL) < 0 || !whole_version(s, len))
            partial++;
        else
            seen_b += s[0] == 'B';
        free(s);
    }
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the writer was killed mid-stream");
    is_int(partial, 0, "none of %d reads during the rewrites saw a partial file", reads);
    diag("%d of %d reads saw the second version", seen_b, reads);
    char *s = NULL;
    size_t len = 0;
    ok(kiln_read_file(p, &s, &len, 1 << 24, NULL) == 0 && whole_version(s, len),
       "after the kill the file is one whole version");
    free(s);
    struct kiln_err err = {0};
    ok(kiln_atomic_cleanup_temps(root, 0, NULL, &err) == 0 && count_temps(root) == 0,
       "whatever temp the kill left is swept away");
    free(a);
    free(b);
    free(p);
}

/* Runs fn in a child and brings back its return code and error message, for
 * tests that change process-wide things (limits, mounts, user). fn returns 77
 * to say "cannot test here". */
static int in_child(int (*fn)(const char *path, struct kiln_err *err), const char *path,
                    struct kiln_err *err)
{
    int fds[2];
    if (pipe(fds) < 0)
        return 77;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        struct kiln_err e = {0};
        int rc = fn(path, &e);
        (void)!write(fds[1], &e, sizeof e);
        _exit(rc == 77 ? 77 : rc == 0 ? 0 : 1);
    }
    close(fds[1]);
    memset(err, 0, sizeof *err);
    size_t got = 0;
    ssize_t n;
    while (got < sizeof *err && (n = read(fds[0], (char *)err + got, sizeof *err - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st))
        return 1;
    return WEXITSTATUS(st) == 0 ? 0 : WEXITSTATUS(st) == 77 ? 77 : -1;
}

static int write_big_with_file_limit(const char *path, struct kiln_err *err)
{
    struct rlimit rl = {4096, 4096};
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
        return 77;
    char *data = xcalloc(1, 65536);
    int rc = kiln_atomic_write(path, data, 65536, 0600, err);
    free(data);
    return rc;
}

static int write_big_on_tiny_fs(const char *dir, struct kiln_err *err)
{
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("kiln-test", dir, "tmpfs", 0, "size=64k") < 0)
        return 77;
    char *p = xasprintf("%s/cloud.json", dir);
    int rc = kiln_atomic_write(p, "old", 3, 0600, err);
    char *data = xcalloc(1, 1 << 20);
    if (rc == 0)
        rc = kiln_atomic_write(p, data, 1 << 20, 0600, err);
    char *s = slurp(p);
    /* Report what the test must check, since the mount vanishes with us. */
    if (rc == -1 && (s == NULL || strcmp(s, "old") != 0 || count_temps(dir) != 0))
        kiln_err_set(err, KILN_E_FAILED, "BROKEN: old file changed or temp left");
    free(s);
    free(data);
    free(p);
    return rc;
}

static void test_write_failures(void)
{
    char *p = path_in("limited.json");
    kiln_atomic_write(p, "old contents", 12, 0600, NULL);
    struct kiln_err err;
    int rc = in_child(write_big_with_file_limit, p, &err);
    ok(rc == -1, "a write that hits the file size limit fails");
    ok(strstr(err.msg, "cannot write ") && strstr(err.msg, p) && strstr(err.msg, "File too large"),
       "naming the path and the reason: %s", err.msg);
    char *s = slurp(p);
    is_str(s, "old contents", "the old file is untouched");
    free(s);
    is_int(count_temps(root), 0, "and the partial temp file is removed");
    free(p);

    p = path_in("tinyfs");
    kiln_mkdir_p(p, 0700, NULL);
    rc = in_child(write_big_on_tiny_fs, p, &err);
    if (rc == 77) {
        ok(1, "# SKIP ENOSPC test: cannot mount a small tmpfs here");
        ok(1, "# SKIP");
    } else {
        ok(rc == -1 && err.code == KILN_E_IO, "a write that fills the disk fails");
        ok(strstr(err.msg, "/tinyfs/cloud.json: No space left on device") != NULL,
           "with \"cannot write <path>: No space left on device\", old file intact, no temp: %s",
           err.msg);
    }
    free(p);
}

static int write_as_nobody(const char *path, struct kiln_err *err)
{
    if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
        return 77;
    return kiln_atomic_write(path, "new", 3, 0600, err);
}

static void test_readonly_dir(void)
{
    char *dir = path_in("ro");
    char *p = path_in("ro/cloud.json");
    kiln_mkdir_p(dir, 0755, NULL);
    kiln_atomic_write(p, "old contents", 12, 0644, NULL);
    /* root ignores directory permissions, so as root the write runs as nobody. */
    chmod(root, 0755);
    chmod(dir, 0555);
    struct kiln_err err;
    int rc = in_child(write_as_nobody, p, &err);
    if (rc == 77) {
        ok(1, "# SKIP read-only directory: cannot drop privileges here");
        ok(1, "# SKIP");
    } else {
        ok(rc == -1, "writing into a read-only directory fails");
        ok(strstr(err.msg, "cannot write ") && strstr(err.msg, p) &&
               strstr(err.msg, "Permission denied"),
           "naming the path and the reason: %s", err.msg);
    }
    char *s = slurp(p);
    is_str(s, "old contents", "and changes nothing");
    free(s);
    is_int(count_temps(dir), 0, "and leaves no temp");
    chmod(dir, 0755);
    chmod(root, 0700);
    free(p);
    free(dir);
}

int main(void)
{
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_write_and_read();
    test_create();
    test_mkdir_p();
    test_temp_names();
    test_crash_before_rename();
    test_kill_during_rewrites();
    test_write_failures();
    test_readonly_dir();
    char *cmd = xasprintf("rm -rf '%s'", root);
    if (system(cmd) != 0)
        diag("could not remove %s", root);
    free(cmd);
    return done_testing();
}
