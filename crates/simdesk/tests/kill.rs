//! Exactly once across crashes: a worker process is killed (SIGKILL) again and again while due
//! cancellations complete; afterwards every request completed once, every refund was credited
//! once, the ledger balances and no receipt number is skipped or repeated.

mod support;

use jiff::Timestamp;
use simdesk::receipts;
use simdesk::services::cancellation;
use simdesk::services::import::{import_lines, ImportRequest, Progress};
use simdesk::services::lines;
use simdesk::services::policies::{load_policies, PolicyBook};
use simdesk::services::ServiceContext;
use simdesk::store::LineKey;
use simdesk_domain::attribution::{Actor, Attribution, Channel};
use simdesk_domain::cancellation::RequestState;
use simdesk_domain::customer::RegistrationForm;
use simdesk_domain::ids::{CarrierCode, Iccid};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{fresh_db, policies_dir};

const LINES: u64 = 500;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn ops(when: &str, why: &str) -> Attribution {
    Attribution::new(
        Actor::operator("kill-test"),
        Channel::Operator,
        at(when),
        why,
    )
}

fn iccid(n: u64) -> String {
    Iccid::from_body(&format!("89811077{n:010}"))
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_workers_complete_every_cancellation_exactly_once() {
    let db = fresh_db().await;
    let store = db.store.clone();
    let s = store.as_ref();
    let data_dir = tempfile::tempdir().unwrap();
    load_policies(s, &policies_dir(), at("2026-11-01T00:00:00Z"))
        .await
        .unwrap();
    let book = PolicyBook::load(s).await.unwrap();

    let mut csv = String::from("iccid,imsi,msisdn,plan\n");
    for n in 0..LINES {
        csv.push_str(&format!(
            "{},44010{:010},080{:08},JP10-DV\n",
            iccid(n),
            3_000_000 + n,
            30_000_000 + n
        ));
    }
    let quiet = |_: u64| {};
    let request = ImportRequest {
        carrier: &CarrierCode::new("EX-SAKURA"),
        source_name: "kill.csv",
        input: csv.as_bytes(),
        skip_invalid: false,
        by: ops("2026-11-01T00:00:00Z", "stock"),
    };
    import_lines(
        s,
        &book,
        request,
        Progress {
            checked: &quiet,
            written: &quiet,
        },
    )
    .await
    .unwrap();

    let keys_dir = db.keys_dir();
    let ctx = support::start_app(&db, support::AppOptions::new())
        .await
        .ctx;
    let verifying = ctx.keys.receipts.verifying_key();
    for n in 0..LINES {
        let key = LineKey::Iccid(iccid(n).parse().unwrap());
        let form = RegistrationForm {
            full_name: format!("Kill Test {n}"),
            passport_number: format!("KT{n:07}"),
            nationality: "GB".into(),
            birth_date: "1990-01-01".into(),
            phone: "+44 7700 900123".into(),
            email: format!("k{n}@example.com"),
            language: "en".into(),
        };
        lines::register(s, &book, &key, &form, ops("2026-11-20T00:00:00Z", "sale"))
            .await
            .unwrap();
        lines::activate(s, &book, &key, ops("2026-11-24T00:00:00Z", "first use"))
            .await
            .unwrap();
        // Every other line gets a top-up, so refunds differ.
        if n % 2 == 0 {
            lines::top_up(s, &book, &key, "500", ops("2026-11-24T01:00:00Z", "top-up"))
                .await
                .unwrap();
        }
        let submitted = cancellation::submit(
            &ctx,
            &key,
            Channel::Operator,
            None,
            ops("2026-11-25T01:00:00Z", "leaving Japan"),
        )
        .await
        .unwrap();
        assert_eq!(submitted.request.request.state, RequestState::Approved);
    }

    // EX-SAKURA: one business day after Wed 2026-11-25 → Thu 2026-11-26, from 00:00 JST.
    let later = "2026-11-26T00:00:00Z";
    let binary = env!("CARGO_BIN_EXE_simdesk");
    let mut kills = 0;
    for round in 0..60 {
        let mut child = Command::new(binary)
            .env("SIMDESK_KEYS_DIR", &keys_dir)
            .args([
                "--db",
                &db.url,
                "--data-dir",
                data_dir.path().to_str().unwrap(),
                "--now",
                later,
                "jobs",
                "work",
                "--every",
                "1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a worker");
        // Vary the moment of death so it lands inside transactions, between them and at start-up.
        tokio::time::sleep(Duration::from_millis(150 + (round * 97 % 500) as u64)).await;
        child.kill().expect("SIGKILL the worker");
        child.wait().unwrap();
        kills += 1;
        let open = count_open(&ctx).await;
        eprintln!("kill {kills}: {open} cancellations still due");
        if open == 0 {
            break;
        }
    }
    // Unhurried runs finish whatever the last kill interrupted. A side effect whose worker died
    // holding its lease waits for the lease to lapse (on the real clock), then goes out once.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let status = Command::new(binary)
            .env("SIMDESK_KEYS_DIR", &keys_dir)
            .args([
                "--db",
                &db.url,
                "--data-dir",
                data_dir.path().to_str().unwrap(),
                "--now",
                later,
                "jobs",
                "run-once",
            ])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        if all_deprovisioned(&ctx).await || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert!(kills >= 2, "the worker was killed at least twice");

    let mut refunds = 0;
    let mut receipt_numbers = Vec::new();
    for n in 0..LINES {
        let line = lines::find_line(s, &LineKey::Iccid(iccid(n).parse().unwrap()))
            .await
            .unwrap();
        assert_eq!(line.state.as_str(), "terminated", "line {n}");
        let requests = s.requests_for_line(line.id).await.unwrap();
        assert_eq!(requests.len(), 1);
        let record = &requests[0];
        assert_eq!(record.request.state, RequestState::Completed);
        let completions = s
            .request_events(record.request.id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.to_state == "completed")
            .count();
        assert_eq!(completions, 1, "request of line {n} completed once");
        let expected = if n % 2 == 0 { 1500 } else { 1000 };
        assert_eq!(
            record.refund_total.map(|m| m.minor()),
            Some(expected),
            "line {n}"
        );
        let wallet = simdesk::services::wallet::show(s, line.holder.unwrap())
            .await
            .unwrap();
        assert_eq!(wallet.history.len(), 1, "refund of line {n} credited once");
        assert_eq!(wallet.balance[0].minor(), expected);
        refunds += 1;
        let number = record.receipt_number.clone().expect("a receipt");
        let document = s.receipt(&number).await.unwrap().unwrap();
        let content = receipts::verify(&document, &verifying).expect("the receipt verifies");
        assert_eq!(content.refund.total.minor(), expected);
        receipt_numbers.push(number);
        let deprovisions = s
            .network_calls(line.imsi.as_str())
            .await
            .unwrap()
            .iter()
            .filter(|(op, _)| op == "deprovision")
            .count();
        assert_eq!(deprovisions, 1, "line {n} deprovisioned once");
    }
    assert_eq!(refunds, LINES);
    let seqs: Vec<i64> = s
        .receipt_numbers(&CarrierCode::new("EX-SAKURA"))
        .await
        .unwrap()
        .into_iter()
        .map(|(_, seq)| seq)
        .collect();
    assert_eq!(
        seqs,
        (1..=LINES as i64).collect::<Vec<_>>(),
        "receipt numbers are gap-free and unique"
    );
    receipt_numbers.sort();
    receipt_numbers.dedup();
    assert_eq!(receipt_numbers.len() as u64, LINES);
    for (currency, total) in s.ledger_totals().await.unwrap() {
        assert_eq!(total, 0, "the {currency} ledger balances");
    }
}

async fn count_open(ctx: &ServiceContext) -> usize {
    ctx.store
        .requests_due(at("2026-11-26T00:00:00Z"), 10_000)
        .await
        .unwrap()
        .len()
}

async fn all_deprovisioned(ctx: &ServiceContext) -> bool {
    for n in 0..LINES {
        let line = lines::find_line(
            ctx.store.as_ref(),
            &LineKey::Iccid(iccid(n).parse().unwrap()),
        )
        .await
        .unwrap();
        if !ctx
            .store
            .network_calls(line.imsi.as_str())
            .await
            .unwrap()
            .iter()
            .any(|(op, _)| op == "deprovision")
        {
            return false;
        }
    }
    true
}
