//! Online-charging reservations: grants held per session and service under the line's lock,
//! released when the session ends or goes silent.

use super::*;

const COLUMNS: &str = "session_id, service_key, line_id, service, units, request_number, \
                       final_unit, granted_at, expires_at";

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
    fn reservation_from_row(r: &D::Row) -> StoreResult<CreditReservation> {
        let count = |v: i64, what: &str| {
            u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what}: {v}")))
        };
        Ok(CreditReservation {
            session_id: r.try_get("session_id")?,
            service_key: r.try_get("service_key")?,
            line: LineId::new(r.try_get("line_id")?),
            service: r.try_get("service")?,
            units: count(r.try_get("units")?, "reserved units")?,
            request_number: u32::try_from(r.try_get::<i64, _>("request_number")?)
                .map_err(corrupt("request number"))?,
            final_unit: r.try_get("final_unit")?,
            granted_at: from_micros(r.try_get("granted_at")?)?,
            expires_at: from_micros(r.try_get("expires_at")?)?,
        })
    }

    /// One ask within a transaction: the line locked, what the others hold read after it.
    async fn reserve_in(
        tx: &mut sqlx::Transaction<'_, D>,
        ask: &CreditAsk,
        payable: Payable<'_>,
    ) -> StoreResult<CreditReservation> {
        // The line's row is the lock every grant of the line takes first: what the others hold
        // is read after it, so two sessions are never granted the same units.
        let locked = sqlx::query("UPDATE lines SET id = id WHERE id = $1")
            .bind(ask.line.get())
            .execute(&mut **tx)
            .await?;
        if locked.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("line {}", ask.line.get())));
        }
        let rows = sqlx::query(
            "SELECT id, unit, initial_amount, remaining, expires_at, source FROM balance_buckets WHERE line_id = $1 ORDER BY id",
        )
        .bind(ask.line.get())
        .fetch_all(&mut **tx)
        .await?;
        let buckets = rows
            .iter()
            .map(Self::bucket_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let carry: Option<i64> =
            sqlx::query_scalar("SELECT carry_bytes FROM line_usage WHERE line_id = $1")
                .bind(ask.line.get())
                .fetch_optional(&mut **tx)
                .await?;
        let held: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(units), 0) AS BIGINT) FROM credit_reservations
             WHERE line_id = $1 AND service = $2 AND expires_at > $3
               AND NOT (session_id = $4 AND service_key = $5)",
        )
        .bind(ask.line.get())
        .bind(ask.service.as_str())
        .bind(micros(ask.at))
        .bind(ask.session_id.as_str())
        .bind(ask.service_key.as_str())
        .fetch_one(&mut **tx)
        .await?;
        let left = payable(
            &buckets,
            carry.and_then(|c| u64::try_from(c).ok()).unwrap_or(0),
        )
        .saturating_sub(u64::try_from(held).unwrap_or(0));
        let units = ask.wanted.min(left);
        let reservation = CreditReservation {
            session_id: ask.session_id.clone(),
            service_key: ask.service_key.clone(),
            line: ask.line,
            service: ask.service.clone(),
            units,
            request_number: ask.request_number,
            final_unit: units > 0 && units >= left,
            granted_at: ask.at,
            expires_at: ask.expires_at,
        };
        if units == 0 {
            sqlx::query(
                "DELETE FROM credit_reservations WHERE session_id = $1 AND service_key = $2",
            )
            .bind(ask.session_id.as_str())
            .bind(ask.service_key.as_str())
            .execute(&mut **tx)
            .await?;
        } else {
            let sql = format!(
                "INSERT INTO credit_reservations ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (session_id, service_key) DO UPDATE SET
                     line_id = excluded.line_id, service = excluded.service, units = excluded.units,
                     request_number = excluded.request_number, final_unit = excluded.final_unit,
                     granted_at = excluded.granted_at, expires_at = excluded.expires_at"
            );
            sqlx::query(&sql)
                .bind(reservation.session_id.as_str())
                .bind(reservation.service_key.as_str())
                .bind(reservation.line.get())
                .bind(reservation.service.as_str())
                .bind(i64::try_from(units).unwrap_or(i64::MAX))
                .bind(i64::from(reservation.request_number))
                .bind(reservation.final_unit)
                .bind(micros(reservation.granted_at))
                .bind(micros(reservation.expires_at))
                .execute(&mut **tx)
                .await?;
        }
        Ok(reservation)
    }
}

#[async_trait]
impl<D> CreditReservations for SqlStore<D>
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
    async fn credit_reservation(
        &self,
        session_id: &str,
        service_key: &str,
    ) -> StoreResult<Option<CreditReservation>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM credit_reservations WHERE session_id = $1 AND service_key = $2"
        );
        let row = sqlx::query(&sql)
            .bind(session_id)
            .bind(service_key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::reservation_from_row).transpose()
    }

    async fn reserve_credits(
        &self,
        asks: &[(CreditAsk, Payable<'_>)],
    ) -> StoreResult<Vec<CreditReservation>> {
        let mut tx = self.pool.begin().await?;
        // Lines are locked in id order, so two batches never wait on each other in a circle.
        let mut order: Vec<usize> = (0..asks.len()).collect();
        order.sort_by_key(|&i| asks[i].0.line.get());
        let mut held: Vec<Option<CreditReservation>> = vec![None; asks.len()];
        for i in order {
            let (ask, payable) = &asks[i];
            held[i] = Some(Self::reserve_in(&mut tx, ask, *payable).await?);
        }
        tx.commit().await?;
        Ok(held.into_iter().flatten().collect())
    }

    async fn release_credit(&self, session_id: &str) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM credit_reservations WHERE session_id = $1")
            .bind(session_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn release_silent_credit(&self, at: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM credit_reservations WHERE expires_at <= $1")
            .bind(micros(at))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
