#!/usr/bin/env bash
# Two `dato serve` instances behind nginx with docs/server.md's upstream example (ports moved to loopback
# test ports), driven through nginx by webuiapi_check.py and load_check.py. Needs Debian's nginx and a venv
# with tools/server/requirements.txt:
#   tools/server/nginx_check.sh /tmp/venv/bin/python [dato binary]
set -euo pipefail
PY=${1:?usage: nginx_check.sh PYTHON [DATO]}
DATO=${2:-.build/debug/dato}
DIR=$(mktemp -d /tmp/dato-nginx.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$DIR/nginx.pid" ] && kill "$(cat "$DIR/nginx.pid")" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
for port in 17860 17861; do
  "$DATO" serve --port $port --queue-size "${QUEUE:-1}" > "$DIR/serve-$port.log" 2>&1 &
  pids+=($!)
done
mkdir -p "$DIR/logs"
cat > "$DIR/nginx.conf" <<CONF
pid $DIR/nginx.pid;
error_log $DIR/logs/error.log;
events {}
http {
    log_format up "\$request \$status \$upstream_addr";
    access_log $DIR/logs/access.log up;
    client_body_temp_path $DIR/body; proxy_temp_path $DIR/proxy;
    fastcgi_temp_path $DIR/fcgi; uwsgi_temp_path $DIR/uwsgi; scgi_temp_path $DIR/scgi;
    upstream dato {
        ip_hash;
        server 127.0.0.1:17860 max_fails=${MAX_FAILS:-0} fail_timeout=10s;
        server 127.0.0.1:17861 max_fails=${MAX_FAILS:-0} fail_timeout=10s;
    }
    server {
        listen 127.0.0.1:17870;
        client_max_body_size 1m;
        location / {
            proxy_pass http://dato;
            proxy_read_timeout 600s;
            proxy_next_upstream error timeout http_503 non_idempotent;
        }
        location = /health { proxy_pass http://dato; }
    }
}
CONF
for i in $(seq 100); do
  curl -sf http://127.0.0.1:17860/health >/dev/null && curl -sf http://127.0.0.1:17861/health >/dev/null && break
  sleep 0.2
done
nginx -p "$DIR" -c "$DIR/nginx.conf"
echo "== webuiapi through nginx"
"$PY" tools/server/webuiapi_check.py --port 17870 | grep -v "^ok   txt2img sampler"
echo "== load through nginx: 30 requests from 6 clients, each instance --queue-size ${QUEUE:-1}"
"$PY" tools/server/load_check.py --port 17870 --requests 30 --clients 6 || echo "load_check failed"
echo "== txt2img answers by status and upstream(s) tried (nginx's log):"
grep "POST /sdapi/v1/txt2img" "$DIR/logs/access.log" | cut -d' ' -f4- | sort | uniq -c
echo "== instances (directly):"
for port in 17860 17861; do echo "$port: $(curl -s http://127.0.0.1:$port/health)"; done
