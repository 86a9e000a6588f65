//! TLS with rustls: the server's certificate and key, and optionally the CA that client
//! certificates must chain to (mutual TLS). Files are PEM, read once at start.

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// Where the TLS material is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The server's certificate chain (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
    /// If set, clients must present a certificate signed by this CA (PEM).
    pub client_ca: Option<PathBuf>,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {flag} {path}: {source}")]
pub struct TlsError {
    flag: &'static str,
    path: String,
    source: std::io::Error,
}

fn read(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError {
        flag,
        path: path.display().to_string(),
        source,
    })
}

/// The tonic TLS configuration for `settings`. The PEM contents are checked when the server
/// applies it.
pub fn server_config(settings: &TlsSettings) -> Result<ServerTlsConfig, TlsError> {
    let cert = read("--tls-cert", &settings.cert)?;
    let key = read("--tls-key", &settings.key)?;
    let mut config = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
    if let Some(ca) = &settings.client_ca {
        config = config.client_ca_root(Certificate::from_pem(read("--tls-client-ca", ca)?));
    }
    Ok(config)
}
