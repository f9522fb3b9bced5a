#!/usr/bin/env bash
# Starts a throw-away PostgreSQL server for the tests (Debian's postgresql package): a cluster in a new
# temporary folder, listening on 127.0.0.1 only, on a free port, with trust authentication for the test
# superuser dato_test and a password (scram-sha-256) for the user dato_pw, whose tests check password errors.
# Prints the URL the tests read from DATO_TEST_POSTGRES_URL (with --env: shell assignments of
# DATO_TEST_POSTGRES_URL and DATO_TEST_POSTGRES_DIR, for eval); `tools/postgres/stop-test-server.sh DIR` stops
# it and removes the folder.
# As root, the cluster runs as the postgres system user (initdb refuses root).
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] && [ -x "$bin/initdb" ] || { echo "start-test-server: no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }
dir=$(mktemp -d /tmp/dato-test-postgres.XXXXXX)
run=()
if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$dir"
    run=(runuser -u postgres --)
fi
"${run[@]}" "$bin/initdb" -D "$dir/data" -U dato_test --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
# The password user first: pg_hba.conf takes the first matching line.
{ echo "host all dato_pw 127.0.0.1/32 scram-sha-256"; echo "host all all 127.0.0.1/32 trust"; echo "local all all trust"; } >"$dir/data/pg_hba.conf"
for attempt in $(seq 1 20); do
    port=$(( 20000 + RANDOM % 30000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue   # something listens there
    if "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50" \
        start >/dev/null 2>&1; then
        "$bin/psql" -h 127.0.0.1 -p "$port" -U dato_test -d postgres -q -v ON_ERROR_STOP=1 \
            -c "CREATE DATABASE dato_test" \
            -c "CREATE ROLE dato_pw LOGIN PASSWORD 'dato-right-password'" \
            -c "GRANT ALL ON DATABASE dato_test TO dato_pw" >/dev/null
        url="postgresql://dato_test@127.0.0.1:$port/dato_test?sslmode=disable"
        echo "$url" >"$dir/url"
        echo "start-test-server: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') in $dir on 127.0.0.1:$port" >&2
        if [ "${1:-}" = --env ]; then
            printf 'DATO_TEST_POSTGRES_URL=%q\nDATO_TEST_POSTGRES_DIR=%q\n' "$url" "$dir"
        else
            echo "$url"
        fi
        exit 0
    fi
done
echo "start-test-server: could not start the server; see $dir/server.log" >&2
exit 1
