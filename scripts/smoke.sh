#!/usr/bin/env bash
# Checks the README's quick start: scripts/run.sh brings the whole system up
# under PM2, the curl request it prints is accepted and reaches Succeeded,
# then PM2 stops everything (SIGINT) and every process reports a clean stop.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

base="http://127.0.0.1:${LINEBACKER__HTTP__PORT:-8080}"
bash "$LB_ROOT/scripts/run.sh"
cd "$LB_ROOT"
trap 'npx --no-install pm2 delete ecosystem.config.js >/dev/null 2>&1 || true' EXIT

say "posting the README's request"
answer=$(curl -s -X POST "$base/api/backup-requests" -H 'Content-Type: application/json' \
    -d '{"apiVersion":"2022-05-22","backupJobId":"job-17","dataDate":"2022-05-30","backupDataLocation":"/prepared/job-17/2022-05-30"}')
id=$(printf '%s' "$answer" | sed -n 's/.*"backupRequestId":"\([^"]*\)".*/\1/p')
[[ -n $id ]] || { echo "no backupRequestId in: $answer" >&2; exit 1; }
say "request $id accepted; waiting for Succeeded"
succeeded() { curl -s "$base/api/backup-requests/$id" | grep -q '"statusTypeCode":"Succeeded"'; }
wait_until 60 "request $id to reach Succeeded" succeeded
curl -s "$base/api/backup-requests/$id"; echo

say "stopping under PM2 (SIGINT)"
npx --no-install pm2 delete ecosystem.config.js >/dev/null
trap - EXIT
sleep 2
for app in http-receiver check-allowed send-to-interface interface-listener receive-status; do
    log=$(ls -t .run/logs/"$app".out*.log | head -1)
    # The process's last word is its own clean stop (the log outlives runs).
    last=$(grep -oE '"message":"(('"$app"' )?(started|stopped)|starting service: [^"]*)"' "$log" | tail -n 1)
    [[ $last == *stopped* ]] || { echo "$app did not report a clean stop (see $log)" >&2; exit 1; }
done
say "smoke check passed"
