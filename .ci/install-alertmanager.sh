#!/usr/bin/env bash
# Installs what the Alertmanager tests need: Debian's prometheus-alertmanager
# (/usr/bin/prometheus-alertmanager). The tests start their own instance on 127.0.0.1 with a
# temporary config and clustering off (test/support/alertmanager.ts); the one the package may
# start as a system service is not used.
# Idempotent: does nothing when it is installed; runs `apt-get update` only when needed.
set -euo pipefail
cd "$(dirname "$0")"
bash apt-install.sh prometheus-alertmanager /usr/bin/prometheus-alertmanager
# Debian's package may start its own service on :9093 when an init system runs; tests use their own.
/usr/bin/prometheus-alertmanager --version
