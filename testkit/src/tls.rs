//! The TLS test servers `scripts/tls-servers.sh` starts (each on a port of
//! its own, beside the shared plaintext ones) and the certificates it makes:
//! a test CA, a server certificate valid for `localhost` only (so that
//! `127.0.0.1` is a wrong host name), the same name signed by an unrelated
//! CA, and a client certificate.

use std::path::PathBuf;

/// PostgreSQL's TLS cluster.
pub const POSTGRES_TLS_PORT: u16 = 5433;
/// The RabbitMQ node whose only listener is AMQPS.
pub const AMQPS_PORT: u16 = 5671;
/// Azurite's queue service over HTTPS.
pub const AZURITE_HTTPS_PORT: u16 = 10011;

/// `LINEBACKER_TEST_TLS_DIR`, else the repository's `.run/tls`.
pub fn tls_dir() -> PathBuf {
    std::env::var_os("LINEBACKER_TEST_TLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.run/tls"))
}

/// A file of the TLS directory, failing with what to run when it is not
/// there (`ca.pem`, `wrong-ca.pem`, `server.pem`, `server.key`,
/// `wrong-server.pem`, `wrong-server.key`, `client.pem`, `client.key`).
pub fn tls_file(name: &str) -> PathBuf {
    let path = tls_dir().join(name);
    assert!(path.is_file(), "{} is missing: run scripts/tls-servers.sh (scripts/test.sh does)", path.display());
    path
}

/// A copy of `name` in a file of its own, for tests that swap the CA a
/// client reads: write another file over it with [`replace_file`].
pub fn own_copy(name: &str) -> PathBuf {
    let copy = std::env::temp_dir().join(format!("{}-{name}", crate::unique_name("lb-tls")));
    std::fs::copy(tls_file(name), &copy).unwrap_or_else(|error| panic!("copying {name}: {error}"));
    copy
}

/// Replaces `target`'s content by that of the TLS file `name`, atomically.
pub fn replace_file(target: &std::path::Path, name: &str) {
    let staging = target.with_extension("new");
    std::fs::copy(tls_file(name), &staging).unwrap_or_else(|error| panic!("copying {name}: {error}"));
    std::fs::rename(&staging, target).unwrap_or_else(|error| panic!("replacing {}: {error}", target.display()));
}
