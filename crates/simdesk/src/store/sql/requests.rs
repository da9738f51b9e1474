//! Cancellation requests: one decision per transaction, history, due work and documents.

use super::*;

#[async_trait]
impl<D> Requests for SqlStore<D>
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
    async fn apply_request(&self, change: &RequestChange) -> StoreResult<AppliedRequest> {
        let mut tx = self.pool.begin().await?;
        let r = &change.request;
        let required = checks_text(&r.required);
        let passed = checks_text(&r.passed);
        let refund_detail = change
            .refund
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(corrupt("refund"))?;
        let mut audit = Vec::new();
        let id = if r.id.get() == 0 {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO cancellation_requests (line_id, carrier_code, channel, actor_kind, actor_id, reason, submitted_at, state,
                    required_checks, passed_checks, effective_date, effective_at, reject_reason, policy_version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
            )
            .bind(r.line_id.get())
            .bind(change.carrier.as_str())
            .bind(r.channel.as_str())
            .bind(r.submitted.actor.kind.as_str())
            .bind(&r.submitted.actor.id)
            .bind(&r.submitted.reason)
            .bind(micros(r.submitted.at))
            .bind(r.state.as_str())
            .bind(&required)
            .bind(&passed)
            .bind(r.effective_date.map(|d| d.to_string()))
            .bind(r.effective_at.map(micros))
            .bind(&r.reject_reason)
            .bind(r.policy_version)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| duplicate_or(e, "an open cancellation request for this line"))?
        } else {
            let done = sqlx::query(
                "UPDATE cancellation_requests SET state = $1, passed_checks = $2, effective_date = $3, effective_at = $4,
                    reject_reason = $5, refund_total = COALESCE($6, refund_total), refund_currency = COALESCE($7, refund_currency),
                    refund_detail = COALESCE($8, refund_detail), completed_at = COALESCE($9, completed_at), version = version + 1
                 WHERE id = $10 AND version = $11",
            )
            .bind(r.state.as_str())
            .bind(&passed)
            .bind(r.effective_date.map(|d| d.to_string()))
            .bind(r.effective_at.map(micros))
            .bind(&r.reject_reason)
            .bind(change.refund.as_ref().map(|f| f.total.minor()))
            .bind(change.refund.as_ref().map(|f| f.total.currency().code()))
            .bind(&refund_detail)
            .bind((r.state == simdesk_domain::cancellation::RequestState::Completed).then(|| change.events.last().map(|e| micros(e.by.at))).flatten())
            .bind(r.id.get())
            .bind(r.version)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Conflict);
            }
            r.id.get()
        };
        for e in &change.events {
            let event_id: i64 = sqlx::query_scalar(
                "INSERT INTO request_events (request_id, from_state, to_state, note, actor_kind, actor_id, channel, reason, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(id)
            .bind(e.from.map(|s| s.as_str()))
            .bind(e.to.as_str())
            .bind(&e.note)
            .bind(e.by.actor.kind.as_str())
            .bind(&e.by.actor.id)
            .bind(e.by.channel.as_str())
            .bind(&e.by.reason)
            .bind(micros(e.by.at))
            .fetch_one(&mut *tx)
            .await?;
            let content = crate::audit::request_event_content(&crate::audit::RequestEventFields {
                id: event_id,
                request_id: id,
                from: e.from.map(|s| s.as_str()),
                to: e.to.as_str(),
                note: &e.note,
                actor_kind: e.by.actor.kind.as_str(),
                actor_id: &e.by.actor.id,
                channel: e.by.channel.as_str(),
                reason: &e.by.reason,
                at: micros(e.by.at),
            });
            audit.push(("request_event", event_id, content));
        }
        if let Some(line) = &change.line {
            Self::apply_line_in(&mut tx, &self.vault, line, &mut audit).await?;
        }
        if let Some(code) = change.consume_code {
            let at = change
                .events
                .first()
                .map(|e| e.by.at)
                .unwrap_or_else(Timestamp::now);
            let used = sqlx::query("UPDATE one_time_codes SET used_at = $1, request_id = COALESCE(request_id, $2) WHERE id = $3 AND used_at IS NULL")
                .bind(micros(at))
                .bind(id)
                .bind(code)
                .execute(&mut *tx)
                .await?;
            if used.rows_affected() != 1 {
                return Err(StoreError::Conflict);
            }
        }
        if let Some(review) = &change.document_review {
            let done = sqlx::query(
                "UPDATE identity_documents SET review = $1, review_reason = $2, reviewed_by = $3, reviewed_at = $4
                 WHERE id = $5 AND request_id = $6 AND review = 'pending'",
            )
            .bind(if review.approved { "approved" } else { "rejected" })
            .bind(&review.reason)
            .bind(review.by.actor.to_string())
            .bind(micros(review.by.at))
            .bind(review.document_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Conflict);
            }
        }
        if let Some(w) = &change.wallet {
            Self::insert_movement(&mut tx, w, Some(id)).await?;
        }
        let receipt_number = match &change.receipt {
            Some(issue) => {
                let at = change
                    .events
                    .last()
                    .map(|e| e.by.at)
                    .unwrap_or_else(Timestamp::now);
                Some(Self::issue_receipt(&mut tx, issue, id, at).await?)
            }
            None => None,
        };
        for m in &change.outbox {
            Self::insert_outbox(&mut tx, m).await?;
        }
        Self::append_audit_many(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(AppliedRequest {
            id: RequestId::new(id),
            receipt_number,
        })
    }

    async fn request(&self, id: RequestId) -> StoreResult<Option<RequestRecord>> {
        let row = sqlx::query("SELECT * FROM cancellation_requests WHERE id = $1")
            .bind(id.get())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::request_from_row).transpose()
    }

    async fn open_request_for_line(&self, line_id: LineId) -> StoreResult<Option<RequestRecord>> {
        let row = sqlx::query(
            "SELECT * FROM cancellation_requests WHERE line_id = $1 AND state IN ('submitted', 'identity_verified', 'approved')",
        )
        .bind(line_id.get())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::request_from_row).transpose()
    }

    async fn requests_for_line(&self, line_id: LineId) -> StoreResult<Vec<RequestRecord>> {
        let rows =
            sqlx::query("SELECT * FROM cancellation_requests WHERE line_id = $1 ORDER BY id")
                .bind(line_id.get())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(Self::request_from_row).collect()
    }

    async fn request_events(&self, id: RequestId) -> StoreResult<Vec<RequestEventRow>> {
        let rows = sqlx::query("SELECT * FROM request_events WHERE request_id = $1 ORDER BY id")
            .bind(id.get())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::request_event_from_row).collect()
    }

    async fn requests_due(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<RequestRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM cancellation_requests WHERE state = 'approved' AND effective_at <= $1 ORDER BY effective_at, id LIMIT $2",
        )
        .bind(micros(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::request_from_row).collect()
    }

    async fn claim_due_requests(
        &self,
        due: Timestamp,
        wall: Timestamp,
        lease_until: Timestamp,
        node: &str,
        limit: i64,
    ) -> StoreResult<Vec<RequestRecord>> {
        // One statement, so a batch is claimed atomically. PostgreSQL skips rows another
        // node is claiming or completing right now; SQLite has one writer at a time.
        let lock = D::SKIP_LOCKED;
        let rows = sqlx::query(&format!(
            "UPDATE cancellation_requests SET claimed_until = $1, claimed_by = $2
             WHERE id IN (SELECT id FROM cancellation_requests
                          WHERE state = 'approved' AND effective_at <= $3 AND (claimed_until IS NULL OR claimed_until <= $4)
                          ORDER BY effective_at, id LIMIT $5{lock})
             RETURNING *"
        ))
        .bind(micros(lease_until))
        .bind(node)
        .bind(micros(due))
        .bind(micros(wall))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = rows
            .iter()
            .map(Self::request_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        claimed.sort_by_key(|r| (r.request.effective_at, r.request.id));
        Ok(claimed)
    }

    async fn release_request_claims(&self, ids: &[RequestId], node: &str) -> StoreResult<()> {
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let mut q = Statement::<D>::new("UPDATE cancellation_requests SET claimed_until = NULL, claimed_by = NULL WHERE claimed_by = ");
            q.push_bind(node);
            q.push(" AND id IN (");
            let mut sep = q.separated(", ");
            for id in chunk {
                sep.push_bind(id.get());
            }
            q.push(")");
            let (sql, args) = q.into_parts();
            sqlx::query_with(&sql, args).execute(&self.pool).await?;
        }
        Ok(())
    }

    async fn requests_awaiting_review(
        &self,
        carrier: &CarrierCode,
    ) -> StoreResult<Vec<RequestRecord>> {
        let rows = sqlx::query(
            "SELECT r.* FROM cancellation_requests r WHERE r.carrier_code = $1 AND r.state = 'submitted'
             AND EXISTS (SELECT 1 FROM identity_documents d WHERE d.request_id = r.id AND d.review = 'pending') ORDER BY r.id",
        )
        .bind(carrier.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::request_from_row).collect()
    }

    async fn record_request_note(
        &self,
        request_id: RequestId,
        state: &str,
        note: &str,
        by: &simdesk_domain::attribution::Attribution,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let event_id: i64 = sqlx::query_scalar(
            "INSERT INTO request_events (request_id, from_state, to_state, note, actor_kind, actor_id, channel, reason, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(request_id.get())
        .bind(state)
        .bind(state)
        .bind(note)
        .bind(by.actor.kind.as_str())
        .bind(&by.actor.id)
        .bind(by.channel.as_str())
        .bind(&by.reason)
        .bind(micros(by.at))
        .fetch_one(&mut *tx)
        .await?;
        let content = crate::audit::request_event_content(&crate::audit::RequestEventFields {
            id: event_id,
            request_id: request_id.get(),
            from: Some(state),
            to: state,
            note,
            actor_kind: by.actor.kind.as_str(),
            actor_id: &by.actor.id,
            channel: by.channel.as_str(),
            reason: &by.reason,
            at: micros(by.at),
        });
        Self::append_audit(&mut tx, "request_event", event_id, &content).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_document(&self, doc: &NewDocument) -> StoreResult<i64> {
        let sealed = self.seal_document(doc);
        Ok(sqlx::query_scalar(
            "INSERT INTO identity_documents (request_id, content_type, size_bytes, sha256, content, wrapped_key, master_id, uploaded_at, uploaded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(doc.request_id.get())
        .bind(&doc.content_type)
        .bind(doc.content.len() as i64)
        .bind(&doc.sha256)
        .bind(&sealed.sealed)
        .bind(&sealed.key.sealed)
        .bind(&sealed.key.master_id)
        .bind(micros(doc.uploaded_at))
        .bind(&doc.uploaded_by)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn documents(&self, request_id: RequestId) -> StoreResult<Vec<DocumentRow>> {
        let rows = sqlx::query(
            "SELECT id, request_id, content_type, size_bytes, sha256, uploaded_at, uploaded_by, review, review_reason, reviewed_by
             FROM identity_documents WHERE request_id = $1 ORDER BY id",
        )
        .bind(request_id.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::document_from_row).collect()
    }

    async fn document_content(&self, id: i64) -> StoreResult<Option<(RequestId, String, Vec<u8>)>> {
        let row: Option<(i64, String, String, Vec<u8>, Vec<u8>, String)> = sqlx::query_as(
            "SELECT request_id, content_type, sha256, content, wrapped_key, master_id FROM identity_documents
             WHERE id = $1 AND content IS NOT NULL AND wrapped_key IS NOT NULL",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some((request, content_type, sha, content, wrapped, master_id)) = row else {
            return Ok(None);
        };
        let bytes = self.open_document(
            id,
            request,
            &sha,
            crate::vault::SealedPart {
                key: crate::crypto::WrappedKey {
                    master_id,
                    sealed: wrapped,
                },
                sealed: content,
            },
        )?;
        Ok(Some((RequestId::new(request), content_type, bytes)))
    }
}
