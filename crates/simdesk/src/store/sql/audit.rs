//! Reading the audit trail back: its pages, its head, and the rows its entries recorded.

use super::*;

#[async_trait]
impl<D> Audit for SqlStore<D>
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
    async fn audit_page(
        &self,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<crate::audit::AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, source, source_id, content, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::audit_entry_from_row).collect()
    }

    async fn audit_head(&self) -> StoreResult<(i64, String)> {
        Ok(
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn audit_source(&self, source: &str, id: i64) -> StoreResult<Option<String>> {
        let sql = match source {
            "line_event" => "SELECT * FROM line_events WHERE id = $1",
            "request_event" => "SELECT * FROM request_events WHERE id = $1",
            other => {
                return Err(StoreError::Corrupt(format!(
                    "audit entry names an unknown source {other:?}"
                )))
            }
        };
        let Some(row) = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        Ok(Some(match source {
            "line_event" => Self::line_event_content(&row)?,
            _ => Self::request_event_content(&row)?,
        }))
    }
}
