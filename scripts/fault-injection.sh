#!/usr/bin/env bash
# The fault-injection run: thousands of requests while every worker type is
# SIGKILLed several times, RabbitMQ and PostgreSQL are restarted and the
# simulated job service and interface are frozen for a while; then the system
# drains and a report says what became of every accepted request (also in
# target/fault-injection-report.txt). It fails if a request was lost or a
# backup recorded twice.
#
# It restarts this machine's RabbitMQ and PostgreSQL: run it where nothing
# else uses them, or set LINEBACKER_FAULT_RESTARTS=proxy to cut linebacker's
# connections instead. Other knobs: LINEBACKER_FAULT_REQUESTS (3000),
# LINEBACKER_FAULT_KILLS (3 per worker type), LINEBACKER_FAULT_OUTAGE_SECS (8).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "$LB_ROOT/scripts/setup.sh"
use_cargo
cd "$LB_ROOT"
export LINEBACKER_FAULT_REQUESTS="${LINEBACKER_FAULT_REQUESTS:-3000}"
export LINEBACKER_FAULT_KILLS="${LINEBACKER_FAULT_KILLS:-3}"

say "building: cargo build --locked --workspace --bins"
cargo build --locked --workspace --bins
say "fault injection: $LINEBACKER_FAULT_REQUESTS requests, $LINEBACKER_FAULT_KILLS kills of each worker type"
cargo test --locked -p linebacker-tests --test fault_injection -- --nocapture
