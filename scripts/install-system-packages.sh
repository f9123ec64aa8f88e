#!/bin/sh
# Installs the Debian packages the test suite needs, only those missing, only as root on Debian/Ubuntu.
# Anywhere else it prints what is missing; the engine tests then skip with that reason.
set -eu
need=""
have() { command -v "$1" >/dev/null 2>&1; }
have dockerd || need="$need docker.io"
have docker-registry || need="$need docker-registry"
[ -x /bin/busybox ] || need="$need busybox-static"
have socat || need="$need socat"
have ip || need="$need iproute2"
have nsenter || need="$need util-linux"
have git || need="$need git"  # dockerd clones git build contexts with it; the tests make a repository
[ -x /usr/bin/chromium ] || need="$need chromium"  # the dashboard's browser tests
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && have apt-get; then
    echo "installing:$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $need >/dev/null
else
    echo "missing system packages:$need (install them as root; engine tests will skip)" >&2
fi
