//! Who did something, through which channel, when and why — recorded with every state change.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The way a request reached simdesk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The traveller's own self-service pages.
    Web,
    /// A hotline agent acting for a caller.
    Hotline,
    /// A store clerk serving a walk-in.
    Store,
    /// An operator's other systems over the API.
    Api,
    /// An operator at the command line.
    Operator,
    /// simdesk itself (scheduled jobs).
    System,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Web,
        Channel::Hotline,
        Channel::Store,
        Channel::Api,
        Channel::Operator,
        Channel::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Hotline => "hotline",
            Channel::Store => "store",
            Channel::Api => "api",
            Channel::Operator => "operator",
            Channel::System => "system",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                UnknownName::new("channel", s, "web, hotline, store, api, operator, system")
            })
    }
}

/// What kind of party acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    Customer,
    Agent,
    Clerk,
    Operator,
    System,
}

impl ActorKind {
    pub const ALL: [ActorKind; 5] = [
        ActorKind::Customer,
        ActorKind::Agent,
        ActorKind::Clerk,
        ActorKind::Operator,
        ActorKind::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Customer => "customer",
            ActorKind::Agent => "agent",
            ActorKind::Clerk => "clerk",
            ActorKind::Operator => "operator",
            ActorKind::System => "system",
        }
    }
}

impl FromStr for ActorKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ActorKind::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                UnknownName::new("actor kind", s, "customer, agent, clerk, operator, system")
            })
    }
}

/// A name that is not one of the expected values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {given:?} (expected one of {expected})")]
pub struct UnknownName {
    pub what: &'static str,
    pub given: String,
    pub expected: &'static str,
}

impl UnknownName {
    pub fn new(what: &'static str, given: &str, expected: &'static str) -> Self {
        // Cap what we echo back so a hostile value cannot flood a log line.
        let given: String = given.chars().take(64).collect();
        UnknownName {
            what,
            given,
            expected,
        }
    }
}

/// A party: its kind and an identifier within that kind (username, customer id, job name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: String,
}

impl Actor {
    pub fn system(job: &str) -> Self {
        Actor {
            kind: ActorKind::System,
            id: job.to_string(),
        }
    }
    pub fn operator(name: &str) -> Self {
        Actor {
            kind: ActorKind::Operator,
            id: name.to_string(),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.id)
    }
}

/// Who, through which channel, when and why: attached to every state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    pub actor: Actor,
    pub channel: Channel,
    pub at: Timestamp,
    pub reason: String,
}

impl Attribution {
    pub fn new(actor: Actor, channel: Channel, at: Timestamp, reason: impl Into<String>) -> Self {
        Attribution {
            actor,
            channel,
            at,
            reason: reason.into(),
        }
    }

    pub fn system(job: &str, at: Timestamp, reason: impl Into<String>) -> Self {
        Attribution::new(Actor::system(job), Channel::System, at, reason)
    }
}

/// Arbitrary text through every parser of a stored name (channels, actor kinds, line kinds and
/// states, request states, balance units and entry kinds): the name, or an error that lists
/// what was expected, never a panic.
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::balance::{BucketUnit, EntryKind};
    use crate::cancellation::RequestState;
    use crate::fuzz::{config, text, PARSER_CASES};
    use crate::line::{LineKind, LineState};
    use proptest::prelude::*;

    /// 64 echoed characters, each at worst a `\u{…}` escape, and the list of expected names.
    const MAX_ERROR_LEN: usize = 1000;

    fn check<T: FromStr<Err = UnknownName> + fmt::Debug + PartialEq>(
        text: &str,
        name: impl Fn(&T) -> String,
    ) -> Result<(), TestCaseError> {
        match text.parse::<T>() {
            Ok(value) => prop_assert_eq!(name(&value).parse::<T>(), Ok(value)),
            Err(error) => {
                let message = error.to_string();
                prop_assert!(message.starts_with("unknown "), "{message}");
                prop_assert!(message.contains("expected one of"), "{message}");
                prop_assert!(message.len() <= MAX_ERROR_LEN, "error too long: {message}");
                prop_assert!(error.given.chars().count() <= 64);
            }
        }
        Ok(())
    }

    /// Mostly near misses of real names; sometimes anything.
    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            2 => text(),
            1 => "[a-zA-Z_ ]{0,24}",
            1 => prop::sample::select(vec![
                "web", "api", "system", "customer", "esim", "physical", "in_stock",
                "pending_termination", "identity_verified", "MB", "JPY", "usd", "top_up",
                "cancellation",
            ])
            .prop_map(str::to_string),
        ]
    }

    proptest! {
        #![proptest_config(config(PARSER_CASES))]

        #[test]
        fn any_text_is_a_known_name_or_a_clear_error(text in name()) {
            check::<Channel>(&text, |v| v.as_str().to_string())?;
            check::<ActorKind>(&text, |v| v.as_str().to_string())?;
            check::<LineKind>(&text, |v| v.as_str().to_string())?;
            check::<LineState>(&text, |v| v.as_str().to_string())?;
            check::<RequestState>(&text, |v| v.as_str().to_string())?;
            check::<BucketUnit>(&text, |v| v.as_str().to_string())?;
            check::<EntryKind>(&text, |v| v.as_str().to_string())?;
        }
    }
}
