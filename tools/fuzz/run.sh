#!/usr/bin/env bash
# Coverage-guided fuzzing of swift-dato's parsers with libFuzzer and AddressSanitizer.
#
#   tools/fuzz/run.sh TARGET|all SECONDS [-k] [-- LIBFUZZER_FLAGS...]
#   tools/fuzz/run.sh TARGET FILE...          replay inputs (e.g. a crasher) through the fuzz build
#   tools/fuzz/run.sh list                    the targets
#
# Targets (code in Tests/DatoFuzzTests/Targets): safetensors, safetensors-header, zip, unpickle, ckpt, torch-legacy, png, plan,
# config, tokenizer, tokenizer-files, tokenizer-json. Each runs SECONDS seconds, one after the other, starting from a copy of its
# seed corpus tools/fuzz/corpus/TARGET (the committed corpus never grows; the working copy is under
# .build-fuzz/runs), with the dictionary tools/fuzz/dict/NAME.dict if there is one (NAME: the target's name up to
# its first '-'). The issue's acceptance run: tools/fuzz/run.sh all 600.
# The build is optimised (-O, about 100 times faster than -Onone under ASan; runtime checks stay).
# An input that crashes (Swift runtime trap, memory error, a broken promise of the API), runs longer than
# 10 s (hang) or takes more than 2 GiB (memory blow-up) is written to tools/fuzz/crashes/TARGET/ (git-ignored);
# the fuzzing of that target then stops, unless -k (keep going: libFuzzer's fork mode, which goes on after
# crashes, hangs and memory blow-ups and keeps every input that caused one).
# Prints per target: executions, executions per second, crashes. Exits 1 if any target crashed.
#
# Once a crasher's fix is in, copy the file to tools/fuzz/regressions/TARGET/: `swift test` replays it from then on
# (Tests/DatoFuzzTests/FuzzReplayTests.swift), as it replays the seed corpus.
#
# Needs only the Swift toolchain (libFuzzer and ASan come with it: -sanitize=fuzzer,address) and what
# tools/deps.sh installs. The fuzz build lives in .build-fuzz (Package.swift adds the dato-fuzz executable when
# DATO_FUZZ=1); a normal `swift build` / `swift test` never needs it.
set -euo pipefail

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
cd "$(dirname "$0")/../.."
root=$(pwd)
scratch="$root/.build-fuzz"
binary="$scratch/debug/dato-fuzz"

mkdir -p "$scratch"
echo "building the fuzz targets (.build-fuzz)..." >&2
if ! DATO_FUZZ=1 swift build -c debug --scratch-path "$scratch" --product dato-fuzz \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -O >"$scratch/build.log" 2>&1; then
    grep -v "Cannot export local symbol" "$scratch/build.log" | tail -30 >&2
    echo "the fuzz build failed (full log: $scratch/build.log)" >&2
    exit 2
fi

# Swift's own crash handler would take the signals libFuzzer reports crashes from.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"

if [ "$1" = list ]; then "$binary" --list; exit 0; fi
target_arg=$1; shift
declare -A max_len=()
while read -r name len; do max_len[$name]=$len; done < <("$binary" --list)
if [ "$target_arg" = all ]; then
    targets=$("$binary" --list | cut -d' ' -f1)
elif [ -n "${max_len[$target_arg]:-}" ]; then
    targets=$target_arg
else
    echo "unknown target '$target_arg'; targets: $("$binary" --list | cut -d' ' -f1 | tr '\n' ' ')" >&2
    exit 2
fi

# Replay mode: the remaining arguments are files.
if [ $# -ge 1 ] && [ -e "$1" ] && [ "$target_arg" != all ]; then
    exec "$binary" "$target_arg" -rss_limit_mb=2048 -timeout=10 "$@"
fi

[ $# -ge 1 ] || usage
seconds=$1; shift
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -ge 1 ] || { echo "SECONDS must be a positive whole number, got '$seconds'" >&2; exit 2; }
keep_going=()
if [ "${1:-}" = -k ]; then keep_going=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1); shift; fi
if [ "${1:-}" = -- ]; then shift; fi
extra=("$@")

# Replays inputs of target $1 (working folder $2) and prints each distinct crash site (first frame in Sources/)
# with its reason, how many of the inputs reach it, and the smallest of them.
summarize() {
    local t=$1 run=$2; shift 2
    declare -A seen=() reason=() example=()
    local order=() file site why
    for file in "$@"; do
        (cd "$run" && timeout 60 "$binary" "$t" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 "$file") >"$run/replay.log" 2>&1 || true
        why=$(grep -a -m 1 -E 'Fatal error|ERROR: AddressSanitizer|ERROR: libFuzzer: (timeout|out-of-memory|fuzz target exited)|^dato-fuzz: |SUMMARY: libFuzzer: deadly' \
              "$run/replay.log" | tr -d '\000' | sed -E 's/^==[0-9]+== ?//' | cut -c1-160 || true)
        [[ "$why" == *"deadly signal"* ]] && why="deadly signal: a Swift runtime trap (overflow, index out of range, nil unwrap...)"
        # The first frame in the code under test, else (a broken promise) in the target that noticed it.
        site=$( (grep -a -E '^ *#[0-9]+ .* in .*/Sources/' "$run/replay.log" || true;
                 grep -a -E '^ *#[0-9]+ .* in .*/Targets/' "$run/replay.log" | grep -v 'FuzzTarget.swift' || true) | head -1 \
               | swift demangle --simplified | sed -E 's/^ *#[0-9]+ 0x[0-9a-f]+ in //; s|/[^ ]*/(Sources\|Tests)/|\1/|' | cut -c1-200)
        site=${site:-"(no frame in the package's code)"}
        if [ -z "${seen[$site]:-}" ]; then order+=("$site"); seen[$site]=0; reason[$site]=$why; example[$site]=$file; fi
        seen[$site]=$(( ${seen[$site]} + 1 ))
    done
    for site in "${order[@]}"; do
        echo "    - ${seen[$site]}x at $site" >&2
        echo "        ${reason[$site]:-"(no message)"}" >&2
        echo "        e.g. ${example[$site]} ($(wc -c <"${example[$site]}") bytes)" >&2
    done
}

failed=0
printf '%-16s %12s %8s %8s\n' target executions exec/s crashes >&2
for t in $targets; do
    run="$scratch/runs/$t"
    crashes="$root/tools/fuzz/crashes/$t"
    rm -rf "$run"
    mkdir -p "$run/corpus" "$crashes"
    cp -R "$root/tools/fuzz/corpus/$t/." "$run/corpus/"
    dict=()
    [ -f "$root/tools/fuzz/dict/${t%%-*}.dict" ] && dict=(-dict="$root/tools/fuzz/dict/${t%%-*}.dict")
    marker="$run/started"
    touch "$marker"
    status=0
    # Run from the working folder: nothing a target does can reach the sources.
    (cd "$run" && "$binary" "$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -max_len="${max_len[$t]}" -print_final_stats=1 -artifact_prefix="$crashes/" \
        ${dict[@]+"${dict[@]}"} ${keep_going[@]+"${keep_going[@]}"} ${extra[@]+"${extra[@]}"} corpus) >"$run/log" 2>&1 || status=$?
    executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$run/log" | grep -o '[0-9]*$' | tail -1 || true)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$run/log" | grep -o '[0-9]*$' | tail -1 || true)
    if [ -z "$executions" ]; then   # fork mode: the last status line "#N: ... exec/s: R ..."
        executions=$(grep -o '^#[0-9]*' "$run/log" | tail -1 | tr -d '#' || true)
        rate=$(grep -o 'exec/s: [0-9]*' "$run/log" | tail -1 | grep -o '[0-9]*$' || true)
    fi
    new=$(find "$crashes" -type f -newer "$marker" \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \))
    count=$(printf '%s' "$new" | grep -c . || true)
    if [ "$count" -eq 0 ] && [ "$status" -ne 0 ]; then count=1; fi
    printf '%-16s %12s %8s %8s\n' "$t" "${executions:-?}" "${rate:-?}" "$count" >&2
    if [ "$count" -gt 0 ]; then
        failed=1
        [ -n "$new" ] || { echo "    no input was written; see $run/log" >&2; continue; }
        echo "    inputs in $crashes/; distinct places (from replaying the smallest 25):" >&2
        summarize $t "$run" $(ls -S -r $new | head -25)
        echo "    log: $run/log" >&2
    fi
done
exit $failed
