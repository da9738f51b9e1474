//! The audit trail cannot be quietly edited: `simdesk audit verify` passes on an untouched
//! database and names the entry when someone with database access edits, deletes or moves one,
//! or changes a history row behind it.

mod support;

use jiff::Timestamp;
use simdesk::services::policies::{load_policies, PolicyBook};
use std::process::Command;
use support::{fresh_db, policies_dir, TestDb};

/// A database with history: two lines stocked, sold and activated.
async fn with_history() -> TestDb {
    let db = fresh_db().await;
    let s = db.store.as_ref();
    load_policies(s, &policies_dir(), Timestamp::now())
        .await
        .unwrap();
    let book = PolicyBook::load(s).await.unwrap();
    support::stock::stock(s, &book, &[1, 2]).await;
    for n in [1, 2] {
        support::stock::sell(s, &book, n, "en", Timestamp::now()).await;
    }
    db
}

/// Runs `simdesk audit verify` on the database: (succeeded, stdout + stderr).
fn verify(db: &TestDb) -> (bool, String) {
    verify_with(db, &[])
}

/// Tampers as someone with the database would: the append-only triggers go first.
async fn tamper(db: &TestDb, statements: &[&str]) {
    if db.url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        for sql in [
            "DROP TRIGGER audit_log_append_only_update",
            "DROP TRIGGER audit_log_append_only_delete",
        ]
        .iter()
        .chain(statements)
        {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        for sql in ["DROP TRIGGER audit_log_append_only ON audit_log"]
            .iter()
            .chain(statements)
        {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untouched_trail_verifies_and_simdesk_cannot_change_it() {
    let db = with_history().await;
    let (ok, text) = verify(&db);
    assert!(ok, "{text}");
    // Two lines: stocked is not a history step; registered and activated are, each audited.
    assert!(text.contains("intact: 4 entries"), "{text}");
    // The database itself refuses edits while its triggers stand.
    let refused = if db.url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let r = sqlx::query("UPDATE audit_log SET content = 'x' WHERE seq = 1")
            .execute(&pool)
            .await;
        pool.close().await;
        r.is_err()
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let r = sqlx::query("DELETE FROM audit_log WHERE seq = 1")
            .execute(&pool)
            .await;
        pool.close().await;
        r.is_err()
    };
    assert!(refused, "the audit trail is append-only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_entry_is_named() {
    let db = with_history().await;
    tamper(
        &db,
        &["UPDATE audit_log SET content = REPLACE(content, 'clerk', 'nobody') WHERE seq = 2"],
    )
    .await;
    let (ok, text) = verify(&db);
    assert!(!ok);
    assert!(text.contains("audit entry 2 was edited"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_entry_is_named() {
    let db = with_history().await;
    tamper(&db, &["DELETE FROM audit_log WHERE seq = 3"]).await;
    let (ok, text) = verify(&db);
    assert!(!ok);
    assert!(text.contains("audit entry 3 is missing"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_moved_are_found() {
    let db = with_history().await;
    // Entries 1 and 2 trade places.
    tamper(
        &db,
        &[
            "UPDATE audit_log SET seq = -1 WHERE seq = 1",
            "UPDATE audit_log SET seq = 1 WHERE seq = 2",
            "UPDATE audit_log SET seq = 2 WHERE seq = -1",
        ],
    )
    .await;
    let (ok, text) = verify(&db);
    assert!(!ok);
    assert!(text.contains("audit entry 1 was edited or moved"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_row_changed_behind_the_trail_is_named() {
    let db = with_history().await;
    tamper(
        &db,
        &["UPDATE line_events SET reason = 'nothing happened' WHERE id = (SELECT MIN(id) FROM line_events)"],
    )
    .await;
    let (ok, text) = verify(&db);
    assert!(!ok);
    assert!(
        text.contains("was changed afterwards") && text.contains("line_event"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_cut_from_the_end_are_found() {
    let db = with_history().await;
    tamper(&db, &["DELETE FROM audit_log WHERE seq = 4"]).await;
    let (ok, text) = verify(&db);
    assert!(!ok);
    assert!(
        text.contains("the chain ends at entry 3 but its head says 4"),
        "{text}"
    );
}

/// Runs `simdesk audit verify ARGS…`: (succeeded, stdout + stderr).
fn verify_with(db: &TestDb, args: &[&str]) -> (bool, String) {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_simdesk"))
        .env("SIMDESK_KEYS_DIR", db.keys_dir())
        .args(["--db", &db.url, "--data-dir"])
        .arg(data.path())
        .args(["audit", "verify"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_cut_and_made_consistent_again_fails_against_the_head_kept_outside() {
    let db = with_history().await;
    let (ok, text) = verify(&db);
    assert!(ok, "{text}");
    let head = text
        .lines()
        .find_map(|l| l.strip_prefix("head: "))
        .and_then(|l| l.split_whitespace().next())
        .expect("verify prints the head")
        .to_string();
    assert!(head.starts_with("4:"), "{head}");
    // Against the head kept outside, the untouched chain verifies.
    let (ok, text) = verify_with(&db, &["--expect-head", &head]);
    assert!(ok, "{text}");
    // Someone with write access cuts the last two entries and moves the head back: the chain
    // holds together on its own...
    tamper(
        &db,
        &[
            "DELETE FROM audit_log WHERE seq > 2",
            "UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit_log WHERE seq = 2)",
        ],
    )
    .await;
    let (ok, text) = verify(&db);
    assert!(ok, "a consistent chain verifies on its own: {text}");
    // ...but not against the record kept outside.
    let (ok, text) = verify_with(&db, &["--expect-head", &head]);
    assert!(!ok);
    assert!(text.contains("the chain has no entry 4"), "{text}");
    // A record that is not SEQ:HASH is refused with what to give instead.
    let (ok, text) = verify_with(&db, &["--expect-head", "four"]);
    assert!(!ok && text.contains("is not SEQ:HASH"), "{text}");
}

/// The expiry sweep writes a batch of lines' history in one step; two sweeps racing each other
/// still leave one unbroken chain with every entry in it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_sweeps_leave_one_unbroken_chain() {
    let db = fresh_db().await;
    let s = db.store.as_ref();
    let sold = Timestamp::now() - jiff::SignedDuration::from_hours(24 * 60);
    load_policies(s, &policies_dir(), sold).await.unwrap();
    let book = PolicyBook::load(s).await.unwrap();
    let lines: Vec<u64> = (1..=30).collect();
    support::stock::stock(s, &book, &lines).await;
    for n in &lines {
        support::stock::sell(s, &book, *n, "en", sold).await;
    }
    // Sixty days on, every 10-day line is past its validity and its grace: expired and closed.
    let now = Timestamp::now();
    let (a, b) = tokio::join!(
        simdesk::services::jobs::run_once(s, now),
        simdesk::services::jobs::run_once(s, now)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.expired + b.expired, 30, "{a:?} {b:?}");
    assert_eq!(a.closed + b.closed, 30, "{a:?} {b:?}");
    let (ok, text) = verify(&db);
    assert!(ok, "{text}");
    // register, activate, expire, close: four audited steps per line.
    assert!(text.contains("intact: 120 entries"), "{text}");
}
