#!/usr/bin/env bash
# fuzz/run.sh SECONDS TARGET...: runs each built libFuzzer target for SECONDS and says
# how it went; exits 1 if any target crashed, leaked, hung or broke a property.
#
# Environment (fuzz/local.mk sets them):
#   FUZZ_OUT     where the binaries are; the working corpus, logs and crash inputs go
#                under it (corpus/NAME, logs/NAME.log, artifacts/NAME-crash-...)
#   FUZZ_SRCDIR  the source tree: seeds from fuzz/corpus/NAME, dictionary fuzz/NAME.dict
#   FUZZ_JOBS    how many targets run at once (default 1; each uses one core)
#   FUZZ_FLAGS   more libFuzzer flags, e.g. "-runs=10000000" for a long run
#
# A crash input replays with: $FUZZ_OUT/fuzz_NAME $FUZZ_OUT/artifacts/NAME-crash-...
set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 SECONDS TARGET..." >&2
    exit 2
fi
seconds=$1
shift
out=${FUZZ_OUT:-fuzz/build}
src=${FUZZ_SRCDIR:-.}
jobs=${FUZZ_JOBS:-1}
flags=${FUZZ_FLAGS:-}

mkdir -p "$out/logs" "$out/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Runs one target; its verdict goes to logs/NAME.result.
run_one() {
    local t=$1 bin="$out/fuzz_$1" log="$out/logs/$1.log" corpus="$out/corpus/$1"
    local seeds="$src/fuzz/corpus/$1" dict="$src/fuzz/$1.dict"
    local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$out/artifacts/$1-")
    [ -f "$dict" ] && args+=(-dict="$dict")
    mkdir -p "$corpus"
    local dirs=("$corpus")
    [ -d "$seeds" ] && dirs+=("$seeds")
    if [ ! -x "$bin" ]; then
        echo "fuzz_$t: not built ($bin)" >"$out/logs/$t.result"
        return
    fi
    # shellcheck disable=SC2086
    "$bin" "${args[@]}" $flags "${dirs[@]}" >"$log" 2>&1
    local rc=$?
    local runs secs rate units
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    units=$(find "$corpus" -type f | wc -l)
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    if [ $rc -eq 0 ]; then
        printf 'fuzz_%-12s ok      %10s runs in %4s s, %7s exec/s, corpus %s\n' "$t" \
            "${runs:-?}" "${secs:-?}" "${rate:-?}" "$units" >"$out/logs/$t.result"
    else
        {
            printf 'fuzz_%-12s FAILED  (exit %d) after %s runs; log: %s\n' "$t" "$rc" \
                "${runs:-?}" "$log"
            grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz: property|.*runtime error)' "$log" | head -n 5 |
                sed 's/^/    /'
            grep -E '^artifact_prefix|Test unit written to' "$log" | sed 's/^/    /'
        } >"$out/logs/$t.result"
    fi
}

running=0
for t in "$@"; do
    rm -f "$out/logs/$t.result"
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

failed=0
for t in "$@"; do
    cat "$out/logs/$t.result"
    grep -q ' ok ' "$out/logs/$t.result" || failed=1
done
exit $failed
