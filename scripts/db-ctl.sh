#!/usr/bin/env bash
# Control one node of the local test cluster (for tests, via subprocess).
#   db-ctl.sh <primary|replica> <start|stop|stop-immediate|restart-fast|restart-immediate|status>
#   db-ctl.sh pgbouncer <start|stop|restart>
# start/restart-* wait until the node accepts connections (the replica: in recovery).
# status exits 0 when running, 3 when stopped.
set -euo pipefail
# shellcheck source=scripts/_cluster_env.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/_cluster_env.sh"

usage() { die "usage: $0 <primary|replica> <start|stop|stop-immediate|restart-fast|restart-immediate|status> | pgbouncer <start|stop|restart>"; }
[[ $# -eq 2 ]] || usage
node=$1
if [[ $node == pgbouncer ]]; then
  case $2 in
    start) pgbouncer_start ;;
    stop) pgbouncer_stop ;;
    restart) pgbouncer_stop; pgbouncer_start ;;
    *) usage ;;
  esac
  exit 0
fi
[[ $node == primary || $node == replica ]] || usage
[[ -f $(node_data "$node")/PG_VERSION ]] || die "$node is not initialised in $CLUSTER_DIR; run db-up.sh"

case $2 in
  start) node_start "$node" ;;
  stop) node_stop "$node" fast ;;
  stop-immediate) node_stop "$node" immediate ;;
  restart-fast) node_stop "$node" fast; node_start "$node" ;;
  restart-immediate) node_stop "$node" immediate; node_start "$node" ;;
  status)
    if node_running "$node"; then
      echo "$node: running on 127.0.0.1:$(node_port "$node") (pid $(head -n1 "$(node_data "$node")/postmaster.pid"))"
    else
      echo "$node: stopped"; exit 3
    fi ;;
  *) usage ;;
esac
