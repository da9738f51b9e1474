//! `simdesk usage`: count a file of usage records from the host network, and list a line's usage.

use super::{attribution, Cli, Who};
use crate::services::lines::{find_line, parse_line_key};
use crate::services::policies::PolicyBook;
use crate::services::usage::file::{self, Pass, UsageFile};
use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use simdesk_domain::ids::CarrierCode;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum UsageCommand {
    /// Count a CSV of usage records: record_id,line,service,started_at,volume[,ended_at,network,rating_group]
    Import {
        file: PathBuf,
        /// Only this carrier's lines may appear; its policy may rename the columns
        #[arg(long)]
        carrier: Option<CarrierCode>,
        #[command(flatten)]
        who: Who,
    },
    /// A line's usage records, newest first
    Show {
        /// ICCID or phone number
        line: String,
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn run(cli: &Cli, cmd: &UsageCommand) -> anyhow::Result<()> {
    match cmd {
        UsageCommand::Import { file, carrier, who } => {
            import(cli, file, carrier.as_ref(), who).await
        }
        UsageCommand::Show { line, limit, json } => show(cli, line, *limit, *json).await,
    }
}

async fn import(
    cli: &Cli,
    path: &PathBuf,
    carrier: Option<&CarrierCode>,
    who: &Who,
) -> anyhow::Result<()> {
    let now = cli.now();
    let store = cli.store().await?;
    let book = PolicyBook::load(store.as_ref()).await?;
    let size = std::fs::metadata(path)
        .with_context(|| format!("opening {}", path.display()))?
        .len();
    // A spinner draws only on a terminal; piped output gets the summary alone.
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {pos} records ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("checking {} ({} kB)", path.display(), size / 1024));
    let progress = |pass: Pass, n: u64| {
        if pass == Pass::Counting {
            bar.set_message("counting");
        }
        bar.set_position(n);
    };
    let started = std::time::Instant::now();
    let outcome = file::import(
        store.as_ref(),
        &book,
        UsageFile {
            carrier,
            source_name: &path.display().to_string(),
            by: attribution(who, now),
        },
        || std::fs::File::open(path).map(|f| std::io::BufReader::with_capacity(1 << 20, f)),
        &progress,
    )
    .await;
    bar.finish_and_clear();
    let outcome = outcome?;
    let secs = started.elapsed().as_secs_f64().max(0.001);
    if outcome.rows > 0 && outcome.already_counted == outcome.rows {
        out!(
            "all {} records in {} were counted before; nothing changed",
            outcome.rows,
            path.display()
        );
        return Ok(());
    }
    out!(
        "counted {} records in {:.1} s ({:.0}/s): {} rated{}, {} written off and {} charged to e-wallets (line already ended){}",
        outcome.rows - outcome.already_counted,
        secs,
        outcome.rows as f64 / secs,
        outcome.rated,
        if outcome.partly_unpaid > 0 {
            format!(" ({} not fully covered by the balance)", outcome.partly_unpaid)
        } else {
            String::new()
        },
        outcome.written_off,
        outcome.charged_to_wallet,
        if outcome.already_counted > 0 {
            format!(
                "; {} counted before, unchanged",
                outcome.already_counted
            )
        } else {
            String::new()
        }
    );
    Ok(())
}

async fn show(cli: &Cli, line: &str, limit: i64, json: bool) -> anyhow::Result<()> {
    let store = cli.store().await?;
    let line = find_line(store.as_ref(), &parse_line_key(line)?).await?;
    let rows = store
        .usage_of_line(line.id, None, limit.clamp(1, 1000))
        .await?;
    let left = store.line_usage(line.id).await?;
    if json {
        out!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "counted_until": left.counted_until,
                "records": rows,
            }))?
        );
        return Ok(());
    }
    match left.counted_until {
        Some(until) => out!("usage counted up to {until}"),
        None => out!("no usage counted for this line"),
    }
    for r in rows {
        out!(
            "{}  {:<5} {:>12} → {:>6} MB {:>6} money  {}  {}",
            r.started_at,
            r.service,
            r.volume,
            r.taken_mb,
            r.taken_money,
            r.outcome,
            r.record_id
        );
    }
    Ok(())
}
