# src/util: strings, files, processes, time.
libkiln_a_SOURCES += \
	src/util/err.c \
	src/util/xalloc.c \
	src/util/strbuf.c \
	src/util/timeutil.c \
	src/util/atomic_file.c \
	src/util/spawn.c \
	src/util/sandbox.c \
	src/util/url.c \
	src/util/proc.c \
	src/util/fstree.c \
	src/util/tail.c \
	src/util/sockio.c \
	src/util/json.c \
	src/util/shellwords.c
# The unit tests of util's shared helpers, kept with them.
check_PROGRAMS += tests/unit/test_proc tests/unit/test_json tests/unit/test_shellwords tests/unit/test_url
TESTS += tests/unit/test_proc tests/unit/test_json tests/unit/test_shellwords tests/unit/test_url
