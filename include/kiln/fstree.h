/* kiln: whole directory trees on disk.
 *
 * kiln makes trees it later has to take apart: rpmbuild's _topdir (whose BUILD dir may
 * hold read-only files unpacked from a tarball), a bake's temporary root, an image that
 * was made read-only on purpose. rm -rf would need a shell or a child process and, for an
 * ordinary user, stops at a directory without write permission; this does not.
 */
#ifndef KILN_FSTREE_H
#define KILN_FSTREE_H

#include "kiln/err.h"

/* Removes path and, if it is a directory, everything under it. Symbolic links are
 * removed, never followed, so a link inside the tree cannot make this delete anything
 * outside it. Directories we own that lack write or search permission are given it
 * first. A path that does not exist is not an error. On failure the message names the
 * entry that could not be removed; what was removed before stays removed. */
int kiln_tree_remove(const char *path, struct kiln_err *err);

#endif
