//! The http-receiver process: settings, logs, the application, until SIGINT
//! or SIGTERM.

use std::process::ExitCode;

use linebacker_receiver::Application;
use linebacker_runtime::{Settings, shutdown_on_signals, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("http-receiver: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init("http-receiver", settings.instance);
    // Listen for signals before anything else, so a stop during start-up is
    // graceful too.
    let shutdown = match shutdown_on_signals() {
        Ok(token) => token,
        Err(error) => return fail("cannot listen for shutdown signals", &error.into()),
    };
    let application = match Application::build(settings).await {
        Ok(application) => application,
        Err(error) => return fail("cannot start", &error),
    };
    match application.run_until_stopped(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail("stopped with an error", &error),
    }
}

fn fail(what: &str, error: &anyhow::Error) -> ExitCode {
    tracing::error!(error = format!("{error:#}"), "{what}");
    eprintln!("http-receiver: {what}: {error:#}");
    ExitCode::FAILURE
}
