//! `simdesk policies` and `simdesk carriers`: loading carrier and plan policies, listing carriers.

use super::Cli;
use crate::services::policies::load_policies;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum PoliciesCommand {
    /// Validate and load a folder of policies (one folder per carrier); changes become new versions
    Load { dir: PathBuf },
}

#[derive(Subcommand)]
pub enum CarriersCommand {
    /// List the carrier codes
    List,
}

pub(super) async fn run_policies(cli: &Cli, cmd: &PoliciesCommand) -> anyhow::Result<()> {
    let now = cli.now();
    let PoliciesCommand::Load { dir } = cmd;
    let store = cli.store().await?;
    for o in load_policies(store.as_ref(), dir, now).await? {
        let what = match &o.plan_code {
            Some(p) => format!("{} plan {p}", o.carrier_code),
            None => format!("{} carrier", o.carrier_code),
        };
        out!(
            "{what}: version {}{}",
            o.version,
            if o.changed { " (new)" } else { " (unchanged)" }
        );
    }
    Ok(())
}

pub(super) async fn run_carriers(cli: &Cli, cmd: &CarriersCommand) -> anyhow::Result<()> {
    let CarriersCommand::List = cmd;
    let store = cli.store().await?;
    for c in store.carriers().await? {
        out!("{}\t{}\tpolicy v{}", c.code, c.name, c.policy_version);
    }
    Ok(())
}
