#!/usr/bin/env bash
# kiln --provider aws SIGKILLed at every step boundary of a deploy and of a rollback,
# against tests/lib/aws_fixture.py: after `kiln resume` and after `kiln abort` the cluster
# is consistent every time: one enabled group, attached to the ELB with its instances
# InService; every other group, even one being deleted, detached with AddToLoadBalancer
# suspended; no lock left; abort puts the groups back as they were.
. "$KILN_TESTLIB/harness.sh"

python3 -c 'import botocore' 2>/dev/null || skip_all "python3-botocore is not installed"
command -v rpmbuild >/dev/null || skip_all "rpmbuild is not installed (apt-get install rpm)"
aws_fixture_up --hosted-zone example.test
aws_kiln_env kill-steps-secret

"$KILN" create-app hello-world --env test --health-check-url /health_check --port 8080 \
    --source "$KILN_SRCDIR/examples/hello-world" >/dev/null 2>&1
run "$KILN" deploy hello-world --env test
is "$RC" 0 "v000 deployed"
nvr=$(basename "$(ls "$T_TMP"/repo/hello-world-*.rpm | head -n1)" .rpm)
"$KILN" deploy hello-world --env test --package "$nvr" >/dev/null 2>&1

# The cluster as AWS has it: each group name:on|off, newest first, from kiln; then checked
# against the fixture: the enabled one attached with every instance InService, the others
# detached and suspended.
groups_of() {
    "$KILN" status hello-world --env test --json |
        json "' '.join('%s:%s' % (g['name'], 'on' if g['enabled'] else 'off') for g in d[0]['envs'][0]['groups'])"
}
disabled_group() { # the newest disabled group
    "$KILN" status hello-world --env test --json |
        json "[g['name'] for g in d[0]['envs'][0]['groups'] if not g['enabled']][0]"
}
consistent() {
    python3 - "$FX" <<'PYEOF'
import sys, botocore.session
s = botocore.session.get_session()
kw = dict(region_name="us-east-1", endpoint_url=sys.argv[1], aws_access_key_id="a",
          aws_secret_access_key="b")
asg, elb = s.create_client("autoscaling", **kw), s.create_client("elb", **kw)
# A group being deleted (an aborted deploy's) counts too: it must have left the ELB first.
groups = [g for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]
          if g["AutoScalingGroupName"].startswith("hello-world-test-v")]
on = [g for g in groups if "hello-world-test" in g["LoadBalancerNames"]]
why = []
if len(on) != 1:
    why.append("%d groups attached" % len(on))
for g in groups:
    susp = [p["ProcessName"] for p in g["SuspendedProcesses"]]
    if g in on and "AddToLoadBalancer" in susp:
        why.append("%s attached but suspended" % g["AutoScalingGroupName"])
    if g not in on and "AddToLoadBalancer" not in susp:
        why.append("%s detached but not suspended" % g["AutoScalingGroupName"])
health = {h["InstanceId"]: h["State"] for h in
          elb.describe_instance_health(LoadBalancerName="hello-world-test")["InstanceStates"]}
for g in on:
    for i in g["Instances"]:
        if health.get(i["InstanceId"]) != "InService":
            why.append("%s of %s is %s" % (i["InstanceId"], g["AutoScalingGroupName"],
                                            health.get(i["InstanceId"], "not registered")))
tags = elb.describe_tags(LoadBalancerNames=["hello-world-test"])["TagDescriptions"][0]["Tags"]
if any(t["Key"] == "kiln:lock" for t in tags):
    why.append("the lock is still held")
print("; ".join(why) or "ok")
PYEOF
}
# A deploy and a rollback that complete: their journals give the steps to kill at, so a
# step added to either is covered here without editing this list.
deploy_steps=$(job_steps "$(last_job deploy)")
like "$deploy_steps" "(^| )plan create-group .* cleanup$" "a deploy of a package goes through: $deploy_steps"
run "$KILN" rollback hello-world --env test
is "$RC" 0 "a rollback"
rollback_steps=$(job_steps "$(last_job rollback)")
like "$rollback_steps" "^plan .+ enable " "goes through: $rollback_steps"
is "$(consistent)" ok "two deploys and a rollback: consistent to begin with"

# kill_at KIND STEP HOW CMD...: runs CMD with kiln killed before STEP, then HOW.
kill_at() {
    local kind=$1 step=$2 how=$3
    shift 3
    local before after job good=0 state
    before=$(groups_of)
    KILN_TEST_KILL_AT="$kind:$step:before" sh -c '"$@"; exit $?' sh "$KILN" "$@" >/dev/null 2>&1
    [ $? -eq 137 ] || good=1
    job=$("$KILN" jobs --json | json "([j['job'] for j in d if j['state']=='interrupted'] or [0])[-1]")
    run "$KILN" "$how" "$job"
    [ "$RC" -eq 0 ] || good=1
    state=$(consistent)
    [ "$state" = ok ] || good=1
    after=$(groups_of)
    [ "$how" = resume ] || [ "$after" = "$before" ] || good=1
    ok "$good" "$kind killed before $step, $how: consistent"
    [ "$good" -eq 0 ] || diag "before: $before" "after:  $after" "AWS: $state" "$ERR"
}

for how in resume abort; do
    for step in $deploy_steps; do
        kill_at deploy "$step" "$how" deploy hello-world --env test --package "$nvr"
    done
    for step in $rollback_steps; do
        # --to: a rollback right after a rollback names its target (the group rolled
        # back from is rejected, never a default target)
        kill_at rollback "$step" "$how" rollback hello-world --env test --to "$(disabled_group)"
    done
done
run "$KILN" jobs
unlike "$OUT" "interrupted" "no job is left interrupted"
done_testing
