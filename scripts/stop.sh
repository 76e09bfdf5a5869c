#!/usr/bin/env bash
# THE stop command: stops what scripts/run.sh (or scripts/dev.sh) started. The linebacker
# processes under PM2 stop gracefully (SIGINT, then SIGKILL after the
# kill_timeout of ecosystem.config.js), then the PM2 daemon itself and the
# Azurite that scripts/setup.sh started (.run/azurite.pid), and the TLS test
# servers scripts/test.sh starts. The machine's own PostgreSQL and RabbitMQ
# are services that other programs may use: they keep running. Safe to run
# when nothing is running.
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

# linebacker-dev, when scripts/dev.sh started it: SIGINT, its graceful stop.
dev_pid_file="$LB_RUN_DIR/linebacker-dev.pid"
if [[ -f $dev_pid_file ]] && kill -0 "$(cat "$dev_pid_file")" 2>/dev/null; then
    say "stopping linebacker-dev (pid $(cat "$dev_pid_file"))"
    kill -INT "$(cat "$dev_pid_file")" 2>/dev/null || true
    for _ in $(seq 1 30); do
        kill -0 "$(cat "$dev_pid_file")" 2>/dev/null || break
        sleep 0.5
    done
fi
rm -f "$dev_pid_file"

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
# The TLS test servers of scripts/tls-servers.sh (started by scripts/test.sh),
# when they run: an HTTPS Azurite, a RabbitMQ node and a PostgreSQL cluster,
# each on ports of its own.
tls_pid_file="$LB_RUN_DIR/azurite-tls.pid"
if [[ -f $tls_pid_file ]] && kill -0 "$(cat "$tls_pid_file")" 2>/dev/null; then
    say "stopping Azurite over HTTPS (process group $(cat "$tls_pid_file"))"
    kill -TERM -- "-$(cat "$tls_pid_file")" 2>/dev/null || true
fi
rm -f "$tls_pid_file"
if port_open 127.0.0.1 5671; then
    say "stopping RabbitMQ node lbtls@localhost"
    as_root env HOME=/var/lib/rabbitmq rabbitmqctl -q -n lbtls@localhost stop >/dev/null 2>&1 || true
fi
if command -v pg_ctlcluster >/dev/null && pg_isready -h 127.0.0.1 -p 5433 -q 2>/dev/null; then
    say "stopping PostgreSQL cluster $(pg_version)/lbtls"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" lbtls stop || true
fi
say "stopped"
