//! Dev mode (`bus.kind = "memory"`, SPEC §7): the receiver runs against
//! PostgreSQL alone; its outbox drains into the in-memory bus.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

mod support;

use linebacker_testkit::eventually;
use serde_json::Value;
use support::{Overrides, WAIT, spawn_app_with, valid_body};

#[tokio::test]
async fn with_the_memory_bus_the_receiver_needs_no_broker() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = spawn_app_with(Overrides {
        env: vec![
            ("LINEBACKER__BUS__KIND", "memory".to_owned()),
            // Were the receiver to use RabbitMQ anyway, it would find nothing here.
            ("LINEBACKER__RABBITMQ__URL", format!("amqp://guest:guest@127.0.0.1:{closed_port}/%2f")),
        ],
        ..Overrides::default()
    })
    .await;

    let readyz: Value = app.get("/api/zpages/readyz").await.json().await.unwrap();
    assert_eq!(readyz["dependencies"]["broker"], "in-memory");
    assert_eq!(app.post(&valid_body()).await.status(), 202);
    eventually(WAIT, "the outbox to drain into the memory bus", || async {
        (app.count("outbox").await == 0).then_some(())
    })
    .await
    .unwrap();
    app.stop().await;
}
