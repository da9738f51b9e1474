//! `simdesk esim`: order a registered eSIM line's profile on the SM-DP+ and look at what simdesk
//! knows of it.

use super::{attribution, Cli, Who};
use crate::services::esim::{self, ProfileView};
use crate::services::lines::parse_line_key;
use crate::services::outbox::ESIM_CALLS_WAIT;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum EsimCommand {
    /// Order the line's profile on the SM-DP+ (DownloadOrder, then ConfirmOrder with release);
    /// the activation code comes back with the answer and is shown to the traveller only
    Order {
        /// ICCID or phone number of a registered eSIM line
        line: String,
        /// The traveller's phone (32 digits): only that phone can download the profile
        #[arg(long)]
        eid: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// What simdesk knows of the line's profile
    Show {
        /// ICCID or phone number
        line: String,
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn run(cli: &Cli, cmd: &EsimCommand) -> anyhow::Result<()> {
    match cmd {
        EsimCommand::Order { line, eid, who } => {
            let settings = cli.settings()?;
            let store = cli.store().await?;
            let view = esim::order(
                store.as_ref(),
                &parse_line_key(line)?,
                eid.as_deref(),
                attribution(who, cli.now()),
            )
            .await?;
            print(&view, false)?;
            if settings.smdp.is_some() {
                out!("the order goes to the SM-DP+ with the outbox (`simdesk serve` delivers it)");
            } else {
                out!("{ESIM_CALLS_WAIT}");
            }
            Ok(())
        }
        EsimCommand::Show { line, json } => {
            let store = cli.store().await?;
            let view = esim::show(store.as_ref(), &parse_line_key(line)?).await?;
            print(&view, *json)
        }
    }
}

fn print(view: &ProfileView, json: bool) -> anyhow::Result<()> {
    if json {
        out!("{}", serde_json::to_string_pretty(view)?);
        return Ok(());
    }
    out!("ICCID {}: profile {}", view.iccid, view.state);
    if let Some(pending) = &view.pending {
        out!("  waiting for the SM-DP+'s answer to {pending}");
    }
    if let Some(eid) = &view.eid {
        out!("  EID {eid}");
    }
    out!(
        "  activation code: {}",
        if view.activation_code_ready {
            "ready (shown to the traveller only)"
        } else {
            "not yet"
        }
    );
    if let Some(at) = &view.updated_at {
        out!("  last changed {at}");
    }
    Ok(())
}
