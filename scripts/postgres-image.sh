#!/usr/bin/env bash
# Build the PostgreSQL image the container tests use where no image registry is reachable:
# a Debian bookworm base made with debootstrap from the Debian mirror apt uses, then Debian's
# postgresql-15 on top (scripts/postgres-image/Dockerfile). Idempotent: an image that exists is
# reused. Uses the running Docker daemon, or starts a private one for the build and stops it by
# its PID at exit (scripts/docker-daemon.sh).
#
#   scripts/postgres-image.sh            # prints the image name on stdout
#   OBSSTORE_POSTGRES_IMAGE_REBUILD=1 scripts/postgres-image.sh   # build again (a new point
#                                                                 # release, a new base)
# OBSSTORE_DEBIAN_MIRROR and OBSSTORE_DEBIAN_SECURITY_MIRROR override the mirrors.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/docker-daemon.sh
. "$here/docker-daemon.sh"

SUITE=bookworm
PG_MAJOR=15
# The tag names the build context's content, so a changed Dockerfile or entrypoint is built anew.
CONTEXT_ID="$(cat "$here/postgres-image/"* | sha256sum | cut -c1-12)"
REPOSITORY=obsstore/postgres
IMAGE="$REPOSITORY:${PG_MAJOR}-${SUITE}-$CONTEXT_ID"
BASE="obsstore/debian:${SUITE}-minbase"

# The Debian mirror apt uses on this machine for the given suite, else the default.
apt_mirror() {
  local uri
  uri="$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
    awk -v suite="$1" '$2 == suite { print $1; exit }')" || true
  echo "${uri:-$2}"
}
debian_mirror() {
  echo "${OBSSTORE_DEBIAN_MIRROR:-$(apt_mirror "$SUITE" http://deb.debian.org/debian/)}"
}
security_mirror() {
  echo "${OBSSTORE_DEBIAN_SECURITY_MIRROR:-$(apt_mirror "$SUITE-security" \
    http://deb.debian.org/debian-security/)}"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

build_base() {
  local mirror target
  mirror="$(debian_mirror)"
  docker_install debootstrap=debootstrap
  target="$(mktemp -d /tmp/obsstore-debootstrap.XXXXXX)"
  docker_log "debootstrap --variant=minbase $SUITE from $mirror"
  if ! debootstrap --variant=minbase "$SUITE" "$target" "$mirror" >"$target.log" 2>&1; then
    tail -n 20 "$target.log" >&2
    rm -rf "$target" "$target.log"
    return 1
  fi
  tar -C "$target" -c . | docker import - "$BASE" >/dev/null
  rm -rf "$target" "$target.log"
}

build() {
  [ "$(id -u)" -eq 0 ] || {
    docker_log "building $IMAGE needs root (debootstrap)"
    return 1
  }
  if [ -n "${OBSSTORE_POSTGRES_IMAGE_REBUILD:-}" ] || ! have_image "$BASE"; then
    build_base
  fi
  docker_log "building $IMAGE"
  docker build --quiet --network=host --build-arg "BASE=$BASE" --build-arg "PG_MAJOR=$PG_MAJOR" \
    --build-arg "SUITE=$SUITE" --build-arg "MIRROR=$(debian_mirror)" \
    --build-arg "SECURITY_MIRROR=$(security_mirror)" -t "$IMAGE" "$here/postgres-image" >/dev/null
  # Earlier builds of other contexts are of no more use.
  docker image ls --format '{{.Repository}}:{{.Tag}}' "$REPOSITORY" | grep -vxF "$IMAGE" |
    xargs -r docker image rm >/dev/null 2>&1 || true
}

main() {
  trap docker_stop EXIT
  docker_start
  if [ -n "${OBSSTORE_POSTGRES_IMAGE_REBUILD:-}" ] || ! have_image "$IMAGE"; then
    build
  else
    docker_log "reusing the image $IMAGE"
  fi
  echo "$IMAGE"
}

main "$@"
