//! The audit trail's hash chain: how an entry is written down and hashed, and how a chain is
//! checked so an entry edited, deleted or moved afterwards is found and named.

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A history entry about a line, as the audit trail keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineEventFields<'a> {
    pub id: i64,
    pub line_id: i64,
    pub kind: &'a str,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub detail: &'a str,
    pub actor_kind: &'a str,
    pub actor_id: &'a str,
    pub channel: &'a str,
    pub reason: &'a str,
    pub at: i64,
    pub policy_version: Option<i64>,
}

/// A history entry about a cancellation request, as the audit trail keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestEventFields<'a> {
    pub id: i64,
    pub request_id: i64,
    pub from: Option<&'a str>,
    pub to: &'a str,
    pub note: &'a str,
    pub actor_kind: &'a str,
    pub actor_id: &'a str,
    pub channel: &'a str,
    pub reason: &'a str,
    pub at: i64,
}

/// The text kept for a line event: the same function writes it and checks it.
pub fn line_event_content(e: &LineEventFields<'_>) -> String {
    json!([
        "line_event",
        e.id,
        e.line_id,
        e.kind,
        e.from,
        e.to,
        e.detail,
        e.actor_kind,
        e.actor_id,
        e.channel,
        e.reason,
        e.at,
        e.policy_version
    ])
    .to_string()
}

pub fn request_event_content(e: &RequestEventFields<'_>) -> String {
    json!([
        "request_event",
        e.id,
        e.request_id,
        e.from,
        e.to,
        e.note,
        e.actor_kind,
        e.actor_id,
        e.channel,
        e.reason,
        e.at
    ])
    .to_string()
}

/// The hash of entry `seq`: it covers the previous entry's hash, so changing, removing or
/// moving any entry changes every hash after it.
pub fn chain_hash(prev_hash: &str, seq: i64, content: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"simdesk audit v1\n");
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(seq.to_string().as_bytes());
    h.update(b"\n");
    h.update(content.as_bytes());
    hex::encode(h.finalize())
}

/// One entry of the chain as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub source: String,
    pub source_id: i64,
    pub content: String,
    pub prev_hash: String,
    pub hash: String,
}

/// What is wrong with a chain, naming the entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Tamper {
    #[error(
        "audit entry {seq} was edited or moved: its content and position no longer match its hash"
    )]
    Edited { seq: i64 },
    #[error("audit entry {expected} is missing (the entry after {after} is {found})")]
    Missing {
        after: i64,
        expected: i64,
        found: i64,
    },
    #[error("audit entry {seq} is out of place: it does not follow entry {previous}")]
    OutOfPlace { seq: i64, previous: i64 },
    #[error("the {table} {row} recorded in audit entry {seq} was changed afterwards")]
    SourceChanged { seq: i64, table: String, row: i64 },
    #[error("the {table} {row} recorded in audit entry {seq} was deleted")]
    SourceDeleted { seq: i64, table: String, row: i64 },
    #[error("the chain ends at entry {last} but its head says {head}: entries were removed from the end or the head was moved")]
    HeadMismatch { last: i64, head: i64 },
}

/// Checks a chain entry by entry, in `seq` order, keeping only the last hash.
#[derive(Debug, Clone)]
pub struct Verifier {
    last_seq: i64,
    last_hash: String,
    pub checked: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            last_seq: 0,
            last_hash: GENESIS.to_string(),
            checked: 0,
        }
    }
}

impl Verifier {
    /// Checks the next entry; `source_now` is the source row as it reads today (`None` when it
    /// is gone).
    pub fn next(&mut self, entry: &AuditEntry, source_now: Option<&str>) -> Result<(), Tamper> {
        if chain_hash(&entry.prev_hash, entry.seq, &entry.content) != entry.hash {
            return Err(Tamper::Edited { seq: entry.seq });
        }
        if entry.seq != self.last_seq + 1 {
            if entry.seq > self.last_seq + 1 {
                return Err(Tamper::Missing {
                    after: self.last_seq,
                    expected: self.last_seq + 1,
                    found: entry.seq,
                });
            }
            return Err(Tamper::OutOfPlace {
                seq: entry.seq,
                previous: self.last_seq,
            });
        }
        if entry.prev_hash != self.last_hash {
            // The entry is intact but was chained after a different one: something before it
            // was replaced or the entries were renumbered.
            return Err(Tamper::OutOfPlace {
                seq: entry.seq,
                previous: self.last_seq,
            });
        }
        match source_now {
            Some(now) if now == entry.content => {}
            Some(_) => {
                return Err(Tamper::SourceChanged {
                    seq: entry.seq,
                    table: entry.source.clone(),
                    row: entry.source_id,
                })
            }
            None => {
                return Err(Tamper::SourceDeleted {
                    seq: entry.seq,
                    table: entry.source.clone(),
                    row: entry.source_id,
                })
            }
        }
        self.last_seq = entry.seq;
        self.last_hash = entry.hash.clone();
        self.checked += 1;
        Ok(())
    }

    /// Checks the chain's end against its head.
    pub fn finish(&self, head_seq: i64, head_hash: &str) -> Result<(), Tamper> {
        if head_seq != self.last_seq || head_hash != self.last_hash {
            return Err(Tamper::HeadMismatch {
                last: self.last_seq,
                head: head_seq,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let content = format!("[\"line_event\",{seq}]");
                let hash = chain_hash(&prev, seq, &content);
                let e = AuditEntry {
                    seq,
                    source: "line_event".into(),
                    source_id: seq,
                    content,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    fn verify(entries: &[AuditEntry]) -> Result<(), Tamper> {
        let mut v = Verifier::default();
        for e in entries {
            v.next(e, Some(&format!("[\"line_event\",{}]", e.source_id)))?;
        }
        let last = entries.last();
        v.finish(
            last.map(|e| e.seq).unwrap_or(0),
            last.map(|e| e.hash.as_str()).unwrap_or(GENESIS),
        )
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(()));
        assert_eq!(verify(&[]), Ok(()));
    }

    #[test]
    fn an_edited_entry_is_named() {
        let mut c = chain(5);
        c[2].content = "[\"line_event\",99]".into();
        assert_eq!(verify(&c), Err(Tamper::Edited { seq: 3 }));
    }

    #[test]
    fn a_deleted_entry_is_named() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(
            verify(&c),
            Err(Tamper::Missing {
                after: 1,
                expected: 2,
                found: 3
            })
        );
    }

    #[test]
    fn reordered_entries_are_found() {
        // Two entries trade places (their numbers swapped): neither hash fits its new place.
        let mut c = chain(5);
        c.swap(1, 2);
        c[1].seq = 2;
        c[2].seq = 3;
        assert_eq!(verify(&c), Err(Tamper::Edited { seq: 2 }));
        // An entry re-hashed to fit a new place still does not follow the one before it.
        let mut c = chain(5);
        c[2].prev_hash = c[0].hash.clone();
        c[2].hash = chain_hash(&c[2].prev_hash, 3, &c[2].content);
        assert_eq!(
            verify(&c),
            Err(Tamper::OutOfPlace {
                seq: 3,
                previous: 2
            })
        );
    }

    #[test]
    fn a_changed_source_row_is_named() {
        let c = chain(2);
        let mut v = Verifier::default();
        v.next(&c[0], Some(&c[0].content)).unwrap();
        assert!(matches!(
            v.next(&c[1], Some("[\"line_event\",2,\"edited\"]")),
            Err(Tamper::SourceChanged { seq: 2, .. })
        ));
        let mut v = Verifier::default();
        assert!(matches!(
            v.next(&c[0], None),
            Err(Tamper::SourceDeleted { seq: 1, .. })
        ));
    }

    #[test]
    fn entries_cut_from_the_end_are_found() {
        let c = chain(5);
        let mut v = Verifier::default();
        for e in &c[..3] {
            v.next(e, Some(&e.content)).unwrap();
        }
        assert_eq!(
            v.finish(5, &c[4].hash),
            Err(Tamper::HeadMismatch { last: 3, head: 5 })
        );
    }
}
