#!/usr/bin/env bash
# Installs what the Postgres store tests need: Debian's postgresql (initdb and pg_ctl under
# /usr/lib/postgresql/<version>/bin, the version Debian ships). The tests start their own
# throwaway server as the `postgres` user in a temporary directory, on loopback and a unix socket
# only (test/support/postgres.ts); the cluster the package may create and start is not used.
# Idempotent: does nothing when it is installed; runs `apt-get update` only when needed.
set -euo pipefail
cd "$(dirname "$0")"
newest_initdb() { ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1; }
# apt-install.sh checks a binary's presence; before the install its versioned path is unknown.
bash apt-install.sh postgresql "$(newest_initdb || echo /usr/lib/postgresql/bin/initdb)"
"$(newest_initdb)" --version
