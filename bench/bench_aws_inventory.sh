#!/usr/bin/env bash
# bench_aws_inventory: `kiln --provider aws status` over ASGS Auto Scaling groups of
# INSTANCES instances each (default 200 x 10) in tests/lib/aws_fixture.py, against the
# aws CLI making the same describe calls, one command after another as a script would
# (target: kiln >= 10x faster). Both are timed end to end, and the fixture counts the
# requests each made. kiln's time is the median of 5 runs; the CLI's is one run (it takes
# minutes). Prints figures, asserts nothing.
#
# Usage: bench/bench_aws_inventory.sh [ASGS [INSTANCES]]   (from the build tree)
set -u
asgs=${1:-200}
per=${2:-10}
KILN_SRCDIR=${KILN_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
KILN_BUILDDIR=${KILN_BUILDDIR:-$PWD}
KILN_TESTLIB=${KILN_TESTLIB:-$KILN_SRCDIR/tests/lib}
export KILN_SRCDIR KILN_BUILDDIR KILN_TESTLIB
[ -x "$KILN_BUILDDIR/kiln" ] || { echo "bench_aws_inventory: no kiln in $KILN_BUILDDIR (run it from the build tree)"; exit 1; }
. "$KILN_TESTLIB/harness.sh"
python3 -c 'import botocore' 2>/dev/null || { echo "bench_aws_inventory: python3-botocore is not installed"; exit 0; }

aws_fixture_up --seed-asgs "$asgs" --seed-instances "$per"
aws_kiln_env "kiln-bench-secret-$$"
export AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""

ms_now() { echo $(($(date +%s%N) / 1000000)); }
# requests: how many requests the fixture has answered so far, in all.
requests() { curl -s "$FX/__fixture/requests" | json "sum(d.values())"; }

# --- kiln ----------------------------------------------------------------------------
"$KILN" --provider aws status >"$T_TMP/status.warm" 2>&1 ||
    { echo "bench_aws_inventory: kiln status failed: $(tail -3 "$T_TMP/status.warm")"; exit 1; }
lines=$(grep -c ' i-' "$T_TMP/status.warm")
r0=$(requests)
: >"$T_TMP/kiln.ms"
for _ in 1 2 3 4 5; do
    t0=$(ms_now)
    "$KILN" --provider aws status >/dev/null 2>&1
    echo $(($(ms_now) - t0)) >>"$T_TMP/kiln.ms"
done
kiln_req=$((($(requests) - r0) / 5))
kiln_ms=$(sort -n "$T_TMP/kiln.ms" | sed -n 3p)

# --- the aws CLI, the same calls -----------------------------------------------------
# The ASG, instance and load balancer listings page themselves (the CLI follows
# NextToken as kiln does); tags and instance health are per load balancer, tags 20
# names at a time, as kiln asks for them.
aws_cli() { aws --output json "$@" >/dev/null || echo "bench_aws_inventory: aws $* failed" >&2; }
r0=$(requests)
t0=$(ms_now)
aws_cli ec2 describe-images --owners self --filters Name=tag-key,Values=kiln:package
aws_cli autoscaling describe-auto-scaling-groups --filters Name=tag-key,Values=kiln:app --page-size 100
aws_cli ec2 describe-instances --filters Name=tag-key,Values=kiln:app --page-size 1000
aws elb describe-load-balancers --page-size 400 \
    --query 'LoadBalancerDescriptions[].LoadBalancerName' --output text | tr '\t' '\n' >"$T_TMP/lbs"
xargs -n 20 <"$T_TMP/lbs" >"$T_TMP/lbs.20"
while read -r names; do
    # shellcheck disable=SC2086 # one argument per name
    aws_cli elb describe-tags --load-balancer-names $names
done <"$T_TMP/lbs.20"
while read -r lb; do
    aws_cli elb describe-instance-health --load-balancer-name "$lb"
done <"$T_TMP/lbs"
cli_ms=$(($(ms_now) - t0))
cli_req=$(($(requests) - r0))

echo "bench_aws_inventory: $asgs ASGs x $per instances ($lines instance lines in kiln's status)"
printf 'bench_aws_inventory: kiln status  %7d ms (median of 5)  %4d requests\n' "$kiln_ms" "$kiln_req"
printf 'bench_aws_inventory: aws CLI      %7d ms (%d commands)  %4d requests\n' "$cli_ms" \
    $((3 + 1 + $(wc -l <"$T_TMP/lbs.20") + $(wc -l <"$T_TMP/lbs"))) "$cli_req"
awk -v k="$kiln_ms" -v c="$cli_ms" \
    'BEGIN { printf "bench_aws_inventory: kiln is %.1fx faster (target >= 10x)\n", c / (k > 0 ? k : 1) }'
