//! eSIM profiles: the state each line's profile last reached, its sealed activation code, and
//! the SM-DP+'s progress notifications kept once each.

use super::*;
use simdesk_domain::esim::{
    ActivationCode, ExecutionStatus, NotificationPoint, ProfileState, ProfileStatus,
    ProgressReport, RequestKind, StatusCode,
};

const PROFILE_COLUMNS: &str = "p.line_id AS p_line_id, p.state AS p_state, p.state_as_of AS p_state_as_of, p.eid AS p_eid, p.pending AS p_pending, p.code_sealed IS NOT NULL AS p_has_code, p.updated_at AS p_updated_at";

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
    /// Writes the profile as a line's change leaves it; a new activation code is sealed to the
    /// line on its way in.
    pub(crate) async fn write_profile_in(
        tx: &mut sqlx::Transaction<'_, D>,
        vault: &crate::vault::Vault,
        line: LineId,
        change: &ProfileChange,
        at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO esim_profiles (line_id, state, state_as_of, eid, pending, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (line_id) DO UPDATE SET state = excluded.state, state_as_of = excluded.state_as_of,
             eid = COALESCE(excluded.eid, esim_profiles.eid), pending = excluded.pending, updated_at = excluded.updated_at",
        )
        .bind(line.get())
        .bind(change.status.state.as_str())
        .bind(change.status.as_of.map(micros))
        .bind(change.eid.as_ref().map(|e| e.to_string()))
        .bind(change.pending.map(|p| p.as_str()))
        .bind(micros(at))
        .execute(&mut **tx)
        .await?;
        if let Some(code) = &change.activation_code {
            Self::seal_code_in(tx, vault, line.get(), &code.render()).await?;
        }
        Ok(())
    }

    async fn seal_code_in(
        tx: &mut sqlx::Transaction<'_, D>,
        vault: &crate::vault::Vault,
        line: i64,
        code: &str,
    ) -> StoreResult<()> {
        let sealed = vault.seal_activation_code(line, code);
        sqlx::query(
            "UPDATE esim_profiles SET code_sealed = $1, code_key = $2, code_master_id = $3 WHERE line_id = $4",
        )
        .bind(&sealed.sealed)
        .bind(&sealed.key.sealed)
        .bind(&sealed.key.master_id)
        .bind(line)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Seals the activation codes stock files brought (the profile was ordered and released by
    /// whoever made the stock) into their lines' profiles and empties the plaintext column, so
    /// a code never stays readable in a committed row.
    pub(crate) async fn seal_plain_codes_in(
        tx: &mut sqlx::Transaction<'_, D>,
        vault: &crate::vault::Vault,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let plain: Vec<(i64, String, Option<String>)> = sqlx::query_as(
            "SELECT id, activation_code, eid FROM lines WHERE activation_code IS NOT NULL",
        )
        .fetch_all(&mut **tx)
        .await?;
        for (line, code, eid) in &plain {
            sqlx::query(
                "INSERT INTO esim_profiles (line_id, state, eid, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (line_id) DO NOTHING",
            )
            .bind(line)
            .bind(ProfileState::Released.as_str())
            .bind(eid)
            .bind(micros(at))
            .execute(&mut **tx)
            .await?;
            Self::seal_code_in(tx, vault, *line, code).await?;
            sqlx::query("UPDATE lines SET activation_code = NULL WHERE id = $1")
                .bind(line)
                .execute(&mut **tx)
                .await?;
        }
        Ok(plain.len() as u64)
    }

    fn profile_from_row(row: &D::Row) -> StoreResult<ProfileRow> {
        let state: String = row.try_get("p_state")?;
        Ok(ProfileRow {
            line: LineId::new(row.try_get("p_line_id")?),
            status: ProfileStatus {
                state: state.parse().map_err(corrupt("profile state"))?,
                as_of: opt_ts(row.try_get("p_state_as_of")?)?,
            },
            eid: row
                .try_get::<Option<String>, _>("p_eid")?
                .map(|e| e.parse().map_err(corrupt("eid")))
                .transpose()?,
            pending: row
                .try_get::<Option<String>, _>("p_pending")?
                .map(|p| {
                    RequestKind::ALL
                        .into_iter()
                        .find(|k| k.as_str() == p)
                        .ok_or_else(|| StoreError::Corrupt(format!("pending eSIM call {p:?}")))
                })
                .transpose()?,
            has_code: row.try_get("p_has_code")?,
            updated_at: from_micros(row.try_get("p_updated_at")?)?,
        })
    }

    /// Re-wraps the activation codes' data keys under the vault's next master key.
    pub(crate) async fn rewrap_activation_codes(
        &self,
        new: &crate::crypto::MasterKey,
    ) -> StoreResult<u64> {
        let new_id = new.id();
        let mut moved = 0;
        loop {
            let rows: Vec<(i64, String, Vec<u8>)> = sqlx::query_as(
                "SELECT line_id, code_master_id, code_key FROM esim_profiles
                 WHERE code_key IS NOT NULL AND code_master_id <> $1 ORDER BY line_id LIMIT 500",
            )
            .bind(&new_id)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                return Ok(moved);
            }
            let mut tx = self.pool.begin().await?;
            for (line, master_id, wrapped) in rows {
                let old = crate::crypto::WrappedKey {
                    master_id: master_id.clone(),
                    sealed: wrapped,
                };
                let key = self
                    .vault
                    .rewrap_activation_code(new, line, &old)
                    .map_err(|e| {
                        StoreError::Corrupt(format!("line {line}'s activation code key: {e}"))
                    })?;
                moved += sqlx::query(
                    "UPDATE esim_profiles SET code_master_id = $1, code_key = $2 WHERE line_id = $3 AND code_master_id = $4",
                )
                .bind(&key.master_id)
                .bind(&key.sealed)
                .bind(line)
                .bind(&master_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
        }
    }
}

#[async_trait]
impl<D> EsimProfiles for SqlStore<D>
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
    async fn esim_profile(&self, line: LineId) -> StoreResult<Option<ProfileRow>> {
        let sql = format!("SELECT {PROFILE_COLUMNS} FROM esim_profiles p WHERE p.line_id = $1");
        sqlx::query(&sql)
            .bind(line.get())
            .fetch_optional(&self.pool)
            .await?
            .map(|row| Self::profile_from_row(&row))
            .transpose()
    }

    async fn activation_code(&self, line: LineId) -> StoreResult<Option<ActivationCode>> {
        let row: Option<(Option<Vec<u8>>, Option<Vec<u8>>, Option<String>)> = sqlx::query_as(
            "SELECT code_sealed, code_key, code_master_id FROM esim_profiles WHERE line_id = $1",
        )
        .bind(line.get())
        .fetch_optional(&self.pool)
        .await?;
        let Some((Some(sealed), Some(key), Some(master_id))) = row else {
            return Ok(None);
        };
        let part = crate::vault::SealedPart {
            key: crate::crypto::WrappedKey {
                master_id,
                sealed: key,
            },
            sealed,
        };
        let text = self
            .vault
            .open_activation_code(line.get(), &part)
            .map_err(|e| StoreError::Corrupt(format!("line {line}'s activation code: {e}")))?;
        // The code's own text never goes into the error: it is the secret.
        text.parse()
            .map(Some)
            .map_err(|_| StoreError::Corrupt(format!("line {line}'s activation code")))
    }

    async fn record_progress(
        &self,
        report: &NewProgressReport,
        change: Option<&LineChange>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let r = &report.report;
        let code = r.status_code.as_ref();
        let kept = sqlx::query(
            "INSERT INTO esim_reports (line_id, point, status, reported_at, eid, subject_code, reason_code, message, outcome, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (line_id, point, status, reported_at) DO NOTHING",
        )
        .bind(report.line.get())
        .bind(r.point.as_str())
        .bind(r.status.spec_value())
        .bind(micros(r.at))
        .bind(report.eid.as_ref().map(|e| e.to_string()))
        .bind(code.map(|c| c.subject_code.as_str()))
        .bind(code.map(|c| c.reason_code.as_str()))
        .bind(code.and_then(|c| c.message.as_deref()))
        .bind(report.outcome)
        .bind(micros(report.received_at))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if kept == 0 {
            return Ok(false);
        }
        if let Some(change) = change {
            let mut audit = Vec::new();
            Self::apply_line_in(&mut tx, &self.vault, change, &mut audit).await?;
            Self::append_audit_many(&mut tx, &audit).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn progress_reports(&self, line: LineId) -> StoreResult<Vec<NewProgressReport>> {
        let rows = sqlx::query(
            "SELECT point, status, reported_at, eid, subject_code, reason_code, message, outcome, received_at
             FROM esim_reports WHERE line_id = $1 ORDER BY id",
        )
        .bind(line.get())
        .fetch_all(&self.pool)
        .await?;
        let mut reports = Vec::with_capacity(rows.len());
        for row in rows {
            let point: String = row.try_get("point")?;
            let status: String = row.try_get("status")?;
            let outcome: String = row.try_get("outcome")?;
            let subject: Option<String> = row.try_get("subject_code")?;
            let reason: Option<String> = row.try_get("reason_code")?;
            reports.push(NewProgressReport {
                line,
                report: ProgressReport {
                    point: NotificationPoint::ALL
                        .into_iter()
                        .find(|p| p.as_str() == point)
                        .ok_or_else(|| {
                            StoreError::Corrupt(format!("notification point {point:?}"))
                        })?,
                    status: ExecutionStatus::from_spec(&status).map_err(corrupt("status"))?,
                    status_code: match (subject, reason) {
                        (Some(subject_code), Some(reason_code)) => Some(StatusCode {
                            subject_code,
                            reason_code,
                            message: row.try_get("message")?,
                        }),
                        _ => None,
                    },
                    at: from_micros(row.try_get("reported_at")?)?,
                },
                eid: row
                    .try_get::<Option<String>, _>("eid")?
                    .map(|e| e.parse().map_err(corrupt("eid")))
                    .transpose()?,
                outcome: match outcome.as_str() {
                    "moved" => "moved",
                    "failed" => "failed",
                    "already_known" => "already_known",
                    _ => "contradicts",
                },
                received_at: from_micros(row.try_get("received_at")?)?,
            });
        }
        Ok(reports)
    }

    async fn esim_profiles(
        &self,
        carrier: Option<&CarrierCode>,
    ) -> StoreResult<Vec<(Line, ProfileRow)>> {
        let sql = format!(
            "SELECT l.*, {PROFILE_COLUMNS} FROM esim_profiles p JOIN lines l ON l.id = p.line_id
             WHERE ($1 = '' OR l.carrier_code = $1) ORDER BY p.line_id"
        );
        let rows = sqlx::query(&sql)
            .bind(carrier.map_or("", |c| c.as_str()))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((Self::line_from_row(row)?, Self::profile_from_row(row)?)))
            .collect()
    }
}
