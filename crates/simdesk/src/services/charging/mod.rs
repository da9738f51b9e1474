//! Online charging: the answers to the network's credit-control requests (Diameter Gy), decided
//! on the same buckets and rating as usage files.
//!
//! Used units in a request are counted as usage records whose id is the session, the request
//! number and the rating group, so a retransmitted request (the gateway lost the answer) is
//! answered again without counting twice. A grant is what the line's buckets could still pay
//! for, up to the configured quota; the grant that exhausts them carries the final-unit
//! indication so the gateway ends the service when it is used.
//!
//! A grant is reserved, durably, until the session reports what it used, ends, or stays silent
//! past the grant's validity (due work then releases it): two sessions of one line are never
//! granted the same units. A repeated request (same session and request number) is answered
//! with the reservation its first answer made, so a crash or a lost answer changes nothing.
//!
//! - `counting.rs`: concurrent requests' used units and grants written together (group commit).

mod counting;

use super::policies::PolicyBook;
use super::usage::{self, UsageRecord};
use super::{ServiceContext, ServiceError, ServiceResult};
use crate::gy::{
    CreditAnswer, CreditControl, CreditRequest, Outcome, RequestType, ServiceGrant, ServiceUsage,
    Subscriber, Units,
};
use crate::store::{CreditAsk, CreditReservation, LineKey};
use simdesk_domain::line::{Line, LineState};
use simdesk_domain::policy::Service;

/// What one grant gives at most, per unit: enough for a gateway to run a while without asking
/// for every packet, small enough that a balance is not promised away to one session.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub octets: u64,
    pub seconds: u64,
    pub messages: u64,
    /// How long a grant may be used before the network must report (`Validity-Time`); a
    /// session silent past it loses what it held.
    pub validity_secs: u32,
}

impl Default for Quota {
    fn default() -> Self {
        Quota {
            octets: 10 * 1024 * 1024,
            seconds: 300,
            messages: 10,
            validity_secs: 900,
        }
    }
}

/// simdesk deciding credit control for its lines.
pub struct Charging {
    ctx: ServiceContext,
    quota: Quota,
    writer: counting::ChargingWriter,
}

impl Charging {
    /// Starts the usage writer on the current runtime beside the decisions.
    pub fn new(ctx: ServiceContext, quota: Quota) -> Charging {
        let writer = counting::ChargingWriter::start(ctx.clone());
        Charging { ctx, quota, writer }
    }

    async fn decide(&self, request: &CreditRequest) -> ServiceResult<CreditAnswer> {
        let Some(key) = request.subscriber.as_ref().and_then(line_key) else {
            return Ok(CreditAnswer::refused(Outcome::UserUnknown));
        };
        let store = self.ctx.store.as_ref();
        let Some(line) = store.line(&key).await? else {
            return Ok(CreditAnswer::refused(Outcome::UserUnknown));
        };
        let book = &self.ctx.book;
        let at = request.event_time.unwrap_or_else(|| self.ctx.clock.now());
        let services = if request.services.is_empty() {
            // A request with no service named at all still reports nothing and asks for data.
            vec![ServiceUsage {
                requested: Some(Units::default()),
                ..ServiceUsage::default()
            }]
        } else {
            request.services.clone()
        };
        // First what each service used, counted for the whole request at once; then the grants,
        // on what that left.
        let mut held = Vec::with_capacity(services.len());
        let mut used = Vec::new();
        for (i, s) in services.iter().enumerate() {
            let service_key = service_key(i, s);
            // This request was answered before (the gateway lost the answer, or simdesk went
            // down before sending it): its usage is counted and its grant held; say it again.
            let answered = store
                .credit_reservation(&request.session_id, &service_key)
                .await?
                .filter(|r| r.request_number == request.request_number);
            if answered.is_none() {
                used.extend(used_records(
                    book,
                    &line,
                    &key,
                    request,
                    &service_key,
                    s,
                    at,
                ));
            }
            held.push((service_key, answered));
        }
        let mut planned = Vec::with_capacity(services.len());
        let mut asks = Vec::new();
        for (s, (service_key, answered)) in services.iter().zip(held) {
            planned.push(match answered {
                Some(reservation) => Planned::Answer(self.held_grant(s, &reservation)),
                None => match self.plan_grant(book, &line, request, &service_key, s, at)? {
                    Planned::Reserve {
                        ask,
                        payable,
                        service,
                    } => {
                        asks.push((ask, payable));
                        Planned::Pending(service)
                    }
                    answer => answer,
                },
            });
        }
        // The used units counted and the grants reserved, with other requests', in the writer's
        // next transactions.
        let mut reserved = self.writer.write(used, asks).await?.into_iter();
        let mut grants = Vec::with_capacity(services.len());
        for (s, plan) in services.iter().zip(planned) {
            grants.push(match plan {
                Planned::Answer(grant) => grant,
                Planned::Pending(service) => {
                    let held = reserved.next().ok_or_else(|| {
                        ServiceError::Unavailable("a grant was not reserved".into())
                    })?;
                    self.granted(s, service, &held)
                }
                Planned::Reserve { .. } => {
                    return Err(ServiceError::Unavailable(
                        "a grant was left unplanned".into(),
                    ))
                }
            });
        }
        if matches!(request.request_type, RequestType::Terminate)
            || grants
                .iter()
                .any(|g| g.outcome == Outcome::EndUserServiceDenied)
        {
            // What was held and not used goes back to the line.
            store.release_credit(&request.session_id).await?;
        }
        let outcome = if grants.iter().all(|g| g.outcome == Outcome::Success) {
            Outcome::Success
        } else if grants.len() == 1 {
            grants[0].outcome
        } else {
            // Per-service outcomes say which failed; the request itself was handled.
            Outcome::Success
        };
        Ok(CreditAnswer {
            outcome,
            services: grants,
        })
    }

    /// The answer a request already had, from the reservation it made.
    fn held_grant(&self, s: &ServiceUsage, held: &CreditReservation) -> ServiceGrant {
        let granted = match held.service.as_str() {
            "voice" => Units {
                seconds: Some(held.units),
                ..Units::default()
            },
            "sms" => Units {
                messages: Some(held.units),
                ..Units::default()
            },
            _ => Units {
                octets: Some(held.units),
                ..Units::default()
            },
        };
        ServiceGrant {
            rating_group: s.rating_group,
            service_id: s.service_id,
            outcome: Outcome::Success,
            granted: Some(granted),
            validity_secs: Some(self.quota.validity_secs),
            final_unit: held.final_unit,
        }
    }

    /// What one service of a request gets: an answer decided now (refused, or nothing asked
    /// of a session that ends), or a reservation to make once the used units are counted.
    fn plan_grant(
        &self,
        book: &PolicyBook,
        line: &Line,
        request: &CreditRequest,
        service_key: &str,
        s: &ServiceUsage,
        at: jiff::Timestamp,
    ) -> ServiceResult<Planned> {
        let answer = |outcome: Outcome| Planned::Answer(self.answer(s, outcome, None, false));
        if matches!(request.request_type, RequestType::Terminate) {
            return Ok(answer(Outcome::Success));
        }
        // Barred, pending termination, expired, ended or never activated: no service.
        if line.state != LineState::Active {
            return Ok(answer(Outcome::EndUserServiceDenied));
        }
        // No units asked for: the session reports its use and wants nothing more of this
        // service for now, so what it held is released (reserving nothing does that).
        let asked = s.requested.unwrap_or_default();
        let (service, wanted, cap) = if let Some(secs) = asked.seconds {
            (Service::Voice, secs, self.quota.seconds)
        } else if let Some(n) = asked.messages {
            (Service::Sms, n, self.quota.messages)
        } else {
            (Service::Data, asked.octets.unwrap_or(0), self.quota.octets)
        };
        let (policy, _) = book.for_line(line)?;
        if !policy.plan.services.contains(&service) {
            return Ok(answer(Outcome::RatingFailed));
        }
        // An empty request asks for the usual quota; a larger one is held to it too.
        let want = match s.requested {
            None => 0,
            Some(_) if wanted == 0 => cap,
            Some(_) => wanted.min(cap),
        };
        // Abroad, what the line can pay for is priced by the visited network's zone.
        let rules = policy
            .carrier
            .usage
            .for_network(request.visited_network.as_deref())
            .into_owned();
        let payable: counting::PayableFn = Box::new(
            move |buckets: &[simdesk_domain::balance::Bucket], carry: u64| {
                simdesk_domain::usage::available(service, buckets, carry, &rules, at)
            },
        );
        // Reservations live by simdesk's clock, which also reaps them, whatever the gateway's.
        let now = self.ctx.clock.now();
        Ok(Planned::Reserve {
            ask: CreditAsk {
                session_id: request.session_id.clone(),
                service_key: service_key.to_string(),
                line: line.id,
                service: service.as_str().to_string(),
                wanted: want,
                request_number: request.request_number,
                at: now,
                expires_at: now
                    + jiff::SignedDuration::from_secs(i64::from(self.quota.validity_secs)),
            },
            payable,
            service,
        })
    }

    /// The answer for one service from the reservation made for it.
    fn granted(
        &self,
        s: &ServiceUsage,
        service: Service,
        held: &CreditReservation,
    ) -> ServiceGrant {
        if s.requested.is_none() {
            return self.answer(s, Outcome::Success, None, false);
        }
        if held.units == 0 {
            return self.answer(s, Outcome::CreditLimitReached, None, false);
        }
        let units = match service {
            Service::Data => Units {
                octets: Some(held.units),
                ..Units::default()
            },
            Service::Voice => Units {
                seconds: Some(held.units),
                ..Units::default()
            },
            Service::Sms => Units {
                messages: Some(held.units),
                ..Units::default()
            },
        };
        self.answer(s, Outcome::Success, Some(units), held.final_unit)
    }

    fn answer(
        &self,
        s: &ServiceUsage,
        outcome: Outcome,
        granted: Option<Units>,
        final_unit: bool,
    ) -> ServiceGrant {
        ServiceGrant {
            rating_group: s.rating_group,
            service_id: s.service_id,
            outcome,
            granted,
            validity_secs: granted.map(|_| self.quota.validity_secs),
            final_unit,
        }
    }
}

/// One service's answer as planned before the request's write.
enum Planned {
    Answer(ServiceGrant),
    /// A reservation to ask the writer for.
    Reserve {
        ask: CreditAsk,
        payable: counting::PayableFn,
        service: Service,
    },
    /// Asked for; its reservation comes back from the writer in order.
    Pending(Service),
}

/// What the gateway reports one service used, as usage records named by session, request,
/// service and unit, so a repeated request counts nothing twice. Units of a service the line's
/// plan does not sell are not counted (the grant refuses them).
fn used_records(
    book: &PolicyBook,
    line: &Line,
    key: &LineKey,
    request: &CreditRequest,
    group: &str,
    s: &ServiceUsage,
    at: jiff::Timestamp,
) -> Vec<UsageRecord> {
    let Some(used) = s.used else {
        return Vec::new();
    };
    [
        (Service::Data, used.octets),
        (Service::Voice, used.seconds),
        (Service::Sms, used.messages),
    ]
    .into_iter()
    .filter_map(|(service, volume)| Some((service, volume.filter(|v| *v > 0)?)))
    .filter(|(service, _)| usage::check_service(book, line, *service).is_ok())
    .map(|(service, volume)| UsageRecord {
        record_id: format!(
            "gy:{}:{}:{group}:{}",
            request.session_id,
            request.request_number,
            service.as_str()
        ),
        line: key.clone(),
        service,
        started_at: at,
        ended_at: None,
        volume,
        network: request.visited_network.clone(),
        rating_group: s.rating_group,
    })
    .collect()
}

/// Names one service within a session, the same in every request: its rating group, or its
/// place in the request where it names none.
fn service_key(index: usize, s: &ServiceUsage) -> String {
    s.rating_group
        .map_or_else(|| format!("s{index}"), |g| g.to_string())
}

/// Releases what sessions silent past their grant's validity still hold; part of due work.
pub async fn release_silent(ctx: &ServiceContext, now: jiff::Timestamp) -> ServiceResult<u64> {
    let released = ctx.store.release_silent_credit(now).await?;
    if released > 0 {
        tracing::info!(released, "credit held by silent charging sessions released");
    }
    Ok(released)
}

#[async_trait::async_trait]
impl CreditControl for Charging {
    async fn answer(&self, request: &CreditRequest) -> CreditAnswer {
        match self.decide(request).await {
            Ok(answer) => answer,
            Err(e) => {
                // The gateway applies its own failure handling on 5012; the cause stays here.
                tracing::warn!(error = %e, session = %request.session_id, "credit control failed");
                let outcome = match e {
                    ServiceError::NotFound(_) => Outcome::UserUnknown,
                    _ => Outcome::UnableToComply,
                };
                CreditAnswer::refused(outcome)
            }
        }
    }
}

/// The line a subscription id names: an IMSI, or a number written as E.164 without its `+`
/// (as gateways send it) or as dialled in Japan.
fn line_key(subscriber: &Subscriber) -> Option<LineKey> {
    match subscriber {
        Subscriber::Imsi(imsi) => imsi.parse().ok().map(LineKey::Imsi),
        Subscriber::Msisdn(number) => {
            let number = number.trim();
            let e164 = if number.starts_with('+') || number.starts_with('0') {
                number.to_string()
            } else {
                format!("+{number}")
            };
            e164.parse().ok().map(LineKey::Msisdn)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscriber_is_found_by_imsi_or_by_number_in_any_form() {
        for number in ["819012345678", "+819012345678", "09012345678"] {
            assert!(
                matches!(
                    line_key(&Subscriber::Msisdn(number.into())),
                    Some(LineKey::Msisdn(_))
                ),
                "{number}"
            );
        }
        assert!(matches!(
            line_key(&Subscriber::Imsi("440101234567890".into())),
            Some(LineKey::Imsi(_))
        ));
        assert!(line_key(&Subscriber::Msisdn("nonsense".into())).is_none());
    }
}
