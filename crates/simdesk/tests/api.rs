//! REST API integration tests (issue 5): the real router on 127.0.0.1:0 over a fresh database
//! (SQLite, or PostgreSQL when SIMDESK_TEST_PG is set), driven over HTTP the way an operator's
//! system drives it — the OpenAPI document and a real validator, tokens scoped to a carrier,
//! TMF637 products, TMF622 product orders to completion with a verifiable receipt, TMF654
//! buckets, `Idempotency-Key` and the one error shape.
//!
//! The API acts at the real clock, so the lines it works on are sold and activated relative to
//! `Timestamp::now()`; what happens later (a cancellation taking effect, a line expiring) is run
//! through the job runner at the instant it is due.

mod support;

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};
use simdesk::adapters::messages::{CodeDestination, RecordingCodeSender};
use simdesk::services::cancellation::{self, Knowledge};
use simdesk::services::import::{import_lines, ImportRequest, Progress};
use simdesk::services::jobs;
use simdesk::services::lines::{self, Usage};
use simdesk::services::outbox::Peers;
use simdesk::services::policies::{load_policies, PolicyBook};
use simdesk::services::wallet;
use simdesk::services::ServiceContext;
use simdesk::store::{LineKey, RequestRecord, Store};
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use simdesk_domain::cancellation::RequestState;
use simdesk_domain::customer::RegistrationForm;
use simdesk_domain::ids::{CustomerId, Iccid, RequestId};
use simdesk_domain::line::{Line, LineState};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use support::{fresh_db, policies_dir};

const PASSPORT: &str = "TZ1234567";
/// The body of the router's fallback: what an unrouted path answers.
const NOT_ROUTED: &str = "no such resource; the API is described at /openapi.json";
const PRODUCT: &str = "/tmf-api/productInventory/v4/product";
const ORDER: &str = "/tmf-api/productOrdering/v4/productOrder";
const CANCEL_ORDER: &str = "/tmf-api/productOrdering/v4/cancelProductOrder";
const BUCKET: &str = "/tmf-api/prepayBalanceManagement/v4/bucket";

/// Every (method, path) the API serves, as the OpenAPI document must list it.
const API_ROUTES: &[(&str, &str)] = &[
    ("get", "/tmf-api/productInventory/v4/product"),
    ("get", "/tmf-api/productInventory/v4/product/{id}"),
    ("post", "/tmf-api/productOrdering/v4/productOrder"),
    ("get", "/tmf-api/productOrdering/v4/productOrder/{id}"),
    ("post", "/tmf-api/productOrdering/v4/cancelProductOrder"),
    ("get", "/tmf-api/prepayBalanceManagement/v4/bucket"),
    ("get", "/tmf-api/usageManagement/v4/usage"),
    ("get", "/api/v1/lines/{line}"),
    ("get", "/api/v1/lines/{line}/history"),
    ("get", "/api/v1/lines/{line}/quote"),
    ("get", "/api/v1/cancellations/{id}"),
    ("post", "/api/v1/cancellations/{id}/code"),
    ("post", "/api/v1/cancellations/{id}/code/check"),
    ("post", "/api/v1/cancellations/{id}/knowledge"),
    ("post", "/api/v1/cancellations/{id}/documents"),
    ("post", "/api/v1/cancellations/{id}/documents/review"),
    ("post", "/api/v1/cancellations/{id}/reject"),
    ("post", "/api/v1/cancellations/{id}/withdraw"),
    ("get", "/api/v1/customers/{id}/wallet"),
    ("post", "/api/v1/customers/{id}/payouts"),
    ("post", "/api/v1/usage"),
    ("get", "/api/v1/lines/{line}/usage"),
    ("get", "/api/v1/lines/{line}/esim"),
    ("post", "/api/v1/lines/{line}/esim/order"),
    ("get", "/api/v1/receipts/{number}"),
    ("post", "/api/v1/receipts/verify"),
];

/// The operations endpoints the router serves besides the API.
const OPERATIONS_ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

/// One answer, read whole.
#[derive(Debug, Clone, PartialEq)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {:?}", self.status, self.body))
    }

    /// Asserts the one error shape — JSON `{code, reason, message}`, all non-empty strings —
    /// with this status (and code, when given); returns the body.
    #[track_caller]
    fn error(&self, status: u16, code: Option<&str>) -> Value {
        assert_eq!(self.status, status, "status of {self:?}");
        assert_error_shape(self);
        let json = self.json();
        if let Some(code) = code {
            assert_eq!(json["code"], code, "code of {self:?}");
        }
        json
    }
}

#[track_caller]
fn assert_error_shape(reply: &Reply) {
    let content_type = reply.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "an error must be JSON, got content-type {content_type:?}: {reply:?}"
    );
    let json: Value = serde_json::from_str(&reply.body)
        .unwrap_or_else(|e| panic!("an error must be JSON ({e}): {reply:?}"));
    for field in ["code", "reason", "message"] {
        let value = json[field].as_str().unwrap_or_default();
        assert!(
            !value.trim().is_empty(),
            "an error needs a non-empty {field:?}: {reply:?}"
        );
    }
}

enum Body {
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

struct Http {
    base: String,
    agent: ureq::Agent,
}

impl Http {
    fn new(base: String) -> Http {
        // A fresh connection per request: a server that answers a POST before reading its body
        // (a 401, a 404) may close the connection after answering; a pooled one would be stale.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .build()
            .into();
        Http { base, agent }
    }

    /// Blocking: tests run on a multi-thread runtime, whose workers serve the request meanwhile.
    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Body>,
    ) -> Reply {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(t) = token {
            builder = builder.header("Authorization", format!("Bearer {t}"));
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let result = match body {
            None => self.agent.run(builder.body(()).unwrap()),
            Some(Body::Json(v)) => self.agent.run(
                builder
                    .header("Content-Type", "application/json")
                    .body(serde_json::to_vec(&v).unwrap())
                    .unwrap(),
            ),
            Some(Body::Raw(content_type, bytes)) => self.agent.run(
                builder
                    .header("Content-Type", content_type)
                    .body(bytes)
                    .unwrap(),
            ),
        };
        let mut response = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .unwrap_or_else(|e| panic!("{method} {path}: reading the body: {e}"));
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, Some(token), &[], None)
    }

    fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call("POST", path, Some(token), &[], Some(Body::Json(body)))
    }

    fn post_with_key(&self, path: &str, token: &str, key: &str, body: Value) -> Reply {
        self.call(
            "POST",
            path,
            Some(token),
            &[("Idempotency-Key", key)],
            Some(Body::Json(body)),
        )
    }
}

fn delete_order(iccid: &str) -> Value {
    json!({
        "productOrderItem": [
            { "id": "1", "action": "delete", "product": { "id": iccid } }
        ]
    })
}

/// `+` and other reserved characters in a path segment.
fn encode(segment: &str) -> String {
    segment.replace('+', "%2B")
}

// ---------------------------------------------------------------------------
// The world: a store, a ctx, the server, and tokens
// ---------------------------------------------------------------------------

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

fn days(d: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * d)
}

fn person(kind: ActorKind, id: &str, channel: Channel, when: Timestamp, why: &str) -> Attribution {
    Attribution::new(
        Actor {
            kind,
            id: id.into(),
        },
        channel,
        when,
        why,
    )
}

fn clerk(when: Timestamp) -> Attribution {
    person(
        ActorKind::Clerk,
        "clerk-7",
        Channel::Store,
        when,
        "at the counter",
    )
}

fn agent(when: Timestamp) -> Attribution {
    person(
        ActorKind::Agent,
        "agent-3",
        Channel::Hotline,
        when,
        "caller asked to cancel",
    )
}

fn iccid(n: u64) -> String {
    Iccid::from_body(&format!("89811001{n:010}"))
        .unwrap()
        .to_string()
}

/// Line `n`'s number in E.164, and as it is dialled in Japan.
fn msisdn(n: u64) -> (String, String) {
    (format!("+8190{n:08}"), format!("090{n:08}"))
}

fn quiet() -> Progress<'static> {
    static NOTHING: fn(u64) = |_| {};
    Progress {
        checked: &NOTHING,
        written: &NOTHING,
    }
}

fn form() -> RegistrationForm {
    RegistrationForm {
        full_name: "Alex Example".into(),
        passport_number: PASSPORT.into(),
        nationality: "GB".into(),
        birth_date: "1990-04-01".into(),
        phone: "+44 7700 900123".into(),
        email: "alex@example.com".into(),
        language: "en".into(),
    }
}

struct World {
    app: support::TestApp,
    ctx: ServiceContext,
    peers: Peers,
    codes: Arc<RecordingCodeSender>,
    http: Http,
    /// EX-SAKURA's operations system.
    sakura: String,
    /// A second EX-SAKURA system (billing): same carrier, its own idempotency keys.
    sakura_billing: String,
    /// EX-KOI's operations system.
    koi: String,
}

impl World {
    fn s(&self) -> &dyn Store {
        self.app.store.as_ref()
    }

    fn book(&self) -> &PolicyBook {
        &self.ctx.book
    }

    async fn stock(&self, carrier: &str, rows: &[(u64, &str)]) {
        let mut csv = String::from("iccid,imsi,msisdn,plan\n");
        for (n, plan) in rows {
            csv.push_str(&format!("{},44010{n:010},090{n:08},{plan}\n", iccid(*n)));
        }
        import_lines(
            self.s(),
            self.book(),
            ImportRequest {
                carrier: &carrier.into(),
                source_name: "stock.csv",
                input: csv.as_bytes(),
                skip_invalid: false,
                by: Attribution::new(
                    Actor::operator("inventory"),
                    Channel::Operator,
                    at("2025-01-01T00:00:00Z"),
                    "carrier delivery",
                ),
            },
            quiet(),
        )
        .await
        .unwrap();
    }

    fn key(n: u64) -> LineKey {
        lines::parse_line_key(&iccid(n)).unwrap()
    }

    async fn line(&self, n: u64) -> Line {
        lines::find_line(self.s(), &World::key(n)).await.unwrap()
    }

    async fn register(&self, n: u64, when: Timestamp) {
        lines::register(self.s(), self.book(), &World::key(n), &form(), clerk(when))
            .await
            .unwrap();
    }

    /// Sells line `n` an hour before `activated` and activates it then.
    async fn sell(&self, n: u64, activated: Timestamp) {
        self.register(n, activated - hours(1)).await;
        lines::activate(self.s(), self.book(), &World::key(n), clerk(activated))
            .await
            .unwrap();
    }

    /// A hotline cancellation with name and passport: approved at once.
    async fn cancel_by_hotline(&self, n: u64, when: Timestamp) -> RequestRecord {
        let submitted = cancellation::submit(
            &self.ctx,
            &World::key(n),
            Channel::Hotline,
            Some(Knowledge {
                name: "Alex Example".into(),
                passport: PASSPORT.into(),
            }),
            agent(when),
        )
        .await
        .unwrap();
        assert_eq!(submitted.request.request.state, RequestState::Approved);
        submitted.request
    }

    async fn request(&self, id: RequestId) -> RequestRecord {
        cancellation::load(&self.ctx, id).await.unwrap()
    }

    /// Runs every job due at the request's effective instant; the request is completed.
    async fn complete(&self, id: RequestId) -> RequestRecord {
        let effective_at = self
            .request(id)
            .await
            .request
            .effective_at
            .expect("an approved request has an effective instant");
        let report = jobs::run_due(&self.ctx, &self.peers, effective_at)
            .await
            .unwrap();
        assert!(report.cancellations.completed >= 1, "{report:?}");
        let record = self.request(id).await;
        assert_eq!(record.request.state, RequestState::Completed);
        record
    }

    /// A line sold at `when`, cancelled by the hotline and completed: its holder has a refund
    /// of 1000 JPY (the plan's credit) in the e-wallet and a receipt.
    async fn refunded(&self, n: u64, when: Timestamp) -> (CustomerId, RequestRecord) {
        self.sell(n, when).await;
        let record = self.cancel_by_hotline(n, when + hours(1)).await;
        let record = self.complete(record.request.id).await;
        let holder = self.line(n).await.holder.unwrap();
        let view = wallet::show(self.s(), holder).await.unwrap();
        assert_eq!(
            serde_json::to_value(&view.balance).unwrap(),
            json!([{ "value": 1000, "unit": "JPY" }])
        );
        (holder, record)
    }

    /// The last one-time code texted to line `n`.
    fn code_sent_to(&self, n: u64) -> Option<String> {
        self.codes.last_code_to(&CodeDestination::Line(msisdn(n).0))
    }

    async fn token(&self, carrier: &str, name: &str) -> (String, i64) {
        let token = simdesk::web::api::new_token();
        let id = self
            .s()
            .insert_api_token(
                &carrier.into(),
                name,
                &simdesk::web::api::hash_token(&token),
                "test",
                Timestamp::now(),
            )
            .await
            .unwrap();
        (token, id)
    }
}

async fn world() -> World {
    let db = fresh_db().await;
    load_policies(
        db.store.as_ref(),
        &policies_dir(),
        at("2025-01-01T00:00:00Z"),
    )
    .await
    .unwrap();
    let app = support::spawn_app_on(db, support::AppOptions::new()).await;
    let mut w = World {
        ctx: app.ctx.clone(),
        peers: app.peers.clone(),
        codes: app.codes.clone(),
        http: Http::new(app.base.clone()),
        app,
        sakura: String::new(),
        sakura_billing: String::new(),
        koi: String::new(),
    };
    w.sakura = w.token("EX-SAKURA", "sakura-ops").await.0;
    w.sakura_billing = w.token("EX-SAKURA", "sakura-billing").await.0;
    w.koi = w.token("EX-KOI", "koi-ops").await.0;
    w
}

/// A minimal JPEG as far as content sniffing goes.
fn jpeg(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len.max(4)];
    bytes[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
    bytes
}

// ---------------------------------------------------------------------------
// 1. The OpenAPI document
// ---------------------------------------------------------------------------

/// (method, path) of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            if item.get(method).is_some() {
                out.insert((method.to_string(), path.clone()));
            }
        }
    }
    out
}

fn routes(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

/// Runs `python3 -m openapi_spec_validator` on the document; fails loudly when it is missing.
fn validate_with_openapi_spec_validator(document: &str) {
    let install =
        "install the validator with `python3 -m pip install --user openapi-spec-validator` \
                   (scripts/test does this before the tests run)";
    let probe = std::process::Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 is needed to validate the OpenAPI document ({e}); {install}")
        });
    assert!(
        probe.status.success(),
        "the Python module openapi_spec_validator is missing: {install}\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, document).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator", "--errors", "all"])
        .arg(&file)
        .output()
        .expect("run openapi_spec_validator");
    assert!(
        out.status.success(),
        "the OpenAPI document does not validate:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_3_1_lists_every_api_route_and_validates() {
    let w = world().await;
    let reply = w.http.call("GET", "/openapi.json", None, &[], None);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/json"));
    let doc = reply.json();
    assert!(
        doc["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3.1"),
        "OpenAPI 3.1, got {}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());

    // Every API route is documented, and nothing is documented that is not served.
    let listed = documented(&doc);
    let expected = routes(API_ROUTES);
    let missing: Vec<_> = expected.difference(&listed).collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    let extra: Vec<_> = listed
        .difference(&expected)
        .filter(|r| !routes(OPERATIONS_ROUTES).contains(*r))
        .collect();
    assert!(
        extra.is_empty(),
        "documented but not in this test's list: {extra:?}"
    );

    // The API authenticates with bearer tokens; errors have the one shape.
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let error = &doc["components"]["schemas"]["ApiError"];
    let required: BTreeSet<&str> = error["required"]
        .as_array()
        .expect("ApiError.required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(required, BTreeSet::from(["code", "reason", "message"]));

    // Each documented operation answers: never the router's fallback, never "method not allowed".
    for (method, path) in &listed {
        let concrete = path
            .replace("{id}", "1")
            .replace("{line}", &iccid(1))
            .replace("{number}", "EX-SAKURA-2026-000001");
        let body = (method == "post").then(|| Body::Json(json!({})));
        let reply = w.http.call(
            &method.to_uppercase(),
            &concrete,
            Some(&w.sakura),
            &[],
            body,
        );
        assert!(
            !reply.body.contains(NOT_ROUTED),
            "{method} {path} is documented but not routed: {reply:?}"
        );
        assert_ne!(reply.status, 405, "{method} {path}: {reply:?}");
        assert!(reply.status < 500, "{method} {path}: {reply:?}");
    }

    validate_with_openapi_spec_validator(&reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operations_endpoints_answer_and_are_documented_too() {
    let w = world().await;
    let health = w.http.call("GET", "/healthz", None, &[], None);
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    let ready = w.http.call("GET", "/readyz", None, &[], None);
    assert_eq!(ready.status, 200, "{ready:?}");
    let doc = w.http.call("GET", "/openapi.json", None, &[], None).json();
    let listed = documented(&doc);
    let missing: Vec<_> = routes(OPERATIONS_ROUTES)
        .difference(&listed)
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "the router serves these but the document does not list them: {missing:?}"
    );
    // They need no token.
    for (_, path) in OPERATIONS_ROUTES {
        let security = &doc["paths"][path]["get"]["security"];
        assert_eq!(security, &json!([{}]), "{path} must not ask for a token");
    }
}

// ---------------------------------------------------------------------------
// 2. Authorization: tokens, and a carrier's resources only
// ---------------------------------------------------------------------------

/// One request for each API route, against the resources `ids` names.
struct Call {
    method: &'static str,
    route: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Body>,
}

/// What the authorization table works on.
struct Ids {
    /// An active line.
    line: u64,
    /// An open product order (cancellation request) on `line`.
    order: RequestId,
    /// A customer with money in the e-wallet.
    customer: CustomerId,
    /// A receipt number and its document.
    receipt: String,
    receipt_document: String,
}

/// Every API route, called with valid requests against `ids`.
fn every_route(ids: &Ids) -> Vec<Call> {
    let line = iccid(ids.line);
    let order = ids.order;
    let call = |method, route, path: String, body: Option<Body>| Call {
        method,
        route,
        path,
        headers: vec![],
        body,
    };
    let calls = vec![
        call(
            "GET",
            "/tmf-api/productInventory/v4/product/{id}",
            format!("{PRODUCT}/{line}"),
            None,
        ),
        call(
            "GET",
            "/tmf-api/productInventory/v4/product",
            PRODUCT.to_string(),
            None,
        ),
        call(
            "POST",
            "/tmf-api/productOrdering/v4/productOrder",
            ORDER.to_string(),
            Some(Body::Json(delete_order(&line))),
        ),
        call(
            "GET",
            "/tmf-api/productOrdering/v4/productOrder/{id}",
            format!("{ORDER}/{order}"),
            None,
        ),
        call(
            "POST",
            "/tmf-api/productOrdering/v4/cancelProductOrder",
            CANCEL_ORDER.to_string(),
            Some(Body::Json(
                json!({ "productOrder": { "id": order.to_string() } }),
            )),
        ),
        call(
            "GET",
            "/tmf-api/prepayBalanceManagement/v4/bucket",
            format!("{BUCKET}?product.id={line}"),
            None,
        ),
        call(
            "GET",
            "/tmf-api/usageManagement/v4/usage",
            format!("/tmf-api/usageManagement/v4/usage?product.id={line}"),
            None,
        ),
        call(
            "GET",
            "/api/v1/lines/{line}",
            format!("/api/v1/lines/{line}"),
            None,
        ),
        call(
            "GET",
            "/api/v1/lines/{line}/history",
            format!("/api/v1/lines/{line}/history"),
            None,
        ),
        call(
            "GET",
            "/api/v1/lines/{line}/quote",
            format!("/api/v1/lines/{line}/quote"),
            None,
        ),
        call(
            "GET",
            "/api/v1/lines/{line}/usage",
            format!("/api/v1/lines/{line}/usage"),
            None,
        ),
        call(
            "GET",
            "/api/v1/lines/{line}/esim",
            format!("/api/v1/lines/{line}/esim"),
            None,
        ),
        Call {
            method: "POST",
            route: "/api/v1/lines/{line}/esim/order",
            path: format!("/api/v1/lines/{line}/esim/order"),
            headers: vec![("Idempotency-Key", "authz-esim-1".to_string())],
            body: Some(Body::Json(json!({}))),
        },
        Call {
            method: "POST",
            route: "/api/v1/usage",
            path: "/api/v1/usage".to_string(),
            headers: vec![("Idempotency-Key", "authz-usage-1".to_string())],
            body: Some(Body::Json(json!({ "records": [{
                "record_id": "authz-1", "line": line.clone(), "service": "data",
                "started_at": Timestamp::now().to_string(), "volume": 1024 }] }))),
        },
        call(
            "GET",
            "/api/v1/cancellations/{id}",
            format!("/api/v1/cancellations/{order}"),
            None,
        ),
        call(
            "POST",
            "/api/v1/cancellations/{id}/code",
            format!("/api/v1/cancellations/{order}/code"),
            Some(Body::Json(json!({}))),
        ),
        call(
            "POST",
            "/api/v1/cancellations/{id}/code/check",
            format!("/api/v1/cancellations/{order}/code/check"),
            Some(Body::Json(json!({ "code": "123456" }))),
        ),
        call(
            "POST",
            "/api/v1/cancellations/{id}/knowledge",
            format!("/api/v1/cancellations/{order}/knowledge"),
            Some(Body::Json(
                json!({ "name": "Alex Example", "passport": PASSPORT }),
            )),
        ),
        call(
            "POST",
            "/api/v1/cancellations/{id}/documents",
            format!("/api/v1/cancellations/{order}/documents"),
            Some(Body::Raw("application/octet-stream", jpeg(1024))),
        ),
        call(
            "POST",
            "/api/v1/cancellations/{id}/documents/review",
            format!("/api/v1/cancellations/{order}/documents/review"),
            Some(Body::Json(json!({ "approve": true }))),
        ),
        call(
            "POST",
            "/api/v1/cancellations/{id}/reject",
            format!("/api/v1/cancellations/{order}/reject"),
            Some(Body::Json(
                json!({ "reason": "the passport photo is blurred" }),
            )),
        ),
        call(
            "POST",
            "/api/v1/cancellations/{id}/withdraw",
            format!("/api/v1/cancellations/{order}/withdraw"),
            None,
        ),
        call(
            "GET",
            "/api/v1/customers/{id}/wallet",
            format!("/api/v1/customers/{}/wallet", ids.customer),
            None,
        ),
        Call {
            method: "POST",
            route: "/api/v1/customers/{id}/payouts",
            path: format!("/api/v1/customers/{}/payouts", ids.customer),
            headers: vec![("Idempotency-Key", "authz-payout-1".to_string())],
            body: Some(Body::Json(
                json!({ "amount": { "value": 300, "unit": "JPY" }, "destination": "card ****4242" }),
            )),
        },
        call(
            "GET",
            "/api/v1/receipts/{number}",
            format!("/api/v1/receipts/{}", ids.receipt),
            None,
        ),
        call(
            "POST",
            "/api/v1/receipts/verify",
            "/api/v1/receipts/verify".to_string(),
            Some(Body::Raw(
                "application/json",
                ids.receipt_document.clone().into_bytes(),
            )),
        ),
    ];
    let covered: BTreeSet<(String, String)> = calls
        .iter()
        .map(|c| (c.method.to_lowercase(), c.route.to_string()))
        .collect();
    assert_eq!(
        covered,
        routes(API_ROUTES),
        "the table must try every route"
    );
    calls
}

fn run(http: &Http, call: Call, token: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = call.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    http.call(call.method, &call.path, token, &headers, call.body)
}

/// EX-SAKURA resources of every kind: an active line 1 with an open API order, and line 2
/// cancelled and completed, whose holder has 1000 JPY in the e-wallet and a receipt.
async fn sakura_resources(w: &World) -> Ids {
    w.stock("EX-SAKURA", &[(1, "JP10-DV"), (2, "JP10-DV")])
        .await;
    let now = Timestamp::now();
    w.sell(1, now - hours(1)).await;
    let (customer, completed) = w.refunded(2, now - days(30)).await;
    let reply = w.http.post(ORDER, &w.sakura, delete_order(&iccid(1)));
    assert_eq!(reply.status, 201, "{reply:?}");
    let order: RequestId = reply.json()["id"].as_str().unwrap().parse().unwrap();
    let receipt = completed.receipt_number.unwrap();
    let receipt_document = w.s().receipt(&receipt).await.unwrap().unwrap();
    Ids {
        line: 1,
        order,
        customer,
        receipt,
        receipt_document,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_live_token_every_route_is_401_in_the_error_shape() {
    let w = world().await;
    let ids = sakura_resources(&w).await;
    let (revoked, revoked_id) = w.token("EX-SAKURA", "old integration").await;
    let path = format!("{PRODUCT}/{}", iccid(1));
    assert_eq!(
        w.http.get(&path, &revoked).status,
        200,
        "live before revocation"
    );
    assert!(w
        .s()
        .revoke_api_token(revoked_id, Timestamp::now())
        .await
        .unwrap());

    let none = w.http.call("GET", &path, None, &[], None);
    let json = none.error(401, Some("UNAUTHORIZED"));
    assert!(
        json["message"].as_str().unwrap().contains("Bearer"),
        "{json}"
    );
    w.http.get(&path, &revoked).error(401, Some("UNAUTHORIZED"));
    w.http
        .get(&path, "sdk_0000")
        .error(401, Some("UNAUTHORIZED"));
    w.http
        .call(
            "GET",
            &path,
            None,
            &[("Authorization", &format!("Basic {}", w.sakura))],
            None,
        )
        .error(401, Some("UNAUTHORIZED"));
    w.http
        .call("GET", &path, None, &[("Authorization", &w.sakura)], None)
        .error(401, Some("UNAUTHORIZED"));

    for token in [None, Some(revoked.as_str())] {
        for call in every_route(&ids) {
            let what = format!(
                "{} {} with {:?}",
                call.method,
                call.route,
                token.map(|_| "a revoked token")
            );
            let reply = run(&w.http, call, token);
            assert_eq!(reply.status, 401, "{what}: {reply:?}");
            assert_error_shape(&reply);
        }
    }

    // Nothing was done on behalf of anyone.
    let order = w.request(ids.order).await;
    assert_eq!(order.request.state, RequestState::Submitted);
    assert_eq!(w.code_sent_to(1), None);
    let view = wallet::show(w.s(), ids.customer).await.unwrap();
    assert_eq!(view.history.len(), 1, "only the refund: {:?}", view.history);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_carriers_token_finds_none_of_our_resources_on_any_route() {
    let w = world().await;
    let ids = sakura_resources(&w).await;
    w.stock("EX-KOI", &[(501, "JP15-D"), (502, "JP31-DV")])
        .await;
    w.sell(501, Timestamp::now() - hours(1)).await;

    // The owner sees them all (the table's requests are good ones).
    let line = iccid(ids.line);
    for path in [
        format!("{PRODUCT}/{line}"),
        format!("{ORDER}/{}", ids.order),
        format!("/api/v1/cancellations/{}", ids.order),
        format!("/api/v1/customers/{}/wallet", ids.customer),
        format!("/api/v1/receipts/{}", ids.receipt),
        format!("/api/v1/lines/{line}/quote"),
        format!("/api/v1/lines/{line}/history"),
        format!("{BUCKET}?product.id={line}"),
    ] {
        assert_eq!(w.http.get(&path, &w.sakura).status, 200, "{path}");
    }

    let (e164, dialled) = msisdn(ids.line);
    for call in every_route(&ids) {
        let what = format!("{} {}", call.method, call.route);
        let reply = run(&w.http, call, Some(&w.koi));
        match what.as_str() {
            // Its own list: only EX-KOI lines (checked below).
            "GET /tmf-api/productInventory/v4/product" => assert_eq!(reply.status, 200),
            // Posting usage and ordering profiles are refused before any line is looked at:
            // this token may do neither (no other carrier's line is named either way).
            "POST /api/v1/usage" | "POST /api/v1/lines/{line}/esim/order" => {
                let json = reply.error(403, Some("SCOPE_MISSING"));
                assert!(!json.to_string().contains(&line), "{json}");
            }
            // Checking a signature is not a carrier's resource: it tells whether the document
            // the caller already holds is genuine, and nothing more.
            "POST /api/v1/receipts/verify" => {
                assert_eq!(reply.status, 200, "{reply:?}");
                assert_eq!(
                    reply.json(),
                    json!({ "valid": true, "number": ids.receipt }),
                    "a verdict reveals nothing the document does not say"
                );
            }
            _ => {
                let json = reply.error(404, Some("NOT_FOUND"));
                let message = json["message"].as_str().unwrap();
                // The same words as for a resource that does not exist: no "other carrier".
                assert!(
                    message.starts_with("no ") && !message.contains("carrier"),
                    "{what}: a refusal tells nothing about the resource: {message}"
                );
            }
        }
    }
    // Either form of the number is refused alike.
    for id in [encode(&e164), dialled.clone()] {
        w.http
            .get(&format!("{PRODUCT}/{id}"), &w.koi)
            .error(404, Some("NOT_FOUND"));
        w.http
            .get(&format!("{BUCKET}?product.id={id}"), &w.koi)
            .error(404, Some("NOT_FOUND"));
    }

    // A foreign refusal looks like a resource that does not exist.
    let foreign = w.http.get(&format!("{ORDER}/{}", ids.order), &w.koi).json();
    let absent = w.http.get(&format!("{ORDER}/999999"), &w.koi).json();
    assert_eq!(
        (&foreign["code"], &foreign["reason"]),
        (&absent["code"], &absent["reason"])
    );

    // Each carrier's list holds its own lines only.
    let ids_in = |token: &str| -> BTreeSet<String> {
        let reply = w.http.get(&format!("{PRODUCT}?limit=500"), token);
        assert_eq!(reply.status, 200, "{reply:?}");
        reply
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids_in(&w.koi), BTreeSet::from([iccid(501), iccid(502)]));
    assert_eq!(ids_in(&w.sakura), BTreeSet::from([iccid(1), iccid(2)]));

    // Nothing the foreign token tried changed anything.
    let order = w.request(ids.order).await;
    assert_eq!(order.request.state, RequestState::Submitted);
    assert!(order.request.passed.is_empty());
    assert_eq!(w.code_sent_to(ids.line), None, "no code was sent");
    assert!(w.s().documents(ids.order).await.unwrap().is_empty());
    let l = w.line(ids.line).await;
    assert_eq!(l.state, LineState::Active);
    assert_eq!(w.s().requests_for_line(l.id).await.unwrap().len(), 1);
    let view = wallet::show(w.s(), ids.customer).await.unwrap();
    assert_eq!(view.history.len(), 1, "no payout: {:?}", view.history);
    let koi_line = w.line(501).await;
    assert!(
        w.s()
            .requests_for_line(koi_line.id)
            .await
            .unwrap()
            .is_empty(),
        "the foreign order did not land on the caller's own lines either"
    );
}

// ---------------------------------------------------------------------------
// 3. TMF637 product inventory
// ---------------------------------------------------------------------------

fn characteristic(product: &Value, name: &str) -> Option<String> {
    product["productCharacteristic"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["value"].as_str())
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_is_found_by_iccid_and_by_either_form_of_its_number() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(7, "JP10-DV")]).await;
    w.sell(7, Timestamp::now() - hours(1)).await;
    let (e164, dialled) = msisdn(7);

    let by_iccid = w.http.get(&format!("{PRODUCT}/{}", iccid(7)), &w.sakura);
    assert_eq!(by_iccid.status, 200, "{by_iccid:?}");
    let product = by_iccid.json();
    assert_eq!(product["id"], iccid(7));
    assert_eq!(product["href"], format!("{PRODUCT}/{}", iccid(7)));
    assert_eq!(product["@type"], "Product");
    assert_eq!(product["status"], "active");
    assert_eq!(product["name"], "Japan 10-day card, data + voice");
    assert_eq!(product["productSpecification"]["id"], "JP10-DV");
    assert_eq!(characteristic(&product, "msisdn"), Some(e164.clone()));
    assert_eq!(characteristic(&product, "iccid"), Some(iccid(7)));
    assert_eq!(
        characteristic(&product, "simdeskState"),
        Some("active".into())
    );
    let valid_until = characteristic(&product, "validUntilJst").expect("validity in JST");
    assert!(valid_until.ends_with("23:59:59 JST"), "{valid_until}");
    let start: Timestamp = product["startDate"].as_str().unwrap().parse().unwrap();
    assert!(start <= Timestamp::now());

    for id in [encode(&e164), dialled, "090-0000-0007".to_string()] {
        let reply = w.http.get(&format!("{PRODUCT}/{id}"), &w.sakura);
        assert_eq!(reply.status, 200, "{id}: {reply:?}");
        assert_eq!(reply.json(), product, "{id} names the same product");
    }

    // Not ours, not there, not a line at all.
    w.http
        .get(&format!("{PRODUCT}/{}", iccid(8)), &w.sakura)
        .error(404, Some("NOT_FOUND"));
    w.http
        .get(&format!("{PRODUCT}/09099999999"), &w.sakura)
        .error(404, Some("NOT_FOUND"));
    let bad = w.http.get(&format!("{PRODUCT}/12345"), &w.sakura);
    assert!(bad.status == 400 || bad.status == 422, "{bad:?}");
    assert_error_shape(&bad);
}

/// The ICCIDs a listing returns, page by page (limit `limit`), following `X-Next-Cursor`.
fn all_pages(w: &World, query: &str, limit: usize) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{PRODUCT}?limit={limit}{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let reply = w.http.get(&path, &w.sakura);
        assert_eq!(reply.status, 200, "{path}: {reply:?}");
        let page: Vec<String> = reply
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect();
        assert!(page.len() <= limit, "{path}: {} > {limit}", page.len());
        pages.push(page);
        cursor = reply.header("x-next-cursor").map(str::to_string);
        if cursor.is_none() {
            return pages;
        }
        assert!(pages.len() < 100, "the cursor never runs out");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_status_follows_the_line_and_filters_the_list() {
    let w = world().await;
    let rows: Vec<(u64, &str)> = (11..=17).map(|n| (n, "JP10-DV")).collect();
    w.stock("EX-SAKURA", &rows).await;
    let now = Timestamp::now();

    // 16: cancelled and completed (before the others are sold, so the job run touches only it).
    w.sell(16, now - hours(2)).await;
    let record = w.cancel_by_hotline(16, now - hours(1)).await;
    w.complete(record.request.id).await;
    // 11 stays in stock; 12 is sold but not activated; 13 is active.
    w.register(12, now - hours(1)).await;
    w.sell(13, now - hours(1)).await;
    // 14: validity over, in grace; 17: grace over too, closed.
    w.sell(14, now - days(11)).await;
    w.sell(17, now - days(20)).await;
    let report = jobs::run_once(w.s(), now).await.unwrap();
    assert_eq!((report.expired, report.closed), (2, 1), "{report:?}");
    // 15: pending termination after a hotline cancellation.
    w.sell(15, now - hours(1)).await;
    w.cancel_by_hotline(15, now).await;

    let expected = [
        (11, "in_stock", "created"),
        (12, "registered", "created"),
        (13, "active", "active"),
        (14, "expired", "suspended"),
        (15, "pending_termination", "pendingTerminate"),
        (16, "terminated", "terminated"),
        (17, "closed", "terminated"),
    ];
    for (n, state, status) in expected {
        let product = w
            .http
            .get(&format!("{PRODUCT}/{}", iccid(n)), &w.sakura)
            .json();
        assert_eq!(product["status"], status, "line {n} ({state})");
        assert_eq!(
            characteristic(&product, "simdeskState").as_deref(),
            Some(state)
        );
        assert_eq!(
            product.get("terminationDate").is_some(),
            matches!(state, "terminated" | "closed"),
            "line {n}: {product}"
        );
    }

    for status in [
        "created",
        "active",
        "suspended",
        "pendingTerminate",
        "terminated",
    ] {
        let want: Vec<String> = expected
            .iter()
            .filter(|(_, _, s)| *s == status)
            .map(|(n, _, _)| iccid(*n))
            .collect();
        for limit in [1, 500] {
            let got: Vec<String> = all_pages(&w, &format!("&status={status}"), limit).concat();
            assert_eq!(got, want, "status={status} limit={limit}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_list_pages_with_a_cursor_until_every_line_was_seen_once() {
    let w = world().await;
    let rows: Vec<(u64, &str)> = (21..=31).map(|n| (n, "JP15-D")).collect();
    w.stock("EX-SAKURA", &rows).await;
    w.stock("EX-KOI", &[(520, "JP15-D")]).await;
    // Alternate in-stock and registered lines, so "created" spans two states page by page.
    for n in [22, 24, 26, 28, 30] {
        w.register(n, Timestamp::now() - hours(1)).await;
    }
    let everything: Vec<String> = (21..=31).map(iccid).collect();

    for (query, want) in [
        ("", everything.clone()),
        ("&status=created", everything.clone()),
    ] {
        for limit in [1, 2, 3, 4, 11, 12] {
            let pages = all_pages(&w, query, limit);
            let seen: Vec<String> = pages.concat();
            let unique: BTreeSet<&String> = seen.iter().collect();
            assert_eq!(
                unique.len(),
                seen.len(),
                "duplicates with {query} limit {limit}: {seen:?}"
            );
            assert_eq!(seen, want, "{query} limit {limit}: every line, in order");
            assert!(
                pages[..pages.len() - 1].iter().all(|p| p.len() == limit),
                "only the last page may be short: {pages:?}"
            );
        }
    }
    // Default page size.
    let reply = w.http.get(PRODUCT, &w.sakura);
    assert_eq!(reply.json().as_array().unwrap().len(), 11);
    assert_eq!(reply.header("x-next-cursor"), None);
    // An empty filter result is an empty page, not an error.
    let reply = w
        .http
        .get(&format!("{PRODUCT}?status=terminated"), &w.sakura);
    assert_eq!((reply.status, reply.json()), (200, json!([])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_list_parameters_are_400_in_the_error_shape() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(41, "JP15-D")]).await;
    for query in [
        "status=bogus",
        "status=Active",
        "limit=0",
        "limit=501",
        "limit=-3",
        "limit=abc",
        "limit=",
        "cursor=abc",
        "cursor=1.5",
        "status=created&limit=ten",
    ] {
        let reply = w.http.get(&format!("{PRODUCT}?{query}"), &w.sakura);
        reply.error(400, Some("BAD_REQUEST"));
    }
    let json = w
        .http
        .get(&format!("{PRODUCT}?status=bogus"), &w.sakura)
        .json();
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("pendingTerminate"),
        "{json}"
    );
    // Buckets need the product.
    w.http
        .get(BUCKET, &w.sakura)
        .error(400, Some("BAD_REQUEST"));
}

// ---------------------------------------------------------------------------
// 4. TMF622 product ordering
// ---------------------------------------------------------------------------

fn order_id(reply: &Reply) -> RequestId {
    reply.json()["id"]
        .as_str()
        .expect("an order id")
        .parse()
        .unwrap()
}

/// Submits a delete order for line `n` and passes the possession check with the code texted
/// to the line: the order is in progress with its effective date.
fn order_and_confirm(w: &World, n: u64) -> (RequestId, Value) {
    let reply = w.http.post(ORDER, &w.sakura, delete_order(&iccid(n)));
    assert_eq!(reply.status, 201, "{reply:?}");
    let id = order_id(&reply);
    let sent = w.http.post(
        &format!("/api/v1/cancellations/{id}/code"),
        &w.sakura,
        json!({}),
    );
    assert_eq!(sent.status, 202, "{sent:?}");
    let code = w.code_sent_to(n).expect("a code texted to the line");
    let checked = w.http.post(
        &format!("/api/v1/cancellations/{id}/code/check"),
        &w.sakura,
        json!({ "code": code }),
    );
    assert_eq!(checked.status, 200, "{checked:?}");
    let order = checked.json();
    assert_eq!(order["state"], "inProgress", "{order}");
    (id, order)
}

fn product_status(w: &World, n: u64) -> String {
    w.http
        .get(&format!("{PRODUCT}/{}", iccid(n)), &w.sakura)
        .json()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_order_is_acknowledged_confirmed_by_code_and_withdrawn() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(51, "JP10-DV")]).await;
    w.sell(51, Timestamp::now() - hours(1)).await;
    let (e164, _) = msisdn(51);

    let mut body = delete_order(&iccid(51));
    body["externalId"] = json!("CRM-4711");
    body["description"] = json!("customer asked in the app");
    let created = w.http.post(ORDER, &w.sakura, body);
    assert_eq!(created.status, 201, "{created:?}");
    let order = created.json();
    let id = order_id(&created);
    let href = format!("{ORDER}/{id}");
    assert_eq!(created.header("location"), Some(href.as_str()));
    assert_eq!(order["href"], href);
    assert_eq!(order["@type"], "ProductOrder");
    assert_eq!(order["state"], "acknowledged");
    assert_eq!(
        order["identityRequired"],
        json!(["possession"]),
        "EX-SAKURA's web rules"
    );
    assert_eq!(order["identityPassed"], json!([]));
    assert!(
        order.get("requestedCompletionDate").is_none(),
        "no date before approval: {order}"
    );
    let item = &order["productOrderItem"][0];
    assert_eq!(
        (&item["action"], &item["product"]["id"]),
        (&json!("delete"), &json!(iccid(51)))
    );
    let ordered: Timestamp = order["orderDate"].as_str().unwrap().parse().unwrap();
    assert!(ordered <= Timestamp::now());
    assert_eq!(
        product_status(&w, 51),
        "active",
        "nothing happens before identity"
    );
    let record = w.request(id).await;
    assert_eq!(record.request.channel, Channel::Api);
    assert!(
        record.request.submitted.reason.contains("CRM-4711"),
        "the external id is on the record: {:?}",
        record.request.submitted
    );
    assert!(record.request.submitted.actor.id.contains("sakura-ops"));

    // The same line again: the open order, not a second one.
    let again = w.http.post(ORDER, &w.sakura, delete_order(&e164));
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(order_id(&again), id);
    assert_eq!(again.header("location"), Some(href.as_str()));
    let line = w.line(51).await;
    assert_eq!(w.s().requests_for_line(line.id).await.unwrap().len(), 1);

    // Identity: a code texted to the line; a wrong one is refused, the right one approves.
    let sent = w.http.post(
        &format!("/api/v1/cancellations/{id}/code"),
        &w.sakura,
        json!({ "to": "line" }),
    );
    assert_eq!(sent.status, 202, "{sent:?}");
    let sent = sent.json();
    assert!(
        sent["sentTo"]
            .as_str()
            .unwrap()
            .ends_with(&e164[e164.len() - 4..]),
        "{sent}"
    );
    assert!(
        !sent.to_string().contains(&e164),
        "the number is masked: {sent}"
    );
    let code = w.code_sent_to(51).expect("the code went to the line");
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let refused = w.http.post(
        &format!("/api/v1/cancellations/{id}/code/check"),
        &w.sakura,
        json!({ "code": wrong }),
    );
    let json = refused.error(403, Some("IDENTITY"));
    assert!(
        json["message"].as_str().unwrap().contains("tries left"),
        "{json}"
    );
    let checked = w.http.post(
        &format!("/api/v1/cancellations/{id}/code/check"),
        &w.sakura,
        json!({ "code": code }),
    );
    assert_eq!(checked.status, 200, "{checked:?}");
    let approved = checked.json();
    assert_eq!(approved["state"], "inProgress");
    assert_eq!(approved["identityPassed"], json!(["possession"]));
    let record = w.request(id).await;
    let effective = record.request.effective_date.expect("an effective date");
    assert_eq!(approved["requestedCompletionDate"], effective.to_string());
    assert_eq!(
        record.request.effective_at,
        Some(at(&format!("{effective}T00:00:00+09:00"))),
        "the date starts at midnight in Japan"
    );
    assert!(effective > simdesk_domain::validity::japan_date(Timestamp::now()));
    assert_eq!(product_status(&w, 51), "pendingTerminate");
    let fetched = w.http.get(&href, &w.sakura);
    assert_eq!((fetched.status, fetched.json()), (200, approved.clone()));
    // The code cannot be used twice.
    w.http
        .post(
            &format!("/api/v1/cancellations/{id}/code/check"),
            &w.sakura,
            json!({ "code": code }),
        )
        .error(409, Some("REQUEST_STATE"));

    // Withdrawn before it takes effect: cancelled, and the line is as it was.
    let withdrawn = w.http.post(
        CANCEL_ORDER,
        &w.sakura,
        json!({ "productOrder": { "id": id.to_string() }, "cancellationReason": "changed my mind" }),
    );
    assert_eq!(withdrawn.status, 201, "{withdrawn:?}");
    let withdrawn = withdrawn.json();
    assert_eq!(withdrawn["state"], "done");
    assert_eq!(withdrawn["productOrder"]["id"], id.to_string());
    assert_eq!(withdrawn["productOrder"]["state"], "cancelled");
    assert_eq!(w.http.get(&href, &w.sakura).json()["state"], "cancelled");
    assert_eq!(product_status(&w, 51), "active");
    assert_eq!(w.line(51).await.state, LineState::Active);
    w.http
        .post(
            CANCEL_ORDER,
            &w.sakura,
            json!({ "productOrder": { "id": id.to_string() } }),
        )
        .error(409, Some("REQUEST_STATE"));
    // The effective instant passes and nothing happens to the line.
    let report = jobs::run_due(&w.ctx, &w.peers, record.request.effective_at.unwrap())
        .await
        .unwrap();
    assert_eq!(report.cancellations.completed, 0);
    assert_eq!(product_status(&w, 51), "active");

    // The audit trail tells the story, attributed to the token.
    let history = w
        .http
        .get(&format!("/api/v1/lines/{}/history", iccid(51)), &w.sakura)
        .json();
    let steps: Vec<String> = history["cancellations"][0]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["to_state"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        steps.first().map(String::as_str),
        Some("submitted"),
        "{history}"
    );
    assert_eq!(
        steps.last().map(String::as_str),
        Some("withdrawn"),
        "{history}"
    );
    assert!(history.to_string().contains("sakura-ops"), "{history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_completes_at_its_date_with_a_refund_and_a_receipt_that_verifies() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(61, "JP10-DV")]).await;
    w.sell(61, Timestamp::now() - hours(1)).await;
    let (id, approved) = order_and_confirm(&w, 61);
    let href = format!("{ORDER}/{id}");

    let before = w.request(id).await;
    let effective_at = before.request.effective_at.unwrap();
    // A moment before: nothing.
    let early = jobs::run_due(
        &w.ctx,
        &w.peers,
        effective_at - SignedDuration::from_secs(1),
    )
    .await
    .unwrap();
    assert_eq!(early.cancellations.completed, 0);
    assert_eq!(w.http.get(&href, &w.sakura).json()["state"], "inProgress");
    let report = jobs::run_due(&w.ctx, &w.peers, effective_at).await.unwrap();
    assert_eq!(report.cancellations.completed, 1, "{report:?}");

    let completed = w.http.get(&href, &w.sakura);
    assert_eq!(completed.status, 200);
    let order = completed.json();
    assert_eq!(order["state"], "completed", "{order}");
    assert_eq!(
        order["requestedCompletionDate"],
        approved["requestedCompletionDate"]
    );
    let done: Timestamp = order["completionDate"].as_str().unwrap().parse().unwrap();
    assert_eq!(done, effective_at);
    assert_eq!(
        order["refund"],
        json!({ "value": 1000, "unit": "JPY" }),
        "the plan's credit"
    );
    let number = order["receipt"]
        .as_str()
        .expect("a receipt number")
        .to_string();
    assert!(number.starts_with("EX-SAKURA-"), "{number}");
    assert_eq!(product_status(&w, 61), "terminated");

    let detail = w
        .http
        .get(&format!("/api/v1/cancellations/{id}"), &w.sakura)
        .json();
    assert_eq!(detail["order"], order);
    assert!(detail["refund"]["items"].is_array(), "{detail}");

    // The receipt, and its verification.
    let receipt = w.http.get(&format!("/api/v1/receipts/{number}"), &w.sakura);
    assert_eq!(receipt.status, 200, "{receipt:?}");
    assert!(receipt
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let document = receipt.body.clone();
    let content = &receipt.json()["receipt"];
    assert_eq!(content["number"], number);
    assert_eq!(content["line"]["iccid"], iccid(61));
    assert_eq!(content["request_id"], id.get());
    let verify = |text: &str| {
        let reply = w.http.call(
            "POST",
            "/api/v1/receipts/verify",
            Some(&w.sakura),
            &[],
            Some(Body::Raw("application/json", text.as_bytes().to_vec())),
        );
        assert_eq!(reply.status, 200, "{reply:?}");
        reply.json()
    };
    assert_eq!(
        verify(&document),
        json!({ "valid": true, "number": number })
    );

    // One character changed: the line's number, last digit.
    let (e164, _) = msisdn(61);
    let last = e164.chars().last().unwrap();
    let forged_number = format!(
        "{}{}",
        &e164[..e164.len() - 1],
        if last == '9' {
            '8'
        } else {
            char::from(last as u8 + 1)
        }
    );
    let forged = document.replacen(&e164, &forged_number, 1);
    let differing = document
        .chars()
        .zip(forged.chars())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!((differing, forged.len()), (1, document.len()));
    let verdict = verify(&forged);
    assert_eq!(verdict["valid"], false, "{verdict}");
    assert!(verdict.get("number").is_none(), "{verdict}");
    let reason = verdict["reason"].as_str().expect("a reason");
    assert!(reason.contains("signature does not match"), "{reason}");
    // Not a receipt at all.
    let verdict = verify("{ not json");
    assert_eq!(verdict["valid"], false);
    assert!(
        verdict["reason"].as_str().unwrap().contains("not JSON"),
        "{verdict}"
    );

    // The refund is in the holder's e-wallet.
    let holder = w.line(61).await.holder.unwrap();
    let wallet = w
        .http
        .get(&format!("/api/v1/customers/{holder}/wallet"), &w.sakura);
    assert_eq!(wallet.status, 200, "{wallet:?}");
    assert_eq!(
        wallet.json()["balance"],
        json!([{ "value": 1000, "unit": "JPY" }])
    );

    // A completed order can be neither withdrawn nor confirmed again.
    w.http
        .post(
            CANCEL_ORDER,
            &w.sakura,
            json!({ "productOrder": { "id": id.to_string() } }),
        )
        .error(409, Some("REQUEST_STATE"));
    w.http
        .post(
            &format!("/api/v1/cancellations/{id}/withdraw"),
            &w.sakura,
            json!({}),
        )
        .error(409, Some("REQUEST_STATE"));
    // Nor can the terminated line be ordered again.
    let reply = w.http.post(ORDER, &w.sakura, delete_order(&iccid(61)));
    assert!(reply.status == 409 || reply.status == 422, "{reply:?}");
    assert_error_shape(&reply);
}

// ---------------------------------------------------------------------------
// 5. TMF654 prepay balance
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_show_the_plan_data_and_money_with_initial_and_remaining_values() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(71, "JP10-DV"), (72, "JP10-DV")])
        .await;
    let now = Timestamp::now();
    w.sell(71, now - hours(3)).await;
    let key = World::key(71);
    lines::top_up(w.s(), w.book(), &key, "1000", clerk(now - hours(2)))
        .await
        .unwrap();
    lines::bind_addon(w.s(), w.book(), &key, "ROAMING", clerk(now - hours(2)))
        .await
        .unwrap();
    lines::record_usage(
        w.s(),
        w.book(),
        &key,
        Usage::DataMb(240),
        Attribution::system("usage", now - hours(1), "data"),
    )
    .await
    .unwrap();

    let reply = w
        .http
        .get(&format!("{BUCKET}?product.id={}", iccid(71)), &w.sakura);
    assert_eq!(reply.status, 200, "{reply:?}");
    let buckets = reply.json();
    let buckets = buckets.as_array().unwrap();
    let data: Vec<&Value> = buckets
        .iter()
        .filter(|b| b["usageType"] == "data")
        .collect();
    let money: Vec<&Value> = buckets
        .iter()
        .filter(|b| b["usageType"] == "monetary")
        .collect();
    assert_eq!(data.len() + money.len(), buckets.len(), "{buckets:?}");

    assert_eq!(data.len(), 1, "{data:?}");
    assert_eq!(data[0]["name"], "plan");
    assert_eq!(
        data[0]["initialValue"],
        json!({ "amount": 10240, "units": "MB" })
    );
    assert_eq!(
        data[0]["remainingValue"],
        json!({ "amount": 10000, "units": "MB" })
    );
    let line = w.line(71).await;
    let until: Timestamp = data[0]["validUntil"].as_str().unwrap().parse().unwrap();
    assert_eq!(Some(until), line.validity_ends_at);

    let by_source: BTreeMap<String, (i64, i64)> = money
        .iter()
        .map(|b| {
            assert_eq!(b["initialValue"]["units"], "JPY");
            assert_eq!(b["remainingValue"]["units"], "JPY");
            (
                b["name"].as_str().unwrap().to_string(),
                (
                    b["initialValue"]["amount"].as_i64().unwrap(),
                    b["remainingValue"]["amount"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    let initial: BTreeMap<&str, i64> = by_source.iter().map(|(k, v)| (k.as_str(), v.0)).collect();
    assert_eq!(initial, BTreeMap::from([("plan", 1000), ("top_up", 1000)]));
    let remaining: i64 = by_source.values().map(|v| v.1).sum();
    assert_eq!(
        remaining,
        1000 + 1000 - 500,
        "credit + top-up - roaming: {by_source:?}"
    );
    for b in buckets {
        assert_eq!(b["product"]["id"], iccid(71));
        assert!(!b["id"].as_str().unwrap().is_empty());
    }

    // The same buckets by number; a line not yet active has none.
    let (e164, dialled) = msisdn(71);
    for id in [encode(&e164), dialled] {
        let again = w.http.get(&format!("{BUCKET}?product.id={id}"), &w.sakura);
        assert_eq!(again.json(), reply.json(), "{id}");
    }
    let empty = w
        .http
        .get(&format!("{BUCKET}?product.id={}", iccid(72)), &w.sakura);
    assert_eq!((empty.status, empty.json()), (200, json!([])));
    w.http
        .get(&format!("{BUCKET}?product.id={}", iccid(73)), &w.sakura)
        .error(404, Some("NOT_FOUND"));
}

// ---------------------------------------------------------------------------
// 6. Idempotency-Key
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_and_body_replays_the_first_answer_and_creates_one_order() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(81, "JP10-DV"), (82, "JP10-DV")])
        .await;
    w.stock("EX-KOI", &[(581, "JP15-D")]).await;
    let now = Timestamp::now();
    w.sell(81, now - hours(1)).await;
    w.sell(82, now - hours(1)).await;
    w.sell(581, now - hours(1)).await;

    let first = w
        .http
        .post_with_key(ORDER, &w.sakura, "order-81", delete_order(&iccid(81)));
    assert_eq!(first.status, 201, "{first:?}");
    assert_eq!(first.header("idempotency-replayed"), None);
    let id = order_id(&first);

    let replay = w
        .http
        .post_with_key(ORDER, &w.sakura, "order-81", delete_order(&iccid(81)));
    assert_eq!(
        replay.status, 201,
        "the first answer again, not the 200 of a second submission"
    );
    assert_eq!(replay.header("idempotency-replayed"), Some("true"));
    assert_eq!(replay.json(), first.json());
    assert_eq!(replay.body, first.body, "byte for byte");
    assert!(replay
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let line = w.line(81).await;
    assert_eq!(w.s().requests_for_line(line.id).await.unwrap().len(), 1);

    // The same key with another body is refused, and changes nothing.
    let mut other = delete_order(&iccid(81));
    other["description"] = json!("a different request");
    let reused = w.http.post_with_key(ORDER, &w.sakura, "order-81", other);
    let json = reused.error(422, Some("IDEMPOTENCY_KEY_REUSED"));
    assert!(
        json["message"].as_str().unwrap().contains("new key"),
        "{json}"
    );
    let reused = w
        .http
        .post_with_key(ORDER, &w.sakura, "order-81", delete_order(&iccid(82)));
    reused.error(422, Some("IDEMPOTENCY_KEY_REUSED"));
    assert!(w
        .s()
        .requests_for_line(w.line(82).await.id)
        .await
        .unwrap()
        .is_empty());
    // ... also on another route.
    w.http
        .post_with_key(
            CANCEL_ORDER,
            &w.sakura,
            "order-81",
            json!({ "productOrder": { "id": id.to_string() } }),
        )
        .error(422, Some("IDEMPOTENCY_KEY_REUSED"));
    assert_eq!(w.request(id).await.request.state, RequestState::Submitted);

    // Keys are per caller: another system of the same carrier picks the same key...
    let billing = w.http.post_with_key(
        ORDER,
        &w.sakura_billing,
        "order-81",
        delete_order(&iccid(81)),
    );
    assert_eq!(
        billing.status, 200,
        "its own request: the open order: {billing:?}"
    );
    assert_eq!(billing.header("idempotency-replayed"), None);
    assert_eq!(order_id(&billing), id);
    // ... and another carrier's system with its own line.
    let koi = w
        .http
        .post_with_key(ORDER, &w.koi, "order-81", delete_order(&iccid(581)));
    assert_eq!(koi.status, 201, "{koi:?}");
    assert_eq!(koi.header("idempotency-replayed"), None);
    assert_ne!(order_id(&koi), id);

    // A refusal is remembered too: the same bad request gets the same answer.
    let bad = json!({ "productOrderItem": [] });
    let refused = w
        .http
        .post_with_key(ORDER, &w.sakura, "empty-order", bad.clone());
    refused.error(400, Some("BAD_REQUEST"));
    let again = w.http.post_with_key(ORDER, &w.sakura, "empty-order", bad);
    assert_eq!(
        (again.status, again.body.as_str()),
        (400, refused.body.as_str())
    );
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    assert_error_shape(&again);
    // ... and so is the router's: a POST to a read-only resource.
    for _ in 0..2 {
        let reply = w
            .http
            .post_with_key(PRODUCT, &w.sakura, "post-to-a-list", json!({}));
        reply.error(405, Some("METHOD_NOT_ALLOWED"));
    }

    // Keys are 1 to 200 characters.
    for key in [" ".to_string(), "k".repeat(201)] {
        w.http
            .post_with_key(ORDER, &w.sakura, &key, delete_order(&iccid(82)))
            .error(400, Some("BAD_REQUEST"));
    }
    assert!(w
        .s()
        .requests_for_line(w.line(82).await.id)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_answer_keeps_its_location_header() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(85, "JP10-DV")]).await;
    w.sell(85, Timestamp::now() - hours(1)).await;
    let first = w
        .http
        .post_with_key(ORDER, &w.sakura, "order-85", delete_order(&iccid(85)));
    let replay = w
        .http
        .post_with_key(ORDER, &w.sakura, "order-85", delete_order(&iccid(85)));
    assert_eq!(first.status, 201);
    assert_eq!(replay.header("idempotency-replayed"), Some("true"));
    assert!(first.header("location").is_some());
    assert_eq!(
        replay.header("location"),
        first.header("location"),
        "an operator's system that follows Location on a retried POST finds the order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_needs_a_key_and_one_key_pays_once() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(91, "JP10-DV")]).await;
    let (customer, _) = w.refunded(91, Timestamp::now() - days(30)).await;
    let path = format!("/api/v1/customers/{customer}/payouts");
    let payout = |value: i64| json!({ "amount": { "value": value, "unit": "JPY" }, "destination": "card ****4242" });
    let balance = || {
        w.http
            .get(&format!("/api/v1/customers/{customer}/wallet"), &w.sakura)
            .json()
    };
    assert_eq!(
        balance()["balance"],
        json!([{ "value": 1000, "unit": "JPY" }])
    );

    // Without a key: refused, nothing paid.
    let json = w
        .http
        .post(&path, &w.sakura, payout(300))
        .error(400, Some("BAD_REQUEST"));
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key"),
        "{json}"
    );
    assert_eq!(
        balance()["balance"],
        json!([{ "value": 1000, "unit": "JPY" }])
    );

    // With a key, twice: paid once, the same answer both times.
    let first = w.http.post_with_key(&path, &w.sakura, "po-1", payout(300));
    assert_eq!(first.status, 201, "{first:?}");
    let payout_id = first.json()["id"].as_i64().expect("a payout id");
    let retry = w.http.post_with_key(&path, &w.sakura, "po-1", payout(300));
    assert_eq!(
        (retry.status, retry.json()),
        (201, json!({ "id": payout_id }))
    );
    assert_eq!(retry.header("idempotency-replayed"), Some("true"));
    assert_eq!(
        balance()["balance"],
        json!([{ "value": 700, "unit": "JPY" }])
    );
    // The same key for another amount is refused.
    w.http
        .post_with_key(&path, &w.sakura, "po-1", payout(100))
        .error(422, Some("IDEMPOTENCY_KEY_REUSED"));

    // Another system's "po-1" is its own payout.
    let billing = w
        .http
        .post_with_key(&path, &w.sakura_billing, "po-1", payout(200));
    assert_eq!(billing.status, 201, "{billing:?}");
    assert_ne!(billing.json()["id"].as_i64(), Some(payout_id));
    let view = balance();
    assert_eq!(view["balance"], json!([{ "value": 500, "unit": "JPY" }]));
    let debits = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "payout_debit")
        .count();
    assert_eq!(debits, 2, "{view}");

    // More than the wallet holds is refused in the error shape, and pays nothing.
    w.http
        .post_with_key(&path, &w.sakura, "po-2", payout(501))
        .error(422, Some("INVALID"));
    // The payouts reach the payment provider once each.
    let report = jobs::run_due(&w.ctx, &w.peers, Timestamp::now())
        .await
        .unwrap();
    let paid = w
        .s()
        .outbox_entries(Some("done"), Some("payout"), 10)
        .await
        .unwrap();
    assert_eq!(paid.len(), 2, "{report:?}");
    // Each payout also tells the traveller: one notification, fanned out to SMS and e-mail.
    let told = w
        .s()
        .outbox_entries(Some("done"), Some("email"), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.idempotency_key.starts_with("notify:payout_sent:"))
        .count();
    assert_eq!(told, 2, "{report:?}");
    let again = jobs::run_due(&w.ctx, &w.peers, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(again.outbox.delivered, 0);
    assert_eq!(
        balance()["balance"],
        json!([{ "value": 500, "unit": "JPY" }])
    );
}

// ---------------------------------------------------------------------------
// 7. Error shapes: a client's mistake is never a 500
// ---------------------------------------------------------------------------

/// (what, method, path, body, expected status, expected code)
type Mistake = (
    &'static str,
    &'static str,
    String,
    Option<Body>,
    u16,
    Option<&'static str>,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_mistakes_get_a_4xx_in_the_error_shape_never_a_500() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(95, "JP10-DV"), (96, "JP10-DV")])
        .await;
    w.sell(95, Timestamp::now() - hours(1)).await;
    let (_, order) = {
        let reply = w.http.post(ORDER, &w.sakura, delete_order(&iccid(95)));
        assert_eq!(reply.status, 201);
        ((), order_id(&reply))
    };
    let line = iccid(95);
    let json_body = |text: &str| Some(Body::Raw("application/json", text.as_bytes().to_vec()));
    let item = |action: &str, id: &str| json!({ "productOrderItem": [{ "id": "1", "action": action, "product": { "id": id } }] });

    let cases: Vec<Mistake> = vec![
        (
            "malformed JSON",
            "POST",
            ORDER.into(),
            json_body("{\"productOrderItem\": ["),
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "empty body",
            "POST",
            ORDER.into(),
            json_body(""),
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "a JSON array",
            "POST",
            ORDER.into(),
            json_body("[]"),
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "not JSON at all",
            "POST",
            ORDER.into(),
            Some(Body::Raw("text/plain", b"cancel 8981".to_vec())),
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "no content type",
            "POST",
            ORDER.into(),
            None,
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "items not a list",
            "POST",
            ORDER.into(),
            Some(Body::Json(json!({ "productOrderItem": "delete" }))),
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "item id a number",
            "POST",
            ORDER.into(),
            Some(Body::Json(
                json!({ "productOrderItem": [{ "id": 1, "action": "delete", "product": { "id": line } }] }),
            )),
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "product missing",
            "POST",
            ORDER.into(),
            Some(Body::Json(
                json!({ "productOrderItem": [{ "id": "1", "action": "delete" }] }),
            )),
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "no items",
            "POST",
            ORDER.into(),
            Some(Body::Json(json!({ "productOrderItem": [] }))),
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "two items",
            "POST",
            ORDER.into(),
            Some(Body::Json(
                json!({ "productOrderItem": [item("delete", &line)["productOrderItem"][0], item("delete", &iccid(96))["productOrderItem"][0]] }),
            )),
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "unknown action",
            "POST",
            ORDER.into(),
            Some(Body::Json(item("add", &line))),
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "action modify",
            "POST",
            ORDER.into(),
            Some(Body::Json(item("modify", &line))),
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "not a line",
            "POST",
            ORDER.into(),
            Some(Body::Json(item("delete", "hello"))),
            422,
            Some("INVALID"),
        ),
        (
            "no such line",
            "POST",
            ORDER.into(),
            Some(Body::Json(item("delete", &iccid(99)))),
            404,
            Some("NOT_FOUND"),
        ),
        (
            "a line not sold",
            "POST",
            ORDER.into(),
            Some(Body::Json(item("delete", &iccid(96)))),
            409,
            None,
        ),
        (
            "cancel: id a number",
            "POST",
            CANCEL_ORDER.into(),
            Some(Body::Json(json!({ "productOrder": { "id": order } }))),
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "cancel: no such order",
            "POST",
            CANCEL_ORDER.into(),
            Some(Body::Json(json!({ "productOrder": { "id": "abc" } }))),
            404,
            Some("NOT_FOUND"),
        ),
        (
            "code: number not string",
            "POST",
            format!("/api/v1/cancellations/{order}/code/check"),
            Some(Body::Json(json!({ "code": 123456 }))),
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "code: to fax",
            "POST",
            format!("/api/v1/cancellations/{order}/code"),
            Some(Body::Json(json!({ "to": "fax" }))),
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "code check before any code",
            "POST",
            format!("/api/v1/cancellations/{order}/code/check"),
            Some(Body::Json(json!({ "code": "000000" }))),
            403,
            Some("IDENTITY"),
        ),
        (
            "knowledge not asked by the web rules",
            "POST",
            format!("/api/v1/cancellations/{order}/knowledge"),
            Some(Body::Json(
                json!({ "name": "Alex Example", "passport": PASSPORT }),
            )),
            409,
            Some("REQUEST_STATE"),
        ),
        (
            "review: approve a string",
            "POST",
            format!("/api/v1/cancellations/{order}/documents/review"),
            Some(Body::Json(json!({ "approve": "yes" }))),
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "document: not an image",
            "POST",
            format!("/api/v1/cancellations/{order}/documents"),
            Some(Body::Raw("application/octet-stream", b"<html>".to_vec())),
            409,
            Some("REQUEST_STATE"),
        ),
        (
            "reject: no reason",
            "POST",
            format!("/api/v1/cancellations/{order}/reject"),
            Some(Body::Json(json!({}))),
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "payout: value a string",
            "POST",
            "/api/v1/customers/1/payouts".into(),
            Some(Body::Json(
                json!({ "amount": { "value": "300", "unit": "JPY" }, "destination": "x" }),
            )),
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "order id not a number",
            "GET",
            format!("{ORDER}/abc"),
            None,
            404,
            Some("NOT_FOUND"),
        ),
        (
            "order id too big",
            "GET",
            format!("{ORDER}/99999999999999999999999"),
            None,
            404,
            Some("NOT_FOUND"),
        ),
        (
            "product id bad UTF-8",
            "GET",
            format!("{PRODUCT}/%FF%FE"),
            None,
            400,
            None,
        ),
        (
            "line id not a line",
            "GET",
            "/api/v1/lines/hello/quote".into(),
            None,
            422,
            Some("INVALID"),
        ),
        (
            "customer id not a number",
            "GET",
            "/api/v1/customers/abc/wallet".into(),
            None,
            404,
            Some("NOT_FOUND"),
        ),
        (
            "no such receipt",
            "GET",
            "/api/v1/receipts/EX-SAKURA-1999-000001".into(),
            None,
            404,
            Some("NOT_FOUND"),
        ),
        (
            "bucket without product",
            "GET",
            BUCKET.into(),
            None,
            400,
            Some("BAD_REQUEST"),
        ),
        (
            "unknown path",
            "GET",
            "/tmf-api/productInventory/v5/product".into(),
            None,
            404,
            Some("NOT_FOUND"),
        ),
        (
            "unknown version",
            "GET",
            "/api/v2/lines/1".into(),
            None,
            404,
            Some("NOT_FOUND"),
        ),
        (
            "a trailing slash",
            "GET",
            format!("{PRODUCT}/"),
            None,
            404,
            Some("NOT_FOUND"),
        ),
        (
            "unknown POST path",
            "POST",
            "/tmf-api/productOrdering/v4/productOrders".into(),
            Some(Body::Json(json!({}))),
            404,
            Some("NOT_FOUND"),
        ),
        (
            "POST to a list",
            "POST",
            PRODUCT.into(),
            Some(Body::Json(json!({}))),
            405,
            Some("METHOD_NOT_ALLOWED"),
        ),
        (
            "DELETE an order",
            "DELETE",
            format!("{ORDER}/{order}"),
            None,
            405,
            Some("METHOD_NOT_ALLOWED"),
        ),
        (
            "PATCH an order",
            "PATCH",
            format!("{ORDER}/{order}"),
            Some(Body::Json(json!({ "state": "cancelled" }))),
            405,
            Some("METHOD_NOT_ALLOWED"),
        ),
        (
            "PUT a product",
            "PUT",
            format!("{PRODUCT}/{line}"),
            Some(Body::Json(json!({}))),
            405,
            Some("METHOD_NOT_ALLOWED"),
        ),
        (
            "GET a POST-only route",
            "GET",
            format!("/api/v1/cancellations/{order}/withdraw"),
            None,
            405,
            Some("METHOD_NOT_ALLOWED"),
        ),
    ];
    for (what, method, path, body, status, code) in cases {
        let reply = w.http.call(method, &path, Some(&w.sakura), &[], body);
        assert!(
            reply.status < 500,
            "{what}: a client mistake answered {reply:?}"
        );
        assert_eq!(reply.status, status, "{what}: {method} {path}: {reply:?}");
        assert_error_shape(&reply);
        if let Some(code) = code {
            assert_eq!(reply.json()["code"], code, "{what}: {reply:?}");
        }
        if status == 405 {
            let allow = reply.header("allow").unwrap_or_default();
            assert!(
                allow.contains("GET") || allow.contains("POST"),
                "{what}: a 405 says what is allowed: {reply:?}"
            );
            let message = reply.json()["message"].as_str().unwrap().to_string();
            assert!(message.contains(method), "{what}: {message}");
        }
        if what.starts_with("unknown path")
            || what.starts_with("unknown version")
            || what.starts_with("unknown POST")
        {
            assert_eq!(reply.json()["message"], NOT_ROUTED, "{what}");
        }
    }
    let message = w.http.post(ORDER, &w.sakura, item("add", &line)).json()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("\"add\"") && message.contains("delete"),
        "{message}"
    );

    // None of it touched the order or the line.
    assert_eq!(
        w.request(order).await.request.state,
        RequestState::Submitted
    );
    assert_eq!(w.line(95).await.state, LineState::Active);
    assert_eq!(w.line(96).await.state, LineState::InStock);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_document_of_a_few_megabytes_is_accepted_as_documented() {
    let w = world().await;
    w.stock("EX-SAKURA", &[(97, "JP10-DV")]).await;
    w.sell(97, Timestamp::now() - hours(1)).await;
    // At the store counter the document is the check.
    let submitted = cancellation::submit(
        &w.ctx,
        &World::key(97),
        Channel::Store,
        None,
        clerk(Timestamp::now()),
    )
    .await
    .unwrap();
    let id = submitted.request.request.id;
    let path = format!("/api/v1/cancellations/{id}/documents");
    let upload = |len: usize| {
        w.http.call(
            "POST",
            &path,
            Some(&w.sakura),
            &[],
            Some(Body::Raw("application/octet-stream", jpeg(len))),
        )
    };
    let small = upload(200 * 1024);
    assert_eq!(small.status, 201, "{small:?}");
    // A phone photo: 3 MB, well under the documented 10 MB.
    let photo = upload(3 * 1024 * 1024);
    assert_eq!(photo.status, 201, "{photo:?}");
    assert!(photo.json()["id"].is_i64());
    // Over the limit: refused in the error shape.
    let huge = upload(11 * 1024 * 1024);
    assert!(huge.status == 413 || huge.status == 422, "{huge:?}");
    assert_error_shape(&huge);
    assert_eq!(w.s().documents(id).await.unwrap().len(), 2);
}
