//! `simdesk privacy`: what is held about whom until when, erasure on a holder's request, and the sweep.

use super::{attribution, Who};
use crate::services::lines::parse_line_key;
use crate::services::privacy;
use crate::services::ServiceContext;
use clap::Subcommand;
use jiff::Timestamp;

#[derive(Subcommand)]
pub enum PrivacyCommand {
    /// What is held for each customer (contact details, identity record, document images) and
    /// until when; `legal hold` marks identity records the law keeps after the rest is erased
    Report {
        /// Only customers of whom something is still held
        #[arg(long)]
        held: bool,
        #[arg(long)]
        json: bool,
    },
    /// Erase a line holder's personal data at their request, as far as the law allows; prints
    /// what remains and until when
    Erase {
        /// The line (ICCID or phone number) whose holder asked
        line: String,
        #[command(flatten)]
        who: Who,
    },
    /// Run the erasure sweep once at --now: what the retention policy says is due is erased
    Sweep,
}

fn day(t: Option<Timestamp>) -> String {
    t.map(|t| {
        t.to_zoned(simdesk_domain::validity::japan())
            .date()
            .to_string()
    })
    .unwrap_or_else(|| "when the lines end".into())
}

pub(super) async fn run(
    ctx: &ServiceContext,
    cmd: &PrivacyCommand,
    now: Timestamp,
) -> anyhow::Result<()> {
    match cmd {
        PrivacyCommand::Report { held, json } => {
            let rows: Vec<_> = privacy::report(ctx)
                .await?
                .into_iter()
                .filter(|h| !held || h.personal_data_held || h.identity_record_held)
                .collect();
            if *json {
                out!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            out!("customer  lines  personal data         identity record                   documents");
            for h in rows {
                let personal = if h.personal_data_held {
                    format!("until {}", day(h.personal_data))
                } else {
                    "erased".into()
                };
                let identity = if h.identity_record_held {
                    let hold = if h.legal_hold { " (legal hold)" } else { "" };
                    format!("until {}{hold}", day(h.identity_record))
                } else {
                    "erased".into()
                };
                out!(
                    "{:<8}  {:<5}  {personal:<20}  {identity:<32}  {}",
                    h.customer,
                    format!("{}/{}", h.lines_in_service, h.lines),
                    h.documents
                );
            }
        }
        PrivacyCommand::Erase { line, who } => {
            let customer = privacy::holder_of(ctx.store.as_ref(), &parse_line_key(line)?).await?;
            let answer = privacy::erase_on_request(ctx, customer, attribution(who, now)).await?;
            if answer.lines_in_service > 0 {
                out!(
                    "nothing erased: {} line(s) of this holder are still in service and their data is needed until they end; cancel them first",
                    answer.lines_in_service
                );
                return Ok(());
            }
            out!("customer {customer}: contact details, document images and codes erased");
            match answer.identity_held_until {
                Some(until) => out!(
                    "identity record kept until {} as the Mobile Phone Improper Use Prevention Act requires, then erased",
                    day(Some(until))
                ),
                None => out!("identity record erased"),
            }
        }
        PrivacyCommand::Sweep => {
            let r = privacy::sweep(ctx, now).await?;
            out!(
                "erased the personal data of {} customers, {} identity records and {} document images; {} told their data is about to go; purged {} codes, {} sessions, {} idempotency records",
                r.personal_data_erased,
                r.identity_records_erased,
                r.documents_erased,
                r.notices_queued,
                r.purged.codes,
                r.purged.sessions,
                r.purged.idempotency_keys
            );
        }
    }
    Ok(())
}
