# fuzz/targets.mk: builds the libFuzzer targets with clang, apart from the normal build
# (GNU make; fuzz/local.mk runs it as `make -f fuzz/targets.mk` with the variables below).
#
# The library's sources are compiled again with fuzzer coverage and ASan+UBSan into
# $(FUZZ_OUT)/obj/ and archived as $(FUZZ_OUT)/libkiln-fuzz.a; each fuzz/fuzz_NAME.c
# links against that archive, so it takes only the objects it uses. The list of sources
# is the build's own (libkiln_a_SOURCES and libkilnd_a_SOURCES), so a file added to the
# library is fuzzed without anything to change here.
#
#   srcdir, top_builddir   the source tree; where configure wrote config.h
#   pkgdatadir             as in the normal build (KILN_DATADIR)
#   FUZZ_OUT               where objects and binaries go
#   FUZZ_CC, AR            clang (any version with libFuzzer), ar
#   FUZZ_LIB_SOURCES       the library's sources (.h files are ignored)
#   FUZZ_TARGETS           the targets to build: config builds $(FUZZ_OUT)/fuzz_config
#   FUZZ_LIB_CFLAGS        the libraries' flags from configure (cJSON, inih, curses, ...)
#   FUZZ_LIBS              the libraries to link

FUZZ_OUT ?= fuzz/build
FUZZ_CC ?= clang
AR ?= ar
FUZZ_SANITIZE_COMPILE = -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_SANITIZE_LINK = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS = -std=c11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter \
	-pthread
FUZZ_CPPFLAGS = -I$(srcdir)/include -I$(srcdir)/src -I$(srcdir)/fuzz -I$(top_builddir) \
	-D_GNU_SOURCE -DKILN_DATADIR='"$(pkgdatadir)"' $(FUZZ_LIB_CFLAGS)

LIB_SRC := $(filter %.c,$(FUZZ_LIB_SOURCES))
LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_OUT)/obj/%.o)
HELPER_OBJ := $(FUZZ_OUT)/obj/fuzz/fuzz.o
TARGET_OBJ := $(FUZZ_TARGETS:%=$(FUZZ_OUT)/obj/fuzz/fuzz_%.o)
BINARIES := $(FUZZ_TARGETS:%=$(FUZZ_OUT)/fuzz_%)

all: $(BINARIES)

$(FUZZ_OUT)/obj/%.o: $(srcdir)/%.c
	@mkdir -p $(@D)
	@echo "  FUZZCC   $<"
	@$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) $(FUZZ_SANITIZE_COMPILE) -MMD -MP -c -o $@ $<

$(FUZZ_OUT)/libkiln-fuzz.a: $(LIB_OBJ)
	@rm -f $@
	@echo "  FUZZAR   $@"
	@$(AR) rcs $@ $(LIB_OBJ)

$(FUZZ_OUT)/fuzz_%: $(FUZZ_OUT)/obj/fuzz/fuzz_%.o $(HELPER_OBJ) $(FUZZ_OUT)/libkiln-fuzz.a
	@echo "  FUZZLD   $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SANITIZE_LINK) -o $@ $< $(HELPER_OBJ) \
		$(FUZZ_OUT)/libkiln-fuzz.a $(FUZZ_LIBS)

-include $(LIB_OBJ:.o=.d) $(HELPER_OBJ:.o=.d) $(TARGET_OBJ:.o=.d)

.PHONY: all
.SECONDARY:
.DELETE_ON_ERROR:
