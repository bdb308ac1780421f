#!/usr/bin/env bash
# The local cloud, for real: real processes, real HTTP health checks, real nginx.
. "$KILN_TESTLIB/harness.sh"

cloud_up
rpm=$(build_rpm 1) || { echo "Bail out! rpmbuild failed"; exit 1; }

api package-add "{\"path\":\"$rpm\"}"
is "$RC" 0 "package-add puts the RPM into the repo"
nvr=$(echo "$OUT" | json "d['result']['nvr']")
is "$nvr" "hello-world-1.0.0-1.x86_64" "and reads its NVR"
ok "$([ -f "$KILN_HOME/packages/repodata/repomd.xml" ]; echo $?)" "the repo has yum metadata"

api bake "{\"package\":\"$nvr\",\"app\":\"hello-world\"}"
is "$RC" 0 "bake installs the package into an image"
image=$(echo "$OUT" | json "d['result']['image']")
like "$image" '^img-[0-9a-f]{12}$' "the image id is a content digest"
api bake "{\"package\":\"$nvr\",\"app\":\"hello-world\"}"
is "$(echo "$OUT" | json "d['result']['image']")" "$image" "baking the same package again gives the same image"
is "$(echo "$OUT" | json "d['result']['cached']")" "True" "from the cache"

api create-app '{"app":"hello-world","env":"test","port":8080,"start":["/usr/bin/hello-world"],"health":{"path":"/health_check"}}'
is "$RC" 0 "create-app registers the app and its load balancer"

api group-create "{\"name\":\"hello-world-test-v000\",\"image\":\"$image\",\"min\":3,\"max\":3,\"desired\":3}"
is "$RC" 0 "a group of 3 is created"
wait_for 20 group_healthy_is hello-world-test-v000 3
ok $? "all 3 instances run and pass the health check"
lb_get hello-world test
is "$CODE" 503 "a disabled group takes no traffic: the LB answers 503"
like "$BODY" "no healthy instances in hello-world-test" "and says why"

api group-enable '{"name":"hello-world-test-v000"}'
is "$RC" 0 "enable returns once the load balancer serves the group"
lb_get hello-world test
is "$CODE" 200 "curl through nginx reaches the group"
is "$BODY" "hello-world 1.0.0-1" "and the answer names the version"
is "$(in_service_count hello-world-test-v000)" 3 "all 3 instances are in service"

api group-disable '{"name":"hello-world-test-v000"}'
lb_get hello-world test
is "$CODE" 503 "disable: 503 at once"
api group-enable '{"name":"hello-world-test-v000"}'
lb_get hello-world test
is "$CODE" 200 "enable again: answers again"

# A SIGKILL of an instance: replaced, healthy again, and the events tell the story.
victim=$(state_json | json "[i for i in d['result']['instances'] if i['state']=='running'][0]['id']")
vpid=$(state_json | json "[i for i in d['result']['instances'] if i['id']=='$victim'][0]['pid']")
kill -9 "$vpid"
wait_for 20 sh -c "python3 '$KILN_TESTLIB/kilnd_api.py' '$KILN_HOME/kilnd.sock' state | grep -q '\"replaces\":\"$victim\"'"
ok $? "the killed instance gets a replacement"
wait_for 20 group_healthy_is hello-world-test-v000 3
ok $? "and the group is back to 3 healthy"
wait_for 10 grep -q '"type":"recovered".*' "$KILN_HOME/events.log"
ok $? "a recovered event is logged"
like "$(grep "\"instance\":\"$victim\"" "$KILN_HOME/events.log" | grep '"type":"terminate"')" '"cause":"exited"' \
    "the termination names its cause"
like "$(grep '"type":"recovered"' "$KILN_HOME/events.log")" '"recovery_ms":[0-9]+' \
    "the recovery names its time to recover"

# SIGKILL kilnd: the same instances are re-adopted, none doubled.
before=$(state_json | json "sorted((i['id'], i['pid']) for i in d['result']['instances'] if i['state']=='running')")
kpid=$(state_json >/dev/null; python3 "$KILN_TESTLIB/kilnd_api.py" "$KILN_HOME/kilnd.sock" hello | json "d['result']['pid']")
kill -9 "$kpid"
wait_for 5 sh -c "! kill -0 $kpid 2>/dev/null"
lb_get hello-world test
is "$CODE" 200 "with kilnd dead, nginx and the instances keep serving"
run "$KILN" cloud start
is "$RC" 0 "kilnd starts again"
after=$(state_json | json "sorted((i['id'], i['pid']) for i in d['result']['instances'] if i['state']=='running')")
is "$after" "$before" "the same instances (ids and pids) are re-adopted"
sleep 2
is "$(state_json | json "sum(1 for i in d['result']['instances'] if i['state']=='running')")" 3 \
    "and none is doubled"

# Bad messages on the socket.
printf 'this is not json\n' >"$T_TMP/garbage"
api --raw "$T_TMP/garbage"
like "$OUT" '"code":"invalid"' "garbage gets an error reply"
printf '{"v":1,"id":1,"op":"hel' >"$T_TMP/truncated"
api --raw "$T_TMP/truncated"
is "$RC" 0 "a truncated message does not hang the client"
printf '{"v":99,"id":1,"op":"hello"}\n' >"$T_TMP/version"
api --raw "$T_TMP/version"
like "$OUT" '"code":"version"' "another protocol version gets a clear error"
python3 -c 'import sys; sys.stdout.write("{\"v\":1,\"op\":\"hello\",\"x\":\"" + "a"*(10<<20) + "\"}\n")' >"$T_TMP/big"
api --raw "$T_TMP/big"
like "$OUT" '"code":"too-large"' "a 10 MB message gets an error reply"
api hello
is "$RC" 0 "and the daemon still serves"

api create-app '{"app":"../etc","env":"test","start":["/x"]}'
like "$OUT" '"code":"invalid"' "a hostile app name is refused"

done_testing
