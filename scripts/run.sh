#!/usr/bin/env bash
# THE run command: readies the machine, builds the release binaries, applies
# the database migrations and starts linebacker under PM2, then waits until
# the receiver is ready and says where to send a request.
#   scripts/run.sh                        # APP_ENV=dev (no auth)
#   APP_ENV=production scripts/run.sh
#   LINEBACKER__HTTP__PORT=18080 scripts/run.sh   # any LINEBACKER__* override
# Stop with: scripts/stop.sh (the processes, the PM2 daemon and Azurite)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export APP_ENV="${APP_ENV:-dev}"
# The receiver's port as the processes will see it (config/default.toml
# sets 8080; an environment override wins).
port="${LINEBACKER__HTTP__PORT:-8080}"
base="http://127.0.0.1:$port"
READY_WAIT_SECONDS=60

say "setup: checking tools and services"
bash "$LB_ROOT/scripts/setup.sh"
use_cargo
cd "$LB_ROOT"

ensure_linebacker_database

say "building release binaries: cargo build --release --locked --bins"
cargo build --release --locked --bins

say "applying migrations: linebacker-admin migrate (APP_ENV=$APP_ENV)"
target/release/linebacker-admin migrate

say "starting under PM2: npx pm2 startOrRestart ecosystem.config.js --env $APP_ENV"
# --update-env: a restart picks up changed LINEBACKER__* variables too.
npx --no-install pm2 startOrRestart ecosystem.config.js --env "$APP_ENV" --update-env

say "waiting for $base/api/zpages/readyz (up to ${READY_WAIT_SECONDS}s)"
if ! wait_until "$READY_WAIT_SECONDS" "http-receiver ($base/api/zpages/readyz)" receiver_ready "$base"; then
    npx --no-install pm2 logs --nostream --lines 50
    exit 1
fi

auth_note=
if [[ $APP_ENV != dev ]]; then
    auth_note="
(Outside dev, auth is on unless configured off: add -H 'Authorization: Bearer <token>'.)"
fi

cat <<EOF

linebacker is running (APP_ENV=$APP_ENV). Send a backup request:$auth_note

  curl -i -X POST $base/api/backup-requests -H 'Content-Type: application/json' -d '{"apiVersion":"2022-05-22","backupJobId":"job-17","dataDate":"2022-05-30","backupDataLocation":"/prepared/job-17/2022-05-30"}'

Read it back with the backupRequestId from the answer (or its Location header):

  curl $base/api/backup-requests/<id>

Processes and logs:  npx pm2 ls   |   npx pm2 logs   (files in .run/logs/)
Readiness:           curl $base/api/zpages/readyz
System health:       curl $base/api/zpages/healthz/all   (every process, queue depths, backlog)
Stop:                scripts/stop.sh
EOF
