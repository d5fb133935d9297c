//! The private-network policy and transport errors of the shared HTTP client.

use crate::support::{ctx, secrets};
use patchbay_connectors::{HttpClient, NetworkPolicy, PrintingPartner};
use patchbay_core::{Connector, ConnectorContext, ConnectorError};
use patchbay_emulators::printing_partner::{self, PrintingEmulator};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

fn connection(emu: &PrintingEmulator, base_url: &str) -> ConnectorContext {
    ctx(
        json!({"shop_id": emu.config().shop_id, "api_base_url": base_url}),
        secrets(&[
            ("api_key", &emu.config().api_key),
            ("callback_secret", &emu.config().callback_secret),
        ]),
    )
}

fn client(policy: NetworkPolicy) -> HttpClient {
    HttpClient::new(policy, Duration::from_secs(5))
}

fn assert_refused(result: Result<impl std::fmt::Debug, ConnectorError>) {
    match result {
        Err(ConnectorError::Network(message)) => {
            assert!(
                message.starts_with("refused to connect to private address"),
                "{message}"
            );
            assert!(
                message.contains("PATCHBAY_ALLOW_PRIVATE_NETWORKS"),
                "{message}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn deny_private_refuses_loopback_literals_and_names() {
    let emu = printing_partner::spawn(Default::default()).await.unwrap();
    let c = PrintingPartner::new(client(NetworkPolicy::DenyPrivate));
    let port = emu.addr.port();

    let literal = connection(&emu, &emu.base_url);
    let result = c.test_connection(&literal).await;
    assert_refused(result);
    let mapped = connection(&emu, &format!("http://[::ffff:127.0.0.1]:{port}"));
    assert_refused(c.test_connection(&mapped).await);
    let by_name = connection(&emu, &format!("http://localhost:{port}"));
    assert_refused(c.test_connection(&by_name).await);

    assert_eq!(
        emu.request_count(),
        0,
        "nothing may reach the refused address"
    );
}

#[tokio::test]
async fn allowed_cidrs_open_only_those_ranges() {
    let emu = printing_partner::spawn(Default::default()).await.unwrap();
    let loopback = NetworkPolicy::parse("127.0.0.0/8, ::1/128").unwrap();
    let c = PrintingPartner::new(client(loopback));
    let port = emu.addr.port();
    assert!(c
        .test_connection(&connection(&emu, &emu.base_url))
        .await
        .is_ok());
    let by_name = connection(&emu, &format!("http://localhost:{port}"));
    assert!(c.test_connection(&by_name).await.is_ok());

    let other = PrintingPartner::new(client(NetworkPolicy::parse("10.0.0.0/8").unwrap()));
    assert_refused(
        other
            .test_connection(&connection(&emu, &emu.base_url))
            .await,
    );
}

#[tokio::test]
async fn request_checks_literals_before_sending() {
    let http = client(NetworkPolicy::DenyPrivate);
    for url in [
        "http://127.0.0.1/",
        "http://10.0.0.8/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[fd00::1]/",
        "http://0.0.0.0:8080/",
    ] {
        assert_refused(http.request(Method::GET, url).map(drop));
    }
    assert!(http.request(Method::GET, "https://93.184.215.14/").is_ok());
    let scheme = http.request(Method::GET, "file:///etc/passwd");
    assert!(matches!(scheme, Err(ConnectorError::Config(_))));
}

#[tokio::test]
async fn slow_and_closed_servers_are_network_errors() {
    let emu = printing_partner::spawn(Default::default()).await.unwrap();
    let impatient = HttpClient::new(NetworkPolicy::AllowAll, Duration::from_millis(100));
    emu.set_latency(Duration::from_millis(500));
    let c = PrintingPartner::new(impatient);
    let err = c
        .test_connection(&connection(&emu, &emu.base_url))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Network(_)), "{err:?}");
    assert!(err.is_transient());

    let base_url = emu.base_url.clone();
    emu.shutdown().await;
    let c = PrintingPartner::new(client(NetworkPolicy::AllowAll));
    let fresh = printing_partner::spawn(Default::default()).await.unwrap();
    let err = c
        .test_connection(&connection(&fresh, &base_url))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Network(_)), "{err:?}");
}
