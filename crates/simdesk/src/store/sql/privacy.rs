//! Retention and erasure of personal data, and the report of what is held.

use super::*;

#[async_trait]
impl<D> Privacy for SqlStore<D>
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
    async fn customers_due_for_erasure(
        &self,
        now: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<CustomerId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT c.id FROM customers c
             WHERE c.identity_erased_at IS NULL AND (c.erasure_due_at IS NULL OR c.erasure_due_at <= $1)
             AND NOT EXISTS (SELECT 1 FROM lines l WHERE l.holder_id = c.id AND l.ended_at IS NULL)
             ORDER BY c.id LIMIT $2",
        )
        .bind(micros(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(CustomerId::new).collect())
    }

    async fn set_erasure_due(&self, customer: CustomerId, at: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE customers SET erasure_due_at = $1 WHERE id = $2")
            .bind(micros(at))
            .bind(customer.get())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn erase_customer(&self, e: &Erasure) -> StoreResult<u64> {
        let at = micros(e.event.by.at);
        let mut tx = self.pool.begin().await?;
        let mut parts = Vec::new();
        if e.contact {
            parts.push((
                "contact",
                "contact_sealed",
                "contact_erased_at",
                vec!["email"],
            ));
        }
        if e.identity {
            parts.push((
                "identity",
                "identity_sealed",
                "identity_erased_at",
                vec!["passport", "name"],
            ));
        }
        for (purpose, sealed, erased, fields) in parts {
            sqlx::query("DELETE FROM customer_keys WHERE customer_id = $1 AND purpose = $2")
                .bind(e.customer.get())
                .bind(purpose)
                .execute(&mut *tx)
                .await?;
            sqlx::query(&format!(
                "UPDATE customers SET {sealed} = NULL, {erased} = COALESCE({erased}, $1) WHERE id = $2"
            ))
            .bind(at)
            .bind(e.customer.get())
            .execute(&mut *tx)
            .await?;
            for field in fields {
                sqlx::query("DELETE FROM customer_index WHERE customer_id = $1 AND field = $2")
                    .bind(e.customer.get())
                    .bind(field)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        sqlx::query("UPDATE customers SET erasure_due_at = $1 WHERE id = $2")
            .bind(e.next_due.map(micros))
            .bind(e.customer.get())
            .execute(&mut *tx)
            .await?;
        let documents = sqlx::query(
            "UPDATE identity_documents SET content = NULL, wrapped_key = NULL, erased_at = $1
             WHERE content IS NOT NULL AND request_id IN
               (SELECT r.id FROM cancellation_requests r JOIN lines l ON l.id = r.line_id WHERE l.holder_id = $2)",
        )
        .bind(at)
        .bind(e.customer.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM one_time_codes WHERE line_id IN (SELECT id FROM lines WHERE holder_id = $1)")
            .bind(e.customer.get())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE kind = 'traveller' AND subject = $1")
            .bind(e.customer.get())
            .execute(&mut *tx)
            .await?;
        let lines: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM lines WHERE holder_id = $1 ORDER BY id")
                .bind(e.customer.get())
                .fetch_all(&mut *tx)
                .await?;
        let mut audit = Vec::new();
        for line in lines {
            Self::insert_event(&mut tx, LineId::new(line), &e.event, &mut audit).await?;
        }
        Self::append_audit_many(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(documents)
    }

    async fn erase_decided_documents(
        &self,
        carrier: &CarrierCode,
        before: Timestamp,
        now: Timestamp,
    ) -> StoreResult<u64> {
        // A document left pending on a request that was withdrawn, rejected or completed
        // will never be reviewed: its purpose is over as well.
        Ok(sqlx::query(
            "UPDATE identity_documents SET content = NULL, wrapped_key = NULL, erased_at = $3
             WHERE content IS NOT NULL
             AND request_id IN (SELECT id FROM cancellation_requests WHERE carrier_code = $2)
             AND ((review <> 'pending' AND reviewed_at <= $1)
               OR (uploaded_at <= $1 AND request_id IN
                   (SELECT id FROM cancellation_requests WHERE state IN ('withdrawn', 'rejected', 'completed'))))",
        )
        .bind(micros(before))
        .bind(carrier.as_str())
        .bind(micros(now))
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    async fn purge_spent(
        &self,
        codes_before: Timestamp,
        now: Timestamp,
        keys_before: Timestamp,
    ) -> StoreResult<PurgeCounts> {
        let codes = sqlx::query("DELETE FROM one_time_codes WHERE issued_at < $1")
            .bind(micros(codes_before))
            .execute(&self.pool)
            .await?
            .rows_affected();
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(micros(now))
            .execute(&self.pool)
            .await?
            .rows_affected();
        let idempotency_keys = sqlx::query(
            "DELETE FROM idempotency_keys WHERE created_at < $1 AND status IS NOT NULL",
        )
        .bind(micros(keys_before))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(PurgeCounts {
            codes,
            sessions,
            idempotency_keys,
        })
    }

    async fn privacy_rows(&self, after: i64, limit: i64) -> StoreResult<Vec<PrivacyRow>> {
        let rows: Vec<(i64, i64, Option<i64>, Option<i64>, i64)> = sqlx::query_as(
            "SELECT c.id, c.created_at, c.contact_erased_at, c.identity_erased_at,
               (SELECT COUNT(*) FROM identity_documents d JOIN cancellation_requests r ON r.id = d.request_id
                JOIN lines l ON l.id = r.line_id WHERE l.holder_id = c.id AND d.content IS NOT NULL)
             FROM customers c WHERE c.id > $1 ORDER BY c.id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(customer, created, contact, identity, documents)| {
                Ok(PrivacyRow {
                    customer: CustomerId::new(customer),
                    created_at: from_micros(created)?,
                    contact_erased_at: opt_ts(contact)?,
                    identity_erased_at: opt_ts(identity)?,
                    documents,
                })
            })
            .collect()
    }
}
