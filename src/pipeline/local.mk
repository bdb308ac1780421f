# src/pipeline: the jobs: build, bake, deploy (red-black), rollback, promote, group ops.
libkiln_a_SOURCES += \
	src/pipeline/pipe.h \
	src/pipeline/pipe.c \
	src/pipeline/rpmbuild.c \
	src/pipeline/sources.c \
	src/pipeline/build.c \
	src/pipeline/deploy.c \
	src/pipeline/rollback.c \
	src/pipeline/groupops.c \
	src/pipeline/takeover.c \
	src/pipeline/try.c
libkiln_a_SOURCES += src/pipeline/base_build.c
