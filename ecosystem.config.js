// PM2 process file for linebacker. Build first, then (scripts/run.sh does both):
//   npx pm2 startOrRestart ecosystem.config.js --env dev
//   scripts/stop.sh                           # stop everything, PM2 included
//
// Every process is a native binary from `cargo build --release`, run by PM2
// in fork mode (PM2's cluster mode is for Node programs only). PM2 gives each
// fork instance its number in NODE_APP_INSTANCE (0, 1, ...); the processes
// read it to name themselves in logs and health reports and to pick their
// zpages port (zpages.base_port + instance).
//
// Instance counts come from the environment when the file is read, for
// example LINEBACKER_HTTP_RECEIVER_INSTANCES=2. PM2 does not change the
// count of a running app on restart: `npx pm2 scale <name> <count>`, or
// delete and start again.

const path = require("node:path");

const root = __dirname;
const appEnv = process.env.APP_ENV || "dev";
// `--env NAME` picks the matching env_NAME block below, which sets APP_ENV.
const appEnvironments = ["dev", "test", "production"];

// Settings given in the environment of the PM2 call (LINEBACKER__* overrides,
// LINEBACKER_CONFIG_DIR, RUST_LOG) are written into every app's env, so a
// restart picks up changed values: PM2 keeps an app's first environment
// otherwise. A variable removed from the shell stays until `pm2 delete`.
// SIMULATOR__* variables configure the simulator the same way.
const passedThrough = Object.fromEntries(
  Object.entries(process.env).filter(
    ([key]) => key.startsWith("LINEBACKER_") || key.startsWith("SIMULATOR__") || key === "RUST_LOG",
  ),
);

// The binaries: `cargo build --release` puts them here; LINEBACKER_BIN_DIR
// points elsewhere (scripts/bench.sh --debug runs the debug build).
const binDir = process.env.LINEBACKER_BIN_DIR || path.join(root, "target", "release");

// One row per process: its binary in target/release, the variable that sets
// how many copies run and, for workers, the first zpages port of its copies
// (copy N serves zpages on zpagesBasePort + N, so each worker type needs a
// range of its own). The simulator stands in for the backup job service and
// the backup zone interface, in dev only.
const processes = [
  { name: "http-receiver", instancesVariable: "LINEBACKER_HTTP_RECEIVER_INSTANCES" },
  { name: "check-allowed", instancesVariable: "LINEBACKER_CHECK_ALLOWED_INSTANCES", zpagesBasePort: 9100 },
  { name: "send-to-interface", instancesVariable: "LINEBACKER_SEND_TO_INTERFACE_INSTANCES", zpagesBasePort: 9200 },
  { name: "interface-listener", instancesVariable: "LINEBACKER_INTERFACE_LISTENER_INSTANCES", zpagesBasePort: 9300 },
  { name: "receive-status", instancesVariable: "LINEBACKER_RECEIVE_STATUS_INSTANCES", zpagesBasePort: 9400 },
  ...(appEnv === "dev" ? [{ name: "backup-system-simulator", instancesVariable: "LINEBACKER_SIMULATOR_INSTANCES" }] : []),
];

function instances(variable) {
  const raw = process.env[variable];
  if (raw === undefined || raw === "") {
    return 1;
  }
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`${variable} must be a whole number of at least 1, not "${raw}"`);
  }
  return count;
}

module.exports = {
  apps: processes.map(({ name, instancesVariable, zpagesBasePort }) => ({
    name,
    script: path.join(binDir, name),
    interpreter: "none",
    exec_mode: "fork",
    instances: instances(instancesVariable),
    cwd: root,
    env: {
      ...passedThrough,
      APP_ENV: appEnv,
      ...(zpagesBasePort === undefined ? {} : { LINEBACKER__ZPAGES__BASE_PORT: String(zpagesBasePort) }),
    },
    ...Object.fromEntries(appEnvironments.map((e) => [`env_${e}`, { APP_ENV: e }])),
    // SIGINT first, SIGKILL after this long. Each process's own shutdown
    // deadline (shutdown.deadline_ms) is below it, so in-flight work finishes.
    kill_timeout: 10000,
    // A process that keeps dying (say, its database is unreachable at start)
    // is restarted with growing delays instead of in a tight loop.
    exp_backoff_restart_delay: 500,
    // One file per process for all its instances, named as here (without
    // merge_logs PM2 would append its own process id, not the instance
    // number); every JSON line names its instance.
    out_file: path.join(root, ".run", "logs", `${name}.out.log`),
    error_file: path.join(root, ".run", "logs", `${name}.err.log`),
    merge_logs: true,
  })),
};
