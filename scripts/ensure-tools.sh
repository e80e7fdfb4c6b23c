#!/bin/sh
# Tools the test suite runs besides Python packages: promtool (Debian's prometheus package)
# checks the OpenMetrics export. Installed with apt where it is missing and apt can run.
set -eu
if command -v promtool >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "ensure-tools: promtool is missing and apt-get needs root; install Debian's prometheus package" >&2
    exit 0  # the promtool tests skip with this reason (and fail under CI=true)
fi
if command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    # The package starts a Prometheus server on install where an init system runs; tests
    # need only promtool.
    $SUDO systemctl stop prometheus >/dev/null 2>&1 || true
fi
command -v promtool >/dev/null 2>&1 || echo "ensure-tools: could not install promtool" >&2
