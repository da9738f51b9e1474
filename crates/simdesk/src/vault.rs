//! The keys that seal personal data at rest, and how a customer's fields and documents are sealed, opened and indexed.
//!
//! A customer's fields are split in two parts, each sealed under its own data key, because the
//! law keeps them for different lengths of time: the *identity record* (name, passport number,
//! nationality, birth date — what the identity check looked at) and the *contact* part (phone,
//! e-mail). Destroying a part's wrapped key erases that part for good (crypto-shredding).

use crate::crypto::{self, CryptoError, DataKey, IndexKey, MasterKey, WrappedKey};
use serde::{Deserialize, Serialize};
use simdesk_domain::customer::PersonalData;
use simdesk_domain::ids::PhoneNumber;
use std::path::{Path, PathBuf};

/// The two separately erasable parts of a customer's personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Identity,
    Contact,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Identity => "identity",
            Part::Contact => "contact",
        }
    }
}

/// The identity record's fields, as sealed.
#[derive(Clone, Serialize, Deserialize)]
pub struct IdentityRecord {
    pub full_name: String,
    pub passport_number: String,
    pub nationality: String,
    pub birth_date: jiff::civil::Date,
}

// Personal data never reaches a log line.
impl std::fmt::Debug for IdentityRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityRecord { .. }")
    }
}

#[derive(Clone, Serialize, Deserialize)]
struct Contact {
    phone: PhoneNumber,
    email: String,
}

/// One part sealed under its own data key.
#[derive(Debug, Clone)]
pub struct SealedPart {
    pub key: WrappedKey,
    pub sealed: Vec<u8>,
}

/// A customer's personal data, ready for the database.
#[derive(Debug, Clone)]
pub struct SealedPerson {
    pub identity: SealedPart,
    pub contact: SealedPart,
    /// (field, blind index) pairs: `email`, `passport` and one `name` per word of the name.
    pub index: Vec<(&'static str, String)>,
}

/// The master key (wraps data keys) and the index key (blind indexes), both kept outside the
/// database.
pub struct Vault {
    master: MasterKey,
    index: IndexKey,
    /// The key a rotation moves data keys to; data keys under either open while it runs.
    next: Option<MasterKey>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("master", &self.master.id())
            .finish_non_exhaustive()
    }
}

/// Where the vault's keys came from, so a caller can undo a key file it created for nothing.
#[derive(Debug)]
pub struct LoadedVault {
    pub vault: Vault,
    /// The master key file this load created because neither it nor the variable existed.
    pub created_master_file: Option<PathBuf>,
}

fn owner_aad(customer: i64, part: Part) -> Vec<u8> {
    format!("customer:{customer}:{}", part.as_str()).into_bytes()
}

fn fields_aad(customer: i64, part: Part) -> Vec<u8> {
    format!("customer:{customer}:{}:fields", part.as_str()).into_bytes()
}

fn document_aad(request: i64, sha256: &str) -> Vec<u8> {
    format!("document:{request}:{sha256}").into_bytes()
}

fn activation_code_aad(line: i64) -> Vec<u8> {
    format!("esim:{line}:activation_code").into_bytes()
}

impl Vault {
    pub fn new(master: MasterKey, index: IndexKey) -> Vault {
        Vault {
            master,
            index,
            next: None,
        }
    }

    /// This vault, also opening data keys already moved to `next` by an unfinished rotation.
    pub fn rotating_to(mut self, next: MasterKey) -> Vault {
        self.next = Some(next);
        self
    }

    /// Whether data keys wrapped under master key `id` can be opened.
    pub fn accepts(&self, id: &str) -> bool {
        id == self.master.id() || self.next.as_ref().is_some_and(|n| n.id() == id)
    }

    fn unwrap_key(&self, wrapped: &WrappedKey, aad: &[u8]) -> Result<DataKey, CryptoError> {
        match &self.next {
            Some(next) if next.id() == wrapped.master_id => crypto::unwrap(next, wrapped, aad),
            _ => crypto::unwrap(&self.master, wrapped, aad),
        }
    }

    /// Fresh keys held only in memory (tests).
    pub fn ephemeral() -> Vault {
        Vault::new(MasterKey::generate(), IndexKey::generate())
    }

    /// Loads the master key from `SIMDESK_MASTER_KEY` (`env_value`) or `master_file`, and the
    /// index key from `index_file`. On a first start, when neither the variable nor the file
    /// exists, a new master key file is created; the store then refuses it if the database
    /// already holds data sealed under another key.
    pub fn load(
        env_value: Option<&str>,
        master_file: &Path,
        index_file: &Path,
    ) -> Result<LoadedVault, CryptoError> {
        let mut created_master_file = None;
        let master = if env_value.is_none() && !master_file.exists() {
            let key = MasterKey::create_file(master_file)?;
            created_master_file = Some(master_file.to_path_buf());
            key
        } else {
            MasterKey::load(env_value, master_file)?
        };
        let index = IndexKey::load_or_create(index_file)?;
        Ok(LoadedVault {
            vault: Vault::new(master, index),
            created_master_file,
        })
    }

    pub fn master(&self) -> &MasterKey {
        &self.master
    }

    /// The key an unfinished rotation moves data keys to.
    pub fn next(&self) -> Option<&MasterKey> {
        self.next.as_ref()
    }

    pub fn master_id(&self) -> String {
        self.master.id()
    }

    /// Identifies the index key, so a store can tell when its indexes were made with another.
    pub fn index_id(&self) -> String {
        crypto::blind_index(&self.index, "index-key-id", "simdesk")[..16].to_string()
    }

    /// Seals both parts of a customer's data under two fresh data keys, and computes the blind
    /// indexes for it.
    pub fn seal_person(&self, customer: i64, person: &PersonalData) -> SealedPerson {
        let identity = IdentityRecord {
            full_name: person.full_name.clone(),
            passport_number: person.passport_number.clone(),
            nationality: person.nationality.clone(),
            birth_date: person.birth_date,
        };
        let contact = Contact {
            phone: person.phone.clone(),
            email: person.email.clone(),
        };
        SealedPerson {
            identity: self.seal_part(customer, Part::Identity, &identity),
            contact: self.seal_part(customer, Part::Contact, &contact),
            index: self.index_terms(person),
        }
    }

    fn seal_part<T: Serialize>(&self, customer: i64, part: Part, fields: &T) -> SealedPart {
        let key = DataKey::generate();
        // Serializing these plain structs cannot fail.
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(fields).unwrap_or_default());
        SealedPart {
            sealed: crypto::seal(&key, &plain, &fields_aad(customer, part)),
            key: crypto::wrap(&self.master, &key, &owner_aad(customer, part)),
        }
    }

    fn open_part<T: for<'de> Deserialize<'de>>(
        &self,
        customer: i64,
        part: Part,
        sealed: &SealedPart,
    ) -> Result<T, CryptoError> {
        let key = self.unwrap_key(&sealed.key, &owner_aad(customer, part))?;
        let plain = zeroize::Zeroizing::new(crypto::open(
            &key,
            &sealed.sealed,
            &fields_aad(customer, part),
        )?);
        serde_json::from_slice(&plain).map_err(|_| CryptoError::Decrypt)
    }

    pub fn open_identity(
        &self,
        customer: i64,
        sealed: &SealedPart,
    ) -> Result<IdentityRecord, CryptoError> {
        self.open_part(customer, Part::Identity, sealed)
    }

    /// Opens both parts into the customer's personal data.
    pub fn open_person(
        &self,
        customer: i64,
        identity: &SealedPart,
        contact: &SealedPart,
    ) -> Result<PersonalData, CryptoError> {
        let id: IdentityRecord = self.open_part(customer, Part::Identity, identity)?;
        let contact: Contact = self.open_part(customer, Part::Contact, contact)?;
        Ok(PersonalData {
            full_name: id.full_name,
            passport_number: id.passport_number,
            nationality: id.nationality,
            birth_date: id.birth_date,
            phone: contact.phone,
            email: contact.email,
        })
    }

    /// Re-wraps a part's data key under `new` (master-key rotation).
    pub fn rewrap(
        &self,
        new: &MasterKey,
        customer: i64,
        part: &str,
        wrapped: &WrappedKey,
    ) -> Result<WrappedKey, CryptoError> {
        let aad = format!("customer:{customer}:{part}").into_bytes();
        crypto::rewrap(&self.master, new, wrapped, &aad)
    }

    /// Re-wraps a document's data key under `new`.
    pub fn rewrap_document(
        &self,
        new: &MasterKey,
        request: i64,
        sha256: &str,
        wrapped: &WrappedKey,
    ) -> Result<WrappedKey, CryptoError> {
        crypto::rewrap(&self.master, new, wrapped, &document_aad(request, sha256))
    }

    fn index_terms(&self, person: &PersonalData) -> Vec<(&'static str, String)> {
        let mut terms = vec![
            ("email", self.email_term(&person.email)),
            ("passport", self.passport_term(&person.passport_number)),
        ];
        let mut names = self.name_terms(&person.full_name);
        names.sort();
        names.dedup();
        terms.extend(names.into_iter().map(|n| ("name", n)));
        terms
    }

    pub fn email_term(&self, email: &str) -> String {
        crypto::blind_index(&self.index, "email", email)
    }

    pub fn passport_term(&self, passport: &str) -> String {
        crypto::blind_index(&self.index, "passport", passport)
    }

    /// One index term per word of a name, so a search for one word ("Chen") finds "Wei Chen".
    pub fn name_terms(&self, name: &str) -> Vec<String> {
        crypto::normalize("name", name)
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(|w| crypto::blind_index(&self.index, "name", w))
            .collect()
    }

    /// Seals a document image under a data key of its own: (wrapped key, sealed bytes).
    pub fn seal_document(&self, request: i64, sha256: &str, content: &[u8]) -> SealedPart {
        let key = DataKey::generate();
        let aad = document_aad(request, sha256);
        SealedPart {
            sealed: crypto::seal(&key, content, &aad),
            key: crypto::wrap(&self.master, &key, &aad),
        }
    }

    pub fn open_document(
        &self,
        request: i64,
        sha256: &str,
        sealed: &SealedPart,
    ) -> Result<Vec<u8>, CryptoError> {
        let aad = document_aad(request, sha256);
        let key = self.unwrap_key(&sealed.key, &aad)?;
        crypto::open(&key, &sealed.sealed, &aad)
    }

    /// Seals an eSIM line's activation code, a bearer secret (whoever scans it gets the
    /// profile), under a data key of its own bound to the line.
    pub fn seal_activation_code(&self, line: i64, code: &str) -> SealedPart {
        let key = DataKey::generate();
        let aad = activation_code_aad(line);
        SealedPart {
            sealed: crypto::seal(&key, code.as_bytes(), &aad),
            key: crypto::wrap(&self.master, &key, &aad),
        }
    }

    pub fn open_activation_code(
        &self,
        line: i64,
        sealed: &SealedPart,
    ) -> Result<String, CryptoError> {
        let aad = activation_code_aad(line);
        let key = self.unwrap_key(&sealed.key, &aad)?;
        let bytes = crypto::open(&key, &sealed.sealed, &aad)?;
        String::from_utf8(bytes).map_err(|_| CryptoError::Decrypt)
    }

    /// An activation code's data key, wrapped under `new` instead.
    pub fn rewrap_activation_code(
        &self,
        new: &MasterKey,
        line: i64,
        wrapped: &WrappedKey,
    ) -> Result<WrappedKey, CryptoError> {
        crypto::rewrap(&self.master, new, wrapped, &activation_code_aad(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> PersonalData {
        PersonalData {
            full_name: "Wei  CHEN".into(),
            passport_number: "E1234-5678".into(),
            nationality: "CN".into(),
            birth_date: jiff::civil::date(1990, 4, 1),
            phone: "+8613800138000".parse().unwrap(),
            email: "Wei.Chen@example.com".into(),
        }
    }

    #[test]
    fn a_person_round_trips_and_nothing_readable_is_sealed() {
        let vault = Vault::ephemeral();
        let sealed = vault.seal_person(7, &person());
        for part in [&sealed.identity.sealed, &sealed.contact.sealed] {
            let text = String::from_utf8_lossy(part);
            assert!(
                !text.contains("CHEN") && !text.contains("E1234") && !text.contains("example.com")
            );
        }
        let back = vault
            .open_person(7, &sealed.identity, &sealed.contact)
            .unwrap();
        assert_eq!(back, person());
    }

    #[test]
    fn sealed_parts_cannot_be_moved_to_another_customer_or_part() {
        let vault = Vault::ephemeral();
        let sealed = vault.seal_person(7, &person());
        assert!(vault
            .open_person(8, &sealed.identity, &sealed.contact)
            .is_err());
        assert!(vault
            .open_person(7, &sealed.contact, &sealed.identity)
            .is_err());
        let other = Vault::ephemeral();
        assert!(matches!(
            other.open_person(7, &sealed.identity, &sealed.contact),
            Err(CryptoError::MasterKeyMismatch { .. })
        ));
    }

    #[test]
    fn lookups_match_other_spellings_and_each_word_of_the_name() {
        let vault = Vault::ephemeral();
        let sealed = vault.seal_person(7, &person());
        let has = |field: &str, value: &str| {
            sealed
                .index
                .contains(&(field_name(field), value.to_string()))
        };
        assert!(has("email", &vault.email_term(" wei.chen@EXAMPLE.com ")));
        assert!(has("passport", &vault.passport_term("e1234 5678")));
        assert!(has("name", &vault.name_terms("chen")[0]));
        assert!(has("name", &vault.name_terms("Wei")[0]));
        assert!(!has("name", &vault.name_terms("Che")[0]));
        // The same words under another index key match nothing.
        assert!(!has(
            "email",
            &Vault::ephemeral().email_term("wei.chen@example.com")
        ));
    }

    fn field_name(f: &str) -> &'static str {
        match f {
            "email" => "email",
            "passport" => "passport",
            _ => "name",
        }
    }

    #[test]
    fn rotation_keeps_data_readable_under_the_new_key_only() {
        let vault = Vault::ephemeral();
        let sealed = vault.seal_person(3, &person());
        let new = MasterKey::generate();
        let new_b64 = new.to_base64();
        let rewrapped = SealedPart {
            key: vault
                .rewrap(&new, 3, "identity", &sealed.identity.key)
                .unwrap(),
            sealed: sealed.identity.sealed.clone(),
        };
        let after = Vault::new(
            MasterKey::from_base64(&new_b64, "test").unwrap(),
            IndexKey::generate(),
        );
        assert_eq!(
            after.open_identity(3, &rewrapped).unwrap().passport_number,
            "E1234-5678"
        );
        assert!(vault.open_identity(3, &rewrapped).is_err());
    }

    #[test]
    fn documents_round_trip_and_are_bound_to_their_request() {
        let vault = Vault::ephemeral();
        let sealed = vault.seal_document(5, "abc", b"%PDF-1.7 passport scan");
        assert_eq!(
            vault.open_document(5, "abc", &sealed).unwrap(),
            b"%PDF-1.7 passport scan"
        );
        assert!(vault.open_document(6, "abc", &sealed).is_err());
    }

    #[test]
    fn a_first_start_creates_the_master_key_file_and_a_second_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let (m, i) = (dir.path().join("master.key"), dir.path().join("index.key"));
        let first = Vault::load(None, &m, &i).unwrap();
        assert_eq!(first.created_master_file.as_deref(), Some(m.as_path()));
        let second = Vault::load(None, &m, &i).unwrap();
        assert!(second.created_master_file.is_none());
        assert_eq!(first.vault.master_id(), second.vault.master_id());
        assert_eq!(first.vault.index_id(), second.vault.index_id());
        let from_env = Vault::load(Some(&MasterKey::generate().to_base64()), &m, &i).unwrap();
        assert_ne!(from_env.vault.master_id(), first.vault.master_id());
    }
}
