//! A receiver of each test's own: a fresh database, a random exchange and
//! queue prefix, port 0. Helpers to drive it over HTTP and to look at what it
//! stored and published.
// Each test file uses a different part of this module.
#![allow(dead_code, unused_imports)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

pub mod amqp;

use std::time::Duration;

use linebacker_receiver::Application;
use linebacker_runtime::Settings;
use linebacker_runtime::settings::{AuthSettings, config_dir};
pub use linebacker_testkit::{WAIT, test_env, valid_body};
use linebacker_testkit::{TestDatabase, fresh_database, unique_name, wait_until_ready};
use serde_json::Value;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub database: TestDatabase,
    /// Connects to the test database directly (not through any proxy).
    pub pool: PgPool,
    pub exchange: String,
    pub queue_prefix: String,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// What a test changes in the environment the receiver's settings come from.
#[derive(Default)]
pub struct Overrides {
    /// The database, as the receiver reaches it (e.g. through a proxy).
    /// `{name}` is replaced with the test database's name.
    pub database_url: Option<String>,
    /// More `LINEBACKER__*` settings.
    pub env: Vec<(&'static str, String)>,
    /// Wait for readyz 200 before returning.
    pub skip_ready_wait: bool,
    /// Bearer-token auth (issuers are lists, which variables cannot set).
    pub auth: Option<AuthSettings>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Overrides::default()).await
}

pub async fn spawn_app_with(overrides: Overrides) -> TestApp {
    linebacker_runtime::telemetry::init_for_tests();
    let database = fresh_database().await.unwrap();
    let exchange = unique_name("tx");
    let queue_prefix = format!("{}.", unique_name("tq"));
    let database_url = overrides
        .database_url
        .map(|url| url.replace("{name}", &database.name))
        .unwrap_or_else(|| database.url.clone());
    let mut env = test_env(&database_url, &exchange, &queue_prefix);
    env.insert("LINEBACKER__HTTP__PORT".into(), "0".into());
    env.extend(overrides.env.into_iter().map(|(key, value)| (key.to_owned(), value)));
    let mut settings = Settings::load_from(&config_dir().unwrap(), &env).unwrap();
    if let Some(auth) = overrides.auth {
        settings.auth = auth;
    }

    let application = Application::build(settings).await.unwrap();
    let address = format!("http://127.0.0.1:{}", application.port());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(application.run_until_stopped(shutdown.clone()));
    let pool = PgPool::connect(&database.url).await.unwrap();
    let app = TestApp {
        address,
        client: reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap(),
        database,
        pool,
        exchange,
        queue_prefix,
        shutdown,
        task,
    };
    if !overrides.skip_ready_wait {
        app.wait_until_ready().await;
    }
    app
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post(&self, body: &Value) -> reqwest::Response {
        self.post_raw(body.to_string(), "application/json", &[]).await
    }

    pub async fn post_raw(&self, body: impl Into<reqwest::Body>, content_type: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/api/backup-requests"))
            .header("Content-Type", content_type)
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// A state-changing request (`POST`, `DELETE`) as the dashboard sends
    /// it: `application/json` with the body `{}`.
    pub async fn act(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.client.request(method, self.url(path)).json(&serde_json::json!({})).send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn wait_until_ready(&self) {
        wait_until_ready(&self.client, &self.url("/api/zpages/readyz"), WAIT).await.unwrap();
    }

    pub async fn status_of(&self, id: &str) -> Option<String> {
        sqlx::query_scalar("SELECT status_type_code FROM backup_requests WHERE backup_request_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .unwrap()
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Stops the receiver as a signal would, and removes the test's broker
    /// objects.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.task).await.unwrap().unwrap().unwrap();
        self.pool.close().await;
        amqp::delete_broker_objects(&self.exchange, &self.queue_prefix).await;
    }
}
