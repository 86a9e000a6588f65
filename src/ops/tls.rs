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

/// The same TLS material as a rustls configuration, for the HTTP listener (`crate::http`),
/// which terminates TLS itself: HTTP/1.1 over the certificate gRPC serves, and the same client
/// CA when mutual TLS is on.
pub fn rustls_config(
    settings: &TlsSettings,
) -> Result<std::sync::Arc<tokio_rustls::rustls::ServerConfig>, String> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls::server::WebPkiClientVerifier;
    use tokio_rustls::rustls::{crypto, RootCertStore, ServerConfig};

    let pem_error = |flag: &str, path: &Path, e: &dyn std::fmt::Display| {
        format!("cannot read {flag} {}: {e}", path.display())
    };
    let certs = CertificateDer::pem_slice_iter(
        &read("--tls-cert", &settings.cert).map_err(|e| e.to_string())?,
    )
    .collect::<Result<Vec<_>, _>>()
    .map_err(|e| pem_error("--tls-cert", &settings.cert, &e))?;
    let key = PrivateKeyDer::from_pem_slice(
        &read("--tls-key", &settings.key).map_err(|e| e.to_string())?,
    )
    .map_err(|e| pem_error("--tls-key", &settings.key, &e))?;
    let provider = std::sync::Arc::new(crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match &settings.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(
                &read("--tls-client-ca", ca).map_err(|e| e.to_string())?,
            ) {
                let cert = cert.map_err(|e| pem_error("--tls-client-ca", ca, &e))?;
                roots
                    .add(cert)
                    .map_err(|e| pem_error("--tls-client-ca", ca, &e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                .build()
                .map_err(|e| pem_error("--tls-client-ca", ca, &e))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("invalid certificate or key (--tls-cert, --tls-key): {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(std::sync::Arc::new(config))
}
