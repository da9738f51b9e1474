//! The store counters' numbered tickets.

use super::*;

#[async_trait]
impl<D> Queue for SqlStore<D>
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
    async fn take_ticket(
        &self,
        carrier: &CarrierCode,
        day: &str,
        at: Timestamp,
    ) -> StoreResult<TicketRow> {
        // Retried on the rare collision of two kiosks taking a number at the same instant.
        for _ in 0..5 {
            let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(number), 0) + 1 FROM queue_tickets WHERE carrier_code = $1 AND day = $2")
                .bind(carrier.as_str())
                .bind(day)
                .fetch_one(&self.pool)
                .await?;
            let inserted = sqlx::query_scalar::<_, i64>(
                "INSERT INTO queue_tickets (carrier_code, day, number, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (carrier_code, day, number) DO NOTHING RETURNING id",
            )
            .bind(carrier.as_str())
            .bind(day)
            .bind(next)
            .bind(micros(at))
            .fetch_optional(&self.pool)
            .await?;
            if let Some(id) = inserted {
                return Ok(TicketRow {
                    id,
                    number: next,
                    state: "waiting".into(),
                    counter: None,
                    called_at: None,
                });
            }
        }
        Err(StoreError::Conflict)
    }

    async fn call_next_ticket(
        &self,
        carrier: &CarrierCode,
        day: &str,
        counter: &str,
        by: &str,
        at: Timestamp,
    ) -> StoreResult<Option<TicketRow>> {
        for _ in 0..5 {
            let next: Option<(i64, i64)> = sqlx::query_as(
                "SELECT id, number FROM queue_tickets WHERE carrier_code = $1 AND day = $2 AND state = 'waiting' ORDER BY number LIMIT 1",
            )
            .bind(carrier.as_str())
            .bind(day)
            .fetch_optional(&self.pool)
            .await?;
            let Some((id, number)) = next else {
                return Ok(None);
            };
            // Two clerks pressing at once: only one gets each ticket.
            let done = sqlx::query("UPDATE queue_tickets SET state = 'called', counter = $1, called_by = $2, called_at = $3 WHERE id = $4 AND state = 'waiting'")
                .bind(counter)
                .bind(by)
                .bind(micros(at))
                .bind(id)
                .execute(&self.pool)
                .await?;
            if done.rows_affected() == 1 {
                return Ok(Some(TicketRow {
                    id,
                    number,
                    state: "called".into(),
                    counter: Some(counter.into()),
                    called_at: Some(at),
                }));
            }
        }
        Err(StoreError::Conflict)
    }

    async fn finish_ticket(&self, id: i64, at: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE queue_tickets SET state = 'done', done_at = $1 WHERE id = $2")
            .bind(micros(at))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn queue_board(
        &self,
        carrier: &CarrierCode,
        day: &str,
    ) -> StoreResult<(Vec<TicketRow>, i64)> {
        let rows = sqlx::query(
            "SELECT id, number, state, counter, called_at FROM queue_tickets WHERE carrier_code = $1 AND day = $2 AND state = 'called'
             ORDER BY called_at DESC LIMIT 8",
        )
        .bind(carrier.as_str())
        .bind(day)
        .fetch_all(&self.pool)
        .await?;
        let called = rows
            .iter()
            .map(Self::ticket_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM queue_tickets WHERE carrier_code = $1 AND day = $2 AND state = 'waiting'")
            .bind(carrier.as_str())
            .bind(day)
            .fetch_one(&self.pool)
            .await?;
        Ok((called, waiting))
    }
}
