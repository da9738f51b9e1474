//! Idempotency keys: reserving, answering, releasing and taking over a request.

use super::*;

#[async_trait]
impl<D> Idempotency for SqlStore<D>
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
    async fn reserve_idempotency_key(
        &self,
        caller: &str,
        key: &str,
        request_hash: &str,
        at: Timestamp,
    ) -> StoreResult<Option<(String, Option<i64>, Option<String>, Option<String>)>> {
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

    async fn complete_idempotency_key(
        &self,
        caller: &str,
        key: &str,
        status: i64,
        response: &str,
        location: Option<&str>,
    ) -> StoreResult<()> {
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

    async fn take_over_idempotency_key(
        &self,
        caller: &str,
        key: &str,
        request_hash: &str,
        reserved_before: Timestamp,
        at: Timestamp,
    ) -> StoreResult<bool> {
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
}
