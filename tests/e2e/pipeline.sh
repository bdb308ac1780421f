#!/usr/bin/env bash
# The pipeline end to end on the local cloud: build, bake, red-black deploy under load,
# rollback, the health gate, kill-at-every-step with resume and abort, the lock,
# promote.
. "$KILN_TESTLIB/harness.sh"

cloud_up
command -v wrk >/dev/null || skip_all "wrk is not installed (apt-get install wrk)"
SRC="$KILN_SRCDIR/examples/hello-world"

# groups_json: the cluster's groups as name:enabled:instances, newest first.
groups_of() {
    "$KILN" status hello-world --env "${1:-test}" --json |
        json "' '.join('%s:%s:%d' % (g['name'], 'on' if g['enabled'] else 'off', len(g['instances'])) for g in d[0]['envs'][0]['groups'])"
}
enabled_count() {
    "$KILN" status hello-world --env "${1:-test}" --json |
        json "sum(1 for g in d[0]['envs'][0]['groups'] if g['enabled'])"
}

run "$KILN" create-app hello-world --env test --health-check-url /health_check --port 8080 --source "$SRC"
is "$RC" 0 "create-app hello-world --env test"

run "$KILN" deploy hello-world --env test --source "$SRC" --desired 2
is "$RC" 0 "deploy from source builds, bakes and deploys v000"
is "$OUT" "hello-world-test-v000" "and prints the new group"
like "$ERR" "rpmbuild" "the build's output streams to stderr"
like "$ERR" "2/2 healthy" "with health progress"
lb_get hello-world test
is "$BODY" "hello-world 1.0.0-1" "the load balancer answers with v000's version"

# v001 with a new build, under load; then a rollback, still under load. Each request
# on its own connection: with keep-alive, a reload makes nginx close idle client
# connections, which HTTP clients retry but wrk counts as read errors.
wrk -t2 -c16 -d25s --latency -H "Host: hello-world.test.localhost" -H "Connection: close" \
    "http://127.0.0.1:$KILN_LB_PORT/" >"$T_TMP/wrk.out" 2>&1 &
wrk_pid=$!
sleep 1
run "$KILN" deploy hello-world --env test --source "$SRC"
is "$RC" 0 "deploy v001 with a new build"
is "$OUT" "hello-world-test-v001" "v001"
lb_get hello-world test
is "$BODY" "hello-world 1.0.0-2" "the load balancer answers with v001's version"
groups=$(groups_of)
is "$groups" "hello-world-test-v001:on:2 hello-world-test-v000:off:2" \
    "status: v001 enabled, v000 disabled with its instances (sizes copied)"

t0=$(date +%s%N)
run "$KILN" rollback hello-world --env test
t1=$(date +%s%N)
is "$RC" 0 "rollback"
all_v000=0
for i in $(seq 1 20); do
    lb_get hello-world test
    [ "$BODY" = "hello-world 1.0.0-1" ] && all_v000=$((all_v000 + 1))
done
is "$all_v000" 20 "right after rollback returns, 100% of requests are answered by v000"
ms=$(( (t1 - t0) / 1000000 ))
ok "$([ "$ms" -le 2000 ]; echo $?)" "rollback took <= 2 s ($ms ms)"
wait "$wrk_pid"
requests=$(grep -oE '^ +[0-9]+ requests' "$T_TMP/wrk.out" | grep -oE '[0-9]+')
errors=$(grep -E 'Socket errors|Non-2xx' "$T_TMP/wrk.out")
diag "load during deploy + rollback: $requests requests; ${errors:-no errors}"
ok "$([ -n "$requests" ] && [ "$requests" -gt 100 ]; echo $?)" "the load generator ran ($requests requests)"
is "$errors" "" "0 failed requests during the deploy and the rollback"

# The health gate: a build whose health check fails never takes traffic.
mkdir -p "$T_TMP/broken"
cp -r "$SRC"/. "$T_TMP/broken/"
sed -i 's/%bcond_with broken/%bcond_without broken/' "$T_TMP/broken/hello-world.spec"
before=$(groups_of)
run "$KILN" deploy hello-world --env test --source "$T_TMP/broken" --health-timeout 4s
is "$RC" 1 "a deploy whose instances never pass the health check fails"
like "$ERR" "only 0 of 2 instances healthy after 4.0s" "saying how many were healthy"
like "$ERR" "HTTP 500" "and what the health check answered"
lb_get hello-world test
is "$BODY" "hello-world 1.0.0-1" "the serving group still serves"
is "$(groups_of)" "$before" "no group is left over"

# try: the fast loop before a bake.
run "$KILN" try --package hello-world-1.0.0-1.x86_64
is "$RC" 0 "try passes for the good package"
like "$ERR" "PASS: hello-world-1.0.0-1.x86_64 answered 200" "and says so"
like "$ERR" "app: hello-world 1.0.0-1 listening" "with the app's output"
run "$KILN" try --source "$T_TMP/broken"
is "$RC" 1 "try fails for the broken build"
like "$ERR" "FAIL: .*HTTP 500" "with what the health check answered"
ok "$([ -z "$(ls "$KILN_HOME/try" 2>/dev/null)" ]; echo $?)" "and cleans up after itself"

# The lock: a second deploy of the same cluster is refused while one runs.
"$KILN" deploy hello-world --env test --package hello-world-1.0.0-2.x86_64 >"$T_TMP/first.out" 2>&1 &
first=$!
wait_for 10 grep -q "new group" "$T_TMP/first.out"
run "$KILN" deploy hello-world --env test --package hello-world-1.0.0-2.x86_64
is "$RC" 1 "a concurrent deploy of the same cluster is refused"
like "$ERR" "hello-world-test is being deployed by job [0-9]+ \(.*@.*, since [0-9:]+\)" \
    "with who holds the lock"
wait "$first"
is "$?" 0 "the first deploy finishes"

# Kill kiln at every step boundary; resume and abort must leave the cluster consistent.
# The steps are those the deploy above went through (its journal's).
steps=$(job_steps "$(last_job deploy)")
like "$steps" "(^| )plan create-group .* cleanup$" "a deploy of a package goes through: $steps"
for how in resume abort; do
    for step in $steps; do
        before=$(groups_of)
        # (in a subshell, so bash does not report the kill)
        KILN_TEST_KILL_AT="deploy:$step:before" sh -c '"$@"; exit $?' sh "$KILN" deploy \
            hello-world --env test --package hello-world-1.0.0-1.x86_64 >/dev/null 2>&1
        killed=$?
        job=$("$KILN" jobs --json | json "[j['job'] for j in d if j['state']=='interrupted'][-1]")
        run "$KILN" "$how" "$job"
        good=$([ "$killed" -eq 137 ] && [ "$RC" -eq 0 ] && [ "$(enabled_count)" -eq 1 ]; echo $?)
        if [ "$how" = abort ]; then
            after=$(groups_of)
            [ "$after" = "$before" ] || good=1
        fi
        lb_get hello-world test
        [ "$CODE" = 200 ] || good=1
        ok "$good" "killed before $step, $how: one enabled group, serving"
        [ "$good" -eq 0 ] || diag "$ERR"
    done
done
run "$KILN" jobs
unlike "$OUT" "interrupted" "no job is left interrupted"

# promote: test's exact image into prod.
run "$KILN" create-app hello-world --env prod --health-check-url /health_check --port 8080
is "$RC" 0 "create-app --env prod (the source is remembered)"
run "$KILN" promote hello-world --from test --to prod --confirm prod
is "$RC" 0 "promote test -> prod"
img_test=$("$KILN" status hello-world --json | json "[g['image'] for e in d[0]['envs'] if e['name']=='test' for g in e['groups'] if g['enabled']][0]")
img_prod=$("$KILN" status hello-world --json | json "[g['image'] for e in d[0]['envs'] if e['name']=='prod' for g in e['groups'] if g['enabled']][0]")
is "$img_prod" "$img_test" "prod serves the same image id as test"

run "$KILN" history hello-world
like "$OUT" "deploy +hello-world-test +[0-9]+ +succeeded" "the history records the deploys"

done_testing
