/* kiln: files that are either wholly old or wholly new.
 *
 * Every state, journal and config file kiln writes goes through
 * kiln_atomic_write: a crash, a kill or a full disk at any moment leaves the
 * previous contents in place, never half a file (htop's Settings_write idea, with
 * fsync so it also holds across a power cut).
 *
 * The temporary file lives beside the target as ".<name>.XXXXXX"; a writer that
 * is killed leaves one behind, which is harmless and which
 * kiln_atomic_cleanup_temps() sweeps away.
 *
 * Test hook (tests only, never set it in production): when the environment
 * variable KILN_TEST_CRASH_BEFORE_RENAME is set to anything but "" or "0",
 * kiln_atomic_write and kiln_atomic_create call _exit(99) after the new
 * contents are written and synced but before they replace the target, so a test
 * can prove a crash at the worst moment leaves the old file.
 */
#ifndef KILN_ATOMIC_FILE_H
#define KILN_ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kiln/err.h"

#define KILN_TEST_CRASH_ENV         "KILN_TEST_CRASH_BEFORE_RENAME"
#define KILN_TEST_CRASH_EXIT_STATUS 99

/* Replaces path with len bytes of data, file mode `mode` exactly (the umask does
 * not apply). On failure the old file, if any, is untouched and no temporary
 * file is left. One exception, said in the message: if the directory cannot be
 * synced after the rename, path already has the new contents but they may not
 * survive a power cut. */
int kiln_atomic_write(const char *path, const void *data, size_t len, mode_t mode,
                      struct kiln_err *err);

/* Like kiln_atomic_write, but only if path does not exist yet: fails with
 * KILN_E_EXISTS otherwise. Readers never see the file empty or partial, and of
 * two processes creating the same path exactly one wins. */
int kiln_atomic_create(const char *path, const void *data, size_t len, mode_t mode,
                       struct kiln_err *err);

/* Reads a whole file into *out (NUL-terminated, the caller frees it with free())
 * and its length into *len (len may be NULL). Files larger than max bytes are
 * refused. A missing file fails with KILN_E_NOTFOUND. */
int kiln_read_file(const char *path, char **out, size_t *len, size_t max, struct kiln_err *err);

/* fsyncs the directory dir, so that names just created, renamed or removed in it
 * survive a power cut. A file system that cannot sync a directory (EINVAL) counts
 * as done. -1 with errno on failure. */
int kiln_sync_dir(const char *dir);

/* Creates path and any missing parents with `mode` (less the umask, as mkdir(2)
 * does); existing directories are fine. */
int kiln_mkdir_p(const char *path, mode_t mode, struct kiln_err *err);

/* Writes all len bytes to fd, retrying on EINTR; -1 with errno (ENOSPC when write()
 * makes no progress). */
int kiln_write_all(int fd, const void *data, size_t len);

/* Opens path for reading only if it is a regular file, without blocking on the way: a
 * FIFO or a device given as a config or theme would hang kiln in open() or read().
 * Returns the fd, or -1 with errno (EISDIR for a directory, ENODEV for anything else
 * that is not a regular file). */
int kiln_open_regular(const char *path);

/* Whether a directory entry's name looks like one of our temporary files. */
bool kiln_atomic_is_temp_name(const char *name);

/* Removes temporary files left in dir by killed writers, if they are at least
 * min_age_ms old (a younger one may belong to a writer still at work in another
 * process: pass 0 only when no one else can be writing). Counts them in *removed
 * (may be NULL). */
int kiln_atomic_cleanup_temps(const char *dir, int64_t min_age_ms, size_t *removed,
                              struct kiln_err *err);

#endif
