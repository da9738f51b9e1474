//! Cancellation receipts: what a receipt says, its Ed25519 signature, how to
//! verify it, and how to print it (HTML page or plain text).
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
use jiff::tz::{self, TimeZone};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use simdesk_domain::money::Money;

pub use ed25519_dalek::VerifyingKey;

/// Prefixed to the canonical bytes so that a receipt signature can never be
/// mistaken for (or replayed as) a signature over anything else. Bump the
/// version if the canonical form of [`ReceiptContent`] ever changes.
pub const DOMAIN_TAG: &[u8] = b"simdesk-receipt-v1\n";

/// The command that verifies a receipt file, quoted on every printed receipt.
pub const VERIFY_COMMAND: &str = "simdesk receipt verify FILE";

/// Japan Standard Time has no daylight saving: a fixed +09:00 needs no tz database.
fn jst() -> TimeZone {
    TimeZone::fixed(tz::offset(9))
}

// ---------------------------------------------------------------------------
// Content
// ---------------------------------------------------------------------------

/// What a receipt says. Field order is the canonical order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptContent {
    /// e.g. "EX-SAKURA-2026-000042" (carrier, JST year, gap-free counter).
    pub number: String,
    pub carrier: String,
    pub issued_at: Timestamp,
    /// The JST date the cancellation took effect.
    pub effective_date: Date,
    pub request_id: i64,
    /// web | hotline | store | api | operator | system
    pub channel: String,
    pub line: ReceiptLine,
    /// A pseudonym, never a name: e.g. "C-3f9a…".
    pub customer: String,
    pub unbound_addons: Vec<ReceiptAddon>,
    pub refund: ReceiptRefund,
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

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

/// Headings and labels of a receipt in one language.
struct Labels {
    /// The language tag these labels are in.
    tag: &'static str,
    title: &'static str,
    number: &'static str,
    carrier: &'static str,
    effective_date: &'static str,
    issued: &'static str,
    request: &'static str,
    channel: &'static str,
    customer: &'static str,
    line: &'static str,
    iccid: &'static str,
    msisdn: &'static str,
    plan: &'static str,
    addons_unbound: &'static str,
    none: &'static str,
    refund: &'static str,
    refund_rule: &'static str,
    refund_items: &'static str,
    total: &'static str,
    credited_to: &'static str,
    policy_version: &'static str,
    signature: &'static str,
    key_id: &'static str,
    /// Sentence before the verify command.
    verify_before: &'static str,
    /// Sentence after the verify command.
    verify_after: &'static str,
}

const EN: Labels = Labels {
    tag: "en",
    title: "Cancellation receipt",
    number: "Receipt number",
    carrier: "Carrier",
    effective_date: "Effective date",
    issued: "Issued",
    request: "Request",
    channel: "Channel",
    customer: "Customer",
    line: "Line",
    iccid: "ICCID",
    msisdn: "Phone number",
    plan: "Plan",
    addons_unbound: "Add-ons unbound",
    none: "none",
    refund: "Refund",
    refund_rule: "Refund rule",
    refund_items: "Refund items",
    total: "Total",
    credited_to: "Credited to",
    policy_version: "Policy version",
    signature: "Signature",
    key_id: "Key id",
    verify_before: "To verify this receipt, run ",
    verify_after: " with the receipt's JSON file.",
};

const JA: Labels = Labels {
    tag: "ja",
    title: "解約証明書",
    number: "証明書番号",
    carrier: "通信事業者",
    effective_date: "解約日",
    issued: "発行日時",
    request: "申請番号",
    channel: "受付窓口",
    customer: "お客様番号",
    line: "回線",
    iccid: "ICCID",
    msisdn: "電話番号",
    plan: "料金プラン",
    addons_unbound: "解除されたオプション",
    none: "なし",
    refund: "返金",
    refund_rule: "返金規定",
    refund_items: "返金明細",
    total: "合計",
    credited_to: "返金先",
    policy_version: "規約バージョン",
    signature: "電子署名",
    key_id: "鍵ID",
    verify_before: "この証明書は JSON ファイルに対して ",
    verify_after: " を実行すると検証できます。",
};

const ZH_HANS: Labels = Labels {
    tag: "zh-Hans",
    title: "注销凭证",
    number: "凭证编号",
    carrier: "运营商",
    effective_date: "生效日期",
    issued: "签发时间",
    request: "申请编号",
    channel: "受理渠道",
    customer: "客户编号",
    line: "线路",
    iccid: "ICCID",
    msisdn: "电话号码",
    plan: "套餐",
    addons_unbound: "已解除的附加服务",
    none: "无",
    refund: "退款",
    refund_rule: "退款规则",
    refund_items: "退款明细",
    total: "合计",
    credited_to: "退款至",
    policy_version: "政策版本",
    signature: "数字签名",
    key_id: "密钥 ID",
    verify_before: "对本凭证的 JSON 文件运行 ",
    verify_after: " 即可验证。",
};

const ZH_HANT: Labels = Labels {
    tag: "zh-Hant",
    title: "註銷憑證",
    number: "憑證編號",
    carrier: "電信業者",
    effective_date: "生效日期",
    issued: "簽發時間",
    request: "申請編號",
    channel: "受理管道",
    customer: "客戶編號",
    line: "線路",
    iccid: "ICCID",
    msisdn: "電話號碼",
    plan: "資費方案",
    addons_unbound: "已解除的附加服務",
    none: "無",
    refund: "退款",
    refund_rule: "退款規則",
    refund_items: "退款明細",
    total: "合計",
    credited_to: "退款至",
    policy_version: "政策版本",
    signature: "數位簽章",
    key_id: "金鑰 ID",
    verify_before: "對本憑證的 JSON 檔案執行 ",
    verify_after: " 即可驗證。",
};

const KO: Labels = Labels {
    tag: "ko",
    title: "해지 영수증",
    number: "영수증 번호",
    carrier: "통신사",
    effective_date: "해지 효력 발생일",
    issued: "발행 일시",
    request: "신청 번호",
    channel: "접수 경로",
    customer: "고객 번호",
    line: "회선",
    iccid: "ICCID",
    msisdn: "전화번호",
    plan: "요금제",
    addons_unbound: "해제된 부가 서비스",
    none: "없음",
    refund: "환불",
    refund_rule: "환불 규정",
    refund_items: "환불 내역",
    total: "합계",
    credited_to: "환불 입금처",
    policy_version: "정책 버전",
    signature: "전자 서명",
    key_id: "키 ID",
    verify_before: "영수증 JSON 파일에 대해 ",
    verify_after: " 명령을 실행하면 검증할 수 있습니다.",
};

/// The labels for a language tag: ja, en, ko, zh-Hans (also zh, zh-CN, zh-SG),
/// zh-Hant (also zh-TW, zh-HK, zh-MO); case and `_` for `-` do not matter;
/// anything else gets English.
fn labels_for(tag: &str) -> &'static Labels {
    let lower = tag.trim().to_ascii_lowercase().replace('_', "-");
    let mut subtags = lower.split('-');
    match subtags.next().unwrap_or("") {
        "ja" => &JA,
        "ko" => &KO,
        "zh" => {
            let traditional = subtags.any(|s| matches!(s, "hant" | "tw" | "hk" | "mo"));
            if traditional {
                &ZH_HANT
            } else {
                &ZH_HANS
            }
        }
        _ => &EN,
    }
}

/// Escapes text for HTML element content and quoted attribute values.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Makes a value safe to print on a terminal: control characters (which could
/// move the cursor or change colours) are shown escaped.
fn clean_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The issue time in Japan: "2026-03-01 10:15:00 JST".
fn issued_jst(at: Timestamp) -> String {
    at.to_zoned(jst())
        .strftime("%Y-%m-%d %H:%M:%S JST")
        .to_string()
}

fn plan_text(line: &ReceiptLine) -> String {
    if line.plan_name.is_empty() || line.plan_name == line.plan {
        line.plan.clone()
    } else {
        format!("{} ({})", line.plan_name, line.plan)
    }
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Hiragino Sans','Noto Sans CJK JP','Noto Sans',sans-serif;\
color:#111;background:#f4f4f4;margin:0;padding:2rem 1rem}\
main{max-width:42rem;margin:0 auto;background:#fff;padding:2rem 2.5rem;border:1px solid #ccc}\
h1{font-size:1.6rem;margin:0 0 .25rem}\
h2{font-size:1.1rem;margin:1.75rem 0 .5rem;border-bottom:1px solid #ccc;padding-bottom:.25rem}\
.number{font-family:ui-monospace,Menlo,Consolas,monospace;color:#444;margin:0 0 1rem}\
table{border-collapse:collapse;width:100%}\
th,td{text-align:left;vertical-align:top;padding:.3rem .5rem .3rem 0}\
th{font-weight:600;width:40%;color:#333}\
td.amount,th.amount{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}\
tr.total th,tr.total td{border-top:2px solid #111;font-weight:700}\
ul{margin:.25rem 0;padding-left:1.25rem}\
footer{margin-top:2rem;padding-top:1rem;border-top:1px dashed #999;font-size:.8rem;color:#444}\
.sig{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}\
code{font-family:ui-monospace,Menlo,Consolas,monospace}\
@media print{body{background:#fff;padding:0}main{border:none;max-width:none;padding:0}}";

/// A standalone, printable HTML page of the receipt, labelled in the
/// receipt's language. Every value is HTML-escaped.
pub fn render_html(signed: &SignedReceipt) -> String {
    let r = &signed.receipt;
    let l = labels_for(&r.language);
    let e = escape_html;
    let mut h = String::with_capacity(4096);
    let row = |h: &mut String, label: &str, value: &str| {
        h.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>\n",
            e(label),
            e(value)
        ));
    };

    h.push_str("<!DOCTYPE html>\n");
    h.push_str(&format!("<html lang=\"{}\">\n<head>\n", e(l.tag)));
    h.push_str("<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str(&format!("<title>{} {}</title>\n", e(l.title), e(&r.number)));
    h.push_str(&format!(
        "<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
    ));
    h.push_str(&format!("<h1>{}</h1>\n", e(l.title)));
    h.push_str(&format!("<p class=\"number\">{}</p>\n", e(&r.number)));

    h.push_str("<table class=\"facts\">\n");
    row(&mut h, l.number, &r.number);
    row(&mut h, l.carrier, &r.carrier);
    row(&mut h, l.effective_date, &r.effective_date.to_string());
    row(&mut h, l.issued, &issued_jst(r.issued_at));
    row(&mut h, l.request, &r.request_id.to_string());
    row(&mut h, l.channel, &r.channel);
    row(&mut h, l.customer, &r.customer);
    row(&mut h, l.policy_version, &r.policy_version.to_string());
    h.push_str("</table>\n");

    h.push_str(&format!("<h2>{}</h2>\n<table class=\"line\">\n", e(l.line)));
    row(&mut h, l.iccid, &r.line.iccid);
    row(&mut h, l.msisdn, &r.line.msisdn);
    row(&mut h, l.plan, &plan_text(&r.line));
    h.push_str("</table>\n");

    h.push_str(&format!("<h2>{}</h2>\n", e(l.addons_unbound)));
    if r.unbound_addons.is_empty() {
        h.push_str(&format!("<p>{}</p>\n", e(l.none)));
    } else {
        h.push_str("<ul class=\"addons\">\n");
        for addon in &r.unbound_addons {
            h.push_str(&format!(
                "<li>{} <code>{}</code></li>\n",
                e(&addon.name),
                e(&addon.code)
            ));
        }
        h.push_str("</ul>\n");
    }

    h.push_str(&format!(
        "<h2>{}</h2>\n<table class=\"refund\">\n",
        e(l.refund)
    ));
    row(&mut h, l.refund_rule, &r.refund.rule);
    h.push_str("</table>\n");
    h.push_str(&format!(
        "<h3>{}</h3>\n<table class=\"items\">\n",
        e(l.refund_items)
    ));
    if r.refund.items.is_empty() {
        h.push_str(&format!("<tr><td colspan=\"2\">{}</td></tr>\n", e(l.none)));
    }
    for item in &r.refund.items {
        h.push_str(&format!(
            "<tr><td>{}</td><td class=\"amount\">{}</td></tr>\n",
            e(&item.label),
            e(&item.amount.to_string())
        ));
    }
    h.push_str(&format!(
        "<tr class=\"total\"><th>{}</th><td class=\"amount\">{}</td></tr>\n</table>\n",
        e(l.total),
        e(&r.refund.total.to_string())
    ));
    h.push_str("<table class=\"credit\">\n");
    row(&mut h, l.credited_to, &r.refund.credited_to);
    h.push_str("</table>\n");

    h.push_str("<footer>\n");
    h.push_str(&format!(
        "<p>{}: <span class=\"sig\">{}</span></p>\n",
        e(l.key_id),
        e(&signed.key_id)
    ));
    h.push_str(&format!(
        "<p>{}: <span class=\"sig\">{}</span></p>\n",
        e(l.signature),
        e(&signed.signature)
    ));
    h.push_str(&format!(
        "<p>{}<code>{}</code>{}</p>\n",
        e(l.verify_before),
        e(VERIFY_COMMAND),
        e(l.verify_after)
    ));
    h.push_str("</footer>\n</main>\n</body>\n</html>\n");
    h
}

/// The receipt as plain text for a terminal, labelled in the receipt's
/// language. Control characters in values are shown escaped.
pub fn render_text(signed: &SignedReceipt) -> String {
    let r = &signed.receipt;
    let l = labels_for(&r.language);
    let c = clean_text;
    let mut t = String::with_capacity(2048);
    let field = |t: &mut String, label: &str, value: &str| {
        t.push_str(&format!("{label}: {}\n", c(value)));
    };

    t.push_str(l.title);
    t.push('\n');
    t.push_str(&"=".repeat(40));
    t.push('\n');
    field(&mut t, l.number, &r.number);
    field(&mut t, l.carrier, &r.carrier);
    field(&mut t, l.effective_date, &r.effective_date.to_string());
    field(&mut t, l.issued, &issued_jst(r.issued_at));
    field(&mut t, l.request, &r.request_id.to_string());
    field(&mut t, l.channel, &r.channel);
    field(&mut t, l.customer, &r.customer);
    field(&mut t, l.policy_version, &r.policy_version.to_string());

    t.push_str(&format!("\n{}\n", l.line));
    field(&mut t, &format!("  {}", l.iccid), &r.line.iccid);
    field(&mut t, &format!("  {}", l.msisdn), &r.line.msisdn);
    field(&mut t, &format!("  {}", l.plan), &plan_text(&r.line));

    t.push_str(&format!("\n{}\n", l.addons_unbound));
    if r.unbound_addons.is_empty() {
        t.push_str(&format!("  {}\n", l.none));
    }
    for addon in &r.unbound_addons {
        t.push_str(&format!("  - {} [{}]\n", c(&addon.name), c(&addon.code)));
    }

    t.push_str(&format!("\n{}\n", l.refund));
    field(&mut t, &format!("  {}", l.refund_rule), &r.refund.rule);
    t.push_str(&format!("  {}\n", l.refund_items));
    if r.refund.items.is_empty() {
        t.push_str(&format!("    {}\n", l.none));
    }
    for item in &r.refund.items {
        t.push_str(&format!("    {}: {}\n", c(&item.label), item.amount));
    }
    t.push_str(&format!("  {}: {}\n", l.total, r.refund.total));
    field(
        &mut t,
        &format!("  {}", l.credited_to),
        &r.refund.credited_to,
    );

    t.push('\n');
    t.push_str(&"-".repeat(40));
    t.push('\n');
    field(&mut t, l.key_id, &signed.key_id);
    field(&mut t, l.signature, &signed.signature);
    t.push_str(&format!(
        "{}{}{}\n",
        l.verify_before, VERIFY_COMMAND, l.verify_after
    ));
    t
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use simdesk_domain::money::Currency;

    fn yen(minor: i64) -> Money {
        Money::new(minor, Currency::Jpy)
    }

    fn sample() -> ReceiptContent {
        ReceiptContent {
            number: "EX-SAKURA-2026-000042".to_owned(),
            carrier: "sakura".to_owned(),
            issued_at: "2026-03-02T01:15:30Z".parse().unwrap(),
            effective_date: jiff::civil::date(2026, 3, 2),
            request_id: 4711,
            channel: "web".to_owned(),
            line: ReceiptLine {
                iccid: "8981100000000000018".to_owned(),
                msisdn: "+818012345678".to_owned(),
                plan: "TRAVEL-30D-20GB".to_owned(),
                plan_name: "トラベル 30日 20GB".to_owned(),
            },
            customer: "C-3f9a1c07".to_owned(),
            unbound_addons: vec![
                ReceiptAddon {
                    code: "VOICE-30".to_owned(),
                    name: "Voice 30 min".to_owned(),
                },
                ReceiptAddon {
                    code: "ROAM-KR".to_owned(),
                    name: "韓国ローミング".to_owned(),
                },
            ],
            refund: ReceiptRefund {
                rule: "pro rata minus fee".to_owned(),
                items: vec![
                    ReceiptItem {
                        label: "Unused days (18 of 30)".to_owned(),
                        amount: yen(2_400),
                    },
                    ReceiptItem {
                        label: "Cancellation fee".to_owned(),
                        amount: yen(-1_200),
                    },
                ],
                total: yen(1_200),
                credited_to: "e-wallet W-000981".to_owned(),
            },
            policy_version: 3,
            language: "ja".to_owned(),
        }
    }

    fn fixed_signer(seed: u8) -> ReceiptSigner {
        ReceiptSigner::from_secret_bytes(&[seed; 32])
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let signer = ReceiptSigner::generate();
        let content = sample();
        let signed = signer.sign(&content);
        assert_eq!(signed.key_id, signer.key_id());
        assert_eq!(signed.key_id.len(), 16);
        let document = signed.to_json();
        assert_eq!(
            verify(&document, &signer.verifying_key()),
            Ok(content.clone())
        );
        // Compact documents verify too: layout does not matter.
        let compact = serde_json::to_string(&signed).unwrap();
        assert_eq!(
            verify(&compact, &signer.verifying_key()),
            Ok(content.clone())
        );
        // And with the key given as text, in each accepted form.
        let text = signer.public_key();
        let vk = signer.verifying_key();
        for form in [
            text.to_string(),
            format!("ed25519:{}", text.public_key),
            text.public_key.clone(),
            hex::encode(vk.as_bytes()),
        ] {
            assert_eq!(
                verify_with_key_text(&document, &form),
                Ok(content.clone()),
                "{form}"
            );
        }
    }

    /// Byte range of the value of the top-level "receipt" member of a document.
    fn receipt_range(document: &str) -> std::ops::Range<usize> {
        let key = "\"receipt\":";
        let start = document.find(key).unwrap() + key.len();
        let open = start + document[start..].find('{').unwrap();
        let bytes = document.as_bytes();
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        for (i, &b) in bytes.iter().enumerate().skip(open) {
            if in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return open..i + 1;
                    }
                }
                _ => {}
            }
        }
        panic!("unbalanced receipt object");
    }

    #[test]
    fn any_single_character_edit_of_the_receipt_fails_verification() {
        let signer = fixed_signer(7);
        let content = sample();
        let key = signer.verifying_key();
        let signed = signer.sign(&content);
        for document in [signed.to_json(), serde_json::to_string(&signed).unwrap()] {
            let range = receipt_range(&document);
            assert!(document[range.clone()].starts_with('{'));
            assert!(document[range.clone()].ends_with('}'));
            let (mut edits, mut mismatches, mut parse_errors, mut same) = (0, 0, 0, 0);
            for (at, original) in document[range.clone()].char_indices() {
                let at = range.start + at;
                for replacement in ['x', 'A', '7', ' ', '"', '}', '-'] {
                    if replacement == original {
                        continue;
                    }
                    let mut edited = String::with_capacity(document.len());
                    edited.push_str(&document[..at]);
                    edited.push(replacement);
                    edited.push_str(&document[at + original.len_utf8()..]);
                    edits += 1;
                    match verify(&edited, &key) {
                        Ok(parsed) => {
                            // Only layout edits may parse to the same content:
                            // a newline for a space, or RFC 3339's 'T' for a space.
                            assert!(
                                (original.is_whitespace() || original == 'T') && replacement == ' ',
                                "edit at byte {at} ({original:?} -> {replacement:?}) verified"
                            );
                            assert_eq!(
                                parsed, content,
                                "edit at byte {at} ({original:?} -> {replacement:?}) verified \
                                 with changed content"
                            );
                            same += 1;
                        }
                        Err(VerifyError::SignatureMismatch) => mismatches += 1,
                        Err(
                            VerifyError::NotJson { .. }
                            | VerifyError::NotAReceipt { .. }
                            | VerifyError::UnknownField { .. },
                        ) => parse_errors += 1,
                        Err(other) => panic!(
                            "edit at byte {at} ({original:?} -> {replacement:?}) failed for an \
                             unexpected reason: {other}"
                        ),
                    }
                }
            }
            assert!(edits > 1000, "{edits}");
            assert!(mismatches > 100, "{mismatches}");
            assert!(parse_errors > 100, "{parse_errors}");
            // The compact document has no layout to edit but the timestamp's 'T'.
            assert!(same <= document.matches('\n').count() + 1, "{same}");
        }
    }

    #[test]
    fn every_field_edit_is_a_signature_mismatch() {
        let signer = fixed_signer(1);
        let key = signer.verifying_key();
        let signed = signer.sign(&sample());
        let edits: Vec<fn(&mut ReceiptContent)> = vec![
            |c| c.number.push('3'),
            |c| c.carrier = "ume".to_owned(),
            |c| c.issued_at += jiff::SignedDuration::from_nanos(1),
            |c| c.effective_date = jiff::civil::date(2026, 3, 3),
            |c| c.request_id += 1,
            |c| c.channel = "store".to_owned(),
            |c| c.line.iccid = "8981100000000000026".to_owned(),
            |c| c.line.msisdn = "+818012345679".to_owned(),
            |c| c.line.plan = "TRAVEL-7D".to_owned(),
            |c| c.line.plan_name = "Travel".to_owned(),
            |c| c.customer = "C-00000000".to_owned(),
            |c| {
                c.unbound_addons.pop();
            },
            |c| c.unbound_addons.reverse(),
            |c| c.unbound_addons[0].name = "Voice 60 min".to_owned(),
            |c| c.refund.rule = "full".to_owned(),
            |c| c.refund.items[0].amount = yen(24_000),
            |c| c.refund.items[1].label = "Fee".to_owned(),
            |c| c.refund.total = yen(12_000),
            |c| c.refund.total = Money::new(1_200, Currency::Usd),
            |c| c.refund.credited_to = "e-wallet W-666".to_owned(),
            |c| c.policy_version = 4,
            |c| c.language = "en".to_owned(),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut changed = signed.clone();
            edit(&mut changed.receipt);
            assert_ne!(changed.receipt, signed.receipt, "edit {i} changed nothing");
            let error = verify(&changed.to_json(), &key).unwrap_err();
            assert_eq!(error, VerifyError::SignatureMismatch, "edit {i}");
            assert_eq!(
                error.to_string(),
                "signature does not match the content: the receipt was changed after it was signed"
            );
        }
    }

    #[test]
    fn another_key_fails_with_the_key_id_reason() {
        let signed = fixed_signer(1).sign(&sample());
        let other = fixed_signer(2);
        let error = verify(&signed.to_json(), &other.verifying_key()).unwrap_err();
        assert_eq!(
            error,
            VerifyError::KeyIdMismatch {
                document: signed.key_id.clone(),
                expected: other.key_id(),
            }
        );
        assert!(
            error.to_string().contains("signed with another key"),
            "{error}"
        );

        // Claiming the other key's id does not help: the signature is still wrong.
        let mut forged = signed.clone();
        forged.key_id = other.key_id();
        assert_eq!(
            verify(&forged.to_json(), &other.verifying_key()),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn malformed_documents_say_why() {
        let signer = fixed_signer(3);
        let key = signer.verifying_key();
        let signed = signer.sign(&sample());

        match verify("", &key) {
            Err(VerifyError::NotJson { .. }) => {}
            other => panic!("{other:?}"),
        }
        match verify("{\"receipt\": {", &key) {
            Err(VerifyError::NotJson { line: 1, .. }) => {}
            other => panic!("{other:?}"),
        }
        match verify("[1, 2]", &key) {
            Err(error @ VerifyError::NotAReceipt { .. }) => {
                assert!(error.to_string().starts_with("not a receipt: "), "{error}");
                assert!(error.to_string().contains("line 1"), "{error}");
            }
            other => panic!("{other:?}"),
        }

        let mut value = serde_json::to_value(&signed).unwrap();
        value["receipt"]["line"]["colour"] = "red".into();
        match verify(&serde_json::to_string_pretty(&value).unwrap(), &key) {
            Err(VerifyError::UnknownField { field, line, .. }) => {
                assert_eq!(field, "colour");
                assert!(line > 1);
            }
            other => panic!("{other:?}"),
        }

        let mut value = serde_json::to_value(&signed).unwrap();
        value["note"] = "hi".into();
        match verify(&value.to_string(), &key) {
            Err(VerifyError::UnknownField { field, .. }) => assert_eq!(field, "note"),
            other => panic!("{other:?}"),
        }

        let mut value = serde_json::to_value(&signed).unwrap();
        value["receipt"].as_object_mut().unwrap().remove("customer");
        match verify(&value.to_string(), &key) {
            Err(VerifyError::NotAReceipt { message, .. }) => {
                assert!(message.contains("missing field `customer`"), "{message}");
            }
            other => panic!("{other:?}"),
        }

        let mut value = serde_json::to_value(&signed).unwrap();
        value["receipt"]["refund"]["total"]["value"] = 1200.5.into();
        assert!(matches!(
            verify(&value.to_string(), &key),
            Err(VerifyError::NotAReceipt { .. })
        ));

        let mut bad = signed.clone();
        bad.signature = "not base64!".to_owned();
        assert!(matches!(
            verify(&bad.to_json(), &key),
            Err(VerifyError::SignatureNotBase64 { .. })
        ));

        bad.signature = BASE64.encode([0u8; 63]);
        assert_eq!(
            verify(&bad.to_json(), &key),
            Err(VerifyError::SignatureWrongLength { len: 63 })
        );

        bad.signature = BASE64.encode([0u8; 64]);
        assert_eq!(
            verify(&bad.to_json(), &key),
            Err(VerifyError::SignatureMismatch)
        );

        assert!(matches!(
            verify_with_key_text(&signed.to_json(), "ed25519:abc"),
            Err(VerifyError::BadPublicKey { .. })
        ));
        let wrong_id = format!(
            "ed25519:{} (key id 0000000000000000)",
            signer.public_key().public_key
        );
        assert!(matches!(
            verify_with_key_text(&signed.to_json(), &wrong_id),
            Err(VerifyError::BadPublicKey { .. })
        ));
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let key = fixed_signer(4).verifying_key();
        let document = fixed_signer(4).sign(&sample()).to_json();
        let inputs = [
            "null",
            "{}",
            "\"receipt\"",
            "{\"receipt\": null, \"key_id\": 1, \"signature\": []}",
            "{\"receipt\": {}}",
            "\u{0}\u{1}\u{7f}",
            "{\"receipt\":{\"number\":\"\\ud800\"}}",
            "9999999999999999999999999999",
        ];
        for input in inputs {
            assert!(verify(input, &key).is_err(), "{input}");
        }
        // Every proper prefix of a valid document.
        let document = document.trim_end();
        for end in (0..document.len()).filter(|&i| document.is_char_boundary(i)) {
            assert!(verify(&document[..end], &key).is_err());
        }
        for text in [
            "",
            "(",
            "ed25519:",
            "(key id)",
            "ed25519:AAAA (key id",
            "ｘ",
        ] {
            assert!(VerifyingKeyText::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn canonical_bytes_are_stable() {
        let content = sample();
        let bytes = canonical_bytes(&content);
        assert!(bytes.starts_with(DOMAIN_TAG));
        assert_eq!(bytes, canonical_bytes(&content.clone()));

        // Serialize → deserialize → canonical gives the same bytes, compact or pretty.
        for text in [
            serde_json::to_string(&content).unwrap(),
            serde_json::to_string_pretty(&content).unwrap(),
        ] {
            let back: ReceiptContent = serde_json::from_str(&text).unwrap();
            assert_eq!(back, content);
            assert_eq!(canonical_bytes(&back), bytes);
        }

        // The exact form, pinned: changing it invalidates every issued receipt.
        let json = std::str::from_utf8(&bytes[DOMAIN_TAG.len()..]).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"number":"EX-SAKURA-2026-000042","carrier":"sakura","#,
                r#""issued_at":"2026-03-02T01:15:30Z","effective_date":"2026-03-02","#,
                r#""request_id":4711,"channel":"web","line":{"iccid":"8981100000000000018","#,
                r#""msisdn":"+818012345678","plan":"TRAVEL-30D-20GB","#,
                r#""plan_name":"トラベル 30日 20GB"},"customer":"C-3f9a1c07","#,
                r#""unbound_addons":[{"code":"VOICE-30","name":"Voice 30 min"},"#,
                r#"{"code":"ROAM-KR","name":"韓国ローミング"}],"refund":{"rule":"pro rata minus fee","#,
                r#""items":[{"label":"Unused days (18 of 30)","amount":{"value":2400,"unit":"JPY"}},"#,
                r#"{"label":"Cancellation fee","amount":{"value":-1200,"unit":"JPY"}}],"#,
                r#""total":{"value":1200,"unit":"JPY"},"credited_to":"e-wallet W-000981"},"#,
                r#""policy_version":3,"language":"ja"}"#
            )
        );

        // The same timestamp written another way parses to the same content.
        let mut value = serde_json::to_value(&content).unwrap();
        value["issued_at"] = "2026-03-02T10:15:30+09:00".into();
        let back: ReceiptContent = serde_json::from_value(value).unwrap();
        assert_eq!(canonical_bytes(&back), bytes);

        // Fractional seconds survive the round trip.
        let mut precise = content.clone();
        precise.issued_at = "2026-03-02T01:15:30.123456789Z".parse().unwrap();
        let back: ReceiptContent =
            serde_json::from_slice(&canonical_bytes(&precise)[DOMAIN_TAG.len()..]).unwrap();
        assert_eq!(back, precise);
        assert_ne!(canonical_bytes(&precise), bytes);

        // Field boundaries cannot be shifted: moving text between fields changes the bytes.
        let mut a = content.clone();
        a.line.plan = "AB".to_owned();
        a.line.plan_name = "C".to_owned();
        let mut b = content.clone();
        b.line.plan = "A".to_owned();
        b.line.plan_name = "BC".to_owned();
        assert_ne!(canonical_bytes(&a), canonical_bytes(&b));

        // Signatures are deterministic (Ed25519): same key, same content, same signature.
        let signer = fixed_signer(9);
        assert_eq!(signer.sign(&content), signer.sign(&content));
    }

    #[test]
    fn html_escapes_every_value() {
        let mut content = sample();
        content.line.plan_name = "<script>alert('x')</script>".to_owned();
        content.customer = "\"><img src=x onerror=alert(1)>".to_owned();
        content.refund.items[0].label = "A & B".to_owned();
        content.language = "en\"><script>".to_owned();
        let html = render_html(&fixed_signer(5).sign(&content));
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("A &amp; B"));
        assert!(html.contains("<html lang=\"en\">"));
    }

    #[test]
    fn html_shows_the_receipt() {
        let signed = fixed_signer(6).sign(&sample());
        let html = render_html(&signed);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.trim_end().ends_with("</html>"));
        for needle in [
            "<html lang=\"ja\">",
            "解約証明書",
            "EX-SAKURA-2026-000042",
            "2026-03-02",
            "2026-03-02 10:15:30 JST",
            "8981100000000000018",
            "+818012345678",
            "トラベル 30日 20GB (TRAVEL-30D-20GB)",
            "韓国ローミング",
            "2,400 JPY",
            "-1,200 JPY",
            "1,200 JPY",
            "e-wallet W-000981",
            "simdesk receipt verify FILE",
            signed.key_id.as_str(),
            signed.signature.as_str(),
        ] {
            assert!(html.contains(needle), "missing {needle}");
        }
    }

    #[test]
    fn every_language_renders_its_title() {
        let cases = [
            ("ja", "解約証明書"),
            ("en", "Cancellation receipt"),
            ("zh-Hans", "注销凭证"),
            ("zh-Hant", "註銷憑證"),
            ("ko", "해지 영수증"),
            ("ja-JP", "解約証明書"),
            ("zh-TW", "註銷憑證"),
            ("zh_hant_HK", "註銷憑證"),
            ("zh-CN", "注销凭证"),
            ("zh", "注销凭证"),
            ("fr", "Cancellation receipt"),
            ("", "Cancellation receipt"),
        ];
        let signer = fixed_signer(8);
        for (tag, title) in cases {
            let mut content = sample();
            content.language = tag.to_owned();
            let signed = signer.sign(&content);
            let html = render_html(&signed);
            assert!(html.contains(&format!("<h1>{title}</h1>")), "{tag}");
            assert!(html.contains(&format!("<title>{title} ")), "{tag}");
            let text = render_text(&signed);
            assert!(text.starts_with(title), "{tag}: {text}");
            assert!(text.contains("simdesk receipt verify FILE"), "{tag}");
        }
        // Every label set is complete (no empty label).
        for labels in [&EN, &JA, &ZH_HANS, &ZH_HANT, &KO] {
            for label in [
                labels.title,
                labels.number,
                labels.effective_date,
                labels.line,
                labels.plan,
                labels.addons_unbound,
                labels.refund_items,
                labels.total,
                labels.credited_to,
                labels.issued,
                labels.signature,
                labels.key_id,
            ] {
                assert!(!label.is_empty(), "{}", labels.tag);
            }
        }
    }

    #[test]
    fn text_shows_the_receipt_and_neutralises_control_characters() {
        let mut content = sample();
        content.language = "en".to_owned();
        content.unbound_addons.clear();
        content.line.plan_name = "Evil\u{1b}[2J plan".to_owned();
        let signed = fixed_signer(6).sign(&content);
        let text = render_text(&signed);
        assert!(!text.contains('\u{1b}'));
        assert!(text.contains("Evil\\u{1b}[2J plan"));
        for needle in [
            "Cancellation receipt",
            "Receipt number: EX-SAKURA-2026-000042",
            "Effective date: 2026-03-02",
            "Issued: 2026-03-02 10:15:30 JST",
            "Add-ons unbound\n  none",
            "Unused days (18 of 30): 2,400 JPY",
            "Cancellation fee: -1,200 JPY",
            "Total: 1,200 JPY",
            "Credited to: e-wallet W-000981",
            signed.signature.as_str(),
        ] {
            assert!(text.contains(needle), "missing {needle}:\n{text}");
        }
    }

    #[test]
    fn load_or_create_creates_then_loads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("receipt.key");
        let created = ReceiptSigner::load_or_create(&path).unwrap();
        assert!(path.exists());
        let loaded = ReceiptSigner::load_or_create(&path).unwrap();
        assert_eq!(created.public_key(), loaded.public_key());
        assert_eq!(created.verifying_key(), loaded.verifying_key());

        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim().len(), 64);
        assert!(text.trim().bytes().all(|b| b.is_ascii_hexdigit()));

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        // A receipt signed by the created key verifies with the loaded one.
        let document = created.sign(&sample()).to_json();
        assert_eq!(verify(&document, &loaded.verifying_key()), Ok(sample()));
    }

    #[test]
    fn a_malformed_key_file_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        for (name, contents) in [
            ("garbage.key", "not a key\n".as_bytes()),
            ("empty.key", b"".as_slice()),
            ("short.key", b"abcd\n".as_slice()),
            ("nonhex.key", "z".repeat(64).as_bytes()),
            ("binary.key", [0xffu8; 32].as_slice()),
        ] {
            let path = dir.path().join(name);
            fs::write(&path, contents).unwrap();
            let error = ReceiptSigner::load_or_create(&path).unwrap_err();
            assert!(
                matches!(error, ReceiptError::MalformedKey { .. }),
                "{error}"
            );
            assert!(
                error.to_string().contains(&path.display().to_string()),
                "{error}"
            );
            // Never replaced.
            assert_eq!(fs::read(&path).unwrap(), contents);
        }
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let secret = [0xabu8; 32];
        let signer = ReceiptSigner::from_secret_bytes(&secret);
        let debug = format!("{signer:?}");
        assert!(!debug.contains(&hex::encode(secret)), "{debug}");
        assert!(!debug.contains("171, 171"), "{debug}");
        assert!(debug.contains(&signer.key_id()), "{debug}");
    }
}
