/* fuzz: the audit history reader (kiln_history_read), one JSON object per line; the
 * file may end in a line torn by a crash.
 *
 * The input is written as the history file and read three ways: everything, with a
 * target prefix, and stopping after the first entry. Checked besides "no crash, no
 * leak": every entry handed over has its required strings; a prefix read sees only
 * matching targets and never more than the full read; a read never fails on content.
 */
#include "fuzz.h"

#include "kiln/history.h"

#define PREFIX "hello-world"

static char *path;

struct seen {
    size_t n;
    size_t stop_after; /* 0 = never stop */
    bool prefixed;
};

static bool on_entry(void *ctx, const struct kiln_history_entry *e)
{
    struct seen *s = ctx;
    if (e->time == NULL || e->user == NULL || e->action == NULL || e->target == NULL ||
        e->result == NULL)
        fuzz_fail("an entry without time, user, action, target or result");
    if (s->prefixed) {
        size_t n = strlen(PREFIX);
        if (strncmp(e->target, PREFIX, n) != 0 || (e->target[n] != '\0' && e->target[n] != '-'))
            fuzz_fail("target \"%s\" does not match the prefix", e->target);
    }
    (void)strlen(e->time);
    if (e->detail != NULL)
        (void)strlen(e->detail);
    s->n++;
    return s->stop_after == 0 || s->n < s->stop_after;
}

static size_t read_history(struct seen *s, const char *prefix, size_t *malformed)
{
    struct kiln_err err = {0};
    if (kiln_history_read(path, prefix, on_entry, s, malformed, &err) < 0)
        fuzz_fail("reading failed: %s", err.msg);
    return s->n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    if (path == NULL)
        path = fuzz_path("history");
    fuzz_write_file(path, data, size);

    size_t bad_all, bad_prefixed, bad_first;
    struct seen all = {0}, prefixed = {.prefixed = true}, first = {.stop_after = 1};
    size_t n_all = read_history(&all, NULL, &bad_all);
    size_t n_prefixed = read_history(&prefixed, PREFIX, &bad_prefixed);
    size_t n_first = read_history(&first, NULL, &bad_first);
    if (n_prefixed > n_all || bad_prefixed != bad_all)
        fuzz_fail("prefix read: %zu entries, %zu malformed; full read: %zu, %zu", n_prefixed,
                  bad_prefixed, n_all, bad_all);
    if (n_first != (n_all > 0 ? 1 : 0) || bad_first > bad_all)
        fuzz_fail("stopping after one read %zu entries", n_first);
    return 0;
}
