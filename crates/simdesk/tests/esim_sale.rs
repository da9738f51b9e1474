//! Selling an eSIM against the workspace's test SM-DP+ over real HTTPS on loopback: the order
//! goes out through the outbox and comes back with the activation code (sealed, never in the
//! history or the outbox); the SM-DP+'s progress notifications move the profile and the line's
//! history, once each and in whatever order they arrive; an SM-DP+ that is down is asked again
//! and orders once; the traveller finds the QR code and the typed code on the portal, in their
//! language, on a phone-sized screen. The real app on 127.0.0.1:0 over a fresh database (SQLite, or PostgreSQL
//! when SIMDESK_TEST_PG is set).

mod support;

use jiff::Timestamp;
use serde_json::json;
use simdesk::adapters::messages::CodeDestination;
use simdesk::services::esim;
use simdesk::services::outbox;
use simdesk::services::policies::{load_policies, PolicyBook};
use simdesk::store::{LineKey, Store};
use simdesk_domain::attribution::{Actor, Attribution, Channel};
use std::time::Duration;
use support::browser::{messages, Browser, Messages, Options};
use support::peers::smdp::{Smdp, NOTIFY_TOKEN};
use support::stock::{iccid, register, stock_esims};
use support::{fresh_db, policies_dir, AppOptions};

/// eSIM line 1 registered, the app set up to reach the test SM-DP+ and be notified by it.
struct World {
    app: support::TestApp,
    smdp: Smdp,
}

async fn world() -> World {
    let setup = Smdp::prepare(&[(&iccid(1), "ESIM-15")]);
    let db = fresh_db().await;
    load_policies(db.store.as_ref(), &policies_dir(), Timestamp::now())
        .await
        .unwrap();
    let book = PolicyBook::load(db.store.as_ref()).await.unwrap();
    stock_esims(db.store.as_ref(), &book, &[1]).await;
    register(db.store.as_ref(), &book, 1, "zh-Hans", Timestamp::now()).await;
    let settings = setup.settings();
    let app =
        support::spawn_app_on(db, AppOptions::new().settings(|s| s.smdp = Some(settings))).await;
    let smdp = setup.run(Some(&app.base));
    World { app, smdp }
}

fn clerk() -> Attribution {
    Attribution::new(
        Actor::operator("clerk-7"),
        Channel::Store,
        Timestamp::now(),
        "eSIM sold at the airport counter",
    )
}

fn line() -> LineKey {
    LineKey::Iccid(iccid(1).parse().unwrap())
}

impl World {
    fn store(&self) -> &dyn Store {
        self.app.store.as_ref()
    }

    async fn deliver(&self, now: Timestamp) -> outbox::DeliveryReport {
        outbox::deliver(self.store(), &self.app.peers, now)
            .await
            .unwrap()
    }

    async fn profile(&self) -> esim::ProfileView {
        esim::show(self.store(), &line()).await.unwrap()
    }

    /// The line's history entries of these kinds, oldest first.
    async fn history(&self, kinds: &[&str]) -> Vec<String> {
        let id = esim::show(self.store(), &line()).await.unwrap().line;
        self.store()
            .events(simdesk_domain::ids::LineId::new(id))
            .await
            .unwrap()
            .into_iter()
            .filter(|e| kinds.contains(&e.kind.as_str()))
            .map(|e| format!("{}: {}", e.kind, e.detail))
            .collect()
    }

    /// Waits for the SM-DP+'s notifications to move the profile to `state`.
    async fn wait_for(&self, state: &str) {
        for _ in 0..200 {
            if self.profile().await.state == state {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the profile never reached {state}: {:?}",
            self.profile().await
        );
    }

    /// Waits until the SM-DP+ has had every notification it sent taken.
    async fn wait_for_notifications(&self, count: usize) -> serde_json::Value {
        for _ in 0..200 {
            let sent = self.smdp.get("/test/notifications").await;
            let list = sent.as_array().cloned().unwrap_or_default();
            if list.len() >= count && list.iter().all(|n| n["delivered"] == true) {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the SM-DP+'s notifications were not all taken: {}",
            self.smdp.get("/test/notifications").await
        );
    }
}

#[tokio::test]
async fn a_sold_esim_is_ordered_released_downloaded_and_installed() {
    let w = world().await;
    let ordered = esim::order(w.store(), &line(), None, clerk())
        .await
        .unwrap();
    assert_eq!(ordered.state, "available");
    assert_eq!(ordered.pending.as_deref(), Some("download_order"));
    assert!(!ordered.activation_code_ready);
    // Ordering again while the first order is on its way is refused, and says why.
    let again = esim::order(w.store(), &line(), None, clerk())
        .await
        .unwrap_err();
    assert!(again.to_string().contains("still on its way"), "{again}");

    // The order goes out with the registration's messages.
    let report = w.deliver(Timestamp::now()).await;
    assert_eq!((report.retried, report.dead), (0, 0), "{report:?}");
    let released = w.profile().await;
    assert_eq!(released.state, "released");
    assert_eq!(released.pending, None);
    assert!(released.activation_code_ready);
    let id = simdesk_domain::ids::LineId::new(released.line);
    let code = w.store().activation_code(id).await.unwrap().unwrap();
    assert!(
        code.lpa_uri()
            .starts_with("LPA:1$rsp.simdesk-test.example$"),
        "the code names the SM-DP+ ConfirmOrder answered with"
    );
    assert_eq!(
        w.smdp.get(&format!("/test/profiles/{}", iccid(1))).await["state"],
        "released"
    );

    // The traveller scans the code: the phone downloads and installs the profile.
    w.smdp
        .post(&format!("/test/profiles/{}/download", iccid(1)), json!({}))
        .await;
    w.wait_for("downloaded").await;
    w.smdp
        .post(&format!("/test/profiles/{}/install", iccid(1)), json!({}))
        .await;
    w.wait_for("installed").await;

    let history = w
        .history(&["esim_order", "esim_released", "esim_progress"])
        .await;
    assert_eq!(history.len(), 4, "{history:#?}");
    assert!(history[0].starts_with("esim_order:"), "{history:#?}");
    assert!(history[1].starts_with("esim_released:"), "{history:#?}");
    assert!(history[2].contains("profile downloaded"), "{history:#?}");
    assert!(history[3].contains("profile installed"), "{history:#?}");
    // The code is the traveller's secret: nowhere in the history.
    let matching_id = code.matching_id().expose().to_string();
    assert!(history.iter().all(|h| !h.contains(&matching_id)));
}

#[tokio::test]
async fn the_same_notification_twice_and_out_of_order_move_the_profile_once() {
    let w = world().await;
    esim::order(w.store(), &line(), None, clerk())
        .await
        .unwrap();
    w.deliver(Timestamp::now()).await;
    // The phone downloads and installs; installed is reported before downloaded, and each
    // notification is sent twice.
    w.smdp
        .post(
            &format!("/test/profiles/{}/install", iccid(1)),
            json!({ "duplicate": true, "outOfOrder": true }),
        )
        .await;
    w.wait_for("installed").await;
    w.wait_for_notifications(4).await;
    assert_eq!(w.profile().await.state, "installed");
    // One step of news: the installation. Downloaded arrived after it and told nothing new;
    // the repeats changed nothing at all.
    let history = w.history(&["esim_progress", "esim_error"]).await;
    assert_eq!(history.len(), 1, "{history:#?}");
    assert!(history[0].contains("profile installed"), "{history:#?}");
    let id = simdesk_domain::ids::LineId::new(w.profile().await.line);
    let kept = w.store().progress_reports(id).await.unwrap();
    assert_eq!(kept.len(), 2, "each notification is kept once: {kept:?}");
}

#[tokio::test]
async fn an_smdp_down_during_the_order_is_asked_again_and_orders_once() {
    let w = world().await;
    esim::order(w.store(), &line(), None, clerk())
        .await
        .unwrap();
    w.smdp
        .post("/test/fail-next", json!({ "count": 1, "status": 503 }))
        .await;
    let now = Timestamp::now();
    let first = w.deliver(now).await;
    assert_eq!(first.retried, 1, "{first:?}");
    assert_eq!(w.profile().await.pending.as_deref(), Some("download_order"));
    // Its backoff passed, the order goes through.
    let later = w.deliver(now + jiff::SignedDuration::from_mins(5)).await;
    assert_eq!((later.delivered, later.retried), (1, 0), "{later:?}");
    assert_eq!(w.profile().await.state, "released");
    let calls = w.smdp.get("/test/calls").await;
    let executed = |function: &str| {
        calls
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["function"] == function && c["outcome"] == "executed")
            .count()
    };
    assert_eq!(executed("downloadOrder"), 1, "{calls}");
    assert_eq!(executed("confirmOrder"), 1, "{calls}");
}

#[tokio::test]
async fn notifications_come_only_from_the_smdp_and_name_a_line_simdesk_has() {
    let w = world().await;
    let url = format!(
        "{}/gsma/rsp2/es2plus/handleDownloadProgressInfo",
        w.app.base
    );
    let body = |iccid: &str| {
        json!({
            "header": { "functionRequesterIdentifier": "smdp", "functionCallIdentifier": "n-1" },
            "iccid": iccid,
            "profileType": "ESIM-15",
            "timestamp": "2026-12-04T01:00:00Z",
            "notificationPointId": 3,
            "notificationPointStatus": { "status": "Executed-Success" },
        })
    };
    let client = reqwest::Client::new();
    let post = |token: &'static str, body: serde_json::Value| {
        client
            .post(&url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let refused = post("not-the-token", body(&iccid(1))).await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(w.profile().await.state, "available");
    let unknown = post(NOTIFY_TOKEN, body(&iccid(9))).await.unwrap();
    assert_eq!(unknown.status(), 200);
    let answer: serde_json::Value = serde_json::from_str(&unknown.text().await.unwrap()).unwrap();
    let status = &answer["header"]["functionExecutionStatus"];
    assert_eq!(status["status"], "Failed", "{answer}");
    assert_eq!(status["statusCodeData"]["subjectCode"], "8.1.1", "{answer}");
    assert_eq!(status["statusCodeData"]["reasonCode"], "3.9", "{answer}");
    let taken = post(NOTIFY_TOKEN, body(&iccid(1))).await.unwrap();
    let answer: serde_json::Value = serde_json::from_str(&taken.text().await.unwrap()).unwrap();
    assert_eq!(
        answer["header"]["functionExecutionStatus"]["status"],
        "Executed-Success"
    );
    assert_eq!(w.profile().await.state, "downloaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traveller_finds_the_qr_code_and_the_typed_code_in_chinese_on_a_phone() {
    let w = world().await;
    esim::order(w.store(), &line(), None, clerk())
        .await
        .unwrap();
    w.deliver(Timestamp::now()).await;
    let view = w.profile().await;
    let id = simdesk_domain::ids::LineId::new(view.line);
    let code = w.store().activation_code(id).await.unwrap().unwrap();
    let found = w.store().line(&line()).await.unwrap().unwrap();
    let (national, to_line) = (
        found.msisdn.national(),
        CodeDestination::Line(found.msisdn.to_string()),
    );
    let (base, codes) = (w.app.base.clone(), w.app.codes.clone());
    let zh = Messages(messages("zh-Hans"));
    let name = format!("esim-qr-in-chinese-{}", support::backend());
    let (matching_id, full) = (code.matching_id().expose().to_string(), code.lpa_uri());
    let address = code.smdp_address().to_string();
    tokio::task::spawn_blocking(move || {
        let b = Browser::start(Options::new(&name).languages(&["zh-CN", "zh"]));
        b.goto(&format!("{base}/"));
        b.type_into("#identifier", &national);
        b.click("#send-code");
        b.wait_for_text("h1", zh.get("code-title"));
        let mut sent = None;
        for _ in 0..100 {
            sent = codes.last_code_to(&to_line);
            if sent.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        b.type_into("#code", &sent.expect("a sign-in code was sent to the line"));
        b.click("#sign-in");
        b.wait_for_text("h1", zh.get("my-lines-title"));
        assert_eq!(b.text(".esim-link"), zh.get("esim-link"));
        b.click(".esim-link");
        b.wait_for_text("h1", zh.get("esim-title"));
        assert_eq!(b.text("#esim-state"), zh.get("esim-state-released"));
        // The QR code is drawn, as wide as a phone's camera needs, inside the narrow window.
        b.find("#esim-qr svg");
        let width = b.execute(
            "return document.querySelector('#esim-qr svg').getBoundingClientRect().width;",
            vec![],
        );
        let width = width.as_f64().unwrap_or_default();
        assert!(
            (200.0..=500.0).contains(&width),
            "the QR code is {width}px wide"
        );
        assert_eq!(b.text("#esim-address"), address);
        assert_eq!(b.text("#esim-code"), matching_id);
        assert_eq!(b.text("#esim-full-code"), full);
        assert!(b.text("main").contains(zh.get("esim-step-iphone")));
        b.screenshot("esim-qr");
    })
    .await
    .unwrap();
}
