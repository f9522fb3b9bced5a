#!/usr/bin/env bash
# Stops a server that start-test-server.sh started and removes its folder: give the folder it printed.
set -euo pipefail
dir=${1:?usage: stop-test-server.sh /tmp/dato-test-postgres.XXXXXX}
case "$dir" in /tmp/dato-test-postgres.*) ;; *) echo "stop-test-server: '$dir' is not a test server folder" >&2; exit 1 ;; esac
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
run=()
[ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
[ -d "$dir/data" ] && "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
rm -rf "$dir"
