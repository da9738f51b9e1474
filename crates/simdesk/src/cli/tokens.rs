//! `simdesk tokens`: API tokens for operator systems, shown once and stored hashed.

use super::{admin_actor, Cli};
use crate::services::ServiceError;
use clap::Subcommand;
use simdesk_domain::ids::CarrierCode;
use simdesk_domain::validity::format_jst;

#[derive(Subcommand)]
pub enum TokensCommand {
    /// Create a token for one carrier; it is shown once and stored only hashed
    Create {
        #[arg(long)]
        carrier: CarrierCode,
        /// What the token is for, e.g. the calling system's name
        #[arg(long)]
        name: String,
        /// What the token may do, comma-separated: lines:read, cancellations:read,
        /// cancellations:write, identity:review, wallets:read, payouts:write, receipts:read,
        /// usage:write
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

pub(super) async fn run(cli: &Cli, cmd: &TokensCommand) -> anyhow::Result<()> {
    let now = cli.now();
    let store = cli.store().await?;
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
    Ok(())
}
