/* kiln: the pipeline's build step, an app's RPM from its source tree.
 *
 * The app's directory holds kiln.json (kiln/manifest.h), which names the spec and the
 * sources. kiln runs
 *
 *     rpmbuild -bb --nodeps --define "_topdir WORK" --define "_sourcedir ABS/SOURCE"
 *              --define "_tmppath WORK/tmp" [--define "app_version V"]
 *              [--define "app_release R"] [--with X ...] ABS/SPEC
 *
 * in the app's directory, never through a shell. The contract with the spec: it takes
 * its Version from %{app_version} and its Release from %{app_release} when they are
 * defined (see examples/hello-world/hello-world.spec); a built package whose release is
 * not the one asked for is an error, since two builds would then share one NVR.
 *
 * Build dependencies are not checked (--nodeps): on Debian the rpm database is empty,
 * so every BuildRequires would fail; a missing tool fails the build itself, with the
 * tool's own message.
 */
#ifndef KILN_RPMBUILD_H
#define KILN_RPMBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/err.h"
#include "kiln/spawn.h"

/* Room for an NVR with .arch, and for the RPM's path. */
#define KILN_NVR_SIZE 256

struct kiln_rpmbuild_opts {
    /* The app's directory, holding kiln.json. */
    const char *source_dir;
    /* rpmbuild's _topdir. Created if missing; its BUILD, BUILDROOT, RPMS, SOURCES,
     * SPECS, SRPMS and tmp are emptied first, so nothing of an earlier build is taken
     * for this one's. It must not be, or contain, the app's directory. */
    const char *work_dir;
    /* app_version and app_release; NULL for the spec's own default. The caller picks
     * a new release for each build. Letters, digits and . _ + ~ ^, no dash. */
    const char *version;
    const char *release;
    /* Build conditionals to turn on (--with NAME), NULL-terminated; NULL for none. */
    const char *const *with;
    /* Every line rpmbuild and what it runs print, as it comes (see kiln/spawn.h). */
    void (*on_line)(void *ctx, enum kiln_stream stream, const char *line);
    /* Polled while rpmbuild runs; true stops it (KILN_E_CANCELLED). May be NULL. */
    bool (*cancelled)(void *ctx);
    void *ctx;
    /* 0 for no limit; else rpmbuild is stopped after this long (KILN_E_TIMEOUT). */
    int64_t timeout_ms;
};

/* Builds the app's binary RPM. On success writes the package's absolute path (inside
 * work_dir/RPMS; the caller copies it into the package repo) into rpm_path_out and its
 * name-version-release.arch, e.g. "hello-world-1.0.0-3.x86_64", into nvr_out.
 *
 * On failure (bad manifest, missing rpmbuild: "rpmbuild is not installed: apt-get
 * install rpm", a spec that does not build, a timeout, a cancel) err says what happened,
 * with rpmbuild's last lines when it ran, and work_dir/RPMS is left empty: an RPM only
 * ever appears there from a build that succeeded. */
int kiln_rpmbuild(const struct kiln_rpmbuild_opts *o, char *rpm_path_out, size_t n, char *nvr_out,
                  size_t nn, struct kiln_err *err);

/* Whether a line rpmbuild wrote to stderr is the shell trace of its scripts (they run
 * under `sh -x`: "+ umask 022", "++ pwd"), which says what the build did and is no
 * warning, unlike the rest of stderr (the compiler's and rpmbuild's own complaints). */
bool kiln_rpmbuild_is_trace(const char *line);

#endif
