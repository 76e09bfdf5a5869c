//! `http.*`, the receiver's API, and `zpages.*`, where a worker serves its
//! health pages.

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
    pub body_limit_bytes: usize,
    /// Seconds a 503 asks callers to wait (`Retry-After`).
    pub retry_after_secs: u32,
}

impl HttpSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.body_limit_bytes == 0 {
            return Err(ConfigError::invalid("http.body_limit_bytes", "must be at least 1"));
        }
        Ok(())
    }

    /// Whether `host` is a loopback address or `localhost`.
    pub fn binds_loopback_only(&self) -> bool {
        let host = self.host.trim().trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ZpagesSettings {
    pub base_port: u16,
    /// The address a worker's zpages listen on; loopback unless an operator
    /// opens them to the network.
    pub bind: String,
}
