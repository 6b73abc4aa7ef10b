#!/usr/bin/env bash
# Installs what the Docker tests need: Debian's docker.io (dockerd 20.10, containerd, runc) and
# busybox-static (the test image is imported from /bin/busybox; no registry is reachable).
# Idempotent: does nothing when both are installed; runs `apt-get update` only when the install
# cannot proceed without it. The tests start their own dockerd (test/support/docker-engine.ts).
set -euo pipefail

packages=(docker.io busybox-static)

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for package in "${packages[@]}"; do
  installed "$package" || missing+=("$package")
done

if [ "${#missing[@]}" -eq 0 ] && [ -x /usr/sbin/dockerd ] && [ -x /bin/busybox ]; then
  echo "install-docker: docker.io and busybox-static already installed"
  exit 0
fi
[ "${#missing[@]}" -eq 0 ] && missing=("${packages[@]}") # a binary is gone: reinstall both

if [ "$(id -u)" -ne 0 ]; then
  echo "install-docker: need root to install ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
  apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
}

echo "install-docker: installing ${missing[*]}"
if ! apt_install; then
  apt-get update
  apt_install
fi

# The Debian package may start the system's dockerd (when an init system runs); the tests do
# not use it, and it is left as the package set it up.
/usr/sbin/dockerd --version
