//! Policy documents, versioned by content, and the carriers and plans they define.

use super::*;

#[async_trait]
impl<D> Policies for SqlStore<D>
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
    async fn save_policy_set(
        &self,
        set: &PolicySet,
        now: Timestamp,
    ) -> StoreResult<Vec<DocumentOutcome>> {
        let mut tx = self.pool.begin().await?;
        let mut outcomes = Vec::new();
        let docs = std::iter::once(&set.carrier).chain(set.plans.iter());
        for doc in docs {
            let plan_code = doc.plan_code.clone().unwrap_or_default();
            let sha = sha256_hex(&doc.body);
            let latest: Option<(i64, String)> = sqlx::query_as(
                "SELECT version, sha256 FROM policy_documents WHERE carrier_code = $1 AND plan_code = $2
                 ORDER BY version DESC LIMIT 1",
            )
            .bind(doc.carrier_code.as_str())
            .bind(&plan_code)
            .fetch_optional(&mut *tx)
            .await?;
            let (version, changed) = match latest {
                Some((v, s)) if s == sha => (v, false),
                Some((v, _)) => (v + 1, true),
                None => (1, true),
            };
            if changed {
                sqlx::query(
                    "INSERT INTO policy_documents (carrier_code, plan_code, version, sha256, source_name, body, loaded_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(doc.carrier_code.as_str())
                .bind(&plan_code)
                .bind(version)
                .bind(&sha)
                .bind(&doc.source_name)
                .bind(&doc.body)
                .bind(micros(now))
                .execute(&mut *tx)
                .await
                .map_err(|e| duplicate_or(e, "policy version (loaded concurrently)"))?;
            }
            if doc.plan_code.is_none() {
                sqlx::query(
                    "INSERT INTO carriers (code, name, policy_version) VALUES ($1, $2, $3)
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, policy_version = excluded.policy_version",
                )
                .bind(doc.carrier_code.as_str())
                .bind(&doc.name)
                .bind(version)
                .execute(&mut *tx)
                .await?;
            } else {
                sqlx::query(
                    "INSERT INTO plans (carrier_code, code, name, policy_version) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (carrier_code, code) DO UPDATE SET name = excluded.name, policy_version = excluded.policy_version",
                )
                .bind(doc.carrier_code.as_str())
                .bind(&plan_code)
                .bind(&doc.name)
                .bind(version)
                .execute(&mut *tx)
                .await?;
            }
            outcomes.push(DocumentOutcome {
                carrier_code: doc.carrier_code.clone(),
                plan_code: doc.plan_code.clone(),
                version,
                changed,
            });
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn current_policy_documents(&self) -> StoreResult<Vec<StoredDocument>> {
        let rows = sqlx::query(
            "SELECT d.carrier_code, d.plan_code, d.version, d.source_name, d.body FROM policy_documents d
             WHERE d.version = (SELECT MAX(version) FROM policy_documents x
                                WHERE x.carrier_code = d.carrier_code AND x.plan_code = d.plan_code)
             ORDER BY d.carrier_code, d.plan_code",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::policy_document_from_row).collect()
    }

    async fn carriers(&self) -> StoreResult<Vec<CarrierRow>> {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT code, name, policy_version FROM carriers ORDER BY code")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(code, name, policy_version)| CarrierRow {
                code,
                name,
                policy_version,
            })
            .collect())
    }
}
