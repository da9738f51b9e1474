//! The SQL both backends share, instantiated once for SQLite and once for PostgreSQL.
//!
//! The statements are written once, with `$n` placeholders that both engines accept; only the
//! schema (one migrations folder per backend) and connection set-up differ.

use super::*;
use jiff::Timestamp;
use simdesk_domain::balance::{AddonBinding, BalanceChange, Bucket, BucketRef, BucketUnit};
use simdesk_domain::line::{Line, LineKind, LineState};
use simdesk_domain::money::{Currency, Money};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row};
use std::str::FromStr;
use std::time::Duration;

/// Identifier lookups are chunked to stay under both engines' parameter limits.
const LOOKUP_CHUNK: usize = 500;
/// Rows per multi-row INSERT during imports (9 parameters each).
const INSERT_CHUNK: usize = 1000;
/// Line changes per multi-row statement when many are applied at once (up to 12 parameters a row).
const LINE_CHANGE_CHUNK: usize = 400;

pub(crate) fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

pub(crate) fn from_micros(v: i64) -> StoreResult<Timestamp> {
    Timestamp::from_microsecond(v).map_err(|e| StoreError::Corrupt(format!("instant {v}: {e}")))
}

fn opt_ts(v: Option<i64>) -> StoreResult<Option<Timestamp>> {
    v.map(from_micros).transpose()
}

fn corrupt<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

fn duplicate_or(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Duplicate(what.to_string())
        }
        _ => StoreError::Database(e),
    }
}

fn checks_text(checks: &[simdesk_domain::policy::IdentityCheck]) -> String {
    checks
        .iter()
        .map(simdesk_domain::cancellation::check_name)
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_checks(text: &str) -> StoreResult<Vec<simdesk_domain::policy::IdentityCheck>> {
    use simdesk_domain::policy::IdentityCheck;
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| match s {
            "possession" => Ok(IdentityCheck::Possession),
            "knowledge" => Ok(IdentityCheck::Knowledge),
            "document" => Ok(IdentityCheck::Document),
            other => Err(StoreError::Corrupt(format!("identity check {other:?}"))),
        })
        .collect()
}

/// The audit content of a line history entry as it is written (the same fields the audit
/// verifier reads back from the stored row).
fn new_event_content(id: i64, line_id: i64, e: &NewEvent) -> String {
    crate::audit::line_event_content(&crate::audit::LineEventFields {
        id,
        line_id,
        kind: &e.kind,
        from: e.from.map(|s| s.as_str()),
        to: e.to.map(|s| s.as_str()),
        detail: &e.detail,
        actor_kind: e.by.actor.kind.as_str(),
        actor_id: &e.by.actor.id,
        channel: e.by.channel.as_str(),
        reason: &e.by.reason,
        at: micros(e.by.at),
        policy_version: e.policy_version,
    })
}

/// A history entry waiting to be chained onto the audit trail at the end of its transaction:
/// (source table, its id, the content hashed).
type AuditEntry = (&'static str, i64, String);

/// Calls to the network about one subscriber must reach it in order: they share a subject.
fn outbox_subject(m: &OutboxMessage) -> Option<String> {
    m.kind
        .starts_with("network.")
        .then(|| {
            m.payload
                .get("imsi")
                .and_then(|v| v.as_str())
                .map(|imsi| format!("imsi:{imsi}"))
        })
        .flatten()
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// SQLite, the embedded default: one file, WAL, one writer at a time.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    vault: Arc<crate::vault::Vault>,
}

impl SqliteStore {
    pub async fn connect(url: &str, vault: Arc<crate::vault::Vault>) -> StoreResult<Self> {
        let pool = Self::pool_for(url).await?;
        Ok(SqliteStore { pool, vault })
    }

    /// A pool opened as simdesk opens its own (the bench's ceilings use the same settings).
    pub async fn pool_for(url: &str) -> StoreResult<SqlitePool> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            // Erased rows and replaced plaintext are overwritten, not left in free pages.
            .pragma("secure_delete", "ON")
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        Ok(SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?)
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// PostgreSQL, for several nodes sharing one database.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    vault: Arc<crate::vault::Vault>,
}

impl PostgresStore {
    pub async fn connect(
        url: &str,
        vault: Arc<crate::vault::Vault>,
        wait: Duration,
    ) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // Bounds how long a request waits while the database is unreachable: it is then
            // answered 503 with Retry-After instead of hanging.
            .acquire_timeout(wait)
            .connect(url)
            .await?;
        Ok(PostgresStore { pool, vault })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

macro_rules! shared_store {
    ($store:ident, $db:ty, $row:ty, $name:literal, $migrations:literal) => {
        impl $store {
            /// Writes a customer's sealed parts, their wrapped data keys and blind indexes.
            async fn store_sealed_person(
                tx: &mut sqlx::Transaction<'_, $db>,
                id: i64,
                sealed: &crate::vault::SealedPerson,
                at: Timestamp,
            ) -> StoreResult<()> {
                sqlx::query("UPDATE customers SET identity_sealed = $1, contact_sealed = $2, legacy_personal_data = '' WHERE id = $3")
                    .bind(&sealed.identity.sealed)
                    .bind(&sealed.contact.sealed)
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
                for (purpose, part) in [("identity", &sealed.identity), ("contact", &sealed.contact)] {
                    sqlx::query("INSERT INTO customer_keys (customer_id, purpose, master_id, wrapped, created_at) VALUES ($1, $2, $3, $4, $5)")
                        .bind(id)
                        .bind(purpose)
                        .bind(&part.key.master_id)
                        .bind(&part.key.sealed)
                        .bind(micros(at))
                        .execute(&mut **tx)
                        .await?;
                }
                for (field, value) in &sealed.index {
                    sqlx::query("INSERT INTO customer_index (customer_id, field, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                        .bind(id)
                        .bind(*field)
                        .bind(value)
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }

            /// A customer's sealed part with its wrapped key; `None` once the key was destroyed.
            async fn sealed_part(&self, id: i64, purpose: &str) -> StoreResult<Option<crate::vault::SealedPart>> {
                let column = if purpose == "identity" { "identity_sealed" } else { "contact_sealed" };
                let row: Option<(String, Vec<u8>, Option<Vec<u8>>)> = sqlx::query_as(&format!(
                    "SELECT k.master_id, k.wrapped, c.{column} FROM customer_keys k JOIN customers c ON c.id = k.customer_id
                     WHERE k.customer_id = $1 AND k.purpose = $2"
                ))
                .bind(id)
                .bind(purpose)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.and_then(|(master_id, wrapped, sealed)| {
                    sealed.map(|sealed| crate::vault::SealedPart {
                        key: crate::crypto::WrappedKey { master_id, sealed: wrapped },
                        sealed,
                    })
                }))
            }

            /// Checks the keys fit the data, then seals what an older release left in plaintext.
            async fn prepare_vault(&self) -> StoreResult<()> {
                let vault = &self.vault;
                let index_id: Option<String> = sqlx::query_scalar("SELECT value FROM vault_meta WHERE name = 'index_key_id'")
                    .fetch_optional(&self.pool)
                    .await?;
                match index_id {
                    Some(id) if id != vault.index_id() => {
                        return Err(StoreError::Refused(format!(
                            "the database's lookup indexes were made with index key {id}, but the loaded index.key is {}; \
                             restore the keys folder's index.key from backup",
                            vault.index_id()
                        )))
                    }
                    Some(_) => {}
                    None => {
                        sqlx::query("INSERT INTO vault_meta (name, value) VALUES ('index_key_id', $1) ON CONFLICT (name) DO NOTHING")
                            .bind(vault.index_id())
                            .execute(&self.pool)
                            .await?;
                    }
                }
                let masters: Vec<String> = sqlx::query_scalar(
                    "SELECT master_id FROM customer_keys UNION SELECT master_id FROM identity_documents WHERE master_id IS NOT NULL",
                )
                .fetch_all(&self.pool)
                .await?;
                let loaded = vault.master_id();
                if let Some(other) = masters.iter().find(|m| !vault.accepts(m)) {
                    let hint = if masters.iter().any(|m| *m == loaded) {
                        "a key rotation was interrupted: run `simdesk keys rotate` again with the same new key"
                    } else {
                        "set SIMDESK_MASTER_KEY or restore master_key_file to the key the data was sealed with"
                    };
                    return Err(StoreError::Refused(format!(
                        "personal data in this database is sealed under master key {other}, but the loaded master key is {loaded}; {hint}"
                    )));
                }
                // Rows written before personal data was sealed.
                let legacy: Vec<(i64, String, i64)> = sqlx::query_as(
                    "SELECT id, legacy_personal_data, created_at FROM customers WHERE legacy_personal_data <> ''",
                )
                .fetch_all(&self.pool)
                .await?;
                for (id, text, created) in legacy {
                    let personal: simdesk_domain::customer::PersonalData =
                        serde_json::from_str(&text).map_err(corrupt("personal data"))?;
                    let mut tx = self.pool.begin().await?;
                    Self::store_sealed_person(&mut tx, id, &vault.seal_person(id, &personal), from_micros(created)?).await?;
                    tx.commit().await?;
                }
                let documents: Vec<(i64, i64, String, Vec<u8>)> = sqlx::query_as(
                    "SELECT id, request_id, sha256, content FROM identity_documents WHERE content IS NOT NULL AND wrapped_key IS NULL",
                )
                .fetch_all(&self.pool)
                .await?;
                for (id, request, sha, content) in documents {
                    let sealed = vault.seal_document(request, &sha, &content);
                    sqlx::query("UPDATE identity_documents SET content = $1, wrapped_key = $2, master_id = $3 WHERE id = $4")
                        .bind(&sealed.sealed)
                        .bind(&sealed.key.sealed)
                        .bind(&sealed.key.master_id)
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                }
                Ok(())
            }

            fn line_from_row(row: &$row) -> StoreResult<Line> {
                let text = |c: &str| row.try_get::<String, _>(c);
                let state: String = text("state")?;
                let before: Option<String> = row.try_get("state_before_pending")?;
                Ok(Line {
                    id: row.try_get("id")?,
                    iccid: text("iccid")?.parse().map_err(corrupt("iccid"))?,
                    imsi: text("imsi")?.parse().map_err(corrupt("imsi"))?,
                    msisdn: text("msisdn")?.parse().map_err(corrupt("msisdn"))?,
                    carrier: text("carrier_code")?,
                    plan: text("plan_code")?,
                    kind: text("kind")?.parse::<LineKind>().map_err(corrupt("kind"))?,
                    eid: row
                        .try_get::<Option<String>, _>("eid")?
                        .map(|e| e.parse().map_err(corrupt("eid")))
                        .transpose()?,
                    activation_code: row.try_get("activation_code")?,
                    state: state.parse::<LineState>().map_err(corrupt("state"))?,
                    holder: row.try_get("holder_id")?,
                    activated_at: opt_ts(row.try_get("activated_at")?)?,
                    validity_ends_at: opt_ts(row.try_get("validity_ends_at")?)?,
                    grace_ends_at: opt_ts(row.try_get("grace_ends_at")?)?,
                    state_before_pending: before
                        .map(|s| s.parse::<LineState>().map_err(corrupt("state_before_pending")))
                        .transpose()?,
                    ended_at: opt_ts(row.try_get("ended_at")?)?,
                    version: row.try_get("version")?,
                })
            }

            async fn insert_event(
                tx: &mut sqlx::Transaction<'_, $db>,
                line_id: i64,
                e: &NewEvent,
                audit: &mut Vec<AuditEntry>,
            ) -> StoreResult<i64> {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO line_events (line_id, kind, from_state, to_state, detail, actor_kind, actor_id, channel, reason, at, policy_version)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                )
                .bind(line_id)
                .bind(&e.kind)
                .bind(e.from.map(|s| s.as_str()))
                .bind(e.to.map(|s| s.as_str()))
                .bind(&e.detail)
                .bind(e.by.actor.kind.as_str())
                .bind(&e.by.actor.id)
                .bind(e.by.channel.as_str())
                .bind(&e.by.reason)
                .bind(micros(e.by.at))
                .bind(e.policy_version)
                .fetch_one(&mut **tx)
                .await?;
                audit.push(("line_event", id, new_event_content(id, line_id, e)));
                Ok(id)
            }

            /// `count` fresh history-entry ids, taken before the rows are written so the audit
            /// trail can name them in one pass.
            async fn next_event_ids(tx: &mut sqlx::Transaction<'_, $db>, count: i64) -> StoreResult<Vec<i64>> {
                if $name == "postgres" {
                    Ok(sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('line_events', 'id')) FROM generate_series(1, $1)")
                        .bind(count)
                        .fetch_all(&mut **tx)
                        .await?)
                } else {
                    // SQLite: the transaction has written already, so it holds the only write lock.
                    let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM line_events")
                        .fetch_one(&mut **tx)
                        .await?;
                    Ok((last + 1..=last + count).collect())
                }
            }

            /// Chains many history entries, in order, onto the audit trail in one step.
            async fn append_audit_many(
                tx: &mut sqlx::Transaction<'_, $db>,
                entries: &[AuditEntry],
            ) -> StoreResult<()> {
                if entries.is_empty() {
                    return Ok(());
                }
                let (last, mut prev): (i64, String) =
                    sqlx::query_as("UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash")
                        .bind(entries.len() as i64)
                        .fetch_one(&mut **tx)
                        .await?;
                let first = last - entries.len() as i64 + 1;
                let mut rows = Vec::with_capacity(entries.len());
                for (i, (source, source_id, content)) in entries.iter().enumerate() {
                    let seq = first + i as i64;
                    let hash = crate::audit::chain_hash(&prev, seq, content);
                    rows.push((seq, *source, *source_id, content, std::mem::replace(&mut prev, hash.clone()), hash));
                }
                sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                    .bind(&prev)
                    .execute(&mut **tx)
                    .await?;
                for part in rows.chunks(LINE_CHANGE_CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("INSERT INTO audit_log (seq, source, source_id, content, prev_hash, hash) ");
                    q.push_values(part, |mut b, (seq, source, source_id, content, prev, hash)| {
                        b.push_bind(*seq)
                            .push_bind(*source)
                            .push_bind(*source_id)
                            .push_bind(content.as_str())
                            .push_bind(prev.as_str())
                            .push_bind(hash.as_str());
                    });
                    q.build().execute(&mut **tx).await?;
                }
                Ok(())
            }

            /// Chains one history entry onto the audit trail in the caller's transaction. The
            /// head row is updated first, which locks it: appends are chained one at a time.
            async fn append_audit(
                tx: &mut sqlx::Transaction<'_, $db>,
                source: &str,
                source_id: i64,
                content: &str,
            ) -> StoreResult<()> {
                let (seq, prev): (i64, String) =
                    sqlx::query_as("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
                        .fetch_one(&mut **tx)
                        .await?;
                let hash = crate::audit::chain_hash(&prev, seq, content);
                sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                    .bind(&hash)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query("INSERT INTO audit_log (seq, source, source_id, content, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(seq)
                    .bind(source)
                    .bind(source_id)
                    .bind(content)
                    .bind(&prev)
                    .bind(&hash)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            fn line_event_content(r: &$row) -> StoreResult<String> {
                let kind: String = r.try_get("kind")?;
                let from: Option<String> = r.try_get("from_state")?;
                let to: Option<String> = r.try_get("to_state")?;
                let detail: String = r.try_get("detail")?;
                let actor_kind: String = r.try_get("actor_kind")?;
                let actor_id: String = r.try_get("actor_id")?;
                let channel: String = r.try_get("channel")?;
                let reason: String = r.try_get("reason")?;
                Ok(crate::audit::line_event_content(&crate::audit::LineEventFields {
                    id: r.try_get("id")?,
                    line_id: r.try_get("line_id")?,
                    kind: &kind,
                    from: from.as_deref(),
                    to: to.as_deref(),
                    detail: &detail,
                    actor_kind: &actor_kind,
                    actor_id: &actor_id,
                    channel: &channel,
                    reason: &reason,
                    at: r.try_get("at")?,
                    policy_version: r.try_get("policy_version")?,
                }))
            }

            fn request_event_content(r: &$row) -> StoreResult<String> {
                let from: Option<String> = r.try_get("from_state")?;
                let to: String = r.try_get("to_state")?;
                let note: String = r.try_get("note")?;
                let actor_kind: String = r.try_get("actor_kind")?;
                let actor_id: String = r.try_get("actor_id")?;
                let channel: String = r.try_get("channel")?;
                let reason: String = r.try_get("reason")?;
                Ok(crate::audit::request_event_content(&crate::audit::RequestEventFields {
                    id: r.try_get("id")?,
                    request_id: r.try_get("request_id")?,
                    from: from.as_deref(),
                    to: &to,
                    note: &note,
                    actor_kind: &actor_kind,
                    actor_id: &actor_id,
                    channel: &channel,
                    reason: &reason,
                    at: r.try_get("at")?,
                }))
            }

            async fn apply_balance(
                tx: &mut sqlx::Transaction<'_, $db>,
                line_id: i64,
                event_id: i64,
                at: Timestamp,
                change: &BalanceChange,
            ) -> StoreResult<()> {
                let mut created = Vec::with_capacity(change.new_buckets.len());
                for b in &change.new_buckets {
                    // A new bucket starts empty; its grant movement fills it, so the entries explain every unit.
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO balance_buckets (line_id, unit, initial_amount, remaining, expires_at, source, created_at)
                         VALUES ($1, $2, $3, 0, $4, $5, $6) RETURNING id",
                    )
                    .bind(line_id)
                    .bind(b.unit.as_str())
                    .bind(b.amount)
                    .bind(b.expires_at.map(micros))
                    .bind(&b.source)
                    .bind(micros(at))
                    .fetch_one(&mut **tx)
                    .await?;
                    created.push(id);
                }
                for m in &change.movements {
                    let bucket_id = match m.bucket {
                        BucketRef::Existing(id) => id,
                        BucketRef::New(i) => *created
                            .get(i)
                            .ok_or_else(|| StoreError::Corrupt(format!("movement names new bucket {i} that was not created")))?,
                    };
                    // The CHECK (remaining >= 0) turns a concurrent overdraw into an error rather than a negative balance.
                    let updated = sqlx::query(
                        "UPDATE balance_buckets SET remaining = remaining + $1 WHERE id = $2 AND line_id = $3",
                    )
                    .bind(m.amount)
                    .bind(bucket_id)
                    .bind(line_id)
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| match &e {
                        sqlx::Error::Database(db) if db.is_check_violation() => StoreError::Conflict,
                        _ => StoreError::Database(e),
                    })?;
                    if updated.rows_affected() != 1 {
                        return Err(StoreError::NotFound(format!("balance bucket {bucket_id}")));
                    }
                    sqlx::query(
                        "INSERT INTO balance_entries (line_id, bucket_id, kind, amount, note, event_id, at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(line_id)
                    .bind(bucket_id)
                    .bind(m.kind.as_str())
                    .bind(m.amount)
                    .bind(&m.note)
                    .bind(event_id)
                    .bind(micros(at))
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }
            fn staff_from_row(r: &$row) -> StoreResult<StaffRow> {
                let disabled: Option<i64> = r.try_get("disabled_at")?;
                Ok(StaffRow {
                    id: r.try_get("id")?,
                    username: r.try_get("username")?,
                    password_hash: r.try_get("password_hash")?,
                    role: r.try_get("role")?,
                    carrier: r.try_get("carrier_code")?,
                    disabled: disabled.is_some(),
                })
            }

            fn token_from_row(r: &$row) -> StoreResult<ApiTokenRow> {
                let scopes: String = r.try_get("scopes")?;
                Ok(ApiTokenRow {
                    id: r.try_get("id")?,
                    carrier: r.try_get("carrier_code")?,
                    name: r.try_get("name")?,
                    created_by: r.try_get("created_by")?,
                    created_at: from_micros(r.try_get("created_at")?)?,
                    revoked_at: opt_ts(r.try_get("revoked_at")?)?,
                    scopes: scopes.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                    expires_at: opt_ts(r.try_get("expires_at")?)?,
                    last_used_at: opt_ts(r.try_get("last_used_at")?)?,
                })
            }

            fn request_from_row(row: &$row) -> StoreResult<RequestRecord> {
                use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
                use simdesk_domain::cancellation::{CancellationRequest, RequestState};
                let text = |c: &str| row.try_get::<String, _>(c);
                let refund_currency: Option<String> = row.try_get("refund_currency")?;
                let refund_total: Option<i64> = row.try_get("refund_total")?;
                let refund_total = match (refund_total, refund_currency) {
                    (Some(v), Some(c)) => Some(Money::new(v, c.parse::<Currency>().map_err(corrupt("refund currency"))?)),
                    _ => None,
                };
                let detail: Option<String> = row.try_get("refund_detail")?;
                let effective_date: Option<String> = row.try_get("effective_date")?;
                Ok(RequestRecord {
                    request: CancellationRequest {
                        id: row.try_get("id")?,
                        line_id: row.try_get("line_id")?,
                        channel: text("channel")?.parse::<Channel>().map_err(corrupt("channel"))?,
                        submitted: Attribution::new(
                            Actor { kind: text("actor_kind")?.parse::<ActorKind>().map_err(corrupt("actor kind"))?, id: text("actor_id")? },
                            text("channel")?.parse::<Channel>().map_err(corrupt("channel"))?,
                            from_micros(row.try_get("submitted_at")?)?,
                            text("reason")?,
                        ),
                        state: text("state")?.parse::<RequestState>().map_err(corrupt("request state"))?,
                        required: parse_checks(&text("required_checks")?)?,
                        passed: parse_checks(&text("passed_checks")?)?,
                        effective_date: effective_date.map(|d| d.parse().map_err(corrupt("effective date"))).transpose()?,
                        effective_at: opt_ts(row.try_get("effective_at")?)?,
                        reject_reason: row.try_get("reject_reason")?,
                        policy_version: row.try_get("policy_version")?,
                        version: row.try_get("version")?,
                    },
                    carrier: text("carrier_code")?,
                    refund_total,
                    refund_detail: detail.map(|d| serde_json::from_str(&d).map_err(corrupt("refund detail"))).transpose()?,
                    receipt_number: row.try_get("receipt_number")?,
                    completed_at: opt_ts(row.try_get("completed_at")?)?,
                })
            }

            async fn insert_movement(tx: &mut sqlx::Transaction<'_, $db>, w: &WalletEntry, request_id: Option<i64>) -> StoreResult<i64> {
                if !w.movement.is_balanced() {
                    return Err(StoreError::Corrupt(format!("refusing an unbalanced wallet movement {}", w.idempotency_key)));
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO wallet_movements (customer_id, kind, idempotency_key, request_id, note, at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(w.customer)
                .bind(w.movement.kind.as_str())
                .bind(&w.idempotency_key)
                .bind(request_id)
                .bind(&w.note)
                .bind(micros(w.at))
                .fetch_one(&mut **tx)
                .await
                .map_err(|e| duplicate_or(e, &format!("wallet movement {}", w.idempotency_key)))?;
                for p in &w.movement.postings {
                    sqlx::query("INSERT INTO wallet_postings (movement_id, account, amount, currency) VALUES ($1, $2, $3, $4)")
                        .bind(id)
                        .bind(p.account.to_string())
                        .bind(p.amount.minor())
                        .bind(p.amount.currency().code())
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(id)
            }

            async fn insert_outbox(tx: &mut sqlx::Transaction<'_, $db>, m: &OutboxMessage) -> StoreResult<()> {
                // The key makes a repeated decision harmless: the side effect is queued once.
                // Calls to the network about one subscriber must reach it in order.
                let subject = outbox_subject(m);
                sqlx::query(
                    "INSERT INTO outbox (kind, idempotency_key, payload, next_attempt_at, created_at, subject) VALUES ($1, $2, $3, $4, $4, $5)
                     ON CONFLICT (idempotency_key) DO NOTHING",
                )
                .bind(&m.kind)
                .bind(&m.idempotency_key)
                .bind(m.payload.to_string())
                .bind(micros(m.available_at))
                .bind(subject)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            async fn apply_line_in(
                tx: &mut sqlx::Transaction<'_, $db>,
                vault: &crate::vault::Vault,
                change: &LineChange,
                audit: &mut Vec<AuditEntry>,
            ) -> StoreResult<()> {
                let line = &change.line;
                let mut holder = line.holder;
                if let Some(reg) = &change.new_holder {
                    let at = change.events.first().map(|e| e.by.at).unwrap_or_else(Timestamp::now);
                    // The row comes first: its id is bound into the sealed data, so a sealed value
                    // cannot be moved onto another customer.
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO customers (language, legacy_personal_data, created_at) VALUES ($1, '', $2) RETURNING id",
                    )
                    .bind(reg.language.tag())
                    .bind(micros(at))
                    .fetch_one(&mut **tx)
                    .await?;
                    let sealed = vault.seal_person(id, &reg.personal);
                    Self::store_sealed_person(tx, id, &sealed, at).await?;
                    holder = Some(id);
                }
                // Optimistic concurrency: the decision was made on `version`; anyone else's change wins.
                let updated = sqlx::query(
                    "UPDATE lines SET state = $1, holder_id = $2, activated_at = $3, validity_ends_at = $4, grace_ends_at = $5,
                     state_before_pending = $6, ended_at = $7, version = version + 1
                     WHERE id = $8 AND version = $9",
                )
                .bind(line.state.as_str())
                .bind(holder)
                .bind(line.activated_at.map(micros))
                .bind(line.validity_ends_at.map(micros))
                .bind(line.grace_ends_at.map(micros))
                .bind(line.state_before_pending.map(|s| s.as_str()))
                .bind(line.ended_at.map(micros))
                .bind(line.id)
                .bind(line.version)
                .execute(&mut **tx)
                .await?;
                if updated.rows_affected() != 1 {
                    return Err(StoreError::Conflict);
                }
                let mut first_event = None;
                for e in &change.events {
                    let id = Self::insert_event(tx, line.id, e, audit).await?;
                    first_event.get_or_insert((id, e.by.at));
                }
                let (event_id, at) = first_event.ok_or_else(|| StoreError::Corrupt("a change without a history entry".into()))?;
                Self::apply_balance(tx, line.id, event_id, at, &change.balance).await?;
                if let Some(bind) = &change.bind {
                    sqlx::query(
                        "INSERT INTO line_addons (line_id, addon_code, charge_minor, currency, bound_at, bound_event_id)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(line.id)
                    .bind(&bind.code)
                    .bind(bind.charge.minor())
                    .bind(bind.charge.currency().code())
                    .bind(micros(at))
                    .bind(event_id)
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| duplicate_or(e, &format!("add-on {} on this line", bind.code)))?;
                }
                for m in &change.outbox {
                    let mut m = m.clone();
                    if m.payload.get("customer").and_then(|c| c.as_i64()) == Some(0) {
                        if let (Some(h), Some(obj)) = (holder, m.payload.as_object_mut()) {
                            obj.insert("customer".into(), h.into());
                        }
                    }
                    Self::insert_outbox(tx, &m).await?;
                }
                for binding in change.unbind.iter().copied() {
                    let done = sqlx::query(
                        "UPDATE line_addons SET unbound_at = $1, unbound_event_id = $2 WHERE id = $3 AND line_id = $4 AND unbound_at IS NULL",
                    )
                    .bind(micros(at))
                    .bind(event_id)
                    .bind(binding)
                    .bind(line.id)
                    .execute(&mut **tx)
                    .await?;
                    if done.rows_affected() != 1 {
                        return Err(StoreError::Conflict);
                    }
                }
                Ok(())
            }

        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                $name
            }

            async fn migrate(&self) -> StoreResult<()> {
                sqlx::migrate!($migrations).run(&self.pool).await?;
                self.prepare_vault().await
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn save_policy_set(&self, set: &PolicySet, now: Timestamp) -> StoreResult<Vec<DocumentOutcome>> {
                let mut tx = self.pool.begin().await?;
                let mut outcomes = Vec::new();
                let docs = std::iter::once(&set.carrier).chain(set.plans.iter());
                for doc in docs {
                    let plan_code = doc.plan_code.clone().unwrap_or_default();
                    let sha = sha256_hex(&doc.body);
                    let latest: Option<(i64, String)> = sqlx::query_as(
                        "SELECT version, sha256 FROM policy_documents WHERE carrier_code = $1 AND plan_code = $2
                         ORDER BY version DESC LIMIT 1",
                    )
                    .bind(&doc.carrier_code)
                    .bind(&plan_code)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let (version, changed) = match latest {
                        Some((v, s)) if s == sha => (v, false),
                        Some((v, _)) => (v + 1, true),
                        None => (1, true),
                    };
                    if changed {
                        sqlx::query(
                            "INSERT INTO policy_documents (carrier_code, plan_code, version, sha256, source_name, body, loaded_at)
                             VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        )
                        .bind(&doc.carrier_code)
                        .bind(&plan_code)
                        .bind(version)
                        .bind(&sha)
                        .bind(&doc.source_name)
                        .bind(&doc.body)
                        .bind(micros(now))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| duplicate_or(e, "policy version (loaded concurrently)"))?;
                    }
                    if doc.plan_code.is_none() {
                        sqlx::query(
                            "INSERT INTO carriers (code, name, policy_version) VALUES ($1, $2, $3)
                             ON CONFLICT (code) DO UPDATE SET name = excluded.name, policy_version = excluded.policy_version",
                        )
                        .bind(&doc.carrier_code)
                        .bind(&doc.name)
                        .bind(version)
                        .execute(&mut *tx)
                        .await?;
                    } else {
                        sqlx::query(
                            "INSERT INTO plans (carrier_code, code, name, policy_version) VALUES ($1, $2, $3, $4)
                             ON CONFLICT (carrier_code, code) DO UPDATE SET name = excluded.name, policy_version = excluded.policy_version",
                        )
                        .bind(&doc.carrier_code)
                        .bind(&plan_code)
                        .bind(&doc.name)
                        .bind(version)
                        .execute(&mut *tx)
                        .await?;
                    }
                    outcomes.push(DocumentOutcome {
                        carrier_code: doc.carrier_code.clone(),
                        plan_code: doc.plan_code.clone(),
                        version,
                        changed,
                    });
                }
                tx.commit().await?;
                Ok(outcomes)
            }

            async fn current_policy_documents(&self) -> StoreResult<Vec<StoredDocument>> {
                let rows = sqlx::query(
                    "SELECT d.carrier_code, d.plan_code, d.version, d.source_name, d.body FROM policy_documents d
                     WHERE d.version = (SELECT MAX(version) FROM policy_documents x
                                        WHERE x.carrier_code = d.carrier_code AND x.plan_code = d.plan_code)
                     ORDER BY d.carrier_code, d.plan_code",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        let plan: String = r.try_get("plan_code")?;
                        Ok(StoredDocument {
                            carrier_code: r.try_get("carrier_code")?,
                            plan_code: (!plan.is_empty()).then_some(plan),
                            version: r.try_get("version")?,
                            source_name: r.try_get("source_name")?,
                            body: r.try_get("body")?,
                        })
                    })
                    .collect()
            }

            async fn carriers(&self) -> StoreResult<Vec<CarrierRow>> {
                let rows: Vec<(String, String, i64)> =
                    sqlx::query_as("SELECT code, name, policy_version FROM carriers ORDER BY code")
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows
                    .into_iter()
                    .map(|(code, name, policy_version)| CarrierRow { code, name, policy_version })
                    .collect())
            }

            async fn existing_identifiers(
                &self,
                iccids: &[&str],
                imsis: &[&str],
                msisdns: &[&str],
            ) -> StoreResult<Vec<String>> {
                let mut found = Vec::new();
                for (column, values) in [("iccid", iccids), ("imsi", imsis), ("msisdn", msisdns)] {
                    for chunk in values.chunks(LOOKUP_CHUNK) {
                        let mut q = QueryBuilder::<$db>::new(format!("SELECT {column} FROM lines WHERE {column} IN ("));
                        let mut sep = q.separated(", ");
                        for v in chunk {
                            sep.push_bind(v);
                        }
                        q.push(")");
                        let rows: Vec<(String,)> = q.build_query_as().fetch_all(&self.pool).await?;
                        found.extend(rows.into_iter().map(|(v,)| v));
                    }
                }
                Ok(found)
            }

            async fn insert_lines(
                &self,
                batch: &ImportBatch,
                lines: &[NewLine],
                progress: &(dyn Fn(u64) + Send + Sync),
            ) -> StoreResult<u64> {
                let now = batch.by.at;
                let mut tx = self.pool.begin().await?;
                let batch_id: i64 = sqlx::query_scalar(
                    "INSERT INTO import_batches (carrier_code, source_name, line_count, skipped_rows, actor_kind, actor_id, channel, reason, at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(&batch.carrier)
                .bind(&batch.source_name)
                .bind(lines.len() as i64)
                .bind(batch.skipped_rows as i64)
                .bind(batch.by.actor.kind.as_str())
                .bind(&batch.by.actor.id)
                .bind(batch.by.channel.as_str())
                .bind(&batch.by.reason)
                .bind(micros(now))
                .fetch_one(&mut *tx)
                .await?;
                let mut done = 0u64;
                for chunk in lines.chunks(INSERT_CHUNK) {
                    let mut q = QueryBuilder::<$db>::new(
                        "INSERT INTO lines (iccid, imsi, msisdn, carrier_code, plan_code, kind, eid, activation_code, state, version, import_batch_id, created_at) ",
                    );
                    q.push_values(chunk, |mut b, l| {
                        b.push_bind(&l.iccid)
                            .push_bind(&l.imsi)
                            .push_bind(&l.msisdn)
                            .push_bind(&l.carrier)
                            .push_bind(&l.plan)
                            .push_bind(&l.kind)
                            .push_bind(&l.eid)
                            .push_bind(&l.activation_code)
                            .push_bind(LineState::InStock.as_str())
                            .push_bind(0i64)
                            .push_bind(batch_id)
                            .push_bind(micros(now));
                    });
                    q.build()
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| duplicate_or(e, "a line with one of these identifiers"))?;
                    done += chunk.len() as u64;
                    progress(done);
                }
                tx.commit().await?;
                Ok(done)
            }

            async fn line(&self, key: &LineKey) -> StoreResult<Option<Line>> {
                let query = match key {
                    LineKey::Id(id) => sqlx::query("SELECT * FROM lines WHERE id = $1").bind(*id),
                    LineKey::Iccid(i) => sqlx::query("SELECT * FROM lines WHERE iccid = $1").bind(i.as_str().to_string()),
                    LineKey::Msisdn(m) => sqlx::query("SELECT * FROM lines WHERE msisdn = $1").bind(m.as_str().to_string()),
                };
                let row = query.fetch_optional(&self.pool).await?;
                row.as_ref().map(Self::line_from_row).transpose()
            }

            async fn import_batch_of(&self, line_id: i64) -> StoreResult<Option<ImportBatchRow>> {
                let row = sqlx::query(
                    "SELECT b.* FROM import_batches b JOIN lines l ON l.import_batch_id = b.id WHERE l.id = $1",
                )
                .bind(line_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| {
                    Ok(ImportBatchRow {
                        id: r.try_get("id")?,
                        source_name: r.try_get("source_name")?,
                        line_count: r.try_get("line_count")?,
                        actor_kind: r.try_get("actor_kind")?,
                        actor_id: r.try_get("actor_id")?,
                        channel: r.try_get("channel")?,
                        reason: r.try_get("reason")?,
                        at: from_micros(r.try_get("at")?)?,
                    })
                })
                .transpose()
            }

            async fn buckets(&self, line_id: i64) -> StoreResult<Vec<Bucket>> {
                let rows = sqlx::query(
                    "SELECT id, unit, initial_amount, remaining, expires_at, source FROM balance_buckets WHERE line_id = $1 ORDER BY id",
                )
                .bind(line_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(Bucket {
                            id: r.try_get("id")?,
                            unit: r.try_get::<String, _>("unit")?.parse::<BucketUnit>().map_err(corrupt("unit"))?,
                            initial: r.try_get("initial_amount")?,
                            remaining: r.try_get("remaining")?,
                            expires_at: opt_ts(r.try_get("expires_at")?)?,
                            source: r.try_get("source")?,
                        })
                    })
                    .collect()
            }

            async fn addons(&self, line_id: i64) -> StoreResult<Vec<AddonBinding>> {
                let rows = sqlx::query(
                    "SELECT id, addon_code, charge_minor, currency, bound_at, unbound_at FROM line_addons WHERE line_id = $1 ORDER BY id",
                )
                .bind(line_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        let currency: Currency = r.try_get::<String, _>("currency")?.parse().map_err(corrupt("currency"))?;
                        Ok(AddonBinding {
                            id: r.try_get("id")?,
                            code: r.try_get("addon_code")?,
                            charge: Money::new(r.try_get("charge_minor")?, currency),
                            bound_at: from_micros(r.try_get("bound_at")?)?,
                            unbound_at: opt_ts(r.try_get("unbound_at")?)?,
                        })
                    })
                    .collect()
            }

            async fn events(&self, line_id: i64) -> StoreResult<Vec<EventRow>> {
                let rows = sqlx::query("SELECT * FROM line_events WHERE line_id = $1 ORDER BY id")
                    .bind(line_id)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok(EventRow {
                            id: r.try_get("id")?,
                            kind: r.try_get("kind")?,
                            from_state: r.try_get("from_state")?,
                            to_state: r.try_get("to_state")?,
                            detail: r.try_get("detail")?,
                            actor_kind: r.try_get("actor_kind")?,
                            actor_id: r.try_get("actor_id")?,
                            channel: r.try_get("channel")?,
                            reason: r.try_get("reason")?,
                            at: from_micros(r.try_get("at")?)?,
                            policy_version: r.try_get("policy_version")?,
                        })
                    })
                    .collect()
            }

            async fn balance_entries(&self, line_id: i64) -> StoreResult<Vec<EntryRow>> {
                let rows = sqlx::query(
                    "SELECT e.id, e.bucket_id, b.unit, e.kind, e.amount, e.note, e.at FROM balance_entries e
                     JOIN balance_buckets b ON b.id = e.bucket_id WHERE e.line_id = $1 ORDER BY e.id",
                )
                .bind(line_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(EntryRow {
                            id: r.try_get("id")?,
                            bucket_id: r.try_get("bucket_id")?,
                            unit: r.try_get("unit")?,
                            kind: r.try_get("kind")?,
                            amount: r.try_get("amount")?,
                            note: r.try_get("note")?,
                            at: from_micros(r.try_get("at")?)?,
                        })
                    })
                    .collect()
            }

            async fn customer(&self, id: i64) -> StoreResult<Option<CustomerRow>> {
                let row: Option<(i64, String, Option<i64>, Option<i64>)> = sqlx::query_as(
                    "SELECT id, language, contact_erased_at, identity_erased_at FROM customers WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                let Some((id, language, contact_erased, identity_erased)) = row else {
                    return Ok(None);
                };
                let identity = self.sealed_part(id, "identity").await?;
                let contact = self.sealed_part(id, "contact").await?;
                let personal = match (identity, contact) {
                    (Some(identity), Some(contact)) => Some(
                        self.vault
                            .open_person(id, &identity, &contact)
                            .map_err(|e| StoreError::Corrupt(format!("customer {id}'s personal data: {e}")))?,
                    ),
                    _ => None,
                };
                Ok(Some(CustomerRow {
                    id,
                    language,
                    personal,
                    contact_erased_at: opt_ts(contact_erased)?,
                    identity_erased_at: opt_ts(identity_erased)?,
                }))
            }

            async fn rewrap_data_keys(&self) -> StoreResult<u64> {
                let Some(new) = self.vault.next() else {
                    return Err(StoreError::Refused("no new master key to move the data keys to".into()));
                };
                let new_id = new.id();
                let mut moved = 0u64;
                // Batches until none is left under another key, so rows written meanwhile by
                // running nodes (still on the old key) are moved too.
                loop {
                    let rows: Vec<(i64, String, String, Vec<u8>)> = sqlx::query_as(
                        "SELECT customer_id, purpose, master_id, wrapped FROM customer_keys WHERE master_id <> $1 ORDER BY customer_id LIMIT 500",
                    )
                    .bind(&new_id)
                    .fetch_all(&self.pool)
                    .await?;
                    if rows.is_empty() {
                        break;
                    }
                    let mut tx = self.pool.begin().await?;
                    for (customer, purpose, master_id, wrapped) in rows {
                        let old = crate::crypto::WrappedKey { master_id: master_id.clone(), sealed: wrapped };
                        let key = self
                            .vault
                            .rewrap(new, customer, &purpose, &old)
                            .map_err(|e| StoreError::Corrupt(format!("customer {customer}'s {purpose} key: {e}")))?;
                        moved += sqlx::query(
                            "UPDATE customer_keys SET master_id = $1, wrapped = $2 WHERE customer_id = $3 AND purpose = $4 AND master_id = $5",
                        )
                        .bind(&key.master_id)
                        .bind(&key.sealed)
                        .bind(customer)
                        .bind(&purpose)
                        .bind(&master_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    }
                    tx.commit().await?;
                }
                loop {
                    let rows: Vec<(i64, i64, String, String, Vec<u8>)> = sqlx::query_as(
                        "SELECT id, request_id, sha256, master_id, wrapped_key FROM identity_documents
                         WHERE wrapped_key IS NOT NULL AND master_id <> $1 ORDER BY id LIMIT 500",
                    )
                    .bind(&new_id)
                    .fetch_all(&self.pool)
                    .await?;
                    if rows.is_empty() {
                        break;
                    }
                    let mut tx = self.pool.begin().await?;
                    for (id, request, sha, master_id, wrapped) in rows {
                        let old = crate::crypto::WrappedKey { master_id: master_id.clone(), sealed: wrapped };
                        let key = self
                            .vault
                            .rewrap_document(new, request, &sha, &old)
                            .map_err(|e| StoreError::Corrupt(format!("document {id}'s key: {e}")))?;
                        moved += sqlx::query("UPDATE identity_documents SET master_id = $1, wrapped_key = $2 WHERE id = $3 AND master_id = $4")
                            .bind(&key.master_id)
                            .bind(&key.sealed)
                            .bind(id)
                            .bind(&master_id)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                    }
                    tx.commit().await?;
                }
                Ok(moved)
            }

            async fn identity_record(&self, customer: i64) -> StoreResult<Option<crate::vault::IdentityRecord>> {
                let Some(part) = self.sealed_part(customer, "identity").await? else {
                    return Ok(None);
                };
                self.vault
                    .open_identity(customer, &part)
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt(format!("customer {customer}'s identity record: {e}")))
            }

            async fn customers_due_for_erasure(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<i64>> {
                Ok(sqlx::query_scalar(
                    "SELECT c.id FROM customers c
                     WHERE c.identity_erased_at IS NULL AND (c.erasure_due_at IS NULL OR c.erasure_due_at <= $1)
                     AND NOT EXISTS (SELECT 1 FROM lines l WHERE l.holder_id = c.id AND l.ended_at IS NULL)
                     ORDER BY c.id LIMIT $2",
                )
                .bind(micros(now))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn set_erasure_due(&self, customer: i64, at: Timestamp) -> StoreResult<()> {
                sqlx::query("UPDATE customers SET erasure_due_at = $1 WHERE id = $2")
                    .bind(micros(at))
                    .bind(customer)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn erase_customer(&self, e: &Erasure) -> StoreResult<u64> {
                let at = micros(e.event.by.at);
                let mut tx = self.pool.begin().await?;
                let mut parts = Vec::new();
                if e.contact {
                    parts.push(("contact", "contact_sealed", "contact_erased_at", vec!["email"]));
                }
                if e.identity {
                    parts.push(("identity", "identity_sealed", "identity_erased_at", vec!["passport", "name"]));
                }
                for (purpose, sealed, erased, fields) in parts {
                    sqlx::query("DELETE FROM customer_keys WHERE customer_id = $1 AND purpose = $2")
                        .bind(e.customer)
                        .bind(purpose)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(&format!(
                        "UPDATE customers SET {sealed} = NULL, {erased} = COALESCE({erased}, $1) WHERE id = $2"
                    ))
                    .bind(at)
                    .bind(e.customer)
                    .execute(&mut *tx)
                    .await?;
                    for field in fields {
                        sqlx::query("DELETE FROM customer_index WHERE customer_id = $1 AND field = $2")
                            .bind(e.customer)
                            .bind(field)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                sqlx::query("UPDATE customers SET erasure_due_at = $1 WHERE id = $2")
                    .bind(e.next_due.map(micros))
                    .bind(e.customer)
                    .execute(&mut *tx)
                    .await?;
                let documents = sqlx::query(
                    "UPDATE identity_documents SET content = NULL, wrapped_key = NULL, erased_at = $1
                     WHERE content IS NOT NULL AND request_id IN
                       (SELECT r.id FROM cancellation_requests r JOIN lines l ON l.id = r.line_id WHERE l.holder_id = $2)",
                )
                .bind(at)
                .bind(e.customer)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                sqlx::query("DELETE FROM one_time_codes WHERE line_id IN (SELECT id FROM lines WHERE holder_id = $1)")
                    .bind(e.customer)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM sessions WHERE kind = 'traveller' AND subject = $1")
                    .bind(e.customer)
                    .execute(&mut *tx)
                    .await?;
                let lines: Vec<i64> = sqlx::query_scalar("SELECT id FROM lines WHERE holder_id = $1 ORDER BY id")
                    .bind(e.customer)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut audit = Vec::new();
                for line in lines {
                    Self::insert_event(&mut tx, line, &e.event, &mut audit).await?;
                }
                Self::append_audit_many(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(documents)
            }

            async fn erase_decided_documents(&self, carrier: &str, before: Timestamp, now: Timestamp) -> StoreResult<u64> {
                // A document left pending on a request that was withdrawn, rejected or completed
                // will never be reviewed: its purpose is over as well.
                Ok(sqlx::query(
                    "UPDATE identity_documents SET content = NULL, wrapped_key = NULL, erased_at = $3
                     WHERE content IS NOT NULL
                     AND request_id IN (SELECT id FROM cancellation_requests WHERE carrier_code = $2)
                     AND ((review <> 'pending' AND reviewed_at <= $1)
                       OR (uploaded_at <= $1 AND request_id IN
                           (SELECT id FROM cancellation_requests WHERE state IN ('withdrawn', 'rejected', 'completed'))))",
                )
                .bind(micros(before))
                .bind(carrier)
                .bind(micros(now))
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn purge_spent(&self, codes_before: Timestamp, now: Timestamp, keys_before: Timestamp) -> StoreResult<PurgeCounts> {
                let codes = sqlx::query("DELETE FROM one_time_codes WHERE issued_at < $1")
                    .bind(micros(codes_before))
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                    .bind(micros(now))
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                let idempotency_keys = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1 AND status IS NOT NULL")
                    .bind(micros(keys_before))
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(PurgeCounts { codes, sessions, idempotency_keys })
            }

            async fn privacy_rows(&self, after: i64, limit: i64) -> StoreResult<Vec<PrivacyRow>> {
                let rows: Vec<(i64, i64, Option<i64>, Option<i64>, i64)> = sqlx::query_as(
                    "SELECT c.id, c.created_at, c.contact_erased_at, c.identity_erased_at,
                       (SELECT COUNT(*) FROM identity_documents d JOIN cancellation_requests r ON r.id = d.request_id
                        JOIN lines l ON l.id = r.line_id WHERE l.holder_id = c.id AND d.content IS NOT NULL)
                     FROM customers c WHERE c.id > $1 ORDER BY c.id LIMIT $2",
                )
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(customer, created, contact, identity, documents)| {
                        Ok(PrivacyRow {
                            customer,
                            created_at: from_micros(created)?,
                            contact_erased_at: opt_ts(contact)?,
                            identity_erased_at: opt_ts(identity)?,
                            documents,
                        })
                    })
                    .collect()
            }

            async fn outbox_progress(&self, prefix: &str) -> StoreResult<(i64, i64)> {
                let pattern = format!("{prefix}%");
                Ok(sqlx::query_as(
                    "SELECT COUNT(*), COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0) FROM outbox WHERE idempotency_key LIKE $1",
                )
                .bind(pattern)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn count_lines_by_state(&self) -> StoreResult<Vec<(String, String, i64)>> {
                Ok(sqlx::query_as(
                    "SELECT carrier_code, state, COUNT(*) FROM lines GROUP BY carrier_code, state ORDER BY carrier_code, state",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn apply_lines(&self, changes: &[LineChange]) -> StoreResult<Vec<i64>> {
                if let Some(c) = changes.iter().find(|c| {
                    c.new_holder.is_some()
                        || c.bind.is_some()
                        || !c.unbind.is_empty()
                        || !c.balance.new_buckets.is_empty()
                        || !c.balance.movements.is_empty()
                        || c.events.is_empty()
                }) {
                    return Err(StoreError::Refused(format!(
                        "line {} carries more than a plain change; apply it on its own",
                        c.line.id
                    )));
                }
                let mut applied = Vec::with_capacity(changes.len());
                let mut tx = self.pool.begin().await?;
                for chunk in changes.chunks(LINE_CHANGE_CHUNK) {
                    // Each line moves only if nobody changed it since the decision (its version).
                    let mut q = QueryBuilder::<$db>::new(
                        "WITH v (vid, vversion, vstate, vholder, vactivated, vvalidity, vgrace, vbefore, vended) AS (",
                    );
                    q.push_values(chunk, |mut b, c| {
                        let l = &c.line;
                        b.push_bind(l.id)
                            .push_bind(l.version)
                            .push_bind(l.state.as_str())
                            .push_bind(l.holder)
                            .push_bind(l.activated_at.map(micros))
                            .push_bind(l.validity_ends_at.map(micros))
                            .push_bind(l.grace_ends_at.map(micros))
                            .push_bind(l.state_before_pending.map(|s| s.as_str()))
                            .push_bind(l.ended_at.map(micros));
                    });
                    q.push(
                        ") UPDATE lines SET state = vstate, holder_id = vholder, activated_at = vactivated,
                         validity_ends_at = vvalidity, grace_ends_at = vgrace, state_before_pending = vbefore,
                         ended_at = vended, version = version + 1
                         FROM v WHERE id = vid AND version = vversion RETURNING id",
                    );
                    let moved: std::collections::HashSet<i64> = q
                        .build_query_scalar::<i64>()
                        .fetch_all(&mut *tx)
                        .await?
                        .into_iter()
                        .collect();
                    let done: Vec<&LineChange> = chunk.iter().filter(|c| moved.contains(&c.line.id)).collect();
                    if done.is_empty() {
                        continue;
                    }
                    let events: Vec<(i64, &NewEvent)> = done
                        .iter()
                        .flat_map(|c| c.events.iter().map(move |e| (c.line.id, e)))
                        .collect();
                    let ids = Self::next_event_ids(&mut tx, events.len() as i64).await?;
                    let mut q = QueryBuilder::<$db>::new(
                        "INSERT INTO line_events (id, line_id, kind, from_state, to_state, detail, actor_kind, actor_id, channel, reason, at, policy_version) ",
                    );
                    q.push_values(events.iter().zip(&ids), |mut b, ((line_id, e), id)| {
                        b.push_bind(*id)
                            .push_bind(*line_id)
                            .push_bind(&e.kind)
                            .push_bind(e.from.map(|s| s.as_str()))
                            .push_bind(e.to.map(|s| s.as_str()))
                            .push_bind(&e.detail)
                            .push_bind(e.by.actor.kind.as_str())
                            .push_bind(&e.by.actor.id)
                            .push_bind(e.by.channel.as_str())
                            .push_bind(&e.by.reason)
                            .push_bind(micros(e.by.at))
                            .push_bind(e.policy_version);
                    });
                    q.build().execute(&mut *tx).await?;
                    let entries: Vec<AuditEntry> = events
                        .iter()
                        .zip(&ids)
                        .map(|((line_id, e), id)| {
                            ("line_event", *id, new_event_content(*id, *line_id, e))
                        })
                        .collect();
                    Self::append_audit_many(&mut tx, &entries).await?;
                    let outbox: Vec<&OutboxMessage> = done.iter().flat_map(|c| c.outbox.iter()).collect();
                    for part in outbox.chunks(LINE_CHANGE_CHUNK) {
                        let mut q = QueryBuilder::<$db>::new(
                            "INSERT INTO outbox (kind, idempotency_key, payload, next_attempt_at, created_at, subject) ",
                        );
                        q.push_values(part, |mut b, m| {
                            b.push_bind(&m.kind)
                                .push_bind(&m.idempotency_key)
                                .push_bind(m.payload.to_string())
                                .push_bind(micros(m.available_at))
                                .push_bind(micros(m.available_at))
                                .push_bind(outbox_subject(m));
                        });
                        q.push(" ON CONFLICT (idempotency_key) DO NOTHING");
                        q.build().execute(&mut *tx).await?;
                    }
                    applied.extend(done.iter().map(|c| c.line.id));
                }
                tx.commit().await?;
                Ok(applied)
            }

            async fn customer_languages(&self, ids: &[i64]) -> StoreResult<std::collections::HashMap<i64, String>> {
                let mut languages = std::collections::HashMap::new();
                for chunk in ids.chunks(LOOKUP_CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("SELECT id, language FROM customers WHERE id IN (");
                    let mut sep = q.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    q.push(")");
                    let rows: Vec<(i64, String)> = q.build_query_as().fetch_all(&self.pool).await?;
                    languages.extend(rows);
                }
                Ok(languages)
            }

            async fn apply(&self, change: &LineChange) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                let mut audit = Vec::new();
                Self::apply_line_in(&mut tx, &self.vault, change, &mut audit).await?;
                Self::append_audit_many(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn apply_request(&self, change: &RequestChange) -> StoreResult<AppliedRequest> {
                let mut tx = self.pool.begin().await?;
                let r = &change.request;
                let required = checks_text(&r.required);
                let passed = checks_text(&r.passed);
                let refund_detail = change.refund.as_ref().map(|f| serde_json::to_string(f)).transpose().map_err(corrupt("refund"))?;
                let mut audit = Vec::new();
                let id = if r.id == 0 {
                    sqlx::query_scalar::<_, i64>(
                        "INSERT INTO cancellation_requests (line_id, carrier_code, channel, actor_kind, actor_id, reason, submitted_at, state,
                            required_checks, passed_checks, effective_date, effective_at, reject_reason, policy_version)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
                    )
                    .bind(r.line_id)
                    .bind(&change.carrier)
                    .bind(r.channel.as_str())
                    .bind(r.submitted.actor.kind.as_str())
                    .bind(&r.submitted.actor.id)
                    .bind(&r.submitted.reason)
                    .bind(micros(r.submitted.at))
                    .bind(r.state.as_str())
                    .bind(&required)
                    .bind(&passed)
                    .bind(r.effective_date.map(|d| d.to_string()))
                    .bind(r.effective_at.map(micros))
                    .bind(&r.reject_reason)
                    .bind(r.policy_version)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| duplicate_or(e, "an open cancellation request for this line"))?
                } else {
                    let done = sqlx::query(
                        "UPDATE cancellation_requests SET state = $1, passed_checks = $2, effective_date = $3, effective_at = $4,
                            reject_reason = $5, refund_total = COALESCE($6, refund_total), refund_currency = COALESCE($7, refund_currency),
                            refund_detail = COALESCE($8, refund_detail), completed_at = COALESCE($9, completed_at), version = version + 1
                         WHERE id = $10 AND version = $11",
                    )
                    .bind(r.state.as_str())
                    .bind(&passed)
                    .bind(r.effective_date.map(|d| d.to_string()))
                    .bind(r.effective_at.map(micros))
                    .bind(&r.reject_reason)
                    .bind(change.refund.as_ref().map(|f| f.total.minor()))
                    .bind(change.refund.as_ref().map(|f| f.total.currency().code()))
                    .bind(&refund_detail)
                    .bind((r.state == simdesk_domain::cancellation::RequestState::Completed).then(|| change.events.last().map(|e| micros(e.by.at))).flatten())
                    .bind(r.id)
                    .bind(r.version)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() != 1 {
                        return Err(StoreError::Conflict);
                    }
                    r.id
                };
                for e in &change.events {
                    let event_id: i64 = sqlx::query_scalar(
                        "INSERT INTO request_events (request_id, from_state, to_state, note, actor_kind, actor_id, channel, reason, at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                    )
                    .bind(id)
                    .bind(e.from.map(|s| s.as_str()))
                    .bind(e.to.as_str())
                    .bind(&e.note)
                    .bind(e.by.actor.kind.as_str())
                    .bind(&e.by.actor.id)
                    .bind(e.by.channel.as_str())
                    .bind(&e.by.reason)
                    .bind(micros(e.by.at))
                    .fetch_one(&mut *tx)
                    .await?;
                    let content = crate::audit::request_event_content(&crate::audit::RequestEventFields {
                        id: event_id,
                        request_id: id,
                        from: e.from.map(|s| s.as_str()),
                        to: e.to.as_str(),
                        note: &e.note,
                        actor_kind: e.by.actor.kind.as_str(),
                        actor_id: &e.by.actor.id,
                        channel: e.by.channel.as_str(),
                        reason: &e.by.reason,
                        at: micros(e.by.at),
                    });
                    audit.push(("request_event", event_id, content));
                }
                if let Some(line) = &change.line {
                    Self::apply_line_in(&mut tx, &self.vault, line, &mut audit).await?;
                }
                if let Some(code) = change.consume_code {
                    let at = change.events.first().map(|e| e.by.at).unwrap_or_else(Timestamp::now);
                    let used = sqlx::query("UPDATE one_time_codes SET used_at = $1, request_id = COALESCE(request_id, $2) WHERE id = $3 AND used_at IS NULL")
                        .bind(micros(at))
                        .bind(id)
                        .bind(code)
                        .execute(&mut *tx)
                        .await?;
                    if used.rows_affected() != 1 {
                        return Err(StoreError::Conflict);
                    }
                }
                if let Some(review) = &change.document_review {
                    let done = sqlx::query(
                        "UPDATE identity_documents SET review = $1, review_reason = $2, reviewed_by = $3, reviewed_at = $4
                         WHERE id = $5 AND request_id = $6 AND review = 'pending'",
                    )
                    .bind(if review.approved { "approved" } else { "rejected" })
                    .bind(&review.reason)
                    .bind(review.by.actor.to_string())
                    .bind(micros(review.by.at))
                    .bind(review.document_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() != 1 {
                        return Err(StoreError::Conflict);
                    }
                }
                if let Some(w) = &change.wallet {
                    Self::insert_movement(&mut tx, w, Some(id)).await?;
                }
                let mut receipt_number = None;
                if let Some(issue) = &change.receipt {
                    // The counter row is created on first use, then moved under the transaction's lock.
                    let seq: i64 = sqlx::query_scalar(
                        "INSERT INTO receipt_counters (carrier_code, year, last_number) VALUES ($1, $2, 1)
                         ON CONFLICT (carrier_code, year) DO UPDATE SET last_number = receipt_counters.last_number + 1
                         RETURNING last_number",
                    )
                    .bind(&issue.carrier)
                    .bind(i64::from(issue.year))
                    .fetch_one(&mut *tx)
                    .await?;
                    let number = format!("{}-{}-{:06}", issue.carrier, issue.year, seq);
                    let document = (issue.sign)(&number);
                    let at = change.events.last().map(|e| e.by.at).unwrap_or_else(Timestamp::now);
                    sqlx::query(
                        "INSERT INTO receipts (number, carrier_code, year, seq, request_id, document, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&number)
                    .bind(&issue.carrier)
                    .bind(i64::from(issue.year))
                    .bind(seq)
                    .bind(id)
                    .bind(document)
                    .bind(micros(at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| duplicate_or(e, "a receipt for this request"))?;
                    sqlx::query("UPDATE cancellation_requests SET receipt_number = $1 WHERE id = $2")
                        .bind(&number)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    receipt_number = Some(number);
                }
                for m in &change.outbox {
                    Self::insert_outbox(&mut tx, m).await?;
                }
                Self::append_audit_many(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(AppliedRequest { id, receipt_number })
            }

            async fn request(&self, id: i64) -> StoreResult<Option<RequestRecord>> {
                let row = sqlx::query("SELECT * FROM cancellation_requests WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map(Self::request_from_row).transpose()
            }

            async fn open_request_for_line(&self, line_id: i64) -> StoreResult<Option<RequestRecord>> {
                let row = sqlx::query(
                    "SELECT * FROM cancellation_requests WHERE line_id = $1 AND state IN ('submitted', 'identity_verified', 'approved')",
                )
                .bind(line_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(Self::request_from_row).transpose()
            }

            async fn requests_for_line(&self, line_id: i64) -> StoreResult<Vec<RequestRecord>> {
                let rows = sqlx::query("SELECT * FROM cancellation_requests WHERE line_id = $1 ORDER BY id").bind(line_id).fetch_all(&self.pool).await?;
                rows.iter().map(Self::request_from_row).collect()
            }

            async fn request_events(&self, id: i64) -> StoreResult<Vec<RequestEventRow>> {
                let rows = sqlx::query("SELECT * FROM request_events WHERE request_id = $1 ORDER BY id").bind(id).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok(RequestEventRow {
                            from_state: r.try_get("from_state")?,
                            to_state: r.try_get("to_state")?,
                            note: r.try_get("note")?,
                            actor_kind: r.try_get("actor_kind")?,
                            actor_id: r.try_get("actor_id")?,
                            channel: r.try_get("channel")?,
                            reason: r.try_get("reason")?,
                            at: from_micros(r.try_get("at")?)?,
                        })
                    })
                    .collect()
            }

            async fn requests_due(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<RequestRecord>> {
                let rows = sqlx::query(
                    "SELECT * FROM cancellation_requests WHERE state = 'approved' AND effective_at <= $1 ORDER BY effective_at, id LIMIT $2",
                )
                .bind(micros(now))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::request_from_row).collect()
            }

            async fn claim_due_requests(&self, due: Timestamp, wall: Timestamp, lease_until: Timestamp, node: &str, limit: i64) -> StoreResult<Vec<RequestRecord>> {
                // One statement, so a batch is claimed atomically. PostgreSQL skips rows another
                // node is claiming or completing right now; SQLite has one writer at a time.
                let lock = if $name == "postgres" { " FOR UPDATE SKIP LOCKED" } else { "" };
                let rows = sqlx::query(&format!(
                    "UPDATE cancellation_requests SET claimed_until = $1, claimed_by = $2
                     WHERE id IN (SELECT id FROM cancellation_requests
                                  WHERE state = 'approved' AND effective_at <= $3 AND (claimed_until IS NULL OR claimed_until <= $4)
                                  ORDER BY effective_at, id LIMIT $5{lock})
                     RETURNING *"
                ))
                .bind(micros(lease_until))
                .bind(node)
                .bind(micros(due))
                .bind(micros(wall))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                let mut claimed = rows.iter().map(Self::request_from_row).collect::<StoreResult<Vec<_>>>()?;
                claimed.sort_by_key(|r| (r.request.effective_at, r.request.id));
                Ok(claimed)
            }

            async fn release_request_claims(&self, ids: &[i64], node: &str) -> StoreResult<()> {
                for chunk in ids.chunks(LOOKUP_CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("UPDATE cancellation_requests SET claimed_until = NULL, claimed_by = NULL WHERE claimed_by = ");
                    q.push_bind(node);
                    q.push(" AND id IN (");
                    let mut sep = q.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    q.push(")");
                    q.build().execute(&self.pool).await?;
                }
                Ok(())
            }

            async fn insert_code(&self, line_id: i64, request_id: Option<i64>, destination: &str, code_hash: &str, at: Timestamp) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "INSERT INTO one_time_codes (line_id, request_id, destination, code_hash, issued_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(line_id)
                .bind(request_id)
                .bind(destination)
                .bind(code_hash)
                .bind(micros(at))
                .fetch_one(&self.pool)
                .await?)
            }

            async fn code_sends_since(&self, line_id: i64, for_request: bool, since: Timestamp) -> StoreResult<Vec<Timestamp>> {
                let rows: Vec<(i64,)> = sqlx::query_as(
                    "SELECT issued_at FROM one_time_codes WHERE line_id = $1 AND issued_at > $2 AND (request_id IS NOT NULL) = $3",
                )
                    .bind(line_id)
                    .bind(micros(since))
                    .bind(for_request)
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter().map(|(t,)| from_micros(t)).collect()
            }

            async fn latest_code(&self, line_id: i64, request_id: Option<i64>) -> StoreResult<Option<CodeRow>> {
                let row = sqlx::query(
                    "SELECT id, code_hash, issued_at, attempts, used_at FROM one_time_codes
                     WHERE line_id = $1 AND (request_id = $2 OR ($2 IS NULL AND request_id IS NULL)) ORDER BY id DESC LIMIT 1",
                )
                .bind(line_id)
                .bind(request_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| {
                    Ok(CodeRow {
                        id: r.try_get("id")?,
                        code_hash: r.try_get("code_hash")?,
                        issued_at: from_micros(r.try_get("issued_at")?)?,
                        attempts: r.try_get("attempts")?,
                        used_at: opt_ts(r.try_get("used_at")?)?,
                    })
                })
                .transpose()
            }

            async fn claim_code_attempt(&self, id: i64, max_attempts: i64) -> StoreResult<Option<i64>> {
                Ok(sqlx::query_scalar(
                    "UPDATE one_time_codes SET attempts = attempts + 1 WHERE id = $1 AND used_at IS NULL AND attempts < $2 RETURNING attempts",
                )
                .bind(id)
                .bind(max_attempts)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn count_attempt(
                &self,
                scope: &str,
                subject: &str,
                window_start: Timestamp,
                now: Timestamp,
            ) -> StoreResult<simdesk_domain::limits::Counter> {
                // One statement, so concurrent attempts on any node are all counted.
                let (start, count, locked): (i64, i64, Option<i64>) = sqlx::query_as(
                    "INSERT INTO abuse_limits (scope, subject, window_start, count, locked_until)
                     VALUES ($1, $2, $3, 1, NULL)
                     ON CONFLICT (scope, subject) DO UPDATE SET
                       count = CASE
                         WHEN abuse_limits.locked_until IS NOT NULL AND abuse_limits.locked_until > $4
                           THEN abuse_limits.count
                         WHEN abuse_limits.window_start = excluded.window_start
                           THEN abuse_limits.count + 1
                         ELSE 1 END,
                       window_start = CASE
                         WHEN abuse_limits.locked_until IS NOT NULL AND abuse_limits.locked_until > $4
                           THEN abuse_limits.window_start
                         ELSE excluded.window_start END
                     RETURNING window_start, count, locked_until",
                )
                .bind(scope)
                .bind(subject)
                .bind(micros(window_start))
                .bind(micros(now))
                .fetch_one(&self.pool)
                .await?;
                Ok(simdesk_domain::limits::Counter {
                    window_start: from_micros(start)?,
                    count,
                    locked_until: opt_ts(locked)?,
                })
            }

            async fn lock_subject(&self, scope: &str, subject: &str, until: Timestamp) -> StoreResult<()> {
                sqlx::query("UPDATE abuse_limits SET locked_until = $3, count = 0 WHERE scope = $1 AND subject = $2")
                    .bind(scope)
                    .bind(subject)
                    .bind(micros(until))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn attempt_counter(
                &self,
                scope: &str,
                subject: &str,
            ) -> StoreResult<Option<simdesk_domain::limits::Counter>> {
                let row: Option<(i64, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT window_start, count, locked_until FROM abuse_limits WHERE scope = $1 AND subject = $2",
                )
                .bind(scope)
                .bind(subject)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(start, count, locked)| {
                    Ok(simdesk_domain::limits::Counter {
                        window_start: from_micros(start)?,
                        count,
                        locked_until: opt_ts(locked)?,
                    })
                })
                .transpose()
            }

            async fn payout_requested(&self, idempotency_key: &str) -> StoreResult<bool> {
                let found: Option<i64> = sqlx::query_scalar("SELECT id FROM payouts WHERE idempotency_key = $1")
                    .bind(idempotency_key)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(found.is_some())
            }

            async fn insert_document(&self, doc: &NewDocument) -> StoreResult<i64> {
                let sealed = self.vault.seal_document(doc.request_id, &doc.sha256, &doc.content);
                Ok(sqlx::query_scalar(
                    "INSERT INTO identity_documents (request_id, content_type, size_bytes, sha256, content, wrapped_key, master_id, uploaded_at, uploaded_by)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(doc.request_id)
                .bind(&doc.content_type)
                .bind(doc.content.len() as i64)
                .bind(&doc.sha256)
                .bind(&sealed.sealed)
                .bind(&sealed.key.sealed)
                .bind(&sealed.key.master_id)
                .bind(micros(doc.uploaded_at))
                .bind(&doc.uploaded_by)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn documents(&self, request_id: i64) -> StoreResult<Vec<DocumentRow>> {
                let rows = sqlx::query(
                    "SELECT id, request_id, content_type, size_bytes, sha256, uploaded_at, uploaded_by, review, review_reason, reviewed_by
                     FROM identity_documents WHERE request_id = $1 ORDER BY id",
                )
                .bind(request_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(DocumentRow {
                            id: r.try_get("id")?,
                            request_id: r.try_get("request_id")?,
                            content_type: r.try_get("content_type")?,
                            size_bytes: r.try_get("size_bytes")?,
                            sha256: r.try_get("sha256")?,
                            uploaded_at: from_micros(r.try_get("uploaded_at")?)?,
                            uploaded_by: r.try_get("uploaded_by")?,
                            review: r.try_get("review")?,
                            review_reason: r.try_get("review_reason")?,
                            reviewed_by: r.try_get("reviewed_by")?,
                        })
                    })
                    .collect()
            }

            async fn wallet_postings(&self, customer: i64) -> StoreResult<Vec<WalletPostingRow>> {
                let rows = sqlx::query(
                    "SELECT m.id AS movement_id, m.kind, m.note, m.at, p.account, p.amount, p.currency
                     FROM wallet_movements m JOIN wallet_postings p ON p.movement_id = m.id
                     WHERE m.customer_id = $1 ORDER BY m.id, p.id",
                )
                .bind(customer)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        let currency: Currency = r.try_get::<String, _>("currency")?.parse().map_err(corrupt("currency"))?;
                        Ok(WalletPostingRow {
                            movement_id: r.try_get("movement_id")?,
                            kind: r.try_get("kind")?,
                            note: r.try_get("note")?,
                            at: from_micros(r.try_get("at")?)?,
                            account: r.try_get("account")?,
                            amount: Money::new(r.try_get("amount")?, currency),
                        })
                    })
                    .collect()
            }

            async fn ledger_totals(&self) -> StoreResult<Vec<(String, i64)>> {
                Ok(sqlx::query_as("SELECT currency, CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM wallet_postings GROUP BY currency ORDER BY currency")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn record_payout(&self, payout: &NewPayout, outbox: &OutboxMessage) -> StoreResult<i64> {
                let mut tx = self.pool.begin().await?;
                // Touching the customer's row takes its lock (PostgreSQL) or the write lock
                // (SQLite) before the balance is read, so concurrent payouts queue up here.
                let locked = sqlx::query("UPDATE customers SET id = id WHERE id = $1")
                    .bind(payout.wallet.customer)
                    .execute(&mut *tx)
                    .await?;
                if locked.rows_affected() != 1 {
                    return Err(StoreError::NotFound(format!("customer {}", payout.wallet.customer)));
                }
                let already: Option<i64> = sqlx::query_scalar("SELECT id FROM payouts WHERE idempotency_key = $1")
                    .bind(&payout.wallet.idempotency_key)
                    .fetch_optional(&mut *tx)
                    .await?;
                if already.is_some() {
                    return Err(StoreError::Duplicate("a payout with this idempotency key".into()));
                }
                let out = payout
                    .wallet
                    .movement
                    .postings
                    .iter()
                    .find(|p| p.amount.is_positive())
                    .map(|p| p.amount)
                    .ok_or_else(|| StoreError::Corrupt("a payout without an amount".into()))?;
                let wallet_account = simdesk_domain::wallet::Account::Wallet { customer: payout.wallet.customer }.to_string();
                let held: i64 = sqlx::query_scalar(
                    "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM wallet_postings WHERE account = $1 AND currency = $2",
                )
                .bind(&wallet_account)
                .bind(out.currency().code())
                .fetch_one(&mut *tx)
                .await?;
                if held < out.minor() {
                    return Err(StoreError::Refused(format!(
                        "the wallet holds {}; a payout of {out} is more than that",
                        Money::new(held, out.currency())
                    )));
                }
                let movement = Self::insert_movement(&mut tx, &payout.wallet, None).await?;
                let amount = payout
                    .wallet
                    .movement
                    .postings
                    .iter()
                    .find(|p| p.amount.is_positive())
                    .map(|p| p.amount)
                    .ok_or_else(|| StoreError::Corrupt("a payout without an amount".into()))?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO payouts (customer_id, movement_id, amount, currency, destination, idempotency_key, state, requested_at)
                     VALUES ($1, $2, $3, $4, $5, $6, 'requested', $7) RETURNING id",
                )
                .bind(payout.wallet.customer)
                .bind(movement)
                .bind(amount.minor())
                .bind(amount.currency().code())
                .bind(&payout.destination)
                .bind(&payout.wallet.idempotency_key)
                .bind(micros(payout.wallet.at))
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| duplicate_or(e, "a payout with this idempotency key"))?;
                Self::insert_outbox(&mut tx, outbox).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn mark_payout_sent(&self, idempotency_key: &str, external_ref: &str, at: Timestamp) -> StoreResult<()> {
                sqlx::query("UPDATE payouts SET state = 'sent', sent_at = $1, external_ref = $2 WHERE idempotency_key = $3 AND state = 'requested'")
                    .bind(micros(at))
                    .bind(external_ref)
                    .bind(idempotency_key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn receipt(&self, number: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar("SELECT document FROM receipts WHERE number = $1").bind(number).fetch_optional(&self.pool).await?)
            }

            async fn receipt_numbers(&self, carrier: &str) -> StoreResult<Vec<(i64, i64)>> {
                Ok(sqlx::query_as("SELECT year, seq FROM receipts WHERE carrier_code = $1 ORDER BY year, seq")
                    .bind(carrier)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn claim_outbox(&self, kinds: &[&str], due: Timestamp, wall: Timestamp, lease_until: Timestamp, limit: i64) -> StoreResult<Vec<OutboxRow>> {
                if kinds.is_empty() {
                    return Ok(Vec::new());
                }
                // Claim by conditional update: a row leased by another worker is skipped, so two
                // workers never deliver the same row at the same time.
                let mut q = QueryBuilder::<$db>::new("SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ");
                q.push_bind(micros(due));
                q.push(" AND (leased_until IS NULL OR leased_until <= ");
                q.push_bind(micros(wall));
                q.push(") AND kind IN (");
                let mut sep = q.separated(", ");
                for k in kinds {
                    sep.push_bind(*k);
                }
                q.push(") AND (subject IS NULL OR NOT EXISTS (SELECT 1 FROM outbox earlier WHERE earlier.subject = outbox.subject AND earlier.state = 'pending' AND earlier.id < outbox.id))");
                q.push(" ORDER BY id LIMIT ");
                q.push_bind(limit);
                let candidates: Vec<(i64,)> = q.build_query_as().fetch_all(&self.pool).await?;
                let mut claimed = Vec::new();
                for (id,) in candidates {
                    let row = sqlx::query(
                        "UPDATE outbox SET leased_until = $1, attempts = attempts + 1
                         WHERE id = $2 AND state = 'pending' AND (leased_until IS NULL OR leased_until <= $3)
                         RETURNING id, kind, idempotency_key, payload, attempts",
                    )
                    .bind(micros(lease_until))
                    .bind(id)
                    .bind(micros(wall))
                    .fetch_optional(&self.pool)
                    .await?;
                    if let Some(r) = row {
                        let payload: String = r.try_get("payload")?;
                        claimed.push(OutboxRow {
                            id: r.try_get("id")?,
                            kind: r.try_get("kind")?,
                            idempotency_key: r.try_get("idempotency_key")?,
                            payload: serde_json::from_str(&payload).map_err(corrupt("outbox payload"))?,
                            attempts: r.try_get("attempts")?,
                        });
                    }
                }
                Ok(claimed)
            }

            async fn outbox_done(&self, id: i64, at: Timestamp) -> StoreResult<()> {
                sqlx::query("UPDATE outbox SET state = 'done', done_at = $1, leased_until = NULL WHERE id = $2")
                    .bind(micros(at))
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn outbox_failed(&self, id: i64, error: &str, retry_at: Option<Timestamp>) -> StoreResult<()> {
                let (state, next) = match retry_at {
                    Some(t) => ("pending", Some(micros(t))),
                    None => ("dead", None),
                };
                sqlx::query("UPDATE outbox SET state = $1, next_attempt_at = COALESCE($2, next_attempt_at), leased_until = NULL, last_error = $3 WHERE id = $4")
                    .bind(state)
                    .bind(next)
                    .bind(error)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn outbox_pending(&self) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetch_one(&self.pool).await?)
            }

            async fn outbox_waiting_for(&self, subject: &str) -> StoreResult<bool> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE subject = $1 AND state = 'pending'")
                    .bind(subject)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n > 0)
            }

            async fn audit_page(&self, after: i64, limit: i64) -> StoreResult<Vec<crate::audit::AuditEntry>> {
                let rows = sqlx::query(
                    "SELECT seq, source, source_id, content, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| -> StoreResult<crate::audit::AuditEntry> {
                        Ok(crate::audit::AuditEntry {
                            seq: r.try_get("seq")?,
                            source: r.try_get("source")?,
                            source_id: r.try_get("source_id")?,
                            content: r.try_get("content")?,
                            prev_hash: r.try_get("prev_hash")?,
                            hash: r.try_get("hash")?,
                        })
                    })
                    .collect()
            }

            async fn audit_head(&self) -> StoreResult<(i64, String)> {
                Ok(sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&self.pool).await?)
            }

            async fn audit_source(&self, source: &str, id: i64) -> StoreResult<Option<String>> {
                let sql = match source {
                    "line_event" => "SELECT * FROM line_events WHERE id = $1",
                    "request_event" => "SELECT * FROM request_events WHERE id = $1",
                    other => return Err(StoreError::Corrupt(format!("audit entry names an unknown source {other:?}"))),
                };
                let Some(row) = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await? else {
                    return Ok(None);
                };
                Ok(Some(match source {
                    "line_event" => Self::line_event_content(&row)?,
                    _ => Self::request_event_content(&row)?,
                }))
            }

            async fn enqueue(&self, messages: &[OutboxMessage]) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                for m in messages {
                    Self::insert_outbox(&mut tx, m).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn outbox_fan_out(&self, id: i64, messages: &[OutboxMessage], at: Timestamp) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                for m in messages {
                    Self::insert_outbox(&mut tx, m).await?;
                }
                sqlx::query("UPDATE outbox SET state = 'done', done_at = $1, leased_until = NULL WHERE id = $2")
                    .bind(micros(at))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn outbox_entries(&self, state: Option<&str>, kind: Option<&str>, limit: i64) -> StoreResult<Vec<OutboxEntry>> {
                let rows = sqlx::query(
                    "SELECT id, kind, idempotency_key, state, attempts, next_attempt_at, last_error, created_at, done_at FROM outbox
                     WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) AND (CAST($2 AS TEXT) IS NULL OR kind = $2) ORDER BY id DESC LIMIT $3",
                )
                .bind(state)
                .bind(kind)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| -> StoreResult<OutboxEntry> {
                        Ok(OutboxEntry {
                            id: r.try_get("id")?,
                            kind: r.try_get("kind")?,
                            idempotency_key: r.try_get("idempotency_key")?,
                            state: r.try_get("state")?,
                            attempts: r.try_get("attempts")?,
                            next_attempt_at: from_micros(r.try_get("next_attempt_at")?)?,
                            last_error: r.try_get("last_error")?,
                            created_at: from_micros(r.try_get("created_at")?)?,
                            done_at: opt_ts(r.try_get("done_at")?)?,
                        })
                    })
                    .collect()
            }

            async fn outbox_retry(&self, id: Option<i64>, at: Timestamp) -> StoreResult<u64> {
                let done = sqlx::query(
                    "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $1, leased_until = NULL
                     WHERE state = 'dead' AND (CAST($2 AS BIGINT) IS NULL OR id = $2)",
                )
                .bind(micros(at))
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            async fn record_network_call(&self, key: &str, operation: &str, imsi: &str, msisdn: &str, at: Timestamp) -> StoreResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO network_calls (idempotency_key, operation, imsi, msisdn, at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (idempotency_key) DO NOTHING",
                )
                .bind(key)
                .bind(operation)
                .bind(imsi)
                .bind(msisdn)
                .bind(micros(at))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn network_calls(&self, imsi: &str) -> StoreResult<Vec<(String, String)>> {
                Ok(sqlx::query_as("SELECT operation, msisdn FROM network_calls WHERE imsi = $1 ORDER BY id").bind(imsi).fetch_all(&self.pool).await?)
            }

            async fn gauges(&self, now: Timestamp) -> StoreResult<Gauges> {
                let lines_by_state = self.count_lines_by_state().await?;
                let requests_by_state: Vec<(String, i64)> =
                    sqlx::query_as("SELECT state, COUNT(*) FROM cancellation_requests GROUP BY state ORDER BY state").fetch_all(&self.pool).await?;
                // Only waiting and dead rows are counted: delivered rows pile up and do not matter here.
                let by_kind: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT kind, state, COUNT(*), MIN(created_at) FROM outbox WHERE state IN ('pending', 'dead') GROUP BY kind, state ORDER BY kind",
                )
                .fetch_all(&self.pool)
                .await?;
                let mut outbox_by_kind: Vec<OutboxDepth> = Vec::new();
                for (kind, state, n, oldest) in by_kind {
                    if outbox_by_kind.last().map(|d| d.kind != kind).unwrap_or(true) {
                        outbox_by_kind.push(OutboxDepth { kind: kind.clone(), ..OutboxDepth::default() });
                    }
                    if let Some(depth) = outbox_by_kind.last_mut() {
                        if state == "pending" {
                            depth.pending = n;
                            depth.oldest_pending = opt_ts(oldest)?;
                        } else {
                            depth.dead = n;
                        }
                    }
                }
                let pending = outbox_by_kind.iter().map(|d| d.pending).sum();
                let dead = outbox_by_kind.iter().map(|d| d.dead).sum();
                let oldest_outbox = outbox_by_kind.iter().filter_map(|d| d.oldest_pending).min();
                let oldest_due: Option<i64> = sqlx::query_scalar("SELECT MIN(effective_at) FROM cancellation_requests WHERE state = 'approved' AND effective_at <= $1")
                    .bind(micros(now))
                    .fetch_one(&self.pool)
                    .await?;
                Ok(Gauges {
                    lines_by_state,
                    requests_by_state,
                    outbox_pending: pending,
                    outbox_dead: dead,
                    oldest_pending_outbox: oldest_outbox,
                    oldest_due_cancellation: opt_ts(oldest_due)?,
                    outbox_by_kind,
                })
            }

            async fn insert_staff(&self, username: &str, password_hash: &str, role: &str, carrier: &str, at: Timestamp) -> StoreResult<i64> {
                sqlx::query_scalar("INSERT INTO staff (username, password_hash, role, carrier_code, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                    .bind(username)
                    .bind(password_hash)
                    .bind(role)
                    .bind(carrier)
                    .bind(micros(at))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| match &e {
                        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound(format!("carrier {carrier}")),
                        _ => duplicate_or(e, &format!("staff member {username}")),
                    })
            }

            async fn staff_by_username(&self, username: &str) -> StoreResult<Option<StaffRow>> {
                let row = sqlx::query("SELECT * FROM staff WHERE username = $1").bind(username).fetch_optional(&self.pool).await?;
                row.as_ref().map(Self::staff_from_row).transpose()
            }

            async fn staff(&self, id: i64) -> StoreResult<Option<StaffRow>> {
                let row = sqlx::query("SELECT * FROM staff WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map(Self::staff_from_row).transpose()
            }

            async fn insert_session(&self, s: &SessionRow) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO sessions (token_hash, kind, subject, carrier_code, csrf_token, language, created_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&s.token_hash)
                .bind(&s.kind)
                .bind(s.subject)
                .bind(&s.carrier)
                .bind(&s.csrf_token)
                .bind(&s.language)
                .bind(micros(s.created_at))
                .bind(micros(s.expires_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn session(&self, token_hash: &str, now: Timestamp) -> StoreResult<Option<SessionRow>> {
                let row = sqlx::query("SELECT * FROM sessions WHERE token_hash = $1 AND expires_at > $2")
                    .bind(token_hash)
                    .bind(micros(now))
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| {
                    Ok(SessionRow {
                        token_hash: r.try_get("token_hash")?,
                        kind: r.try_get("kind")?,
                        subject: r.try_get("subject")?,
                        carrier: r.try_get("carrier_code")?,
                        csrf_token: r.try_get("csrf_token")?,
                        language: r.try_get("language")?,
                        created_at: from_micros(r.try_get("created_at")?)?,
                        expires_at: from_micros(r.try_get("expires_at")?)?,
                    })
                })
                .transpose()
            }

            async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&self.pool).await?;
                Ok(())
            }

            async fn use_code(&self, id: i64, at: Timestamp) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE one_time_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                    .bind(micros(at))
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn customer_by_email(&self, email: &str) -> StoreResult<Option<i64>> {
                Ok(sqlx::query_scalar("SELECT customer_id FROM customer_index WHERE field = 'email' AND value = $1 ORDER BY customer_id DESC LIMIT 1")
                    .bind(self.vault.email_term(email))
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn lines_of_customer(&self, customer: i64) -> StoreResult<Vec<Line>> {
                let rows = sqlx::query("SELECT * FROM lines WHERE holder_id = $1 ORDER BY id").bind(customer).fetch_all(&self.pool).await?;
                rows.iter().map(Self::line_from_row).collect()
            }

            async fn take_ticket(&self, carrier: &str, day: &str, at: Timestamp) -> StoreResult<TicketRow> {
                // Retried on the rare collision of two kiosks taking a number at the same instant.
                for _ in 0..5 {
                    let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(number), 0) + 1 FROM queue_tickets WHERE carrier_code = $1 AND day = $2")
                        .bind(carrier)
                        .bind(day)
                        .fetch_one(&self.pool)
                        .await?;
                    let inserted = sqlx::query_scalar::<_, i64>(
                        "INSERT INTO queue_tickets (carrier_code, day, number, created_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (carrier_code, day, number) DO NOTHING RETURNING id",
                    )
                    .bind(carrier)
                    .bind(day)
                    .bind(next)
                    .bind(micros(at))
                    .fetch_optional(&self.pool)
                    .await?;
                    if let Some(id) = inserted {
                        return Ok(TicketRow { id, number: next, state: "waiting".into(), counter: None, called_at: None });
                    }
                }
                Err(StoreError::Conflict)
            }

            async fn call_next_ticket(&self, carrier: &str, day: &str, counter: &str, by: &str, at: Timestamp) -> StoreResult<Option<TicketRow>> {
                for _ in 0..5 {
                    let next: Option<(i64, i64)> = sqlx::query_as(
                        "SELECT id, number FROM queue_tickets WHERE carrier_code = $1 AND day = $2 AND state = 'waiting' ORDER BY number LIMIT 1",
                    )
                    .bind(carrier)
                    .bind(day)
                    .fetch_optional(&self.pool)
                    .await?;
                    let Some((id, number)) = next else { return Ok(None) };
                    // Two clerks pressing at once: only one gets each ticket.
                    let done = sqlx::query("UPDATE queue_tickets SET state = 'called', counter = $1, called_by = $2, called_at = $3 WHERE id = $4 AND state = 'waiting'")
                        .bind(counter)
                        .bind(by)
                        .bind(micros(at))
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                    if done.rows_affected() == 1 {
                        return Ok(Some(TicketRow { id, number, state: "called".into(), counter: Some(counter.into()), called_at: Some(at) }));
                    }
                }
                Err(StoreError::Conflict)
            }

            async fn finish_ticket(&self, id: i64, at: Timestamp) -> StoreResult<()> {
                sqlx::query("UPDATE queue_tickets SET state = 'done', done_at = $1 WHERE id = $2").bind(micros(at)).bind(id).execute(&self.pool).await?;
                Ok(())
            }

            async fn queue_board(&self, carrier: &str, day: &str) -> StoreResult<(Vec<TicketRow>, i64)> {
                let rows = sqlx::query(
                    "SELECT id, number, state, counter, called_at FROM queue_tickets WHERE carrier_code = $1 AND day = $2 AND state = 'called'
                     ORDER BY called_at DESC LIMIT 8",
                )
                .bind(carrier)
                .bind(day)
                .fetch_all(&self.pool)
                .await?;
                let called = rows
                    .iter()
                    .map(|r| {
                        Ok(TicketRow {
                            id: r.try_get("id")?,
                            number: r.try_get("number")?,
                            state: r.try_get("state")?,
                            counter: r.try_get("counter")?,
                            called_at: opt_ts(r.try_get("called_at")?)?,
                        })
                    })
                    .collect::<StoreResult<Vec<_>>>()?;
                let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM queue_tickets WHERE carrier_code = $1 AND day = $2 AND state = 'waiting'")
                    .bind(carrier)
                    .bind(day)
                    .fetch_one(&self.pool)
                    .await?;
                Ok((called, waiting))
            }

            async fn lines_by_holder_name(&self, carrier: &str, name: &str, limit: i64) -> StoreResult<Vec<Line>> {
                // Names are sealed: every word searched for must match a word of the holder's
                // name exactly (by blind index); a passport number matches on its own.
                let mut words = self.vault.name_terms(name);
                words.sort();
                words.dedup();
                if words.is_empty() {
                    return Ok(Vec::new());
                }
                let mut q = QueryBuilder::<$db>::new("SELECT l.* FROM lines l WHERE l.carrier_code = ");
                q.push_bind(carrier);
                q.push(" AND (l.holder_id IN (SELECT customer_id FROM customer_index WHERE field = 'name' AND value IN (");
                let mut list = q.separated(", ");
                for w in &words {
                    list.push_bind(w.clone());
                }
                q.push(") GROUP BY customer_id HAVING COUNT(*) = ");
                q.push_bind(words.len() as i64);
                q.push(") OR l.holder_id IN (SELECT customer_id FROM customer_index WHERE field = 'passport' AND value = ");
                q.push_bind(self.vault.passport_term(name));
                q.push(")) ORDER BY l.id LIMIT ");
                q.push_bind(limit);
                let rows = q.build().fetch_all(&self.pool).await?;
                rows.iter().map(Self::line_from_row).collect()
            }

            async fn requests_awaiting_review(&self, carrier: &str) -> StoreResult<Vec<RequestRecord>> {
                let rows = sqlx::query(
                    "SELECT r.* FROM cancellation_requests r WHERE r.carrier_code = $1 AND r.state = 'submitted'
                     AND EXISTS (SELECT 1 FROM identity_documents d WHERE d.request_id = r.id AND d.review = 'pending') ORDER BY r.id",
                )
                .bind(carrier)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::request_from_row).collect()
            }

            async fn document_content(&self, id: i64) -> StoreResult<Option<(i64, String, Vec<u8>)>> {
                let row: Option<(i64, String, String, Vec<u8>, Vec<u8>, String)> = sqlx::query_as(
                    "SELECT request_id, content_type, sha256, content, wrapped_key, master_id FROM identity_documents
                     WHERE id = $1 AND content IS NOT NULL AND wrapped_key IS NOT NULL",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                let Some((request, content_type, sha, content, wrapped, master_id)) = row else {
                    return Ok(None);
                };
                let sealed = crate::vault::SealedPart {
                    key: crate::crypto::WrappedKey { master_id, sealed: wrapped },
                    sealed: content,
                };
                let bytes = self
                    .vault
                    .open_document(request, &sha, &sealed)
                    .map_err(|e| StoreError::Corrupt(format!("document {id}: {e}")))?;
                Ok(Some((request, content_type, bytes)))
            }

            async fn customer_carriers(&self, customer: i64) -> StoreResult<Vec<String>> {
                Ok(sqlx::query_scalar("SELECT DISTINCT carrier_code FROM lines WHERE holder_id = $1 ORDER BY carrier_code")
                    .bind(customer)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn insert_api_token(&self, carrier: &str, name: &str, token_hash: &str, created_by: &str, at: Timestamp) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "INSERT INTO api_tokens (carrier_code, name, token_hash, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(carrier)
                .bind(name)
                .bind(token_hash)
                .bind(created_by)
                .bind(micros(at))
                .fetch_one(&self.pool)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound(format!("carrier {carrier}")),
                    _ => StoreError::Database(e),
                })?)
            }

            async fn api_token(&self, token_hash: &str) -> StoreResult<Option<ApiTokenRow>> {
                let row = sqlx::query("SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(Self::token_from_row).transpose()
            }

            async fn api_tokens(&self) -> StoreResult<Vec<ApiTokenRow>> {
                let rows = sqlx::query("SELECT * FROM api_tokens ORDER BY id").fetch_all(&self.pool).await?;
                rows.iter().map(Self::token_from_row).collect()
            }

            async fn revoke_api_token(&self, id: i64, at: Timestamp) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(micros(at))
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn create_api_token(&self, t: &NewApiToken) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "INSERT INTO api_tokens (carrier_code, name, token_hash, created_by, created_at, scopes, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(&t.carrier)
                .bind(&t.name)
                .bind(&t.token_hash)
                .bind(&t.created_by)
                .bind(micros(t.created_at))
                .bind(t.scopes.join(","))
                .bind(t.expires_at.map(micros))
                .fetch_one(&self.pool)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound(format!("carrier {}", t.carrier)),
                    _ => StoreError::Database(e),
                })?)
            }

            async fn touch_api_token(&self, id: i64, at: Timestamp) -> StoreResult<()> {
                // At most one write a minute per token, so busy partners do not write on every call.
                sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)")
                    .bind(micros(at))
                    .bind(id)
                    .bind(micros(at) - 60_000_000)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn record_admin_event(&self, e: &AdminEvent) -> StoreResult<()> {
                sqlx::query("INSERT INTO admin_events (at, actor, action, subject, reason) VALUES ($1, $2, $3, $4, $5)")
                    .bind(micros(e.at))
                    .bind(&e.actor)
                    .bind(&e.action)
                    .bind(&e.subject)
                    .bind(&e.reason)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn admin_events(&self) -> StoreResult<Vec<AdminEvent>> {
                let rows = sqlx::query("SELECT * FROM admin_events ORDER BY id").fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok(AdminEvent {
                            at: from_micros(r.try_get("at")?)?,
                            actor: r.try_get("actor")?,
                            action: r.try_get("action")?,
                            subject: r.try_get("subject")?,
                            reason: r.try_get("reason")?,
                        })
                    })
                    .collect()
            }

            async fn record_request_note(&self, request_id: i64, state: &str, note: &str, by: &simdesk_domain::attribution::Attribution) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                let event_id: i64 = sqlx::query_scalar(
                    "INSERT INTO request_events (request_id, from_state, to_state, note, actor_kind, actor_id, channel, reason, at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(request_id)
                .bind(state)
                .bind(state)
                .bind(note)
                .bind(by.actor.kind.as_str())
                .bind(&by.actor.id)
                .bind(by.channel.as_str())
                .bind(&by.reason)
                .bind(micros(by.at))
                .fetch_one(&mut *tx)
                .await?;
                let content = crate::audit::request_event_content(&crate::audit::RequestEventFields {
                    id: event_id,
                    request_id,
                    from: Some(state),
                    to: state,
                    note,
                    actor_kind: by.actor.kind.as_str(),
                    actor_id: &by.actor.id,
                    channel: by.channel.as_str(),
                    reason: &by.reason,
                    at: micros(by.at),
                });
                Self::append_audit(&mut tx, "request_event", event_id, &content).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn reserve_idempotency_key(&self, caller: &str, key: &str, request_hash: &str, at: Timestamp) -> StoreResult<Option<(String, Option<i64>, Option<String>, Option<String>)>> {
                let inserted = sqlx::query(
                    "INSERT INTO idempotency_keys (caller, idempotency_key, request_hash, created_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (caller, idempotency_key) DO NOTHING",
                )
                .bind(caller)
                .bind(key)
                .bind(request_hash)
                .bind(micros(at))
                .execute(&self.pool)
                .await?;
                if inserted.rows_affected() == 1 {
                    return Ok(None);
                }
                Ok(sqlx::query_as("SELECT request_hash, status, response, location FROM idempotency_keys WHERE caller = $1 AND idempotency_key = $2")
                    .bind(caller)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn complete_idempotency_key(&self, caller: &str, key: &str, status: i64, response: &str, location: Option<&str>) -> StoreResult<()> {
                sqlx::query("UPDATE idempotency_keys SET status = $1, response = $2, location = $5 WHERE caller = $3 AND idempotency_key = $4")
                    .bind(status)
                    .bind(response)
                    .bind(caller)
                    .bind(key)
                    .bind(location)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn release_idempotency_key(&self, caller: &str, key: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM idempotency_keys WHERE caller = $1 AND idempotency_key = $2 AND status IS NULL")
                    .bind(caller)
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn take_over_idempotency_key(&self, caller: &str, key: &str, request_hash: &str, reserved_before: Timestamp, at: Timestamp) -> StoreResult<bool> {
                let taken = sqlx::query(
                    "UPDATE idempotency_keys SET created_at = $1
                     WHERE caller = $2 AND idempotency_key = $3 AND request_hash = $4 AND status IS NULL AND created_at <= $5",
                )
                .bind(micros(at))
                .bind(caller)
                .bind(key)
                .bind(request_hash)
                .bind(micros(reserved_before))
                .execute(&self.pool)
                .await?;
                Ok(taken.rows_affected() == 1)
            }

            async fn lines_page(&self, carrier: &str, state: Option<&str>, after: i64, limit: i64) -> StoreResult<Vec<Line>> {
                let rows = sqlx::query(
                    "SELECT * FROM lines WHERE carrier_code = $1 AND ($2 IS NULL OR state = $2) AND id > $3 ORDER BY id LIMIT $4",
                )
                .bind(carrier)
                .bind(state)
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::line_from_row).collect()
            }

            async fn lines_ending_between(&self, from: Timestamp, to: Timestamp, after: i64, limit: i64) -> StoreResult<Vec<Line>> {
                let rows = sqlx::query(
                    "SELECT * FROM lines WHERE state = 'active' AND validity_ends_at > $1 AND validity_ends_at <= $2 AND id > $3
                       AND NOT EXISTS (SELECT 1 FROM outbox WHERE idempotency_key =
                           'notify:validity_reminder:' || CAST(lines.validity_ends_at AS TEXT) || ':' || CAST(lines.id AS TEXT))
                     ORDER BY id LIMIT $4",
                )
                .bind(micros(from))
                .bind(micros(to))
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::line_from_row).collect()
            }

            async fn lines_due(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<Line>> {
                // Two index range scans, not one scan of every line: at midnight a few thousand
                // of millions are due, and this runs every pass of the due work.
                let rows = sqlx::query(
                    "SELECT * FROM (SELECT * FROM lines WHERE state = 'active' AND validity_ends_at <= $1
                                    ORDER BY validity_ends_at LIMIT $2) AS ending
                     UNION ALL
                     SELECT * FROM (SELECT * FROM lines WHERE state = 'expired' AND grace_ends_at <= $1
                                    ORDER BY grace_ends_at LIMIT $2) AS closing",
                )
                .bind(micros(now))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::line_from_row).collect()
            }
        }
    };
}

shared_store!(
    SqliteStore,
    sqlx::Sqlite,
    SqliteRow,
    "sqlite",
    "./migrations/sqlite"
);
shared_store!(
    PostgresStore,
    sqlx::Postgres,
    PgRow,
    "postgres",
    "./migrations/postgres"
);
