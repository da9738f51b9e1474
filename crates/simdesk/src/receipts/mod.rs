//! Cancellation receipts: what a receipt says, its Ed25519 signature and how to
//! verify it; printing it (HTML page or plain text) lives in [`html`] and [`text`].
//!
//! A receipt is handed to the customer when a cancellation takes effect
//! (DOMAIN.md, "At effect"): it lists what was cancelled, which add-ons were
//! unbound and what was refunded, carries a number, and can be verified.
//!
//! # The document
//!
//! A signed receipt is a JSON document:
//!
//! ```json
//! { "receipt": { …ReceiptContent… }, "key_id": "0123456789abcdef", "signature": "base64…" }
//! ```
//!
//! `signature` is the Ed25519 signature over [`canonical_bytes`] of the
//! `receipt` object, and `key_id` names the key that made it (the first 8
//! bytes of the SHA-256 of the 32-byte public key, in hex). Verification parses
//! the document strictly (no unknown fields anywhere), recomputes the canonical
//! bytes of what it parsed and checks the signature over them, so the layout of
//! the document (indentation, spacing) does not matter but every value does.
//!
//! # The signing key
//!
//! The secret key is 32 bytes kept as 64 hex digits in a file (see
//! [`ReceiptSigner::load_or_create`]). Anyone holding the public key
//! ([`ReceiptSigner::public_key`]) can verify receipts; only the holder of the
//! file can issue them.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey};
use jiff::civil::Date;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use simdesk_domain::ids::{CarrierCode, RequestId};
use simdesk_domain::money::Money;

pub use ed25519_dalek::VerifyingKey;
pub use html::render_html;
pub use text::render_text;

mod html;
mod labels;
mod text;

/// Prefixed to the canonical bytes so that a receipt signature can never be
/// mistaken for (or replayed as) a signature over anything else. Bump the
/// version if the canonical form of [`ReceiptContent`] ever changes.
pub const DOMAIN_TAG: &[u8] = b"simdesk-receipt-v1\n";

/// The command that verifies a receipt file, quoted on every printed receipt.
pub const VERIFY_COMMAND: &str = "simdesk receipt verify FILE";

// ---------------------------------------------------------------------------
// Content
// ---------------------------------------------------------------------------

/// What a receipt says. Field order is the canonical order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptContent {
    /// e.g. "EX-SAKURA-2026-000042" (carrier, JST year, gap-free counter).
    pub number: String,
    pub carrier: CarrierCode,
    pub issued_at: Timestamp,
    /// The JST date the cancellation took effect.
    pub effective_date: Date,
    pub request_id: RequestId,
    /// web | hotline | store | api | operator | system
    pub channel: String,
    pub line: ReceiptLine,
    /// A pseudonym, never a name: e.g. "C-3f9a…".
    pub customer: String,
    pub unbound_addons: Vec<ReceiptAddon>,
    pub refund: ReceiptRefund,
    /// The refund counted the usage reported up to this instant. Absent on receipts issued
    /// before usage was counted, so their canonical form (and signature) is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_counted_until: Option<Timestamp>,
    pub policy_version: i64,
    /// The customer's language tag (ja, en, zh-Hans, zh-Hant, ko); used for rendering.
    pub language: String,
}

/// The line that was cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLine {
    pub iccid: String,
    pub msisdn: String,
    /// The plan's code.
    pub plan: String,
    /// The plan's display name.
    pub plan_name: String,
}

/// An add-on that was unbound when the cancellation took effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptAddon {
    pub code: String,
    pub name: String,
}

/// What was refunded, and where to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptRefund {
    /// The policy's refund rule, e.g. "pro rata minus fee".
    pub rule: String,
    pub items: Vec<ReceiptItem>,
    pub total: Money,
    /// e.g. the customer's e-wallet.
    pub credited_to: String,
}

/// One line of the refund: a balance credited (positive) or a fee (negative).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptItem {
    pub label: String,
    pub amount: Money,
}

/// The bytes that are signed: [`DOMAIN_TAG`] followed by the compact JSON of
/// `content`.
///
/// This is deterministic: `serde_json` writes a derived struct's fields in
/// declaration order (which is therefore the canonical order), with no
/// whitespace, escaping only `"`, `\` and control characters and writing every
/// other character as UTF-8. Integers are written in decimal, money as
/// `{"value":<minor units>,"unit":"JPY"}` (no floats), `issued_at` as an RFC
/// 3339 UTC timestamp ("2026-03-01T01:15:00Z", fractional seconds only when
/// non-zero) and `effective_date` as "YYYY-MM-DD". Parsing a document and
/// computing the canonical bytes of the result therefore gives back the bytes
/// that were signed, whatever the document's layout.
pub fn canonical_bytes(content: &ReceiptContent) -> Vec<u8> {
    let mut bytes = DOMAIN_TAG.to_vec();
    // Writing to a Vec cannot fail, and every field is a string, an integer,
    // a date, a timestamp or a struct of those: serialization cannot fail.
    serde_json::to_writer(&mut bytes, content)
        .expect("a receipt's content always serializes to JSON");
    bytes
}

// ---------------------------------------------------------------------------
// Keys and signing
// ---------------------------------------------------------------------------

/// The short id of a public key: the first 8 bytes of SHA-256 of its 32 bytes, in hex.
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(&digest[..8])
}

/// Errors of the signing key's file.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("receipt signing key {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "receipt signing key {}: {reason}; the file must hold the 32-byte secret key as 64 hex \
         digits (it is never replaced automatically: restore it, or move it away to create a new \
         key, which invalidates nothing already issued but needs the new public key to verify \
         new receipts)",
        path.display()
    )]
    MalformedKey { path: PathBuf, reason: String },
}

/// Issues receipts: holds the Ed25519 signing key.
///
/// `Debug` shows the key id only, never the secret.
pub struct ReceiptSigner {
    key: SigningKey,
}

impl fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiptSigner")
            .field("key_id", &self.key_id())
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl ReceiptSigner {
    /// A new random key from the operating system's generator.
    pub fn generate() -> ReceiptSigner {
        ReceiptSigner {
            key: SigningKey::generate(&mut rand_core::OsRng),
        }
    }

    /// A signer from the 32 bytes of a secret key.
    pub fn from_secret_bytes(secret: &[u8; 32]) -> ReceiptSigner {
        ReceiptSigner {
            key: SigningKey::from_bytes(secret),
        }
    }

    /// Loads the key kept in `path` (64 hex digits, surrounding whitespace
    /// ignored), or, if there is no such file, creates one with a new key
    /// (mode 0600 on unix; missing parent directories are created).
    ///
    /// A file that exists but does not hold a key is an error naming the path;
    /// it is never replaced. Creation never overwrites: if another process
    /// creates the file at the same moment, its key is loaded instead.
    pub fn load_or_create(path: &Path) -> Result<ReceiptSigner, ReceiptError> {
        let io_error = |source| ReceiptError::Io {
            path: path.to_path_buf(),
            source,
        };
        match fs::read(path) {
            Ok(bytes) => return Self::parse_key_file(path, &bytes),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_error(error)),
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(io_error)?;
        }
        let signer = ReceiptSigner::generate();
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = match options.open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                // Someone else created it between our read and our create.
                let bytes = fs::read(path).map_err(io_error)?;
                return Self::parse_key_file(path, &bytes);
            }
            Err(error) => return Err(io_error(error)),
        };
        let mut text = hex::encode(signer.key.to_bytes());
        text.push('\n');
        file.write_all(text.as_bytes()).map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
        Ok(signer)
    }

    fn parse_key_file(path: &Path, bytes: &[u8]) -> Result<ReceiptSigner, ReceiptError> {
        let malformed = |reason: String| ReceiptError::MalformedKey {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::str::from_utf8(bytes)
            .map_err(|_| malformed("the file is not text".to_owned()))?
            .trim();
        if text.is_empty() {
            return Err(malformed("the file is empty".to_owned()));
        }
        if text.len() != 64 {
            return Err(malformed(format!(
                "expected 64 hex digits, found {} characters",
                text.chars().count()
            )));
        }
        let mut secret = [0u8; 32];
        hex::decode_to_slice(text, &mut secret)
            .map_err(|error| malformed(format!("not hex: {error}")))?;
        Ok(ReceiptSigner::from_secret_bytes(&secret))
    }

    /// The public key that verifies this signer's receipts.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The short id of this signer's public key.
    pub fn key_id(&self) -> String {
        key_id(&self.verifying_key())
    }

    /// The public key in printable form, to publish or to pass to `verify`.
    pub fn public_key(&self) -> VerifyingKeyText {
        VerifyingKeyText::new(&self.verifying_key())
    }

    /// Signs `content`.
    pub fn sign(&self, content: &ReceiptContent) -> SignedReceipt {
        let signature = self.key.sign(&canonical_bytes(content));
        SignedReceipt {
            receipt: content.clone(),
            key_id: self.key_id(),
            signature: BASE64.encode(signature.to_bytes()),
        }
    }
}

/// A public key in printable form.
///
/// Displays as `ed25519:<base64 of the 32 bytes> (key id <16 hex digits>)`;
/// [`VerifyingKeyText::parse`] reads that back, as well as the bare
/// `ed25519:<base64>`, bare base64 or 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyingKeyText {
    /// Standard base64 (with padding) of the 32-byte public key.
    pub public_key: String,
    /// First 8 bytes of SHA-256 of the public key, hex.
    pub key_id: String,
}

impl fmt::Display for VerifyingKeyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519:{} (key id {})", self.public_key, self.key_id)
    }
}

impl VerifyingKeyText {
    pub fn new(key: &VerifyingKey) -> VerifyingKeyText {
        VerifyingKeyText {
            public_key: BASE64.encode(key.as_bytes()),
            key_id: key_id(key),
        }
    }

    /// Reads a public key from text (see the type's documentation).
    pub fn parse(text: &str) -> Result<VerifyingKey, VerifyError> {
        let bad = |reason: String| VerifyError::BadPublicKey { reason };
        let text = text.trim();
        let (key_part, claimed_id) = match text.split_once('(') {
            Some((key, rest)) => {
                let id = rest
                    .trim()
                    .strip_suffix(')')
                    .and_then(|inner| inner.trim().strip_prefix("key id"))
                    .map(str::trim)
                    .ok_or_else(
                        || bad("expected \"ed25519:<base64> (key id <hex>)\"".to_owned()),
                    )?;
                (key.trim(), Some(id))
            }
            None => (text, None),
        };
        let key_part = key_part.strip_prefix("ed25519:").unwrap_or(key_part);
        let bytes = if key_part.len() == 64 && key_part.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(key_part).map_err(|error| bad(format!("not hex: {error}")))?
        } else {
            BASE64
                .decode(key_part)
                .map_err(|error| bad(format!("neither 64 hex digits nor base64: {error}")))?
        };
        let bytes: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            bad(format!(
                "an Ed25519 public key has 32 bytes, this has {}",
                bytes.len()
            ))
        })?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| bad("not a valid Ed25519 public key".to_owned()))?;
        if let Some(claimed) = claimed_id {
            let actual = key_id(&key);
            if !claimed.eq_ignore_ascii_case(&actual) {
                return Err(bad(format!(
                    "the key id written beside it ({claimed}) is not this key's ({actual})"
                )));
            }
        }
        Ok(key)
    }
}

// ---------------------------------------------------------------------------
// Signed document and verification
// ---------------------------------------------------------------------------

/// A receipt with its signature: the document handed to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedReceipt {
    pub receipt: ReceiptContent,
    /// Id of the key that signed (see [`key_id`]).
    pub key_id: String,
    /// Standard base64 of the 64-byte Ed25519 signature over
    /// [`canonical_bytes`] of `receipt`.
    pub signature: String,
}

impl SignedReceipt {
    /// The document as pretty-printed JSON with a final newline, for a file.
    pub fn to_json(&self) -> String {
        let mut text =
            serde_json::to_string_pretty(self).expect("a signed receipt always serializes to JSON");
        text.push('\n');
        text
    }

    /// Parses a document WITHOUT checking its signature (use [`verify`] for
    /// that): for showing what a document claims, e.g. which key signed it.
    pub fn parse_unverified(document: &str) -> Result<SignedReceipt, VerifyError> {
        serde_json::from_str(document).map_err(VerifyError::from_json)
    }

    /// Checks the signature of this receipt against `public_key`.
    pub fn verify(&self, public_key: &VerifyingKey) -> Result<(), VerifyError> {
        let bytes = BASE64.decode(self.signature.trim()).map_err(|error| {
            VerifyError::SignatureNotBase64 {
                reason: error.to_string(),
            }
        })?;
        let bytes: [u8; 64] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| VerifyError::SignatureWrongLength { len: bytes.len() })?;
        let expected = key_id(public_key);
        if self.key_id != expected {
            return Err(VerifyError::KeyIdMismatch {
                document: self.key_id.clone(),
                expected,
            });
        }
        let signature = Signature::from_bytes(&bytes);
        public_key
            .verify_strict(&canonical_bytes(&self.receipt), &signature)
            .map_err(|_| VerifyError::SignatureMismatch)
    }
}

/// Why a document is not a valid receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("not JSON: {message} (line {line}, column {column})")]
    NotJson {
        message: String,
        line: usize,
        column: usize,
    },
    #[error("not a receipt: {message} (line {line}, column {column})")]
    NotAReceipt {
        message: String,
        line: usize,
        column: usize,
    },
    #[error(
        "not a receipt: unknown field `{field}` (line {line}, column {column}); a receipt holds \
         only the fields it was signed with"
    )]
    UnknownField {
        field: String,
        line: usize,
        column: usize,
    },
    #[error("the signature is not base64: {reason}")]
    SignatureNotBase64 { reason: String },
    #[error("the signature has {len} bytes; an Ed25519 signature has 64")]
    SignatureWrongLength { len: usize },
    #[error(
        "the receipt was signed with another key: its key id is {document}, the key it is \
         checked against has key id {expected}"
    )]
    KeyIdMismatch { document: String, expected: String },
    #[error("signature does not match the content: the receipt was changed after it was signed")]
    SignatureMismatch,
    #[error("not a usable public key: {reason}")]
    BadPublicKey { reason: String },
}

impl VerifyError {
    fn from_json(error: serde_json::Error) -> VerifyError {
        let (line, column) = (error.line(), error.column());
        let message = strip_position(&error.to_string());
        match error.classify() {
            serde_json::error::Category::Data => match unknown_field(&message) {
                Some(field) => VerifyError::UnknownField {
                    field,
                    line,
                    column,
                },
                None => VerifyError::NotAReceipt {
                    message,
                    line,
                    column,
                },
            },
            serde_json::error::Category::Io
            | serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof => VerifyError::NotJson {
                message,
                line,
                column,
            },
        }
    }
}

/// serde_json appends " at line L column C" to its messages; we report the
/// position in fields of our own.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) if message[at..].contains(" column ") => message[..at].to_owned(),
        _ => message.to_owned(),
    }
}

/// The field named by serde's "unknown field `x`, expected …" message.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let end = rest
        .rfind("`, expected")
        .or_else(|| rest.rfind("`, there are no fields"))?;
    Some(rest[..end].to_owned())
}

/// Parses `document` strictly and checks its signature against `public_key`;
/// returns what the receipt says.
pub fn verify(document: &str, public_key: &VerifyingKey) -> Result<ReceiptContent, VerifyError> {
    let signed = SignedReceipt::parse_unverified(document)?;
    signed.verify(public_key)?;
    Ok(signed.receipt)
}

/// [`verify`] with the public key given as text (see [`VerifyingKeyText::parse`]).
pub fn verify_with_key_text(
    document: &str,
    public_key: &str,
) -> Result<ReceiptContent, VerifyError> {
    let key = VerifyingKeyText::parse(public_key)?;
    verify(document, &key)
}

#[cfg(test)]
mod tests;
