//! The one layer that seals and opens personal data on its way into and out of the database.

use super::sql::*;

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
    /// Seals a customer's personal data (bound to their row id, so it cannot be moved onto
    /// another customer) and writes the sealed parts, their wrapped data keys and blind indexes.
    pub(crate) async fn store_person(
        tx: &mut sqlx::Transaction<'_, D>,
        vault: &crate::vault::Vault,
        id: i64,
        personal: &simdesk_domain::customer::PersonalData,
        at: Timestamp,
    ) -> StoreResult<()> {
        let sealed = vault.seal_person(id, personal);
        sqlx::query("UPDATE customers SET identity_sealed = $1, contact_sealed = $2, legacy_personal_data = '' WHERE id = $3")
            .bind(&sealed.identity.sealed)
            .bind(&sealed.contact.sealed)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        for (purpose, part) in [("identity", &sealed.identity), ("contact", &sealed.contact)] {
            sqlx::query("INSERT INTO customer_keys (customer_id, purpose, master_id, wrapped, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(id)
                .bind(purpose)
                .bind(&part.key.master_id)
                .bind(&part.key.sealed)
                .bind(micros(at))
                .execute(&mut **tx)
                .await?;
        }
        for (field, value) in &sealed.index {
            sqlx::query("INSERT INTO customer_index (customer_id, field, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(*field)
                .bind(value)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// A customer's sealed part with its wrapped key; `None` once the key was destroyed.
    pub(crate) async fn sealed_part(
        &self,
        id: i64,
        purpose: &str,
    ) -> StoreResult<Option<crate::vault::SealedPart>> {
        let column = if purpose == "identity" {
            "identity_sealed"
        } else {
            "contact_sealed"
        };
        let row: Option<(String, Vec<u8>, Option<Vec<u8>>)> = sqlx::query_as(&format!(
            "SELECT k.master_id, k.wrapped, c.{column} FROM customer_keys k JOIN customers c ON c.id = k.customer_id
             WHERE k.customer_id = $1 AND k.purpose = $2"
        ))
        .bind(id)
        .bind(purpose)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(master_id, wrapped, sealed)| {
            sealed.map(|sealed| crate::vault::SealedPart {
                key: crate::crypto::WrappedKey {
                    master_id,
                    sealed: wrapped,
                },
                sealed,
            })
        }))
    }

    /// Checks the keys fit the data, then seals what an older release left in plaintext.
    pub(crate) async fn prepare_vault(&self) -> StoreResult<()> {
        let vault = &self.vault;
        let index_id: Option<String> =
            sqlx::query_scalar("SELECT value FROM vault_meta WHERE name = 'index_key_id'")
                .fetch_optional(&self.pool)
                .await?;
        match index_id {
            Some(id) if id != vault.index_id() => {
                return Err(StoreError::Refused(format!(
                    "the database's lookup indexes were made with index key {id}, but the loaded index.key is {}; \
                     restore the keys folder's index.key from backup",
                    vault.index_id()
                )))
            }
            Some(_) => {}
            None => {
                sqlx::query("INSERT INTO vault_meta (name, value) VALUES ('index_key_id', $1) ON CONFLICT (name) DO NOTHING")
                    .bind(vault.index_id())
                    .execute(&self.pool)
                    .await?;
            }
        }
        let masters: Vec<String> = sqlx::query_scalar(
            "SELECT master_id FROM customer_keys UNION SELECT master_id FROM identity_documents WHERE master_id IS NOT NULL
             UNION SELECT code_master_id FROM esim_profiles WHERE code_master_id IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        let loaded = vault.master_id();
        if let Some(other) = masters.iter().find(|m| !vault.accepts(m)) {
            let hint = if masters.contains(&loaded) {
                "a key rotation was interrupted: run `simdesk keys rotate` again with the same new key"
            } else {
                "set SIMDESK_MASTER_KEY or restore master_key_file to the key the data was sealed with"
            };
            return Err(StoreError::Refused(format!(
                "personal data in this database is sealed under master key {other}, but the loaded master key is {loaded}; {hint}"
            )));
        }
        // Rows written before personal data was sealed.
        let legacy: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT id, legacy_personal_data, created_at FROM customers WHERE legacy_personal_data <> ''",
        )
        .fetch_all(&self.pool)
        .await?;
        for (id, text, created) in legacy {
            let personal: simdesk_domain::customer::PersonalData =
                serde_json::from_str(&text).map_err(corrupt("personal data"))?;
            let mut tx = self.pool.begin().await?;
            Self::store_person(&mut tx, vault, id, &personal, from_micros(created)?).await?;
            tx.commit().await?;
        }
        let documents: Vec<(i64, i64, String, Vec<u8>)> = sqlx::query_as(
            "SELECT id, request_id, sha256, content FROM identity_documents WHERE content IS NOT NULL AND wrapped_key IS NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut tx = self.pool.begin().await?;
        Self::seal_plain_codes_in(&mut tx, vault, Timestamp::now()).await?;
        tx.commit().await?;
        for (id, request, sha, content) in documents {
            let sealed = vault.seal_document(request, &sha, &content);
            sqlx::query("UPDATE identity_documents SET content = $1, wrapped_key = $2, master_id = $3 WHERE id = $4")
                .bind(&sealed.sealed)
                .bind(&sealed.key.sealed)
                .bind(&sealed.key.master_id)
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// An identity document's image, sealed under a data key of its own and bound to its request
    /// and digest, so it cannot be moved onto another request.
    pub(crate) fn seal_document(&self, doc: &NewDocument) -> crate::vault::SealedPart {
        self.vault
            .seal_document(doc.request_id.get(), &doc.sha256, &doc.content)
    }

    /// An identity document's image, opened.
    pub(crate) fn open_document(
        &self,
        id: i64,
        request: i64,
        sha256: &str,
        sealed: crate::vault::SealedPart,
    ) -> StoreResult<Vec<u8>> {
        self.vault
            .open_document(request, sha256, &sealed)
            .map_err(|e| StoreError::Corrupt(format!("document {id}: {e}")))
    }

    /// A customer's personal data, opened; `None` once a part's key was destroyed (erased).
    pub(crate) async fn open_person(
        &self,
        id: i64,
    ) -> StoreResult<Option<simdesk_domain::customer::PersonalData>> {
        let identity = self.sealed_part(id, "identity").await?;
        let contact = self.sealed_part(id, "contact").await?;
        Ok(match (identity, contact) {
            (Some(identity), Some(contact)) => Some(
                self.vault
                    .open_person(id, &identity, &contact)
                    .map_err(|e| {
                        StoreError::Corrupt(format!("customer {id}'s personal data: {e}"))
                    })?,
            ),
            _ => None,
        })
    }

    /// A customer's identity record, opened; `None` once it was erased.
    pub(crate) async fn open_identity(
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

    /// Moves every data key to the vault's next master key; returns how many moved.
    pub(crate) async fn rewrap_keys(&self) -> StoreResult<u64> {
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
        Ok(moved + self.rewrap_activation_codes(new).await?)
    }
}
