//! The bus's link to the broker: one connection, opened on first use and
//! re-opened when found dead (broker restart, network cut), and one channel
//! in confirm mode that carries every publish. Each new publisher channel
//! re-declares the topology first, so a broker that lost its definitions
//! gets them back. lapin's own auto-recovery is not used: reconnecting on
//! demand, under a deadline, is easier to reason about.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// The node (an index into `settings.urls`) the next connection tries
    /// first: this process's own starting position, then the one after the
    /// node whose connection was last opened.
    next_node: AtomicUsize,
    /// Taken by each operation on a dead-letter queue: one holds the
    /// messages it reads until it hands them back, and a listing or replay
    /// beside it in this process would miss them.
    pub dead_letters: tokio::sync::Mutex<()>,
}

impl Shared {
    pub(crate) fn new(settings: RabbitSettings) -> Self {
        let first_node = start_node(&settings.connection_name, settings.urls.len());
        Self {
            topology: Topology::new(&settings),
            settings,
            current: Mutex::new(Current::default()),
            reconnecting: tokio::sync::Mutex::new(()),
            closed: AtomicBool::new(false),
            next_node: AtomicUsize::new(first_node),
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
        // Each node may take the whole connect timeout before the next is tried.
        let nodes = u32::try_from(self.settings.urls.len()).unwrap_or(u32::MAX).max(1);
        within(self.settings.connect_timeout.saturating_mul(nodes), "connecting to RabbitMQ", async {
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

    /// Connects to the first node that answers, from `next_node` on, each
    /// within `connect_timeout`; the next connection starts from the node
    /// after the one that answered, so a process whose node went away moves
    /// on to another.
    async fn connect(&self) -> anyhow::Result<Connection> {
        let urls = &self.settings.urls;
        anyhow::ensure!(!urls.is_empty(), "no RabbitMQ node is configured (rabbitmq.url or rabbitmq.urls)");
        let first = self.next_node.load(Ordering::SeqCst);
        let mut failures = Vec::new();
        for node in (first..first + urls.len()).map(|node| node % urls.len()) {
            let url = &urls[node];
            let attempt = tokio::time::timeout(self.settings.connect_timeout, self.connect_to(url)).await;
            match attempt {
                Ok(Ok(connection)) => {
                    self.next_node.store((node + 1) % urls.len(), Ordering::SeqCst);
                    return Ok(connection);
                }
                Ok(Err(error)) => failures.push(format!("{}: {error:#}", redacted_url(url))),
                Err(_) => failures.push(format!("{}: no answer within {:?}", redacted_url(url), self.settings.connect_timeout)),
            }
            if urls.len() > 1 {
                tracing::warn!(node = %redacted_url(url), "RabbitMQ node unreachable; trying the next");
            }
        }
        Err(anyhow::anyhow!("no RabbitMQ node answered: {}", failures.join("; ")))
    }

    /// Connects to one node; an `amqps://` URL always speaks TLS, verified
    /// against the system's certificates and `rabbitmq.ca_file`, and a
    /// certificate the client cannot trust fails the connection with
    /// rustls' reason.
    async fn connect_to(&self, url: &str) -> anyhow::Result<Connection> {
        tracing::info!(url = %redacted_url(url), "connecting to RabbitMQ");
        let properties =
            ConnectionProperties::default().with_connection_name(self.settings.connection_name.clone().into());
        let uri = amqp_uri(url)?;
        if !url.starts_with("amqps://") {
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

/// Where a process starts looking for a node: picked from its connection
/// name (`check-allowed-1`, ...), so that copies spread over the nodes.
fn start_node(connection_name: &str, nodes: usize) -> usize {
    if nodes == 0 {
        return 0;
    }
    let mut hasher = DefaultHasher::new();
    connection_name.hash(&mut hasher);
    (hasher.finish() % nodes as u64) as usize
}

/// A node's URL parsed, with `FRAME_MAX` unless it sets a frame size.
fn amqp_uri(url: &str) -> anyhow::Result<AMQPUri> {
    // The parser's reason never repeats the URL, so no password is logged.
    let mut uri: AMQPUri = url.parse().map_err(|reason: String| anyhow::anyhow!("a RabbitMQ node URL is not an AMQP URL: {reason}"))?;
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

    #[test]
    fn copies_of_a_process_start_from_different_nodes() {
        let starts: std::collections::HashSet<usize> =
            (0..6).map(|instance| super::start_node(&format!("check-allowed-{instance}"), 3)).collect();
        assert!(starts.len() >= 2, "six copies all start at one node: {starts:?}");
        assert!(starts.iter().all(|node| *node < 3));
        assert_eq!(super::start_node("anything", 0), 0);
    }

    #[tokio::test]
    async fn a_node_that_is_down_is_skipped_and_the_next_connection_starts_after_the_one_that_answered() {
        use std::sync::atomic::Ordering;
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let live = linebacker_testkit::amqp_url();
        let settings = crate::RabbitSettings {
            urls: vec![format!("amqp://guest:guest@127.0.0.1:{closed}/%2f"), live.clone(), live],
            connect_timeout: std::time::Duration::from_secs(3),
            ..crate::RabbitSettings::default()
        };
        let shared = super::Shared::new(settings);
        shared.next_node.store(0, Ordering::SeqCst);

        let connection = shared.connect().await.unwrap();

        assert!(connection.status().connected());
        assert_eq!(shared.next_node.load(Ordering::SeqCst), 2, "node 1 answered; node 2 is tried first next time");
        connection.close(200, "done".into()).await.unwrap();
    }
}

