//! Commands for side effects on their way out: the outbox, and the network's subscriber database.

use crate::app::{open_store, App};
use crate::config::Settings;
use crate::services::reconcile::{self, Found};
use clap::Subcommand;
use jiff::Timestamp;
use simdesk_domain::validity::format_jst;

macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?;
    }};
}

#[derive(Subcommand)]
pub enum OutboxCommand {
    /// List side effects, newest first
    List {
        /// Only rows in this state: pending, done or dead
        #[arg(long, value_parser = ["pending", "done", "dead"])]
        state: Option<String>,
        /// Only rows of this kind, e.g. sms, email, notify, network.bar, payout
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Put dead rows back in the queue, with their attempts reset
    Retry {
        /// The row to retry (see `simdesk outbox list --state dead`)
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<i64>,
        /// Retry every dead row
        #[arg(long)]
        all_dead: bool,
    },
}

#[derive(Subcommand)]
pub enum NetworkCommand {
    /// Compare the subscriber database with simdesk's lines and put right what disagrees
    Reconcile {
        /// Only this carrier's lines
        #[arg(long)]
        carrier: Option<String>,
        /// List the disagreements without changing anything
        #[arg(long)]
        dry_run: bool,
        /// Check lines in stock too (slow with a large inventory; none should be on the network)
        #[arg(long)]
        include_stock: bool,
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn run_outbox(
    settings: &Settings,
    cmd: &OutboxCommand,
    now: Timestamp,
) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    match cmd {
        OutboxCommand::List {
            state,
            kind,
            limit,
            json,
        } => {
            if *limit < 1 || *limit > 10_000 {
                anyhow::bail!("--limit must be between 1 and 10000");
            }
            let rows = store
                .outbox_entries(state.as_deref(), kind.as_deref(), *limit)
                .await?;
            if *json {
                out!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            if rows.is_empty() {
                out!("nothing in the outbox matches");
                return Ok(());
            }
            out!(
                "{:>8}  {:<20} {:<8} {:>8}  {:<25} key / last error",
                "id",
                "kind",
                "state",
                "attempts",
                "next attempt (JST)"
            );
            for r in rows {
                out!(
                    "{:>8}  {:<20} {:<8} {:>8}  {:<25} {}",
                    r.id,
                    r.kind,
                    r.state,
                    r.attempts,
                    if r.state == "pending" {
                        format_jst(r.next_attempt_at)
                    } else {
                        "-".into()
                    },
                    r.idempotency_key
                );
                // A delivered row keeps the error that held it up, so an outage stays visible.
                if let Some(e) = r.last_error {
                    let label = if r.state == "done" {
                        "held up by"
                    } else {
                        "last error"
                    };
                    out!("{:>8}  {label}: {e}", "");
                }
            }
        }
        OutboxCommand::Retry { id, all_dead } => {
            let n = store
                .outbox_retry(if *all_dead { None } else { *id }, now)
                .await?;
            match (n, id) {
                (0, Some(id)) if !*all_dead => anyhow::bail!(
                    "outbox row {id} is not dead (or does not exist); only dead rows are retried — see `simdesk outbox list --state dead`"
                ),
                _ => out!("{n} dead row(s) back in the queue; the next due-work run delivers them"),
            }
        }
    }
    Ok(())
}

fn found_text(found: &Found) -> String {
    match found {
        Found::Absent => "absent".into(),
        Found::InService { msisdn } => {
            format!("in service ({})", msisdn.as_deref().unwrap_or("no MSISDN"))
        }
        Found::Barred { msisdn } => {
            format!("barred ({})", msisdn.as_deref().unwrap_or("no MSISDN"))
        }
        Found::DataBarred { msisdn } => {
            format!("data barred ({})", msisdn.as_deref().unwrap_or("no MSISDN"))
        }
        Found::Partial { msisdn } => {
            format!(
                "partly barred ({})",
                msisdn.as_deref().unwrap_or("no MSISDN")
            )
        }
    }
}

pub(super) async fn run_network(
    app: &App,
    cmd: &NetworkCommand,
    now: Timestamp,
) -> anyhow::Result<()> {
    let NetworkCommand::Reconcile {
        carrier,
        dry_run,
        include_stock,
        json,
    } = cmd;
    if let Some(c) = carrier {
        if !app.ctx.book.carrier_codes().any(|code| code == c.as_str()) {
            anyhow::bail!("unknown carrier {c}; `simdesk carriers list` shows the codes");
        }
    }
    let report = reconcile::reconcile(
        app.ctx.store.as_ref(),
        &app.ctx.book,
        &app.peers,
        reconcile::Scope {
            carrier: carrier.as_deref(),
            include_stock: *include_stock,
            apply: !*dry_run,
        },
        now,
    )
    .await?;
    if *json {
        out!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    for d in &report.disagreements {
        out!(
            "{} {} ({}, {}): network has it {}, should be {}; {}",
            d.iccid,
            d.msisdn,
            d.carrier,
            d.state,
            found_text(&d.found),
            serde_json::to_value(d.expected)?
                .as_str()
                .unwrap_or_default()
                .replace('_', " "),
            if d.waiting_in_outbox {
                "calls for it still wait in the outbox".to_string()
            } else if *dry_run {
                format!("would {}", d.fix.join(" then "))
            } else {
                d.fix.join(" then ")
            }
        );
    }
    out!(
        "checked {} lines: {} disagree{}",
        report.checked,
        report.disagreements.len(),
        if *dry_run {
            "; nothing changed (dry run)".to_string()
        } else {
            format!(
                "; {} corrective call(s) made, {} left in the outbox",
                report.fixed, report.left_in_outbox
            )
        }
    );
    Ok(())
}
