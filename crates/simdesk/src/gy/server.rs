//! The Gy server: accepts the network's charging clients over TCP and serves each connection
//! in its own task until the peer leaves, stops answering, or simdesk stops.
//!
//! A connection follows RFC 6733's peer state machine as far as a server needs it: the first
//! message must be a CER (anything else is answered 3010 DIAMETER_UNKNOWN_PEER and the
//! connection closed, since the peer has not said who it is); then CCRs are answered through
//! [`CreditControl`], several at once — a client pipelines, and each answer carries its own
//! request's Hop-by-Hop and End-to-End identifiers, so answers may leave in any order; DWRs are
//! answered, and after `watchdog_secs` of silence simdesk sends its own DWR and closes the
//! connection if another `watchdog_secs` pass without a word (RFC 3539); a DPR is answered and
//! the connection closed. When simdesk stops it lets the answers in flight go out, sends DPR
//! (REBOOTING) and closes.
//!
//! Reading, deciding and writing are separate tasks: a reader passes whole messages to the
//! connection's loop (so a timer firing never cuts a message in half), each CCR is answered in
//! a task of its own, and a writer sends whatever is ready.

use super::avp::{self, command, result};
use super::base;
use super::codec;
use super::types::{CreditAnswer, CreditControl, Outcome};
use super::wire::{self, Header, Refusal};
use super::{GySettings, Local};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

/// How many CCRs of one connection are answered at once; beyond that reading pauses until one
/// is done, so a client that floods is slowed rather than simdesk's memory filled.
const MAX_IN_FLIGHT: usize = 256;
/// How long a stopping connection waits for its answers in flight before it sends DPR.
const DRAIN: Duration = Duration::from_secs(5);
/// How long it then waits for the DPA.
const DPA_WAIT: Duration = Duration::from_secs(2);
/// How long a closing connection gives its writer to send what is queued.
const FLUSH: Duration = Duration::from_secs(5);
/// How often a stopping connection looks whether its answers in flight are out.
const DRAIN_POLL: Duration = Duration::from_millis(20);

/// Serves Gy on `listener` until `stop` resolves, answering CCRs through `control`. Returns
/// once every connection has said goodbye (or been given up on).
pub async fn serve(
    listener: TcpListener,
    settings: GySettings,
    control: Arc<dyn CreditControl>,
    stop: impl Future<Output = ()>,
) {
    let local = Arc::new(Local::new(&settings));
    let watchdog = settings.watchdog();
    let (stopping, stop_watch) = watch::channel(false);
    let mut connections = JoinSet::new();
    match listener.local_addr() {
        Ok(addr) => tracing::info!(%addr, origin_host = %local.origin_host, "Gy server listening"),
        Err(e) => tracing::warn!(error = %e, "Gy server listening on an unknown address"),
    }
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let connection = Connection::new(
                        stream, peer, local.clone(), control.clone(), watchdog, stop_watch.clone(),
                    );
                    connections.spawn(connection.run());
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "Gy server could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = done {
                    tracing::error!(error = %e, "a Gy connection ended unexpectedly");
                }
            }
        }
    }
    drop(listener);
    stopping.send_replace(true);
    let goodbye = DRAIN + DPA_WAIT + FLUSH + Duration::from_secs(1);
    let all_closed = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(goodbye, all_closed).await.is_err() {
        tracing::warn!("Gy connections still open at shutdown were closed");
    }
    tracing::info!("Gy server stopped");
}

/// Where a connection is in its life.
enum State {
    /// Connected, no CER yet.
    Waiting,
    /// Capabilities exchanged.
    Open(base::Peer),
}

/// Where a connection is in stopping.
#[derive(Clone, Copy)]
enum Stopping {
    /// Letting the answers in flight go out, until the instant given.
    Draining(Instant),
    /// DPR sent with this Hop-by-Hop id; closing at the instant given if no DPA came.
    Disconnecting(u32, Instant),
}

/// What the connection's loop does next.
enum Next {
    Continue,
    Close(String),
}

struct Connection {
    peer_addr: SocketAddr,
    host_ip: IpAddr,
    local: Arc<Local>,
    control: Arc<dyn CreditControl>,
    watchdog: Duration,
    stop: watch::Receiver<bool>,
    stream: Option<TcpStream>,
    state: State,
    stopping: Option<Stopping>,
    /// The RFC 3539 timer: restarted by every message received and every DWR sent.
    watch_from: Instant,
    /// The Hop-by-Hop id of simdesk's DWR still unanswered.
    dwr_pending: Option<u32>,
    /// Identifiers for the requests simdesk sends (DWR, DPR), unique per connection.
    next_hop_by_hop: u32,
    next_end_to_end: u32,
    in_flight: Arc<Semaphore>,
    out: Option<mpsc::Sender<Vec<u8>>>,
}

impl Connection {
    fn new(
        stream: TcpStream,
        peer_addr: SocketAddr,
        local: Arc<Local>,
        control: Arc<dyn CreditControl>,
        watchdog: Duration,
        stop: watch::Receiver<bool>,
    ) -> Connection {
        let host_ip = stream
            .local_addr()
            .map(|a| a.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        Connection {
            peer_addr,
            host_ip,
            local,
            control,
            watchdog,
            stop,
            stream: Some(stream),
            state: State::Waiting,
            stopping: None,
            watch_from: Instant::now(),
            dwr_pending: None,
            next_hop_by_hop: rand::random(),
            next_end_to_end: rand::random(),
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            out: None,
        }
    }

    async fn run(mut self) {
        let Some(stream) = self.stream.take() else {
            return;
        };
        let _ = stream.set_nodelay(true);
        let (mut reader, writer) = stream.into_split();
        let (out, queued) = mpsc::channel(64);
        self.out = Some(out);
        let writing = tokio::spawn(write_out(writer, queued));
        let (received, mut incoming) = mpsc::channel(8);
        let reading = tokio::spawn(async move {
            loop {
                let read = wire::read_message(&mut reader).await;
                let last = !matches!(read, Ok(Some(_)));
                if received.send(read).await.is_err() || last {
                    return;
                }
            }
        });
        tracing::debug!(peer = %self.peer_addr, "Gy connection accepted");

        let why = self.serve(&mut incoming).await;
        reading.abort();
        // Closing: once the answers in flight are queued the writer sends them and shuts the
        // socket; it is given a bound, since a peer may have stopped reading.
        self.out = None;
        if tokio::time::timeout(FLUSH, writing).await.is_err() {
            tracing::debug!(peer = %self.peer_addr, "gave up sending to a closing peer");
        }
        match &self.state {
            State::Open(peer) => tracing::info!(
                peer = %self.peer_addr, origin_host = %peer.origin_host, reason = %why,
                "Gy peer disconnected"
            ),
            State::Waiting => {
                tracing::info!(peer = %self.peer_addr, reason = %why, "Gy connection closed")
            }
        }
    }

    /// The connection's loop; returns why it ended.
    async fn serve(
        &mut self,
        incoming: &mut mpsc::Receiver<io::Result<Option<Vec<u8>>>>,
    ) -> String {
        loop {
            let wake = self.next_wake();
            let next = tokio::select! {
                read = incoming.recv() => match read {
                    Some(Ok(Some(message))) => {
                        self.watch_from = Instant::now();
                        self.on_message(message).await
                    }
                    Some(Ok(None)) | None => Next::Close("the peer closed the connection".into()),
                    Some(Err(e)) => Next::Close(format!("reading failed: {e}")),
                },
                () = sleep_until(wake) => self.on_timer().await,
                _ = self.stop.changed(), if self.stopping.is_none() => self.begin_stopping(),
            };
            if let Next::Close(why) = next {
                return why;
            }
        }
    }

    fn next_wake(&self) -> Instant {
        match self.stopping {
            Some(Stopping::Draining(until)) => (Instant::now() + DRAIN_POLL).min(until),
            Some(Stopping::Disconnecting(_, until)) => until,
            None => self.watch_from + self.watchdog,
        }
    }

    async fn on_message(&mut self, message: Vec<u8>) -> Next {
        let Some(header) = Header::parse(&message) else {
            return Next::Close("a message shorter than its header".into());
        };
        if !header.is_request() {
            return self.on_answer(&header);
        }
        if header.version != 1 {
            let refusal = Refusal::new(result::UNSUPPORTED_VERSION, "Diameter version 1 only");
            self.send(codec::refusal_answer(&message, &refusal, &self.local))
                .await;
            return Next::Continue;
        }
        if header.flags & wire::flags::ERROR != 0 {
            let refusal = Refusal::new(result::INVALID_HDR_BITS, "a request with the E bit set");
            self.send(codec::refusal_answer(&message, &refusal, &self.local))
                .await;
            return Next::Continue;
        }
        if matches!(self.state, State::Waiting) && header.command != command::CAPABILITIES_EXCHANGE
        {
            // RFC 6733 §5.6.1: a peer is only known once its CER arrived.
            let refusal = Refusal::new(
                result::UNKNOWN_PEER,
                "the capabilities exchange (CER) must come first",
            );
            self.send(codec::refusal_answer(&message, &refusal, &self.local))
                .await;
            return Next::Close(format!(
                "command {} before the capabilities exchange",
                header.command
            ));
        }
        let expected_application = match header.command {
            command::CAPABILITIES_EXCHANGE
            | command::DEVICE_WATCHDOG
            | command::DISCONNECT_PEER => 0,
            command::CREDIT_CONTROL => avp::CREDIT_CONTROL_APPLICATION,
            other => {
                let refusal = Refusal::new(
                    result::COMMAND_UNSUPPORTED,
                    format!("command {other} is not served here"),
                );
                self.send(codec::refusal_answer(&message, &refusal, &self.local))
                    .await;
                return Next::Continue;
            }
        };
        if header.application != expected_application {
            let refusal = Refusal::new(
                result::APPLICATION_UNSUPPORTED,
                format!("application {} is not served here", header.application),
            );
            self.send(codec::refusal_answer(&message, &refusal, &self.local))
                .await;
            return Next::Continue;
        }
        let request = wire::clean(&message, &self.local.dict)
            .and_then(|cleaned| wire::decode(&cleaned, &self.local.dict));
        let request = match request {
            Ok(request) => request,
            Err(refusal) => {
                tracing::warn!(
                    peer = %self.peer_addr, command = header.command,
                    result_code = refusal.result_code, reason = %refusal.message,
                    "refused a malformed request"
                );
                if header.command == command::CAPABILITIES_EXCHANGE {
                    self.send(base::cea(
                        &header,
                        Some(&refusal),
                        self.host_ip,
                        &self.local,
                    ))
                    .await;
                    return Next::Close("a malformed CER".into());
                }
                self.send(codec::refusal_answer(&message, &refusal, &self.local))
                    .await;
                return Next::Continue;
            }
        };
        match header.command {
            command::CAPABILITIES_EXCHANGE => self.on_cer(&header, &request).await,
            command::DEVICE_WATCHDOG => {
                self.send(base::dwa(&header, &self.local)).await;
                Next::Continue
            }
            command::DISCONNECT_PEER => {
                self.send(base::dpa(&header, &self.local)).await;
                Next::Close("the peer asked to disconnect (DPR)".into())
            }
            _ => self.on_ccr(header, &message, &request).await,
        }
    }

    async fn on_cer(&mut self, header: &Header, cer: &diameter::DiameterMessage) -> Next {
        match base::read_cer(cer) {
            Ok(peer) => {
                self.send(base::cea(header, None, self.host_ip, &self.local))
                    .await;
                if !matches!(&self.state, State::Open(known) if *known == peer) {
                    tracing::info!(
                        peer = %self.peer_addr, origin_host = %peer.origin_host,
                        origin_realm = %peer.origin_realm, "Gy peer connected"
                    );
                }
                self.state = State::Open(peer);
                Next::Continue
            }
            Err(refusal) => {
                self.send(base::cea(header, Some(&refusal), self.host_ip, &self.local))
                    .await;
                // §5.3: no common application, and so nothing to talk about.
                Next::Close(format!("CER refused: {}", refusal.message))
            }
        }
    }

    async fn on_ccr(
        &mut self,
        header: Header,
        message: &[u8],
        ccr: &diameter::DiameterMessage,
    ) -> Next {
        let request = match codec::decode_ccr(ccr) {
            Ok(request) => request,
            Err(refusal) => {
                tracing::warn!(
                    peer = %self.peer_addr, result_code = refusal.result_code,
                    reason = %refusal.message, "refused a CCR"
                );
                self.send(codec::refusal_answer(message, &refusal, &self.local))
                    .await;
                return Next::Continue;
            }
        };
        let Ok(permit) = self.in_flight.clone().acquire_owned().await else {
            return Next::Close("the connection is closing".into());
        };
        let (Some(out), control, local) =
            (self.out.clone(), self.control.clone(), self.local.clone())
        else {
            return Next::Close("the connection is closing".into());
        };
        tokio::spawn(async move {
            let _permit = permit;
            // The decision runs in a task of its own: if it panics, the client still gets an
            // answer (5012) instead of waiting for one that never comes.
            let asked = request.clone();
            let answer = tokio::spawn(async move { control.answer(&asked).await })
                .await
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, session_id = %request.session_id, "deciding a CCR failed");
                    CreditAnswer::refused(Outcome::UnableToComply)
                });
            tracing::debug!(
                session_id = %request.session_id, request_type = ?request.request_type,
                request_number = request.request_number, outcome = ?answer.outcome,
                "answered a CCR"
            );
            let cca = codec::encode_cca(&header, &request, &answer, &local);
            let _ = out.send(wire::encode(&cca)).await;
        });
        Next::Continue
    }

    fn on_answer(&mut self, header: &Header) -> Next {
        match (header.command, self.stopping) {
            (command::DEVICE_WATCHDOG, _) if self.dwr_pending == Some(header.hop_by_hop) => {
                self.dwr_pending = None;
            }
            (command::DISCONNECT_PEER, Some(Stopping::Disconnecting(sent, _)))
                if sent == header.hop_by_hop =>
            {
                return Next::Close("simdesk is stopping".into());
            }
            _ => tracing::debug!(
                peer = %self.peer_addr, command = header.command,
                "ignored an answer to nothing simdesk asked"
            ),
        }
        Next::Continue
    }

    async fn on_timer(&mut self) -> Next {
        let now = Instant::now();
        match self.stopping {
            Some(Stopping::Draining(until)) => {
                let idle = self.in_flight.available_permits() == MAX_IN_FLIGHT;
                if idle || now >= until {
                    let hop_by_hop = self.next_hop_by_hop();
                    let end_to_end = self.next_end_to_end();
                    self.send(base::dpr(hop_by_hop, end_to_end, &self.local))
                        .await;
                    self.stopping = Some(Stopping::Disconnecting(hop_by_hop, now + DPA_WAIT));
                }
                Next::Continue
            }
            Some(Stopping::Disconnecting(_, until)) if now >= until => {
                Next::Close("simdesk is stopping; no DPA came".into())
            }
            Some(Stopping::Disconnecting(..)) => Next::Continue,
            None if now < self.watch_from + self.watchdog => Next::Continue,
            None => match self.state {
                State::Waiting => Next::Close(format!(
                    "no CER within {} s of connecting",
                    self.watchdog.as_secs()
                )),
                State::Open(_) if self.dwr_pending.is_some() => Next::Close(format!(
                    "no answer to the watchdog within {} s",
                    self.watchdog.as_secs()
                )),
                State::Open(_) => {
                    let hop_by_hop = self.next_hop_by_hop();
                    let end_to_end = self.next_end_to_end();
                    self.send(base::dwr(hop_by_hop, end_to_end, &self.local))
                        .await;
                    self.dwr_pending = Some(hop_by_hop);
                    self.watch_from = now;
                    Next::Continue
                }
            },
        }
    }

    fn begin_stopping(&mut self) -> Next {
        match self.state {
            State::Waiting => Next::Close("simdesk is stopping".into()),
            State::Open(_) => {
                self.stopping = Some(Stopping::Draining(Instant::now() + DRAIN));
                Next::Continue
            }
        }
    }

    fn next_hop_by_hop(&mut self) -> u32 {
        self.next_hop_by_hop = self.next_hop_by_hop.wrapping_add(1);
        self.next_hop_by_hop
    }

    fn next_end_to_end(&mut self) -> u32 {
        self.next_end_to_end = self.next_end_to_end.wrapping_add(1);
        self.next_end_to_end
    }

    async fn send(&self, bytes: Vec<u8>) {
        if let Some(out) = &self.out {
            // A writer that is gone means the peer is gone; the reader will say so.
            let _ = out.send(bytes).await;
        }
    }
}

/// Sends what is queued, in order, and shuts the socket once nothing more can be queued.
async fn write_out(mut writer: OwnedWriteHalf, mut queued: mpsc::Receiver<Vec<u8>>) {
    while let Some(bytes) = queued.recv().await {
        if let Err(e) = writer.write_all(&bytes).await {
            tracing::debug!(error = %e, "writing to a Gy peer failed");
            return;
        }
    }
    let _ = writer.shutdown().await;
}
