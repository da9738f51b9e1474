//! The outbox's promises with peers that fail on purpose: a refusal is dead at once and comes
//! back with `retry`; an outage is retried with backoff; nothing is sent twice; calls about one
//! subscriber wait for the earlier ones.

mod support;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use simdesk::adapters::email::Mailer;
use simdesk::adapters::messages::RecordingMessages;
use simdesk::adapters::network::{Network, NetworkError, RecordingNetwork, Subscriber};
use simdesk::adapters::sms::SmsGateway;
use simdesk::adapters::PeerError;
use simdesk::services::outbox::{self, Peers};
use simdesk::services::policies::{load_policies, PolicyBook};
use simdesk::store::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use support::{fresh_db, policies_dir};

/// An SMS gateway that fails as told, and records what it accepted.
struct Gateway {
    failure: Mutex<Option<PeerError>>,
    sent: RecordingMessages,
}

#[async_trait]
impl SmsGateway for Gateway {
    async fn send_sms(&self, id: &str, to: &str, text: &str) -> Result<(), PeerError> {
        if let Some(e) = self.failure.lock().unwrap().clone() {
            return Err(e);
        }
        self.sent.send_sms(id, to, text).await
    }
}

/// The journal network, unreachable while `down` is set.
struct FlakyNetwork {
    journal: RecordingNetwork,
    down: AtomicBool,
}

impl FlakyNetwork {
    fn check(&self) -> Result<(), NetworkError> {
        if self.down.load(Ordering::SeqCst) {
            Err(PeerError::Unavailable("connection refused".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Network for FlakyNetwork {
    async fn provision(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError> {
        self.check()?;
        self.journal.provision(key, imsi, msisdn).await
    }
    async fn bar(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError> {
        self.check()?;
        self.journal.bar(key, imsi, msisdn).await
    }
    async fn unbar(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError> {
        self.check()?;
        self.journal.unbar(key, imsi, msisdn).await
    }
    async fn bar_data(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError> {
        self.check()?;
        self.journal.bar_data(key, imsi, msisdn).await
    }
    async fn unbar_data(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError> {
        self.check()?;
        self.journal.unbar_data(key, imsi, msisdn).await
    }
    async fn deprovision(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError> {
        self.check()?;
        self.journal.deprovision(key, imsi, msisdn).await
    }
    async fn subscriber(&self, imsi: &str) -> Result<Option<Subscriber>, NetworkError> {
        self.check()?;
        self.journal.subscriber(imsi).await
    }
}

struct World {
    db: support::TestDb,
    book: PolicyBook,
    sms: Arc<Gateway>,
    mail: Arc<RecordingMessages>,
    network: Arc<FlakyNetwork>,
    peers: Peers,
}

async fn world() -> World {
    let db = fresh_db().await;
    load_policies(db.store.as_ref(), &policies_dir(), Timestamp::now())
        .await
        .unwrap();
    let book = PolicyBook::load(db.store.as_ref()).await.unwrap();
    support::stock::stock(db.store.as_ref(), &book, &[1, 2]).await;
    let sms = Arc::new(Gateway {
        failure: Mutex::new(None),
        sent: RecordingMessages::default(),
    });
    let mail = Arc::new(RecordingMessages::default());
    let network = Arc::new(FlakyNetwork {
        journal: RecordingNetwork::new(db.store.clone()),
        down: AtomicBool::new(false),
    });
    let mut peers = Peers::recording(db.store.clone(), "https://sim.example.jp");
    peers.sms = sms.clone();
    peers.mail = mail.clone() as Arc<dyn Mailer>;
    peers.network = network.clone();
    World {
        db,
        book,
        sms,
        mail,
        network,
        peers,
    }
}

impl World {
    fn s(&self) -> &dyn Store {
        self.db.store.as_ref()
    }

    async fn deliver(&self, now: Timestamp) -> outbox::DeliveryReport {
        outbox::deliver(self.s(), &self.peers, now).await.unwrap()
    }

    async fn rows(&self, state: &str, kind: &str) -> Vec<simdesk::store::OutboxEntry> {
        self.s()
            .outbox_entries(Some(state), Some(kind), 100)
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sms_is_dead_at_once_and_retry_sends_it_once() {
    let w = world().await;
    let now = Timestamp::now();
    support::stock::sell(w.s(), &w.book, 1, "zh-Hant", now).await;
    *w.sms.failure.lock().unwrap() = Some(PeerError::Refused(
        "Kannel answered 403: Authorization failed for sendsms".into(),
    ));

    let report = w.deliver(now).await;
    // Registration and activation: their SMS are refused, their e-mails go out.
    let dead = w.rows("dead", "sms").await;
    assert_eq!(dead.len(), 2, "{report:?}");
    assert!(
        dead.iter().all(|r| r.attempts == 1),
        "dead at the first refusal"
    );
    assert!(dead[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("Authorization failed"));
    assert_eq!(w.mail.mail().len(), 2);
    assert!(
        w.mail.mail().iter().all(|m| m.subject.contains("門號")),
        "in Traditional Chinese"
    );

    // Fixed, and brought back by an operator: each SMS goes out once.
    *w.sms.failure.lock().unwrap() = None;
    assert_eq!(w.s().outbox_retry(None, now).await.unwrap(), 2);
    w.deliver(now).await;
    w.deliver(now + SignedDuration::from_secs(3600)).await;
    let sent = w.sms.sent.sms();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().all(|(to, _)| to == "+819000000001"), "{sent:?}");
    assert!(w.rows("dead", "sms").await.is_empty());
    assert_eq!(w.mail.mail().len(), 2, "the e-mails were not sent again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_gateway_is_retried_with_backoff_until_it_answers() {
    let w = world().await;
    let now = Timestamp::now();
    support::stock::sell(w.s(), &w.book, 1, "ko", now).await;
    *w.sms.failure.lock().unwrap() = Some(PeerError::Unavailable("connection refused".into()));

    let first = w.deliver(now).await;
    assert_eq!(first.retried, 2, "{first:?}");
    let waiting = w.rows("pending", "sms").await;
    assert_eq!(waiting.len(), 2);
    assert!(
        waiting.iter().all(|r| r.next_attempt_at > now),
        "backed off"
    );
    // Before the backoff has passed nothing is tried again.
    let early = w.deliver(now + SignedDuration::from_secs(5)).await;
    assert_eq!(early.retried + early.delivered, 0, "{early:?}");

    *w.sms.failure.lock().unwrap() = None;
    let later = w.deliver(now + SignedDuration::from_secs(60)).await;
    assert_eq!(later.delivered, 2, "{later:?}");
    let sent = w.sms.sent.sms();
    assert_eq!(sent.len(), 2);
    assert!(
        sent.iter()
            .any(|(_, text)| text.contains("개통") || text.contains("활성")),
        "the activation SMS in Korean: {sent:?}"
    );
    assert_eq!(
        w.deliver(now + SignedDuration::from_secs(7200))
            .await
            .delivered,
        0
    );
    assert_eq!(w.sms.sent.sms().len(), 2, "nothing twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_about_one_subscriber_wait_for_the_earlier_ones() {
    let w = world().await;
    let now = Timestamp::now();
    support::stock::sell(w.s(), &w.book, 1, "en", now).await;
    support::stock::sell(w.s(), &w.book, 2, "en", now).await;
    w.network.down.store(true, Ordering::SeqCst);
    w.deliver(now).await;
    assert_eq!(w.rows("pending", "network.provision").await.len(), 2);

    // Line 1 expires while the HLR is down: its bar must not overtake its provisioning.
    let expiry = now + SignedDuration::from_hours(24 * 11);
    simdesk::services::jobs::run_once(w.s(), expiry)
        .await
        .unwrap();
    w.network.down.store(false, Ordering::SeqCst);
    let bars = w.rows("pending", "network.bar").await;
    assert_eq!(bars.len(), 2, "both lines expired");
    assert!(bars.iter().all(|r| r.attempts == 0));

    w.deliver(expiry).await;
    let imsi = "440100000000001";
    let calls: Vec<String> = w
        .s()
        .network_calls(imsi)
        .await
        .unwrap()
        .into_iter()
        .map(|(op, _)| op)
        .collect();
    assert_eq!(calls, ["provision", "bar"]);
    assert!(w.rows("pending", "network.bar").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_is_reminded_once_the_day_before_its_validity_ends() {
    let w = world().await;
    let sold = Timestamp::now();
    support::stock::sell(w.s(), &w.book, 1, "ja", sold).await;
    let line = simdesk::services::lines::find_line(
        w.s(),
        &simdesk::services::lines::parse_line_key("09000000001").unwrap(),
    )
    .await
    .unwrap();
    let ends = line.validity_ends_at.unwrap();
    let reminders = || async {
        w.s()
            .outbox_entries(None, Some("notify"), 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.idempotency_key.starts_with("notify:validity_reminder:"))
            .count()
    };
    // EX-SAKURA reminds 24 hours before: not 25 hours before, then once however often it runs.
    let jobs = simdesk::services::jobs::queue_reminders;
    assert_eq!(
        jobs(w.s(), &w.book, ends - SignedDuration::from_hours(25))
            .await
            .unwrap(),
        0
    );
    assert_eq!(reminders().await, 0);
    assert_eq!(
        jobs(w.s(), &w.book, ends - SignedDuration::from_hours(23))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        jobs(w.s(), &w.book, ends - SignedDuration::from_hours(22))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        jobs(w.s(), &w.book, ends - SignedDuration::from_hours(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(reminders().await, 1);

    w.deliver(ends - SignedDuration::from_hours(1)).await;
    let reminder = w
        .sms
        .sent
        .sms()
        .into_iter()
        .find(|(_, text)| text.contains("約23時間後"))
        .expect("the reminder SMS says how many hours are left");
    assert!(reminder.1.contains("simdesk"), "{reminder:?}");
}
