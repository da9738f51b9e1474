//! Command-line access to cancellation, the e-wallet, receipts and keys — for agents and scripts.

use super::{attribution, Who};
use crate::app::{load_keys, open_store, App};
use crate::config::Settings;
use crate::receipts::{self, SignedReceipt, VerifyingKeyText};
use crate::services::cancellation::{self, Knowledge, Quote};
use crate::services::lines::{find_line, parse_line_key};
use crate::services::ServiceContext;
use crate::services::{wallet, ServiceError};
use crate::store::RequestRecord;
use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};
use jiff::Timestamp;
use simdesk_domain::ids::{CustomerId, RequestId};
use simdesk_domain::money::Money;
use simdesk_domain::validity::format_jst;
use std::io::Write as _;
use std::path::PathBuf;

macro_rules! out {
    ($($arg:tt)*) => {{
        writeln!(std::io::stdout(), $($arg)*)?;
    }};
}

#[derive(Subcommand)]
pub enum CancelCommand {
    /// Where the line stands before cancelling: validity, balance, add-ons, refund, effective date
    Quote {
        line: String,
        #[arg(long)]
        json: bool,
    },
    /// Submit a cancellation (returns the open one if there is one)
    Submit {
        line: String,
        /// Verify the caller now: `knowledge` with --name and --passport
        #[arg(long, value_enum)]
        verify: Option<Verify>,
        #[arg(long, requires = "verify")]
        name: Option<String>,
        #[arg(long, requires = "verify")]
        passport: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Show a request, its steps, refund and receipt
    Show {
        id: RequestId,
        #[arg(long)]
        json: bool,
    },
    /// Check the caller's name and passport number against the registration
    VerifyKnowledge {
        id: RequestId,
        #[arg(long)]
        name: String,
        #[arg(long)]
        passport: String,
        #[command(flatten)]
        who: Who,
    },
    /// Attach a photo or scan of the identity document (JPEG, PNG or PDF, up to 10 MB)
    UploadDocument {
        id: RequestId,
        file: PathBuf,
        #[command(flatten)]
        who: Who,
    },
    /// Approve the uploaded identity document
    ApproveDocument {
        id: RequestId,
        #[command(flatten)]
        who: Who,
    },
    /// Reject the request (or its document) with a reason the customer can act on
    Reject {
        id: RequestId,
        /// What the customer should do, e.g. "the photo is unreadable; upload a sharper one"
        #[arg(long = "because")]
        because: String,
        #[command(flatten)]
        who: Who,
    },
    /// Withdraw the request before it takes effect; the line stays as it was
    Withdraw {
        id: RequestId,
        #[command(flatten)]
        who: Who,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Verify {
    Knowledge,
}

#[derive(Subcommand)]
pub enum WalletCommand {
    /// Balance and history of a customer's e-wallet (customer id, or a line they hold)
    Show {
        customer: String,
        #[arg(long)]
        json: bool,
    },
    /// Pay wallet money out to a card or bank reference; the same --key pays once
    Payout {
        customer: String,
        amount: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        key: String,
    },
}

#[derive(Subcommand)]
pub enum ReceiptCommand {
    /// Show a receipt
    Show {
        number: String,
        #[arg(long, value_enum, default_value = "text")]
        format: ReceiptFormat,
    },
    /// Verify a receipt file: says valid, or exactly why not
    Verify {
        file: PathBuf,
        /// The public key to check against [default: this installation's, see `simdesk keys show`]
        #[arg(long)]
        key: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ReceiptFormat {
    Json,
    Html,
    Text,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Print the public key that verifies receipts
    Show,
    /// Move every customer's data keys to a new master key. Without --new-key-file, the master
    /// key file in use is replaced (the old one is kept beside it as master.key.retired-ID);
    /// with it, the new key is read from that file (created if missing) for you to deploy.
    /// Safe to run again if interrupted. Restart every node afterwards.
    Rotate {
        #[arg(long)]
        new_key_file: Option<std::path::PathBuf>,
    },
}

pub(super) async fn run_cancel(
    app: &App,
    cmd: &CancelCommand,
    now: Timestamp,
) -> anyhow::Result<()> {
    let ctx = &app.ctx;
    let record = match cmd {
        CancelCommand::Quote { line, json } => {
            let quote = cancellation::quote(ctx, &parse_line_key(line)?, now).await?;
            if *json {
                out!(
                    "{}",
                    serde_json::to_string_pretty(&crate::web::api::quote_body(&quote))?
                );
            } else {
                print_quote(&quote)?;
            }
            return Ok(());
        }
        CancelCommand::Show { id, json } => {
            let record = cancellation::load(ctx, *id).await?;
            if *json {
                let events = ctx.store.request_events(*id).await?;
                out!(
                    "{}",
                    serde_json::to_string_pretty(&request_json(ctx, &record, &events).await?)?
                );
                return Ok(());
            }
            record
        }
        CancelCommand::Submit {
            line,
            verify,
            name,
            passport,
            who,
        } => {
            let knowledge = match verify {
                Some(Verify::Knowledge) => match (name, passport) {
                    (Some(n), Some(p)) => Some(Knowledge {
                        name: n.clone(),
                        passport: p.clone(),
                    }),
                    _ => bail!("--verify knowledge needs --name and --passport"),
                },
                None => None,
            };
            let by = attribution(who, now);
            let submitted =
                cancellation::submit(ctx, &parse_line_key(line)?, who.channel, knowledge, by)
                    .await?;
            if !submitted.created {
                out!("an open request already exists for this line:");
            }
            submitted.request
        }
        CancelCommand::VerifyKnowledge {
            id,
            name,
            passport,
            who,
        } => {
            cancellation::verify_knowledge(ctx, *id, name, passport, attribution(who, now)).await?
        }
        CancelCommand::UploadDocument { id, file, who } => {
            let content =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let doc =
                cancellation::upload_document(ctx, *id, content, attribution(who, now)).await?;
            out!("document {doc} attached; it waits for an agent's review");
            cancellation::load(ctx, *id).await?
        }
        CancelCommand::ApproveDocument { id, who } => {
            cancellation::review_document(ctx, *id, true, None, attribution(who, now)).await?
        }
        CancelCommand::Reject { id, because, who } => {
            let has_pending_document = ctx
                .store
                .documents(*id)
                .await?
                .iter()
                .any(|d| d.review == "pending");
            if has_pending_document {
                cancellation::review_document(ctx, *id, false, Some(because), attribution(who, now))
                    .await?
            } else {
                cancellation::reject(ctx, *id, because, attribution(who, now)).await?
            }
        }
        CancelCommand::Withdraw { id, who } => {
            cancellation::withdraw(ctx, *id, attribution(who, now)).await?
        }
    };
    print_request(ctx, &record).await
}

async fn request_json(
    ctx: &ServiceContext,
    record: &RequestRecord,
    events: &[crate::store::RequestEventRow],
) -> anyhow::Result<serde_json::Value> {
    let line = find_line(
        ctx.store.as_ref(),
        &crate::store::LineKey::Id(record.request.line_id),
    )
    .await?;
    let r = &record.request;
    Ok(serde_json::json!({
        "id": r.id,
        "line": { "iccid": line.iccid.as_str(), "msisdn": line.msisdn.as_str(), "state": line.state.as_str() },
        "carrier": record.carrier,
        "state": r.state.as_str(),
        "channel": r.channel.as_str(),
        "submitted_by": r.submitted.actor.to_string(),
        "submitted_at": r.submitted.at,
        "identity_required": r.required.iter().map(simdesk_domain::cancellation::check_name).collect::<Vec<_>>(),
        "identity_passed": r.passed.iter().map(simdesk_domain::cancellation::check_name).collect::<Vec<_>>(),
        "effective_date": r.effective_date,
        "reject_reason": r.reject_reason,
        "policy_version": r.policy_version,
        "refund": record.refund_detail,
        "receipt": record.receipt_number,
        "completed_at": record.completed_at,
        "history": events,
    }))
}

async fn print_request(ctx: &ServiceContext, record: &RequestRecord) -> anyhow::Result<()> {
    let r = &record.request;
    let line = find_line(ctx.store.as_ref(), &crate::store::LineKey::Id(r.line_id)).await?;
    out!("Request    {} ({})", r.id, r.state);
    out!(
        "Line       {} {} — now {}",
        line.iccid,
        line.msisdn,
        line.state
    );
    out!(
        "Channel    {} by {} at {}",
        r.channel,
        r.submitted.actor,
        format_jst(r.submitted.at)
    );
    let checks = |c: &[simdesk_domain::policy::IdentityCheck]| {
        c.iter()
            .map(simdesk_domain::cancellation::check_name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    out!(
        "Identity   needs [{}], passed [{}]",
        checks(&r.required),
        checks(&r.passed)
    );
    if let Some(d) = r.effective_date {
        out!("Effective  {d} (Japan time)");
    }
    if let Some(reason) = &r.reject_reason {
        out!("Rejected   {reason}");
    }
    if let Some(total) = record.refund_total {
        out!("Refund     {total}");
    }
    if let Some(n) = &record.receipt_number {
        out!("Receipt    {n}  (simdesk receipt show {n})");
    }
    out!("History");
    for e in ctx.store.request_events(r.id).await? {
        out!(
            "  {}  {:<34} {}:{} via {} — {} [{}]",
            format_jst(e.at),
            format!(
                "{} → {}",
                e.from_state.as_deref().unwrap_or("·"),
                e.to_state
            ),
            e.actor_kind,
            e.actor_id,
            e.channel,
            e.reason,
            e.note
        );
    }
    Ok(())
}

fn print_quote(q: &Quote) -> std::io::Result<()> {
    out!(
        "Line       {} {} ({}, plan {})",
        q.line,
        q.msisdn,
        q.carrier,
        q.plan
    );
    out!(
        "State      {}{}",
        q.state,
        if q.valid_now { " — valid now" } else { "" }
    );
    if let Some(v) = &q.valid_until_jst {
        out!("Valid to   {v}");
    }
    out!("Balance    {}, {} MB of data", q.balance, q.data_mb);
    for a in &q.bound_addons {
        out!("Add-on     {} ({}), charge {}", a.code, a.name, a.charge);
    }
    if let Some(n) = &q.time_left_notice {
        out!("Note       {n}");
    }
    match (
        &q.cannot_because,
        q.effective_date_if_submitted_now,
        &q.refund,
    ) {
        (Some(why), _, _) => out!("Cannot cancel: {why}"),
        (None, Some(date), Some(refund)) => {
            out!("If submitted now: effective {date} (Japan time)");
            out!("Refund ({}):", refund.rule);
            for i in &refund.items {
                out!("  {:>12}  {}", i.amount.to_string(), i.label);
            }
            out!("  {:>12}  total", refund.total.to_string());
            for step in &q.what_happens {
                out!("- {step}");
            }
        }
        _ => {}
    }
    for c in &q.identity_needed {
        let checks: Vec<&str> = c
            .checks
            .iter()
            .map(simdesk_domain::cancellation::check_name)
            .collect();
        out!(
            "Identity via {:<8} {}",
            c.channel.as_str(),
            checks.join(" + ")
        );
    }
    Ok(())
}

async fn customer_id(ctx: &ServiceContext, text: &str) -> anyhow::Result<CustomerId> {
    // Customer ids are short numbers; anything longer is an ICCID or a phone number.
    if text.len() <= 12 && !text.starts_with('0') {
        if let Ok(id) = text.parse::<i64>() {
            return Ok(CustomerId::new(id));
        }
    }
    let line = find_line(ctx.store.as_ref(), &parse_line_key(text)?).await?;
    line.holder
        .ok_or_else(|| anyhow::anyhow!("line {text} has no registered holder"))
}

pub(super) async fn run_wallet(
    app: &App,
    cmd: &WalletCommand,
    now: Timestamp,
) -> anyhow::Result<()> {
    let ctx = &app.ctx;
    match cmd {
        WalletCommand::Show { customer, json } => {
            let id = customer_id(ctx, customer).await?;
            let view = wallet::show(ctx.store.as_ref(), id).await?;
            if *json {
                out!("{}", serde_json::to_string_pretty(&view)?);
                return Ok(());
            }
            let balance: Vec<String> = view.balance.iter().map(|m| m.to_string()).collect();
            out!(
                "Wallet of customer {} ({})",
                id,
                cancellation::pseudonym(ctx, id)
            );
            out!(
                "Balance    {}",
                if balance.is_empty() {
                    "nothing".into()
                } else {
                    balance.join(", ")
                }
            );
            for p in &view.history {
                out!(
                    "  {}  {:>12}  {:<14} {}",
                    format_jst(p.at),
                    p.amount.to_string(),
                    p.kind,
                    p.note
                );
            }
        }
        WalletCommand::Payout {
            customer,
            amount,
            to,
            key,
        } => {
            let id = customer_id(ctx, customer).await?;
            let amount = Money::parse(amount).map_err(ServiceError::from)?;
            let payout = wallet::payout(ctx.store.as_ref(), id, amount, to, key, now).await?;
            out!("payout {payout} of {amount} to {to} requested; it is sent by the next job run");
        }
    }
    Ok(())
}

pub(super) async fn run_receipt(settings: &Settings, cmd: &ReceiptCommand) -> anyhow::Result<()> {
    match cmd {
        ReceiptCommand::Show { number, format } => {
            let store = open_store(settings).await?;
            let document = store
                .receipt(number)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("receipt {number}")))?;
            let signed = SignedReceipt::parse_unverified(&document)?;
            match format {
                ReceiptFormat::Json => out!("{}", signed.to_json().trim_end()),
                ReceiptFormat::Html => out!("{}", receipts::render_html(&signed)),
                ReceiptFormat::Text => out!("{}", receipts::render_text(&signed)),
            }
        }
        ReceiptCommand::Verify { file, key } => {
            let document = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let result = match key {
                Some(k) => receipts::verify_with_key_text(&document, k),
                None => receipts::verify(&document, &load_keys(settings)?.receipts.verifying_key()),
            };
            match result {
                Ok(content) => out!(
                    "valid: receipt {} for line {} issued {}",
                    content.number,
                    content.line.msisdn,
                    format_jst(content.issued_at)
                ),
                Err(e) => bail!("not valid: {e}"),
            }
        }
    }
    Ok(())
}

pub(super) fn run_keys(settings: &Settings, cmd: &KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Show => {
            let keys = load_keys(settings)?;
            let text: VerifyingKeyText = keys.receipts.public_key();
            out!("receipt verification key: {text}");
            out!("keys folder: {}", settings.keys_dir().display());
        }
        KeysCommand::Rotate { .. } => unreachable!("rotation runs in keys::rotate"),
    }
    Ok(())
}
