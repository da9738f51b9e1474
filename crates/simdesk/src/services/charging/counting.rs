//! Group commit for online charging: concurrent requests' used units are counted together, and
//! then their grants reserved together, in the transactions the writer makes for everything
//! that arrived while it wrote the last batch.
//!
//! Every credit-control request that reports use must have it durably counted before it is
//! answered, and a commit costs a disk flush: one transaction per request would hold the whole
//! Gy interface to the database's commit rate. Batching keeps each request's guarantee (its
//! answer waits for the commit that holds its records) while many requests share one flush and
//! one history entry per line. No request waits for company: a batch is whatever is queued when
//! the writer is free.

use crate::services::usage::{self, UsageRecord};
use crate::services::{ServiceContext, ServiceError, ServiceResult};
use crate::store::{CreditAsk, CreditReservation};
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use tokio::sync::{mpsc, oneshot};

/// Requests counted together at most: bounds one transaction's size and its wait.
const MOST_REQUESTS: usize = 256;

/// What a line's buckets pay for of one service, given them and the bytes carried.
pub type PayableFn =
    Box<dyn Fn(&[simdesk_domain::balance::Bucket], u64) -> u64 + Send + Sync + 'static>;

struct Job {
    records: Vec<UsageRecord>,
    asks: Vec<(CreditAsk, PayableFn)>,
    done: oneshot::Sender<ServiceResult<Vec<CreditReservation>>>,
}

/// The writer of online charging's usage records and reservations; cheap to clone.
#[derive(Clone)]
pub struct ChargingWriter {
    jobs: mpsc::Sender<Job>,
}

impl ChargingWriter {
    /// Starts the writer on the current runtime; it ends when every handle is dropped.
    pub fn start(ctx: ServiceContext) -> ChargingWriter {
        let (jobs, queue) = mpsc::channel(MOST_REQUESTS * 4);
        tokio::spawn(write(ctx, queue));
        ChargingWriter { jobs }
    }

    /// Counts one request's records, then reserves its grants; returns the reservations in
    /// the asks' order once both are committed.
    pub async fn write(
        &self,
        records: Vec<UsageRecord>,
        asks: Vec<(CreditAsk, PayableFn)>,
    ) -> ServiceResult<Vec<CreditReservation>> {
        if records.is_empty() && asks.is_empty() {
            return Ok(Vec::new());
        }
        let (done, answer) = oneshot::channel();
        let stopped = || ServiceError::Unavailable("the charging writer stopped".into());
        self.jobs
            .send(Job {
                records,
                asks,
                done,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn write(ctx: ServiceContext, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MOST_REQUESTS {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let by = Attribution::new(
            Actor {
                kind: ActorKind::System,
                id: "online-charging".into(),
            },
            Channel::System,
            ctx.clock.now(),
            "units the network reported used (credit control)",
        );
        let records: Vec<UsageRecord> = jobs.iter().flat_map(|j| j.records.clone()).collect();
        let counted = if records.is_empty() {
            Ok(())
        } else {
            usage::count_all(ctx.s(), &ctx.book, &records, "gy", &by)
                .await
                .map(|_| ())
        };
        let reserved = match counted {
            Ok(()) => reserve(&ctx, &jobs).await,
            Err(e) => Err(e),
        };
        match reserved {
            Ok(mut all) => {
                for job in jobs {
                    let rest = all.split_off(job.asks.len().min(all.len()));
                    let _ = job.done.send(Ok(std::mem::replace(&mut all, rest)));
                }
            }
            Err(e) if jobs.len() == 1 => {
                let _ = jobs.remove(0).done.send(Err(e));
            }
            Err(_) => {
                // One request spoiled the batch: each is written on its own, so the others are
                // not refused for it.
                for job in jobs {
                    let alone = async {
                        if !job.records.is_empty() {
                            usage::count_all(ctx.s(), &ctx.book, &job.records, "gy", &by).await?;
                        }
                        reserve(&ctx, std::slice::from_ref(&job)).await
                    }
                    .await;
                    let _ = job.done.send(alone);
                }
            }
        }
    }
}

/// Every job's asks in one transaction, in the jobs' order.
async fn reserve(ctx: &ServiceContext, jobs: &[Job]) -> ServiceResult<Vec<CreditReservation>> {
    let asks: Vec<(CreditAsk, crate::store::Payable<'_>)> = jobs
        .iter()
        .flat_map(|j| {
            j.asks
                .iter()
                .map(|(ask, payable)| (ask.clone(), &**payable as _))
        })
        .collect();
    if asks.is_empty() {
        return Ok(Vec::new());
    }
    Ok(ctx.store.reserve_credits(&asks).await?)
}
