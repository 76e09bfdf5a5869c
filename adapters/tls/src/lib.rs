//! TLS for linebacker's clients. Every dependency is verified against the
//! system's certificate store plus, when configured, a CA file of its own
//! (`database.ca_file`, `rabbitmq.ca_file`, `backup_job_service.ca_file`,
//! `azure_queue.ca_file`). There is no way to turn verification off.
//!
//! Files are read when a client is built (or, for the broker, at every
//! connection), so a bad file is reported with its path and the key that
//! names it, never silently skipped.

use std::error::Error;
use std::path::Path;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The certificates of a PEM file (one or more `CERTIFICATE` blocks).
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("{} is not a PEM certificate file: {error}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(certificates)
}

/// Checks that `path` holds a PEM private key (PKCS#8, PKCS#1 or SEC1),
/// without keeping it.
pub fn check_private_key(path: &Path) -> Result<(), String> {
    PrivateKeyDer::from_pem_file(path)
        .map(drop)
        .map_err(|error| format!("{} is not a PEM private key: {error}", path.display()))
}

/// An HTTP client (rustls, HTTP/1.1) bounded by `timeout`, trusting the
/// system's certificates and those of `ca_file`.
pub fn http_client(timeout: Duration, ca_file: Option<&Path>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(true)
        .timeout(timeout)
        .connect_timeout(timeout);
    if let Some(path) = ca_file {
        for certificate in read_certificates(path)? {
            let certificate = reqwest::Certificate::from_der(&certificate)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(|error| format!("cannot build the HTTP client: {}", cause_chain(&error)))
}

/// An error and its causes, `outer: inner: innermost`, each said once. A
/// certificate that does not verify reads, for example, `error sending
/// request ...: invalid peer certificate: UnknownIssuer`.
pub fn cause_chain(error: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn Error + 'static)> = Some(error);
    while let Some(error) = current {
        let text = error.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = error.source();
    }
    parts.join(": ")
}

/// Whether a failure was the TLS handshake refusing the peer's certificate
/// or name, from the words rustls uses.
pub fn is_certificate_error(chain: &str) -> bool {
    chain.contains("invalid peer certificate") || chain.contains("certificate") && chain.contains("not valid for name")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_is_refused_with_its_path() {
        let error = read_certificates(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(error.contains("/nonexistent/ca.pem"), "{error}");
        let empty = std::env::temp_dir().join(format!("linebacker-tls-empty-{}.pem", std::process::id()));
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let error = read_certificates(&empty).unwrap_err();
        std::fs::remove_file(&empty).ok();
        assert!(error.contains("no PEM certificate"), "{error}");
    }

    #[test]
    fn a_cause_chain_names_every_cause_once() {
        #[derive(Debug)]
        struct Layer(&'static str, Option<Box<Layer>>);
        impl std::fmt::Display for Layer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl Error for Layer {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                self.1.as_deref().map(|inner| inner as &(dyn Error + 'static))
            }
        }
        let error = Layer(
            "error sending request",
            Some(Box::new(Layer("invalid peer certificate: UnknownIssuer", Some(Box::new(Layer("UnknownIssuer", None)))))),
        );
        let chain = cause_chain(&error);
        assert_eq!(chain, "error sending request: invalid peer certificate: UnknownIssuer");
        assert!(is_certificate_error(&chain));
        assert!(!is_certificate_error("connection refused"));
    }
}
