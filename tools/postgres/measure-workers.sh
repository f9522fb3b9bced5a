#!/usr/bin/env bash
# Evaluations per minute of a shared search with N worker processes: a coordinator (--no-evaluate) and N
# `dato search-worker`s on this machine, on the demo model, against the PostgreSQL journal URL.
# usage: tools/postgres/measure-workers.sh URL N [extra search options]   (DATO=path/to/dato, default .build/debug/dato)
# Prints the wall time of the whole search and the steady rate: stored evaluations over the time between the
# first and the last one stored (read back with psql).
set -euo pipefail
url=${1:?usage: measure-workers.sh URL N}; n=${2:?usage: measure-workers.sh URL N}; shift 2
dato=${DATO:-.build/debug/dato}
dir=$(mktemp -d /tmp/dato-measure.XXXXXX)
trap 'rm -rf "$dir"' EXIT
study="measure-$n-$$-$RANDOM"
printf 'a small red circle at the top left on a blue background\na large green square at the bottom right on a white background\n' >"$dir/prompts.txt"
args=(--prompts "$dir/prompts.txt" --seeds 1 --steps 20 --population 8 --generations 3 --no-presets --threads 1 "$@")
start=$(date +%s.%N)
"$dato" search "${args[@]}" --journal "$url" --study "$study" --no-evaluate --out "$dir/out" >"$dir/coordinator.log" 2>&1 &
coordinator=$!
until "$dato" search-status --journal "$url" --study "$study" >/dev/null 2>&1; do sleep 0.1; done
workers=()
for i in $(seq "$n"); do
    "$dato" search-worker --journal "$url" --study "$study" --threads 1 --poll 0.1 >"$dir/worker$i.log" 2>&1 &
    workers+=($!)
done
wait "$coordinator"
for w in "${workers[@]}"; do wait "$w"; done
end=$(date +%s.%N)
psql "${url%%\?*}" -At -c "SELECT COUNT(*), EXTRACT(EPOCH FROM MAX(created) - MIN(created)) FROM dato_evaluations WHERE study = '$study'" | {
    IFS='|' read -r count span
    awk -v n="$n" -v c="$count" -v s="$span" -v w0="$start" -v w1="$end" 'BEGIN { w = w1 - w0
        printf "%d worker(s): %d evaluations, wall %.1f s (%.1f per minute), steady %.1f per minute\n", n, c, w, 60 * c / w, 60 * (c - 1) / s }'
}
"$dato" search-status --journal "$url" --study "$study" | sed -n '2,/front/p' | grep -v front
