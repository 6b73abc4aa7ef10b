#!/usr/bin/env bash
# Installs what the compose test needs: Debian's docker-compose (/usr/bin/docker-compose), used
# only as `docker-compose config` to validate examples/docker-compose.yml; it starts nothing.
set -euo pipefail
cd "$(dirname "$0")"
bash apt-install.sh docker-compose /usr/bin/docker-compose
/usr/bin/docker-compose version
