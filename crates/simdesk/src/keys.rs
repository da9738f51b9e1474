//! The secrets simdesk keeps beside its data: the receipt signing key and the key that hashes
//! one-time codes. Neither is ever stored in the database.

use crate::receipts::{ReceiptError, ReceiptSigner};
use sha2::{Digest, Sha256};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {problem}")]
    File { path: String, problem: String },
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
}

pub struct Keys {
    pub receipts: ReceiptSigner,
    code_key: [u8; 32],
}

// Secrets never reach a log line.
impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys { .. }")
    }
}

impl Keys {
    /// Loads the keys from `dir`, creating any that are missing (readable by the owner only).
    pub fn load_or_create(dir: &Path) -> Result<Keys, KeyError> {
        let receipts = ReceiptSigner::load_or_create(&dir.join("receipt-signing.key"))?;
        let code_key = load_or_create_secret(&dir.join("code-hash.key"))?;
        Ok(Keys { receipts, code_key })
    }

    /// Fresh keys held only in memory.
    pub fn ephemeral() -> Keys {
        Keys {
            receipts: ReceiptSigner::generate(),
            code_key: rand::random(),
        }
    }

    /// A keyed hash of a one-time code, bound to the line it was sent for.
    pub fn hash_code(&self, line_id: i64, code: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.code_key);
        h.update(line_id.to_be_bytes());
        h.update(code.as_bytes());
        hex::encode(h.finalize())
    }

    /// A keyed hash naming the subject of an abuse limit (a client address, an identifier, a
    /// username), so the limits table holds no personal data in clear.
    pub fn subject_key(&self, scope: &str, subject: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.code_key);
        h.update(b"abuse-limit\0");
        h.update(scope.as_bytes());
        h.update(b"\0");
        h.update(subject.as_bytes());
        hex::encode(&h.finalize()[..16])
    }
}

fn load_or_create_secret(path: &Path) -> Result<[u8; 32], KeyError> {
    let problem = |p: String| KeyError::File {
        path: path.display().to_string(),
        problem: p,
    };
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
        let bytes = hex::decode(text.trim())
            .map_err(|_| problem("not a hex-encoded key; restore it from backup".into()))?;
        return bytes
            .try_into()
            .map_err(|_| problem("the key must be 32 bytes".into()));
    }
    let key: [u8; 32] = rand::random();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| problem(e.to_string()))?;
    }
    write_private(path, &hex::encode(key)).map_err(|e| problem(e.to_string()))?;
    Ok(key)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}
