# shellcheck shell=bash disable=SC2034  # variables are used by the scripts sourcing this file
# Shared settings and helpers for the local test cluster (db-up.sh, db-down.sh, db-ctl.sh).
# Sourced, never executed.  Everything here is for a throwaway test cluster.

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(dirname -- "$SCRIPT_DIR")

CLUSTER_DIR=$(realpath -m -- "${CLUSTER_DIR:-$ROOT_DIR/.cluster}")
PRIMARY_PORT=${PRIMARY_PORT:-55432}
REPLICA_PORT=${REPLICA_PORT:-55433}
PGBOUNCER_PORT=${PGBOUNCER_PORT:-56432}
CLUSTER_TIMEOUT=${CLUSTER_TIMEOUT:-60}   # seconds to wait for a node to accept connections
DB_NAME=inkwell
SLOT_NAME=inkwell_replica

LOG_DIR=$CLUSTER_DIR/log
PGB_DIR=$CLUSTER_DIR/pgbouncer
PGB_INI=$PGB_DIR/pgbouncer.ini
PGB_PID=$PGB_DIR/pgbouncer.pid
# Marker written on creation: db-down --purge only deletes a directory carrying it.
# It also records the ports baked into the data directories.
STATE_FILE=$CLUSTER_DIR/cluster.env

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Newest installed PostgreSQL (Debian layout), else whatever pg_config reports.
find_pg_bin() {
  local d
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV); do
    [[ -x $d/initdb ]] && { echo "$d"; return; }
  done
  d=$(pg_config --bindir 2>/dev/null) && [[ -x $d/initdb ]] && { echo "$d"; return; }
  return 1
}
PG_BIN=${PG_BIN:-$(find_pg_bin)} || die "PostgreSQL server binaries (initdb) not found; set PG_BIN"
PGBOUNCER_BIN=${PGBOUNCER_BIN:-$(command -v pgbouncer || echo /usr/sbin/pgbouncer)}

# initdb, pg_ctl, pg_basebackup, postgres and pgbouncer refuse to run as root.
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

node_port() { case $1 in primary) echo "$PRIMARY_PORT" ;; replica) echo "$REPLICA_PORT" ;; *) die "unknown node: $1" ;; esac; }
node_data() { echo "$CLUSTER_DIR/$1"; }
node_log()  { echo "$LOG_DIR/$1.log"; }

psql_at() {  # psql_at PORT DB SQL -> unaligned, tuples only
  "$PG_BIN/psql" -X -h 127.0.0.1 -p "$1" -U postgres -d "$2" -v ON_ERROR_STOP=1 -Atqc "$3"
}

show_log() {  # show_log FILE: point at the log and print its tail
  log "log: $1"
  [[ -f $1 ]] && tail -n 25 -- "$1" >&2
  return 0
}

node_running() { [[ -f $(node_data "$1")/PG_VERSION ]] && as_pg "$PG_BIN/pg_ctl" -D "$(node_data "$1")" status >/dev/null 2>&1; }

wait_ready() {  # wait_ready NAME PORT LOGFILE [SQL expected-output]
  local name=$1 port=$2 logfile=$3 sql=${4:-} want=${5:-} i
  for ((i = 0; i < CLUSTER_TIMEOUT * 5; i++)); do
    if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then
      [[ -z $sql ]] && return 0
      [[ $(psql_at "$port" postgres "$sql" 2>/dev/null) == "$want" ]] && return 0
    fi
    sleep 0.2
  done
  log "$name did not become ready on 127.0.0.1:$port within ${CLUSTER_TIMEOUT}s"
  show_log "$logfile"
  exit 1
}

node_wait() {
  if [[ $1 == replica ]]; then
    wait_ready replica "$REPLICA_PORT" "$(node_log replica)" 'SELECT pg_is_in_recovery()' t
  else
    wait_ready primary "$PRIMARY_PORT" "$(node_log primary)"
  fi
}

node_start() {
  node_running "$1" && return 0
  log "starting $1 on 127.0.0.1:$(node_port "$1")"
  as_pg "$PG_BIN/pg_ctl" -D "$(node_data "$1")" -l "$(node_log "$1")" -t "$CLUSTER_TIMEOUT" -w start >/dev/null ||
    { show_log "$(node_log "$1")"; die "could not start $1"; }
  node_wait "$1"
}

node_stop() {  # node_stop NODE [fast|immediate|smart]
  node_running "$1" || return 0
  log "stopping $1 (${2:-fast})"
  as_pg "$PG_BIN/pg_ctl" -D "$(node_data "$1")" -m "${2:-fast}" -t "$CLUSTER_TIMEOUT" -w stop >/dev/null
}

pgbouncer_pid() {  # prints the pid of our pgbouncer if it runs
  local pid
  [[ -f $PGB_PID ]] && pid=$(<"$PGB_PID") && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

pgbouncer_start() {  # the config db-up.sh wrote; returns once it accepts connections
  [[ -f $PGB_INI ]] || die "no $PGB_INI; run db-up.sh"
  if ! pgbouncer_pid >/dev/null; then
    log "starting pgbouncer on 127.0.0.1:$PGBOUNCER_PORT"
    as_pg "$PGBOUNCER_BIN" -d -q "$PGB_INI" || { show_log "$LOG_DIR/pgbouncer.log"; die "could not start pgbouncer"; }
  fi
  wait_ready pgbouncer "$PGBOUNCER_PORT" "$LOG_DIR/pgbouncer.log" 'SELECT 1' 1
}

pgbouncer_stop() {
  local pid i
  pid=$(pgbouncer_pid) || return 0
  log "stopping pgbouncer (pid $pid)"
  kill -TERM "$pid"
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  die "pgbouncer (pid $pid) did not stop"
}
