//! Browser tests (issue 5): headless Chromium, driven through chromedriver, against the real
//! server on 127.0.0.1 — what a traveller sees and clicks, read from the browser's DOM. Each test
//! saves screenshots into target/browser-artifacts/. They need Debian's chromium and
//! chromium-driver, which scripts/test installs; without them they fail, never skip.
//! Run against SQLite and (with SIMDESK_TEST_PG) PostgreSQL.

mod support;

use jiff::{SignedDuration, Timestamp};
use simdesk::adapters::messages::{CodeDestination, RecordingCodeSender};
use simdesk::keys::Keys;
use simdesk::services::cancellation::{self, Desk};
use simdesk::services::import::{import_lines, ImportRequest, Progress};
use simdesk::services::lines;
use simdesk::services::policies::{load_policies, PolicyBook};
use simdesk::store::LineKey;
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use simdesk_domain::cancellation::RequestState;
use simdesk_domain::customer::RegistrationForm;
use simdesk_domain::ids::Iccid;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::browser::{Browser, Options};
use support::{backend, fresh_db, policies_dir};

/// The portal's messages in one language, read from its Fluent file (`key = text` lines).
fn messages(lang: &str) -> HashMap<String, String> {
    let path = format!("{}/locales/{lang}/portal.ftl", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

struct Messages(HashMap<String, String>);

impl Messages {
    fn get(&self, key: &str) -> &str {
        self.0
            .get(key)
            .unwrap_or_else(|| panic!("no message {key}"))
    }

    /// A message with its one placeholder filled.
    fn with(&self, key: &str, name: &str, value: &str) -> String {
        let text = self.get(key);
        let placeholder = format!("{{ ${name} }}");
        assert!(text.contains(&placeholder), "{key} has no {placeholder}");
        text.replace(&placeholder, value)
    }
}

fn by(kind: ActorKind, id: &str, channel: Channel, why: &str) -> Attribution {
    Attribution::new(
        Actor {
            kind,
            id: id.into(),
        },
        channel,
        Timestamp::now(),
        why,
    )
}

/// A fresh store with the example policies, one EX-SAKURA line sold to a traveller and active
/// since a minute ago, and the desk that the server uses (its code sender records the codes).
async fn sold_line(n: u64) -> (support::TestDb, Desk, Arc<RecordingCodeSender>, LineKey) {
    let db = fresh_db().await;
    let s = db.store.as_ref();
    load_policies(
        s,
        &policies_dir(),
        Timestamp::now() - SignedDuration::from_hours(1),
    )
    .await
    .unwrap();
    let book = PolicyBook::load(s).await.unwrap();
    let iccid = Iccid::from_body(&format!("89811001{n:010}"))
        .unwrap()
        .to_string();
    let csv = format!("iccid,imsi,msisdn,plan\n{iccid},44010{n:010},090{n:08},JP10-DV\n");
    static NOTHING: fn(u64) = |_| {};
    import_lines(
        s,
        &book,
        ImportRequest {
            carrier: "EX-SAKURA",
            source_name: "stock.csv",
            input: csv.as_bytes(),
            skip_invalid: false,
            by: Attribution::new(
                Actor::operator("inventory"),
                Channel::Operator,
                Timestamp::now(),
                "carrier delivery",
            ),
        },
        Progress {
            checked: &NOTHING,
            written: &NOTHING,
        },
    )
    .await
    .unwrap();
    let key = lines::parse_line_key(&iccid).unwrap();
    let form = RegistrationForm {
        full_name: "Li Wei".into(),
        passport_number: "EH1234567".into(),
        nationality: "CN".into(),
        birth_date: "1992-08-15".into(),
        phone: "+86 138 0013 8000".into(),
        email: "li.wei@example.com".into(),
        language: "zh-Hans".into(),
    };
    let clerk = || {
        by(
            ActorKind::Clerk,
            "clerk-7",
            Channel::Store,
            "at the counter",
        )
    };
    lines::register(s, &book, &key, &form, clerk())
        .await
        .unwrap();
    lines::activate(s, &book, &key, clerk()).await.unwrap();
    let codes = Arc::new(RecordingCodeSender::default());
    let desk = Desk {
        store: db.store.clone(),
        book: Arc::new(book),
        keys: Arc::new(Keys::ephemeral()),
        codes: codes.clone(),
    };
    (db, desk, codes, key)
}

/// Serves the whole application on a free loopback port; returns its address.
async fn serve(desk: Desk) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(simdesk::web::serve(
        listener,
        simdesk::web::AppState { desk },
    ));
    format!("http://{addr}")
}

/// The last code "sent" to the line, waiting briefly for it.
fn code_sent_to(codes: &RecordingCodeSender, to: &CodeDestination) -> String {
    for _ in 0..100 {
        if let Some(code) = codes.last_code_to(to) {
            return code;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no code was sent to {to:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traveller_cancels_in_chinese_from_sign_in_to_the_status_page() {
    let started = Instant::now();
    let (db, desk, codes, key) = sold_line(81).await;
    let line = lines::find_line(db.store.as_ref(), &key).await.unwrap();
    let national = line.msisdn.national();
    let to_line = CodeDestination::Line(line.msisdn.to_string());
    // What the portal should quote, asked of the service on both sides of the browser's visit
    // (so that a run across the 17:00 JST cut-off or midnight cannot fail by itself).
    let quote_before = cancellation::quote(&desk, &key, Timestamp::now())
        .await
        .unwrap();
    assert!(quote_before.can_cancel, "{:?}", quote_before.cannot_because);
    let base = serve(desk.clone()).await;
    let zh = Messages(messages("zh-Hans"));
    let name = format!("traveller-cancels-in-chinese-{}", backend());

    let (quote_page_date, request_id, shots) = tokio::task::spawn_blocking({
        let codes = codes.clone();
        let quote_total = quote_before
            .refund
            .as_ref()
            .map(|r| r.total.to_string())
            .expect("EX-SAKURA refunds the prepaid balance");
        move || {
            let mut b = Browser::start(Options::new(&name).languages(&["zh-CN", "zh"]));

            // Sign-in, in Simplified Chinese because that is what the browser asks for.
            b.goto(&format!("{base}/"));
            assert_eq!(b.attribute("html", "lang").as_deref(), Some("zh-Hans"));
            assert_eq!(b.text("h1"), zh.get("sign-in-title"));
            assert!(
                b.title().starts_with(zh.get("sign-in-title")),
                "{}",
                b.title()
            );
            assert_eq!(
                b.text("label[for=identifier]"),
                zh.get("sign-in-identifier")
            );
            assert_eq!(b.text("#send-code"), zh.get("sign-in-send"));

            // The phone number as a traveller types it; the code arrives on the line.
            b.type_into("#identifier", &national.replace('-', ""));
            b.click("#send-code");
            b.wait_for_text("h1", zh.get("code-title"));
            // The code goes to the line; the page names it masked.
            let masked_to = to_line.masked();
            assert!(masked_to.contains('•') && !masked_to.contains(&national));
            assert_eq!(b.text("main p"), zh.with("code-sent", "to", &masked_to));
            let code = code_sent_to(&codes, &to_line);
            b.type_into("#code", &code);
            b.click("#sign-in");

            // My lines.
            b.wait_for_text("h1", zh.get("my-lines-title"));
            assert!(b.url().ends_with("/my"), "{}", b.url());
            assert_eq!(b.text(".line .state"), zh.get("state-active"));
            assert!(b.text(".line").contains(&national));
            let session = b
                .cookies()
                .into_iter()
                .find(|c| c["name"] == "sd_session")
                .expect("a session cookie");
            assert_eq!(session["httpOnly"], true, "{session}");
            assert_eq!(session["sameSite"], "Lax", "{session}");
            assert_eq!(b.text(".cancel-link"), zh.get("line-cancel"));
            b.click(".cancel-link");

            // The quote: effective date, refund, what happens, how we check it is them.
            b.wait_for_text("h1", zh.get("quote-title"));
            let effective = b.text("#effective");
            let date = effective
                .split_whitespace()
                .find_map(|w| {
                    w.char_indices()
                        .find(|(_, c)| c.is_ascii_digit())
                        .map(|(i, _)| w[i..].chars().take(10).collect::<String>())
                })
                .unwrap_or_default();
            assert!(
                date.parse::<jiff::civil::Date>().is_ok(),
                "no date in {effective:?}"
            );
            assert_eq!(
                effective,
                zh.with("quote-effective", "date", &date),
                "the quote states the effective date"
            );
            assert_eq!(b.text("#refund-total"), quote_total);
            let page = b.text("main");
            assert!(page.contains(zh.get("quote-refund")), "{page}");
            assert!(page.contains(zh.get("quote-happens-bar")), "{page}");
            assert!(page.contains(zh.get("check-possession")), "{page}");
            assert_eq!(b.text("#confirm-cancel"), zh.get("quote-confirm"));
            let quote_shot = b.screenshot("quote");
            b.click("#confirm-cancel");

            // The request: it needs a code sent to the line before it is approved.
            b.wait_for_text("h1", zh.get("request-title"));
            assert_eq!(
                b.attribute("#request-state", "data-state").as_deref(),
                Some("submitted")
            );
            assert_eq!(b.text("#request-state"), zh.get("rstate-submitted"));
            let request_id: i64 = b.text("#request-id").parse().expect("a request number");
            assert!(b.url().ends_with(&format!("/my/requests/{request_id}")));
            assert_eq!(b.text("#send-request-code"), zh.get("request-send-code"));
            // A code went to the line for signing in moments ago, and codes to one line are
            // at least a minute apart: the traveller is told so, goes back and asks again.
            let request_page = b.url();
            let asked = Instant::now();
            loop {
                b.click("#send-request-code");
                if b.wait_for_one_of(&["#flash", "#error-message"]) == "#flash" {
                    break;
                }
                assert_eq!(b.text("h1"), zh.get("error-title"));
                assert!(!b.text("#error-message").is_empty());
                assert!(
                    asked.elapsed() < Duration::from_secs(90),
                    "no code could be sent for 90 s: {}",
                    b.text("#error-message")
                );
                std::thread::sleep(Duration::from_secs(5));
                b.click("#error-message + p a");
                b.wait_for_text("h1", zh.get("request-title"));
                assert_eq!(b.url(), request_page);
            }
            println!(
                "the code for the request could be sent after {:.0} s",
                asked.elapsed().as_secs_f64()
            );
            let flash = b.text("#flash");
            assert_eq!(
                flash,
                zh.with("code-sent", "to", &masked_to),
                "the code goes to the line, masked"
            );
            let code = code_sent_to(&codes, &to_line);
            b.type_into("#request-code", &code);
            b.click("#check-request-code");

            // The status page: approved, with the date the line goes and what happens next.
            b.wait_for_text("#request-state", zh.get("rstate-approved"));
            assert_eq!(
                b.attribute("#request-state", "data-state").as_deref(),
                Some("approved")
            );
            assert_eq!(b.text("#effective-date"), date);
            let page = b.text("main");
            assert!(
                page.contains(&zh.with("request-next-approved", "date", &date)),
                "{page}"
            );
            assert!(b.find_all("#send-request-code").is_empty());
            assert!(b.find_all("#check-request-code").is_empty());
            let final_shot = b.finish();
            (date, request_id, vec![quote_shot, final_shot])
        }
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));

    // The page told the truth: the service agrees on the date and the request's state.
    let quote_after = cancellation::quote(&desk, &key, Timestamp::now())
        .await
        .ok()
        .and_then(|q| q.effective_date_if_submitted_now);
    let expected: Vec<String> = [quote_before.effective_date_if_submitted_now, quote_after]
        .into_iter()
        .flatten()
        .map(|d| d.to_string())
        .collect();
    assert!(
        expected.contains(&quote_page_date),
        "the page quoted {quote_page_date}, the service {expected:?}"
    );
    let record = cancellation::load(&desk, request_id).await.unwrap();
    assert_eq!(record.request.state, RequestState::Approved);
    assert_eq!(
        record.request.effective_date.map(|d| d.to_string()),
        Some(quote_page_date)
    );
    assert_eq!(record.request.line_id, line.id);
    for shot in &shots {
        assert!(std::fs::metadata(shot).unwrap().len() > 1000, "{shot:?}");
    }
    println!(
        "browser test on {} took {:.1} s",
        backend(),
        started.elapsed().as_secs_f64()
    );
}
