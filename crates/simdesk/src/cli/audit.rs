//! `simdesk audit verify`: walks the audit trail's hash chain and names the first entry that was
//! edited, deleted or moved.

use crate::audit::Verifier;
use crate::config::Settings;
use clap::Subcommand;

macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?;
    }};
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the whole chain and every history row it recorded; exits non-zero on tampering
    Verify {
        #[arg(long)]
        json: bool,
        /// An entry and its hash recorded outside the database earlier (as printed by a previous
        /// verify): the chain must still hold that entry with that hash. A chain rebuilt or cut
        /// by someone with write access verifies on its own, but not against this.
        #[arg(long, value_name = "SEQ:HASH")]
        expect_head: Option<String>,
    },
}

fn anchor_failure(message: String) -> (serde_json::Value, String) {
    (
        serde_json::json!({ "kind": "outside_record_mismatch", "message": message }),
        message,
    )
}

/// Parses `SEQ:HASH` as `simdesk audit verify` prints it.
fn parse_anchor(text: &str) -> anyhow::Result<(i64, String)> {
    let problem = || {
        anyhow::anyhow!(
            "--expect-head {text:?} is not SEQ:HASH (an entry number, a colon and its 64-digit hex hash, as `simdesk audit verify` prints it)"
        )
    };
    let (seq, hash) = text.trim().split_once(':').ok_or_else(problem)?;
    let seq: i64 = seq.parse().map_err(|_| problem())?;
    let hash = hash.to_ascii_lowercase();
    if seq < 1 || hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(problem());
    }
    Ok((seq, hash))
}

pub(super) async fn run_audit(settings: &Settings, cmd: &AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::Verify { json, expect_head } = cmd;
    let anchor = expect_head.as_deref().map(parse_anchor).transpose()?;
    let mut anchored: Option<String> = None;
    let store = crate::app::open_store(settings).await?;
    let mut verifier = Verifier::default();
    let mut after = 0;
    let outcome = 'walk: loop {
        let page = store.audit_page(after, 1000).await?;
        let Some(last) = page.last() else {
            let (seq, hash) = store.audit_head().await?;
            break 'walk verifier.finish(seq, &hash);
        };
        after = last.seq;
        for entry in &page {
            if anchor.as_ref().is_some_and(|(seq, _)| *seq == entry.seq) {
                anchored = Some(entry.hash.clone());
            }
            let source = store.audit_source(&entry.source, entry.source_id).await?;
            if let Err(tamper) = verifier.next(entry, source.as_deref()) {
                break 'walk Err(tamper);
            }
        }
    };
    // A chain that holds together must also still hold the entry recorded outside.
    let outcome = outcome.map_err(|t| {
        let text = t.to_string();
        (serde_json::to_value(&t).unwrap_or_default(), text)
    });
    let outcome = outcome.and_then(|()| match &anchor {
        None => Ok(()),
        Some((seq, hash)) => match &anchored {
            None => Err(anchor_failure(format!(
                "the chain has no entry {seq}, which the record kept outside names: entries were cut from the end or the chain was rebuilt"
            ))),
            Some(found) if found != hash => Err(anchor_failure(format!(
                "entry {seq} now has hash {found}, but the record kept outside says {hash}: the chain was rewritten since"
            ))),
            Some(_) => Ok(()),
        },
    });
    match outcome {
        Ok(()) => {
            let (seq, hash) = store.audit_head().await?;
            if *json {
                out!(
                    "{}",
                    serde_json::json!({ "intact": true, "entries": verifier.checked,
                        "head": { "seq": seq, "hash": hash } })
                );
            } else {
                out!(
                    "the audit trail is intact: {} entries, each chained to the one before",
                    verifier.checked
                );
                out!("head: {seq}:{hash} (keep it outside the database; check later with --expect-head {seq}:{hash})");
            }
            Ok(())
        }
        Err((tamper, text)) => {
            if *json {
                out!(
                    "{}",
                    serde_json::json!({ "intact": false, "entries_checked": verifier.checked, "tamper": tamper })
                );
            }
            anyhow::bail!("the audit trail was tampered with: {text}")
        }
    }
}
