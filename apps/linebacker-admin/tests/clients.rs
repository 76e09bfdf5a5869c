//! `linebacker-admin clients add|list|remove` against the real PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

use std::process::Output;

mod support;

use linebacker_testkit::fresh_database;
use serde_json::{Value, json};
use support::{IssuersConfig, admin, admin_in};

const ISSUER_A: &str = "https://id-a.example";
const ISSUER_B: &str = "https://id-b.example";

fn stdout_json(output: &Output) -> Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn refused_with(output: &Output, words: &[&str]) {
    assert!(!output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for word in words {
        assert!(stderr.contains(word), "{word:?} not in: {stderr}");
    }
}

#[tokio::test]
async fn clients_are_added_listed_replaced_and_removed() {
    let database = fresh_database().await.unwrap();
    let config = IssuersConfig::new(&[ISSUER_A]);
    let admin = |args: &'static [&'static str]| admin_in(&config.dir, args, &database.url);
    assert!(admin(&["migrate"]).await.status.success());

    let added = stdout_json(
        &admin(&["clients", "add", "billing", "--scopes", "post-backup-request,get-backup-request", "--description", "the billing batch"])
            .await,
    );
    assert_eq!(added["scopes"], json!(["post-backup-request", "get-backup-request"]));
    assert_eq!(added["issuer"], ISSUER_A, "the one configured issuer");
    stdout_json(&admin(&["clients", "add", "ops", "--scopes", "read-health, operate"]).await);

    let listed = stdout_json(&admin(&["clients", "list"]).await);
    let clients = listed["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 2);
    assert_eq!(clients[0]["clientId"], "billing");
    assert_eq!(clients[0]["issuer"], ISSUER_A);
    assert_eq!(clients[0]["description"], "the billing batch");
    assert_eq!(clients[1]["scopes"], json!(["read-health", "operate"]));

    // Adding again replaces the scopes.
    stdout_json(&admin(&["clients", "add", "billing", "--scopes", "get-backup-request"]).await);
    let stored: Vec<String> = sqlx::query_scalar("SELECT scopes FROM client_authorizations WHERE client_id = 'billing'")
        .fetch_one(&sqlx::PgPool::connect(&database.url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(stored, vec!["get-backup-request"]);

    stdout_json(&admin(&["clients", "remove", "billing"]).await);
    let listed = stdout_json(&admin(&["clients", "list"]).await);
    assert_eq!(listed["clients"].as_array().unwrap().len(), 1);

    refused_with(&admin(&["clients", "remove", "billing"]).await, &["no client \"billing\""]);
}

#[tokio::test]
async fn with_two_issuers_each_client_names_its_issuer_and_equal_ids_are_two_clients() {
    let database = fresh_database().await.unwrap();
    let config = IssuersConfig::new(&[ISSUER_A, ISSUER_B]);
    let admin = |args: &'static [&'static str]| admin_in(&config.dir, args, &database.url);
    assert!(admin(&["migrate"]).await.status.success());

    refused_with(&admin(&["clients", "add", "ops", "--scopes", "operate"]).await, &["--issuer", ISSUER_A, ISSUER_B]);
    refused_with(
        &admin(&["clients", "add", "ops", "--issuer", "https://other.example", "--scopes", "operate"]).await,
        &["--issuer", "auth.issuers"],
    );
    stdout_json(&admin(&["clients", "add", "ops", "--issuer", ISSUER_A, "--scopes", "operate"]).await);
    stdout_json(&admin(&["clients", "add", "ops", "--issuer", ISSUER_B, "--scopes", "read-health"]).await);
    let listed = stdout_json(&admin(&["clients", "list"]).await);
    let pairs: Vec<(Value, Value)> =
        listed["clients"].as_array().unwrap().iter().map(|c| (c["issuer"].clone(), c["scopes"].clone())).collect();
    assert_eq!(pairs, vec![(json!(ISSUER_A), json!(["operate"])), (json!(ISSUER_B), json!(["read-health"]))]);

    refused_with(&admin(&["clients", "remove", "ops"]).await, &["--issuer"]);
    stdout_json(&admin(&["clients", "remove", "ops", "--issuer", ISSUER_A]).await);
    let listed = stdout_json(&admin(&["clients", "list"]).await);
    assert_eq!(listed["clients"][0]["issuer"], ISSUER_B, "only A's ops is gone: {listed}");
    assert_eq!(listed["clients"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_client_from_before_issuers_shows_none_and_takes_the_one_issuer_when_added_again() {
    let database = fresh_database().await.unwrap();
    let config = IssuersConfig::new(&[ISSUER_A]);
    let admin = |args: &'static [&'static str]| admin_in(&config.dir, args, &database.url);
    assert!(admin(&["migrate"]).await.status.success());
    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    // As registered before the issuer was kept.
    sqlx::query("INSERT INTO client_authorizations (client_id, scopes) VALUES ('old', '{read-health}')")
        .execute(&pool)
        .await
        .unwrap();
    let listed = stdout_json(&admin(&["clients", "list"]).await);
    assert_eq!(listed["clients"][0]["issuer"], Value::Null);

    stdout_json(&admin(&["clients", "add", "old", "--scopes", "operate"]).await);
    let listed = stdout_json(&admin(&["clients", "list"]).await);
    assert_eq!(listed["clients"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!((&listed["clients"][0]["issuer"], &listed["clients"][0]["scopes"]), (&json!(ISSUER_A), &json!(["operate"])));

    sqlx::query("INSERT INTO client_authorizations (client_id, scopes) VALUES ('older', '{read-health}')")
        .execute(&pool)
        .await
        .unwrap();
    stdout_json(&admin(&["clients", "remove", "older"]).await);
    assert_eq!(stdout_json(&admin(&["clients", "list"]).await)["clients"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn without_a_configured_issuer_the_issuer_must_be_named() {
    let database = fresh_database().await.unwrap();
    assert!(admin(&["migrate"], &database.url).await.status.success());
    refused_with(&admin(&["clients", "add", "billing", "--scopes", "read-health"], &database.url).await, &["--issuer"]);
    let added = stdout_json(&admin(&["clients", "add", "billing", "--issuer", ISSUER_A, "--scopes", "read-health"], &database.url).await);
    assert_eq!(added["issuer"], ISSUER_A);
}

#[tokio::test]
async fn an_unknown_scope_is_refused_with_the_list_of_valid_ones() {
    let database = fresh_database().await.unwrap();
    assert!(admin(&["migrate"], &database.url).await.status.success());
    let output = admin(&["clients", "add", "billing", "--issuer", ISSUER_A, "--scopes", "post-backup-request,admin"], &database.url).await;
    refused_with(&output, &["unknown scope \"admin\"", "post-backup-request, get-backup-request, read-health, operate"]);
    let listed = stdout_json(&admin(&["clients", "list"], &database.url).await);
    assert_eq!(listed["clients"], json!([]), "nothing is stored");
}
