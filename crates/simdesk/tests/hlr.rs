//! The network port against a real OsmoHLR: each test starts its own osmo-hlr on a loopback
//! address of its own and drives it through `HlrNetwork`, looking into the HLR with raw CTRL GETs
//! that do not go through the adapter.

mod support;

use simdesk::adapters::hlr::HlrNetwork;
use simdesk::adapters::network::{Network, Subscriber};
use simdesk::adapters::PeerError;
use std::time::{Duration, Instant};
use support::peers::hlr::Hlr;

const IMSI: &str = "901700000000001";
const OTHER_IMSI: &str = "901700000000002";
const MSISDN: &str = "+819012345678";
const DIGITS: &str = "819012345678";
const TIMEOUT: Duration = Duration::from_millis(500);

fn network(hlr: &Hlr) -> HlrNetwork {
    HlrNetwork::new(hlr.ctrl(), TIMEOUT)
}

fn var(imsi: &str, field: &str) -> String {
    format!("subscriber.by-imsi-{imsi}.{field}")
}

/// The service flags as the HLR itself reports them.
fn flags(hlr: &Hlr, imsi: &str) -> (String, String) {
    (
        hlr.get(&var(imsi, "ps-enabled")).expect("ps-enabled"),
        hlr.get(&var(imsi, "cs-enabled")).expect("cs-enabled"),
    )
}

fn enabled() -> Subscriber {
    Subscriber {
        msisdn: Some(DIGITS.to_string()),
        ps_enabled: true,
        cs_enabled: true,
    }
}

#[tokio::test]
async fn provisioning_creates_the_subscriber_with_its_msisdn_and_service_allowed() {
    let hlr = Hlr::start();
    let net = network(&hlr);

    net.provision("k1", IMSI, MSISDN).await.unwrap();

    assert_eq!(hlr.get(&var(IMSI, "msisdn")).as_deref(), Some(DIGITS));
    assert_eq!(flags(&hlr, IMSI), ("1".into(), "1".into()));
    assert_eq!(net.subscriber(IMSI).await.unwrap(), Some(enabled()));
}

#[tokio::test]
async fn provisioning_twice_succeeds_and_keeps_one_subscriber() {
    let hlr = Hlr::start();
    let net = network(&hlr);

    net.provision("k1", IMSI, MSISDN).await.unwrap();
    let info = hlr.get(&var(IMSI, "info")).expect("info");
    net.provision("k1", IMSI, MSISDN).await.unwrap();

    assert_eq!(
        hlr.get(&var(IMSI, "info")),
        Some(info),
        "same id, same fields"
    );
    assert_eq!(net.subscriber(IMSI).await.unwrap(), Some(enabled()));
}

#[tokio::test]
async fn provisioning_a_barred_subscriber_allows_service_again() {
    let hlr = Hlr::start();
    let net = network(&hlr);

    net.provision("k1", IMSI, MSISDN).await.unwrap();
    net.bar("k2", IMSI, MSISDN).await.unwrap();
    net.provision("k3", IMSI, MSISDN).await.unwrap();

    assert_eq!(net.subscriber(IMSI).await.unwrap(), Some(enabled()));
}

#[tokio::test]
async fn bar_and_unbar_flip_both_services() {
    let hlr = Hlr::start();
    let net = network(&hlr);
    net.provision("k1", IMSI, MSISDN).await.unwrap();

    net.bar("k2", IMSI, MSISDN).await.unwrap();
    assert_eq!(flags(&hlr, IMSI), ("0".into(), "0".into()));
    let barred = net.subscriber(IMSI).await.unwrap().unwrap();
    assert!(barred.is_barred());
    assert_eq!(barred.msisdn.as_deref(), Some(DIGITS));
    net.bar("k2", IMSI, MSISDN).await.unwrap();
    assert_eq!(flags(&hlr, IMSI), ("0".into(), "0".into()));

    net.unbar("k3", IMSI, MSISDN).await.unwrap();
    assert_eq!(flags(&hlr, IMSI), ("1".into(), "1".into()));
    net.unbar("k3", IMSI, MSISDN).await.unwrap();
    assert_eq!(net.subscriber(IMSI).await.unwrap(), Some(enabled()));
}

#[tokio::test]
async fn barring_data_leaves_voice_and_sms_on() {
    let hlr = Hlr::start();
    let net = network(&hlr);
    net.provision("k1", IMSI, MSISDN).await.unwrap();
    for _ in 0..2 {
        net.bar_data("k2", IMSI, MSISDN).await.unwrap();
        assert_eq!(flags(&hlr, IMSI), ("0".into(), "1".into()));
    }
    let no_data = net.subscriber(IMSI).await.unwrap().unwrap();
    assert!(!no_data.ps_enabled && no_data.cs_enabled && !no_data.is_barred());
    net.unbar_data("k3", IMSI, MSISDN).await.unwrap();
    assert_eq!(net.subscriber(IMSI).await.unwrap(), Some(enabled()));
    // Data is not to be barred on a subscriber the HLR does not have.
    assert!(net.bar_data("k4", OTHER_IMSI, MSISDN).await.is_err());
}

#[tokio::test]
async fn deprovisioning_removes_the_subscriber_and_may_be_repeated() {
    let hlr = Hlr::start();
    let net = network(&hlr);
    net.provision("k1", IMSI, MSISDN).await.unwrap();
    net.provision("k2", OTHER_IMSI, "+819000000002")
        .await
        .unwrap();

    net.deprovision("k3", IMSI, MSISDN).await.unwrap();
    assert_eq!(hlr.get(&var(IMSI, "info")), None);
    assert_eq!(net.subscriber(IMSI).await.unwrap(), None);
    net.deprovision("k3", IMSI, MSISDN).await.unwrap();

    // Only the IMSI asked for is gone.
    assert!(net.subscriber(OTHER_IMSI).await.unwrap().is_some());
}

#[tokio::test]
async fn a_missing_subscriber_is_none_and_cannot_be_barred() {
    let hlr = Hlr::start();
    let net = network(&hlr);

    assert_eq!(net.subscriber(IMSI).await.unwrap(), None);
    for result in [
        net.bar("k1", IMSI, MSISDN).await,
        net.unbar("k2", IMSI, MSISDN).await,
    ] {
        match result {
            Err(PeerError::Refused(message)) => {
                assert!(message.contains(IMSI), "{message}");
                assert!(message.contains("simdesk network reconcile"), "{message}");
            }
            other => panic!("expected Refused, got {other:?}"),
        }
    }
    // Refusing created nothing.
    assert_eq!(hlr.get(&var(IMSI, "info")), None);
}

#[tokio::test]
async fn an_msisdn_held_by_another_subscriber_is_refused_with_the_hlrs_reason() {
    let hlr = Hlr::start();
    let net = network(&hlr);
    net.provision("k1", IMSI, MSISDN).await.unwrap();

    match net.provision("k2", OTHER_IMSI, MSISDN).await {
        Err(PeerError::Refused(message)) => {
            assert!(message.contains("Update MSISDN failed"), "{message}")
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    assert_eq!(net.subscriber(IMSI).await.unwrap(), Some(enabled()));
}

#[tokio::test]
async fn a_stopped_hlr_is_unavailable_until_it_comes_back() {
    let mut hlr = Hlr::start();
    let net = network(&hlr);
    net.provision("k1", IMSI, MSISDN).await.unwrap();

    hlr.stop();
    let started = Instant::now();
    let results = [
        net.provision("k2", OTHER_IMSI, "+819000000002").await,
        net.bar("k3", IMSI, MSISDN).await,
        net.unbar("k4", IMSI, MSISDN).await,
        net.deprovision("k5", IMSI, MSISDN).await,
        net.subscriber(IMSI).await.map(|_| ()),
    ];
    for result in results {
        match result {
            Err(PeerError::Unavailable(message)) => {
                assert!(message.contains(&hlr.ctrl().to_string()), "{message}")
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    assert!(
        started.elapsed() < 5 * TIMEOUT,
        "took {:?}",
        started.elapsed()
    );

    hlr.restart();
    // The same database: what was provisioned before the outage is still there.
    assert_eq!(net.subscriber(IMSI).await.unwrap(), Some(enabled()));
    net.bar("k3", IMSI, MSISDN).await.unwrap();
    assert_eq!(flags(&hlr, IMSI), ("0".into(), "0".into()));
    net.provision("k2", OTHER_IMSI, "+819000000002")
        .await
        .unwrap();
    assert!(net.subscriber(OTHER_IMSI).await.unwrap().is_some());
}

#[tokio::test]
async fn an_hlr_that_never_answers_is_unavailable_after_the_timeout() {
    // Accepted by the kernel's backlog, then silence: what a hung HLR (or one that dropped a
    // frame it could not parse) looks like.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let net = HlrNetwork::new(silent.local_addr().unwrap(), Duration::from_millis(200));

    let started = Instant::now();
    match net.subscriber(IMSI).await {
        Err(PeerError::Unavailable(message)) => {
            assert!(
                message.contains(&silent.local_addr().unwrap().to_string()),
                "{message}"
            )
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn invalid_input_is_refused_without_contacting_the_hlr() {
    // A listener that counts as contact if anything connects to it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let net = HlrNetwork::new(listener.local_addr().unwrap(), TIMEOUT);

    for imsi in [
        "",
        "12345",
        "1234567890123456",
        "90170000000000a",
        "901700000000001 0",
        "901700000000001\nSET 9 subscriber.delete 901700000000002",
    ] {
        let results = [
            net.provision("k", imsi, MSISDN).await,
            net.bar("k", imsi, MSISDN).await,
            net.unbar("k", imsi, MSISDN).await,
            net.deprovision("k", imsi, MSISDN).await,
            net.subscriber(imsi).await.map(|_| ()),
        ];
        for result in results {
            assert!(
                matches!(result, Err(PeerError::Refused(_))),
                "{imsi:?}: {result:?}"
            );
        }
    }
    for msisdn in ["", "+", "819 0", "81901234567890123", "819012345678\n"] {
        let result = net.provision("k", IMSI, msisdn).await;
        assert!(
            matches!(result, Err(PeerError::Refused(_))),
            "{msisdn:?}: {result:?}"
        );
    }

    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the adapter connected: {other:?}"),
    }
}
