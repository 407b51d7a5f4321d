#!/bin/sh
# Run once by the postgres image on an empty volume: a role and databases for Temporal (its store and its
# visibility) and a role and database for the Relance ledger. Passwords come from the environment only.
set -eu
: "${TEMPORAL_DB_PASSWORD:?}" "${RELANCE_DB_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v temporal_password="$TEMPORAL_DB_PASSWORD" -v relance_password="$RELANCE_DB_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
CREATE ROLE relance LOGIN PASSWORD :'relance_password';
CREATE DATABASE relance OWNER relance;
SQL
