# kiln end-to-end test harness (sourced by tests/e2e/*.sh). Speaks TAP.
#
# Every test runs the real binaries from the build tree in a fresh, private state
# dir and config, with the environment pinned (TZ, LANG, TERM, HOME) so results do
# not depend on the machine. Console tests run kiln in a private tmux server at a
# fixed size and compare screens as text, with times and ids masked.

set -u

: "${KILN_BUILDDIR:?run through make check (KILN_BUILDDIR unset)}"
: "${KILN_SRCDIR:?run through make check (KILN_SRCDIR unset)}"

KILN="$KILN_BUILDDIR/kiln"
KILND="$KILN_BUILDDIR/kilnd"

T_N=0
T_FAILED=0
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-test.XXXXXX")
chmod 700 "$T_TMP"
export HOME="$T_TMP/home" KILN_HOME="$T_TMP/state" XDG_CONFIG_HOME="$T_TMP/config"
export XDG_STATE_HOME="$T_TMP/xdg-state" TZ=UTC LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color
unset KILN_CONFIG NO_COLOR
mkdir -p "$HOME" "$XDG_CONFIG_HOME"
T_TMUX_SOCK="$T_TMP/tmux.sock"
T_CLEANUPS=""

t_cleanup() {
    for c in $T_CLEANUPS; do "$c" || :; done
    [ -S "$T_TMUX_SOCK" ] && tmux -S "$T_TMUX_SOCK" kill-server 2>/dev/null
    if [ "$T_FAILED" -eq 0 ] && [ -z "${KILN_KEEP_TMP:-}" ]; then
        chmod -R u+w "$T_TMP" 2>/dev/null
        rm -rf "$T_TMP"
    else
        echo "# test files kept in $T_TMP"
    fi
}
trap t_cleanup EXIT

# Registers a function to run at exit (e.g. stopping a daemon the test started).
at_exit() { T_CLEANUPS="$1 $T_CLEANUPS"; }

ok() { # ok COND_EXIT_STATUS DESCRIPTION
    T_N=$((T_N + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $T_N - $2"
    else
        echo "not ok $T_N - $2"
        T_FAILED=$((T_FAILED + 1))
    fi
}

diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# run CMD...: runs it, keeping stdout in $OUT, stderr in $ERR and the status in $RC.
run() {
    OUT="$T_TMP/out.$T_N" ERRF="$T_TMP/err.$T_N"
    "$@" >"$OUT" 2>"$ERRF"
    RC=$?
    ERR=$(cat "$ERRF")
    OUT=$(cat "$OUT")
}

is() { # is GOT WANT DESCRIPTION
    if [ "$1" = "$2" ]; then
        ok 0 "$3"
    else
        ok 1 "$3"
        diag "got:  $1" "want: $2"
    fi
}

like() { # like TEXT GREP-PATTERN DESCRIPTION
    if printf '%s\n' "$1" | grep -qE -- "$2"; then
        ok 0 "$3"
    else
        ok 1 "$3"
        diag "no match for /$2/ in:" "$1"
    fi
}

unlike() { # unlike TEXT GREP-PATTERN DESCRIPTION
    if printf '%s\n' "$1" | grep -qE -- "$2"; then
        ok 1 "$3"
        diag "unexpected match for /$2/ in:" "$1"
    else
        ok 0 "$3"
    fi
}

skip_all() { echo "1..0 # SKIP $1"; exit 0; }

done_testing() {
    echo "1..$T_N"
    [ "$T_FAILED" -eq 0 ]
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds; returns 1 on timeout.
wait_for() {
    local deadline=$(( $(date +%s%N) / 1000000 + $1 * 1000 ))
    shift
    while ! "$@" >/dev/null 2>&1; do
        [ $(( $(date +%s%N) / 1000000 )) -ge "$deadline" ] && return 1
        sleep 0.1
    done
}

# --- the console in tmux -------------------------------------------------------

# tmux_start COLS ROWS CMD...: a private tmux server with one detached session.
tmux_start() {
    local cols=$1 rows=$2
    shift 2
    command -v tmux >/dev/null || skip_all "tmux is not installed (apt-get install tmux)"
    tmux -S "$T_TMUX_SOCK" -f /dev/null new-session -d -s t -x "$cols" -y "$rows" \
        env HOME="$HOME" KILN_HOME="$KILN_HOME" XDG_CONFIG_HOME="$XDG_CONFIG_HOME" \
        TZ=UTC LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen-256color "$@"
    tmux -S "$T_TMUX_SOCK" set-option -t t remain-on-exit on >/dev/null
}

tmux_keys() { tmux -S "$T_TMUX_SOCK" send-keys -t t "$@"; }
tmux_resize() { tmux -S "$T_TMUX_SOCK" resize-window -t t -x "$1" -y "$2"; }

# The screen as text with the volatile parts masked: clock times, ages/durations,
# instance ids, image digests, pids and ports.
screen_masked() {
    tmux -S "$T_TMUX_SOCK" capture-pane -p -t t | sed -E \
        -e 's/[0-9]{2}:[0-9]{2}:[0-9]{2}/HH:MM:SS/g' \
        -e 's/\bi-[0-9a-f]{8,17}\b/i-XXXXXXXX/g' \
        -e 's/\bimg-[0-9a-f]{12}\b/img-XXXXXXXXXXXX/g' \
        -e 's/127\.0\.0\.1:[0-9]+/127.0.0.1:PORT/g' \
        -e 's/\bpid [0-9]+/pid N/g' \
        -e 's/\b[0-9]+(\.[0-9]+)?(ms|s|m|h|d)\b/DUR/g'
}

# screen_wait SECONDS PATTERN: waits until the screen shows PATTERN (grep -E).
screen_has() { tmux -S "$T_TMUX_SOCK" capture-pane -p -t t | grep -qE -- "$1"; }
screen_wait() { wait_for "$1" screen_has "$2"; }

# screen_compare NAME: compares the masked screen with tests/e2e/screens/NAME.txt;
# KILN_UPDATE_SCREENS=1 writes it instead.
screen_compare() {
    local want="$KILN_SRCDIR/tests/e2e/screens/$1.txt" got="$T_TMP/screen.$1.txt"
    screen_masked >"$got"
    if [ -n "${KILN_UPDATE_SCREENS:-}" ]; then
        mkdir -p "$(dirname "$want")"
        cp "$got" "$want"
    fi
    if diff -u "$want" "$got" >"$T_TMP/screen.$1.diff" 2>&1; then
        ok 0 "screen $1 matches"
    else
        ok 1 "screen $1 matches"
        sed 's/^/# /' "$T_TMP/screen.$1.diff"
    fi
}

# --- the AWS fixture ---------------------------------------------------------------

# aws_fixture_up [ARGS...]: starts tests/lib/aws_fixture.py with ARGS (stopped at exit)
# and sets FX, its http://127.0.0.1:PORT; bails out if it does not start.
aws_fixture_up() {
    python3 "$KILN_TESTLIB/aws_fixture.py" --port 0 "$@" \
        >"$T_TMP/fixture.out" 2>"$T_TMP/fixture.err" &
    FX_PID=$!
    at_exit aws_fixture_down
    wait_for 20 grep -q '^PORT ' "$T_TMP/fixture.out" ||
        { echo "Bail out! the AWS fixture did not start: $(cat "$T_TMP/fixture.err")"; exit 1; }
    FX="http://127.0.0.1:$(sed -n 's/^PORT //p' "$T_TMP/fixture.out")"
}
aws_fixture_down() { kill "$FX_PID" 2>/dev/null; wait "$FX_PID" 2>/dev/null; }

# aws_kiln_env SECRET: kiln on --provider aws against the fixture at $FX, with the secret
# key SECRET in the environment, no profile or region from the machine, quick retries,
# and a config that bakes with tests/lib/aws_aminate.py into the repo dir $T_TMP/repo.
aws_kiln_env() {
    unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_SESSION_TOKEN \
        AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
    export AWS_ACCESS_KEY_ID=AKIDKILNTEST AWS_SECRET_ACCESS_KEY="$1" AWS_ENDPOINT_URL="$FX"
    export AWS_EC2_METADATA_DISABLED=true KILN_AWS_BACKOFF_SCALE=0.1
    mkdir -p "$XDG_CONFIG_HOME/kiln" "$T_TMP/repo"
    cat >"$XDG_CONFIG_HOME/kiln/config" <<EOF
[core]
provider = aws
[aws]
region = us-east-1
hosted_zone = example.test
bake_method = aminate
aminate_command = python3 $KILN_TESTLIB/aws_aminate.py {package} {nvr}
package_repo = $T_TMP/repo
EOF
}

# --- the local cloud ---------------------------------------------------------------

# A free TCP port on 127.0.0.1, from the kernel.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# api OP [JSON]: one raw request to kilnd; the reply in $OUT, the status in $RC.
api() { run python3 "$KILN_TESTLIB/kilnd_api.py" "$KILN_HOME/kilnd.sock" "$@"; }

# jq-less JSON queries for tests: json EXPR evaluates a Python expression on `d`
# (the JSON read from stdin).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# Starts kilnd for this test's state dir on a free load balancer port, and stops it
# (with its instances and nginx) when the test ends.
cloud_up() {
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || skip_all "nginx is not installed"
    export PATH="$PATH:/usr/sbin"
    KILN_LB_PORT=$(free_port)
    export KILN_LB_PORT
    run "$KILN" cloud start
    [ "$RC" -eq 0 ] || { echo "Bail out! kilnd did not start: $ERR"; exit 1; }
    at_exit cloud_down
}

cloud_down() {
    "$KILN" cloud stop --all >/dev/null 2>&1
}

# build_rpm RELEASE [rpmbuild args...]: builds the example app; prints the RPM's path.
build_rpm() {
    local rel=$1 top="$T_TMP/rpm-$1"
    shift
    mkdir -p "$top"
    rpmbuild -bb --define "_topdir $top" --define "_sourcedir $KILN_SRCDIR/examples/hello-world/src" \
        --define "app_release $rel" "$@" "$KILN_SRCDIR/examples/hello-world/hello-world.spec" \
        >"$top/build.log" 2>&1 || { cat "$top/build.log" >&2; return 1; }
    ls "$top"/RPMS/*/hello-world-*.rpm
}

# lb_get APP ENV [PATH]: a request through the local load balancer; body in $BODY,
# HTTP status in $CODE.
lb_get() {
    local out
    out=$(curl -s -m 5 -w '\n%{http_code}' -H "Host: $1.$2.localhost" \
        "http://127.0.0.1:$KILN_LB_PORT${3:-/}")
    CODE=${out##*$'\n'}
    BODY=${out%$'\n'*}
    BODY=${BODY%$'\n'}
}

# state_json: kilnd's whole state.
state_json() { python3 "$KILN_TESTLIB/kilnd_api.py" "$KILN_HOME/kilnd.sock" state; }

# healthy_count GROUP: running+healthy instances of GROUP.
healthy_count() {
    state_json | json "sum(1 for i in d['result']['instances'] if i['group']=='$1' and i['state']=='running' and i['health']=='healthy')"
}
in_service_count() {
    state_json | json "sum(1 for i in d['result']['instances'] if i['group']=='$1' and i['lb_state']=='in-service')"
}

# group_healthy_is GROUP N: true when GROUP has N running, healthy instances (for wait_for).
group_healthy_is() { [ "$(healthy_count "$1")" -eq "$2" ]; }

# enabled_groups [ENV]: how many groups of hello-world ENV (test) are enabled.
enabled_groups() {
    "$KILN" status hello-world --env "${1:-test}" --json |
        json "sum(1 for g in d[0]['envs'][0]['groups'] if g['enabled'])"
}
unmount_tiny() { umount "$T_TMP/tiny" 2>/dev/null; }
# in_service_is GROUP N: true when GROUP has N instances in service (for wait_for).
in_service_is() { [ "$(in_service_count "$1")" -eq "$2" ]; }

# --- jobs ------------------------------------------------------------------------------

# last_job KIND: the id of the newest job of KIND (deploy, rollback, ...) that succeeded.
last_job() {
    "$KILN" jobs --json | json "[j['job'] for j in d if j['kind']=='$1' and j['state']=='succeeded'][-1]"
}

# job_steps JOB: the steps job JOB went through, in order, each once, from its journal
# (every step is stamped "before" it runs). The kill-at-every-step tests take their
# steps from here, so a step added to a job kind is covered without editing them.
job_steps() {
    python3 -c '
import json, sys
seen = []
for s in json.load(open(sys.argv[1]))["steps"]:
    if s["phase"] == "before" and s["name"] not in seen:
        seen.append(s["name"])
print(" ".join(seen))' "$KILN_HOME/journal/$1.json"
}
