//! A SAS token travels in every request's URL; no failure of a call may
//! repeat it. Each way a call can fail (no listener, no answer in time, an
//! answer cut short, a refusal by Azurite) is tried with a token whose
//! signature is recognisable, and every rendering of the error is searched
//! for it.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use linebacker_azure_queue::testing::unique_queue_name;
use linebacker_azure_queue::{QueueAuth, QueueClient, QueueMessage, QueueServiceConfig};
use linebacker_domain::DomainError;
use secrecy::SecretString;
use support::azurite;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const CANARY: &str = "LEAKCANARYc0ffee4d1e";

fn sas_config(account_uri: String, timeout: Duration) -> QueueServiceConfig {
    let token = format!("?sv=2021-12-02&ss=q&srt=sco&sp=rwdlacup&se=2099-01-01T00%3A00%3A00Z&spr=https%2Chttp&sig={CANARY}%2B%3D");
    QueueServiceConfig {
        account_uri,
        auth: QueueAuth::Sas(SecretString::from(token)),
        timeout,
        ..linebacker_azure_queue::testing::azurite_config()
    }
}

/// Every call a client makes, each with its error.
async fn every_call_fails(client: &QueueClient) -> Vec<(&'static str, DomainError)> {
    let taken = QueueMessage { message_id: "m-1".into(), pop_receipt: "p-1".into(), dequeue_count: 1, text: String::new() };
    vec![
        ("create", client.create_if_missing().await.unwrap_err()),
        ("put", client.put("{}").await.unwrap_err()),
        ("get", client.get(1, Duration::from_secs(1)).await.unwrap_err()),
        ("peek", client.peek(1).await.unwrap_err()),
        ("delete", client.delete(&taken).await.unwrap_err()),
        ("count", client.approximate_count().await.unwrap_err()),
        ("clear", client.clear().await.unwrap_err()),
        ("delete queue", client.delete_queue().await.unwrap_err()),
    ]
}

fn assert_no_signature(errors: &[(&str, DomainError)]) {
    for (call, error) in errors {
        for text in [error.to_string(), format!("{error:#}"), format!("{error:?}")] {
            assert!(!text.contains(CANARY), "{call}: the SAS signature is in the error: {text}");
            assert!(!text.contains("sig="), "{call}: a signature parameter is in the error: {text}");
        }
    }
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A server that accepts connections, reads the request and then does
/// `answer` with the socket.
async fn server<F, Fut>(answer: F) -> u16
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            tokio::spawn(answer(socket));
        }
    });
    port
}

#[tokio::test]
async fn a_refused_connection_does_not_show_the_sas_signature() {
    let uri = format!("http://127.0.0.1:{}/devstoreaccount1", closed_port().await);
    let client = QueueClient::new(&sas_config(uri, Duration::from_secs(2)), "q-sas").unwrap();
    let errors = every_call_fails(&client).await;
    assert!(errors.iter().all(|(_, error)| error.to_string().contains("could not connect")), "{errors:?}");
    assert_no_signature(&errors);
}

#[tokio::test]
async fn a_timeout_does_not_show_the_sas_signature() {
    let port = server(|socket| async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(socket);
    })
    .await;
    let uri = format!("http://127.0.0.1:{port}/devstoreaccount1");
    let client = QueueClient::new(&sas_config(uri, Duration::from_millis(300)), "q-sas").unwrap();
    let errors = every_call_fails(&client).await;
    assert!(errors.iter().all(|(_, error)| error.to_string().contains("timed out")), "{errors:?}");
    assert_no_signature(&errors);
}

#[tokio::test]
async fn an_answer_cut_short_does_not_show_the_sas_signature() {
    let port = server(|mut socket| async move {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/xml\r\ncontent-length: 5000\r\n\r\n<QueueMessagesList>";
        let _ = socket.write_all(head.as_bytes()).await;
        let _ = socket.shutdown().await;
    })
    .await;
    let uri = format!("http://127.0.0.1:{port}/devstoreaccount1");
    let client = QueueClient::new(&sas_config(uri, Duration::from_secs(2)), "q-sas").unwrap();
    let errors = vec![
        ("get", client.get(1, Duration::from_secs(1)).await.unwrap_err()),
        ("peek", client.peek(1).await.unwrap_err()),
    ];
    assert!(errors.iter().all(|(_, error)| error.is_transient()), "{errors:?}");
    assert_no_signature(&errors);
}

#[tokio::test]
async fn a_sas_azurite_refuses_does_not_show_its_signature() {
    let uri = azurite().await.account_uri;
    let client = QueueClient::new(&sas_config(uri, Duration::from_secs(5)), &unique_queue_name("sas")).unwrap();
    let errors = every_call_fails(&client).await;
    assert!(errors.iter().any(|(_, error)| error.to_string().contains("403")), "{errors:?}");
    assert_no_signature(&errors);
}
