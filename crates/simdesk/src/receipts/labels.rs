//! What a printed receipt says around its signed values, in the receipt's language: headings
//! and labels from `locales/<language>/receipts.ftl`, and the words for the values it records
//! as codes (channel, refund rule, where the refund went).

use jiff::tz::{self, TimeZone};
use jiff::Timestamp;
use simdesk_domain::attribution::Channel;
use simdesk_domain::customer::Language;

use super::{ReceiptLine, VERIFY_COMMAND};
use crate::i18n::{self, Args};

/// Headings and labels of a receipt in one language.
pub(super) struct Labels {
    pub language: Language,
    pub title: String,
    pub number: String,
    pub carrier: String,
    pub effective_date: String,
    pub usage_counted_until: String,
    pub issued: String,
    pub request: String,
    pub channel: String,
    pub customer: String,
    pub line: String,
    pub iccid: String,
    pub msisdn: String,
    pub plan: String,
    pub addons_unbound: String,
    pub none: String,
    pub refund: String,
    pub refund_rule: String,
    pub refund_items: String,
    pub total: String,
    pub credited_to: String,
    pub policy_version: String,
    pub signature: String,
    pub key_id: String,
    /// The sentence telling how to verify, with [`VERIFY_COMMAND`] in it.
    pub verify: String,
}

/// The refund rules a policy names, as the receipt records them.
pub(super) const RULES: [&str; 4] = ["full", "pro_rata", "fee_and_minimum", "none"];

/// Where a refund went, as the receipt records it, and the id of its words.
pub(super) const CREDITED: [(&str, &str); 2] = [
    ("e-wallet", "receipt-credited-e-wallet"),
    ("nothing due", "receipt-credited-nothing-due"),
];

/// A text of the receipt; its id if no language has it (visible, never a panic).
fn word(language: Language, id: &str) -> String {
    i18n::lookup(language, id).unwrap_or_else(|| id.to_string())
}

impl Labels {
    /// The labels for a receipt's language tag, read leniently (see [`i18n::from_tag`]).
    pub fn for_tag(tag: &str) -> Labels {
        let language = i18n::from_tag(tag);
        let w = |id: &str| word(language, id);
        let mut args = Args::new();
        args.insert("command".into(), i18n::text_arg(VERIFY_COMMAND));
        let verify = i18n::lookup_with_args(language, "receipt-verify", &args)
            .unwrap_or_else(|| VERIFY_COMMAND.to_string());
        Labels {
            language,
            title: w("receipt-title"),
            number: w("receipt-number"),
            carrier: w("receipt-carrier"),
            effective_date: w("receipt-effective-date"),
            usage_counted_until: w("receipt-usage-counted-until"),
            issued: w("receipt-issued"),
            request: w("receipt-request"),
            channel: w("receipt-channel"),
            customer: w("receipt-customer"),
            line: w("receipt-line"),
            iccid: w("receipt-iccid"),
            msisdn: w("receipt-msisdn"),
            plan: w("receipt-plan"),
            addons_unbound: w("receipt-addons-unbound"),
            none: w("receipt-none"),
            refund: w("receipt-refund"),
            refund_rule: w("receipt-refund-rule"),
            refund_items: w("receipt-refund-items"),
            total: w("receipt-total"),
            credited_to: w("receipt-credited-to"),
            policy_version: w("receipt-policy-version"),
            signature: w("receipt-signature"),
            key_id: w("receipt-key-id"),
            verify,
        }
    }

    /// The language tag the labels are in.
    pub fn tag(&self) -> &'static str {
        self.language.tag()
    }

    /// The verify sentence split around the command, so that a renderer can mark it up.
    pub fn verify_parts(&self) -> (&str, &str) {
        self.verify
            .split_once(VERIFY_COMMAND)
            .unwrap_or((self.verify.as_str(), ""))
    }

    /// The channel in words; a value simdesk does not know is shown as recorded.
    pub fn channel_name(&self, channel: &str) -> String {
        match channel.parse::<Channel>() {
            Ok(c) => word(self.language, &format!("receipt-channel-{}", c.as_str())),
            Err(_) => channel.to_string(),
        }
    }

    /// The refund rule in words; a rule written out in an older receipt is shown as recorded.
    pub fn rule_name(&self, rule: &str) -> String {
        match RULES.iter().find(|r| **r == rule) {
            Some(r) => word(self.language, &format!("receipt-rule-{r}")),
            None => rule.to_string(),
        }
    }

    /// Where the refund went, in words; anything more specific is shown as recorded.
    pub fn credited_name(&self, credited_to: &str) -> String {
        match CREDITED.iter().find(|(value, _)| *value == credited_to) {
            Some((_, id)) => word(self.language, id),
            None => credited_to.to_string(),
        }
    }
}

/// Japan Standard Time has no daylight saving: a fixed +09:00 needs no tz database.
fn jst() -> TimeZone {
    TimeZone::fixed(tz::offset(9))
}

/// The issue time in Japan: "2026-03-01 10:15:00 JST".
pub(super) fn issued_jst(at: Timestamp) -> String {
    at.to_zoned(jst())
        .strftime("%Y-%m-%d %H:%M:%S JST")
        .to_string()
}

pub(super) fn plan_text(line: &ReceiptLine) -> String {
    if line.plan_name.is_empty() || line.plan_name == line.plan {
        line.plan.clone()
    } else {
        format!("{} ({})", line.plan_name, line.plan)
    }
}
