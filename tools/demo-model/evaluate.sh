#!/bin/sh
# Prompt-alignment accuracy of a model (default: the bundled demo model) on the 200 held-out prompts of
# heldout-prompts.txt (shapes.py stream 4242), 50 PNDM steps, CFG 7.5, seed 1234, with and without acceleration.
# Usage: tools/demo-model/evaluate.sh [PLAN ...]    (run from the repository root; extra dato flags via DATO_ARGS)
set -eu
plans="${*:-none deepcache:3 dato-reference dato:0.4 tome:0.5}"
swift build -c release --product dato >/dev/null
dato=$(swift build -c release --show-bin-path)/dato
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for plan in $plans; do
    mkdir -p "$work/$plan"
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$dato" generate --prompt-file tools/demo-model/heldout-prompts.txt -s 1234 --steps 50 --cfg-scale 7.5 \
        --accel "$plan" -o "$work/$plan/%d.png" ${DATO_ARGS:-} >/dev/null
    seconds=$(( $(date +%s) - start ))
    printf '%-16s %s  (%d s)\n' "$plan" "$("$dato" score "$work/$plan"/*.png | tail -n 1)" "$seconds"
done
