#!/usr/bin/env bash
# Installs (if needed) and starts Debian's PostgreSQL for the ledger tests; prints the URL to use.
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
fi
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^$version main"; then pg_createcluster "$version" main >&2; fi
pg_ctlcluster "$version" main start >&2 2>/dev/null || true
for _ in $(seq 30); do su postgres -c "pg_isready -q" && break; sleep 1; done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='relance'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE ROLE relance LOGIN SUPERUSER PASSWORD 'relance'\"" >&2
echo "postgresql+psycopg://relance:relance@127.0.0.1:5432/postgres"
