#!/usr/bin/env bash
# Runs bench/scim_load.py against this project (gunicorn, 4 workers, PostgreSQL, Redis
# broker) and against the in-memory reference server scim2-server, in one run.
#   bench/run_scim_bench.sh [extra scim_load.py options, e.g. --users 2000]
# Needs PostgreSQL and Redis on 127.0.0.1 (as in .ci/run). Uses ports 8011 and 8012.
# WORKERS=n sets gunicorn's workers (default 4); AUDIT_WORKER=0 runs without the Celery worker.
set -euo pipefail
cd "$(dirname "$0")/.."
make install >/dev/null

BENCH_VENV=.venv-bench
if [ ! -x "$BENCH_VENV/bin/scim2-server" ]; then
  python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install --quiet -r bench/requirements.txt
fi

DB=optiid_bench
psql -h 127.0.0.1 -U root -d postgres -q -c "DROP DATABASE IF EXISTS ${DB}" -c "CREATE DATABASE ${DB}"
export DATABASE_URL="postgres://root@127.0.0.1:5432/${DB}"
export REDIS_URL="redis://127.0.0.1:6379/13"
export DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost"
export DJANGO_LOG_LEVEL=WARNING
PY=.venv/bin/python
$PY manage.py migrate -v0
$PY manage.py create_organization --name "Bench" --slug bench >/dev/null
$PY manage.py sso_connection add --org bench --name PingOne --protocol saml >/dev/null
$PY manage.py provisioning --org bench --mode scim --connection PingOne >/dev/null
TOKEN=$($PY manage.py scim_token issue --org bench --label bench)
REF_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')

.venv/bin/gunicorn optiid.wsgi --bind 127.0.0.1:8011 --workers "${WORKERS:-4}" --log-level warning &
GUNICORN=$!
WORKER=
if [ "${AUDIT_WORKER:-1}" = 1 ]; then  # the audit pipeline runs during the load, as in production
  .venv/bin/celery -A optiid worker --loglevel=WARNING --concurrency 1 >/tmp/optiid-bench-worker.log 2>&1 &
  WORKER=$!
fi
"$BENCH_VENV/bin/scim2-server" --port 8012 --bearer-token "$REF_TOKEN" >/tmp/scim2-server.log 2>&1 &
REF=$!
trap 'kill $GUNICORN $WORKER $REF 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -fs -o /dev/null -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8011/api/scim/v2/ServiceProviderConfig \
    && curl -fs -o /dev/null -H "Authorization: Bearer $REF_TOKEN" http://127.0.0.1:8012/v2/ServiceProviderConfig && break
  sleep 0.2
done
WORKER_PIDS=$(pgrep -P "$GUNICORN" | paste -sd, -)
.venv/bin/python bench/scim_load.py http://127.0.0.1:8011/api/scim/v2 "$TOKEN" \
  --compare http://127.0.0.1:8012/v2 "$REF_TOKEN" --watch-pids "$WORKER_PIDS" --compare-pids "$REF" "$@"
