#!/usr/bin/env bash
# Chaos under load: a group of 3, a SIGKILL of a random instance every 2 s while a load
# generator goes through the load balancer; availability must stay >= 99.9 %. Then the
# chaos monkey itself: 1 s mean for 20 s, kills happen, never two inside the minimum,
# every one replaced. CHAOS_SOAK_SECONDS sets the soak (CI: 15; the long run: 60).
. "$KILN_TESTLIB/harness.sh"

cloud_up
command -v wrk >/dev/null || skip_all "wrk is not installed (apt-get install wrk)"
SOAK=${CHAOS_SOAK_SECONDS:-15}
SRC="$KILN_SRCDIR/examples/hello-world"
"$KILN" create-app hello-world --env test --health-check-url /health_check --port 8080 --source "$SRC" >/dev/null
run "$KILN" deploy hello-world --env test --desired 3 --min 3 --max 3
is "$RC" 0 "a group of 3 serves"
group=$OUT

# Every request on a fresh connection (see pipeline.sh): an error is a real failure.
wrk -t2 -c8 -d"$((SOAK + 2))s" -H "Host: hello-world.test.localhost" -H "Connection: close" \
    "http://127.0.0.1:$KILN_LB_PORT/" >"$T_TMP/wrk.out" 2>&1 &
wrk_pid=$!
sleep 1
kills=0
start=$(date +%s%N)
for k in $(seq 0 $((SOAK / 2 - 1))); do
    # on a fixed 2 s schedule, however long picking the victim took
    now=$(date +%s%N)
    due=$((start + k * 2000000000))
    [ "$now" -lt "$due" ] && sleep "$(python3 -c "print(($due - $now) / 1e9)")"
    pid=$(state_json | json "__import__('random').choice([i['pid'] for i in d['result']['instances'] if i['group']=='$group' and i['state']=='running'])")
    kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
done
wait "$wrk_pid"
total=$(grep -oE '^ +[0-9]+ requests' "$T_TMP/wrk.out" | grep -oE '[0-9]+')
non2xx=$(grep -oE 'Non-2xx or 3xx responses: [0-9]+' "$T_TMP/wrk.out" | grep -oE '[0-9]+$')
sockerr=$(grep -oE 'Socket errors: .*' "$T_TMP/wrk.out" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
failed=$(( ${non2xx:-0} + ${sockerr:-0} ))
avail=$(python3 -c "print('%.4f' % (100.0 * ($total - $failed) / $total))")
diag "chaos soak: $kills SIGKILLs in ${SOAK}s; $total requests, $failed failed: availability $avail %"
ok "$(python3 -c "import sys; sys.exit(0 if ($total - $failed) / $total >= 0.999 else 1)"; echo $?)" \
    "availability under SIGKILLs every 2 s is >= 99.9 % ($avail %)"
ok "$([ "$kills" -ge $((SOAK / 2 - 1)) ]; echo $?)" "the kills happened ($kills, one every 2 s)"
wait_for 20 group_healthy_is "$group" 3
ok $? "the group is back to 3 healthy"

# The monkey: 1 s mean, 500 ms minimum, for 20 s.
run "$KILN" chaos hello-world --env test --enable --mean-time-between-kills 1s --min-time-between-kills 500ms
is "$RC" 0 "chaos on"
from=$(wc -l <"$KILN_HOME/events.log")
sleep 20
run "$KILN" chaos hello-world --env test --disable
is "$RC" 0 "chaos off"
tail -n +"$((from + 1))" "$KILN_HOME/events.log" >"$T_TMP/chaos.events"
python3 - "$T_TMP/chaos.events" >"$T_TMP/chaos.check" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
kills = [e for e in ev if e.get("type") == "terminate" and e.get("cause") == "chaos"]
times = sorted(e["time_us"] for e in kills)
gaps = [b - a for a, b in zip(times, times[1:])]
rec = {e.get("message", "") for e in ev if e.get("type") == "recovered"}
replaced = sum(1 for k in kills if any(k["instance"] in m for m in rec))
print(len(kills), min(gaps) / 1000 if gaps else 99999, replaced)
PY
read -r nkills mingap nrepl <"$T_TMP/chaos.check"
diag "chaos monkey: $nkills kills in 20 s, closest two ${mingap} ms apart, $nrepl reported recovered"
ok "$([ "$nkills" -ge 5 ]; echo $?)" "kills happen ($nkills in 20 s at a 1 s mean)"
ok "$(python3 -c "import sys; sys.exit(0 if $mingap >= 500 else 1)"; echo $?)" "never two kills inside the 500 ms minimum (closest: $mingap ms)"
wait_for 20 group_healthy_is "$group" 3
ok $? "every kill replaced: the group is back to 3 healthy"
# A replacement killed before it is healthy never "recovers" itself: its successor
# does. So recoveries are fewer than kills; each names what it replaced and the time.
ok "$([ "$nrepl" -ge 1 ]; echo $?)" "recoveries are reported ($nrepl for $nkills kills)"
bad=$(grep '"type":"recovered"' "$T_TMP/chaos.events" | grep -vc '"replaces":"i-[0-9a-f]*".*"recovery_ms":[0-9]')
is "$bad" 0 "every recovery names the instance it replaced and its time to recover"

done_testing
