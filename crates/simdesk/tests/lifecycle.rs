//! Storage and lifecycle tests, run against SQLite and (with SIMDESK_TEST_PG) PostgreSQL.

mod support;

use jiff::Timestamp;
use simdesk::services::import::{import_lines, ImportRequest, Progress};
use simdesk::services::lines::{self, Usage};
use simdesk::services::policies::{load_policies, PolicyBook};
use simdesk::services::{jobs, ServiceError};
use simdesk::store::{LineChange, LineKey, NewEvent, Store, StoreError};
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use simdesk_domain::balance::BalanceError;
use simdesk_domain::customer::RegistrationForm;
use simdesk_domain::ids::{CarrierCode, CustomerId, Iccid};
use simdesk_domain::line::{LineError, LineState};
use support::{fresh_db, policies_dir};

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn clerk(when: &str, why: &str) -> Attribution {
    Attribution::new(
        Actor {
            kind: ActorKind::Clerk,
            id: "clerk-7".into(),
        },
        Channel::Store,
        at(when),
        why,
    )
}

fn ops() -> Attribution {
    Attribution::new(
        Actor::operator("inventory"),
        Channel::Operator,
        at("2026-11-01T00:00:00Z"),
        "carrier delivery",
    )
}

fn iccid(n: u64) -> String {
    Iccid::from_body(&format!("89811001{n:010}"))
        .unwrap()
        .to_string()
}

fn csv(rows: &[(u64, &str)]) -> String {
    let mut s = String::from("iccid,imsi,msisdn,plan\n");
    for (n, plan) in rows {
        s.push_str(&format!(
            "{},44010{:010},090{:08},{plan}\n",
            iccid(*n),
            n,
            n
        ));
    }
    s
}

fn quiet() -> Progress<'static> {
    static NOTHING: fn(u64) = |_| {};
    Progress {
        checked: &NOTHING,
        written: &NOTHING,
    }
}

fn form(passport: &str) -> RegistrationForm {
    RegistrationForm {
        full_name: "Alex Example".into(),
        passport_number: passport.into(),
        nationality: "GB".into(),
        birth_date: "1990-04-01".into(),
        phone: "+44 7700 900123".into(),
        email: "alex@example.com".into(),
        language: "en".into(),
    }
}

async fn setup() -> (support::TestDb, PolicyBook) {
    let db = fresh_db().await;
    load_policies(
        db.store.as_ref(),
        &policies_dir(),
        at("2026-11-01T00:00:00Z"),
    )
    .await
    .unwrap();
    let book = PolicyBook::load(db.store.as_ref()).await.unwrap();
    (db, book)
}

async fn stock(store: &dyn Store, book: &PolicyBook, rows: &[(u64, &str)]) {
    import_lines(
        store,
        book,
        ImportRequest {
            carrier: &CarrierCode::new("EX-SAKURA"),
            source_name: "stock.csv",
            input: csv(rows).as_bytes(),
            skip_invalid: false,
            by: ops(),
        },
        quiet(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn policies_are_versioned_when_their_content_changes() {
    let db = fresh_db().await;
    let s = db.store.as_ref();
    let first = load_policies(s, &policies_dir(), at("2026-11-01T00:00:00Z"))
        .await
        .unwrap();
    assert!(first.iter().all(|o| o.version == 1 && o.changed));
    let again = load_policies(s, &policies_dir(), at("2026-11-02T00:00:00Z"))
        .await
        .unwrap();
    assert!(
        again.iter().all(|o| o.version == 1 && !o.changed),
        "{again:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    copy_dir(&policies_dir(), dir.path());
    let plan = dir.path().join("EX-SAKURA/plans/JP10-DV.toml");
    let text = std::fs::read_to_string(&plan)
        .unwrap()
        .replace("price = \"3980 JPY\"", "price = \"4180 JPY\"");
    std::fs::write(&plan, text).unwrap();
    let third = load_policies(s, dir.path(), at("2026-11-03T00:00:00Z"))
        .await
        .unwrap();
    let changed: Vec<_> = third.iter().filter(|o| o.changed).collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(
        (changed[0].plan_code.as_deref(), changed[0].version),
        (Some("JP10-DV"), 2)
    );
    let book = PolicyBook::load(s).await.unwrap();
    assert_eq!(
        book.plan("EX-SAKURA", "JP10-DV").unwrap().price.minor(),
        4180
    );
    let codes: Vec<String> = s
        .carriers()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.code)
        .collect();
    assert_eq!(codes, ["EX-FUJI", "EX-KOI", "EX-SAKURA"]);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn an_import_with_bad_rows_stores_nothing_and_names_every_row() {
    let (db, book) = setup().await;
    let s = db.store.as_ref();
    let mut file = csv(&[(1, "JP10-DV"), (2, "JP10-DV")]);
    file.push_str(&format!(
        "{},31010{:010},09000000003,JP10-DV\n",
        iccid(3),
        3
    )); // line 4: US MCC
    file.push_str(&format!("{},44010{:010},09000000004,NOPE\n", iccid(4), 4)); // line 5: unknown plan
    file.push_str(&format!(
        "{},44010{:010},09000000005,JP10-DV\n",
        iccid(1),
        5
    )); // line 6: ICCID repeats line 2
    let err = import_lines(
        s,
        &book,
        ImportRequest {
            carrier: &CarrierCode::new("EX-SAKURA"),
            source_name: "stock.csv",
            input: file.as_bytes(),
            skip_invalid: false,
            by: ops(),
        },
        quiet(),
    )
    .await
    .unwrap_err();
    let ServiceError::Import(report) = err else {
        panic!("expected an import report, got {err}")
    };
    let named: Vec<(u64, &str)> = report
        .errors
        .iter()
        .map(|e| (e.line, e.column.as_str()))
        .collect();
    assert_eq!(named, [(4, "imsi"), (5, "plan"), (6, "iccid")]);
    assert!(report.errors[2].reason.contains("line 2"));
    assert!(
        s.line(&LineKey::Iccid(iccid(1).parse().unwrap()))
            .await
            .unwrap()
            .is_none(),
        "nothing may be imported"
    );

    // Skipping invalid rows imports the good ones only.
    let outcome = import_lines(
        s,
        &book,
        ImportRequest {
            carrier: &CarrierCode::new("EX-SAKURA"),
            source_name: "stock.csv",
            input: file.as_bytes(),
            skip_invalid: true,
            by: ops(),
        },
        quiet(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.imported, 2);
    // Stored identifiers are duplicates too.
    let err = import_lines(
        s,
        &book,
        ImportRequest {
            carrier: &CarrierCode::new("EX-SAKURA"),
            source_name: "stock.csv",
            input: csv(&[(2, "JP10-DV")]).as_bytes(),
            skip_invalid: false,
            by: ops(),
        },
        quiet(),
    )
    .await
    .unwrap_err();
    let ServiceError::Import(report) = err else {
        panic!("expected an import report")
    };
    assert_eq!(
        report.errors.len(),
        3,
        "ICCID, IMSI and MSISDN are all taken: {report}"
    );
    assert!(report
        .errors
        .iter()
        .all(|e| e.line == 2 && e.reason.contains("already stored")));
}

#[tokio::test]
async fn a_line_lives_from_stock_to_closed_with_every_step_attributed() {
    let (db, book) = setup().await;
    let s = db.store.as_ref();
    stock(s, &book, &[(10, "JP10-DV")]).await;
    let key = lines::parse_line_key("090-0000-0010").unwrap();

    let line = lines::register(
        s,
        &book,
        &key,
        &form("TZ1234567"),
        clerk("2026-11-24T10:00:00Z", "walk-in sale"),
    )
    .await
    .unwrap();
    assert_eq!(line.state, LineState::Registered);
    let holder = s.customer(line.holder.unwrap()).await.unwrap().unwrap();
    assert_eq!(holder.personal.unwrap().passport_number, "TZ1234567");
    assert_eq!(holder.language, "en");
    // Travellers sign in by e-mail: the lookup ignores case and finds the holder.
    assert_eq!(
        s.customer_by_email(" ALEX@Example.com ").await.unwrap(),
        Some(CustomerId::new(holder.id))
    );
    assert_eq!(
        s.customer_by_email("someone@example.com").await.unwrap(),
        None
    );

    let line = lines::activate(s, &book, &key, clerk("2026-11-25T03:00:00Z", "first use"))
        .await
        .unwrap();
    assert_eq!(
        line.validity_ends_at,
        Some(at("2026-12-04T15:00:00Z")),
        "10 JST days incl. activation day"
    );
    assert_eq!(
        line.grace_ends_at,
        Some(at("2026-12-07T15:00:00Z")),
        "EX-SAKURA grants 3 days of grace"
    );

    lines::top_up(
        s,
        &book,
        &key,
        "1000",
        clerk("2026-11-25T04:00:00Z", "cash at counter"),
    )
    .await
    .unwrap();
    lines::record_usage(
        s,
        &book,
        &key,
        Usage::DataMb(300),
        Attribution::system("usage", at("2026-11-25T05:00:00Z"), "data"),
    )
    .await
    .unwrap();
    lines::bind_addon(
        s,
        &book,
        &key,
        "ROAMING",
        clerk("2026-11-25T06:00:00Z", "trip to Seoul"),
    )
    .await
    .unwrap();
    let twice = lines::bind_addon(
        s,
        &book,
        &key,
        "ROAMING",
        clerk("2026-11-25T06:01:00Z", "again"),
    )
    .await;
    assert!(matches!(
        twice,
        Err(ServiceError::Balance(BalanceError::AlreadyBound(_)))
    ));
    lines::unbind_addon(
        s,
        &book,
        &key,
        "ROAMING",
        clerk("2026-11-26T06:00:00Z", "back from Seoul"),
    )
    .await
    .unwrap();

    let report = lines::report(s, &book, &key, at("2026-11-26T07:00:00Z"))
        .await
        .unwrap();
    let money: i64 = report
        .balance
        .iter()
        .filter(|b| b.unit == "JPY")
        .map(|b| b.remaining)
        .sum();
    assert_eq!(
        money,
        1000 + 1000 - 500,
        "plan credit + top-up - roaming charge"
    );
    let data: i64 = report
        .balance
        .iter()
        .filter(|b| b.unit == "MB")
        .map(|b| b.remaining)
        .sum();
    assert_eq!(data, 10240 - 300);
    let stocked = report
        .stocked
        .as_ref()
        .expect("the import that stocked the line is kept");
    assert_eq!(
        (
            stocked.actor_id.as_str(),
            stocked.source_name.as_str(),
            stocked.reason.as_str()
        ),
        ("inventory", "stock.csv", "carrier delivery")
    );
    assert_eq!(report.addons.len(), 1);
    assert!(report.addons[0].unbound_at.is_some());
    let kinds: Vec<&str> = report.entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "plan_grant",
            "plan_grant",
            "top_up",
            "usage",
            "addon_charge"
        ]
    );

    // Not due yet: nothing moves.
    let early = jobs::run_once(s, at("2026-12-04T14:59:59Z")).await.unwrap();
    assert_eq!((early.expired, early.closed), (0, 0));
    let expired = jobs::run_once(s, at("2026-12-04T15:00:00Z")).await.unwrap();
    assert_eq!(expired.expired, 1);
    assert_eq!(
        lines::find_line(s, &key).await.unwrap().state,
        LineState::Expired
    );
    // In grace the line can be queried but not used.
    let used = lines::record_usage(
        s,
        &book,
        &key,
        Usage::DataMb(1),
        Attribution::system("usage", at("2026-12-05T00:00:00Z"), "data"),
    )
    .await;
    assert!(matches!(
        used,
        Err(ServiceError::Balance(BalanceError::LineNotActive(
            LineState::Expired
        )))
    ));
    let closed = jobs::run_once(s, at("2026-12-07T15:00:00Z")).await.unwrap();
    assert_eq!(closed.closed, 1);

    let line = lines::find_line(s, &key).await.unwrap();
    assert_eq!(line.state, LineState::Closed);
    let again = lines::activate(s, &book, &key, clerk("2026-12-08T00:00:00Z", "try again")).await;
    assert!(matches!(
        again,
        Err(ServiceError::Line(LineError::NeverReactivated { .. }))
    ));
    let transfer = lines::register(
        s,
        &book,
        &key,
        &form("XX9999999"),
        clerk("2026-12-08T00:00:00Z", "resale"),
    )
    .await;
    assert!(
        matches!(
            transfer,
            Err(ServiceError::Line(LineError::TransferForbidden))
        ),
        "{transfer:?}"
    );

    let history = s.events(line.id).await.unwrap();
    let steps: Vec<(&str, &str, &str)> = history
        .iter()
        .map(|e| (e.kind.as_str(), e.actor_kind.as_str(), e.channel.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("register", "clerk", "store"),
            ("activate", "clerk", "store"),
            ("top_up", "clerk", "store"),
            ("usage", "system", "system"),
            ("addon_bind", "clerk", "store"),
            ("addon_unbind", "clerk", "store"),
            ("expire", "system", "system"),
            ("close", "system", "system"),
        ]
    );
    assert!(history.iter().all(|e| !e.reason.is_empty()));
    assert_eq!(history[0].reason, "walk-in sale");
    assert!(
        history[0].policy_version.is_some(),
        "decisions record the policy version they used"
    );
}

#[tokio::test]
async fn a_line_is_never_transferred_and_a_stale_decision_is_refused() {
    let (db, book) = setup().await;
    let s = db.store.as_ref();
    stock(s, &book, &[(20, "JP15-D")]).await;
    let key = lines::parse_line_key(&iccid(20)).unwrap();
    lines::register(
        s,
        &book,
        &key,
        &form("TZ1234567"),
        clerk("2026-11-24T10:00:00Z", "sale"),
    )
    .await
    .unwrap();
    let other = lines::register(
        s,
        &book,
        &key,
        &form("AB7654321"),
        clerk("2026-11-24T11:00:00Z", "resale"),
    )
    .await;
    assert!(matches!(
        other,
        Err(ServiceError::Line(LineError::TransferForbidden))
    ));
    let same = lines::register(
        s,
        &book,
        &key,
        &form("tz 1234567"),
        clerk("2026-11-24T11:00:00Z", "again"),
    )
    .await;
    assert!(matches!(
        same,
        Err(ServiceError::Line(LineError::AlreadyRegistered))
    ));

    // Two deciders read version N; the second write must lose, not overwrite.
    let line = lines::find_line(s, &key).await.unwrap();
    let by = clerk("2026-11-25T00:00:00Z", "race");
    let (a, t) = line.begin_termination(by.clone()).unwrap();
    let event = NewEvent {
        kind: t.step.as_str().into(),
        from: Some(t.from),
        to: Some(t.to),
        detail: String::new(),
        by: by.clone(),
        policy_version: None,
    };
    s.apply(&LineChange::new(a, event.clone())).await.unwrap();
    let (b, _) = line.begin_termination(by).unwrap();
    assert!(matches!(
        s.apply(&LineChange::new(b, event)).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        s.events(line.id).await.unwrap().len(),
        2,
        "the losing write left no history entry"
    );
}

#[tokio::test]
async fn bad_input_changes_nothing() {
    let (db, book) = setup().await;
    let s = db.store.as_ref();
    stock(s, &book, &[(30, "JP10-DV")]).await;
    let key = lines::parse_line_key(&iccid(30)).unwrap();
    let mut bad = form("TZ1234567");
    bad.email = "not-an-address".into();
    let err = lines::register(s, &book, &key, &bad, clerk("2026-11-24T10:00:00Z", "sale"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("email"), "{err}");
    let line = lines::find_line(s, &key).await.unwrap();
    assert_eq!(
        (line.state, line.holder, line.version),
        (LineState::InStock, None, 0)
    );

    lines::register(
        s,
        &book,
        &key,
        &form("TZ1234567"),
        clerk("2026-11-24T10:00:00Z", "sale"),
    )
    .await
    .unwrap();
    lines::activate(s, &book, &key, clerk("2026-11-25T03:00:00Z", "go"))
        .await
        .unwrap();
    let before = lines::report(s, &book, &key, at("2026-11-25T04:00:00Z"))
        .await
        .unwrap();
    for amount in ["100000", "12.5", "-500", "1000 USD", "lots"] {
        let err = lines::top_up(
            s,
            &book,
            &key,
            amount,
            clerk("2026-11-25T04:00:00Z", "top-up"),
        )
        .await
        .unwrap_err();
        assert!(err.is_client_error(), "{amount}: {err}");
    }
    let overdraw = lines::record_usage(
        s,
        &book,
        &key,
        Usage::DataMb(10_241),
        Attribution::system("usage", at("2026-11-25T05:00:00Z"), "data"),
    )
    .await;
    assert!(matches!(
        overdraw,
        Err(ServiceError::Balance(BalanceError::Insufficient {
            available: 10240,
            ..
        }))
    ));
    let unknown = lines::bind_addon(
        s,
        &book,
        &key,
        "TELEPORT",
        clerk("2026-11-25T04:00:00Z", "x"),
    )
    .await;
    assert!(matches!(
        unknown,
        Err(ServiceError::Balance(BalanceError::UnknownAddon(_)))
    ));
    let after = lines::report(s, &book, &key, at("2026-11-25T04:00:00Z"))
        .await
        .unwrap();
    assert_eq!(before.history.len(), after.history.len());
    assert_eq!(before.entries.len(), after.entries.len());
    assert_eq!(
        before
            .balance
            .iter()
            .map(|b| b.remaining)
            .collect::<Vec<_>>(),
        after
            .balance
            .iter()
            .map(|b| b.remaining)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn expiry_moves_each_due_line_once_even_when_run_twice() {
    let (db, book) = setup().await;
    let s = db.store.as_ref();
    let rows: Vec<(u64, &str)> = (40..60).map(|n| (n, "JP10-DV")).collect();
    stock(s, &book, &rows).await;
    for (n, _) in &rows {
        let key = lines::parse_line_key(&iccid(*n)).unwrap();
        lines::register(
            s,
            &book,
            &key,
            &form("TZ1234567"),
            clerk("2026-11-24T10:00:00Z", "sale"),
        )
        .await
        .unwrap();
        // Half are activated a day later, so they are not due at the first run.
        let when = if n % 2 == 0 {
            "2026-11-25T03:00:00Z"
        } else {
            "2026-11-26T03:00:00Z"
        };
        lines::activate(s, &book, &key, clerk(when, "go"))
            .await
            .unwrap();
    }
    let now = at("2026-12-04T15:00:00Z");
    let (a, b) = tokio::join!(jobs::run_once(s, now), jobs::run_once(s, now));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.expired + b.expired,
        10,
        "every due line expired exactly once: {a:?} {b:?}"
    );
    let again = jobs::run_once(s, now).await.unwrap();
    assert_eq!(again.expired, 0);
    for (n, _) in &rows {
        let line = lines::find_line(s, &lines::parse_line_key(&iccid(*n)).unwrap())
            .await
            .unwrap();
        let expires = s
            .events(line.id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.kind == "expire")
            .count();
        assert_eq!(expires, usize::from(n % 2 == 0), "line {n}");
    }
}

#[tokio::test]
async fn the_line_status_endpoint_answers_over_http() {
    let (db, book) = setup().await;
    stock(db.store.as_ref(), &book, &[(70, "JP10-DV")]).await;
    let token = simdesk::web::api::new_token();
    let hash = simdesk::web::api::hash_token(&token);
    db.store
        .insert_api_token(
            &CarrierCode::new("EX-SAKURA"),
            "test",
            &hash,
            "test",
            at("2026-11-01T00:00:00Z"),
        )
        .await
        .unwrap();
    let foreign = simdesk::web::api::new_token();
    db.store
        .insert_api_token(
            &CarrierCode::new("EX-KOI"),
            "other carrier",
            &simdesk::web::api::hash_token(&foreign),
            "test",
            at("2026-11-01T00:00:00Z"),
        )
        .await
        .unwrap();
    let app = support::spawn_app_on(db, support::AppOptions::new()).await;
    let base = app.base.clone();
    let result = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let get = |path: &str, token: Option<&str>| {
            let mut request = agent.get(&format!("{base}{path}"));
            if let Some(t) = token {
                request = request.header("Authorization", &format!("Bearer {t}"));
            }
            let mut r = request.call().unwrap();
            let status = r.status().as_u16();
            (status, r.body_mut().read_to_string().unwrap())
        };
        (
            get("/healthz", None),
            get("/readyz", None),
            get("/api/v1/lines/%2B819000000070", Some(&token)),
            get("/api/v1/lines/12345", Some(&token)),
            get("/api/v1/lines/09099999999", Some(&token)),
            get("/api/v1/lines/%2B819000000070", None),
            get("/api/v1/lines/%2B819000000070", Some(&foreign)),
            get("/metrics", None),
        )
    })
    .await
    .unwrap();
    let (health, ready, found, bad, missing, anonymous, other_carrier, metrics) = result;
    assert_eq!(health, (200, "ok".to_string()));
    assert_eq!(ready.0, 200);
    assert_eq!(found.0, 200);
    let json: serde_json::Value = serde_json::from_str(&found.1).unwrap();
    assert_eq!(json["state"], "in_stock");
    assert_eq!(json["msisdn"], "+819000000070");
    assert_eq!(bad.0, 422);
    let json: serde_json::Value = serde_json::from_str(&bad.1).unwrap();
    assert!(
        json["message"].as_str().unwrap().contains("ICCID"),
        "{json}"
    );
    assert_eq!(missing.0, 404);
    let json: serde_json::Value = serde_json::from_str(&missing.1).unwrap();
    assert_eq!(json["code"], "NOT_FOUND");
    assert_eq!(anonymous.0, 401);
    assert_eq!(
        other_carrier.0, 404,
        "another carrier's line does not exist for this caller"
    );
    assert_eq!(metrics.0, 200);
    assert!(
        metrics
            .1
            .contains(r#"simdesk_lines{carrier="EX-SAKURA",state="in_stock"} 1"#),
        "{}",
        metrics.1
    );
    assert!(
        metrics.1.contains("simdesk_http_requests_total{"),
        "{}",
        metrics.1
    );
    assert!(
        metrics.1.contains("simdesk_cancellation_job_lag_seconds"),
        "{}",
        metrics.1
    );
}
