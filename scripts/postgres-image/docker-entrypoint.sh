#!/bin/sh
# First start: create the cluster with POSTGRES_USER (default postgres) as its superuser,
# password POSTGRES_PASSWORD, and the database POSTGRES_DB (default: the user's name), as the
# official image does. Then run the server as the postgres user, listening on every address.
set -eu

if [ "${1:-}" = postgres ]; then
  shift
  user="${POSTGRES_USER:-postgres}"
  database="${POSTGRES_DB:-$user}"
  mkdir -p /var/run/postgresql
  chown postgres:postgres /var/run/postgresql
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
      echo "docker-entrypoint: set POSTGRES_PASSWORD" >&2
      exit 1
    fi
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    chown postgres "$pwfile"
    setpriv --reuid=postgres --regid=postgres --init-groups \
      initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    if [ "$database" != postgres ]; then
      quoted="$(printf '%s' "$database" | sed 's/"/""/g')"
      echo "CREATE DATABASE \"$quoted\";" |
        setpriv --reuid=postgres --regid=postgres --init-groups \
          postgres --single -j -D "$PGDATA" postgres >/dev/null
    fi
  fi
  exec setpriv --reuid=postgres --regid=postgres --init-groups \
    postgres -D "$PGDATA" -c listen_addresses='*' "$@"
fi
exec "$@"
