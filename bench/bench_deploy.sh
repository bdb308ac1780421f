#!/usr/bin/env bash
# bench_deploy: `kiln deploy --source` on the local cloud, phase by phase, and
# `kiln rollback`. Each round deploys a new build (a new RPM release, a new image, a new
# group of 2) and then rolls it back. The phases come from the job's journal, which
# stamps every step before and after:
#   build    rpmbuild and the package repo        bake     the image
#   launch   create-group                          healthy  wait-healthy
#   switch   enable + wait-in-service + disable-old
#   overhead the deploy's wall time minus those five: kiln's own start-up, planning,
#            journaling, lock and cleanup                      (target <= 1 s)
#   deploy   the wall time of `kiln deploy`                    (target <= 10 s)
#   rollback the wall time of `kiln rollback`                  (target <= 2 s)
# Medians (and min, max) of N rounds (default 5). Prints figures, asserts nothing.
#
# Usage: bench/bench_deploy.sh [N]   (from the build tree, or with KILN_BUILDDIR set)
set -u
rounds=${1:-5}
KILN_SRCDIR=${KILN_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
KILN_BUILDDIR=${KILN_BUILDDIR:-$PWD}
KILN_TESTLIB=${KILN_TESTLIB:-$KILN_SRCDIR/tests/lib}
export KILN_SRCDIR KILN_BUILDDIR KILN_TESTLIB
[ -x "$KILN_BUILDDIR/kiln" ] || { echo "bench_deploy: no kiln in $KILN_BUILDDIR (run it from the build tree)"; exit 1; }
. "$KILN_TESTLIB/harness.sh"
command -v rpmbuild >/dev/null || { echo "bench_deploy: rpmbuild is not installed"; exit 0; }

cloud_up
SRC="$KILN_SRCDIR/examples/hello-world"
run "$KILN" create-app hello-world --env test --health-check-url /health_check --port 8080 --source "$SRC"
[ "$RC" -eq 0 ] || { echo "bench_deploy: create-app failed: $ERR"; exit 1; }

ms_now() { echo $(($(date +%s%N) / 1000000)); }
: >"$T_TMP/rounds"
for n in $(seq 1 "$rounds"); do
    t0=$(ms_now)
    run "$KILN" deploy hello-world --env test --source "$SRC" --desired 2
    t1=$(ms_now)
    [ "$RC" -eq 0 ] || { echo "bench_deploy: deploy $n failed: $ERR"; exit 1; }
    deploy_job=$("$KILN" jobs --json | json "[j['job'] for j in d if j['kind']=='deploy'][-1]")
    # The first round has nothing to roll back to.
    if [ "$n" -gt 1 ]; then
        t2=$(ms_now)
        run "$KILN" rollback hello-world --env test
        t3=$(ms_now)
        [ "$RC" -eq 0 ] || { echo "bench_deploy: rollback $n failed: $ERR"; exit 1; }
        echo "$deploy_job $((t1 - t0)) $((t3 - t2))" >>"$T_TMP/rounds"
    else
        echo "$deploy_job $((t1 - t0)) -" >>"$T_TMP/rounds"
    fi
done

python3 - "$KILN_HOME/journal" "$T_TMP/rounds" <<'PY'
import datetime, json, statistics, sys

jdir, rounds = sys.argv[1], sys.argv[2]

def t(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000

def step_ms(steps, name):
    before = [t(s["time"]) for s in steps if s["name"] == name and s["phase"] == "before"]
    after = [t(s["time"]) for s in steps if s["name"] == name and s["phase"] == "after"]
    return after[-1] - before[-1] if before and after else 0.0

PHASES = [("build", ["build"]), ("bake", ["bake"]), ("launch", ["create-group"]),
          ("healthy", ["wait-healthy"]), ("switch", ["enable", "wait-in-service", "disable-old"])]
fig = {k: [] for k in [p for p, _ in PHASES] + ["overhead", "deploy", "rollback"]}
for line in open(rounds):
    job, wall, rb = line.split()
    steps = json.load(open("%s/%s.json" % (jdir, job)))["steps"]
    total = 0.0
    for phase, names in PHASES:
        ms = sum(step_ms(steps, s) for s in names)
        fig[phase].append(ms)
        total += ms
    fig["deploy"].append(float(wall))
    fig["overhead"].append(float(wall) - total)
    if rb != "-":
        fig["rollback"].append(float(rb))

TARGET = {"deploy": "<= 10000 ms", "overhead": "<= 1000 ms", "rollback": "<= 2000 ms"}
for k, xs in fig.items():
    if not xs:
        continue
    xs = sorted(xs)
    print("bench_deploy: %-9s median %7.0f ms  min %7.0f  max %7.0f  (%d rounds%s)"
          % (k, statistics.median(xs), xs[0], xs[-1], len(xs),
             "; target " + TARGET[k] if k in TARGET else ""))
PY
