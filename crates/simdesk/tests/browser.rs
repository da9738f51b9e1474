//! Browser tests (issue 5): headless Chromium, driven through chromedriver, against the real
//! server on 127.0.0.1 — what a traveller, a hotline agent or a store clerk sees and clicks, read
//! from the browser's DOM. Each test saves screenshots into target/browser-artifacts/. They need
//! Debian's chromium and chromium-driver, which scripts/test installs; without them they fail,
//! never skip.
//! Run against SQLite and (with SIMDESK_TEST_PG) PostgreSQL.

mod support;

use jiff::{SignedDuration, Timestamp};
use simdesk::adapters::messages::{CodeDestination, RecordingCodeSender};
use simdesk::services::cancellation;
use simdesk::services::import::{import_lines, ImportRequest, Progress};
use simdesk::services::lines;
use simdesk::services::outbox::Peers;
use simdesk::services::policies::{load_policies, PolicyBook};
use simdesk::services::ServiceContext;
use simdesk::services::{jobs, staff};
use simdesk::store::LineKey;
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use simdesk_domain::cancellation::RequestState;
use simdesk_domain::customer::RegistrationForm;
use simdesk_domain::ids::{CarrierCode, Iccid, RequestId};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::browser::{messages, Browser, Messages, Options};
use support::{backend, fresh_db, policies_dir};

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

/// The traveller of scenario 1, from China.
fn li_wei() -> RegistrationForm {
    RegistrationForm {
        full_name: "Li Wei".into(),
        passport_number: "EH1234567".into(),
        nationality: "CN".into(),
        birth_date: "1992-08-15".into(),
        phone: "+86 138 0013 8000".into(),
        email: "li.wei@example.com".into(),
        language: "zh-Hans".into(),
    }
}

/// A fresh store with the example policies, one line of the carrier sold to the holder and
/// active since a moment ago, and the app serving it with its ctx (its code sender records the
/// codes).
async fn sold_line(
    carrier: &str,
    n: u64,
    holder: RegistrationForm,
) -> (
    support::TestApp,
    ServiceContext,
    Arc<RecordingCodeSender>,
    LineKey,
) {
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
            carrier: &CarrierCode::new(carrier),
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
    let clerk = || {
        by(
            ActorKind::Clerk,
            "clerk-7",
            Channel::Store,
            "at the counter",
        )
    };
    lines::register(s, &book, &key, &holder, clerk())
        .await
        .unwrap();
    lines::activate(s, &book, &key, clerk()).await.unwrap();
    let app = support::spawn_app_on(db, support::AppOptions::new()).await;
    let (ctx, codes) = (app.ctx.clone(), app.codes.clone());
    (app, ctx, codes, key)
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
    let (db, ctx, codes, key) = sold_line("EX-SAKURA", 81, li_wei()).await;
    let line = lines::find_line(db.store.as_ref(), &key).await.unwrap();
    let national = line.msisdn.national();
    let to_line = CodeDestination::Line(line.msisdn.to_string());
    // What the portal should quote, asked of the service on both sides of the browser's visit
    // (so that a run across the 17:00 JST cut-off or midnight cannot fail by itself).
    let quote_before = cancellation::quote(&ctx, &key, Timestamp::now())
        .await
        .unwrap();
    assert!(quote_before.can_cancel, "{:?}", quote_before.cannot_because);
    let base = db.base.clone();
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
            let request_id: RequestId = b.text("#request-id").parse().expect("a request number");
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
    let quote_after = cancellation::quote(&ctx, &key, Timestamp::now())
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
    let record = cancellation::load(&ctx, request_id).await.unwrap();
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

/// A small but real PNG (8-bit RGB, zlib with stored blocks): a passport's data page as a
/// child would draw it — cover, photo, lines of text, machine-readable zone.
fn passport_png(width: u32, height: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn adler32(bytes: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in bytes {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    }
    fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    let inside = |x: u32, y: u32, (x0, y0, x1, y1): (u32, u32, u32, u32)| {
        (x * 100 / width) >= x0
            && (x * 100 / width) < x1
            && (y * 100 / height) >= y0
            && (y * 100 / height) < y1
    };
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            let rgb: [u8; 3] = if inside(x, y, (6, 12, 32, 76)) {
                [0xd9, 0xc3, 0xa5] // the photo
            } else if inside(x, y, (4, 82, 96, 86)) || inside(x, y, (4, 90, 96, 94)) {
                [0x30, 0x30, 0x30] // the machine-readable zone
            } else if (38..92).contains(&(x * 100 / width))
                && [16, 28, 40, 52, 64]
                    .iter()
                    .any(|r| (y * 100 / height).abs_diff(*r) <= 2)
            {
                [0x5a, 0x6b, 0x85] // the printed fields
            } else {
                [0xe6, 0xee, 0xf5] // the page
            };
            raw.extend_from_slice(&rgb);
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter choice, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib);
    chunk(&mut png, b"IEND", &[]);
    png
}

const STAFF_PASSWORD: &str = "correct horse battery staple";

/// Signs a staff member in at /staff and waits for the page the role lands on.
fn staff_signs_in(b: &Browser, base: &str, username: &str, lands_on: &str) {
    b.goto(&format!("{base}/staff"));
    b.wait_for_text("h1", "Staff sign-in");
    b.type_into("#username", username);
    b.type_into("#password", STAFF_PASSWORD);
    b.click("#staff-sign-in");
    b.wait_for_gone("#staff-sign-in");
    assert!(
        b.url().ends_with(lands_on),
        "{username} landed on {}, not {lands_on}",
        b.url()
    );
    assert!(b.text("header").contains(username), "{}", b.text("header"));
}

/// The date in an element's text, which must be nothing else.
fn date_in(b: &Browser, selector: &str) -> jiff::civil::Date {
    let text = b.text(selector);
    text.parse()
        .unwrap_or_else(|e| panic!("{selector} reads {text:?}, not a date: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traveller_uploads_a_document_that_an_agent_then_approves_in_the_console() {
    let started = Instant::now();
    let (db, ctx, codes, key) = sold_line(
        "EX-FUJI",
        82,
        RegistrationForm {
            full_name: "Emma Schmidt".into(),
            passport_number: "C01X00T47".into(),
            nationality: "DE".into(),
            birth_date: "1988-03-02".into(),
            phone: "+49 151 2345 6789".into(),
            email: "emma.schmidt@example.com".into(),
            language: "en".into(),
        },
    )
    .await;
    let store = db.store.as_ref();
    let line = lines::find_line(store, &key).await.unwrap();
    let national = line.msisdn.national();
    let to_line = CodeDestination::Line(line.msisdn.to_string());
    staff::add(
        store,
        "agent.sato",
        STAFF_PASSWORD,
        "agent",
        &CarrierCode::new("EX-FUJI"),
        Timestamp::now(),
    )
    .await
    .unwrap();
    let quote = cancellation::quote(&ctx, &key, Timestamp::now())
        .await
        .unwrap();
    assert!(quote.can_cancel, "{:?}", quote.cannot_because);
    let base = db.base.clone();
    let en = Messages(messages("en"));
    let name = format!("document-review-{}", backend());
    // The photo the traveller picks in the file dialog.
    let (width, height) = (180, 120);
    let png = passport_png(width, height);
    let mut photo = tempfile::Builder::new()
        .prefix("passport-")
        .suffix(".png")
        .tempfile()
        .unwrap();
    std::io::Write::write_all(&mut photo, &png).unwrap();
    let photo_path = photo.path().to_path_buf();

    let (request_id, effective, shots) = tokio::task::spawn_blocking({
        let codes = codes.clone();
        move || {
            let mut traveller = Browser::start(Options::new(&format!("{name}-traveller")));
            let t = &traveller;

            // Signs in with the line's number and the code sent to it.
            t.goto(&format!("{base}/"));
            t.wait_for_text("h1", en.get("sign-in-title"));
            t.type_into("#identifier", &national.replace('-', ""));
            t.click("#send-code");
            t.wait_for_text("h1", en.get("code-title"));
            t.type_into("#code", &code_sent_to(&codes, &to_line));
            t.click("#sign-in");
            t.wait_for_text("h1", en.get("my-lines-title"));
            t.click(".cancel-link");

            // The quote says both checks the web channel of EX-FUJI asks for.
            t.wait_for_text("h1", en.get("quote-title"));
            let page = t.text("main");
            assert!(page.contains(en.get("check-possession")), "{page}");
            assert!(page.contains(en.get("check-document")), "{page}");
            t.click("#confirm-cancel");

            t.wait_for_text("h1", en.get("request-title"));
            assert_eq!(
                t.attribute("#request-state", "data-state").as_deref(),
                Some("submitted")
            );
            let request_id: RequestId = t.text("#request-id").parse().expect("a request number");
            assert!(t.find_all("#effective-date").is_empty());

            // First the code to the line.
            t.click("#send-request-code");
            if t.wait_for_one_of(&["#flash", "#error-message"]) == "#error-message" {
                panic!("no code was sent: {}", t.text("#error-message"));
            }
            assert_eq!(
                t.text("#flash"),
                en.with("code-sent", "to", &to_line.masked())
            );
            t.type_into("#request-code", &code_sent_to(&codes, &to_line));
            t.click("#check-request-code");
            // Possession is proven: the code forms go, the upload stays.
            t.wait_for_gone("#send-request-code");
            assert_eq!(
                t.attribute("#request-state", "data-state").as_deref(),
                Some("submitted")
            );
            assert_eq!(
                t.text("label[for=document]"),
                en.get("request-upload-label")
            );
            assert_eq!(t.attribute("#document", "type").as_deref(), Some("file"));

            // Then the photo of the passport, picked in the file input.
            t.choose_file("#document", &photo_path);
            t.click("#upload-document");
            t.wait_for_text("#document-waiting", en.get("request-upload-waiting"));
            assert!(
                t.url().ends_with(&format!("/my/requests/{request_id}")),
                "{}",
                t.url()
            );
            assert!(t.find_all("#document").is_empty());
            assert_eq!(t.text("#request-state"), en.get("rstate-submitted"));
            let waiting_shot = t.screenshot("waiting");

            // An agent, in another browser with a profile of its own.
            let mut agent = Browser::start(Options::new(&format!("{name}-agent")));
            let a = &agent;
            staff_signs_in(a, &base, "agent.sato", "/console");
            a.wait_for_text("h1", "Find a line");
            a.click("header a[href='/console/reviews']");
            a.wait_for_text("h1", "Documents waiting for review");
            let link = format!("a[href='/console/requests/{request_id}']");
            assert_eq!(a.text(&link), format!("Cancellation {request_id}"));
            let row = a.text("main table tr");
            assert!(row.contains(&national) && row.contains("web"), "{row}");
            a.click(&link);

            a.wait_for_text("h1", &format!("Cancellation {request_id}"));
            assert_eq!(a.text("#request-state"), "submitted");
            assert!(a.text("main").contains("image/png — pending"));
            // The browser fetched and decoded the very picture the traveller sent.
            let img = "img[alt='identity document']";
            a.find(img);
            let deadline = Instant::now() + Duration::from_secs(15);
            let size = loop {
                let size = a.execute(
                    "const i = document.querySelector(arguments[0]);
                     return i && i.complete ? [i.naturalWidth, i.naturalHeight] : null;",
                    vec![img.into()],
                );
                if !size.is_null() || Instant::now() > deadline {
                    break size;
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            assert_eq!(
                size,
                serde_json::json!([width, height]),
                "the image as decoded"
            );
            let document_shot = a.screenshot("document");
            a.click("#approve-document");

            a.wait_for_text("#flash", "Document approved.");
            assert_eq!(a.text("#request-state"), "approved");
            let effective = date_in(a, "#effective-date");
            assert!(a.find_all("#approve-document").is_empty());
            let page = a.text("main");
            assert!(page.contains("image/png — approved"), "{page}");
            assert!(page.contains("agent.sato via hotline"), "{page}");
            let agent_shot = agent.finish();

            // The traveller reloads the status page: approved, with the date.
            traveller.refresh();
            let t = &traveller;
            t.wait_for_text("#request-state", en.get("rstate-approved"));
            assert_eq!(
                t.attribute("#request-state", "data-state").as_deref(),
                Some("approved")
            );
            assert_eq!(date_in(t, "#effective-date"), effective);
            let page = t.text("main");
            assert!(
                page.contains(&en.with("request-next-approved", "date", &effective.to_string())),
                "{page}"
            );
            assert!(t.find_all("#document-waiting").is_empty());
            let traveller_shot = traveller.finish();
            (
                request_id,
                effective,
                vec![waiting_shot, document_shot, agent_shot, traveller_shot],
            )
        }
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));

    // What the pages said is what the store holds: the very bytes, reviewed by the agent.
    let record = cancellation::load(&ctx, request_id).await.unwrap();
    assert_eq!(record.request.state, RequestState::Approved);
    assert_eq!(record.request.effective_date, Some(effective));
    assert_eq!(record.request.line_id, line.id);
    let documents = store.documents(request_id).await.unwrap();
    assert_eq!(documents.len(), 1, "{documents:?}");
    assert_eq!(documents[0].review, "approved");
    assert!(
        documents[0]
            .reviewed_by
            .as_deref()
            .is_some_and(|by| by.contains("agent.sato")),
        "{documents:?}"
    );
    let (_, content_type, content) = store
        .document_content(documents[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(content_type, "image/png");
    assert!(
        content == png,
        "the stored document is not the file that was picked"
    );
    for shot in &shots {
        assert!(std::fs::metadata(shot).unwrap().len() > 1000, "{shot:?}");
    }
    println!(
        "browser test on {} took {:.1} s",
        backend(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_serves_a_ticket_and_prints_the_receipt() {
    let started = Instant::now();
    let (db, ctx, _codes, key) = sold_line(
        "EX-SAKURA",
        83,
        RegistrationForm {
            full_name: "Kim Minji".into(),
            passport_number: "M12345678".into(),
            nationality: "KR".into(),
            birth_date: "1995-11-20".into(),
            phone: "+82 10 1234 5678".into(),
            email: "minji.kim@example.com".into(),
            language: "ko".into(),
        },
    )
    .await;
    let store = db.store.clone();
    let line = lines::find_line(store.as_ref(), &key).await.unwrap();
    let iccid = line.iccid.to_string();
    staff::add(
        store.as_ref(),
        "clerk.tanaka",
        STAFF_PASSWORD,
        "clerk",
        &CarrierCode::new("EX-SAKURA"),
        Timestamp::now(),
    )
    .await
    .unwrap();
    let peers = Peers::recording(store.clone(), "http://127.0.0.1:8080");
    let base = db.base.clone();
    let name = format!("counter-receipt-{}", backend());
    let runtime = tokio::runtime::Handle::current();

    let (request_id, effective, receipt, shots) = tokio::task::spawn_blocking({
        let ctx = ctx.clone();
        move || {
            // The shop's screens: the kiosk, then the board over the counters.
            let mut shop = Browser::start(Options::new(&format!("{name}-shop")));
            let s = &shop;
            s.goto(&format!("{base}/kiosk/EX-SAKURA"));
            assert!(s.text("h1").starts_with("Take a number"));
            assert!(s.find_all("#ticket-number").is_empty());
            s.click("#take-ticket");
            let ticket: i64 = {
                let text = s.text("#ticket-number");
                text.parse()
                    .unwrap_or_else(|_| panic!("the ticket reads {text:?}"))
            };
            assert_eq!(ticket, 1, "the first walk-in of the day");
            let ticket_shot = s.screenshot("ticket");
            s.goto(&format!("{base}/board/EX-SAKURA"));
            assert!(s.text("h1").starts_with("Now serving"));
            assert_eq!(s.text("#board + p"), "Waiting: 1");
            assert!(s.find_all("#board tr").is_empty());

            // The clerk signs in and lands on the counter.
            let mut clerk = Browser::start(Options::new(&format!("{name}-clerk")));
            let c = &clerk;
            staff_signs_in(c, &base, "clerk.tanaka", "/counter");
            c.wait_for_text("h1", "Counter 1");
            assert!(c.text("main").contains("Waiting: 1"));
            assert!(c.find_all("#iccid").is_empty());
            c.click("#call-next");
            c.wait_for_text("#serving", &ticket.to_string());
            assert!(c.text("main").contains("Waiting: 0"));

            // The board, refreshing by itself, calls the number to counter 1.
            s.wait_for_text("#board td:nth-child(2)", "→ 1");
            assert_eq!(s.text("#board td:first-child"), ticket.to_string());
            assert_eq!(s.text("#board + p"), "Waiting: 0");
            let board_shot = shop.finish();

            // Passport and SIM in hand: ICCID, name and passport number. A slip of the finger
            // first: the passport does not match, and the clerk is still serving the ticket.
            c.type_into("#iccid", &iccid);
            c.type_into("#name", "KIM MINJI");
            c.type_into("#passport", "M12345687");
            c.click("#counter-cancel");
            c.wait_for_text(
                "#flash",
                "The passport does not match the registration of this SIM.",
            );
            assert_eq!(c.text("#serving"), ticket.to_string());
            assert_eq!(c.text("h1"), "Counter 1");
            c.type_into("#iccid", &iccid);
            c.type_into("#name", "KIM MINJI");
            c.type_into("#passport", "M1234 5678");
            c.click("#counter-cancel");
            c.wait_for_text(
                "#slip h1",
                "Cancellation accepted · 解約受付 · 注销受理 · 註銷受理 · 해지 접수",
            );
            let request_id: RequestId = c.text("#request-id").parse().expect("a request number");
            let effective = date_in(c, "#effective-date");
            assert!(c.text("#slip").contains(&iccid));
            assert!(c.text("#slip").contains("clerk.tanaka"));
            let slip_shot = c.screenshot("slip");

            // The effective instant comes; the due work runs in-process.
            let record = runtime
                .block_on(cancellation::load(&ctx, request_id))
                .unwrap();
            assert_eq!(record.request.state, RequestState::Approved);
            assert_eq!(record.request.effective_date, Some(effective));
            let at = record.request.effective_at.expect("an effective instant");
            let report = runtime.block_on(jobs::run_due(&ctx, &peers, at)).unwrap();
            assert_eq!(report.cancellations.completed, 1, "{report:?}");
            let receipt = runtime
                .block_on(cancellation::load(&ctx, request_id))
                .unwrap()
                .receipt_number
                .expect("a receipt once completed");

            // No page the clerk can reach by links leads to the request after the slip; the
            // request's console page, opened by its address, links to the receipt.
            c.goto(&format!("{base}/console/requests/{request_id}"));
            c.wait_for_text("#request-state", "completed");
            assert_eq!(date_in(c, "#effective-date"), effective);
            assert_eq!(c.text("#receipt-link"), receipt);
            c.click("#receipt-link");
            c.wait_for_text(".number", &receipt);
            assert!(
                c.url().ends_with(&format!("/console/receipts/{receipt}")),
                "{}",
                c.url()
            );
            let page = c.text("main");
            for fact in [
                &receipt,
                &iccid,
                &effective.to_string(),
                &request_id.to_string(),
            ] {
                assert!(
                    page.contains(fact.as_str()),
                    "{fact} not on the receipt: {page}"
                );
            }
            let receipt_shot = clerk.finish();
            (
                request_id,
                effective,
                receipt,
                vec![ticket_shot, board_shot, slip_shot, receipt_shot],
            )
        }
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));

    let record = cancellation::load(&ctx, request_id).await.unwrap();
    assert_eq!(record.request.state, RequestState::Completed);
    assert_eq!(record.request.channel, Channel::Store);
    assert_eq!(record.request.effective_date, Some(effective));
    assert_eq!(record.receipt_number.as_deref(), Some(receipt.as_str()));
    let line = lines::find_line(store.as_ref(), &key).await.unwrap();
    assert_eq!(line.state.as_str(), "terminated");
    for shot in &shots {
        assert!(std::fs::metadata(shot).unwrap().len() > 1000, "{shot:?}");
    }
    println!(
        "browser test on {} took {:.1} s",
        backend(),
        started.elapsed().as_secs_f64()
    );
}
