#!/usr/bin/env bash
# Installs what the Alertmanager tests need: Debian's prometheus-alertmanager
# (/usr/bin/prometheus-alertmanager). The tests start their own instance on 127.0.0.1 with a
# temporary config and clustering off (test/support/alertmanager.ts); the one the package may
# start as a system service is not used.
# Idempotent: does nothing when it is installed; runs `apt-get update` only when needed.
set -euo pipefail

binary=/usr/bin/prometheus-alertmanager

if dpkg-query -W -f='${Status}' prometheus-alertmanager 2>/dev/null | grep -q 'install ok installed' && [ -x "$binary" ]; then
  echo "install-alertmanager: prometheus-alertmanager already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-alertmanager: need root to install prometheus-alertmanager" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
  apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold prometheus-alertmanager
}

echo "install-alertmanager: installing prometheus-alertmanager"
if ! apt_install; then
  apt-get update
  apt_install
fi

# Debian's package may start its own service on :9093 when an init system runs; tests use their own.
"$binary" --version
