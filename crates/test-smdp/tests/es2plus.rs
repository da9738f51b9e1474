//! The test SM-DP+ over real HTTPS on loopback: mutual TLS, the ES2+ functions and their
//! status codes, replay, injected failures, and notifications in the order asked for.
//!
//! The operator side is ureq with rustls and the operator's client certificate, a client that
//! shares no code with the server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Router;
use serde_json::{json, Value};
use simdesk_test_smdp::{certs, es2p, store, tls, Running, ServeOptions};

const A: &str = "8944500000000000011";
const B: &str = "8944500000000000029";
const C: &str = "8944500000000000037";
const TOKEN: &str = "notify-token-for-tests";

/// An EID with valid check digits.
fn eid(n: u32) -> String {
    es2p::eid_with_check_digits(&format!("8904903200000000000000{n:08}"))
}

struct Reply {
    status: u16,
    content_type: Option<String>,
    admin_protocol: Option<String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// The operator: HTTPS with (or without) the operator's client certificate.
#[derive(Clone)]
struct Operator {
    agent: ureq::Agent,
    base: String,
}

fn agent(certs: &Path, identity: Option<(&Path, &Path)>, timeout: Duration) -> ureq::Agent {
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
    let ca = Certificate::from_pem(&std::fs::read(certs.join(certs::CA_CERT)).unwrap()).unwrap();
    let mut tls = TlsConfig::builder().root_certs(RootCerts::new_with_certs(&[ca]));
    if let Some((cert, key)) = identity {
        let cert = Certificate::from_pem(&std::fs::read(cert).unwrap()).unwrap();
        let key = PrivateKey::from_pem(&std::fs::read(key).unwrap()).unwrap();
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&[cert], key)));
    }
    ureq::Agent::config_builder()
        .tls_config(tls.build())
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .new_agent()
}

impl Operator {
    async fn post(
        &self,
        path: &str,
        body: String,
        headers: &[(&str, &str)],
    ) -> Result<Reply, String> {
        let agent = self.agent.clone();
        let url = format!("{}{path}", self.base);
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tokio::task::spawn_blocking(move || {
            let mut request = agent.post(&url);
            for (k, v) in &headers {
                request = request.header(k, v);
            }
            let mut response = request.send(body).map_err(|e| e.to_string())?;
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let (content_type, admin_protocol) =
                (header("content-type"), header("x-admin-protocol"));
            Ok(Reply {
                status: response.status().as_u16(),
                content_type,
                admin_protocol,
                body: response
                    .body_mut()
                    .read_to_string()
                    .map_err(|e| e.to_string())?,
            })
        })
        .await
        .unwrap()
    }

    async fn get(&self, path: &str) -> Result<Reply, String> {
        let agent = self.agent.clone();
        let url = format!("{}{path}", self.base);
        tokio::task::spawn_blocking(move || {
            let mut response = agent.get(&url).call().map_err(|e| e.to_string())?;
            Ok(Reply {
                status: response.status().as_u16(),
                content_type: None,
                admin_protocol: None,
                body: response
                    .body_mut()
                    .read_to_string()
                    .map_err(|e| e.to_string())?,
            })
        })
        .await
        .unwrap()
    }

    /// An ES2+ call as SGP.22's JSON binding has it; checks the answer's headers.
    async fn es2(&self, function: &str, call_id: &str, fields: Value) -> Value {
        let mut body = json!({"header": {
            "functionRequesterIdentifier": "simdesk-tests",
            "functionCallIdentifier": call_id,
        }});
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        let reply = self
            .post(
                &format!("/gsma/rsp2/es2plus/{function}"),
                body.to_string(),
                &[
                    ("Content-Type", "application/json"),
                    ("X-Admin-Protocol", "gsma/rsp/v2.2.0"),
                ],
            )
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "{function}: {}", reply.body);
        assert_eq!(
            reply.content_type.as_deref(),
            Some("application/json;charset=UTF-8")
        );
        assert_eq!(reply.admin_protocol.as_deref(), Some("gsma/rsp/v2.5.0"));
        reply.json()
    }

    async fn control(&self, path: &str, body: Value) -> (u16, Value) {
        let reply = self
            .post(
                path,
                body.to_string(),
                &[("Content-Type", "application/json")],
            )
            .await
            .unwrap();
        (reply.status, reply.json())
    }

    async fn profile(&self, iccid: &str) -> Value {
        self.get(&format!("/test/profiles/{iccid}"))
            .await
            .unwrap()
            .json()
    }
}

fn status(answer: &Value) -> &str {
    answer["header"]["functionExecutionStatus"]["status"]
        .as_str()
        .unwrap()
}

fn codes(answer: &Value) -> (&str, &str) {
    let data = &answer["header"]["functionExecutionStatus"]["statusCodeData"];
    (
        data["subjectCode"].as_str().unwrap(),
        data["reasonCode"].as_str().unwrap(),
    )
}

/// What the operator's notification endpoint received.
#[derive(Debug, Clone)]
struct Got {
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    admin_protocol: Option<String>,
    body: Value,
}

/// A small stand-in for simdesk's HandleDownloadProgressInfo endpoint.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
    refuse: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Plain HTTP, or HTTPS requiring a client certificate when `tls` is given.
    async fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Receiver {
        let got = Arc::new(Mutex::new(Vec::new()));
        let refuse = Arc::new(AtomicU32::new(0));
        let router = {
            let (got, refuse) = (got.clone(), refuse.clone());
            Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
                let (got, refuse) = (got.clone(), refuse.clone());
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string)
                    };
                    got.lock().unwrap().push(Got {
                        path: uri.path().to_string(),
                        authorization: header("authorization"),
                        content_type: header("content-type"),
                        admin_protocol: header("x-admin-protocol"),
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    });
                    let refusing = refuse
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if refusing {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::NO_CONTENT
                    }
                }
            })
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (url, task) = match tls {
            None => (
                format!("http://127.0.0.1:{port}"),
                tokio::spawn(async move {
                    axum::serve(listener, router).await.unwrap();
                }),
            ),
            Some(config) => (
                format!("https://localhost:{port}"),
                tokio::spawn(tls::serve(listener, config, router)),
            ),
        };
        Receiver {
            url,
            got,
            refuse,
            task,
        }
    }

    /// Waits until `n` notifications arrived (a few seconds at most) and returns them all.
    async fn wait_for(&self, n: usize) -> Vec<Got> {
        for _ in 0..200 {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "expected {n} notifications, got {:?}",
            self.got.lock().unwrap()
        );
    }

    fn points(&self) -> Vec<u64> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|g| g.body["notificationPointId"].as_u64().unwrap())
            .collect()
    }
}

/// A test SM-DP+ with fresh certificates, three profiles and a receiver for its notifications.
struct Smdp {
    dir: tempfile::TempDir,
    operator: Operator,
    receiver: Receiver,
    _server: Running,
}

impl Smdp {
    async fn start() -> Smdp {
        Self::start_with(|_| {}).await
    }

    async fn start_with(adjust: impl FnOnce(&mut ServeOptions)) -> Smdp {
        let dir = tempfile::tempdir().unwrap();
        let certs_dir = dir.path().join("certs");
        certs::write(&certs_dir).unwrap();
        let profiles = dir.path().join("profiles.csv");
        std::fs::write(
            &profiles,
            format!("# ICCID,profile type\n{A},japan-10d\n{B}F,japan-10d\n\n{C},korea-7d\n"),
        )
        .unwrap();
        let receiver = Receiver::start(None).await;
        let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut options = ServeOptions::new(
            listen,
            certs_dir.clone(),
            store::load_profiles(&profiles).unwrap(),
        );
        options.notify_url = Some(receiver.url.clone());
        options.notify_token = Some(TOKEN.into());
        options.smdp_address = "smdp.simdesk.test".into();
        options.notify_first_backoff = Duration::from_millis(20);
        options.notify_max_backoff = Duration::from_millis(100);
        options.notify_timeout = Duration::from_secs(2);
        adjust(&mut options);
        let server = simdesk_test_smdp::start(options).await.unwrap();
        let operator = Operator {
            agent: agent(
                &certs_dir,
                Some((
                    &certs_dir.join(certs::OPERATOR_CERT),
                    &certs_dir.join(certs::OPERATOR_KEY),
                )),
                Duration::from_secs(10),
            ),
            base: format!("https://localhost:{}", server.addr.port()),
        };
        Smdp {
            dir,
            operator,
            receiver,
            _server: server,
        }
    }

    fn certs(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    /// DownloadOrder then ConfirmOrder with releaseFlag: a profile ready to download.
    async fn released(&self, iccid: &str) -> Value {
        let op = &self.operator;
        let ordered = op
            .es2(
                "downloadOrder",
                &format!("do-{iccid}"),
                json!({"iccid": iccid}),
            )
            .await;
        assert_eq!(status(&ordered), "Executed-Success", "{ordered}");
        let confirmed = op
            .es2(
                "confirmOrder",
                &format!("co-{iccid}"),
                json!({"iccid": iccid, "releaseFlag": true}),
            )
            .await;
        assert_eq!(status(&confirmed), "Executed-Success", "{confirmed}");
        confirmed
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_without_the_operators_certificate_is_refused() {
    let smdp = Smdp::start().await;
    let certs = smdp.certs();
    let base = smdp.operator.base.clone();

    let anonymous = Operator {
        agent: agent(&certs, None, Duration::from_secs(5)),
        base: base.clone(),
    };
    assert!(anonymous.get("/test/profiles").await.is_err());
    let refused = anonymous
        .post(
            "/gsma/rsp2/es2plus/downloadOrder",
            "{}".into(),
            &[("Content-Type", "application/json")],
        )
        .await;
    assert!(refused.is_err(), "answered without a client certificate");

    // A certificate from another CA is no better than none.
    let stranger_dir = smdp.dir.path().join("stranger");
    certs::write(&stranger_dir).unwrap();
    let stranger = Operator {
        agent: agent(
            &certs,
            Some((
                &stranger_dir.join(certs::OPERATOR_CERT),
                &stranger_dir.join(certs::OPERATOR_KEY),
            )),
            Duration::from_secs(5),
        ),
        base,
    };
    assert!(stranger.get("/test/profiles").await.is_err());

    let listed = smdp.operator.get("/test/profiles").await.unwrap();
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json().as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_confirm_download_install_enable_delete_notify_in_that_order() {
    let smdp = Smdp::start().await;
    let op = &smdp.operator;

    let ordered = op
        .es2(
            "downloadOrder",
            "call-1",
            json!({"profileType": "japan-10d"}),
        )
        .await;
    assert_eq!(status(&ordered), "Executed-Success");
    assert_eq!(ordered["iccid"], A);
    assert_eq!(op.profile(A).await["state"], "allocated");

    let confirmed = op
        .es2(
            "confirmOrder",
            "call-2",
            json!({"iccid": A, "confirmationCode": "1234", "releaseFlag": true}),
        )
        .await;
    assert_eq!(status(&confirmed), "Executed-Success");
    assert_eq!(confirmed["smdpAddress"], "smdp.simdesk.test");
    let matching_id = confirmed["matchingId"].as_str().unwrap();
    assert!(es2p::matching_id_valid(matching_id), "{matching_id}");
    let profile = op.profile(A).await;
    assert_eq!(profile["state"], "released");
    assert_eq!(profile["matchingId"], matching_id);
    assert_eq!(profile["hasConfirmationCode"], true);
    assert!(profile.get("confirmationCode").is_none());

    let (code, moved) = op
        .control(&format!("/test/profiles/{A}/download"), json!({}))
        .await;
    assert_eq!(code, 200, "{moved}");
    assert_eq!(moved["profile"]["state"], "downloaded");
    let (code, _) = op
        .control(&format!("/test/profiles/{A}/install"), json!({}))
        .await;
    assert_eq!(code, 200);
    let (code, _) = op
        .control(&format!("/test/profiles/{A}/enable"), json!({}))
        .await;
    assert_eq!(code, 200);
    let (code, _) = op
        .control(&format!("/test/profiles/{A}/disable"), json!({}))
        .await;
    assert_eq!(code, 200);
    let (code, _) = op
        .control(&format!("/test/profiles/{A}/delete"), json!({}))
        .await;
    assert_eq!(code, 200);
    assert_eq!(op.profile(A).await["state"], "deleted");

    let got = smdp.receiver.wait_for(5).await;
    assert_eq!(smdp.receiver.points(), [3, 4, 100, 101, 5]);
    let eid = got[0].body["eid"].as_str().unwrap().to_string();
    assert!(es2p::eid_valid(&eid), "{eid}");
    let mut call_ids = std::collections::HashSet::new();
    for g in &got {
        assert_eq!(g.path, "/gsma/rsp2/es2plus/handleDownloadProgressInfo");
        assert_eq!(
            g.authorization.as_deref(),
            Some(&*format!("Bearer {TOKEN}"))
        );
        assert_eq!(
            g.content_type.as_deref(),
            Some("application/json;charset=UTF-8")
        );
        assert_eq!(g.admin_protocol.as_deref(), Some("gsma/rsp/v2.5.0"));
        let b = &g.body;
        assert_eq!(
            b["header"]["functionRequesterIdentifier"],
            "simdesk-test-smdp"
        );
        assert!(call_ids.insert(
            b["header"]["functionCallIdentifier"]
                .as_str()
                .unwrap()
                .to_string()
        ));
        assert_eq!(b["iccid"], A);
        assert_eq!(b["eid"], eid.as_str());
        assert_eq!(b["profileType"], "japan-10d");
        assert_eq!(
            b["notificationPointStatus"],
            json!({"status": "Executed-Success"})
        );
        let timestamp = b["timestamp"].as_str().unwrap();
        assert_eq!(timestamp.len(), 20, "{timestamp}");
        assert!(timestamp.ends_with('Z') && timestamp.as_bytes()[10] == b'T');
    }

    // Steps the state machine does not allow are refused and send nothing.
    let (code, refused) = op
        .control(&format!("/test/profiles/{A}/enable"), json!({}))
        .await;
    assert_eq!(code, 409, "{refused}");
    let (code, _) = op
        .control(&format!("/test/profiles/{B}/install"), json!({}))
        .await;
    assert_eq!(code, 409);
    let (code, _) = op
        .control("/test/profiles/8944500000000000999/download", json!({}))
        .await;
    assert_eq!(code, 404);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(smdp.receiver.points().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_and_out_of_order_notifications_are_sent_as_asked() {
    let smdp = Smdp::start().await;
    let op = &smdp.operator;
    smdp.released(A).await;
    smdp.released(B).await;

    let (code, moved) = op
        .control(
            &format!("/test/profiles/{A}/download"),
            json!({"duplicate": true}),
        )
        .await;
    assert_eq!(code, 200, "{moved}");
    assert_eq!(moved["notifications"].as_array().unwrap().len(), 2);
    let got = smdp.receiver.wait_for(2).await;
    assert_eq!(
        got[0].body, got[1].body,
        "a duplicate is the same notification"
    );

    let (code, moved) = op
        .control(
            &format!("/test/profiles/{B}/install"),
            json!({"out_of_order": true}),
        )
        .await;
    assert_eq!(code, 200, "{moved}");
    assert_eq!(moved["profile"]["state"], "installed");
    let got = smdp.receiver.wait_for(4).await;
    assert_eq!(smdp.receiver.points(), [3, 3, 4, 3]);
    let (installed, downloaded) = (&got[2].body, &got[3].body);
    assert_eq!(
        (&installed["iccid"], &downloaded["iccid"]),
        (&json!(B), &json!(B))
    );
    // Delivered out of order, but each timestamp tells when the step really happened.
    assert!(downloaded["timestamp"].as_str() < installed["timestamp"].as_str());

    // A delay holds the notification back without holding up the control call.
    let started = std::time::Instant::now();
    let (code, _) = op
        .control(
            &format!("/test/profiles/{B}/enable"),
            json!({"delay_ms": 300}),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(smdp.receiver.points().len(), 4);
    smdp.receiver.wait_for(5).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_notification_is_sent_again_until_taken() {
    let smdp = Smdp::start().await;
    let op = &smdp.operator;
    smdp.released(A).await;
    smdp.receiver.refuse.store(2, Ordering::SeqCst);
    op.control(&format!("/test/profiles/{A}/download"), json!({}))
        .await;
    op.control(&format!("/test/profiles/{A}/install"), json!({}))
        .await;

    let got = smdp.receiver.wait_for(4).await;
    assert_eq!(
        smdp.receiver.points(),
        [3, 3, 3, 4],
        "order kept across retries"
    );
    assert_eq!(got[0].body, got[2].body, "a retry is the same call");
    let listed = op.get("/test/notifications").await.unwrap().json();
    let first = &listed[0];
    assert_eq!(first["attempts"], 3);
    assert_eq!(first["delivered"], true);
    assert_eq!(first["lastHttpStatus"], 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_step_is_notified_with_its_status_code_data() {
    let smdp = Smdp::start().await;
    let op = &smdp.operator;
    smdp.released(A).await;
    op.control(&format!("/test/profiles/{A}/download"), json!({}))
        .await;
    let (code, moved) = op
        .control(&format!("/test/profiles/{A}/install"), json!({"fail": {}}))
        .await;
    assert_eq!(code, 200, "{moved}");
    assert_eq!(moved["profile"]["state"], "downloaded");
    let got = smdp.receiver.wait_for(2).await;
    assert_eq!(
        got[1].body["notificationPointStatus"],
        json!({"status": "Failed", "statusCodeData": {
            "subjectCode": "8.2.10", "reasonCode": "4.2",
            "message": "the eUICC could not load the bound profile package"}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_order_before_download_frees_the_profile_and_after_download_fails() {
    let smdp = Smdp::start().await;
    let op = &smdp.operator;

    smdp.released(A).await;
    let cancelled = op
        .es2(
            "cancelOrder",
            "cancel-a",
            json!({"iccid": A, "finalProfileStatusIndicator": "Available"}),
        )
        .await;
    assert_eq!(status(&cancelled), "Executed-Success", "{cancelled}");
    let profile = op.profile(A).await;
    assert_eq!(profile["state"], "available");
    assert!(profile.get("matchingId").is_none());
    // Available again: it can be ordered anew.
    let again = op
        .es2("downloadOrder", "order-a-again", json!({"iccid": A}))
        .await;
    assert_eq!(status(&again), "Executed-Success");

    smdp.released(B).await;
    op.control(&format!("/test/profiles/{B}/download"), json!({}))
        .await;
    let refused = op
        .es2(
            "cancelOrder",
            "cancel-b",
            json!({"iccid": B, "finalProfileStatusIndicator": "Unavailable"}),
        )
        .await;
    assert_eq!(status(&refused), "Failed");
    assert_eq!(codes(&refused), ("8.2.1", "3.3"));
    let data = &refused["header"]["functionExecutionStatus"]["statusCodeData"];
    assert_eq!(data["subjectIdentifier"], B);
    assert_eq!(op.profile(B).await["state"], "downloaded");

    let unknown = op
        .es2(
            "cancelOrder",
            "cancel-unknown",
            json!({"iccid": "8944500000000000999", "finalProfileStatusIndicator": "Available"}),
        )
        .await;
    assert_eq!(codes(&unknown), ("8.2.1", "3.9"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_function_call_identifier_gets_the_same_answer() {
    let smdp = Smdp::start().await;
    let op = &smdp.operator;

    let first = op
        .es2(
            "downloadOrder",
            "same-call",
            json!({"profileType": "japan-10d", "eid": eid(1)}),
        )
        .await;
    assert_eq!(first["iccid"], A);
    assert_eq!(op.profile(A).await["state"], "linked");
    let again = op
        .es2(
            "downloadOrder",
            "same-call",
            json!({"profileType": "japan-10d", "eid": eid(1)}),
        )
        .await;
    assert_eq!(first, again);
    // Not executed twice: the second profile of the type is still free.
    assert_eq!(op.profile(B).await["state"], "available");
    let next = op
        .es2(
            "downloadOrder",
            "next-call",
            json!({"profileType": "japan-10d"}),
        )
        .await;
    assert_eq!(next["iccid"], B);

    // A failure is answered the same way too, even once the cause is gone.
    let failed = op
        .es2("releaseProfile", "release-a", json!({"iccid": A}))
        .await;
    assert_eq!(codes(&failed), ("8.2.1", "3.5"));
    op.es2(
        "confirmOrder",
        "confirm-a",
        json!({"iccid": A, "releaseFlag": false}),
    )
    .await;
    let replayed = op
        .es2("releaseProfile", "release-a", json!({"iccid": A}))
        .await;
    assert_eq!(failed, replayed);
    let released = op
        .es2("releaseProfile", "release-a-2", json!({"iccid": A}))
        .await;
    assert_eq!(status(&released), "Executed-Success");

    let calls = op.get("/test/calls").await.unwrap().json();
    let outcomes: Vec<(&str, &str, &str)> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["function"].as_str().unwrap(),
                c["functionCallIdentifier"].as_str().unwrap(),
                c["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("downloadOrder", "same-call", "executed"),
            ("downloadOrder", "same-call", "replayed"),
            ("downloadOrder", "next-call", "executed"),
            ("releaseProfile", "release-a", "executed"),
            ("confirmOrder", "confirm-a", "executed"),
            ("releaseProfile", "release-a", "replayed"),
            ("releaseProfile", "release-a-2", "executed"),
        ]
    );
    assert_eq!(calls[0]["body"]["profileType"], "japan-10d");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_next_answers_503_and_changes_nothing() {
    let smdp = Smdp::start().await;
    let op = &smdp.operator;
    let (code, set) = op
        .control("/test/fail-next", json!({"count": 2, "status": 503}))
        .await;
    assert_eq!(code, 200, "{set}");

    let body = json!({"header": {"functionRequesterIdentifier": "simdesk-tests",
        "functionCallIdentifier": "retried"}, "iccid": C});
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Admin-Protocol", "gsma/rsp/v2.2.0"),
    ];
    for _ in 0..2 {
        let reply = op
            .post(
                "/gsma/rsp2/es2plus/downloadOrder",
                body.to_string(),
                &headers,
            )
            .await
            .unwrap();
        assert_eq!(reply.status, 503);
    }
    assert_eq!(op.profile(C).await["state"], "available");
    // The same call, retried once the SM-DP+ is back, runs once.
    let reply = op
        .post(
            "/gsma/rsp2/es2plus/downloadOrder",
            body.to_string(),
            &headers,
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(status(&reply.json()), "Executed-Success");
    assert_eq!(op.profile(C).await["state"], "allocated");

    let calls = op.get("/test/calls").await.unwrap().json();
    let outcomes: Vec<&str> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["injected-failure", "injected-failure", "executed"]
    );
    assert_eq!(calls[0]["httpStatus"], 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_next_never_answers() {
    let smdp = Smdp::start().await;
    let op = &smdp.operator;
    op.control("/test/hang-next", json!({"count": 1})).await;
    let impatient = Operator {
        agent: agent(
            &smdp.certs(),
            Some((
                &smdp.certs().join(certs::OPERATOR_CERT),
                &smdp.certs().join(certs::OPERATOR_KEY),
            )),
            Duration::from_millis(500),
        ),
        base: op.base.clone(),
    };
    let body = json!({"header": {"functionRequesterIdentifier": "simdesk-tests",
        "functionCallIdentifier": "hung"}, "iccid": C});
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Admin-Protocol", "gsma/rsp/v2.2.0"),
    ];
    let timed_out = impatient
        .post(
            "/gsma/rsp2/es2plus/releaseProfile",
            body.to_string(),
            &headers,
        )
        .await;
    assert!(timed_out.is_err(), "answered a hung call");
    let reply = op
        .post(
            "/gsma/rsp2/es2plus/releaseProfile",
            body.to_string(),
            &headers,
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(codes(&reply.json()), ("8.2.1", "3.5"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_and_json_binding_is_checked() {
    let smdp = Smdp::start().await;
    let op = &smdp.operator;
    let body = json!({"header": {"functionRequesterIdentifier": "simdesk-tests",
        "functionCallIdentifier": "c"}, "iccid": A})
    .to_string();

    let no_version = op
        .post(
            "/gsma/rsp2/es2plus/downloadOrder",
            body.clone(),
            &[("Content-Type", "application/json")],
        )
        .await
        .unwrap();
    assert_eq!(no_version.status, 400);
    assert_eq!(
        no_version.admin_protocol.as_deref(),
        Some("gsma/rsp/v2.5.0")
    );
    assert_eq!(codes(&no_version.json()), ("1.3.2", "3.1"));

    let not_json = op
        .post(
            "/gsma/rsp2/es2plus/downloadOrder",
            body.clone(),
            &[
                ("Content-Type", "text/plain"),
                ("X-Admin-Protocol", "gsma/rsp/v2.2.0"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(not_json.status, 400);
    assert_eq!(codes(&not_json.json()), ("1.3.1", "2.1"));

    let no_header = op
        .post(
            "/gsma/rsp2/es2plus/downloadOrder",
            json!({"iccid": A}).to_string(),
            &[
                ("Content-Type", "application/json"),
                ("X-Admin-Protocol", "gsma/rsp/v2.2.0"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(no_header.status, 400);
    assert_eq!(codes(&no_header.json()), ("1.3.1", "2.2"));
    assert_eq!(op.profile(A).await["state"], "available");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_over_https_present_the_smdp_certificate() {
    // The operator's endpoint over HTTPS, with the operator certificate as its server
    // certificate, accepting only clients the test CA signed: the SM-DP+ must present its own.
    let smdp = Smdp::start().await;
    let certs = smdp.certs();
    let config = tls::server_config(
        &certs.join(certs::OPERATOR_CERT),
        &certs.join(certs::OPERATOR_KEY),
        &certs.join(certs::CA_CERT),
    )
    .unwrap();
    let receiver = Receiver::start(Some(config)).await;
    // A second server pointed at the HTTPS receiver, sharing the first one's certificates.
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut options = ServeOptions::new(listen, smdp.certs(), vec![(A.into(), "japan-10d".into())]);
    options.notify_url = Some(receiver.url.clone());
    let server = simdesk_test_smdp::start(options).await.unwrap();
    let op = Operator {
        agent: smdp.operator.agent.clone(),
        base: format!("https://localhost:{}", server.addr.port()),
    };
    op.es2("downloadOrder", "o", json!({"iccid": A})).await;
    op.es2(
        "confirmOrder",
        "c",
        json!({"iccid": A, "releaseFlag": true}),
    )
    .await;
    op.control(
        &format!("/test/profiles/{A}/download"),
        json!({"eid": eid(7)}),
    )
    .await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].path, "/gsma/rsp2/es2plus/handleDownloadProgressInfo");
    assert_eq!(got[0].body["eid"], eid(7).as_str());
    assert_eq!(got[0].authorization, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_file_keeps_profiles_and_answers_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let certs_dir = dir.path().join("certs");
    certs::write(&certs_dir).unwrap();
    let state = dir.path().join("smdp-state.json");
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let options = || {
        let mut o = ServeOptions::new(
            listen,
            certs_dir.clone(),
            vec![
                (A.into(), "japan-10d".into()),
                (B.into(), "japan-10d".into()),
            ],
        );
        o.state_file = Some(state.clone());
        o
    };
    let operator = |server: &Running| Operator {
        agent: agent(
            &certs_dir,
            Some((
                &certs_dir.join(certs::OPERATOR_CERT),
                &certs_dir.join(certs::OPERATOR_KEY),
            )),
            Duration::from_secs(5),
        ),
        base: format!("https://localhost:{}", server.addr.port()),
    };

    let server = simdesk_test_smdp::start(options()).await.unwrap();
    let op = operator(&server);
    let first = op
        .es2(
            "downloadOrder",
            "before-restart",
            json!({"profileType": "japan-10d"}),
        )
        .await;
    op.es2(
        "confirmOrder",
        "confirm",
        json!({"iccid": A, "releaseFlag": true}),
    )
    .await;
    drop(server);

    let server = simdesk_test_smdp::start(options()).await.unwrap();
    let op = operator(&server);
    assert_eq!(op.profile(A).await["state"], "released");
    let again = op
        .es2(
            "downloadOrder",
            "before-restart",
            json!({"profileType": "japan-10d"}),
        )
        .await;
    assert_eq!(first, again);
    assert_eq!(op.profile(B).await["state"], "available");
    // Without a notification URL the step still happens; the notification says why it stayed.
    let (code, _) = op
        .control(&format!("/test/profiles/{A}/download"), json!({}))
        .await;
    assert_eq!(code, 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let listed = op.get("/test/notifications").await.unwrap().json();
    assert_eq!(listed[0]["delivered"], false);
    assert_eq!(listed[0]["attempts"], 0);
    assert!(listed[0]["lastError"]
        .as_str()
        .unwrap()
        .contains("--notify-url"));
}

#[test]
fn the_program_writes_certificates_and_serves() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_simdesk-test-smdp");
    let certs_dir = dir.path().join("certs");
    let written = std::process::Command::new(exe)
        .arg("certs")
        .arg(&certs_dir)
        .output()
        .unwrap();
    assert!(written.status.success());
    assert!(String::from_utf8_lossy(&written.stdout).contains("test certificates written"));
    for name in [
        certs::CA_CERT,
        certs::CA_KEY,
        certs::SMDP_CERT,
        certs::SMDP_KEY,
        certs::OPERATOR_CERT,
        certs::OPERATOR_KEY,
        certs::OPERATOR_IDENTITY,
    ] {
        assert!(certs_dir.join(name).exists(), "{name} missing");
    }
    let profiles = dir.path().join("profiles.json");
    std::fs::write(
        &profiles,
        json!([{"iccid": A, "profileType": "japan-10d"}]).to_string(),
    )
    .unwrap();
    let mut child = std::process::Command::new(exe)
        .args(["serve", "--listen", "127.0.0.1:0", "--certs"])
        .arg(&certs_dir)
        .arg("--profiles")
        .arg(&profiles)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let port = url.rsplit(':').next().unwrap();
    let agent = agent(
        &certs_dir,
        Some((
            &certs_dir.join(certs::OPERATOR_CERT),
            &certs_dir.join(certs::OPERATOR_KEY),
        )),
        Duration::from_secs(5),
    );
    let answer = agent
        .get(&format!("https://localhost:{port}/test/profiles/{A}"))
        .call()
        .map(|mut r| r.body_mut().read_json::<Value>().unwrap());
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(answer.unwrap()["state"], "available");
}
