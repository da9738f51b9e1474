//! Row decoding in one place: stored rows back into domain values and records.

use super::sql::*;

pub(crate) fn parse_checks(text: &str) -> StoreResult<Vec<simdesk_domain::policy::IdentityCheck>> {
    use simdesk_domain::policy::IdentityCheck;
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| match s {
            "possession" => Ok(IdentityCheck::Possession),
            "knowledge" => Ok(IdentityCheck::Knowledge),
            "document" => Ok(IdentityCheck::Document),
            other => Err(StoreError::Corrupt(format!("identity check {other:?}"))),
        })
        .collect()
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
    pub(crate) fn line_from_row(row: &D::Row) -> StoreResult<Line> {
        let text = |c: &str| row.try_get::<String, _>(c);
        let state: String = text("state")?;
        let before: Option<String> = row.try_get("state_before_pending")?;
        Ok(Line {
            id: LineId::new(row.try_get("id")?),
            iccid: text("iccid")?.parse().map_err(corrupt("iccid"))?,
            imsi: text("imsi")?.parse().map_err(corrupt("imsi"))?,
            msisdn: text("msisdn")?.parse().map_err(corrupt("msisdn"))?,
            carrier: CarrierCode::new(text("carrier_code")?),
            plan: text("plan_code")?,
            kind: text("kind")?.parse::<LineKind>().map_err(corrupt("kind"))?,
            eid: row
                .try_get::<Option<String>, _>("eid")?
                .map(|e| e.parse().map_err(corrupt("eid")))
                .transpose()?,
            state: state.parse::<LineState>().map_err(corrupt("state"))?,
            holder: row
                .try_get::<Option<i64>, _>("holder_id")?
                .map(CustomerId::new),
            activated_at: opt_ts(row.try_get("activated_at")?)?,
            validity_ends_at: opt_ts(row.try_get("validity_ends_at")?)?,
            grace_ends_at: opt_ts(row.try_get("grace_ends_at")?)?,
            state_before_pending: before
                .map(|s| {
                    s.parse::<LineState>()
                        .map_err(corrupt("state_before_pending"))
                })
                .transpose()?,
            ended_at: opt_ts(row.try_get("ended_at")?)?,
            version: row.try_get("version")?,
        })
    }

    pub(crate) fn line_event_content(r: &D::Row) -> StoreResult<String> {
        let kind: String = r.try_get("kind")?;
        let from: Option<String> = r.try_get("from_state")?;
        let to: Option<String> = r.try_get("to_state")?;
        let detail: String = r.try_get("detail")?;
        let actor_kind: String = r.try_get("actor_kind")?;
        let actor_id: String = r.try_get("actor_id")?;
        let channel: String = r.try_get("channel")?;
        let reason: String = r.try_get("reason")?;
        Ok(crate::audit::line_event_content(
            &crate::audit::LineEventFields {
                id: r.try_get("id")?,
                line_id: r.try_get("line_id")?,
                kind: &kind,
                from: from.as_deref(),
                to: to.as_deref(),
                detail: &detail,
                actor_kind: &actor_kind,
                actor_id: &actor_id,
                channel: &channel,
                reason: &reason,
                at: r.try_get("at")?,
                policy_version: r.try_get("policy_version")?,
            },
        ))
    }

    pub(crate) fn request_event_content(r: &D::Row) -> StoreResult<String> {
        let from: Option<String> = r.try_get("from_state")?;
        let to: String = r.try_get("to_state")?;
        let note: String = r.try_get("note")?;
        let actor_kind: String = r.try_get("actor_kind")?;
        let actor_id: String = r.try_get("actor_id")?;
        let channel: String = r.try_get("channel")?;
        let reason: String = r.try_get("reason")?;
        Ok(crate::audit::request_event_content(
            &crate::audit::RequestEventFields {
                id: r.try_get("id")?,
                request_id: r.try_get("request_id")?,
                from: from.as_deref(),
                to: &to,
                note: &note,
                actor_kind: &actor_kind,
                actor_id: &actor_id,
                channel: &channel,
                reason: &reason,
                at: r.try_get("at")?,
            },
        ))
    }

    pub(crate) fn staff_from_row(r: &D::Row) -> StoreResult<StaffRow> {
        let disabled: Option<i64> = r.try_get("disabled_at")?;
        Ok(StaffRow {
            id: r.try_get("id")?,
            username: r.try_get("username")?,
            password_hash: r.try_get("password_hash")?,
            role: r.try_get("role")?,
            carrier: CarrierCode::new(r.try_get::<String, _>("carrier_code")?),
            disabled: disabled.is_some(),
        })
    }

    pub(crate) fn token_from_row(r: &D::Row) -> StoreResult<ApiTokenRow> {
        let scopes: String = r.try_get("scopes")?;
        Ok(ApiTokenRow {
            id: r.try_get("id")?,
            carrier: CarrierCode::new(r.try_get::<String, _>("carrier_code")?),
            name: r.try_get("name")?,
            created_by: r.try_get("created_by")?,
            created_at: from_micros(r.try_get("created_at")?)?,
            revoked_at: opt_ts(r.try_get("revoked_at")?)?,
            scopes: scopes
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            expires_at: opt_ts(r.try_get("expires_at")?)?,
            last_used_at: opt_ts(r.try_get("last_used_at")?)?,
        })
    }

    pub(crate) fn usage_from_row(row: &D::Row) -> StoreResult<UsageRow> {
        let unpaid: Option<String> = row.try_get("unpaid")?;
        Ok(UsageRow {
            id: row.try_get("id")?,
            record_id: row.try_get("record_id")?,
            service: row.try_get("service")?,
            started_at: from_micros(row.try_get("started_at")?)?,
            ended_at: opt_ts(row.try_get("ended_at")?)?,
            volume: row.try_get("volume")?,
            rounded: row.try_get("rounded")?,
            network: row.try_get("network")?,
            rating_group: row.try_get("rating_group")?,
            outcome: row.try_get("outcome")?,
            taken_mb: row.try_get("taken_mb")?,
            taken_money: row.try_get("taken_money")?,
            unpaid: unpaid
                .map(|u| serde_json::from_str(&u).map_err(corrupt("unpaid usage")))
                .transpose()?,
            source: row.try_get("source")?,
            counted_at: from_micros(row.try_get("counted_at")?)?,
        })
    }

    pub(crate) fn request_from_row(row: &D::Row) -> StoreResult<RequestRecord> {
        use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
        use simdesk_domain::cancellation::{CancellationRequest, RequestState};
        let text = |c: &str| row.try_get::<String, _>(c);
        let refund_currency: Option<String> = row.try_get("refund_currency")?;
        let refund_total: Option<i64> = row.try_get("refund_total")?;
        let refund_total = match (refund_total, refund_currency) {
            (Some(v), Some(c)) => Some(Money::new(
                v,
                c.parse::<Currency>().map_err(corrupt("refund currency"))?,
            )),
            _ => None,
        };
        let detail: Option<String> = row.try_get("refund_detail")?;
        let effective_date: Option<String> = row.try_get("effective_date")?;
        Ok(RequestRecord {
            request: CancellationRequest {
                id: RequestId::new(row.try_get("id")?),
                line_id: LineId::new(row.try_get("line_id")?),
                channel: text("channel")?
                    .parse::<Channel>()
                    .map_err(corrupt("channel"))?,
                submitted: Attribution::new(
                    Actor {
                        kind: text("actor_kind")?
                            .parse::<ActorKind>()
                            .map_err(corrupt("actor kind"))?,
                        id: text("actor_id")?,
                    },
                    text("channel")?
                        .parse::<Channel>()
                        .map_err(corrupt("channel"))?,
                    from_micros(row.try_get("submitted_at")?)?,
                    text("reason")?,
                ),
                state: text("state")?
                    .parse::<RequestState>()
                    .map_err(corrupt("request state"))?,
                required: parse_checks(&text("required_checks")?)?,
                passed: parse_checks(&text("passed_checks")?)?,
                effective_date: effective_date
                    .map(|d| d.parse().map_err(corrupt("effective date")))
                    .transpose()?,
                effective_at: opt_ts(row.try_get("effective_at")?)?,
                reject_reason: row.try_get("reject_reason")?,
                policy_version: row.try_get("policy_version")?,
                version: row.try_get("version")?,
            },
            carrier: CarrierCode::new(text("carrier_code")?),
            refund_total,
            refund_detail: detail
                .map(|d| serde_json::from_str(&d).map_err(corrupt("refund detail")))
                .transpose()?,
            receipt_number: row.try_get("receipt_number")?,
            completed_at: opt_ts(row.try_get("completed_at")?)?,
        })
    }

    pub(crate) fn import_batch_from_row(r: &D::Row) -> StoreResult<ImportBatchRow> {
        Ok(ImportBatchRow {
            id: r.try_get("id")?,
            source_name: r.try_get("source_name")?,
            line_count: r.try_get("line_count")?,
            actor_kind: r.try_get("actor_kind")?,
            actor_id: r.try_get("actor_id")?,
            channel: r.try_get("channel")?,
            reason: r.try_get("reason")?,
            at: from_micros(r.try_get("at")?)?,
        })
    }

    pub(crate) fn bucket_from_row(r: &D::Row) -> StoreResult<Bucket> {
        Ok(Bucket {
            id: r.try_get("id")?,
            unit: r
                .try_get::<String, _>("unit")?
                .parse::<BucketUnit>()
                .map_err(corrupt("unit"))?,
            initial: r.try_get("initial_amount")?,
            remaining: r.try_get("remaining")?,
            expires_at: opt_ts(r.try_get("expires_at")?)?,
            source: r.try_get("source")?,
        })
    }

    pub(crate) fn addon_from_row(r: &D::Row) -> StoreResult<AddonBinding> {
        let currency: Currency = r
            .try_get::<String, _>("currency")?
            .parse()
            .map_err(corrupt("currency"))?;
        Ok(AddonBinding {
            id: r.try_get("id")?,
            code: r.try_get("addon_code")?,
            charge: Money::new(r.try_get("charge_minor")?, currency),
            bound_at: from_micros(r.try_get("bound_at")?)?,
            unbound_at: opt_ts(r.try_get("unbound_at")?)?,
        })
    }

    pub(crate) fn event_from_row(r: &D::Row) -> StoreResult<EventRow> {
        Ok(EventRow {
            id: r.try_get("id")?,
            kind: r.try_get("kind")?,
            from_state: r.try_get("from_state")?,
            to_state: r.try_get("to_state")?,
            detail: r.try_get("detail")?,
            actor_kind: r.try_get("actor_kind")?,
            actor_id: r.try_get("actor_id")?,
            channel: r.try_get("channel")?,
            reason: r.try_get("reason")?,
            at: from_micros(r.try_get("at")?)?,
            policy_version: r.try_get("policy_version")?,
        })
    }

    pub(crate) fn entry_from_row(r: &D::Row) -> StoreResult<EntryRow> {
        Ok(EntryRow {
            id: r.try_get("id")?,
            bucket_id: r.try_get("bucket_id")?,
            unit: r.try_get("unit")?,
            kind: r.try_get("kind")?,
            amount: r.try_get("amount")?,
            note: r.try_get("note")?,
            at: from_micros(r.try_get("at")?)?,
        })
    }

    pub(crate) fn session_from_row(r: &D::Row) -> StoreResult<SessionRow> {
        Ok(SessionRow {
            token_hash: r.try_get("token_hash")?,
            kind: r.try_get("kind")?,
            subject: r.try_get("subject")?,
            carrier: r.try_get("carrier_code")?,
            csrf_token: r.try_get("csrf_token")?,
            language: r.try_get("language")?,
            created_at: from_micros(r.try_get("created_at")?)?,
            expires_at: from_micros(r.try_get("expires_at")?)?,
        })
    }

    pub(crate) fn admin_event_from_row(r: &D::Row) -> StoreResult<AdminEvent> {
        Ok(AdminEvent {
            at: from_micros(r.try_get("at")?)?,
            actor: r.try_get("actor")?,
            action: r.try_get("action")?,
            subject: r.try_get("subject")?,
            reason: r.try_get("reason")?,
        })
    }

    pub(crate) fn audit_entry_from_row(r: &D::Row) -> StoreResult<crate::audit::AuditEntry> {
        Ok(crate::audit::AuditEntry {
            seq: r.try_get("seq")?,
            source: r.try_get("source")?,
            source_id: r.try_get("source_id")?,
            content: r.try_get("content")?,
            prev_hash: r.try_get("prev_hash")?,
            hash: r.try_get("hash")?,
        })
    }

    pub(crate) fn code_from_row(r: &D::Row) -> StoreResult<CodeRow> {
        Ok(CodeRow {
            id: r.try_get("id")?,
            code_hash: r.try_get("code_hash")?,
            issued_at: from_micros(r.try_get("issued_at")?)?,
            attempts: r.try_get("attempts")?,
            used_at: opt_ts(r.try_get("used_at")?)?,
        })
    }

    pub(crate) fn outbox_entry_from_row(r: &D::Row) -> StoreResult<OutboxEntry> {
        Ok(OutboxEntry {
            id: r.try_get("id")?,
            kind: r.try_get("kind")?,
            idempotency_key: r.try_get("idempotency_key")?,
            state: r.try_get("state")?,
            attempts: r.try_get("attempts")?,
            next_attempt_at: from_micros(r.try_get("next_attempt_at")?)?,
            last_error: r.try_get("last_error")?,
            created_at: from_micros(r.try_get("created_at")?)?,
            done_at: opt_ts(r.try_get("done_at")?)?,
        })
    }

    pub(crate) fn policy_document_from_row(r: &D::Row) -> StoreResult<StoredDocument> {
        let plan: String = r.try_get("plan_code")?;
        Ok(StoredDocument {
            carrier_code: CarrierCode::new(r.try_get::<String, _>("carrier_code")?),
            plan_code: (!plan.is_empty()).then_some(plan),
            version: r.try_get("version")?,
            source_name: r.try_get("source_name")?,
            body: r.try_get("body")?,
        })
    }

    pub(crate) fn ticket_from_row(r: &D::Row) -> StoreResult<TicketRow> {
        Ok(TicketRow {
            id: r.try_get("id")?,
            number: r.try_get("number")?,
            state: r.try_get("state")?,
            counter: r.try_get("counter")?,
            called_at: opt_ts(r.try_get("called_at")?)?,
        })
    }

    pub(crate) fn request_event_from_row(r: &D::Row) -> StoreResult<RequestEventRow> {
        Ok(RequestEventRow {
            from_state: r.try_get("from_state")?,
            to_state: r.try_get("to_state")?,
            note: r.try_get("note")?,
            actor_kind: r.try_get("actor_kind")?,
            actor_id: r.try_get("actor_id")?,
            channel: r.try_get("channel")?,
            reason: r.try_get("reason")?,
            at: from_micros(r.try_get("at")?)?,
        })
    }

    pub(crate) fn document_from_row(r: &D::Row) -> StoreResult<DocumentRow> {
        Ok(DocumentRow {
            id: r.try_get("id")?,
            request_id: RequestId::new(r.try_get("request_id")?),
            content_type: r.try_get("content_type")?,
            size_bytes: r.try_get("size_bytes")?,
            sha256: r.try_get("sha256")?,
            uploaded_at: from_micros(r.try_get("uploaded_at")?)?,
            uploaded_by: r.try_get("uploaded_by")?,
            review: r.try_get("review")?,
            review_reason: r.try_get("review_reason")?,
            reviewed_by: r.try_get("reviewed_by")?,
        })
    }

    pub(crate) fn posting_from_row(r: &D::Row) -> StoreResult<WalletPostingRow> {
        let currency: Currency = r
            .try_get::<String, _>("currency")?
            .parse()
            .map_err(corrupt("currency"))?;
        Ok(WalletPostingRow {
            movement_id: r.try_get("movement_id")?,
            kind: r.try_get("kind")?,
            note: r.try_get("note")?,
            at: from_micros(r.try_get("at")?)?,
            account: r.try_get("account")?,
            amount: Money::new(r.try_get("amount")?, currency),
        })
    }

    pub(crate) fn outbox_row_from_row(r: &D::Row) -> StoreResult<OutboxRow> {
        let payload: String = r.try_get("payload")?;
        Ok(OutboxRow {
            id: r.try_get("id")?,
            kind: r.try_get("kind")?,
            idempotency_key: r.try_get("idempotency_key")?,
            payload: serde_json::from_str(&payload).map_err(corrupt("outbox payload"))?,
            attempts: r.try_get("attempts")?,
        })
    }
}
