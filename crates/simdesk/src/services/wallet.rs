//! The customer's e-wallet: balance, history and payouts.

use super::effects::Effect;
use super::{ServiceError, ServiceResult};
use crate::store::{NewPayout, Store, WalletEntry, WalletPostingRow};
use jiff::Timestamp;
use serde::Serialize;
use simdesk_domain::ids::CustomerId;
use simdesk_domain::money::Money;
use simdesk_domain::wallet;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct WalletView {
    pub customer: CustomerId,
    /// Balance per currency.
    pub balance: Vec<Money>,
    /// The wallet's side of every movement, oldest first.
    pub history: Vec<WalletPostingRow>,
}

pub async fn show(store: &dyn Store, customer: CustomerId) -> ServiceResult<WalletView> {
    if store.customer(customer).await?.is_none() {
        return Err(ServiceError::NotFound(format!("customer {customer}")));
    }
    let account = wallet::Account::Wallet { customer }.to_string();
    let history: Vec<WalletPostingRow> = store
        .wallet_postings(customer)
        .await?
        .into_iter()
        .filter(|p| p.account == account)
        .collect();
    let mut totals: BTreeMap<&'static str, Money> = BTreeMap::new();
    for p in &history {
        let entry = totals
            .entry(p.amount.currency().code())
            .or_insert(Money::zero(p.amount.currency()));
        *entry = entry.checked_add(p.amount)?;
    }
    Ok(WalletView {
        customer,
        balance: totals.into_values().collect(),
        history,
    })
}

/// Pays wallet money out to a card or bank reference; the same key pays once.
pub async fn payout(
    store: &dyn Store,
    customer: CustomerId,
    amount: Money,
    destination: &str,
    key: &str,
    now: Timestamp,
) -> ServiceResult<i64> {
    let destination = destination.trim();
    if destination.is_empty() || destination.len() > 100 {
        return Err(ServiceError::Invalid(
            "give the card or bank reference the money goes to (up to 100 characters)".into(),
        ));
    }
    let key = key.trim();
    if key.is_empty() || key.len() > 100 {
        return Err(ServiceError::Invalid(
            "a payout needs an idempotency key (up to 100 characters) so that a retry pays once"
                .into(),
        ));
    }
    // A retry is recognised by its key before anything else, whatever the balance is now.
    if store.payout_requested(&format!("payout:{key}")).await? {
        return Err(ServiceError::Invalid(format!(
            "payout {key} was already requested; it is paid once"
        )));
    }
    let view = show(store, customer).await?;
    let available = view
        .balance
        .iter()
        .copied()
        .find(|m| m.currency() == amount.currency())
        .unwrap_or(Money::zero(amount.currency()));
    let movement = wallet::payout(customer, available, amount)
        .map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let entry = WalletEntry {
        customer,
        movement,
        idempotency_key: format!("payout:{key}"),
        note: format!("payout to {destination}"),
        at: now,
    };
    let outbox = Effect::Payout {
        key: key.to_string(),
        customer,
        destination: destination.to_string(),
        amount,
    }
    .queue(now);
    match store
        .record_payout(
            &NewPayout {
                wallet: entry,
                destination: destination.to_string(),
            },
            &outbox,
        )
        .await
    {
        Ok(id) => Ok(id),
        Err(crate::store::StoreError::Duplicate(_)) => Err(ServiceError::Invalid(format!(
            "payout {key} was already requested; it is paid once"
        ))),
        Err(e) => Err(e.into()),
    }
}
