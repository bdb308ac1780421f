#!/usr/bin/env bash
# console_idle: CPU used by the open console over 30 s with nothing happening
# (target < 0.5 %). The console runs in a private tmux server against a private
# local cloud with one app deployed, so it has a real inventory to refresh.
#
# Usage: bench/console_idle.sh [SECONDS]   (from the build tree; KILN=path/to/kiln)
set -u
secs=${1:-30}
KILN=${KILN:-./kiln}
SRC=${KILN_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
command -v tmux >/dev/null || { echo "console_idle: tmux is not installed"; exit 0; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-idle.XXXXXX")
chmod 700 "$tmp"
export KILN_HOME="$tmp/state" XDG_CONFIG_HOME="$tmp/config" TZ=UTC LANG=C.UTF-8 LC_ALL=C.UTF-8
export PATH="$PATH:/usr/sbin"
KILN_LB_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export KILN_LB_PORT
sock="$tmp/tmux.sock"
cleanup() {
    tmux -S "$sock" kill-server 2>/dev/null
    "$KILN" cloud stop --all >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT

"$KILN" cloud start >/dev/null 2>&1 || { echo "console_idle: the local cloud did not start"; exit 1; }
if "$KILN" create-app hello-world --env test --port 8080 --health-check-url /health_check \
    --source "$SRC/examples/hello-world" >/dev/null 2>&1; then
    "$KILN" deploy hello-world --env test --desired 3 --max 3 >/dev/null 2>&1
fi
tmux -S "$sock" -f /dev/null new-session -d -s b -x 120 -y 40 \
    env KILN_HOME="$KILN_HOME" XDG_CONFIG_HOME="$XDG_CONFIG_HOME" TZ=UTC LANG=C.UTF-8 \
    TERM=screen-256color PATH="$PATH" "$KILN"
sleep 3 # start-up and the first inventory
pid=$(pgrep -P "$(tmux -S "$sock" list-panes -t b -F '#{pane_pid}')" | head -1)
[ -n "$pid" ] || pid=$(tmux -S "$sock" list-panes -t b -F '#{pane_pid}')
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks "$pid")
sleep "$secs"
t1=$(ticks "$pid")
awk -v t="$((t1 - t0))" -v hz="$hz" -v s="$secs" \
    'BEGIN { printf "console_idle: %.2f%% of one CPU over %d s idle (%d ticks at %d Hz; target < 0.5%%)\n", 100 * t / hz / s, s, t, hz }'
