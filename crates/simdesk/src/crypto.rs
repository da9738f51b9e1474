//! Envelope encryption of personal data at rest: a data key per person under the installation's master key, and keyed blind indexes for lookups by equality.
//!
//! Layout of the pieces:
//! - [`MasterKey`] comes from `SIMDESK_MASTER_KEY` or a key file and never reaches the database.
//! - Each person has a [`DataKey`]; the database keeps it only as a [`WrappedKey`] sealed under
//!   the master key. Deleting that wrapped key makes the person's fields unreadable for good.
//! - [`seal`] / [`open`] encrypt one field under a data key, with associated data such as
//!   `customer:42:passport` so a ciphertext cannot be moved to another row or field.
//! - [`blind_index`] gives a keyed hash of a normalized value for equality lookups, under an
//!   [`IndexKey`] kept apart from the master key so master-key rotation leaves indexes valid.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::path::Path;
use zeroize::{Zeroize, Zeroizing};

/// The environment variable that supplies the master key; it takes precedence over the key file.
pub const MASTER_KEY_VAR: &str = "SIMDESK_MASTER_KEY";

/// Version byte at the start of every sealed value.
pub const FORMAT_VERSION: u8 = 1;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Length of 32 bytes in padded standard base64.
const KEY_BASE64_LEN: usize = 44;
/// Shortest possible sealed value: version, nonce and tag around an empty plaintext.
pub const SEALED_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

// Domain labels keep the id hash and the key-wrapping associated data from ever colliding with
// anything else computed from the same bytes.
const MASTER_ID_LABEL: &[u8] = b"simdesk master key id v1\0";
const WRAP_LABEL: &[u8] = b"simdesk wrapped data key v1\0";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// Key material that cannot be used; `origin` is the variable name or file path.
    #[error("{origin} {problem}")]
    KeyMaterial { origin: String, problem: String },
    #[error("decryption failed: wrong key, wrong associated data, or the data was altered")]
    Decrypt,
    #[error(
        "sealed data is {len} bytes, shorter than the {SEALED_OVERHEAD} bytes of version, nonce and tag"
    )]
    Truncated { len: usize },
    #[error("sealed data has format version {0}; this build reads only version {FORMAT_VERSION}")]
    UnknownVersion(u8),
    #[error("wrapped under master key {wrapped_under}, but the loaded master key is {loaded}")]
    MasterKeyMismatch {
        wrapped_under: String,
        loaded: String,
    },
    #[error("{path} already exists; refusing to overwrite a key that existing data may depend on")]
    AlreadyExists { path: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

fn io_error(path: &Path, source: std::io::Error) -> CryptoError {
    CryptoError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn key_problem(origin: &str, problem: String) -> CryptoError {
    CryptoError::KeyMaterial {
        origin: origin.to_string(),
        problem,
    }
}

fn random_key() -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    rand::fill(&mut key);
    key
}

/// The installation's key-encryption key. It only ever wraps data keys.
pub struct MasterKey([u8; KEY_LEN]);

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

// The id is enough to tell keys apart in logs; the bytes must never appear there.
impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id()).finish()
    }
}

impl MasterKey {
    pub fn generate() -> MasterKey {
        MasterKey(random_key())
    }

    /// Parses 32 bytes in padded standard base64; `source_name` (a variable name or file path)
    /// is named in errors so the operator knows which setting to fix.
    pub fn from_base64(text: &str, source_name: &str) -> Result<MasterKey, CryptoError> {
        let text = text.trim();
        let chars = text.chars().count();
        if chars != KEY_BASE64_LEN {
            return Err(key_problem(
                source_name,
                format!(
                    "must be {KEY_LEN} bytes in base64 ({KEY_BASE64_LEN} characters); it has {chars}"
                ),
            ));
        }
        // The decoder's own message quotes the offending byte, which is part of the secret.
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| {
                    key_problem(
                        source_name,
                        format!(
                            "must be {KEY_LEN} bytes in base64 ({KEY_BASE64_LEN} characters); \
                             it is not valid base64"
                        ),
                    )
                })?,
        );
        let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
            key_problem(
                source_name,
                format!(
                    "must be {KEY_LEN} bytes in base64 ({KEY_BASE64_LEN} characters); \
                     it decodes to {} bytes",
                    bytes.len()
                ),
            )
        })?;
        Ok(MasterKey(key))
    }

    /// The variable's value wins when it is set, so deployments that inject secrets through the
    /// environment need no key file; otherwise the file must exist.
    pub fn load(env_var_value: Option<&str>, file: &Path) -> Result<MasterKey, CryptoError> {
        if let Some(text) = env_var_value {
            return MasterKey::from_base64(text, MASTER_KEY_VAR);
        }
        match std::fs::read_to_string(file) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                MasterKey::from_base64(&text, &file.display().to_string())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(key_problem(
                &file.display().to_string(),
                format!(
                    "does not exist and {MASTER_KEY_VAR} is not set; \
                     the master key must come from one of them"
                ),
            )),
            Err(e) => Err(io_error(file, e)),
        }
    }

    /// Generates a key and writes it to `path`, readable by the owner only. An existing file is
    /// never replaced: every data key wrapped under it would become unreadable.
    pub fn create_file(path: &Path) -> Result<MasterKey, CryptoError> {
        let key = MasterKey::generate();
        let mut text = Zeroizing::new(key.to_base64());
        text.push('\n');
        write_private(path, text.as_bytes())?;
        Ok(key)
    }

    /// First 16 hex characters of a labelled SHA-256 of the key, recorded beside each wrapped
    /// key so a mismatch is reported as such instead of as a failed decryption.
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(MASTER_ID_LABEL);
        h.update(self.0);
        let mut id = hex::encode(h.finalize());
        id.truncate(16);
        id
    }

    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }
}

/// One person's key for their personal fields.
pub struct DataKey([u8; KEY_LEN]);

impl Drop for DataKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    pub fn generate() -> DataKey {
        DataKey(random_key())
    }
}

/// A data key sealed under a master key, as stored in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// [`MasterKey::id`] of the key that sealed it.
    pub master_id: String,
    pub sealed: Vec<u8>,
}

// The master id is bound in as well so that editing the id column cannot pass the mismatch
// check and reach the cipher with a key it was not meant for.
fn wrap_aad(master_id: &str, aad: &[u8]) -> Vec<u8> {
    let mut full = Vec::with_capacity(WRAP_LABEL.len() + master_id.len() + 1 + aad.len());
    full.extend_from_slice(WRAP_LABEL);
    full.extend_from_slice(master_id.as_bytes());
    full.push(0);
    full.extend_from_slice(aad);
    full
}

/// Seals `key` under `master`; `aad` should name the owner (e.g. `customer:42`) so a wrapped key
/// cannot be copied onto another person.
pub fn wrap(master: &MasterKey, key: &DataKey, aad: &[u8]) -> WrappedKey {
    let master_id = master.id();
    let sealed = seal_with(&master.0, &key.0, &wrap_aad(&master_id, aad));
    WrappedKey { master_id, sealed }
}

pub fn unwrap(
    master: &MasterKey,
    wrapped: &WrappedKey,
    aad: &[u8],
) -> Result<DataKey, CryptoError> {
    let loaded = master.id();
    if wrapped.master_id != loaded {
        return Err(CryptoError::MasterKeyMismatch {
            wrapped_under: wrapped.master_id.clone(),
            loaded,
        });
    }
    let plain = Zeroizing::new(open_with(
        &master.0,
        &wrapped.sealed,
        &wrap_aad(&wrapped.master_id, aad),
    )?);
    let key: [u8; KEY_LEN] = plain.as_slice().try_into().map_err(|_| {
        key_problem(
            "wrapped data key",
            format!("decrypts to {} bytes, not {KEY_LEN}", plain.len()),
        )
    })?;
    Ok(DataKey(key))
}

/// Re-wraps under `new` for master-key rotation. A key already under `new` is returned as is
/// (after checking it opens), so an interrupted rotation can simply be run again.
pub fn rewrap(
    old: &MasterKey,
    new: &MasterKey,
    wrapped: &WrappedKey,
    aad: &[u8],
) -> Result<WrappedKey, CryptoError> {
    if wrapped.master_id == new.id() {
        unwrap(new, wrapped, aad)?;
        return Ok(wrapped.clone());
    }
    let key = unwrap(old, wrapped, aad)?;
    Ok(wrap(new, &key, aad))
}

/// Encrypts `plaintext` as `version (1) || nonce (24) || ciphertext+tag`. `aad` names the owner
/// and field, e.g. `customer:42:passport`, and must be given again to [`open`].
///
/// The cipher refuses only inputs over 256 GiB; for those the result is empty, which [`open`]
/// rejects, so nothing is ever stored unencrypted.
pub fn seal(key: &DataKey, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    seal_with(&key.0, plaintext, aad)
}

/// Decrypts a value made by [`seal`] with the same key and associated data.
pub fn open(key: &DataKey, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    open_with(&key.0, sealed, aad)
}

fn seal_with(key: &[u8; KEY_LEN], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.into());
    // 24-byte nonces are long enough to draw at random with no practical risk of reuse,
    // which is why XChaCha is used instead of a counter the database would have to keep.
    let nonce: [u8; NONCE_LEN] = rand::random();
    let Ok(ciphertext) = cipher.encrypt(
        (&nonce).into(),
        Payload {
            msg: plaintext,
            aad,
        },
    ) else {
        return Vec::new();
    };
    let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    sealed.push(FORMAT_VERSION);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    sealed
}

fn open_with(key: &[u8; KEY_LEN], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let Some((&version, rest)) = sealed.split_first() else {
        return Err(CryptoError::Truncated { len: 0 });
    };
    if version != FORMAT_VERSION {
        return Err(CryptoError::UnknownVersion(version));
    }
    let Some((nonce, ciphertext)) = rest.split_first_chunk::<NONCE_LEN>() else {
        return Err(CryptoError::Truncated { len: sealed.len() });
    };
    if ciphertext.len() < TAG_LEN {
        return Err(CryptoError::Truncated { len: sealed.len() });
    }
    XChaCha20Poly1305::new(key.into())
        .decrypt(
            nonce.into(),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Decrypt)
}

/// The key for blind indexes.
pub struct IndexKey([u8; KEY_LEN]);

impl Drop for IndexKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for IndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IndexKey(..)")
    }
}

impl IndexKey {
    pub fn generate() -> IndexKey {
        IndexKey(random_key())
    }

    /// Loads the hex-encoded key at `path`, creating it (readable by the owner only) if missing.
    pub fn load_or_create(path: &Path) -> Result<IndexKey, CryptoError> {
        match IndexKey::load(path) {
            Err(CryptoError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            other => return other,
        }
        let key = IndexKey::generate();
        let text = Zeroizing::new(format!("{}\n", hex::encode(key.0)));
        match write_private(path, text.as_bytes()) {
            Ok(()) => Ok(key),
            // Another process created it first; its key is the one every index must use.
            Err(CryptoError::AlreadyExists { .. }) => IndexKey::load(path),
            Err(e) => Err(e),
        }
    }

    fn load(path: &Path) -> Result<IndexKey, CryptoError> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| io_error(path, e))?);
        let origin = path.display().to_string();
        // A replacement key would silently make every stored index unmatchable.
        let restore = "restore it from backup rather than deleting it";
        let bytes = Zeroizing::new(hex::decode(text.trim()).map_err(|_| {
            key_problem(
                &origin,
                format!("must be {KEY_LEN} bytes in hex; it is not valid hex ({restore})"),
            )
        })?);
        let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
            key_problem(
                &origin,
                format!(
                    "must be {KEY_LEN} bytes in hex; it has {} bytes ({restore})",
                    bytes.len()
                ),
            )
        })?;
        Ok(IndexKey(key))
    }
}

/// The form of `value` that the blind index hashes, so that trivially different spellings of
/// the same value match:
/// - `email`: trimmed, lowercased;
/// - `passport`: uppercased, all whitespace and hyphens removed;
/// - `name`: lowercased, runs of whitespace collapsed to one space, trimmed;
/// - any other field: trimmed.
///
/// For `email`, `passport` and `name`, full-width ASCII forms (as typed with a Japanese input
/// method) are first folded to ASCII.
pub fn normalize(field: &str, value: &str) -> String {
    match field {
        "email" => fold_fullwidth(value).trim().to_lowercase(),
        "passport" => fold_fullwidth(value)
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_uppercase(),
        "name" => fold_fullwidth(value)
            .to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        _ => value.trim().to_string(),
    }
}

fn fold_fullwidth(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// Hex HMAC-SHA256 over `field || 0x00 || normalize(field, value)`. The field is part of the
/// input so equal values in different fields do not reveal that they are equal.
pub fn blind_index(key: &IndexKey, field: &str, value: &str) -> String {
    // HMAC zero-pads short keys to the 64-byte block, so padding here gives the standard result
    // while using the infallible constructor.
    let mut block = Zeroizing::new([0u8; 64]);
    block[..KEY_LEN].copy_from_slice(&key.0);
    let mut mac = <Hmac<Sha256> as KeyInit>::new((&*block).into());
    mac.update(field.as_bytes());
    mac.update(&[0]);
    mac.update(normalize(field, value).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Writes a new file readable by the owner only; never replaces an existing one.
fn write_private(path: &Path, contents: &[u8]) -> Result<(), CryptoError> {
    use std::io::Write;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CryptoError::AlreadyExists {
                path: path.display().to_string(),
            }
        } else {
            io_error(path, e)
        }
    })?;
    // The key must be on disk before anything is encrypted under it, or a crash could leave
    // data that no surviving key opens.
    let written = file.write_all(contents).and_then(|()| file.sync_all());
    if let Err(e) = written {
        // A half-written key file would otherwise block the next attempt to create one.
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(io_error(path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
