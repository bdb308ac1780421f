# src/cli: the kiln binary.
bin_PROGRAMS += kiln
kiln_SOURCES = src/cli/main.c
kiln_LDADD = $(KILN_LIBS)
