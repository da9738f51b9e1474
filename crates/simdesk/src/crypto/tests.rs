//! Sealing, unsealing, key wrapping and blind indexes, including what must fail.

use super::*;
use proptest::prelude::*;

const AAD: &[u8] = b"customer:42:passport";

#[test]
fn seal_open_round_trip() {
    let key = DataKey::generate();
    for text in ["TK1234567", "山田 太郎", "東京都新宿区 🗾", ""] {
        let sealed = seal(&key, text.as_bytes(), AAD);
        assert_eq!(sealed.len(), SEALED_OVERHEAD + text.len());
        assert_eq!(sealed[0], FORMAT_VERSION);
        assert_eq!(open(&key, &sealed, AAD).unwrap(), text.as_bytes());
    }
}

#[test]
fn same_plaintext_seals_differently() {
    let key = DataKey::generate();
    let a = seal(&key, b"TK1234567", AAD);
    let b = seal(&key, b"TK1234567", AAD);
    assert_ne!(a, b);
    assert_ne!(a[1..1 + NONCE_LEN], b[1..1 + NONCE_LEN]);
}

#[test]
fn any_flipped_bit_is_rejected() {
    let key = DataKey::generate();
    let sealed = seal(&key, "山田".as_bytes(), AAD);
    for i in 0..sealed.len() * 8 {
        let mut bad = sealed.clone();
        bad[i / 8] ^= 1 << (i % 8);
        let err = open(&key, &bad, AAD).unwrap_err();
        if i < 8 {
            assert!(
                matches!(err, CryptoError::UnknownVersion(_)),
                "bit {i}: {err}"
            );
        } else {
            assert!(matches!(err, CryptoError::Decrypt), "bit {i}: {err}");
        }
    }
}

#[test]
fn wrong_aad_or_key_is_rejected() {
    let key = DataKey::generate();
    let sealed = seal(&key, b"secret", AAD);
    let moved = open(&key, &sealed, b"customer:43:passport").unwrap_err();
    assert!(matches!(moved, CryptoError::Decrypt));
    let other_field = open(&key, &sealed, b"customer:42:email").unwrap_err();
    assert!(matches!(other_field, CryptoError::Decrypt));
    let wrong_key = open(&DataKey::generate(), &sealed, AAD).unwrap_err();
    assert!(matches!(wrong_key, CryptoError::Decrypt));
    let message = wrong_key.to_string();
    assert!(!message.contains("secret"), "{message}");
}

#[test]
fn truncated_empty_and_unknown_version_are_rejected() {
    let key = DataKey::generate();
    let sealed = seal(&key, b"hello", AAD);
    assert!(matches!(
        open(&key, &[], AAD),
        Err(CryptoError::Truncated { len: 0 })
    ));
    for len in 1..SEALED_OVERHEAD {
        assert!(
            matches!(
                open(&key, &sealed[..len], AAD),
                Err(CryptoError::Truncated { .. })
            ),
            "length {len}"
        );
    }
    for len in SEALED_OVERHEAD..sealed.len() {
        assert!(
            matches!(open(&key, &sealed[..len], AAD), Err(CryptoError::Decrypt)),
            "length {len}"
        );
    }
    let mut v2 = sealed.clone();
    v2[0] = 2;
    let err = open(&key, &v2, AAD).unwrap_err();
    assert!(matches!(err, CryptoError::UnknownVersion(2)));
    assert_eq!(
        err.to_string(),
        "sealed data has format version 2; this build reads only version 1"
    );
}

#[test]
fn wrap_unwrap_rewrap() {
    let master = MasterKey::generate();
    let data_key = DataKey::generate();
    let wrapped = wrap(&master, &data_key, b"customer:42");
    assert_eq!(wrapped.master_id, master.id());
    assert_eq!(wrapped.sealed.len(), SEALED_OVERHEAD + KEY_LEN);
    let unwrapped = unwrap(&master, &wrapped, b"customer:42").unwrap();
    assert_eq!(unwrapped.0, data_key.0);

    // A wrapped key copied onto another person does not open.
    assert!(matches!(
        unwrap(&master, &wrapped, b"customer:43"),
        Err(CryptoError::Decrypt)
    ));

    let field = seal(&data_key, "パスポート".as_bytes(), AAD);
    let new_master = MasterKey::generate();
    let rotated = rewrap(&master, &new_master, &wrapped, b"customer:42").unwrap();
    assert_eq!(rotated.master_id, new_master.id());
    let after = unwrap(&new_master, &rotated, b"customer:42").unwrap();
    assert_eq!(open(&after, &field, AAD).unwrap(), "パスポート".as_bytes());

    // Running the rotation again over an already rotated key is harmless.
    let again = rewrap(&master, &new_master, &rotated, b"customer:42").unwrap();
    assert_eq!(again, rotated);
}

#[test]
fn unwrap_under_another_master_key_names_both_ids() {
    let master = MasterKey::generate();
    let other = MasterKey::generate();
    let wrapped = wrap(&master, &DataKey::generate(), b"customer:42");
    let err = unwrap(&other, &wrapped, b"customer:42").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "wrapped under master key {}, but the loaded master key is {}",
            master.id(),
            other.id()
        )
    );
    assert!(rewrap(&other, &MasterKey::generate(), &wrapped, b"customer:42").is_err());
}

#[test]
fn tampered_master_id_does_not_open() {
    let master = MasterKey::generate();
    let other = MasterKey::generate();
    let mut wrapped = wrap(&master, &DataKey::generate(), b"customer:42");
    wrapped.master_id = other.id();
    assert!(matches!(
        unwrap(&other, &wrapped, b"customer:42"),
        Err(CryptoError::Decrypt)
    ));
}

#[test]
fn debug_never_shows_key_bytes() {
    let master = MasterKey::generate();
    let shown = format!("{master:?}");
    assert_eq!(shown, format!("MasterKey {{ id: {:?} }}", master.id()));
    assert!(!shown.contains(&master.to_base64()));
    assert!(!shown.contains(&hex::encode(master.0)));
    assert!(!shown.contains(&format!("{:?}", master.0)));

    let data = DataKey::generate();
    assert_eq!(format!("{data:?}"), "DataKey(..)");
    let index = IndexKey::generate();
    assert_eq!(format!("{index:?}"), "IndexKey(..)");
}

#[test]
fn master_id_is_stable_and_short() {
    let master = MasterKey::generate();
    let same = MasterKey::from_base64(&master.to_base64(), "test").unwrap();
    assert_eq!(master.id(), same.id());
    assert_eq!(master.id().len(), 16);
    assert_ne!(master.id(), MasterKey::generate().id());
    // Domain separation: the id is not simply a prefix of the key's plain hash.
    assert!(!hex::encode(Sha256::digest(master.0)).starts_with(&master.id()));
}

#[test]
fn from_base64_explains_what_is_wrong() {
    let err = MasterKey::from_base64("c2hvcnQga2V5", MASTER_KEY_VAR).unwrap_err();
    assert_eq!(
        err.to_string(),
        "SIMDESK_MASTER_KEY must be 32 bytes in base64 (44 characters); it has 12"
    );
    let err = MasterKey::from_base64(&"!".repeat(44), MASTER_KEY_VAR).unwrap_err();
    assert_eq!(
        err.to_string(),
        "SIMDESK_MASTER_KEY must be 32 bytes in base64 (44 characters); it is not valid base64"
    );
    // 44 characters that decode to 31 bytes.
    let short = format!("{}==", "A".repeat(42));
    let err = MasterKey::from_base64(&short, "/etc/simdesk/master.key").unwrap_err();
    assert_eq!(
        err.to_string(),
        "/etc/simdesk/master.key must be 32 bytes in base64 (44 characters); it decodes to 31 bytes"
    );
    // Surrounding whitespace, such as a trailing newline, is accepted.
    let key = MasterKey::generate();
    let padded = format!("  {}\n", key.to_base64());
    assert_eq!(MasterKey::from_base64(&padded, "x").unwrap().0, key.0);
}

#[test]
fn load_prefers_the_variable_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let from_file = MasterKey::create_file(&path).unwrap();
    let from_var = MasterKey::generate();

    let loaded = MasterKey::load(Some(&from_var.to_base64()), &path).unwrap();
    assert_eq!(loaded.id(), from_var.id());
    let loaded = MasterKey::load(None, &path).unwrap();
    assert_eq!(loaded.id(), from_file.id());

    // A broken variable is an error, not a silent fall back to the file.
    let err = MasterKey::load(Some("nope"), &path).unwrap_err();
    assert_eq!(
        err.to_string(),
        "SIMDESK_MASTER_KEY must be 32 bytes in base64 (44 characters); it has 4"
    );
    let err = MasterKey::load(Some(""), &path).unwrap_err();
    assert!(err.to_string().ends_with("it has 0"), "{err}");
}

#[test]
fn load_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.key");
    let err = MasterKey::load(None, &missing).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} does not exist and SIMDESK_MASTER_KEY is not set; \
             the master key must come from one of them",
            missing.display()
        )
    );

    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "too short\n").unwrap();
    let err = MasterKey::load(None, &bad).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} must be 32 bytes in base64 (44 characters); it has 9",
            bad.display()
        )
    );

    // A directory where the file should be is an I/O error naming the path.
    let err = MasterKey::load(None, dir.path()).unwrap_err();
    assert!(matches!(err, CryptoError::Io { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&dir.path().display().to_string()),
        "{err}"
    );
}

#[test]
fn create_file_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("master.key");
    let key = MasterKey::create_file(&path).unwrap();
    let before = std::fs::read_to_string(&path).unwrap();
    assert_eq!(before, format!("{}\n", key.to_base64()));

    let err = MasterKey::create_file(&path).unwrap_err();
    assert!(matches!(err, CryptoError::AlreadyExists { .. }));
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
}

#[cfg(unix)]
#[test]
fn key_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    MasterKey::create_file(&master).unwrap();
    let index = dir.path().join("index.key");
    IndexKey::load_or_create(&index).unwrap();
    for path in [master, index] {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
}

#[test]
fn index_key_persists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.key");
    let first = IndexKey::load_or_create(&path).unwrap();
    let second = IndexKey::load_or_create(&path).unwrap();
    assert_eq!(first.0, second.0);
    assert_eq!(
        blind_index(&first, "email", "a@b.jp"),
        blind_index(&second, "email", "a@b.jp")
    );

    std::fs::write(&path, "zz\n").unwrap();
    let err = IndexKey::load_or_create(&path).unwrap_err();
    assert!(
        err.to_string().starts_with(&path.display().to_string()),
        "{err}"
    );
    assert!(err.to_string().contains("restore it from backup"), "{err}");
}

#[test]
fn normalization_per_field() {
    assert_eq!(normalize("email", " Alex@Example.com "), "alex@example.com");
    assert_eq!(normalize("passport", " tk 123-4567\n"), "TK1234567");
    assert_eq!(normalize("passport", "ＴＫ１２３４５６７"), "TK1234567");
    assert_eq!(normalize("name", "  Zoë   ÖZTÜRK\t"), "zoë öztürk");
    assert_eq!(normalize("name", "ΣΩΚΡΑΤΗΣ"), "σωκρατης");
    assert_eq!(normalize("name", "山田\u{3000}太郎"), "山田 太郎");
    assert_eq!(normalize("nationality", " JPN "), "JPN");
    assert_eq!(normalize("nationality", " jpn "), "jpn");
}

#[test]
fn blind_index_matches_equivalent_values() {
    let key = IndexKey::generate();
    let email = blind_index(&key, "email", "Alex@Example.com ");
    assert_eq!(email, blind_index(&key, "email", "alex@example.com"));
    assert_eq!(email.len(), 64);
    assert_eq!(
        blind_index(&key, "passport", "tk 123-4567"),
        blind_index(&key, "passport", "TK1234567")
    );
    assert_ne!(
        blind_index(&key, "email", "alex@example.com"),
        blind_index(&key, "email", "alex@example.org")
    );
}

#[test]
fn blind_index_depends_on_field_and_key() {
    let key = IndexKey::generate();
    assert_ne!(
        blind_index(&key, "email", "x"),
        blind_index(&key, "passport", "x")
    );
    assert_ne!(
        blind_index(&key, "email", "a@b.jp"),
        blind_index(&IndexKey::generate(), "email", "a@b.jp")
    );
}

#[test]
fn blind_index_is_standard_hmac_sha256() {
    let key = IndexKey::generate();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.0).unwrap();
    mac.update(b"passport\0TK1234567");
    assert_eq!(
        blind_index(&key, "passport", "tk 123-4567"),
        hex::encode(mac.finalize().into_bytes())
    );
}

proptest! {
    #[test]
    fn open_inverts_seal(
        plaintext in proptest::collection::vec(any::<u8>(), 0..512),
        aad in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let key = DataKey::generate();
        let sealed = seal(&key, &plaintext, &aad);
        prop_assert_eq!(open(&key, &sealed, &aad).unwrap(), plaintext);
    }

    #[test]
    fn open_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let key = DataKey::generate();
        prop_assert!(open(&key, &bytes, AAD).is_err());
        // Past the version check too, where the length and tag checks run.
        let mut versioned = vec![FORMAT_VERSION];
        versioned.extend_from_slice(&bytes);
        prop_assert!(open(&key, &versioned, AAD).is_err());
    }

    #[test]
    fn normalize_is_idempotent(field in "email|passport|name|phone", value in "\\PC{0,40}") {
        let once = normalize(&field, &value);
        prop_assert_eq!(normalize(&field, &once), once);
    }
}
