//! Carrier and plan policies: TOML documents, parsed and validated with errors naming file and key.

use crate::calendar::{BusinessCalendar, Closure};
use crate::ids::CarrierCode;
use crate::line::LineKind;
use crate::money::{Currency, Money};
pub use crate::retention::RetentionPolicy;
use crate::retention::{
    ACT_IDENTITY_RECORD_YEARS, MAX_IDENTITY_RECORD_YEARS, MAX_PERSONAL_DATA_DAYS,
};
use crate::usage::UsagePolicy;
use crate::validity::{Counting, ValidityRule};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A policy document that could not be accepted: which file, which key, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {key}: {problem}")]
pub struct PolicyError {
    pub file: String,
    pub key: String,
    pub problem: String,
}

/// The mobile network a carrier's lines run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    Docomo,
    Softbank,
    Kddi,
}

/// How the remaining value is paid back when a line is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundRule {
    /// All of it.
    Full,
    /// In proportion to the validity that remains.
    ProRata,
    /// All of it minus a fee; nothing if what is left is below a minimum.
    FeeAndMinimum,
    /// Nothing.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundPolicy {
    pub rule: RefundRule,
    pub fee: Money,
    pub minimum: Money,
    /// Whether the unused part of the plan's price (by remaining validity) is refunded too.
    pub unused_plan_price: bool,
}

/// One way of proving who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityCheck {
    /// A one-time code sent to the line or the registered e-mail.
    Possession,
    /// Name and passport number matching the registration.
    Knowledge,
    /// A photo of the identity document, reviewed by an agent (or shown at the counter).
    Document,
}

/// Which checks each channel needs before a cancellation may proceed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityPolicy {
    pub web: Vec<IdentityCheck>,
    pub hotline: Vec<IdentityCheck>,
    pub store: Vec<IdentityCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CancellationPolicy {
    pub effective_delay_business_days: u32,
    /// Requests after this time of day (Japan time) count from the next business day.
    pub cutoff: jiff::civil::Time,
    /// Whether a line pending termination is barred on the network at once.
    pub bar_while_pending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddonKind {
    Roaming,
    FamilySharing,
    DataPack,
}

/// An add-on a carrier offers on its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddonOffer {
    pub code: String,
    pub name: String,
    pub kind: AddonKind,
    /// Charged from the line's money balance when bound.
    pub charge: Money,
    /// Data a data pack adds, in megabytes.
    pub data_mb: u64,
}

/// Limits on a single top-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopUpPolicy {
    pub minimum: Money,
    pub maximum: Money,
}

/// A carrier's rules, as loaded from its `carrier.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CarrierPolicy {
    pub code: CarrierCode,
    pub name: String,
    pub network: Network,
    /// Marks demonstration carriers that must not be mistaken for a real operator's terms.
    pub example: bool,
    pub currency: Currency,
    pub grace_days: u32,
    /// How many hours before a line's validity ends its holder is reminded (0: never).
    pub reminder_hours_before: u32,
    pub closures: Vec<Closure>,
    pub cancellation: CancellationPolicy,
    pub refund: RefundPolicy,
    pub identity: IdentityPolicy,
    pub top_up: TopUpPolicy,
    pub addons: Vec<AddonOffer>,
    /// How long personal data, identity records and documents are kept (`[retention]`, optional).
    pub retention: RetentionPolicy,
    /// How usage is rated (`[usage]`, optional).
    pub usage: UsagePolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    Data,
    Voice,
    Sms,
}

impl Service {
    pub const ALL: [Service; 3] = [Service::Data, Service::Voice, Service::Sms];

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Data => "data",
            Service::Voice => "voice",
            Service::Sms => "sms",
        }
    }
}

impl std::str::FromStr for Service {
    type Err = crate::attribution::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Service::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| crate::attribution::UnknownName::new("service", s, "data, voice or sms"))
    }
}

/// Carrier rules a plan replaces for its own lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanOverrides {
    pub grace_days: Option<u32>,
    pub cancellation: Option<CancellationPolicy>,
    pub refund: Option<RefundPolicy>,
    pub identity: Option<IdentityPolicy>,
}

/// A plan a carrier sells, as loaded from `plans/<code>.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanPolicy {
    pub code: String,
    pub carrier: CarrierCode,
    pub name: String,
    pub kind: LineKind,
    pub services: Vec<Service>,
    pub validity: ValidityRule,
    pub price: Money,
    pub data_allowance_mb: u64,
    /// Prepaid money balance the plan starts with (for calls and SMS).
    pub initial_credit: Money,
    pub overrides: PlanOverrides,
}

/// The rules that apply to one line: the carrier's, with its plan's overrides.
#[derive(Debug, Clone, Copy)]
pub struct EffectivePolicy<'a> {
    pub carrier: &'a CarrierPolicy,
    pub plan: &'a PlanPolicy,
}

impl EffectivePolicy<'_> {
    pub fn grace_days(&self) -> u32 {
        self.plan
            .overrides
            .grace_days
            .unwrap_or(self.carrier.grace_days)
    }
    pub fn cancellation(&self) -> &CancellationPolicy {
        self.plan
            .overrides
            .cancellation
            .as_ref()
            .unwrap_or(&self.carrier.cancellation)
    }
    pub fn refund(&self) -> &RefundPolicy {
        self.plan
            .overrides
            .refund
            .as_ref()
            .unwrap_or(&self.carrier.refund)
    }
    pub fn identity(&self) -> &IdentityPolicy {
        self.plan
            .overrides
            .identity
            .as_ref()
            .unwrap_or(&self.carrier.identity)
    }
    pub fn calendar(&self) -> BusinessCalendar {
        self.carrier.calendar()
    }
}

impl CarrierPolicy {
    pub fn calendar(&self) -> BusinessCalendar {
        BusinessCalendar::with_closures(self.closures.clone())
    }

    pub fn addon(&self, code: &str) -> Option<&AddonOffer> {
        self.addons.iter().find(|a| a.code == code)
    }

    /// Parses and validates a carrier document; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<CarrierPolicy, PolicyError> {
        let raw: raw::Carrier = parse(file, text)?;
        let err = |key: &str, problem: String| PolicyError {
            file: file.to_string(),
            key: key.to_string(),
            problem,
        };
        let code = validate_code(&raw.code).map_err(|p| err("code", p))?;
        if raw.name.trim().is_empty() {
            return Err(err("name", "the carrier needs a display name".into()));
        }
        let currency: Currency = raw
            .currency
            .parse()
            .map_err(|e| err("currency", format!("{e}")))?;
        let money = |key: &str, text: &str| parse_money(text, currency).map_err(|p| err(key, p));
        if raw.grace_days > 90 {
            return Err(err(
                "grace_days",
                format!(
                    "{} days of grace is more than the 90 allowed",
                    raw.grace_days
                ),
            ));
        }
        if raw.reminder_hours_before > 24 * 30 {
            return Err(err(
                "reminder_hours_before",
                format!(
                    "{} hours is more than the 720 (30 days) allowed; use 0 for no reminder",
                    raw.reminder_hours_before
                ),
            ));
        }
        let mut closures = Vec::new();
        for (i, c) in raw.closures.iter().enumerate() {
            closures.push(
                c.parse::<Closure>()
                    .map_err(|e| err(&format!("closures[{i}]"), e.to_string()))?,
            );
        }
        let cancellation = cancellation(&raw.cancellation)
            .map_err(|(k, p)| err(&format!("cancellation.{k}"), p))?;
        let refund =
            refund(&raw.refund, currency).map_err(|(k, p)| err(&format!("refund.{k}"), p))?;
        identity(&raw.identity).map_err(|(k, p)| err(&format!("identity.{k}"), p))?;
        let top_up = TopUpPolicy {
            minimum: money("top_up.minimum", &raw.top_up.minimum)?,
            maximum: money("top_up.maximum", &raw.top_up.maximum)?,
        };
        if !top_up.minimum.is_positive() || top_up.maximum.minor() < top_up.minimum.minor() {
            return Err(err(
                "top_up",
                "minimum must be positive and not above maximum".into(),
            ));
        }
        let retention = retention(raw.retention.as_ref())
            .map_err(|(k, p)| err(&format!("retention.{k}"), p))?;
        let usage = crate::usage::policy_from(raw.usage.as_ref(), currency)
            .map_err(|(k, p)| err(&format!("usage.{k}"), p))?;
        let mut addons: Vec<AddonOffer> = Vec::new();
        for (i, a) in raw.addons.iter().enumerate() {
            let key = |k: &str| format!("addons[{i}].{k}");
            let code = validate_code(&a.code).map_err(|p| err(&key("code"), p))?;
            if addons.iter().any(|x| x.code == code) {
                return Err(err(&key("code"), format!("add-on {code} is listed twice")));
            }
            let charge = money(&key("charge"), &a.charge)?;
            if charge.is_negative() {
                return Err(err(&key("charge"), "a charge cannot be negative".into()));
            }
            let data_mb = a.data_mb.unwrap_or(0);
            if a.kind == AddonKind::DataPack && data_mb == 0 {
                return Err(err(
                    &key("data_mb"),
                    "a data pack must say how many megabytes it adds".into(),
                ));
            }
            addons.push(AddonOffer {
                code,
                name: a.name.clone(),
                kind: a.kind,
                charge,
                data_mb,
            });
        }
        Ok(CarrierPolicy {
            code: CarrierCode::new(code),
            name: raw.name,
            network: raw.network,
            example: raw.example,
            currency,
            grace_days: raw.grace_days,
            reminder_hours_before: raw.reminder_hours_before,
            closures,
            cancellation,
            refund,
            identity: raw.identity,
            top_up,
            addons,
            retention,
            usage,
        })
    }
}

impl PlanPolicy {
    /// Parses and validates a plan document of `carrier`; `file` names it in errors.
    pub fn from_toml(
        file: &str,
        text: &str,
        carrier: &CarrierPolicy,
    ) -> Result<PlanPolicy, PolicyError> {
        let raw: raw::Plan = parse(file, text)?;
        let err = |key: &str, problem: String| PolicyError {
            file: file.to_string(),
            key: key.to_string(),
            problem,
        };
        let currency = carrier.currency;
        let money = |key: &str, text: &str| parse_money(text, currency).map_err(|p| err(key, p));
        let code = validate_code(&raw.code).map_err(|p| err("code", p))?;
        if raw.name.trim().is_empty() {
            return Err(err("name", "the plan needs a display name".into()));
        }
        if raw.services.is_empty() {
            return Err(err(
                "services",
                "a plan offers at least one of data, voice, sms".into(),
            ));
        }
        if !(1..=365).contains(&raw.validity_days) {
            return Err(err(
                "validity_days",
                format!("{} is outside 1..=365 days", raw.validity_days),
            ));
        }
        let price = money("price", &raw.price)?;
        let initial_credit = money(
            "initial_credit",
            raw.initial_credit.as_deref().unwrap_or("0"),
        )?;
        if price.is_negative() || initial_credit.is_negative() {
            return Err(err("price", "amounts cannot be negative".into()));
        }
        if raw.services.contains(&Service::Data) && raw.data_allowance_mb == 0 {
            return Err(err(
                "data_allowance_mb",
                "a plan with data must give an allowance in megabytes".into(),
            ));
        }
        let mut overrides = PlanOverrides::default();
        if let Some(o) = raw.overrides {
            if let Some(g) = o.grace_days {
                if g > 90 {
                    return Err(err(
                        "overrides.grace_days",
                        format!("{g} days of grace is more than the 90 allowed"),
                    ));
                }
                overrides.grace_days = Some(g);
            }
            if let Some(c) = o.cancellation {
                overrides.cancellation = Some(
                    cancellation(&c)
                        .map_err(|(k, p)| err(&format!("overrides.cancellation.{k}"), p))?,
                );
            }
            if let Some(r) = o.refund {
                overrides.refund = Some(
                    refund(&r, currency)
                        .map_err(|(k, p)| err(&format!("overrides.refund.{k}"), p))?,
                );
            }
            if let Some(i) = o.identity {
                identity(&i).map_err(|(k, p)| err(&format!("overrides.identity.{k}"), p))?;
                overrides.identity = Some(i);
            }
        }
        Ok(PlanPolicy {
            code,
            carrier: carrier.code.clone(),
            name: raw.name,
            kind: raw.kind,
            services: raw.services,
            validity: ValidityRule {
                days: raw.validity_days,
                counting: raw.validity_counting,
            },
            price,
            data_allowance_mb: raw.data_allowance_mb,
            initial_credit,
            overrides,
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, PolicyError> {
    let value: toml::Value = toml::from_str(text).map_err(|e| PolicyError {
        file: file.to_string(),
        key: "(document)".into(),
        problem: format!("not valid TOML: {}", e.message()),
    })?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        PolicyError {
            file: file.to_string(),
            key: if path == "." {
                "(document)".into()
            } else {
                path
            },
            problem: e.into_inner().message().trim().to_string(),
        }
    })
}

fn validate_code(code: &str) -> Result<String, String> {
    let ok = !code.is_empty()
        && code.len() <= 32
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(code.to_string())
    } else {
        Err(format!(
            "{code:?} is not a code: use 1 to 32 upper-case letters, digits, '-' or '_'"
        ))
    }
}

pub(crate) fn parse_money(text: &str, currency: Currency) -> Result<Money, String> {
    let money = Money::parse(text)
        .or_else(|_| Money::parse_in(text, currency))
        .map_err(|e| format!("{e} (write amounts like \"1200 {currency}\")"))?;
    if money.currency() != currency {
        return Err(format!(
            "amount is in {}, but this carrier's currency is {currency}",
            money.currency()
        ));
    }
    Ok(money)
}

fn cancellation(raw: &raw::Cancellation) -> Result<CancellationPolicy, (&'static str, String)> {
    if !(1..=10).contains(&raw.effective_delay_business_days) {
        return Err((
            "effective_delay_business_days",
            format!(
                "{} is outside 1..=10 business days",
                raw.effective_delay_business_days
            ),
        ));
    }
    let cutoff: jiff::civil::Time = raw.cutoff.parse().map_err(|_| {
        (
            "cutoff",
            format!(
                "{:?} is not a time of day; write it like \"17:00\"",
                raw.cutoff
            ),
        )
    })?;
    Ok(CancellationPolicy {
        effective_delay_business_days: raw.effective_delay_business_days,
        cutoff,
        bar_while_pending: raw.bar_while_pending,
    })
}

fn refund(raw: &raw::Refund, currency: Currency) -> Result<RefundPolicy, (&'static str, String)> {
    let fee = parse_money(raw.fee.as_deref().unwrap_or("0"), currency).map_err(|p| ("fee", p))?;
    let minimum =
        parse_money(raw.minimum.as_deref().unwrap_or("0"), currency).map_err(|p| ("minimum", p))?;
    if fee.is_negative() {
        return Err(("fee", "a fee cannot be negative".into()));
    }
    if minimum.is_negative() {
        return Err(("minimum", "a minimum cannot be negative".into()));
    }
    match raw.rule {
        RefundRule::FeeAndMinimum => {}
        _ if !fee.is_zero() => {
            return Err((
                "fee",
                "a fee only applies to rule = \"fee_and_minimum\"".into(),
            ))
        }
        _ => {}
    }
    if raw.rule == RefundRule::None && raw.unused_plan_price {
        return Err((
            "unused_plan_price",
            "rule = \"none\" refunds nothing, so it cannot refund the plan price".into(),
        ));
    }
    Ok(RefundPolicy {
        rule: raw.rule,
        fee,
        minimum,
        unused_plan_price: raw.unused_plan_price,
    })
}

fn identity(raw: &IdentityPolicy) -> Result<(), (&'static str, String)> {
    for (key, checks) in [
        ("web", &raw.web),
        ("hotline", &raw.hotline),
        ("store", &raw.store),
    ] {
        if checks.is_empty() {
            return Err((
                key,
                "every channel needs at least one identity check (possession, knowledge, document)"
                    .into(),
            ));
        }
        let mut seen = checks.clone();
        seen.sort_by_key(|c| *c as u8);
        seen.dedup();
        if seen.len() != checks.len() {
            return Err((key, "a check is listed twice".into()));
        }
    }
    Ok(())
}

fn retention(raw: Option<&raw::Retention>) -> Result<RetentionPolicy, (&'static str, String)> {
    let defaults = RetentionPolicy::default();
    let Some(raw) = raw else {
        return Ok(defaults);
    };
    let policy = RetentionPolicy {
        personal_data_days: raw
            .personal_data_days
            .unwrap_or(defaults.personal_data_days),
        identity_record_years: raw
            .identity_record_years
            .unwrap_or(defaults.identity_record_years),
        identity_record_for_data_lines: raw
            .identity_record_for_data_lines
            .unwrap_or(defaults.identity_record_for_data_lines),
        document_days: raw.document_days.unwrap_or(defaults.document_days),
    };
    if policy.personal_data_days > MAX_PERSONAL_DATA_DAYS {
        return Err((
            "personal_data_days",
            format!(
                "{} days is more than the {MAX_PERSONAL_DATA_DAYS} allowed",
                policy.personal_data_days
            ),
        ));
    }
    if policy.identity_record_years < ACT_IDENTITY_RECORD_YEARS {
        return Err((
            "identity_record_years",
            format!(
                "{} years is too short: the Mobile Phone Improper Use Prevention Act keeps a voice \
                 line's identity-verification record for {ACT_IDENTITY_RECORD_YEARS} years after \
                 the contract ends",
                policy.identity_record_years
            ),
        ));
    }
    if policy.identity_record_years > MAX_IDENTITY_RECORD_YEARS {
        return Err((
            "identity_record_years",
            format!(
                "{} years is more than the {MAX_IDENTITY_RECORD_YEARS} allowed",
                policy.identity_record_years
            ),
        ));
    }
    if policy.document_days > MAX_PERSONAL_DATA_DAYS {
        return Err((
            "document_days",
            format!(
                "{} days is more than the {MAX_PERSONAL_DATA_DAYS} allowed",
                policy.document_days
            ),
        ));
    }
    Ok(policy)
}

impl fmt::Display for RefundRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefundRule::Full => "full",
            RefundRule::ProRata => "pro_rata",
            RefundRule::FeeAndMinimum => "fee_and_minimum",
            RefundRule::None => "none",
        })
    }
}

/// The documents as written, before validation.
mod raw {
    use super::*;

    fn default_cutoff() -> String {
        "23:59".into()
    }

    fn default_reminder_hours() -> u32 {
        24
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Carrier {
        pub code: String,
        pub name: String,
        pub network: Network,
        #[serde(default)]
        pub example: bool,
        pub currency: String,
        #[serde(default)]
        pub grace_days: u32,
        #[serde(default = "default_reminder_hours")]
        pub reminder_hours_before: u32,
        #[serde(default)]
        pub closures: Vec<String>,
        pub cancellation: Cancellation,
        pub refund: Refund,
        pub identity: IdentityPolicy,
        pub top_up: TopUp,
        #[serde(default)]
        pub addons: Vec<Addon>,
        pub retention: Option<Retention>,
        pub usage: Option<crate::usage::RawUsage>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Retention {
        pub personal_data_days: Option<u32>,
        pub identity_record_years: Option<u32>,
        pub identity_record_for_data_lines: Option<bool>,
        pub document_days: Option<u32>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Cancellation {
        pub effective_delay_business_days: u32,
        #[serde(default = "default_cutoff")]
        pub cutoff: String,
        #[serde(default)]
        pub bar_while_pending: bool,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Refund {
        pub rule: RefundRule,
        pub fee: Option<String>,
        pub minimum: Option<String>,
        #[serde(default)]
        pub unused_plan_price: bool,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct TopUp {
        pub minimum: String,
        pub maximum: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Addon {
        pub code: String,
        pub name: String,
        pub kind: AddonKind,
        pub charge: String,
        pub data_mb: Option<u64>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Plan {
        pub code: String,
        pub name: String,
        pub kind: LineKind,
        pub services: Vec<Service>,
        pub validity_days: u32,
        pub validity_counting: Counting,
        pub price: String,
        #[serde(default)]
        pub data_allowance_mb: u64,
        pub initial_credit: Option<String>,
        pub overrides: Option<Overrides>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Overrides {
        pub grace_days: Option<u32>,
        pub cancellation: Option<Cancellation>,
        pub refund: Option<Refund>,
        pub identity: Option<IdentityPolicy>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const CARRIER: &str = r#"
code = "EX-TEST"
name = "Example test carrier"
network = "docomo"
example = true
currency = "JPY"
grace_days = 3
closures = ["12-29..01-03"]

[cancellation]
effective_delay_business_days = 2
cutoff = "17:00"
bar_while_pending = true

[refund]
rule = "fee_and_minimum"
fee = "300 JPY"
minimum = "500 JPY"

[identity]
web = ["possession"]
hotline = ["knowledge"]
store = ["document", "possession"]

[top_up]
minimum = "500 JPY"
maximum = "20000 JPY"

[[addons]]
code = "ROAMING"
name = "International roaming"
kind = "roaming"
charge = "500 JPY"

[[addons]]
code = "DATA-1GB"
name = "1 GB data pack"
kind = "data_pack"
charge = "1000 JPY"
data_mb = 1024
"#;

    const PLAN: &str = r#"
code = "JP10-DV"
name = "Japan 10-day data + voice"
kind = "physical"
services = ["data", "voice", "sms"]
validity_days = 10
validity_counting = "calendar_days_jst"
price = "3980 JPY"
data_allowance_mb = 10240
initial_credit = "1000 JPY"

[overrides]
grace_days = 0
[overrides.refund]
rule = "none"
"#;

    #[test]
    fn a_carrier_and_plan_load_and_combine() {
        let carrier = CarrierPolicy::from_toml("carrier.toml", CARRIER).unwrap();
        assert_eq!(carrier.cancellation.effective_delay_business_days, 2);
        assert_eq!(carrier.addon("DATA-1GB").unwrap().data_mb, 1024);
        let plan = PlanPolicy::from_toml("plans/jp10.toml", PLAN, &carrier).unwrap();
        let effective = EffectivePolicy {
            carrier: &carrier,
            plan: &plan,
        };
        assert_eq!(effective.grace_days(), 0);
        assert_eq!(effective.refund().rule, RefundRule::None);
        assert_eq!(effective.cancellation().effective_delay_business_days, 2);
    }

    #[test]
    fn errors_name_file_key_and_problem() {
        let cases = [
            (
                CARRIER.replace("rule = \"fee_and_minimum\"", "rule = \"partial\""),
                "refund.rule",
            ),
            (
                CARRIER.replace(
                    "effective_delay_business_days = 2",
                    "effective_delay_business_days = 0",
                ),
                "cancellation.effective_delay_business_days",
            ),
            (
                CARRIER.replace("cutoff = \"17:00\"", "cutoff = \"5pm\""),
                "cancellation.cutoff",
            ),
            (
                CARRIER.replace("12-29..01-03", "13-29..01-03"),
                "closures[0]",
            ),
            (
                CARRIER.replace("fee = \"300 JPY\"", "fee = \"3.5 JPY\""),
                "refund.fee",
            ),
            (
                CARRIER.replace("grace_days = 3", "grace_days = 3\ncolour = \"red\""),
                "colour",
            ),
            (
                CARRIER.replace("web = [\"possession\"]", "web = []"),
                "identity.web",
            ),
            (CARRIER.replace("data_mb = 1024", ""), "addons[1].data_mb"),
            (
                CARRIER.replace("currency = \"JPY\"", "currency = \"XXX\""),
                "currency",
            ),
            (CARRIER.replace("[top_up]", "[top_up"), "(document)"),
        ];
        for (text, key) in cases {
            let err = CarrierPolicy::from_toml("policies/ex/carrier.toml", &text).unwrap_err();
            assert_eq!(err.file, "policies/ex/carrier.toml");
            assert_eq!(err.key, key, "{err}");
            assert!(!err.problem.is_empty());
        }
    }

    const RETENTION: &str = r#"
[retention]
personal_data_days = 14
identity_record_years = 5
identity_record_for_data_lines = true
document_days = 7
"#;

    #[test]
    fn retention_is_optional_and_parsed_when_given() {
        let carrier = CarrierPolicy::from_toml("carrier.toml", CARRIER).unwrap();
        assert_eq!(carrier.retention, RetentionPolicy::default());
        let text = format!("{CARRIER}{RETENTION}");
        let carrier = CarrierPolicy::from_toml("carrier.toml", &text).unwrap();
        assert_eq!(
            carrier.retention,
            RetentionPolicy {
                personal_data_days: 14,
                identity_record_years: 5,
                identity_record_for_data_lines: true,
                document_days: 7,
            }
        );
        // Keys left out take their defaults.
        let text = format!("{CARRIER}\n[retention]\npersonal_data_days = 60\n");
        let carrier = CarrierPolicy::from_toml("carrier.toml", &text).unwrap();
        assert_eq!(
            carrier.retention,
            RetentionPolicy {
                personal_data_days: 60,
                ..RetentionPolicy::default()
            }
        );
    }

    #[test]
    fn retention_errors_name_the_key() {
        let with = |from: &str, to: &str| format!("{CARRIER}{}", RETENTION.replace(from, to));
        let cases = [
            (
                with("identity_record_years = 5", "identity_record_years = 2"),
                "retention.identity_record_years",
                "Act",
            ),
            (
                with("identity_record_years = 5", "identity_record_years = 11"),
                "retention.identity_record_years",
                "10",
            ),
            (
                with("personal_data_days = 14", "personal_data_days = 3651"),
                "retention.personal_data_days",
                "3650",
            ),
            (
                with("document_days = 7", "document_days = 7\npassport_days = 7"),
                "retention.passport_days",
                "unknown field",
            ),
            (
                with("personal_data_days = 14", "personal_data_days = -1"),
                "retention.personal_data_days",
                "",
            ),
            (
                with(
                    "identity_record_for_data_lines = true",
                    "identity_record_for_data_lines = \"yes\"",
                ),
                "retention.identity_record_for_data_lines",
                "",
            ),
        ];
        for (text, key, mentions) in cases {
            let err = CarrierPolicy::from_toml("policies/ex/carrier.toml", &text).unwrap_err();
            assert_eq!(err.file, "policies/ex/carrier.toml");
            assert_eq!(err.key, key, "{err}");
            assert!(err.problem.contains(mentions), "{err}");
            assert!(!err.problem.is_empty());
        }
        let err = CarrierPolicy::from_toml(
            "c.toml",
            &with("identity_record_years = 5", "identity_record_years = 2"),
        )
        .unwrap_err();
        assert!(
            err.problem.contains("3 years after the contract ends"),
            "{err}"
        );
    }

    #[test]
    fn the_example_carriers_state_their_retention() {
        let load = |file: &str, text: &str| CarrierPolicy::from_toml(file, text).unwrap().retention;
        let sakura = load(
            "EX-SAKURA",
            include_str!("../../../policies/EX-SAKURA/carrier.toml"),
        );
        let fuji = load(
            "EX-FUJI",
            include_str!("../../../policies/EX-FUJI/carrier.toml"),
        );
        let koi = load(
            "EX-KOI",
            include_str!("../../../policies/EX-KOI/carrier.toml"),
        );
        assert_eq!(sakura, RetentionPolicy::default());
        assert_eq!(
            (fuji.personal_data_days, fuji.identity_record_for_data_lines),
            (14, true)
        );
        assert_eq!((koi.personal_data_days, koi.identity_record_years), (60, 5));
    }

    #[test]
    fn plan_errors_name_the_key() {
        let carrier = CarrierPolicy::from_toml("carrier.toml", CARRIER).unwrap();
        let cases = [
            (
                PLAN.replace("validity_days = 10", "validity_days = 0"),
                "validity_days",
            ),
            (
                PLAN.replace("calendar_days_jst", "weeks"),
                "validity_counting",
            ),
            (
                PLAN.replace("price = \"3980 JPY\"", "price = \"39.80 USD\""),
                "price",
            ),
            (
                PLAN.replace("kind = \"physical\"", "kind = \"paper\""),
                "kind",
            ),
        ];
        for (text, key) in cases {
            let err = PlanPolicy::from_toml("plan.toml", &text, &carrier).unwrap_err();
            assert_eq!(err.key, key, "{err}");
        }
    }
}

/// The real policy files, mutated (keys dropped, replaced, added; huge, negative and mistyped
/// values; characters edited) and arbitrary text, through the loader: a policy that keeps every
/// rule the loader checks, or an error naming the file, the key and the problem, never a panic.
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::fuzz::{config, edit_char, mutate, text, PARSER_CASES};
    use proptest::prelude::*;
    use toml::Value;

    const CARRIERS: [(&str, &str); 3] = [
        (
            "EX-FUJI/carrier.toml",
            include_str!("../../../policies/EX-FUJI/carrier.toml"),
        ),
        (
            "EX-KOI/carrier.toml",
            include_str!("../../../policies/EX-KOI/carrier.toml"),
        ),
        (
            "EX-SAKURA/carrier.toml",
            include_str!("../../../policies/EX-SAKURA/carrier.toml"),
        ),
    ];

    /// Each plan with the index of its carrier in [`CARRIERS`].
    const PLANS: [(usize, &str, &str); 7] = [
        (
            0,
            "EX-FUJI/plans/ESIM-7.toml",
            include_str!("../../../policies/EX-FUJI/plans/ESIM-7.toml"),
        ),
        (
            0,
            "EX-FUJI/plans/JP10-DV.toml",
            include_str!("../../../policies/EX-FUJI/plans/JP10-DV.toml"),
        ),
        (
            1,
            "EX-KOI/plans/JP15-D.toml",
            include_str!("../../../policies/EX-KOI/plans/JP15-D.toml"),
        ),
        (
            1,
            "EX-KOI/plans/JP31-DV.toml",
            include_str!("../../../policies/EX-KOI/plans/JP31-DV.toml"),
        ),
        (
            2,
            "EX-SAKURA/plans/ESIM-15.toml",
            include_str!("../../../policies/EX-SAKURA/plans/ESIM-15.toml"),
        ),
        (
            2,
            "EX-SAKURA/plans/JP10-DV.toml",
            include_str!("../../../policies/EX-SAKURA/plans/JP10-DV.toml"),
        ),
        (
            2,
            "EX-SAKURA/plans/JP15-D.toml",
            include_str!("../../../policies/EX-SAKURA/plans/JP15-D.toml"),
        ),
    ];

    fn carrier(index: usize) -> CarrierPolicy {
        let (file, text) = CARRIERS[index];
        CarrierPolicy::from_toml(file, text).expect("the real carrier files load")
    }

    /// Every key a policy document may have, so that replacing one field sometimes lands a value
    /// where the loader expects another.
    const KEYS: [&str; 30] = [
        "code",
        "name",
        "network",
        "example",
        "currency",
        "grace_days",
        "reminder_hours_before",
        "closures",
        "cancellation",
        "effective_delay_business_days",
        "cutoff",
        "bar_while_pending",
        "refund",
        "rule",
        "fee",
        "minimum",
        "maximum",
        "unused_plan_price",
        "identity",
        "top_up",
        "addons",
        "charge",
        "data_mb",
        "retention",
        "kind",
        "services",
        "validity_days",
        "price",
        "data_allowance_mb",
        "overrides",
    ];

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            3 => prop::sample::select(vec![
                i64::MIN, -1, 0, 1, 2, 3, 10, 11, 90, 91, 365, 366, 720, 721, 3650, 3651,
                i64::from(u32::MAX), i64::from(u32::MAX) + 1, i64::MAX,
            ])
            .prop_map(Value::Integer),
            1 => any::<i64>().prop_map(Value::Integer),
            1 => prop_oneof![
                Just(f64::NAN), Just(f64::INFINITY), Just(-0.0), Just(1e300), any::<f64>(),
            ]
            .prop_map(Value::Float),
            1 => any::<bool>().prop_map(Value::Boolean),
            3 => prop::sample::select(vec![
                "", " ", "0", "-1 JPY", "0 JPY", "1 JPY", "-0 JPY", "12.50 USD", "1.5 JPY",
                "9223372036854775807 JPY", "9223372036854775808 JPY", "-9223372036854775808 JPY",
                "¥-5", "1e3 JPY", "docomo", "softbank", "none", "full", "pro_rata",
                "fee_and_minimum", "possession", "knowledge", "document", "esim", "physical",
                "data", "voice", "sms", "data_pack", "roaming", "rolling_24h",
                "calendar_days_jst", "00:00", "24:00", "23:59:60", "-01:00", "17:00:00.5",
                "12-31..01-01", "02-30", "13-01", "EX-FUJI", "ex-fuji", "DATA-1GB",
                "LPA:1$x$y", "\u{0}", "ＪＰＹ",
            ])
            .prop_map(|s| Value::String(s.to_string())),
            2 => text().prop_map(Value::String),
            1 => Just(Value::Datetime("1979-05-27T07:32:00Z".parse().unwrap())),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(2, 12, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((prop::sample::select(KEYS.to_vec()), inner), 0..4).prop_map(
                    |pairs| Value::Table(
                        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                    )
                ),
            ]
        })
    }

    #[derive(Debug, Clone)]
    enum Step {
        Key(String),
        Index(usize),
    }

    /// The path of every value in `value`, tables and arrays included.
    fn paths(value: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        match value {
            Value::Table(table) => {
                for (key, inner) in table {
                    at.push(Step::Key(key.clone()));
                    out.push(at.clone());
                    paths(inner, at, out);
                    at.pop();
                }
            }
            Value::Array(items) => {
                for (index, inner) in items.iter().enumerate() {
                    at.push(Step::Index(index));
                    out.push(at.clone());
                    paths(inner, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }

    fn at_mut<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
        path.iter().try_fold(value, |value, step| match step {
            Step::Key(key) => value.get_mut(key.as_str()),
            Step::Index(index) => value.get_mut(*index),
        })
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Drop,
        Replace(Value),
        Add(String, Value),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            1 => Just(Mutation::Drop),
            3 => value().prop_map(Mutation::Replace),
            1 => (
                prop_oneof![prop::sample::select(KEYS.to_vec()).prop_map(str::to_string), "[a-z_]{1,12}"],
                value(),
            )
                .prop_map(|(k, v)| Mutation::Add(k, v)),
        ]
    }

    /// The document with each mutation applied at a path picked by its index; `None` when the
    /// result cannot be written as TOML.
    fn mutated(text: &str, mutations: &[(prop::sample::Index, Mutation)]) -> Option<String> {
        let mut document: Value = Value::Table(toml::from_str(text).ok()?);
        for (pick, mutation) in mutations {
            let mut all = vec![Vec::new()];
            paths(&document, &mut Vec::new(), &mut all);
            let path = &all[pick.index(all.len())];
            match mutation {
                Mutation::Drop => {
                    let Some((last, parent)) = path.split_last() else {
                        continue;
                    };
                    match (at_mut(&mut document, parent)?, last) {
                        (Value::Table(table), Step::Key(key)) => {
                            table.remove(key);
                        }
                        (Value::Array(items), Step::Index(index)) => {
                            items.remove(*index);
                        }
                        _ => {}
                    }
                }
                Mutation::Replace(value) => {
                    if path.is_empty() {
                        continue;
                    }
                    *at_mut(&mut document, path)? = value.clone();
                }
                Mutation::Add(key, value) => {
                    if let Value::Table(table) = at_mut(&mut document, path)? {
                        table.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        toml::to_string(&document).ok()
    }

    fn check_error(file: &str, error: &PolicyError) -> Result<(), TestCaseError> {
        prop_assert_eq!(error.file.as_str(), file);
        prop_assert!(!error.key.trim().is_empty(), "no key: {error}");
        prop_assert!(!error.problem.trim().is_empty(), "no problem: {error}");
        Ok(())
    }

    fn check_money(
        money: Money,
        currency: Currency,
        non_negative: bool,
    ) -> Result<(), TestCaseError> {
        prop_assert_eq!(money.currency(), currency);
        if non_negative {
            prop_assert!(!money.is_negative(), "{money}");
        }
        Ok(())
    }

    fn check_cancellation(c: &CancellationPolicy) -> Result<(), TestCaseError> {
        prop_assert!((1..=10).contains(&c.effective_delay_business_days));
        Ok(())
    }

    fn check_refund(r: &RefundPolicy, currency: Currency) -> Result<(), TestCaseError> {
        check_money(r.fee, currency, true)?;
        check_money(r.minimum, currency, true)?;
        prop_assert!(r.rule == RefundRule::FeeAndMinimum || r.fee.is_zero());
        prop_assert!(!(r.rule == RefundRule::None && r.unused_plan_price));
        Ok(())
    }

    fn check_identity(i: &IdentityPolicy) -> Result<(), TestCaseError> {
        prop_assert!(identity(i).is_ok());
        Ok(())
    }

    /// Every rule `from_toml` promises of a carrier it accepts.
    fn check_carrier(c: &CarrierPolicy) -> Result<(), TestCaseError> {
        prop_assert!(validate_code(&c.code).is_ok());
        prop_assert!(!c.name.trim().is_empty());
        prop_assert!(c.grace_days <= 90);
        prop_assert!(c.reminder_hours_before <= 720);
        check_cancellation(&c.cancellation)?;
        check_refund(&c.refund, c.currency)?;
        check_identity(&c.identity)?;
        check_money(c.top_up.minimum, c.currency, true)?;
        check_money(c.top_up.maximum, c.currency, true)?;
        prop_assert!(c.top_up.minimum.is_positive());
        prop_assert!(c.top_up.minimum.minor() <= c.top_up.maximum.minor());
        for (i, addon) in c.addons.iter().enumerate() {
            prop_assert!(validate_code(&addon.code).is_ok());
            prop_assert!(c.addons[..i].iter().all(|other| other.code != addon.code));
            check_money(addon.charge, c.currency, true)?;
            prop_assert!(addon.kind != AddonKind::DataPack || addon.data_mb > 0);
        }
        let r = &c.retention;
        prop_assert!(r.personal_data_days <= MAX_PERSONAL_DATA_DAYS);
        prop_assert!(r.document_days <= MAX_PERSONAL_DATA_DAYS);
        prop_assert!((ACT_IDENTITY_RECORD_YEARS..=MAX_IDENTITY_RECORD_YEARS)
            .contains(&r.identity_record_years));
        Ok(())
    }

    /// Every rule `from_toml` promises of a plan it accepts.
    fn check_plan(p: &PlanPolicy, carrier: &CarrierPolicy) -> Result<(), TestCaseError> {
        prop_assert!(validate_code(&p.code).is_ok());
        prop_assert_eq!(&p.carrier, &carrier.code);
        prop_assert!(!p.name.trim().is_empty());
        prop_assert!(!p.services.is_empty());
        prop_assert!((1..=365).contains(&p.validity.days));
        check_money(p.price, carrier.currency, true)?;
        check_money(p.initial_credit, carrier.currency, true)?;
        prop_assert!(!p.services.contains(&Service::Data) || p.data_allowance_mb > 0);
        let o = &p.overrides;
        prop_assert!(o.grace_days.is_none_or(|g| g <= 90));
        if let Some(c) = &o.cancellation {
            check_cancellation(c)?;
        }
        if let Some(r) = &o.refund {
            check_refund(r, carrier.currency)?;
        }
        if let Some(i) = &o.identity {
            check_identity(i)?;
        }
        Ok(())
    }

    fn load_carrier(file: &str, text: &str) -> Result<(), TestCaseError> {
        match CarrierPolicy::from_toml(file, text) {
            Ok(carrier) => check_carrier(&carrier),
            Err(error) => check_error(file, &error),
        }
    }

    fn load_plan(file: &str, text: &str, carrier: &CarrierPolicy) -> Result<(), TestCaseError> {
        match PlanPolicy::from_toml(file, text, carrier) {
            Ok(plan) => check_plan(&plan, carrier),
            Err(error) => check_error(file, &error),
        }
    }

    type Edits = Vec<(u8, prop::sample::Index, char)>;

    fn edits() -> impl Strategy<Value = Edits> {
        prop::collection::vec(
            (any::<u8>(), any::<prop::sample::Index>(), edit_char()),
            1..4,
        )
    }

    fn edited(text: &str, edits: Edits) -> String {
        edits
            .into_iter()
            .fold(text.to_string(), |text, (edit, at, with)| {
                mutate(&text, edit, at, with)
            })
    }

    #[test]
    fn the_real_files_load() {
        for index in 0..CARRIERS.len() {
            check_carrier(&carrier(index)).unwrap();
        }
        for (index, file, text) in PLANS {
            let carrier = carrier(index);
            check_plan(
                &PlanPolicy::from_toml(file, text, &carrier).unwrap(),
                &carrier,
            )
            .unwrap();
        }
    }

    proptest! {
        #![proptest_config(config(PARSER_CASES))]

        #[test]
        fn any_text_is_a_policy_or_a_clear_error(text in text(), index in 0..CARRIERS.len()) {
            load_carrier("carrier.toml", &text)?;
            load_plan("plan.toml", &text, &carrier(index))?;
        }

        #[test]
        fn a_mutated_carrier_is_a_valid_policy_or_a_clear_error(
            index in 0..CARRIERS.len(),
            mutations in prop::collection::vec((any::<prop::sample::Index>(), mutation()), 1..4),
        ) {
            let (file, text) = CARRIERS[index];
            if let Some(text) = mutated(text, &mutations) {
                load_carrier(file, &text)?;
            }
        }

        #[test]
        fn a_mutated_plan_is_a_valid_policy_or_a_clear_error(
            index in 0..PLANS.len(),
            mutations in prop::collection::vec((any::<prop::sample::Index>(), mutation()), 1..4),
        ) {
            let (carrier_index, file, text) = PLANS[index];
            if let Some(text) = mutated(text, &mutations) {
                load_plan(file, &text, &carrier(carrier_index))?;
            }
        }

        #[test]
        fn an_edited_policy_file_is_a_valid_policy_or_a_clear_error(
            carrier_index in 0..CARRIERS.len(),
            plan_index in 0..PLANS.len(),
            edits in edits(),
        ) {
            let (file, text) = CARRIERS[carrier_index];
            load_carrier(file, &edited(text, edits.clone()))?;
            let (carrier_index, file, text) = PLANS[plan_index];
            load_plan(file, &edited(text, edits), &carrier(carrier_index))?;
        }
    }
}
