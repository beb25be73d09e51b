#!/usr/bin/env bash
# Runs the whole test suite: unit, integration and end-to-end (real PostgreSQL and tansu).
# PostgreSQL: JAMSOS_TEST_DATABASE_URL, else 127.0.0.1:5432, else an embedded server.
set -uo pipefail
cd "$(dirname "$0")/.."
# Start the machine's PostgreSQL if it is installed but stopped (CI machines start it already).
if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  for v in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || true
  done
fi
# The browser test drives Debian's Chromium (Playwright's own browser downloads are not used).
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium for the browser test" >&2
  apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2 \
    || { echo "could not install chromium (needed by tests/e2e/test_dashboard.py)" >&2; exit 1; }
fi
# The integration and end-to-end tests mostly wait (group joins, process start-up), so they run
# in parallel workers; each worker has its own template database, brokers and ports.
.venv/bin/pytest -n "${JAMSOS_TEST_WORKERS:-4}" "$@"
code=$?
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests: failing the run" >&2
  exit 1
fi
exit "$code"
