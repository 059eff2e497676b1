# shellcheck shell=bash disable=SC2034  # variables are used by the scripts sourcing this file
# Settings and helpers of the HA test cluster (ha-up.sh, ha-down.sh): one etcd member and three
# Patroni nodes (a primary, a synchronous standby, an async replica). Sourced, never executed.
# Everything here is for a throwaway test cluster; ports 614xx/613xx/610xx, never 5432.
# shellcheck source=scripts/_cluster_env.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/_cluster_env.sh"

HA_DIR=$(realpath -m -- "${HA_DIR:-$ROOT_DIR/.ha-cluster}")
HA_ETCD_PORT=${HA_ETCD_PORT:-61379}
HA_ETCD_PEER_PORT=${HA_ETCD_PEER_PORT:-61380}
HA_PG_PORTS=(${HA_PG_PORTS:-61432 61433 61434})
HA_API_PORTS=(${HA_API_PORTS:-61008 61009 61010})
HA_NODES=(node1 node2 node3)
HA_SCOPE=inkwell-ha
HA_LOG=$HA_DIR/log
HA_STATE=$HA_DIR/ha.env   # marker: ha-down --purge deletes only a directory carrying it

pid_alive() { [[ -f $1 ]] && kill -0 "$(<"$1")" 2>/dev/null; }

stop_pidfile() {  # stop_pidfile NAME PIDFILE: SIGTERM, wait, then SIGKILL
  local pid i
  pid_alive "$2" || return 0
  pid=$(<"$2")
  log "stopping $1 (pid $pid)"
  kill -TERM "$pid"
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
}

ha_url() {  # the service's DSN: every node, the session that accepts writes
  local hosts='' port
  for port in "${HA_PG_PORTS[@]}"; do hosts+="host=127.0.0.1:$port&"; done
  echo "postgresql+asyncpg://postgres@/$DB_NAME?${hosts}target_session_attrs=read-write"
}
