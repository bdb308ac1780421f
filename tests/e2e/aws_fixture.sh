#!/usr/bin/env bash
# The self-test of tests/lib/aws_fixture.py (the in-memory AWS the aws provider's tests run
# against): botocore's own clients, paginators, waiters and parsers, and the aws CLI once,
# must all read what it answers. TAP from tests/lib/test_aws_fixture.py.
exec python3 "$KILN_TESTLIB/test_aws_fixture.py" --quick "$@"
