# src/core: the engine every part of kiln stands on.
libkiln_a_SOURCES += \
	src/core/logring.c \
	src/core/wake.c \
	src/core/job.c \
	src/core/names.c \
	src/core/paths.c \
	src/core/config.c \
	src/core/model.c \
	src/core/snapshot_splice.c \
	src/core/journal.c \
	src/core/history.c \
	src/core/manifest.c \
	src/core/context.c \
	src/core/chaos_gap.c \
	src/core/group_process.c
# The unit tests of core's shared helpers, kept with them.
check_PROGRAMS += tests/unit/test_chaos_gap
TESTS += tests/unit/test_chaos_gap
libkiln_a_SOURCES += src/core/bases.c src/core/bases_store.c
