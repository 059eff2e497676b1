#!/usr/bin/env bash
# Stops and removes the compose.local.yaml stack: containers, its network and its volumes.
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/podman-compose -p "${COMPOSE_PROJECT:-inkwell-local}" -f compose.yaml -f compose.local.yaml \
  down -v -t 30 >/dev/null 2>&1
