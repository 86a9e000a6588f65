//! Opening a channel to the server: plaintext or TLS (optionally mutual), with the bearer
//! token attached to every call.

use std::path::Path;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Request, Status};

use super::args::Connection;
use super::error::ClientError;
use crate::proto::consumer_groups_client::ConsumerGroupsClient;
use crate::proto::event_log_client::EventLogClient;

/// Large enough for the biggest message the server sends (a page cut at 1 MiB, a catch-up
/// chunk) with room to spare; matches the server's default limit.
const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// A client of the `EventLog` service with the caller's token on every call.
pub type Client = EventLogClient<InterceptedService<Channel, BearerToken>>;

/// Adds `authorization: Bearer <token>` to each request, when a token was given.
#[derive(Clone)]
pub struct BearerToken(Option<MetadataValue<Ascii>>);

impl Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Connects to the server named by `connection`.
pub async fn connect(connection: &Connection) -> Result<Client, ClientError> {
    let (channel, token) = channel(connection).await?;
    Ok(EventLogClient::with_interceptor(channel, token)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// A client of the `ConsumerGroups` service with the caller's token on every call.
pub type GroupsClient = ConsumerGroupsClient<InterceptedService<Channel, BearerToken>>;

/// Connects to the consumer groups service of the server named by `connection`, with the
/// same TLS and token as [`connect`].
pub async fn connect_groups(connection: &Connection) -> Result<GroupsClient, ClientError> {
    let (channel, token) = channel(connection).await?;
    Ok(ConsumerGroupsClient::with_interceptor(channel, token)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// The channel to the server and the token interceptor, which every service's client shares.
async fn channel(connection: &Connection) -> Result<(Channel, BearerToken), ClientError> {
    let token = match connection.token.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(token) => Some(format!("Bearer {token}").parse().map_err(|_| {
            ClientError::Usage(
                "the token (--token / EVENTLOG_TOKEN) has characters a header cannot carry".into(),
            )
        })?),
    };
    let endpoint = endpoint(connection)?;
    let channel = endpoint
        .connect()
        .await
        .map_err(|error| ClientError::Connect {
            addr: connection.addr.clone(),
            reason: error_chain(&error),
        })?;
    Ok((channel, BearerToken(token)))
}

fn endpoint(connection: &Connection) -> Result<Endpoint, ClientError> {
    let addr = &connection.addr;
    if !(addr.starts_with("http://") || addr.starts_with("https://")) {
        return Err(ClientError::Usage(format!(
            "--addr {addr:?} needs a scheme: http://HOST:PORT, or https://HOST:PORT for TLS"
        )));
    }
    let endpoint = Endpoint::from_shared(addr.clone())
        .map_err(|e| ClientError::Usage(format!("--addr {addr:?} is not a valid address: {e}")))?
        .connect_timeout(std::time::Duration::from_secs(10));
    let wants_tls = addr.starts_with("https://") || connection.ca_cert.is_some();
    if !wants_tls {
        if connection.client_cert.is_some() {
            return Err(ClientError::Usage(
                "--client-cert needs TLS: give --ca-cert and an https:// address".into(),
            ));
        }
        return Ok(endpoint);
    }
    let Some(ca) = &connection.ca_cert else {
        return Err(ClientError::Usage(format!(
            "{addr} is TLS: give the CA certificate that signed the server's certificate with --ca-cert"
        )));
    };
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)?));
    if let Some(domain) = &connection.tls_domain {
        tls = tls.domain_name(domain.clone());
    }
    if let (Some(cert), Some(key)) = (&connection.client_cert, &connection.client_key) {
        tls = tls.identity(Identity::from_pem(read(cert)?, read(key)?));
    }
    endpoint.tls_config(tls).map_err(|e| {
        ClientError::Usage(format!(
            "the TLS settings are unusable: {}",
            error_chain(&e)
        ))
    })
}

fn read(path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|source| ClientError::File {
        path: path.to_path_buf(),
        source,
    })
}

/// An error with its causes, since transport errors hide the useful part ("connection
/// refused") in their sources.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
