//! Receipts: their numbering per carrier and year, and reading them back.

use super::*;

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
    /// Numbers a request's receipt (per carrier and Japanese year, without gaps), signs it and
    /// stores it, in the request's transaction; returns its number.
    pub(crate) async fn issue_receipt(
        tx: &mut sqlx::Transaction<'_, D>,
        issue: &ReceiptIssue,
        request_id: i64,
        at: Timestamp,
    ) -> StoreResult<String> {
        // The counter row is created on first use, then moved under the transaction's lock.
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO receipt_counters (carrier_code, year, last_number) VALUES ($1, $2, 1)
             ON CONFLICT (carrier_code, year) DO UPDATE SET last_number = receipt_counters.last_number + 1
             RETURNING last_number",
        )
        .bind(issue.carrier.as_str())
        .bind(i64::from(issue.year))
        .fetch_one(&mut **tx)
        .await?;
        let number = format!("{}-{}-{:06}", issue.carrier, issue.year, seq);
        let document = (issue.sign)(&number);
        sqlx::query(
            "INSERT INTO receipts (number, carrier_code, year, seq, request_id, document, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&number)
        .bind(issue.carrier.as_str())
        .bind(i64::from(issue.year))
        .bind(seq)
        .bind(request_id)
        .bind(document)
        .bind(micros(at))
        .execute(&mut **tx)
        .await
        .map_err(|e| duplicate_or(e, "a receipt for this request"))?;
        sqlx::query("UPDATE cancellation_requests SET receipt_number = $1 WHERE id = $2")
            .bind(&number)
            .bind(request_id)
            .execute(&mut **tx)
            .await?;
        Ok(number)
    }
}

#[async_trait]
impl<D> Receipts for SqlStore<D>
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
    async fn receipt(&self, number: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT document FROM receipts WHERE number = $1")
                .bind(number)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn receipt_numbers(&self, carrier: &CarrierCode) -> StoreResult<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT year, seq FROM receipts WHERE carrier_code = $1 ORDER BY year, seq",
        )
        .bind(carrier.as_str())
        .fetch_all(&self.pool)
        .await?)
    }
}
