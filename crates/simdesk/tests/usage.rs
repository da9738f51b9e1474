//! Usage records (issue 16): what a traveller used takes from the line's buckets in the policy's
//! order, each record counts once across files, retries and the API, and a file or batch with a
//! bad row counts nothing. The real app on 127.0.0.1:0 over a fresh database (SQLite, or
//! PostgreSQL when SIMDESK_TEST_PG is set).

mod support;

use jiff::Timestamp;
use serde_json::{json, Value};
use simdesk::services::access::{self, Administrator, Scope};
use simdesk::services::policies::{load_policies, PolicyBook};
use simdesk::services::usage::file::{self, UsageFile};
use simdesk::services::ServiceError;
use simdesk::store::{LineKey, Store};
use simdesk_domain::attribution::{Actor, Attribution, Channel};
use simdesk_domain::balance::{Bucket, BucketUnit};
use simdesk_domain::ids::CarrierCode;
use simdesk_domain::money::Currency;
use support::stock::{national, sell, stock};
use support::{fresh_db, policies_dir, AppOptions};

const MB: u64 = 1024 * 1024;

/// Lines 1 and 2 of EX-SAKURA's JP10-DV (10,240 MB, 1,000 JPY of credit) sold and active, line
/// 3 in stock, an app serving them and an API token that may post usage.
struct World {
    app: support::TestApp,
    book: PolicyBook,
    token: String,
}

async fn world() -> World {
    let db = fresh_db().await;
    load_policies(db.store.as_ref(), &policies_dir(), Timestamp::now())
        .await
        .unwrap();
    let book = PolicyBook::load(db.store.as_ref()).await.unwrap();
    stock(db.store.as_ref(), &book, &[1, 2, 3]).await;
    let sold_at = Timestamp::now() - jiff::SignedDuration::from_hours(1);
    for n in [1, 2] {
        sell(db.store.as_ref(), &book, n, "en", sold_at).await;
    }
    let (_, token) = access::create_token(
        db.store.as_ref(),
        &"EX-SAKURA".into(),
        "host network",
        &[Scope::UsageWrite, Scope::LinesRead],
        None,
        &Administrator {
            actor: "operator",
            reason: "the network posts usage",
        },
        Timestamp::now(),
    )
    .await
    .unwrap();
    let app = support::spawn_app_on(db, AppOptions::new()).await;
    World { app, book, token }
}

impl World {
    fn store(&self) -> &dyn Store {
        self.app.store.as_ref()
    }

    async fn buckets(&self, n: u64) -> Vec<Bucket> {
        let line = self
            .store()
            .line(&LineKey::Msisdn(national(n).parse().unwrap()))
            .await
            .unwrap()
            .unwrap();
        self.store().buckets(line.id).await.unwrap()
    }

    /// What is left of line `n`: (megabytes, yen).
    async fn left(&self, n: u64) -> (i64, i64) {
        let buckets = self.buckets(n).await;
        let of = |unit: BucketUnit| -> i64 {
            buckets
                .iter()
                .filter(|b| b.unit == unit)
                .map(|b| b.remaining)
                .sum()
        };
        (
            of(BucketUnit::Megabytes),
            of(BucketUnit::Money(Currency::Jpy)),
        )
    }

    async fn post(&self, key: &str, body: Value) -> (u16, Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/usage", self.app.base))
            .bearer_auth(&self.token)
            .header("Idempotency-Key", key)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.app.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap()
    }

    async fn import(&self, name: &str, csv: &str) -> Result<file::FileOutcome, ServiceError> {
        let by = Attribution::new(
            Actor::operator("network-files"),
            Channel::Operator,
            Timestamp::now(),
            "usage file from the host network",
        );
        file::import(
            self.store(),
            &self.book,
            UsageFile {
                carrier: Some(&CarrierCode::new("EX-SAKURA")),
                source_name: name,
                by,
            },
            || Ok(csv.as_bytes()),
            &|_, _| {},
        )
        .await
    }
}

fn record(id: &str, n: u64, service: &str, volume: u64) -> Value {
    json!({
        "record_id": id,
        "line": national(n),
        "service": service,
        "started_at": (Timestamp::now() - jiff::SignedDuration::from_mins(10)).to_string(),
        "volume": volume,
        "network": "44010",
    })
}

fn at_recently() -> String {
    (Timestamp::now() - jiff::SignedDuration::from_mins(5)).to_string()
}

#[tokio::test]
async fn data_uses_the_plans_allowance_before_money_and_calls_take_money() {
    let w = world().await;
    assert_eq!(w.left(1).await, (10_240, 1_000));
    let (status, body) = w
        .post(
            "k1",
            json!({ "records": [record("D1", 1, "data", 10_000 * MB), record("V1", 1, "voice", 61)] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["rated"], 2);
    // 10,000 MB from the allowance; 61 s of voice is three 30-second steps at 40 JPY a minute.
    assert_eq!(w.left(1).await, (240, 940));
    // 300 MB more: the last 240 MB of the allowance, then money at 20 JPY a megabyte — 940 JPY
    // pays for 47 MB, and the 13 MB nothing covers are kept as unpaid, never below zero.
    let (status, body) = w
        .post(
            "k2",
            json!({ "records": [record("D2", 1, "data", 300 * MB)] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"][0]["taken_mb"], 240);
    assert_eq!(body["records"][0]["taken_money"], 940);
    assert_eq!(
        body["records"][0]["unpaid"],
        json!({ "unit": "data", "megabytes": 13 })
    );
    assert_eq!(w.left(1).await, (0, 0));
    // What was left over is what the line now reports.
    let usage = w.get(&format!("/api/v1/lines/{}/usage", national(1))).await;
    assert_eq!(usage["records"].as_array().unwrap().len(), 3);
    assert!(usage["counted_until"].is_string(), "{usage}");
    // The same records under TMF635's names, newest first.
    let tmf = w
        .get(&format!(
            "/tmf-api/usageManagement/v4/usage?product.id={}",
            national(1)
        ))
        .await;
    let tmf = tmf.as_array().unwrap();
    assert_eq!(tmf.len(), 3);
    assert_eq!(tmf[0]["usageType"], "data");
    assert_eq!(tmf[0]["@type"], "Usage");
    let rated = &tmf[0]["ratedProductUsage"][0];
    assert_eq!(rated["bucketValueConvertedInAmount"]["amount"], 240);
    assert_eq!(
        rated["taxIncludedRatingAmount"],
        json!({ "amount": 940, "units": "JPY" })
    );
    assert!(tmf[0]["usageCharacteristic"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "recordId" && c["value"] == "D2"));
}

#[tokio::test]
async fn records_of_many_lines_in_one_file_each_take_from_their_own_line_in_order() {
    let w = world().await;
    let at = at_recently();
    let mut csv = String::from("record_id,line,service,started_at,volume\n");
    // Interleaved as a network's file is: 30 records of 400 MB on each line, 12,000 MB each —
    // more than the 10,240 MB allowance, so the last ones fall to money at 20 JPY a megabyte.
    for r in 0..60 {
        let n = 1 + r % 2;
        csv.push_str(&format!("M{r},{},data,{at},{}\n", national(n), 400 * MB));
    }
    let outcome = w.import("cdr-many.csv", &csv).await.unwrap();
    assert_eq!((outcome.rows, outcome.rated), (60, 60));
    // 1,760 MB over the allowance on each line: the 26th record takes the allowance's last
    // 240 MB and 50 MB for the 1,000 JPY; it and the four after it are not covered in full.
    for n in [1, 2] {
        assert_eq!(w.left(n).await, (0, 0));
    }
    assert_eq!(outcome.partly_unpaid, 2 * 5, "{outcome:?}");
    let usage = w
        .get(&format!("/api/v1/lines/{}/usage?limit=500", national(2)))
        .await;
    assert_eq!(usage["records"].as_array().unwrap().len(), 30);
}

#[tokio::test]
async fn a_record_counts_once_across_retries_and_the_api() {
    let w = world().await;
    let batch = json!({ "records": [record("R1", 1, "data", 100 * MB)] });
    let (status, first) = w.post("once", batch.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(w.left(1).await.0, 10_140);
    // The same request again is answered as the first time.
    let (status, again) = w.post("once", batch.clone()).await;
    assert_eq!((status, &again), (200, &first));
    // The same record under another key: counted before, nothing changes.
    let (status, other) = w.post("twice", batch).await;
    assert_eq!(status, 200, "{other}");
    assert_eq!(other["records"][0]["result"], "already_counted");
    assert_eq!(w.left(1).await.0, 10_140);
}

#[tokio::test]
async fn a_batch_with_a_bad_record_counts_nothing_and_names_it() {
    let w = world().await;
    let (status, body) = w
        .post(
            "worse",
            json!({ "records": [record("B1", 2, "data", 10 * MB), record("B2", 99, "data", MB)] }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let message = body.to_string();
    assert!(message.contains("records[1].line"), "{message}");
    assert_eq!(w.left(2).await.0, 10_240, "nothing was counted");
    let (status, body) = w
        .post("fax", json!({ "records": [record("F1", 2, "fax", 1)] }))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("records[0].service"), "{body}");
}

#[tokio::test]
async fn a_file_imported_twice_counts_once_and_a_bad_row_imports_nothing() {
    let w = world().await;
    let at = at_recently();
    let csv = format!(
        "record_id,line,service,started_at,volume\nC1,{l1},data,{at},{d}\nC2,{l2},sms,{at},2\n",
        l1 = national(1),
        l2 = national(2),
        d = 50 * MB
    );
    let first = w.import("cdr-1.csv", &csv).await.unwrap();
    assert_eq!((first.rows, first.rated), (2, 2));
    assert_eq!(w.left(1).await.0, 10_190);
    assert_eq!(w.left(2).await.1, 980);
    let second = w.import("cdr-1.csv", &csv).await.unwrap();
    assert_eq!((second.rows, second.already_counted), (2, 2));
    assert_eq!(w.left(1).await.0, 10_190);
    assert_eq!(w.left(2).await.1, 980);

    let bad = format!(
        "record_id,line,service,started_at,volume\nC3,{l1},data,{at},{d}\nC4,{l1},data,{at},lots\n",
        l1 = national(1),
        d = 10 * MB
    );
    let Err(ServiceError::UsageFile(report)) = w.import("cdr-2.csv", &bad).await else {
        panic!("a file with a bad row was counted");
    };
    assert_eq!(report.errors.len(), 1);
    assert_eq!(
        (report.errors[0].line, report.errors[0].column.as_str()),
        (3, "volume")
    );
    assert_eq!(
        w.left(1).await.0,
        10_190,
        "the good row was not counted either"
    );
}

#[tokio::test]
async fn the_refund_after_use_is_what_is_left() {
    let w = world().await;
    let before = w.get(&format!("/api/v1/lines/{}/quote", national(1))).await;
    let (status, body) = w
        .post(
            "calls",
            json!({ "records": [record("Q1", 1, "voice", 600), record("Q2", 1, "sms", 5)] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Ten minutes at 40 JPY and five SMS at 10 JPY leave 1,000 - 400 - 50 = 550 JPY.
    assert_eq!(w.left(1).await.1, 550);
    let after = w.get(&format!("/api/v1/lines/{}/quote", national(1))).await;
    assert_ne!(before, after);
    assert!(after.to_string().contains("550"), "{after}");
}

#[tokio::test]
async fn a_record_after_the_line_ended_is_written_off_and_moves_no_bucket() {
    let w = world().await;
    // JP10-DV lasts ten days and EX-SAKURA's grace three: a month later the line has closed.
    let later = Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30);
    for _ in 0..2 {
        simdesk::services::jobs::run_due(&w.app.ctx, &w.app.peers, later)
            .await
            .unwrap();
    }
    let line = w
        .store()
        .line(&LineKey::Msisdn(national(1).parse().unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert!(line.ended_at.is_some(), "the line closed: {:?}", line.state);
    let left_before = w.left(1).await;
    // The network's file arrives weeks late with a call made while the line was active.
    let (status, body) = w
        .post(
            "late",
            json!({ "records": [record("L1", 1, "voice", 120)] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"][0]["result"], "written_off");
    // Two minutes at 40 JPY: what it would have cost is kept with the record.
    assert_eq!(
        body["records"][0]["value"],
        json!({ "value": 80, "unit": "JPY" })
    );
    assert_eq!(w.left(1).await, left_before);
    let usage = w.get(&format!("/api/v1/lines/{}/usage", national(1))).await;
    assert_eq!(usage["records"][0]["outcome"], "written_off");
}

#[tokio::test]
async fn data_used_abroad_is_priced_by_the_visited_networks_zone() {
    let w = world().await;
    let mut abroad = record("Z1", 1, "data", 2 * MB);
    abroad["network"] = json!("45005");
    let (status, body) = w
        .post(
            "roaming",
            json!({ "records": [abroad, record("Z2", 1, "data", 2 * MB)] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // In Korea EX-SAKURA's east-asia zone charges 100 JPY a megabyte and the plan's allowance
    // does not pay; at home (44010) the allowance does.
    assert_eq!(body["records"][0]["taken_money"], 200);
    assert_eq!(body["records"][0]["taken_mb"], 0);
    assert_eq!(body["records"][1]["taken_mb"], 2);
    assert_eq!(w.left(1).await, (10_238, 800));
}

#[tokio::test]
async fn running_out_of_data_tells_the_traveller_once_each_bars_data_and_a_top_up_lifts_it() {
    use simdesk::adapters::messages::RecordingMessages;
    use simdesk::services::{lines, outbox};
    use std::sync::Arc;
    let w = world().await;
    // A traveller who reads Korean: EX-SAKURA tells at 75 % and 90 % and bars data at the end.
    sell(
        w.store(),
        &w.book,
        3,
        "ko",
        Timestamp::now() - jiff::SignedDuration::from_hours(1),
    )
    .await;
    let key = LineKey::Msisdn(national(3).parse().unwrap());
    let line = w.store().line(&key).await.unwrap().unwrap();
    for (id, mb) in [("X1", 8_000), ("X2", 1_300), ("X3", 1_000), ("X4", 5)] {
        let (status, body) = w
            .post(id, json!({ "records": [record(id, 3, "data", mb * MB)] }))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    // The allowance and the 1,000 JPY are gone.
    assert_eq!(w.left(3).await, (0, 0));
    assert_eq!(
        w.store().line_usage(line.id).await.unwrap().data_stopped,
        Some(simdesk_domain::usage::WhenExhausted::Bar)
    );
    let shown = w.get(&format!("/api/v1/lines/{}/usage", national(3))).await;
    assert_eq!(shown["data_stopped"], "bar", "{shown}");
    let keys = |kind: &'static str| {
        let store = w.app.store.clone();
        let line = line.id.get();
        async move {
            store
                .outbox_entries(None, Some(kind), 100)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.idempotency_key)
                .filter(|k| k.ends_with(&format!(":{line}")))
                .collect::<Vec<_>>()
        }
    };
    // Once each: two thresholds and one bar, though a fourth record came after it.
    let notices = keys("notify").await;
    let data_notices: Vec<_> = notices.iter().filter(|k| k.contains(":data")).collect();
    assert_eq!(data_notices.len(), 3, "{notices:?}");
    assert_eq!(keys("network.bar_data").await.len(), 1);

    // Delivered through the outbox: data off on the network, voice and SMS on; the traveller
    // told in Korean by SMS and e-mail.
    let messages = Arc::new(RecordingMessages::default());
    let mut peers = outbox::Peers::recording(w.app.store.clone(), "https://sim.example.jp");
    peers.sms = messages.clone();
    peers.mail = messages.clone();
    for _ in 0..3 {
        outbox::deliver(w.store(), &peers, Timestamp::now())
            .await
            .unwrap();
    }
    let subscriber = peers
        .network
        .subscriber(line.imsi.as_str())
        .await
        .unwrap()
        .expect("provisioned");
    assert!(
        !subscriber.ps_enabled && subscriber.cs_enabled,
        "{subscriber:?}"
    );
    let sms: Vec<String> = messages.sms().into_iter().map(|(_, text)| text).collect();
    let korean = |t: &&String| t.contains("데이터");
    assert_eq!(sms.iter().filter(korean).count(), 3, "{sms:?}");
    assert!(sms.iter().any(|t| t.contains("75%")) && sms.iter().any(|t| t.contains("90%")));
    let mail = messages.mail();
    assert_eq!(
        mail.iter().filter(|m| m.subject.contains("데이터")).count(),
        3
    );

    // A top-up that buys data starts it again, once.
    let by = Attribution::new(
        Actor::operator("clerk-1"),
        Channel::Store,
        Timestamp::now(),
        "top-up at the counter",
    );
    lines::top_up(w.store(), &w.book, &key, "1000", by)
        .await
        .unwrap();
    assert_eq!(
        w.store().line_usage(line.id).await.unwrap().data_stopped,
        None
    );
    assert_eq!(keys("network.unbar_data").await.len(), 1);
    outbox::deliver(w.store(), &peers, Timestamp::now())
        .await
        .unwrap();
    let subscriber = peers
        .network
        .subscriber(line.imsi.as_str())
        .await
        .unwrap()
        .unwrap();
    assert!(subscriber.ps_enabled && subscriber.cs_enabled);
    // Nothing was told twice by delivering again.
    outbox::deliver(w.store(), &peers, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(
        messages
            .sms()
            .iter()
            .filter(|(_, t)| t.contains("데이터"))
            .count(),
        3
    );
}
