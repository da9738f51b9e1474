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

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// SQLite, the embedded default: one file, WAL, one writer at a time.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// PostgreSQL, for several nodes sharing one database.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(PostgresStore { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

macro_rules! shared_store {
    ($store:ident, $db:ty, $row:ty, $name:literal, $migrations:literal) => {
        impl $store {
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
                Ok(id)
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
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                $name
            }

            async fn migrate(&self) -> StoreResult<()> {
                sqlx::migrate!($migrations).run(&self.pool).await?;
                Ok(())
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
                let row: Option<(i64, String, String)> =
                    sqlx::query_as("SELECT id, language, personal_data FROM customers WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(|(id, language, personal)| {
                    Ok(CustomerRow {
                        id,
                        language,
                        personal: serde_json::from_str(&personal).map_err(corrupt("personal data"))?,
                    })
                })
                .transpose()
            }

            async fn count_lines_by_state(&self) -> StoreResult<Vec<(String, String, i64)>> {
                Ok(sqlx::query_as(
                    "SELECT carrier_code, state, COUNT(*) FROM lines GROUP BY carrier_code, state ORDER BY carrier_code, state",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn apply(&self, change: &LineChange) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                let line = &change.line;
                let mut holder = line.holder;
                if let Some(reg) = &change.new_holder {
                    let personal = serde_json::to_string(&reg.personal).map_err(corrupt("personal data"))?;
                    let at = change.events.first().map(|e| e.by.at).unwrap_or_else(Timestamp::now);
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO customers (language, personal_data, created_at) VALUES ($1, $2, $3) RETURNING id",
                    )
                    .bind(reg.language.tag())
                    .bind(personal)
                    .bind(micros(at))
                    .fetch_one(&mut *tx)
                    .await?;
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
                .execute(&mut *tx)
                .await?;
                if updated.rows_affected() != 1 {
                    return Err(StoreError::Conflict);
                }
                let mut first_event = None;
                for e in &change.events {
                    let id = Self::insert_event(&mut tx, line.id, e).await?;
                    first_event.get_or_insert((id, e.by.at));
                }
                let (event_id, at) = first_event.ok_or_else(|| StoreError::Corrupt("a change without a history entry".into()))?;
                Self::apply_balance(&mut tx, line.id, event_id, at, &change.balance).await?;
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
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| duplicate_or(e, &format!("add-on {} on this line", bind.code)))?;
                }
                if let Some(binding) = change.unbind {
                    let done = sqlx::query(
                        "UPDATE line_addons SET unbound_at = $1, unbound_event_id = $2 WHERE id = $3 AND line_id = $4 AND unbound_at IS NULL",
                    )
                    .bind(micros(at))
                    .bind(event_id)
                    .bind(binding)
                    .bind(line.id)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() != 1 {
                        return Err(StoreError::Conflict);
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn lines_due(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<Line>> {
                let rows = sqlx::query(
                    "SELECT * FROM lines WHERE (state = 'active' AND validity_ends_at <= $1)
                        OR (state = 'expired' AND grace_ends_at <= $1)
                     ORDER BY id LIMIT $2",
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
