# shellcheck shell=bash
# Helpers shared by setup.sh, test.sh and run.sh. Source it; it defines
# functions and a few variables and changes nothing on the machine by itself.

# shellcheck disable=SC2034 # the variables below are for the scripts that source this
# The repository root, whatever directory the caller runs from.
LB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Runtime state (service data, logs, pid files); git-ignored.
LB_RUN_DIR="$LB_ROOT/.run"

LB_PG_HOST=127.0.0.1
LB_PG_PORT=5432
LB_AMQP_PORT=5672
LB_AZURITE_QUEUE_PORT=10001

# One line per stage, so a log shows where a run is.
say() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root to run: $* (run as root or install sudo)"
    fi
}

# Installs Debian packages non-interactively; `apt-get update` runs once per
# script run, only when something is actually installed.
LB_APT_UPDATED=
apt_install() {
    if [[ -z $LB_APT_UPDATED ]]; then
        say "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        LB_APT_UPDATED=1
    fi
    say "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

# True when something accepts TCP connections on host:port.
port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# wait_until SECONDS WHAT COMMAND...: retries COMMAND every second until it
# succeeds; fails with a message naming WHAT once SECONDS have passed.
wait_until() {
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            printf 'error: %s was not ready after %ss\n' "$what" "$seconds" >&2
            return 1
        fi
        sleep 1
    done
}

# Puts cargo on PATH when rustup installed it but the shell profile was not
# read (a non-login shell); fails with a clear message when there is none.
use_cargo() {
    if ! command -v cargo >/dev/null && [[ -f "$HOME/.cargo/env" ]]; then
        # shellcheck source=/dev/null
        . "$HOME/.cargo/env"
    fi
    command -v cargo >/dev/null ||
        die "cargo not found: install Rust with rustup (https://rustup.rs) and make sure ~/.cargo/bin is on PATH"
}

# psql against the local server as the superuser over TCP, never prompting
# for a password (-w): trust auth on loopback is part of the dev/CI setup.
pg() {
    psql -h "$LB_PG_HOST" -p "$LB_PG_PORT" -U postgres -w -X -q -v ON_ERROR_STOP=1 "$@"
}

# The newest PostgreSQL version with a Debian cluster configuration.
pg_version() {
    # shellcheck disable=SC2012 # entries are version numbers such as 15
    ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1
}

# Makes loopback TCP connections trusted in the given pg_hba.conf by adding
# the missing lines at the top (the first matching line wins). Only for the
# dev/CI cluster: the default database URL has no password.
pg_hba_trust_loopback() {
    local file=$1 line missing=()
    for line in "host all all 127.0.0.1/32 trust" "host all all ::1/128 trust"; do
        # Compare with whitespace collapsed: the file may align columns.
        if ! sed -e 's/[[:space:]]\+/ /g' -e 's/^ //' -e 's/ $//' "$file" | grep -qxF "$line"; then
            missing+=("$line")
        fi
    done
    ((${#missing[@]})) || return 0
    local tmp
    tmp="$(mktemp "$file.XXXXXX")"
    {
        echo "# Added by linebacker's scripts/setup.sh: trust loopback TCP connections (dev/CI cluster)."
        printf '%s\n' "${missing[@]}"
        cat "$file"
    } >"$tmp"
    # Keep the original owner and mode (postgres:postgres 0640 on Debian).
    chown --reference="$file" "$tmp" 2>/dev/null || true
    chmod --reference="$file" "$tmp"
    mv "$tmp" "$file"
}

# start_azurite_queue PORT NAME [AZURITE OPTIONS...]: starts Azurite's queue
# service on 127.0.0.1:PORT with its data in .run/NAME, its log in
# .run/NAME.log and its process group id in .run/NAME.pid, in a session of
# its own, detached from this terminal and from the caller's output, so it
# outlives the script; stop it with kill -- -"$(cat .run/NAME.pid)".
# Waits until it listens; fails showing its log's tail.
# --skipApiVersionCheck: clients may speak a newer storage API version than
# this Azurite release knows; the queue operations are the same.
start_azurite_queue() {
    local port=$1 name=$2
    shift 2
    local data="$LB_RUN_DIR/$name" log="$LB_RUN_DIR/$name.log"
    mkdir -p "$data"
    (
        cd "$LB_ROOT"
        setsid npx --no-install azurite-queue \
            --queueHost 127.0.0.1 --queuePort "$port" \
            --location "$data" --skipApiVersionCheck --loose "$@" \
            >>"$log" 2>&1 </dev/null &
        echo $! >"$LB_RUN_DIR/$name.pid"
    )
    if ! wait_until 30 "Azurite ($name) on 127.0.0.1:$port" port_open 127.0.0.1 "$port"; then
        tail -n 20 "$log" >&2 || true
        exit 1
    fi
}

# Creates the database `linebacker` the default database.url names, unless
# LINEBACKER__DATABASE__URL points elsewhere (that one must exist).
ensure_linebacker_database() {
    if [[ -n ${LINEBACKER__DATABASE__URL:-} ]]; then
        say "database: using LINEBACKER__DATABASE__URL (it must exist already)"
    elif [[ $(pg -d postgres -Atc "select 1 from pg_database where datname = 'linebacker'") != 1 ]]; then
        say "database: creating linebacker"
        pg -d postgres -c 'create database linebacker'
    fi
}

# Whether the receiver at URL ($1) answers readyz with 200.
receiver_ready() {
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1/api/zpages/readyz") == 200 ]]
}
