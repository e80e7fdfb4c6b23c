#!/usr/bin/env bash
# Run the PostgreSQL tests (`pytest -m postgresql`, marked in tests/conftest.py) against a
# PostgreSQL container that testcontainers starts, then leave no daemon or container behind.
#
# The Docker daemon: the running one (DOCKER_HOST or the default socket), else a private dockerd
# started here and stopped by its PID at exit (scripts/docker-daemon.sh; Debian's docker.io is
# installed when missing). Where Docker cannot run, this fails and says why.
#
# The image: OBSSTORE_TEST_POSTGRES_IMAGE when set (pulled when missing); else, on a running
# daemon, the official postgres:16-alpine when it is there or can be pulled; else the image
# scripts/postgres-image.sh builds from Debian packages (PostgreSQL 15, no registry needed).
#
#   scripts/test-postgres-containers.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/docker-daemon.sh
. scripts/docker-daemon.sh

PYTEST="${PYTEST:-.venv/bin/pytest}"
OFFICIAL_IMAGE=postgres:16-alpine

fail() {
  echo "container tests: $*" >&2
  exit 1
}

pullable() {
  docker image inspect "$1" >/dev/null 2>&1 && return 0
  docker_log "pulling $1"
  timeout 300 docker pull --quiet "$1" >/dev/null 2>&1
}

choose_image() {
  if [ -n "${OBSSTORE_TEST_POSTGRES_IMAGE:-}" ]; then
    echo "$OBSSTORE_TEST_POSTGRES_IMAGE"
  elif [ -z "$OBSSTORE_DOCKERD_PID" ] && pullable "$OFFICIAL_IMAGE"; then
    echo "$OFFICIAL_IMAGE"
  else
    scripts/postgres-image.sh
  fi
}

trap docker_stop EXIT
docker_start || fail "Docker cannot run on this machine (see above), so the PostgreSQL tests \
cannot run through a container: start Docker (or point DOCKER_HOST at a daemon) and run again"
image="$(choose_image)" || fail "no PostgreSQL image to run (see above)"

export OBSSTORE_TEST_POSTGRES=container OBSSTORE_TEST_POSTGRES_IMAGE="$image"
if [ -n "$OBSSTORE_DOCKERD_PID" ]; then
  # The private daemon shares this machine's network, so the container's mapped port is on
  # localhost (testcontainers would pick the bridge address inside a container, where
  # /.dockerenv exists), and its containers are removed when it stops, so Ryuk (an image from
  # Docker Hub) is not needed.
  export TESTCONTAINERS_CONNECTION_MODE="${TESTCONTAINERS_CONNECTION_MODE:-docker_host}"
  export TESTCONTAINERS_RYUK_DISABLED="${TESTCONTAINERS_RYUK_DISABLED:-true}"
fi
echo "container tests: the PostgreSQL tests through a container of $image"
status=0
"$PYTEST" -m postgresql "$@" || status=$?
left="$(docker ps -aq --filter "ancestor=$image" | wc -l)"
[ "$left" -eq 0 ] || echo "container tests: $left container(s) of $image left behind" >&2
exit "$status"
