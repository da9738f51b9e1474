//! `simdesk staff`: accounts for the hotline console and the store counter.

use super::{admin_actor, Cli};
use anyhow::Context;
use clap::Subcommand;
use simdesk_domain::ids::CarrierCode;

#[derive(Subcommand)]
pub enum StaffCommand {
    /// Add a staff member; the password is read from SIMDESK_STAFF_PASSWORD or the first line of standard input
    Add {
        username: String,
        #[arg(long)]
        carrier: CarrierCode,
        /// agent, clerk, supervisor or admin
        #[arg(long)]
        role: String,
        /// Who adds the account, for the record (default: the login name)
        #[arg(long)]
        actor: Option<String>,
        /// Why, for the record
        #[arg(long)]
        reason: Option<String>,
    },
}

pub(super) async fn run(cli: &Cli, cmd: &StaffCommand) -> anyhow::Result<()> {
    let now = cli.now();
    let StaffCommand::Add {
        username,
        carrier,
        role,
        actor,
        reason,
    } = cmd;
    let store = cli.store().await?;
    let password = match std::env::var("SIMDESK_STAFF_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let id = crate::services::staff::add(store.as_ref(), username, &password, role, carrier, now)
        .await?;
    let by = admin_actor(actor);
    crate::services::access::record(
        store.as_ref(),
        &crate::services::access::Administrator {
            actor: &by,
            reason: reason.as_deref().unwrap_or(""),
        },
        &format!("staff member added as {role} for {carrier}"),
        &format!("staff:{id}:{username}"),
        now,
    )
    .await?;
    out!("staff member {id}: {username} ({role}) for {carrier}");
    Ok(())
}
