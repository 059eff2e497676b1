#!/usr/bin/env bash
# Stop the HA test cluster (the Patroni nodes, which stop their postgres, then etcd).
# --purge also deletes HA_DIR. Safe to run when nothing is running.
set -euo pipefail
# shellcheck source=scripts/_ha_env.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/_ha_env.sh"

purge=0
case ${1:-} in
  '') ;;
  --purge) purge=1 ;;
  *) die "usage: $0 [--purge]" ;;
esac

for node in "${HA_NODES[@]}"; do stop_pidfile "patroni $node" "$HA_DIR/$node.pid"; done
for node in "${HA_NODES[@]}"; do  # a node whose patroni was killed leaves its postgres behind
  [[ -f $HA_DIR/$node/postmaster.pid ]] &&
    as_pg "$PG_BIN/pg_ctl" -D "$HA_DIR/$node" -m fast -w stop >/dev/null 2>&1 || true
done
stop_pidfile etcd "$HA_DIR/etcd.pid"
if [[ $purge == 1 && -e $HA_DIR ]]; then
  [[ -f $HA_STATE ]] || die "refusing to delete $HA_DIR: no $(basename "$HA_STATE") marker"
  rm -rf -- "$HA_DIR"
  log "deleted $HA_DIR"
fi
log "HA cluster stopped"
