//! The HTTPS server: ES2+ under `/gsma/rsp2/es2plus/…` and the test control API under `/test/…`,
//! both behind the same mutual TLS.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::Timestamp;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::certs::{self, CertPaths};
use crate::es2p::{self, reason, subject, Function, StatusCodeData};
use crate::notify::{self, NotifyConfig, Queued, Target};
use crate::store::{self, Action, ActionOptions, ControlError, Store};
use crate::tls;

/// What `serve` needs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// The directory `certs` wrote.
    pub certs: PathBuf,
    /// ICCID and profile type of every profile the SM-DP+ holds.
    pub profiles: Vec<(String, String)>,
    pub notify_url: Option<String>,
    pub notify_token: Option<String>,
    /// More CAs to trust when notifying over HTTPS (the test CA is always trusted).
    pub notify_ca: Vec<PathBuf>,
    /// The address ConfirmOrder returns as `smdpAddress`, for the activation code.
    pub smdp_address: String,
    /// The SM-DP+'s `functionRequesterIdentifier` in its notifications.
    pub requester_id: String,
    /// Where profiles and answered calls are kept across restarts, if anywhere.
    pub state_file: Option<PathBuf>,
    pub notify_first_backoff: Duration,
    pub notify_max_backoff: Duration,
    pub notify_timeout: Duration,
}

impl ServeOptions {
    /// Defaults for everything but where to listen, the certificates and the profiles.
    pub fn new(listen: SocketAddr, certs: PathBuf, profiles: Vec<(String, String)>) -> Self {
        Self {
            listen,
            certs,
            profiles,
            notify_url: None,
            notify_token: None,
            notify_ca: Vec::new(),
            smdp_address: "rsp.simdesk-test.example".into(),
            requester_id: "simdesk-test-smdp".into(),
            state_file: None,
            notify_first_backoff: Duration::from_millis(200),
            notify_max_backoff: Duration::from_secs(30),
            notify_timeout: Duration::from_secs(10),
        }
    }
}

/// A started server; dropping it stops the server and the notifier.
pub struct Running {
    pub addr: SocketAddr,
    server: JoinHandle<()>,
    notifier: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.server.abort();
        self.notifier.abort();
    }
}

impl Running {
    /// Serves until the server task ends (it does not, unless it is aborted).
    pub async fn wait(&mut self) {
        let _ = (&mut self.server).await;
    }
}

/// An ES2+ call as `GET /test/calls` lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct CallRecord {
    function: Function,
    function_requester_identifier: Option<String>,
    function_call_identifier: Option<String>,
    body: Value,
    received_at: String,
    /// executed, replayed (same functionCallIdentifier as an earlier call), rejected (HTTP or
    /// JSON binding not as SGP.22 says), injected-failure or injected-hang.
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<Value>,
}

/// A notification as `GET /test/notifications` lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRecord {
    pub id: usize,
    pub iccid: String,
    pub notification_point_id: u32,
    pub function_call_identifier: String,
    pub body: Value,
    pub attempts: u32,
    pub delivered: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// An answered call, kept so the same functionCallIdentifier gets the same answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Replay {
    function: Function,
    function_requester_identifier: String,
    function_call_identifier: String,
    response: Value,
}

type ReplayKey = (Function, String, String);

/// What `--state FILE` holds.
#[derive(Serialize, Deserialize)]
struct Saved {
    store: Store,
    replays: Vec<Replay>,
}

struct Inner {
    store: Store,
    replays: HashMap<ReplayKey, Value>,
    calls: Vec<CallRecord>,
    notifications: Vec<NotificationRecord>,
    fail_next: u32,
    fail_status: u16,
    hang_next: u32,
}

/// The server's shared state.
pub struct App {
    inner: Mutex<Inner>,
    pub(crate) notify: NotifyConfig,
    queue: mpsc::UnboundedSender<Queued>,
    smdp_address: String,
    state_file: Option<PathBuf>,
    calls_made: AtomicU64,
}

impl App {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh functionCallIdentifier for a notification: unique across restarts too.
    fn new_call_id(&self) -> String {
        let n = self.calls_made.fetch_add(1, Ordering::Relaxed);
        format!("smdp-{}-{n}", Timestamp::now().as_millisecond())
    }

    pub(crate) fn notification_body(&self, record: usize) -> Bytes {
        let inner = self.lock();
        Bytes::from(serde_json::to_vec(&inner.notifications[record].body).expect("JSON"))
    }

    /// Records that a notification was not sent at all, and why.
    pub(crate) fn note_unsent(&self, record: usize, why: &str) {
        self.lock().notifications[record].last_error = Some(why.to_string());
    }

    /// Records one try to deliver a notification: the operator's HTTP status, or the error.
    pub(crate) fn note_attempt(&self, record: usize, status: Option<u16>, error: Option<String>) {
        let mut inner = self.lock();
        let n = &mut inner.notifications[record];
        n.attempts += 1;
        n.last_http_status = status;
        n.last_error = error;
        if status.is_some_and(|s| (200..300).contains(&s)) {
            n.delivered = true;
            n.delivered_at = Some(store::format_timestamp(Timestamp::now()));
        }
    }

    fn persist(&self, inner: &Inner) {
        let Some(path) = &self.state_file else {
            return;
        };
        let saved = Saved {
            store: inner.store.clone(),
            replays: inner
                .replays
                .iter()
                .map(|((function, requester, call), response)| Replay {
                    function: *function,
                    function_requester_identifier: requester.clone(),
                    function_call_identifier: call.clone(),
                    response: response.clone(),
                })
                .collect(),
        };
        if let Err(e) = write_atomically(path, &saved) {
            tracing::warn!(error = %e, "could not save the state");
        }
    }
}

fn write_atomically(path: &FsPath, saved: &Saved) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(saved)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Binds, loads and starts serving; returns once the port is open.
pub async fn start(options: ServeOptions) -> anyhow::Result<Running> {
    let paths = CertPaths::new(&options.certs);
    for name in [certs::CA_CERT, certs::SMDP_CERT, certs::SMDP_KEY] {
        if !paths.file(name).exists() {
            bail!(
                "{} is missing: run `simdesk-test-smdp certs {}` first",
                paths.file(name).display(),
                options.certs.display()
            );
        }
    }
    let server_tls = tls::server_config(
        &paths.file(certs::SMDP_CERT),
        &paths.file(certs::SMDP_KEY),
        &paths.file(certs::CA_CERT),
    )?;
    let ca = paths.file(certs::CA_CERT);
    let mut ca_files: Vec<&FsPath> = vec![&ca];
    ca_files.extend(options.notify_ca.iter().map(PathBuf::as_path));
    let client_tls = tls::client_config(
        &ca_files,
        &paths.file(certs::SMDP_CERT),
        &paths.file(certs::SMDP_KEY),
    )?;
    let target = options
        .notify_url
        .as_deref()
        .map(Target::parse)
        .transpose()?;

    let mut store = Store::with_profiles(options.profiles)?;
    let mut replays = HashMap::new();
    if let Some(path) = options.state_file.as_ref().filter(|p| p.exists()) {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let saved: Saved = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not a saved state", path.display()))?;
        store.merge_saved(saved.store);
        for r in saved.replays {
            replays.insert(
                (
                    r.function,
                    r.function_requester_identifier,
                    r.function_call_identifier,
                ),
                r.response,
            );
        }
    }

    let (queue, queued) = mpsc::unbounded_channel();
    let app = Arc::new(App {
        inner: Mutex::new(Inner {
            store,
            replays,
            calls: Vec::new(),
            notifications: Vec::new(),
            fail_next: 0,
            fail_status: 503,
            hang_next: 0,
        }),
        notify: NotifyConfig {
            target,
            token: options.notify_token,
            tls: client_tls,
            requester_id: options.requester_id,
            first_backoff: options.notify_first_backoff,
            max_backoff: options.notify_max_backoff,
            timeout: options.notify_timeout,
        },
        queue,
        smdp_address: options.smdp_address,
        state_file: options.state_file,
        calls_made: AtomicU64::new(0),
    });
    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("listening on {}", options.listen))?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(tls::serve(listener, server_tls, router(app.clone())));
    let notifier = tokio::spawn(notify::run(app, queued));
    Ok(Running {
        addr,
        server,
        notifier,
    })
}

fn router(app: Arc<App>) -> Router {
    let mut router = Router::new();
    for function in Function::ALL {
        router = router.route(
            &function.path(),
            post(
                move |State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes| async move {
                    es2plus(app, function, headers, body).await
                },
            ),
        );
    }
    router
        .route("/test/profiles", get(list_profiles))
        .route("/test/profiles/{iccid}", get(show_profile))
        .route("/test/profiles/{iccid}/{action}", post(act))
        .route("/test/fail-next", post(fail_next))
        .route("/test/hang-next", post(hang_next))
        .route("/test/calls", get(list_calls))
        .route("/test/notifications", get(list_notifications))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such function or control") })
        .with_state(app)
}

/// An ES2+ answer with the headers SGP.22 §6.5.1 requires.
fn es2_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, serde_json::to_vec(body).expect("JSON")).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(es2p::CONTENT_TYPE));
    headers.insert(
        es2p::ADMIN_PROTOCOL_HEADER,
        HeaderValue::from_static(es2p::ADMIN_PROTOCOL),
    );
    response
}

/// Checks the HTTP and JSON binding (SGP.22 §6.5.1); on success the request body and the
/// header's requester and call identifiers.
fn check_binding(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Map<String, Value>, String, String), StatusCodeData> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !es2p::is_json_content_type(content_type) {
        return Err(StatusCodeData::new(
            subject::PROTOCOL_FORMAT,
            reason::INVALID,
            "Content-Type must be application/json",
        ));
    }
    let protocol = headers
        .get(es2p::ADMIN_PROTOCOL_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !es2p::admin_protocol_supported(protocol) {
        return Err(StatusCodeData::new(
            subject::PROTOCOL_VERSION,
            reason::UNSUPPORTED,
            "X-Admin-Protocol must be gsma/rsp/v2.x.y",
        ));
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
        return Err(StatusCodeData::new(
            subject::PROTOCOL_FORMAT,
            reason::INVALID,
            "the body is not a JSON object",
        ));
    };
    let header_field = |name: &str| {
        body.get("header")
            .and_then(|h| h.get(name))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                StatusCodeData::new(
                    subject::PROTOCOL_FORMAT,
                    reason::MANDATORY_ELEMENT_MISSING,
                    format!("header.{name} is missing"),
                )
            })
    };
    let requester = header_field("functionRequesterIdentifier")?;
    let call = header_field("functionCallIdentifier")?;
    Ok((body, requester, call))
}

enum Fault {
    Fail(u16),
    Hang,
}

async fn es2plus(app: Arc<App>, function: Function, headers: HeaderMap, body: Bytes) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let id = |name: &str| {
        parsed
            .as_ref()
            .and_then(|b| b.get("header"))
            .and_then(|h| h.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let mut record = CallRecord {
        function,
        function_requester_identifier: id("functionRequesterIdentifier"),
        function_call_identifier: id("functionCallIdentifier"),
        body: parsed
            .clone()
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&body).into_owned())),
        received_at: store::format_timestamp(Timestamp::now()),
        outcome: "executed",
        http_status: None,
        response: None,
    };
    tracing::info!(
        function = function.name(),
        call = record.function_call_identifier.as_deref().unwrap_or("-"),
        "ES2+ call"
    );

    // Injected faults come first, as a proxy in front of a failing SM-DP+ would answer before
    // any function runs: nothing changes and nothing is remembered for replay.
    let fault = {
        let mut inner = app.lock();
        let fault = if inner.fail_next > 0 {
            inner.fail_next -= 1;
            Some(Fault::Fail(inner.fail_status))
        } else if inner.hang_next > 0 {
            inner.hang_next -= 1;
            Some(Fault::Hang)
        } else {
            None
        };
        if let Some(fault) = &fault {
            record.outcome = match fault {
                Fault::Fail(_) => "injected-failure",
                Fault::Hang => "injected-hang",
            };
            if let Fault::Fail(status) = fault {
                record.http_status = Some(*status);
            }
            inner.calls.push(record.clone());
        }
        fault
    };
    match fault {
        Some(Fault::Fail(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return (
                status,
                [(CONTENT_TYPE, "text/plain; charset=utf-8")],
                "simdesk-test-smdp: failure injected by /test/fail-next\n",
            )
                .into_response();
        }
        Some(Fault::Hang) => std::future::pending::<()>().await,
        None => {}
    }

    let (fields, requester, call) = match check_binding(&headers, &body) {
        Ok(checked) => checked,
        Err(code) => {
            let answer = es2p::failed(&code);
            record.outcome = "rejected";
            record.http_status = Some(400);
            record.response = Some(answer.clone());
            app.lock().calls.push(record);
            return es2_response(StatusCode::BAD_REQUEST, &answer);
        }
    };

    let mut inner = app.lock();
    let key = (function, requester, call);
    let answer = if let Some(answer) = inner.replays.get(&key) {
        record.outcome = "replayed";
        answer.clone()
    } else {
        let result = inner.store.execute(
            function,
            &fields,
            Timestamp::now(),
            &app.smdp_address,
            &mut new_matching_id,
        );
        let answer = match result {
            Ok(output) => es2p::success(output),
            Err(code) => {
                tracing::info!(
                    function = function.name(),
                    subject = code.subject_code,
                    reason = code.reason_code,
                    "ES2+ call failed"
                );
                es2p::failed(&code)
            }
        };
        inner.replays.insert(key, answer.clone());
        app.persist(&inner);
        answer
    };
    record.http_status = Some(200);
    record.response = Some(answer.clone());
    inner.calls.push(record);
    es2_response(StatusCode::OK, &answer)
}

/// A matching ID as an activation code carries it, e.g. `K7D2M-Q9X1T-8HZ4P-W3NBV`.
fn new_matching_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..4)
        .map(|_| {
            (0..5)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// An EID for an eUICC the test did not name: a made-up serial with valid check digits.
fn new_eid() -> String {
    let mut rng = rand::rng();
    let serial: String = (0..22)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect();
    es2p::eid_with_check_digits(&format!("89049032{serial}"))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Reads a control body; an empty body means all defaults.
fn options<T: for<'de> Deserialize<'de> + Default>(body: &Bytes) -> Result<T, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

async fn list_profiles(State(app): State<Arc<App>>) -> Response {
    let inner = app.lock();
    Json(inner.store.all().map(|p| p.view()).collect::<Vec<_>>()).into_response()
}

async fn show_profile(State(app): State<Arc<App>>, Path(iccid): Path<String>) -> Response {
    match app.lock().store.get(&iccid) {
        Some(profile) => Json(profile.view()).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no profile {iccid}")),
    }
}

/// `fail` in a control body: report the step as failed, with SGP.22 codes.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FailOption {
    subject_code: Option<String>,
    reason_code: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ActOptions {
    /// Send each notification twice, same functionCallIdentifier.
    duplicate: bool,
    /// install: report installed before downloaded.
    #[serde(alias = "outOfOrder")]
    out_of_order: bool,
    /// Wait this long before sending the first notification.
    #[serde(alias = "delayMs")]
    delay_ms: u64,
    /// download: the eUICC's EID when the order has none.
    eid: Option<String>,
    fail: Option<FailOption>,
}

async fn act(
    State(app): State<Arc<App>>,
    Path((iccid, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some(action) = Action::parse(&action) else {
        return error(
            StatusCode::NOT_FOUND,
            "actions are download, install, enable, disable and delete",
        );
    };
    let opts: ActOptions = match options(&body) {
        Ok(o) => o,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let fail = opts.fail.map(|f| {
        let default = store::default_failure(action);
        StatusCodeData {
            subject_code: f.subject_code.unwrap_or(default.subject_code),
            reason_code: f.reason_code.unwrap_or(default.reason_code),
            subject_identifier: None,
            message: f.message.or(default.message),
        }
    });
    let action_options = ActionOptions {
        eid: opts.eid,
        out_of_order: opts.out_of_order,
        fail,
    };

    let mut inner = app.lock();
    let progress = match inner.store.act(
        &iccid,
        action,
        &action_options,
        Timestamp::now(),
        &mut new_eid,
    ) {
        Ok(progress) => progress,
        Err(ControlError::UnknownIccid(iccid)) => {
            return error(StatusCode::NOT_FOUND, format!("no profile {iccid}"))
        }
        Err(ControlError::WrongState(m)) => return error(StatusCode::CONFLICT, m),
        Err(ControlError::BadRequest(m)) => return error(StatusCode::BAD_REQUEST, m),
    };
    let mut queued = Vec::new();
    let mut delay = Duration::from_millis(opts.delay_ms);
    for step in &progress {
        let call = app.new_call_id();
        let body = notify::body(step, &app.notify.requester_id, &call);
        let copies = if opts.duplicate { 2 } else { 1 };
        for _ in 0..copies {
            let id = inner.notifications.len();
            inner.notifications.push(NotificationRecord {
                id,
                iccid: step.iccid.clone(),
                notification_point_id: step.point,
                function_call_identifier: call.clone(),
                body: body.clone(),
                attempts: 0,
                delivered: false,
                delivered_at: None,
                last_http_status: None,
                last_error: None,
            });
            // Sent under the lock, so notifications leave in the order actions were asked for.
            let _ = app.queue.send(Queued { record: id, delay });
            delay = Duration::ZERO;
            queued.push(json!({
                "id": id,
                "notificationPointId": step.point,
                "functionCallIdentifier": call,
            }));
        }
    }
    app.persist(&inner);
    let profile = inner
        .store
        .get(&iccid)
        .map(|p| p.view())
        .unwrap_or(Value::Null);
    Json(json!({ "profile": profile, "notifications": queued })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailNext {
    count: u32,
    #[serde(default = "service_unavailable")]
    status: u16,
}

impl Default for FailNext {
    fn default() -> Self {
        Self {
            count: 1,
            status: service_unavailable(),
        }
    }
}

fn service_unavailable() -> u16 {
    503
}

async fn fail_next(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let request: FailNext = match options(&body) {
        Ok(r) => r,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    if !(400..=599).contains(&request.status) {
        return error(
            StatusCode::BAD_REQUEST,
            "status must be an HTTP error (400–599)",
        );
    }
    let mut inner = app.lock();
    inner.fail_next = request.count;
    inner.fail_status = request.status;
    Json(json!({ "count": request.count, "status": request.status })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HangNext {
    count: u32,
}

impl Default for HangNext {
    fn default() -> Self {
        Self { count: 1 }
    }
}

async fn hang_next(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let request: HangNext = match options(&body) {
        Ok(r) => r,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    app.lock().hang_next = request.count;
    Json(json!({ "count": request.count })).into_response()
}

async fn list_calls(State(app): State<Arc<App>>) -> Response {
    Json(app.lock().calls.clone()).into_response()
}

async fn list_notifications(State(app): State<Arc<App>>) -> Response {
    Json(app.lock().notifications.clone()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_identifiers_are_well_formed() {
        for _ in 0..50 {
            assert!(es2p::matching_id_valid(&new_matching_id()));
            assert!(es2p::eid_valid(&new_eid()));
        }
    }
}
