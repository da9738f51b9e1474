//! Demo data: the example carriers and about a thousand fictional lines in every state.

use super::cancellation::{self, Knowledge};
use super::import::ImportRequest;
use super::outbox::Peers;
use super::policies::{load_policies, PolicyBook};
use super::usage::{self, UsageRecord};
use super::ServiceContext;
use super::{import, jobs, lines, ServiceResult};
use crate::adapters::messages::RecordingCodeSender;
use crate::store::LineKey;
use jiff::{SignedDuration, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use simdesk_domain::customer::RegistrationForm;
use simdesk_domain::ids::{CarrierCode, Eid, Iccid};
use simdesk_domain::line::{LineKind, LineState};
use simdesk_domain::policy::Service;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

/// Fictional travellers: names from the countries visitors come from, reserved example domains
/// and drama-reserved phone ranges, so nothing here can reach a real person.
const GIVEN: [&str; 16] = [
    "Alex", "Mei", "Ji-woo", "Chen", "Sofia", "Liam", "Yuna", "Wei", "Emma", "Minh", "Priya",
    "Lucas", "Hana", "Noah", "Lin", "Mateo",
];
const FAMILY: [&str; 12] = [
    "Example",
    "Sample",
    "Testa",
    "Demo",
    "Placeholder",
    "Fiction",
    "Mock",
    "Specimen",
    "Muster",
    "Exemplo",
    "Beispiel",
    "Modele",
];
const ORIGINS: [(&str, &str, &str); 6] = [
    ("GB", "+44 7700 900", "en"),
    ("US", "+1 202 555 01", "en"),
    ("CN", "+86 130 0000 ", "zh-Hans"),
    ("TW", "+886 900 000 ", "zh-Hant"),
    ("KR", "+82 10 0000 ", "ko"),
    ("JP", "+81 90 0000 ", "ja"),
];

/// How many demo lines end in each state (about a thousand in all).
const PLAN: [(LineState, usize); 7] = [
    (LineState::InStock, 300),
    (LineState::Registered, 100),
    (LineState::Active, 320),
    (LineState::Expired, 90),
    (LineState::Closed, 90),
    (LineState::PendingTermination, 50),
    (LineState::Terminated, 50),
];

#[derive(Debug, Clone)]
pub struct DemoSummary {
    pub lines: u64,
    /// The number of an active line, to try things on.
    pub example_line: Option<String>,
    pub by_state: Vec<(String, String, i64)>,
}

/// Loads the example policies from `policies_dir` and fills `ctx`'s store with demo lines as of
/// `now`. Codes and messages made while seeding are only recorded: nobody is waiting for them.
pub async fn seed(
    ctx: &ServiceContext,
    policies_dir: &Path,
    now: Timestamp,
) -> ServiceResult<DemoSummary> {
    let shared = ctx.store.clone();
    let store = shared.as_ref();
    load_policies(store, policies_dir, now).await?;
    let book = PolicyBook::load(store).await?;
    let mut ctx = ctx.with_book(book.clone());
    ctx.codes = Arc::new(RecordingCodeSender::default());
    let mut rng = StdRng::seed_from_u64(20261125);
    let total: usize = PLAN.iter().map(|(_, n)| n).sum();
    let carriers: Vec<CarrierCode> = book.carrier_codes().cloned().collect();

    // Inventory goes in through the same import as a carrier's file.
    let mut files: Vec<(CarrierCode, String)> = carriers
        .iter()
        .map(|c| {
            (
                c.clone(),
                "iccid,imsi,msisdn,plan,kind,eid,activation_code\n".to_string(),
            )
        })
        .collect();
    let mut keys = Vec::with_capacity(total);
    for i in 0..total {
        let ci = i % carriers.len();
        let carrier = &carriers[ci];
        let plans: Vec<_> = book.plans_of(carrier).collect();
        let plan = plans[(i / carriers.len()) % plans.len()];
        let iccid = Iccid::from_body(&format!("898110{:02}{:010}", ci + 1, i))
            .map_err(super::ServiceError::from)?;
        let mnc = ["10", "20", "50"][ci % 3];
        let imsi = format!("440{mnc}{:010}", 7_000_000 + i);
        let msisdn = format!("0{}0{:08}", [7, 8, 9][i % 3], 10_000_000 + i);
        let (kind, eid, code) = match plan.kind {
            LineKind::Esim => (
                "esim",
                Eid::from_body(&format!("8904903200{:020}", i))
                    .map(|e| e.to_string())
                    .unwrap_or_default(),
                format!("LPA:1$smdp.example.com$DEMO-{i:06}"),
            ),
            LineKind::Physical => ("physical", String::new(), String::new()),
        };
        let _ = writeln!(
            files[ci].1,
            "{iccid},{imsi},{msisdn},{},{kind},{eid},{code}",
            plan.code
        );
        keys.push(LineKey::Iccid(iccid));
    }
    let quiet = |_: u64| {};
    for (carrier, csv) in &files {
        import::import_lines(
            store,
            &book,
            ImportRequest {
                carrier,
                source_name: &format!("demo-{carrier}.csv"),
                input: csv.as_bytes(),
                skip_invalid: false,
                by: Attribution::new(
                    Actor::operator("demo"),
                    Channel::Operator,
                    now - SignedDuration::from_hours(24 * 120),
                    "demo inventory",
                ),
            },
            import::Progress {
                checked: &quiet,
                written: &quiet,
            },
        )
        .await?;
    }

    let mut targets = Vec::with_capacity(total);
    for (state, n) in PLAN {
        targets.extend(std::iter::repeat_n(state, n));
    }
    let ops = |at: Timestamp, why: &str| {
        Attribution::new(Actor::operator("demo"), Channel::Operator, at, why)
    };
    let days = |d: i64| SignedDuration::from_hours(24 * d);
    let mut example_line = None;
    for (i, (key, target)) in keys.iter().zip(targets).enumerate() {
        if target == LineState::InStock {
            continue;
        }
        let line = lines::find_line(store, key).await?;
        if target == LineState::Active && example_line.is_none() {
            example_line = Some(line.msisdn.to_string());
        }
        let (policy, _) = book.for_line(&line)?;
        let validity_days = i64::from(policy.plan.validity.days);
        let grace = i64::from(policy.grace_days());
        // Choose an activation time that leaves the line where the demo wants it after the expiry job runs.
        let activated_days_ago = match target {
            LineState::Active | LineState::PendingTermination => {
                rng.random_range(0..validity_days.max(1))
            }
            LineState::Expired => validity_days + rng.random_range(0..grace.max(1)),
            // Cancelled two weeks ago while still valid.
            LineState::Terminated => 15 + rng.random_range(0..validity_days.clamp(1, 5)),
            _ => validity_days + grace + rng.random_range(2..40),
        };
        let sold_at = now - days(activated_days_ago + rng.random_range(1..5));
        let activated_at =
            now - days(activated_days_ago) - SignedDuration::from_mins(rng.random_range(1..600));
        let (country, phone_prefix, language) = ORIGINS[i % ORIGINS.len()];
        let form = RegistrationForm {
            full_name: format!(
                "{} {}",
                GIVEN[i % GIVEN.len()],
                FAMILY[(i / GIVEN.len()) % FAMILY.len()]
            ),
            passport_number: format!("X{}{:07}", (b'A' + (i % 26) as u8) as char, 1_000_000 + i),
            nationality: country.to_string(),
            birth_date: format!("{}-{:02}-{:02}", 1950 + (i % 50), 1 + i % 12, 1 + i % 28),
            phone: format!("{phone_prefix}{:03}", i % 1000),
            email: format!("traveller{i}@example.com"),
            language: language.to_string(),
        };
        let channel = [Channel::Store, Channel::Web, Channel::Api][i % 3];
        let seller = match channel {
            Channel::Store => Actor {
                kind: ActorKind::Clerk,
                id: "demo-clerk".into(),
            },
            Channel::Web => Actor {
                kind: ActorKind::Customer,
                id: format!("traveller{i}"),
            },
            _ => Actor {
                kind: ActorKind::Operator,
                id: "demo-reseller".into(),
            },
        };
        let seller = Attribution::new(seller, channel, sold_at, "sold with passport check");
        lines::register(store, &book, key, &form, seller).await?;
        if target == LineState::Registered {
            continue;
        }
        lines::activate(store, &book, key, ops(activated_at, "first connection")).await?;
        let busy_at = activated_at + SignedDuration::from_mins(30);
        if target != LineState::Closed && busy_at < now {
            if i % 4 == 0 {
                let amount = format!("{} JPY", policy.carrier.top_up.minimum.minor() * 2);
                let _ = lines::top_up(
                    store,
                    &book,
                    key,
                    &amount,
                    ops(busy_at, "top-up at a convenience store"),
                )
                .await;
            }
            if let Some(addon) = policy
                .carrier
                .addons
                .get(i % policy.carrier.addons.len().max(1))
            {
                if i % 3 == 0 {
                    let _ = lines::bind_addon(
                        store,
                        &book,
                        key,
                        &addon.code,
                        ops(busy_at, "customer asked for it"),
                    )
                    .await;
                }
            }
            // What the network reported: a few data sessions, calls and texts between
            // then and now, counted through the same rating as a real usage file.
            let network = Attribution::system("network-usage", now, "demo usage file");
            let span = now.duration_since(busy_at).as_secs().max(60);
            for k in 0..rng.random_range(3..9u32) {
                let started_at = busy_at + SignedDuration::from_secs(rng.random_range(0..span));
                let (service, volume) = match (k % 4, &policy.plan.services) {
                    (3, services) if services.contains(&Service::Voice) => {
                        (Service::Voice, rng.random_range(20..600))
                    }
                    (2, services) if services.contains(&Service::Sms) => {
                        (Service::Sms, rng.random_range(1..4))
                    }
                    _ => (Service::Data, rng.random_range(20..900) * 1024 * 1024),
                };
                let record = UsageRecord {
                    record_id: format!("demo-{i}-{k}"),
                    line: key.clone(),
                    service,
                    started_at,
                    ended_at: None,
                    volume,
                    network: Some("44010".into()),
                    rating_group: None,
                };
                usage::count(store, &book, &record, "demo", &network).await?;
            }
        }
        if matches!(
            target,
            LineState::PendingTermination | LineState::Terminated
        ) {
            let (asked_at, channel, knowledge) = if target == LineState::Terminated {
                // Submitted by an operator two weeks ago: it has taken effect by now.
                (
                    now - SignedDuration::from_hours(24 * 14),
                    Channel::Operator,
                    None,
                )
            } else {
                let asked_at = (now - SignedDuration::from_mins(rng.random_range(10..600)))
                    .max(activated_at + SignedDuration::from_hours(1));
                (
                    asked_at,
                    Channel::Hotline,
                    Some(Knowledge {
                        name: form.full_name.clone(),
                        passport: form.passport_number.clone(),
                    }),
                )
            };
            let actor = match channel {
                Channel::Hotline => Actor {
                    kind: ActorKind::Agent,
                    id: "demo-agent".into(),
                },
                _ => Actor::operator("demo"),
            };
            let by = Attribution::new(actor, channel, asked_at, "customer is leaving Japan");
            cancellation::submit(&ctx, key, channel, knowledge, by).await?;
        }
    }
    // Let the system catch up to now: expiry, closing, cancellations taking effect, side effects.
    let peers = Peers::recording(shared.clone(), "http://127.0.0.1:8080");
    jobs::run_due(&ctx, &peers, now).await?;
    Ok(DemoSummary {
        lines: total as u64,
        example_line,
        by_state: store.count_lines_by_state().await?,
    })
}
