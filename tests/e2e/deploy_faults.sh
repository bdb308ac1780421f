#!/usr/bin/env bash
# States that must not end wrong (a hostile sweep found each): rollback goes to the
# version that served before, never to a rejected one, and max_remaining_groups never
# destroys the last known-good group; an interrupted job keeps its cluster until it
# is resumed, aborted or taken over; a deploy or rollback that fails after its group
# exists leaves the cluster as it was.
. "$KILN_TESTLIB/harness.sh"

cloud_up
SRC="$KILN_SRCDIR/examples/hello-world"
mkdir -p "$XDG_CONFIG_HOME/kiln"
printf '[core]\nmax_remaining_groups = 1\n' >"$XDG_CONFIG_HOME/kiln/config"

# serving: the release the load balancer answers with ("hello-world 1.0.0-2" -> 1.0.0-2).
serving() {
    lb_get hello-world test
    echo "${BODY#hello-world }"
}
# groups: name:state for every group, newest first (state: on, off, rejected).
groups() {
    "$KILN" status hello-world --env test --json |
        json "' '.join('%s:%s' % (g['name'][-4:], 'on' if g['enabled'] else 'rejected' if g['rejected'] else 'off') for g in d[0]['envs'][0]['groups'])"
}
job_state() {
    "$KILN" jobs --json | json "[j['state'] for j in d if j['job'] == $1][0]"
}
# steps_of JOB: the steps a finished job's journal recorded, in order.
steps_of() {
    python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
seen = []
for s in d['steps']:
    if s['name'] != 'result' and s['name'] not in seen:
        seen.append(s['name'])
print(' '.join(seen))" "$KILN_HOME/journal/$1.json"
}
last_job() { "$KILN" jobs --json | json "max(j['job'] for j in d)"; }

run "$KILN" create-app hello-world --env test --health-check-url /health_check --port 8080 --source "$SRC"
is "$RC" 0 "create-app"
for i in 1 2 3; do
    run "$KILN" build hello-world
    is "$RC" 0 "build $i"
done
is "$OUT" "hello-world-1.0.0-3.$(uname -m)" "three releases, 1.0.0-1 to -3"
deploy() { run "$KILN" deploy hello-world --env test --package "hello-world-1.0.0-$1.$(uname -m)" "${@:2}"; }

# ---- the rollback target ----
deploy 1
is "$RC" 0 "deploy 1.0.0-1 (v000)"
deploy 2
is "$RC" 0 "deploy 1.0.0-2 (v001)"
run "$KILN" rollback hello-world --env test
is "$RC" 0 "rollback from 1.0.0-2"
is "$(serving)" "1.0.0-1" "1.0.0-1 serves again"
is "$(groups)" "v001:rejected v000:on" "the group rolled back from is marked rejected in status"
deploy 3
is "$RC" 0 "deploy 1.0.0-3 (v002), with max_remaining_groups = 1"
is "$(groups)" "v002:on v000:off" \
    "cleanup kept v000, the last known good, and destroyed v001, the newer rejected one"
run "$KILN" rollback hello-world --env test
is "$RC" 0 "rollback from 1.0.0-3"
like "$ERR" "rolling back hello-world-test to hello-world-test-v000" \
    "to the group that served before 1.0.0-3, not to the newest disabled one"
is "$(serving)" "1.0.0-1" "1.0.0-1, the last known good, serves"
is "$(groups)" "v002:rejected v000:on" "the rolled-back version is marked"
run "$KILN" status hello-world --env test
like "$OUT" "hello-world-test-v002 +rejected" "status text says rejected"
deploy 2
is "$RC" 0 "deploy 1.0.0-2 again (v003)"
is "$(groups)" "v003:on v000:off" "cleanup destroyed the rejected group and kept v000"
run "$KILN" rollback hello-world --env test
is "$RC" 0 "rollback from v003"
is "$(serving)" "1.0.0-1" "goes back to v000"
run "$KILN" rollback hello-world --env test
is "$RC" 1 "a rollback with only rejected groups left is refused"
like "$ERR" "v003 .*was rejected.*--to hello-world-test-v003" "naming it and how to bring it back anyway"
run "$KILN" rollback hello-world --env test --to hello-world-test-v003
is "$RC" 0 "rollback --to a rejected group works"
is "$(groups)" "v003:on v000:rejected" "the target is no longer rejected; the one left is"
run "$KILN" rollback hello-world --env test --to hello-world-test-v000
is "$RC" 0 "and back to v000"

# ---- an interrupted job keeps its cluster ----
KILN_TEST_KILL_AT=deploy:wait-healthy:before "$KILN" deploy hello-world --env test \
    --package "hello-world-1.0.0-3.$(uname -m)" >/dev/null 2>&1
killed=$(last_job)
is "$(job_state "$killed")" "interrupted" "a deploy killed at wait-healthy is interrupted (job $killed)"
before=$(groups)
deploy 2
is "$RC" 1 "the next deploy is refused"
like "$ERR" "interrupted deploy, job $killed .*stopped at wait-healthy" "naming the job and its step"
like "$ERR" "kiln resume $killed finishes it, kiln abort $killed undoes it" "and the two commands"
like "$ERR" "--take-over $killed" "and --take-over"
run "$KILN" resize hello-world-test-v000 --min 1 --max 2 --desired 1
is "$RC" 1 "so is any other change of the cluster"
deploy 2 --take-over 99999
is "$RC" 1 "--take-over of a job that is not interrupted there is refused"
deploy 2 --take-over "$killed"
is "$RC" 0 "deploy --take-over JOB"
like "$ERR" "taking over interrupted job $killed" "says so in its log"
like "$ERR" "job $killed aborted" "and that the old job was aborted first"
is "$(job_state "$killed")" "aborted" "the old job ended aborted"
run "$KILN" abort "$killed"
is "$RC" 1 "so it cannot be aborted again, over the newer work"
is "$(enabled_groups)" 1 "one group serves"
is "$(serving)" "1.0.0-2" "the new deploy's"

# Kill at every step of a deploy, then a new job (refused), then abort the old one,
# then the new job: one group serving, the newer version. The steps come from a
# finished deploy's journal, so a new step is covered.
deploy_steps=$(steps_of "$(last_job)")
diag "deploy steps: $deploy_steps"
ok "$([ "$(echo "$deploy_steps" | wc -w)" -ge 6 ]; echo $?)" "the deploy recorded its steps ($deploy_steps)"
rel=3
for step in $deploy_steps; do
    KILN_TEST_KILL_AT="deploy:$step:before" "$KILN" deploy hello-world --env test \
        --package "hello-world-1.0.0-$rel.$(uname -m)" >/dev/null 2>&1
    killed=$(last_job)
    deploy 1
    if [ "$(job_state "$killed")" = "interrupted" ]; then
        is "$RC" 1 "killed before $step: a new deploy is refused while job $killed is interrupted"
        run "$KILN" abort "$killed"
        is "$RC" 0 "killed before $step: abort $killed"
        deploy 1
    else
        ok 1 "killed before $step: job $killed is $(job_state "$killed"), not interrupted"
    fi
    is "$RC" 0 "killed before $step: then the new deploy works"
    is "$(enabled_groups)" 1 "killed before $step: one group serves"
    is "$(serving)" "1.0.0-1" "killed before $step: the newer version"
    rel=$((rel == 3 ? 2 : 3))
done

# The same for a rollback: kill it at every step, a new job is refused, abort the old
# one, and the cluster is as it was.
disabled_one() {
    "$KILN" status hello-world --env test --json |
        json "[g['name'] for g in d[0]['envs'][0]['groups'] if not g['enabled']][0]"
}
run "$KILN" rollback hello-world --env test --to "$(disabled_one)"
rollback_steps=$(steps_of "$(last_job)")
diag "rollback steps: $rollback_steps"
ok "$([ "$(echo "$rollback_steps" | wc -w)" -ge 6 ]; echo $?)" "the rollback recorded its steps"
for step in $rollback_steps; do
    before=$(groups)
    KILN_TEST_KILL_AT="rollback:$step:before" "$KILN" rollback hello-world --env test \
        --to "$(disabled_one)" >/dev/null 2>&1
    killed=$(last_job)
    is "$(job_state "$killed")" "interrupted" "rollback killed before $step: interrupted"
    run "$KILN" rollback hello-world --env test
    is "$RC" 1 "rollback killed before $step: a new rollback is refused"
    like "$ERR" "interrupted rollback, job $killed" "rollback killed before $step: naming the job"
    run "$KILN" abort "$killed"
    is "$RC" 0 "rollback killed before $step: abort $killed"
    is "$(groups)" "$before" "rollback killed before $step: the groups are as before"
    is "$(enabled_groups)" 1 "rollback killed before $step: one group serves"
done

# ---- a failure after the new group exists puts the cluster back ----
for step in wait-healthy enable wait-in-service disable-old; do
    before=$(groups)
    was=$(serving)
    KILN_TEST_FAIL_AT="deploy:$step" deploy 3
    is "$RC" 1 "a deploy failing at $step fails"
    like "$ERR" "hello-world-test is as it was before this job" "at $step: and says the cluster is as before"
    is "$(groups)" "$before" "at $step: no group left over, the same group enabled"
    is "$(serving)" "$was" "at $step: the same version serves"
    is "$(job_state "$(last_job)")" "failed" "at $step: the job is failed, nothing left to abort"
done
for step in enable wait-in-service disable-current mark-rejected; do
    before=$(groups)
    was=$(serving)
    KILN_TEST_FAIL_AT="rollback:$step" run "$KILN" rollback hello-world --env test --to "$(disabled_one)"
    is "$RC" 1 "a rollback failing at $step fails"
    like "$ERR" "is as it was before this job" "at $step: and puts the cluster back"
    is "$(groups)" "$before" "at $step: the same groups, the same one enabled, the same marks"
    is "$(serving)" "$was" "at $step: the same version serves"
done

# ---- two builds at once get two releases ----
"$KILN" build hello-world >"$T_TMP/b1.out" 2>"$T_TMP/b1.err" &
b1=$!
"$KILN" build hello-world >"$T_TMP/b2.out" 2>"$T_TMP/b2.err" &
b2=$!
wait "$b1"; r1=$?
wait "$b2"; r2=$?
is "$r1:$r2" "0:0" "two builds of one app at once both succeed"
ok "$([ -s "$T_TMP/b1.out" ] && [ "$(cat "$T_TMP/b1.out")" != "$(cat "$T_TMP/b2.out")" ]; echo $?)" \
    "with distinct releases ($(cat "$T_TMP/b1.out") and $(cat "$T_TMP/b2.out"))"

# ---- a spec written the usual way: Release: 1%{?dist} ----
mkdir -p "$T_TMP/dist"
cp -r "$SRC"/. "$T_TMP/dist/"
sed -i 's/^Release: *%{app_release}/Release: 1%{?dist}/' "$T_TMP/dist/hello-world.spec"
grep -q '^Release: 1%{?dist}' "$T_TMP/dist/hello-world.spec" || diag "the example's Release line moved"
run "$KILN" build hello-world --source "$T_TMP/dist"
is "$RC" 0 "a spec with Release: 1%{?dist} builds"
d1=$OUT
run "$KILN" build hello-world --source "$T_TMP/dist"
is "$RC" 0 "and builds again"
like "$d1 $OUT" "^hello-world-1.0.0-1\.k[0-9]+\.[a-z0-9_]+ hello-world-1.0.0-1\.k[0-9]+\." \
    "as 1.kN, kiln's dist ($d1, $OUT)"
ok "$([ "$d1" != "$OUT" ]; echo $?)" "each build its own release"

# ---- kiln try of an app that prints a 100 MB line keeps only a bounded part of it ----
mkdir -p "$T_TMP/bigline"
cp -r "$SRC"/. "$T_TMP/bigline/"
sed -i 's|^int main(int argc, char \*\*argv)$|static void big_line(void)\n{\n    static char b[1 << 20];\n    memset(b, 120, sizeof b);\n    for (int i = 0; i < 100; i++)\n        fwrite(b, 1, sizeof b, stdout);\n    fputc(10, stdout);\n    fflush(stdout);\n}\n\nint main(int argc, char **argv)|; s|^    if (argc > 1) {$|    big_line();\n    if (argc > 1) {|' "$T_TMP/bigline/src/hello-world.c"
grep -q big_line "$T_TMP/bigline/src/hello-world.c" || diag "the example's main moved: the 100 MB line is not printed"
maxrss=$(python3 - "$KILN" "$T_TMP/bigline" <<'PYEOF'
import resource, subprocess, sys
r = subprocess.run([sys.argv[1], "try", "--source", sys.argv[2]], capture_output=True)
print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
PYEOF
)
is "${maxrss% *}" 0 "try of an app printing a 100 MB line passes"
ok "$([ "${maxrss#* }" -lt 100 ]; echo $?)" "and kiln keeps under 100 MB of it (max RSS ${maxrss#* } MB)"

done_testing
