/* Tests for the audit history: append and read back, filter, torn lines,
 * concurrent appends. */
#include "kiln/history.h"

#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "tap.h"

static char root[] = "/tmp/kiln-test-history.XXXXXX";

/* Collects what the reader hands over, as "action target job result dur detail" lines. */
struct seen {
    struct kiln_strbuf text;
    int n;
    int stop_after; /* 0: never stop */
    char first_time[KILN_ISO_TIME_MAX];
    char first_user[KILN_USER_AT_HOST_MAX];
};

static bool collect(void *ctx, const struct kiln_history_entry *e)
{
    struct seen *s = ctx;
    if (s->n == 0) {
        snprintf(s->first_time, sizeof s->first_time, "%s", e->time);
        snprintf(s->first_user, sizeof s->first_user, "%s", e->user);
    }
    s->n++;
    kiln_strbuf_appendf(&s->text, "%s %s %llu %s %lld %s\n", e->action, e->target,
                        (unsigned long long)e->job, e->result, (long long)e->duration_ms,
                        e->detail ? e->detail : "-");
    return s->stop_after == 0 || s->n < s->stop_after;
}

static int read_all(const char *path, const char *prefix, struct seen *s, size_t *bad)
{
    kiln_strbuf_free(&s->text);
    int stop = s->stop_after;
    memset(s, 0, sizeof *s);
    s->stop_after = stop;
    return kiln_history_read(path, prefix, collect, s, bad, NULL);
}

static void append_raw(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    (void)!write(fd, text, strlen(text));
    close(fd);
}

static void test_append_read(void)
{
    char *path = xasprintf("%s/history", root);
    struct kiln_err err = {0};
    struct kiln_history_entry e = {.action = "deploy",
                                   .target = "hello-world-test",
                                   .job = 12,
                                   .result = "succeeded",
                                   .duration_ms = 8123,
                                   .detail = "hello-world-test-v004 enabled"};
    ok(kiln_history_append(path, &e, &err) == 0, "append an entry to a new history file");
    struct kiln_history_entry e2 = {.time = "2026-11-26T05:16:08Z",
                                    .user = "ana@build1",
                                    .action = "rollback",
                                    .target = "hello-world-prod",
                                    .result = "failed",
                                    .duration_ms = -1,
                                    .detail = "line one\nline \"two\"\ttabbed"};
    ok(kiln_history_append(path, &e2, &err) == 0, "and a second, with awkward characters");
    struct kiln_history_entry e3 = {.action = "resize",
                                    .target = "hello-worldly-test",
                                    .result = "succeeded",
                                    .duration_ms = 0};
    kiln_history_append(path, &e3, NULL);
    struct kiln_history_entry e4 = {
        .action = "destroy", .target = "hello-world", .result = "succeeded", .duration_ms = -1};
    kiln_history_append(path, &e4, NULL);

    char *text = NULL;
    FILE *f = fopen(path, "r");
    int lines = 0, c;
    while ((c = fgetc(f)) != EOF)
        lines += c == '\n';
    fclose(f);
    is_int(lines, 4, "each entry is exactly one line, even with newlines in the detail");
    free(text);

    struct seen s = {0};
    size_t bad = 99;
    ok(read_all(path, NULL, &s, &bad) == 0, "read it back");
    is_str(kiln_strbuf_str(&s.text),
           "deploy hello-world-test 12 succeeded 8123 hello-world-test-v004 enabled\n"
           "rollback hello-world-prod 0 failed -1 line one\nline \"two\"\ttabbed\n"
           "resize hello-worldly-test 0 succeeded 0 -\n"
           "destroy hello-world 0 succeeded -1 -\n",
           "every field comes back, oldest first");
    is_int(bad, 0, "no malformed lines");
    char me[KILN_USER_AT_HOST_MAX];
    is_str(s.first_user, kiln_user_at_host(me, sizeof me), "user defaults to user@host");
    int64_t t;
    ok(kiln_time_parse_iso(s.first_time, &t, NULL) == 0 && t > kiln_now_us() - 3600LL * 1000000,
       "time defaults to now, as ISO-8601 (%s)", s.first_time);

    read_all(path, "hello-world", &s, &bad);
    is_str(kiln_strbuf_str(&s.text),
           "deploy hello-world-test 12 succeeded 8123 hello-world-test-v004 enabled\n"
           "rollback hello-world-prod 0 failed -1 line one\nline \"two\"\ttabbed\n"
           "destroy hello-world 0 succeeded -1 -\n",
           "a target prefix keeps the app's own entries, not hello-worldly's");
    read_all(path, "hello-world-prod", &s, &bad);
    is_int(s.n, 1, "a cluster prefix keeps only that cluster");
    s.stop_after = 2;
    read_all(path, NULL, &s, &bad);
    is_int(s.n, 2, "the callback can stop the reading");
    s.stop_after = 0;

    char *missing = xasprintf("%s/no-history", root);
    ok(read_all(missing, NULL, &s, &bad) == 0 && s.n == 0, "a missing history is empty");
    free(missing);

    struct kiln_history_entry incomplete = {.action = "deploy", .target = "x"};
    ok(kiln_history_append(path, &incomplete, &err) == -1 && err.code == KILN_E_USAGE,
       "an entry without a result is refused");
    char *nodir = xasprintf("%s/no-such-dir/history", root);
    ok(kiln_history_append(nodir, &e, &err) == -1 && strstr(err.msg, nodir) &&
           strstr(err.msg, "No such file or directory"),
       "an unwritable history says where and why: %s", err.msg);
    free(nodir);
    kiln_strbuf_free(&s.text);
    free(path);
}

static void test_torn_lines(void)
{
    char *path = xasprintf("%s/torn", root);
    struct kiln_history_entry e = {
        .action = "deploy", .target = "a-test", .result = "succeeded", .duration_ms = 5};
    kiln_history_append(path, &e, NULL);
    append_raw(path, "this is not json\n");
    append_raw(path, "{\"time\":\"2026-11-26T05:16:08Z\",\"target\":\"a-test\"}\n");
    e.action = "rollback";
    kiln_history_append(path, &e, NULL);
    /* What a crash mid-write leaves: the start of an entry, no newline. */
    append_raw(path, "{\"time\":\"2026-11-26T05:16:08Z\",\"user\":\"ana@bu");

    struct seen s = {0};
    size_t bad = 0;
    read_all(path, NULL, &s, &bad);
    is_int(s.n, 2, "good entries around bad lines are read");
    is_int(bad, 3, "garbage, an entry without an action, and a torn last line are counted");

    e.action = "resize";
    kiln_history_append(path, &e, NULL);
    read_all(path, NULL, &s, &bad);
    is_str(kiln_strbuf_str(&s.text),
           "deploy a-test 0 succeeded 5 -\nrollback a-test 0 succeeded 5 -\n"
           "resize a-test 0 succeeded 5 -\n",
           "an entry appended after a torn line is not swallowed by it");
    is_int(bad, 3, "and the torn line is still skipped and counted");

    /* A complete-looking object without its newline was not written whole. */
    char *path2 = xasprintf("%s/torn2", root);
    append_raw(path2, "{\"time\":\"t\",\"action\":\"a\",\"target\":\"b\",\"result\":\"ok\"}\n"
                      "{\"time\":\"t\",\"action\":\"a\",\"target\":\"b\",\"result\":\"ok\"}");
    read_all(path2, NULL, &s, &bad);
    ok(s.n == 1 && bad == 1, "a last line without its newline counts as torn");
    kiln_strbuf_free(&s.text);
    free(path2);
    free(path);
}

#define THREADS    4
#define PER_THREAD 100
#define DETAIL_LEN 5000

struct writer {
    const char *path;
    int id;
    int failures;
};

static void *writer_main(void *p)
{
    struct writer *w = p;
    char *detail = xmalloc(DETAIL_LEN + 1);
    for (int i = 0; i < PER_THREAD; i++) {
        /* "<thread>:<i>:" then filler that says which thread wrote it. */
        int n = snprintf(detail, DETAIL_LEN + 1, "%d:%d:", w->id, i);
        memset(detail + n, 'a' + w->id, (size_t)(DETAIL_LEN - n));
        detail[DETAIL_LEN] = '\0';
        struct kiln_history_entry e = {.action = "deploy",
                                       .target = "concurrent-test",
                                       .job = (uint64_t)(w->id * 1000 + i),
                                       .result = "succeeded",
                                       .duration_ms = i,
                                       .detail = detail};
        if (kiln_history_append(w->path, &e, NULL) != 0)
            w->failures++;
    }
    free(detail);
    return NULL;
}

struct check {
    int seen[THREADS][PER_THREAD];
    int wrong;
};

static bool check_entry(void *ctx, const struct kiln_history_entry *e)
{
    struct check *c = ctx;
    int t, i, n;
    if (sscanf(e->detail, "%d:%d:%n", &t, &i, &n) != 2 || t < 0 || t >= THREADS || i < 0 ||
        i >= PER_THREAD || strlen(e->detail) != DETAIL_LEN || e->job != (uint64_t)(t * 1000 + i)) {
        c->wrong++;
        return true;
    }
    for (const char *p = e->detail + n; *p != '\0'; p++)
        if (*p != 'a' + t) {
            c->wrong++;
            return true;
        }
    c->seen[t][i]++;
    return true;
}

static void test_concurrent(void)
{
    char *path = xasprintf("%s/concurrent", root);
    pthread_t th[THREADS];
    struct writer w[THREADS];
    for (int t = 0; t < THREADS; t++) {
        w[t] = (struct writer){.path = path, .id = t};
        pthread_create(&th[t], NULL, writer_main, &w[t]);
    }
    int failures = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        failures += w[t].failures;
    }
    is_int(failures, 0, "%d threads appended %d entries each without error", THREADS, PER_THREAD);
    static struct check c;
    size_t bad = 99;
    kiln_history_read(path, NULL, check_entry, &c, &bad, NULL);
    int once = 0;
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < PER_THREAD; i++)
            once += c.seen[t][i] == 1;
    is_int(bad, 0, "no line is torn or interleaved");
    is_int(c.wrong, 0, "every detail is intact");
    if (!ok(once == THREADS * PER_THREAD, "every entry is there exactly once"))
        diag("%d of %d", once, THREADS * PER_THREAD);
    free(path);
}

static void test_user_at_host(void)
{
    char host[256], want[600], buf[KILN_USER_AT_HOST_MAX];
    gethostname(host, sizeof host);
    char *saved = getenv("USER") ? xstrdup(getenv("USER")) : NULL;
    setenv("USER", "ana", 1);
    snprintf(want, sizeof want, "ana@%s", host);
    is_str(kiln_user_at_host(buf, sizeof buf), want, "$USER@hostname");
    unsetenv("USER");
    struct passwd *pw = getpwuid(geteuid());
    snprintf(want, sizeof want, "%s@%s", pw ? pw->pw_name : "?", host);
    is_str(kiln_user_at_host(buf, sizeof buf), want, "without $USER, the account's name");
    if (saved != NULL)
        setenv("USER", saved, 1);
    free(saved);
    char tiny[5];
    kiln_user_at_host(tiny, sizeof tiny);
    is_int(strlen(tiny), 4, "a small buffer gets a truncated, terminated string");
}

int main(void)
{
    if (mkdtemp(root) == NULL)
        return 1;
    test_user_at_host();
    test_append_read();
    test_torn_lines();
    test_concurrent();
    char *cmd = xasprintf("rm -rf '%s'", root);
    if (system(cmd) != 0)
        diag("could not remove %s", root);
    free(cmd);
    return done_testing();
}
