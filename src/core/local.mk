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
	src/core/context.c
