//! Online charging under load: simdesk's own Gy server answering CCR-Updates from many data
//! sessions at once, as a gateway sends them, in CCRs answered a second and their p99.
//!
//! A CCR has no bare database equivalent, so the row has no ceiling: it is held to a fixed rate.

use super::scenarios::{ms, seeded, thousands, workers};
use super::seed::{self, Stage, Timeline};
use super::world::World;
use super::{Backend, Options, Row};
use crate::app::Shutdown;
use crate::gy::avp::{self, request_type, result, subscription_type};
use crate::gy::wire::{self, Header, RawAvp};
use crate::gy::GySettings;
use crate::services::charging::{Charging, Quota};
use diameter::avp::{Address, Unsigned64};
use diameter::avp::{Avp, AvpValue, Enumerated, Grouped, Identity, UTF8String, Unsigned32};
use diameter::dictionary::Dictionary;
use diameter::{ApplicationId, CommandCode, DiameterMessage};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// What a session reports used at each update: a few hundred kilobytes, as a gateway does
/// between quota checks. At that size a line's 10 GB allowance lasts ~35,000 updates, far more
/// than a session makes in a run, so every grant can succeed and any refusal is a fault.
const USED_OCTETS: u64 = 300 * 1024;
/// What a session asks for next, under the default quota's 10 MB cap.
const REQUESTED_OCTETS: u64 = 1024 * 1024;
const RATING_GROUP: u32 = 10;
/// The rate the issue sets for these two cores.
const TARGET_PER_SECOND: f64 = 5000.0;
/// An answer this late is taken as none: the bench fails rather than hangs.
const ANSWER_WAIT: Duration = Duration::from_secs(30);
/// How many queued requests a connection's writer sends in one write.
const WRITE_BATCH: usize = 64;

/// Gy CCR-U throughput and latency, in `world`, whose lines `0..seeded_lines` are active.
pub async fn ccr_updates(
    backend: Backend,
    world: &mut World,
    seeded_lines: u64,
    opts: &Options,
) -> anyhow::Result<Row> {
    let sessions = opts.gy_sessions.max(1);
    let connections = opts.gy_connections.clamp(1, sessions as usize);
    let seconds = opts.gy_seconds.max(1);
    // One session per line: two sessions of one line would share its reservation.
    if sessions > seeded_lines {
        seed::stock_range(world, seeded_lines, sessions).await?;
        seeded(world, |ctx| async move {
            seed::bring_to(
                &ctx,
                seeded_lines,
                sessions,
                Stage::Active,
                Timeline::recent(),
                workers(backend),
            )
            .await
        })
        .await?;
    }

    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let server = tokio::spawn(crate::gy::serve(
        listener,
        GySettings::new(addr, "ocs.bench", "bench"),
        Arc::new(Charging::new(world.ctx.clone(), Quota::default())),
        async move { stop.stopped().await },
    ));

    let measured = drive(addr, sessions, connections, Duration::from_secs(seconds)).await;
    shutdown.stop();
    if tokio::time::timeout(Duration::from_secs(15), server)
        .await
        .is_err()
    {
        tracing::warn!("the bench's Gy server did not stop in time");
    }
    let Measured {
        updates,
        elapsed,
        mut latencies,
    } = measured?;
    anyhow::ensure!(updates > 0, "no CCR-U was answered in {seconds} s");
    latencies.sort_unstable();
    let p99 = latencies[((latencies.len() * 99).div_ceil(100)).saturating_sub(1)];
    let per_second = updates as f64 / elapsed.as_secs_f64().max(1e-9);
    Ok(Row::at_least(
        backend,
        format!("Gy CCR-U, {sessions} sessions on {connections} connections, {seconds} s"),
        format!(
            "{} CCR/s p99 {} ({} CCR-U)",
            thousands(per_second.round() as u64),
            ms(p99),
            thousands(updates)
        ),
        per_second,
        TARGET_PER_SECOND,
        "CCR/s",
    ))
}

struct Measured {
    updates: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

/// Opens the connections, starts every session (CCR-I), sends updates for `run`, and ends every
/// session (CCR-T). Only the updates are measured.
async fn drive(
    addr: SocketAddr,
    sessions: u64,
    connections: usize,
    run: Duration,
) -> anyhow::Result<Measured> {
    // A gateway keeps a few long-lived connections to its charging server and multiplexes
    // thousands of sessions over them, several requests in flight on each; one connection per
    // session would measure connection handling no network asks of simdesk.
    let mut links = Vec::with_capacity(connections);
    for c in 0..connections {
        links.push(Arc::new(Link::open(addr, c).await?));
    }
    let origin_state = jiff::Timestamp::now().as_second();
    let all: Vec<Session> = (0..sessions)
        .map(|n| Session::new(links[n as usize % connections].clone(), n, origin_state))
        .collect();

    let started = in_parallel(all, |mut s| async move {
        s.ask(request_type::INITIAL, Some(REQUESTED_OCTETS), None)
            .await?;
        Ok((s, ()))
    })
    .await?;

    let began = Instant::now();
    let until = began + run;
    let started = started.into_iter().map(|(s, ())| s).collect();
    let updated = in_parallel(started, move |mut s| async move {
        let mut latencies = Vec::new();
        while Instant::now() < until {
            latencies.push(
                s.ask(
                    request_type::UPDATE,
                    Some(REQUESTED_OCTETS),
                    Some(USED_OCTETS),
                )
                .await?,
            );
        }
        Ok((s, latencies))
    })
    .await?;
    let elapsed = began.elapsed();

    let mut latencies = Vec::new();
    let mut open = Vec::with_capacity(updated.len());
    for (s, l) in updated {
        latencies.extend(l);
        open.push(s);
    }
    in_parallel(open, |mut s| async move {
        s.ask(request_type::TERMINATION, None, Some(USED_OCTETS))
            .await?;
        Ok((s, ()))
    })
    .await?;
    for link in &links {
        link.close();
    }
    Ok(Measured {
        updates: latencies.len() as u64,
        elapsed,
        latencies,
    })
}

/// Runs `step` for every session at once, each in its own task; the first failure fails all.
async fn in_parallel<T, F, Fut>(
    sessions: Vec<Session>,
    step: F,
) -> anyhow::Result<Vec<(Session, T)>>
where
    T: Send + 'static,
    F: Fn(Session) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(Session, T)>> + Send + 'static,
{
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|s| tokio::spawn(step(s)))
        .collect();
    let mut done = Vec::with_capacity(tasks.len());
    for t in tasks {
        done.push(t.await??);
    }
    Ok(done)
}

/// One data session of one line, on one of the gateway's connections.
struct Session {
    link: Arc<Link>,
    id: String,
    msisdn: String,
    imsi: String,
    number: u32,
}

impl Session {
    fn new(link: Arc<Link>, n: u64, origin_state: i64) -> Session {
        let (_, imsi, national) = seed::identifiers(n);
        Session {
            // RFC 6733 §8.8: the sender's identity, then a value unique to its restart.
            id: format!("{};{origin_state};{n}", link.origin_host),
            link,
            // As gateways send it: E.164 without its `+`.
            msisdn: format!("81{}", &national[1..]),
            imsi,
            number: 0,
        }
    }

    /// Sends the next request of the session and waits for its answer, which must grant (or,
    /// at the end, accept) what was asked: anything else fails the bench.
    async fn ask(
        &mut self,
        kind: i32,
        requested: Option<u64>,
        used: Option<u64>,
    ) -> anyhow::Result<Duration> {
        let dict = self.link.dict.clone();
        let number = self.number;
        self.number += 1;
        let mut mscc = Vec::with_capacity(3);
        if let Some(octets) = requested {
            mscc.push(total_octets(avp::REQUESTED_SERVICE_UNIT, octets, &dict));
        }
        if let Some(octets) = used {
            mscc.push(total_octets(avp::USED_SERVICE_UNIT, octets, &dict));
        }
        mscc.push(wire::avp(
            avp::RATING_GROUP,
            Unsigned32::new(RATING_GROUP),
            &dict,
        ));
        let subscription = |kind: i32, data: &str| {
            group(
                avp::SUBSCRIPTION_ID,
                vec![
                    wire::avp(avp::SUBSCRIPTION_ID_TYPE, Enumerated::new(kind), &dict),
                    wire::avp(avp::SUBSCRIPTION_ID_DATA, UTF8String::new(data), &dict),
                ],
                &dict,
            )
        };
        let mut avps = vec![wire::avp(avp::SESSION_ID, UTF8String::new(&self.id), &dict)];
        avps.extend(self.link.origin());
        avps.extend([
            wire::avp(avp::DESTINATION_REALM, Identity::new("bench"), &dict),
            wire::avp(
                avp::AUTH_APPLICATION_ID,
                Unsigned32::new(avp::CREDIT_CONTROL_APPLICATION),
                &dict,
            ),
            wire::avp(
                avp::SERVICE_CONTEXT_ID,
                UTF8String::new("32251@3gpp.org"),
                &dict,
            ),
            wire::avp(avp::CC_REQUEST_TYPE, Enumerated::new(kind), &dict),
            wire::avp(avp::CC_REQUEST_NUMBER, Unsigned32::new(number), &dict),
            subscription(subscription_type::END_USER_E164, &self.msisdn),
            subscription(subscription_type::END_USER_IMSI, &self.imsi),
            group(avp::MULTIPLE_SERVICES_CREDIT_CONTROL, mscc, &dict),
        ]);
        let (answer, took) = self
            .link
            .ask(
                CommandCode::CreditControl,
                ApplicationId::CreditControl,
                avps,
            )
            .await?;
        let verdict = Verdict::read(&answer);
        let granted = kind == request_type::TERMINATION
            || (verdict.service == Some(result::SUCCESS) && verdict.octets.is_some_and(|o| o > 0));
        anyhow::ensure!(
            verdict.result == Some(result::SUCCESS) && granted,
            "CCR {} of session {} was answered Result-Code {:?}, service Result-Code {:?}, \
             {:?} octets granted",
            number,
            self.id,
            verdict.result,
            verdict.service,
            verdict.octets
        );
        Ok(took)
    }
}

/// What a CCA says, read from its bytes without decoding the whole message.
struct Verdict {
    result: Option<u32>,
    /// The Result-Code of its (one) Multiple-Services-Credit-Control.
    service: Option<u32>,
    octets: Option<u64>,
}

impl Verdict {
    fn read(answer: &[u8]) -> Verdict {
        let top = wire::avps(answer.get(wire::HEADER_LEN..).unwrap_or_default());
        let find = |avps: &[RawAvp<'_>], code: u32| {
            avps.iter()
                .find(|a| a.code == code && a.vendor.is_none())
                .map(|a| a.value.to_vec())
        };
        let u32_of = |v: Vec<u8>| v.try_into().ok().map(u32::from_be_bytes);
        let mscc = find(&top, avp::MULTIPLE_SERVICES_CREDIT_CONTROL).unwrap_or_default();
        let inside = wire::avps(&mscc);
        let gsu = find(&inside, avp::GRANTED_SERVICE_UNIT).unwrap_or_default();
        Verdict {
            result: find(&top, avp::RESULT_CODE).and_then(u32_of),
            service: find(&inside, avp::RESULT_CODE).and_then(u32_of),
            octets: find(&wire::avps(&gsu), avp::CC_TOTAL_OCTETS)
                .and_then(|v| v.try_into().ok().map(u64::from_be_bytes)),
        }
    }
}

fn group(code: u32, avps: Vec<Avp>, dict: &Arc<Dictionary>) -> Avp {
    wire::avp(code, Grouped::new(avps, dict.clone()), dict)
}

fn total_octets(code: u32, octets: u64, dict: &Arc<Dictionary>) -> Avp {
    group(
        code,
        vec![wire::avp(
            avp::CC_TOTAL_OCTETS,
            Unsigned64::new(octets),
            dict,
        )],
        dict,
    )
}

type Waiting = Arc<Mutex<HashMap<u32, oneshot::Sender<(Vec<u8>, Instant)>>>>;

/// One of the gateway's Diameter connections: requests of many sessions go out as they come,
/// and each answer finds its request by Hop-by-Hop id, in whatever order answers arrive.
struct Link {
    origin_host: String,
    dict: Arc<Dictionary>,
    out: Mutex<Option<mpsc::Sender<Vec<u8>>>>,
    waiting: Waiting,
    next_id: AtomicU32,
}

impl Link {
    /// Connects and completes the capabilities exchange.
    async fn open(addr: SocketAddr, index: usize) -> anyhow::Result<Link> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (reader, mut writer) = stream.into_split();
        let mut reader = BufReader::new(reader);
        let link = Link {
            origin_host: format!("pgw{index}.bench"),
            dict: crate::gy::dictionary::dictionary(),
            out: Mutex::new(None),
            waiting: Arc::default(),
            next_id: AtomicU32::new(1),
        };
        let mut cer = link.origin().to_vec();
        cer.extend([
            wire::avp(
                avp::HOST_IP_ADDRESS,
                Address::from_ipv4([127, 0, 0, 1].into()),
                &link.dict,
            ),
            wire::avp(avp::VENDOR_ID, Unsigned32::new(0), &link.dict),
            Avp::new(
                avp::PRODUCT_NAME,
                None,
                0,
                AvpValue::from(UTF8String::new("simdesk-bench")),
                link.dict.clone(),
            ),
            wire::avp(
                avp::AUTH_APPLICATION_ID,
                Unsigned32::new(avp::CREDIT_CONTROL_APPLICATION),
                &link.dict,
            ),
        ]);
        let cer = link.message(
            CommandCode::CapabilitiesExchange,
            ApplicationId::Common,
            cer,
        );
        writer.write_all(&wire::encode(&cer)).await?;
        let cea = wire::read_message(&mut reader)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the Gy server closed the connection at CER"))?;
        let code = Verdict::read(&cea).result;
        anyhow::ensure!(
            code == Some(result::SUCCESS),
            "the Gy server answered the CER {code:?}"
        );

        let (out, queued) = mpsc::channel(1024);
        *link.out.lock().expect("not poisoned") = Some(out);
        tokio::spawn(write_out(writer, queued));
        let waiting = link.waiting.clone();
        tokio::spawn(async move {
            while let Ok(Some(message)) = wire::read_message(&mut reader).await {
                let at = Instant::now();
                // The server's own requests (a watchdog) need no answer in a run this short.
                let Some(header) = Header::parse(&message).filter(|h| !h.is_request()) else {
                    continue;
                };
                let waiter = waiting
                    .lock()
                    .expect("not poisoned")
                    .remove(&header.hop_by_hop);
                if let Some(waiter) = waiter {
                    let _ = waiter.send((message, at));
                }
            }
            // Closed: whoever still waits hears so at once, not after ANSWER_WAIT.
            waiting.lock().expect("not poisoned").clear();
        });
        Ok(link)
    }

    fn origin(&self) -> [Avp; 2] {
        [
            wire::avp(
                avp::ORIGIN_HOST,
                Identity::new(&self.origin_host),
                &self.dict,
            ),
            wire::avp(avp::ORIGIN_REALM, Identity::new("bench"), &self.dict),
        ]
    }

    fn message(
        &self,
        command: CommandCode,
        application: ApplicationId,
        avps: Vec<Avp>,
    ) -> DiameterMessage {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut m = DiameterMessage::new(
            command,
            application,
            wire::flags::REQUEST,
            id,
            id,
            self.dict.clone(),
        );
        for a in avps {
            m.add(a);
        }
        m
    }

    /// Sends a request and waits for its answer: the answer's bytes and the time from handing
    /// the request to the connection to reading the answer off it.
    async fn ask(
        &self,
        command: CommandCode,
        application: ApplicationId,
        avps: Vec<Avp>,
    ) -> anyhow::Result<(Vec<u8>, Duration)> {
        let m = self.message(command, application, avps);
        let bytes = wire::encode(&m);
        let (tell, answered) = oneshot::channel();
        self.waiting
            .lock()
            .expect("not poisoned")
            .insert(m.get_hop_by_hop_id(), tell);
        let out = self
            .out
            .lock()
            .expect("not poisoned")
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the connection is closed"))?;
        let sent = Instant::now();
        out.send(bytes)
            .await
            .map_err(|_| anyhow::anyhow!("the connection to the Gy server is gone"))?;
        let (answer, at) = tokio::time::timeout(ANSWER_WAIT, answered)
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {} s", ANSWER_WAIT.as_secs()))?
            .map_err(|_| anyhow::anyhow!("the Gy server closed the connection"))?;
        Ok((answer, at.saturating_duration_since(sent)))
    }

    /// Lets the writer finish and close the socket; the server then sees the peer leave.
    fn close(&self) {
        self.out.lock().expect("not poisoned").take();
    }
}

/// Sends what is queued, several requests a write when they are waiting, as a gateway's stack
/// does; shuts the socket once the link is closed.
async fn write_out(mut writer: OwnedWriteHalf, mut queued: mpsc::Receiver<Vec<u8>>) {
    let mut batch = Vec::new();
    while let Some(first) = queued.recv().await {
        batch.clear();
        batch.extend_from_slice(&first);
        for _ in 1..WRITE_BATCH {
            match queued.try_recv() {
                Ok(more) => batch.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        if writer.write_all(&batch).await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}
