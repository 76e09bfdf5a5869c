#!/usr/bin/env bash
# THE test command: readies the machine, clears what earlier runs left on the
# shared servers, builds every binary (the end-to-end tests start them) and
# runs the tests. Extra arguments go to `cargo test`:
#   scripts/test.sh                          # everything
#   scripts/test.sh -p linebacker-domain     # one crate
#   scripts/test.sh -- --nocapture           # test binary options
# The exit code is cargo's.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Test databases (`lb_test_<uuid>`, one per test) older than this many minutes
# and not in use are dropped; younger ones may belong to a run in progress.
LEFTOVER_DB_MINUTES=10

drop_leftover_databases() {
    local names
    names="$(pg -d postgres -Atc "
        select datname from pg_database
        where datname like 'lb\_test\_%'
          and coalesce((pg_stat_file('base/' || oid || '/PG_VERSION', true)).modification, 'epoch')
              < now() - interval '$LEFTOVER_DB_MINUTES minutes'")"
    if [[ -z $names ]]; then
        return 0
    fi
    say "dropping $(wc -l <<<"$names") leftover test databases"
    # Without FORCE: a database someone is still connected to stays. psql
    # goes on past such an error, so one connection drops them all.
    # shellcheck disable=SC2001 # one statement per line of names
    sed 's/.*/drop database if exists "&";/' <<<"$names" |
        pg -d postgres -v ON_ERROR_STOP=0 2>/dev/null || true
}

# Test queues are named `watch-<random>`, `e2eq-<random>.<queue>`,
# `lb-test-<random>.<queue>` or `t<...>-<random>`. A test in
# progress may hold one without a consumer (watch queues are read with
# basic.get), so a queue goes only when it was already there, unused, at the
# previous run of this script: a test owns its queues for seconds, not for
# the time between two runs. rabbitmqctl cannot delete exchanges; test
# exchanges are left to the tests' own cleanup. With a node name (the TLS
# node of tls-servers.sh), that node's queues.
delete_leftover_queues() {
    local node=("${@:+-n}" "$@") seen="$LB_RUN_DIR/unused-test-queues${1:+-$1}" now previous=
    now="$(rabbitmqctl -q "${node[@]}" list_queues --no-table-headers name consumers 2>/dev/null |
        awk '$2 == 0 && $1 ~ /^(watch|e2eq|lb-test|t[a-z0-9]*)-/ { print $1 }' | sort)" || return 0
    [[ -f $seen ]] && previous="$(sort "$seen")"
    mkdir -p "$LB_RUN_DIR"
    printf '%s\n' "$now" >"$seen"
    local stale
    stale="$(comm -12 <(printf '%s\n' "$previous") <(printf '%s\n' "$now") | grep -v '^$')" || return 0
    say "deleting $(wc -l <<<"$stale") leftover test queues"
    local queue
    while read -r queue; do
        # </dev/null: rabbitmqctl reads stdin and would eat the list.
        rabbitmqctl -q "${node[@]}" delete_queue "$queue" --if-unused </dev/null >/dev/null 2>&1 || true
    done <<<"$stale"
}

# cargo test runs the whole workspace unless the caller picked packages.
# The end-to-end tests (package linebacker-tests) start the real binaries,
# so every binary is built first, unless the picked packages leave those
# tests out: `-p linebacker-domain` does not wait for every app to build.
picked=
e2e_picked=
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
    --) break ;;
    -p | --package)
        picked=1
        [[ ${args[i + 1]:-} != linebacker-tests ]] || e2e_picked=1
        i=$((i + 1))
        ;;
    -plinebacker-tests | --package=linebacker-tests) picked=1 e2e_picked=1 ;;
    -p?* | --package=*) picked=1 ;;
    esac
done
workspace=()
[[ -n $picked ]] || workspace=(--workspace)

say "setup: checking tools and services"
bash "$LB_ROOT/scripts/setup.sh"
# The TLS tests' servers (a second PostgreSQL cluster, RabbitMQ node and
# Azurite, each on a port of its own) and the CA they trust.
bash "$LB_ROOT/scripts/tls-servers.sh"
export LINEBACKER_TEST_TLS_DIR="$LB_RUN_DIR/tls"
use_cargo

# python_tool VENV MODULE PACKAGE VARIABLE: a venv of the run directory with
# PACKAGE (PyPI) in it, its python exported as VARIABLE. With the variable
# set, the tests that need the tool fail rather than skip without it.
python_tool() {
    local venv="$LB_RUN_DIR/$1" module=$2 package=$3 variable=$4
    if ! "$venv/bin/python" -c "import $module" 2>/dev/null; then
        say "installing $package into $venv"
        command -v python3 >/dev/null || apt_install python3
        python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
        python3 -m venv "$venv" && "$venv/bin/pip" install -q "$package" ||
            die "cannot install $package (PyPI) into $venv"
    fi
    export "$variable=$venv/bin/python"
}
# The receiver's OpenAPI test validates the served document with
# openapi-spec-validator.
python_tool openapi-venv openapi_spec_validator openapi-spec-validator LINEBACKER_OPENAPI_VALIDATOR_PYTHON
# The interop tests play the BZI with Microsoft's own Python SDK.
python_tool azure-sdk-venv azure.storage.queue azure-storage-queue LINEBACKER_AZURE_SDK_PYTHON
# The receiver's schemathesis test fuzzes the API from its served document
# (a pinned release, so a new one cannot change what passes).
python_tool schemathesis-venv schemathesis schemathesis==4.32.5 LINEBACKER_SCHEMATHESIS_PYTHON
export LINEBACKER_SCHEMATHESIS="$LB_RUN_DIR/schemathesis-venv/bin/schemathesis"

say "cleaning up after earlier test runs"
drop_leftover_databases
LB_PG_PORT=5433 drop_leftover_databases # the TLS cluster of tls-servers.sh
delete_leftover_queues
delete_leftover_queues lbtls@localhost

cd "$LB_ROOT"
if [[ -z $picked || -n $e2e_picked ]]; then
    say "building binaries: cargo build --workspace --bins --locked"
    cargo build --workspace --bins --locked
fi

tests=(cargo test --locked "${workspace[@]}" "$@")
say "running tests: ${tests[*]}"
status=0
"${tests[@]}" || status=$?

# The whole suite also runs the bench's one-minute form on the debug build
# and checks the report's form (every measurement there, a figure for every
# target); its timings are not judged here.
# A system started by scripts/run.sh holds the bench's ports: then the step
# is skipped with a warning, except in CI.
system_running() { port_open 127.0.0.1 8080 || port_open 127.0.0.1 8090; }
if [[ -z $picked && $status == 0 ]] && system_running && [[ ${CI:-} != true ]]; then
    warn "bench step skipped: a running system holds its ports (scripts/stop.sh frees them)"
elif [[ -z $picked && $status == 0 ]]; then
    say "bench: scripts/bench.sh --quick --debug, then the report's form"
    if bash "$LB_ROOT/scripts/bench.sh" --quick --debug >"$LB_RUN_DIR/bench-quick.log" 2>&1 &&
        "$LB_ROOT/target/debug/linebacker-bench" check --report "$LB_RUN_DIR/bench/latest/report.json"; then
        say "bench report well formed: $LB_RUN_DIR/bench/latest/report.json"
    else
        tail -n 40 "$LB_RUN_DIR/bench-quick.log" >&2 || true
        say "bench: the quick run or its report failed"
        status=1
    fi
fi
if ((status == 0)); then
    say "tests passed"
else
    say "tests failed (exit code $status)"
fi
exit "$status"
