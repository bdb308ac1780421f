# src/commands: the command table shared by the CLI and the console.
libkiln_a_SOURCES += \
	src/commands/commands.h \
	src/commands/args.c \
	src/commands/command.c \
	src/commands/table.c \
	src/commands/help.c \
	src/commands/version.c \
	src/commands/config_cmd.c \
	src/commands/history_cmd.c \
	src/commands/cloud_cmd.c \
	src/commands/app_cmds.c \
	src/commands/pipeline_cmds.c \
	src/commands/job_cmds.c \
	src/commands/events_cmd.c \
	src/commands/chaos_run.c \
	src/commands/completion.c \
	src/commands/protect.c
libkiln_a_SOURCES += src/commands/base_cmd.c
