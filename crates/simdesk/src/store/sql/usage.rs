//! Usage records: each counted once with the line change its rating decided, and what a line's usage left.

use super::*;

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
    async fn count_usage(
        &self,
        record: &NewUsageRecord,
        change: Option<&LineChange>,
        left: &LineUsage,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        // The record's row first: a record id counted before stops here, before any bucket moves.
        let inserted = sqlx::query(
            "INSERT INTO usage_records (carrier_code, record_id, line_id, service, started_at, ended_at, volume, rounded,
             network, rating_group, outcome, taken_mb, taken_money, unpaid, source, counted_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
             ON CONFLICT (carrier_code, record_id) DO NOTHING",
        )
        .bind(record.carrier.as_str())
        .bind(&record.record_id)
        .bind(record.line.get())
        .bind(record.service.as_str())
        .bind(micros(record.started_at))
        .bind(record.ended_at.map(micros))
        .bind(i64::try_from(record.volume).unwrap_or(i64::MAX))
        .bind(i64::try_from(record.rounded).unwrap_or(i64::MAX))
        .bind(record.network.clone())
        .bind(record.rating_group.map(i64::from))
        .bind(record.outcome.as_str())
        .bind(record.taken_mb)
        .bind(record.taken_money)
        .bind(
            record
                .unpaid
                .map(|u| serde_json::to_string(&u).unwrap_or_default()),
        )
        .bind(&record.source)
        .bind(micros(record.counted_at))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(false);
        }
        let mut audit = Vec::new();
        if let Some(change) = change {
            Self::apply_line_in(&mut tx, &self.vault, change, &mut audit).await?;
            // The history entry the change wrote is the record's: the balance entries hang off it.
            sqlx::query(
                "UPDATE usage_records SET event_id = (SELECT MAX(id) FROM line_events WHERE line_id = $1)
                 WHERE carrier_code = $2 AND record_id = $3",
            )
            .bind(record.line.get())
            .bind(record.carrier.as_str())
            .bind(&record.record_id)
            .execute(&mut *tx)
            .await?;
        }
        let until = left
            .counted_until
            .map(micros)
            .unwrap_or_else(|| micros(record.started_at));
        sqlx::query(
            "INSERT INTO line_usage (line_id, carry_bytes, counted_until) VALUES ($1, $2, $3)
             ON CONFLICT (line_id) DO UPDATE SET carry_bytes = excluded.carry_bytes,
             counted_until = CASE WHEN excluded.counted_until > line_usage.counted_until
                 THEN excluded.counted_until ELSE line_usage.counted_until END",
        )
        .bind(record.line.get())
        .bind(i64::try_from(left.carry_bytes).unwrap_or(0))
        .bind(until)
        .execute(&mut *tx)
        .await?;
        Self::append_audit_many(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(true)
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
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT carry_bytes, counted_until FROM line_usage WHERE line_id = $1")
                .bind(line.get())
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some((carry, until)) => LineUsage {
                carry_bytes: u64::try_from(carry).unwrap_or(0),
                counted_until: Some(from_micros(until)?),
            },
            None => LineUsage::default(),
        })
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
