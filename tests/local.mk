# tests: C unit tests (TAP) and end-to-end shell tests against the real binaries.
UNIT_TESTS = \
	tests/unit/test_err \
	tests/unit/test_args \
	tests/unit/test_commands \
	tests/unit/test_strbuf \
	tests/unit/test_timeutil \
	tests/unit/test_durations \
	tests/unit/test_atomic_file \
	tests/unit/test_spawn \
	tests/unit/test_logring \
	tests/unit/test_wake \
	tests/unit/test_job \
	tests/unit/test_names \
	tests/unit/test_paths \
	tests/unit/test_config \
	tests/unit/test_model \
	tests/unit/test_snapshot_splice \
	tests/unit/test_journal \
	tests/unit/test_history \
	tests/unit/test_manifest \
	tests/unit/test_rpmbuild \
	tests/unit/test_cloud_packages \
	tests/unit/test_cloud_images \
	tests/unit/test_cloud_health \
	tests/unit/test_cloud_balancer \
	tests/unit/test_cloud_instances \
	tests/unit/test_cloud_reconciler
check_PROGRAMS += $(UNIT_TESTS)
tests_unit_test_cloud_packages_LDADD = libkilnd.a $(KILN_LIBS)
tests_unit_test_cloud_images_LDADD = libkilnd.a $(KILN_LIBS)
tests_unit_test_cloud_health_LDADD = libkilnd.a $(KILN_LIBS)
tests_unit_test_cloud_balancer_LDADD = libkilnd.a $(KILN_LIBS)
tests_unit_test_cloud_instances_LDADD = libkilnd.a $(KILN_LIBS)
tests_unit_test_cloud_reconciler_LDADD = libkilnd.a $(KILN_LIBS)
TESTS += $(UNIT_TESTS)
LDADD = $(KILN_LIBS)
AM_CPPFLAGS += -I$(top_srcdir)/tests/lib -I$(top_srcdir)/src

E2E_TESTS = \
	tests/e2e/cli.sh \
	tests/e2e/completion.sh \
	tests/e2e/no_source.sh \
	tests/e2e/hostile.sh \
	tests/e2e/cloud.sh \
	tests/e2e/pipeline.sh \
	tests/e2e/chaos.sh \
	tests/e2e/faults.sh \
	tests/e2e/cloud_faults.sh \
	tests/e2e/valgrind.sh \
	tests/e2e/killsteps.sh \
	tests/e2e/deploy_faults.sh \
	tests/e2e/protected.sh \
	tests/e2e/aws.sh \
	tests/e2e/aws_killsteps.sh \
	tests/e2e/secrets.sh \
	tests/e2e/aws_fixture.sh
TESTS += $(E2E_TESTS)

EXTRA_DIST += tests/lib/aws_fixture.py tests/lib/test_aws_fixture.py tests/lib/cloudtest.h tests/lib/tap.h tests/lib/harness.sh tests/lib/kilnd_api.py $(E2E_TESTS)

# The threaded tests again, for `make check-threads` in a --enable-tsan build.
THREAD_TESTS = tests/unit/test_cloud_instances tests/unit/test_cloud_reconciler tests/unit/test_cloud_health tests/unit/test_cloud_balancer tests/unit/test_cloud_images tests/unit/test_logring tests/unit/test_wake tests/unit/test_job tests/unit/test_model tests/unit/test_spawn tests/unit/test_history
check-threads: $(THREAD_TESTS)
	$(MAKE) $(AM_MAKEFLAGS) check TESTS="$(THREAD_TESTS)"
.PHONY: check-threads

check-unit: $(UNIT_TESTS) $(AWS_UNIT_TESTS)
	$(MAKE) $(AM_MAKEFLAGS) check TESTS="$(UNIT_TESTS) $(AWS_UNIT_TESTS)"
.PHONY: check-unit

# Base images (include/kiln/bases.h): the unit test, and the end-to-end test that builds
# one real base with mmdebstrap (about 30 s, once per run; it skips without mmdebstrap,
# the Debian archive or root).
check_PROGRAMS += tests/unit/test_bases
TESTS += tests/unit/test_bases tests/e2e/bases.sh tests/e2e/rootbake.sh
EXTRA_DIST += tests/e2e/bases.sh tests/e2e/rootbake.sh

# Static analysis: `make cppcheck` fails on any finding. A false positive is suppressed
# where it is, with its reason (/* cppcheck-suppress ID ; why */); tests/cppcheck.cfg
# tells cppcheck what it cannot see (cJSON's iteration macro, kiln_oom never returning).
CPPCHECK = cppcheck
CPPCHECK_FLAGS = -q -j2 --std=c11 --enable=warning,portability,performance \
	--error-exitcode=1 --inline-suppr --library=tests/cppcheck.cfg \
	-Iinclude -Isrc -Itests/lib -I'$(abs_top_builddir)' -D_GNU_SOURCE \
	-DKILN_DATADIR='"$(pkgdatadir)"'
cppcheck:
	cd $(srcdir) && $(CPPCHECK) $(CPPCHECK_FLAGS) src tests/unit tests/lib bench fuzz examples
.PHONY: cppcheck
EXTRA_DIST += tests/cppcheck.cfg
