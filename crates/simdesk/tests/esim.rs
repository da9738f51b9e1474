//! simdesk's ES2+ client against the workspace's test SM-DP+ over real HTTPS with mutual TLS on
//! loopback: ordering, confirming, releasing and cancelling a profile, refusals read as subject
//! and reason with what to do, a repeated call identifier answered without acting twice, and an
//! SM-DP+ that is down or refuses a client without the operator's certificate.

mod support;

use simdesk::adapters::smdp::{Es2Plus, Es2PlusClient, FinalStatus};
use simdesk::adapters::PeerError;
use support::peers::smdp::Smdp;

const ICCID: &str = "8981100000000000018";
const OTHER: &str = "8981100000000000026";

fn smdp() -> (Smdp, Es2PlusClient) {
    let smdp = Smdp::start(&[(ICCID, "JP10-ESIM"), (OTHER, "JP10-ESIM")]);
    let client = Es2PlusClient::new(&smdp.settings()).expect("the client is set up");
    (smdp, client)
}

/// What the test SM-DP+ says a profile's state is (its control API, as the operator).
async fn state_of(smdp: &Smdp, iccid: &str) -> String {
    let profile = smdp.get(&format!("/test/profiles/{iccid}")).await;
    profile["state"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_profile_is_ordered_confirmed_and_cancelled_before_download() {
    let (smdp, client) = smdp();
    assert_eq!(
        client.download_order("c-1", ICCID, None).await.unwrap(),
        ICCID
    );
    assert_eq!(state_of(&smdp, ICCID).await, "allocated");
    let confirmed = client
        .confirm_order("c-2", ICCID, None, true)
        .await
        .unwrap();
    assert!(!confirmed.matching_id.is_empty());
    assert_eq!(confirmed.smdp_address, "rsp.simdesk-test.example");
    assert_eq!(state_of(&smdp, ICCID).await, "released");
    // The same call again (the answer was lost): the first answer, not a second order.
    let again = client
        .confirm_order("c-2", ICCID, None, true)
        .await
        .unwrap();
    assert_eq!(again, confirmed);
    client
        .cancel_order(
            "c-3",
            ICCID,
            None,
            Some(&confirmed.matching_id),
            FinalStatus::Available,
        )
        .await
        .unwrap();
    assert_eq!(state_of(&smdp, ICCID).await, "available");
}

#[tokio::test]
async fn refusals_name_the_subject_the_reason_and_what_to_do() {
    let (_smdp, client) = smdp();
    let e = client
        .download_order("c-1", "8981100000000000034", None)
        .await
        .unwrap_err();
    assert!(e.is_permanent(), "{e}");
    let text = e.to_string();
    assert!(text.contains("8.2.1") && text.contains("3.9"), "{text}");
    assert!(text.contains("stock"), "{text}");
    // Confirming an order never placed.
    let e = client
        .confirm_order("c-2", OTHER, None, false)
        .await
        .unwrap_err();
    assert!(e.is_permanent(), "{e}");
}

#[tokio::test]
async fn an_smdp_that_fails_or_is_down_is_retried_later_not_refused() {
    let (smdp, client) = smdp();
    smdp.post(
        "/test/fail-next",
        serde_json::json!({ "count": 1, "status": 503 }),
    )
    .await;
    let e = client.download_order("c-1", ICCID, None).await.unwrap_err();
    assert!(matches!(e, PeerError::Unavailable(_)), "{e}");
    // Asked again with the same call identifier, it goes through once.
    client.download_order("c-1", ICCID, None).await.unwrap();
    assert_eq!(state_of(&smdp, ICCID).await, "allocated");
    let url = smdp.settings().url;
    drop(smdp);
    let e = client.release_profile("c-2", ICCID).await.unwrap_err();
    assert!(matches!(e, PeerError::Unavailable(_)), "{e}: {url}");
}

#[tokio::test]
async fn without_the_operators_certificate_the_smdp_refuses_the_connection() {
    let (smdp, _) = smdp();
    let mut settings = smdp.settings();
    // A certificate the SM-DP+'s CA never signed: its own server certificate stands in.
    settings.certificate = smdp.certs().join("ca.pem");
    settings.key = smdp.certs().join("ca-key.pem");
    let stranger = Es2PlusClient::new(&settings).unwrap();
    let e = stranger
        .download_order("c-1", ICCID, None)
        .await
        .unwrap_err();
    assert!(matches!(e, PeerError::Unavailable(_)), "{e}");
    assert_eq!(state_of(&smdp, ICCID).await, "available");
}
