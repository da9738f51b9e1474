//! The ceilings: the same rows written by bare statements on the same database, with nothing of
//! simdesk in between.

use super::world::Bare;
use jiff::Timestamp;
use sqlx::{Column, Row, TypeInfo};
use std::time::{Duration, Instant};

/// A cell copied from one table to its twin, in the column's own type.
#[derive(Clone, Debug)]
enum Cell {
    Int8(Option<i64>),
    Int4(Option<i32>),
    Int2(Option<i16>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
    Bool(Option<bool>),
    Float(Option<f64>),
}

/// Rows per transaction in the batched ceilings.
const BATCH_ROWS: usize = 1000;

impl Bare {
    /// Inserts lines one prepared statement per row, in one transaction, as an import would.
    pub async fn insert_lines(
        &self,
        rows: &[(String, String, String)],
        plan: &str,
        carrier: &str,
        at: Timestamp,
    ) -> anyhow::Result<Duration> {
        let batch_sql = "INSERT INTO import_batches (carrier_code, source_name, line_count, skipped_rows, actor_kind, actor_id, channel, reason, at) VALUES ($1, 'bare.csv', $2, 0, 'operator', 'bench', 'operator', 'bare insert', $3) RETURNING id";
        let line_sql = "INSERT INTO lines (iccid, imsi, msisdn, carrier_code, plan_code, kind, eid, activation_code, state, version, import_batch_id, created_at) VALUES ($1, $2, $3, $4, $5, 'physical', NULL, NULL, 'in_stock', 0, $6, $7)";
        let at = at.as_microsecond();
        let started = Instant::now();
        macro_rules! run {
            ($pool:expr) => {{
                let mut tx = $pool.begin().await?;
                let batch: i64 = sqlx::query_scalar(batch_sql)
                    .bind(carrier)
                    .bind(rows.len() as i64)
                    .bind(at)
                    .fetch_one(&mut *tx)
                    .await?;
                for (iccid, imsi, msisdn) in rows {
                    sqlx::query(line_sql)
                        .bind(iccid)
                        .bind(imsi)
                        .bind(msisdn)
                        .bind(carrier)
                        .bind(plan)
                        .bind(batch)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }};
        }
        match self {
            Bare::Sqlite(p) => run!(p),
            Bare::Postgres(p) => run!(p),
        }
        Ok(started.elapsed())
    }

    /// `count` one-row transactions, each committed durably before the next starts.
    pub async fn durable_commits(&self, count: u64) -> anyhow::Result<Duration> {
        let create = "CREATE TABLE IF NOT EXISTS bench_commits (id BIGINT PRIMARY KEY, at BIGINT NOT NULL, body TEXT NOT NULL)";
        let insert = "INSERT INTO bench_commits (id, at, body) VALUES ($1, $2, $3)";
        let body = "a cancellation request as a client would send it, about this long";
        macro_rules! run {
            ($pool:expr) => {{
                sqlx::query(create).execute($pool).await?;
                let started = Instant::now();
                for id in 0..count as i64 {
                    let mut tx = $pool.begin().await?;
                    sqlx::query(insert)
                        .bind(id)
                        .bind(Timestamp::now().as_microsecond())
                        .bind(body)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                }
                started.elapsed()
            }};
        }
        Ok(match self {
            Bare::Sqlite(p) => run!(p),
            Bare::Postgres(p) => run!(p),
        })
    }

    /// One `UPDATE` expiring every active line whose validity has ended: (rows, time).
    pub async fn expire_all(&self, now: Timestamp) -> anyhow::Result<(u64, Duration)> {
        let sql = "UPDATE lines SET state = 'expired', version = version + 1 WHERE state = 'active' AND validity_ends_at <= $1";
        let started = Instant::now();
        let rows = match self {
            Bare::Sqlite(p) => sqlx::query(sql)
                .bind(now.as_microsecond())
                .execute(p)
                .await?
                .rows_affected(),
            Bare::Postgres(p) => sqlx::query(sql)
                .bind(now.as_microsecond())
                .execute(p)
                .await?
                .rows_affected(),
        };
        Ok((rows, started.elapsed()))
    }

    /// Puts the lines [`Bare::expire_all`] expired back, so simdesk meets the same table.
    pub async fn unexpire_all(&self) -> anyhow::Result<()> {
        let sql =
            "UPDATE lines SET state = 'active', version = version - 1 WHERE state = 'expired'";
        match self {
            Bare::Sqlite(p) => {
                sqlx::query(sql).execute(p).await?;
            }
            Bare::Postgres(p) => {
                sqlx::query(sql).execute(p).await?;
                sqlx::query("VACUUM ANALYZE lines").execute(p).await?;
            }
        }
        Ok(())
    }

    /// The highest key of each table, to tell the rows written afterwards.
    pub async fn high_marks(&self, tables: &[(&str, &str)]) -> anyhow::Result<Vec<i64>> {
        let mut marks = Vec::new();
        for (table, key) in tables {
            let sql = format!("SELECT COALESCE(MAX({key}), 0) FROM {table}");
            let mark: i64 = match self {
                Bare::Sqlite(p) => sqlx::query_scalar(&sql).fetch_one(p).await?,
                Bare::Postgres(p) => sqlx::query_scalar(&sql).fetch_one(p).await?,
            };
            marks.push(mark);
        }
        Ok(marks)
    }

    /// Writes again every row added to `tables` since `marks` into an empty twin of each table
    /// (same columns, indexes and constraints), one prepared statement per row, in transactions
    /// of [`BATCH_ROWS`]; and updates again, row by row, the rows of `updated` matching their
    /// condition. Only the writes are timed: (rows written, time).
    pub async fn rewrite(
        &self,
        tables: &[(&str, &str)],
        marks: &[i64],
        updated: &[(&str, &str, &str)],
    ) -> anyhow::Result<(u64, Duration)> {
        let mut written = 0u64;
        let mut spent = Duration::ZERO;
        for ((table, key), mark) in tables.iter().zip(marks) {
            let twin = self.twin(table).await?;
            let mut after = *mark;
            loop {
                let (columns, rows, last) = self.read_after(table, key, after).await?;
                if rows.is_empty() {
                    break;
                }
                after = last;
                let placeholders: Vec<String> =
                    (1..=columns.len()).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "INSERT INTO {twin} ({}) VALUES ({})",
                    columns.join(", "),
                    placeholders.join(", ")
                );
                let started = Instant::now();
                for chunk in rows.chunks(BATCH_ROWS) {
                    self.insert_rows(&sql, chunk).await?;
                }
                spent += started.elapsed();
                written += rows.len() as u64;
            }
        }
        for (table, set, condition) in updated {
            let ids: Vec<i64> = match self {
                Bare::Sqlite(p) => {
                    sqlx::query_scalar(&format!("SELECT id FROM {table} WHERE {condition}"))
                        .fetch_all(p)
                        .await?
                }
                Bare::Postgres(p) => {
                    sqlx::query_scalar(&format!("SELECT id FROM {table} WHERE {condition}"))
                        .fetch_all(p)
                        .await?
                }
            };
            let sql = format!("UPDATE {table} SET {set} WHERE id = $1");
            let started = Instant::now();
            macro_rules! run {
                ($pool:expr) => {{
                    for chunk in ids.chunks(BATCH_ROWS) {
                        let mut tx = $pool.begin().await?;
                        for id in chunk {
                            sqlx::query(&sql).bind(id).execute(&mut *tx).await?;
                        }
                        tx.commit().await?;
                    }
                }};
            }
            match self {
                Bare::Sqlite(p) => run!(p),
                Bare::Postgres(p) => run!(p),
            }
            spent += started.elapsed();
            written += ids.len() as u64;
        }
        Ok((written, spent))
    }

    /// Creates `bench_twin_<table>`: the table's columns, indexes and constraints, no rows.
    async fn twin(&self, table: &str) -> anyhow::Result<String> {
        let twin = format!("bench_twin_{table}");
        match self {
            Bare::Postgres(p) => {
                sqlx::query(&format!("DROP TABLE IF EXISTS {twin}"))
                    .execute(p)
                    .await?;
                sqlx::query(&format!("CREATE TABLE {twin} (LIKE {table} INCLUDING ALL)"))
                    .execute(p)
                    .await?;
            }
            Bare::Sqlite(p) => {
                sqlx::query(&format!("DROP TABLE IF EXISTS {twin}"))
                    .execute(p)
                    .await?;
                let statements: Vec<(String, String)> = sqlx::query_as(
                    "SELECT type, sql FROM sqlite_master WHERE tbl_name = $1 AND sql IS NOT NULL ORDER BY type = 'index'",
                )
                .bind(table)
                .fetch_all(p)
                .await?;
                for (kind, sql) in statements {
                    let renamed = match kind.as_str() {
                        "table" => rename_table(&sql, table, &twin),
                        "index" => rename_index(&sql, table, &twin),
                        _ => continue,
                    }
                    .ok_or_else(|| anyhow::anyhow!("cannot copy the schema of {table}: {sql}"))?;
                    sqlx::query(&renamed).execute(p).await?;
                }
            }
        }
        Ok(twin)
    }

    /// Up to 10,000 rows of `table` after `after` by `key`: (columns, rows, last key).
    async fn read_after(
        &self,
        table: &str,
        key: &str,
        after: i64,
    ) -> anyhow::Result<(Vec<String>, Vec<Vec<Cell>>, i64)> {
        let sql = format!("SELECT * FROM {table} WHERE {key} > $1 ORDER BY {key} LIMIT 10000");
        macro_rules! read {
            ($pool:expr) => {{
                let rows = sqlx::query(&sql).bind(after).fetch_all($pool).await?;
                let columns: Vec<String> = rows
                    .first()
                    .map(|r| r.columns().iter().map(|c| c.name().to_string()).collect())
                    .unwrap_or_default();
                let mut out = Vec::with_capacity(rows.len());
                let mut last = after;
                for r in &rows {
                    last = r.try_get::<i64, _>(key)?;
                    let mut cells = Vec::with_capacity(columns.len());
                    for (i, c) in r.columns().iter().enumerate() {
                        cells.push(cell(r, i, c.type_info().name())?);
                    }
                    out.push(cells);
                }
                (columns, out, last)
            }};
        }
        Ok(match self {
            Bare::Sqlite(p) => read!(p),
            Bare::Postgres(p) => read!(p),
        })
    }

    async fn insert_rows(&self, sql: &str, rows: &[Vec<Cell>]) -> anyhow::Result<()> {
        macro_rules! run {
            ($pool:expr) => {{
                let mut tx = $pool.begin().await?;
                for row in rows {
                    let mut q = sqlx::query(sql);
                    for c in row {
                        q = match c.clone() {
                            Cell::Int8(v) => q.bind(v),
                            Cell::Int4(v) => q.bind(v),
                            Cell::Int2(v) => q.bind(v),
                            Cell::Text(v) => q.bind(v),
                            Cell::Bytes(v) => q.bind(v),
                            Cell::Bool(v) => q.bind(v),
                            Cell::Float(v) => q.bind(v),
                        };
                    }
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }};
        }
        match self {
            Bare::Sqlite(p) => run!(p),
            Bare::Postgres(p) => run!(p),
        }
        Ok(())
    }
}

/// Reads one cell in its column's type (SQLite's declared types, PostgreSQL's type names).
fn cell<R: Row>(row: &R, i: usize, type_name: &str) -> anyhow::Result<Cell>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i32>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i16>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<Vec<u8>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<bool>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<f64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(match type_name.to_ascii_uppercase().as_str() {
        "INT8" | "BIGINT" | "INTEGER" | "INT" => Cell::Int8(row.try_get(i)?),
        "INT4" => Cell::Int4(row.try_get(i)?),
        "INT2" | "SMALLINT" => Cell::Int2(row.try_get(i)?),
        "BYTEA" | "BLOB" => Cell::Bytes(row.try_get(i)?),
        "BOOL" | "BOOLEAN" => Cell::Bool(row.try_get(i)?),
        "FLOAT8" | "FLOAT4" | "REAL" | "DOUBLE PRECISION" => Cell::Float(row.try_get(i)?),
        "TEXT" | "VARCHAR" | "NAME" | "CHAR" | "BPCHAR" => Cell::Text(row.try_get(i)?),
        // SQLite names a NULL cell's type NULL: any nullable type carries it.
        "NULL" => Cell::Text(None),
        other => anyhow::bail!("the bench cannot copy a column of type {other}"),
    })
}

/// `CREATE TABLE t (…)` → `CREATE TABLE twin (…)`.
fn rename_table(sql: &str, table: &str, twin: &str) -> Option<String> {
    let at = sql.find(table)?;
    Some(format!("{}{twin}{}", &sql[..at], &sql[at + table.len()..]))
}

/// `CREATE [UNIQUE] INDEX name ON t (…)` → the same index, renamed, on the twin.
fn rename_index(sql: &str, table: &str, twin: &str) -> Option<String> {
    let on = sql.find(" ON ")?;
    let (head, tail) = sql.split_at(on);
    let name_at = head.rfind(' ')? + 1;
    let tail = tail.replacen(&format!(" ON {table}"), &format!(" ON {twin}"), 1);
    Some(format!(
        "{}bench_twin_{}{}",
        &head[..name_at],
        &head[name_at..],
        tail
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_twin_has_the_same_shape_under_its_own_names() {
        assert_eq!(
            rename_table(
                "CREATE TABLE outbox (id INTEGER PRIMARY KEY)",
                "outbox",
                "bench_twin_outbox"
            )
            .unwrap(),
            "CREATE TABLE bench_twin_outbox (id INTEGER PRIMARY KEY)"
        );
        assert_eq!(
            rename_index(
                "CREATE UNIQUE INDEX outbox_key ON outbox (idempotency_key)",
                "outbox",
                "bench_twin_outbox"
            )
            .unwrap(),
            "CREATE UNIQUE INDEX bench_twin_outbox_key ON bench_twin_outbox (idempotency_key)"
        );
    }
}
