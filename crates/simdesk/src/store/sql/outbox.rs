//! The outbox of side effects and the recording network's journal.

use super::*;

/// Calls to the network about one subscriber must reach it in order: they share a subject.
pub(crate) fn outbox_subject(m: &OutboxMessage) -> Option<String> {
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
    pub(crate) async fn insert_outbox(
        tx: &mut sqlx::Transaction<'_, D>,
        m: &OutboxMessage,
    ) -> StoreResult<()> {
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
}

#[async_trait]
impl<D> Outbox for SqlStore<D>
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
    async fn claim_outbox(
        &self,
        kinds: &[&str],
        due: Timestamp,
        wall: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<OutboxRow>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        // Claim by conditional update: a row leased by another worker is skipped, so two
        // workers never deliver the same row at the same time.
        let mut q = Statement::<D>::new(
            "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ",
        );
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
        let (sql, args) = q.into_parts();
        let candidates: Vec<(i64,)> = sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?;
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
                claimed.push(Self::outbox_row_from_row(&r)?);
            }
        }
        Ok(claimed)
    }

    async fn outbox_done(&self, id: i64, at: Timestamp) -> StoreResult<()> {
        sqlx::query(
            "UPDATE outbox SET state = 'done', done_at = $1, leased_until = NULL WHERE id = $2",
        )
        .bind(micros(at))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn outbox_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> StoreResult<()> {
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
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn outbox_waiting_for(&self, subject: &str) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE subject = $1 AND state = 'pending'",
        )
        .bind(subject)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    async fn enqueue(&self, messages: &[OutboxMessage]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for m in messages {
            Self::insert_outbox(&mut tx, m).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn outbox_fan_out(
        &self,
        id: i64,
        messages: &[OutboxMessage],
        at: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for m in messages {
            Self::insert_outbox(&mut tx, m).await?;
        }
        sqlx::query(
            "UPDATE outbox SET state = 'done', done_at = $1, leased_until = NULL WHERE id = $2",
        )
        .bind(micros(at))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn outbox_entries(
        &self,
        state: Option<&str>,
        kind: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<OutboxEntry>> {
        let rows = sqlx::query(
            "SELECT id, kind, idempotency_key, state, attempts, next_attempt_at, last_error, created_at, done_at FROM outbox
             WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) AND (CAST($2 AS TEXT) IS NULL OR kind = $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(state)
        .bind(kind)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::outbox_entry_from_row).collect()
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

    async fn outbox_progress(&self, prefix: &str) -> StoreResult<(i64, i64)> {
        let pattern = format!("{prefix}%");
        Ok(sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0) FROM outbox WHERE idempotency_key LIKE $1",
        )
        .bind(pattern)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn record_network_call(
        &self,
        key: &str,
        operation: &str,
        imsi: &str,
        msisdn: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
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
        Ok(sqlx::query_as(
            "SELECT operation, msisdn FROM network_calls WHERE imsi = $1 ORDER BY id",
        )
        .bind(imsi)
        .fetch_all(&self.pool)
        .await?)
    }
}
