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
    async fn customer(&self, id: CustomerId) -> StoreResult<Option<CustomerRow>> {
        let row: Option<(i64, String, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT id, language, contact_erased_at, identity_erased_at FROM customers WHERE id = $1",
        )
        .bind(id.get())
        .fetch_optional(&self.pool)
        .await?;
        let Some((id, language, contact_erased, identity_erased)) = row else {
            return Ok(None);
        };
        let personal = self.open_person(id).await?;
        Ok(Some(CustomerRow {
            id,
            language,
            personal,
            contact_erased_at: opt_ts(contact_erased)?,
            identity_erased_at: opt_ts(identity_erased)?,
        }))
    }

    async fn rewrap_data_keys(&self) -> StoreResult<u64> {
        self.rewrap_keys().await
    }

    async fn identity_record(
        &self,
        customer: CustomerId,
    ) -> StoreResult<Option<crate::vault::IdentityRecord>> {
        self.open_identity(customer.get()).await
    }

    async fn customer_by_email(&self, email: &str) -> StoreResult<Option<CustomerId>> {
        Ok(sqlx::query_scalar("SELECT customer_id FROM customer_index WHERE field = 'email' AND value = $1 ORDER BY customer_id DESC LIMIT 1")
            .bind(self.vault.email_term(email))
            .fetch_optional(&self.pool)
            .await?
            .map(CustomerId::new))
    }

    async fn customer_carriers(&self, customer: CustomerId) -> StoreResult<Vec<CarrierCode>> {
        let codes: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT carrier_code FROM lines WHERE holder_id = $1 ORDER BY carrier_code",
        )
        .bind(customer.get())
        .fetch_all(&self.pool)
        .await?;
        Ok(codes.into_iter().map(CarrierCode::new).collect())
    }

    async fn customer_languages(
        &self,
        ids: &[CustomerId],
    ) -> StoreResult<std::collections::HashMap<CustomerId, String>> {
        let mut languages = std::collections::HashMap::new();
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let mut q = Statement::<D>::new("SELECT id, language FROM customers WHERE id IN (");
            let mut sep = q.separated(", ");
            for id in chunk {
                sep.push_bind(id.get());
            }
            q.push(")");
            let (sql, args) = q.into_parts();
            let rows: Vec<(i64, String)> = sqlx::query_as_with(&sql, args)
                .fetch_all(&self.pool)
                .await?;
            languages.extend(
                rows.into_iter()
                    .map(|(id, language)| (CustomerId::new(id), language)),
            );
        }
        Ok(languages)
    }
}
