#!/usr/bin/env bash
# Dev mode, the quickest way to try linebacker: one process, linebacker-dev,
# runs the receiver and the four workers on the in-memory bus, with the
# backup job service and the BZI simulated inside it. PostgreSQL is the only
# service it needs (started, or installed, when missing). It builds the
# binary, starts it in the foreground, waits until it is ready and prints a
# request to send. Ctrl-C (or scripts/stop.sh from another shell) stops it.
#   scripts/dev.sh
#   LINEBACKER__HTTP__PORT=18080 scripts/dev.sh   # any LINEBACKER__* override
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export APP_ENV="${APP_ENV:-dev}"
port="${LINEBACKER__HTTP__PORT:-8080}"
base="http://127.0.0.1:$port"
READY_WAIT_SECONDS=60

use_cargo
command -v curl >/dev/null || apt_install curl ca-certificates
say "setup: checking PostgreSQL"
bash "$LB_ROOT/scripts/setup.sh" postgres
cd "$LB_ROOT"

ensure_linebacker_database
port_open 127.0.0.1 "$port" && die "port $port is taken (is scripts/run.sh's system running? scripts/stop.sh stops it)"

# The dev profile builds in less time than a release build; its
# dependencies are optimised (Cargo.toml), which is what dev mode's speed
# depends on.
say "building: cargo build --locked --bin linebacker-dev"
cargo build --locked --bin linebacker-dev

mkdir -p "$LB_RUN_DIR"
pid_file="$LB_RUN_DIR/linebacker-dev.pid"
say "starting linebacker-dev (APP_ENV=$APP_ENV; it logs here)"
target/debug/linebacker-dev &
dev_pid=$!
echo "$dev_pid" >"$pid_file"
# Ctrl-C reaches linebacker-dev too (same process group); wait for its
# graceful stop rather than leave it behind.
trap 'wait "$dev_pid" 2>/dev/null; rm -f "$pid_file"' EXIT

if ! wait_until "$READY_WAIT_SECONDS" "linebacker-dev ($base/api/zpages/readyz)" receiver_ready "$base"; then
    kill -INT "$dev_pid" 2>/dev/null || true
    exit 1
fi

cat <<MSG

linebacker-dev is running: every part of linebacker in this one process.
Send a backup request:

  curl -i -X POST $base/api/backup-requests -H 'Content-Type: application/json' -d '{"apiVersion":"2022-05-22","backupJobId":"job-17","dataDate":"2022-05-30","backupDataLocation":"/prepared/job-17/2022-05-30"}'

Follow it with the backupRequestId from the answer: curl $base/api/backup-requests/<id>
(it reaches Succeeded, or Failed for a share of them, within a few seconds).
Dashboard: $base/dashboard   API: $base/swagger-ui/   Stop: Ctrl-C

MSG
wait "$dev_pid"
