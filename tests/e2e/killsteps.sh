#!/usr/bin/env bash
# kiln SIGKILLed at every step boundary of a rollback and of a promote: after
# `kiln resume` and after `kiln abort` the cluster is consistent every time (one
# enabled group, serving; abort puts back the groups as they were).
. "$KILN_TESTLIB/harness.sh"

cloud_up
SRC="$KILN_SRCDIR/examples/hello-world"
"$KILN" create-app hello-world --env test --health-check-url /health_check --port 8080 --source "$SRC" >/dev/null
"$KILN" create-app hello-world --env prod --health-check-url /health_check --port 8080 >/dev/null
"$KILN" deploy hello-world --env test >/dev/null 2>&1
"$KILN" deploy hello-world --env test >/dev/null 2>&1
"$KILN" deploy hello-world --env prod --confirm prod --package hello-world-1.0.0-1.x86_64 >/dev/null 2>&1
is "$(enabled_groups test)" 1 "test has two versions, one enabled"
# A rollback and a promote that complete: their journals give the steps to kill at, so a
# step added to either is covered here without editing this list.
run "$KILN" rollback hello-world --env test
is "$RC" 0 "a rollback"
rollback_steps=$(job_steps "$(last_job rollback)")
like "$rollback_steps" "^plan .+ enable " "goes through: $rollback_steps"
run "$KILN" promote hello-world --from test --to prod --confirm prod
is "$RC" 0 "a promote"
promote_steps=$(job_steps "$(last_job promote)")
like "$promote_steps" "^resolve .+ enable " "goes through: $promote_steps"

state_of() { # the env's groups as name:on|off, newest first
    "$KILN" status hello-world --env "$1" --json |
        json "' '.join('%s:%s' % (g['name'], 'on' if g['enabled'] else 'off') for g in d[0]['envs'][0]['groups'])"
}

disabled_of() { # the env's newest disabled group
    "$KILN" status hello-world --env "$1" --json |
        json "[g['name'] for g in d[0]['envs'][0]['groups'] if not g['enabled']][0]"
}

# kill_at KIND STEP ENV HOW CMD...: runs CMD with kiln killed before STEP, then HOW.
kill_at() {
    local kind=$1 step=$2 env=$3 how=$4
    shift 4
    local before after job good=0
    before=$(state_of "$env")
    KILN_TEST_KILL_AT="$kind:$step:before" sh -c '"$@"; exit $?' sh "$KILN" "$@" >/dev/null 2>&1
    [ $? -eq 137 ] || good=1
    job=$("$KILN" jobs --json | json "([j['job'] for j in d if j['state']=='interrupted'] or [0])[-1]")
    run "$KILN" "$how" "$job"
    [ "$RC" -eq 0 ] || good=1
    [ "$(enabled_groups "$env")" -eq 1 ] || good=1
    after=$(state_of "$env")
    [ "$how" = resume ] || [ "$after" = "$before" ] || good=1
    lb_get hello-world "$env"
    [ "$CODE" = 200 ] || good=1
    ok "$good" "$kind killed before $step, $how: consistent"
    [ "$good" -eq 0 ] || diag "before: $before" "after:  $after" "$ERR"
}

for how in resume abort; do
    for step in $rollback_steps; do
        # --to: rolling back twice in a row needs it (the group rolled back from is
        # rejected, never a default target)
        kill_at rollback "$step" test "$how" rollback hello-world --env test --to "$(disabled_of test)"
    done
done
for how in resume abort; do
    for step in $promote_steps; do
        kill_at promote "$step" prod "$how" promote hello-world --from test --to prod --confirm prod
    done
done
run "$KILN" jobs
unlike "$OUT" "interrupted" "no job is left interrupted"
done_testing
