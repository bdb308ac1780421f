#!/usr/bin/env bash
# The console on --provider aws, in tmux, against tests/lib/aws_fixture.py seeded with five
# clusters: the cluster on screen is refreshed alone (its ELB by name, about six requests)
# every refresh_interval, the whole inventory only every whole_refresh_interval; a change
# to the cluster on screen shows within a couple of seconds; moving the selection moves
# the focus.
. "$KILN_TESTLIB/harness.sh"

command -v tmux >/dev/null || skip_all "tmux is not installed (apt-get install tmux)"
python3 -c 'import botocore' 2>/dev/null || skip_all "python3-botocore is not installed"

aws_fixture_up --seed-asgs 5 --seed-instances 2
tmux_down() { tmux -S "$T_TMUX_SOCK" kill-server 2>/dev/null; }
at_exit tmux_down

mkdir -p "$XDG_CONFIG_HOME/kiln"
cat >"$XDG_CONFIG_HOME/kiln/config" <<EOF2
[core]
provider = aws
[console]
refresh_interval = 500ms
whole_refresh_interval = 30s
[aws]
region = us-east-1
EOF2
LOG="$T_TMP/aws-requests.log"
# The event feed polls rarely here, so that only the refresher can show changes.
tmux_start 120 30 env AWS_ACCESS_KEY_ID=AKIDKILNTEST AWS_SECRET_ACCESS_KEY=test-secret \
    AWS_ENDPOINT_URL="$FX" AWS_EC2_METADATA_DISABLED=true KILN_AWS_LOG="$LOG" \
    KILN_AWS_EVENT_POLL_MS=60000 PATH="$PATH" "$KILN"
screen_wait 30 'app1 ' || diag "the console did not start:" "$(screen_masked)"
ok $? "the console shows the seeded apps"

whole() { grep -c 'request body: Action=DescribeLoadBalancers&Version=2012-06-01&PageSize=400' "$LOG"; }
focused() { grep -c "request body: Action=DescribeLoadBalancers&.*LoadBalancerNames.member.1=$1\\b" "$LOG"; }
sleep 3
w0=$(whole)
ok "$([ "$w0" -le 2 ]; echo $?)" "in 3 s the whole inventory was read $w0 times (the refresher's, and the event feed's first)"
n1=$(focused app1-test)
ok "$([ "$n1" -ge 3 ]; echo $?)" "and the cluster on screen, app1-test, $n1 times on its own"

# A change to the cluster on screen shows long before the next whole refresh.
id=$(FX=$FX python3 -c '
import os, botocore.session
c = botocore.session.get_session().create_client("autoscaling", region_name="us-east-1",
    endpoint_url=os.environ["FX"], aws_access_key_id="a", aws_secret_access_key="b")
g = c.describe_auto_scaling_groups(AutoScalingGroupNames=["app1-test-v000"])
print(sorted(i["InstanceId"] for i in g["AutoScalingGroups"][0]["Instances"])[0])' 2>/dev/null)
FX=$FX python3 -c '
import os, sys, botocore.session
c = botocore.session.get_session().create_client("ec2", region_name="us-east-1",
    endpoint_url=os.environ["FX"], aws_access_key_id="a", aws_secret_access_key="b")
c.terminate_instances(InstanceIds=[sys.argv[1]])' "$id"
t0=$(date +%s%N)
wait_for 10 sh -c '! tmux -S "$0" capture-pane -p -t t | grep -q "$1.*running"' "$T_TMUX_SOCK" "$id"
ok $? "$id, terminated, is no longer shown running"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
ok "$([ "$ms" -lt 5000 ]; echo $?)" "within $ms ms (the whole inventory is 30 s apart)"
is "$(whole)" "$w0" "and the whole inventory was not read again"

tmux_keys j
sleep 2
n2=$(focused app2-test)
ok "$([ "$n2" -ge 2 ]; echo $?)" "the selection moved to app2-test: it is refreshed on its own ($n2 times)"
n1b=$(focused app1-test)
sleep 1.5
is "$(focused app1-test)" "$n1b" "and app1-test no longer is"

done_testing
