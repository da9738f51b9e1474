//! Who may see which page: travellers only their own lines, staff only their carrier's and only
//! what their role allows; forms without the CSRF token change nothing. Run on both backends.

mod support;

use jiff::Timestamp;
use simdesk::services::cancellation;
use simdesk::services::import::{import_lines, ImportRequest, Progress};
use simdesk::services::policies::{load_policies, PolicyBook};
use simdesk::services::{jobs, lines, staff};
use simdesk::store::{LineKey, SessionRow, Store};
use simdesk::web::pages::session::hash;
use simdesk_domain::attribution::{Actor, Attribution, Channel};
use simdesk_domain::customer::RegistrationForm;
use simdesk_domain::ids::{CarrierCode, Iccid};
use support::{fresh_db, policies_dir};

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn ops(why: &str) -> Attribution {
    Attribution::new(
        Actor::operator("test"),
        Channel::Operator,
        Timestamp::now(),
        why,
    )
}

fn iccid(n: u64) -> String {
    Iccid::from_body(&format!("89811055{n:010}"))
        .unwrap()
        .to_string()
}

async fn stock_and_sell(
    store: &dyn Store,
    book: &PolicyBook,
    carrier: &str,
    n: u64,
    passport: &str,
) -> simdesk_domain::line::Line {
    let plan = if carrier == "EX-KOI" {
        "JP15-D"
    } else {
        "JP10-DV"
    };
    let csv = format!(
        "iccid,imsi,msisdn,plan\n{},44010{:010},070{:08},{plan}\n",
        iccid(n),
        5_000_000 + n,
        50_000_000 + n
    );
    let quiet = |_: u64| {};
    let request = ImportRequest {
        carrier: &CarrierCode::new(carrier),
        source_name: "t.csv",
        input: csv.as_bytes(),
        skip_invalid: false,
        by: ops("stock"),
    };
    import_lines(
        store,
        book,
        request,
        Progress {
            checked: &quiet,
            written: &quiet,
        },
    )
    .await
    .unwrap();
    let key = LineKey::Iccid(iccid(n).parse().unwrap());
    let form = RegistrationForm {
        full_name: format!("Holder {n}"),
        passport_number: passport.into(),
        nationality: "GB".into(),
        birth_date: "1990-01-01".into(),
        phone: "+44 7700 900123".into(),
        email: format!("h{n}@example.com"),
        language: "en".into(),
    };
    lines::register(store, book, &key, &form, ops("sale"))
        .await
        .unwrap();
    lines::activate(store, book, &key, ops("first use"))
        .await
        .unwrap();
    lines::find_line(store, &key).await.unwrap()
}

async fn session(
    store: &dyn Store,
    kind: &str,
    subject: i64,
    carrier: &str,
) -> (&'static str, String) {
    let token = format!("{kind}-{subject}-{carrier}-token");
    let csrf = format!("csrf-{kind}-{subject}");
    let now = Timestamp::now();
    store
        .insert_session(&SessionRow {
            token_hash: hash(&token),
            kind: kind.into(),
            subject,
            carrier: Some(carrier.into()),
            csrf_token: csrf.clone(),
            language: "en".into(),
            created_at: now,
            expires_at: now + jiff::SignedDuration::from_hours(1),
        })
        .await
        .unwrap();
    // Test sessions live for the whole test run.
    (Box::leak(token.into_boxed_str()), csrf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_refuses_the_wrong_identity() {
    let db = fresh_db().await;
    let store = db.store.clone();
    let s = store.as_ref();
    load_policies(s, &policies_dir(), at("2026-11-01T00:00:00Z"))
        .await
        .unwrap();
    let book = PolicyBook::load(s).await.unwrap();
    let a = stock_and_sell(s, &book, "EX-SAKURA", 1, "AA1111111").await;
    let b = stock_and_sell(s, &book, "EX-SAKURA", 2, "BB2222222").await;
    let k = stock_and_sell(s, &book, "EX-KOI", 3, "KK3333333").await;
    let app = support::spawn_app_on(db, support::AppOptions::new()).await;
    let (ctx, peers) = (app.ctx.clone(), app.peers.clone());

    // A's line: cancelled by an operator and completed, so it has a request and a receipt.
    let done = cancellation::submit(
        &ctx,
        &LineKey::Id(a.id),
        Channel::Operator,
        None,
        ops("test"),
    )
    .await
    .unwrap();
    let effective = done.request.request.effective_at.unwrap();
    jobs::run_due(&ctx, &peers, effective).await.unwrap();
    let done = cancellation::load(&ctx, done.request.request.id)
        .await
        .unwrap();
    let receipt = done.receipt_number.clone().unwrap();
    // B's line: a store request with a document waiting for review.
    let open = cancellation::submit(
        &ctx,
        &LineKey::Id(b.id),
        Channel::Store,
        None,
        ops("walk-in"),
    )
    .await
    .unwrap();
    let doc = cancellation::upload_document(
        &ctx,
        open.request.request.id,
        b"\x89PNG\r\n\x1a\nfake".to_vec(),
        ops("scan"),
    )
    .await
    .unwrap();

    let agent = staff::add(
        s,
        "agent-sakura",
        "a-long-password-1",
        "agent",
        &CarrierCode::new("EX-SAKURA"),
        Timestamp::now(),
    )
    .await
    .unwrap();
    let clerk = staff::add(
        s,
        "clerk-sakura",
        "a-long-password-2",
        "clerk",
        &CarrierCode::new("EX-SAKURA"),
        Timestamp::now(),
    )
    .await
    .unwrap();
    let foreign = staff::add(
        s,
        "agent-koi",
        "a-long-password-3",
        "agent",
        &CarrierCode::new("EX-KOI"),
        Timestamp::now(),
    )
    .await
    .unwrap();
    let (ta, _) = session(s, "traveller", a.holder.unwrap().get(), "EX-SAKURA").await;
    let (tb, csrf_b) = session(s, "traveller", b.holder.unwrap().get(), "EX-SAKURA").await;
    let (tk, _) = session(s, "traveller", k.holder.unwrap().get(), "EX-KOI").await;
    let (sa, csrf_agent) = session(s, "staff", agent, "EX-SAKURA").await;
    let (sc, _) = session(s, "staff", clerk, "EX-SAKURA").await;
    let (sf, _) = session(s, "staff", foreign, "EX-KOI").await;
    let base = app.base.clone();

    let a_iccid = a.iccid.to_string();
    let req_a = done.request.id;
    let req_b = open.request.request.id;
    // (path, [(who, session token, expected status)])
    type Case<'a> = (&'a str, Option<&'a str>, u16);
    let table: Vec<(String, Vec<Case>)> = vec![
        // (path, [(who, session token, expected status)])
        (
            format!("/my/lines/{a_iccid}/cancel"),
            vec![
                ("nobody", None, 303),
                ("owner", Some(ta), 200),
                ("other traveller", Some(tb), 404),
                ("other carrier's traveller", Some(tk), 404),
                ("agent", Some(sa), 303),
            ],
        ),
        (
            format!("/my/requests/{req_a}"),
            vec![
                ("nobody", None, 303),
                ("owner", Some(ta), 200),
                ("other traveller", Some(tb), 404),
                ("other carrier's traveller", Some(tk), 404),
            ],
        ),
        (
            format!("/my/receipts/{receipt}"),
            vec![
                ("nobody", None, 303),
                ("owner", Some(ta), 200),
                ("other traveller", Some(tb), 404),
                ("other carrier's traveller", Some(tk), 404),
            ],
        ),
        (
            "/my/wallet".into(),
            vec![("nobody", None, 303), ("owner", Some(ta), 200)],
        ),
        (
            "/my/data".into(),
            vec![("nobody", None, 303), ("owner", Some(ta), 200)],
        ),
        (
            "/console".into(),
            vec![
                ("nobody", None, 303),
                ("traveller", Some(ta), 303),
                ("agent", Some(sa), 200),
                ("clerk", Some(sc), 403),
                ("other carrier's agent", Some(sf), 200),
            ],
        ),
        (
            format!("/console/lines/{a_iccid}"),
            vec![
                ("nobody", None, 303),
                ("agent", Some(sa), 200),
                ("clerk", Some(sc), 403),
                ("other carrier's agent", Some(sf), 404),
            ],
        ),
        (
            format!("/console/requests/{req_b}"),
            vec![
                ("nobody", None, 303),
                ("agent", Some(sa), 200),
                ("other carrier's agent", Some(sf), 404),
            ],
        ),
        (
            "/console/reviews".into(),
            vec![
                ("nobody", None, 303),
                ("agent", Some(sa), 200),
                ("clerk", Some(sc), 403),
            ],
        ),
        (
            format!("/console/documents/{doc}"),
            vec![
                ("nobody", None, 303),
                ("traveller", Some(tb), 303),
                ("agent", Some(sa), 200),
                ("other carrier's agent", Some(sf), 404),
            ],
        ),
        (
            format!("/console/receipts/{receipt}"),
            vec![
                ("agent", Some(sa), 200),
                ("other carrier's agent", Some(sf), 404),
            ],
        ),
        (
            "/counter".into(),
            vec![
                ("nobody", None, 303),
                ("clerk", Some(sc), 200),
                ("agent", Some(sa), 403),
            ],
        ),
        ("/kiosk/EX-SAKURA".into(), vec![("anyone", None, 200)]),
        ("/kiosk/NOPE".into(), vec![("anyone", None, 404)]),
    ];
    let owner_msisdn = a.msisdn.national();
    let base2 = base.clone();
    let failures = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let mut failures = Vec::new();
        for (path, cases) in &table {
            for (who, token, expected) in cases {
                let mut request = agent.get(&format!("{base2}{path}"));
                if let Some(t) = token {
                    request = request.header("Cookie", &format!("sd_session={t}"));
                }
                let mut response = request.call().unwrap();
                let status = response.status().as_u16();
                let body = response.body_mut().read_to_string().unwrap_or_default();
                if status != *expected {
                    failures.push(format!(
                        "GET {path} as {who}: {status}, expected {expected}"
                    ));
                }
                // Nobody else ever sees the owner's number.
                if status == 200
                    && *who != "owner"
                    && *who != "agent"
                    && *who != "anyone"
                    && body.contains(&owner_msisdn)
                {
                    failures.push(format!("GET {path} as {who} shows the owner's number"));
                }
            }
        }
        // The other carrier's agent searching for the line finds nothing.
        let mut r = agent
            .get(&format!("{base2}/console?q={owner_msisdn}"))
            .header("Cookie", &format!("sd_session={sf}"))
            .call()
            .unwrap();
        if r.body_mut()
            .read_to_string()
            .unwrap()
            .contains("/console/lines/")
        {
            failures.push("another carrier's agent found the line by number".into());
        }
        // Forms without the session's CSRF token are refused and change nothing.
        let post = |path: &str, token: &str, body: &str| {
            let mut r = agent
                .post(&format!("{base2}{path}"))
                .header("Cookie", &format!("sd_session={token}"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send(body)
                .unwrap();
            (
                r.status().as_u16(),
                r.body_mut().read_to_string().unwrap_or_default(),
            )
        };
        let (status, _) = post(&format!("/my/requests/{req_b}/withdraw"), tb, "csrf=forged");
        if status != 403 {
            failures.push(format!("withdraw with a forged token: {status}"));
        }
        let (status, _) = post(
            &format!("/console/requests/{req_b}/review"),
            sa,
            "csrf=forged&decision=approve",
        );
        if status != 403 {
            failures.push(format!("review with a forged token: {status}"));
        }
        let (status, _) = post(
            &format!("/console/requests/{req_b}/review"),
            sf,
            "csrf=whatever&decision=approve",
        );
        if status != 403 && status != 404 {
            failures.push(format!("review by another carrier's agent: {status}"));
        }
        // With the right token the owner may withdraw.
        let (status, _) = post(
            &format!("/my/requests/{req_b}/withdraw"),
            tb,
            &format!("csrf={csrf_b}"),
        );
        if status != 303 {
            failures.push(format!("withdraw with the right token: {status}"));
        }
        let _ = csrf_agent;
        failures
    })
    .await
    .unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let after = cancellation::load(&ctx, req_b).await.unwrap();
    assert_eq!(
        after.request.state.as_str(),
        "withdrawn",
        "only the genuine form changed the request"
    );
    assert!(
        after.request.passed.is_empty(),
        "the forged review approved nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traveller_deletes_their_data_on_the_portal_once_the_line_has_ended() {
    let db = fresh_db().await;
    let store = db.store.clone();
    let s = store.as_ref();
    load_policies(s, &policies_dir(), at("2026-11-01T00:00:00Z"))
        .await
        .unwrap();
    let book = PolicyBook::load(s).await.unwrap();
    let line = stock_and_sell(s, &book, "EX-SAKURA", 9, "ER9999999").await;
    let holder = line.holder.unwrap();
    let app = support::spawn_app_on(db, support::AppOptions::new()).await;
    let (ctx, peers) = (app.ctx.clone(), app.peers.clone());
    let (token, csrf) = session(s, "traveller", holder.get(), "EX-SAKURA").await;
    let base = app.base.clone();
    let post = {
        let base = base.clone();
        move |body: String| {
            let base = base.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .max_redirects(0)
                        .build()
                        .into();
                    let mut r = agent
                        .post(&format!("{base}/my/data/erase"))
                        .header("Cookie", &format!("sd_session={token}"))
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .send(body)
                        .unwrap();
                    (
                        r.status().as_u16(),
                        r.body_mut().read_to_string().unwrap_or_default(),
                    )
                })
                .await
                .unwrap()
            }
        }
    };
    let readable = || async {
        s.customer(holder)
            .await
            .unwrap()
            .unwrap()
            .personal
            .is_some()
    };

    // A forged form changes nothing.
    let (status, _) = post("csrf=forged".into()).await;
    assert_eq!(status, 403);
    assert!(readable().await);
    // While the line is in service the data is needed: nothing erased, and the page says why.
    let (status, page) = post(format!("csrf={csrf}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("still in service"), "{page}");
    assert!(readable().await);

    // Cancelled and ended: erased at once, except the identity record the law holds.
    let done = cancellation::submit(
        &ctx,
        &LineKey::Id(line.id),
        Channel::Operator,
        None,
        ops("leaving"),
    )
    .await
    .unwrap();
    jobs::run_due(&ctx, &peers, done.request.request.effective_at.unwrap())
        .await
        .unwrap();
    let (status, page) = post(format!("csrf={csrf}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Your request is recorded"), "{page}");
    assert!(page.contains("Kept until"), "{page}");
    assert!(!readable().await);
    assert!(s
        .customer_by_email("h9@example.com")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        s.identity_record(holder)
            .await
            .unwrap()
            .unwrap()
            .passport_number,
        "ER9999999"
    );
    // The traveller's session went with the data.
    let (status, _) = post(format!("csrf={csrf}")).await;
    assert_eq!(status, 303, "signed out");
}

/// Makes the store's tables for lines, staff and sessions unreadable, as a database that has
/// lost them (or cannot be reached) would be: every query about them fails.
async fn lose_tables(url: &str, tables: &[&str]) {
    for table in tables {
        let rename = format!("ALTER TABLE {table} RENAME TO {table}_gone");
        if url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(&rename).execute(&pool).await.unwrap();
            pool.close().await;
        } else {
            let pool = simdesk::store::sqlite_pool(url).await.unwrap();
            sqlx::query(&rename).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_answer_an_outage_with_503_and_retry_after_never_not_found_or_signed_out() {
    let db = fresh_db().await;
    let store = db.store.clone();
    let s = store.as_ref();
    load_policies(s, &policies_dir(), at("2026-11-01T00:00:00Z"))
        .await
        .unwrap();
    let book = PolicyBook::load(s).await.unwrap();
    let a = stock_and_sell(s, &book, "EX-SAKURA", 1, "AA1111111").await;
    let agent = staff::add(
        s,
        "agent-sakura",
        "a-long-password-1",
        "agent",
        &CarrierCode::new("EX-SAKURA"),
        Timestamp::now(),
    )
    .await
    .unwrap();
    let (traveller, _) = session(s, "traveller", a.holder.unwrap().get(), "EX-SAKURA").await;
    let (staff_member, _) = session(s, "staff", agent, "EX-SAKURA").await;
    let url = db.url.clone();
    let app = support::spawn_app_on(db, support::AppOptions::new()).await;
    let base = app.base.clone();
    let get = move |path: String, token: &'static str| {
        let base = base.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .max_redirects(0)
                    .build()
                    .into();
                let mut r = agent
                    .get(&format!("{base}{path}"))
                    .header("Cookie", &format!("sd_session={token}"))
                    .header("Accept-Language", "ja")
                    .call()
                    .unwrap();
                let retry_after = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let body = r.body_mut().read_to_string().unwrap_or_default();
                (r.status().as_u16(), retry_after, body)
            })
            .await
            .unwrap()
        }
    };
    let cancel_page = format!("/my/lines/{}/cancel", a.iccid);
    let (status, _, _) = get(cancel_page.clone(), traveller).await;
    assert_eq!(status, 200, "the owner's cancel page, before the outage");

    // The line and the staff member cannot be read: the traveller's line is not "not found",
    // and the staff member is not "signed out".
    lose_tables(&url, &["lines", "staff"]).await;
    for (path, token) in [
        (cancel_page, traveller),
        ("/console".to_string(), staff_member),
    ] {
        let (status, retry_after, body) = get(path.clone(), token).await;
        assert_eq!(status, 503, "GET {path} during the outage: {body}");
        assert!(retry_after.is_some(), "GET {path}: 503 without Retry-After");
        if path.starts_with("/my") {
            // The session says English.
            assert!(
                body.contains("simdesk cannot answer right now"),
                "GET {path}: the outage page is in the traveller's language: {body}"
            );
        }
    }

    // Not even the session can be read: still an outage, not a sign-in page.
    lose_tables(&url, &["sessions"]).await;
    let (status, retry_after, body) = get("/my".into(), traveller).await;
    assert_eq!(status, 503, "GET /my without a readable session: {body}");
    assert!(retry_after.is_some());
    // Without the session, the browser's language.
    assert!(
        body.contains("ただいま応答できません"),
        "the outage page in Japanese: {body}"
    );
}
