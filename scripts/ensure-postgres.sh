#!/usr/bin/env bash
# Make sure the tests can get a PostgreSQL server from the source OBSSTORE_TEST_POSTGRES chooses
# (auto by default; see devtools/postgres.py). A server that is already running is used as
# it is: OBSSTORE_TEST_POSTGRES_URL, one on 127.0.0.1:5432, or the one docker/docker-compose.yml
# publishes. When none is and no server binaries are installed, install Debian's PostgreSQL
# server packages; the tests then start a throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

source="${OBSSTORE_TEST_POSTGRES:-auto}"
python="${VENV:-.venv}/bin/python"

fail() {
  echo "postgres: $*" >&2
  exit 1
}

have_server_binaries() {
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1
}

running_server() {
  if [ -x "$python" ]; then
    # The tests' own search (it reads the compose file for its port and password).
    "$python" -m devtools.postgres
  elif [ -n "${OBSSTORE_TEST_POSTGRES_URL:-}" ] && [ "$source" != local ]; then
    echo "OBSSTORE_TEST_POSTGRES_URL"
  elif command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "local server on 127.0.0.1:5432"
  else
    return 1
  fi
}

case "$source" in
  auto | url | local | cluster) ;;
  container)
    echo "postgres: the tests start a container (scripts/test-postgres-containers.sh starts Docker)"
    exit 0
    ;;
  *) fail "OBSSTORE_TEST_POSTGRES=$source is not one of auto, url, local, container, cluster" ;;
esac

if [ "$source" != cluster ] && found="$(running_server)"; then
  echo "postgres: the tests will use the $found"
  exit 0
fi
case "$source" in
  url) fail "OBSSTORE_TEST_POSTGRES=url but OBSSTORE_TEST_POSTGRES_URL is not set" ;;
  local) fail "OBSSTORE_TEST_POSTGRES=local but no server answers on 127.0.0.1:5432 nor on the \
docker/docker-compose.yml port (docker compose -f docker/docker-compose.yml up -d)" ;;
esac
if have_server_binaries; then
  echo "postgres: no running server; the tests will start a throwaway cluster"
  exit 0
fi
if [ "$source" = auto ] && command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  echo "postgres: the tests will start a container with testcontainers"
  exit 0
fi

echo "postgres: installing the PostgreSQL server packages"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    fail "not root and no sudo; install postgresql or set OBSSTORE_TEST_POSTGRES_URL"
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq postgresql >/dev/null
have_server_binaries || fail "installation did not provide initdb"
echo "postgres: installed; the tests will start a throwaway cluster"
