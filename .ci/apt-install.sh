#!/usr/bin/env bash
# Usage: apt-install.sh PACKAGE BINARY — installs one Debian package unless it is installed and
# BINARY is there. Idempotent: runs `apt-get update` only when the install cannot proceed without it.
set -euo pipefail

package=$1
binary=$2

if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' && [ -x "$binary" ]; then
  echo "apt-install: $package already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "apt-install: need root to install $package" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
  apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$package"
}

echo "apt-install: installing $package"
if ! apt_install; then
  apt-get update
  apt_install
fi
