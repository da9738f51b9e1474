//! Personal data at rest: after the demo's travellers are registered, checked by name and
//! passport over the API, sent codes by e-mail and have an identity document uploaded, none of
//! their names, passport numbers or e-mail addresses — nor any eSIM's activation code — can be
//! read in the database's raw bytes (the SQLite file or a PostgreSQL dump), the logs, or the
//! outbox.

mod support;

use jiff::Timestamp;
use serde_json::{json, Value};
use simdesk::services::outbox::Peers;
use std::io::Write;
use std::sync::{Arc, Mutex};
use support::{backend, fresh_db, TestDb};

/// Everything the server logs, at every level, kept for the scan.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

fn call(base: &str, method: &str, path: &str, token: &str, body: Option<Vec<u8>>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let builder = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("Authorization", format!("Bearer {token}"));
    let result = match body {
        None => agent.run(builder.body(()).unwrap()),
        Some(bytes) => {
            let content_type = if bytes.first() == Some(&b'{') {
                "application/json"
            } else {
                "image/jpeg"
            };
            agent.run(
                builder
                    .header("Content-Type", content_type)
                    .body(bytes)
                    .unwrap(),
            )
        }
    };
    let mut response = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, text)
}

/// The database as raw bytes: the SQLite file with its write-ahead log, or a plain `pg_dump`.
fn raw_database(db: &TestDb) -> Vec<u8> {
    if backend() == "sqlite" {
        let path = db.url.trim_start_matches("sqlite://").to_string();
        let mut bytes = std::fs::read(&path).expect("the SQLite file");
        for suffix in ["-wal", "-journal"] {
            if let Ok(more) = std::fs::read(format!("{path}{suffix}")) {
                bytes.extend(more);
            }
        }
        bytes
    } else {
        let out = std::process::Command::new("pg_dump")
            .args(["--no-owner", "--format=plain", &db.url])
            .output()
            .expect("pg_dump is needed for the PostgreSQL scan (package postgresql-client)");
        assert!(
            out.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

/// Every outbox row, payload and last error included.
async fn outbox_text(db: &TestDb) -> String {
    let sql = "SELECT kind || ' ' || idempotency_key || ' ' || payload || ' ' || COALESCE(last_error, '') FROM outbox";
    let rows: Vec<String> = if backend() == "sqlite" {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap()
    };
    rows.join("\n")
}

/// The needles that show up in `haystack`, as text or hex-encoded (PostgreSQL dumps binary
/// columns in hex), ignoring case.
fn leaked<'a>(haystack: &[u8], needles: &'a [String]) -> Vec<&'a String> {
    let mut patterns: Vec<String> = Vec::new();
    for n in needles {
        patterns.push(n.clone());
        patterns.push(hex::encode(n.as_bytes()));
    }
    let matcher = aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(&patterns)
        .unwrap();
    let mut hits: Vec<&String> = matcher
        .find_overlapping_iter(haystack)
        .map(|m| &needles[m.pattern().as_usize() / 2])
        .collect();
    hits.sort();
    hits.dedup();
    hits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_name_passport_or_email_can_be_read_in_the_database_logs_or_outbox() {
    let logs = LogBuffer::default();
    let _ = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .try_init();

    let db = fresh_db().await;
    let policies = tempfile::tempdir().unwrap();
    simdesk::examples::write_to(policies.path()).unwrap();
    let now = Timestamp::now();
    let seeding = support::start_app(&db, support::AppOptions::new()).await;
    let summary = simdesk::services::demo::seed(&seeding.ctx, policies.path(), now)
        .await
        .expect("the demo data");
    assert!(summary.lines > 500);

    let app = support::start_app(&db, support::AppOptions::new()).await;
    let (ctx, base) = (app.ctx.clone(), app.base.clone());
    let token = simdesk::web::api::new_token();
    db.store
        .insert_api_token(
            &"EX-FUJI".into(),
            "privacy-scan",
            &simdesk::web::api::hash_token(&token),
            "test",
            now,
        )
        .await
        .unwrap();

    // Every demo traveller, read back through the store's keys: these are the needles.
    let mut needles: Vec<String> = Vec::new();
    let mut some_msisdn = None;
    let mut active = Vec::new();
    let mut esim_codes = 0;
    for carrier in ["EX-SAKURA", "EX-FUJI", "EX-KOI"] {
        for line in db
            .store
            .lines_page(&carrier.into(), None, 0, 5000)
            .await
            .unwrap()
        {
            // An eSIM's activation code is a bearer secret: its matching ID is a needle too.
            if let Some(code) = db.store.activation_code(line.id).await.unwrap() {
                needles.push(code.matching_id().expose().to_string());
                esim_codes += 1;
            }
            let Some(holder) = line.holder else { continue };
            let customer = db.store.customer(holder).await.unwrap().unwrap();
            let p = customer
                .personal
                .expect("demo travellers' data is readable with the keys");
            needles.extend([
                p.full_name.clone(),
                p.passport_number.clone(),
                p.email.clone(),
            ]);
            some_msisdn.get_or_insert(line.msisdn.to_string());
            if carrier == "EX-FUJI" && line.state.as_str() == "active" {
                active.push((line.iccid.to_string(), p));
            }
        }
    }
    assert!(esim_codes > 10, "only {esim_codes} eSIM activation codes");
    needles.sort();
    needles.dedup();
    assert!(needles.len() > 300, "only {} needles", needles.len());

    // Personal data travels through the API: a knowledge check, a code to the e-mail address,
    // and a document image that itself shows the passport number and name.
    let (iccid, person) = active.first().cloned().expect("an active EX-FUJI line");
    let (status, body) = call(
        &base,
        "POST",
        "/tmf-api/productOrdering/v4/productOrder",
        &token,
        Some(
            serde_json::to_vec(&json!({ "productOrderItem": [
                { "id": "1", "action": "delete", "product": { "id": iccid } }
            ]}))
            .unwrap(),
        ),
    );
    assert_eq!(status, 201, "{body}");
    let order: Value = serde_json::from_str(&body).unwrap();
    let id = order["id"].as_str().unwrap().to_string();
    let (status, body) = call(
        &base,
        "POST",
        &format!("/api/v1/cancellations/{id}/knowledge"),
        &token,
        Some(
            serde_json::to_vec(
                &json!({ "name": person.full_name, "passport": person.passport_number }),
            )
            .unwrap(),
        ),
    );
    assert!(status < 500, "{status} {body}");
    let (status, body) = call(
        &base,
        "POST",
        &format!("/api/v1/cancellations/{id}/code"),
        &token,
        Some(serde_json::to_vec(&json!({ "to": "email" })).unwrap()),
    );
    assert_eq!(status, 202, "{body}");
    let mut image = vec![0xFF, 0xD8, 0xFF, 0xE0];
    image.extend(
        format!(
            "PASSPORT {} {} {}",
            person.passport_number, person.full_name, person.email
        )
        .as_bytes(),
    );
    let (status, body) = call(
        &base,
        "POST",
        &format!("/api/v1/cancellations/{id}/documents"),
        &token,
        Some(image.clone()),
    );
    assert_eq!(status, 201, "{body}");
    // The document can still be read back whole through the store's keys.
    let docs = db.store.documents(id.parse().unwrap()).await.unwrap();
    let (_, _, content) = db
        .store
        .document_content(docs[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(content, image);
    // Messages fan out and are delivered, reading contact details as they go.
    let peers = Peers::recording(db.store.clone(), "http://127.0.0.1:8080");
    simdesk::services::jobs::run_due(&ctx, &peers, now)
        .await
        .unwrap();

    let raw = raw_database(&db);
    let log_bytes = logs.0.lock().unwrap().clone();
    let outbox = outbox_text(&db).await;
    // The scans look at the real thing: plain identifiers and request paths are there.
    let msisdn = some_msisdn.unwrap();
    assert!(
        !leaked(&raw, std::slice::from_ref(&msisdn)).is_empty(),
        "the raw database does not show line numbers"
    );
    assert!(
        !leaked(&log_bytes, &["/api/v1/cancellations/".to_string()]).is_empty(),
        "the logs were not captured"
    );
    assert!(outbox.contains("notify"), "the outbox is empty");

    for (place, bytes) in [
        ("the raw database", raw.as_slice()),
        ("the logs", log_bytes.as_slice()),
        ("the outbox", outbox.as_bytes()),
    ] {
        let leaked = leaked(bytes, &needles);
        assert!(
            leaked.is_empty(),
            "{place} shows personal data in the clear: {:?}",
            &leaked[..leaked.len().min(10)]
        );
    }
}
