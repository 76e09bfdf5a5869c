//! Secrets never leave (SPEC §8): with a database password, the Azure key
//! and a bearer token in use, and the Azure endpoint failing for a while,
//! none of them shows in any process's log, in an error body, in healthz,
//! healthz/all or metrics. Likewise a SAS token, which travels in every URL
//! to the queue service: not even in the reasons of dead letters made while
//! the queue service was unreachable.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

use std::time::Duration;

use linebacker_testkit::issuer::{SigningKey, TestIssuer, claims};
use linebacker_azure_queue::testing::{AZURITE_KEY, account_sas};
use linebacker_testkit::{eventually, postgres_admin_url, unique_name};
use linebacker_tests::{System, SystemOptions, WORKERS};
use sqlx::Connection;

const AUDIENCE: &str = "linebacker-e2e";

/// The repository's config with `[auth]` on against `issuer`.
fn config_with_auth(issuer: &TestIssuer) -> std::path::PathBuf {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    let dir = std::env::temp_dir().join(unique_name("lb-config"));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let test = std::fs::read_to_string(dir.join("test.toml")).unwrap();
    let auth = format!(
        "[auth]\nenabled = true\naudience = \"{AUDIENCE}\"\nissuers = [{{ issuer = \"{}\", jwks_url = \"{}\" }}]\n",
        issuer.issuer, issuer.jwks_url
    );
    assert!(test.contains("[auth]\nenabled = false\n"));
    std::fs::write(dir.join("test.toml"), test.replace("[auth]\nenabled = false\n", &auth)).unwrap();
    dir
}

fn azure_key() -> String {
    let default = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/default.toml")).unwrap();
    let line = default.lines().find(|line| line.starts_with("account_key")).unwrap();
    line.split('"').nth(1).unwrap().to_owned()
}

#[tokio::test]
async fn no_secret_shows_in_logs_error_bodies_health_pages_or_metrics() {
    let password = format!("Pw{}Secret", uuid_like());
    let role = unique_name("lbrole").replace('-', "_");
    let mut admin = sqlx::PgConnection::connect(&postgres_admin_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{password}'")))
        .execute(&mut admin)
        .await
        .unwrap();

    let issuer = TestIssuer::start().await;
    let key = SigningKey::rsa("e2e-1");
    issuer.publish(&[&key]);
    let token = key.sign(&claims(&issuer.issuer, AUDIENCE, "e2e-client"));
    let config_dir = config_with_auth(&issuer);
    let system = System::start(SystemOptions {
        through_proxies: true,
        failure_share: 0.0,
        database_login: Some((role.clone(), password.clone())),
        config_dir: Some(config_dir.clone()),
        bearer_token: Some(token.clone()),
        ..SystemOptions::default()
    })
    .await
    .unwrap();
    sqlx::query("INSERT INTO client_authorizations (client_id, scopes) VALUES ('e2e-client', $1)")
        .bind(vec!["post-backup-request", "get-backup-request", "read-health", "operate"])
        .execute(&system.pool)
        .await
        .unwrap();

    // The BZI's queue service goes away while a request is on its way.
    let azure = system.azure_link.as_ref().unwrap();
    azure.cut();
    let created = system.post("job-1", "2022-05-30").await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut pages = Vec::new();
    for path in ["/api/zpages/healthz", "/api/zpages/healthz/all", "/metrics"] {
        pages.push(system.http.get(format!("{}{path}", system.receiver_url)).send().await.unwrap().text().await.unwrap());
    }
    azure.restore();
    system.wait_until_settled(1, Duration::from_secs(60)).await.unwrap();

    for path in ["/api/zpages/healthz", "/api/zpages/healthz/all", "/metrics", "/api/operator/dead-letters"] {
        pages.push(system.http.get(format!("{}{path}", system.receiver_url)).send().await.unwrap().text().await.unwrap());
    }
    let id = created["backupRequestId"].as_str().unwrap();
    pages.push(system.http.get(format!("{}/api/backup-requests/{id}", system.receiver_url)).send().await.unwrap().text().await.unwrap());
    for worker in WORKERS {
        pages.push(system.worker_health(worker).await.unwrap().to_string());
    }
    for process in &system.processes {
        if let Some(url) = process.zpages_url() {
            pages.push(reqwest::get(format!("{url}/metrics")).await.unwrap().text().await.unwrap());
        }
    }
    // Error bodies: a tampered token, a token for a stranger, a bad body.
    let plain = reqwest::Client::new();
    for (authorization, body) in [
        (format!("Bearer {token}x"), "{}".to_owned()),
        (format!("Bearer {}", key.sign(&claims(&issuer.issuer, AUDIENCE, "stranger"))), "{}".to_owned()),
        (format!("Bearer {token}"), format!("{{\"apiVersion\":\"{password}\"}}")),
    ] {
        let response = plain
            .post(format!("{}/api/backup-requests", system.receiver_url))
            .header("Authorization", authorization)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error());
        pages.push(response.text().await.unwrap());
    }

    let log_dir = system.log_dir.clone();
    system.stop().await.unwrap();
    let logs = read_logs(&log_dir);
    let azure_key = azure_key();
    for (name, secret) in [("database password", password.as_str()), ("Azure key", azure_key.as_str()), ("bearer token", token.as_str())] {
        for (file, text) in &logs {
            assert!(!text.contains(secret), "the {name} is in the log {file}");
        }
        for page in &pages {
            assert!(!page.contains(secret), "the {name} is in an answer: {}", &page[..page.len().min(300)]);
        }
    }
    std::fs::remove_dir_all(&config_dir).ok();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {role}"))).execute(&mut admin).await.ok();
}

/// The processes' logs, by file, once they stopped.
fn read_logs(log_dir: &std::path::Path) -> Vec<(String, String)> {
    let mut logs = Vec::new();
    for entry in std::fs::read_dir(log_dir).unwrap() {
        let path = entry.unwrap().path();
        logs.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap_or_default()));
    }
    assert!(logs.iter().any(|(_, text)| text.contains("http-receiver")), "the logs were captured");
    logs
}

#[tokio::test]
async fn a_sas_signature_shows_in_no_log_page_or_dead_letter_reason_while_the_queue_service_is_unreachable() {
    let token = account_sas(AZURITE_KEY, "https,http").unwrap();
    let encoded = token.split("sig=").nth(1).unwrap().to_owned();
    let url = reqwest::Url::parse(&format!("http://sas.invalid/?{token}")).unwrap();
    let signature = url.query_pairs().find(|(name, _)| name == "sig").unwrap().1.into_owned();
    let system = System::start(SystemOptions {
        through_proxies: true,
        failure_share: 0.0,
        extra_env: vec![
            ("LINEBACKER__AZURE_QUEUE__AUTH".into(), "sas".into()),
            ("LINEBACKER__AZURE_QUEUE__SAS_TOKEN".into(), token.clone()),
            // A request is dead-lettered after its second failed send.
            ("LINEBACKER__WORKER__MAX_ATTEMPTS".into(), "2".into()),
        ],
        ..SystemOptions::default()
    })
    .await
    .unwrap();
    // The token works: a request goes through the BZI's queues.
    system.post("job-1", "2022-05-30").await.unwrap();
    system.wait_until_settled(1, Duration::from_secs(60)).await.unwrap();

    let azure = system.azure_link.as_ref().unwrap();
    azure.cut();
    let lost = system.post("job-1", "2022-05-30").await.unwrap();
    let lost_id = lost["backupRequestId"].as_str().unwrap();
    let dead_letters = format!("{}/api/operator/dead-letters/send-to-interface", system.receiver_url);
    let listed = eventually(Duration::from_secs(60), "the unsent request dead-lettered", || async {
        let text = system.http.get(&dead_letters).send().await.ok()?.text().await.ok()?;
        text.contains(lost_id).then_some(text)
    })
    .await
    .unwrap();
    // The reason quotes the failed request, URL and all, but for its query.
    assert!(listed.contains("error sending request for url"), "the dead letter says why: {listed}");
    let mut pages = vec![listed];
    for path in ["/api/zpages/healthz", "/api/zpages/healthz/all", "/metrics", "/api/operator/dead-letters"] {
        pages.push(system.http.get(format!("{}{path}", system.receiver_url)).send().await.unwrap().text().await.unwrap());
    }
    for worker in WORKERS {
        pages.push(system.worker_health(worker).await.unwrap().to_string());
    }
    for process in &system.processes {
        if let Some(url) = process.zpages_url() {
            pages.push(reqwest::get(format!("{url}/metrics")).await.unwrap().text().await.unwrap());
        }
    }
    azure.restore();

    let log_dir = system.log_dir.clone();
    system.stop().await.unwrap();
    let logs = read_logs(&log_dir);
    for secret in [signature.as_str(), encoded.as_str()] {
        for (file, text) in &logs {
            assert!(!text.contains(secret), "the SAS signature is in the log {file}");
        }
        for page in &pages {
            assert!(!page.contains(secret), "the SAS signature is in an answer: {page}");
        }
    }
}

fn uuid_like() -> String {
    unique_name("s").replace('-', "")
}
