//! Lines and their stock: import, reads, balances, add-ons and every decision about a line.

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
    pub(crate) async fn apply_balance(
        tx: &mut sqlx::Transaction<'_, D>,
        line_id: LineId,
        event_id: i64,
        at: Timestamp,
        change: &BalanceChange,
    ) -> StoreResult<()> {
        let mut created = Vec::with_capacity(change.new_buckets.len());
        for b in &change.new_buckets {
            // A new bucket starts empty; its grant movement fills it, so the entries explain every unit.
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO balance_buckets (line_id, unit, initial_amount, remaining, expires_at, source, created_at)
                 VALUES ($1, $2, $3, 0, $4, $5, $6) RETURNING id",
            )
            .bind(line_id.get())
            .bind(b.unit.as_str())
            .bind(b.amount)
            .bind(b.expires_at.map(micros))
            .bind(&b.source)
            .bind(micros(at))
            .fetch_one(&mut **tx)
            .await?;
            created.push(id);
        }
        for m in &change.movements {
            let bucket_id = match m.bucket {
                BucketRef::Existing(id) => id,
                BucketRef::New(i) => *created.get(i).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "movement names new bucket {i} that was not created"
                    ))
                })?,
            };
            // The CHECK (remaining >= 0) turns a concurrent overdraw into an error rather than a negative balance.
            let updated = sqlx::query(
                "UPDATE balance_buckets SET remaining = remaining + $1 WHERE id = $2 AND line_id = $3",
            )
            .bind(m.amount)
            .bind(bucket_id)
            .bind(line_id.get())
            .execute(&mut **tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_check_violation() => StoreError::Conflict,
                _ => StoreError::Database(e),
            })?;
            if updated.rows_affected() != 1 {
                return Err(StoreError::NotFound(format!("balance bucket {bucket_id}")));
            }
            sqlx::query(
                "INSERT INTO balance_entries (line_id, bucket_id, kind, amount, note, event_id, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(line_id.get())
            .bind(bucket_id)
            .bind(m.kind.as_str())
            .bind(m.amount)
            .bind(&m.note)
            .bind(event_id)
            .bind(micros(at))
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    pub(crate) async fn apply_line_in(
        tx: &mut sqlx::Transaction<'_, D>,
        vault: &crate::vault::Vault,
        change: &LineChange,
        audit: &mut Vec<AuditEntry>,
    ) -> StoreResult<i64> {
        let line = &change.line;
        let mut holder = line.holder;
        if let Some(reg) = &change.new_holder {
            let at = change
                .events
                .first()
                .map(|e| e.by.at)
                .unwrap_or_else(Timestamp::now);
            // The row comes first: its id is bound into the sealed data, so a sealed value
            // cannot be moved onto another customer.
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO customers (language, legacy_personal_data, created_at) VALUES ($1, '', $2) RETURNING id",
            )
            .bind(reg.language.tag())
            .bind(micros(at))
            .fetch_one(&mut **tx)
            .await?;
            Self::store_person(tx, vault, id, &reg.personal, at).await?;
            holder = Some(CustomerId::new(id));
        }
        // Optimistic concurrency: the decision was made on `version`; anyone else's change wins.
        let updated = sqlx::query(
            "UPDATE lines SET state = $1, holder_id = $2, activated_at = $3, validity_ends_at = $4, grace_ends_at = $5,
             state_before_pending = $6, ended_at = $7, version = version + 1
             WHERE id = $8 AND version = $9",
        )
        .bind(line.state.as_str())
        .bind(holder.map(|id| id.get()))
        .bind(line.activated_at.map(micros))
        .bind(line.validity_ends_at.map(micros))
        .bind(line.grace_ends_at.map(micros))
        .bind(line.state_before_pending.map(|s| s.as_str()))
        .bind(line.ended_at.map(micros))
        .bind(line.id.get())
        .bind(line.version)
        .execute(&mut **tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Conflict);
        }
        let mut first_event = None;
        for e in &change.events {
            let id = Self::insert_event(tx, line.id, e, audit).await?;
            first_event.get_or_insert((id, e.by.at));
        }
        let (event_id, at) = first_event
            .ok_or_else(|| StoreError::Corrupt("a change without a history entry".into()))?;
        Self::apply_balance(tx, line.id, event_id, at, &change.balance).await?;
        if let Some(bind) = &change.bind {
            sqlx::query(
                "INSERT INTO line_addons (line_id, addon_code, charge_minor, currency, bound_at, bound_event_id)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(line.id.get())
            .bind(&bind.code)
            .bind(bind.charge.minor())
            .bind(bind.charge.currency().code())
            .bind(micros(at))
            .bind(event_id)
            .execute(&mut **tx)
            .await
            .map_err(|e| duplicate_or(e, &format!("add-on {} on this line", bind.code)))?;
        }
        if let Some(stop) = change.data_stop {
            let stopped = match stop {
                DataStopChange::Stopped(how) => Some(super::usage::data_stop_name(how)),
                DataStopChange::Lifted => None,
            };
            sqlx::query(
                "INSERT INTO line_usage (line_id, carry_bytes, counted_until, data_stopped) VALUES ($1, 0, 0, $2)
                 ON CONFLICT (line_id) DO UPDATE SET data_stopped = excluded.data_stopped",
            )
            .bind(line.id.get())
            .bind(stopped)
            .execute(&mut **tx)
            .await?;
        }
        if let Some(profile) = &change.esim {
            Self::write_profile_in(tx, vault, line.id, profile, at).await?;
        }
        for m in &change.outbox {
            let mut m = m.clone();
            if m.payload.get("customer").and_then(|c| c.as_i64()) == Some(0) {
                if let (Some(h), Some(obj)) = (holder, m.payload.as_object_mut()) {
                    obj.insert("customer".into(), h.get().into());
                }
            }
            Self::insert_outbox(tx, &m).await?;
        }
        for binding in change.unbind.iter().copied() {
            let done = sqlx::query(
                "UPDATE line_addons SET unbound_at = $1, unbound_event_id = $2 WHERE id = $3 AND line_id = $4 AND unbound_at IS NULL",
            )
            .bind(micros(at))
            .bind(event_id)
            .bind(binding)
            .bind(line.id.get())
            .execute(&mut **tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Conflict);
            }
        }
        Ok(event_id)
    }
}

#[async_trait]
impl<D> Lines for SqlStore<D>
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
    async fn existing_identifiers(
        &self,
        iccids: &[&str],
        imsis: &[&str],
        msisdns: &[&str],
    ) -> StoreResult<Vec<String>> {
        let mut found = Vec::new();
        for (column, values) in [("iccid", iccids), ("imsi", imsis), ("msisdn", msisdns)] {
            for chunk in values.chunks(LOOKUP_CHUNK) {
                let mut q =
                    Statement::<D>::new(format!("SELECT {column} FROM lines WHERE {column} IN ("));
                let mut sep = q.separated(", ");
                for v in chunk {
                    sep.push_bind(v);
                }
                q.push(")");
                let (sql, args) = q.into_parts();
                let rows: Vec<(String,)> = sqlx::query_as_with(&sql, args)
                    .fetch_all(&self.pool)
                    .await?;
                found.extend(rows.into_iter().map(|(v,)| v));
            }
        }
        Ok(found)
    }

    async fn insert_lines(
        &self,
        batch: &ImportBatch,
        lines: &[NewLine],
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> StoreResult<u64> {
        let now = batch.by.at;
        let mut tx = self.pool.begin().await?;
        let batch_id: i64 = sqlx::query_scalar(
            "INSERT INTO import_batches (carrier_code, source_name, line_count, skipped_rows, actor_kind, actor_id, channel, reason, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(batch.carrier.as_str())
        .bind(&batch.source_name)
        .bind(lines.len() as i64)
        .bind(batch.skipped_rows as i64)
        .bind(batch.by.actor.kind.as_str())
        .bind(&batch.by.actor.id)
        .bind(batch.by.channel.as_str())
        .bind(&batch.by.reason)
        .bind(micros(now))
        .fetch_one(&mut *tx)
        .await?;
        let mut done = 0u64;
        for chunk in lines.chunks(INSERT_CHUNK) {
            let mut q = Statement::<D>::new(
                "INSERT INTO lines (iccid, imsi, msisdn, carrier_code, plan_code, kind, eid, activation_code, state, version, import_batch_id, created_at) ",
            );
            q.push_values(chunk, |mut b, l| {
                b.push_bind(&l.iccid)
                    .push_bind(&l.imsi)
                    .push_bind(&l.msisdn)
                    .push_bind(l.carrier.as_str())
                    .push_bind(&l.plan)
                    .push_bind(&l.kind)
                    .push_bind(&l.eid)
                    .push_bind(&l.activation_code)
                    .push_bind(LineState::InStock.as_str())
                    .push_bind(0i64)
                    .push_bind(batch_id)
                    .push_bind(micros(now));
            });
            let (sql, args) = q.into_parts();
            sqlx::query_with(&sql, args)
                .execute(&mut *tx)
                .await
                .map_err(|e| duplicate_or(e, "a line with one of these identifiers"))?;
            done += chunk.len() as u64;
            progress(done);
        }
        if lines.iter().any(|l| l.activation_code.is_some()) {
            Self::seal_plain_codes_in(&mut tx, &self.vault, now).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn line(&self, key: &LineKey) -> StoreResult<Option<Line>> {
        let query = match key {
            LineKey::Id(id) => sqlx::query("SELECT * FROM lines WHERE id = $1").bind(id.get()),
            LineKey::Iccid(i) => {
                sqlx::query("SELECT * FROM lines WHERE iccid = $1").bind(i.as_str().to_string())
            }
            LineKey::Msisdn(m) => {
                sqlx::query("SELECT * FROM lines WHERE msisdn = $1").bind(m.as_str().to_string())
            }
            LineKey::Imsi(i) => {
                sqlx::query("SELECT * FROM lines WHERE imsi = $1").bind(i.as_str().to_string())
            }
        };
        let row = query.fetch_optional(&self.pool).await?;
        row.as_ref().map(Self::line_from_row).transpose()
    }

    async fn lines_by_keys(&self, keys: &[LineKey]) -> StoreResult<Vec<Line>> {
        let mut ids = Vec::new();
        let mut by_text: [(&str, Vec<&str>); 3] = [
            ("iccid", Vec::new()),
            ("imsi", Vec::new()),
            ("msisdn", Vec::new()),
        ];
        for key in keys {
            match key {
                LineKey::Id(id) => ids.push(id.get()),
                LineKey::Iccid(i) => by_text[0].1.push(i.as_str()),
                LineKey::Imsi(i) => by_text[1].1.push(i.as_str()),
                LineKey::Msisdn(m) => by_text[2].1.push(m.as_str()),
            }
        }
        let mut seen = std::collections::HashSet::new();
        let mut lines = Vec::new();
        let mut keep = |rows: Vec<D::Row>| -> StoreResult<()> {
            for row in rows {
                let line = Self::line_from_row(&row)?;
                // A line named twice (by number and by ICCID) is still one line.
                if seen.insert(line.id) {
                    lines.push(line);
                }
            }
            Ok(())
        };
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let mut q = Statement::<D>::new("SELECT * FROM lines WHERE id IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            q.push(")");
            let (sql, args) = q.into_parts();
            keep(sqlx::query_with(&sql, args).fetch_all(&self.pool).await?)?;
        }
        for (column, values) in &by_text {
            for chunk in values.chunks(LOOKUP_CHUNK) {
                let mut q = Statement::<D>::new(format!("SELECT * FROM lines WHERE {column} IN ("));
                let mut list = q.separated(", ");
                for v in chunk {
                    list.push_bind(*v);
                }
                q.push(")");
                let (sql, args) = q.into_parts();
                keep(sqlx::query_with(&sql, args).fetch_all(&self.pool).await?)?;
            }
        }
        Ok(lines)
    }

    async fn import_batch_of(&self, line_id: LineId) -> StoreResult<Option<ImportBatchRow>> {
        let row = sqlx::query(
            "SELECT b.* FROM import_batches b JOIN lines l ON l.import_batch_id = b.id WHERE l.id = $1",
        )
        .bind(line_id.get())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::import_batch_from_row).transpose()
    }

    async fn buckets(&self, line_id: LineId) -> StoreResult<Vec<Bucket>> {
        let rows = sqlx::query(
            "SELECT id, unit, initial_amount, remaining, expires_at, source FROM balance_buckets WHERE line_id = $1 ORDER BY id",
        )
        .bind(line_id.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::bucket_from_row).collect()
    }

    async fn addons(&self, line_id: LineId) -> StoreResult<Vec<AddonBinding>> {
        let rows = sqlx::query(
            "SELECT id, addon_code, charge_minor, currency, bound_at, unbound_at FROM line_addons WHERE line_id = $1 ORDER BY id",
        )
        .bind(line_id.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::addon_from_row).collect()
    }

    async fn events(&self, line_id: LineId) -> StoreResult<Vec<EventRow>> {
        let rows = sqlx::query("SELECT * FROM line_events WHERE line_id = $1 ORDER BY id")
            .bind(line_id.get())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::event_from_row).collect()
    }

    async fn balance_entries(&self, line_id: LineId) -> StoreResult<Vec<EntryRow>> {
        let rows = sqlx::query(
            "SELECT e.id, e.bucket_id, b.unit, e.kind, e.amount, e.note, e.at FROM balance_entries e
             JOIN balance_buckets b ON b.id = e.bucket_id WHERE e.line_id = $1 ORDER BY e.id",
        )
        .bind(line_id.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::entry_from_row).collect()
    }

    async fn count_lines_by_state(&self) -> StoreResult<Vec<(String, String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT carrier_code, state, COUNT(*) FROM lines GROUP BY carrier_code, state ORDER BY carrier_code, state",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn apply(&self, change: &LineChange) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let mut audit = Vec::new();
        Self::apply_line_in(&mut tx, &self.vault, change, &mut audit).await?;
        Self::append_audit_many(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn apply_lines(&self, changes: &[LineChange]) -> StoreResult<Vec<LineId>> {
        if let Some(c) = changes.iter().find(|c| !super::line_batch::is_plain(c)) {
            return Err(StoreError::Refused(format!(
                "line {} carries more than a plain change; apply it on its own",
                c.line.id
            )));
        }
        let mut tx = self.pool.begin().await?;
        let mut audit = Vec::new();
        let all: Vec<&LineChange> = changes.iter().collect();
        let moved = Self::apply_many_in(&mut tx, &all, &mut audit).await?;
        Self::append_audit_many(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(changes
            .iter()
            .map(|c| c.line.id)
            .filter(|id| moved.contains_key(id))
            .collect())
    }

    async fn lines_page(
        &self,
        carrier: &CarrierCode,
        state: Option<&str>,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<Line>> {
        let rows = sqlx::query(
            "SELECT * FROM lines WHERE carrier_code = $1 AND ($2 IS NULL OR state = $2) AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(carrier.as_str())
        .bind(state)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::line_from_row).collect()
    }

    async fn lines_ending_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<Line>> {
        let rows = sqlx::query(
            "SELECT * FROM lines WHERE state = 'active' AND validity_ends_at > $1 AND validity_ends_at <= $2 AND id > $3
               AND NOT EXISTS (SELECT 1 FROM outbox WHERE idempotency_key =
                   'notify:validity_reminder:' || CAST(lines.validity_ends_at AS TEXT) || ':' || CAST(lines.id AS TEXT))
             ORDER BY id LIMIT $4",
        )
        .bind(micros(from))
        .bind(micros(to))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::line_from_row).collect()
    }

    async fn lines_due(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<Line>> {
        // Two index range scans, not one scan of every line: at midnight a few thousand
        // of millions are due, and this runs every pass of the due work.
        let rows = sqlx::query(
            "SELECT * FROM (SELECT * FROM lines WHERE state = 'active' AND validity_ends_at <= $1
                            ORDER BY validity_ends_at LIMIT $2) AS ending
             UNION ALL
             SELECT * FROM (SELECT * FROM lines WHERE state = 'expired' AND grace_ends_at <= $1
                            ORDER BY grace_ends_at LIMIT $2) AS closing",
        )
        .bind(micros(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::line_from_row).collect()
    }

    async fn lines_by_holder_name(
        &self,
        carrier: &CarrierCode,
        name: &str,
        limit: i64,
    ) -> StoreResult<Vec<Line>> {
        // Names are sealed: every word searched for must match a word of the holder's
        // name exactly (by blind index); a passport number matches on its own.
        let mut words = self.vault.name_terms(name);
        words.sort();
        words.dedup();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Statement::<D>::new("SELECT l.* FROM lines l WHERE l.carrier_code = ");
        q.push_bind(carrier.as_str());
        q.push(" AND (l.holder_id IN (SELECT customer_id FROM customer_index WHERE field = 'name' AND value IN (");
        let mut list = q.separated(", ");
        for w in &words {
            list.push_bind(w.clone());
        }
        q.push(") GROUP BY customer_id HAVING COUNT(*) = ");
        q.push_bind(words.len() as i64);
        q.push(") OR l.holder_id IN (SELECT customer_id FROM customer_index WHERE field = 'passport' AND value = ");
        q.push_bind(self.vault.passport_term(name));
        q.push(")) ORDER BY l.id LIMIT ");
        q.push_bind(limit);
        let (sql, args) = q.into_parts();
        let rows = sqlx::query_with(&sql, args).fetch_all(&self.pool).await?;
        rows.iter().map(Self::line_from_row).collect()
    }

    async fn lines_of_customer(&self, customer: CustomerId) -> StoreResult<Vec<Line>> {
        let rows = sqlx::query("SELECT * FROM lines WHERE holder_id = $1 ORDER BY id")
            .bind(customer.get())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::line_from_row).collect()
    }
}
