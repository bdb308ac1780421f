/* Tests for job journals: records survive reload and crashes, damaged files give
 * clear errors, listing is in job order. */
#include "kiln/journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kiln/atomic_file.h"
#include "kiln/strbuf.h"
#include "tap.h"

static char root[] = "/tmp/kiln-test-journal.XXXXXX";
static char *dir;

/* Writes len bytes of text, or all of it for (size_t)-1, as <dir>/name. */
static void put(const char *name, const char *text, size_t len)
{
    char *p = xasprintf("%s/%s", dir, name);
    if (len == (size_t)-1)
        len = strlen(text);
    kiln_atomic_write(p, text, len, 0600, NULL);
    free(p);
}

static const char *data_string(const cJSON *data, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_record_and_reload(void)
{
    struct kiln_err err = {0};
    uint64_t next = 0;
    ok(kiln_journal_next_id(dir, &next, &err) == 0 && next == 1,
       "with no journal dir yet, the next job is 1");

    cJSON *args = cJSON_Parse("{\"version\":\"1.0.3\",\"instances\":2}");
    struct kiln_journal *j = kiln_journal_create(dir, 1, "deploy", "hello-world-test", args, &err);
    ok(j != NULL, "create job 1's journal (and its directory)");
    /* The journal keeps its own copy of args. */
    cJSON_ReplaceItemInObject(args, "version", cJSON_CreateString("changed"));
    cJSON_Delete(args);
    char *path = xasprintf("%s/1.json", dir);
    is_str(kiln_journal_path(j), path, "at <dir>/<id>.json");
    ok(access(path, F_OK) == 0, "which exists on disk at once");

    cJSON *group = cJSON_Parse("{\"group\":\"hello-world-test-v004\"}");
    ok(kiln_journal_step_before(j, "create-group", group, &err) == 0, "record a step's start");
    ok(kiln_journal_step_after(j, "create-group", "ok", group, &err) == 0, "and its end");
    cJSON_Delete(group);
    ok(kiln_journal_step_before(j, "wait-healthy", NULL, &err) == 0, "start another step");
    kiln_journal_free(j);

    struct kiln_journal *again = kiln_journal_create(dir, 1, "deploy", "x", NULL, &err);
    ok(again == NULL && err.code == KILN_E_EXISTS, "creating job 1 again is refused");
    ok(strstr(err.msg, path) != NULL, "naming the file: %s", err.msg);

    j = kiln_journal_load(dir, 1, &err);
    ok(j != NULL, "load it back");
    if (j == NULL) {
        diag("%s", err.msg);
        free(path);
        return;
    }
    is_int(kiln_journal_id(j), 1, "id");
    is_str(kiln_journal_kind(j), "deploy", "kind");
    is_str(kiln_journal_target(j), "hello-world-test", "target");
    is_str(kiln_journal_state(j), "running", "state is running");
    ok(strchr(kiln_journal_user(j), '@') != NULL, "user is user@host (%s)", kiln_journal_user(j));
    ok(strlen(kiln_journal_created(j)) == 24, "created is an ISO time (%s)",
       kiln_journal_created(j));
    is_str(data_string(kiln_journal_args(j), "version"), "1.0.3",
           "args are the ones given at creation");
    is_int(kiln_journal_step_count(j), 3, "three step records");

    struct kiln_journal_step st;
    ok(kiln_journal_step_at(j, 0, &st) && strcmp(st.name, "create-group") == 0 &&
           strcmp(st.phase, "before") == 0 && st.result == NULL &&
           strcmp(data_string(st.data, "group"), "hello-world-test-v004") == 0,
       "the first is create-group, before, with its data");
    ok(kiln_journal_step_at(j, 1, &st) && strcmp(st.phase, "after") == 0 &&
           strcmp(st.result, "ok") == 0,
       "the second its end, ok");
    ok(!kiln_journal_step_at(j, 3, &st), "there is no fourth");

    bool done = true;
    ok(kiln_journal_last_step(j, &st, &done) && strcmp(st.name, "wait-healthy") == 0 && !done,
       "resume sees wait-healthy started and not finished");
    ok(kiln_journal_find_step(j, "create-group", "before", &st) &&
           strcmp(data_string(st.data, "group"), "hello-world-test-v004") == 0,
       "find_step fetches the group create-group was about to make");
    ok(!kiln_journal_find_step(j, "destroy-group", NULL, &st), "find_step: no such step");

    /* Resuming: the loaded journal goes on recording. */
    ok(kiln_journal_step_after(j, "wait-healthy", "ok", NULL, &err) == 0, "a resumed job records");
    ok(kiln_journal_finish(j, "succeeded", &err) == 0, "and finishes");
    kiln_journal_free(j);
    j = kiln_journal_load(dir, 1, &err);
    is_str(kiln_journal_state(j), "succeeded", "the final state survives a reload");
    ok(kiln_journal_last_step(j, &st, &done) && done && strcmp(st.result, "ok") == 0,
       "and the last step is complete");
    ok(cJSON_IsString(cJSON_GetObjectItem(kiln_journal_json(j), "finished")),
       "with a finished time");
    ok(kiln_journal_step_before(j, "", NULL, &err) == -1 && err.code == KILN_E_USAGE,
       "a step needs a name");
    kiln_journal_free(j);
    free(path);
}

/* A kiln killed between two records leaves the earlier one whole. */
static void test_crash(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct kiln_journal *j =
            kiln_journal_create(dir, 2, "rollback", "hello-world-prod", NULL, NULL);
        kiln_journal_step_before(j, "enable-group", NULL, NULL);
        setenv(KILN_TEST_CRASH_ENV, "1", 1);
        kiln_journal_step_after(j, "enable-group", "ok", NULL, NULL);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == KILN_TEST_CRASH_EXIT_STATUS,
       "a writer crashed in the middle of recording a step");
    struct kiln_err err = {0};
    struct kiln_journal *j = kiln_journal_load(dir, 2, &err);
    struct kiln_journal_step st;
    bool done = true;
    ok(j != NULL && kiln_journal_last_step(j, &st, &done) && !done &&
           strcmp(st.name, "enable-group") == 0,
       "its journal loads, showing the step started but not finished");
    kiln_atomic_cleanup_temps(dir, 0, NULL, NULL);
    kiln_journal_free(j);
}

static void test_damaged(void)
{
    struct kiln_err err = {0};
    struct kiln_journal *good = kiln_journal_load(dir, 1, NULL);
    char *text = cJSON_Print(kiln_journal_json(good));
    kiln_journal_free(good);
    size_t len = strlen(text);

    /* Copies of job 1's file under other ids, damaged in different ways. */
    char *as3 = xstrdup(text);
    char *p = strstr(as3, "\"job\":\t1");
    if (p != NULL)
        p[7] = '3';
    put("3.json", as3, len / 2);
    free(as3);
    put("4.json", "\x00\xff garbage", 10);
    put("5.json", text, len); /* says job 1 */
    put("6.json", "", 0);
    put("7.json",
        "{\"job\":7,\"kind\":\"deploy\",\"target\":\"t\",\"state\":\"running\",\"steps\":"
        "[{\"name\":\"s\",\"phase\":\"during\",\"time\":\"x\"}]}",
        (size_t)-1);
    put("8.json", "[1,2,3]", (size_t)-1);
    cJSON_free(text);

    struct {
        uint64_t id;
        const char *says;
    } cases[] = {
        {3, "not valid JSON at byte"},
        {4, "not valid JSON at byte"},
        {5, "its \"job\" number does not match its file name"},
        {6, "the file is empty"},
        {7, "a step's phase is neither \"before\" nor \"after\""},
        {8, "it is not a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kiln_err_clear(&err);
        struct kiln_journal *j = kiln_journal_load(dir, cases[i].id, &err);
        char *name = xasprintf("%s/%llu.json", dir, (unsigned long long)cases[i].id);
        ok(j == NULL && err.code == KILN_E_INVALID && strstr(err.msg, name) &&
               strstr(err.msg, cases[i].says) && strstr(err.msg, "move it aside"),
           "%llu.json is refused: %s", (unsigned long long)cases[i].id, err.msg);
        free(name);
        kiln_journal_free(j);
    }
    kiln_err_clear(&err);
    ok(kiln_journal_load(dir, 99, &err) == NULL && err.code == KILN_E_NOTFOUND,
       "a job without a file is KILN_E_NOTFOUND: %s", err.msg);
}

static void test_list(void)
{
    struct kiln_err err = {0};
    struct kiln_journal *j = kiln_journal_create(dir, 10, "build", "hello-world", NULL, &err);
    kiln_journal_free(j);
    /* Not job files: a temp, a note, a non-canonical number. */
    put(".1.json.aB3xY9", "{", 1);
    put("notes.txt", "hi", 2);
    put("010.json", "{", 1);

    struct kiln_journal_list l;
    ok(kiln_journal_list(dir, &l, &err) == 0, "list the journal dir");
    struct kiln_strbuf ids = KILN_STRBUF_INIT;
    for (size_t i = 0; i < l.njobs; i++)
        kiln_strbuf_appendf(&ids, "%llu ", (unsigned long long)kiln_journal_id(l.jobs[i]));
    is_str(kiln_strbuf_str(&ids), "1 2 10 ", "readable jobs come sorted by number, not by name");
    is_int(l.nproblems, 6, "each damaged file is reported");
    ok(l.nproblems > 0 && strstr(l.problems[0], "/3.json") != NULL, "naming it: %s",
       l.nproblems ? l.problems[0] : "");
    kiln_journal_list_free(&l);
    kiln_strbuf_free(&ids);

    uint64_t next = 0;
    ok(kiln_journal_next_id(dir, &next, &err) == 0 && next == 11,
       "the next id follows the highest, damaged files included");

    ok(kiln_journal_remove(dir, 10, &err) == 0, "remove job 10");
    ok(kiln_journal_remove(dir, 10, &err) == -1 && err.code == KILN_E_NOTFOUND,
       "removing it twice is KILN_E_NOTFOUND");
    kiln_journal_list(dir, &l, &err);
    is_int(l.njobs, 2, "and it is gone from the list");
    kiln_journal_list_free(&l);

    char *none = xasprintf("%s/none", root);
    ok(kiln_journal_list(none, &l, &err) == 0 && l.njobs == 0 && l.nproblems == 0,
       "a missing journal dir is an empty list");
    kiln_journal_list_free(&l);
    free(none);
}

/* A record that cannot be written stays in memory and reaches the disk with
 * the next one that can. */
static void test_write_failure(void)
{
    char *d2 = xasprintf("%s/j2", root);
    struct kiln_err err = {0};
    struct kiln_journal *j = kiln_journal_create(d2, 1, "deploy", "a-test", NULL, &err);
    char *p = xasprintf("%s/1.json", d2);
    unlink(p);
    rmdir(d2);
    ok(kiln_journal_step_before(j, "create-group", NULL, &err) == -1,
       "recording into a vanished directory fails");
    ok(strstr(err.msg, "cannot record job 1") && strstr(err.msg, p), "saying so: %s", err.msg);
    kiln_mkdir_p(d2, 0700, NULL);
    ok(kiln_journal_step_after(j, "create-group", "ok", NULL, &err) == 0,
       "once the directory is back, recording works");
    kiln_journal_free(j);
    j = kiln_journal_load(d2, 1, &err);
    is_int(j ? kiln_journal_step_count(j) : 0, 2, "and the earlier record reached the disk too");
    kiln_journal_free(j);
    free(p);
    free(d2);
}

int main(void)
{
    if (mkdtemp(root) == NULL)
        return 1;
    dir = xasprintf("%s/journal", root);
    test_record_and_reload();
    test_crash();
    test_damaged();
    test_list();
    test_write_failure();
    char *cmd = xasprintf("rm -rf '%s'", root);
    if (system(cmd) != 0)
        diag("could not remove %s", root);
    free(cmd);
    free(dir);
    return done_testing();
}
