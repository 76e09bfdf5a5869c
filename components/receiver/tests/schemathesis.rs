//! Schemathesis (PyPI) against the served OpenAPI document, with auth on and
//! a valid token of a client holding every scope: no answer may be a 5xx or
//! fall outside what the document says (status code, content type, headers,
//! body schema), and a method the document does not list must be a 405.
//!
//! `scripts/test.sh` installs schemathesis into a venv and names its
//! executable in `LINEBACKER_SCHEMATHESIS`; without it the test is skipped,
//! except under `CI=true`, where it fails. `LINEBACKER_SCHEMATHESIS_EXAMPLES`
//! sets how many examples each operation gets (the README's long run).

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use linebacker_azure_queue::QueueClient;
use linebacker_azure_queue::testing::{azurite_config, unique_queue_name};
use linebacker_domain::Scope;
use linebacker_runtime::settings::{AuthIssuer, AuthSettings};
use linebacker_testkit::issuer::{SigningKey, TestIssuer, claims};
use support::{Overrides, spawn_app_with};

const EXECUTABLE_ENV: &str = "LINEBACKER_SCHEMATHESIS";
const EXAMPLES_ENV: &str = "LINEBACKER_SCHEMATHESIS_EXAMPLES";
const AUDIENCE: &str = "linebacker-schemathesis";
/// The short run of the test command.
const DEFAULT_EXAMPLES: &str = "15";
const RUN_LIMIT: Duration = Duration::from_secs(600);

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let Some(executable) = std::env::var_os(EXECUTABLE_ENV) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{EXECUTABLE_ENV} is not set: scripts/test.sh installs schemathesis and sets it"
        );
        eprintln!("skipped: {EXECUTABLE_ENV} is not set (scripts/test.sh sets it)");
        return;
    };

    // The interface's queues of this test alone: the operator endpoints
    // purge and replay the parking queue, and must not touch another test's.
    let statuses = unique_queue_name("st-statuses");
    let poison = unique_queue_name("st-poison");
    let requests = unique_queue_name("st-requests");
    let queues: Vec<QueueClient> =
        [&statuses, &poison, &requests].iter().map(|name| QueueClient::new(&azurite_config(), name).unwrap()).collect();
    for queue in &queues {
        queue.create_if_missing().await.unwrap();
    }

    let issuer = TestIssuer::start().await;
    let key = SigningKey::rsa("schemathesis-1");
    issuer.publish(&[&key]);
    let auth = AuthSettings {
        enabled: true,
        audience: AUDIENCE.to_owned(),
        issuers: vec![AuthIssuer { issuer: issuer.issuer.clone(), jwks_url: issuer.jwks_url.clone() }],
        leeway_secs: 60,
        jwks_min_refresh_secs: 30,
        jwks_refresh_secs: 300,
        client_cache_secs: 60,
    };
    let app = spawn_app_with(Overrides {
        auth: Some(auth),
        env: vec![
            ("LINEBACKER__AZURE_QUEUE__STATUSES_QUEUE", statuses.clone()),
            ("LINEBACKER__AZURE_QUEUE__POISON_QUEUE", poison.clone()),
            ("LINEBACKER__AZURE_QUEUE__REQUESTS_QUEUE", requests.clone()),
        ],
        ..Overrides::default()
    })
    .await;
    let scopes: Vec<&str> = Scope::ALL.iter().map(|scope| scope.as_str()).collect();
    sqlx::query("INSERT INTO client_authorizations (client_id, scopes) VALUES ($1, $2)")
        .bind("schemathesis")
        .bind(&scopes)
        .execute(&app.pool)
        .await
        .unwrap();
    let token = key.sign(&claims(&issuer.issuer, AUDIENCE, "schemathesis"));

    let examples = std::env::var(EXAMPLES_ENV).unwrap_or_else(|_| DEFAULT_EXAMPLES.to_owned());
    let run = tokio::process::Command::new(&executable)
        // Its cache (`.schemathesis/`) goes where cargo keeps test files.
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .arg("run")
        .arg(app.url("/api-docs/openapi.json"))
        // Every check, positive_data_acceptance too: what the document
        // calls valid must not be refused as bad input.
        .args(["--checks", "all"])
        .args(["--max-examples", &examples])
        .args(["--seed", "20261201"])
        .arg("--no-color")
        .arg("--header")
        .arg(format!("Authorization: Bearer {token}"))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(RUN_LIMIT, run).await.unwrap().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));

    // The summary goes to the test's output, for the record of a run.
    let summary = report.find("SUMMARY").map_or(report.as_str(), |at| &report[at..]);
    eprintln!("{summary}");

    app.stop().await;
    for queue in &queues {
        let _ = queue.delete_queue().await;
    }
    assert!(output.status.success(), "schemathesis found failures:\n{report}");
    assert!(report.contains("API Operations"), "schemathesis did not test the document:\n{report}");
}
