#!/usr/bin/env bash
# The local cloud under the faults of a hostile sweep: stop --all and start again, a
# lost cloud.json, an app slow to listen, a crash loop, daemonizing apps, and the
# smaller leaks (terminated instances kept forever, the lock file's pid, the balancer's
# token, a socket the user may not use).
. "$KILN_TESTLIB/harness.sh"

cloud_up
SRC="$KILN_SRCDIR/examples/hello-world"

# script_app NAME: a source tree for app NAME whose program is the shell script read
# from stdin (run by the host's /bin/sh, in the instance's root, which also holds a
# /health_check file that `python3 -m http.server` serves with 200).
script_app() {
    local dir="$T_TMP/apps/$1"
    mkdir -p "$dir/src"
    cat >"$dir/src/$1.sh"
    printf 'ok\n' >"$dir/src/health_check"
    cat >"$dir/kiln.json" <<EOF
{"name": "$1", "spec": "$1.spec", "source": "src", "start": ["/usr/bin/$1"],
 "health_check": {"path": "/health_check"}, "port_env": "PORT"}
EOF
    cat >"$dir/$1.spec" <<EOF
%{!?app_release:%global app_release 1}
%global debug_package %{nil}
%global __os_install_post %{nil}
Name: $1
Version: 1.0
Release: %{app_release}
Summary: a test app of cloud_faults.sh
License: MIT
BuildArch: noarch
Source0: $1.sh
Source1: health_check
%description
A shell script, for kiln's tests.
%install
install -D -m 0755 %{SOURCE0} %{buildroot}/usr/bin/$1
install -D -m 0644 %{SOURCE1} %{buildroot}/health_check
%files
/usr/bin/$1
/health_check
EOF
    echo "$dir"
}

group_field() { # group_field GROUP EXPR-ON-g
    state_json | json "[$2 for g in d['result']['groups'] if g['name']=='$1'][0]"
}

# --- 1. stop --all, then start: the groups keep their sizes and come back ----------
"$KILN" create-app hello-world --env test --health-check-url /health_check --port 8080 --source "$SRC" >/dev/null
run "$KILN" deploy hello-world --env test --source "$SRC" --desired 2 --min 2 --max 2
is "$RC" 0 "hello-world serves with 2 instances"
hw=$OUT
run "$KILN" cloud stop --all
is "$RC" 0 "cloud stop --all"
run "$KILN" cloud start
is "$RC" 0 "cloud start"
is "$(group_field "$hw" "(g['min'], g['desired'], g['max'], g['enabled'])")" "(2, 2, 2, True)" \
    "the group keeps min 2 / desired 2 and stays enabled"
wait_for 30 group_healthy_is "$hw" 2
ok $? "and is relaunched to 2 healthy instances"
wait_for 10 sh -c "curl -s -m 2 -H 'Host: hello-world.test.localhost' http://127.0.0.1:$KILN_LB_PORT/ | grep -q 'hello-world 1.0.0'"
ok $? "the load balancer answers 200 again"

# --- 3. an app that takes 4 s to listen is given its start-up grace ----------------
slow=$(script_app slowstart <<'EOF'
#!/bin/sh
sleep 4
exec python3 -m http.server --bind 127.0.0.1 "$PORT"
EOF
)
run "$KILN" create-app slowstart --env test --health-check-url /health_check --port 8080 \
    --health-check-grace 20s --source "$slow"
is "$RC" 0 "create-app --health-check-grace 20s"
is "$(state_json | json "[c['health']['grace_ms'] for c in d['result']['clusters'] if c['name']=='slowstart-test'][0]")" \
    20000 "kilnd records the grace period"
"$KILN" deploy slowstart --env test --source "$slow" --health-timeout 30s >"$T_TMP/slow.out" 2>"$T_TMP/slow.err" &
dpid=$!
wait_for 20 sh -c "python3 '$KILN_TESTLIB/kilnd_api.py' '$KILN_HOME/kilnd.sock' state | grep -q '\"in_grace\":true'"
ok $? "while it starts, the inventory says the instance is in its grace period"
wait_for 10 sh -c "python3 '$KILN_TESTLIB/kilnd_api.py' '$KILN_HOME/kilnd.sock' state | grep -qE 'connection refused \(start-up grace: [0-9]+s left\)'"
ok $? "and its health detail says how much of it is left"
wait "$dpid"
is "$?" 0 "a deploy of an app that needs 4 s to listen succeeds"
sg=$(cat "$T_TMP/slow.out")
is "$(state_json | json "sum(1 for i in d['result']['instances'] if i['group']=='$sg')")" 1 \
    "its instance was never replaced while it started"

# --- 4. a crash loop fails the deploy at once, with kilnd's diagnosis ---------------
crashy=$(script_app crashy <<'EOF'
#!/bin/sh
echo "crashy: starting on port $PORT" >&2
echo "crashy: cannot read /etc/crashy.conf: No such file or directory" >&2
exit 3
EOF
)
"$KILN" create-app crashy --env test --health-check-url /health_check --port 8080 --source "$crashy" >/dev/null
t0=$(date +%s)
run "$KILN" deploy crashy --env test --source "$crashy" --health-timeout 60s
took=$(( $(date +%s) - t0 ))
is "$RC" 1 "a deploy of an app that exits at once fails"
ok "$([ "$took" -lt 30 ]; echo $?)" "without waiting out the health timeout (${took}s < 30s)"
like "$ERR" "keep exiting right after they start" "the error has kilnd's diagnosis"
like "$ERR" "status 3" "with the exit status"
like "$ERR" "cannot read /etc/crashy.conf" "and the instance's last stderr line"

# --- 5. an app whose child calls setsid: terminating it ends everything it started --
mark=$((RANDOM % 50000 + 70000))
leaky=$(script_app leaky <<EOF
#!/bin/sh
setsid sleep $mark </dev/null >/dev/null 2>&1 &
exec python3 -m http.server --bind 127.0.0.1 "\$PORT"
EOF
)
strays() { pgrep -f "^sleep $mark\$" >/dev/null; }
no_strays() { ! strays; }
"$KILN" create-app leaky --env test --health-check-url /health_check --port 8080 --source "$leaky" >/dev/null
run "$KILN" deploy leaky --env test --source "$leaky"
is "$RC" 0 "an app that daemonizes a child deploys"
lg=$OUT
wait_for 10 strays
ok $? "its setsid child runs"
limage=$(group_field "$lg" "g['image']")
ipid=$(state_json | json "[i['pid'] for i in d['result']['instances'] if i['group']=='$lg' and i['state']=='running'][0]")
kpid=$(python3 "$KILN_TESTLIB/kilnd_api.py" "$KILN_HOME/kilnd.sock" hello | json "d['result']['pid']")
if [ "$(id -u)" -eq 0 ]; then
    ok "$([ "$(readlink /proc/$ipid/ns/pid)" != "$(readlink /proc/$kpid/ns/pid)" ]; echo $?)" \
        "as root, the instance runs in its own PID namespace"
fi
run "$KILN" destroy "$lg"
is "$RC" 0 "destroy the group"
wait_for 10 no_strays
ok $? "the setsid child is gone with its instance"
run "$KILN" deploy leaky --env test --image "$limage"
is "$RC" 0 "deployed again"
wait_for 10 strays
ok $? "and its setsid child runs"
"$KILN" cloud stop --all >/dev/null 2>&1
wait_for 10 no_strays
ok $? "cloud stop --all ends it too"
run "$KILN" cloud start
is "$RC" 0 "the local cloud starts again"

# --- 2. cloud.json lost: kilnd refuses to start, and `kiln cloud recover` ----------
wait_for 30 group_healthy_is "$hw" 2
running_pids() { state_json | json "sorted(i['pid'] for i in d['result']['instances'] if i['state']=='running')"; }
before=$(running_pids)
ok "$([ -f "$KILN_HOME/cloud.json.prev" ]; echo $?)" "every save keeps the previous generation in cloud.json.prev"
"$KILN" cloud stop --keep-instances >/dev/null
rm "$KILN_HOME/cloud.json"
run "$KILN" cloud start
is "$RC" 1 "with cloud.json gone, kilnd refuses to start"
like "$ERR" "cloud.json is missing, but .* holds [0-9]+ instances, [0-9]+ packages? and [0-9]+ images?" "saying what the state dir still holds"
like "$ERR" "cloud.json.prev.*kiln cloud recover" "and offering cloud.json.prev and kiln cloud recover"
ok "$(ls "$KILN_HOME/instances" | grep -q '^i-'; echo $?)" "instances/ is left alone"
run "$KILN" cloud recover
is "$RC" 0 "kiln cloud recover"
like "$OUT" "previous generation" "starts from the previous generation"
is "$(running_pids)" "$before" "the running instances are re-adopted (same pids)"
run "$KILN" deploy hello-world --env test --package hello-world-1.0.0-1.x86_64 --desired 1 --min 1 --max 1
is "$RC" 0 "and a later deploy of a known package works"
[ "$RC" -eq 0 ] || diag "$ERR"

# Without a previous generation: rebuilt from disk, the orphans stopped.
orphans=$(running_pids | tr -d '[],')
"$KILN" cloud stop --keep-instances >/dev/null
rm -f "$KILN_HOME/cloud.json" "$KILN_HOME/cloud.json.prev"
run "$KILN" cloud start
is "$RC" 1 "without cloud.json nor its previous generation, kilnd still refuses"
like "$ERR" "rebuild the state from the packages and images on disk.*kiln cloud recover" "and offers to rebuild"
run "$KILN" cloud recover
is "$RC" 0 "kiln cloud recover rebuilds from disk"
like "$OUT" "from disk: [1-9][0-9]* packages? and [1-9][0-9]* images?" "naming what it found"
gone() { for p in $orphans; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
wait_for 15 gone
ok $? "instances nobody knows any more are stopped"
wait_for 15 sh -c "! ls '$KILN_HOME/instances' | grep -q '^i-'"
ok $? "and their directories removed"
is "$(state_json | json "'hello-world-1.0.0-1.x86_64' in [p['nvr'] for p in d['result']['packages']]")" True \
    "the package repo's packages are known again"
"$KILN" create-app hello-world --env test --health-check-url /health_check --port 8080 --source "$SRC" >/dev/null
run "$KILN" deploy hello-world --env test --package hello-world-1.0.0-1.x86_64
is "$RC" 0 "and deploying one of them works"

# --- 6. kilnd.lock holds kilnd's pid ---------------------------------------------------
kpid=$(python3 "$KILN_TESTLIB/kilnd_api.py" "$KILN_HOME/kilnd.sock" hello | json "d['result']['pid']")
is "$(tr -d '\n' <"$KILN_HOME/kilnd.lock")" "$kpid" "kilnd.lock holds the pid of the running kilnd"

# --- 6. a running kilnd whose socket refuses the user says so ------------------------
if [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null; then
    chmod 711 "$KILN_HOME" "$T_TMP"
    run runuser -u nobody -- env HOME=/tmp KILN_HOME="$KILN_HOME" "$KILN" cloud status
    chmod 700 "$KILN_HOME" "$T_TMP"
    like "$ERR" "is running, but you may not use it \(owner root\)" \
        "another user is told kilnd runs but is not theirs, not that it is not running"
fi

done_testing
