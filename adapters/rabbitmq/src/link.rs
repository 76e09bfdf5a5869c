//! The bus's link to the broker: one connection, opened on first use and
//! re-opened when found dead (broker restart, network cut), and one channel
//! in confirm mode that carries every publish. Each new publisher channel
//! re-declares the topology first, so a broker that lost its definitions
//! gets them back. lapin's own auto-recovery is not used: reconnecting on
//! demand, under a deadline, is easier to reason about.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use lapin::options::ConfirmSelectOptions;
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::uri::AMQPUri;
use lapin::{Channel, Connect, Connection, ConnectionProperties};
use linebacker_domain::DomainError;

use crate::errors::{unavailable, within};
use crate::settings::{RabbitSettings, RabbitTls, redacted_url};
use crate::topology::Topology;

/// How long closing a channel or the connection may take; a dead broker
/// never answers.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection and its publisher channel, both live when handed out.
#[derive(Clone)]
pub(crate) struct Link {
    pub connection: Arc<Connection>,
    pub publisher: Channel,
}

#[derive(Default)]
struct Current {
    connection: Option<Arc<Connection>>,
    publisher: Option<Channel>,
}

pub(crate) struct Shared {
    pub settings: RabbitSettings,
    topology: Result<Topology, String>,
    current: Mutex<Current>,
    /// Taken by whoever (re)connects, so that concurrent callers who all
    /// find the link dead open one connection, not one each.
    reconnecting: tokio::sync::Mutex<()>,
    closed: AtomicBool,
    /// Taken by each operation on a dead-letter queue: one holds the
    /// messages it reads until it hands them back, and a listing or replay
    /// beside it in this process would miss them.
    pub dead_letters: tokio::sync::Mutex<()>,
}

impl Shared {
    pub(crate) fn new(settings: RabbitSettings) -> Self {
        Self {
            topology: Topology::new(&settings),
            settings,
            current: Mutex::new(Current::default()),
            reconnecting: tokio::sync::Mutex::new(()),
            closed: AtomicBool::new(false),
            dead_letters: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn topology(&self) -> Result<&Topology, DomainError> {
        self.topology
            .as_ref()
            .map_err(|message| DomainError::Unexpected(anyhow::anyhow!("invalid RabbitMQ settings: {message}")))
    }

    /// Only replaces handles, never awaits: a poisoned lock is still sound.
    fn current(&self) -> MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn live_connection(&self) -> Option<Arc<Connection>> {
        self.current().connection.clone().filter(|c| c.status().connected())
    }

    fn live_link(&self) -> Option<Link> {
        let current = self.current();
        let connection = current.connection.clone().filter(|c| c.status().connected())?;
        let publisher = current.publisher.clone().filter(|p| p.status().connected())?;
        Some(Link { connection, publisher })
    }

    pub(crate) fn is_connected(&self) -> bool {
        !self.closed.load(Ordering::SeqCst) && self.live_connection().is_some()
    }

    /// A live link, (re)connecting and re-declaring the topology if needed,
    /// within `connect_timeout`.
    pub(crate) async fn link(&self) -> Result<Link, DomainError> {
        self.check_open()?;
        if let Some(link) = self.live_link() {
            return Ok(link);
        }
        let topology = self.topology()?;
        let what = format!("connecting to RabbitMQ at {}", redacted_url(&self.settings.url));
        within(self.settings.connect_timeout, what, async {
            let _turn = self.reconnecting.lock().await;
            self.check_open()?;
            // Whoever held the turn before may have reconnected already.
            if let Some(link) = self.live_link() {
                return Ok(link);
            }
            let connection = match self.live_connection() {
                Some(connection) => connection,
                None => Arc::new(self.connect().await?),
            };
            let publisher = connection.create_channel().await?;
            topology.declare(&connection, &publisher).await?;
            publisher.confirm_select(ConfirmSelectOptions::default()).await?;
            let mut current = self.current();
            current.connection = Some(connection.clone());
            current.publisher = Some(publisher.clone());
            Ok::<_, anyhow::Error>(Link { connection, publisher })
        })
        .await
    }

    /// Connects; an `amqps://` URL always speaks TLS, verified against the
    /// system's certificates and `rabbitmq.ca_file`, and a certificate the
    /// client cannot trust fails the connection with rustls' reason.
    async fn connect(&self) -> anyhow::Result<Connection> {
        tracing::info!(url = %redacted_url(&self.settings.url), "connecting to RabbitMQ");
        let properties =
            ConnectionProperties::default().with_connection_name(self.settings.connection_name.clone().into());
        let uri = amqp_uri(&self.settings.url)?;
        if !self.settings.url.starts_with("amqps://") {
            return Ok(Connection::connect_uri(uri, properties).await?);
        }
        let tls = tls_config(&self.settings.tls).map_err(|reason| anyhow::anyhow!("RabbitMQ TLS: {reason}"))?;
        let runtime = lapin::runtime::default_runtime()?;
        uri.connect_with_config(properties, tls, runtime).await.map_err(|error| {
            let chain = linebacker_tls::cause_chain(&error);
            if linebacker_tls::is_certificate_error(&chain) {
                anyhow::anyhow!("RabbitMQ TLS certificate not accepted: {chain}")
            } else {
                anyhow::anyhow!("RabbitMQ over TLS: {chain}")
            }
        })
    }

    fn check_open(&self) -> Result<(), DomainError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(unavailable("the RabbitMQ bus is closed"));
        }
        Ok(())
    }

    /// Drops a publisher channel that failed (a nack, a timeout, an error)
    /// so that the next publish starts on a clean one.
    pub(crate) fn discard_publisher(&self, publisher: &Channel) {
        {
            let mut current = self.current();
            if current.publisher.as_ref() == Some(publisher) {
                current.publisher = None;
            }
        }
        let publisher = publisher.clone();
        tokio::spawn(async move {
            let closing = publisher.close(200, "reset after a failed publish".into());
            if let Ok(Err(error)) = tokio::time::timeout(CLOSE_TIMEOUT, closing).await {
                tracing::debug!(%error, "closing a failed publisher channel");
            }
        });
    }

    /// Closes the connection; the bus refuses every call afterwards.
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let (publisher, connection) = {
            let mut current = self.current();
            (current.publisher.take(), current.connection.take())
        };
        // The publisher channel first: a channel still closing when its
        // connection goes makes lapin log a spurious error.
        if let Some(publisher) = publisher.filter(|p| p.status().connected()) {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, publisher.close(200, "shutting down".into())).await;
        }
        let Some(connection) = connection else { return };
        let closing = connection.close(200, "shutting down".into());
        match tokio::time::timeout(CLOSE_TIMEOUT, closing).await {
            Ok(Ok(())) => tracing::info!("RabbitMQ connection closed"),
            Ok(Err(error)) => tracing::debug!(%error, "closing the RabbitMQ connection"),
            Err(_) => tracing::warn!("closing the RabbitMQ connection timed out"),
        }
    }
}

/// lapin's TLS configuration from the files, read now.
fn tls_config(files: &RabbitTls) -> Result<OwnedTLSConfig, String> {
    let read = |key: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|error| format!("rabbitmq.{key} {}: {error}", path.display()))
    };
    let cert_chain = match &files.ca_file {
        Some(path) => {
            linebacker_tls::read_certificates(path).map_err(|reason| format!("rabbitmq.ca_file: {reason}"))?;
            Some(String::from_utf8_lossy(&read("ca_file", path)?).into_owned())
        }
        None => None,
    };
    let identity = match (&files.cert_file, &files.key_file) {
        (Some(cert), Some(key)) => {
            Some(OwnedIdentity::PKCS8 { pem: read("cert_file", cert)?, key: read("key_file", key)? })
        }
        (None, None) => None,
        _ => return Err("rabbitmq.cert_file and rabbitmq.key_file go together".to_owned()),
    };
    Ok(OwnedTLSConfig { identity, cert_chain })
}

/// The frame size linebacker asks the broker for, unless the URL names its
/// own (`?frame_max=`): RabbitMQ's default `frame_max`, the largest frame it
/// accepts from a publisher by default. A message's content-header frame
/// (its properties and AMQP headers) is never split, and the broker forwards
/// it as the publisher sent it: a consumer that negotiated less than the
/// publisher could send drops its connection on such a message ("frame too
/// large") and gets it again on the next one, forever.
///
/// lapin keeps 32 frames of buffer each way, as rings. Asked for in the URL,
/// that size is allocated zeroed up front and a page joins the resident set
/// only once traffic reaches it: an idle connection costs what it did with
/// 16 KiB frames, and one that has carried a few MiB up to 7 MiB more
/// (measured on one connection: +0.8 MiB idle with either size; +4 MiB with
/// 16 KiB and +11 MiB with 128 KiB frames after 14 MB of events). A frame
/// size negotiated larger than the URL's would instead grow the buffers by
/// writing every page at once.
const FRAME_MAX: u32 = 131_072;

/// `rabbitmq.url` parsed, with `FRAME_MAX` unless it sets a frame size.
fn amqp_uri(url: &str) -> anyhow::Result<AMQPUri> {
    // The parser's reason never repeats the URL, so no password is logged.
    let mut uri: AMQPUri = url.parse().map_err(|reason: String| anyhow::anyhow!("rabbitmq.url is not an AMQP URL: {reason}"))?;
    uri.query.frame_max.get_or_insert(FRAME_MAX);
    Ok(uri)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn the_frame_size_covers_the_largest_frame_rabbitmq_accepts_unless_the_url_names_one() {
        let uri = super::amqp_uri("amqp://guest:secret@127.0.0.1:5672/%2f").unwrap();
        assert_eq!(uri.query.frame_max, Some(131_072), "RabbitMQ's default frame_max");
        let uri = super::amqp_uri("amqps://127.0.0.1:5671/v?frame_max=16384").unwrap();
        assert_eq!(uri.query.frame_max, Some(16_384));
        let error = super::amqp_uri("amqp://guest:secret@127.0.0.1:notaport/").unwrap_err().to_string();
        assert!(!error.contains("secret"), "{error}");
    }
}
