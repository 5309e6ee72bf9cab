#!/usr/bin/env bash
# Runs once, when the postgres container initialises an empty data directory
# (mounted into /docker-entrypoint-initdb.d by docker-compose.yml).
#
# Creates the application role and its database. The role is deliberately ordinary:
# NOSUPERUSER and NOBYPASSRLS, so the row-level security policies on tenant tables
# (FORCE ROW LEVEL SECURITY) bind the application even though it owns the tables.
set -euo pipefail

: "${APP_DB_PASSWORD:?APP_DB_PASSWORD must be set for the postgres service}"
APP_DB_USER="${APP_DB_USER:-feedback}"
APP_DB_NAME="${APP_DB_NAME:-feedback}"

psql -v ON_ERROR_STOP=1 -X -q \
  --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  -v app_user="$APP_DB_USER" -v app_password="$APP_DB_PASSWORD" -v app_db="$APP_DB_NAME" <<'SQL'
SELECT format(
    'CREATE ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION',
    :'app_user', :'app_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user')
\gexec

-- If the role already existed, make sure it is still an ordinary role.
SELECT format(
    'ALTER ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION',
    :'app_user', :'app_password')
\gexec

SELECT format('CREATE DATABASE %I OWNER %I', :'app_db', :'app_user')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app_db')
\gexec

SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'app_db')
\gexec
SQL

echo "init-roles: role '$APP_DB_USER' (NOSUPERUSER NOBYPASSRLS) owns database '$APP_DB_NAME'"
