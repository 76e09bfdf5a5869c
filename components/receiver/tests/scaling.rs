//! Several receivers on one host (PM2 `instances`): they share the API port.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

mod support;

use support::{Overrides, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_second_receiver_on_the_same_port_starts_and_serves() {
    let first = spawn_app().await;
    let port = first.address.rsplit(':').next().unwrap().to_owned();

    let second = spawn_app_with(Overrides {
        env: vec![("LINEBACKER__HTTP__PORT", port.clone())],
        ..Overrides::default()
    })
    .await;

    assert_eq!(second.address, first.address);
    first.stop().await;
    // With the first one gone, the port still answers: the second serves it.
    second.wait_until_ready().await;
    second.stop().await;
}
