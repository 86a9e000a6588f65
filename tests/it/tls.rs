//! TLS with certificates made in the test: plain TLS, and mutual TLS where a client without a
//! certificate signed by the configured CA is refused.

use crate::common;

use std::time::Duration;

use common::ops::*;
use common::*;
use eventlog::ops::tls::TlsSettings;
use eventlog::proto::event_log_client::EventLogClient;
use eventlog::proto::GetLogInfoRequest;
use eventlog::server::{self, Settings};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

async fn tls_channel(
    addr: std::net::SocketAddr,
    pki: &Pki,
    identity: Option<Identity>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost");
    if let Some(identity) = identity {
        tls = tls.identity(identity);
    }
    Channel::from_shared(format!("https://{addr}"))
        .expect("url")
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
}

#[tokio::test]
async fn clients_trusting_the_ca_talk_tls_and_plaintext_clients_fail() {
    let temp = tempfile::tempdir().expect("temp dir");
    let pki = Pki::generate(temp.path());
    let running = server::start(&Settings {
        tls: Some(TlsSettings {
            cert: pki.server_cert.clone(),
            key: pki.server_key.clone(),
            client_ca: None,
        }),
        ..settings(&temp.path().join("data"))
    })
    .await
    .expect("server starts");
    let channel = tls_channel(running.local_addr, &pki, None)
        .await
        .expect("TLS connect");
    let info = EventLogClient::new(channel)
        .get_log_info(GetLogInfoRequest {})
        .await
        .expect("GetLogInfo over TLS");
    assert_eq!(info.into_inner().head, 0);

    let plaintext = async {
        let mut client = EventLogClient::connect(format!("http://{}", running.local_addr)).await?;
        client
            .get_log_info(GetLogInfoRequest {})
            .await
            .map_err(|s| s.into())
            .map(|_| ())
    };
    let result: Result<(), Box<dyn std::error::Error>> =
        tokio::time::timeout(Duration::from_secs(10), plaintext)
            .await
            .expect("a plaintext client fails promptly");
    assert!(result.is_err(), "a plaintext client must not get an answer");
    running.stop().await.expect("stop");
}

#[tokio::test]
async fn mutual_tls_refuses_clients_without_a_certificate() {
    let temp = tempfile::tempdir().expect("temp dir");
    let pki = Pki::generate(temp.path());
    let running = server::start(&Settings {
        tls: Some(TlsSettings {
            cert: pki.server_cert.clone(),
            key: pki.server_key.clone(),
            client_ca: Some(pki.ca.clone()),
        }),
        ..settings(&temp.path().join("data"))
    })
    .await
    .expect("server starts");

    let with_cert = tls_channel(
        running.local_addr,
        &pki,
        Some(Identity::from_pem(
            &pki.client_cert_pem,
            &pki.client_key_pem,
        )),
    )
    .await
    .expect("mTLS connect");
    EventLogClient::new(with_cert)
        .get_log_info(GetLogInfoRequest {})
        .await
        .expect("a client with a certificate is served");

    // Without a certificate: the handshake or the first call fails, never an answer.
    let refused = async {
        let channel = tls_channel(running.local_addr, &pki, None).await?;
        EventLogClient::new(channel)
            .get_log_info(GetLogInfoRequest {})
            .await
            .map(|_| ())
            .map_err(Box::<dyn std::error::Error>::from)
    };
    let result = tokio::time::timeout(Duration::from_secs(15), async {
        refused.await.map_err(|e| e.to_string())
    })
    .await
    .expect("refused promptly");
    assert!(
        result.is_err(),
        "a client without a certificate must be refused"
    );
    running.stop().await.expect("stop");
}

#[tokio::test]
async fn unreadable_or_invalid_certificates_stop_start_up_with_the_flag_named() {
    let temp = tempfile::tempdir().expect("temp dir");
    let missing = server::start(&Settings {
        tls: Some(TlsSettings {
            cert: temp.path().join("nope.pem"),
            key: temp.path().join("nope.key"),
            client_ca: None,
        }),
        ..settings(&temp.path().join("data"))
    })
    .await
    .err()
    .expect("refused");
    assert!(missing.to_string().contains("--tls-cert"), "{missing}");
    let garbage = temp.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").expect("write");
    let invalid = server::start(&Settings {
        tls: Some(TlsSettings {
            cert: garbage.clone(),
            key: garbage,
            client_ca: None,
        }),
        ..settings(&temp.path().join("data"))
    })
    .await
    .err()
    .expect("refused");
    assert!(invalid.to_string().contains("TLS"), "{invalid}");
}
