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
}

#[derive(Debug, Clone, Deserialize)]
pub struct ZpagesSettings {
    pub base_port: u16,
    /// The address a worker's zpages listen on; loopback unless an operator
    /// opens them to the network.
    pub bind: String,
}
