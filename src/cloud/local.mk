# src/cloud: kilnd, the local cloud. Its modules form libkilnd.a so unit tests can
# link them; kilnd.c is only the daemon's main.
noinst_LIBRARIES += libkilnd.a
libkilnd_a_SOURCES = \
	src/cloud/cloud.h \
	src/cloud/cloud.c \
	src/cloud/events.c \
	src/cloud/store.c \
	src/cloud/recover.c \
	src/cloud/api.h \
	src/cloud/api.c \
	src/cloud/ops.c \
	src/cloud/health.c \
	src/cloud/balancer.c \
	src/cloud/instances.c \
	src/cloud/reconciler.c \
	src/cloud/chaos.c \
	src/cloud/packages.c \
	src/cloud/images.c
bin_PROGRAMS += kilnd
kilnd_SOURCES = src/cloud/kilnd.c
kilnd_LDADD = libkilnd.a $(KILN_LIBS)
