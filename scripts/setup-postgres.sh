#!/usr/bin/env bash
# Installs a PostgreSQL server for the SQL cell tests (tests/engine/pg_server.py starts a
# throwaway cluster from it on a loopback port; nothing here starts a server). Idempotent:
# does nothing when initdb is already under /usr/lib/postgresql/*/bin.
set -euo pipefail

find_initdb() {
  ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1
}

if [ -z "$(find_initdb)" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-postgres: run as root (apt-get install postgresql), or install PostgreSQL yourself" >&2
    exit 2
  fi
  echo "setup-postgres: installing postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends postgresql >/dev/null
  # Debian starts the packaged cluster; the tests use their own, so keep it from holding
  # port 5432 and memory (ignore failures: there may be no service manager).
  service postgresql stop >/dev/null 2>&1 || true
fi
initdb="$(find_initdb)"
if [ -z "$initdb" ]; then
  echo "setup-postgres: initdb not found after installing postgresql" >&2
  exit 2
fi
# The server refuses to run as root: the fixture runs it as this user.
if ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi
echo "setup-postgres: $initdb" >&2
