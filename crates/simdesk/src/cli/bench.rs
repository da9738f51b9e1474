//! `simdesk bench`: runs the bench scenarios and prints the table.

use crate::bench::{self, Backend, Options, Scenario};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Which databases to measure on
    #[arg(long, value_enum, default_values_t = [Backend::Sqlite, Backend::Postgres])]
    backend: Vec<Backend>,
    /// Which scenarios to run [default: all]
    #[arg(long, value_enum)]
    only: Vec<Scenario>,
    /// PostgreSQL server on which the bench creates (and drops) its own databases
    #[arg(
        long,
        env = "SIMDESK_BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pg: String,
    /// Small sizes, a few seconds per scenario: checks the bench itself, figures mean little
    #[arg(long)]
    quick: bool,
    /// Lines imported from CSV
    #[arg(long)]
    import_lines: Option<u64>,
    /// Lines in stock for the first read test
    #[arg(long)]
    read_lines: Option<u64>,
    /// Lines in stock for the second read test (0 skips it)
    #[arg(long)]
    big_read_lines: Option<u64>,
    /// Seconds each read test lasts
    #[arg(long)]
    read_seconds: Option<u64>,
    /// Concurrent keep-alive HTTP connections
    #[arg(long)]
    connections: Option<usize>,
    /// Cancellation orders submitted over the API
    #[arg(long)]
    submissions: Option<u64>,
    /// Due cancellations completed
    #[arg(long)]
    due: Option<u64>,
    /// Lines in stock for the expiry sweep
    #[arg(long)]
    expiry_lines: Option<u64>,
    /// Of those, lines whose validity ends at the sweep
    #[arg(long)]
    expiring: Option<u64>,
    /// Usage records rated from one file
    #[arg(long)]
    usage_records: Option<u64>,
    /// Active lines the usage records are spread over
    #[arg(long)]
    usage_lines: Option<u64>,
    /// Gy data sessions sending CCR-Updates, one per active line
    #[arg(long)]
    gy_sessions: Option<u64>,
    /// Diameter connections the Gy sessions share
    #[arg(long)]
    gy_connections: Option<usize>,
    /// Seconds the Gy sessions send CCR-Updates for
    #[arg(long)]
    gy_seconds: Option<u64>,
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let mut opts = Options::full(args.backend.clone(), args.pg.clone());
    if args.quick {
        opts = opts.quick();
    }
    if !args.only.is_empty() {
        opts.scenarios = args.only.clone();
    }
    let set = |field: &mut u64, value: Option<u64>| {
        if let Some(v) = value {
            *field = v;
        }
    };
    set(&mut opts.import_lines, args.import_lines);
    set(&mut opts.read_lines, args.read_lines);
    set(&mut opts.big_read_lines, args.big_read_lines);
    set(&mut opts.read_seconds, args.read_seconds);
    set(&mut opts.submissions, args.submissions);
    set(&mut opts.due, args.due);
    set(&mut opts.expiry_lines, args.expiry_lines);
    set(&mut opts.expiring, args.expiring);
    set(&mut opts.usage_records, args.usage_records);
    set(&mut opts.usage_lines, args.usage_lines);
    set(&mut opts.gy_sessions, args.gy_sessions);
    set(&mut opts.gy_seconds, args.gy_seconds);
    if let Some(c) = args.gy_connections {
        opts.gy_connections = c;
    }
    if let Some(c) = args.connections {
        opts.connections = c;
    }
    if opts.expiring > opts.expiry_lines {
        anyhow::bail!(
            "--expiring {} is more than --expiry-lines {}; at most every line can expire",
            opts.expiring,
            opts.expiry_lines
        );
    }
    if opts.connections == 0
        || opts.gy_connections == 0
        || [
            opts.import_lines,
            opts.read_lines,
            opts.submissions,
            opts.due,
            opts.expiry_lines,
            opts.read_seconds,
            opts.usage_records,
            opts.usage_lines,
            opts.gy_sessions,
            opts.gy_seconds,
        ]
        .contains(&0)
    {
        anyhow::bail!(
            "every size, --connections, --gy-connections and the seconds must be at least 1"
        );
    }
    eprintln!("simdesk bench: {opts:?}");
    let rows = bench::run(&opts, &|row| {
        eprintln!(
            "  {} · {}: {} vs {}",
            row.backend.as_str(),
            row.scenario,
            row.simdesk,
            row.ceiling
        )
    })
    .await?;
    print!("{}", bench::table(&rows));
    Ok(())
}
