#!/usr/bin/env bash
# Makes this machine ready to build, test and run linebacker:
#   - cargo on PATH (checked, not installed: use rustup),
#   - the Node tools from package-lock.json (npm ci, when out of date),
#   - Chromium from Debian's `chromium` package, for the dashboard's browser
#     test (driven by playwright-core; no browser is ever downloaded),
#   - PostgreSQL on 127.0.0.1:5432 accepting the passwordless superuser,
#   - RabbitMQ on 127.0.0.1:5672,
#   - Azurite's queue service on 127.0.0.1:10001 (data and log under .run/).
# Everything already present is left alone, so a second run takes about a
# second. Installs use Debian packages; services are started without systemd
# (containers and CI have none).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_tools() {
    use_cargo
    command -v npm >/dev/null || die "npm not found: install Node.js 20 with npm"
    command -v curl >/dev/null || apt_install curl ca-certificates
}

ensure_node_modules() {
    # npm writes node_modules/.package-lock.json on every install: older than
    # the committed lock file (or missing) means the tools are out of date.
    local marker="$LB_ROOT/node_modules/.package-lock.json"
    if [[ ! -f $marker || $LB_ROOT/package-lock.json -nt $marker ]]; then
        say "installing Node tools (npm ci)"
        (cd "$LB_ROOT" && npm ci --no-audit --no-fund)
    fi
}

ensure_chromium() {
    [[ -x /usr/bin/chromium ]] || apt_install chromium
}

pg_accepts_superuser() {
    pg -d postgres -Atc 'select 1' >/dev/null 2>&1
}

ensure_postgres() {
    if command -v pg_isready >/dev/null &&
        pg_isready -h "$LB_PG_HOST" -p "$LB_PG_PORT" -q && pg_accepts_superuser; then
        return 0
    fi
    if [[ -z $(pg_version) ]] || ! command -v pg_ctlcluster >/dev/null; then
        apt_install postgresql
    fi
    local version
    version="$(pg_version)"
    [[ -n $version ]] || die "PostgreSQL is installed but /etc/postgresql has no cluster (create one with pg_createcluster)"

    if ! pg_isready -h "$LB_PG_HOST" -p "$LB_PG_PORT" -q; then
        if ! pg_ctlcluster "$version" main status >/dev/null 2>&1; then
            say "starting PostgreSQL $version"
            as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
        fi
        wait_until 60 "PostgreSQL on $LB_PG_HOST:$LB_PG_PORT" \
            pg_isready -h "$LB_PG_HOST" -p "$LB_PG_PORT" -q ||
            die "see /var/log/postgresql/postgresql-$version-main.log"
    fi

    if ! pg_accepts_superuser; then
        # A fresh Debian cluster asks TCP clients for a password, but the
        # default database.url (postgres://postgres@127.0.0.1:5432/linebacker)
        # has none: on this dev/CI cluster, loopback connections are trusted.
        local hba="/etc/postgresql/$version/main/pg_hba.conf"
        say "trusting loopback TCP connections in $hba (dev/CI cluster only)"
        pg_hba_trust_loopback "$hba"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
        wait_until 15 "passwordless login as postgres on $LB_PG_HOST:$LB_PG_PORT" pg_accepts_superuser ||
            die "check $hba"
    fi
}

ensure_rabbitmq() {
    port_open 127.0.0.1 "$LB_AMQP_PORT" && return 0
    command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server

    # Erlang names the node after the host name; in a container that name
    # may not resolve, and the node then cannot start.
    local env_conf=/etc/rabbitmq/rabbitmq-env.conf
    if ! getent hosts "$(hostname)" >/dev/null && ! grep -qs '^NODENAME=' "$env_conf"; then
        say "host name $(hostname) does not resolve: naming the RabbitMQ node rabbit@localhost"
        echo 'NODENAME=rabbit@localhost' | as_root tee -a "$env_conf" >/dev/null
    fi

    # The package's install step may already have started it.
    if ! rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
        say "starting RabbitMQ"
        as_root rabbitmq-server -detached
    fi
    say "waiting for RabbitMQ to finish booting"
    wait_until 120 "RabbitMQ" timeout 30 rabbitmqctl -q await_startup ||
        die "see the logs in /var/log/rabbitmq/"
    wait_until 30 "RabbitMQ on 127.0.0.1:$LB_AMQP_PORT" port_open 127.0.0.1 "$LB_AMQP_PORT" ||
        die "RabbitMQ is up but does not listen on 127.0.0.1:$LB_AMQP_PORT (see /etc/rabbitmq/rabbitmq.conf)"
}

ensure_azurite() {
    port_open 127.0.0.1 "$LB_AZURITE_QUEUE_PORT" && return 0
    say "starting Azurite queue service on 127.0.0.1:$LB_AZURITE_QUEUE_PORT (log: .run/azurite.log)"
    start_azurite_queue "$LB_AZURITE_QUEUE_PORT" azurite
}

main() {
    # With arguments, only those parts: `setup.sh tools postgres` is what
    # dev mode needs.
    if (($# > 0)); then
        local part
        for part in "$@"; do
            "ensure_$part"
        done
        return 0
    fi
    ensure_tools
    ensure_node_modules
    ensure_chromium
    ensure_postgres
    ensure_rabbitmq
    ensure_azurite
    say "machine ready: PostgreSQL :$LB_PG_PORT, RabbitMQ :$LB_AMQP_PORT, Azurite queues :$LB_AZURITE_QUEUE_PORT"
}

main "$@"
