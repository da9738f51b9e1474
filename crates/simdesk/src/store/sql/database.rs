//! The database as a whole: backend, migrations, liveness and gauges.

use super::*;

#[async_trait]
impl<D> Database for SqlStore<D>
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
    fn backend(&self) -> &'static str {
        D::BACKEND
    }

    async fn migrate(&self) -> StoreResult<()> {
        D::migrate(&self.pool).await?;
        self.prepare_vault().await
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn usage_records_grew(&self) -> StoreResult<()> {
        // SQLite plans each statement afresh against the unique index; it needs nothing.
        if D::BACKEND == "postgres" {
            sqlx::query("ANALYZE usage_records")
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    async fn gauges(&self, now: Timestamp) -> StoreResult<Gauges> {
        let lines_by_state = self.count_lines_by_state().await?;
        let requests_by_state: Vec<(String, i64)> = sqlx::query_as(
            "SELECT state, COUNT(*) FROM cancellation_requests GROUP BY state ORDER BY state",
        )
        .fetch_all(&self.pool)
        .await?;
        // Only waiting and dead rows are counted: delivered rows pile up and do not matter here.
        let by_kind: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT kind, state, COUNT(*), MIN(created_at) FROM outbox WHERE state IN ('pending', 'dead') GROUP BY kind, state ORDER BY kind",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut outbox_by_kind: Vec<OutboxDepth> = Vec::new();
        for (kind, state, n, oldest) in by_kind {
            if outbox_by_kind
                .last()
                .map(|d| d.kind != kind)
                .unwrap_or(true)
            {
                outbox_by_kind.push(OutboxDepth {
                    kind: kind.clone(),
                    ..OutboxDepth::default()
                });
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
}
