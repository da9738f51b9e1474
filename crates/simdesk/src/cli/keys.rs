//! `simdesk keys rotate`: moves every customer's data keys to a new master key.

use crate::app::load_vault;
use crate::config::{redact_url, Settings};
use crate::crypto::{MasterKey, MASTER_KEY_VAR};
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn load_or_create(path: &Path) -> anyhow::Result<MasterKey> {
    let key = if path.exists() {
        MasterKey::load(None, path)?
    } else {
        MasterKey::create_file(path)?
    };
    Ok(key)
}

/// Re-wraps every data key under a new master key. With `--new-key-file`, the new key is read
/// from (or created in) that file and the operator deploys it; without it, the key file in use is
/// replaced once every data key has moved, and the old one is kept beside it as
/// `master.key.retired-<id>`.
pub(super) async fn rotate(settings: &Settings, new_key_file: Option<&Path>) -> anyhow::Result<()> {
    let from_env = std::env::var(MASTER_KEY_VAR).is_ok_and(|v| !v.is_empty());
    let current = settings.master_key_file();
    let (new_key, new_path, swap): (MasterKey, PathBuf, bool) = match new_key_file {
        Some(path) => (load_or_create(path)?, path.to_path_buf(), false),
        None if from_env => bail!(
            "the master key comes from {MASTER_KEY_VAR}; give --new-key-file PATH for the new key, \
             then put that key in {MASTER_KEY_VAR} on every node"
        ),
        None => {
            let next = PathBuf::from(format!("{}.next", current.display()));
            (load_or_create(&next)?, next, true)
        }
    };
    let loaded = load_vault(settings)?;
    if let Some(created) = loaded.created_master_file {
        let _ = std::fs::remove_file(&created);
        bail!(
            "there is no master key to rotate from: {} does not exist and {MASTER_KEY_VAR} is not set",
            created.display()
        );
    }
    let old_id = loaded.vault.master_id();
    let new_id = new_key.id();
    if old_id == new_id {
        bail!(
            "{} holds the master key already in use ({old_id}); give a new key",
            new_path.display()
        );
    }
    let url = settings.database_url();
    let store = crate::store::open(&url, Arc::new(loaded.vault.rotating_to(new_key)))
        .await
        .with_context(|| format!("opening the database {}", redact_url(&url)))?;
    let moved = store
        .rewrap_data_keys()
        .await
        .context("moving the data keys to the new master key")?;
    out!("moved {moved} data keys from master key {old_id} to {new_id}");
    if swap {
        let retired = PathBuf::from(format!("{}.retired-{old_id}", current.display()));
        std::fs::rename(&current, &retired)
            .with_context(|| format!("keeping the old key as {}", retired.display()))?;
        std::fs::rename(&new_path, &current)
            .with_context(|| format!("putting the new key in {}", current.display()))?;
        out!(
            "{} now holds the new key; the old one is kept as {} (destroy it once backups made before today have expired)",
            current.display(),
            retired.display()
        );
        out!("restart every node so they read the new key");
    } else {
        out!(
            "deploy the key in {} as {MASTER_KEY_VAR} (or master_key_file) on every node and restart them",
            new_path.display()
        );
    }
    Ok(())
}
