//! `simdesk import`: inventory from a carrier's CSV file, with a progress bar.

use super::{attribution, Cli, Who};
use crate::services::import::{import_lines, ImportRequest, Progress};
use crate::services::policies::PolicyBook;
use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use simdesk_domain::ids::CarrierCode;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Import lines from a CSV file: iccid,imsi,msisdn,plan[,kind,eid,activation_code]
    Lines {
        file: PathBuf,
        #[arg(long)]
        carrier: CarrierCode,
        /// Import the good rows and report the bad ones instead of importing nothing
        #[arg(long)]
        skip_invalid: bool,
        #[command(flatten)]
        who: Who,
    },
}

pub(super) async fn run(cli: &Cli, cmd: &ImportCommand) -> anyhow::Result<()> {
    let now = cli.now();
    let ImportCommand::Lines {
        file,
        carrier,
        skip_invalid,
        who,
    } = cmd;
    let store = cli.store().await?;
    let book = PolicyBook::load(store.as_ref()).await?;
    let input = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {pos} rows ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("checking {} ({} kB)", file.display(), size / 1024));
    let checked = |n: u64| bar.set_position(n);
    let written = |n: u64| {
        bar.set_message("writing");
        bar.set_position(n)
    };
    let started = std::time::Instant::now();
    let outcome = import_lines(
        store.as_ref(),
        &book,
        ImportRequest {
            carrier,
            source_name: &file.display().to_string(),
            input: std::io::BufReader::with_capacity(1 << 20, input),
            skip_invalid: *skip_invalid,
            by: attribution(who, now),
        },
        Progress {
            checked: &checked,
            written: &written,
        },
    )
    .await;
    bar.finish_and_clear();
    let outcome = outcome?;
    for e in &outcome.skipped {
        eprintln!("skipped: {e}");
    }
    let secs = started.elapsed().as_secs_f64().max(0.001);
    out!(
        "imported {} lines for {carrier} in {:.1} s ({:.0} lines/s){}",
        outcome.imported,
        secs,
        outcome.imported as f64 / secs,
        if outcome.skipped.is_empty() {
            String::new()
        } else {
            format!("; {} rows skipped", outcome.skipped.len())
        }
    );
    Ok(())
}
