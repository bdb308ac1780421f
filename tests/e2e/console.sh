#!/usr/bin/env bash
# The console, driven with real keystrokes in a private tmux server against the real
# local cloud, its screens compared as text (times and ids masked).
. "$KILN_TESTLIB/harness.sh"

command -v tmux >/dev/null || skip_all "tmux is not installed (apt-get install tmux)"

# The theme files of the source tree (a VPATH build has none next to the binary).
THEMES="KILN_THEME_DIR=$KILN_SRCDIR/themes"

# console_start COLS ROWS [kiln options...]: a fresh console in a fresh tmux server.
# A shell around kiln writes its exit status to $STATUS_FILE: tmux does not always
# learn the status of a pane whose program had threads.
STATUS_FILE="$T_TMP/console.status"
console_start() {
    local cols=$1 rows=$2
    shift 2
    tmux -S "$T_TMUX_SOCK" kill-server 2>/dev/null
    rm -f "$STATUS_FILE"
    tmux_start "$cols" "$rows" sh -c '"$@"; echo $? >"$0"' "$STATUS_FILE" \
        env "$THEMES" KILN_LB_PORT="${KILN_LB_PORT:-}" PATH="$PATH" ${CONSOLE_ENV:-} "$KILN" "$@"
    screen_wait 30 'Apps \(' || diag "the console did not start:" "$(screen_masked)"
}

# pane_status: "dead STATUS" once kiln has exited, "alive" before.
pane_status() {
    if [ -s "$STATUS_FILE" ]; then echo "dead $(cat "$STATUS_FILE")"; else echo alive; fi
}
pane_dead() { [ -s "$STATUS_FILE" ]; }

# kiln_pid: the console's process (the shell's child).
kiln_pid() {
    pgrep -P "$(tmux -S "$T_TMUX_SOCK" list-panes -t t -F '#{pane_pid}')" | head -1
}

# keys_slow KEY...: one key at a time, so that Esc is not read as Meta with the next.
keys_slow() {
    for k in "$@"; do
        tmux_keys "$k"
        sleep 0.15
    done
}

cloud_up

# --- an empty state dir: the console starts and says so ----------------------------

console_start 100 30
screen_wait 10 'no apps yet'
ok $? "with no apps the Apps pane says how to create one"
screen_wait 5 'local ●'
ok $? "the status line shows the provider, connected"
screen_compare empty

# --- help, generated from the key and command tables --------------------------------

tmux_keys '?'
screen_wait 5 'Moving around'
ok $? "? opens the help"
like "$(screen_masked)" 'j, Down +move-down +Move down' "help lists the keys with their actions"
screen_compare help
tmux_keys / d e p l o Enter
screen_wait 5 'd +deploy +Deploy to the selected cluster'
ok $? "/ finds in the help: the keys that change things are there"
keys_slow Escape
tmux_keys G
screen_wait 5 "The console's own : commands"
ok $? "help ends with the command table and the console's commands"
like "$(screen_masked)" 'theme NAME' "the console's commands are in the help"
keys_slow Escape
screen_wait 5 'Apps \('
ok $? "Esc closes the help"

# --- resizing ---------------------------------------------------------------------------

tmux_resize 80 24
screen_wait 5 '^─ Apps \(0\) ─+┬'
ok $? "at 80x24 the three panes are drawn"
unlike "$(screen_masked)" 'too small' "80x24 is not too small"
screen_compare size-80x24
tmux_resize 200 60
screen_wait 5 '─ Apps \(0\) ─{30,}┬'
ok $? "at 200x60 the panes take the room"
screen_compare size-200x60
tmux_resize 60 20
screen_wait 5 'terminal too small \(need 80x24, have 60x20\)'
ok $? "below 80x24 the console says the terminal is too small"
tmux_keys R
sleep 0.3
like "$(pane_status)" alive "and keeps working"
tmux_resize 100 30
screen_wait 5 'Apps \(0\)'
ok $? "back at 100x30 the panes are back"

# --- the : line: completion and history ---------------------------------------------

tmux_keys : v e r s Tab
screen_wait 5 '^:version *$'
ok $? ": completes command names with Tab"
tmux_keys Enter
screen_wait 5 'version kiln [0-9]+\.[0-9]+'
ok $? "the command runs and its output goes to the log"
tmux_keys : c o n f Tab
screen_wait 5 '^:config *$'
ok $? "completion again"
keys_slow C-u Escape
tmux_keys : Up
screen_wait 5 '^:version *$'
ok $? "Up recalls the previous line from the history"
keys_slow Escape
tmux_keys : 'nosuchcommand' Enter
screen_wait 5 "unknown command 'nosuchcommand'"
ok $? "an unknown command says so"
tmux_keys : 'bake --help' Enter
screen_wait 5 'bake usage: kiln bake APP'
ok $? ":bake --help shows bake's help in the log, not over the screen"
tmux_keys : "help 'unterminated" Enter
screen_wait 5 'quote .* is not closed'
ok $? "quoting errors are reported, nothing runs"

tmux_keys q
wait_for 10 pane_dead
ok $? "q quits when no job runs"
is "$(pane_status)" "dead 0" "with status 0"
ok "$([ -s "$KILN_HOME/console_history" ] || [ -n "$(ls "$KILN_HOME" | grep -i hist)" ]; echo $?)" \
    "the : history is saved in the state dir"

console_start 100 30
tmux_keys : Up
screen_wait 5 '^:(version|config|help .*) *$'
ok $? "the history survives a restart"
keys_slow Escape

# --- themes ------------------------------------------------------------------------------

tmux_keys : 'theme light' Enter
screen_wait 5 'theme light'
ok $? ":theme switches the theme"
tmux_keys : 'theme nosuchtheme' Enter
screen_wait 5 "theme 'nosuchtheme' not found"
ok $? "an unknown theme says so"
tmux_keys q
wait_for 10 pane_dead

printf 'normal = default default\ntitle = purple default bold\n' >"$T_TMP/broken.theme"
mkdir -p "$XDG_CONFIG_HOME/kiln"
printf '[console]\ntheme = %s\n' "$T_TMP/broken.theme" >"$XDG_CONFIG_HOME/kiln/config"
console_start 100 30
screen_wait 5 "broken.theme:2: title: 'purple' is not a colour"
ok $? "a broken theme file is reported with its file and line"
like "$(pane_status)" alive "and the console runs on with the default theme"
tmux_keys q
wait_for 10 pane_dead
rm -f "$XDG_CONFIG_HOME/kiln/config"

# --- read-only mode ----------------------------------------------------------------------

console_start 100 30 --read-only
screen_wait 5 'READ-ONLY'
ok $? "read-only mode shows a badge"
tmux_keys d
screen_wait 5 "read-only: 'deploy' changes things"
ok $? "d is refused in read-only mode"
tmux_keys : 'deploy hello-world --env test' Enter
screen_wait 5 "read-only: 'deploy' changes things"
ok $? ":deploy is refused in read-only mode"
tmux_keys '?'
screen_wait 5 'Moving around'
unlike "$(tmux -S "$T_TMUX_SOCK" capture-pane -p -t t -S 0 -E 200)" 'Changing things' \
    "help hides the keys that change things"
tmux_keys G
sleep 0.3
unlike "$(screen_masked)" '^  (deploy|destroy|rollback) ' "and the commands that change things"
keys_slow Escape q
wait_for 10 pane_dead

# --- the cloud not reachable -------------------------------------------------------------

CONSOLE_ENV="KILN_KILND=/nonexistent/kilnd" console_start 100 30 --home "$T_TMP/other-state"
screen_wait 10 'no inventory \(retrying in [0-9]+s\)'
ok $? "when the local cloud cannot be reached the status line says why and retries"
like "$(pane_status)" alive "and the console keeps running"
tmux_keys q
wait_for 10 pane_dead

# --- the pipeline: browse, deploy from the dialog, rollback in prod, chaos -----------------

if ! "$KILN" help deploy >/dev/null 2>&1; then
    echo "# the pipeline is not in this build: skipping the deploy tests"
    done_testing
    exit $?
fi

run "$KILN" create-app hello-world --env test --port 8080 --health-check-url /health_check \
    --source "$KILN_SRCDIR/examples/hello-world"
is "$RC" 0 "create-app hello-world --env test"
run "$KILN" create-app hello-world --env prod --port 8080 --health-check-url /health_check \
    --source "$KILN_SRCDIR/examples/hello-world"
is "$RC" 0 "create-app hello-world --env prod"
run "$KILN" deploy hello-world --env test --desired 2 --max 2
is "$RC" 0 "a first deploy from the CLI"

console_start 100 30
screen_wait 10 'hello-world +prod'
ok $? "the app's clusters are listed"
keys_slow j
screen_wait 5 'v000 ● 2/2'
ok $? "the test cluster's group is enabled with 2/2 in service"
keys_slow Tab Tab
screen_wait 5 'i-[0-9a-f]+ +● healthy'
ok $? "Tab Tab reaches the instances, healthy"
keys_slow Enter
screen_wait 5 'instance +i-[0-9a-f]+ of hello-world-test-v000: running, healthy'
ok $? "Enter on an instance shows its details in the log"
keys_slow Escape Escape

# Deploy from the dialog: the sizes, then [Deploy], then yes.
tmux_keys d
screen_wait 5 'Deploy to hello-world-test'
ok $? "d opens the deploy dialog"
screen_wait 5 'then hello-world-test-v000 \('
ok $? "with a preview of what changes"
# The package field has the newest package; Min, Max and Desired follow.
keys_slow Down Down C-u 2 Down C-u 2 Down C-u 2 Down Down Enter
screen_wait 5 'deploy\?'
ok $? "Deploy asks for a confirmation"
like "$(screen_masked)" 'kiln deploy hello-world --env test --package hello-world-' \
    "showing the command line it runs"
tmux_keys y
screen_wait 30 'deploy hello-world-test .*[0-9]/2'
ok $? "the status line shows the running deploy with its progress bar"
screen_wait 60 'job [0-9]+ deploy hello-world-test succeeded'
ok $? "the deploy runs as a job, its log streams to the end"
like "$(screen_masked)" 'hello-world-test-v001: 2/2 in service' "the log shows its steps"
screen_wait 10 'v001 ● 2/2'
ok $? "the new group serves"
like "$(screen_masked)" 'v001 ● 2/2 +1\.0\.0-1 ' "the Groups pane shows which release each group runs"

# Rollback in prod: typed confirmation.
run "$KILN" deploy hello-world --env prod --desired 1 --confirm prod
run "$KILN" deploy hello-world --env prod --desired 1 --confirm prod
is "$RC" 0 "two deploys to prod"
keys_slow g
screen_wait 10 'v001 ● 1/1'
tmux_keys r
screen_wait 5 'type prod to confirm'
ok $? "rollback in prod asks to type the env's name"
tmux_keys p r o x Enter
screen_wait 5 "'prox' is not 'prod': nothing was done"
ok $? "a wrong name does nothing"
tmux_keys r
screen_wait 5 'type prod to confirm'
tmux_keys p r o d Enter
screen_wait 30 'job [0-9]+ rollback hello-world-prod succeeded'
ok $? "the right name rolls back"
screen_wait 10 'v000 ● 1/1'
ok $? "v000 serves again"

# Chaos: a kill appears in Events with its replacement and time to recover.
run "$KILN" chaos hello-world --env test --enable --mean-time-between-kills 1s \
    --min-time-between-kills 1s
is "$RC" 0 "chaos on for hello-world-test"
tmux_keys v
screen_wait 30 'terminate +i-[0-9a-f]+ .*chaos → i-[0-9a-f]+, recovered in'
ok $? "a chaos kill shows in Events with its replacement and time to recover"
like "$(screen_masked)" 'hello-world-test +[1-9][0-9]* +[1-9]' "the summary counts today's kills"
run "$KILN" chaos hello-world --env test --disable

# Quitting while a job runs asks first.
keys_slow Escape
tmux_keys : 'deploy hello-world --env test' Enter
screen_wait 5 'deploy\?'
tmux_keys y
sleep 0.3
tmux_keys q
screen_wait 5 'quit while jobs run\?'
ok $? "q asks when a job is running"
tmux_keys y
wait_for 60 pane_dead
st=$?
ok $st "and quits on yes"
[ $st -eq 0 ] || diag "$(pane_status)" "$(screen_masked)"
is "$(pane_status)" "dead 0" "cleanly"

# SIGTERM restores the terminal and exits.
console_start 100 30
kill -TERM "$(kiln_pid)" 2>/dev/null
wait_for 10 pane_dead
ok $? "SIGTERM ends the console"
is "$(pane_status)" "dead 0" "cleanly"

done_testing
