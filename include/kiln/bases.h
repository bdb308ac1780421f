/* kiln: base images, the clean OS roots that packages are baked onto (the local cloud's
 * base AMIs; doc/design.md, "Bases").
 *
 * A base is a whole root filesystem, a plain directory tree under $KILN_HOME/bases/:
 *
 *     bases/<id>/        the root (/usr, /etc, ...), as mmdebstrap or the tarball made it
 *     bases/<id>.json    its record: written once, read-only, immutable where the file
 *                        system allows (chattr +i)
 *     bases/names/<name> a symbolic link to <id>: names are labels, the id is the content
 *
 * The id is the OS and a digest: debian-bookworm-0123456789ab. A built base's digest is
 * over what was installed (each package's name, version and architecture, as dpkg says),
 * so two builds that resolve to the same packages are the same base, and the second only
 * adds its name; an imported base's digest is over the tarball's bytes.
 *
 * A base appears whole or not at all: it is built in bases/.build-<pid>-XXXXXX, synced,
 * renamed into place, then its record is created, then its name. Readers go name ->
 * record -> tree, so a crash at any point leaves either the old state or a leftover that
 * the next change sweeps away (a staging dir of a dead process, a tree without a record).
 * Changes take bases/.lock (flock), so two kilns never interleave theirs.
 *
 * Freezing keeps the tree a plain tree a later bake can use as an overlayfs lowerdir: its
 * contents keep the modes and flags the OS needs (/tmp 1777, /etc/shadow 0640); only its
 * top directory and its record are made immutable. (Immutable files or directories inside
 * would not do: overlayfs carries those flags up into every copy made from the base, so
 * nothing in an image could change.)
 *
 * Debian bases also get an RPM, kiln-base-provides, installed with rpm --justdb into their
 * own rpm database (/var/lib/rpm): it Provides every Debian package at its version and
 * the programs in /usr/bin and /usr/sbin, so that installing an app's RPM into the base
 * checks its Requires for real (python3-flask >= 2.0, /bin/sh for scriptlets).
 *
 * Building and importing need root: packages and tarballs hold files owned by many users.
 */
#ifndef KILN_BASES_H
#define KILN_BASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;

#include "kiln/err.h"

struct kiln_strbuf;

#define KILN_BASE_DEFAULT_NAME "default"
#define KILN_BASE_NAME_MAX     40
#define KILN_BASE_ID_MAX       64
#define KILN_BASE_DIGEST_MAX   72 /* "sha256:" + 64 hex digits + NUL */
#define KILN_BASE_SUITE        "bookworm"
#define KILN_BASE_RPM_DBPATH   "/var/lib/rpm"

/* Fills argv with the words that run rpm on root's own database: "rpm", "--root",
 * root, "--dbpath", dbpath, and --force-debian on a dpkg system (where Debian's rpm
 * refuses to install without it). argv has room for 6; returns how many it wrote. The
 * strings are the caller's or static. */
size_t kiln_rpm_root_argv(const char **argv, const char *root, const char *dbpath);
#define KILN_BASE_PROVIDES_RPM "kiln-base-provides"

/* What every built base has, NULL-terminated: an init (systemd as /sbin/init), rpm for
 * the bake, passwd for the useradd of %pre scriptlets. */
extern const char *const kiln_base_required_packages[];

struct kiln_base_pkg {
    char *name;
    char *version;  /* as its package manager writes it: Debian's [epoch:]upstream[-revision] */
    char *arch;     /* amd64, all, x86_64, noarch ... */
    char *provides; /* dpkg's Provides field ("awk, foo (= 1.2)"), "" when none */
};

/* A base's record. Strings are never NULL once loaded; all owned (kiln_base_free). */
struct kiln_base {
    char id[KILN_BASE_ID_MAX];
    char digest[KILN_BASE_DIGEST_MAX];
    char *name;       /* the name it was made under */
    char *created;    /* ISO 8601, UTC */
    char *source;     /* "mmdebstrap" or "import" */
    char *origin;     /* the suite (bookworm), or the tarball's path */
    char *os;         /* os-release's PRETTY_NAME, "" when the root has none */
    char *package_db; /* "dpkg", "rpm" or "none" */
    char *rpm_dbpath; /* rpm's database inside the root, "" when it has none */
    char *provides;   /* the provides package's NVR, "" when it has none */
    char **requested; /* what a build asked mmdebstrap for (none for imports) */
    size_t n_requested;
    struct kiln_base_pkg *pkgs; /* sorted by name */
    size_t n_pkgs;
    int64_t size_bytes; /* on disk: allocated blocks, hard links counted once */
    int64_t files;
    /* Not in the record: found when it is loaded. */
    char *root;   /* absolute path of the tree */
    char **names; /* the names that point to it now, sorted */
    size_t n_names;
};

void kiln_base_free(struct kiln_base *b);

/* ---- names and checks ---- */

/* A base name: [a-z][a-z0-9-]*, at most KILN_BASE_NAME_MAX, and not shaped like an id
 * (so a name never hides one). */
int kiln_base_name_validate(const char *name, struct kiln_err *err);
/* An id: lower-case words joined by '-', the last one 12 hex digits. */
int kiln_base_id_validate(const char *id, struct kiln_err *err);
/* A Debian package name (Policy 5.6.1): [a-z0-9][a-z0-9+.-]+. */
int kiln_base_package_name_validate(const char *name, struct kiln_err *err);

/* Parses "python3-flask, gunicorn" (a config value or --packages): comma-separated
 * package names, spaces around them ignored, empty items skipped. Appends to *list
 * (*n entries; the caller frees each and the array) without duplicates. */
int kiln_base_packages_parse(const char *text, char ***list, size_t *n, struct kiln_err *err);

/* What a build installs: kiln_base_required_packages, then config_list, then
 * option_list (either may be NULL), each parsed as above; sorted, without duplicates. */
int kiln_base_packages_merge(const char *config_list, const char *option_list, char ***list,
                             size_t *n, struct kiln_err *err);
void kiln_base_strv_free(char **v, size_t n);

/* ---- what a record says ---- */

/* Parses dpkg-query -W output in kiln's format (name TAB version TAB arch TAB status TAB
 * provides, one package a line) into packages sorted by name. Only installed packages
 * ("ii") count; a package of two architectures (multiarch) counts once. */
int kiln_base_dpkg_parse(const char *text, struct kiln_base_pkg **pkgs, size_t *n,
                         struct kiln_err *err);
/* The dpkg-query -f format that kiln_base_dpkg_parse reads. */
extern const char kiln_base_dpkg_format[];

/* Parses rpm -qa output in kiln's format (name TAB [epoch:]version-release TAB arch). */
int kiln_base_rpm_parse(const char *text, struct kiln_base_pkg **pkgs, size_t *n,
                        struct kiln_err *err);
extern const char kiln_base_rpm_queryformat[];

void kiln_base_pkgs_free(struct kiln_base_pkg *pkgs, size_t n);

/* The "debian-bookworm" of an id, from the text of an os-release file: ID, then
 * VERSION_CODENAME or else VERSION_ID, lower case, characters outside [a-z0-9.] dropped.
 * "import" when the text says neither. */
void kiln_base_os_prefix(const char *os_release, char *buf, size_t size);
/* PRETTY_NAME from an os-release text, unquoted; "" when absent. The caller frees it. */
char *kiln_base_os_pretty(const char *os_release);

/* The digest of a built base: sha256 over the suite, the variant and each package's
 * name, version and architecture, sorted. Writes "sha256:<64 hex>". */
void kiln_base_digest_packages(const char *suite, const char *variant,
                               const struct kiln_base_pkg *pkgs, size_t n,
                               char digest[KILN_BASE_DIGEST_MAX]);
/* The digest of a file's bytes (an imported tarball). */
int kiln_base_digest_file(const char *path, char digest[KILN_BASE_DIGEST_MAX],
                          struct kiln_err *err);
/* "<prefix>-<first 12 hex digits of the digest>". */
void kiln_base_make_id(const char *prefix, const char *digest, char id[KILN_BASE_ID_MAX]);

/* The record as JSON (the caller frees it), and back. Parsing checks every field;
 * `root` and `names` are not part of it. */
char *kiln_base_record_json(const struct kiln_base *b);
int kiln_base_record_parse(const char *json, struct kiln_base *b, struct kiln_err *err);
/* The record with its names and root, for `kiln base list --json` (caller deletes). */
struct cJSON *kiln_base_json(const struct kiln_base *b);

/* ---- what rpm sees ---- */

/* A Debian version as an RPM EVR, for Provides: lines. See bases.c for the mapping and
 * why; fails (KILN_E_INVALID) on a version dpkg itself would refuse. */
int kiln_base_rpm_evr(const char *debian_version, char *buf, size_t size, struct kiln_err *err);

/* The spec of the provides package: Name KILN_BASE_PROVIDES_RPM, Version 1, Release
 * `release`, noarch, no files; one Provides: per package (name = EVR), per virtual
 * package in their Provides fields, and per path in files (absolute paths of programs).
 * A package whose version does not map is left out and named in *skipped (may be NULL;
 * appended "name version; " each). */
int kiln_base_provides_spec(const struct kiln_base_pkg *pkgs, size_t n, const char *const *files,
                            size_t n_files, const char *release, struct kiln_strbuf *spec,
                            struct kiln_strbuf *skipped, struct kiln_err *err);

/* ---- the bases of a state dir ---- */

struct kiln_base_make_opts {
    const char *bases_dir; /* $KILN_HOME/bases: created if missing */
    const char *name;
    /* build: what to install (kiln_base_packages_merge's result) */
    const char *const *packages;
    size_t n_packages;
    /* import: the root tarball (any compression tar understands) */
    const char *tarball;
    /* Each line of mmdebstrap's, tar's, rpmbuild's and kiln's own output. May be NULL. */
    void (*on_line)(void *ctx, const char *line);
    /* The build's progress through its phases: done of total. May be NULL. */
    void (*on_progress)(void *ctx, int done, int total);
    /* Polled while programs run; true stops them. May be NULL. */
    bool (*cancelled)(void *ctx);
    void *ctx;
};

/* Fails with a sentence saying so unless kiln runs as root. */
int kiln_base_check_root(const char *what, struct kiln_err *err);

/* Builds base `name` with mmdebstrap (--variant=minbase) from bookworm and o->packages,
 * gives it the provides package, freezes and records it. Refuses a name already taken.
 * When an identical base exists already, the new tree is thrown away and the name points
 * to that one (*reused true). On success *out is the base (the caller frees it). */
int kiln_base_build(const struct kiln_base_make_opts *o, struct kiln_base *out, bool *reused,
                    struct kiln_err *err);

/* Imports o->tarball as base `name`: unpacked as root (owners and modes kept), checked to
 * look like a root (/usr and /etc, and an rpm or dpkg database or at least /bin/sh), and
 * recorded like a build. A dpkg-based root gets the provides package too. */
int kiln_base_import(const struct kiln_base_make_opts *o, struct kiln_base *out, bool *reused,
                     struct kiln_err *err);

/* Every base, newest first (*out: n entries, kiln_base_list_free). A bases dir that does
 * not exist holds none. */
int kiln_base_list(const char *bases_dir, struct kiln_base **out, size_t *n, struct kiln_err *err);
void kiln_base_list_free(struct kiln_base *v, size_t n);

/* The base a name or an id names, with its root: what a bake calls. KILN_E_NOTFOUND
 * with the names there are when there is none. */
int kiln_base_find(const char *bases_dir, const char *name_or_id, struct kiln_base *out,
                   struct kiln_err *err);

/* Deletes a name, and the base with its last name; or a base by id, which must have no
 * names left. Refuses a base in use (something mounted on or from its tree). *deleted_id
 * (may be NULL, KILN_BASE_ID_MAX) is the id of the base removed, "" when only the name
 * went. */
int kiln_base_delete(const char *bases_dir, const char *name_or_id, char *deleted_id,
                     struct kiln_err *err);

#endif
