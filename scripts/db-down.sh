#!/usr/bin/env bash
# Stop the local test cluster (pgbouncer, replica, primary; fast shutdown).
# --purge also deletes CLUSTER_DIR. Safe to run when nothing is running.
set -euo pipefail
# shellcheck source=scripts/_cluster_env.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/_cluster_env.sh"

purge=0
case ${1:-} in
  '') ;;
  --purge) purge=1 ;;
  *) die "usage: $0 [--purge]" ;;
esac

pgbouncer_stop
node_stop replica fast
node_stop primary fast

if [[ $purge == 1 && -e $CLUSTER_DIR ]]; then
  [[ -f $STATE_FILE ]] || die "refusing to delete $CLUSTER_DIR: no $(basename "$STATE_FILE") marker"
  rm -rf -- "$CLUSTER_DIR"
  log "deleted $CLUSTER_DIR"
fi
log "cluster stopped"
