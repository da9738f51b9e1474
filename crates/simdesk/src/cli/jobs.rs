//! `simdesk jobs`: due work (expiry, closing after grace, cancellations taking effect, outbox
//! delivery, erasure), once or on a timer.

use super::Cli;
use crate::services::jobs;
use clap::Subcommand;
use simdesk_domain::validity::format_jst;

#[derive(Subcommand)]
pub enum JobsCommand {
    /// Run all due work once at --now (default: the current time): expiry, closing after grace,
    /// cancellations taking effect, outbox delivery
    RunOnce,
    /// Keep running due work, every --every seconds, until stopped
    Work {
        #[arg(long, default_value_t = 10)]
        every: u64,
    },
}

pub(super) async fn run(cli: &Cli, cmd: &JobsCommand) -> anyhow::Result<()> {
    let now = cli.now();
    match cmd {
        JobsCommand::RunOnce => {
            let app = cli.app().await?;
            let report = jobs::run_due(&app.ctx, &app.peers, now).await?;
            out!(
                "at {}: expired {} lines, closed {}; completed {} cancellations; delivered {} side effects ({} to retry, {} dead)",
                format_jst(now),
                report.lines.expired,
                report.lines.closed,
                report.cancellations.completed,
                report.outbox.delivered,
                report.outbox.retried,
                report.outbox.dead
            );
            let p = &report.privacy;
            if p.personal_data_erased
                + p.identity_records_erased
                + p.documents_erased
                + p.notices_queued
                > 0
            {
                out!(
                    "erased the personal data of {} customers and {} identity records at the end of their legal hold; {} document images; {} told their data is about to go",
                    p.personal_data_erased,
                    p.identity_records_erased,
                    p.documents_erased,
                    p.notices_queued
                );
            }
            if report.lines.skipped + report.cancellations.skipped > 0 {
                out!("some work was taken by another worker meanwhile; it is not lost");
            }
        }
        JobsCommand::Work { every } => {
            let app = cli.app().await?;
            out!("working every {every} s; Ctrl-C to stop");
            loop {
                let now = app.ctx.clock.now();
                match jobs::run_due(&app.ctx, &app.peers, now).await {
                    Ok(r)
                        if r.cancellations.completed
                            + r.lines.expired
                            + r.lines.closed
                            + r.outbox.delivered
                            > 0 =>
                    {
                        tracing::info!(?r, "due work done")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "due work failed; retrying"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs((*every).max(1))) => {}
                    _ = tokio::signal::ctrl_c() => break,
                }
            }
        }
    }
    Ok(())
}
