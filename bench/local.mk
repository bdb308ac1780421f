# bench: programs that print measured figures (not tests). `make bench` runs them.
noinst_PROGRAMS += bench/bench_logring
bench_bench_logring_LDADD = $(KILN_LIBS)
EXTRA_DIST += bench/README.md
bench: $(noinst_PROGRAMS)
	./bench/bench_logring
.PHONY: bench
