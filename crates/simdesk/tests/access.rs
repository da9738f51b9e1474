//! Who may do what, route by route: every route of the router (pages, `/api/v1`, `/tmf-api`,
//! the kiosk, board, counter, console, portal, inbound SMS and operations) is tried with every
//! identity — nobody, two travellers, each staff role, another carrier's agent, API tokens with
//! all scopes, without the route's scope, of another carrier, revoked and expired — and each
//! answer is checked; then that the refused requests changed nothing. A route without a row
//! fails the test. Also: nobody approves an identity document they supplied. Both backends.

mod support;

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};
use simdesk::services::access::{self, Administrator, Scope};
use simdesk::services::cancellation;
use simdesk::services::outbox::Peers;
use simdesk::services::policies::{load_policies, PolicyBook};
use simdesk::services::ServiceContext;
use simdesk::services::{jobs, staff, wallet};
use simdesk::store::{LineKey, NewApiToken, SessionRow, Store};
use simdesk::web::pages::session::hash;
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use simdesk_domain::ids::CarrierCode;
use std::collections::BTreeSet;
use std::sync::Arc;
use support::stock::{national, sell, stock};
use support::{fresh_db, policies_dir, TestDb};

const X: &str = "EX-SAKURA";
const Y: &str = "EX-KOI";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\nfake";

fn ops(why: &str) -> Attribution {
    Attribution::new(
        Actor::operator("test"),
        Channel::Operator,
        Timestamp::now(),
        why,
    )
}

/// The identities every route is tried with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Nobody,
    TravellerA,
    TravellerB,
    Agent,
    Clerk,
    Supervisor,
    Admin,
    ForeignAgent,
    Token,
    TokenLackingScope,
    ForeignToken,
    RevokedToken,
    ExpiredToken,
}

const EVERYONE: [Who; 13] = [
    Who::Nobody,
    Who::TravellerA,
    Who::TravellerB,
    Who::Agent,
    Who::Clerk,
    Who::Supervisor,
    Who::Admin,
    Who::ForeignAgent,
    Who::Token,
    Who::TokenLackingScope,
    Who::ForeignToken,
    Who::RevokedToken,
    Who::ExpiredToken,
];

/// What a route answers each identity.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A page: [nobody, traveller A, traveller B, agent, clerk, supervisor, admin, foreign
    /// agent]. A bearer token is no sign-in: every token is answered as nobody is.
    Page([u16; 8]),
    /// An API route needing `scope`: `ok` for a token with every scope, `foreign` for another
    /// carrier's token; 403 without the scope; 401 for everyone else (cookies are no token).
    Api { scope: Scope, ok: u16, foreign: u16 },
    /// The same answer for everyone.
    Everyone(u16),
}

impl Expect {
    fn status(self, who: Who) -> u16 {
        match self {
            Expect::Everyone(s) => s,
            Expect::Page(s) => match who {
                Who::TravellerA => s[1],
                Who::TravellerB => s[2],
                Who::Agent => s[3],
                Who::Clerk => s[4],
                Who::Supervisor => s[5],
                Who::Admin => s[6],
                Who::ForeignAgent => s[7],
                _ => s[0],
            },
            Expect::Api { ok, foreign, .. } => match who {
                Who::Token => ok,
                Who::TokenLackingScope => 403,
                Who::ForeignToken => foreign,
                _ => 401,
            },
        }
    }
}

enum Body {
    None,
    /// A form; `{csrf}` is replaced by the caller's own CSRF token.
    Form(String),
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

struct Row {
    method: &'static str,
    route: &'static str,
    path: String,
    body: Body,
    expect: Expect,
}

fn row(method: &'static str, route: &'static str, path: String, body: Body, expect: Expect) -> Row {
    Row {
        method,
        route,
        path,
        body,
        expect,
    }
}

fn form(s: &str) -> Body {
    Body::Form(s.to_string())
}

/// How one identity presents itself: a session cookie and its CSRF token, or a bearer token.
#[derive(Clone, Default)]
struct Credentials {
    cookie: Option<String>,
    csrf: String,
    bearer: Option<String>,
}

async fn session(store: &dyn Store, kind: &str, subject: i64, carrier: &str) -> Credentials {
    let token = format!("{kind}-{subject}-{carrier}-session");
    let csrf = format!("csrf-{kind}-{subject}-{carrier}");
    let now = Timestamp::now();
    store
        .insert_session(&SessionRow {
            token_hash: hash(&token),
            kind: kind.into(),
            subject,
            carrier: Some(carrier.into()),
            csrf_token: csrf.clone(),
            language: "en".into(),
            created_at: now,
            expires_at: now + SignedDuration::from_hours(1),
        })
        .await
        .unwrap();
    Credentials {
        cookie: Some(format!("sd_session={token}")),
        csrf,
        bearer: None,
    }
}

fn bearer(token: String) -> Credentials {
    Credentials {
        bearer: Some(token),
        csrf: "no-session".into(),
        ..Credentials::default()
    }
}

const ADMIN: Administrator<'static> = Administrator {
    actor: "test-operator",
    reason: "access test",
};

async fn token(store: &dyn Store, carrier: &str, name: &str, scopes: &[Scope]) -> (i64, String) {
    access::create_token(
        store,
        &CarrierCode::new(carrier),
        name,
        scopes,
        None,
        &ADMIN,
        Timestamp::now(),
    )
    .await
    .unwrap()
}

/// The world every test starts from: EX-SAKURA (carrier X) with two travellers' lines, policies
/// for EX-KOI (carrier Y) too, and the app serving it.
struct World {
    store: Arc<dyn Store>,
    ctx: ServiceContext,
    base: String,
    app: support::TestApp,
}

async fn world(lines: &[u64]) -> World {
    let db = fresh_db().await;
    let store = db.store.clone();
    let s = store.as_ref();
    load_policies(s, &policies_dir(), "2026-11-01T00:00:00Z".parse().unwrap())
        .await
        .unwrap();
    let book = PolicyBook::load(s).await.unwrap();
    stock(s, &book, lines).await;
    for n in lines {
        sell(
            s,
            &book,
            *n,
            "en",
            Timestamp::now() - SignedDuration::from_hours(1),
        )
        .await;
    }
    // Abuse limits are tested in tests/limits.rs; here they must not stand between a route and
    // the answer its access rules give.
    let app = support::spawn_app_on(db, support::AppOptions::new().wide_limits()).await;
    World {
        store: app.store.clone(),
        ctx: app.ctx.clone(),
        base: app.base.clone(),
        app,
    }
}

impl World {
    async fn line(&self, n: u64) -> simdesk_domain::line::Line {
        simdesk::services::lines::find_line(
            self.store.as_ref(),
            &simdesk::services::lines::parse_line_key(&national(n)).unwrap(),
        )
        .await
        .unwrap()
    }

    async fn staff(&self, name: &str, role: &str, carrier: &str) -> (i64, Credentials) {
        let id = staff::add(
            self.store.as_ref(),
            name,
            "a-long-password-123",
            role,
            &CarrierCode::new(carrier),
            Timestamp::now(),
        )
        .await
        .unwrap();
        (id, session(self.store.as_ref(), "staff", id, carrier).await)
    }
}

/// One request, blocking (the runtime's workers serve it meanwhile): (status, body).
fn send(
    agent: &ureq::Agent,
    base: &str,
    method: &str,
    path: &str,
    who: &Credentials,
    body: &Body,
    extra: &[(&str, String)],
) -> (u16, String) {
    let mut builder = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    if let Some(c) = &who.cookie {
        builder = builder.header("Cookie", c);
    }
    if let Some(t) = &who.bearer {
        builder = builder.header("Authorization", format!("Bearer {t}"));
    }
    for (name, value) in extra {
        builder = builder.header(*name, value);
    }
    let result = match body {
        Body::None => agent.run(builder.body(()).unwrap()),
        Body::Form(f) => agent.run(
            builder
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(f.replace("{csrf}", &who.csrf).into_bytes())
                .unwrap(),
        ),
        Body::Json(v) => agent.run(
            builder
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(v).unwrap())
                .unwrap(),
        ),
        Body::Raw(content_type, bytes) => agent.run(
            builder
                .header("Content-Type", *content_type)
                .body(with_csrf(bytes, &who.csrf))
                .unwrap(),
        ),
    };
    let mut response = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (status, body)
}

fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        // A server that answers before reading a body may close the connection.
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .build()
        .into()
}

/// `bytes` with the placeholder `{csrf}` replaced by the caller's own CSRF token.
fn with_csrf(bytes: &[u8], csrf: &str) -> Vec<u8> {
    const MARK: &[u8] = b"{csrf}";
    match bytes.windows(MARK.len()).position(|w| w == MARK) {
        Some(at) => [&bytes[..at], csrf.as_bytes(), &bytes[at + MARK.len()..]].concat(),
        None => bytes.to_vec(),
    }
}

/// A document upload as the portal's form sends it, its CSRF token in the body.
fn multipart(csrf_free_content: &[u8]) -> Body {
    let mut body = Vec::new();
    body.extend_from_slice(
        b"--XBOUNDARYX\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n",
    );
    body.extend_from_slice(
        b"--XBOUNDARYX\r\nContent-Disposition: form-data; name=\"document\"; filename=\"p.png\"\r\nContent-Type: image/png\r\n\r\n",
    );
    body.extend_from_slice(csrf_free_content);
    body.extend_from_slice(b"\r\n--XBOUNDARYX--\r\n");
    Body::Raw("multipart/form-data; boundary=XBOUNDARYX", body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_identity_as_its_role_and_carrier_allow() {
    let w = world(&[1, 2]).await;
    let s = w.store.as_ref();
    let (a, b) = (w.line(1).await, w.line(2).await);
    let peers = Peers::recording(w.store.clone(), "http://127.0.0.1:8080");

    // A's line: cancelled by an operator and completed, so it has a request, a refund and a
    // receipt; every write aimed at it is refused by the request's state after access is given.
    let done = cancellation::submit(
        &w.ctx,
        &LineKey::Id(a.id),
        Channel::Operator,
        None,
        ops("t"),
    )
    .await
    .unwrap();
    jobs::run_due(&w.ctx, &peers, done.request.request.effective_at.unwrap())
        .await
        .unwrap();
    let done = cancellation::load(&w.ctx, done.request.request.id)
        .await
        .unwrap();
    let receipt = done.receipt_number.clone().unwrap();
    let receipt_document = s.receipt(&receipt).await.unwrap().unwrap();
    let req_a = done.request.id;
    // B's line: a store request with a document waiting for review.
    let open = cancellation::submit(
        &w.ctx,
        &LineKey::Id(b.id),
        Channel::Store,
        None,
        ops("walk-in"),
    )
    .await
    .unwrap();
    let req_b = open.request.request.id;
    let doc = cancellation::upload_document(&w.ctx, req_b, PNG.to_vec(), ops("scan"))
        .await
        .unwrap();
    let customer_a = a.holder.unwrap();

    let traveller_a = session(s, "traveller", customer_a.get(), X).await;
    let traveller_b = session(s, "traveller", b.holder.unwrap().get(), X).await;
    let (_, agent) = w.staff("agent-x", "agent", X).await;
    let (_, clerk) = w.staff("clerk-x", "clerk", X).await;
    let (_, supervisor) = w.staff("supervisor-x", "supervisor", X).await;
    let (_, admin) = w.staff("admin-x", "admin", X).await;
    let (_, foreign_agent) = w.staff("agent-y", "agent", Y).await;
    let (all_id, all) = token(s, X, "partner", &Scope::ALL).await;
    // One token per scope, holding every scope but that one.
    let mut lacking = Vec::new();
    for missing in Scope::ALL {
        let scopes: Vec<Scope> = Scope::ALL.into_iter().filter(|s| *s != missing).collect();
        lacking.push((missing, token(s, X, "narrow", &scopes).await.1));
    }
    let (_, foreign) = token(s, Y, "koi-partner", &Scope::ALL).await;
    let (revoked_id, revoked) = token(s, X, "old", &Scope::ALL).await;
    access::revoke_token(s, revoked_id, &ADMIN, Timestamp::now())
        .await
        .unwrap();
    let expired = simdesk::web::api::new_token();
    s.create_api_token(&NewApiToken {
        carrier: X.into(),
        name: "expired".into(),
        token_hash: simdesk::web::api::hash_token(&expired),
        scopes: Scope::ALL.iter().map(|s| s.as_str().to_string()).collect(),
        expires_at: Some(Timestamp::now() - SignedDuration::from_secs(1)),
        created_by: "test".into(),
        created_at: Timestamp::now() - SignedDuration::from_hours(48),
    })
    .await
    .unwrap();

    let events_b = s.request_events(req_b).await.unwrap().len();
    let wallet_a = wallet::show(s, customer_a).await.unwrap().history.len();

    let a_iccid = a.iccid.to_string();
    let b_iccid = b.iccid.to_string();
    // Statuses, for pages: [nobody, A, B, agent, clerk, supervisor, admin, foreign agent].
    use Expect::{Api, Everyone, Page};
    const SIGN_IN: u16 = 303;
    // The hotline's pages and the counter's: supervisors and admins work both.
    let hotline = |agent: u16, clerk: u16, foreign: u16| {
        Page([
            SIGN_IN, SIGN_IN, SIGN_IN, agent, clerk, agent, agent, foreign,
        ])
    };
    let counter = |agent: u16, clerk: u16, foreign: u16| {
        Page([
            SIGN_IN, SIGN_IN, SIGN_IN, agent, clerk, clerk, clerk, foreign,
        ])
    };
    // Sign-in forms are public: without the form cookie they are expired (403); a signed-in
    // visitor's own token gets past that to the answer for an unknown account.
    let sign_in = |unknown: u16| {
        Page([
            403, unknown, unknown, unknown, unknown, unknown, unknown, unknown,
        ])
    };
    let owner_only = |owner: u16| {
        Page([
            SIGN_IN, owner, 404, SIGN_IN, SIGN_IN, SIGN_IN, SIGN_IN, SIGN_IN,
        ])
    };
    let travellers = |each: u16| {
        Page([
            SIGN_IN, each, each, SIGN_IN, SIGN_IN, SIGN_IN, SIGN_IN, SIGN_IN,
        ])
    };
    let api = |scope, ok, foreign| Api { scope, ok, foreign };
    let order_body = json!({ "productOrderItem": [{ "id": "1", "action": "delete", "product": { "id": a_iccid } }] });
    let table: Vec<Row> = vec![
        // The portal. A's request is completed: the owner passes the access check and is then
        // refused by the request's state (422), which changes nothing either.
        row(
            "GET",
            "/",
            "/".into(),
            Body::None,
            Page([200, 303, 303, 200, 200, 200, 200, 200]),
        ),
        row(
            "GET",
            "/static/htmx.min.js",
            "/static/htmx.min.js".into(),
            Body::None,
            Everyone(200),
        ),
        row(
            "POST",
            "/signin",
            "/signin".into(),
            form("csrf={csrf}&identifier=09000000999"),
            // The same answer whether the number is registered or not.
            sign_in(200),
        ),
        row(
            "POST",
            "/signin/code",
            "/signin/code".into(),
            form("csrf={csrf}&identifier=09000000999&code=000000"),
            Everyone(403),
        ),
        row("GET", "/my", "/my".into(), Body::None, travellers(200)),
        row(
            "GET",
            "/my/lines/{iccid}/cancel",
            format!("/my/lines/{a_iccid}/cancel"),
            Body::None,
            owner_only(200),
        ),
        row(
            "GET",
            "/my/lines/{iccid}/usage",
            format!("/my/lines/{a_iccid}/usage"),
            Body::None,
            owner_only(200),
        ),
        // A physical SIM's page says there is no code to install; only its holder sees it.
        row(
            "GET",
            "/my/lines/{iccid}/esim",
            format!("/my/lines/{a_iccid}/esim"),
            Body::None,
            owner_only(200),
        ),
        row(
            "POST",
            "/my/lines/{iccid}/cancel",
            format!("/my/lines/{a_iccid}/cancel"),
            form("csrf={csrf}"),
            owner_only(422),
        ),
        row(
            "GET",
            "/my/requests/{id}",
            format!("/my/requests/{req_a}"),
            Body::None,
            owner_only(200),
        ),
        row(
            "POST",
            "/my/requests/{id}/code",
            format!("/my/requests/{req_a}/code"),
            form("csrf={csrf}&to=line"),
            owner_only(422),
        ),
        row(
            "POST",
            "/my/requests/{id}/code/check",
            format!("/my/requests/{req_a}/code/check"),
            form("csrf={csrf}&code=000000"),
            owner_only(422),
        ),
        row(
            "POST",
            "/my/requests/{id}/document",
            format!("/my/requests/{req_a}/document"),
            multipart(PNG),
            owner_only(422),
        ),
        row(
            "POST",
            "/my/requests/{id}/withdraw",
            format!("/my/requests/{req_a}/withdraw"),
            form("csrf={csrf}"),
            owner_only(422),
        ),
        row(
            "GET",
            "/my/receipts/{number}",
            format!("/my/receipts/{receipt}"),
            Body::None,
            owner_only(200),
        ),
        row(
            "GET",
            "/my/wallet",
            "/my/wallet".into(),
            Body::None,
            travellers(200),
        ),
        // Only the customer pays out their own wallet (here: more than it holds, so nothing moves).
        row(
            "POST",
            "/my/wallet/payout",
            "/my/wallet/payout".into(),
            form("csrf={csrf}&key=k1&amount=99999999&destination=card+4242"),
            travellers(422),
        ),
        row(
            "GET",
            "/my/data",
            "/my/data".into(),
            Body::None,
            travellers(200),
        ),
        // Only a traveller reaches the erasure form; a forged token is refused before anything
        // is erased (the erasure itself is tested in tests/pages.rs and tests/cli.rs).
        row(
            "POST",
            "/my/data/erase",
            "/my/data/erase".into(),
            form("csrf=forged"),
            travellers(403),
        ),
        // Staff sign-in; a signed-in staff member is sent to their start page.
        row(
            "GET",
            "/staff",
            "/staff".into(),
            Body::None,
            Page([200, 200, 200, 303, 303, 303, 303, 303]),
        ),
        row(
            "POST",
            "/staff/signin",
            "/staff/signin".into(),
            form("csrf={csrf}&username=nobody&password=wrong-password-1"),
            sign_in(401),
        ),
        // The hotline console.
        row(
            "GET",
            "/console",
            "/console".into(),
            Body::None,
            hotline(200, 403, 200),
        ),
        row(
            "GET",
            "/console/lines/{iccid}",
            format!("/console/lines/{a_iccid}"),
            Body::None,
            hotline(200, 403, 404),
        ),
        row(
            "POST",
            "/console/lines/{iccid}/cancel",
            format!("/console/lines/{a_iccid}/cancel"),
            form("csrf={csrf}&name=x&passport=y"),
            hotline(422, 403, 404),
        ),
        // Clerks follow their slips to a request's page (without its documents).
        row(
            "GET",
            "/console/requests/{id}",
            format!("/console/requests/{req_b}"),
            Body::None,
            hotline(200, 200, 404),
        ),
        // A rejection without a reason: past the access check, refused, nothing changes.
        row(
            "POST",
            "/console/requests/{id}/review",
            format!("/console/requests/{req_b}/review"),
            form("csrf={csrf}&decision=reject"),
            hotline(422, 403, 404),
        ),
        row(
            "GET",
            "/console/reviews",
            "/console/reviews".into(),
            Body::None,
            hotline(200, 403, 200),
        ),
        row(
            "GET",
            "/console/documents/{id}",
            format!("/console/documents/{doc}"),
            Body::None,
            hotline(200, 403, 404),
        ),
        row(
            "GET",
            "/console/receipts/{number}",
            format!("/console/receipts/{receipt}"),
            Body::None,
            hotline(200, 200, 404),
        ),
        // The store: kiosk and board are public; the counter is the clerks'.
        row(
            "GET",
            "/kiosk/{carrier}",
            format!("/kiosk/{X}"),
            Body::None,
            Everyone(200),
        ),
        row(
            "POST",
            "/kiosk/{carrier}",
            format!("/kiosk/{X}"),
            form("csrf={csrf}"),
            // The kiosk's form token: a session's own, or the form cookie (not sent here).
            sign_in(200),
        ),
        row(
            "GET",
            "/board/{carrier}",
            format!("/board/{X}"),
            Body::None,
            Everyone(200),
        ),
        row(
            "GET",
            "/counter",
            "/counter".into(),
            Body::None,
            counter(403, 200, 403),
        ),
        row(
            "POST",
            "/counter/next",
            "/counter/next".into(),
            form("csrf={csrf}&counter=1"),
            counter(403, 200, 403),
        ),
        // A passport that does not match: the clerk is asked again, nothing is submitted.
        row(
            "POST",
            "/counter/cancel",
            "/counter/cancel".into(),
            form(&format!(
                "csrf={{csrf}}&ticket=0&iccid={b_iccid}&name=Traveller+Example&passport=WRONG"
            )),
            counter(403, 200, 403),
        ),
        // Nor is the SM-DP+: its notifications have nowhere to go.
        row(
            "POST",
            "/gsma/rsp2/es2plus/handleDownloadProgressInfo",
            "/gsma/rsp2/es2plus/handleDownloadProgressInfo".into(),
            Body::Json(json!({ "iccid": a_iccid.clone(), "notificationPointId": 3 })),
            Everyone(404),
        ),
        // Inbound SMS are not configured here: the endpoint does not exist.
        row(
            "GET",
            "/sms/inbound",
            "/sms/inbound?from=x&text=BAL&token=t".into(),
            Body::None,
            Everyone(404),
        ),
        // Operations.
        row(
            "GET",
            "/healthz",
            "/healthz".into(),
            Body::None,
            Everyone(200),
        ),
        row(
            "GET",
            "/readyz",
            "/readyz".into(),
            Body::None,
            Everyone(200),
        ),
        row(
            "GET",
            "/metrics",
            "/metrics".into(),
            Body::None,
            Everyone(200),
        ),
        row(
            "GET",
            "/openapi.json",
            "/openapi.json".into(),
            Body::None,
            Everyone(200),
        ),
        // TM Forum.
        row(
            "GET",
            "/tmf-api/productInventory/v4/product/{id}",
            format!("/tmf-api/productInventory/v4/product/{a_iccid}"),
            Body::None,
            api(Scope::LinesRead, 200, 404),
        ),
        row(
            "GET",
            "/tmf-api/productInventory/v4/product",
            "/tmf-api/productInventory/v4/product".into(),
            Body::None,
            api(Scope::LinesRead, 200, 200),
        ),
        row(
            "POST",
            "/tmf-api/productOrdering/v4/productOrder",
            "/tmf-api/productOrdering/v4/productOrder".into(),
            Body::Json(order_body),
            api(Scope::CancellationsWrite, 409, 404),
        ),
        row(
            "GET",
            "/tmf-api/productOrdering/v4/productOrder/{id}",
            format!("/tmf-api/productOrdering/v4/productOrder/{req_a}"),
            Body::None,
            api(Scope::CancellationsRead, 200, 404),
        ),
        row(
            "POST",
            "/tmf-api/productOrdering/v4/cancelProductOrder",
            "/tmf-api/productOrdering/v4/cancelProductOrder".into(),
            Body::Json(json!({ "productOrder": { "id": req_a.to_string() } })),
            api(Scope::CancellationsWrite, 409, 404),
        ),
        row(
            "GET",
            "/tmf-api/prepayBalanceManagement/v4/bucket",
            format!("/tmf-api/prepayBalanceManagement/v4/bucket?product.id={a_iccid}"),
            Body::None,
            api(Scope::LinesRead, 200, 404),
        ),
        row(
            "GET",
            "/tmf-api/usageManagement/v4/usage",
            format!("/tmf-api/usageManagement/v4/usage?product.id={a_iccid}"),
            Body::None,
            api(Scope::LinesRead, 200, 404),
        ),
        // simdesk's own API.
        row(
            "GET",
            "/api/v1/lines/{line}",
            format!("/api/v1/lines/{a_iccid}"),
            Body::None,
            api(Scope::LinesRead, 200, 404),
        ),
        row(
            "GET",
            "/api/v1/lines/{line}/history",
            format!("/api/v1/lines/{a_iccid}/history"),
            Body::None,
            api(Scope::LinesRead, 200, 404),
        ),
        row(
            "GET",
            "/api/v1/lines/{line}/quote",
            format!("/api/v1/lines/{a_iccid}/quote"),
            Body::None,
            api(Scope::LinesRead, 200, 404),
        ),
        row(
            "GET",
            "/api/v1/lines/{line}/usage",
            format!("/api/v1/lines/{a_iccid}/usage"),
            Body::None,
            api(Scope::LinesRead, 200, 404),
        ),
        // A physical SIM has no profile: the carrier's own token is told so.
        row(
            "GET",
            "/api/v1/lines/{line}/esim",
            format!("/api/v1/lines/{a_iccid}/esim"),
            Body::None,
            api(Scope::LinesRead, 422, 404),
        ),
        row(
            "POST",
            "/api/v1/lines/{line}/esim/order",
            format!("/api/v1/lines/{a_iccid}/esim/order"),
            Body::Json(json!({})),
            api(Scope::EsimWrite, 422, 404),
        ),
        // Another carrier's token names no line of its own: refused, nothing counted.
        row(
            "POST",
            "/api/v1/usage",
            "/api/v1/usage".into(),
            Body::Json(json!({ "records": [{
                "record_id": "access-1", "line": a_iccid.clone(), "service": "data",
                "started_at": Timestamp::now().to_string(), "volume": 1024 }] })),
            api(Scope::UsageWrite, 200, 422),
        ),
        row(
            "GET",
            "/api/v1/cancellations/{id}",
            format!("/api/v1/cancellations/{req_b}"),
            Body::None,
            api(Scope::CancellationsRead, 200, 404),
        ),
        row(
            "POST",
            "/api/v1/cancellations/{id}/code",
            format!("/api/v1/cancellations/{req_a}/code"),
            Body::Json(json!({})),
            api(Scope::CancellationsWrite, 409, 404),
        ),
        row(
            "POST",
            "/api/v1/cancellations/{id}/code/check",
            format!("/api/v1/cancellations/{req_a}/code/check"),
            Body::Json(json!({ "code": "123456" })),
            api(Scope::CancellationsWrite, 409, 404),
        ),
        row(
            "POST",
            "/api/v1/cancellations/{id}/knowledge",
            format!("/api/v1/cancellations/{req_a}/knowledge"),
            Body::Json(json!({ "name": "x", "passport": "y" })),
            api(Scope::CancellationsWrite, 409, 404),
        ),
        row(
            "POST",
            "/api/v1/cancellations/{id}/documents",
            format!("/api/v1/cancellations/{req_a}/documents"),
            Body::Raw("application/octet-stream", PNG.to_vec()),
            api(Scope::CancellationsWrite, 409, 404),
        ),
        // No reason for a rejection: refused after the access check, nothing changes.
        row(
            "POST",
            "/api/v1/cancellations/{id}/documents/review",
            format!("/api/v1/cancellations/{req_b}/documents/review"),
            Body::Json(json!({ "approve": false })),
            api(Scope::IdentityReview, 422, 404),
        ),
        row(
            "POST",
            "/api/v1/cancellations/{id}/reject",
            format!("/api/v1/cancellations/{req_a}/reject"),
            Body::Json(json!({ "reason": "blurred" })),
            api(Scope::CancellationsWrite, 409, 404),
        ),
        row(
            "POST",
            "/api/v1/cancellations/{id}/withdraw",
            format!("/api/v1/cancellations/{req_a}/withdraw"),
            Body::None,
            api(Scope::CancellationsWrite, 409, 404),
        ),
        row(
            "GET",
            "/api/v1/customers/{id}/wallet",
            format!("/api/v1/customers/{customer_a}/wallet"),
            Body::None,
            api(Scope::WalletsRead, 200, 404),
        ),
        // More than the wallet holds: refused after the access check, nothing moves.
        row(
            "POST",
            "/api/v1/customers/{id}/payouts",
            format!("/api/v1/customers/{customer_a}/payouts"),
            Body::Json(
                json!({ "amount": { "value": 99_999_999, "unit": "JPY" }, "destination": "card 4242" }),
            ),
            api(Scope::PayoutsWrite, 422, 404),
        ),
        row(
            "GET",
            "/api/v1/receipts/{number}",
            format!("/api/v1/receipts/{receipt}"),
            Body::None,
            api(Scope::ReceiptsRead, 200, 404),
        ),
        // Checking a signature is no carrier's resource.
        row(
            "POST",
            "/api/v1/receipts/verify",
            "/api/v1/receipts/verify".into(),
            Body::Raw("application/json", receipt_document.into_bytes()),
            api(Scope::ReceiptsRead, 200, 200),
        ),
        // Last: signing out (with the right token) ends the session, which the rows above need.
        row(
            "POST",
            "/signout",
            "/signout".into(),
            form("csrf=forged"),
            Everyone(303),
        ),
        row(
            "POST",
            "/staff/signout",
            "/staff/signout".into(),
            form("csrf=forged"),
            Everyone(303),
        ),
    ];

    // Every route of the router has a row, and no row names a route the router lacks.
    let routed: BTreeSet<(String, String)> = simdesk::web::routes()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p))
        .collect();
    let covered: BTreeSet<(String, String)> = table
        .iter()
        .map(|r| (r.method.to_string(), r.route.to_string()))
        .collect();
    assert_eq!(
        covered.len(),
        table.len(),
        "a route has two rows in the table"
    );
    assert_eq!(
        covered, routed,
        "the table must list exactly the router's routes"
    );

    let credentials = move |who: Who, scope: Option<Scope>| -> Credentials {
        match who {
            Who::Nobody => Credentials {
                csrf: "anonymous".into(),
                ..Credentials::default()
            },
            Who::TravellerA => traveller_a.clone(),
            Who::TravellerB => traveller_b.clone(),
            Who::Agent => agent.clone(),
            Who::Clerk => clerk.clone(),
            Who::Supervisor => supervisor.clone(),
            Who::Admin => admin.clone(),
            Who::ForeignAgent => foreign_agent.clone(),
            Who::Token => bearer(all.clone()),
            Who::TokenLackingScope => bearer(
                lacking
                    .iter()
                    .find(|(missing, _)| Some(*missing) == scope)
                    // A route without a scope: the narrowest token is as good as any.
                    .unwrap_or(&lacking[0])
                    .1
                    .clone(),
            ),
            Who::ForeignToken => bearer(foreign.clone()),
            Who::RevokedToken => bearer(revoked.clone()),
            Who::ExpiredToken => bearer(expired.clone()),
        }
    };
    let base = w.base.clone();
    let owner_msisdn = a.msisdn.national();
    let failures = tokio::task::spawn_blocking(move || {
        let agent = http();
        let mut failures = Vec::new();
        // The OpenAPI document tells partners the scope each API route needs: the one it asks for.
        let (_, doc) = send(
            &agent,
            &base,
            "GET",
            "/openapi.json",
            &Credentials::default(),
            &Body::None,
            &[],
        );
        let doc: Value = serde_json::from_str(&doc).unwrap();
        for r in &table {
            if let Expect::Api { scope, .. } = r.expect {
                let documented = &doc["paths"][r.route][r.method.to_lowercase()]["security"];
                if *documented != json!([{ "bearer": [scope.as_str()] }]) {
                    failures.push(format!(
                        "{} {}: documented security {documented}, needs {}",
                        r.method,
                        r.route,
                        scope.as_str()
                    ));
                }
            }
        }
        for (i, r) in table.iter().enumerate() {
            let scope = match r.expect {
                Expect::Api { scope, .. } => Some(scope),
                _ => None,
            };
            for (j, who) in EVERYONE.iter().enumerate() {
                let creds = credentials(*who, scope);
                // The upload form carries its CSRF token in the URL.
                let path = r.path.replace("CSRF", &creds.csrf);
                let key = [("Idempotency-Key", format!("access-{i}-{j}"))];
                let (status, body) = send(&agent, &base, r.method, &path, &creds, &r.body, &key);
                let expected = r.expect.status(*who);
                let what = format!("{} {} as {who:?}", r.method, r.route);
                if status != expected {
                    failures.push(format!(
                        "{what}: {status}, expected {expected}: {}",
                        body.chars().take(200).collect::<String>()
                    ));
                    continue;
                }
                let is_api = r.path.starts_with("/api/") || r.path.starts_with("/tmf-api/");
                if is_api && status >= 400 {
                    let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    if ["code", "reason", "message"]
                        .iter()
                        .any(|f| json[f].as_str().is_none_or(str::is_empty))
                    {
                        failures.push(format!("{what}: not the error shape: {body}"));
                    }
                    if status == 403
                        && !json["message"]
                            .as_str()
                            .unwrap_or_default()
                            .contains(scope.unwrap().as_str())
                    {
                        failures.push(format!(
                            "{what}: the refusal does not name the missing scope: {body}"
                        ));
                    }
                }
                // Nobody but the owner and the owner's carrier's staff sees the owner's number.
                let may_see = matches!(
                    who,
                    Who::TravellerA
                        | Who::Agent
                        | Who::Clerk
                        | Who::Supervisor
                        | Who::Admin
                        | Who::Token
                );
                if status == 200 && !may_see && body.contains(&owner_msisdn) {
                    failures.push(format!("{what}: shows the owner's number"));
                }
                // A clerk's request page shows no identity documents.
                if *who == Who::Clerk
                    && r.route == "/console/requests/{id}"
                    && body.contains("/console/documents/")
                {
                    failures.push(format!("{what}: shows a clerk the identity documents"));
                }
            }
        }
        failures
    })
    .await
    .unwrap();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // The refused (and the access-passed but invalid) requests changed nothing.
    let after_a = cancellation::load(&w.ctx, req_a).await.unwrap();
    assert_eq!(after_a.request.state.as_str(), "completed");
    let after_b = cancellation::load(&w.ctx, req_b).await.unwrap();
    assert_eq!(after_b.request.state.as_str(), "submitted");
    assert!(
        after_b.request.passed.is_empty(),
        "nothing approved B's document"
    );
    assert_eq!(
        s.documents(req_b).await.unwrap().len(),
        1,
        "no document added"
    );
    assert_eq!(s.documents(req_b).await.unwrap()[0].review, "pending");
    assert_eq!(
        s.requests_for_line(b.id).await.unwrap().len(),
        1,
        "no second request"
    );
    assert_eq!(
        s.documents(req_a).await.unwrap().len(),
        0,
        "no upload on A's request"
    );
    assert_eq!(
        wallet::show(s, customer_a).await.unwrap().history.len(),
        wallet_a,
        "no payout left A's wallet"
    );
    // The document was viewed three times (agent, supervisor, admin), and each view is in the
    // request's history with who looked; nothing else was added.
    let events = s.request_events(req_b).await.unwrap();
    let views: Vec<_> = events[events_b..]
        .iter()
        .map(|e| (e.actor_id.clone(), e.note.clone(), e.to_state.clone()))
        .collect();
    assert_eq!(views.len(), 3, "{views:?}");
    for (who, (actor, note, state)) in ["agent-x", "supervisor-x", "admin-x"].iter().zip(&views) {
        assert!(actor.ends_with(&format!(":{who}")), "{actor}");
        assert_eq!(note, &format!("identity document {doc} viewed"));
        assert_eq!(state, "submitted");
    }
    // The view entries are chained into the audit trail like every other history entry.
    let (verified, out, err) = simdesk(&w.app.db, &["audit", "verify"], &[]);
    assert!(verified, "audit verify: {out}{err}");
    // Tokens: the live one's use is noted; creation and revocation are on record.
    let tokens = s.api_tokens().await.unwrap();
    let live = tokens.iter().find(|t| t.id == all_id).unwrap();
    assert!(live.last_used_at.is_some());
    let gone = tokens.iter().find(|t| t.id == revoked_id).unwrap();
    assert!(
        gone.last_used_at.is_none(),
        "a revoked token is never let in"
    );
    let events = s.admin_events().await.unwrap();
    assert!(events.iter().any(|e| e.action == "token revoked"
        && e.subject == format!("token:{revoked_id}")
        && e.actor == "test-operator"
        && e.reason == "access test"));
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "token created")
            .count(),
        1 + Scope::ALL.len() + 2,
        "every token made through the service is on record"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_approves_an_identity_document_they_supplied() {
    let w = world(&[1, 2]).await;
    let s = w.store.as_ref();
    let (one, two) = (w.line(1).await, w.line(2).await);
    let (uploader_id, uploader) = token(
        s,
        X,
        "uploader",
        &[Scope::CancellationsWrite, Scope::IdentityReview],
    )
    .await;
    let (_, reviewer) = token(s, X, "reviewer", &[Scope::IdentityReview]).await;

    // Through the API: the token that uploaded the document cannot approve it.
    let first = cancellation::submit(
        &w.ctx,
        &LineKey::Id(one.id),
        Channel::Store,
        None,
        ops("walk-in"),
    )
    .await
    .unwrap()
    .request
    .request
    .id;
    let base = w.base.clone();
    let (upload, own_review) = tokio::task::spawn_blocking({
        let (base, uploader) = (base.clone(), uploader.clone());
        move || {
            let agent = http();
            let who = bearer(uploader);
            let upload = send(
                &agent,
                &base,
                "POST",
                &format!("/api/v1/cancellations/{first}/documents"),
                &who,
                &Body::Raw("application/octet-stream", PNG.to_vec()),
                &[("Idempotency-Key", "up-1".into())],
            );
            let review = send(
                &agent,
                &base,
                "POST",
                &format!("/api/v1/cancellations/{first}/documents/review"),
                &who,
                &Body::Json(json!({ "approve": true })),
                &[("Idempotency-Key", "rev-1".into())],
            );
            (upload, review)
        }
    })
    .await
    .unwrap();
    assert_eq!(upload.0, 201, "{upload:?}");
    assert_eq!(own_review.0, 403, "{own_review:?}");
    let error: Value = serde_json::from_str(&own_review.1).unwrap();
    assert_eq!(error["code"], "FOUR_EYES");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("another reviewer"),
        "{error}"
    );
    let unchanged = cancellation::load(&w.ctx, first).await.unwrap();
    assert_eq!(unchanged.request.state.as_str(), "submitted");
    assert!(unchanged.request.passed.is_empty());
    let docs = s.documents(first).await.unwrap();
    assert_eq!(docs[0].review, "pending");
    assert!(docs[0]
        .uploaded_by
        .contains(&format!("token:{uploader_id}:")));
    // Another token may.
    let other = tokio::task::spawn_blocking({
        let base = base.clone();
        move || {
            send(
                &http(),
                &base,
                "POST",
                &format!("/api/v1/cancellations/{first}/documents/review"),
                &bearer(reviewer),
                &Body::Json(json!({ "approve": true })),
                &[("Idempotency-Key", "rev-2".into())],
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(other.0, 200, "{other:?}");
    let passed = cancellation::load(&w.ctx, first).await.unwrap();
    assert!(passed
        .request
        .passed
        .contains(&simdesk_domain::policy::IdentityCheck::Document));

    // In the console: an agent who supplied the document gets a 403 page; a supervisor approves.
    let (agent_id, agent) = w.staff("agent-x", "agent", X).await;
    let (_, supervisor) = w.staff("supervisor-x", "supervisor", X).await;
    let second = cancellation::submit(
        &w.ctx,
        &LineKey::Id(two.id),
        Channel::Store,
        None,
        ops("walk-in"),
    )
    .await
    .unwrap()
    .request
    .request
    .id;
    let by_agent = Attribution::new(
        Actor {
            kind: ActorKind::Agent,
            id: format!("staff:{agent_id}:agent-x"),
        },
        Channel::Hotline,
        Timestamp::now(),
        "document sent in by the caller",
    );
    cancellation::upload_document(&w.ctx, second, PNG.to_vec(), by_agent)
        .await
        .unwrap();
    let (own, theirs) = tokio::task::spawn_blocking(move || {
        let agent_http = http();
        let path = format!("/console/requests/{second}/review");
        let body = form("csrf={csrf}&decision=approve");
        let own = send(&agent_http, &base, "POST", &path, &agent, &body, &[]);
        let theirs = send(&agent_http, &base, "POST", &path, &supervisor, &body, &[]);
        (own, theirs)
    })
    .await
    .unwrap();
    assert_eq!(own.0, 403, "{own:?}");
    assert!(own.1.contains("another reviewer"), "{}", own.1);
    assert_eq!(theirs.0, 200, "{theirs:?}");
    assert!(theirs.1.contains("Document approved."));
    let approved = cancellation::load(&w.ctx, second).await.unwrap();
    assert!(approved
        .request
        .passed
        .contains(&simdesk_domain::policy::IdentityCheck::Document));
    let docs = s.documents(second).await.unwrap();
    assert_eq!(docs[0].review, "approved");
    assert!(docs[0]
        .reviewed_by
        .as_deref()
        .unwrap_or_default()
        .contains("supervisor-x"));
}

/// `simdesk --db URL ARGS…` as an operator runs it: (success, stdout, stderr).
fn argv(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn simdesk(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut c = assert_cmd::Command::cargo_bin("simdesk").expect("the simdesk binary");
    c.env_remove("SIMDESK_DB")
        .env("SIMDESK_KEYS_DIR", db.keys_dir())
        .env_remove("SIMDESK_CONFIG")
        .arg("--db")
        .arg(&db.url)
        .args(args)
        .timeout(std::time::Duration::from_secs(120));
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("running simdesk");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_created_with_scopes_and_expiry_and_administration_is_recorded() {
    let db = fresh_db().await;
    let s = db.store.as_ref();
    load_policies(s, &policies_dir(), Timestamp::now())
        .await
        .unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| simdesk(&db, args, env);
    let create = |scope: &str, extra: &[&str]| {
        let mut args = vec![
            "tokens",
            "create",
            "--carrier",
            X,
            "--name",
            "crm",
            "--scope",
            scope,
        ];
        args.extend_from_slice(extra);
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>()
    };

    // Mistakes are refused, say why, and create nothing.
    for (scope, extra, says) in [
        ("lines:read,bogus", vec![], "bogus"),
        (",", vec![], "at least one"),
        (
            "lines:read",
            vec!["--expires-in-days", "0"],
            "between 1 and 3650",
        ),
    ] {
        let (ok, _, stderr) = run(&argv(&create(scope, &extra)), &[]);
        assert!(!ok && stderr.contains(says), "{scope} {extra:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(s.api_tokens().await.unwrap().is_empty());

    let (ok, stdout, stderr) = run(
        &argv(&create(
            "cancellations:read,lines:read",
            &[
                "--expires-in-days",
                "30",
                "--actor",
                "alice",
                "--reason",
                "crm go-live",
            ],
        )),
        &[],
    );
    assert!(ok, "{stderr}");
    let secret = stdout
        .lines()
        .next()
        .and_then(|l| l.rsplit_once(' '))
        .map(|(_, t)| t.to_string())
        .unwrap();
    assert!(secret.starts_with("sdk_"), "{stdout}");
    assert!(
        stdout.contains("scopes lines:read,cancellations:read; expires in 30 days"),
        "{stdout}"
    );
    let tokens = s.api_tokens().await.unwrap();
    assert_eq!(tokens.len(), 1);
    let t = &tokens[0];
    assert_eq!(t.scopes, ["lines:read", "cancellations:read"]);
    let days = t
        .expires_at
        .unwrap()
        .duration_since(t.created_at)
        .as_hours()
        / 24;
    assert_eq!(days, 30);
    // Only the hash is kept.
    assert!(s.api_token(&secret).await.unwrap().is_none());
    assert!(s
        .api_token(&simdesk::web::api::hash_token(&secret))
        .await
        .unwrap()
        .is_some());

    let (_, list, _) = run(&["tokens", "list"], &[]);
    assert!(list.contains("lines:read,cancellations:read"), "{list}");
    assert!(
        list.contains("live until") && list.contains("never used"),
        "{list}"
    );
    assert!(!list.contains(&secret), "the list never shows a secret");

    let id = t.id.to_string();
    let (ok, _, stderr) = run(
        &[
            "tokens", "revoke", &id, "--actor", "bob", "--reason", "leaked",
        ],
        &[],
    );
    assert!(ok, "{stderr}");
    let (_, list, _) = run(&["tokens", "list"], &[]);
    assert!(list.contains("revoked"), "{list}");
    let (ok, _, stderr) = run(&["tokens", "revoke", &id], &[]);
    assert!(
        !ok && stderr.contains(&format!("no live token {id}")),
        "{stderr}"
    );

    let (ok, _, stderr) = run(
        &[
            "staff",
            "add",
            "dana",
            "--carrier",
            X,
            "--role",
            "clerk",
            "--actor",
            "carol",
            "--reason",
            "new hire",
        ],
        &[("SIMDESK_STAFF_PASSWORD", "a-long-password-123")],
    );
    assert!(ok, "{stderr}");

    let record: Vec<(String, String, String, String)> = s
        .admin_events()
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action, e.subject, e.reason))
        .collect();
    let staff_id = s.staff_by_username("dana").await.unwrap().unwrap().id;
    assert_eq!(
        record,
        [
            (
                "alice".into(),
                "token created".into(),
                format!("token:{id}"),
                "crm go-live".into()
            ),
            (
                "bob".into(),
                "token revoked".into(),
                format!("token:{id}"),
                "leaked".into()
            ),
            (
                "carol".into(),
                format!("staff member added as clerk for {X}"),
                format!("staff:{staff_id}:dana"),
                "new hire".into()
            ),
        ],
        "each act of administration once, with who and why; nothing for the refused ones"
    );
}
