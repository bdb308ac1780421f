#!/usr/bin/env bash
# Base build time and size: `kiln base build` (mmdebstrap minbase + systemd-sysv, rpm,
# passwd, and kiln's provides package) on this machine, then the same with the target
# from "Images are servers" (python3-flask and gunicorn added, about 25 s wanted).
# Each build runs N times (default 1: one is ~30 s) in a private state dir; prints wall
# time, the size kiln records (allocated blocks) and du's, and the package count.
# Needs root, mmdebstrap and the Debian archive. Usage: bench/bench_base.sh [N]
set -u
N=${1:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
KILN=${KILN:-${KILN_BUILDDIR:-$HERE/..}/kiln}
[ "$(id -u)" -eq 0 ] || { echo "bench_base: needs root (mmdebstrap installs as root)"; exit 0; }
command -v mmdebstrap >/dev/null || { echo "bench_base: mmdebstrap is not installed"; exit 0; }
[ -x "$KILN" ] || { echo "bench_base: no kiln binary at $KILN (build first)"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-base.XXXXXX")
export KILN_HOME="$TMP/state" KILN_CONFIG="$TMP/no-config" # none: the defaults
cleanup() { chattr -i "$KILN_HOME"/bases/*-* 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

# bench LABEL [--packages P,Q]: N builds, each deleted after it is measured.
bench() {
    local label=$1
    shift
    local times=()
    for i in $(seq "$N"); do
        local t0 t1 out
        t0=$(date +%s%N)
        out=$("$KILN" base build "b$i" "$@" --json 2>"$TMP/log") || {
            echo "$label: build failed:"; tail -5 "$TMP/log"; return 1; }
        t1=$(date +%s%N)
        times+=($(( (t1 - t0) / 1000000 )))
        local root size pk
        root=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["root"])')
        size=$(printf '%s' "$out" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["size_bytes"]/1e6))')
        pk=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"])')
        printf '%-28s run %d: %6.1f s  %4d packages  %4d MB recorded  %s by du\n' "$label" "$i" \
            "$(echo "${times[-1]} / 1000" | bc -l)" "$pk" "$size" "$(du -sh "$root" | cut -f1)"
        grep -E '^[0-9:Z]+ I: (extracting|installing|cleaning)' "$TMP/log" | sed 's/^/    /'
        "$KILN" base delete "b$i" >/dev/null
    done
    local sorted median
    sorted=$(printf '%s\n' "${times[@]}" | sort -n)
    median=$(printf '%s\n' "$sorted" | sed -n "$(( (N + 1) / 2 ))p")
    printf '%-28s median of %d: %.1f s\n' "$label" "$N" "$(echo "$median / 1000" | bc -l)"
}

echo "kiln base build on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
bench "minbase+systemd+rpm+passwd"
bench "+ python3-flask, gunicorn" --packages python3-flask,gunicorn
