//! The queue client against a real Azurite: each test on queues of its own.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use linebacker_azure_queue::testing::unique_queue_name;
use linebacker_azure_queue::{QueueClient, QueueServiceConfig};
use linebacker_domain::DomainError;
use secrecy::SecretString;
use support::{azurite, fresh_queue, get_within};

const AWKWARD_JSON: &str = r#"{"path":"/p/<a>&b","quote":"\"it's\"","name":"Zürich 日本 😀","tag":"</MessageText>"}"#;

#[tokio::test]
async fn creating_a_queue_twice_is_fine() {
    let queue = fresh_queue("create").await;
    queue.create_if_missing().await.unwrap();
    assert_eq!(queue.approximate_count().await.unwrap(), 0);
    queue.delete_queue().await.unwrap();
    queue.delete_queue().await.unwrap();
}

#[tokio::test]
async fn a_json_text_with_markup_quotes_and_non_ascii_comes_back_unchanged() {
    let queue = fresh_queue("roundtrip").await;
    queue.put(AWKWARD_JSON).await.unwrap();
    assert_eq!(queue.approximate_count().await.unwrap(), 1);

    let messages = get_within(&queue, Duration::from_secs(5)).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text, AWKWARD_JSON);
    assert_eq!(messages[0].dequeue_count, 1);
    assert!(!messages[0].message_id.is_empty() && !messages[0].pop_receipt.is_empty());
    queue.delete_queue().await.unwrap();
}

#[tokio::test]
async fn a_taken_message_stays_hidden_until_its_visibility_timeout_ends() {
    let queue = fresh_queue("visibility").await;
    queue.put("{}").await.unwrap();
    let first = queue.get(1, Duration::from_secs(1)).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(queue.get(1, Duration::from_secs(1)).await.unwrap().is_empty(), "hidden while taken");

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = get_within(&queue, Duration::from_secs(5)).await;
    assert_eq!(again[0].message_id, first[0].message_id);
    assert_eq!(again[0].dequeue_count, 2);
    queue.delete_queue().await.unwrap();
}

#[tokio::test]
async fn a_deleted_message_is_gone_and_deleting_it_again_is_ok() {
    let queue = fresh_queue("delete").await;
    queue.put("one").await.unwrap();
    let message = get_within(&queue, Duration::from_secs(5)).await.remove(0);
    queue.delete(&message).await.unwrap();
    queue.delete(&message).await.unwrap();
    assert_eq!(queue.approximate_count().await.unwrap(), 0);
    queue.delete_queue().await.unwrap();
}

#[tokio::test]
async fn clearing_a_queue_removes_every_message() {
    let queue = fresh_queue("clear").await;
    for text in ["a", "b", "c"] {
        queue.put(text).await.unwrap();
    }
    assert_eq!(queue.approximate_count().await.unwrap(), 3);
    queue.clear().await.unwrap();
    assert!(queue.get(32, Duration::from_secs(1)).await.unwrap().is_empty());
    queue.delete_queue().await.unwrap();
}

#[tokio::test]
async fn a_wrong_account_key_is_an_unexpected_403_that_does_not_show_the_key() {
    let wrong_key = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk=";
    let config = QueueServiceConfig { account_key: SecretString::from(wrong_key), ..azurite().await };
    let queue = QueueClient::new(&config, &unique_queue_name("badkey")).unwrap();
    let error = queue.create_if_missing().await.unwrap_err();
    let text = format!("{error:#} {error:?}");
    assert!(matches!(error, DomainError::Unexpected(_)), "{text}");
    assert!(text.contains("403"), "{text}");
    assert!(!text.contains(wrong_key), "{text}");
}

#[tokio::test]
async fn a_queue_that_does_not_exist_is_unavailable_until_created() {
    let queue = QueueClient::new(&azurite().await, &unique_queue_name("missing")).unwrap();
    let error = queue.put("x").await.unwrap_err();
    assert!(matches!(error, DomainError::Unavailable(_)), "{error:#}");
    assert!(error.to_string().contains("QueueNotFound"), "{error:#}");
}

/// An account URI nothing answers on: a port that refuses, and a listener
/// that accepts but never answers (the timeout must end the call).
#[tokio::test]
async fn an_unreachable_account_is_unavailable_within_the_timeout() {
    let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_address = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });

    for address in [refused, silent_address] {
        let config = QueueServiceConfig {
            account_uri: format!("http://{address}/devstoreaccount1"),
            timeout: Duration::from_millis(500),
            ..azurite().await
        };
        let queue = QueueClient::new(&config, "unreachable").unwrap();
        let started = std::time::Instant::now();
        let error = queue.put("x").await.unwrap_err();
        assert!(matches!(error, DomainError::Unavailable(_)), "{address}: {error:#}");
        assert!(started.elapsed() < Duration::from_secs(2), "{address}: took {:?}", started.elapsed());
    }
}
