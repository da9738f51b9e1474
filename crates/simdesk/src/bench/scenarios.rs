//! Each bench scenario: simdesk's figure and the ceiling, measured in the same run.

use super::load::{self, Call, Server};
use super::seed::{self, Stage, Timeline, CARRIER, PLAN};
use super::world::World;
use super::{Backend, Options, Row};
use crate::services::access::{self, Administrator, Scope};
use crate::services::{cancellation, jobs};
use crate::store::LineKey;
use jiff::Timestamp;
use std::time::{Duration, Instant};

pub(super) fn rate(count: u64, took: Duration) -> f64 {
    count as f64 / took.as_secs_f64().max(1e-9)
}

pub(super) fn per_second(count: u64, took: Duration) -> String {
    format!("{}/s", thousands(rate(count, took).round() as u64))
}

pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(super) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Seeding goes fast on PostgreSQL (commits not waited for); the measurement does not.
pub(super) async fn seeded<F, Fut>(world: &mut World, seed: F) -> anyhow::Result<()>
where
    F: FnOnce(crate::services::ServiceContext) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    world.fast_commits(true).await?;
    world.reopen().await?;
    seed(world.ctx.clone()).await?;
    world.fast_commits(false).await?;
    world.reopen().await?;
    Ok(())
}

pub(super) fn workers(backend: Backend) -> u64 {
    match backend {
        // One writer at a time: more workers only wait for each other.
        Backend::Sqlite => 1,
        Backend::Postgres => 8,
    }
}

/// Importing `opts.import_lines` lines from CSV, beside a bare prepared insert of the same rows.
pub async fn import(backend: Backend, opts: &Options) -> anyhow::Result<Vec<Row>> {
    let n = opts.import_lines;
    let csv = seed::inventory_csv(0, n);
    let world = World::create(backend, &opts.pg_url, "import").await?;
    let started = Instant::now();
    let imported = seed::import(&world, &csv, "bench.csv").await?;
    let took = started.elapsed();
    anyhow::ensure!(imported == n, "imported {imported} of {n} lines");
    world.destroy().await?;
    drop(csv);

    let rows: Vec<_> = (0..n).map(seed::identifiers).collect();
    let world = World::create(backend, &opts.pg_url, "importbare").await?;
    let bare = world
        .bare
        .insert_lines(&rows, PLAN, CARRIER, Timestamp::now())
        .await?;
    world.destroy().await?;
    Ok(vec![Row::new(
        backend,
        format!("import {} lines from CSV", thousands(n)),
        per_second(n, took),
        format!("{} (bare insert)", per_second(n, bare)),
        rate(n, took) / rate(n, bare),
        0.5,
    )])
}

/// Line-status reads over HTTP at two sizes, beside a trivial endpoint; the server's memory.
pub async fn reads(backend: Backend, opts: &Options) -> anyhow::Result<Vec<Row>> {
    let mut world = World::create(backend, &opts.pg_url, "reads").await?;
    let small = opts.read_lines;
    seed::stock(&world, small).await?;
    // Some lines in use, with a holder, balance and history, among the stock.
    let active = (small / 100).clamp(1, 1000);
    seeded(&mut world, |ctx| async move {
        seed::bring_to(
            &ctx,
            0,
            active,
            Stage::Active,
            Timeline::recent(),
            workers(backend),
        )
        .await
    })
    .await?;
    let (_, token) = access::create_token(
        world.store(),
        &super::seed::carrier(),
        "bench",
        &[Scope::LinesRead],
        None,
        &Administrator {
            actor: "bench",
            reason: "measuring reads",
        },
        world.ctx.clock.now(),
    )
    .await?;
    let server = Server::start(&world.url, &world.data_dir())?;
    let seconds = Duration::from_secs(opts.read_seconds);
    let c = opts.connections;
    // Warm both paths, then measure the trivial endpoint and line status under the same load.
    let trivial = warmed_reads(&server, &token, c, seconds, |_| {
        Some(Call::Get("/healthz".into()))
    })
    .await?;
    let status = |lines: u64| {
        move |i: u64| {
            let n = spread(i, lines);
            Some(Call::Get(format!(
                "/api/v1/lines/{}",
                seed::identifiers(n).0
            )))
        }
    };
    let at_small = warmed_reads(&server, &token, c, seconds, status(small)).await?;
    anyhow::ensure!(
        at_small.failures == 0,
        "{} line-status reads failed",
        at_small.failures
    );
    let mut rows = vec![Row::new(
        backend,
        format!(
            "line status over HTTP, {c} connections, {} lines",
            thousands(small)
        ),
        format!(
            "{} p50 {} p99 {}",
            per_second(at_small.requests, at_small.elapsed),
            ms(at_small.p50),
            ms(at_small.p99)
        ),
        format!(
            "{} p99 {} (trivial endpoint)",
            per_second(trivial.requests, trivial.elapsed),
            ms(trivial.p99)
        ),
        at_small.per_second() / trivial.per_second(),
        0.5,
    )];
    let mut peak_rss = trivial.peak_rss.max(at_small.peak_rss);
    drop(server);

    let big = opts.big_read_lines;
    if big > small {
        seed::stock_range(&world, small, big).await?;
        if let crate::bench::world::Bare::Postgres(p) = &world.bare {
            sqlx::query("VACUUM ANALYZE lines").execute(p).await?;
        }
        let server = Server::start(&world.url, &world.data_dir())?;
        let at_big = warmed_reads(&server, &token, c, seconds, status(big)).await?;
        anyhow::ensure!(
            at_big.failures == 0,
            "{} line-status reads failed",
            at_big.failures
        );
        peak_rss = peak_rss.max(at_big.peak_rss);
        rows.push(Row::new(
            backend,
            format!(
                "line status p99 at {} lines vs {}",
                thousands(big),
                thousands(small)
            ),
            format!(
                "p99 {} ({})",
                ms(at_big.p99),
                per_second(at_big.requests, at_big.elapsed)
            ),
            format!("p99 {} at {}", ms(at_small.p99), thousands(small)),
            at_small.p99.as_secs_f64() / at_big.p99.as_secs_f64().max(1e-9),
            1.0 / 1.5,
        ));
    }
    rows.push(Row::memory(
        backend,
        "resident memory of simdesk serve during the reads".into(),
        peak_rss,
        150 * 1024 * 1024,
    ));
    world.destroy().await?;
    Ok(rows)
}

/// One second of warm-up (connections opened, caches filled), then `seconds` of measured reads
/// that must all be answered 200, with the server's memory sampled.
async fn warmed_reads<F>(
    server: &Server,
    token: &str,
    connections: usize,
    seconds: Duration,
    call: F,
) -> anyhow::Result<load::LoadReport>
where
    F: Fn(u64) -> Option<Call> + Clone + Send + Sync + 'static,
{
    let ok200 = |s: u16| s == 200;
    let (base, warm) = (&server.base, Duration::from_secs(1));
    load::run(base, token, connections, warm, None, ok200, call.clone()).await?;
    load::run(
        base,
        token,
        connections,
        seconds,
        Some(server.pid()),
        ok200,
        call,
    )
    .await
}

/// Reads touch lines all over the table, not one hot corner: a multiplicative hash of `i`.
fn spread(i: u64, lines: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % lines.max(1)
}

/// Cancellation orders over the API, each committed before it is answered, beside a bare loop
/// of one-row durable commits.
pub async fn submissions(backend: Backend, opts: &Options) -> anyhow::Result<Vec<Row>> {
    let n = opts.submissions;
    let mut world = World::create(backend, &opts.pg_url, "submit").await?;
    seed::stock(&world, n).await?;
    seeded(&mut world, |ctx| async move {
        seed::bring_to(
            &ctx,
            0,
            n,
            Stage::Active,
            Timeline::recent(),
            workers(backend),
        )
        .await
    })
    .await?;
    let (_, token) = access::create_token(
        world.store(),
        &super::seed::carrier(),
        "bench",
        &[Scope::CancellationsWrite, Scope::LinesRead],
        None,
        &Administrator {
            actor: "bench",
            reason: "measuring cancellation orders",
        },
        world.ctx.clock.now(),
    )
    .await?;
    let server = Server::start(&world.url, &world.data_dir())?;
    let order = move |i: u64| {
        (i < n).then(|| {
            Call::PostJson(
                "/tmf-api/productOrdering/v4/productOrder".into(),
                serde_json::json!({
                    "productOrderItem": [{ "id": "1", "action": "delete", "product": { "id": seed::identifiers(i).0 } }]
                })
                .to_string(),
            )
        })
    };
    let report = load::run(
        &server.base,
        &token,
        opts.connections,
        Duration::from_secs(3600),
        Some(server.pid()),
        |s| s == 201,
        order,
    )
    .await?;
    drop(server);
    anyhow::ensure!(
        report.failures == 0 && report.requests == n,
        "{} of {} cancellation orders were not accepted",
        report.failures,
        report.requests
    );
    let bare = world.bare.durable_commits(n).await?;
    world.destroy().await?;
    Ok(vec![Row::new(
        backend,
        format!(
            "cancellation orders over the API, {} connections",
            opts.connections
        ),
        format!("{} p99 {}", per_second(n, report.elapsed), ms(report.p99)),
        format!("{} (bare one-row commits)", per_second(n, bare)),
        rate(n, report.elapsed) / rate(n, bare),
        0.4,
    )])
}

/// The tables completing a cancellation adds rows to, with their keys.
const COMPLETION_TABLES: &[(&str, &str)] = &[
    ("request_events", "id"),
    ("line_events", "id"),
    ("balance_entries", "id"),
    ("wallet_movements", "id"),
    ("wallet_postings", "id"),
    ("outbox", "id"),
    ("audit_log", "seq"),
];

/// Completing due cancellations (refunds, receipts, outbox), beside bare batched writes of the
/// same rows.
pub async fn completions(backend: Backend, opts: &Options) -> anyhow::Result<Vec<Row>> {
    let n = opts.due;
    let mut world = World::create(backend, &opts.pg_url, "due").await?;
    seed::stock(&world, n).await?;
    seeded(&mut world, |ctx| async move {
        seed::bring_to(
            &ctx,
            0,
            n,
            Stage::CancellationApproved,
            Timeline::fixed(),
            workers(backend),
        )
        .await
    })
    .await?;
    let marks = world.bare.high_marks(COMPLETION_TABLES).await?;
    let started = Instant::now();
    let report = cancellation::complete_due(&world.ctx, seed::at(seed::DUE)).await?;
    let took = started.elapsed();
    anyhow::ensure!(
        report.completed == n,
        "completed {} of {n} cancellations",
        report.completed
    );
    // Receipts are keyed by number: every one of them is new here.
    let mut tables = COMPLETION_TABLES.to_vec();
    tables.push(("receipts", "request_id"));
    let mut marks = marks;
    marks.push(0);
    let (rows, bare) = world
        .bare
        .rewrite(
            &tables,
            &marks,
            &[
                (
                    "lines",
                    "state = 'terminated', version = version + 1",
                    "state = 'terminated'",
                ),
                (
                    "cancellation_requests",
                    "state = 'completed', version = version + 1",
                    "state = 'completed'",
                ),
                ("balance_buckets", "remaining = 0", "remaining = 0"),
            ],
        )
        .await?;
    world.destroy().await?;
    Ok(vec![Row::new(
        backend,
        format!("completing {} due cancellations", thousands(n)),
        per_second(n, took),
        format!(
            "{} ({} rows, bare batched writes)",
            per_second(n, bare),
            thousands(rows)
        ),
        bare.as_secs_f64() / took.as_secs_f64().max(1e-9),
        0.3,
    )])
}

/// The midnight expiry sweep over a large stock where some lines' validity ends, beside one bare
/// `UPDATE` of the same rows.
pub async fn expiry(backend: Backend, opts: &Options) -> anyhow::Result<Vec<Row>> {
    let (total, expiring) = (opts.expiry_lines, opts.expiring);
    let mut world = World::create(backend, &opts.pg_url, "expiry").await?;
    seed::stock(&world, total).await?;
    seeded(&mut world, |ctx| async move {
        seed::bring_to(
            &ctx,
            0,
            expiring,
            Stage::Active,
            Timeline::fixed(),
            workers(backend),
        )
        .await
    })
    .await?;
    let first = crate::services::lines::find_line(
        world.store(),
        &LineKey::Iccid(seed::identifiers(0).0.parse()?),
    )
    .await?;
    let midnight = first
        .validity_ends_at
        .ok_or_else(|| anyhow::anyhow!("an active line without an end of validity"))?;
    let (updated, bare) = world.bare.expire_all(midnight).await?;
    anyhow::ensure!(
        updated == expiring,
        "the bare update expired {updated} of {expiring}"
    );
    world.bare.unexpire_all().await?;
    let started = Instant::now();
    let report = jobs::run_once(world.store(), midnight).await?;
    let took = started.elapsed();
    anyhow::ensure!(
        report.expired == expiring,
        "the sweep expired {} of {expiring} lines",
        report.expired
    );
    world.destroy().await?;
    Ok(vec![Row::new(
        backend,
        format!(
            "expiry sweep: {} of {} lines",
            thousands(expiring),
            thousands(total)
        ),
        format!("{:.2} s", took.as_secs_f64()),
        format!("{:.2} s (one bare UPDATE)", bare.as_secs_f64()),
        bare.as_secs_f64() / took.as_secs_f64().max(1e-9),
        0.5,
    )])
}
