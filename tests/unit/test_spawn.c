/* Tests for running programs: output streams line by line, exit statuses,
 * missing programs, timeouts and cancels that take the whole process group
 * along, no shell in the way, and several threads at once. */
#include "kiln/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "tap.h"

/* Each stream's lines, each followed by '\n'. */
struct capture {
    struct kiln_strbuf out, err;
    const char *cancel_on; /* cancel once a stdout line equals this */
    bool cancel;
    int cancel_polls; /* how often cancelled() was asked after cancel was set */
};

static void on_line(void *ctx, enum kiln_stream stream, const char *line)
{
    struct capture *c = ctx;
    struct kiln_strbuf *sb = stream == KILN_STREAM_STDOUT ? &c->out : &c->err;
    kiln_strbuf_append(sb, line);
    kiln_strbuf_appendc(sb, '\n');
    if (stream == KILN_STREAM_STDOUT && c->cancel_on != NULL && strcmp(line, c->cancel_on) == 0)
        c->cancel = true;
}

static bool is_cancelled(void *ctx)
{
    struct capture *c = ctx;
    c->cancel_polls += c->cancel;
    return c->cancel;
}

static void capture_free(struct capture *c)
{
    kiln_strbuf_free(&c->out);
    kiln_strbuf_free(&c->err);
}

/* Runs argv with default options plus what the caller set in *o. */
static int run(struct kiln_spawn_opts *o, const char *const *argv, struct capture *c, int *status,
               struct kiln_err *err)
{
    memset(c, 0, sizeof *c);
    o->argv = argv;
    o->on_line = on_line;
    o->ctx = c;
    if (o->cancelled == NULL)
        o->cancelled = is_cancelled;
    kiln_err_clear(err);
    return kiln_spawn_run(o, status, err);
}

static void test_streams(void)
{
    const char *argv[] = {"sh", "-c",
                          "echo o1; echo e1 >&2; echo o2; echo; printf e2 >&2; printf o3", NULL};
    struct kiln_spawn_opts o = {0};
    struct capture c;
    struct kiln_err err;
    int status = -1;
    ok(run(&o, argv, &c, &status, &err) == 0, "a program that runs to completion returns 0");
    is_int(status, 0, "with its exit status");
    is_str(kiln_strbuf_str(&c.out), "o1\no2\n\no3\n",
           "stdout lines arrive in order, empty lines kept, the unterminated last one too");
    is_str(kiln_strbuf_str(&c.err), "e1\ne2\n", "stderr lines arrive in order on their own stream");
    capture_free(&c);
}

static void test_long_lines(void)
{
    const char *argv[] = {"printf", "0123456789abcdefghijKLM\n0123456789\nend", NULL};
    struct kiln_spawn_opts o = {.max_line = 10};
    struct capture c;
    struct kiln_err err;
    int status;
    run(&o, argv, &c, &status, &err);
    is_str(kiln_strbuf_str(&c.out), "0123456789\nabcdefghij\nKLM\n0123456789\nend\n",
           "lines longer than max_line come in pieces; one of exactly max_line does not");
    capture_free(&c);

    /* A big burst through the default line length. */
    const char *argv2[] = {"sh", "-c",
                           "i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done", NULL};
    struct kiln_spawn_opts o2 = {0};
    run(&o2, argv2, &c, &status, &err);
    struct kiln_strbuf want = KILN_STRBUF_INIT;
    for (int i = 0; i < 2000; i++)
        kiln_strbuf_appendf(&want, "line%d\n", i);
    ok(strcmp(kiln_strbuf_str(&c.out), kiln_strbuf_str(&want)) == 0,
       "2000 lines in a burst all arrive, in order");
    kiln_strbuf_free(&want);
    capture_free(&c);
}

static void test_status(void)
{
    struct capture c;
    struct kiln_err err;
    int status = -1;
    const char *exit3[] = {"sh", "-c", "exit 3", NULL};
    struct kiln_spawn_opts o = {0};
    ok(run(&o, exit3, &c, &status, &err) == 0 && status == 3, "exit code 3 comes back as 3");
    capture_free(&c);
    const char *killed[] = {"sh", "-c", "kill -KILL $$", NULL};
    struct kiln_spawn_opts o2 = {0};
    ok(run(&o2, killed, &c, &status, &err) == 0 && status == 128 + SIGKILL,
       "death by SIGKILL comes back as 137");
    capture_free(&c);
    const char *segv[] = {"sh", "-c", "kill -SEGV $$", NULL};
    struct kiln_spawn_opts o3 = {0};
    ok(run(&o3, segv, &c, &status, &err) == 0 && status == 128 + SIGSEGV,
       "death by SIGSEGV comes back as 139");
    capture_free(&c);
}

static void test_missing(const char *tmpdir)
{
    struct capture c;
    struct kiln_err err;
    const char *argv[] = {"kiln-no-such-program-xyz", "--version", NULL};
    struct kiln_spawn_opts o = {0};
    ok(run(&o, argv, &c, NULL, &err) == -1 && err.code == KILN_E_NOTFOUND,
       "a program not in PATH is KILN_E_NOTFOUND");
    is_str(err.msg,
           "cannot run kiln-no-such-program-xyz: not found in PATH; install it or fix PATH",
           "and says so");
    capture_free(&c);
    struct kiln_spawn_opts o2 = {.package = "rpm"};
    run(&o2, argv, &c, NULL, &err);
    is_str(err.msg,
           "cannot run kiln-no-such-program-xyz: not found in PATH; install the Debian package rpm",
           "naming the Debian package when the caller knows it");
    capture_free(&c);

    const char *abs[] = {"/nonexistent/kiln-prog", NULL};
    struct kiln_spawn_opts o3 = {0};
    ok(run(&o3, abs, &c, NULL, &err) == -1 && err.code == KILN_E_NOTFOUND &&
           strcmp(err.msg, "cannot run /nonexistent/kiln-prog: No such file or directory") == 0,
       "a missing program given by path: %s", err.msg);
    capture_free(&c);

    char *noexec = xasprintf("%s/not-executable", tmpdir);
    FILE *f = fopen(noexec, "w");
    fputs("#!/bin/sh\necho hi\n", f);
    fclose(f);
    chmod(noexec, 0644);
    const char *ne[] = {noexec, NULL};
    struct kiln_spawn_opts o4 = {0};
    ok(run(&o4, ne, &c, NULL, &err) == -1 && strstr(err.msg, "Permission denied") &&
           strstr(err.msg, noexec),
       "a program that is not executable: %s", err.msg);
    capture_free(&c);
    free(noexec);

    const char *pwd[] = {"pwd", NULL};
    struct kiln_spawn_opts o5 = {.cwd = "/nonexistent-kiln-dir"};
    ok(run(&o5, pwd, &c, NULL, &err) == -1 &&
           strcmp(err.msg, "cannot run pwd in /nonexistent-kiln-dir: No such file or directory") ==
               0,
       "a missing working directory is told apart from a missing program: %s", err.msg);
    capture_free(&c);
}

static void test_no_shell(void)
{
    /* printf is a program, not a shell: each argument must come back exactly. */
    const char *argv[] = {"printf",     "%s\n", "a b",        "x;y", "$(echo hacked)", "`id`", "*",
                          "'q' \"dq\"", "",     "&& echo no", NULL};
    struct kiln_spawn_opts o = {0};
    struct capture c;
    struct kiln_err err;
    int status;
    run(&o, argv, &c, &status, &err);
    is_str(kiln_strbuf_str(&c.out), "a b\nx;y\n$(echo hacked)\n`id`\n*\n'q' \"dq\"\n\n&& echo no\n",
           "arguments with spaces, ;, $(...), globs and quotes arrive verbatim: no shell");
    capture_free(&c);

    char *d = kiln_spawn_describe(argv);
    is_str(d,
           "printf '%s\n' 'a b' 'x;y' '$(echo hacked)' '`id`' '*' ''\\''q'\\'' \"dq\"' '' "
           "'&& echo no'",
           "describe quotes for a shell so the line can be pasted");
    free(d);
    const char *plain[] = {"rpmbuild", "-bb", "--define", "_topdir=/tmp/x", NULL};
    d = kiln_spawn_describe(plain);
    is_str(d, "rpmbuild -bb --define _topdir=/tmp/x", "and leaves plain words alone");
    free(d);
}

static void test_env_cwd_stdin(const char *tmpdir)
{
    const char *env_add[] = {"KILN_SPAWN_T=hello world", "HOME=/kiln-home", NULL};
    const char *argv[] = {"env", NULL};
    struct kiln_spawn_opts o = {.env_add = env_add};
    struct capture c;
    struct kiln_err err;
    int status;
    run(&o, argv, &c, &status, &err);
    const char *out = kiln_strbuf_str(&c.out);
    ok(strstr(out, "\nKILN_SPAWN_T=hello world\n") != NULL ||
           strncmp(out, "KILN_SPAWN_T=hello world\n", 25) == 0,
       "an added variable reaches the child");
    ok(strstr(out, "KILN_INHERITED=yes\n") != NULL, "the inherited environment is kept");
    int homes = 0;
    bool ours = false;
    for (const char *l = out; *l != '\0'; l = strchr(l, '\n') + 1) {
        if (strncmp(l, "HOME=", 5) == 0) {
            homes++;
            ours = strncmp(l, "HOME=/kiln-home\n", 16) == 0;
        }
    }
    ok(homes == 1 && ours, "an added variable replaces the inherited one, once");
    capture_free(&c);

    const char *bad_env[] = {"NOEQUALS", NULL};
    struct kiln_spawn_opts o2 = {.env_add = bad_env};
    ok(run(&o2, argv, &c, &status, &err) == -1 && err.code == KILN_E_USAGE &&
           strstr(err.msg, "\"NOEQUALS\" is not KEY=VALUE"),
       "a malformed environment entry is refused: %s", err.msg);
    capture_free(&c);

    char real[4096];
    if (realpath(tmpdir, real) == NULL)
        strcpy(real, tmpdir);
    const char *pwd[] = {"pwd", "-P", NULL};
    struct kiln_spawn_opts o3 = {.cwd = tmpdir};
    run(&o3, pwd, &c, &status, &err);
    struct kiln_strbuf want = KILN_STRBUF_INIT;
    kiln_strbuf_appendf(&want, "%s\n", real);
    is_str(kiln_strbuf_str(&c.out), kiln_strbuf_str(&want), "cwd sets the working directory");
    kiln_strbuf_free(&want);
    capture_free(&c);

    const char *reader[] = {"sh", "-c", "read x; echo \"read=$?\"", NULL};
    struct kiln_spawn_opts o4 = {0};
    run(&o4, reader, &c, &status, &err);
    is_str(kiln_strbuf_str(&c.out), "read=1\n", "stdin is /dev/null: the first read sees EOF");
    capture_free(&c);

    /* Field 5 of /proc/<pid>/stat is the process group. */
    const char *pg[] = {"sh", "-c", "echo $$; cut -d' ' -f5 /proc/$$/stat", NULL};
    struct kiln_spawn_opts o5 = {0};
    run(&o5, pg, &c, &status, &err);
    const char *s = kiln_strbuf_str(&c.out);
    const char *nl = strchr(s, '\n');
    if (!ok(nl != NULL && strncmp(s, nl + 1, (size_t)(nl - s)) == 0 && nl[1 + (nl - s)] == '\n',
            "the child leads its own process group"))
        diag("pid and pgrp: %s", s);
    capture_free(&c);
}

static void test_fds(void)
{
    /* An fd the caller left inheritable must still not reach the child. */
    int fd = open("/dev/null", O_RDONLY);
    dup2(fd, 50);
    close(fd);
    const char *argv[] = {"ls", "/proc/self/fd", NULL};
    struct kiln_spawn_opts o = {0};
    struct capture c;
    struct kiln_err err;
    int status;
    run(&o, argv, &c, &status, &err);
    /* ls itself holds the directory open as fd 3. */
    is_str(kiln_strbuf_str(&c.out), "0\n1\n2\n3\n", "the child has only stdin, stdout, stderr");
    capture_free(&c);
    close(50);
}

/* Waits for a reparented grandchild (we are a subreaper); gives up after a
 * generous 20 s so a bug shows as a failure, not a hang. */
static int reap(pid_t pid, int *st)
{
    for (int i = 0; i < 2000; i++) {
        pid_t r = waitpid(pid, st, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0)
            return -1;
        kiln_sleep_ms(10);
    }
    return -1;
}

static void test_timeout(void)
{
    const char *argv[] = {"sh", "-c", "sleep 100 & echo $!; sleep 100", NULL};
    struct kiln_spawn_opts o = {.timeout_ms = 500};
    struct capture c;
    struct kiln_err err;
    int status = -1;
    int rc = run(&o, argv, &c, &status, &err);
    ok(rc == -1 && err.code == KILN_E_TIMEOUT, "a program that runs too long times out");
    is_str(err.msg, "sh did not finish within 500ms and was stopped", "and says so");
    is_int(status, 128 + SIGTERM, "it was stopped with SIGTERM");
    pid_t gc = (pid_t)atoi(kiln_strbuf_str(&c.out));
    if (gc > 0) {
        int st = 0;
        /* Killed means reaped here with a signal, or (when something else reaped the
         * orphan first, as happens under ThreadSanitizer's runtime) simply gone. */
        bool reaped = reap(gc, &st) == 0 && WIFSIGNALED(st);
        bool gone = kill(gc, 0) < 0 && errno == ESRCH;
        ok(reaped || gone, "its grandchild (sleep %d) was killed too", (int)gc);
    } else {
        ok(1, "# SKIP the machine was too slow to start the grandchild within 500ms");
    }
    capture_free(&c);
}

static void test_cancel(void)
{
    const char *argv[] = {"sh", "-c", "sleep 100 & echo $!; echo ready; wait", NULL};
    struct kiln_spawn_opts o = {0};
    struct capture c;
    struct kiln_err err;
    int status = -1;
    memset(&c, 0, sizeof c);
    o.argv = argv;
    o.on_line = on_line;
    o.cancelled = is_cancelled;
    o.ctx = &c;
    c.cancel_on = "ready";
    int rc = kiln_spawn_run(&o, &status, &err);
    ok(rc == -1 && err.code == KILN_E_CANCELLED, "a cancelled program is stopped");
    is_str(err.msg, "sh was cancelled and stopped", "and says so");
    is_int(status, 128 + SIGTERM, "with SIGTERM");
    ok(c.cancel_polls >= 1, "the cancel callback was asked while the program ran");
    pid_t gc = (pid_t)atoi(kiln_strbuf_str(&c.out));
    int st = 0;
    ok(gc > 0 && reap(gc, &st) == 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM,
       "its grandchild got SIGTERM too");
    capture_free(&c);

    /* A program that ignores SIGTERM gets SIGKILL after the grace period. */
    const char *stubborn[] = {"sh", "-c", "trap '' TERM; sleep 100 & echo $!; echo ready; wait",
                              NULL};
    memset(&c, 0, sizeof c);
    o.argv = stubborn;
    o.grace_ms = 200;
    c.cancel_on = "ready";
    rc = kiln_spawn_run(&o, &status, &err);
    ok(rc == -1 && err.code == KILN_E_CANCELLED, "a program ignoring SIGTERM is still stopped");
    is_int(status, 128 + SIGKILL, "by SIGKILL after the grace period");
    gc = (pid_t)atoi(kiln_strbuf_str(&c.out));
    ok(gc > 0 && reap(gc, &st) == 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
       "and so is its grandchild");
    capture_free(&c);
}

/* A program that leaves a background process holding its stdout: the run ends
 * when the program does, not when the leftover closes the pipe. */
static void test_leftover(void)
{
    const char *argv[] = {"sh", "-c", "sleep 100 & echo $!; echo done", NULL};
    /* The timeout only guards against waiting for the leftover's EOF. */
    struct kiln_spawn_opts o = {.timeout_ms = 30000};
    struct capture c;
    struct kiln_err err;
    int status = -1;
    int rc = run(&o, argv, &c, &status, &err);
    ok(rc == 0 && status == 0, "a program that leaves a background process returns when it exits");
    const char *out = kiln_strbuf_str(&c.out);
    ok(strstr(out, "\ndone\n") != NULL, "with all its output");
    pid_t gc = (pid_t)atoi(out);
    ok(gc > 0 && kill(gc, 0) == 0, "and the background process is left running");
    if (gc > 0) {
        int st;
        kill(gc, SIGKILL);
        reap(gc, &st);
    }
    capture_free(&c);
}

struct thread_arg {
    int id;
    int failures;
};

static void *thread_main(void *p)
{
    struct thread_arg *t = p;
    for (int i = 0; i < 10; i++) {
        char word[64], want[160];
        snprintf(word, sizeof word, "thread%d-run%d", t->id, i);
        snprintf(want, sizeof want, "%s\nsecond line\n", word);
        const char *argv[] = {"printf", "%s\n", word, "second line", NULL};
        struct kiln_spawn_opts o = {.argv = argv, .on_line = on_line};
        struct capture c;
        memset(&c, 0, sizeof c);
        o.ctx = &c;
        struct kiln_err err;
        int status = -1;
        if (kiln_spawn_run(&o, &status, &err) != 0 || status != 0 ||
            strcmp(kiln_strbuf_str(&c.out), want) != 0)
            t->failures++;
        capture_free(&c);

        /* While the other threads spawn, no pipe of theirs may leak into ours. */
        const char *ls[] = {"ls", "/proc/self/fd", NULL};
        struct kiln_spawn_opts o2 = {.argv = ls, .on_line = on_line};
        memset(&c, 0, sizeof c);
        o2.ctx = &c;
        if (kiln_spawn_run(&o2, &status, &err) != 0 ||
            strcmp(kiln_strbuf_str(&c.out), "0\n1\n2\n3\n") != 0)
            t->failures++;
        capture_free(&c);
    }
    return NULL;
}

static void test_threads(void)
{
    pthread_t th[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){.id = i};
        pthread_create(&th[i], NULL, thread_main, &args[i]);
    }
    int failures = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        failures += args[i].failures;
    }
    if (!ok(failures == 0, "4 threads x 10 runs each see exactly their own output and fds"))
        diag("%d runs went wrong", failures);
}

int main(void)
{
    char tmpdir[] = "/tmp/kiln-test-spawn.XXXXXX";
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    setenv("KILN_INHERITED", "yes", 1);
    /* Orphaned grandchildren come to us, so the tests can see how they died. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    test_streams();
    test_long_lines();
    test_status();
    test_missing(tmpdir);
    test_no_shell();
    test_env_cwd_stdin(tmpdir);
    test_fds();
    test_timeout();
    test_cancel();
    test_leftover();
    test_threads();

    char *nx = xasprintf("%s/not-executable", tmpdir);
    unlink(nx);
    free(nx);
    rmdir(tmpdir);
    return done_testing();
}
