/* One duration grammar for the CLI and the config file: what one accepts the other
 * accepts, nothing is truncated (0.5ms read as 0 would mean "unchanged"), and an
 * option that sets what a config key sets has that key's range. */
#include "kiln/config.h"
#include "kiln/timeutil.h"

#include <string.h>

#include "tap.h"

/* Whether the config file takes `[core] health_timeout = v`. */
static bool config_takes(const char *v)
{
    char text[128];
    snprintf(text, sizeof text, "[core]\nhealth_timeout = %s\n", v);
    struct kiln_config cfg;
    struct kiln_err err = {0};
    kiln_config_defaults(&cfg);
    int rc = kiln_config_load_string(&cfg, text, "test.conf", &err);
    kiln_config_free(&cfg);
    return rc == 0;
}

/* Whether the CLI's --health-timeout takes v (kiln_config_parse_duration). */
static bool cli_takes(const char *v, int64_t *ms, char msg[KILN_ERR_MSG_MAX])
{
    struct kiln_err err = {0};
    int rc = kiln_config_parse_duration("core", "health_timeout", v, ms, &err);
    snprintf(msg, KILN_ERR_MSG_MAX, "%s", err.msg);
    return rc == 0;
}

static void test_not_truncated(void)
{
    const char *finer[] = {"0.5ms", "1.0005s", "0.0001s", "1.5ms", "0.00001m"};
    for (size_t i = 0; i < sizeof finer / sizeof finer[0]; i++) {
        int64_t ms = 777;
        struct kiln_err err = {0};
        ok(kiln_parse_duration(finer[i], &ms, &err) == -1 && ms == 777,
           "\"%s\" is refused, not truncated", finer[i]);
        if (!ok(strstr(err.msg, "finer than a millisecond") != NULL,
                "because it is finer than 1ms"))
            diag("message: %s", err.msg);
    }
    int64_t ms = 0;
    struct kiln_err err = {0};
    ok(kiln_parse_duration("1.s", &ms, &err) == -1, "\"1.s\" (no digits after the point) refused");
    ok(kiln_parse_duration("1.0000000001s", &ms, &err) == -1, "more than 9 decimals refused");
    ok(kiln_parse_duration(".5s", &ms, NULL) == 0 && ms == 500, ".5s is 500 ms");
    ok(kiln_parse_duration("0.001s", &ms, NULL) == 0 && ms == 1, "0.001s is 1 ms");
    ok(kiln_parse_duration("1.250s", &ms, NULL) == 0 && ms == 1250, "1.250s is 1250 ms");
    ok(kiln_parse_duration("2.5ms", &ms, NULL) == -1, "2.5ms refused");
}

static void test_same_as_config(void)
{
    const char *values[] = {"0s",  "999ms",  "1s",    "1.5s", "5m",    "1d",     "1d1ms",
                            "25h", "99999d", "0.5ms", "1.s",  "30",    "1m30s",  "1.0001s",
                            ".5m", "2min",   "-5s",   "",     "1h30m", "86400s", "86400.001s"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        int64_t ms;
        char msg[KILN_ERR_MSG_MAX];
        bool cli = cli_takes(values[i], &ms, msg), cfg = config_takes(values[i]);
        if (!ok(cli == cfg, "--health-timeout and [core] health_timeout agree on \"%s\" (%s)",
                values[i], cli ? "taken" : "refused"))
            diag("cli %d (%s), config %d", cli, msg, cfg);
    }
    int64_t ms = 0;
    char msg[KILN_ERR_MSG_MAX];
    ok(!cli_takes("0s", &ms, msg), "--health-timeout 0s is refused");
    ok(strstr(msg, "from 1s to 1d") != NULL, "with the range: %s", msg);
    ok(!cli_takes("99999d", &ms, msg), "--health-timeout 99999d is refused");
    ok(cli_takes("1d", &ms, msg) && ms == 86400000, "1d is the longest");

    struct kiln_err err = {0};
    ok(kiln_config_parse_duration("local", "chaos_mean", "0.5s", &ms, &err) == -1,
       "a chaos mean of 0.5s is below [local] chaos_mean's 1s");
    ok(kiln_config_parse_duration("local", "chaos_min", "0s", &ms, &err) == 0 && ms == 0,
       "[local] chaos_min may be 0 (the command refuses it: 0 means unchanged there)");
    ok(kiln_config_parse_duration("core", "workers", "1s", &ms, &err) == -1,
       "a key that is not a duration is refused");
}

static void test_exact_format(void)
{
    const int64_t v[] = {1, 999, 1000, 1500, 90000, 3723004, 86400000, 90061001};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char buf[KILN_DURATION_MAX];
        int64_t back = -1;
        kiln_format_duration_exact(v[i], buf);
        ok(kiln_parse_duration(buf, &back, NULL) == 0 && back == v[i],
           "%lld ms formats exactly as \"%s\" and reads back", (long long)v[i], buf);
    }
    char buf[KILN_DURATION_MAX];
    is_str(kiln_format_duration_exact(90000, buf), "1m30s", "90000 ms is 1m30s");
}

int main(void)
{
    test_not_truncated();
    test_same_as_config();
    test_exact_format();
    return done_testing();
}
