//! The optional TOML config file (`--config`): the same settings as the flags, plus the access
//! tokens, which have no flag.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::ops::auth::TokenConfig;
use crate::ops::logging::LogFormat;

/// The file's contents. Every key is optional; unknown keys are refused, so a typo does not
/// silently leave a setting at its default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `data_dir`.
    pub data_dir: Option<PathBuf>,
    /// `listen`.
    pub listen: Option<SocketAddr>,
    /// `vocabulary`.
    pub vocabulary: Option<PathBuf>,
    /// `cache_mb`.
    pub cache_mb: Option<u64>,
    /// `min_free_disk_mb`.
    pub min_free_disk_mb: Option<u64>,
    /// `log_level`.
    pub log_level: Option<String>,
    /// `log_format`.
    pub log_format: Option<LogFormat>,
    /// `metrics_listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// `http_listen`.
    pub http_listen: Option<SocketAddr>,
    /// `tls_cert`.
    pub tls_cert: Option<PathBuf>,
    /// `tls_key`.
    pub tls_key: Option<PathBuf>,
    /// `tls_client_ca`.
    pub tls_client_ca: Option<PathBuf>,
    /// `open_reflection`.
    pub open_reflection: Option<bool>,
    /// `insecure`.
    pub insecure: Option<bool>,
    /// `max_concurrent_requests`.
    pub max_concurrent_requests: Option<usize>,
    /// `max_streams`.
    pub max_streams: Option<usize>,
    /// `max_subscribers`.
    pub max_subscribers: Option<usize>,
    /// `request_timeout`, in seconds.
    pub request_timeout: Option<Seconds>,
    /// `caller_share_percent`.
    pub caller_share_percent: Option<u8>,
    /// `max_connections`.
    pub max_connections: Option<usize>,
    /// `max_streams_per_connection`.
    pub max_streams_per_connection: Option<u32>,
    /// `handshake_timeout`, in seconds.
    pub handshake_timeout: Option<Seconds>,
    /// `max_connection_age`, in seconds.
    pub max_connection_age: Option<Seconds>,
    /// `request_body_timeout`, in seconds.
    pub request_body_timeout: Option<Seconds>,
    /// `max_message_bytes`.
    pub max_message_bytes: Option<usize>,
    /// `max_subscriptions_per_caller`.
    pub max_subscriptions_per_caller: Option<usize>,
    /// `subscriber_buffer_bytes`.
    pub subscriber_buffer_bytes: Option<usize>,
    /// `subscriber_stall_timeout`, in seconds.
    pub subscriber_stall_timeout: Option<Seconds>,
    /// `shutdown_timeout`, in seconds.
    pub shutdown_timeout: Option<Seconds>,
    /// `nats_url`.
    pub nats_url: Option<String>,
    /// `node_name`.
    pub node_name: Option<String>,
    /// `nats_stream`.
    pub nats_stream: Option<String>,
    /// `nats_replicas`.
    pub nats_replicas: Option<u8>,
    /// `nats_creds`.
    pub nats_creds: Option<PathBuf>,
    /// `nats_tls_ca`.
    pub nats_tls_ca: Option<PathBuf>,
    /// `nats_tls_cert`.
    pub nats_tls_cert: Option<PathBuf>,
    /// `nats_tls_key`.
    pub nats_tls_key: Option<PathBuf>,
    /// `[auth]`.
    #[serde(default)]
    pub auth: AuthSection,
}

/// The `[auth]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// `[[auth.tokens]]`.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
}

/// A positive number of seconds (integer or decimal).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seconds(pub Duration);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Number {
            Int(u64),
            Float(f64),
        }
        let value = match Number::deserialize(deserializer)? {
            Number::Int(n) => n as f64,
            Number::Float(f) => f,
        };
        if !(value.is_finite() && value > 0.0 && value <= 86_400.0) {
            return Err(serde::de::Error::custom(
                "a number of seconds above 0, at most 86400",
            ));
        }
        Ok(Seconds(Duration::from_secs_f64(value)))
    }
}

/// Why the file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Unreadable.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML, or a key or value this server does not know.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong and where.
        message: String,
    },
}

impl ConfigFile {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<ConfigFile, FileError> {
        let text = std::fs::read_to_string(path).map_err(|source| FileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| FileError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::methods::Role;

    #[test]
    fn tokens_and_settings_parse() {
        let file: ConfigFile = toml::from_str(
            r#"
            listen = "127.0.0.1:7000"
            request_timeout = 2.5
            log_format = "json"

            [[auth.tokens]]
            name = "ingest"
            sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            role = "append"
            "#,
        )
        .expect("valid");
        assert_eq!(file.listen, Some("127.0.0.1:7000".parse().expect("addr")));
        assert_eq!(
            file.request_timeout,
            Some(Seconds(Duration::from_millis(2500)))
        );
        assert_eq!(file.log_format, Some(LogFormat::Json));
        assert_eq!(file.auth.tokens[0].role, Role::Append);
    }

    #[test]
    fn typos_are_refused() {
        assert!(toml::from_str::<ConfigFile>("listne = \"x\"").is_err());
        assert!(toml::from_str::<ConfigFile>(
            "[[auth.tokens]]\nname=\"a\"\nsha256=\"b\"\nrole=\"root\""
        )
        .is_err());
    }
}
