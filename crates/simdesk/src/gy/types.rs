//! What a credit-control request asks and what simdesk answers, as plain Rust values: the
//! boundary between the Diameter protocol layer (`gy/`) and whatever decides grants.
//!
//! Nothing here knows about AVPs, codes or sockets, so the charging side can be written and
//! tested without Diameter, and the protocol layer without a database. `codec.rs` is the one
//! place that turns a CCR into a [`CreditRequest`] and a [`CreditAnswer`] into a CCA.

/// Which step of a credit-control session a request is (RFC 4006 `CC-Request-Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestType {
    /// The session starts: the first reservation.
    Initial,
    /// Usage so far is reported and more is asked for.
    Update,
    /// The session ends: the last usage is reported, nothing more is granted.
    Terminate,
    /// A one-off charge with no session around it.
    Event,
}

/// Who is being charged, as the network names them (`Subscription-Id`). The data is passed on
/// as the network wrote it (an MSISDN usually without `+`); the charging side normalises it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subscriber {
    /// `END_USER_E164`: the line's number.
    Msisdn(String),
    /// `END_USER_IMSI`: the SIM's identity.
    Imsi(String),
}

/// An amount of service in the units Gy counts. Each is `None` when the message did not
/// mention that unit at all; `Some(0)` is a real zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Units {
    /// Data, in octets (`CC-Total-Octets`, or input plus output when only those are given).
    pub octets: Option<u64>,
    /// Time, in seconds (`CC-Time`).
    pub seconds: Option<u64>,
    /// Events such as SMS (`CC-Service-Specific-Units`).
    pub messages: Option<u64>,
}

impl Units {
    /// Whether no unit is named: an empty `Requested-Service-Unit` asks for "the usual quota".
    pub fn is_empty(&self) -> bool {
        self.octets.is_none() && self.seconds.is_none() && self.messages.is_none()
    }
}

/// One service in a request: one `Multiple-Services-Credit-Control`, or the request's own
/// units when it has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceUsage {
    pub rating_group: Option<u32>,
    pub service_id: Option<u32>,
    /// What the network asks to reserve next (`Requested-Service-Unit`); `Some` with no units
    /// asks for whatever the charging side usually grants.
    pub requested: Option<Units>,
    /// What was used since the last report (`Used-Service-Unit`, several added together).
    pub used: Option<Units>,
}

/// One Credit-Control-Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditRequest {
    pub session_id: String,
    pub request_type: RequestType,
    /// Counts the requests of one session from 0; with `session_id` it names a request, so a
    /// retransmission can be recognised.
    pub request_number: u32,
    pub subscriber: Option<Subscriber>,
    /// When the network says the event happened (`Event-Timestamp`).
    pub event_time: Option<jiff::Timestamp>,
    pub services: Vec<ServiceUsage>,
    /// Why the session ended (`Termination-Cause`), on a terminate request.
    pub termination_cause: Option<u32>,
    /// The network the phone is attached to, as MCC-MNC digits (`3GPP-SGSN-MCC-MNC`), when the
    /// gateway says: abroad, data is priced by that network's roaming zone.
    pub visited_network: Option<String>,
}

/// How a request, or one service in it, was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Granted (2001).
    Success,
    /// The balance cannot cover the service (4012); used units are still counted.
    CreditLimitReached,
    /// The service is refused for this subscriber, e.g. barred or expired (4010).
    EndUserServiceDenied,
    /// No such subscriber (5030).
    UserUnknown,
    /// The request cannot be rated: a rating group or service that is not sold (5031).
    RatingFailed,
    /// The request could not be handled now, e.g. the database is unreachable (5012).
    UnableToComply,
    /// An update or terminate names a session that is not known, or no longer (5002).
    SessionUnknown,
}

/// The decision on one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceGrant {
    pub rating_group: Option<u32>,
    pub service_id: Option<u32>,
    pub outcome: Outcome,
    /// The quota reserved for the network to use (`Granted-Service-Unit`).
    pub granted: Option<Units>,
    /// How long the quota may be used before the network must report; `None` uses the
    /// configured `validity_secs`.
    pub validity_secs: Option<u32>,
    /// This is the last quota: when it is used up the network ends the service
    /// (`Final-Unit-Indication` with `Final-Unit-Action` TERMINATE).
    pub final_unit: bool,
}

/// The answer to one request: its overall outcome and one grant per service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditAnswer {
    pub outcome: Outcome,
    pub services: Vec<ServiceGrant>,
}

impl CreditAnswer {
    /// An answer that refuses the whole request with `outcome` and says nothing per service.
    pub fn refused(outcome: Outcome) -> CreditAnswer {
        CreditAnswer {
            outcome,
            services: Vec::new(),
        }
    }
}

/// Decides grants. The protocol layer calls it once per CCR and turns its answer into the CCA.
#[async_trait::async_trait]
pub trait CreditControl: Send + Sync + 'static {
    /// Answers one CCR. A repeat of (session_id, request_number) must get the same answer
    /// without counting twice — that is the implementor's job, not the protocol layer's.
    async fn answer(&self, request: &CreditRequest) -> CreditAnswer;
}

/// What answers while nothing in simdesk decides grants yet: every request is refused with
/// `UnableToComply`, so the network applies its credit-control failure handling instead of
/// waiting for an answer that will not come.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCreditControl;

#[async_trait::async_trait]
impl CreditControl for NoCreditControl {
    async fn answer(&self, _request: &CreditRequest) -> CreditAnswer {
        CreditAnswer::refused(Outcome::UnableToComply)
    }
}
