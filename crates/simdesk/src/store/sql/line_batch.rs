//! Many lines' plain changes written together: a few multi-row statements per chunk of lines
//! instead of a few statements per line.

use super::*;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Whether a change can be written with others: history, movements on buckets already stored
/// and side effects only — nothing that creates rows its other parts would point to, and no
/// per-line row of its own (a holder, an add-on, a data stop, an eSIM profile).
pub(super) fn is_plain(change: &LineChange) -> bool {
    change.new_holder.is_none()
        && change.bind.is_none()
        && change.unbind.is_empty()
        && change.data_stop.is_none()
        && change.esim.is_none()
        && change.balance.new_buckets.is_empty()
        && change
            .balance
            .movements
            .iter()
            .all(|m| matches!(m.bucket, BucketRef::Existing(_)))
        && !change.events.is_empty()
}

/// One balance movement as the ledger stores it.
struct Entry<'a> {
    line: LineId,
    bucket: i64,
    movement: &'a simdesk_domain::balance::Movement,
    event: i64,
    at: Timestamp,
}

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
    /// Writes the plain changes (see [`is_plain`]) whose lines are still at the version their
    /// decision was made on, and returns each moved line's first history entry: a line someone
    /// else changed meanwhile is left out, and the caller decides what that means.
    pub(crate) async fn apply_many_in(
        tx: &mut sqlx::Transaction<'_, D>,
        changes: &[&LineChange],
        audit: &mut Vec<AuditEntry>,
    ) -> StoreResult<HashMap<LineId, i64>> {
        let mut moved_to = HashMap::with_capacity(changes.len());
        for chunk in changes.chunks(LINE_CHANGE_CHUNK) {
            let moved = Self::move_lines(tx, chunk).await?;
            let done: Vec<&LineChange> = chunk
                .iter()
                .copied()
                .filter(|c| moved.contains(&c.line.id.get()))
                .collect();
            if done.is_empty() {
                continue;
            }
            let firsts = Self::insert_events(tx, &done, audit).await?;
            let mut entries = Vec::new();
            for c in &done {
                let event = firsts[&c.line.id];
                for m in &c.balance.movements {
                    let BucketRef::Existing(bucket) = m.bucket else {
                        return Err(StoreError::Corrupt(
                            "a plain change names a bucket it creates".into(),
                        ));
                    };
                    entries.push(Entry {
                        line: c.line.id,
                        bucket,
                        movement: m,
                        event,
                        at: c.events[0].by.at,
                    });
                }
            }
            Self::move_buckets(tx, &entries).await?;
            let outbox: Vec<&OutboxMessage> = done.iter().flat_map(|c| c.outbox.iter()).collect();
            Self::insert_outbox_many(tx, &outbox).await?;
            moved_to.extend(firsts);
        }
        Ok(moved_to)
    }

    /// Each line takes its decided fields only if nobody changed it since the decision; the
    /// lines that moved.
    async fn move_lines(
        tx: &mut sqlx::Transaction<'_, D>,
        chunk: &[&LineChange],
    ) -> StoreResult<HashSet<i64>> {
        let mut q = Statement::<D>::new(
            "WITH v (vid, vversion, vstate, vholder, vactivated, vvalidity, vgrace, vbefore, vended) AS (",
        );
        q.push_values(chunk, |mut b, c| {
            let l = &c.line;
            b.push_bind(l.id.get())
                .push_bind(l.version)
                .push_bind(l.state.as_str())
                .push_bind(l.holder.map(|id| id.get()))
                .push_bind(l.activated_at.map(micros))
                .push_bind(l.validity_ends_at.map(micros))
                .push_bind(l.grace_ends_at.map(micros))
                .push_bind(l.state_before_pending.map(|s| s.as_str()))
                .push_bind(l.ended_at.map(micros));
        });
        q.push(
            ") UPDATE lines SET state = vstate, holder_id = vholder, activated_at = vactivated,
             validity_ends_at = vvalidity, grace_ends_at = vgrace, state_before_pending = vbefore,
             ended_at = vended, version = version + 1
             FROM v WHERE id = vid AND version = vversion RETURNING id",
        );
        let (sql, args) = q.into_parts();
        Ok(sqlx::query_scalar_with::<_, i64, _>(&sql, args)
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect())
    }

    /// The changes' history entries, chained onto the audit trail by the caller; each line's
    /// first entry, which its movements hang off.
    async fn insert_events(
        tx: &mut sqlx::Transaction<'_, D>,
        done: &[&LineChange],
        audit: &mut Vec<AuditEntry>,
    ) -> StoreResult<HashMap<LineId, i64>> {
        let events: Vec<(LineId, &NewEvent)> = done
            .iter()
            .flat_map(|c| c.events.iter().map(move |e| (c.line.id, e)))
            .collect();
        let ids = D::next_event_ids(tx, events.len() as i64).await?;
        let mut firsts = HashMap::with_capacity(done.len());
        for ((line, _), id) in events.iter().zip(&ids) {
            firsts.entry(*line).or_insert(*id);
        }
        for part in events
            .iter()
            .zip(&ids)
            .collect::<Vec<_>>()
            .chunks(LINE_CHANGE_CHUNK)
        {
            let mut q = Statement::<D>::new(
                "INSERT INTO line_events (id, line_id, kind, from_state, to_state, detail, actor_kind, actor_id, channel, reason, at, policy_version) ",
            );
            q.push_values(part, |mut b, ((line_id, e), id)| {
                b.push_bind(**id)
                    .push_bind(line_id.get())
                    .push_bind(&e.kind)
                    .push_bind(e.from.map(|s| s.as_str()))
                    .push_bind(e.to.map(|s| s.as_str()))
                    .push_bind(&e.detail)
                    .push_bind(e.by.actor.kind.as_str())
                    .push_bind(&e.by.actor.id)
                    .push_bind(e.by.channel.as_str())
                    .push_bind(&e.by.reason)
                    .push_bind(micros(e.by.at))
                    .push_bind(e.policy_version);
            });
            let (sql, args) = q.into_parts();
            sqlx::query_with(&sql, args).execute(&mut **tx).await?;
        }
        audit.extend(
            events
                .iter()
                .zip(&ids)
                .map(|((line, e), id)| ("line_event", *id, new_event_content(*id, *line, e))),
        );
        Ok(firsts)
    }

    /// Moves the buckets by the sum of their movements in one statement and writes one ledger
    /// entry per movement in another.
    async fn move_buckets(
        tx: &mut sqlx::Transaction<'_, D>,
        entries: &[Entry<'_>],
    ) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut by_bucket: BTreeMap<i64, (LineId, i64)> = BTreeMap::new();
        for e in entries {
            by_bucket.entry(e.bucket).or_insert((e.line, 0)).1 += e.movement.amount;
        }
        let buckets: Vec<(i64, LineId, i64)> = by_bucket
            .into_iter()
            .map(|(bucket, (line, amount))| (bucket, line, amount))
            .collect();
        for part in buckets.chunks(LINE_CHANGE_CHUNK) {
            let mut q = Statement::<D>::new("WITH v (vbucket, vline, vamount) AS (");
            q.push_values(part, |mut b, (bucket, line, amount)| {
                b.push_bind(*bucket)
                    .push_bind(line.get())
                    .push_bind(*amount);
            });
            q.push(
                ") UPDATE balance_buckets SET remaining = remaining + vamount
                 FROM v WHERE id = vbucket AND line_id = vline",
            );
            let (sql, args) = q.into_parts();
            // The CHECK (remaining >= 0) turns a concurrent overdraw into a conflict rather than
            // a negative balance.
            let updated = sqlx::query_with(&sql, args)
                .execute(&mut **tx)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_check_violation() => StoreError::Conflict,
                    _ => StoreError::Database(e),
                })?;
            if updated.rows_affected() != part.len() as u64 {
                return Err(StoreError::NotFound(
                    "a balance bucket of these lines".into(),
                ));
            }
        }
        for part in entries.chunks(LINE_CHANGE_CHUNK) {
            let mut q = Statement::<D>::new(
                "INSERT INTO balance_entries (line_id, bucket_id, kind, amount, note, event_id, at) ",
            );
            q.push_values(part, |mut b, e| {
                b.push_bind(e.line.get())
                    .push_bind(e.bucket)
                    .push_bind(e.movement.kind.as_str())
                    .push_bind(e.movement.amount)
                    .push_bind(&e.movement.note)
                    .push_bind(e.event)
                    .push_bind(micros(e.at));
            });
            let (sql, args) = q.into_parts();
            sqlx::query_with(&sql, args).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Side effects queued by many changes; one already queued under its key stays as it is.
    async fn insert_outbox_many(
        tx: &mut sqlx::Transaction<'_, D>,
        outbox: &[&OutboxMessage],
    ) -> StoreResult<()> {
        for part in outbox.chunks(LINE_CHANGE_CHUNK) {
            let mut q = Statement::<D>::new(
                "INSERT INTO outbox (kind, idempotency_key, payload, next_attempt_at, created_at, subject) ",
            );
            q.push_values(part, |mut b, m| {
                b.push_bind(&m.kind)
                    .push_bind(&m.idempotency_key)
                    .push_bind(m.payload.to_string())
                    .push_bind(micros(m.available_at))
                    .push_bind(micros(m.available_at))
                    .push_bind(outbox_subject(m));
            });
            q.push(" ON CONFLICT (idempotency_key) DO NOTHING");
            let (sql, args) = q.into_parts();
            sqlx::query_with(&sql, args).execute(&mut **tx).await?;
        }
        Ok(())
    }
}
