//! Customers: reading them back unsealed, their languages and carriers, and data-key rotation.

use super::*;

#[async_trait]
impl<D> Customers for SqlStore<D>
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
    async fn customer(&self, id: i64) -> StoreResult<Option<CustomerRow>> {
        let row: Option<(i64, String, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT id, language, contact_erased_at, identity_erased_at FROM customers WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some((id, language, contact_erased, identity_erased)) = row else {
            return Ok(None);
        };
        let identity = self.sealed_part(id, "identity").await?;
        let contact = self.sealed_part(id, "contact").await?;
        let personal = match (identity, contact) {
            (Some(identity), Some(contact)) => Some(
                self.vault
                    .open_person(id, &identity, &contact)
                    .map_err(|e| {
                        StoreError::Corrupt(format!("customer {id}'s personal data: {e}"))
                    })?,
            ),
            _ => None,
        };
        Ok(Some(CustomerRow {
            id,
            language,
            personal,
            contact_erased_at: opt_ts(contact_erased)?,
            identity_erased_at: opt_ts(identity_erased)?,
        }))
    }

    async fn rewrap_data_keys(&self) -> StoreResult<u64> {
        let Some(new) = self.vault.next() else {
            return Err(StoreError::Refused(
                "no new master key to move the data keys to".into(),
            ));
        };
        let new_id = new.id();
        let mut moved = 0u64;
        // Batches until none is left under another key, so rows written meanwhile by
        // running nodes (still on the old key) are moved too.
        loop {
            let rows: Vec<(i64, String, String, Vec<u8>)> = sqlx::query_as(
                "SELECT customer_id, purpose, master_id, wrapped FROM customer_keys WHERE master_id <> $1 ORDER BY customer_id LIMIT 500",
            )
            .bind(&new_id)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            let mut tx = self.pool.begin().await?;
            for (customer, purpose, master_id, wrapped) in rows {
                let old = crate::crypto::WrappedKey {
                    master_id: master_id.clone(),
                    sealed: wrapped,
                };
                let key = self
                    .vault
                    .rewrap(new, customer, &purpose, &old)
                    .map_err(|e| {
                        StoreError::Corrupt(format!("customer {customer}'s {purpose} key: {e}"))
                    })?;
                moved += sqlx::query(
                    "UPDATE customer_keys SET master_id = $1, wrapped = $2 WHERE customer_id = $3 AND purpose = $4 AND master_id = $5",
                )
                .bind(&key.master_id)
                .bind(&key.sealed)
                .bind(customer)
                .bind(&purpose)
                .bind(&master_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
        }
        loop {
            let rows: Vec<(i64, i64, String, String, Vec<u8>)> = sqlx::query_as(
                "SELECT id, request_id, sha256, master_id, wrapped_key FROM identity_documents
                 WHERE wrapped_key IS NOT NULL AND master_id <> $1 ORDER BY id LIMIT 500",
            )
            .bind(&new_id)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            let mut tx = self.pool.begin().await?;
            for (id, request, sha, master_id, wrapped) in rows {
                let old = crate::crypto::WrappedKey {
                    master_id: master_id.clone(),
                    sealed: wrapped,
                };
                let key = self
                    .vault
                    .rewrap_document(new, request, &sha, &old)
                    .map_err(|e| StoreError::Corrupt(format!("document {id}'s key: {e}")))?;
                moved += sqlx::query("UPDATE identity_documents SET master_id = $1, wrapped_key = $2 WHERE id = $3 AND master_id = $4")
                    .bind(&key.master_id)
                    .bind(&key.sealed)
                    .bind(id)
                    .bind(&master_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
        }
        Ok(moved)
    }

    async fn identity_record(
        &self,
        customer: i64,
    ) -> StoreResult<Option<crate::vault::IdentityRecord>> {
        let Some(part) = self.sealed_part(customer, "identity").await? else {
            return Ok(None);
        };
        self.vault
            .open_identity(customer, &part)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("customer {customer}'s identity record: {e}")))
    }

    async fn customer_by_email(&self, email: &str) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT customer_id FROM customer_index WHERE field = 'email' AND value = $1 ORDER BY customer_id DESC LIMIT 1")
            .bind(self.vault.email_term(email))
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn customer_carriers(&self, customer: i64) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT carrier_code FROM lines WHERE holder_id = $1 ORDER BY carrier_code",
        )
        .bind(customer)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn customer_languages(
        &self,
        ids: &[i64],
    ) -> StoreResult<std::collections::HashMap<i64, String>> {
        let mut languages = std::collections::HashMap::new();
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let mut q = Statement::<D>::new("SELECT id, language FROM customers WHERE id IN (");
            let mut sep = q.separated(", ");
            for id in chunk {
                sep.push_bind(*id);
            }
            q.push(")");
            let (sql, args) = q.into_parts();
            let rows: Vec<(i64, String)> = sqlx::query_as_with(&sql, args)
                .fetch_all(&self.pool)
                .await?;
            languages.extend(rows);
        }
        Ok(languages)
    }
}
