# src/console: the curses console (`kiln` with no command). UI thread only, except
# feed.c (the refresher and events threads) and the runner in exec.c.
libkiln_a_SOURCES += \
	src/console/cursesw.h \
	src/console/ui.h \
	src/console/theme.h \
	src/console/theme.c \
	src/console/keys.h \
	src/console/keys.c \
	src/console/draw.h \
	src/console/draw.c \
	src/console/argv.h \
	src/console/argv.c \
	src/console/loglist.h \
	src/console/loglist.c \
	src/console/evlist.h \
	src/console/evlist.c \
	src/console/feed.h \
	src/console/feed.c \
	src/console/list.c \
	src/console/panes.c \
	src/console/logpane.c \
	src/console/jobs.c \
	src/console/events.c \
	src/console/help.c \
	src/console/status.c \
	src/console/edit.c \
	src/console/prompt.c \
	src/console/complete.c \
	src/console/exec.c \
	src/console/actions.c \
	src/console/dialog.c \
	src/console/terminfo.c \
	src/console/console.c

# The console's unit test (its parts that need no terminal), its end-to-end test in
# tmux, and its benchmark. Kept here with the code they test; they add to the
# lists the other fragments start.
check_PROGRAMS += tests/unit/test_console
TESTS += tests/unit/test_console tests/e2e/console.sh tests/e2e/console_aws.sh
EXTRA_DIST += tests/e2e/console.sh tests/e2e/console_aws.sh \
	tests/e2e/screens/empty.txt \
	tests/e2e/screens/help.txt \
	tests/e2e/screens/size-80x24.txt \
	tests/e2e/screens/size-200x60.txt \
	bench/console_idle.sh \
	tests/lsan-curses.supp
noinst_PROGRAMS += bench/bench_render
bench_bench_render_LDADD = $(KILN_LIBS)
