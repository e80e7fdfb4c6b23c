# Sourced by the container scripts (not run on its own): a Docker daemon for the duration of
# one script. When a daemon already answers (DOCKER_HOST or the default socket), it is used as
# it is and left alone. Otherwise Debian's docker.io is installed when missing and a private
# dockerd is started in the background, with its images kept in a persistent data root
# (OBSSTORE_DOCKER_ROOT, default /var/cache/obsstore-docker, so a built image is reused by the
# next run on the same machine) and everything else in a scratch directory. docker_stop (run it
# from an EXIT trap) removes the private daemon's containers and stops it by its PID.

OBSSTORE_DOCKERD_PID=""
OBSSTORE_DOCKERD_RUN=""
OBSSTORE_DOCKER_BRIDGE_MADE=""

docker_log() { echo "docker: $*" >&2; }

docker_answers() { docker info >/dev/null 2>&1; }

docker_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    docker_log "not root and no sudo: cannot run $1"
    return 1
  fi
}

# Install Debian packages (docker.io, debootstrap, ...) that provide the given commands.
docker_install() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%=*}" >/dev/null 2>&1 || missing+=("${pair#*=}")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || {
    docker_log "apt-get not found: install ${missing[*]} yourself"
    return 1
  }
  docker_log "installing ${missing[*]}"
  docker_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
  docker_as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || return 1
}

docker_start() {
  if command -v docker >/dev/null 2>&1 && docker_answers; then
    docker_log "using the running daemon (${DOCKER_HOST:-default socket})"
    return 0
  fi
  docker_install dockerd=docker.io docker=docker.io || return 1
  [ "$(id -u)" -eq 0 ] || {
    docker_log "no daemon answers and starting one needs root (or start Docker yourself)"
    return 1
  }
  local root="${OBSSTORE_DOCKER_ROOT:-/var/cache/obsstore-docker}" waited=0
  mkdir -p "$root" || return 1
  # One private daemon per data root at a time: a second run waits for the first.
  exec {OBSSTORE_DOCKER_LOCK}>"$root/lock"
  flock -w 900 "$OBSSTORE_DOCKER_LOCK" || {
    docker_log "another run holds $root/lock"
    return 1
  }
  OBSSTORE_DOCKERD_RUN="$(mktemp -d /tmp/obsstore-dockerd.XXXXXX)"
  ip link show docker0 >/dev/null 2>&1 || OBSSTORE_DOCKER_BRIDGE_MADE=1
  # Without iptables rules or IP forwarding: the machine's firewall and sysctls stay as they
  # are. Published ports still work (docker-proxy on the host forwards them over the bridge);
  # builds use the host's network.
  dockerd --data-root "$root/data" --exec-root "$OBSSTORE_DOCKERD_RUN/exec" \
    --pidfile "$OBSSTORE_DOCKERD_RUN/dockerd.pid" -H "unix://$OBSSTORE_DOCKERD_RUN/docker.sock" \
    --iptables=false --ip-forward=false >"$OBSSTORE_DOCKERD_RUN/dockerd.log" 2>&1 &
  OBSSTORE_DOCKERD_PID=$!
  export DOCKER_HOST="unix://$OBSSTORE_DOCKERD_RUN/docker.sock"
  until docker_answers; do
    if ! kill -0 "$OBSSTORE_DOCKERD_PID" 2>/dev/null || [ "$waited" -ge 60 ]; then
      docker_log "dockerd did not come up; the end of its log:"
      tail -n 20 "$OBSSTORE_DOCKERD_RUN/dockerd.log" >&2
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  docker_log "started a private daemon (PID $OBSSTORE_DOCKERD_PID, data root $root/data)"
}

docker_stop() {
  [ -n "$OBSSTORE_DOCKERD_PID" ] || return 0
  local ids waited=0
  ids="$(docker ps -aq 2>/dev/null || true)"
  # shellcheck disable=SC2086 # one id a word
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
  kill -TERM "$OBSSTORE_DOCKERD_PID" 2>/dev/null || true
  while kill -0 "$OBSSTORE_DOCKERD_PID" 2>/dev/null; do
    if [ "$waited" -ge 30 ]; then
      kill -KILL "$OBSSTORE_DOCKERD_PID" 2>/dev/null || true
      break
    fi
    sleep 1
    waited=$((waited + 1))
  done
  wait "$OBSSTORE_DOCKERD_PID" 2>/dev/null || true
  docker_log "stopped the private daemon (PID $OBSSTORE_DOCKERD_PID)"
  OBSSTORE_DOCKERD_PID=""
  # dockerd leaves its network namespace mounted under the exec root.
  awk -v run="$OBSSTORE_DOCKERD_RUN/" 'index($2, run) == 1 { print $2 }' /proc/self/mounts |
    sort -r | while read -r mount; do umount "$mount" 2>/dev/null || true; done
  rm -rf "$OBSSTORE_DOCKERD_RUN" || docker_log "could not remove $OBSSTORE_DOCKERD_RUN"
  # The bridge dockerd made, when there was none before.
  [ -z "$OBSSTORE_DOCKER_BRIDGE_MADE" ] || ip link delete docker0 2>/dev/null || true
}
