#!/usr/bin/env bash
# Protected envs (prod by default) on the CLI: without a terminal a change there needs
# --confirm ENV; on a terminal kiln asks for the env's name, as the console does.
. "$KILN_TESTLIB/harness.sh"

cloud_up
SRC="$KILN_SRCDIR/examples/hello-world"
prod_enabled() {
    "$KILN" status hello-world --env prod --json |
        json "sum(1 for g in d[0]['envs'][0]['groups'] if g['enabled'])"
}

run "$KILN" create-app hello-world --env prod --health-check-url /health_check --port 8080 --source "$SRC"
is "$RC" 0 "create-app in prod needs no confirmation (it changes nothing that serves)"
run "$KILN" deploy hello-world --env prod
is "$RC" 2 "a deploy to prod from a script is refused"
like "$ERR" "prod is a protected env: deploy there needs --confirm prod" "with the hint"
run "$KILN" deploy hello-world --env prod --confirm test
is "$RC" 2 "--confirm naming another env is refused"
like "$ERR" "--confirm test does not name the env this changes \(prod" "saying which env it changes"
run "$KILN" deploy hello-world --env prod --confirm prod
is "$RC" 0 "deploy --confirm prod works"
group=$OUT
lb_get hello-world prod
is "$CODE" 200 "prod serves"

for cmd in "destroy $group" "disable $group" "resize $group --min 0 --max 0 --desired 0" \
    "delete-app hello-world --env prod --force" "rollback hello-world --env prod" \
    "chaos hello-world --env prod --enable"; do
    # shellcheck disable=SC2086
    run "$KILN" $cmd
    is "$RC" 2 "kiln $cmd without --confirm is refused"
done
inst=$("$KILN" status hello-world --env prod --json | json "d[0]['envs'][0]['groups'][0]['instances'][0]['id']")
run "$KILN" terminate "$inst"
is "$RC" 2 "terminating a prod instance without --confirm is refused"
like "$ERR" "prod is a protected env" "its env found from the instance"
is "$(prod_enabled)" 1 "prod still has its enabled group"
lb_get hello-world prod
is "$CODE" 200 "and still serves"

# On a terminal: kiln asks, and only the env's name goes on.
printf 'test\n' | script -qec "$KILN disable $group" /dev/null >"$T_TMP/tty1" 2>&1
is "$?" 2 "on a terminal, typing another name refuses"
like "$(cat "$T_TMP/tty1")" "type its name to disable there" "after asking"
is "$(prod_enabled)" 1 "nothing was disabled"
printf 'prod\n' | script -qec "$KILN resize $group --min 1 --max 2 --desired 1" /dev/null >"$T_TMP/tty2" 2>&1
is "$?" 0 "typing the env's name goes on"

run "$KILN" --read-only status hello-world --env prod
is "$RC" 0 "reading prod needs nothing"
done_testing
