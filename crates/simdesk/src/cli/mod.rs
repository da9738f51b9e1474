//! The `simdesk` command line: every use case an operator reaches from a terminal, one file per
//! command group, each building simdesk through `crate::app`.

use crate::app::{self, App};
use crate::clock::Clock;
use crate::config::Settings;
use crate::store::Store;
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use jiff::Timestamp;
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Prints a line to standard output; a closed pipe (`simdesk … | head`) ends the command quietly
/// instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?;
    }};
}

mod audit;
mod bench;
mod calendar;
mod cancel;
mod delivery;
mod demo;
mod esim;
mod import;
mod jobs;
mod keys;
mod lines;
mod policies;
mod privacy;
mod serve;
mod staff;
mod tokens;
mod usage;

pub use calendar::CalendarCommand;
pub use import::ImportCommand;
pub use jobs::JobsCommand;
pub use lines::{AddonCommand, LinesCommand};
pub use policies::{CarriersCommand, PoliciesCommand};
pub use staff::StaffCommand;
pub use tokens::TokensCommand;

#[derive(Parser)]
#[command(
    name = "simdesk",
    version,
    about = "Prepaid travel SIM and eSIM lines: inventory, registration, activation, balance, expiry and cancellation"
)]
pub struct Cli {
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: sqlite file in the data dir]
    #[arg(long, global = true, env = "SIMDESK_DB")]
    pub db: Option<String>,
    /// Folder simdesk keeps its files in [default: ./simdesk-data]
    #[arg(long, global = true, env = "SIMDESK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Act as if it were this instant (RFC 3339), to move time forward by hand
    #[arg(long, global = true, value_name = "RFC3339")]
    pub now: Option<Timestamp>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a fresh demo data folder with example carriers and ~1,000 lines, then serve it
    Demo {
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Demo data folder (recreated each time)
        #[arg(long, default_value = "simdesk-demo")]
        data: PathBuf,
    },
    /// Run the HTTP server
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080, or SIMDESK_LISTEN]
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Import inventory
    #[command(subcommand)]
    Import(ImportCommand),
    /// Look at and change lines
    #[command(subcommand)]
    Lines(LinesCommand),
    /// Count what travellers used (files of usage records) and list a line's usage
    #[command(subcommand)]
    Usage(usage::UsageCommand),
    /// eSIM profiles on the SM-DP+: order one for a registered line, look at one
    #[command(subcommand)]
    Esim(esim::EsimCommand),
    /// Run due work (expiry, closing after grace)
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// The Japanese business-day calendar
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// Carrier and plan policies
    #[command(subcommand)]
    Policies(PoliciesCommand),
    /// Carriers
    #[command(subcommand)]
    Carriers(CarriersCommand),
    /// Cancel lines: quote, submit, verify, review, withdraw
    #[command(subcommand)]
    Cancel(cancel::CancelCommand),
    /// Customers' e-wallets
    #[command(subcommand)]
    Wallet(cancel::WalletCommand),
    /// Cancellation receipts
    #[command(subcommand)]
    Receipt(cancel::ReceiptCommand),
    /// Keys: the receipt verification key
    #[command(subcommand)]
    Keys(cancel::KeysCommand),
    /// API tokens for operator systems (scoped to one carrier)
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Staff accounts for the hotline console and the store counter
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Side effects waiting, delivered or dead: SMS, e-mail, network calls, payouts
    #[command(subcommand)]
    Outbox(delivery::OutboxCommand),
    /// The network's subscriber database (HLR)
    #[command(subcommand)]
    Network(delivery::NetworkCommand),
    /// The audit trail: every history entry, hash-chained
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Measure simdesk against the database's and machine's own ceilings (SQLite and PostgreSQL)
    Bench(bench::BenchArgs),
    /// Personal data: what is held until when, erasure on request, the erasure sweep
    #[command(subcommand)]
    Privacy(privacy::PrivacyCommand),
}

/// Who is acting and why; recorded with every change.
#[derive(Args, Clone)]
pub struct Who {
    /// Who is acting [default: the login name]
    #[arg(long)]
    pub actor: Option<String>,
    /// Through which channel: operator, store, hotline, web, api
    #[arg(long, default_value = "operator")]
    pub channel: Channel,
    /// Why (recorded in the line's history)
    #[arg(long, default_value = "by operator request")]
    pub reason: String,
}

/// Who runs an administration command: `--actor`, else the login name.
fn admin_actor(actor: &Option<String>) -> String {
    actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".into())
}

impl Cli {
    fn settings(&self) -> anyhow::Result<Settings> {
        let mut settings =
            Settings::load().context("reading settings (simdesk.toml and SIMDESK_* variables)")?;
        if let Some(d) = &self.data_dir {
            settings.data_dir = d.clone();
        }
        if let Some(db) = &self.db {
            settings.db = Some(db.clone());
        }
        Ok(settings)
    }

    fn now(&self) -> Timestamp {
        self.now.unwrap_or_else(Timestamp::now)
    }

    /// The command's clock: held at `--now` when given, so every use case acts at that instant.
    fn clock(&self) -> Clock {
        self.now.map(Clock::fixed).unwrap_or_else(Clock::system)
    }

    /// simdesk built from the settings, for commands that run use cases.
    async fn app(&self) -> anyhow::Result<App> {
        App::build_with_clock(self.settings()?, self.clock()).await
    }

    /// Only the store, for commands that read or change it directly.
    async fn store(&self) -> anyhow::Result<Arc<dyn Store>> {
        app::open_store(&self.settings()?).await
    }
}

fn attribution(who: &Who, now: Timestamp) -> Attribution {
    let id = who
        .actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".into());
    let kind = match who.channel {
        Channel::Store => ActorKind::Clerk,
        Channel::Hotline => ActorKind::Agent,
        Channel::Web => ActorKind::Customer,
        Channel::System => ActorKind::System,
        Channel::Api | Channel::Operator => ActorKind::Operator,
    };
    Attribution::new(Actor { kind, id }, who.channel, now, who.reason.clone())
}

/// Runs the command line; errors are printed by `main`.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let now = cli.now();
    match &cli.command {
        Command::Calendar(cmd) => calendar::run(&cli, cmd).await?,
        Command::Policies(cmd) => policies::run_policies(&cli, cmd).await?,
        Command::Carriers(cmd) => policies::run_carriers(&cli, cmd).await?,
        Command::Import(cmd) => import::run(&cli, cmd).await?,
        Command::Lines(cmd) => lines::run(&cli, cmd).await?,
        Command::Usage(cmd) => usage::run(&cli, cmd).await?,
        Command::Esim(cmd) => esim::run(&cli, cmd).await?,
        Command::Bench(args) => bench::run(args).await?,
        Command::Privacy(cmd) => privacy::run(&cli.app().await?.ctx, cmd, now).await?,
        Command::Jobs(cmd) => jobs::run(&cli, cmd).await?,
        Command::Staff(cmd) => staff::run(&cli, cmd).await?,
        Command::Audit(cmd) => audit::run_audit(&cli.settings()?, cmd).await?,
        Command::Outbox(cmd) => delivery::run_outbox(&cli.settings()?, cmd, now).await?,
        Command::Network(cmd) => delivery::run_network(&cli.app().await?, cmd, now).await?,
        Command::Tokens(cmd) => tokens::run(&cli, cmd).await?,
        Command::Cancel(cmd) => cancel::run_cancel(&cli.app().await?, cmd, now).await?,
        Command::Wallet(cmd) => cancel::run_wallet(&cli.app().await?, cmd, now).await?,
        Command::Receipt(cmd) => cancel::run_receipt(&cli.settings()?, cmd).await?,
        Command::Keys(cancel::KeysCommand::Rotate { new_key_file }) => {
            keys::rotate(&cli.settings()?, new_key_file.as_deref()).await?
        }
        Command::Keys(cmd) => cancel::run_keys(&cli.settings()?, cmd)?,
        Command::Serve { listen } => serve::run(&cli, *listen).await?,
        Command::Demo { port, data } => demo::run(&cli, *port, data).await?,
    }
    Ok(())
}
