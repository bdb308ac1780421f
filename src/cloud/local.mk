# src/cloud: kilnd, the local cloud.
bin_PROGRAMS += kilnd
kilnd_SOURCES = src/cloud/kilnd.c
kilnd_LDADD = $(KILN_LIBS)
