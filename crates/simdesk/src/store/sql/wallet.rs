//! The wallet ledger: balanced movements, postings and payouts.

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
    pub(crate) async fn insert_movement(
        tx: &mut sqlx::Transaction<'_, D>,
        w: &WalletEntry,
        request_id: Option<i64>,
    ) -> StoreResult<i64> {
        if !w.movement.is_balanced() {
            return Err(StoreError::Corrupt(format!(
                "refusing an unbalanced wallet movement {}",
                w.idempotency_key
            )));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO wallet_movements (customer_id, kind, idempotency_key, request_id, note, at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(w.customer.get())
        .bind(w.movement.kind.as_str())
        .bind(&w.idempotency_key)
        .bind(request_id)
        .bind(&w.note)
        .bind(micros(w.at))
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| duplicate_or(e, &format!("wallet movement {}", w.idempotency_key)))?;
        for p in &w.movement.postings {
            sqlx::query("INSERT INTO wallet_postings (movement_id, account, amount, currency) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(p.account.to_string())
                .bind(p.amount.minor())
                .bind(p.amount.currency().code())
                .execute(&mut **tx)
                .await?;
        }
        Ok(id)
    }
}

#[async_trait]
impl<D> Wallet for SqlStore<D>
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
    async fn wallet_postings(&self, customer: CustomerId) -> StoreResult<Vec<WalletPostingRow>> {
        let rows = sqlx::query(
            "SELECT m.id AS movement_id, m.kind, m.note, m.at, p.account, p.amount, p.currency
             FROM wallet_movements m JOIN wallet_postings p ON p.movement_id = m.id
             WHERE m.customer_id = $1 ORDER BY m.id, p.id",
        )
        .bind(customer.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::posting_from_row).collect()
    }

    async fn ledger_totals(&self) -> StoreResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as("SELECT currency, CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM wallet_postings GROUP BY currency ORDER BY currency")
            .fetch_all(&self.pool)
            .await?)
    }

    async fn payout_requested(&self, idempotency_key: &str) -> StoreResult<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM payouts WHERE idempotency_key = $1")
                .bind(idempotency_key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn record_payout(&self, payout: &NewPayout, outbox: &OutboxMessage) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await?;
        // Touching the customer's row takes its lock (PostgreSQL) or the write lock
        // (SQLite) before the balance is read, so concurrent payouts queue up here.
        let locked = sqlx::query("UPDATE customers SET id = id WHERE id = $1")
            .bind(payout.wallet.customer.get())
            .execute(&mut *tx)
            .await?;
        if locked.rows_affected() != 1 {
            return Err(StoreError::NotFound(format!(
                "customer {}",
                payout.wallet.customer
            )));
        }
        let already: Option<i64> =
            sqlx::query_scalar("SELECT id FROM payouts WHERE idempotency_key = $1")
                .bind(&payout.wallet.idempotency_key)
                .fetch_optional(&mut *tx)
                .await?;
        if already.is_some() {
            return Err(StoreError::Duplicate(
                "a payout with this idempotency key".into(),
            ));
        }
        let out = payout
            .wallet
            .movement
            .postings
            .iter()
            .find(|p| p.amount.is_positive())
            .map(|p| p.amount)
            .ok_or_else(|| StoreError::Corrupt("a payout without an amount".into()))?;
        let wallet_account = simdesk_domain::wallet::Account::Wallet {
            customer: payout.wallet.customer,
        }
        .to_string();
        let held: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM wallet_postings WHERE account = $1 AND currency = $2",
        )
        .bind(&wallet_account)
        .bind(out.currency().code())
        .fetch_one(&mut *tx)
        .await?;
        if held < out.minor() {
            return Err(StoreError::Refused(format!(
                "the wallet holds {}; a payout of {out} is more than that",
                Money::new(held, out.currency())
            )));
        }
        let movement = Self::insert_movement(&mut tx, &payout.wallet, None).await?;
        let amount = payout
            .wallet
            .movement
            .postings
            .iter()
            .find(|p| p.amount.is_positive())
            .map(|p| p.amount)
            .ok_or_else(|| StoreError::Corrupt("a payout without an amount".into()))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO payouts (customer_id, movement_id, amount, currency, destination, idempotency_key, state, requested_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'requested', $7) RETURNING id",
        )
        .bind(payout.wallet.customer.get())
        .bind(movement)
        .bind(amount.minor())
        .bind(amount.currency().code())
        .bind(&payout.destination)
        .bind(&payout.wallet.idempotency_key)
        .bind(micros(payout.wallet.at))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| duplicate_or(e, "a payout with this idempotency key"))?;
        Self::insert_outbox(&mut tx, outbox).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn mark_payout_sent(
        &self,
        idempotency_key: &str,
        external_ref: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE payouts SET state = 'sent', sent_at = $1, external_ref = $2 WHERE idempotency_key = $3 AND state = 'requested'")
            .bind(micros(at))
            .bind(external_ref)
            .bind(idempotency_key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
