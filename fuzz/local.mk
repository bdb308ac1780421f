# fuzz: libFuzzer targets for every parser (fuzz/README.md), built with clang apart from
# the normal build and not part of `all` or `check`.
#   make fuzz                 build, then run each target for FUZZ_SECONDS (60)
#   make fuzz-ci              the same, 20 s each, two at a time
#   make fuzz-build           only build them (fuzz/build/fuzz_NAME)
#   make fuzz FUZZ_TARGETS="config names" FUZZ_JOBS=2 FUZZ_SECONDS=600
# A target that crashes, leaks, hangs or breaks a property fails the run; its input is
# kept in fuzz/build/artifacts/.
FUZZ_SECONDS = 60
FUZZ_JOBS = 1
FUZZ_CC = clang
FUZZ_OUT = fuzz/build
FUZZ_TARGETS = config manifest names args store local_state journal history duration api \
	aws_xml aws_profile theme console_argv
FUZZ_FILES = fuzz/fuzz.h fuzz/fuzz.c \
	fuzz/fuzz_config.c fuzz/fuzz_manifest.c fuzz/fuzz_names.c fuzz/fuzz_args.c \
	fuzz/fuzz_store.c fuzz/fuzz_local_state.c fuzz/fuzz_journal.c fuzz/fuzz_history.c \
	fuzz/fuzz_duration.c fuzz/fuzz_api.c fuzz/fuzz_aws_xml.c fuzz/fuzz_aws_profile.c \
	fuzz/fuzz_theme.c fuzz/fuzz_console_argv.c
FUZZ_DICTS = fuzz/config.dict fuzz/manifest.dict fuzz/names.dict fuzz/args.dict \
	fuzz/store.dict fuzz/local_state.dict fuzz/journal.dict fuzz/history.dict \
	fuzz/duration.dict fuzz/api.dict fuzz/aws_xml.dict fuzz/aws_profile.dict fuzz/theme.dict \
	fuzz/console_argv.dict
EXTRA_DIST += fuzz/README.md fuzz/targets.mk fuzz/run.sh fuzz/corpus $(FUZZ_FILES) \
	$(FUZZ_DICTS)

fuzz-build: config.h
	@$(MAKE) -f $(srcdir)/fuzz/targets.mk srcdir='$(srcdir)' top_builddir='$(top_builddir)' \
		pkgdatadir='$(pkgdatadir)' FUZZ_OUT='$(FUZZ_OUT)' FUZZ_CC='$(FUZZ_CC)' AR='$(AR)' \
		FUZZ_LIB_SOURCES='$(libkiln_a_SOURCES) $(libkilnd_a_SOURCES)' \
		FUZZ_TARGETS='$(FUZZ_TARGETS)' \
		FUZZ_LIB_CFLAGS='$(NCURSES_CFLAGS) $(CURL_CFLAGS) $(SSL_CFLAGS) $(CRYPTO_CFLAGS) $(CJSON_CFLAGS) $(XML_CFLAGS) $(READLINE_CFLAGS) $(INIH_CFLAGS)' \
		FUZZ_LIBS='$(CJSON_LIBS) $(INIH_LIBS) $(XML_LIBS) $(NCURSES_LIBS) $(READLINE_LIBS) $(CURL_LIBS) $(SSL_LIBS) $(CRYPTO_LIBS)'

fuzz: fuzz-build
	FUZZ_OUT='$(FUZZ_OUT)' FUZZ_SRCDIR='$(srcdir)' FUZZ_JOBS='$(FUZZ_JOBS)' \
		bash $(srcdir)/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-ci:
	$(MAKE) $(AM_MAKEFLAGS) fuzz FUZZ_SECONDS=20 FUZZ_JOBS=2

fuzz-clean:
	rm -rf $(FUZZ_OUT)

clean-local: fuzz-clean

.PHONY: fuzz fuzz-ci fuzz-build fuzz-clean
