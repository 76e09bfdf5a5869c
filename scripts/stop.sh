#!/usr/bin/env bash
# THE stop command: stops what scripts/run.sh started. The linebacker
# processes under PM2 stop gracefully (SIGINT, then SIGKILL after the
# kill_timeout of ecosystem.config.js), then the PM2 daemon itself and the
# Azurite that scripts/setup.sh started (.run/azurite.pid). PostgreSQL and
# RabbitMQ are machine services that other programs may use: they keep
# running. Safe to run when nothing is running.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$LB_ROOT"

pm2() { npx --no-install pm2 "$@"; }

# Any pm2 command would start the daemon: look at its pid file instead.
daemon_pid_file="${PM2_HOME:-$HOME/.pm2}/pm2.pid"
if [[ -f $daemon_pid_file ]] && kill -0 "$(cat "$daemon_pid_file")" 2>/dev/null; then
    say "stopping linebacker's processes: npx pm2 delete ecosystem.config.js"
    pm2 delete ecosystem.config.js >/dev/null 2>&1 || true
    say "stopping the PM2 daemon: npx pm2 kill"
    pm2 kill >/dev/null 2>&1 || true
fi

pid_file="$LB_RUN_DIR/azurite.pid"
if [[ -f $pid_file ]]; then
    pid="$(cat "$pid_file")"
    # setup.sh starts Azurite as the leader of a session of its own: its id
    # is the process group to stop.
    if kill -0 "$pid" 2>/dev/null; then
        say "stopping Azurite (process group $pid)"
        kill -TERM -- "-$pid" 2>/dev/null || true
        for _ in $(seq 1 20); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$pid_file"
fi
say "stopped"
