//! Typed ids of simdesk's own records and of the carriers, so a line's id can never be passed
//! where a request's or a customer's is expected.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

/// The id the store numbers a record of kind `K` by. Written and read as the plain number, so
/// stored rows, JSON and URLs keep their form.
pub struct Id<K> {
    value: i64,
    // `fn() -> K`: the id is Copy, Send and Sync whatever the marker is.
    kind: PhantomData<fn() -> K>,
}

/// Marker of a line's id (one SIM or eSIM profile).
#[derive(Debug)]
pub enum LineRecord {}
/// Marker of a cancellation request's id.
#[derive(Debug)]
pub enum RequestRecord {}
/// Marker of a registered holder's id.
#[derive(Debug)]
pub enum CustomerRecord {}

pub type LineId = Id<LineRecord>;
pub type RequestId = Id<RequestRecord>;
pub type CustomerId = Id<CustomerRecord>;

impl<K> Id<K> {
    pub const fn new(value: i64) -> Self {
        Id {
            value,
            kind: PhantomData,
        }
    }

    /// The number the store keys the record by.
    pub const fn get(self) -> i64 {
        self.value
    }
}

/// Id 0 is a record not yet stored: the store numbers it when it writes it.
impl<K> Default for Id<K> {
    fn default() -> Self {
        Id::new(0)
    }
}

impl<K> Clone for Id<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Id<K> {}

impl<K> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<K> Eq for Id<K> {}

impl<K> PartialOrd for Id<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> Ord for Id<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.cmp(&other.value)
    }
}

impl<K> Hash for Id<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state)
    }
}

impl<K> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<K> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<K> From<Id<K>> for i64 {
    fn from(id: Id<K>) -> i64 {
        id.value
    }
}

impl<K> std::str::FromStr for Id<K> {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Id::new)
    }
}

impl<K> Serialize for Id<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.value)
    }
}

impl<'de, K> Deserialize<'de> for Id<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        i64::deserialize(deserializer).map(Id::new)
    }
}

/// A carrier's code as its policy names it (`EX-SAKURA`): the key every line, policy, agent and
/// API token is scoped by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CarrierCode(String);

impl CarrierCode {
    pub fn new(code: impl Into<String>) -> Self {
        CarrierCode(code.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CarrierCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// A carrier code reads as its text wherever text is wanted (SQL binds, file names, messages);
// what the type guards is that nothing else is passed where a carrier is expected.
impl std::ops::Deref for CarrierCode {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for CarrierCode {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for CarrierCode {
    fn from(code: &str) -> Self {
        CarrierCode::new(code)
    }
}

impl From<String> for CarrierCode {
    fn from(code: String) -> Self {
        CarrierCode(code)
    }
}

impl AsRef<str> for CarrierCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for CarrierCode {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for CarrierCode {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_and_write_as_plain_numbers() {
        let id: LineId = "42".parse().unwrap();
        assert_eq!(id, LineId::new(42));
        assert_eq!(id.to_string(), "42");
        assert_eq!(format!("{id:?}"), "42");
        assert_eq!(serde_json::to_string(&id).unwrap(), "42");
        assert_eq!(serde_json::from_str::<RequestId>("7").unwrap().get(), 7);
        assert_eq!(i64::from(id), 42);
    }

    #[test]
    fn a_carrier_code_compares_with_its_text() {
        let code = CarrierCode::new("EX-SAKURA");
        assert_eq!(code, "EX-SAKURA");
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"EX-SAKURA\"");
    }
}
