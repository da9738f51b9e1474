//! SMS through a real Kannel (bearerbox + smsbox, fakesmsc as the SMSC): texts in every script
//! simdesk writes reach the phone intact, Kannel's refusals are permanent and its absence is
//! temporary, and an inbound keyword reaches an HTTP service decoded and its answer goes back to
//! the phone that asked.

mod support;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::routing::get;
use axum::Router;
use simdesk::adapters::sms::{needs_ucs2, KannelSms, SmsGateway};
use simdesk::adapters::PeerError;
use simdesk_domain::customer::Language;
use simdesk_domain::keyword::{self, Keyword};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::peers::kannel::{Kannel, ReceivedSms};

const ARRIVAL: Duration = Duration::from_secs(15);

fn gateway(kannel: &Kannel) -> KannelSms {
    KannelSms::new(
        &kannel.sendsms_url(),
        Kannel::username(),
        Kannel::password(),
        "SIMDESK",
        Duration::from_secs(5),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_in_every_script_arrive_intact() {
    let kannel = Kannel::start(None);
    let sms = gateway(&kannel);
    let messages = [
        (
            "819010000001",
            "残高は ¥1,200 です。有効期限は12月1日です。",
        ),
        ("819010000002", "余额：1,200日元，有效期至12月1日。"),
        ("819010000003", "餘額：1,200日圓，有效期至12月1日。"),
        (
            "819010000004",
            "잔액은 1,200엔입니다. 12월 1일까지 유효합니다.",
        ),
        (
            "819010000005",
            "Your balance is JPY 1,200, valid until 1 Dec.",
        ),
        (
            "819010000006",
            "Solde: 1 200 ¥ — café [ok] {x} ~ € `code` 😀",
        ),
        ("+819010000007", "ＢＡＬ 残高"),
    ];
    for (i, (to, text)) in messages.iter().enumerate() {
        sms.send_sms(&format!("m{i}"), to, text)
            .await
            .unwrap_or_else(|e| panic!("{to}: {e}\n{}", kannel.diagnostics()));
    }
    for (to, text) in messages {
        let got = kannel.wait_for(|m| m.to == to, ARRIVAL).unwrap_or_else(|| {
            panic!(
                "nothing reached {to}; received {:?}\n{}",
                kannel.received(),
                kannel.diagnostics()
            )
        });
        assert_eq!(
            got,
            ReceivedSms {
                from: "SIMDESK".into(),
                to: to.into(),
                text: text.into(),
                parts: 1
            }
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_longer_than_one_sms_arrive_whole() {
    let kannel = Kannel::start(None);
    let sms = gateway(&kannel);
    let japanese = "【simdesk】回線 +819012345678 の解約が完了し、残額 1,234円を電子ウォレットに返金しました。\
        証明書 R-2026-000123：https://sim.example.jp/my/receipts/R-2026-000123 \
        SIMカードは破棄してください。ご利用ありがとうございました。";
    let english = "[simdesk] Your line +819012345678 was cancelled on 2026-12-01 (JST). The remaining \
        JPY 1,234 has been credited to your simdesk e-wallet; you can withdraw it from the portal at \
        any time. Receipt R-2026-000123: https://sim.example.jp/my/receipts/R-2026-000123 {keep it} \
        ~ you may now discard the SIM card or delete the eSIM. Questions? Call +81 3-1234-5678 or \
        visit a store (fee: EUR 0 / € 0). Safe travels!";
    // More than two SMS can carry even without the concatenation header: 2 x 70 UCS-2
    // characters, 2 x 160 GSM septets.
    assert!(needs_ucs2(japanese) && japanese.chars().count() > 140);
    assert!(!needs_ucs2(english) && english.chars().count() > 320);
    let messages = [("819020000001", japanese), ("819020000002", english)];
    for (i, (to, text)) in messages.iter().enumerate() {
        sms.send_sms(&format!("long{i}"), to, text)
            .await
            .unwrap_or_else(|e| panic!("{to}: {e}\n{}", kannel.diagnostics()));
    }
    for (to, text) in messages {
        let got = kannel.wait_for(|m| m.to == to, ARRIVAL).unwrap_or_else(|| {
            panic!(
                "nothing whole reached {to}; received {:?}\n{}",
                kannel.received(),
                kannel.diagnostics()
            )
        });
        assert_eq!(got.text, text, "{got:?}");
        assert_eq!(got.from, "SIMDESK");
        assert!(got.parts >= 3, "split into several SMS: {got:?}");
    }
    assert_eq!(kannel.received().len(), 2, "{:?}", kannel.received());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_and_not_repeated_in_the_error() {
    let kannel = Kannel::start(None);
    let sms = KannelSms::new(
        &kannel.sendsms_url(),
        Kannel::username(),
        "not-the-password-7f3a",
        "SIMDESK",
        Duration::from_secs(5),
    );
    let err = sms
        .send_sms("m1", "819012345678", "BAL")
        .await
        .expect_err("wrong password accepted");
    assert!(matches!(err, PeerError::Refused(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("403"), "{text}");
    assert!(text.contains("Authorization failed for sendsms"), "{text}");
    assert!(!text.contains("not-the-password-7f3a"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_receiver_or_sender_is_refused() {
    let kannel = Kannel::start(None);
    let err = gateway(&kannel)
        .send_sms("m1", "", "残高")
        .await
        .expect_err("empty receiver accepted");
    assert!(err.is_permanent(), "{err:?}");

    // A sender is required too; this one is Kannel's own 400.
    let no_sender = KannelSms::new(
        &kannel.sendsms_url(),
        Kannel::username(),
        Kannel::password(),
        "",
        Duration::from_secs(5),
    );
    let err = no_sender
        .send_sms("m2", "819012345678", "残高")
        .await
        .expect_err("empty sender accepted");
    assert!(matches!(err, PeerError::Refused(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("400"), "{text}");
    assert!(text.contains("Sender missing"), "{text}");
    assert!(kannel.received().is_empty(), "{:?}", kannel.received());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kannel_stopped_is_unavailable() {
    let kannel = Kannel::start(None);
    let sms = gateway(&kannel);
    sms.send_sms("m1", "819012345678", "BAL").await.unwrap();
    drop(kannel);
    let err = sms
        .send_sms("m2", "819012345678", "BAL")
        .await
        .expect_err("sent with Kannel stopped");
    assert!(matches!(err, PeerError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains(Kannel::password()), "{err}");
}

#[tokio::test]
async fn no_answer_in_time_is_unavailable() {
    // Connections complete in the backlog but nothing ever answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/cgi-bin/sendsms", silent.local_addr().unwrap());
    let sms = KannelSms::new(&url, "u", "p", "S", Duration::from_millis(300));
    let err = sms.send_sms("m1", "8190", "BAL").await.unwrap_err();
    assert!(matches!(err, PeerError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("no answer"), "{err}");
}

#[tokio::test]
async fn a_busy_smsbox_is_unavailable() {
    let app = Router::new().route(
        "/cgi-bin/sendsms",
        get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "Sendsms queue full") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cgi-bin/sendsms", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let sms = KannelSms::new(&url, "u", "p", "S", Duration::from_secs(5));
    let err = sms.send_sms("m1", "8190", "BAL").await.unwrap_err();
    assert!(matches!(err, PeerError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("Sendsms queue full"), "{err}");
}

/// One call of the inbound endpoint, as it was decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Inbound {
    from: String,
    to: String,
    text: String,
    charset: String,
}

#[derive(Clone, Default)]
struct Inbox(Arc<Mutex<Vec<Inbound>>>);

/// What simdesk's endpoint does, reduced to a fixed balance: read the keyword, answer in its
/// language (English for the Latin keyword), nothing for anything else.
async fn inbound(
    State(inbox): State<Inbox>,
    Query(params): Query<HashMap<String, String>>,
) -> (StatusCode, HeaderMap, String) {
    let param = |name: &str| params.get(name).cloned().unwrap_or_default();
    if param("token") != "T0KEN" {
        return (StatusCode::FORBIDDEN, HeaderMap::new(), String::new());
    }
    let call = Inbound {
        from: param("from"),
        to: param("to"),
        text: param("text"),
        charset: param("charset"),
    };
    inbox.0.lock().unwrap().push(call.clone());
    let reply = match keyword::parse(&call.text) {
        Some((Keyword::Balance, Some(Language::Ja))) => "残高は ¥1,200 です",
        Some((Keyword::Balance, Some(Language::Ko))) => "잔액은 1,200엔입니다",
        Some((Keyword::Balance, _)) => "Balance: JPY 1,200",
        _ => "",
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    if needs_ucs2(reply) {
        headers.insert("X-Kannel-Coding", HeaderValue::from_static("2"));
    }
    (StatusCode::OK, headers, reply.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_keyword_is_answered_in_its_language() {
    let inbox = Inbox::default();
    let app = Router::new()
        .route("/sms/inbound", get(inbound))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let kannel = Kannel::start(Some(&format!(
        "http://127.0.0.1:{port}/sms/inbound?token=T0KEN&from=%p&to=%P&text=%b&charset=%C&coding=%c"
    )));

    let asks = [
        ("819011110001", "残高", "残高は ¥1,200 です"),
        ("819011110002", "잔액 주세요", "잔액은 1,200엔입니다"),
        ("819011110003", "bal", "Balance: JPY 1,200"),
    ];
    kannel.send_inbound("819011110004", "4444", "hello？");
    for (phone, text, _) in asks {
        kannel.send_inbound(phone, "4444", text);
    }

    for (phone, text, reply) in asks {
        let got = kannel
            .wait_for(|m| m.to == phone, ARRIVAL)
            .unwrap_or_else(|| {
                panic!(
                    "no reply to {phone}; service saw {:?}; received {:?}\n{}",
                    inbox.0.lock().unwrap(),
                    kannel.received(),
                    kannel.diagnostics()
                )
            });
        assert_eq!(
            got,
            ReceivedSms {
                from: "4444".into(),
                to: phone.into(),
                text: reply.into(),
                parts: 1
            }
        );
        let calls = inbox.0.lock().unwrap().clone();
        let call = calls
            .iter()
            .find(|c| c.from == phone)
            .unwrap_or_else(|| panic!("{phone} never reached the service: {calls:?}"));
        assert_eq!(call.text, text);
        assert_eq!(call.to, "4444");
        assert_eq!(call.charset, "UTF-8");
    }

    // A text that is no keyword reached the service, decoded, and was answered with silence.
    let calls = inbox.0.lock().unwrap().clone();
    assert!(
        calls
            .iter()
            .any(|c| c.from == "819011110004" && c.text == "hello？"),
        "{calls:?}"
    );
    assert!(
        kannel.received().iter().all(|m| m.to != "819011110004"),
        "{:?}",
        kannel.received()
    );
}

// ---------------------------------------------------------------------------
// simdesk's own inbound endpoint behind the real Kannel
// ---------------------------------------------------------------------------

mod keywords {
    use super::*;
    use jiff::Timestamp;

    use simdesk::config::SmsSettings;

    use simdesk::services::lines;
    use simdesk::services::policies::{load_policies, PolicyBook};

    use support::{fresh_db, policies_dir};

    /// Stocks EX-SAKURA lines 1..=3 (090-0000-000N) and sells line 1 to a Japanese-speaking
    /// and line 2 to a Korean-speaking traveller; line 3 stays in stock.
    async fn world() -> support::TestDb {
        let db = fresh_db().await;
        load_policies(db.store.as_ref(), &policies_dir(), Timestamp::now())
            .await
            .unwrap();
        let book = PolicyBook::load(db.store.as_ref()).await.unwrap();
        support::stock::stock(db.store.as_ref(), &book, &[1, 2, 3]).await;
        for (n, language) in [(1u64, "ja"), (2, "ko")] {
            support::stock::sell(db.store.as_ref(), &book, n, language, Timestamp::now()).await;
        }
        db
    }

    /// simdesk as configured behind Kannel: inbound SMS reach it with the token `T0KEN`.
    async fn simdesk_behind(db: &support::TestDb) -> support::RunningApp {
        let options = support::AppOptions::new()
            .public_url("https://sim.example.jp")
            .settings(|s| {
                s.sms = Some(SmsSettings {
                    // Nothing is sent in these tests: replies go back in Kannel's answer.
                    sendsms_url: "http://127.0.0.1:9/cgi-bin/sendsms".into(),
                    username: "simdesk".into(),
                    password: "unused".into(),
                    from: "4444".into(),
                    timeout_ms: None,
                    inbound_token: Some("T0KEN".into()),
                })
            });
        support::start_app(db, options).await
    }

    fn answer_to(kannel: &Kannel, phone: &str) -> String {
        kannel
            .wait_for(|m| m.to.trim_start_matches('+') == phone, ARRIVAL)
            .unwrap_or_else(|| panic!("no answer to {phone}: {}", kannel.diagnostics()))
            .text
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn simdesk_answers_keywords_from_its_lines_in_their_language() {
        let db = world().await;
        let app = simdesk_behind(&db).await;
        let book = app.ctx.book.clone();
        let port = app.addr.port();
        let kannel = Kannel::start(Some(&format!(
            "http://127.0.0.1:{port}/sms/inbound?token=T0KEN&from=%p&to=%P&text=%b&charset=%C&coding=%c"
        )));

        // 残高 from the Japanese traveller's line: balance and validity, in Japanese.
        kannel.send_inbound("819000000001", "4444", "残高");
        let text = answer_to(&kannel, "819000000001");
        let report = lines::report(
            db.store.as_ref(),
            &book,
            &lines::parse_line_key("09000000001").unwrap(),
            Timestamp::now(),
        )
        .await
        .unwrap();
        assert!(
            text.starts_with("【simdesk】回線 +819000000001 の残高は"),
            "{text}"
        );
        assert!(text.contains("1,000 JPY"), "the plan's credit: {text}");
        // Longer than one SMS (70 UCS-2 characters), it arrives whole only as a concatenated
        // message, exactly as simdesk wrote it for this line.
        let whole = simdesk::messages::render_reply(
            simdesk::messages::Reply::Balance,
            Language::Ja,
            &[
                ("msisdn".to_string(), "+819000000001".to_string()),
                ("balance".to_string(), "10240 MB + 1,000 JPY".to_string()),
                (
                    "valid_until".to_string(),
                    report.valid_until_jst.clone().unwrap(),
                ),
            ]
            .into_iter()
            .collect(),
        )
        .unwrap();
        assert_eq!(text, whole);

        // CANCEL (no language of its own) from the Korean traveller's line: in Korean, with the
        // portal's address.
        kannel.send_inbound("819000000002", "4444", "cancel");
        let text = answer_to(&kannel, "819000000002");
        assert!(text.contains("https://sim.example.jp/"), "{text}");
        assert!(
            text.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c)),
            "Korean: {text}"
        );
        assert_eq!(
            text,
            simdesk::messages::render_reply(
                simdesk::messages::Reply::Cancel,
                Language::Ko,
                &[(
                    "portal_url".to_string(),
                    "https://sim.example.jp/".to_string()
                )]
                .into_iter()
                .collect(),
            )
            .unwrap()
        );

        // A line in stock is not one simdesk serves a traveller on; a stranger neither.
        kannel.send_inbound("819000000003", "4444", "BAL");
        let text = answer_to(&kannel, "819000000003");
        assert_eq!(
            text,
            simdesk::messages::render_reply(
                simdesk::messages::Reply::UnknownLine,
                Language::En,
                &Default::default()
            )
            .unwrap()
        );
    }

    /// Asks simdesk's endpoint directly, as Kannel would: (status, body).
    async fn ask(port: u16, query: &str) -> (u16, String) {
        let url = format!("http://127.0.0.1:{port}/sms/inbound?{query}");
        tokio::task::spawn_blocking(move || {
            let agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .new_agent();
            let mut reply = agent.get(&url).call().unwrap();
            let status = reply.status().as_u16();
            (
                status,
                reply.body_mut().read_to_string().unwrap_or_default(),
            )
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_kannel_with_the_token_is_answered() {
        let db = world().await;
        let port = simdesk_behind(&db).await.addr.port();
        let balance = "from=%2B819000000001&to=4444&text=BAL&charset=UTF-8&coding=0";
        let (status, body) = ask(port, &format!("token=T0KEN&{balance}")).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("1,000 JPY"), "{body}");
        // A wrong or missing token learns nothing about the line.
        for query in [format!("token=WRONG&{balance}"), balance.to_string()] {
            let (status, body) = ask(port, &query).await;
            assert_eq!(status, 403, "{body}");
            assert!(!body.contains("JPY"), "{body}");
        }
        // Without an inbound token configured, the endpoint does not exist.
        let bare = support::start_app(&db, support::AppOptions::new())
            .await
            .addr
            .port();
        let (status, _) = ask(bare, &format!("token=T0KEN&{balance}")).await;
        assert_eq!(status, 404);
    }
}
