//! Usage records: each counted once with the line change its rating decided, and what a line's usage left.

use super::*;
use std::collections::HashMap;

/// Rows per multi-row INSERT: 17 values each stays far below either backend's limit on bound values.
const RECORDS_PER_INSERT: usize = 500;

impl<D> SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'q> D::Arguments<'q>: IntoArguments<'q, D>,
    for<'n> &'n str: ColumnIndex<D::Row> + Encode<'n, D>,
    usize: ColumnIndex<D::Row>,
    str: Type<D>,
    i64: SqlValue<D>,
    String: SqlValue<D>,
    Vec<u8>: SqlValue<D>,
    bool: SqlValue<D>,
    Option<i64>: SqlValue<D>,
    Option<String>: SqlValue<D>,
    for<'n> Option<&'n str>: Encode<'n, D>,
{
    /// Takes a late record's charge from a wallet that must still hold it: a payout made since
    /// the decision wins, and the record is decided again.
    async fn charge_wallet_in(
        tx: &mut sqlx::Transaction<'_, D>,
        entry: &WalletEntry,
    ) -> StoreResult<()> {
        // The customer's row is the wallet's lock, as for payouts.
        sqlx::query("UPDATE customers SET id = id WHERE id = $1")
            .bind(entry.customer.get())
            .execute(&mut **tx)
            .await?;
        let wallet = simdesk_domain::wallet::Account::Wallet {
            customer: entry.customer,
        }
        .to_string();
        let Some(taken) = entry
            .movement
            .postings
            .iter()
            .find(|p| p.account.to_string() == wallet)
            .map(|p| p.amount)
        else {
            return Err(StoreError::Corrupt(
                "a late usage charge without the wallet's side".into(),
            ));
        };
        let held: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM wallet_postings WHERE account = $1 AND currency = $2",
        )
        .bind(&wallet)
        .bind(taken.currency().code())
        .fetch_one(&mut **tx)
        .await?;
        if held + taken.minor() < 0 {
            return Err(StoreError::Conflict);
        }
        Self::insert_movement(tx, entry, None).await?;
        Ok(())
    }
}

#[async_trait]
impl<D> UsageRecords for SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'q> D::Arguments<'q>: IntoArguments<'q, D>,
    for<'n> &'n str: ColumnIndex<D::Row> + Encode<'n, D>,
    usize: ColumnIndex<D::Row>,
    str: Type<D>,
    i64: SqlValue<D>,
    String: SqlValue<D>,
    Vec<u8>: SqlValue<D>,
    bool: SqlValue<D>,
    Option<i64>: SqlValue<D>,
    Option<String>: SqlValue<D>,
    for<'n> Option<&'n str>: Encode<'n, D>,
{
    async fn count_usage(&self, batch: &UsageBatch) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let mut audit = Vec::new();
        // Each line's change first: its history entry is the one its records point to. Most
        // changes are plain and written a chunk of lines at a time; one that stops data or
        // queues notices on its own.
        let (plain, own): (Vec<&LineChange>, Vec<&LineChange>) = batch
            .lines
            .iter()
            .filter_map(|t| t.change.as_ref())
            .partition(|c| super::line_batch::is_plain(c));
        let mut events = Self::apply_many_in(&mut tx, &plain, &mut audit).await?;
        if events.len() != plain.len() {
            // A line changed since its records were rated: the caller rates them again.
            return Err(StoreError::Conflict);
        }
        for change in own {
            let event = Self::apply_line_in(&mut tx, &self.vault, change, &mut audit).await?;
            events.insert(change.line.id, event);
        }
        for entry in &batch.wallet {
            Self::charge_wallet_in(&mut tx, entry).await?;
        }
        for chunk in batch.records.chunks(RECORDS_PER_INSERT) {
            let mut q = Statement::<D>::new(
                "INSERT INTO usage_records (carrier_code, record_id, line_id, service, started_at, ended_at, volume, rounded,
                 network, rating_group, outcome, taken_mb, taken_money, unpaid, source, counted_at, event_id) ",
            );
            q.push_values(chunk, |mut row, r| {
                row.push_bind(r.carrier.as_str())
                    .push_bind(r.record_id.as_str())
                    .push_bind(r.line.get())
                    .push_bind(r.service.as_str())
                    .push_bind(micros(r.started_at))
                    .push_bind(r.ended_at.map(micros))
                    .push_bind(i64::try_from(r.volume).unwrap_or(i64::MAX))
                    .push_bind(i64::try_from(r.rounded).unwrap_or(i64::MAX))
                    .push_bind(r.network.clone())
                    .push_bind(r.rating_group.map(i64::from))
                    .push_bind(r.outcome.as_str())
                    .push_bind(r.taken_mb)
                    .push_bind(r.taken_money)
                    .push_bind(
                        r.unpaid
                            .map(|u| serde_json::to_string(&u).unwrap_or_default()),
                    )
                    .push_bind(r.source.as_str())
                    .push_bind(micros(r.counted_at))
                    .push_bind(events.get(&r.line).copied());
            });
            // A record id counted meanwhile by someone else: nothing of this batch is kept, and
            // the caller decides again on what is stored now.
            q.push(" ON CONFLICT (carrier_code, record_id) DO NOTHING");
            let (sql, args) = q.into_parts();
            let inserted = sqlx::query_with(&sql, args).execute(&mut *tx).await?;
            if inserted.rows_affected() != chunk.len() as u64 {
                return Err(StoreError::Conflict);
            }
        }
        for chunk in batch.lines.chunks(RECORDS_PER_INSERT) {
            let mut q = Statement::<D>::new(
                "INSERT INTO line_usage (line_id, carry_bytes, counted_until) ",
            );
            q.push_values(chunk, |mut row, t| {
                row.push_bind(t.line.get())
                    .push_bind(i64::try_from(t.usage.carry_bytes).unwrap_or(0))
                    .push_bind(t.usage.counted_until.map_or(0, micros));
            });
            q.push(
                " ON CONFLICT (line_id) DO UPDATE SET carry_bytes = excluded.carry_bytes,
                 counted_until = CASE WHEN excluded.counted_until > line_usage.counted_until
                     THEN excluded.counted_until ELSE line_usage.counted_until END",
            );
            let (sql, args) = q.into_parts();
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        }
        Self::append_audit_many(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn counted_record_ids(
        &self,
        carrier: &CarrierCode,
        record_ids: &[&str],
    ) -> StoreResult<std::collections::HashSet<String>> {
        let mut seen = std::collections::HashSet::new();
        for chunk in record_ids.chunks(LOOKUP_CHUNK) {
            let mut q =
                Statement::<D>::new("SELECT record_id FROM usage_records WHERE carrier_code = ");
            q.push_bind(carrier.as_str());
            q.push(" AND record_id IN (");
            let mut sep = q.separated(", ");
            for id in chunk {
                sep.push_bind(*id);
            }
            q.push(")");
            let (sql, args) = q.into_parts();
            let ids: Vec<String> = sqlx::query_scalar_with(&sql, args)
                .fetch_all(&self.pool)
                .await?;
            seen.extend(ids);
        }
        Ok(seen)
    }

    async fn line_usage(&self, line: LineId) -> StoreResult<LineUsage> {
        let row: Option<(i64, i64, Option<String>)> = sqlx::query_as(
            "SELECT carry_bytes, counted_until, data_stopped FROM line_usage WHERE line_id = $1",
        )
        .bind(line.get())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some((carry, until, stopped)) => usage_from(carry, until, stopped),
            None => Ok(LineUsage::default()),
        }
    }

    async fn rating_standing(
        &self,
        lines: &[LineId],
    ) -> StoreResult<HashMap<LineId, (Vec<Bucket>, LineUsage)>> {
        let mut standing: HashMap<LineId, (Vec<Bucket>, LineUsage)> = lines
            .iter()
            .map(|id| (*id, (Vec::new(), LineUsage::default())))
            .collect();
        for chunk in lines.chunks(LOOKUP_CHUNK) {
            let mut q = Statement::<D>::new(
                "SELECT line_id, id, unit, initial_amount, remaining, expires_at, source FROM balance_buckets WHERE line_id IN (",
            );
            let mut ids = q.separated(", ");
            for id in chunk {
                ids.push_bind(id.get());
            }
            q.push(") ORDER BY id");
            let (sql, args) = q.into_parts();
            for row in sqlx::query_with(&sql, args).fetch_all(&self.pool).await? {
                let line = LineId::new(row.try_get("line_id")?);
                if let Some((buckets, _)) = standing.get_mut(&line) {
                    buckets.push(Self::bucket_from_row(&row)?);
                }
            }
            let mut q = Statement::<D>::new(
                "SELECT line_id, carry_bytes, counted_until, data_stopped FROM line_usage WHERE line_id IN (",
            );
            let mut ids = q.separated(", ");
            for id in chunk {
                ids.push_bind(id.get());
            }
            q.push(")");
            let (sql, args) = q.into_parts();
            let rows: Vec<(i64, i64, i64, Option<String>)> = sqlx::query_as_with(&sql, args)
                .fetch_all(&self.pool)
                .await?;
            for (line, carry, until, stopped) in rows {
                if let Some((_, usage)) = standing.get_mut(&LineId::new(line)) {
                    *usage = usage_from(carry, until, stopped)?;
                }
            }
        }
        Ok(standing)
    }

    async fn usage_of_line(
        &self,
        line: LineId,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<UsageRow>> {
        let rows = sqlx::query(
            "SELECT * FROM usage_records WHERE line_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(line.get())
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::usage_from_row).collect()
    }
}

/// A `line_usage` row: an instant of 0 means no record was counted yet (the row was made by a
/// change of the data stop alone).
fn usage_from(carry: i64, until: i64, stopped: Option<String>) -> StoreResult<LineUsage> {
    Ok(LineUsage {
        carry_bytes: u64::try_from(carry).unwrap_or(0),
        counted_until: if until == 0 {
            None
        } else {
            Some(from_micros(until)?)
        },
        data_stopped: stopped.as_deref().map(data_stop_from_name).transpose()?,
    })
}

/// How a stopped line's data is stored.
pub(super) fn data_stop_name(how: simdesk_domain::usage::WhenExhausted) -> &'static str {
    match how {
        simdesk_domain::usage::WhenExhausted::Bar => "bar",
        simdesk_domain::usage::WhenExhausted::Throttle => "throttle",
    }
}

fn data_stop_from_name(name: &str) -> StoreResult<simdesk_domain::usage::WhenExhausted> {
    match name {
        "bar" => Ok(simdesk_domain::usage::WhenExhausted::Bar),
        "throttle" => Ok(simdesk_domain::usage::WhenExhausted::Throttle),
        other => Err(StoreError::Corrupt(format!("data stop {other:?}"))),
    }
}
