//! Receipts: the canonical form, signing and verification, and printing in every language.

use super::labels::{Labels, CREDITED, RULES};
use super::*;
use simdesk_domain::attribution::Channel;
use simdesk_domain::customer::Language;
use simdesk_domain::ids::RequestId;
use simdesk_domain::money::Currency;

fn yen(minor: i64) -> Money {
    Money::new(minor, Currency::Jpy)
}

fn sample() -> ReceiptContent {
    ReceiptContent {
        number: "EX-SAKURA-2026-000042".to_owned(),
        carrier: "sakura".into(),
        issued_at: "2026-03-02T01:15:30Z".parse().unwrap(),
        effective_date: jiff::civil::date(2026, 3, 2),
        request_id: RequestId::new(4711),
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
        usage_counted_until: None,
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
        |c| c.carrier = "ume".into(),
        |c| c.issued_at += jiff::SignedDuration::from_nanos(1),
        |c| c.effective_date = jiff::civil::date(2026, 3, 3),
        |c| c.request_id = RequestId::new(c.request_id.get() + 1),
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
    for language in Language::ALL {
        let labels = Labels::for_tag(language.tag());
        for label in [
            &labels.title,
            &labels.number,
            &labels.effective_date,
            &labels.line,
            &labels.plan,
            &labels.addons_unbound,
            &labels.refund_items,
            &labels.total,
            &labels.credited_to,
            &labels.issued,
            &labels.signature,
            &labels.key_id,
        ] {
            assert!(!label.is_empty(), "{}", labels.tag());
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

/// Every id a receipt's labels are looked up by.
const LABEL_IDS: [&str; 23] = [
    "receipt-title",
    "receipt-number",
    "receipt-carrier",
    "receipt-effective-date",
    "receipt-issued",
    "receipt-request",
    "receipt-channel",
    "receipt-customer",
    "receipt-line",
    "receipt-iccid",
    "receipt-msisdn",
    "receipt-plan",
    "receipt-addons-unbound",
    "receipt-none",
    "receipt-refund",
    "receipt-refund-rule",
    "receipt-refund-items",
    "receipt-total",
    "receipt-credited-to",
    "receipt-policy-version",
    "receipt-signature",
    "receipt-key-id",
    "receipt-verify",
];

/// The message ids of one language's receipts.ftl, in file order.
fn receipt_ids(tag: &str) -> Vec<String> {
    let path = format!("{}/locales/{tag}/receipts.ftl", env!("CARGO_MANIFEST_DIR"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
        .filter_map(|l| l.split_once(" = ").map(|(id, _)| id.trim().to_string()))
        .collect()
}

#[test]
fn every_language_has_every_receipt_text_of_its_own() {
    let reference = receipt_ids("en");
    let mut needed: Vec<String> = LABEL_IDS.iter().map(|id| id.to_string()).collect();
    needed.extend(
        Channel::ALL
            .iter()
            .map(|c| format!("receipt-channel-{}", c.as_str())),
    );
    needed.extend(RULES.iter().map(|r| format!("receipt-rule-{r}")));
    needed.extend(CREDITED.iter().map(|(_, id)| id.to_string()));
    for id in &needed {
        assert!(reference.contains(id), "en lacks {id}");
    }
    let mut args = crate::i18n::Args::new();
    args.insert("command".into(), crate::i18n::text_arg(VERIFY_COMMAND));
    for language in Language::ALL {
        assert_eq!(
            receipt_ids(language.tag()),
            reference,
            "{language} must have exactly the English receipt ids"
        );
        // No fallback: each language must say every one of them itself.
        for id in &needed {
            let text = crate::i18n::lookup_exact(language, id, Some(&args))
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(!text.trim().is_empty(), "{language} {id}");
            assert!(!text.contains('{'), "{language} {id}: {text}");
        }
        let verify = Labels::for_tag(language.tag()).verify;
        assert!(verify.contains(VERIFY_COMMAND), "{language}: {verify}");
    }
}

#[test]
fn a_receipt_is_translated_whole() {
    let mut content = sample();
    content.channel = "hotline".to_owned();
    content.refund.rule = "full".to_owned();
    content.refund.credited_to = "e-wallet".to_owned();
    content.unbound_addons.clear();
    // Item labels are signed in the customer's language already; keep them out of the way.
    content.refund.items.clear();
    let english = [
        "hotline",
        "Hotline",
        "full",
        "Full",
        "e-wallet",
        "Receipt",
        "receipt",
        "Carrier",
        "Channel",
        "Refund",
        "Total",
        "Credited",
        "Signature",
        "Key id",
        "Issued",
        "Plan",
        "none",
        "Phone",
        "Customer",
        "Policy",
        "Effective",
        "Add-ons",
    ];
    let signer = fixed_signer(10);
    for (tag, hotline, full) in [
        ("zh-Hans", "客服热线", "全额"),
        ("zh-Hant", "客服專線", "全額"),
        ("ja", "電話窓口", "全額返金"),
        ("ko", "전화 상담 센터", "전액 환불"),
    ] {
        content.language = tag.to_owned();
        let signed = signer.sign(&content);
        // The command quoted on the receipt is not a label; everything else must be.
        let html = render_html(&signed).replace(VERIFY_COMMAND, "");
        // The style sheet's own words (`border:none`) are not the receipt's.
        let html = html
            .split_once("</head>")
            .map_or(html.clone(), |(_, body)| body.to_owned());
        let text = render_text(&signed).replace(VERIFY_COMMAND, "");
        for printed in [&html, &text] {
            assert!(printed.contains(hotline), "{tag}: {printed}");
            assert!(printed.contains(full), "{tag}: {printed}");
            for word in english {
                assert!(!printed.contains(word), "{tag} says {word:?}: {printed}");
            }
        }
        // Only the printing changes: the signed content is what it was.
        assert_eq!(
            verify(&signed.to_json(), &signer.verifying_key()),
            Ok(content.clone())
        );
    }
}

#[test]
fn values_simdesk_does_not_know_are_shown_as_recorded() {
    let labels = Labels::for_tag("zh-Hans");
    assert_eq!(labels.channel_name("kiosk"), "kiosk");
    assert_eq!(labels.rule_name("pro rata minus fee"), "pro rata minus fee");
    assert_eq!(
        labels.credited_name("e-wallet W-000981"),
        "e-wallet W-000981"
    );
    assert_eq!(labels.channel_name("web"), "网页（自助服务）");
    assert_eq!(labels.credited_name("nothing due"), "无应退款项");
}
