//! Several nodes on one PostgreSQL: two `simdesk serve` processes complete the same 10,000 due
//! cancellations together; every one completes once, by one node, and both take a real share.

mod support;

use jiff::{SignedDuration, Timestamp};
use simdesk::receipts;
use simdesk::services::cancellation;
use simdesk::services::lines;
use simdesk::services::policies::{load_policies, PolicyBook};
use simdesk::store::LineKey;
use simdesk_domain::attribution::{Actor, Attribution, Channel};
use simdesk_domain::cancellation::RequestState;
use simdesk_domain::ids::CarrierCode;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};
use support::node::Node;
use support::stock::{national, sell, stock};
use support::{fresh_db, policies_dir};

const LINES: u64 = 10_000;
/// Concurrent sellers while seeding.
const SEEDERS: u64 = 8;

fn ops(at: Timestamp, why: &str) -> Attribution {
    Attribution::new(Actor::operator("nodes-test"), Channel::Operator, at, why)
}

fn key(n: u64) -> LineKey {
    lines::parse_line_key(&national(n)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_share_due_cancellations_and_complete_each_once() {
    if support::backend() != "postgres" {
        eprintln!(
            "skipped: several nodes share one PostgreSQL; set SIMDESK_TEST_PG to run this test \
             (an embedded SQLite file serves one node)"
        );
        return;
    }
    let db = fresh_db().await;
    // Seeding writes tens of thousands of rows: the test database (only it) does not wait for
    // each commit to reach the disk. What is checked is correctness, not durability.
    {
        use sqlx::Executor;
        let name = db.url.rsplit('/').next().unwrap().to_string();
        let admin = sqlx::PgPool::connect(&db.url).await.unwrap();
        admin
            .execute(format!("ALTER DATABASE {name} SET synchronous_commit = off").as_str())
            .await
            .unwrap();
        admin.close().await;
    }
    let store = db.open_again().await;
    let s = store.as_ref();
    load_policies(
        s,
        &policies_dir(),
        Timestamp::now() - SignedDuration::from_hours(24 * 30),
    )
    .await
    .unwrap();
    let book = PolicyBook::load(s).await.unwrap();
    let numbers: Vec<u64> = (0..LINES).collect();
    stock(s, &book, &numbers).await;

    // Sold nine days ago, cancelled an hour later: the requests take effect a business day
    // after, so they are due now, while the lines are still valid (refund in full). Over a long
    // closure (the year end) the effective date comes later: then they go further back, until due.
    let (policy, _) = book
        .for_line(&lines::find_line(s, &key(0)).await.unwrap())
        .unwrap();
    let due_at = |asked: Timestamp| {
        use simdesk_domain::cancellation::{effective_date, start_of_day_jst};
        start_of_day_jst(effective_date(asked, policy.cancellation(), &policy.calendar()).unwrap())
    };
    let mut asked = Timestamp::now() - SignedDuration::from_hours(24 * 9);
    while due_at(asked) > Timestamp::now() {
        asked -= SignedDuration::from_hours(24);
    }
    let sold = asked - SignedDuration::from_hours(1);
    let ctx = support::start_app(&db, support::AppOptions::new())
        .await
        .ctx;
    let verifying = ctx.keys.receipts.verifying_key();
    let seeded = Instant::now();
    let mut sellers = Vec::new();
    for worker in 0..SEEDERS {
        let ctx = ctx.clone();
        sellers.push(tokio::spawn(async move {
            let s = ctx.store.as_ref();
            for n in (worker..LINES).step_by(SEEDERS as usize) {
                sell(s, &ctx.book, n, "en", sold).await;
                let submitted = cancellation::submit(
                    &ctx,
                    &key(n),
                    Channel::Operator,
                    None,
                    ops(asked, "leaving Japan"),
                )
                .await
                .unwrap();
                assert_eq!(submitted.request.request.state, RequestState::Approved);
            }
        }));
    }
    for seller in sellers {
        seller.await.unwrap();
    }
    let due = s
        .requests_due(Timestamp::now(), LINES as i64 + 1)
        .await
        .unwrap();
    assert_eq!(
        due.len() as u64,
        LINES,
        "every request is approved and due now"
    );
    eprintln!("seeded {LINES} due cancellations in {:?}", seeded.elapsed());
    // What selling and approving queued (provisioning, barring, messages) went out long ago in
    // the story this test tells; what it checks is what completion queues.
    {
        use sqlx::Executor;
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        pool.execute(
            "UPDATE outbox SET state = 'done', done_at = created_at WHERE state = 'pending'",
        )
        .await
        .unwrap();
        pool.close().await;
    }

    let data_dir = tempfile::tempdir().unwrap();
    let mut nodes = ["node-a", "node-b"].map(|name| {
        Node::new(
            name,
            &db.url,
            &db.keys_dir(),
            data_dir.path(),
            &[("SIMDESK_JOBS_EVERY_SECS", "1")],
        )
    });
    for node in &mut nodes {
        node.start().await;
    }
    let started = Instant::now();
    // Stuck is what fails, not slow: the work must keep moving.
    let (mut progress, mut moved) = (-1, Instant::now());
    loop {
        let gauges = s.gauges(Timestamp::now()).await.unwrap();
        let completed = gauges
            .requests_by_state
            .iter()
            .find(|(state, _)| state == "completed")
            .map_or(0, |(_, n)| *n);
        let (queued, waiting) = s.outbox_progress("network:deprovision:").await.unwrap();
        let deprovisioned = queued - waiting;
        eprintln!(
            "{:>4.0?}: {completed} completed, {deprovisioned} lines deprovisioned",
            started.elapsed()
        );
        if completed == LINES as i64 && deprovisioned == LINES as i64 {
            break;
        }
        for node in &mut nodes {
            node.assert_running();
        }
        if completed + deprovisioned > progress {
            (progress, moved) = (completed + deprovisioned, Instant::now());
        }
        assert!(
            moved.elapsed() < Duration::from_secs(90),
            "the nodes stopped making progress: {completed} completed, {deprovisioned} deprovisioned\n{}\n{}",
            nodes[0].log(),
            nodes[1].log()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    eprintln!("two nodes finished in {:?}", started.elapsed());
    for node in &mut nodes {
        node.assert_running();
    }
    drop(nodes);

    // Every line, checked as a user would: one completion by one node, one refund, one receipt
    // that verifies, one deprovisioning on the network.
    let mut checkers = Vec::new();
    const CHECKERS: u64 = 8;
    for worker in 0..CHECKERS {
        let store = store.clone();
        checkers.push(tokio::spawn(async move {
            let s = store.as_ref();
            let mut by_node: BTreeMap<String, u64> = BTreeMap::new();
            let mut receipts = Vec::new();
            for n in (worker..LINES).step_by(CHECKERS as usize) {
                let line = lines::find_line(s, &key(n)).await.unwrap();
                assert_eq!(line.state.as_str(), "terminated", "line {n}");
                let requests = s.requests_for_line(line.id).await.unwrap();
                assert_eq!(requests.len(), 1, "line {n} has one request");
                let record = &requests[0];
                assert_eq!(record.request.state, RequestState::Completed, "line {n}");
                let completions: Vec<_> = s
                    .request_events(record.request.id)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|e| e.to_state == "completed")
                    .collect();
                assert_eq!(completions.len(), 1, "request of line {n} completed once");
                *by_node.entry(completions[0].actor_id.clone()).or_default() += 1;
                let refund = record.refund_total.expect("a refund was computed");
                let wallet = simdesk::services::wallet::show(s, line.holder.unwrap())
                    .await
                    .unwrap();
                if refund.is_positive() {
                    assert_eq!(wallet.history.len(), 1, "refund of line {n} credited once");
                    assert_eq!(wallet.balance, vec![refund], "line {n}");
                } else {
                    assert!(
                        wallet.history.is_empty(),
                        "line {n}: nothing due, nothing credited"
                    );
                }
                let deprovisions = s
                    .network_calls(line.imsi.as_str())
                    .await
                    .unwrap()
                    .iter()
                    .filter(|(op, _)| op == "deprovision")
                    .count();
                assert_eq!(deprovisions, 1, "line {n} deprovisioned once");
                let number = record.receipt_number.clone().expect("a receipt");
                receipts.push((number, refund));
            }
            (by_node, receipts)
        }));
    }
    let mut by_node: BTreeMap<String, u64> = BTreeMap::new();
    let mut numbers = HashSet::new();
    for checker in checkers {
        let (counts, receipts) = checker.await.unwrap();
        for (node, n) in counts {
            *by_node.entry(node).or_default() += n;
        }
        for (number, refund) in receipts {
            // A sample of receipts is verified in full; all are counted.
            if numbers.len() % 97 == 0 {
                let document = s.receipt(&number).await.unwrap().unwrap();
                let content =
                    receipts::verify(&document, &verifying).expect("the receipt verifies");
                assert_eq!(content.refund.total, refund);
            }
            assert!(numbers.insert(number), "receipt numbers are unique");
        }
    }
    assert_eq!(numbers.len() as u64, LINES);
    // Numbered per carrier and Japanese year: each year's numbers run 1, 2, 3, … without a gap.
    let mut per_year: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (year, seq) in s
        .receipt_numbers(&CarrierCode::new("EX-SAKURA"))
        .await
        .unwrap()
    {
        per_year.entry(year).or_default().push(seq);
    }
    let mut issued = 0;
    for (year, seqs) in &per_year {
        assert_eq!(
            seqs,
            &(1..=seqs.len() as i64).collect::<Vec<_>>(),
            "receipt numbers of {year} are gap-free and unique"
        );
        issued += seqs.len() as u64;
    }
    assert_eq!(issued, LINES, "one receipt per cancellation");
    for (currency, total) in s.ledger_totals().await.unwrap() {
        assert_eq!(total, 0, "the {currency} ledger balances");
    }
    eprintln!("completions by node: {by_node:?}");
    assert_eq!(
        by_node.keys().cloned().collect::<Vec<_>>(),
        vec![
            "cancellation@node-a".to_string(),
            "cancellation@node-b".to_string()
        ],
        "the history names the node that completed each request"
    );
    for (node, n) in &by_node {
        assert!(
            *n * 5 >= LINES,
            "{node} completed {n} of {LINES}: each node takes a real share"
        );
    }
    drop(store);
    db.drop_database().await;
}
