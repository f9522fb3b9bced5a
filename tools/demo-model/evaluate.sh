#!/bin/sh
# Prompt-alignment accuracy of a model (default: the bundled demo model) on the 200 held-out prompts of
# heldout-prompts.txt (shapes.py stream 4242), 50 PNDM steps, CFG 7.5, seed 1234, with and without acceleration.
# Usage: tools/demo-model/evaluate.sh [PLAN ...]    (run from the repository root; extra dato flags via DATO_ARGS,
#        e.g. DATO_ARGS="-m other-model-folder"; COUNT=40 uses the first 40 prompts only)
set -eu
plans="${*:-none deepcache:3 dato-reference dato:0.4 tome:0.5}"
swift build -c release --product dato >/dev/null
dato=$(swift build -c release --show-bin-path)/dato
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -n "${COUNT:-200}" tools/demo-model/heldout-prompts.txt > "$work/prompts.txt"
for plan in $plans; do
    mkdir -p "$work/$plan"
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$dato" generate --prompt-file "$work/prompts.txt" -s 1234 --steps 50 --cfg-scale 7.5 \
        --accel "$plan" -o "$work/$plan/%d.png" ${DATO_ARGS:-} >/dev/null 2>"$work/$plan.log" || { cat "$work/$plan.log" >&2; exit 1; }
    seconds=$(( $(date +%s) - start ))
    "$dato" score "$work/$plan"/*.png > "$work/$plan.txt"
    printf "%-16s %s  (%d s)\n    %s\n" "$plan" "$(tail -n 1 "$work/$plan.txt")" "$seconds" "$(tail -n 2 "$work/$plan.txt" | head -n 1)"
done
