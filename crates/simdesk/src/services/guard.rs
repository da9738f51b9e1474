//! The one guard every edge goes through: who is asking (channel, address, account), whether
//! they may see a line or a request, and the abuse limits each kind of attempt counts against.

use super::limits::{self, Subject};
use super::lines::{find_line, parse_line_key};
use super::{ServiceContext, ServiceError, ServiceResult};
use crate::keys::Keys;
use crate::store::{LineKey, RequestRecord, Store};
use jiff::Timestamp;
use simdesk_domain::attribution::Channel;
use simdesk_domain::ids::{CarrierCode, CustomerId, LineId, RequestId};
use simdesk_domain::limits::{AbuseRules, Limit};
use simdesk_domain::line::Line;
use std::net::IpAddr;

/// The address a request came from, as limits count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address(pub Option<IpAddr>);

impl Address {
    /// The subject limits count: IPv6 clients by their /64 (one household or phone gets a
    /// whole /64, so single addresses would be free to rotate).
    pub fn key(&self) -> String {
        match self.0 {
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            None => "unknown".to_string(),
        }
    }

    fn subject(&self, keys: &Keys, scope: &'static str) -> Subject {
        Subject::hashed(keys, scope, &self.key())
    }
}

/// The account a request is made under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    /// A traveller signed in to the portal: sees only the lines they hold.
    Customer(CustomerId),
    /// A staff member: sees their carrier's lines.
    Staff { id: i64, carrier: CarrierCode },
    /// An API token: sees its carrier's lines.
    Token { id: i64, carrier: CarrierCode },
}

impl Account {
    /// Whether this account may see a line of `carrier` held by `holder`.
    fn may_see(&self, carrier: &CarrierCode, holder: Option<CustomerId>) -> bool {
        match self {
            Account::Customer(customer) => holder == Some(*customer),
            Account::Staff { carrier: own, .. } | Account::Token { carrier: own, .. } => {
                own == carrier
            }
        }
    }

    /// Code sends and checks are counted per account; the scope names the kind of account.
    fn codes(&self) -> Subject {
        match self {
            Account::Customer(id) => Subject::id("codes:customer", id),
            Account::Staff { id, .. } => Subject::id("codes:staff", id),
            Account::Token { id, .. } => Subject::id("codes:token", id),
        }
    }

    fn uploads(&self) -> Subject {
        match self {
            Account::Customer(id) => Subject::id("upload:customer", id),
            Account::Staff { id, .. } => Subject::id("upload:staff", id),
            Account::Token { id, .. } => Subject::id("upload:token", id),
        }
    }

    /// How wrong identity answers name the account.
    fn knowledge(&self) -> String {
        match self {
            Account::Customer(id) => format!("customer:{id}"),
            Account::Staff { id, .. } => format!("staff:{id}"),
            Account::Token { id, .. } => format!("token:{id}"),
        }
    }
}

/// Who is asking: through which channel, from which address, under which account.
#[derive(Debug, Clone)]
pub struct Asker {
    pub channel: Channel,
    pub address: Address,
    pub account: Account,
}

/// The guard at one instant: the store it counts in, the keys that hash subjects, the rules.
pub struct Guard<'a> {
    store: &'a dyn Store,
    keys: &'a Keys,
    rules: &'a AbuseRules,
    now: Timestamp,
}

impl<'a> Guard<'a> {
    pub fn new(ctx: &'a ServiceContext, rules: &'a AbuseRules, now: Timestamp) -> Guard<'a> {
        Guard {
            store: ctx.store.as_ref(),
            keys: &ctx.keys,
            rules,
            now,
        }
    }

    /// Counts one attempt against each limit; refused with the wait when over.
    async fn limit(&self, checks: Vec<(Limit, Subject)>, what: &str) -> ServiceResult<()> {
        limits::attempt(self.store, &checks, what, self.now).await
    }

    // Ownership. A line or request the account may not see is "not found", exactly like one
    // that is not there; a store that cannot answer stays an error the edge shows as such.

    /// The line named by ICCID or MSISDN, when the account may see it; a key that names no
    /// line at all is the caller's mistake, said as such.
    pub async fn line(&self, account: &Account, key: &str) -> ServiceResult<Line> {
        let missing = || ServiceError::NotFound(format!("line {}", super::excerpt(key, 64)));
        let key = parse_line_key(key)?;
        self.line_by(account, &key).await.map_err(|e| match e {
            ServiceError::NotFound(_) => missing(),
            other => other,
        })
    }

    async fn line_by(&self, account: &Account, key: &LineKey) -> ServiceResult<Line> {
        let line = find_line(self.store, key).await?;
        if account.may_see(&line.carrier, line.holder) {
            Ok(line)
        } else {
            Err(ServiceError::NotFound("line".into()))
        }
    }

    /// The cancellation request and its line, when the account may see them.
    pub async fn request(
        &self,
        account: &Account,
        id: RequestId,
    ) -> ServiceResult<(RequestRecord, Line)> {
        let missing = || ServiceError::NotFound(format!("request {id}"));
        let record = self.store.request(id).await?.ok_or_else(missing)?;
        // A staff member or token of another carrier does not learn that the request exists.
        if !matches!(account, Account::Customer(_)) && !account.may_see(&record.carrier, None) {
            return Err(missing());
        }
        let line = self
            .line_by(account, &LineKey::Id(record.request.line_id))
            .await
            .map_err(|e| match e {
                ServiceError::NotFound(_) => missing(),
                other => other,
            })?;
        Ok((record, line))
    }

    // Limits, one recipe per kind of attempt.

    /// A cancellation code sent to `line` (by SMS unless `by_email`).
    pub async fn code_send(
        &self,
        asker: &Asker,
        line: LineId,
        by_email: bool,
    ) -> ServiceResult<()> {
        let rules = self.rules;
        let mut checks = vec![
            (
                rules.code_sends_per_ip,
                asker.address.subject(self.keys, "code-send:ip"),
            ),
            (rules.codes_per_account, asker.account.codes()),
        ];
        if !by_email {
            checks.push((rules.code_sms_per_hour, Subject::id("code-sms", "all")));
        }
        self.limit(checks, "codes").await?;
        self.line_sends(line).await
    }

    /// A cancellation code checked for `line`.
    pub async fn code_check(&self, asker: &Asker, line: LineId) -> ServiceResult<()> {
        let rules = self.rules;
        let checks = vec![
            (
                rules.code_checks_per_ip,
                asker.address.subject(self.keys, "code-check:ip"),
            ),
            (
                rules.code_checks_per_line,
                Subject::id("code-check:line", line),
            ),
            (rules.codes_per_account, asker.account.codes()),
        ];
        self.limit(checks, "code checks").await
    }

    /// An identity document uploaded for `request`.
    pub async fn upload(&self, asker: &Asker, request: RequestId) -> ServiceResult<()> {
        let rules = self.rules;
        let checks = vec![
            (
                rules.uploads_per_ip,
                asker.address.subject(self.keys, "upload:ip"),
            ),
            (
                rules.uploads_per_request,
                Subject::id("upload:request", request),
            ),
            (rules.uploads_per_account, asker.account.uploads()),
        ];
        self.limit(checks, "uploads").await
    }

    /// A portal sign-in code asked for `identifier` (a number or an e-mail address), counted
    /// before the identifier is looked up, so registered and unknown ones count alike.
    pub async fn sign_in_request(
        &self,
        address: Address,
        identifier: &str,
        by_sms: bool,
    ) -> ServiceResult<()> {
        let rules = self.rules;
        let mut checks = vec![
            (
                rules.code_sends_per_ip,
                address.subject(self.keys, "code-send:ip"),
            ),
            (
                rules.sign_ins_per_account,
                Subject::hashed(self.keys, "sign-in:account", identifier),
            ),
        ];
        if by_sms {
            checks.push((rules.code_sms_per_hour, Subject::id("code-sms", "all")));
        }
        self.limit(checks, "sign-in requests").await
    }

    /// A portal sign-in code checked for `identifier`.
    pub async fn sign_in_check(&self, address: Address, identifier: &str) -> ServiceResult<()> {
        let rules = self.rules;
        let checks = vec![
            (
                rules.code_checks_per_ip,
                address.subject(self.keys, "code-check:ip"),
            ),
            (
                rules.code_checks_per_line,
                Subject::hashed(self.keys, "code-check:account", identifier),
            ),
        ];
        self.limit(checks, "code checks").await
    }

    /// Codes already sent to a line (sign-in and cancellation together) in the rolling window:
    /// what counts is what was sent, so a traveller pressing "send" too soon spends nothing.
    pub async fn line_sends(&self, line: LineId) -> ServiceResult<()> {
        let limit = self.rules.code_sends_per_line;
        let since = self.now - jiff::SignedDuration::from_secs(limit.window_secs.max(1));
        let mut sent = self.store.code_sends_since(line, false, since).await?;
        sent.extend(self.store.code_sends_since(line, true, since).await?);
        match limit.wait_after(&sent, self.now) {
            Some(wait) => Err(ServiceError::TooManyAttempts {
                what: "codes sent to this line".into(),
                retry_after_secs: wait.as_secs().max(1),
            }),
            None => Ok(()),
        }
    }

    /// A staff sign-in attempt for `username`: failures lock the username for a while whoever
    /// tries it, from whichever address; the address limit bounds guessing across usernames.
    pub async fn staff_sign_in(&self, address: Address, username: &str) -> ServiceResult<()> {
        let checks = vec![(
            self.rules.staff_sign_ins_per_ip,
            address.subject(self.keys, "staff-sign-in:ip"),
        )];
        self.limit(checks, "sign-in attempts").await?;
        limits::not_locked(
            self.store,
            &self.rules.staff_failures_per_user,
            &self.staff_user(username),
            "failed sign-ins for this username",
            self.now,
        )
        .await
    }

    /// Counts a failed staff sign-in against the username.
    pub async fn staff_sign_in_failed(&self, username: &str) {
        let user = self.staff_user(username);
        if let Err(e) = limits::failed(
            self.store,
            &self.rules.staff_failures_per_user,
            &user,
            self.now,
        )
        .await
        {
            tracing::warn!(error = %e, "a failed staff sign-in could not be counted");
        }
    }

    fn staff_user(&self, username: &str) -> Subject {
        Subject::hashed(
            self.keys,
            "staff-sign-in:user",
            &username.trim().to_lowercase(),
        )
    }

    /// A queue ticket taken at a shop's kiosk.
    pub async fn kiosk_ticket(&self, address: Address) -> ServiceResult<()> {
        let checks = vec![(
            self.rules.kiosk_tickets_per_ip,
            address.subject(self.keys, "kiosk:ip"),
        )];
        self.limit(checks, "tickets").await
    }

    /// Wrong name/passport answers are counted per line and per account; while either is
    /// locked out, no answer is judged.
    pub async fn knowledge_allowed(&self, account: &Account, line: LineId) -> ServiceResult<()> {
        let what = "wrong identity answers";
        for (limit, subject) in self.knowledge_subjects(account, line) {
            limits::not_locked(self.store, limit, &subject, what, self.now).await?;
        }
        Ok(())
    }

    /// Counts a wrong name/passport answer against the line and the account.
    pub async fn knowledge_failed(&self, account: &Account, line: LineId) {
        for (limit, subject) in self.knowledge_subjects(account, line) {
            if let Err(e) = limits::failed(self.store, limit, &subject, self.now).await {
                tracing::warn!(error = %e, "a wrong identity answer could not be counted");
            }
        }
    }

    fn knowledge_subjects(&self, account: &Account, line: LineId) -> [(&'a Limit, Subject); 2] {
        [
            (
                &self.rules.knowledge_failures_per_line,
                Subject::id("knowledge:line", line),
            ),
            (
                &self.rules.knowledge_failures_per_account,
                Subject::id("knowledge:account", account.knowledge()),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a = Address("2001:db8:1:2::1".parse().ok());
        let b = Address("2001:db8:1:2:ffff::9".parse().ok());
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn a_traveller_sees_only_their_lines_and_staff_only_their_carrier() {
        let (seven, eight) = (CustomerId::new(7), CustomerId::new(8));
        let traveller = Account::Customer(seven);
        assert!(traveller.may_see(&"any".into(), Some(seven)));
        assert!(!traveller.may_see(&"any".into(), Some(eight)));
        let staff = Account::Staff {
            id: 1,
            carrier: "kddi".into(),
        };
        assert!(staff.may_see(&"kddi".into(), Some(eight)));
        assert!(!staff.may_see(&"docomo".into(), None));
    }
}
