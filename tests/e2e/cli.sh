#!/usr/bin/env bash
# The kiln CLI's contract with scripts: help, version, exit statuses, clear errors.
. "$KILN_TESTLIB/harness.sh"

run "$KILN" --help
is "$RC" 0 "kiln --help exits 0"
like "$OUT" '^usage: kiln ' "kiln --help prints the usage"
like "$OUT" '^  help +show the commands' "kiln --help lists the commands from the table"

run "$KILN" --version
is "$RC" 0 "kiln --version exits 0"
like "$OUT" '^kiln [0-9]+\.[0-9]+\.[0-9]+$' "kiln --version prints the version"

run "$KILN" version --json
like "$OUT" '"kiln":"[0-9.]+"' "kiln version --json is JSON"

run "$KILN" help help
is "$RC" 0 "kiln help COMMAND exits 0"
like "$OUT" '^usage: kiln help \[COMMAND\]' "kiln help help shows its usage"

run "$KILN" deploy hello-world --help
is "$RC" 0 "kiln COMMAND --help exits 0"
like "$OUT" '^usage: kiln deploy APP' "and prints that command's usage"
is "$ERR" "" "with nothing on stderr"
run "$KILN" bake -h
like "$OUT" '^usage: kiln bake APP' "-h does the same"
run "$KILN" create-app -- --help
is "$RC" 2 "after --, --help is an argument (here a bad app name)"

run "$KILN" help no-such-command
is "$RC" 2 "kiln help UNKNOWN exits 2"
like "$ERR" "no command named 'no-such-command'" "and says which"

run "$KILN" frobnicate
is "$RC" 2 "an unknown command exits 2"
like "$ERR" "^kiln: unknown command 'frobnicate'" "and names it"

run "$KILN" --frobnicate
is "$RC" 2 "an unknown global option exits 2"
like "$ERR" "unknown option '--frobnicate'" "and names it"

run "$KILN" version --frobnicate
is "$RC" 2 "an unknown command option exits 2"
like "$ERR" "unknown option --frobnicate for 'version'" "and names the option and command"

run "$KILN" -x
is "$RC" 2 "a short unknown option exits 2"

run "$KILN" --provider gcp version
is "$RC" 2 "a bad --provider exits 2"
like "$ERR" "must be 'local' or 'aws'" "and says the choices"

run "$KILN" help version extra
is "$RC" 2 "too many arguments exit 2"

run "$KILN" --home "$T_TMP/h" config
is "$RC" 0 "kiln config runs on a fresh home"
like "$OUT" "^home = $T_TMP/h\$" "kiln config shows --home as the state dir"
like "$OUT" '^\[core\]' "kiln config prints the effective INI"

mkdir -p "$XDG_CONFIG_HOME/kiln"
printf '[core]\nworkers = lots\n' >"$XDG_CONFIG_HOME/kiln/config"
run "$KILN" config
is "$RC" 1 "a malformed config makes the command fail"
like "$ERR" "config:2: .*workers" "and names the file, line and key"
rm "$XDG_CONFIG_HOME/kiln/config"

# Hostile values never reach a shell or the state: refused with a clear error.
long=$(head -c 10240 /dev/zero | tr '\0' a)
for bad in '../etc' 'a;rm -rf /' 'has space' "$long" $'caf\xe9' '-x' 'UPPER' 'x-test-v001'; do
    run "$KILN" status "$bad"
    ok "$([ "$RC" -ne 0 ] && [ ${#ERR} -lt 600 ]; echo $?)" "status refuses a hostile app name (${bad:0:12}...) with a short error"
done
run "$KILN" deploy 'a;b' --env test
like "$ERR" "app name" "deploy names what is wrong with the app name"
run "$KILN" deploy app --env 'te-st'
like "$ERR" "env" "and with the env name"
run "$KILN" rollback app --env test --to '../../x'
is "$RC" 2 "a hostile --to group is a usage error"

# The man page documents every command of the table (the table is the truth).
missing=""
for c in $("$KILN" --help | sed -n '/^commands:/,/^$/p' | awk 'NF>1 {print $1}'); do
    grep -q "^\.B $c\b" "$KILN_SRCDIR/doc/kiln.1" || missing="$missing $c"
done
is "$missing" "" "doc/kiln.1 documents every command"

# Read-only mode refuses every mutating command of the table.
for c in create-app delete-app build bake deploy rollback promote resize enable disable destroy terminate resume abort; do
    run "$KILN" --read-only "$c" x
    like "$ERR" "read-only mode" "--read-only refuses $c"
done
run "$KILN" --read-only try --package x
like "$ERR" "read-only mode" "--read-only refuses try"
run "$KILN" --read-only chaos hello --env test --enable
like "$ERR" "read-only mode" "--read-only refuses chaos --enable"
run "$KILN" --read-only cloud stop --all
like "$ERR" "read-only mode" "--read-only refuses cloud stop"
run "$KILN" --read-only --help
unlike "$OUT" "^  deploy" "read-only help hides mutating commands"

done_testing
