#!/usr/bin/env bash
# Starts the TLS servers the TLS tests connect to, beside (never instead of)
# the shared ones setup.sh starts:
#   - a test certificate authority and a server certificate for `localhost`
#     (and a second, unrelated CA the tests use as "the wrong CA"), made with
#     openssl into .run/tls/;
#   - PostgreSQL: a second cluster `lbtls` on 127.0.0.1:5433 with ssl = on;
#   - RabbitMQ: a second node `lbtls@localhost` with only a TLS listener on
#     127.0.0.1:5671 (its own name, distribution port, data, logs, config and
#     plugins file, so the main node on 5672 is not touched);
#   - Azurite's queue service over HTTPS on 127.0.0.1:10011.
# Idempotent: whatever already runs is left alone, so a second run takes about
# a second. Tests find everything through LINEBACKER_TEST_TLS_DIR (.run/tls).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TLS_DIR="$LB_RUN_DIR/tls"
PG_TLS_CLUSTER=lbtls
PG_TLS_PORT=5433
RABBIT_TLS_NODE=lbtls@localhost
RABBIT_TLS_PORT=5671
RABBIT_TLS_DIST_PORT=25673
RABBIT_TLS_BASE=/var/lib/rabbitmq/linebacker-tls
AZURITE_TLS_PORT=10011
# Set when this run made new certificates: servers still holding the old ones
# are restarted.
CERTS_RENEWED=

# An EC key and a certificate signed by a CA (ca unless named):
# make_cert NAME SUBJECT EXTENSIONS [CA]
make_cert() {
    local name=$1 subject=$2 extensions=$3 ca=${4:-ca}
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$TLS_DIR/$name.key" -out "$TLS_DIR/$name.csr" -subj "$subject" 2>/dev/null
    openssl x509 -req -in "$TLS_DIR/$name.csr" -CA "$TLS_DIR/$ca.pem" -CAkey "$TLS_DIR/$ca.key" \
        -CAcreateserial -days 825 -out "$TLS_DIR/$name.pem" -extfile <(printf '%b' "$extensions") 2>/dev/null
    rm -f "$TLS_DIR/$name.csr"
}

make_ca() {
    local name=$1 subject=$2
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -keyout "$TLS_DIR/$name.key" -out "$TLS_DIR/$name.pem" -subj "$subject" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

ensure_certificates() {
    [[ -f $TLS_DIR/server.pem && -f $TLS_DIR/client.pem && -f $TLS_DIR/wrong-server.pem ]] && return 0
    command -v openssl >/dev/null || apt_install openssl
    say "making a test CA and certificates in $TLS_DIR"
    CERTS_RENEWED=1
    mkdir -p "$TLS_DIR"
    make_ca ca "/CN=linebacker test CA"
    make_ca wrong-ca "/CN=linebacker unrelated CA"
    # Valid for the name localhost only: 127.0.0.1 is a wrong host name.
    make_cert server "/CN=localhost" \
        'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth'
    make_cert client "/CN=linebacker" \
        'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth'
    # A server certificate for localhost that clients trusting ca.pem refuse.
    make_cert wrong-server "/CN=localhost" \
        'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth' \
        wrong-ca
    chmod 0644 "$TLS_DIR"/*.pem "$TLS_DIR"/*.key
}

# Copies a file to dest, owned by owner and with mode, when it differs;
# true when it changed.
install_file() {
    local source=$1 dest=$2 owner=$3 mode=$4
    if as_root cmp -s "$source" "$dest" 2>/dev/null; then
        return 1
    fi
    as_root install -o "$owner" -g "$owner" -m "$mode" "$source" "$dest"
}

ensure_postgres_tls() {
    local version
    version="$(pg_version)"
    [[ -n $version ]] || die "no PostgreSQL installed (run scripts/setup.sh)"
    local conf="/etc/postgresql/$version/$PG_TLS_CLUSTER" data="/var/lib/postgresql/$version/$PG_TLS_CLUSTER"
    if [[ ! -d $conf ]]; then
        say "creating PostgreSQL cluster $version/$PG_TLS_CLUSTER on port $PG_TLS_PORT (TLS)"
        as_root pg_createcluster "$version" "$PG_TLS_CLUSTER" --port "$PG_TLS_PORT" >/dev/null
        as_root tee "$conf/conf.d/linebacker-tls.conf" >/dev/null <<EOF
# linebacker's TLS test cluster (scripts/tls-servers.sh).
listen_addresses = '127.0.0.1'
ssl = on
ssl_cert_file = '$data/server.pem'
ssl_key_file = '$data/server.key'
EOF
        pg_hba_trust_loopback "$conf/pg_hba.conf"
    fi
    local changed=
    install_file "$TLS_DIR/server.pem" "$data/server.pem" postgres 0644 && changed=1
    install_file "$TLS_DIR/server.key" "$data/server.key" postgres 0600 && changed=1
    if ! pg_isready -h 127.0.0.1 -p "$PG_TLS_PORT" -q; then
        say "starting PostgreSQL $version/$PG_TLS_CLUSTER"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$PG_TLS_CLUSTER" start
        wait_until 60 "PostgreSQL TLS cluster on 127.0.0.1:$PG_TLS_PORT" pg_isready -h 127.0.0.1 -p "$PG_TLS_PORT" -q ||
            die "see /var/log/postgresql/postgresql-$version-$PG_TLS_CLUSTER.log"
    elif [[ -n $changed ]]; then
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$PG_TLS_CLUSTER" reload
    fi
}

rabbit_tls_ctl() {
    as_root env HOME=/var/lib/rabbitmq rabbitmqctl -q -n "$RABBIT_TLS_NODE" "$@"
}

# True when the server on 127.0.0.1:port presents this checkout's
# server.pem: a server started by another checkout (with a CA of its own)
# would fail every test that trusts this one's ca.pem.
serves_our_certificate() {
    local port=$1 served ours
    served="$(openssl s_client -connect "127.0.0.1:$port" -servername localhost </dev/null 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null)" || return 1
    ours="$(openssl x509 -in "$TLS_DIR/server.pem" -noout -fingerprint -sha256)"
    [[ -n $served && $served == "$ours" ]]
}

ensure_rabbitmq_tls() {
    if port_open 127.0.0.1 "$RABBIT_TLS_PORT"; then
        [[ -n $CERTS_RENEWED ]] || ! serves_our_certificate "$RABBIT_TLS_PORT" || return 0
        say "stopping RabbitMQ node $RABBIT_TLS_NODE: its certificate was renewed"
        rabbit_tls_ctl stop || true
        wait_until 30 "RabbitMQ node $RABBIT_TLS_NODE to stop" bash -c "! timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$RABBIT_TLS_PORT'"
    fi
    command -v rabbitmq-server >/dev/null || die "no RabbitMQ installed (run scripts/setup.sh)"
    say "starting RabbitMQ node $RABBIT_TLS_NODE with a TLS listener on 127.0.0.1:$RABBIT_TLS_PORT"
    as_root install -d -o rabbitmq -g rabbitmq "$RABBIT_TLS_BASE" "$RABBIT_TLS_BASE/mnesia" "$RABBIT_TLS_BASE/log"
    local file
    for file in ca.pem server.pem server.key; do
        install_file "$TLS_DIR/$file" "$RABBIT_TLS_BASE/$file" rabbitmq 0600 || true
    done
    as_root tee "$RABBIT_TLS_BASE/rabbitmq.conf" >/dev/null <<EOF
# linebacker's TLS test node (scripts/tls-servers.sh): TLS only.
listeners.tcp = none
listeners.ssl.local = 127.0.0.1:$RABBIT_TLS_PORT
ssl_options.cacertfile = $RABBIT_TLS_BASE/ca.pem
ssl_options.certfile = $RABBIT_TLS_BASE/server.pem
ssl_options.keyfile = $RABBIT_TLS_BASE/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
EOF
    echo '[].' | as_root tee "$RABBIT_TLS_BASE/enabled_plugins" >/dev/null
    # Its own env file: the main node's (/etc/rabbitmq/rabbitmq-env.conf)
    # names that node.
    printf 'ERL_EPMD_ADDRESS=127.0.0.1\n' | as_root tee "$RABBIT_TLS_BASE/rabbitmq-env.conf" >/dev/null
    as_root chown rabbitmq:rabbitmq "$RABBIT_TLS_BASE"/*.conf "$RABBIT_TLS_BASE/enabled_plugins"
    as_root runuser -u rabbitmq -- env -i PATH="$PATH" HOME=/var/lib/rabbitmq \
        RABBITMQ_NODENAME="$RABBIT_TLS_NODE" \
        RABBITMQ_DIST_PORT="$RABBIT_TLS_DIST_PORT" \
        RABBITMQ_CONF_ENV_FILE="$RABBIT_TLS_BASE/rabbitmq-env.conf" \
        RABBITMQ_CONFIG_FILE="$RABBIT_TLS_BASE/rabbitmq.conf" \
        RABBITMQ_ADVANCED_CONFIG_FILE="$RABBIT_TLS_BASE/advanced.config" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_TLS_BASE/enabled_plugins" \
        RABBITMQ_MNESIA_BASE="$RABBIT_TLS_BASE/mnesia" \
        RABBITMQ_LOG_BASE="$RABBIT_TLS_BASE/log" \
        RABBITMQ_PID_FILE="$RABBIT_TLS_BASE/rabbitmq.pid" \
        ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}" \
        /usr/lib/rabbitmq/bin/rabbitmq-server -detached
    wait_until 120 "RabbitMQ node $RABBIT_TLS_NODE" \
        as_root timeout 30 env HOME=/var/lib/rabbitmq rabbitmqctl -q -n "$RABBIT_TLS_NODE" await_startup ||
        die "see the logs in $RABBIT_TLS_BASE/log"
    wait_until 30 "RabbitMQ TLS listener on 127.0.0.1:$RABBIT_TLS_PORT" port_open 127.0.0.1 "$RABBIT_TLS_PORT" ||
        die "see the logs in $RABBIT_TLS_BASE/log"
}

ensure_azurite_tls() {
    local pid_file="$LB_RUN_DIR/azurite-tls.pid" args_file="$LB_RUN_DIR/azurite-tls.args"
    # --oauth basic: Azurite takes bearer tokens (over HTTPS only), for the
    # Entra ID tests.
    local args=(--cert "$TLS_DIR/server.pem" --key "$TLS_DIR/server.key" --oauth basic)
    if port_open 127.0.0.1 "$AZURITE_TLS_PORT"; then
        if [[ -z $CERTS_RENEWED && $(cat "$args_file" 2>/dev/null) == "${args[*]}" ]] &&
            serves_our_certificate "$AZURITE_TLS_PORT"; then
            return 0
        fi
        say "stopping Azurite over HTTPS: its certificate or options changed"
        local pid
        pid="$(cat "$pid_file" 2>/dev/null)" ||
            # Started by another checkout: the process that listens there.
            pid="$(ss -Hltnp "sport = :$AZURITE_TLS_PORT" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)"
        [[ -n $pid ]] && { kill -- -"$(ps -o pgid= "$pid" | tr -d ' ')" 2>/dev/null || kill "$pid" 2>/dev/null || true; }
        wait_until 30 "Azurite over HTTPS to stop" bash -c "! timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$AZURITE_TLS_PORT'"
    fi
    say "starting Azurite queue service over HTTPS on 127.0.0.1:$AZURITE_TLS_PORT (log: .run/azurite-tls.log)"
    start_azurite_queue "$AZURITE_TLS_PORT" azurite-tls "${args[@]}"
    printf '%s\n' "${args[*]}" >"$args_file"
}

main() {
    ensure_certificates
    ensure_postgres_tls
    ensure_rabbitmq_tls
    ensure_azurite_tls
    say "TLS servers ready: PostgreSQL :$PG_TLS_PORT, RabbitMQ amqps :$RABBIT_TLS_PORT, Azurite https :$AZURITE_TLS_PORT (CA: $TLS_DIR/ca.pem)"
}

main "$@"
