//! Receipts: their numbering per carrier and year, and reading them back.

use super::*;

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

    async fn receipt_numbers(&self, carrier: &str) -> StoreResult<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT year, seq FROM receipts WHERE carrier_code = $1 ORDER BY year, seq",
        )
        .bind(carrier)
        .fetch_all(&self.pool)
        .await?)
    }
}
