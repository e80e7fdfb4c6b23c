#!/bin/sh
# Tools the test suite runs besides Python packages: promtool (Debian's prometheus package)
# checks the OpenMetrics export; tmux runs the live dashboard in a real terminal. Installed
# with apt where they are missing and apt can run.
set -eu
missing=""
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
if [ -z "$missing" ]; then
    exit 0
fi
if [ "$(id -u)" = "0" ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "ensure-tools: missing Debian packages:$missing (apt-get needs root)" >&2
    exit 0  # the promtool and tmux tests skip with this reason (and fail under CI=true)
fi
if command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086  # one word per package
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
    # The prometheus package starts a server on install where an init system runs; tests
    # need only promtool.
    $SUDO systemctl stop prometheus >/dev/null 2>&1 || true
fi
command -v promtool >/dev/null 2>&1 || echo "ensure-tools: could not install promtool" >&2
command -v tmux >/dev/null 2>&1 || echo "ensure-tools: could not install tmux" >&2
