/* kiln: the configuration file (INI, see kiln.conf(5)).
 *
 *     struct kiln_config cfg;
 *     kiln_config_defaults(&cfg);                  // cannot fail, allocates nothing
 *     if (kiln_config_load(&cfg, path, &err) < 0)  // a missing file is not an error
 *         ...;                                     // cfg is unchanged on failure
 *     if (kiln_config_apply_env(&cfg, &err) < 0)   // KILN_LB_PORT
 *         ...;
 *     kiln_config_free(&cfg);
 *
 * [core] keys are members of struct kiln_config itself; the other sections are
 * members named after them. Strings are never NULL ("" when unset) and are owned
 * by the config: read them, do not free or keep them past kiln_config_free().
 * Durations are milliseconds.
 */
#ifndef KILN_CONFIG_H
#define KILN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kiln/err.h"

enum kiln_provider_kind {
    KILN_PROVIDER_LOCAL,
    KILN_PROVIDER_AWS,
};

enum kiln_bake_method {
    KILN_BAKE_AMINATE, /* run the aminate command */
    KILN_BAKE_BUILDER, /* a builder instance and CreateImage */
};

/* How a new group's instances are judged before the group takes traffic on AWS. */
enum kiln_health_probe {
    KILN_PROBE_ELB,     /* Auto Scaling's health, then the ELB's InService once attached */
    KILN_PROBE_PRIVATE, /* kiln itself GETs each instance's health URL on its private IP */
};

/* One line of [keys]: "action = key", kept as written for the console to
 * interpret; line is where it was in the file, for the console's messages. */
struct kiln_keybinding {
    const char *action;
    const char *key;
    int line;
};

struct kiln_config {
    /* [core] */
    enum kiln_provider_kind provider;
    int workers;              /* job worker threads, 1..64 */
    int log_lines;            /* per-job log ring */
    int event_lines;          /* global event ring */
    bool read_only;           /* refuse every mutating command */
    int max_remaining_groups; /* disabled groups a deploy keeps for rollback */
    const char *const *protected_envs;
    size_t n_protected_envs;
    int64_t health_timeout_ms; /* how long a deploy waits for healthy instances */

    struct {
        const char *theme;
        bool mouse;
        int64_t refresh_interval_ms;
        int64_t whole_refresh_interval_ms; /* the whole inventory, where the provider can
                                              refresh the cluster on screen alone */
        bool ascii;                        /* ASCII instead of line-drawing characters */
    } console;

    /* [keys], in file order; the same action may appear more than once. */
    const struct kiln_keybinding *keys;
    size_t n_keys;

    struct {
        int lb_port;
        int64_t health_interval_ms;
        int64_t health_timeout_ms; /* one check's HTTP timeout */
        int healthy_threshold;
        int unhealthy_threshold;
        int64_t health_check_grace_ms; /* after a launch, failed checks replace nothing */
        int64_t chaos_mean_ms;
        int64_t chaos_min_ms;
        const char *base;          /* the base new images are baked onto (kiln base) */
        const char *base_packages; /* comma list: what kiln base build adds to every base */
    } local;

    struct {
        const char *region;
        const char *profile;
        const char *endpoint;
        const char *hosted_zone;
        enum kiln_bake_method bake_method;
        enum kiln_health_probe health_probe;
        const char *aminate_command;
        const char *base_ami;
        const char *instance_type;
        const char *package_repo;    /* http(s):// URL or absolute directory */
        const char *certificate_arn; /* for HTTPS listeners (ACM or IAM) */
        bool allow_http_endpoints;
        const char *ca_bundle;
    } aws;

    /* The file the last successful kiln_config_load() read, or NULL (no file). */
    const char *source;
};

/* Sets every key to its default. Allocates nothing, so a config that only ever had
 * its defaults needs no kiln_config_free (calling it is harmless). */
void kiln_config_defaults(struct kiln_config *cfg);

/* Applies the file at path on top of cfg. A file that does not exist leaves cfg
 * as it is and returns 0. On any error (unreadable file, syntax error, unknown
 * section or key, bad value, a key given twice) cfg is unchanged and the message
 * names the file and line: "~/.config/kiln/config:12: [core] workers = abc:
 * expected a whole number from 1 to 64". */
int kiln_config_load(struct kiln_config *cfg, const char *path, struct kiln_err *err);

/* The same for text in memory; name is used in messages in place of the path. */
int kiln_config_load_string(struct kiln_config *cfg, const char *text, const char *name,
                            struct kiln_err *err);

/* Applies the environment overrides (KILN_LB_PORT); a bad value is an error that
 * names the variable, and leaves cfg unchanged. */
int kiln_config_apply_env(struct kiln_config *cfg, struct kiln_err *err);

/* Frees what loading allocated and resets cfg to the defaults. */
void kiln_config_free(struct kiln_config *cfg);

/* Parses value as a duration for the config key [section] name (a duration key), in
 * that key's range: how a command-line option setting the same thing reads it, so
 * that the CLI and the config accept the same values. KILN_E_INVALID when refused. */
int kiln_config_parse_duration(const char *section, const char *name, const char *value,
                               int64_t *ms, struct kiln_err *err);

bool kiln_config_is_protected_env(const struct kiln_config *cfg, const char *env);

/* Prints the effective configuration as INI that kiln_config_load reads back to
 * the same values: every section and key, in the order of kiln.conf(5), no
 * heading (cfg->source says where it came from). */
void kiln_config_dump(const struct kiln_config *cfg, FILE *out);

const char *kiln_provider_kind_name(enum kiln_provider_kind kind);
const char *kiln_bake_method_name(enum kiln_bake_method method);

#endif
