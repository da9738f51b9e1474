//! `simdesk lines`: looking at a line and changing it (register, activate, top up, usage, add-ons).

use super::{attribution, Cli, Who};
use crate::services::lines::{self, parse_line_key, LineReport, Usage};
use crate::services::policies::PolicyBook;
use crate::services::ServiceError;
use anyhow::bail;
use clap::Subcommand;
use simdesk_domain::customer::RegistrationForm;
use simdesk_domain::money::Money;
use simdesk_domain::validity::format_jst;

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

pub(super) async fn run(cli: &Cli, cmd: &LinesCommand) -> anyhow::Result<()> {
    let now = cli.now();
    let store = cli.store().await?;
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
        LinesCommand::Activate { line, who } => {
            Some(lines::activate(s, &book, &parse_line_key(line)?, attribution(who, now)).await?)
        }
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
                "  {:>8} {:<4} {} (used {} of {}){exp}{}",
                b.remaining,
                b.unit,
                b.source,
                b.used,
                b.initial,
                if b.live { "" } else { " (expired)" }
            );
        }
    }
    if let Some(until) = &r.usage_counted_until_jst {
        out!("Usage      counted up to {until}");
    }
    match r.data_stopped {
        Some(simdesk_domain::usage::WhenExhausted::Bar) => {
            out!("Data       barred: nothing left to pay for it (a top-up or a data pack lifts it)")
        }
        Some(simdesk_domain::usage::WhenExhausted::Throttle) => {
            out!("Data       slowed: nothing left to pay for it (a top-up or a data pack lifts it)")
        }
        None => {}
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
