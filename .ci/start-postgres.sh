#!/usr/bin/env bash
# Installs Debian's postgresql and starts a throwaway cluster of our own (its own data directory, port and
# socket directory, trust auth on loopback), so the store's tests run against a real PostgreSQL.
# Sourced by .ci/run so SWEREX_TEST_PG_URL reaches the test process. Idempotent: reuses a running cluster.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PG_DIR="${PG_DIR:-/var/lib/swerex-ci-postgres}"
PG_PORT="${PG_PORT:-55432}"

pg_up() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }

if ! pg_up; then
  if ! dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q "install ok installed"; then
    for i in 1 2 3 4 5 6 7 8 9 10; do
      apt-get -o DPkg::Lock::Timeout=300 -qq update && break
      echo "apt-get update failed (attempt $i), retrying" >&2; sleep 6
    done
    apt-get -o DPkg::Lock::Timeout=300 -qq install -y --no-install-recommends postgresql >/dev/null
  fi
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  mkdir -p "$PG_DIR"
  chown postgres:postgres "$PG_DIR"
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    runuser -u postgres -- "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  # Many test processes open pools at once: room for them, and fsync off (a throwaway cluster).
  runuser -u postgres -- "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 start \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null
fi
export SWEREX_TEST_PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
echo "postgresql ready at $SWEREX_TEST_PG_URL"
