//! One-time codes: issuing them, limiting their sends and counting their attempts.

use super::*;

#[async_trait]
impl<D> Codes for SqlStore<D>
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
    async fn insert_code(
        &self,
        line_id: LineId,
        request_id: Option<RequestId>,
        destination: &str,
        code_hash: &str,
        at: Timestamp,
    ) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO one_time_codes (line_id, request_id, destination, code_hash, issued_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(line_id.get())
        .bind(request_id.map(RequestId::get))
        .bind(destination)
        .bind(code_hash)
        .bind(micros(at))
        .fetch_one(&self.pool)
        .await?)
    }

    async fn code_sends_since(
        &self,
        line_id: LineId,
        for_request: bool,
        since: Timestamp,
    ) -> StoreResult<Vec<Timestamp>> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT issued_at FROM one_time_codes WHERE line_id = $1 AND issued_at > $2 AND (request_id IS NOT NULL) = $3",
        )
            .bind(line_id.get())
            .bind(micros(since))
            .bind(for_request)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(|(t,)| from_micros(t)).collect()
    }

    async fn latest_code(
        &self,
        line_id: LineId,
        request_id: Option<RequestId>,
    ) -> StoreResult<Option<CodeRow>> {
        let row = sqlx::query(
            "SELECT id, code_hash, issued_at, attempts, used_at FROM one_time_codes
             WHERE line_id = $1 AND (request_id = $2 OR ($2 IS NULL AND request_id IS NULL)) ORDER BY id DESC LIMIT 1",
        )
        .bind(line_id.get())
        .bind(request_id.map(RequestId::get))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::code_from_row).transpose()
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

    async fn use_code(&self, id: i64, at: Timestamp) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE one_time_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                .bind(micros(at))
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }
}
