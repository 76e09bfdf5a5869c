//! The dashboard's assets come from the binary and its samples from memory.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

mod support;

use linebacker_testkit::eventually;
use serde_json::Value;
use support::{WAIT, spawn_app, valid_body};

#[tokio::test]
async fn the_dashboard_page_and_its_assets_are_served_from_the_binary_and_load_nothing_from_elsewhere() {
    let app = spawn_app().await;
    let page = app.get("/dashboard").await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'self'") && csp.contains("connect-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "the page may be framed: {csp}");
    let html = page.text().await.unwrap();
    for asset in ["/dashboard/app.js", "/dashboard/app.css"] {
        assert!(html.contains(asset), "the page does not load {asset}");
        let response = app.get(asset).await;
        assert_eq!(response.status(), 200, "{asset}");
        let text = response.text().await.unwrap();
        assert!(!text.contains("http://") || text.contains("http://www.w3.org/2000/svg"), "{asset} names another origin");
        assert!(!text.contains("https://"), "{asset} names another origin");
    }
    assert!(!html.contains("https://") && !html.contains("http://"), "the page names another origin");
    app.stop().await;
}

#[tokio::test]
async fn the_samples_hold_the_requests_per_status_and_the_changes_since_the_sample_before() {
    let app = spawn_app().await;
    app.post(&valid_body()).await;
    let samples: Value = eventually(WAIT, "a first sample", || async {
        let samples: Value = app.get("/api/dashboard/samples").await.json().await.ok()?;
        (!samples["items"].as_array()?.is_empty()).then_some(samples)
    })
    .await
    .unwrap();
    assert_eq!(samples["intervalSeconds"], 10);
    let first = &samples["items"][0];
    assert!(first["at"].is_string(), "{first}");
    assert!(first["requests"].is_object(), "{first}");
    assert!(first["changes"].is_object(), "{first}");
    assert!(first["queues"].is_array() || first["queues"]["error"].is_string(), "{first}");
    app.stop().await;
}
