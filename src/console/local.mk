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
	src/console/console.c
