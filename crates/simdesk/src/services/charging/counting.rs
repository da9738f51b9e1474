//! Group commit for the units online charging counts: concurrent requests' usage records are
//! rated and written together, one transaction for all that arrived while the last one was
//! being written.
//!
//! Every credit-control request that reports use must have it durably counted before it is
//! answered, and a commit costs a disk flush: one transaction per request would hold the whole
//! Gy interface to the database's commit rate. Batching keeps each request's guarantee (its
//! answer waits for the commit that holds its records) while many requests share one flush and
//! one history entry per line. No request waits for company: a batch is whatever is queued when
//! the writer is free.

use crate::services::usage::{self, UsageRecord};
use crate::services::{ServiceContext, ServiceError, ServiceResult};
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use tokio::sync::{mpsc, oneshot};

/// Requests counted together at most: bounds one transaction's size and its wait.
const MOST_REQUESTS: usize = 256;

struct Job {
    records: Vec<UsageRecord>,
    done: oneshot::Sender<ServiceResult<()>>,
}

/// The writer of online charging's usage records; cheap to clone.
#[derive(Clone)]
pub struct UsageCounter {
    jobs: mpsc::Sender<Job>,
}

impl UsageCounter {
    /// Starts the writer on the current runtime; it ends when every handle is dropped.
    pub fn start(ctx: ServiceContext) -> UsageCounter {
        let (jobs, queue) = mpsc::channel(MOST_REQUESTS * 4);
        tokio::spawn(write(ctx, queue));
        UsageCounter { jobs }
    }

    /// Counts one request's records; returns once they are committed.
    pub async fn count(&self, records: Vec<UsageRecord>) -> ServiceResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        let (done, answer) = oneshot::channel();
        let stopped = || ServiceError::Unavailable("the usage writer stopped".into());
        self.jobs
            .send(Job { records, done })
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
        let together = usage::count_all(ctx.s(), &ctx.book, &records, "gy", &by).await;
        match together {
            Ok(_) => {
                for job in jobs {
                    let _ = job.done.send(Ok(()));
                }
            }
            Err(e) if jobs.len() == 1 => {
                let _ = jobs.remove(0).done.send(Err(e));
            }
            Err(_) => {
                // One request's records failed the whole batch: each is counted on its own, so
                // the others are not refused for it.
                for job in jobs {
                    let alone = usage::count_all(ctx.s(), &ctx.book, &job.records, "gy", &by)
                        .await
                        .map(|_| ());
                    let _ = job.done.send(alone);
                }
            }
        }
    }
}
