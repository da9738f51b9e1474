//! The `simdesk` command line: every use case an operator reaches from a terminal.

mod audit;
mod bench;
mod cancel;
mod delivery;

use crate::config::{redact_url, Settings};
use crate::services::import::{import_lines, ImportRequest, Progress};
use crate::services::lines::{self, parse_line_key, LineReport, Usage};
use crate::services::policies::{load_policies, PolicyBook};
use crate::services::{demo, jobs, ServiceError};
use crate::store::{self, Store};
use crate::web::{self, AppState};
use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use jiff::civil::Date;
use jiff::Timestamp;
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use simdesk_domain::calendar::{self, BusinessCalendar};
use simdesk_domain::customer::RegistrationForm;
use simdesk_domain::money::Money;
use simdesk_domain::validity::format_jst;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Prints a line to standard output; a closed pipe (`simdesk … | head`) ends the command quietly
/// instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?;
    }};
}

mod keys;
mod privacy;

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

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Import lines from a CSV file: iccid,imsi,msisdn,plan[,kind,eid,activation_code]
    Lines {
        file: PathBuf,
        #[arg(long)]
        carrier: String,
        /// Import the good rows and report the bad ones instead of importing nothing
        #[arg(long)]
        skip_invalid: bool,
        #[command(flatten)]
        who: Who,
    },
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

#[derive(Subcommand)]
pub enum LinesCommand {
    /// Show a line: state, plan, validity (JST), balance, add-ons, history
    Show {
        /// ICCID or phone number
        line: String,
        #[arg(long)]
        json: bool,
    },
    /// Register a line in stock to its real-name holder
    Register {
        line: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        passport: String,
        #[arg(long)]
        nationality: String,
        #[arg(long, value_name = "YYYY-MM-DD")]
        birth_date: String,
        #[arg(long)]
        phone: String,
        #[arg(long)]
        email: String,
        /// ja, en, zh-Hans, zh-Hant or ko
        #[arg(long)]
        language: String,
        #[command(flatten)]
        who: Who,
    },
    /// Activate a registered line: validity starts now
    Activate {
        line: String,
        #[command(flatten)]
        who: Who,
    },
    /// Add prepaid money, e.g. "1000" or "1000 JPY"
    TopUp {
        line: String,
        amount: String,
        #[command(flatten)]
        who: Who,
    },
    /// Record usage: data in MB, or money for calls and SMS
    Use {
        line: String,
        #[arg(long, conflicts_with = "amount", required_unless_present = "amount")]
        data_mb: Option<i64>,
        #[arg(long)]
        amount: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Bind or unbind an add-on
    #[command(subcommand)]
    Addon(AddonCommand),
}

#[derive(Subcommand)]
pub enum AddonCommand {
    Bind {
        line: String,
        addon: String,
        #[command(flatten)]
        who: Who,
    },
    Unbind {
        line: String,
        addon: String,
        #[command(flatten)]
        who: Who,
    },
}

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

#[derive(Subcommand)]
pub enum CalendarCommand {
    /// List a year's national holidays: YYYY-MM-DD<TAB>name
    Holidays {
        year: i16,
        /// Print English names instead of Japanese
        #[arg(long)]
        english: bool,
    },
    /// The date N Japanese business days after DATE
    AddBusinessDays {
        date: Date,
        days: u32,
        /// Also skip this carrier's closures (needs its policy loaded)
        #[arg(long)]
        carrier: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum PoliciesCommand {
    /// Validate and load a folder of policies (one folder per carrier); changes become new versions
    Load { dir: PathBuf },
}

#[derive(Subcommand)]
pub enum StaffCommand {
    /// Add a staff member; the password is read from SIMDESK_STAFF_PASSWORD or the first line of standard input
    Add {
        username: String,
        #[arg(long)]
        carrier: String,
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

#[derive(Subcommand)]
pub enum TokensCommand {
    /// Create a token for one carrier; it is shown once and stored only hashed
    Create {
        #[arg(long)]
        carrier: String,
        /// What the token is for, e.g. the calling system's name
        #[arg(long)]
        name: String,
        /// What the token may do, comma-separated: lines:read, cancellations:read,
        /// cancellations:write, identity:review, wallets:read, payouts:write, receipts:read
        /// (or `all`)
        #[arg(long)]
        scope: String,
        /// The token stops working this many days from now
        #[arg(long)]
        expires_in_days: Option<i64>,
        /// Who creates it, for the record (default: the login name)
        #[arg(long)]
        actor: Option<String>,
        /// Why, for the record
        #[arg(long)]
        reason: Option<String>,
    },
    /// List tokens (never their secrets) with scopes, expiry and last use
    List,
    /// Revoke a token at once
    Revoke {
        id: i64,
        /// Who revokes it, for the record (default: the login name)
        #[arg(long)]
        actor: Option<String>,
        /// Why, for the record
        #[arg(long)]
        reason: Option<String>,
    },
}

/// Who runs an administration command: `--actor`, else the login name.
fn admin_actor(actor: &Option<String>) -> String {
    actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".into())
}

#[derive(Subcommand)]
pub enum CarriersCommand {
    /// List the carrier codes
    List,
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
        crate::node::set_name(&settings.node_name());
        Ok(settings)
    }

    fn now(&self) -> Timestamp {
        self.now.unwrap_or_else(Timestamp::now)
    }
}

async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    if settings.db.is_none() {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating the data folder {}", settings.data_dir.display()))?;
    }
    let url = settings.database_url();
    let vault = load_vault(settings)?;
    match store::open_waiting(&url, Arc::new(vault.vault), settings.db_wait()).await {
        Ok(store) => Ok(store),
        Err(e) => {
            // A key made for nothing must not be mistaken later for the one the data needs.
            if let Some(created) = &vault.created_master_file {
                let _ = std::fs::remove_file(created);
            }
            Err(anyhow::Error::new(e).context(format!("opening the database {}", redact_url(&url))))
        }
    }
}

/// The master key (from `SIMDESK_MASTER_KEY` or the master key file) and the index key.
pub(crate) fn load_vault(settings: &Settings) -> anyhow::Result<crate::vault::LoadedVault> {
    let env = std::env::var(crate::crypto::MASTER_KEY_VAR)
        .ok()
        .filter(|v| !v.is_empty());
    crate::vault::Vault::load(
        env.as_deref(),
        &settings.master_key_file(),
        &settings.index_key_file(),
    )
    .context("loading the keys that seal personal data")
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
        Command::Calendar(CalendarCommand::Holidays { year, english }) => {
            let list = calendar::holidays(*year)?;
            for h in list {
                out!(
                    "{}\t{}",
                    h.date,
                    if *english { h.name_en } else { h.name_ja }
                );
            }
        }
        Command::Calendar(CalendarCommand::AddBusinessDays {
            date,
            days,
            carrier,
        }) => {
            let cal = match carrier {
                None => BusinessCalendar::japan(),
                Some(code) => {
                    let store = open_store(&cli.settings()?).await?;
                    PolicyBook::load(store.as_ref())
                        .await?
                        .carrier(code)?
                        .calendar()
                }
            };
            out!("{}", cal.add_business_days(*date, *days)?);
        }
        Command::Policies(PoliciesCommand::Load { dir }) => {
            let store = open_store(&cli.settings()?).await?;
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
        }
        Command::Carriers(CarriersCommand::List) => {
            let store = open_store(&cli.settings()?).await?;
            for c in store.carriers().await? {
                out!("{}\t{}\tpolicy v{}", c.code, c.name, c.policy_version);
            }
        }
        Command::Import(ImportCommand::Lines {
            file,
            carrier,
            skip_invalid,
            who,
        }) => {
            let store = open_store(&cli.settings()?).await?;
            let book = PolicyBook::load(store.as_ref()).await?;
            let input =
                std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
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
        }
        Command::Lines(cmd) => {
            let store = open_store(&cli.settings()?).await?;
            let book = PolicyBook::load(store.as_ref()).await?;
            let s = store.as_ref();
            let changed = match cmd {
                LinesCommand::Show { line, json } => {
                    let report = lines::report(s, &book, &parse_line_key(line)?, now).await?;
                    if *json {
                        out!("{}", serde_json::to_string_pretty(&report)?);
                    } else {
                        print_report(&report)?;
                    }
                    None
                }
                LinesCommand::Register {
                    line,
                    name,
                    passport,
                    nationality,
                    birth_date,
                    phone,
                    email,
                    language,
                    who,
                } => {
                    let form = RegistrationForm {
                        full_name: name.clone(),
                        passport_number: passport.clone(),
                        nationality: nationality.clone(),
                        birth_date: birth_date.clone(),
                        phone: phone.clone(),
                        email: email.clone(),
                        language: language.clone(),
                    };
                    Some(
                        lines::register(
                            s,
                            &book,
                            &parse_line_key(line)?,
                            &form,
                            attribution(who, now),
                        )
                        .await?,
                    )
                }
                LinesCommand::Activate { line, who } => Some(
                    lines::activate(s, &book, &parse_line_key(line)?, attribution(who, now))
                        .await?,
                ),
                LinesCommand::TopUp { line, amount, who } => Some(
                    lines::top_up(
                        s,
                        &book,
                        &parse_line_key(line)?,
                        amount,
                        attribution(who, now),
                    )
                    .await?,
                ),
                LinesCommand::Use {
                    line,
                    data_mb,
                    amount,
                    who,
                } => {
                    let key = parse_line_key(line)?;
                    let usage = match (data_mb, amount) {
                        (Some(mb), _) => Usage::DataMb(*mb),
                        (None, Some(a)) => {
                            let current = lines::find_line(s, &key).await?;
                            let currency = book.carrier(&current.carrier)?.currency;
                            Usage::Money(
                                Money::parse(a)
                                    .or_else(|_| Money::parse_in(a, currency))
                                    .map_err(ServiceError::from)?,
                            )
                        }
                        (None, None) => bail!("say what was used: --data-mb N or --amount AMOUNT"),
                    };
                    Some(lines::record_usage(s, &book, &key, usage, attribution(who, now)).await?)
                }
                LinesCommand::Addon(AddonCommand::Bind { line, addon, who }) => Some(
                    lines::bind_addon(
                        s,
                        &book,
                        &parse_line_key(line)?,
                        addon,
                        attribution(who, now),
                    )
                    .await?,
                ),
                LinesCommand::Addon(AddonCommand::Unbind { line, addon, who }) => Some(
                    lines::unbind_addon(
                        s,
                        &book,
                        &parse_line_key(line)?,
                        addon,
                        attribution(who, now),
                    )
                    .await?,
                ),
            };
            if let Some(line) = changed {
                let until = line
                    .validity_ends_at
                    .map(|t| {
                        format!(
                            ", valid until {}",
                            format_jst(simdesk_domain::validity::last_valid_second(t))
                        )
                    })
                    .unwrap_or_default();
                out!("{} {}: {}{until}", line.iccid, line.msisdn, line.state);
            }
        }
        Command::Bench(args) => bench::run(args).await?,
        Command::Privacy(cmd) => {
            let tools = cancel::context(&cli.settings()?).await?;
            privacy::run(&tools.ctx, cmd, now).await?;
        }
        Command::Jobs(JobsCommand::RunOnce) => {
            let tools = cancel::context(&cli.settings()?).await?;
            let report = jobs::run_due(&tools.ctx, &tools.peers, now).await?;
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
        Command::Jobs(JobsCommand::Work { every }) => {
            let tools = cancel::context(&cli.settings()?).await?;
            out!("working every {every} s; Ctrl-C to stop");
            loop {
                let now = cli.now.unwrap_or_else(Timestamp::now);
                match jobs::run_due(&tools.ctx, &tools.peers, now).await {
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
        Command::Staff(StaffCommand::Add {
            username,
            carrier,
            role,
            actor,
            reason,
        }) => {
            let store = open_store(&cli.settings()?).await?;
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
            let id = crate::services::staff::add(
                store.as_ref(),
                username,
                &password,
                role,
                carrier,
                now,
            )
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
        }
        Command::Audit(cmd) => audit::run_audit(&cli.settings()?, cmd).await?,
        Command::Outbox(cmd) => delivery::run_outbox(&cli.settings()?, cmd, now).await?,
        Command::Network(cmd) => delivery::run_network(&cli.settings()?, cmd, now).await?,
        Command::Tokens(cmd) => {
            let store = open_store(&cli.settings()?).await?;
            match cmd {
                TokensCommand::Create {
                    carrier,
                    name,
                    scope,
                    expires_in_days,
                    actor,
                    reason,
                } => {
                    use crate::services::access::{self, Scope};
                    let scopes = if scope.trim() == "all" {
                        Scope::ALL.to_vec()
                    } else {
                        Scope::parse_list(scope)?
                    };
                    let by = admin_actor(actor);
                    let (id, secret) = access::create_token(
                        store.as_ref(),
                        carrier,
                        name,
                        &scopes,
                        *expires_in_days,
                        &access::Administrator {
                            actor: &by,
                            reason: reason.as_deref().unwrap_or(""),
                        },
                        now,
                    )
                    .await?;
                    out!("token {id} for {carrier} ({}): {secret}", name.trim());
                    out!(
                        "scopes {}; {}",
                        scopes
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(","),
                        match expires_in_days {
                            Some(d) => format!("expires in {d} days"),
                            None => "never expires".into(),
                        }
                    );
                    out!("keep it now: simdesk stores only its hash and cannot show it again");
                }
                TokensCommand::List => {
                    for t in store.api_tokens().await? {
                        let state = match (t.revoked_at, t.expires_at) {
                            (Some(at), _) => format!("revoked {}", format_jst(at)),
                            (None, Some(e)) if e <= now => format!("expired {}", format_jst(e)),
                            (None, Some(e)) => format!("live until {}", format_jst(e)),
                            (None, None) => "live".into(),
                        };
                        let used = t
                            .last_used_at
                            .map(|u| format!("last used {}", format_jst(u)))
                            .unwrap_or_else(|| "never used".into());
                        out!(
                            "{}\t{}\t{}\tcreated {} by {}\t{state}\t{used}\t{}",
                            t.id,
                            t.carrier,
                            t.name,
                            format_jst(t.created_at),
                            t.created_by,
                            t.scopes.join(",")
                        );
                    }
                }
                TokensCommand::Revoke { id, actor, reason } => {
                    let by = admin_actor(actor);
                    crate::services::access::revoke_token(
                        store.as_ref(),
                        *id,
                        &crate::services::access::Administrator {
                            actor: &by,
                            reason: reason.as_deref().unwrap_or(""),
                        },
                        now,
                    )
                    .await
                    .map_err(|e| match e {
                        ServiceError::NotFound(_) => anyhow::anyhow!("no live token {id}"),
                        other => other.into(),
                    })?;
                    out!("token {id} revoked");
                }
            }
        }
        Command::Cancel(cmd) => cancel::run_cancel(&cli.settings()?, cmd, now).await?,
        Command::Wallet(cmd) => cancel::run_wallet(&cli.settings()?, cmd, now).await?,
        Command::Receipt(cmd) => cancel::run_receipt(&cli.settings()?, cmd).await?,
        Command::Keys(cancel::KeysCommand::Rotate { new_key_file }) => {
            keys::rotate(&cli.settings()?, new_key_file.as_deref()).await?
        }
        Command::Keys(cmd) => cancel::run_keys(&cli.settings()?, cmd)?,
        Command::Serve { listen } => {
            let settings = cli.settings()?;
            let addr = listen.unwrap_or(settings.listen);
            let tools = cancel::context(&settings).await?;
            serve(tools, addr, None).await?;
        }
        Command::Demo { port, data } => {
            let dir = prepare_demo_dir(data)?;
            let url = format!("sqlite://{}", dir.join("simdesk.db").display());
            let demo_settings = Settings {
                data_dir: dir.clone(),
                db: Some(url.clone()),
                ..Settings::default()
            };
            let vault = load_vault(&demo_settings)?;
            let store = store::open(&url, Arc::new(vault.vault))
                .await
                .with_context(|| format!("creating {url}"))?;
            let policies = dir.join("policies");
            crate::examples::write_to(&policies).context("writing the example policies")?;
            eprintln!("creating demo data in {} …", dir.display());
            let keys = crate::keys::Keys::load_or_create(&dir.join("keys"))?;
            let summary = demo::seed(store.clone(), keys, &policies, now).await?;
            eprintln!("{} lines:", summary.lines);
            for (carrier, state, n) in &summary.by_state {
                eprintln!("  {carrier:<10} {state:<20} {n}");
            }
            let mut tools = cancel::context(&demo_settings).await?;
            // Demo travellers are fictional: their codes, SMS and e-mails land in a file to read.
            let demo_outbox = Arc::new(crate::adapters::messages::DemoOutbox::new(
                dir.join("messages-sent.txt"),
            ));
            tools.ctx.codes = Arc::new(crate::adapters::messages::MessageCodes::new(
                demo_outbox.clone(),
                demo_outbox.clone(),
            ));
            tools.peers.sms = demo_outbox.clone();
            tools.peers.mail = demo_outbox;
            tools.peers.public_url = format!("http://127.0.0.1:{port}");
            // A token for the example line's carrier, so the API can be tried at once.
            let mut token = None;
            let mut demo_carrier = None;
            if let Some(line) = &summary.example_line {
                let line =
                    lines::find_line(tools.ctx.store.as_ref(), &parse_line_key(line)?).await?;
                let secret = web::api::new_token();
                tools
                    .ctx
                    .store
                    .insert_api_token(
                        &line.carrier,
                        "demo",
                        &web::api::hash_token(&secret),
                        "demo",
                        now,
                    )
                    .await?;
                token = Some(secret);
                // Fictional staff for the console and the counter; the password is printed because it is a demo.
                for (name, role) in [("demo-agent", "agent"), ("demo-clerk", "clerk")] {
                    crate::services::staff::add(
                        tools.ctx.store.as_ref(),
                        name,
                        DEMO_STAFF_PASSWORD,
                        role,
                        &line.carrier,
                        now,
                    )
                    .await?;
                }
                demo_carrier = Some(line.carrier.clone());
            }
            serve(
                tools,
                SocketAddr::from(([127, 0, 0, 1], *port)),
                Some(DemoInfo {
                    dir: &dir,
                    line: summary.example_line.clone(),
                    token,
                    carrier: demo_carrier,
                }),
            )
            .await?;
        }
    }
    Ok(())
}

fn prepare_demo_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    const MARKER: &str = ".simdesk-demo";
    if dir.exists() {
        let is_demo = dir.join(MARKER).exists();
        let empty = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !is_demo && !empty {
            bail!(
                "{} exists and is not a simdesk demo folder; pass another --data folder",
                dir.display()
            );
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(
        dir.join(MARKER),
        "created by `simdesk demo`; recreated on every run\n",
    )?;
    Ok(dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()))
}

/// What the demo prints so a newcomer can try things at once.
struct DemoInfo<'a> {
    dir: &'a Path,
    line: Option<String>,
    token: Option<String>,
    carrier: Option<String>,
}

/// The demo's staff password: printed on start, fine for fictional data only.
const DEMO_STAFF_PASSWORD: &str = "demo-password-123";

async fn serve(
    tools: cancel::Tools,
    addr: SocketAddr,
    demo: Option<DemoInfo<'_>>,
) -> anyhow::Result<()> {
    let mut state = AppState::new(tools.ctx.clone()).with_settings(&tools.settings);
    state.sms_inbound = tools.sms_inbound.clone();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr()?;
    // Due work runs beside the server, so a single node needs no external scheduler; on several
    // nodes each runs it, leases share it out and the database keeps every step to exactly once.
    let every = std::time::Duration::from_secs(tools.settings.jobs_every_secs.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        // A run that outlasts the interval is followed by one interval's rest, not a burst.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (ctx, peers) = (tools.ctx.clone(), tools.peers.clone());
            // Each run in its own task: a run that fails, even by panicking, is logged and the
            // next one comes at the next tick; the loop outlives it.
            let run =
                tokio::spawn(async move { jobs::run_due(&ctx, &peers, Timestamp::now()).await });
            match run.await {
                Ok(Ok(r))
                    if r.cancellations.completed
                        + r.lines.expired
                        + r.lines.closed
                        + r.outbox.delivered
                        > 0 =>
                {
                    tracing::info!(?r, node = crate::node::name(), "due work done")
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "due work failed; retrying at the next run")
                }
                Err(e) => {
                    tracing::error!(error = %e, "due work stopped unexpectedly; retrying at the next run")
                }
            }
        }
    });
    out!("simdesk is serving on http://{local}");
    if let Some(info) = demo {
        let db = info.dir.join("simdesk.db");
        out!(
            "demo data: {} (SQLite: {})",
            info.dir.display(),
            db.display()
        );
        out!("API description: http://{local}/openapi.json");
        out!(
            "self-service portal: http://{local}/ (the SMS and e-mails demo travellers are sent from now on, codes included, appear in {})",
            info.dir.join("messages-sent.txt").display()
        );
        if let Some(carrier) = &info.carrier {
            out!("staff: http://{local}/staff as demo-agent or demo-clerk, password {DEMO_STAFF_PASSWORD}");
            out!(
                "store: kiosk http://{local}/kiosk/{carrier}, board http://{local}/board/{carrier}"
            );
        }
        if let (Some(line), Some(token)) = (&info.line, &info.token) {
            out!(
                "try: curl -H 'Authorization: Bearer {token}' http://{local}/api/v1/lines/{}",
                line.replace('+', "%2B")
            );
            out!(
                " or: simdesk --db sqlite://{} --data-dir {} lines show {line}",
                db.display(),
                info.dir.display()
            );
        }
    }
    out!("press Ctrl-C to stop");
    web::serve(listener, state).await?;
    Ok(())
}

fn print_report(r: &LineReport) -> std::io::Result<()> {
    out!("Line       {} ({})", r.iccid, r.kind);
    out!("Number     {}", r.msisdn);
    out!("IMSI       {}", r.imsi);
    if let Some(eid) = &r.eid {
        out!("EID        {eid}");
    }
    out!("Carrier    {}", r.carrier);
    out!("Plan       {} — {}", r.plan, r.plan_name);
    out!("State      {}", r.state);
    if let Some(v) = &r.valid_until_jst {
        out!("Valid to   {v}");
    }
    if let Some(g) = &r.grace_until_jst {
        if Some(g) != r.valid_until_jst.as_ref() {
            out!("Grace to   {g}");
        }
    }
    if !r.balance.is_empty() {
        out!("Balance");
        for b in &r.balance {
            let exp = b
                .expires_at_jst
                .as_deref()
                .map(|e| format!(" until {e}"))
                .unwrap_or_default();
            out!(
                "  {:>8} {:<4} {}{exp}{}",
                b.remaining,
                b.unit,
                b.source,
                if b.live { "" } else { " (expired)" }
            );
        }
    }
    if !r.addons.is_empty() {
        out!("Add-ons");
        for a in &r.addons {
            let state = match a.unbound_at {
                Some(t) => format!("unbound {}", format_jst(t)),
                None => "bound".into(),
            };
            out!(
                "  {:<10} {} ({state}, charge {})",
                a.code,
                format_jst(a.bound_at),
                a.charge
            );
        }
    }
    if let Some(b) = &r.stocked {
        out!(
            "Stocked    {} by {}:{} via {} from {} (batch {}, {} lines) — {}",
            format_jst(b.at),
            b.actor_kind,
            b.actor_id,
            b.channel,
            b.source_name,
            b.id,
            b.line_count,
            b.reason
        );
    }
    out!("History");
    for e in &r.history {
        let change = match (&e.from_state, &e.to_state) {
            (Some(f), Some(t)) => format!("{f} → {t}"),
            _ => e.kind.clone(),
        };
        let detail = if e.detail.is_empty() {
            String::new()
        } else {
            format!(" [{}]", e.detail)
        };
        out!(
            "  {}  {:<28} {}:{} via {} — {}{detail}",
            format_jst(e.at),
            change,
            e.actor_kind,
            e.actor_id,
            e.channel,
            e.reason
        );
    }
    Ok(())
}
