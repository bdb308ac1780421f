# src/provider: where deployments go. local/ talks to kilnd; aws/ to AWS.
libkiln_a_SOURCES += \
	src/provider/provider.c \
	src/provider/local/local.h \
	src/provider/local/local.c \
	src/provider/local/kilnd_client.c
