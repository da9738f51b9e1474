//! Rating a file of usage records beside a bare insert of the same rows: what counting each
//! record once, with its buckets and history, costs over writing it down; then online charging
//! on the same lines (`charging.rs`).

use super::charging;
use super::scenarios::{per_second, rate, seeded, thousands, workers};
use super::seed::{self, Stage, Timeline};
use super::world::{Bare, World};
use super::{Backend, Options, Row};
use crate::services::usage::file::{self, UsageFile};
use jiff::Timestamp;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Rows per transaction in the bare ceiling.
const BATCH_ROWS: usize = 1000;

pub async fn usage(backend: Backend, opts: &Options) -> anyhow::Result<Vec<Row>> {
    let (lines, records) = (opts.usage_lines.max(1), opts.usage_records);
    let mut world = World::create(backend, &opts.pg_url, "usage").await?;
    seed::stock(&world, lines).await?;
    seeded(&mut world, |ctx| async move {
        seed::bring_to(
            &ctx,
            0,
            lines,
            Stage::Active,
            Timeline::recent(),
            workers(backend),
        )
        .await
    })
    .await?;
    // Small data sessions, so no line runs dry and every record takes from a bucket.
    let at = world.ctx.clock.now() - jiff::SignedDuration::from_mins(1);
    let path = world.data_dir().join("usage.csv");
    let mut csv = String::from("record_id,line,service,started_at,volume\n");
    for r in 0..records {
        let _ = writeln!(
            csv,
            "bench-{r},{},data,{at},{}",
            seed::identifiers(r % lines).0,
            20 * 1024 + r % 4096
        );
    }
    std::fs::write(&path, csv)?;
    let by = seed::by("2026-12-01T00:00:00Z", "usage file");
    let started = Instant::now();
    let outcome = file::import(
        world.store(),
        &world.ctx.book,
        UsageFile {
            carrier: Some(&seed::carrier()),
            source_name: "usage.csv",
            by,
        },
        || std::fs::File::open(&path).map(std::io::BufReader::new),
        &|_, _| {},
    )
    .await?;
    let took = started.elapsed();
    anyhow::ensure!(
        outcome.rated == records,
        "rated {} of {records} records",
        outcome.rated
    );
    let line_ids: Vec<i64> = match &world.bare {
        Bare::Sqlite(p) => {
            sqlx::query_scalar("SELECT id FROM lines ORDER BY id")
                .fetch_all(p)
                .await?
        }
        Bare::Postgres(p) => {
            sqlx::query_scalar("SELECT id FROM lines ORDER BY id")
                .fetch_all(p)
                .await?
        }
    };
    let bare = bare_insert(&world.bare, &line_ids, records, at).await?;
    let rating = Row::new(
        backend,
        format!("rate {} usage records from CSV", thousands(records)),
        per_second(records, took),
        format!("{} (bare insert)", per_second(records, bare)),
        rate(records, took) / rate(records, bare),
        0.5,
    );
    // Online charging counts into the same tables, on lines that already carry a file's worth.
    let online = charging::ccr_updates(backend, &mut world, lines, opts).await?;
    world.destroy().await?;
    Ok(vec![rating, online])
}

/// The same number of usage rows written with no rating, buckets or history: the ceiling.
async fn bare_insert(
    bare: &Bare,
    line_ids: &[i64],
    records: u64,
    at: Timestamp,
) -> anyhow::Result<Duration> {
    let sql = "INSERT INTO usage_records (carrier_code, record_id, line_id, service, started_at, volume, rounded, outcome, taken_mb, taken_money, source, counted_at)
               VALUES ($1, $2, $3, 'data', $4, $5, $5, 'rated', 0, 0, 'bare', $4)";
    let at = at.as_microsecond();
    let carrier = seed::carrier();
    let started = Instant::now();
    // One transaction per batch, one prepared statement per row: how the import writes.
    macro_rules! run {
        ($pool:expr) => {{
            let mut r = 0u64;
            while r < records {
                let mut tx = $pool.begin().await?;
                for _ in 0..BATCH_ROWS {
                    if r >= records {
                        break;
                    }
                    sqlx::query(sql)
                        .bind(carrier.as_str())
                        .bind(format!("bare-{r}"))
                        .bind(line_ids[(r as usize) % line_ids.len()])
                        .bind(at)
                        .bind(20_i64 * 1024)
                        .execute(&mut *tx)
                        .await?;
                    r += 1;
                }
                tx.commit().await?;
            }
        }};
    }
    match bare {
        Bare::Sqlite(p) => run!(p),
        Bare::Postgres(p) => run!(p),
    }
    Ok(started.elapsed())
}
