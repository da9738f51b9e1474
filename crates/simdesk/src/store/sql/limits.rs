//! Attempt counters and locks shared by every node.

use super::*;

#[async_trait]
impl<D> Limits for SqlStore<D>
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
}
