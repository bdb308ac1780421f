/* Tests for the string buffer and the allocation helpers under it. */
#include "kiln/strbuf.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

static void test_empty(void)
{
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    is_str(kiln_strbuf_str(&sb), "", "a fresh buffer reads as the empty string");
    is_int(sb.len, 0, "and has length 0");
    size_t len = 99;
    char *s = kiln_strbuf_detach(&sb, &len);
    is_str(s, "", "detaching an empty buffer gives an empty, freeable string");
    is_int(len, 0, "with length 0");
    free(s);
    kiln_strbuf_free(&sb);
}

static void test_append(void)
{
    struct kiln_strbuf sb;
    kiln_strbuf_init(&sb);
    kiln_strbuf_append(&sb, "hello");
    kiln_strbuf_appendc(&sb, '-');
    kiln_strbuf_append_len(&sb, "world-and-more", 5);
    is_str(kiln_strbuf_str(&sb), "hello-world", "append, appendc and append_len concatenate");
    is_int(sb.len, 11, "length counts the bytes");
    kiln_strbuf_appendf(&sb, "-v%03d", 4);
    is_str(kiln_strbuf_str(&sb), "hello-world-v004", "appendf formats at the end");

    kiln_strbuf_append_len(&sb, "a\0b", 3);
    is_int(sb.len, 19, "append_len keeps embedded NULs in the length");
    ok(memcmp(sb.buf + 16, "a\0b", 4) == 0, "and the bytes, followed by a NUL");

    kiln_strbuf_truncate(&sb, 5);
    is_str(kiln_strbuf_str(&sb), "hello", "truncate shortens");
    kiln_strbuf_truncate(&sb, 50);
    is_str(kiln_strbuf_str(&sb), "hello", "truncate past the end changes nothing");

    size_t cap = sb.cap;
    kiln_strbuf_reset(&sb);
    is_str(kiln_strbuf_str(&sb), "", "reset empties");
    is_int(sb.cap, cap, "but keeps the memory");
    kiln_strbuf_free(&sb);
    ok(sb.buf == NULL && sb.len == 0 && sb.cap == 0, "free leaves the buffer empty and reusable");
    kiln_strbuf_append(&sb, "again");
    is_str(kiln_strbuf_str(&sb), "again", "a freed buffer can be used again");
    kiln_strbuf_free(&sb);
}

static void test_growth(void)
{
    struct kiln_strbuf sb = KILN_STRBUF_INIT;
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    kiln_strbuf_appendf(&sb, "[%s]", big);
    is_int(sb.len, 5001, "appendf output far longer than the spare room is complete");
    ok(sb.buf[0] == '[' && sb.buf[5000] == ']' && sb.buf[5001] == '\0',
       "with both ends and the NUL in place");

    kiln_strbuf_reset(&sb);
    for (int i = 0; i < 10000; i++)
        kiln_strbuf_appendf(&sb, "%d,", i % 10);
    is_int(sb.len, 20000, "10000 small appends add up");
    int good = 1;
    for (int i = 0; i < 10000; i++)
        good &= sb.buf[2 * i] == '0' + i % 10 && sb.buf[2 * i + 1] == ',';
    ok(good, "and every byte is where it belongs");

    size_t len;
    char *s = kiln_strbuf_detach(&sb, &len);
    is_int(len, 20000, "detach reports the length");
    is_int(strlen(s), 20000, "and hands over the whole string");
    ok(sb.buf == NULL && sb.len == 0, "and leaves the buffer empty");
    free(s);
}

static void test_xalloc(void)
{
    char *s = xstrndup("abcdef", 3);
    is_str(s, "abc", "xstrndup copies at most n bytes");
    free(s);
    s = xstrndup("ab", 10);
    is_str(s, "ab", "xstrndup stops at the NUL");
    free(s);
    s = xasprintf("%s-%s-v%03d", "hello-world", "test", 7);
    is_str(s, "hello-world-test-v007", "xasprintf formats into new memory");
    free(s);
    int *z = xcalloc(4, sizeof *z);
    ok(z[0] == 0 && z[3] == 0, "xcalloc zeroes");
    z = xrealloc(z, 1000 * sizeof *z);
    z[999] = 1;
    ok(z[0] == 0 && z[999] == 1, "xrealloc keeps the contents and grows");
    free(z);
}

static void on_oom(void)
{
    static const char msg[] = "hook ran\n";
    (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
}

/* The sanitizers replace malloc and report a huge request themselves. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#else
#define UNDER_SANITIZER 0
#endif

static void test_oom(void)
{
    if (UNDER_SANITIZER) {
        ok(1, "# SKIP out-of-memory abort: the sanitizer intercepts huge mallocs");
        ok(1, "# SKIP");
        ok(1, "# SKIP");
        return;
    }
    int fds[2];
    if (pipe(fds) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        kiln_set_oom_hook(on_oom);
        volatile size_t huge = SIZE_MAX / 2;
        void *p = xmalloc(huge);
        free(p);
        _exit(0); /* not reached if xmalloc works */
    }
    close(fds[1]);
    char buf[4096] = "";
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf - 1 && (n = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "xmalloc aborts when memory runs out"))
        diag("child status 0x%x, stderr: %s", st, buf);
    ok(strstr(buf, "hook ran") != NULL, "after calling the hook (to restore the terminal)");
    ok(strstr(buf, "kiln: out of memory") != NULL, "and says why");
}

int main(void)
{
    test_empty();
    test_append();
    test_growth();
    test_xalloc();
    test_oom();
    return done_testing();
}
