/* fuzz: a job's journal file (kiln_journal_load, kiln_journal_list), read when kiln
 * resumes or lists jobs after a crash, so it may be torn or damaged.
 *
 * The input is written as journal/7.json. Checked besides "no crash, no leak": a
 * refusal is KILN_E_INVALID with one printable sentence and the list reports it as a
 * problem instead of failing; an accepted journal answers every accessor with what
 * journal.h promises (kind, target and state strings; steps with name, phase, time,
 * and a result after "after"), and can go on recording as a resumed job does.
 */
#include "fuzz.h"

#include "kiln/journal.h"

#include <sys/stat.h>

#define JOB_ID 7

static char *dir, *file;

static void setup(void)
{
    if (dir != NULL)
        return;
    dir = fuzz_path("journal");
    if (mkdir(dir, 0700) < 0)
        abort();
    size_t n = strlen(dir) + 32;
    file = malloc(n);
    snprintf(file, n, "%s/%d.json", dir, JOB_ID);
}

static void check_step(const struct kiln_journal_step *st)
{
    if (st->name == NULL || st->phase == NULL || st->time == NULL)
        fuzz_fail("a step without name, phase or time");
    bool after = strcmp(st->phase, "after") == 0;
    if (!after && strcmp(st->phase, "before") != 0)
        fuzz_fail("a step with phase \"%s\"", st->phase);
    if (after && st->result == NULL)
        fuzz_fail("an \"after\" step without a result");
}

static void check_journal(struct kiln_journal *j)
{
    if (kiln_journal_id(j) != JOB_ID || kiln_journal_kind(j) == NULL ||
        kiln_journal_target(j) == NULL || kiln_journal_state(j) == NULL ||
        kiln_journal_user(j) == NULL || kiln_journal_created(j) == NULL ||
        !cJSON_IsObject(kiln_journal_args(j)) || kiln_journal_json(j) == NULL ||
        kiln_journal_path(j) == NULL)
        fuzz_fail("an accepted journal lacks what journal.h promises");
    size_t n = kiln_journal_step_count(j);
    struct kiln_journal_step st;
    for (size_t i = 0; i < n; i++) {
        if (!kiln_journal_step_at(j, i, &st))
            fuzz_fail("step %zu of %zu is missing", i, n);
        check_step(&st);
        struct kiln_journal_step found;
        if (!kiln_journal_find_step(j, st.name, st.phase, &found))
            fuzz_fail("step \"%s\" is not found by name", st.name);
        check_step(&found);
    }
    if (kiln_journal_step_at(j, n, &st))
        fuzz_fail("a step past the end");
    bool completed;
    if (kiln_journal_last_step(j, &st, &completed) != (n > 0))
        fuzz_fail("last step of %zu", n);
    (void)kiln_journal_find_step(j, "create-group", NULL, &st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    setup();
    fuzz_write_file(file, data, size);

    struct kiln_journal_list list;
    struct kiln_err err = {0};
    if (kiln_journal_list(dir, &list, &err) < 0)
        fuzz_fail("listing failed: %s", err.msg);
    if (list.njobs + list.nproblems != 1)
        fuzz_fail("one file listed as %zu jobs and %zu problems", list.njobs, list.nproblems);
    for (size_t i = 0; i < list.nproblems; i++)
        if (!fuzz_message_ok(list.problems[i]))
            fuzz_fail("problem \"%s\"", list.problems[i]);
    for (size_t i = 0; i < list.njobs; i++)
        check_journal(list.jobs[i]);
    size_t listed = list.njobs;
    kiln_journal_list_free(&list);

    struct kiln_journal *j = kiln_journal_load(dir, JOB_ID, &err);
    if (j == NULL) {
        if (err.code != KILN_E_INVALID || !fuzz_message_ok(err.msg))
            fuzz_fail("refusal with code %d and message \"%s\"", err.code, err.msg);
        if (listed != 0)
            fuzz_fail("listed but not loaded");
        return 0;
    }
    if (listed != 1)
        fuzz_fail("loaded but not listed");
    check_journal(j);

    /* Resume: record on top of what was read, then read it back. */
    cJSON *data_json = cJSON_CreateObject();
    cJSON_AddStringToObject(data_json, "group", "hello-world-test-v004");
    if (kiln_journal_step_before(j, "resume", data_json, &err) < 0 ||
        kiln_journal_step_after(j, "resume", "ok", NULL, &err) < 0 ||
        kiln_journal_finish(j, "succeeded", &err) < 0)
        fuzz_fail("recording on a loaded journal failed: %s", err.msg);
    cJSON_Delete(data_json);
    size_t steps = kiln_journal_step_count(j);
    kiln_journal_free(j);

    j = kiln_journal_load(dir, JOB_ID, &err);
    if (j == NULL)
        fuzz_fail("a journal kiln wrote does not load: %s", err.msg);
    check_journal(j);
    if (kiln_journal_step_count(j) != steps || strcmp(kiln_journal_state(j), "succeeded") != 0)
        fuzz_fail("the journal read back differs");
    kiln_journal_free(j);
    return 0;
}
