# src/provider/aws: talking to AWS (SigV4, credentials, endpoints, HTTP, XML, errors, STS).
# The provider operations (EC2, Auto Scaling, ELB, Route 53) come on top of these.
libkiln_a_SOURCES += \
	src/provider/aws/sigv4.c \
	src/provider/aws/credentials_private.h \
	src/provider/aws/credentials.c \
	src/provider/aws/credentials_env.c \
	src/provider/aws/credentials_profile.c \
	src/provider/aws/credentials_imds.c \
	src/provider/aws/profile_file.h \
	src/provider/aws/profile_file.c \
	src/provider/aws/endpoint.c \
	src/provider/aws/http.c \
	src/provider/aws/xml.c \
	src/provider/aws/errors.c \
	src/provider/aws/paginate.c \
	src/provider/aws/client.c \
	src/provider/aws/sts.c \
	src/provider/aws/aws.h \
	src/provider/aws/provider.c \
	src/provider/aws/ec2.c \
	src/provider/aws/autoscaling.c \
	src/provider/aws/elb.c \
	src/provider/aws/route53.c \
	src/provider/aws/inventory.c \
	src/provider/aws/apps.c \
	src/provider/aws/groups.c \
	src/provider/aws/probe.c \
	src/provider/aws/repo.c \
	src/provider/aws/bake.c \
	src/provider/aws/lock.c \
	src/provider/aws/events.c

# Their unit tests. Listed here rather than in tests/local.mk so this directory brings its
# own; check_PROGRAMS and TESTS are defined before any fragment is included. The fixture
# server in tests/lib/aws_fixture.h speaks TLS through libssl (it comes with libcrypto in
# libssl-dev).
AWS_UNIT_TESTS = \
	tests/unit/test_aws_sigv4 \
	tests/unit/test_aws_xml \
	tests/unit/test_aws_http \
	tests/unit/test_aws_credentials \
	tests/unit/test_aws_provider
check_PROGRAMS += $(AWS_UNIT_TESTS)
TESTS += $(AWS_UNIT_TESTS)
tests_unit_test_aws_http_LDADD = $(KILN_LIBS) $(SSL_LIBS)
tests_unit_test_aws_xml_LDADD = $(KILN_LIBS) $(SSL_LIBS)
tests_unit_test_aws_credentials_LDADD = $(KILN_LIBS) $(SSL_LIBS)
tests_unit_test_aws_provider_LDADD = $(KILN_LIBS) $(SSL_LIBS)
EXTRA_DIST += tests/lib/aws_fixture.h tests/data/aws-sigv4
# The provider's page, and the aminator stand-in tests/e2e/aws.sh bakes with.
EXTRA_DIST += doc/aws.md tests/lib/aws_aminate.py

check-aws: $(AWS_UNIT_TESTS)
	$(MAKE) $(AM_MAKEFLAGS) check TESTS="$(AWS_UNIT_TESTS)"
.PHONY: check-aws
