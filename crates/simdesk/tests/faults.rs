//! Faults under load: API clients keep ordering cancellations while the database connection is
//! cut and restored and a node is killed (SIGKILL) and started again; every order answered 2xx
//! exists once, retries never make a second one, and the outage is answered 503 promptly.

mod support;

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};
use simdesk::services::lines;
use simdesk::services::policies::{load_policies, PolicyBook};
use simdesk_domain::cancellation::RequestState;
use simdesk_domain::ids::CarrierCode;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::node::Node;
use support::proxy::{upstream_of, Proxy};
use support::stock::{iccid, national, sell, stock};
use support::{fresh_db, policies_dir};

/// Lines in stock; clients order cancellations for them one after another.
const LINES: u64 = 800;
const CLIENTS: u64 = 6;
/// A client's pause between two orders.
const PACE: Duration = Duration::from_millis(250);
/// Longer than this without an answer is a hang.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);
/// A client gives an order up (and the test fails) after retrying it this long.
const GIVE_UP_AFTER: Duration = Duration::from_secs(120);
const ORDER: &str = "/tmf-api/productOrdering/v4/productOrder";

/// What the clients saw.
#[derive(Default)]
struct Seen {
    /// Per line: every order id answered 2xx for it.
    orders: BTreeMap<u64, Vec<String>>,
    /// When each node last answered 2xx.
    last_ok: HashMap<usize, Instant>,
    ok: u64,
    replays: u64,
    unavailable: u64,
    in_progress: u64,
    connection_errors: u64,
    /// What must not happen: a 500, an error without the shape, a hang, an order given up.
    problems: Vec<String>,
}

struct Clients {
    http: reqwest::Client,
    token: String,
    bases: Vec<String>,
    next: AtomicU64,
    stop: AtomicBool,
    seen: Mutex<Seen>,
}

enum Outcome {
    Ok {
        id: String,
        replayed: bool,
    },
    /// 503 or 409 IN_PROGRESS: the same request, again, shortly.
    Retry,
    /// The node did not answer: try the other one.
    Unreachable,
}

impl Clients {
    fn problem(&self, what: String) {
        eprintln!("problem: {what}");
        self.seen.lock().unwrap().problems.push(what);
    }

    async fn post(&self, node: usize, n: u64, key: &str) -> Outcome {
        let body = json!({
            "productOrderItem": [{ "id": "1", "action": "delete", "product": { "id": iccid(n) } }]
        });
        let sent = Instant::now();
        let answer = self
            .http
            .post(format!("{}{ORDER}", self.bases[node]))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Idempotency-Key", key)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&body).unwrap())
            .send()
            .await;
        let response = match answer {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                self.problem(format!(
                    "line {n} on node {node}: no answer within {ANSWER_WITHIN:?}"
                ));
                return Outcome::Unreachable;
            }
            Err(_) => {
                self.seen.lock().unwrap().connection_errors += 1;
                return Outcome::Unreachable;
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let replayed = response.headers().contains_key("idempotency-replayed");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = match response.text().await {
            Ok(t) => t,
            Err(_) => {
                // The node went away while answering.
                self.seen.lock().unwrap().connection_errors += 1;
                return Outcome::Unreachable;
            }
        };
        if sent.elapsed() > ANSWER_WITHIN {
            self.problem(format!(
                "line {n}: answered only after {:?}",
                sent.elapsed()
            ));
        }
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match status {
            200 | 201 => {
                let Some(id) = json["id"].as_str() else {
                    self.problem(format!("line {n}: {status} without an order id: {text}"));
                    return Outcome::Retry;
                };
                let mut seen = self.seen.lock().unwrap();
                seen.ok += 1;
                seen.last_ok.insert(node, Instant::now());
                Outcome::Ok {
                    id: id.to_string(),
                    replayed,
                }
            }
            503 | 409 => {
                let shaped = content_type.starts_with("application/json")
                    && ["code", "reason", "message"]
                        .iter()
                        .all(|f| json[f].as_str().is_some_and(|v| !v.is_empty()));
                if !shaped {
                    self.problem(format!("line {n}: {status} not in the error shape: {text}"));
                }
                if status == 409 && json["code"] != "IN_PROGRESS" {
                    self.problem(format!("line {n}: unexpected 409: {text}"));
                }
                let mut seen = self.seen.lock().unwrap();
                if status == 503 {
                    seen.unavailable += 1;
                    if retry_after
                        .as_deref()
                        .and_then(|v| v.parse::<u64>().ok())
                        .is_none()
                    {
                        seen.problems
                            .push(format!("line {n}: 503 without Retry-After: {text}"));
                    }
                } else {
                    seen.in_progress += 1;
                }
                Outcome::Retry
            }
            _ => {
                self.problem(format!("line {n} on node {node}: {status}: {text}"));
                Outcome::Retry
            }
        }
    }

    /// Orders line `n`'s cancellation until answered 2xx, failing over between nodes.
    async fn order(&self, client: u64, n: u64) -> Option<String> {
        let key = format!("faults-{n}");
        let mut node = (client as usize) % self.bases.len();
        let started = Instant::now();
        loop {
            match self.post(node, n, &key).await {
                Outcome::Ok { id, .. } => return Some(id),
                Outcome::Retry => tokio::time::sleep(Duration::from_millis(300)).await,
                Outcome::Unreachable => {
                    node = (node + 1) % self.bases.len();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            if started.elapsed() > GIVE_UP_AFTER {
                self.problem(format!("line {n}: no 2xx after {GIVE_UP_AFTER:?}"));
                return None;
            }
        }
    }

    /// One client: orders lines until stopped; some orders are sent twice with the same key
    /// (an answer lost on the way) and some again with a new key (a second channel).
    async fn run(self: Arc<Self>, client: u64) {
        while !self.stop.load(Ordering::SeqCst) {
            let n = self.next.fetch_add(1, Ordering::SeqCst);
            if n >= LINES {
                self.problem("the clients ran out of lines before the faults were over".into());
                return;
            }
            let Some(id) = self.order(client, n).await else {
                continue;
            };
            let mut ids = vec![id];
            if n.is_multiple_of(4) {
                let node = (client as usize + 1) % self.bases.len();
                if let Outcome::Ok {
                    id: again,
                    replayed,
                } = self.post(node, n, &format!("faults-{n}")).await
                {
                    if replayed {
                        self.seen.lock().unwrap().replays += 1;
                    }
                    ids.push(again);
                }
            }
            if n.is_multiple_of(5) {
                if let Outcome::Ok { id: again, .. } = self
                    .post(
                        client as usize % self.bases.len(),
                        n,
                        &format!("faults-{n}-again"),
                    )
                    .await
                {
                    ids.push(again);
                }
            }
            self.seen
                .lock()
                .unwrap()
                .orders
                .entry(n)
                .or_default()
                .extend(ids);
            tokio::time::sleep(PACE).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_survive_a_cut_database_and_a_killed_node() {
    let postgres = support::backend() == "postgres";
    if !postgres {
        eprintln!(
            "the database cut needs PostgreSQL (SIMDESK_TEST_PG); on SQLite one node is killed \
             and started again under load"
        );
    }
    let db = fresh_db().await;
    let s = db.store.as_ref();
    load_policies(
        s,
        &policies_dir(),
        Timestamp::now() - SignedDuration::from_hours(24 * 30),
    )
    .await
    .unwrap();
    let book = PolicyBook::load(s).await.unwrap();
    let numbers: Vec<u64> = (0..LINES).collect();
    stock(s, &book, &numbers).await;
    let sold = Timestamp::now() - SignedDuration::from_hours(24 * 2);
    let mut sellers = Vec::new();
    for worker in 0..4 {
        let (store, book) = (db.store.clone(), book.clone());
        sellers.push(tokio::spawn(async move {
            for n in (worker..LINES).step_by(4) {
                sell(store.as_ref(), &book, n, "en", sold).await;
            }
        }));
    }
    for seller in sellers {
        seller.await.unwrap();
    }
    let token = simdesk::web::api::new_token();
    s.insert_api_token(
        &CarrierCode::new("EX-SAKURA"),
        "faults",
        &simdesk::web::api::hash_token(&token),
        "test",
        Timestamp::now(),
    )
    .await
    .unwrap();

    // On PostgreSQL both nodes reach the database through a proxy the test can cut.
    let proxy = if postgres {
        Some(Proxy::start(&upstream_of(&db.url)).await)
    } else {
        None
    };
    let url = proxy
        .as_ref()
        .map_or(db.url.clone(), |p| p.url_for(&db.url));
    let data_dir = tempfile::tempdir().unwrap();
    let names: &[&str] = if postgres {
        &["node-a", "node-b"]
    } else {
        &["node-a"]
    };
    let mut nodes: Vec<Node> = names
        .iter()
        .map(|name| {
            Node::new(
                name,
                &url,
                &db.keys_dir(),
                data_dir.path(),
                &[
                    ("SIMDESK_DB_WAIT_SECS", "2"),
                    ("SIMDESK_JOBS_EVERY_SECS", "1"),
                ],
            )
        })
        .collect();
    for node in &mut nodes {
        node.start().await;
    }

    let clients = Arc::new(Clients {
        http: reqwest::Client::builder()
            .timeout(ANSWER_WITHIN)
            .connect_timeout(Duration::from_secs(2))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap(),
        token,
        bases: nodes.iter().map(Node::base).collect(),
        next: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        seen: Mutex::new(Seen::default()),
    });
    let started = Instant::now();
    let running: Vec<_> = (0..CLIENTS)
        .map(|c| tokio::spawn(clients.clone().run(c)))
        .collect();
    let ok_since = |since: Instant, node: usize| {
        clients
            .seen
            .lock()
            .unwrap()
            .last_ok
            .get(&node)
            .is_some_and(|t| *t > since)
    };
    async fn until(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) {
        let until = Instant::now() + deadline;
        while !done() {
            assert!(Instant::now() < until, "{what}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(4)).await;

    // 1. The database connection is cut, then restored: the same processes serve again.
    let mut unavailable_during_cut = 0;
    if let Some(proxy) = &proxy {
        let pids: Vec<_> = nodes.iter().map(Node::pid).collect();
        let before = clients.seen.lock().unwrap().unavailable;
        eprintln!(
            "{:>5.1?}: cutting the database connection",
            started.elapsed()
        );
        proxy.cut();
        tokio::time::sleep(Duration::from_secs(6)).await;
        proxy.restore();
        let restored = Instant::now();
        unavailable_during_cut = clients.seen.lock().unwrap().unavailable - before;
        eprintln!(
            "{:>5.1?}: restored after {unavailable_during_cut} answers 503 and {} connections refused",
            started.elapsed(),
            proxy.refused()
        );
        for (i, node) in nodes.iter_mut().enumerate() {
            until(
                &format!("{} serves again after the database came back", node.name),
                Duration::from_secs(60),
                || ok_since(restored, i),
            )
            .await;
            node.assert_running();
        }
        // Due work, which failed while the database was away, runs again too: side effects
        // of the orders are delivered.
        let delivered = |(all, pending): (i64, i64)| all - pending;
        let before = delivered(s.outbox_progress("").await.unwrap());
        let until_delivered = Instant::now() + Duration::from_secs(60);
        while delivered(s.outbox_progress("").await.unwrap()) == before {
            assert!(
                Instant::now() < until_delivered,
                "due work runs again after the database came back"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(
            nodes.iter().map(Node::pid).collect::<Vec<_>>(),
            pids,
            "no node was restarted"
        );
        eprintln!(
            "{:>5.1?}: both nodes serve and work again",
            started.elapsed()
        );
    }

    // 2. A node is killed in the middle of its work and started again; meanwhile clients go to
    // the other node (on SQLite, the only node: they wait for it).
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!("{:>5.1?}: killing {}", started.elapsed(), nodes[0].name);
    nodes[0].kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    nodes[0].start().await;
    let restarted = Instant::now();
    eprintln!(
        "{:>5.1?}: {} started again",
        started.elapsed(),
        nodes[0].name
    );
    until("the restarted node serves", Duration::from_secs(60), || {
        ok_since(restarted, 0)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    clients.stop.store(true, Ordering::SeqCst);
    for client in running {
        client.await.unwrap();
    }
    eprintln!("{:>5.1?}: clients done", started.elapsed());
    for node in &mut nodes {
        node.assert_running();
        let log = node.log();
        assert!(!log.contains("panicked"), "{} panicked:\n{log}", node.name);
    }
    drop(nodes);

    let seen = std::mem::take(&mut *clients.seen.lock().unwrap());
    eprintln!(
        "{} lines ordered: {} answers 2xx ({} replayed), {} answers 503, {} in progress, {} connection errors",
        seen.orders.len(),
        seen.ok,
        seen.replays,
        seen.unavailable,
        seen.in_progress,
        seen.connection_errors
    );
    assert!(seen.problems.is_empty(), "{:#?}", seen.problems);
    if postgres {
        assert!(
            unavailable_during_cut > 0,
            "while the database was cut, clients were told so (503)"
        );
    }
    assert!(seen.connection_errors > 0, "a node was killed under load");

    // Every order answered 2xx exists, once, for its line; no line has a second request.
    assert!(!seen.orders.is_empty(), "orders were answered");
    let mut ids = HashSet::new();
    for n in 0..LINES {
        let line = lines::find_line(s, &lines::parse_line_key(&national(n)).unwrap())
            .await
            .unwrap();
        let requests = s.requests_for_line(line.id).await.unwrap();
        let Some(answered) = seen.orders.get(&n) else {
            // A line whose order never got an answer may hold one request (its first attempt
            // committed before the answer was lost), never two.
            assert!(requests.len() <= 1, "line {n}: {} requests", requests.len());
            continue;
        };
        assert_eq!(requests.len(), 1, "line {n} has exactly one request");
        let id = requests[0].request.id.to_string();
        assert!(
            answered.iter().all(|a| *a == id),
            "line {n}: answered {answered:?}, stored {id}"
        );
        assert!(
            matches!(
                requests[0].request.state,
                RequestState::Submitted | RequestState::Approved | RequestState::Completed
            ),
            "line {n}: {:?}",
            requests[0].request.state
        );
        assert!(ids.insert(id), "line {n} shares an order with another line");
    }
    drop(clients);
    drop(proxy);
    db.drop_database().await;
}

/// A request whose node died after reserving its `Idempotency-Key` left the reservation behind:
/// once it is clearly lost, a retry of the same request is served (once); a reservation still
/// young is answered 409 IN_PROGRESS, in the error shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_lost_with_its_node_is_served_on_retry() {
    use sha2::{Digest, Sha256};
    let db = fresh_db().await;
    let s = db.store.as_ref();
    load_policies(
        s,
        &policies_dir(),
        Timestamp::now() - SignedDuration::from_hours(24 * 30),
    )
    .await
    .unwrap();
    let book = PolicyBook::load(s).await.unwrap();
    stock(s, &book, &[0, 1]).await;
    let sold = Timestamp::now() - SignedDuration::from_hours(24);
    for n in [0, 1] {
        sell(s, &book, n, "en", sold).await;
    }
    let token = simdesk::web::api::new_token();
    let caller = simdesk::web::api::hash_token(&token);
    s.insert_api_token(
        &CarrierCode::new("EX-SAKURA"),
        "faults",
        &caller,
        "test",
        Timestamp::now(),
    )
    .await
    .unwrap();
    let body = |n: u64| {
        serde_json::to_vec(&json!({
            "productOrderItem": [{ "id": "1", "action": "delete", "product": { "id": iccid(n) } }]
        }))
        .unwrap()
    };
    let hash = |body: &[u8]| {
        let mut h = Sha256::new();
        h.update(b"POST");
        h.update(ORDER.as_bytes());
        h.update(body);
        hex::encode(h.finalize())
    };
    // Line 0's order was reserved a minute ago by a node that then died; line 1's a moment ago
    // by a node still serving it.
    let now = Timestamp::now();
    s.reserve_idempotency_key(
        &caller,
        "lost",
        &hash(&body(0)),
        now - SignedDuration::from_secs(60),
    )
    .await
    .unwrap();
    s.reserve_idempotency_key(&caller, "young", &hash(&body(1)), now)
        .await
        .unwrap();

    let data_dir = tempfile::tempdir().unwrap();
    let mut node = Node::new("node-a", &db.url, &db.keys_dir(), data_dir.path(), &[]);
    node.start().await;
    let http = reqwest::Client::builder()
        .timeout(ANSWER_WITHIN)
        .build()
        .unwrap();
    let post = |key: &'static str, body: Vec<u8>| {
        http.post(format!("{}{ORDER}", node.base()))
            .header("Authorization", format!("Bearer {token}"))
            .header("Idempotency-Key", key)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let first = post("lost", body(0)).await.unwrap();
    assert_eq!(first.status().as_u16(), 201, "the lost request is served");
    let first: Value = serde_json::from_str(&first.text().await.unwrap()).unwrap();
    let again = post("lost", body(0)).await.unwrap();
    assert_eq!(again.status().as_u16(), 201);
    assert!(again.headers().contains_key("idempotency-replayed"));
    let again: Value = serde_json::from_str(&again.text().await.unwrap()).unwrap();
    assert_eq!(again["id"], first["id"], "served once, then replayed");

    let busy = post("young", body(1)).await.unwrap();
    assert_eq!(busy.status().as_u16(), 409);
    let busy: Value = serde_json::from_str(&busy.text().await.unwrap()).unwrap();
    assert_eq!(busy["code"], "IN_PROGRESS", "{busy}");
    let line = lines::find_line(s, &lines::parse_line_key(&national(1)).unwrap())
        .await
        .unwrap();
    assert!(
        s.requests_for_line(line.id).await.unwrap().is_empty(),
        "a request still being served is not served twice"
    );
    node.kill();
    db.drop_database().await;
}
