//! Where the broker is and how long to wait for it.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use linebacker_domain::backoff::RetryPolicy;

/// The delay queues every work queue gets by default: a retried message
/// waits in the shortest one at least as long as its backoff.
pub const DEFAULT_RETRY_LEVELS: [Duration; 5] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
];

#[derive(Clone)]
pub struct RabbitSettings {
    /// The nodes of one broker (cluster), each
    /// `amqp://user:password@host:port/vhost`; never empty. A process
    /// connects to the first that answers, starting from a position of its
    /// own (`connection_name`) so that copies spread over the nodes, and
    /// moves on to the next when its connection is lost. Append
    /// `?heartbeat=10` to notice a silently dead network within seconds.
    pub urls: Vec<String>,
    /// The topic exchange every event is published to.
    pub exchange: String,
    /// The initial replication factor of every quorum queue declared (the
    /// broker caps it at its cluster's size).
    pub quorum_replicas: u16,
    /// Put in front of every queue name (`{prefix}check-allowed`), so that
    /// tests or several systems can share one broker.
    pub queue_prefix: String,
    /// The longest a (re)connection, including re-declaring the topology,
    /// may take before callers are told the broker is unavailable.
    pub connect_timeout: Duration,
    /// The longest a batch of publisher confirms may take.
    pub confirm_timeout: Duration,
    /// How long a message whose retry or dead-letter copy the broker did
    /// not confirm waits before it is handed back, so that it does not spin.
    pub retry_pause: Duration,
    /// The backoff of retried messages.
    pub retry: RetryPolicy,
    /// The delays of the per-queue delay queues (`<queue>.retry.<delay>`),
    /// ascending. Part of the topology: changing them declares new queues.
    pub retry_levels: Vec<Duration>,
    /// Shown in the RabbitMQ management UI, e.g. `http-receiver-0`.
    pub connection_name: String,
    /// The files of an `amqps://` connection, read at every (re)connection.
    pub tls: RabbitTls,
}

/// For `amqps://`: certificate authorities trusted beside the system's, and
/// the client certificate of brokers that ask for one. Paths, read when the
/// bus connects, so that a renewed file is picked up by the next connection.
#[derive(Debug, Clone, Default)]
pub struct RabbitTls {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

impl Default for RabbitSettings {
    fn default() -> Self {
        Self {
            urls: vec!["amqp://guest:guest@127.0.0.1:5672/%2f".to_owned()],
            exchange: "linebacker".to_owned(),
            quorum_replicas: 3,
            queue_prefix: String::new(),
            connect_timeout: Duration::from_secs(5),
            confirm_timeout: Duration::from_secs(10),
            retry_pause: Duration::from_secs(1),
            retry: RetryPolicy::default(),
            retry_levels: DEFAULT_RETRY_LEVELS.to_vec(),
            connection_name: "linebacker".to_owned(),
            tls: RabbitTls::default(),
        }
    }
}

/// Debug output ends up in logs: the password stays out of it.
impl fmt::Debug for RabbitSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RabbitSettings")
            .field("urls", &self.urls.iter().map(|url| redacted_url(url)).collect::<Vec<_>>())
            .field("exchange", &self.exchange)
            .field("quorum_replicas", &self.quorum_replicas)
            .field("queue_prefix", &self.queue_prefix)
            .field("connect_timeout", &self.connect_timeout)
            .field("confirm_timeout", &self.confirm_timeout)
            .field("retry_pause", &self.retry_pause)
            .field("retry", &self.retry)
            .field("retry_levels", &self.retry_levels)
            .field("connection_name", &self.connection_name)
            .field("tls", &self.tls)
            .finish()
    }
}

/// The url with its password replaced by `***`, fit for a log line.
pub(crate) fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return url.to_owned() };
    let user = rest[..at].split_once(':').map_or(&rest[..at], |(user, _)| user);
    format!("{scheme}://{user}:***@{}", &rest[at + 1..])
}

#[cfg(test)]
mod tests {
    use super::redacted_url;

    #[test]
    fn a_logged_url_shows_the_user_and_host_but_not_the_password() {
        assert_eq!(redacted_url("amqp://guest:s3cret@rabbit:5672/%2f"), "amqp://guest:***@rabbit:5672/%2f");
        assert_eq!(redacted_url("amqp://rabbit:5672/%2f"), "amqp://rabbit:5672/%2f");
    }
}
