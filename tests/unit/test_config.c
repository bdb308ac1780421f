/* kiln: the configuration file. */
#include "kiln/config.h"
#include "tap.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct kiln_err err;

static int msg_is(const char *want)
{
    int same = strcmp(err.msg, want) == 0;
    if (!same)
        diag("got:  %s\n# want: %s", err.msg, want);
    return same;
}

static int msg_has(const char *needle)
{
    int found = strstr(err.msg, needle) != NULL;
    if (!found)
        diag("message: %s", err.msg);
    return found;
}

/* Loads text on top of the defaults into a fresh config; returns the result. */
static int load(struct kiln_config *cfg, const char *text)
{
    kiln_config_defaults(cfg);
    return kiln_config_load_string(cfg, text, "test.conf", &err);
}

/* Loads text that must fail and must leave a config unchanged. */
static int load_bad(const char *text)
{
    struct kiln_config cfg;
    kiln_config_defaults(&cfg);
    int rc = kiln_config_load_string(&cfg, text, "test.conf", &err);
    int unchanged = cfg.workers == 4 && cfg.source == NULL && cfg.n_keys == 0;
    kiln_config_free(&cfg);
    return rc == -1 && unchanged && err.code == KILN_E_INVALID;
}

static void test_defaults(void)
{
    struct kiln_config cfg;
    kiln_config_defaults(&cfg);
    is_int(cfg.provider, KILN_PROVIDER_LOCAL, "provider local");
    is_int(cfg.workers, 4, "workers 4");
    is_int(cfg.log_lines, 5000, "log_lines 5000");
    is_int(cfg.event_lines, 20000, "event_lines 20000");
    ok(!cfg.read_only, "read_only false");
    is_int(cfg.max_remaining_groups, 2, "max_remaining_groups 2");
    is_int(cfg.n_protected_envs, 1, "one protected env");
    is_str(cfg.protected_envs[0], "prod", "prod is protected");
    ok(kiln_config_is_protected_env(&cfg, "prod"), "is_protected_env(prod)");
    ok(!kiln_config_is_protected_env(&cfg, "test"), "test is not");
    ok(!kiln_config_is_protected_env(&cfg, "pro"), "nor a prefix of prod");
    is_int(cfg.health_timeout_ms, 5 * 60 * 1000, "health_timeout 5m");
    is_str(cfg.console.theme, "default", "theme default");
    ok(!cfg.console.mouse, "mouse off");
    is_int(cfg.console.refresh_interval_ms, 2000, "refresh_interval 2s");
    ok(!cfg.console.ascii, "ascii off");
    is_int(cfg.n_keys, 0, "no key bindings");
    is_int(cfg.local.lb_port, 8080, "lb_port 8080");
    is_int(cfg.local.health_interval_ms, 1000, "health_interval 1s");
    is_int(cfg.local.health_timeout_ms, 1000, "local health_timeout 1s");
    is_int(cfg.local.healthy_threshold, 2, "healthy_threshold 2");
    is_int(cfg.local.unhealthy_threshold, 2, "unhealthy_threshold 2");
    is_int(cfg.local.chaos_mean_ms, 30000, "chaos_mean 30s");
    is_int(cfg.local.chaos_min_ms, 10000, "chaos_min 10s");
    is_str(cfg.aws.region, "", "region unset");
    is_str(cfg.aws.profile, "", "profile unset");
    is_str(cfg.aws.endpoint, "", "endpoint unset");
    is_str(cfg.aws.hosted_zone, "", "hosted_zone unset");
    is_int(cfg.aws.bake_method, KILN_BAKE_AMINATE, "bake_method aminate");
    is_str(cfg.aws.aminate_command, "aminate", "aminate_command aminate");
    is_str(cfg.aws.base_ami, "", "base_ami unset");
    is_str(cfg.aws.instance_type, "t3.micro", "instance_type t3.micro");
    is_str(cfg.aws.package_repo, "", "package_repo unset");
    ok(!cfg.aws.allow_http_endpoints, "allow_http_endpoints false");
    is_str(cfg.aws.ca_bundle, "", "ca_bundle unset");
    ok(cfg.source == NULL, "no source");
    kiln_config_free(&cfg);
}

static const char full_text[] = "# every key, with values other than the defaults\n"
                                "; both comment characters work\n"
                                "[core]\n"
                                "provider = aws\n"
                                "workers = 64\n"
                                "log_lines = 100\n"
                                "event_lines = 1000000\n"
                                "read_only = yes\n"
                                "max_remaining_groups = 0\n"
                                "protected_envs = prod, staging  qa,\n"
                                "health_timeout = 1h30m\n"
                                "\n"
                                "[console]\n"
                                "  theme = solarized   ; indented, with an inline comment\n"
                                "mouse = ON\n"
                                "refresh_interval = 1.5s\n"
                                "ascii = 1\n"
                                "\n"
                                "[keys]\n"
                                "quit = q\n"
                                "deploy = D\n"
                                "quit = C-c\n"
                                "command = \";\"\n"
                                "\n"
                                "[local]\n"
                                "lb_port = 9090\n"
                                "health_interval = 2s\n"
                                "health_timeout = 500ms\n"
                                "healthy_threshold = 3\n"
                                "unhealthy_threshold = 10\n"
                                "chaos_mean = 1d\n"
                                "chaos_min = 0s\n"
                                "\n"
                                "[aws]\n"
                                "region = eu-west-1\n"
                                "profile = deploy\n"
                                "endpoint = http://localhost:4566\n"
                                "hosted_zone = Z0123456789ABC\n"
                                "bake_method = builder\n"
                                "aminate_command = sudo aminate -e ec2_aptitude_linux\n"
                                "base_ami = ami-0abcdef1234567890\n"
                                "instance_type = m5.large\n"
                                "package_repo = https://rpm.example.com/kiln\n"
                                "allow_http_endpoints = true\n"
                                "ca_bundle = /etc/ssl/certs/ca-certificates.crt\n";

static void test_every_key(void)
{
    struct kiln_config cfg;
    is_int(load(&cfg, full_text), 0, "a file with every key loads");
    if (err.msg[0] != '\0' && cfg.source == NULL)
        diag("%s", err.msg);
    is_int(cfg.provider, KILN_PROVIDER_AWS, "provider");
    is_int(cfg.workers, 64, "workers");
    is_int(cfg.log_lines, 100, "log_lines");
    is_int(cfg.event_lines, 1000000, "event_lines");
    ok(cfg.read_only, "read_only (yes)");
    is_int(cfg.max_remaining_groups, 0, "max_remaining_groups");
    is_int(cfg.n_protected_envs, 3, "protected_envs: commas and spaces both separate");
    if (cfg.n_protected_envs == 3) {
        is_str(cfg.protected_envs[0], "prod", "first");
        is_str(cfg.protected_envs[1], "staging", "second");
        is_str(cfg.protected_envs[2], "qa", "third");
    }
    ok(kiln_config_is_protected_env(&cfg, "qa"), "qa is protected");
    is_int(cfg.health_timeout_ms, 90 * 60 * 1000, "health_timeout 1h30m");
    is_str(cfg.console.theme, "solarized", "indented key with inline comment");
    ok(cfg.console.mouse, "mouse (ON)");
    is_int(cfg.console.refresh_interval_ms, 1500, "refresh_interval 1.5s");
    ok(cfg.console.ascii, "ascii (1)");
    is_int(cfg.n_keys, 4, "four bindings, repeats kept");
    if (cfg.n_keys == 4) {
        is_str(cfg.keys[0].action, "quit", "binding 1 action");
        is_str(cfg.keys[0].key, "q", "binding 1 key");
        is_int(cfg.keys[0].line, 20, "binding 1 line");
        is_str(cfg.keys[2].key, "C-c", "a second key for quit");
        is_str(cfg.keys[3].key, ";", "a quoted ; is a key, not a comment");
    }
    is_int(cfg.local.lb_port, 9090, "lb_port");
    is_int(cfg.local.health_interval_ms, 2000, "health_interval");
    is_int(cfg.local.health_timeout_ms, 500, "health_timeout 500ms");
    is_int(cfg.local.healthy_threshold, 3, "healthy_threshold");
    is_int(cfg.local.unhealthy_threshold, 10, "unhealthy_threshold");
    is_int(cfg.local.chaos_mean_ms, 86400000, "chaos_mean 1d");
    is_int(cfg.local.chaos_min_ms, 0, "chaos_min 0s");
    is_str(cfg.aws.region, "eu-west-1", "region");
    is_str(cfg.aws.profile, "deploy", "profile");
    is_str(cfg.aws.endpoint, "http://localhost:4566", "endpoint");
    is_str(cfg.aws.hosted_zone, "Z0123456789ABC", "hosted_zone");
    is_int(cfg.aws.bake_method, KILN_BAKE_BUILDER, "bake_method");
    is_str(cfg.aws.aminate_command, "sudo aminate -e ec2_aptitude_linux", "aminate_command");
    is_str(cfg.aws.base_ami, "ami-0abcdef1234567890", "base_ami");
    is_str(cfg.aws.instance_type, "m5.large", "instance_type");
    is_str(cfg.aws.package_repo, "https://rpm.example.com/kiln", "package_repo");
    ok(cfg.aws.allow_http_endpoints, "allow_http_endpoints");
    is_str(cfg.aws.ca_bundle, "/etc/ssl/certs/ca-certificates.crt", "ca_bundle");
    is_str(cfg.source, "test.conf", "source");

    /* The dump reads back to the same configuration. */
    char *d1 = NULL, *d2 = NULL;
    size_t n1 = 0, n2 = 0;
    FILE *f = open_memstream(&d1, &n1);
    kiln_config_dump(&cfg, f);
    fclose(f);
    struct kiln_config again;
    is_int(load(&again, d1), 0, "the dump loads");
    f = open_memstream(&d2, &n2);
    kiln_config_dump(&again, f);
    fclose(f);
    is_str(d2, d1, "and dumps the same again");
    ok(strstr(d1, "health_timeout = 1h30m\n") != NULL, "durations dump exactly");
    ok(strstr(d1, "refresh_interval = 1s500ms\n") != NULL, "1.5s as 1s500ms");
    ok(strstr(d1, "protected_envs = prod, staging, qa\n") != NULL, "lists with commas");
    ok(strstr(d1, "command = \";\"\n") != NULL, "a ; key stays quoted");
    kiln_config_free(&again);
    free(d1);
    free(d2);

    kiln_config_free(&cfg);
    ok(cfg.source == NULL && cfg.workers == 4, "free resets to the defaults");

    /* Defaults dump and read back too. */
    kiln_config_defaults(&cfg);
    f = open_memstream(&d1, &n1);
    kiln_config_dump(&cfg, f);
    fclose(f);
    ok(strncmp(d1, "[core]\nprovider = local\nworkers = 4\n", 33) == 0, "dump starts with [core]");
    ok(strstr(d1, "\nregion =\n") != NULL, "empty strings dump as key =");
    is_int(load(&again, d1), 0, "default dump loads");
    f = open_memstream(&d2, &n2);
    kiln_config_dump(&again, f);
    fclose(f);
    is_str(d2, d1, "and round-trips");
    free(d1);
    free(d2);
    kiln_config_free(&again);
}

static void test_syntax(void)
{
    struct kiln_config cfg;

    is_int(load(&cfg, ""), 0, "an empty file is fine");
    kiln_config_free(&cfg);
    is_int(load(&cfg, "# nothing\n\n   \n; at all\n"), 0, "comments and blank lines");
    is_int(cfg.workers, 4, "leave the defaults");
    kiln_config_free(&cfg);
    is_int(load(&cfg, "\xef\xbb\xbf[core]\r\nworkers = 8\r\n"), 0, "BOM and CRLF");
    is_int(cfg.workers, 8, "are handled");
    kiln_config_free(&cfg);
    is_int(load(&cfg, "[core]\nworkers=9"), 0, "no spaces, no final newline");
    is_int(cfg.workers, 9, "still parsed");
    kiln_config_free(&cfg);
    is_int(load(&cfg, "[core]\nworkers = 5 ; five\n[core]\nread_only = on\n"), 0,
           "a section may appear twice");
    ok(cfg.workers == 5 && cfg.read_only, "both parts count");
    kiln_config_free(&cfg);
    is_int(load(&cfg, "[aws]\naminate_command = \"  spaced  \"\n"), 0, "quoted value");
    is_str(cfg.aws.aminate_command, "  spaced  ", "keeps its spaces");
    kiln_config_free(&cfg);

    ok(load_bad("[core]\nworkers = 4\nthis is not ini\n"), "a line without = is an error");
    ok(msg_is("test.conf:3: syntax error in \"this is not ini\": expected a [section] header, "
              "key = value, or a comment"),
       "naming file and line");
    ok(load_bad("\n[core\nworkers = 4\n"), "an unclosed section");
    ok(msg_has("test.conf:2: syntax error in \"[core\"") && msg_has("closing ]"), "is explained");
    ok(load_bad("[kore]\nworkers = 4\n"), "an unknown section");
    ok(msg_is("test.conf:1: unknown section [kore]; did you mean [core]? the sections are "
              "[core], [console], [keys], [local] and [aws]"),
       "is named, with a suggestion");
    ok(load_bad("[core]\n[empty]\n"), "an unknown section without keys");
    ok(msg_has("test.conf:2: unknown section [empty]"), "is still reported");
    ok(load_bad("[core] workers = 4\n"), "text after a section header");
    ok(msg_has("test.conf:1: unexpected text after [core]"), "is reported");
    ok(load_bad("workers = 4\n"), "a key before any section");
    ok(msg_is("test.conf:1: workers = 4: a key must come after a [section] header (workers "
              "belongs in [core])"),
       "says where it belongs");
    ok(load_bad("[core]\n\n\n\n\n\n\n\n\n\n\nworker = 4\n"), "an unknown key");
    ok(msg_is("test.conf:12: [core] worker = 4: unknown key; did you mean workers? "
              "(kiln.conf(5) lists the keys)"),
       "names file, line and a close key");
    ok(load_bad("[console]\nlb_port = 1\n"), "a key in the wrong section");
    ok(msg_has("[console] lb_port = 1: unknown key; lb_port belongs in [local]"),
       "says which section it belongs in");
    ok(load_bad("[core]\nworkers = 2\nworkers = 3\n"), "a key given twice");
    ok(msg_is("test.conf:3: [core] workers is already set on line 2; keep one of them"),
       "points at both lines");
    is_int(load(&cfg, "[core]\n  workers = 2\n    read_only = true\n"), 0,
           "an indented line is a key of its own, not a continuation");
    ok(cfg.workers == 2 && cfg.read_only, "both of them");
    kiln_config_free(&cfg);

    char long_line[400];
    snprintf(long_line, sizeof long_line, "[aws]\naminate_command = %0300d\n", 7);
    ok(load_bad(long_line), "an over-long line");
    ok(msg_has("test.conf:2: the line is 318 characters long; a line can have at most"),
       "is refused with its length, not cut silently");
}

static void test_bad_values(void)
{
    ok(load_bad("[core]\nworkers = abc\n"), "workers = abc");
    ok(msg_is("test.conf:2: [core] workers = abc: expected a whole number from 1 to 64"),
       "the message from the spec");
    ok(load_bad("[core]\nworkers = 0\n"), "workers below range");
    ok(load_bad("[core]\nworkers = 65\n"), "workers above range");
    ok(load_bad("[core]\nworkers = 4.0\n"), "workers not whole");
    ok(load_bad("[core]\nworkers =\n"), "workers empty");
    ok(load_bad("[core]\nworkers = 99999999999999999999\n"), "workers overflowing");
    ok(load_bad("[core]\nprovider = gcp\n"), "unknown provider");
    ok(msg_is("test.conf:2: [core] provider = gcp: expected local or aws"), "lists choices");
    ok(load_bad("[core]\nread_only = maybe\n"), "bad bool");
    ok(msg_has("expected true or false (or yes/no, on/off, 1/0)"), "lists spellings");
    ok(load_bad("[core]\nmax_remaining_groups = 21\n"), "max_remaining_groups 21");
    ok(load_bad("[core]\nprotected_envs = prod, us-east\n"), "an invalid env in the list");
    ok(msg_has("test.conf:2: [core] protected_envs = prod, us-east: env name \"us-east\""),
       "names it");
    ok(load_bad("[core]\nhealth_timeout = 30\n"), "a duration without unit");
    ok(msg_has("a number needs a unit: ms, s, m, h or d (e.g. 30s); expected a duration"),
       "asks for a unit");
    ok(load_bad("[core]\nhealth_timeout = 30x\n"), "a duration with an unknown unit");
    ok(load_bad("[core]\nhealth_timeout = 500ms\n"), "a duration below its range");
    ok(msg_is("test.conf:2: [core] health_timeout = 500ms: expected a duration from 1s to 1d, "
              "such as 500ms, 30s, 2m or 1h"),
       "gives the range");
    ok(load_bad("[core]\nhealth_timeout = 99999999999999999999h\n"), "an overflowing duration");
    ok(load_bad("[core]\nhealth_timeout = 1.0001s\n"), "finer than a millisecond");
    ok(load_bad("[core]\nhealth_timeout = -5s\n"), "negative duration");
    ok(load_bad("[console]\nrefresh_interval = 1.s\n"), "no digits after the point");
    ok(load_bad("[local]\nlb_port = 0\n"), "lb_port 0");
    ok(load_bad("[local]\nlb_port = 65536\n"), "lb_port 65536");
    ok(load_bad("[local]\nhealth_timeout = 5s\n"), "timeout longer than the interval");
    ok(msg_has("test.conf:2: [local] health_timeout (5s) is longer than health_interval (1s)"),
       "names both keys");
    ok(load_bad("[local]\nchaos_min = 1m\n"), "chaos_min above chaos_mean");
    ok(load_bad("[local]\nhealthy_threshold = 11\n"), "healthy_threshold 11");
    ok(load_bad("[aws]\nregion = US East\n"), "bad region");
    ok(load_bad("[aws]\nendpoint = localhost:4566\n"), "endpoint without scheme");
    ok(msg_has("expected an https:// or http:// URL"), "explained");
    ok(load_bad("[aws]\nbake_method = packer\n"), "bad bake method");
    ok(msg_has("expected aminate or builder"), "lists methods");
    ok(load_bad("[aws]\nbase_ami = img-0123456789ab\n"), "a local image is not a base AMI");
    ok(load_bad("[aws]\ninstance_type = large\n"), "bad instance type");
    ok(load_bad("[aws]\ncertificate_arn = my-cert\n"), "a certificate that is not an ARN");
    ok(load_bad("[aws]\ncertificate_arn = arn:aws:acm:x y\n"), "an ARN with a space");
    ok(load_bad("[aws]\npackage_repo = rpms\n"), "relative package repo");
    ok(load_bad("[aws]\nca_bundle = certs.pem\n"), "relative ca_bundle");
    ok(load_bad("[aws]\naminate_command =\n"), "empty aminate_command");
    ok(load_bad("[aws]\nprofile = a b\n"), "a profile with a space");
    ok(load_bad("[console]\ntheme = \xff\xfe\n"), "a value that is not UTF-8");
    ok(msg_has("\"\\xff\\xfe\""), "is shown escaped");
    ok(load_bad("[console]\ntheme = a\x1b[2Jb\n"), "a value with an escape sequence");
    ok(strchr(err.msg, 0x1b) == NULL, "never reaches the message raw");
    ok(load_bad("[keys]\nquit =\n"), "a binding without a key");

    /* The first error wins, whatever kind. */
    ok(load_bad("[core]\nworkers = x\nnonsense\n[bad]\n"), "several errors");
    ok(msg_has("test.conf:2:"), "the first one is reported");
    ok(load_bad("[core]\nnonsense\nworkers = x\n"), "syntax error first");
    ok(msg_has("test.conf:2: syntax error"), "is reported first");

    /* A failed load leaves a loaded config as it was. */
    struct kiln_config cfg;
    load(&cfg, "[console]\ntheme = mine\n[keys]\nquit = q\n");
    is_int(kiln_config_load_string(&cfg, "[console]\ntheme = other\n[core]\nworkers = x\n", "two",
                                   &err),
           -1, "a second, bad file");
    is_str(cfg.console.theme, "mine", "leaves the first file's values");
    is_int(cfg.n_keys, 1, "and its bindings");
    is_int(kiln_config_load_string(&cfg, "[console]\ntheme = other\n[keys]\nhelp = ?\n", "three",
                                   &err),
           0, "a good second file");
    is_str(cfg.console.theme, "other", "overrides");
    is_int(cfg.n_keys, 2, "and adds bindings");
    is_str(cfg.source, "three", "source is the last file");
    kiln_config_free(&cfg);
}

static void test_file_and_env(void)
{
    char dir[] = "/tmp/kiln-test-config-XXXXXX";
    ok(mkdtemp(dir) != NULL, "temp dir");
    char path[PATH_MAX];
    struct kiln_config cfg;

    snprintf(path, sizeof path, "%s/missing", dir);
    kiln_config_defaults(&cfg);
    is_int(kiln_config_load(&cfg, path, &err), 0, "a missing file is not an error");
    ok(cfg.source == NULL && cfg.workers == 4, "and leaves the defaults");

    snprintf(path, sizeof path, "%s/config", dir);
    FILE *f = fopen(path, "w");
    fputs("[core]\nworkers = 6\n[local]\nlb_port = 81\n\n\n\n\n\n\n\nhealthy_threshold = x\n", f);
    fclose(f);
    setenv("HOME", dir, 1);
    is_int(kiln_config_load(&cfg, path, &err), -1, "a bad file");
    ok(msg_is("~/config:12: [local] healthy_threshold = x: expected a whole number from 1 to 10"),
       "is reported as ~/config:12");

    f = fopen(path, "w");
    fputs("[core]\nworkers = 6\n[local]\nlb_port = 81\n", f);
    fclose(f);
    is_int(kiln_config_load(&cfg, path, &err), 0, "a good file");
    is_int(cfg.workers, 6, "is applied");
    is_str(cfg.source, path, "source is the full path");

    static const char with_nul[] = "[core]\nworkers = 6\n\n[core]\nread_only = y\0es\n";
    f = fopen(path, "w");
    fwrite(with_nul, 1, sizeof with_nul - 1, f);
    fclose(f);
    kiln_config_free(&cfg);
    kiln_config_defaults(&cfg);
    is_int(kiln_config_load(&cfg, path, &err), -1, "a file with a NUL byte");
    ok(msg_has("~/config:5: the line contains a NUL byte"), "is refused at its line");

    if (geteuid() != 0) {
        chmod(path, 0);
        is_int(kiln_config_load(&cfg, path, &err), -1, "an unreadable file is an error");
        ok(msg_has("cannot read the config file ~/config (Permission denied)"), "saying why");
    } else {
        ok(1, "# SKIP root can read anything");
        ok(1, "# SKIP root");
    }
    is_int(kiln_config_load(&cfg, dir, &err), -1, "a directory is not a config file");
    ok(msg_has("is a directory"), "saying so");
    char fifo[PATH_MAX];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    if (mkfifo(fifo, 0600) == 0) {
        /* Before the fix, this open() blocked for ever: no writer ever comes. */
        is_int(kiln_config_load(&cfg, fifo, &err), -1, "a FIFO is not a config file");
        ok(msg_has("is not a regular file"), "saying so, without waiting for a writer");
        unlink(fifo);
    }

    kiln_config_free(&cfg);
    kiln_config_defaults(&cfg);
    unsetenv("KILN_LB_PORT");
    is_int(kiln_config_apply_env(&cfg, &err), 0, "no KILN_LB_PORT");
    is_int(cfg.local.lb_port, 8080, "keeps lb_port");
    setenv("KILN_LB_PORT", "18080", 1);
    is_int(kiln_config_apply_env(&cfg, &err), 0, "KILN_LB_PORT=18080");
    is_int(cfg.local.lb_port, 18080, "overrides lb_port");
    setenv("KILN_LB_PORT", "http", 1);
    is_int(kiln_config_apply_env(&cfg, &err), -1, "KILN_LB_PORT=http");
    ok(msg_is("environment variable KILN_LB_PORT=http: expected a whole number from 1 to 65535; "
              "fix or unset it"),
       "is an error naming the variable");
    is_int(cfg.local.lb_port, 18080, "and leaves lb_port alone");
    setenv("KILN_LB_PORT", "70000", 1);
    is_int(kiln_config_apply_env(&cfg, &err), -1, "KILN_LB_PORT out of range");
    setenv("KILN_LB_PORT", "", 1);
    is_int(kiln_config_apply_env(&cfg, &err), 0, "an empty KILN_LB_PORT counts as unset");
    unsetenv("KILN_LB_PORT");
    kiln_config_free(&cfg);

    unlink(path);
    rmdir(dir);
}

/* Random mutations of a valid file: never a crash or leak (the sanitizers and
 * valgrind watch), and every failure names test.conf and a line. */
static void test_mutations(void)
{
    unsigned seed = 12345;
    int failed = 0, bad_msg = 0;
    size_t n = strlen(full_text);
    char *text = malloc(n + 1);
    for (int round = 0; round < 2000; round++) {
        memcpy(text, full_text, n + 1);
        for (int k = 0; k < 1 + round % 4; k++) {
            seed = seed * 1103515245 + 12345;
            size_t at = (seed >> 8) % n;
            seed = seed * 1103515245 + 12345;
            char c = (char)(((seed >> 8) % 255) + 1);
            text[at] = c;
        }
        struct kiln_config cfg;
        kiln_config_defaults(&cfg);
        if (kiln_config_load_string(&cfg, text, "test.conf", &err) < 0) {
            failed++;
            if (strncmp(err.msg, "test.conf:", 10) != 0)
                bad_msg++;
        }
        kiln_config_free(&cfg);
    }
    free(text);
    ok(failed > 100, "mutated files fail (%d of 2000)", failed);
    is_int(bad_msg, 0, "every failure names the file and line");
}

/* A URL's user:password@ is a secret: kiln config and the errors show ***@ instead. */
static void test_url_secrets(void)
{
    struct kiln_config cfg;
    is_int(load(&cfg, "[aws]\npackage_repo = https://deploy:hunter2@repo.example.com/rpms\n"), 0,
           "a package repo URL with a password loads");
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    kiln_config_dump(&cfg, mem);
    fclose(mem);
    ok(strstr(text, "hunter2") == NULL && strstr(text, "deploy:") == NULL,
       "kiln config does not print the password");
    ok(strstr(text, "package_repo = https://***@repo.example.com/rpms") != NULL,
       "it shows the URL with ***@");
    free(text);
    kiln_config_free(&cfg);
    ok(load_bad("[aws]\nendpoint = ftp://admin:hunter2@10.0.0.1\n"), "a bad endpoint fails");
    ok(strstr(err.msg, "hunter2") == NULL && strstr(err.msg, "ftp://***@10.0.0.1") != NULL,
       "its error shows the URL without the password: %s", err.msg);
}

int main(void)
{
    test_url_secrets();
    test_defaults();
    test_every_key();
    test_syntax();
    test_bad_values();
    test_file_and_env();
    test_mutations();
    return done_testing();
}
