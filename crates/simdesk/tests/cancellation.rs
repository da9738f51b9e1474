//! Cancellation engine tests (issue 4): quote, the three channels, effective date, completion
//! with refund and receipt, refund rules, what a cancelled line can no longer do, concurrent
//! submissions, withdrawal and payouts. Run against SQLite and (with SIMDESK_TEST_PG) PostgreSQL.

mod support;

use jiff::civil::date;
use jiff::{SignedDuration, Timestamp};
use simdesk::adapters::messages::{CodeDestination, RecordingCodeSender};
use simdesk::receipts::{self, ReceiptContent};
use simdesk::services::cancellation::{self, Knowledge};
use simdesk::services::import::{import_lines, ImportRequest, Progress};
use simdesk::services::jobs::{self, DueReport};
use simdesk::services::lines::{self, Usage};
use simdesk::services::outbox::Peers;
use simdesk::services::policies::{load_policies, PolicyBook};
use simdesk::services::ServiceContext;
use simdesk::services::{usage, wallet, ServiceError};
use simdesk::store::{LineKey, RequestChange, RequestRecord, Store, StoreError};
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use simdesk_domain::balance::BalanceError;
use simdesk_domain::cancellation::{CancellationError, RequestState};
use simdesk_domain::customer::RegistrationForm;
use simdesk_domain::ids::{CarrierCode, CustomerId, Iccid, RequestId};
use simdesk_domain::line::{Line, LineError, LineState};
use simdesk_domain::money::{Currency, Money};
use simdesk_domain::policy::{IdentityCheck, RefundRule, Service};
use std::sync::Arc;
use support::{fresh_db, policies_dir};

// ---------------------------------------------------------------------------
// The timeline most tests share (all working days in Japan):
//   Mon 2026-05-11 09:30 JST  the line is sold
//   Mon 2026-05-11 12:00 JST  it is activated (JP10-DV: valid to 2026-05-20 23:59:59 JST)
//   Tue 2026-05-12 10:00 JST  the customer asks to cancel (before every carrier's cut-off)
// EX-SAKURA (1 business day) takes effect Wed 2026-05-13 00:00 JST, EX-FUJI (2) on Thu
// 2026-05-14, EX-KOI (3) on Fri 2026-05-15.
// ---------------------------------------------------------------------------

const SOLD: &str = "2026-05-11T00:30:00Z";
const ACTIVATED: &str = "2026-05-11T03:00:00Z";
const ASKED: &str = "2026-05-12T01:00:00Z";
const SAKURA_EFFECTIVE_AT: &str = "2026-05-12T15:00:00Z";
const FUJI_EFFECTIVE_AT: &str = "2026-05-13T15:00:00Z";
const KOI_EFFECTIVE_AT: &str = "2026-05-14T15:00:00Z";
const PASSPORT: &str = "TZ1234567";

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn plus(s: &str, secs: i64) -> Timestamp {
    at(s) + SignedDuration::from_secs(secs)
}

fn yen(v: i64) -> Money {
    Money::new(v, Currency::Jpy)
}

fn person(kind: ActorKind, id: &str, channel: Channel, when: Timestamp, why: &str) -> Attribution {
    Attribution::new(
        Actor {
            kind,
            id: id.into(),
        },
        channel,
        when,
        why,
    )
}

fn clerk(when: Timestamp) -> Attribution {
    person(
        ActorKind::Clerk,
        "clerk-7",
        Channel::Store,
        when,
        "at the counter",
    )
}

fn agent(when: Timestamp) -> Attribution {
    person(
        ActorKind::Agent,
        "agent-3",
        Channel::Hotline,
        when,
        "caller asked to cancel",
    )
}

fn customer(when: Timestamp) -> Attribution {
    person(
        ActorKind::Customer,
        "self-service",
        Channel::Web,
        when,
        "cancel service",
    )
}

fn ops() -> Attribution {
    Attribution::new(
        Actor::operator("inventory"),
        Channel::Operator,
        at("2026-04-01T00:00:00Z"),
        "carrier delivery",
    )
}

fn iccid(n: u64) -> String {
    Iccid::from_body(&format!("89811001{n:010}"))
        .unwrap()
        .to_string()
}

fn quiet() -> Progress<'static> {
    static NOTHING: fn(u64) = |_| {};
    Progress {
        checked: &NOTHING,
        written: &NOTHING,
    }
}

fn form(passport: &str, language: &str) -> RegistrationForm {
    RegistrationForm {
        full_name: "Alex Example".into(),
        passport_number: passport.into(),
        nationality: "GB".into(),
        birth_date: "1990-04-01".into(),
        phone: "+44 7700 900123".into(),
        email: "alex@example.com".into(),
        language: language.into(),
    }
}

/// What a hotline agent hears from the caller: case, spacing and order differ from the passport.
fn knowledge(passport: &str) -> Knowledge {
    Knowledge {
        name: "EXAMPLE alex".into(),
        passport: passport.to_lowercase(),
    }
}

/// Everything a test works with: the store, the ctx, the peers and the code recorder.
struct World {
    app: support::TestApp,
    ctx: ServiceContext,
    peers: Peers,
    codes: Arc<RecordingCodeSender>,
}

impl World {
    fn s(&self) -> &dyn Store {
        self.app.store.as_ref()
    }

    fn book(&self) -> &PolicyBook {
        &self.ctx.book
    }

    async fn line(&self, key: &LineKey) -> Line {
        lines::find_line(self.s(), key).await.unwrap()
    }

    async fn request(&self, id: RequestId) -> RequestRecord {
        cancellation::load(&self.ctx, id).await.unwrap()
    }

    async fn run_due(&self, now: Timestamp) -> DueReport {
        jobs::run_due(&self.ctx, &self.peers, now).await.unwrap()
    }

    /// The network calls made about a line since activation provisioned it.
    async fn network(&self, key: &LineKey) -> Vec<String> {
        self.network_journal(key)
            .await
            .into_iter()
            .filter(|op| op != "provision")
            .collect()
    }

    /// Every network call made about a line, oldest first.
    async fn network_journal(&self, key: &LineKey) -> Vec<String> {
        let line = self.line(key).await;
        self.s()
            .network_calls(line.imsi.as_str())
            .await
            .unwrap()
            .into_iter()
            .map(|(op, _)| op)
            .collect()
    }

    /// The customer notifications queued so far, delivered or not, oldest first: (event, payload).
    async fn notifications(&self) -> Vec<(String, serde_json::Value)> {
        let sql = "SELECT payload FROM outbox WHERE kind = $1 ORDER BY id";
        read::<(String,)>(&self.app.db, sql, "notify")
            .await
            .into_iter()
            .map(|(text,)| {
                let payload: serde_json::Value = serde_json::from_str(&text).unwrap();
                (payload["event"].as_str().unwrap().to_string(), payload)
            })
            .collect()
    }

    async fn wallet_balance(&self, customer: CustomerId) -> Vec<Money> {
        wallet::show(self.s(), customer).await.unwrap().balance
    }

    async fn stock(&self, carrier: &str, rows: &[(u64, &str)]) {
        let mut csv = String::from("iccid,imsi,msisdn,plan\n");
        for (n, plan) in rows {
            csv.push_str(&format!("{},44010{n:010},090{n:08},{plan}\n", iccid(*n)));
        }
        import_lines(
            self.s(),
            self.book(),
            ImportRequest {
                carrier: &carrier.into(),
                source_name: "stock.csv",
                input: csv.as_bytes(),
                skip_invalid: false,
                by: ops(),
            },
            quiet(),
        )
        .await
        .unwrap();
    }

    /// Sells stocked line `n` to a holder and activates it on the shared timeline.
    async fn sell(&self, n: u64, passport: &str, language: &str) -> LineKey {
        let key = lines::parse_line_key(&iccid(n)).unwrap();
        lines::register(
            self.s(),
            self.book(),
            &key,
            &form(passport, language),
            clerk(at(SOLD)),
        )
        .await
        .unwrap();
        lines::activate(self.s(), self.book(), &key, clerk(at(ACTIVATED)))
            .await
            .unwrap();
        key
    }

    /// A hotline cancellation with name and passport: approved at once.
    async fn cancel_by_hotline(
        &self,
        key: &LineKey,
        passport: &str,
        when: Timestamp,
    ) -> RequestRecord {
        let submitted = cancellation::submit(
            &self.ctx,
            key,
            Channel::Hotline,
            Some(knowledge(passport)),
            agent(when),
        )
        .await
        .unwrap();
        assert!(submitted.created);
        assert_eq!(submitted.request.request.state, RequestState::Approved);
        submitted.request
    }

    /// The receipt of a completed request, verified with the ctx's key.
    async fn receipt(&self, record: &RequestRecord) -> (String, ReceiptContent) {
        let number = record.receipt_number.clone().expect("a receipt number");
        let document = self
            .s()
            .receipt(&number)
            .await
            .unwrap()
            .expect("the receipt is stored");
        let content = receipts::verify(&document, &self.ctx.keys.receipts.verifying_key())
            .unwrap_or_else(|e| panic!("receipt {number} does not verify: {e}"));
        assert_eq!(content.number, number);
        (document, content)
    }
}

async fn world() -> World {
    let db = fresh_db().await;
    load_policies(
        db.store.as_ref(),
        &policies_dir(),
        at("2026-04-01T00:00:00Z"),
    )
    .await
    .unwrap();
    let app = support::spawn_app_on(db, support::AppOptions::new()).await;
    World {
        ctx: app.ctx.clone(),
        peers: app.peers.clone(),
        codes: app.codes.clone(),
        app,
    }
}

fn items(record: &RequestRecord) -> Vec<(String, i64)> {
    record.refund_detail.as_ref().expect("refund detail")["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["key"].as_str().unwrap().to_string(),
                i["amount"]["value"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn receipt_items(content: &ReceiptContent) -> Vec<i64> {
    content
        .refund
        .items
        .iter()
        .map(|i| i.amount.minor())
        .collect()
}

fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

// ---------------------------------------------------------------------------
// 1. The quote
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_quote_tells_where_the_customer_stands_and_time_left_never_refuses() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(1, "JP10-DV"), (2, "JP10-DV")])
        .await;
    let key = w.sell(1, PASSPORT, "en").await;
    lines::top_up(
        w.s(),
        w.book(),
        &key,
        "1000",
        clerk(at("2026-05-11T04:00:00Z")),
    )
    .await
    .unwrap();
    lines::bind_addon(
        w.s(),
        w.book(),
        &key,
        "ROAMING",
        clerk(at("2026-05-11T04:10:00Z")),
    )
    .await
    .unwrap();
    lines::record_usage(
        w.s(),
        w.book(),
        &key,
        Usage::DataMb(240),
        Attribution::system("usage", at("2026-05-11T05:00:00Z"), "data"),
    )
    .await
    .unwrap();

    let q = cancellation::quote(&w.ctx, &key, at(ASKED)).await.unwrap();
    assert_eq!(q.state, "active");
    assert!(q.can_cancel, "time left never refuses: {q:?}");
    assert_eq!(q.cannot_because, None);
    assert!(q.valid_now);
    assert_eq!(
        q.valid_until_jst.as_deref(),
        Some("2026-05-20 23:59:59 JST")
    );
    let notice = q.time_left_notice.expect("a time-left notice").to_string();
    assert!(notice.contains("2026-05-20 23:59:59 JST"), "{notice}");
    assert_eq!(
        q.balance,
        yen(1000 + 1000 - 500),
        "plan credit + top-up - roaming"
    );
    assert_eq!(q.data_mb, 10240 - 240);
    assert_eq!(q.bound_addons.len(), 1);
    assert_eq!(
        (
            q.bound_addons[0].code.as_str(),
            q.bound_addons[0].name.as_str(),
            q.bound_addons[0].charge
        ),
        ("ROAMING", "International roaming", yen(500))
    );
    let refund = q.refund.as_ref().expect("the refund the policy would give");
    assert_eq!(refund.rule, RefundRule::Full);
    let itemised: Vec<(&str, i64)> = refund
        .items
        .iter()
        .map(|i| (i.key.as_str(), i.amount.minor()))
        .collect();
    assert_eq!(itemised, [("prepaid_balance", 1500)]);
    assert_eq!(refund.total, yen(1500));
    assert_eq!(q.effective_date_if_submitted_now, Some(date(2026, 5, 13)));
    let said = q
        .what_happens
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    for needle in ["2026-05-13", "barred", "ROAMING", "1,500 JPY", "receipt"] {
        assert!(said.contains(needle), "missing {needle:?} in:\n{said}");
    }
    let needed: Vec<(Channel, Vec<IdentityCheck>)> = q
        .identity_needed
        .iter()
        .map(|c| (c.channel, c.checks.clone()))
        .collect();
    assert_eq!(
        needed,
        [
            (Channel::Web, vec![IdentityCheck::Possession]),
            (Channel::Hotline, vec![IdentityCheck::Knowledge]),
            (Channel::Store, vec![IdentityCheck::Document]),
        ]
    );
    assert_eq!(q.open_request, None);
    let line = w.line(&key).await;
    assert!(
        w.s().requests_for_line(line.id).await.unwrap().is_empty(),
        "a quote changes nothing"
    );

    // Time left does not stop the cancellation itself either.
    let request = w.cancel_by_hotline(&key, PASSPORT, at(ASKED)).await;
    let q = cancellation::quote(&w.ctx, &key, plus(ASKED, 60))
        .await
        .unwrap();
    assert!(!q.can_cancel);
    assert_eq!(q.open_request, Some(request.request.id));
    assert!(q
        .cannot_because
        .unwrap()
        .to_string()
        .contains("already open"));

    // Once cancelled, the quote says it cannot be cancelled and why.
    w.run_due(at(SAKURA_EFFECTIVE_AT)).await;
    let q = cancellation::quote(&w.ctx, &key, at("2026-05-13T03:00:00Z"))
        .await
        .unwrap();
    assert_eq!(q.state, "terminated");
    assert!(!q.can_cancel);
    assert_eq!(
        q.cannot_because.map(|c| c.to_string()).as_deref(),
        Some("the line is already cancelled")
    );
    assert!(!q.valid_now);
    assert_eq!(q.time_left_notice, None);
    assert!(q.refund.is_none() && q.effective_date_if_submitted_now.is_none());
    assert!(q.bound_addons.is_empty());
    assert_eq!(q.balance, yen(0));

    // A line still in stock has not been sold.
    let unsold = lines::parse_line_key(&iccid(2)).unwrap();
    let q = cancellation::quote(&w.ctx, &unsold, at(ASKED))
        .await
        .unwrap();
    assert!(!q.can_cancel);
    assert_eq!(
        q.cannot_because.map(|c| c.to_string()).as_deref(),
        Some("the line has not been sold")
    );
}

// ---------------------------------------------------------------------------
// 2. Hotline
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_hotline_approves_on_name_and_passport_and_bars_the_line_at_once() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(10, "JP10-DV")]).await;
    let key = w.sell(10, PASSPORT, "en").await;
    let line = w.line(&key).await;

    // A wrong passport is refused and creates nothing.
    let refused = cancellation::submit(
        &w.ctx,
        &key,
        Channel::Hotline,
        Some(knowledge("TZ7654321")),
        agent(at(ASKED)),
    )
    .await;
    match refused {
        Err(ServiceError::Identity(msg)) => assert!(msg.contains("do not match"), "{msg}"),
        other => panic!("expected an identity refusal, got {other:?}"),
    }
    assert!(w.s().requests_for_line(line.id).await.unwrap().is_empty());
    assert_eq!(w.line(&key).await.state, LineState::Active);
    assert!(
        w.notifications()
            .await
            .iter()
            .all(|(event, _)| !event.starts_with("cancellation")),
        "nothing queued"
    );
    assert!(w.network(&key).await.is_empty(), "nothing queued");

    // The web does not ask for name and passport; offering them there is a mistake, not a pass.
    let web = cancellation::submit(
        &w.ctx,
        &key,
        Channel::Web,
        Some(knowledge(PASSPORT)),
        customer(at(ASKED)),
    )
    .await;
    assert!(matches!(web, Err(ServiceError::Invalid(_))), "{web:?}");
    assert!(w.s().requests_for_line(line.id).await.unwrap().is_empty());

    let request = w.cancel_by_hotline(&key, PASSPORT, at(ASKED)).await;
    assert_eq!(request.request.channel, Channel::Hotline);
    assert_eq!(request.request.effective_date, Some(date(2026, 5, 13)));
    assert_eq!(request.request.effective_at, Some(at(SAKURA_EFFECTIVE_AT)));
    assert_eq!(request.request.passed, [IdentityCheck::Knowledge]);
    assert_eq!(request.request.submitted.actor.id, "agent-3");
    let steps: Vec<(String, String, String)> = w
        .s()
        .request_events(request.request.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.to_state, e.actor_kind, e.channel))
        .collect();
    let expected = |s: &str| (s.to_string(), "agent".to_string(), "hotline".to_string());
    assert_eq!(
        steps,
        [
            expected("submitted"),
            expected("identity_verified"),
            expected("approved")
        ]
    );

    let line = w.line(&key).await;
    assert_eq!(line.state, LineState::PendingTermination);
    assert_eq!(line.state_before_pending, Some(LineState::Active));

    // The bar goes out through the outbox; nothing completes before the effective date.
    assert!(
        w.network(&key).await.is_empty(),
        "not before the outbox delivers"
    );
    let report = w.run_due(plus(ASKED, 5)).await;
    assert_eq!(report.cancellations.completed, 0);
    assert_eq!(report.outbox.dead, 0);
    assert_eq!(w.network(&key).await, ["bar"]);
    let again = w.run_due(plus(ASKED, 10)).await;
    assert_eq!(again.outbox.delivered, 0, "delivered once");
    assert_eq!(w.network(&key).await, ["bar"]);

    let told: Vec<String> = w
        .notifications()
        .await
        .into_iter()
        .map(|(e, _)| e)
        .collect();
    assert_eq!(
        told,
        [
            "registration",
            "activation",
            "cancellation_received",
            "cancellation_approved"
        ]
    );

    // A second call for the same line returns the open request.
    let second = cancellation::submit(
        &w.ctx,
        &key,
        Channel::Hotline,
        Some(knowledge(PASSPORT)),
        agent(plus(ASKED, 600)),
    )
    .await
    .unwrap();
    assert!(!second.created);
    assert_eq!(second.request.request.id, request.request.id);
}

// ---------------------------------------------------------------------------
// 3. Web self-service with a one-time code
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_web_code_is_single_use_rate_limited_locked_after_five_tries_and_expires() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(20, "JP10-DV"), (21, "JP10-DV")])
        .await;
    let key = w.sell(20, PASSPORT, "en").await;
    let line = w.line(&key).await;
    let sms = CodeDestination::Line(line.msisdn.to_string());

    let submitted = cancellation::submit(&w.ctx, &key, Channel::Web, None, customer(at(ASKED)))
        .await
        .unwrap();
    assert!(submitted.created);
    let id = submitted.request.request.id;
    assert_eq!(submitted.request.request.state, RequestState::Submitted);
    assert_eq!(
        submitted.request.request.required,
        [IdentityCheck::Possession]
    );
    assert_eq!(
        w.line(&key).await.state,
        LineState::Active,
        "nothing happens to the line before approval"
    );

    // Checking before any code was sent is refused.
    let early = cancellation::check_code(&w.ctx, id, "123456", customer(at(ASKED))).await;
    assert!(matches!(early, Err(ServiceError::Identity(_))), "{early:?}");

    let sent = cancellation::send_code(&w.ctx, id, false, at(ASKED))
        .await
        .unwrap();
    assert_eq!(sent.expires_at, plus(ASKED, 600));
    assert!(
        sent.to
            .ends_with(&line.msisdn.to_string()[line.msisdn.to_string().len() - 4..]),
        "{}",
        sent.to
    );
    assert!(
        !sent.to.contains(&line.msisdn.to_string()),
        "the number is masked: {}",
        sent.to
    );
    let code = w.codes.last_code_to(&sms).expect("a code went to the line");
    assert_eq!(code.len(), 6);
    assert!(code.chars().all(|c| c.is_ascii_digit()));

    // A second code within 60 seconds is refused.
    match cancellation::send_code(&w.ctx, id, false, plus(ASKED, 30)).await {
        Err(ServiceError::RateLimited(msg)) => assert!(msg.contains("wait 30 seconds"), "{msg}"),
        other => panic!("expected a rate limit, got {other:?}"),
    }
    assert_eq!(
        w.codes.last_code_to(&sms),
        Some(code.clone()),
        "no second code went out"
    );

    // A wrong code says how many tries are left.
    match cancellation::check_code(&w.ctx, id, &wrong(&code), customer(plus(ASKED, 40))).await {
        Err(ServiceError::Identity(msg)) => assert!(msg.contains("4 tries left"), "{msg}"),
        other => panic!("expected a wrong-code refusal, got {other:?}"),
    }
    assert_eq!(w.request(id).await.request.state, RequestState::Submitted);

    // The right code (typed with a space) approves.
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let approved = cancellation::check_code(&w.ctx, id, &spaced, customer(plus(ASKED, 60)))
        .await
        .unwrap();
    assert_eq!(approved.request.state, RequestState::Approved);
    assert_eq!(approved.request.passed, [IdentityCheck::Possession]);
    assert_eq!(approved.request.effective_date, Some(date(2026, 5, 13)));
    assert_eq!(w.line(&key).await.state, LineState::PendingTermination);

    // Single use: the same code again is refused.
    let reuse = cancellation::check_code(&w.ctx, id, &code, customer(plus(ASKED, 90))).await;
    assert!(reuse.is_err(), "a used code must not pass again: {reuse:?}");
    assert_eq!(
        w.request(id).await.request.version,
        approved.request.version,
        "nothing changed"
    );

    // Another line: five wrong tries lock the code, even against the right one.
    let key2 = w.sell(21, "AB7654321", "en").await;
    let line2 = w.line(&key2).await;
    let email = CodeDestination::Email("alex@example.com".into());
    let id2 = cancellation::submit(&w.ctx, &key2, Channel::Web, None, customer(at(ASKED)))
        .await
        .unwrap()
        .request
        .request
        .id;
    let sent = cancellation::send_code(&w.ctx, id2, true, at(ASKED))
        .await
        .unwrap();
    assert_eq!(sent.to, "a•••@example.com");
    let code2 = w
        .codes
        .last_code_to(&email)
        .expect("a code went to the e-mail address");
    for (n, left) in [(1, 4), (2, 3), (3, 2), (4, 1)] {
        match cancellation::check_code(&w.ctx, id2, &wrong(&code2), customer(plus(ASKED, n))).await
        {
            Err(ServiceError::Identity(msg)) => assert!(
                msg.contains(&format!("{left} tries left")),
                "try {n}: {msg}"
            ),
            other => panic!("try {n}: {other:?}"),
        }
    }
    for (n, guess) in [(5, wrong(&code2)), (6, code2.clone())] {
        match cancellation::check_code(&w.ctx, id2, &guess, customer(plus(ASKED, n))).await {
            Err(ServiceError::Identity(msg)) => {
                assert!(msg.contains("too many wrong codes"), "try {n}: {msg}")
            }
            other => panic!("try {n} must be locked: {other:?}"),
        }
    }
    assert_eq!(w.request(id2).await.request.state, RequestState::Submitted);
    assert_eq!(w.line(&key2).await.state, LineState::Active);

    // A new code is good for 10 minutes: checked 11 minutes later it has expired.
    cancellation::send_code(&w.ctx, id2, false, plus(ASKED, 120))
        .await
        .unwrap();
    let code3 = w
        .codes
        .last_code_to(&CodeDestination::Line(line2.msisdn.to_string()))
        .unwrap();
    match cancellation::check_code(&w.ctx, id2, &code3, customer(plus(ASKED, 120 + 11 * 60))).await
    {
        Err(ServiceError::Identity(msg)) => assert!(msg.contains("expired"), "{msg}"),
        other => panic!("expected an expired code, got {other:?}"),
    }
    assert_eq!(w.request(id2).await.request.state, RequestState::Submitted);
    // A fresh code within its 10 minutes passes.
    cancellation::send_code(&w.ctx, id2, false, plus(ASKED, 900))
        .await
        .unwrap();
    let code4 = w
        .codes
        .last_code_to(&CodeDestination::Line(line2.msisdn.to_string()))
        .unwrap();
    let approved =
        cancellation::check_code(&w.ctx, id2, &code4, customer(plus(ASKED, 900 + 9 * 60)))
            .await
            .unwrap();
    assert_eq!(approved.request.state, RequestState::Approved);
}

// ---------------------------------------------------------------------------
// 4. Store with an identity document
// ---------------------------------------------------------------------------

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

#[tokio::test]
async fn the_store_uploads_a_document_for_review_and_a_rejection_says_why() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(30, "JP10-DV"), (31, "JP10-DV")])
        .await;
    let key = w.sell(30, PASSPORT, "en").await;
    let reviewer = |when: Timestamp| {
        person(
            ActorKind::Agent,
            "reviewer-1",
            Channel::Operator,
            when,
            "document review",
        )
    };

    let id = cancellation::submit(&w.ctx, &key, Channel::Store, None, clerk(at(ASKED)))
        .await
        .unwrap()
        .request
        .request
        .id;
    assert_eq!(
        w.request(id).await.request.required,
        [IdentityCheck::Document]
    );

    // Nothing to review yet.
    let nothing =
        cancellation::review_document(&w.ctx, id, true, None, reviewer(plus(ASKED, 10))).await;
    assert!(
        matches!(nothing, Err(ServiceError::Invalid(_))),
        "{nothing:?}"
    );

    // A text file named like a photo is judged by its content and refused.
    let text = b"Passport: TZ1234567, Alex Example".to_vec();
    match cancellation::upload_document(&w.ctx, id, text, clerk(plus(ASKED, 20))).await {
        Err(e @ ServiceError::Document(_)) => {
            assert!(e.to_string().contains("not a JPEG, PNG or PDF"), "{e}")
        }
        other => panic!("expected the text file to be refused, got {other:?}"),
    }
    assert!(
        w.s().documents(id).await.unwrap().is_empty(),
        "the refused file is not kept"
    );

    let doc = cancellation::upload_document(&w.ctx, id, PNG.to_vec(), clerk(plus(ASKED, 30)))
        .await
        .unwrap();
    let docs = w.s().documents(id).await.unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(
        (
            docs[0].id,
            docs[0].content_type.as_str(),
            docs[0].review.as_str()
        ),
        (doc, "image/png", "pending")
    );
    assert_eq!(docs[0].size_bytes, PNG.len() as i64);
    assert_eq!(w.request(id).await.request.state, RequestState::Submitted);

    let approved =
        cancellation::review_document(&w.ctx, id, true, None, reviewer(plus(ASKED, 300)))
            .await
            .unwrap();
    assert_eq!(approved.request.state, RequestState::Approved);
    assert_eq!(
        approved.request.effective_date,
        Some(date(2026, 5, 13)),
        "counted from the request, before the cut-off"
    );
    assert_eq!(w.line(&key).await.state, LineState::PendingTermination);
    let docs = w.s().documents(id).await.unwrap();
    assert_eq!(docs[0].review, "approved");
    assert_eq!(docs[0].reviewed_by.as_deref(), Some("agent:reviewer-1"));

    // Another customer's document is rejected with a reason they can act on.
    let key2 = w.sell(31, "AB7654321", "ko").await;
    let before = w.line(&key2).await;
    let id2 = cancellation::submit(&w.ctx, &key2, Channel::Store, None, clerk(at(ASKED)))
        .await
        .unwrap()
        .request
        .request
        .id;
    cancellation::upload_document(&w.ctx, id2, PNG.to_vec(), clerk(plus(ASKED, 30)))
        .await
        .unwrap();
    let no_reason =
        cancellation::review_document(&w.ctx, id2, false, Some("  "), reviewer(plus(ASKED, 60)))
            .await;
    assert!(
        matches!(no_reason, Err(ServiceError::Invalid(_))),
        "{no_reason:?}"
    );
    let reason = "the photo is blurred; upload a sharper photo of the passport page";
    let rejected =
        cancellation::review_document(&w.ctx, id2, false, Some(reason), reviewer(plus(ASKED, 120)))
            .await
            .unwrap();
    assert_eq!(rejected.request.state, RequestState::Rejected);
    assert_eq!(rejected.request.reject_reason.as_deref(), Some(reason));
    let docs = w.s().documents(id2).await.unwrap();
    assert_eq!(
        (docs[0].review.as_str(), docs[0].review_reason.as_deref()),
        ("rejected", Some(reason))
    );
    let after = w.line(&key2).await;
    assert_eq!(after.state, LineState::Active);
    assert_eq!(after.version, before.version, "the line is unchanged");
    assert!(w
        .s()
        .open_request_for_line(after.id)
        .await
        .unwrap()
        .is_none());
    let rejections: Vec<serde_json::Value> = w
        .notifications()
        .await
        .into_iter()
        .filter(|(e, _)| e == "cancellation_rejected")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(rejections.len(), 1);
    assert_eq!(rejections[0]["params"]["reason"], reason);
    assert_eq!(rejections[0]["language"], "ko");
    // The customer can try again.
    let q = cancellation::quote(&w.ctx, &key2, plus(ASKED, 180))
        .await
        .unwrap();
    assert!(q.can_cancel, "{q:?}");
    let report = w.run_due(at(SAKURA_EFFECTIVE_AT)).await;
    assert_eq!(
        report.cancellations.completed, 1,
        "only the approved one completes"
    );
    assert_eq!(w.line(&key2).await.state, LineState::Active);
}

// ---------------------------------------------------------------------------
// 5. The effective date from the issue
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_request_on_friday_2026_05_01_at_17_30_jst_takes_effect_on_2026_05_08() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(40, "JP10-DV")]).await;
    let key = lines::parse_line_key(&iccid(40)).unwrap();
    lines::register(
        w.s(),
        w.book(),
        &key,
        &form(PASSPORT, "en"),
        clerk(at("2026-04-30T01:00:00Z")),
    )
    .await
    .unwrap();
    lines::activate(w.s(), w.book(), &key, clerk(at("2026-04-30T02:00:00Z")))
        .await
        .unwrap();

    // Before the 17:00 cut-off Friday counts: Fri 05-01 + 1 business day (after Golden Week) = Thu 05-07.
    let before = cancellation::quote(&w.ctx, &key, at("2026-05-01T07:59:59Z"))
        .await
        .unwrap();
    assert_eq!(
        before.effective_date_if_submitted_now,
        Some(date(2026, 5, 7))
    );
    let quoted = cancellation::quote(&w.ctx, &key, at("2026-05-01T08:30:00Z"))
        .await
        .unwrap();
    assert_eq!(
        quoted.effective_date_if_submitted_now,
        Some(date(2026, 5, 8))
    );

    let request = w
        .cancel_by_hotline(&key, PASSPORT, at("2026-05-01T08:30:00Z"))
        .await;
    assert_eq!(request.request.effective_date, Some(date(2026, 5, 8)));
    assert_eq!(
        request.request.effective_at,
        Some(at("2026-05-07T15:00:00Z")),
        "00:00 JST on 05-08"
    );
    let notes: Vec<String> = w
        .s()
        .request_events(request.request.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.note)
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("effective 2026-05-08")),
        "{notes:?}"
    );
    let approved: Vec<serde_json::Value> = w
        .notifications()
        .await
        .into_iter()
        .filter(|(e, _)| e == "cancellation_approved")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(approved[0]["params"]["effective_date"], "2026-05-08");

    // It takes effect at 00:00 JST on 05-08, not a second before.
    assert_eq!(
        w.run_due(at("2026-05-07T14:59:59Z"))
            .await
            .cancellations
            .completed,
        0
    );
    assert_eq!(w.line(&key).await.state, LineState::PendingTermination);
    assert_eq!(
        w.run_due(at("2026-05-07T15:00:00Z"))
            .await
            .cancellations
            .completed,
        1
    );
    let done = w.request(request.request.id).await;
    assert_eq!(done.request.state, RequestState::Completed);
    assert_eq!(done.completed_at, Some(at("2026-05-07T15:00:00Z")));
    assert_eq!(w.line(&key).await.state, LineState::Terminated);
}

// ---------------------------------------------------------------------------
// 6. Completion
// ---------------------------------------------------------------------------

#[tokio::test]
async fn at_the_effective_date_everything_happens_once_with_a_signed_receipt() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(50, "JP10-DV")]).await;
    let key = w.sell(50, PASSPORT, "ja").await;
    let by = clerk(at("2026-05-11T04:00:00Z"));
    lines::top_up(w.s(), w.book(), &key, "1000", by.clone())
        .await
        .unwrap();
    lines::bind_addon(w.s(), w.book(), &key, "ROAMING", by.clone())
        .await
        .unwrap();
    lines::bind_addon(w.s(), w.book(), &key, "FAMILY", by)
        .await
        .unwrap();
    let line = w.line(&key).await;
    let holder = line.holder.unwrap();
    let quoted = cancellation::quote(&w.ctx, &key, at(ASKED))
        .await
        .unwrap()
        .refund
        .unwrap();
    let request = w.cancel_by_hotline(&key, PASSPORT, at(ASKED)).await;
    let id = request.request.id;

    // A second before: nothing.
    let early = w.run_due(plus(SAKURA_EFFECTIVE_AT, -1)).await;
    assert_eq!(early.cancellations.completed, 0);
    assert!(w.wallet_balance(holder).await.is_empty());

    let report = w.run_due(at(SAKURA_EFFECTIVE_AT)).await;
    assert_eq!(report.cancellations.completed, 1);
    let done = w.request(id).await;
    assert_eq!(done.request.state, RequestState::Completed);
    assert_eq!(done.completed_at, Some(at(SAKURA_EFFECTIVE_AT)));
    let refund = 1000 + 1000 - 500 - 300; // plan credit + top-up - ROAMING - FAMILY, refunded in full
    assert_eq!(done.refund_total, Some(yen(refund)));
    assert_eq!(quoted.total, yen(refund), "the quote said so beforehand");
    assert_eq!(items(&done), [("prepaid_balance".to_string(), refund)]);

    let line = w.line(&key).await;
    assert_eq!(line.state, LineState::Terminated);
    assert_eq!(line.ended_at, Some(at(SAKURA_EFFECTIVE_AT)));
    let addons = w.s().addons(line.id).await.unwrap();
    assert_eq!(addons.len(), 2);
    assert!(
        addons
            .iter()
            .all(|a| a.unbound_at == Some(at(SAKURA_EFFECTIVE_AT))),
        "{addons:?}"
    );
    let buckets = w.s().buckets(line.id).await.unwrap();
    assert!(
        !buckets.is_empty() && buckets.iter().all(|b| b.remaining == 0),
        "{buckets:?}"
    );
    let closing: i64 = w
        .s()
        .balance_entries(line.id)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == "cancellation" && e.unit == "JPY")
        .map(|e| e.amount)
        .sum();
    assert_eq!(
        closing, -refund,
        "the money left the line as it went to the wallet"
    );
    let history: Vec<(String, String)> = w
        .s()
        .events(line.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.actor_kind))
        .collect();
    let tail: Vec<(&str, &str)> = history[history.len() - 4..]
        .iter()
        .map(|(k, a)| (k.as_str(), a.as_str()))
        .collect();
    assert_eq!(
        tail,
        [
            ("begin_termination", "agent"),
            ("terminate", "system"),
            ("addon_unbind", "system"),
            ("addon_unbind", "system")
        ]
    );

    // The refund is in the e-wallet, once.
    let view = wallet::show(w.s(), holder).await.unwrap();
    assert_eq!(view.balance, [yen(refund)]);
    assert_eq!(view.history.len(), 1);
    assert_eq!(view.history[0].kind, "refund_credit");

    // The receipt: numbered, signed, saying what was unbound and refunded.
    assert_eq!(
        done.receipt_number.as_deref(),
        Some("EX-SAKURA-2026-000001")
    );
    let (document, content) = w.receipt(&done).await;
    assert_eq!(content.request_id, id);
    assert_eq!(content.effective_date, date(2026, 5, 13));
    assert_eq!(content.channel, "hotline");
    assert_eq!(content.line.iccid, iccid(50));
    assert_eq!(content.line.plan, "JP10-DV");
    assert_eq!(content.language, "ja");
    assert!(content.customer.starts_with("C-") && !content.customer.contains("Alex"));
    let unbound: Vec<&str> = content
        .unbound_addons
        .iter()
        .map(|a| a.code.as_str())
        .collect();
    assert_eq!(unbound, ["ROAMING", "FAMILY"]);
    assert_eq!(content.unbound_addons[0].name, "International roaming");
    assert_eq!(receipt_items(&content), [refund]);
    assert_eq!(content.refund.total, yen(refund));
    assert_eq!(content.refund.credited_to, "e-wallet");
    // One character changed and the receipt no longer verifies.
    let edited = document.replacen("EX-SAKURA-2026-000001", "EX-SAKURA-2026-000002", 1);
    assert!(receipts::verify(&edited, &w.ctx.keys.receipts.verifying_key()).is_err());

    // The network was told (the line was provisioned at activation); the customer is told in
    // Japanese, and every side effect has left.
    assert_eq!(
        w.network_journal(&key).await,
        ["provision", "bar", "deprovision"]
    );
    assert_eq!(w.s().outbox_pending().await.unwrap(), 0);
    let told = w.notifications().await;
    let events: Vec<&str> = told.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        events,
        [
            "registration",
            "activation",
            "cancellation_received",
            "cancellation_approved",
            "cancellation_completed",
            "refund_credited"
        ]
    );
    assert!(told
        .iter()
        .all(|(_, p)| p["language"] == "ja" && p["customer"] == holder.get()));

    // Running again changes nothing.
    let again = w.run_due(plus(SAKURA_EFFECTIVE_AT, 3600)).await;
    assert_eq!(again.cancellations, Default::default());
    assert_eq!(again.outbox.delivered, 0);
    assert_eq!(w.wallet_balance(holder).await, [yen(refund)]);
    assert_eq!(wallet::show(w.s(), holder).await.unwrap().history.len(), 1);
    assert_eq!(
        w.s()
            .receipt_numbers(&CarrierCode::new("EX-SAKURA"))
            .await
            .unwrap(),
        [(2026, 1)]
    );
    assert_eq!(w.network(&key).await, ["bar", "deprovision"]);
    assert_eq!(w.notifications().await.len(), 6);

    let totals = w.s().ledger_totals().await.unwrap();
    assert_eq!(totals, [("JPY".to_string(), 0)]);
}

// ---------------------------------------------------------------------------
// 7. Refund rules through the whole path
// ---------------------------------------------------------------------------

#[tokio::test]
async fn ex_fuji_refunds_pro_rata_including_the_unused_plan_price() {
    let w = world().await;
    w.stock("EX-FUJI", &[(60, "JP10-DV")]).await;
    let key = w.sell(60, PASSPORT, "en").await;
    lines::top_up(
        w.s(),
        w.book(),
        &key,
        "1000",
        clerk(at("2026-05-11T04:00:00Z")),
    )
    .await
    .unwrap();
    let line = w.line(&key).await;
    let holder = line.holder.unwrap();

    // EX-FUJI's hotline asks for knowledge and possession: the passport alone is not enough.
    let submitted = cancellation::submit(
        &w.ctx,
        &key,
        Channel::Hotline,
        Some(knowledge(PASSPORT)),
        agent(at(ASKED)),
    )
    .await
    .unwrap();
    let id = submitted.request.request.id;
    assert_eq!(submitted.request.request.state, RequestState::Submitted);
    assert_eq!(submitted.request.request.passed, [IdentityCheck::Knowledge]);
    cancellation::send_code(&w.ctx, id, false, plus(ASKED, 30))
        .await
        .unwrap();
    let code = w
        .codes
        .last_code_to(&CodeDestination::Line(line.msisdn.to_string()))
        .unwrap();
    let approved = cancellation::check_code(&w.ctx, id, &code, agent(plus(ASKED, 90)))
        .await
        .unwrap();
    assert_eq!(approved.request.state, RequestState::Approved);
    assert_eq!(
        approved.request.effective_date,
        Some(date(2026, 5, 14)),
        "2 business days"
    );
    assert_eq!(approved.request.effective_at, Some(at(FUJI_EFFECTIVE_AT)));

    // EX-FUJI does not bar while pending.
    w.run_due(plus(ASKED, 120)).await;
    assert!(w.network(&key).await.is_empty());

    // By hand: valid to 2026-05-21 00:00 JST; at 2026-05-14 00:00 JST 7 of 10 days remain.
    // Balance 1500 credit + 1000 top-up = 2500 → 2500 × 7/10 = 1750.
    // Plan price 4200 → 4200 × 7/10 = 2940. Total 4690.
    let expected = 1750 + 2940;
    let quoted = cancellation::quote(&w.ctx, &key, plus(ASKED, 120))
        .await
        .unwrap();
    assert!(!quoted.can_cancel);
    assert_eq!(
        w.run_due(at(FUJI_EFFECTIVE_AT))
            .await
            .cancellations
            .completed,
        1
    );
    let done = w.request(id).await;
    assert_eq!(done.refund_total, Some(yen(expected)));
    assert_eq!(
        items(&done),
        [
            ("prepaid_balance".to_string(), 1750),
            ("unused_plan_price".to_string(), 2940)
        ]
    );
    assert_eq!(w.wallet_balance(holder).await, [yen(expected)]);
    assert_eq!(done.receipt_number.as_deref(), Some("EX-FUJI-2026-000001"));
    let (_, content) = w.receipt(&done).await;
    assert_eq!(content.refund.rule, "pro_rata");
    assert_eq!(receipt_items(&content), [1750, 2940]);
    assert_eq!(content.refund.total, yen(expected));
    assert_eq!(w.network(&key).await, ["deprovision"]);
    assert_eq!(
        w.s().ledger_totals().await.unwrap(),
        [("JPY".to_string(), 0)]
    );
}

#[tokio::test]
async fn ex_koi_takes_a_fee_and_pays_nothing_below_the_minimum() {
    let w = world().await;
    w.stock("EX-KOI", &[(70, "JP31-DV"), (71, "JP31-DV")]).await;
    let above = w.sell(70, PASSPORT, "en").await;
    let below = w.sell(71, "AB7654321", "en").await;
    // Line 71 spends 600 of its 2000 credit on calls.
    lines::record_usage(
        w.s(),
        w.book(),
        &below,
        Usage::Money(yen(600)),
        Attribution::system("usage", at("2026-05-11T06:00:00Z"), "calls"),
    )
    .await
    .unwrap();
    let holder_above = w.line(&above).await.holder.unwrap();
    let holder_below = w.line(&below).await.holder.unwrap();

    let a = w.cancel_by_hotline(&above, PASSPORT, at(ASKED)).await;
    let b = w.cancel_by_hotline(&below, "AB7654321", at(ASKED)).await;
    assert_eq!(
        a.request.effective_date,
        Some(date(2026, 5, 15)),
        "3 business days"
    );
    assert_eq!(b.request.effective_at, Some(at(KOI_EFFECTIVE_AT)));
    // By hand: 2000 - 550 = 1450 (≥ 1000, paid); 1400 - 550 = 850 (< 1000, not paid).

    assert_eq!(
        w.run_due(at(KOI_EFFECTIVE_AT))
            .await
            .cancellations
            .completed,
        2
    );
    let a = w.request(a.request.id).await;
    let b = w.request(b.request.id).await;
    assert_eq!(a.refund_total, Some(yen(1450)));
    assert_eq!(
        items(&a),
        [
            ("prepaid_balance".to_string(), 2000),
            ("fee".to_string(), -550)
        ]
    );
    assert_eq!(w.wallet_balance(holder_above).await, [yen(1450)]);

    assert_eq!(b.refund_total, Some(yen(0)));
    assert_eq!(
        items(&b),
        [
            ("prepaid_balance".to_string(), 1400),
            ("fee".to_string(), -550),
            ("below_minimum".to_string(), -850)
        ]
    );
    let view = wallet::show(w.s(), holder_below).await.unwrap();
    assert!(
        view.balance.is_empty() && view.history.is_empty(),
        "no wallet movement: {view:?}"
    );
    let (_, content) = w.receipt(&b).await;
    assert_eq!(receipt_items(&content), [1400, -550, -850]);
    assert_eq!(content.refund.total, yen(0));
    assert_eq!(content.refund.credited_to, "nothing due");
    let (_, content_a) = w.receipt(&a).await;
    assert_eq!(receipt_items(&content_a), [2000, -550]);
    assert_eq!(w.line(&below).await.state, LineState::Terminated);
    let refunds: Vec<serde_json::Value> = w
        .notifications()
        .await
        .into_iter()
        .filter(|(e, _)| e == "refund_credited")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(refunds.len(), 1, "only the paid refund is announced");
    assert_eq!(refunds[0]["customer"], holder_above.get());
    assert_eq!(
        w.s().ledger_totals().await.unwrap(),
        [("JPY".to_string(), 0)]
    );
}

#[tokio::test]
async fn ex_koi_charges_late_usage_to_the_wallet_and_never_recomputes_the_paid_refund() {
    let w = world().await;
    w.stock("EX-KOI", &[(72, "JP31-DV")]).await;
    let key = w.sell(72, PASSPORT, "en").await;
    let holder = w.line(&key).await.holder.unwrap();
    let asked = w.cancel_by_hotline(&key, PASSPORT, at(ASKED)).await;
    assert_eq!(
        w.run_due(at(KOI_EFFECTIVE_AT))
            .await
            .cancellations
            .completed,
        1
    );
    let paid = w.request(asked.request.id).await;
    assert_eq!(paid.refund_total, Some(yen(1450)));
    assert_eq!(w.wallet_balance(holder).await, [yen(1450)]);
    // The host network's file arrives after the refund: calls made while the line was active.
    let late = |id: &str, secs: u64| usage::UsageRecord {
        record_id: id.into(),
        line: key.clone(),
        service: Service::Voice,
        started_at: at("2026-05-12T03:00:00Z"),
        ended_at: None,
        volume: secs,
        network: None,
        rating_group: None,
    };
    let by = Attribution::system("usage file", at("2026-05-20T00:00:00Z"), "late CDRs");
    // Two minutes at 45 JPY a minute: 90 JPY, taken from the refund still in the wallet.
    let counted = usage::count(w.s(), w.book(), &late("K1", 120), "cdr", &by)
        .await
        .unwrap();
    assert_eq!(
        counted,
        usage::Counted::ChargedToWallet {
            charged: yen(90),
            written_off: None
        }
    );
    assert_eq!(w.wallet_balance(holder).await, [yen(1360)]);
    // The same record again changes nothing.
    let again = usage::count(w.s(), w.book(), &late("K1", 120), "cdr", &by)
        .await
        .unwrap();
    assert_eq!(again, usage::Counted::AlreadyCounted);
    assert_eq!(w.wallet_balance(holder).await, [yen(1360)]);
    // Paid out, the wallet holds nothing: a later record is kept and written off.
    wallet::payout(
        w.s(),
        holder,
        yen(1360),
        "card ****4242",
        "payout-72",
        at("2026-05-21T00:00:00Z"),
    )
    .await
    .unwrap();
    let counted = usage::count(w.s(), w.book(), &late("K2", 60), "cdr", &by)
        .await
        .unwrap();
    assert_eq!(counted, usage::Counted::WrittenOff { value: yen(45) });
    assert!(w.wallet_balance(holder).await.iter().all(|m| m.is_zero()));
    // The refund paid and its receipt are what they were.
    let after = w.request(asked.request.id).await;
    assert_eq!(after.refund_total, Some(yen(1450)));
    let (_, content) = w.receipt(&after).await;
    assert_eq!(content.refund.total, yen(1450));
    assert_eq!(
        w.s().ledger_totals().await.unwrap(),
        [("JPY".to_string(), 0)]
    );
}

// ---------------------------------------------------------------------------
// 8. After
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_cancelled_line_stays_cancelled_and_receipt_numbers_have_no_gaps() {
    let w = world().await;
    let rows: Vec<(u64, &str)> = (80..84).map(|n| (n, "JP10-DV")).collect();
    w.stock("EX-SAKURA", &rows).await;
    let mut keys = Vec::new();
    for (n, _) in &rows {
        keys.push(w.sell(*n, &format!("TZ{n:07}"), "en").await);
    }
    // Three take effect on 05-13, the fourth (asked a day later) on 05-14.
    let mut requests = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let when = if i < 3 {
            at(ASKED)
        } else {
            plus(ASKED, 86_400)
        };
        let passport = format!("TZ{:07}", rows[i].0);
        requests.push(w.cancel_by_hotline(key, &passport, when).await.request.id);
    }
    assert_eq!(
        w.run_due(at(SAKURA_EFFECTIVE_AT))
            .await
            .cancellations
            .completed,
        3
    );
    assert_eq!(
        w.run_due(at(SAKURA_EFFECTIVE_AT))
            .await
            .cancellations
            .completed,
        0
    );
    assert_eq!(
        w.run_due(plus(SAKURA_EFFECTIVE_AT, 86_400))
            .await
            .cancellations
            .completed,
        1
    );
    assert_eq!(
        w.s()
            .receipt_numbers(&CarrierCode::new("EX-SAKURA"))
            .await
            .unwrap(),
        [(2026, 1), (2026, 2), (2026, 3), (2026, 4)],
        "never repeated, never skipped"
    );
    let mut numbers = Vec::new();
    for id in &requests {
        let record = w.request(*id).await;
        w.receipt(&record).await;
        numbers.push(record.receipt_number.unwrap());
    }
    numbers.sort();
    assert_eq!(
        numbers,
        [
            "EX-SAKURA-2026-000001",
            "EX-SAKURA-2026-000002",
            "EX-SAKURA-2026-000003",
            "EX-SAKURA-2026-000004"
        ]
    );

    // The terminated line can do nothing any more; each refusal names the rule.
    let key = &keys[0];
    let later = at("2026-05-20T01:00:00Z");
    let before = w.line(key).await;
    match lines::activate(w.s(), w.book(), key, clerk(later)).await {
        Err(ServiceError::Line(LineError::NeverReactivated {
            state: LineState::Terminated,
        })) => {}
        other => panic!("reactivation: {other:?}"),
    }
    let top_up = lines::top_up(w.s(), w.book(), key, "1000", clerk(later)).await;
    assert!(
        matches!(
            top_up,
            Err(ServiceError::Balance(BalanceError::LineNotActive(
                LineState::Terminated
            )))
        ),
        "{top_up:?}"
    );
    assert!(top_up
        .unwrap_err()
        .to_string()
        .contains("only an active line can be topped up"));
    let bind = lines::bind_addon(w.s(), w.book(), key, "ROAMING", clerk(later)).await;
    assert!(
        matches!(
            bind,
            Err(ServiceError::Balance(BalanceError::LineNotActive(
                LineState::Terminated
            )))
        ),
        "{bind:?}"
    );
    let transfer =
        lines::register(w.s(), w.book(), key, &form("XY9999999", "en"), clerk(later)).await;
    match transfer {
        Err(e @ ServiceError::Line(LineError::TransferForbidden)) => {
            assert!(e.to_string().contains("never be transferred"), "{e}")
        }
        other => panic!("transfer: {other:?}"),
    }
    let same_holder =
        lines::register(w.s(), w.book(), key, &form("TZ0000080", "en"), clerk(later)).await;
    match same_holder {
        Err(e @ ServiceError::Line(LineError::NeverReactivated { .. })) => {
            assert!(e.to_string().contains("can never be used again"), "{e}")
        }
        other => panic!("re-registration: {other:?}"),
    }
    for channel in [Channel::Hotline, Channel::Web, Channel::Store] {
        let k = (channel == Channel::Hotline).then(|| knowledge("TZ0000080"));
        match cancellation::submit(&w.ctx, key, channel, k, agent(later)).await {
            Err(
                e @ ServiceError::Cancellation(CancellationError::LineEnded(LineState::Terminated)),
            ) => {
                assert!(e.to_string().contains("nothing left to cancel"), "{e}")
            }
            other => panic!("{channel:?}: {other:?}"),
        }
    }
    let after = w.line(key).await;
    assert_eq!(
        (after.state, after.version, after.holder),
        (LineState::Terminated, before.version, before.holder)
    );
    assert_eq!(w.s().requests_for_line(after.id).await.unwrap().len(), 1);
    assert!(w
        .s()
        .buckets(after.id)
        .await
        .unwrap()
        .iter()
        .all(|b| b.remaining == 0));
}

// ---------------------------------------------------------------------------
// 9. Two channels at once
// ---------------------------------------------------------------------------

#[tokio::test]
async fn two_concurrent_submissions_open_one_request() {
    let w = world().await;
    let rows: Vec<(u64, &str)> = (90..96).map(|n| (n, "JP10-DV")).collect();
    w.stock("EX-SAKURA", &rows).await;
    for (n, _) in &rows {
        let key = w.sell(*n, PASSPORT, "en").await;
        let (web, hotline) = tokio::join!(
            cancellation::submit(&w.ctx, &key, Channel::Web, None, customer(at(ASKED))),
            cancellation::submit(
                &w.ctx,
                &key,
                Channel::Hotline,
                Some(knowledge(PASSPORT)),
                agent(at(ASKED))
            ),
        );
        let (web, hotline) = (web.unwrap(), hotline.unwrap());
        assert_eq!(
            web.request.request.id, hotline.request.request.id,
            "line {n}: the same request"
        );
        assert_eq!(
            u8::from(web.created) + u8::from(hotline.created),
            1,
            "line {n}: exactly one created it"
        );
        let line = w.line(&key).await;
        let all = w.s().requests_for_line(line.id).await.unwrap();
        assert_eq!(all.len(), 1, "line {n}");
        let open = w.s().open_request_for_line(line.id).await.unwrap().unwrap();
        assert_eq!(open.request.id, web.request.request.id);
        // The line's state agrees with whichever request won.
        let expected = if open.request.state == RequestState::Approved {
            LineState::PendingTermination
        } else {
            LineState::Active
        };
        assert_eq!(line.state, expected, "line {n}");

        // The database itself refuses a second open request for the line.
        let mut second = open.request.clone();
        second.id = RequestId::new(0);
        second.state = RequestState::Submitted;
        second.channel = Channel::Store;
        let duplicate = w
            .s()
            .apply_request(&RequestChange::new(second, &CarrierCode::new("EX-SAKURA")))
            .await;
        assert!(
            matches!(duplicate, Err(StoreError::Duplicate(_))),
            "line {n}: {duplicate:?}"
        );
        assert_eq!(w.s().requests_for_line(line.id).await.unwrap().len(), 1);
    }
}

// ---------------------------------------------------------------------------
// 10. Withdrawal
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_withdrawal_before_the_effective_date_puts_the_line_back() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(100, "JP10-DV"), (101, "JP10-DV")])
        .await;
    let key = w.sell(100, PASSPORT, "en").await;
    let holder = w.line(&key).await.holder.unwrap();
    let first = w
        .cancel_by_hotline(&key, PASSPORT, at(ASKED))
        .await
        .request
        .id;
    w.run_due(plus(ASKED, 10)).await;
    assert_eq!(w.network(&key).await, ["bar"]);

    let withdrawn = cancellation::withdraw(&w.ctx, first, customer(at("2026-05-12T05:00:00Z")))
        .await
        .unwrap();
    assert_eq!(withdrawn.request.state, RequestState::Withdrawn);
    let line = w.line(&key).await;
    assert_eq!(line.state, LineState::Active);
    assert_eq!(line.state_before_pending, None);
    let report = w.run_due(at("2026-05-12T05:00:01Z")).await;
    assert_eq!(report.outbox.dead, 0);
    assert_eq!(w.network(&key).await, ["bar", "unbar"]);
    assert!(w
        .notifications()
        .await
        .iter()
        .any(|(e, _)| e == "cancellation_withdrawn"));
    // Withdrawing twice is refused.
    let twice = cancellation::withdraw(&w.ctx, first, customer(at("2026-05-12T05:01:00Z"))).await;
    assert!(
        matches!(
            twice,
            Err(ServiceError::Cancellation(
                CancellationError::NotAllowed { .. }
            ))
        ),
        "{twice:?}"
    );

    // A withdrawn request never completes; the line lives on.
    let report = w.run_due(at(SAKURA_EFFECTIVE_AT)).await;
    assert_eq!(report.cancellations.completed, 0);
    let record = w.request(first).await;
    assert_eq!(record.request.state, RequestState::Withdrawn);
    assert_eq!(
        (
            record.completed_at,
            record.receipt_number,
            record.refund_total
        ),
        (None, None, None)
    );
    assert_eq!(w.line(&key).await.state, LineState::Active);
    assert!(w.wallet_balance(holder).await.is_empty());

    // Asked again, the customer gets a new request; at its effective instant it is too late.
    let second = w
        .cancel_by_hotline(&key, PASSPORT, at("2026-05-13T01:00:00Z"))
        .await;
    assert_ne!(second.request.id, first);
    let effective_at = second.request.effective_at.unwrap();
    assert_eq!(effective_at, at("2026-05-13T15:00:00Z"));
    match cancellation::withdraw(&w.ctx, second.request.id, customer(effective_at)).await {
        Err(e @ ServiceError::Cancellation(CancellationError::TooLateToWithdraw(_))) => {
            assert!(e.to_string().contains("2026-05-14"), "{e}")
        }
        other => panic!("expected too late, got {other:?}"),
    }
    assert_eq!(w.line(&key).await.state, LineState::PendingTermination);
    w.run_due(effective_at).await;
    assert_eq!(
        w.request(second.request.id).await.request.state,
        RequestState::Completed
    );
    let late = cancellation::withdraw(
        &w.ctx,
        second.request.id,
        customer(plus("2026-05-13T15:00:00Z", 60)),
    )
    .await;
    assert!(
        matches!(
            late,
            Err(ServiceError::Cancellation(
                CancellationError::NotAllowed { .. }
            ))
        ),
        "{late:?}"
    );
    assert_eq!(
        w.network(&key).await,
        ["bar", "unbar", "bar", "deprovision"]
    );
    assert_eq!(
        w.request(first).await.request.state,
        RequestState::Withdrawn
    );

    // A web request withdrawn before anyone verified it leaves the line untouched.
    let key2 = w.sell(101, "AB7654321", "en").await;
    let before = w.line(&key2).await;
    let id = cancellation::submit(&w.ctx, &key2, Channel::Web, None, customer(at(ASKED)))
        .await
        .unwrap()
        .request
        .request
        .id;
    let gone = cancellation::withdraw(&w.ctx, id, customer(plus(ASKED, 60)))
        .await
        .unwrap();
    assert_eq!(gone.request.state, RequestState::Withdrawn);
    let after = w.line(&key2).await;
    assert_eq!((after.state, after.version), (before.state, before.version));
    assert!(w.network(&key2).await.is_empty());
}

// ---------------------------------------------------------------------------
// 11. Payouts
// ---------------------------------------------------------------------------

/// Rows read straight from the database, as an operator with a SQL client would see them.
async fn read<T>(db: &support::TestDb, sql: &str, bind: &str) -> Vec<T>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
    if db.url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let rows = sqlx::query_as(sql)
            .bind(bind)
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        rows
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let rows = sqlx::query_as(sql)
            .bind(bind)
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        rows
    }
}

async fn payout_state(db: &support::TestDb, key: &str) -> (String, Option<String>) {
    let sql = "SELECT state, external_ref FROM payouts WHERE idempotency_key = $1";
    let mut rows = read(db, sql, key).await;
    assert_eq!(rows.len(), 1, "one payout per key");
    rows.remove(0)
}

/// A completed EX-SAKURA cancellation that credited 1200 JPY; returns the customer.
async fn refunded(w: &World, n: u64) -> CustomerId {
    w.stock("EX-SAKURA", &[(n, "JP10-DV")]).await;
    let key = w.sell(n, PASSPORT, "en").await;
    lines::top_up(
        w.s(),
        w.book(),
        &key,
        "1000",
        clerk(at("2026-05-11T04:00:00Z")),
    )
    .await
    .unwrap();
    lines::bind_addon(
        w.s(),
        w.book(),
        &key,
        "ROAMING",
        clerk(at("2026-05-11T04:00:00Z")),
    )
    .await
    .unwrap();
    lines::bind_addon(
        w.s(),
        w.book(),
        &key,
        "FAMILY",
        clerk(at("2026-05-11T04:00:00Z")),
    )
    .await
    .unwrap();
    w.cancel_by_hotline(&key, PASSPORT, at(ASKED)).await;
    assert_eq!(
        w.run_due(at(SAKURA_EFFECTIVE_AT))
            .await
            .cancellations
            .completed,
        1
    );
    let holder = w.line(&key).await.holder.unwrap();
    assert_eq!(w.wallet_balance(holder).await, [yen(1200)]);
    holder
}

#[tokio::test]
async fn a_payout_leaves_the_wallet_once_per_key_and_never_more_than_it_holds() {
    let w = world().await;
    let holder = refunded(&w, 110).await;
    let now = at("2026-05-13T02:00:00Z");

    wallet::payout(w.s(), holder, yen(500), "card ****4242", "po-1", now)
        .await
        .unwrap();
    assert_eq!(w.wallet_balance(holder).await, [yen(700)]);
    assert_eq!(
        payout_state(&w.app.db, "payout:po-1").await,
        ("requested".to_string(), None)
    );
    let report = w.run_due(plus("2026-05-13T02:00:00Z", 1)).await;
    assert_eq!(report.outbox.dead, 0);
    assert_eq!(
        payout_state(&w.app.db, "payout:po-1").await,
        ("sent".to_string(), Some("recorded:payout:po-1".to_string()))
    );

    // The same key again is refused as already requested; nothing moves.
    match wallet::payout(
        w.s(),
        holder,
        yen(500),
        "card ****4242",
        "po-1",
        plus("2026-05-13T02:00:00Z", 60),
    )
    .await
    {
        Err(ServiceError::Invalid(msg)) => assert!(msg.contains("already requested"), "{msg}"),
        other => panic!("expected the repeat to be refused, got {other:?}"),
    }
    assert_eq!(w.wallet_balance(holder).await, [yen(700)]);

    // More than the wallet holds is refused and changes nothing.
    let history = wallet::show(w.s(), holder).await.unwrap().history.len();
    match wallet::payout(
        w.s(),
        holder,
        yen(701),
        "card ****4242",
        "po-2",
        plus("2026-05-13T02:00:00Z", 120),
    )
    .await
    {
        Err(ServiceError::Invalid(msg)) => assert!(msg.contains("700 JPY"), "{msg}"),
        other => panic!("expected an overdraw to be refused, got {other:?}"),
    }
    assert_eq!(w.wallet_balance(holder).await, [yen(700)]);
    assert_eq!(
        wallet::show(w.s(), holder).await.unwrap().history.len(),
        history
    );
    let report = w.run_due(plus("2026-05-13T02:00:00Z", 180)).await;
    assert_eq!(report.outbox.delivered, 0, "no payout was queued");

    // The rest can be paid out under a new key.
    wallet::payout(
        w.s(),
        holder,
        yen(700),
        "card ****4242",
        "po-3",
        plus("2026-05-13T02:00:00Z", 240),
    )
    .await
    .unwrap();
    assert_eq!(w.wallet_balance(holder).await, [yen(0)]);
    let kinds: Vec<String> = wallet::show(w.s(), holder)
        .await
        .unwrap()
        .history
        .into_iter()
        .map(|p| p.kind)
        .collect();
    assert_eq!(kinds, ["refund_credit", "payout_debit", "payout_debit"]);
    assert_eq!(
        w.s().ledger_totals().await.unwrap(),
        [("JPY".to_string(), 0)]
    );
}

// ---------------------------------------------------------------------------
// Bugs found while writing these tests
// ---------------------------------------------------------------------------

/// The quote's refund is what completion pays, also when validity ends before the effective date.
#[tokio::test]
async fn the_quoted_refund_is_what_completion_pays_on_the_last_valid_day() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(120, "JP10-DV")]).await;
    let key = w.sell(120, PASSPORT, "en").await;
    // Wed 2026-05-20 10:00 JST, the last valid day: the cancellation takes effect 2026-05-21
    // 00:00 JST, the instant validity (and the plan credit with it) ends.
    let asked = at("2026-05-20T01:00:00Z");
    let q = cancellation::quote(&w.ctx, &key, asked).await.unwrap();
    assert_eq!(q.effective_date_if_submitted_now, Some(date(2026, 5, 21)));
    let quoted = q.refund.unwrap().total;
    let request = w.cancel_by_hotline(&key, PASSPORT, asked).await;
    w.run_due(request.request.effective_at.unwrap()).await;
    let paid = w.request(request.request.id).await.refund_total.unwrap();
    assert_eq!(
        quoted, paid,
        "the quote promised {quoted}, completion paid {paid}"
    );
}

#[tokio::test]
async fn a_retried_payout_is_recognised_by_its_key_after_the_balance_dropped() {
    let w = world().await;
    let holder = refunded(&w, 130).await;
    let now = at("2026-05-13T02:00:00Z");
    wallet::payout(w.s(), holder, yen(1000), "card ****4242", "po-big", now)
        .await
        .unwrap();
    match wallet::payout(
        w.s(),
        holder,
        yen(1000),
        "card ****4242",
        "po-big",
        plus("2026-05-13T02:00:00Z", 5),
    )
    .await
    {
        Err(ServiceError::Invalid(msg)) => assert!(msg.contains("already requested"), "{msg}"),
        other => panic!("expected the retry to be recognised, got {other:?}"),
    }
    assert_eq!(w.wallet_balance(holder).await, [yen(200)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_payouts_never_overdraw_the_wallet() {
    let w = world().await;
    let holder = refunded(&w, 140).await;
    let now = at("2026-05-13T02:00:00Z");
    // Four requests of 1000 JPY each, with different keys, against a wallet of 1200 JPY.
    // Warm the pool first so that no request waits for a fresh connection.
    let mut warm = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = w.app.store.clone();
        warm.spawn(async move { wallet::show(store.as_ref(), holder).await.map(|_| ()) });
    }
    while let Some(done) = warm.join_next().await {
        done.unwrap().unwrap();
    }
    let mut payouts = tokio::task::JoinSet::new();
    for k in 0..4 {
        let store = w.app.store.clone();
        payouts.spawn(async move {
            let key = format!("po-{k}");
            wallet::payout(
                store.as_ref(),
                holder,
                yen(1000),
                "card ****4242",
                &key,
                now,
            )
            .await
        });
    }
    let mut paid = 0;
    while let Some(result) = payouts.join_next().await {
        if result.unwrap().is_ok() {
            paid += 1;
        }
    }
    assert_eq!(paid, 1, "a wallet of 1200 JPY pays out 1000 JPY once");
    assert_eq!(w.wallet_balance(holder).await, [yen(200)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_codes_are_still_limited_to_five() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(150, "JP10-DV")]).await;
    let key = w.sell(150, PASSPORT, "en").await;
    let line = w.line(&key).await;
    let id = cancellation::submit(&w.ctx, &key, Channel::Web, None, customer(at(ASKED)))
        .await
        .unwrap()
        .request
        .request
        .id;
    cancellation::send_code(&w.ctx, id, false, at(ASKED))
        .await
        .unwrap();
    let code = w
        .codes
        .last_code_to(&CodeDestination::Line(line.msisdn.to_string()))
        .unwrap();
    // Warm the pool first so that no guess waits for a fresh connection.
    let mut warm = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let ctx = w.ctx.clone();
        warm.spawn(async move { cancellation::load(&ctx, id).await.map(|_| ()) });
    }
    while let Some(done) = warm.join_next().await {
        done.unwrap().unwrap();
    }
    let mut guesses = tokio::task::JoinSet::new();
    for g in 1..=20u32 {
        let ctx = w.ctx.clone();
        let n: u32 = code.parse().unwrap();
        let guess = format!("{:06}", (n + g) % 1_000_000);
        guesses.spawn(async move {
            cancellation::check_code(&ctx, id, &guess, customer(plus(ASKED, 30))).await
        });
    }
    let mut judged = 0;
    while let Some(result) = guesses.join_next().await {
        match result.unwrap() {
            Err(ServiceError::Identity(msg)) if msg.contains("tries left") => judged += 1,
            Err(ServiceError::Identity(msg)) if msg.contains("too many") => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(
        judged <= 4,
        "{judged} wrong guesses were judged as 'try again'; at most 4 may be before the lock"
    );
    let right = cancellation::check_code(&w.ctx, id, &code, customer(plus(ASKED, 40))).await;
    assert!(
        right.is_err(),
        "after 20 wrong guesses the code must be locked: {right:?}"
    );
}

#[tokio::test]
async fn a_request_still_waiting_for_identity_is_rejected_when_its_line_ends_on_its_own() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(95, "JP10-DV")]).await;
    let key = w.sell(95, "TZ9595959", "ja").await;
    // A web request that never gets its code: still waiting when validity and grace run out.
    let submitted = cancellation::submit(&w.ctx, &key, Channel::Web, None, clerk(at(ACTIVATED)))
        .await
        .unwrap();
    assert_eq!(submitted.request.request.state, RequestState::Submitted);
    let line = w.line(&key).await;
    let grace_end = line.grace_ends_at.unwrap();
    w.run_due(grace_end).await;
    let line = w.line(&key).await;
    assert_eq!(line.state.as_str(), "closed");
    let record = w.request(submitted.request.request.id).await;
    assert_eq!(
        record.request.state,
        RequestState::Rejected,
        "nothing is left open"
    );
    assert!(record
        .request
        .reject_reason
        .unwrap()
        .contains("nothing remains to cancel"));
    let told: Vec<_> = w
        .notifications()
        .await
        .into_iter()
        .filter(|(event, _)| event == "cancellation_rejected")
        .collect();
    assert_eq!(told.len(), 1, "the traveller is told, once");
    assert!(w
        .s()
        .open_request_for_line(line.id)
        .await
        .unwrap()
        .is_none());
}
