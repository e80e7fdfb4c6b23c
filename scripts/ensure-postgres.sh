#!/usr/bin/env bash
# Make sure the tests can get a PostgreSQL server (see tests/support/postgres.py for the order
# in which they look for one). When none is reachable and no server binaries are installed,
# install Debian's PostgreSQL server packages; the tests then start a throwaway cluster.
set -euo pipefail

have_server_binaries() {
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1
}

if [ -n "${OBSSTORE_TEST_POSTGRES_URL:-}" ]; then
  echo "postgres: using OBSSTORE_TEST_POSTGRES_URL"
  exit 0
fi
if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "postgres: a server is listening on 127.0.0.1:5432"
  exit 0
fi
if have_server_binaries; then
  echo "postgres: no server on 127.0.0.1:5432; the tests will start a throwaway cluster"
  exit 0
fi
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  echo "postgres: the tests will start a container with testcontainers"
  exit 0
fi

echo "postgres: installing the PostgreSQL server packages"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "postgres: not root and no sudo; install postgresql or set OBSSTORE_TEST_POSTGRES_URL" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq postgresql >/dev/null
have_server_binaries || { echo "postgres: installation did not provide initdb" >&2; exit 1; }
echo "postgres: installed; the tests will start a throwaway cluster"
