//! Chaining history entries onto the audit trail inside the transaction that writes them.

use super::*;

/// A history entry waiting to be chained onto the audit trail at the end of its transaction:
/// (source table, its id, the content hashed).
pub(crate) type AuditEntry = (&'static str, i64, String);

/// The audit content of a line history entry as it is written (the same fields the audit
/// verifier reads back from the stored row).
pub(crate) fn new_event_content(id: i64, line_id: LineId, e: &NewEvent) -> String {
    crate::audit::line_event_content(&crate::audit::LineEventFields {
        id,
        line_id: line_id.get(),
        kind: &e.kind,
        from: e.from.map(|s| s.as_str()),
        to: e.to.map(|s| s.as_str()),
        detail: &e.detail,
        actor_kind: e.by.actor.kind.as_str(),
        actor_id: &e.by.actor.id,
        channel: e.by.channel.as_str(),
        reason: &e.by.reason,
        at: micros(e.by.at),
        policy_version: e.policy_version,
    })
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
    pub(crate) async fn insert_event(
        tx: &mut sqlx::Transaction<'_, D>,
        line_id: LineId,
        e: &NewEvent,
        audit: &mut Vec<AuditEntry>,
    ) -> StoreResult<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO line_events (line_id, kind, from_state, to_state, detail, actor_kind, actor_id, channel, reason, at, policy_version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(line_id.get())
        .bind(&e.kind)
        .bind(e.from.map(|s| s.as_str()))
        .bind(e.to.map(|s| s.as_str()))
        .bind(&e.detail)
        .bind(e.by.actor.kind.as_str())
        .bind(&e.by.actor.id)
        .bind(e.by.channel.as_str())
        .bind(&e.by.reason)
        .bind(micros(e.by.at))
        .bind(e.policy_version)
        .fetch_one(&mut **tx)
        .await?;
        audit.push(("line_event", id, new_event_content(id, line_id, e)));
        Ok(id)
    }

    /// Chains many history entries, in order, onto the audit trail in one step.
    pub(crate) async fn append_audit_many(
        tx: &mut sqlx::Transaction<'_, D>,
        entries: &[AuditEntry],
    ) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let (last, mut prev): (i64, String) =
            sqlx::query_as("UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash")
                .bind(entries.len() as i64)
                .fetch_one(&mut **tx)
                .await?;
        let first = last - entries.len() as i64 + 1;
        let mut rows = Vec::with_capacity(entries.len());
        for (i, (source, source_id, content)) in entries.iter().enumerate() {
            let seq = first + i as i64;
            let hash = crate::audit::chain_hash(&prev, seq, content);
            rows.push((
                seq,
                *source,
                *source_id,
                content,
                std::mem::replace(&mut prev, hash.clone()),
                hash,
            ));
        }
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(&prev)
            .execute(&mut **tx)
            .await?;
        for part in rows.chunks(LINE_CHANGE_CHUNK) {
            let mut q = Statement::<D>::new(
                "INSERT INTO audit_log (seq, source, source_id, content, prev_hash, hash) ",
            );
            q.push_values(
                part,
                |mut b, (seq, source, source_id, content, prev, hash)| {
                    b.push_bind(*seq)
                        .push_bind(*source)
                        .push_bind(*source_id)
                        .push_bind(content.as_str())
                        .push_bind(prev.as_str())
                        .push_bind(hash.as_str());
                },
            );
            let (sql, args) = q.into_parts();
            sqlx::query_with(&sql, args).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Chains one history entry onto the audit trail in the caller's transaction. The
    /// head row is updated first, which locks it: appends are chained one at a time.
    pub(crate) async fn append_audit(
        tx: &mut sqlx::Transaction<'_, D>,
        source: &str,
        source_id: i64,
        content: &str,
    ) -> StoreResult<()> {
        let (seq, prev): (i64, String) =
            sqlx::query_as("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
                .fetch_one(&mut **tx)
                .await?;
        let hash = crate::audit::chain_hash(&prev, seq, content);
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(&hash)
            .execute(&mut **tx)
            .await?;
        sqlx::query("INSERT INTO audit_log (seq, source, source_id, content, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(seq)
            .bind(source)
            .bind(source_id)
            .bind(content)
            .bind(&prev)
            .bind(&hash)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
