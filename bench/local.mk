# bench: programs that print measured figures (not tests). `make bench` runs them all.
noinst_PROGRAMS += bench/bench_logring
bench_bench_logring_LDADD = $(KILN_LIBS)
EXTRA_DIST += bench/README.md bench/bench_cloud.sh bench/bench_deploy.sh bench/bench_aws_inventory.sh
EXTRA_DIST += bench/bench_base.sh
bench: all $(noinst_PROGRAMS)
	./bench/bench_logring
	./bench/bench_render
	$(srcdir)/bench/console_idle.sh
	$(srcdir)/bench/bench_cloud.sh
	$(srcdir)/bench/bench_deploy.sh
	$(srcdir)/bench/bench_aws_inventory.sh
	$(srcdir)/bench/bench_base.sh
.PHONY: bench
