#!/usr/bin/env bash
# Fixes from a hostile sweep of the CLI, each checked as a user sees it: promote with the
# same env twice (was a read of freed memory), durations (one parser, one range, no
# truncation), --json failures, the order of output and errors. None needs a cloud: each
# is refused before anything starts.
. "$KILN_TESTLIB/harness.sh"

# promote --from X --to X: a usage error with clean text (it printed freed memory).
run "$KILN" promote hello-world --from test --to test
is "$RC" 2 "promote --from test --to test exits 2"
like "$ERR" "^kiln: --from and --to are the same env \(test\): promote deploys" "with clean text"
is "$(printf '%s' "$ERR" | LC_ALL=C tr -d '[:print:]\n' | wc -c)" 0 "only printable characters"
if command -v valgrind >/dev/null; then
    valgrind -q --error-exitcode=99 "$KILN" promote hello-world --from test --to test \
        >/dev/null 2>"$T_TMP/vg.err"
    vg=$?
    is "$vg" 2 "valgrind: no invalid read in promote (exit $vg)"
    unlike "$(cat "$T_TMP/vg.err")" "Invalid read" "valgrind reports nothing"
else
    ok 0 "# SKIP valgrind is not installed"
fi

# Durations: what cannot be represented is refused, not truncated (0.5ms was read as 0,
# "unchanged", while printing "chaos updated"); the CLI takes the config's ranges.
run "$KILN" chaos hello-world --env test --mean-time-between-kills 0.5ms
is "$RC" 2 "--mean-time-between-kills 0.5ms is a usage error"
like "$ERR" "finer than a millisecond" "because it is finer than 1 ms"
unlike "$OUT" "chaos updated" "and nothing claims an update"
run "$KILN" chaos hello-world --env test --min-time-between-kills 0s
is "$RC" 2 "--min-time-between-kills 0s (0 means unchanged there) is refused"
run "$KILN" chaos hello-world --env test --mean-time-between-kills 500ms
is "$RC" 2 "a chaos mean below [local] chaos_mean's 1s is refused"
run "$KILN" chaos hello-world --env test --min-time-between-kills 1m --mean-time-between-kills 30s
is "$RC" 2 "a minimum above the mean is refused"
for v in 0s 999ms 99999d 1d1ms 0.5ms 30 1.s; do
    run "$KILN" deploy hello-world --env test --image img-0123456789ab --health-timeout "$v"
    is "$RC" 2 "--health-timeout $v is a usage error (core.health_timeout is 1s to 1d)"
    printf '[core]\nhealth_timeout = %s\n' "$v" >"$T_TMP/c.conf"
    run "$KILN" --config "$T_TMP/c.conf" config
    is "$RC" 1 "and the config refuses health_timeout = $v too"
done
like "$(
    "$KILN" deploy hello-world --env test --image img-0123456789ab --health-timeout 0s 2>&1
)" "from 1s to 1d" "the refusal gives the range"
run "$KILN" chaos run --duration 0s
is "$RC" 2 "chaos run --duration 0s (0 would mean forever) is refused"
printf '[core]\nhealth_timeout = 1.5s\n' >"$T_TMP/c.conf"
run "$KILN" --config "$T_TMP/c.conf" config
like "$OUT" "^health_timeout = 1s500ms$" "the config takes 1.5s exactly"

# --json: a failure writes one JSON object on stdout, and still exits 1 or 2.
run "$KILN" --json promote hello-world --from test --to test
is "$RC" 2 "--json usage error exits 2"
is "$(printf '%s' "$OUT" | json "d['error']['code'] + ':' + str(d['error']['exit_status'])")" \
    "usage:2" "and prints {\"error\": {\"code\": \"usage\", ...}}"
like "$(printf '%s' "$OUT" | json "d['error']['message']")" "same env \(test\)" "with the message"
run "$KILN" --json nosuchcommand
is "$RC:$(printf '%s' "$OUT" | json "d['error']['code']")" "2:usage" "an unknown command too"
printf '[core]\nworkers = many\n' >"$T_TMP/bad.conf"
run "$KILN" --json --config "$T_TMP/bad.conf" config
is "$RC:$(printf '%s' "$OUT" | json "d['error']['code'] + ':' + str(d['error']['exit_status'])")" \
    "1:invalid:1" "a failing command (exit 1) writes the document too"
is "$(printf '%s\n' "$OUT" | wc -l)" 1 "one line"
run "$KILN" status --json
is "$RC:$OUT" "0:[]" "success is unchanged (no error document)"

# Output and error in order: what stdout holds comes before the error, and the usage in
# an error has no stray space.
run "$KILN" config bogus
is "$ERR" "kiln: too many arguments for 'config' at 'bogus' (usage: kiln config)" \
    "an empty usage leaves no trailing space"
"$KILN" help deploy >"$T_TMP/both" 2>&1
"$KILN" help deploy extra >>"$T_TMP/both" 2>&1
is "$(tail -1 "$T_TMP/both")" \
    "kiln: too many arguments for 'help' at 'extra' (usage: kiln help [COMMAND])" \
    "kiln help COMMAND then an error: the error on a line of its own"
is "$(tail -c 1 <(LC_ALL=C "$KILN" help deploy) | od -An -c | tr -d ' ')" '\n' \
    "help ends with a newline"

done_testing
