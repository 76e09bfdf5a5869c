#!/usr/bin/env bash
# THE bench command: starts linebacker as scripts/run.sh does (every process
# and the simulator under PM2, on this machine) with a fresh database, vhost
# and Azure queues of its own, drives load, stops it, measures the bounds of
# the servers it stands on, and writes the report:
#   scripts/bench.sh            # the full run (about 15 minutes)
#   scripts/bench.sh --runs 3   # three full runs, each target's median
#   scripts/bench.sh --quick    # a one-minute form of every measurement
#   scripts/bench.sh --debug    # the debug binaries (for checking the report's form)
# The report goes to .run/bench/<time>/: run-N/ for each run (one JSON file
# per measurement, its report.json and summary.md, the processes' logs), and
# beside them report.json and summary.md of all runs, each target's median.
# .run/bench/latest points to the last one. BENCHMARKS.md keeps the summary
# of the last full run.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

quick= profile=release runs=1
args=("$@")
while (($#)); do
    case $1 in
    --quick) quick=1 ;;
    --debug) profile=debug ;;
    --runs)
        [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--runs takes a number of runs, 1 or more"
        runs=$2
        shift
        ;;
    *) die "usage: scripts/bench.sh [--quick] [--debug] [--runs N]" ;;
    esac
    shift
done

if [[ -n $quick ]]; then
    INTAKE_SECONDS=5 PIPELINE_REQUESTS=1000 STEADY_SECONDS=5 LATENCY_SECONDS=8
    PGBENCH_SECONDS=3 BROKER_MESSAGES=10000 AZURITE_CYCLES=500 RECOVERY_REQUESTS=10000
    RETENTION_REQUESTS=20000 RETENTION_BASELINE_SECONDS=5
else
    INTAKE_SECONDS=20 PIPELINE_REQUESTS=20000 STEADY_SECONDS=30 LATENCY_SECONDS=30
    PGBENCH_SECONDS=20 BROKER_MESSAGES=50000 AZURITE_CYCLES=5000 RECOVERY_REQUESTS=100000
    RETENTION_REQUESTS=1000000 RETENTION_BASELINE_SECONDS=20
fi
bin="$LB_ROOT/target/$profile"

# One run: this script again, into the directory LB_BENCH_RUN names.
if [[ -z ${LB_BENCH_RUN:-} ]]; then
    say "setup: checking tools and services"
    bash "$LB_ROOT/scripts/setup.sh"
    use_cargo
    cd "$LB_ROOT"
    command -v pgbench >/dev/null || apt_install postgresql-client

    # The ports of ecosystem.config.js: a running system (scripts/run.sh)
    # would take the bench's load and spoil both.
    for port in 8080 8090 9100 9200 9300 9400; do
        ! port_open 127.0.0.1 "$port" || die "port $port is in use: stop the running system first (scripts/stop.sh)"
    done

    cargo_flags=(--locked --bins)
    [[ $profile == release ]] && cargo_flags+=(--release)
    say "building: cargo build ${cargo_flags[*]}"
    cargo build "${cargo_flags[@]}"

    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    all="$LB_RUN_DIR/bench/$stamp"
    mkdir -p "$all"
    ln -sfn "$stamp" "$LB_RUN_DIR/bench/latest"
    for ((run = 1; run <= runs; run++)); do
        say "run $run of $runs"
        LB_BENCH_RUN="$all/run-$run" LB_BENCH_COMMAND="scripts/bench.sh ${args[*]}" bash "${BASH_SOURCE[0]}" "${args[@]}"
    done
    "$bin/linebacker-bench" medians --dir "$all" >/dev/null
    say "report: $all/report.json"
    cat "$all/summary.md"
    exit 0
fi

use_cargo
cd "$LB_ROOT"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
run_id="$(printf '%04x%04x' "$RANDOM" "$RANDOM")"
out="$LB_BENCH_RUN"
mkdir -p "$out/logs" "$LB_RUN_DIR/logs"
database="lb_bench_${run_id}"
in_process_database="lb_bench_${run_id}_in_process"
recovery_database="lb_bench_${run_id}_recovery"
bound_database="lb_bench_${run_id}_pgbench"
vhost="lb-bench-${run_id}"
in_process_vhost="lb-bench-${run_id}-in-process"
recovery_vhost="lb-bench-${run_id}-recovery"
queues="bench-${run_id}-requests,bench-${run_id}-statuses,bench-${run_id}-statuses-poison"
IFS=, read -r requests_queue statuses_queue poison_queue <<<"$queues"
database_url="postgres://postgres@$LB_PG_HOST:$LB_PG_PORT/$database"
amqp_url="amqp://guest:guest@127.0.0.1:$LB_AMQP_PORT/$vhost"
url="http://127.0.0.1:8080"

# A PM2 daemon of the bench's own: the user's PM2 and its processes stay as
# they are.
export PM2_HOME="$LB_RUN_DIR/bench/pm2"
pm2() { npx --no-install pm2 "$@"; }

system_pid=
cleanup() {
    say "cleaning up: processes, database, vhost, Azure queues"
    pm2 delete ecosystem.config.js >/dev/null 2>&1 || true
    pm2 kill >/dev/null 2>&1 || true
    [[ -z $system_pid ]] || kill "$system_pid" 2>/dev/null || true
    pg -d postgres -c "drop database if exists \"$database\" with (force)" >/dev/null 2>&1 || true
    pg -d postgres -c "drop database if exists \"$in_process_database\" with (force)" >/dev/null 2>&1 || true
    pg -d postgres -c "drop database if exists \"$recovery_database\" with (force)" >/dev/null 2>&1 || true
    pg -d postgres -c "drop database if exists \"$bound_database\" with (force)" >/dev/null 2>&1 || true
    rabbitmqctl -q delete_vhost "$vhost" >/dev/null 2>&1 || true
    rabbitmqctl -q delete_vhost "$in_process_vhost" >/dev/null 2>&1 || true
    rabbitmqctl -q delete_vhost "$recovery_vhost" >/dev/null 2>&1 || true
    "$bin/linebacker-bench" delete-queues --names "$queues" >/dev/null 2>&1 || true
}
trap cleanup EXIT

measure() { # measure NAME ARGS...: one measurement into $out/NAME.json
    local name=$1
    shift
    say "measuring $name"
    "$bin/linebacker-bench" "$@" >"$out/$name.json"
}

say "fresh database $database and vhost $vhost"
pg -d postgres -c "create database \"$database\""
pg -d postgres -c "create database \"$in_process_database\""
pg -d postgres -c "create database \"$recovery_database\""
pg -d postgres -c "create database \"$bound_database\""
for each in "$vhost" "$in_process_vhost" "$recovery_vhost"; do
    rabbitmqctl -q add_vhost "$each" >/dev/null
    rabbitmqctl -q set_permissions -p "$each" guest '.*' '.*' '.*' >/dev/null
done
LINEBACKER__DATABASE__URL="$database_url" "$bin/linebacker-admin" migrate >/dev/null
LINEBACKER__DATABASE__URL="postgres://postgres@$LB_PG_HOST:$LB_PG_PORT/$bound_database" \
    "$bin/linebacker-admin" migrate >/dev/null

cat >"$out/machine.json" <<EOF
{
  "command": "$LB_BENCH_COMMAND",
  "commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)",
  "profile": "$profile",
  "cores": $(nproc),
  "memoryGiB": $(awk '/MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo),
  "cpu": "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)",
  "kernel": "$(uname -r)",
  "rustc": "$(rustc --version)",
  "postgres": "$(pg -d postgres -Atc 'show server_version')",
  "rabbitmq": "$(rabbitmqctl -q version 2>/dev/null || echo unknown)",
  "azurite": "$(node -p 'require("./node_modules/azurite/package.json").version' 2>/dev/null || echo unknown)",
  "startedAt": "$stamp"
}
EOF

# Every process and the simulator as scripts/run.sh starts them, on the
# bench's database, vhost and queues; the simulator answers at once and
# never fails, so every request can be followed to Succeeded.
export APP_ENV=dev LINEBACKER_BIN_DIR="$bin"
export LINEBACKER__DATABASE__URL="$database_url" LINEBACKER__RABBITMQ__URL="$amqp_url"
export LINEBACKER__AZURE_QUEUE__REQUESTS_QUEUE="$requests_queue"
export LINEBACKER__AZURE_QUEUE__STATUSES_QUEUE="$statuses_queue"
export LINEBACKER__AZURE_QUEUE__POISON_QUEUE="$poison_queue"
export SIMULATOR__REQUESTS_QUEUE="$requests_queue" SIMULATOR__STATUSES_QUEUE="$statuses_queue"
export SIMULATOR__REPLY_DELAY_MS=0 SIMULATOR__FAILURE_SHARE=0

ready() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1") == 200 ]]; }
wait_for_system() {
    wait_until 60 "http-receiver" ready "$url/api/zpages/readyz"
    wait_until 60 "the simulator" ready "http://127.0.0.1:8090/livez"
    local port
    for port in 9100 9200 9300 9400; do
        wait_until 60 "the worker on zpages port $port" ready "http://127.0.0.1:$port/readyz"
    done
}

say "starting linebacker under PM2 ($PM2_HOME)"
pm2 start ecosystem.config.js --env dev >/dev/null
wait_for_system

# name=pid of every process PM2 runs: http-receiver-0, check-allowed-0, ...
pids=()
while read -r named; do pids+=(--pid "$named"); done < <(
    pm2 jlist | node -e '
        let text = ""; process.stdin.on("data", (d) => (text += d)).on("end", () => {
            for (const app of JSON.parse(text)) {
                if (app.pid) console.log(`${app.name}-${app.pm2_env.NODE_APP_INSTANCE ?? 0}=${app.pid}`);
            }
        });')

sleep 5
measure processes-idle processes "${pids[@]}"
measure pipeline pipeline --url "$url" --database-url "$database_url" --requests "$PIPELINE_REQUESTS" "${pids[@]}" \
    --azure-queues "$requests_queue,$statuses_queue"
measure steady-200 steady --url "$url" --database-url "$database_url" --rate 200 --seconds "$STEADY_SECONDS" \
    --until sent --name steady-200

say "the simulator answers after 500 ms now (the quick start's case)"
SIMULATOR__REPLY_DELAY_MS=500 pm2 restart backup-system-simulator --update-env >/dev/null
wait_until 60 "the simulator" ready "http://127.0.0.1:8090/livez"
measure latency-1rps steady --url "$url" --database-url "$database_url" --rate 1 --seconds "$LATENCY_SECONDS" \
    --until succeeded --name latency-1rps

# Intake last: the pipeline is still working through its requests when the
# run ends, which would spoil any measurement after it.
measure intake intake --url "$url" --database-url "$database_url" --clients 1,16,64 --seconds "$INTAKE_SECONDS"

# The receiver alone, as pgbench has the machine to itself: the workers and
# the simulator stopped, so nothing else takes the cores. Its events wait in
# the broker's queues, which go with the vhost.
say "stopping the workers and the simulator: the receiver alone"
pm2 stop check-allowed send-to-interface interface-listener receive-status backup-system-simulator >/dev/null
sleep 2
measure intake-receiver intake --url "$url" --database-url "$database_url" --clients 1,16,64 --seconds "$INTAKE_SECONDS"

cp "$PM2_HOME"/logs/*.log "$out/logs/" 2>/dev/null || true
cp "$LB_ROOT"/.run/logs/*.log "$out/logs/" 2>/dev/null || true
say "stopping linebacker under PM2"
pm2 delete ecosystem.config.js >/dev/null
pm2 kill >/dev/null

# Startup recovery: requests a crash left Received, in a database and vhost
# of their own, found by the recovery pass of a receiver started on them,
# paced at up to 20,000 a second here (the default, 200, spares the workers
# of a system that has just started), while live requests arrive at 200 a
# second.
recovery_url="postgres://postgres@$LB_PG_HOST:$LB_PG_PORT/$recovery_database"
LINEBACKER__DATABASE__URL="$recovery_url" "$bin/linebacker-admin" migrate >/dev/null
mark="/bench/recovery/$run_id/"
measure stall stall --database-url "$recovery_url" --mark "$mark" --requests "$RECOVERY_REQUESTS"
say "starting http-receiver on them: its recovery pass finds them"
LINEBACKER__DATABASE__URL="$recovery_url" LINEBACKER__RECOVERY__PER_SECOND=20000 \
    LINEBACKER__RABBITMQ__URL="amqp://guest:guest@127.0.0.1:$LB_AMQP_PORT/$recovery_vhost" \
    "$bin/http-receiver" >"$out/logs/recovery.log" 2>&1 &
system_pid=$!
wait_until 60 "http-receiver" ready "$url/api/zpages/readyz"
measure recovery recovery --url "$url" --database-url "$recovery_url" --mark "$mark" --requests "$RECOVERY_REQUESTS"
# Retention on the same receiver: terminal requests past every retention
# (a tenth with a Backup still due), then one pruning pass, run on demand by
# linebacker-admin with the receiver's policy, while live requests arrive at
# 200 a second; their latency beside that of the same load just before.
mark="/bench/retention/$run_id/"
measure terminal terminal --database-url "$recovery_url" --mark "$mark" --requests "$RETENTION_REQUESTS"
measure prune prune --url "$url" --database-url "$recovery_url" --mark "$mark" --requests "$RETENTION_REQUESTS" \
    --baseline-seconds "$RETENTION_BASELINE_SECONDS" -- \
    env LINEBACKER__DATABASE__URL="$recovery_url" "$bin/linebacker-admin" prune
kill -INT "$system_pid"
wait "$system_pid" || true
system_pid=

# linebacker itself, not Azurite: every component in one process on the
# same broker (a vhost of its own: the receiver-alone run left its events in
# the first) and a database of its own, with the BZI simulated in that
# process and answering at once.
say "starting linebacker in one process on RabbitMQ with the BZI in it (linebacker-dev)"
in_process_url="postgres://postgres@$LB_PG_HOST:$LB_PG_PORT/$in_process_database"
# Its one pool serves what five processes' pools do under PM2.
LINEBACKER__DATABASE__URL="$in_process_url" LINEBACKER__DATABASE__MAX_CONNECTIONS=50 SIMULATOR__REPLY_DELAY_MS=0 \
    LINEBACKER__BUS__KIND=rabbitmq LINEBACKER__RABBITMQ__URL="amqp://guest:guest@127.0.0.1:$LB_AMQP_PORT/$in_process_vhost" \
    "$bin/linebacker-dev" >"$out/logs/in-process.log" 2>&1 &
system_pid=$!
wait_until 60 "the in-process system" ready "$url/api/zpages/readyz"
sleep 2
measure pipeline-in-process pipeline --url "$url" --database-url "$in_process_url" --requests "$PIPELINE_REQUESTS" \
    --pid "linebacker-dev=$system_pid"
measure steady-200-in-process steady --url "$url" --database-url "$in_process_url" --rate 200 \
    --seconds "$STEADY_SECONDS" --until sent --name steady-200-in-process
say "stopping the in-process system; the bounds are measured on a quiet machine"
kill -INT "$system_pid"
wait "$system_pid" || true
system_pid=

measure pgbench pgbench --database-url "postgres://postgres@$LB_PG_HOST:$LB_PG_PORT/$bound_database" \
    --script bench/pgbench/receive.sql --clients 1,16,64 --seconds "$PGBENCH_SECONDS"
measure pgbench-key pgbench --database-url "postgres://postgres@$LB_PG_HOST:$LB_PG_PORT/$bound_database" \
    --script bench/pgbench/receive_with_key.sql --clients 64 --seconds "$PGBENCH_SECONDS"
measure broker broker --amqp-url "$amqp_url" --messages "$BROKER_MESSAGES"
measure azurite azurite --cycles "$AZURITE_CYCLES" --concurrency 16

"$bin/linebacker-bench" report --dir "$out" >/dev/null
say "report of this run: $out/report.json"
