//! Bearer-token auth (SPEC §8) against a JWKS served by the test, with keys
//! made by the test: which tokens get in, which scopes open which routes,
//! and what a requester may read.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::StreamExt;
use linebacker_runtime::settings::{AuthIssuer, AuthSettings};
use linebacker_testkit::issuer::{SigningKey, TestIssuer, claims};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Overrides, TestApp, spawn_app_with, valid_body};

const AUDIENCE: &str = "linebacker-test";

struct AuthApp {
    app: TestApp,
    issuer: TestIssuer,
    rsa: SigningKey,
    ec: SigningKey,
}

fn auth_settings(issuer: &TestIssuer, min_refresh_secs: u64) -> AuthSettings {
    AuthSettings {
        enabled: true,
        audience: AUDIENCE.to_owned(),
        issuers: vec![AuthIssuer { issuer: issuer.issuer.clone(), jwks_url: issuer.jwks_url.clone() }],
        leeway_secs: 60,
        jwks_min_refresh_secs: min_refresh_secs,
        jwks_refresh_secs: 300,
        client_cache_secs: 60,
    }
}

async fn spawn_with_auth(min_refresh_secs: u64) -> AuthApp {
    let issuer = TestIssuer::start().await;
    let (rsa, ec) = (SigningKey::rsa("rsa-1"), SigningKey::ec("ec-1"));
    issuer.publish(&[&rsa, &ec]);
    let app = spawn_app_with(Overrides { auth: Some(auth_settings(&issuer, min_refresh_secs)), ..Overrides::default() }).await;
    AuthApp { app, issuer, rsa, ec }
}

impl AuthApp {
    async fn add_client(&self, client_id: &str, scopes: &[&str]) {
        sqlx::query("INSERT INTO client_authorizations (client_id, scopes) VALUES ($1, $2)")
            .bind(client_id)
            .bind(scopes)
            .execute(&self.app.pool)
            .await
            .unwrap();
    }

    fn token_for(&self, sub: &str) -> String {
        self.rsa.sign(&claims(&self.issuer.issuer, AUDIENCE, sub))
    }

    async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> reqwest::Response {
        let mut request = self.app.client.request(method, self.app.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    async fn post_with(&self, token: &str) -> reqwest::Response {
        self.call(Method::POST, "/api/backup-requests", Some(token), Some(&valid_body())).await
    }
}

async fn assert_unauthorized(response: reqwest::Response, case: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
    let challenge = response.headers().get("www-authenticate").map(|value| value.to_str().unwrap().to_owned());
    assert_eq!(challenge.as_deref(), Some("Bearer error=\"invalid_token\""), "{case}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "Unauthorized", "{case}: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{case}: {body}");
}

fn unsigned_token(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[tokio::test]
async fn valid_rs256_and_es256_tokens_are_accepted_and_the_stored_requester_is_the_sub() {
    let t = spawn_with_auth(30).await;
    for (sub, key) in [("client-rsa", &t.rsa), ("client-ec", &t.ec)] {
        t.add_client(sub, &["post-backup-request", "get-backup-request"]).await;
        let token = key.sign(&claims(&t.issuer.issuer, AUDIENCE, sub));
        let response = t.post_with(&token).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{sub}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["requesterId"], sub);
        let stored: String = sqlx::query_scalar("SELECT requester_id FROM backup_requests WHERE backup_request_id = $1")
            .bind(body["backupRequestId"].as_str().unwrap())
            .fetch_one(&t.app.pool)
            .await
            .unwrap();
        assert_eq!(stored, sub);
    }
    t.app.stop().await;
}

#[tokio::test]
async fn every_kind_of_bad_token_is_a_401_with_a_bearer_challenge() {
    let t = spawn_with_auth(30).await;
    t.add_client("client-1", &["post-backup-request"]).await;
    let iss = t.issuer.issuer.clone();
    let now = chrono::Utc::now().timestamp();
    let with = |changes: Value| {
        let mut claims = claims(&iss, AUDIENCE, "client-1");
        for (key, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(key);
            } else {
                claims[key] = value.clone();
            }
        }
        claims
    };
    let stranger = SigningKey::rsa("rsa-1");
    let hs256 = {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some("rsa-1".to_owned());
        let key = jsonwebtoken::EncodingKey::from_secret(&t.rsa.public_der);
        jsonwebtoken::encode(&header, &with(json!({})), &key.unwrap()).unwrap()
    };
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no Authorization header", None),
        ("expired beyond the leeway", Some(t.rsa.sign(&with(json!({"exp": now - 3600}))))),
        ("not valid yet beyond the leeway", Some(t.rsa.sign(&with(json!({"nbf": now + 3600}))))),
        ("wrong iss", Some(t.rsa.sign(&with(json!({"iss": "https://elsewhere.example/"}))))),
        ("wrong aud", Some(t.rsa.sign(&with(json!({"aud": "someone-else"}))))),
        ("signed by another key under a known kid", Some(stranger.sign(&with(json!({}))))),
        ("unknown kid", Some(t.rsa.with_kid("nobody-knows-me").sign(&with(json!({}))))),
        ("alg none", Some(unsigned_token(&json!({"alg": "none", "typ": "JWT", "kid": "rsa-1"}), &with(json!({})), ""))),
        ("HS256 with the RSA public key as secret", Some(hs256)),
        ("no sub", Some(t.rsa.sign(&with(json!({"sub": null}))))),
        ("no exp", Some(t.rsa.sign(&with(json!({"exp": null}))))),
        ("a malformed token", Some("not.a.jwt".to_owned())),
        ("a huge token", Some("a".repeat(100_000))),
    ];
    for (case, token) in &cases {
        let response = t.call(Method::POST, "/api/backup-requests", token.as_deref(), Some(&valid_body())).await;
        assert_unauthorized(response, case).await;
    }
    for header in ["Basic Y2xpZW50OnNlY3JldA==", "Bearer", "Token abc"] {
        let response = t
            .app
            .client
            .post(t.app.url("/api/backup-requests"))
            .header("Authorization", header)
            .json(&valid_body())
            .send()
            .await
            .unwrap();
        assert_unauthorized(response, header).await;
    }
    assert_eq!(t.app.count("backup_requests").await, 0, "nothing is stored for a refused caller");
    t.app.stop().await;
}

#[tokio::test]
async fn a_valid_token_of_an_unknown_client_or_without_the_scope_is_a_403() {
    let t = spawn_with_auth(30).await;
    t.add_client("reader", &["get-backup-request"]).await;
    for (sub, case) in [("stranger", "unknown client"), ("reader", "missing scope")] {
        let response = t.post_with(&t.token_for(sub)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{case}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "Forbidden", "{case}: {body}");
    }
    t.app.stop().await;
}

#[tokio::test]
async fn a_rotated_jwks_is_picked_up_without_a_restart() {
    let t = spawn_with_auth(1).await;
    t.add_client("client-1", &["post-backup-request"]).await;
    assert_eq!(t.post_with(&t.token_for("client-1")).await.status(), StatusCode::ACCEPTED);

    let rotated = SigningKey::ec("ec-2");
    t.issuer.publish(&[&rotated]);
    // Past the minimum refresh interval, the new kid triggers a refetch.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let new_token = rotated.sign(&claims(&t.issuer.issuer, AUDIENCE, "client-1"));
    assert_eq!(t.post_with(&new_token).await.status(), StatusCode::ACCEPTED, "the new key is accepted");
    assert_unauthorized(t.post_with(&t.token_for("client-1")).await, "the removed key").await;
    t.app.stop().await;
}

#[tokio::test]
async fn a_thousand_tokens_with_random_kids_cause_at_most_a_handful_of_jwks_fetches() {
    let t = spawn_with_auth(30).await;
    t.add_client("client-1", &["post-backup-request"]).await;
    assert_eq!(t.post_with(&t.token_for("client-1")).await.status(), StatusCode::ACCEPTED);
    let before = t.issuer.fetches();
    let statuses: Vec<StatusCode> = futures::stream::iter(0..1000)
        .map(|_| {
            let kid = uuid::Uuid::new_v4().to_string();
            let token = t.rsa.with_kid(&kid).sign(&claims(&t.issuer.issuer, AUDIENCE, "client-1"));
            let t = &t;
            async move { t.post_with(&token).await.status() }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(statuses.iter().all(|status| *status == StatusCode::UNAUTHORIZED));
    let fetched = t.issuer.fetches() - before;
    assert!(fetched <= 2, "{fetched} JWKS fetches for 1,000 unknown kids");
    t.app.stop().await;
}

/// Every route that needs a scope beyond the caller's own requests.
const LOCKED: &[(&str, &str, &str)] = &[
    ("GET", "/api/operator/dead-letters", "read-health"),
    ("GET", "/api/operator/dead-letters/check-allowed", "read-health"),
    ("POST", "/api/operator/dead-letters/check-allowed/replay", "operate"),
    ("DELETE", "/api/operator/dead-letters/check-allowed", "operate"),
    ("POST", "/api/operator/recovery", "operate"),
    ("GET", "/api/operator/stages", "read-health"),
    ("POST", "/api/operator/stages/receive-status/pause", "operate"),
    ("POST", "/api/operator/stages/receive-status/resume", "operate"),
    ("GET", "/api/zpages/healthz", "read-health"),
    ("GET", "/api/zpages/healthz/all", "read-health"),
    ("GET", "/metrics", "read-health"),
];

#[tokio::test]
async fn operator_endpoints_healthz_and_metrics_need_a_token_and_their_scope() {
    let t = spawn_with_auth(30).await;
    t.add_client("requester", &["post-backup-request", "get-backup-request"]).await;
    t.add_client("reader", &["read-health"]).await;
    t.add_client("operator", &["operate"]).await;
    for (method, path, scope) in LOCKED {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        // A state-changing request is sent as the dashboard sends it.
        let body = (method != Method::GET).then(|| json!({}));
        assert_unauthorized(t.call(method.clone(), path, None, body.as_ref()).await, path).await;
        let without = if *scope == "operate" { "reader" } else { "operator" };
        for sub in ["requester", without] {
            let response = t.call(method.clone(), path, Some(&t.token_for(sub)), body.as_ref()).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path} as {sub}");
        }
        let holder = if *scope == "operate" { "operator" } else { "reader" };
        let response = t.call(method.clone(), path, Some(&t.token_for(holder)), body.as_ref()).await;
        assert!(
            ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&response.status()),
            "{method} {path} as {holder}: {}",
            response.status()
        );
    }
    t.app.stop().await;
}

#[tokio::test]
async fn a_paused_stage_names_the_operator_who_paused_it() {
    let t = spawn_with_auth(30).await;
    t.add_client("operator", &["operate"]).await;
    let token = t.token_for("operator");
    let response = t.call(Method::POST, "/api/operator/stages/check-allowed/pause", Some(&token), Some(&json!({}))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let paused: Value = response.json().await.unwrap();
    assert_eq!((&paused["state"], &paused["pausedBy"]), (&json!("paused"), &json!("operator")));
    t.app.stop().await;
}

#[tokio::test]
async fn livez_and_readyz_answer_without_a_token() {
    let t = spawn_with_auth(30).await;
    for path in ["/api/zpages/livez", "/api/zpages/readyz"] {
        assert_eq!(t.call(Method::GET, path, None, None).await.status(), StatusCode::OK, "{path}");
    }
    t.app.stop().await;
}

#[tokio::test]
async fn a_requester_cannot_get_another_requesters_request_but_read_health_can() {
    let t = spawn_with_auth(30).await;
    t.add_client("alice", &["post-backup-request", "get-backup-request"]).await;
    t.add_client("bob", &["get-backup-request"]).await;
    // read-health alone reads every requester's requests (SPEC §8).
    t.add_client("auditor", &["read-health"]).await;
    let created: Value = t.post_with(&t.token_for("alice")).await.json().await.unwrap();
    let path = format!("/api/backup-requests/{}", created["backupRequestId"].as_str().unwrap());

    let as_bob = t.call(Method::GET, &path, Some(&t.token_for("bob")), None).await;
    assert_eq!(as_bob.status(), StatusCode::NOT_FOUND);
    let body: Value = as_bob.json().await.unwrap();
    assert_eq!(body["code"], "NotFound");
    let unknown = t.call(Method::GET, "/api/backup-requests/0190f000-0000-7000-8000-000000000000", Some(&t.token_for("bob")), None).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND, "the same answer as for an id that does not exist");

    for sub in ["alice", "auditor"] {
        let response = t.call(Method::GET, &path, Some(&t.token_for(sub)), None).await;
        assert_eq!(response.status(), StatusCode::OK, "{sub}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["requesterId"], "alice");
    }
    t.app.stop().await;
}

async fn register(pool: &sqlx::PgPool, issuer: &str, client: &str, scopes: &[&str]) {
    sqlx::query("INSERT INTO client_authorizations (issuer, client_id, scopes) VALUES ($1, $2, $3)")
        .bind(issuer)
        .bind(client)
        .bind(scopes)
        .execute(pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn two_issuers_equal_subjects_are_two_clients_that_neither_share_scopes_nor_see_each_others_requests() {
    let (a, b) = (TestIssuer::start().await, TestIssuer::start().await);
    let (key_a, key_b) = (SigningKey::rsa("a-1"), SigningKey::ec("b-1"));
    a.publish(&[&key_a]);
    b.publish(&[&key_b]);
    let mut auth = auth_settings(&a, 30);
    auth.issuers.push(AuthIssuer { issuer: b.issuer.clone(), jwks_url: b.jwks_url.clone() });
    let app = spawn_app_with(Overrides { auth: Some(auth), ..Overrides::default() }).await;
    register(&app.pool, &a.issuer, "ops", &["post-backup-request", "get-backup-request"]).await;
    register(&app.pool, &b.issuer, "ops", &["get-backup-request"]).await;
    // Registered before clients had an issuer: with two issuers, nobody's.
    register(&app.pool, "", "legacy", &["get-backup-request"]).await;
    let token_a = key_a.sign(&claims(&a.issuer, AUDIENCE, "ops"));
    let token_b = key_b.sign(&claims(&b.issuer, AUDIENCE, "ops"));
    let call = |method: Method, path: String, token: String, body: Option<Value>| {
        let request = app.client.request(method, app.url(&path)).bearer_auth(token);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        async move { request.send().await.unwrap() }
    };

    let created = call(Method::POST, "/api/backup-requests".into(), token_a.clone(), Some(valid_body())).await;
    assert_eq!(created.status(), StatusCode::ACCEPTED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["requesterId"], format!("{}|ops", a.issuer), "the issuer is part of the identity");
    let path = format!("/api/backup-requests/{}", created["backupRequestId"].as_str().unwrap());

    let posted_by_b = call(Method::POST, "/api/backup-requests".into(), token_b.clone(), Some(valid_body())).await;
    assert_eq!(posted_by_b.status(), StatusCode::FORBIDDEN, "B's ops does not hold A's ops scopes");
    assert_eq!(call(Method::GET, path.clone(), token_b.clone(), None).await.status(), StatusCode::NOT_FOUND);
    let history = call(Method::GET, format!("{path}/history"), token_b.clone(), None).await;
    assert_eq!(history.status(), StatusCode::NOT_FOUND);
    let listed: Value = call(Method::GET, "/api/backup-requests".into(), token_b.clone(), None).await.json().await.unwrap();
    assert_eq!(listed["items"], json!([]), "B's ops lists none of A's ops requests");
    let cancel = call(Method::POST, format!("{path}/cancel"), token_b.clone(), Some(json!({}))).await;
    assert_eq!(cancel.status(), StatusCode::NOT_FOUND);
    assert_eq!(call(Method::GET, path.clone(), token_a.clone(), None).await.status(), StatusCode::OK);

    // A token naming one issuer but signed with the other's key is nobody's.
    let forged = key_a.sign(&claims(&b.issuer, AUDIENCE, "ops"));
    assert_unauthorized(call(Method::GET, path.clone(), forged, None).await, "B's iss, A's key").await;
    let legacy = key_a.sign(&claims(&a.issuer, AUDIENCE, "legacy"));
    assert_eq!(call(Method::GET, "/api/backup-requests".into(), legacy, None).await.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}
