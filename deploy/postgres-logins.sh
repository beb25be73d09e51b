#!/bin/bash
# The login users of the jamsos database roles (migration 0008_service_roles.sql creates the
# NOLOGIN roles; this gives each one login, with the password from its Docker secret).
# Run by the `db-logins` service of docker-compose.yml after `migrate`, on every `up`: it
# creates a missing login and sets the password of an existing one (rotation = change the
# secret file and run `docker compose up -d` again). PG* variables name the owner's login.
set -euo pipefail
if [[ -n "${OWNER_PASSWORD_FILE:-}" ]]; then
    PGPASSWORD="$(tr -d '\r\n' < "$OWNER_PASSWORD_FILE")"
    export PGPASSWORD
fi
for role in registration verification billing operator monitor; do
    secret="${SECRETS_DIR:-/run/secrets}/postgres_password_${role}"
    if [[ ! -s "$secret" ]]; then
        echo "error: $secret is missing or empty (README, \"Database roles\")" >&2
        exit 1
    fi
    password="$(tr -d '\r\n' < "$secret")"
    psql -v ON_ERROR_STOP=1 -q -v login="jamsos_${role}_login" -v role="jamsos_${role}" \
        -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN IN ROLE %I', :'login', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'login') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'login', :'password') \gexec
SELECT format('GRANT %I TO %I', :'role', :'login')
WHERE NOT pg_has_role(:'login', :'role', 'MEMBER') \gexec
SQL
    echo "login jamsos_${role}_login: role jamsos_${role}"
done
