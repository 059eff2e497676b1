#!/usr/bin/env bash
# compose.yaml + compose.local.yaml with podman-compose, started in dependency order.
# podman < 4.6 cannot wait for `service_healthy` (podman-compose ignores those conditions), so
# this script waits for each stage itself: primary accepting connections -> replica streaming
# and the migration job done -> app1 + app2 ready -> nginx serving on 127.0.0.1:58080.
# WITH_LOCUST=1 also starts Locust (UI on 127.0.0.1:58089).
set -euo pipefail
cd "$(dirname "$0")/../.."
PROJECT=${COMPOSE_PROJECT:-inkwell-local}
compose() { .venv/bin/podman-compose -p "$PROJECT" -f compose.yaml -f compose.local.yaml "$@"; }
log() { printf '[compose-up %5.1fs] %s\n' "$(( $(date +%s%N) / 1000000 - t0 ))e-3" "$*"; }
t0=$(( $(date +%s%N) / 1000000 ))
wait_for() {  # seconds, what, command...
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq $(( seconds * 2 ))); do "$@" >/dev/null 2>&1 && { log "$what"; return 0; }; sleep 0.5; done
  echo "timed out after ${seconds}s waiting for: $what" >&2
  return 1
}
build() { podman build --quiet --network host "$@" >/dev/null; }

.venv/bin/python deploy/local-images/render_configs.py >/dev/null
build --format docker -t localhost/inkwell:local .
build --target postgres -t localhost/inkwell-local-postgres:15 deploy/local-images/postgres
build --target pgbouncer -t localhost/inkwell-local-pgbouncer:1.18 deploy/local-images/postgres
build -t localhost/inkwell-local-nginx:1.22 deploy/local-images/nginx
[ "${WITH_LOCUST:-0}" = 1 ] && build -t localhost/inkwell-local-locust:2.47.0 deploy/local-images/locust
log "images built"

compose up -d --no-deps primary >/dev/null
wait_for 60 "primary accepts connections" \
  podman exec "${PROJECT}_primary_1" pg_isready -h 127.0.0.1 -U inkwell -d inkwell
compose up -d --no-deps replica pgbouncer migrate >/dev/null
code=$(podman wait "${PROJECT}_migrate_1")
[ "$code" = 0 ] || { podman logs "${PROJECT}_migrate_1" | tail -20; exit 1; }
log "migration job done"
wait_for 60 "replica streaming (in recovery)" bash -c \
  "podman exec ${PROJECT}_replica_1 psql -U inkwell -d inkwell -Atc 'select pg_is_in_recovery()' | grep -qx t"
compose up -d --no-deps app1 app2 >/dev/null
wait_for 60 "app1 healthy" podman healthcheck run "${PROJECT}_app1_1"
wait_for 60 "app2 healthy" podman healthcheck run "${PROJECT}_app2_1"
# 58080 is in the ephemeral port range: if a client socket holds it for a moment, start again.
compose up -d --no-deps proxy >/dev/null 2>&1 || true
wait_for 30 "nginx serving http://127.0.0.1:58080" bash -c "podman start ${PROJECT}_proxy_1 &&
  python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:58080/health/ready', timeout=2)\""
if [ "${WITH_LOCUST:-0}" = 1 ]; then
  compose up -d --no-deps locust-master locust-worker >/dev/null
  log "locust on http://127.0.0.1:58089"
fi
