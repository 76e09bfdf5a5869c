//! `linebacker-admin clients add|list|remove` against the real PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

use std::process::Output;

mod support;

use linebacker_testkit::fresh_database;
use support::admin;
use serde_json::Value;


fn stdout_json(output: &Output) -> Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn clients_are_added_listed_replaced_and_removed() {
    let database = fresh_database().await.unwrap();
    assert!(admin(&["migrate"], &database.url).await.status.success());

    let added = stdout_json(
        &admin(&["clients", "add", "billing", "--scopes", "post-backup-request,get-backup-request", "--description", "the billing batch"], &database.url)
            .await,
    );
    assert_eq!(added["scopes"], serde_json::json!(["post-backup-request", "get-backup-request"]));
    stdout_json(&admin(&["clients", "add", "ops", "--scopes", "read-health, operate"], &database.url).await);

    let listed = stdout_json(&admin(&["clients", "list"], &database.url).await);
    let clients = listed["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 2);
    assert_eq!(clients[0]["clientId"], "billing");
    assert_eq!(clients[0]["description"], "the billing batch");
    assert_eq!(clients[1]["scopes"], serde_json::json!(["read-health", "operate"]));

    // Adding again replaces the scopes.
    stdout_json(&admin(&["clients", "add", "billing", "--scopes", "get-backup-request"], &database.url).await);
    let stored: Vec<String> = sqlx::query_scalar("SELECT scopes FROM client_authorizations WHERE client_id = 'billing'")
        .fetch_one(&sqlx::PgPool::connect(&database.url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(stored, vec!["get-backup-request"]);

    stdout_json(&admin(&["clients", "remove", "billing"], &database.url).await);
    let listed = stdout_json(&admin(&["clients", "list"], &database.url).await);
    assert_eq!(listed["clients"].as_array().unwrap().len(), 1);

    let again = admin(&["clients", "remove", "billing"], &database.url).await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no client \"billing\""));
}

#[tokio::test]
async fn an_unknown_scope_is_refused_with_the_list_of_valid_ones() {
    let database = fresh_database().await.unwrap();
    assert!(admin(&["migrate"], &database.url).await.status.success());
    let output = admin(&["clients", "add", "billing", "--scopes", "post-backup-request,admin"], &database.url).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown scope \"admin\"")
            && stderr.contains("post-backup-request, get-backup-request, read-health, operate"),
        "{stderr}"
    );
    let listed = stdout_json(&admin(&["clients", "list"], &database.url).await);
    assert_eq!(listed["clients"], serde_json::json!([]), "nothing is stored");
}
