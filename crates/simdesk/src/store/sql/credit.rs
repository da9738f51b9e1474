//! Online-charging reservations: grants held per session and service under the line's lock,
//! released when the session ends or goes silent.

use super::*;
use std::collections::HashMap;

/// Reservations per multi-row upsert: 9 values each, far below either backend's limit.
const RESERVATIONS_PER_INSERT: usize = 500;

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
        if asks.is_empty() {
            return Ok(Vec::new());
        }
        let mut lines: Vec<i64> = asks.iter().map(|(a, _)| a.line.get()).collect();
        lines.sort_unstable();
        lines.dedup();
        let mut tx = self.pool.begin().await?;
        // Every line of the batch locked first, then read once: what each holds and what the
        // others hold is read after the locks, so no two sessions are granted the same units.
        let mut buckets: HashMap<i64, Vec<Bucket>> = HashMap::new();
        let mut carry: HashMap<i64, u64> = HashMap::new();
        let mut held: Vec<CreditReservation> = Vec::new();
        for chunk in lines.chunks(LOOKUP_CHUNK) {
            let in_list = |q: &mut Statement<D>| {
                let mut ids = q.separated(", ");
                for id in chunk {
                    ids.push_bind(*id);
                }
                q.push(")");
            };
            let mut q = Statement::<D>::new("UPDATE lines SET id = id WHERE id IN (");
            in_list(&mut q);
            let (sql, args) = q.into_parts();
            let locked = sqlx::query_with(&sql, args).execute(&mut *tx).await?;
            if locked.rows_affected() != chunk.len() as u64 {
                return Err(StoreError::NotFound("a line asked to reserve for".into()));
            }
            let mut q = Statement::<D>::new(
                "SELECT line_id, id, unit, initial_amount, remaining, expires_at, source FROM balance_buckets WHERE line_id IN (",
            );
            in_list(&mut q);
            q.push(" ORDER BY id");
            let (sql, args) = q.into_parts();
            for row in sqlx::query_with(&sql, args).fetch_all(&mut *tx).await? {
                let line: i64 = row.try_get("line_id")?;
                buckets
                    .entry(line)
                    .or_default()
                    .push(Self::bucket_from_row(&row)?);
            }
            let mut q = Statement::<D>::new(
                "SELECT line_id, carry_bytes FROM line_usage WHERE line_id IN (",
            );
            in_list(&mut q);
            let (sql, args) = q.into_parts();
            let rows: Vec<(i64, i64)> = sqlx::query_as_with(&sql, args).fetch_all(&mut *tx).await?;
            carry.extend(
                rows.into_iter()
                    .map(|(line, bytes)| (line, u64::try_from(bytes).unwrap_or(0))),
            );
            let sql = format!("SELECT {COLUMNS} FROM credit_reservations WHERE line_id IN (");
            let mut q = Statement::<D>::new(&sql);
            in_list(&mut q);
            let (sql, args) = q.into_parts();
            for row in sqlx::query_with(&sql, args).fetch_all(&mut *tx).await? {
                held.push(Self::reservation_from_row(&row)?);
            }
        }
        // Decided in the asks' order, each seeing the ones before it.
        let mut decided = Vec::with_capacity(asks.len());
        for (ask, payable) in asks {
            let line = ask.line.get();
            let others: u64 = held
                .iter()
                .filter(|r| {
                    r.line == ask.line
                        && r.service == ask.service
                        && r.expires_at > ask.at
                        && !(r.session_id == ask.session_id && r.service_key == ask.service_key)
                })
                .map(|r| r.units)
                .sum();
            let no_buckets = Vec::new();
            let left = payable(
                buckets.get(&line).unwrap_or(&no_buckets),
                carry.get(&line).copied().unwrap_or(0),
            )
            .saturating_sub(others);
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
            held.retain(|r| !(r.session_id == ask.session_id && r.service_key == ask.service_key));
            if units > 0 {
                held.push(reservation.clone());
            }
            decided.push(reservation);
        }
        // What the batch leaves: one row per session and service, the last decision for it.
        let mut last: HashMap<(&str, &str), &CreditReservation> = HashMap::new();
        for r in &decided {
            last.insert((r.session_id.as_str(), r.service_key.as_str()), r);
        }
        let (kept, dropped): (Vec<&CreditReservation>, Vec<&CreditReservation>) =
            last.into_values().partition(|r| r.units > 0);
        for chunk in dropped.chunks(LOOKUP_CHUNK) {
            let mut q = Statement::<D>::new("DELETE FROM credit_reservations WHERE ");
            for (i, r) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(" OR ");
                }
                q.push("(session_id = ");
                q.push_bind(r.session_id.as_str());
                q.push(" AND service_key = ");
                q.push_bind(r.service_key.as_str());
                q.push(")");
            }
            let (sql, args) = q.into_parts();
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        }
        for chunk in kept.chunks(RESERVATIONS_PER_INSERT) {
            let sql = format!("INSERT INTO credit_reservations ({COLUMNS}) ");
            let mut q = Statement::<D>::new(&sql);
            q.push_values(chunk, |mut row, r| {
                row.push_bind(r.session_id.as_str())
                    .push_bind(r.service_key.as_str())
                    .push_bind(r.line.get())
                    .push_bind(r.service.as_str())
                    .push_bind(i64::try_from(r.units).unwrap_or(i64::MAX))
                    .push_bind(i64::from(r.request_number))
                    .push_bind(r.final_unit)
                    .push_bind(micros(r.granted_at))
                    .push_bind(micros(r.expires_at));
            });
            q.push(
                " ON CONFLICT (session_id, service_key) DO UPDATE SET
                     line_id = excluded.line_id, service = excluded.service, units = excluded.units,
                     request_number = excluded.request_number, final_unit = excluded.final_unit,
                     granted_at = excluded.granted_at, expires_at = excluded.expires_at",
            );
            let (sql, args) = q.into_parts();
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(decided)
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
