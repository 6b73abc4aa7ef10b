#!/usr/bin/env bash
# Installs what the Docker tests need: Debian's docker.io (dockerd 20.10 with BuildKit, the docker
# CLI, containerd, runc) and busybox-static (the test images are imported from /bin/busybox; no
# registry is reachable). Idempotent: installs only what is missing. The tests start their own
# dockerd (test/support/docker-engine.ts); the system's, which the package may start when an init
# system runs, is left as the package set it up.
set -euo pipefail
cd "$(dirname "$0")"
bash apt-install.sh docker.io /usr/sbin/dockerd
bash apt-install.sh busybox-static /bin/busybox
/usr/sbin/dockerd --version
