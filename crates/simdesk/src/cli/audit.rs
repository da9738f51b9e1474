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
    },
}

pub(super) async fn run_audit(settings: &Settings, cmd: &AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::Verify { json } = cmd;
    let store = super::open_store(settings).await?;
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
            let source = store.audit_source(&entry.source, entry.source_id).await?;
            if let Err(tamper) = verifier.next(entry, source.as_deref()) {
                break 'walk Err(tamper);
            }
        }
    };
    match outcome {
        Ok(()) => {
            if *json {
                out!(
                    "{}",
                    serde_json::json!({ "intact": true, "entries": verifier.checked })
                );
            } else {
                out!(
                    "the audit trail is intact: {} entries, each chained to the one before",
                    verifier.checked
                );
            }
            Ok(())
        }
        Err(tamper) => {
            if *json {
                out!(
                    "{}",
                    serde_json::json!({ "intact": false, "entries_checked": verifier.checked, "tamper": tamper })
                );
            }
            anyhow::bail!("the audit trail was tampered with: {tamper}")
        }
    }
}
