//! Fictional inventory and travellers for the bench, written through simdesk's own services.

use super::world::World;
use crate::services::cancellation;
use crate::services::import::{import_lines, ImportRequest, Progress};
use crate::services::lines;
use crate::services::ServiceContext;
use crate::store::LineKey;
use anyhow::Context;
use jiff::Timestamp;
use simdesk_domain::attribution::{Actor, Attribution, Channel};
use simdesk_domain::customer::RegistrationForm;
use simdesk_domain::ids::{CarrierCode, Iccid};
use std::sync::Arc;

/// The carrier and plan every bench line is on: a 10-day data-and-voice card.
pub const CARRIER: &str = "EX-SAKURA";

/// The carrier as a typed code, for calls that take one.
pub fn carrier() -> CarrierCode {
    CarrierCode::new(CARRIER)
}
pub const PLAN: &str = "JP10-DV";
/// Lines are stocked, sold, activated and cancelled on these days (JST business rules apply).
pub const STOCKED: &str = "2026-11-01T00:00:00Z";
pub const SOLD: &str = "2026-11-20T00:00:00Z";
pub const ACTIVATED: &str = "2026-11-24T00:00:00Z";
pub const CANCELLED: &str = "2026-11-25T01:00:00Z";
/// One business day after Wed 2026-11-25: Thu 2026-11-26 from 00:00 JST, when cancellations are due.
pub const DUE: &str = "2026-11-26T00:00:00Z";

/// Rows per import file: the importer holds a file in memory, so larger stocks come in parts.
pub const IMPORT_PART: u64 = 1_000_000;

pub fn at(s: &str) -> Timestamp {
    s.parse().expect("a fixed bench instant")
}

pub fn by(when: &str, why: &str) -> Attribution {
    Attribution::new(Actor::operator("bench"), Channel::Operator, at(when), why)
}

/// The `n`th fictional line's identifiers: ICCID (with its check digit), IMSI, MSISDN.
pub fn identifiers(n: u64) -> (String, String, String) {
    let iccid = Iccid::from_body(&format!("89811077{n:010}"))
        .expect("a valid ICCID body")
        .to_string();
    (
        iccid,
        format!("44010{:010}", 3_000_000_000 + n),
        format!("080{:08}", n % 100_000_000),
    )
}

/// An inventory CSV of lines `from..to`, as a carrier sends it.
pub fn inventory_csv(from: u64, to: u64) -> String {
    let mut csv = String::with_capacity(((to - from) * 64) as usize + 32);
    csv.push_str("iccid,imsi,msisdn,plan\n");
    for n in from..to {
        let (iccid, imsi, msisdn) = identifiers(n);
        csv.push_str(&format!("{iccid},{imsi},{msisdn},{PLAN}\n"));
    }
    csv
}

/// Imports one CSV through the importer `simdesk import` uses.
pub async fn import(world: &World, csv: &str, name: &str) -> anyhow::Result<u64> {
    let quiet = |_: u64| {};
    let outcome = import_lines(
        world.store(),
        &world.ctx.book,
        ImportRequest {
            carrier: &carrier(),
            source_name: name,
            input: csv.as_bytes(),
            skip_invalid: false,
            by: by(STOCKED, "bench stock"),
        },
        Progress {
            checked: &quiet,
            written: &quiet,
        },
    )
    .await
    .with_context(|| format!("importing {name}"))?;
    Ok(outcome.imported)
}

/// Stocks lines `0..count`, a million at a time.
pub async fn stock(world: &World, count: u64) -> anyhow::Result<()> {
    stock_range(world, 0, count).await
}

/// Stocks lines `from..until`, a million at a time.
pub async fn stock_range(world: &World, mut from: u64, until: u64) -> anyhow::Result<()> {
    while from < until {
        let to = (from + IMPORT_PART).min(until);
        import(
            world,
            &inventory_csv(from, to),
            &format!("stock-{from}.csv"),
        )
        .await?;
        from = to;
    }
    Ok(())
}

fn traveller(n: u64) -> RegistrationForm {
    RegistrationForm {
        full_name: format!("Bench Traveller {n}"),
        passport_number: format!("BT{n:07}"),
        nationality: "GB".into(),
        birth_date: "1990-01-01".into(),
        phone: "+44 7700 900123".into(),
        email: format!("t{n}@example.com"),
        language: "en".into(),
    }
}

/// When lines are sold, activated and cancelled.
#[derive(Clone, Copy)]
pub struct Timeline {
    pub sold: Timestamp,
    pub activated: Timestamp,
    pub cancelled: Timestamp,
}

impl Timeline {
    /// The fixed calendar the due work is measured on (see [`DUE`], [`VALIDITY_ENDED`]).
    pub fn fixed() -> Timeline {
        Timeline {
            sold: at(SOLD),
            activated: at(ACTIVATED),
            cancelled: at(CANCELLED),
        }
    }

    /// Sold and activated in the last hour: in use now, for the server's own clock.
    pub fn recent() -> Timeline {
        let now = Timestamp::now();
        let hour = jiff::SignedDuration::from_hours(1);
        Timeline {
            sold: now - hour,
            activated: now - hour / 2,
            cancelled: now,
        }
    }
}

/// What to do to each of the stocked lines `from..to`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Sold and in use.
    Active,
    /// In use, then a cancellation submitted and approved (due at [`DUE`]).
    CancellationApproved,
}

/// Sells and activates lines `from..to` (and submits their cancellations), `workers` at a time.
pub async fn bring_to(
    ctx: &ServiceContext,
    from: u64,
    to: u64,
    stage: Stage,
    when: Timeline,
    workers: u64,
) -> anyhow::Result<()> {
    let next = Arc::new(std::sync::atomic::AtomicU64::new(from));
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let ctx = ctx.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= to {
                    return anyhow::Ok(());
                }
                one_line(&ctx, n, stage, when).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

async fn one_line(
    ctx: &ServiceContext,
    n: u64,
    stage: Stage,
    when: Timeline,
) -> anyhow::Result<()> {
    let s = ctx.store.as_ref();
    let key = LineKey::Iccid(identifiers(n).0.parse()?);
    let at = |t: Timestamp, why: &str| {
        Attribution::new(Actor::operator("bench"), Channel::Operator, t, why)
    };
    lines::register(s, &ctx.book, &key, &traveller(n), at(when.sold, "sale"))
        .await
        .with_context(|| format!("registering line {n}"))?;
    lines::activate(s, &ctx.book, &key, at(when.activated, "first use"))
        .await
        .with_context(|| format!("activating line {n}"))?;
    if stage == Stage::CancellationApproved {
        cancellation::submit(
            ctx,
            &key,
            Channel::Operator,
            None,
            at(when.cancelled, "leaving Japan"),
        )
        .await
        .with_context(|| format!("cancelling line {n}"))?;
    }
    Ok(())
}
