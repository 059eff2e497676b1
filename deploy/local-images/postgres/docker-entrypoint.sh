#!/usr/bin/env bash
# The part of the official postgres image's entrypoint compose.yaml relies on: on an empty
# PGDATA, initdb with POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB, password auth from other
# hosts, the scripts in /docker-entrypoint-initdb.d; then run the command as `postgres`.
set -euo pipefail
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" && chown postgres:postgres "$PGDATA" && chmod 0700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}"
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:?}") \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k /tmp" -w start >/dev/null
  export PGHOST=/tmp PGUSER=$POSTGRES_USER
  [ "$POSTGRES_DB" = postgres ] || psql -q -d postgres -c "CREATE DATABASE \"$POSTGRES_DB\""
  for script in /docker-entrypoint-initdb.d/*.sh; do
    [ -e "$script" ] && POSTGRES_USER=$POSTGRES_USER POSTGRES_DB=$POSTGRES_DB bash "$script"
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  unset PGHOST PGUSER
fi
exec "$@"
