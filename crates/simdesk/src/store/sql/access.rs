//! Staff accounts, their sessions, API tokens and the administration log.

use super::*;

#[async_trait]
impl<D> Access for SqlStore<D>
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
    async fn insert_staff(
        &self,
        username: &str,
        password_hash: &str,
        role: &str,
        carrier: &CarrierCode,
        at: Timestamp,
    ) -> StoreResult<i64> {
        sqlx::query_scalar("INSERT INTO staff (username, password_hash, role, carrier_code, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(username)
            .bind(password_hash)
            .bind(role)
            .bind(carrier.as_str())
            .bind(micros(at))
            .fetch_one(&self.pool)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound(format!("carrier {carrier}")),
                _ => duplicate_or(e, &format!("staff member {username}")),
            })
    }

    async fn staff_by_username(&self, username: &str) -> StoreResult<Option<StaffRow>> {
        let row = sqlx::query("SELECT * FROM staff WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::staff_from_row).transpose()
    }

    async fn staff(&self, id: i64) -> StoreResult<Option<StaffRow>> {
        let row = sqlx::query("SELECT * FROM staff WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::staff_from_row).transpose()
    }

    async fn insert_session(&self, s: &SessionRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, kind, subject, carrier_code, csrf_token, language, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&s.token_hash)
        .bind(&s.kind)
        .bind(s.subject)
        .bind(&s.carrier)
        .bind(&s.csrf_token)
        .bind(&s.language)
        .bind(micros(s.created_at))
        .bind(micros(s.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session(&self, token_hash: &str, now: Timestamp) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE token_hash = $1 AND expires_at > $2")
            .bind(token_hash)
            .bind(micros(now))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::session_from_row).transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_api_token(
        &self,
        carrier: &CarrierCode,
        name: &str,
        token_hash: &str,
        created_by: &str,
        at: Timestamp,
    ) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO api_tokens (carrier_code, name, token_hash, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(carrier.as_str())
        .bind(name)
        .bind(token_hash)
        .bind(created_by)
        .bind(micros(at))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound(format!("carrier {carrier}")),
            _ => StoreError::Database(e),
        })?)
    }

    async fn api_token(&self, token_hash: &str) -> StoreResult<Option<ApiTokenRow>> {
        let row =
            sqlx::query("SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(Self::token_from_row).transpose()
    }

    async fn api_tokens(&self) -> StoreResult<Vec<ApiTokenRow>> {
        let rows = sqlx::query("SELECT * FROM api_tokens ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::token_from_row).collect()
    }

    async fn revoke_api_token(&self, id: i64, at: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(micros(at))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_api_token(&self, t: &NewApiToken) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO api_tokens (carrier_code, name, token_hash, created_by, created_at, scopes, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(t.carrier.as_str())
        .bind(&t.name)
        .bind(&t.token_hash)
        .bind(&t.created_by)
        .bind(micros(t.created_at))
        .bind(t.scopes.join(","))
        .bind(t.expires_at.map(micros))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound(format!("carrier {}", t.carrier)),
            _ => StoreError::Database(e),
        })?)
    }

    async fn touch_api_token(&self, id: i64, at: Timestamp) -> StoreResult<()> {
        // At most one write a minute per token, so busy partners do not write on every call.
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)")
            .bind(micros(at))
            .bind(id)
            .bind(micros(at) - 60_000_000)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn record_admin_event(&self, e: &AdminEvent) -> StoreResult<()> {
        sqlx::query("INSERT INTO admin_events (at, actor, action, subject, reason) VALUES ($1, $2, $3, $4, $5)")
            .bind(micros(e.at))
            .bind(&e.actor)
            .bind(&e.action)
            .bind(&e.subject)
            .bind(&e.reason)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn admin_events(&self) -> StoreResult<Vec<AdminEvent>> {
        let rows = sqlx::query("SELECT * FROM admin_events ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::admin_event_from_row).collect()
    }
}
