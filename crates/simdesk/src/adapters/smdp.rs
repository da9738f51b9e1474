//! The SM-DP+'s ES2+ interface (GSMA SGP.22 v2.x, JSON binding over HTTPS with mutual TLS): the
//! orders simdesk gives about an eSIM profile — DownloadOrder, ConfirmOrder, CancelOrder and
//! ReleaseProfile.
//!
//! Each call carries a `functionCallIdentifier` the caller chooses. The outbox passes the same
//! one on every retry of an effect, and an SM-DP+ answers a repeated identifier with its first
//! answer, so a call that timed out after it took effect is not done twice.

use super::PeerError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

/// The `X-Admin-Protocol` header: the ES2+ version simdesk speaks.
const ADMIN_PROTOCOL: &str = "gsma/rsp/v2.2.0";

/// How simdesk reaches the operator's SM-DP+ (`[smdp]`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmdpSettings {
    /// The SM-DP+'s ES2+ base URL, e.g. `https://smdp.example.com:8443`.
    pub url: String,
    /// simdesk's client certificate (PEM) for mutual TLS, issued for the operator by the
    /// SM-DP+'s owner.
    pub certificate: PathBuf,
    /// The certificate's private key (PEM).
    pub key: PathBuf,
    /// The CA that signed the SM-DP+'s server certificate (PEM); without it the system's roots.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// `functionRequesterIdentifier`: who simdesk is to the SM-DP+ (agreed with its owner).
    pub requester_id: String,
    /// Bounds each whole call, so a hung SM-DP+ becomes a retry instead of a stuck outbox.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// The bearer token the SM-DP+ sends with its HandleDownloadProgressInfo notifications,
    /// where the operator's TLS terminator in front of simdesk checks its certificate. Without
    /// one, notifications are refused.
    #[serde(default)]
    pub notification_token: Option<String>,
    /// Notification points agreed with the SM-DP+ beyond SGP.22's (switch-on, switch-off).
    #[serde(default)]
    pub points: simdesk_domain::esim::CustomPoints,
}

// The notification token is a password: it never reaches a log line.
impl std::fmt::Debug for SmdpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmdpSettings")
            .field("url", &self.url)
            .field("certificate", &self.certificate)
            .field("key", &self.key)
            .field("ca", &self.ca)
            .field("requester_id", &self.requester_id)
            .field("timeout_secs", &self.timeout_secs)
            .field(
                "notification_token",
                &self.notification_token.as_ref().map(|_| "…"),
            )
            .field("points", &self.points)
            .finish()
    }
}

fn default_timeout_secs() -> u64 {
    10
}

/// What ConfirmOrder answers: what the traveller's phone needs to fetch the profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub matching_id: String,
    pub smdp_address: String,
    pub eid: Option<String>,
}

/// CancelOrder's `finalProfileStatusIndicator`: whether the profile may be sold again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalStatus {
    Available,
    Unavailable,
}

/// The ES2+ functions simdesk calls.
#[async_trait]
pub trait Es2Plus: Send + Sync {
    /// Reserves the profile `iccid` (linked to `eid` when given); answers its ICCID.
    async fn download_order(
        &self,
        call_id: &str,
        iccid: &str,
        eid: Option<&str>,
    ) -> Result<String, PeerError>;
    /// Confirms the order; with `release` the profile is released for download at once.
    async fn confirm_order(
        &self,
        call_id: &str,
        iccid: &str,
        eid: Option<&str>,
        release: bool,
    ) -> Result<Confirmed, PeerError>;
    /// Cancels an order not yet downloaded.
    async fn cancel_order(
        &self,
        call_id: &str,
        iccid: &str,
        eid: Option<&str>,
        matching_id: Option<&str>,
        final_status: FinalStatus,
    ) -> Result<(), PeerError>;
    /// Releases a confirmed profile for download.
    async fn release_profile(&self, call_id: &str, iccid: &str) -> Result<(), PeerError>;
}

/// The ES2+ client over HTTPS with simdesk's client certificate.
pub struct Es2PlusClient {
    agent: ureq::Agent,
    base: String,
    requester_id: String,
}

impl std::fmt::Debug for Es2PlusClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Es2PlusClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// The settings could not be turned into a client: a file is missing or not PEM.
#[derive(Debug, thiserror::Error)]
#[error("[smdp] {what} {path}: {reason}")]
pub struct SmdpSetupError {
    what: &'static str,
    path: String,
    reason: String,
}

impl Es2PlusClient {
    pub fn new(settings: &SmdpSettings) -> Result<Es2PlusClient, SmdpSetupError> {
        use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
        let read = |what: &'static str, path: &PathBuf| {
            std::fs::read(path).map_err(|e| SmdpSetupError {
                what,
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        };
        let bad = |what: &'static str, path: &PathBuf| {
            let path = path.display().to_string();
            move |e: ureq::Error| SmdpSetupError {
                what,
                path,
                reason: format!("not PEM: {e}"),
            }
        };
        let cert_pem = read("certificate", &settings.certificate)?;
        let cert = Certificate::from_pem(&cert_pem)
            .map_err(bad("certificate", &settings.certificate))?
            .to_owned();
        let key_pem = read("key", &settings.key)?;
        let key = PrivateKey::from_pem(&key_pem)
            .map_err(bad("key", &settings.key))?
            .to_owned();
        let mut tls =
            TlsConfig::builder().client_cert(Some(ClientCert::new_with_certs(&[cert], key)));
        if let Some(ca_path) = &settings.ca {
            let ca_pem = read("ca", ca_path)?;
            let ca = Certificate::from_pem(&ca_pem)
                .map_err(bad("ca", ca_path))?
                .to_owned();
            tls = tls.root_certs(RootCerts::new_with_certs(&[ca]));
        }
        let agent = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(settings.timeout_secs.max(1))))
            .build()
            .new_agent();
        Ok(Es2PlusClient {
            agent,
            base: settings.url.trim_end_matches('/').to_string(),
            requester_id: settings.requester_id.clone(),
        })
    }

    /// Calls one ES2+ function and returns its answer's body once the SM-DP+ executed it.
    async fn call(
        &self,
        function: &str,
        call_id: &str,
        mut body: Value,
    ) -> Result<Value, PeerError> {
        body["header"] = json!({
            "functionRequesterIdentifier": self.requester_id,
            "functionCallIdentifier": call_id,
        });
        let url = format!("{}/gsma/rsp2/es2plus/{function}", self.base);
        let agent = self.agent.clone();
        let text = body.to_string();
        let (status, answer) = tokio::task::spawn_blocking(move || {
            let mut response = agent
                .post(&url)
                .header("Content-Type", "application/json")
                .header("X-Admin-Protocol", ADMIN_PROTOCOL)
                .send(text)
                .map_err(|e| PeerError::Unavailable(format!("the SM-DP+ at {url}: {e}")))?;
            let status = response.status().as_u16();
            let answer = response
                .body_mut()
                .read_to_string()
                .map_err(|e| PeerError::Unavailable(format!("the SM-DP+'s answer: {e}")))?;
            Ok::<_, PeerError>((status, answer))
        })
        .await
        .map_err(|e| PeerError::Unavailable(format!("the ES2+ call stopped: {e}")))??;
        if status >= 500 || status == 429 {
            return Err(PeerError::Unavailable(format!(
                "the SM-DP+ answered {function} with HTTP {status}; it will be asked again"
            )));
        }
        let answer: Value = serde_json::from_str(&answer).map_err(|_| {
            PeerError::Unavailable(format!(
                "the SM-DP+ answered {function} with HTTP {status} and no ES2+ body"
            ))
        })?;
        execution(function, &answer)?;
        Ok(answer)
    }
}

/// Reads `functionExecutionStatus`: success (with or without warning) passes; a failure becomes
/// a refusal that says which subject and reason the SM-DP+ gave and what to do.
fn execution(function: &str, answer: &Value) -> Result<(), PeerError> {
    let status = &answer["header"]["functionExecutionStatus"];
    match status["status"].as_str() {
        Some("Executed-Success" | "Executed-WithWarning") => Ok(()),
        Some(outcome) => {
            let data = &status["statusCodeData"];
            let subject = data["subjectCode"].as_str().unwrap_or("?");
            let reason = data["reasonCode"].as_str().unwrap_or("?");
            let message = data["message"].as_str().unwrap_or("");
            Err(PeerError::Refused(format!(
                "the SM-DP+ refused {function} ({outcome}): subject {subject} ({}), reason {reason} ({}){}; {}",
                subject_name(subject),
                reason_name(reason),
                if message.is_empty() { String::new() } else { format!(": {message}") },
                what_to_do(subject, reason),
            )))
        }
        None => Err(PeerError::Unavailable(format!(
            "the SM-DP+'s answer to {function} has no functionExecutionStatus"
        ))),
    }
}

/// SGP.22's subject codes simdesk meets (section 5.1.6.4).
fn subject_name(code: &str) -> &'static str {
    match code {
        "1.2" => "function requester",
        "1.3.1" => "function",
        "1.3.2" => "function provider",
        "8.1.1" => "EID",
        "8.2.1" => "profile ICCID",
        "8.2.5" => "profile type",
        "8.2.6" => "matching ID",
        "8.8.5" => "download order",
        _ => "other",
    }
}

/// SGP.22's reason codes simdesk meets (section 5.1.6.4).
fn reason_name(code: &str) -> &'static str {
    match code {
        "1.1" => "not allowed",
        "2.1" => "invalid",
        "2.2" => "mandatory element missing",
        "2.3" => "conditional element missing",
        "3.3" => "already in use",
        "3.5" => "invalid state or destination",
        "3.7" => "unavailable",
        "3.8" => "refused",
        "3.9" => "unknown",
        "3.10" => "invalid association",
        "4.2" => "execution error",
        "6.4" => "maximum number of retries exceeded",
        _ => "unlisted",
    }
}

/// The operator's next step for a refusal.
fn what_to_do(subject: &str, reason: &str) -> &'static str {
    match (subject, reason) {
        ("8.2.1", "3.9") => "the SM-DP+ does not hold this ICCID: check the eSIM stock loaded there",
        ("8.2.1", "3.3" | "3.5") => {
            "the profile is not in a state that allows this: compare it with `simdesk esim reconcile`"
        }
        ("8.1.1", _) => "check the EID the traveller gave (32 digits from the phone's settings)",
        ("1.2" | "1.3.2", _) => "check [smdp] requester_id and the client certificate with the SM-DP+'s owner",
        _ => "ask the SM-DP+'s owner what the code means for this profile",
    }
}

fn text(answer: &Value, field: &str) -> Option<String> {
    answer[field].as_str().map(str::to_string)
}

#[async_trait]
impl Es2Plus for Es2PlusClient {
    async fn download_order(
        &self,
        call_id: &str,
        iccid: &str,
        eid: Option<&str>,
    ) -> Result<String, PeerError> {
        let mut body = json!({ "iccid": iccid });
        if let Some(eid) = eid {
            body["eid"] = eid.into();
        }
        let answer = self.call("downloadOrder", call_id, body).await?;
        Ok(text(&answer, "iccid").unwrap_or_else(|| iccid.to_string()))
    }

    async fn confirm_order(
        &self,
        call_id: &str,
        iccid: &str,
        eid: Option<&str>,
        release: bool,
    ) -> Result<Confirmed, PeerError> {
        let mut body = json!({ "iccid": iccid, "releaseFlag": release });
        if let Some(eid) = eid {
            body["eid"] = eid.into();
        }
        let answer = self.call("confirmOrder", call_id, body).await?;
        let (Some(matching_id), Some(smdp_address)) =
            (text(&answer, "matchingId"), text(&answer, "smdpAddress"))
        else {
            return Err(PeerError::Refused(
                "the SM-DP+ confirmed the order without a matchingId and smdpAddress; ask its owner"
                    .into(),
            ));
        };
        Ok(Confirmed {
            matching_id,
            smdp_address,
            eid: text(&answer, "eid"),
        })
    }

    async fn cancel_order(
        &self,
        call_id: &str,
        iccid: &str,
        eid: Option<&str>,
        matching_id: Option<&str>,
        final_status: FinalStatus,
    ) -> Result<(), PeerError> {
        let mut body = json!({
            "iccid": iccid,
            "finalProfileStatusIndicator": match final_status {
                FinalStatus::Available => "Available",
                FinalStatus::Unavailable => "Unavailable",
            },
        });
        if let Some(eid) = eid {
            body["eid"] = eid.into();
        }
        if let Some(matching_id) = matching_id {
            body["matchingId"] = matching_id.into();
        }
        self.call("cancelOrder", call_id, body).await.map(|_| ())
    }

    async fn release_profile(&self, call_id: &str, iccid: &str) -> Result<(), PeerError> {
        self.call("releaseProfile", call_id, json!({ "iccid": iccid }))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_execution_says_subject_reason_and_what_to_do() {
        let answer = json!({ "header": { "functionExecutionStatus": {
            "status": "Failed",
            "statusCodeData": { "subjectCode": "8.2.1", "reasonCode": "3.9", "message": "no such ICCID" }
        }}});
        let e = execution("confirmOrder", &answer).unwrap_err();
        assert!(e.is_permanent());
        let text = e.to_string();
        for part in [
            "confirmOrder",
            "8.2.1",
            "profile ICCID",
            "3.9",
            "unknown",
            "stock",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        let ok =
            json!({ "header": { "functionExecutionStatus": { "status": "Executed-WithWarning" }}});
        assert!(execution("releaseProfile", &ok).is_ok());
        assert!(!execution("releaseProfile", &json!({}))
            .unwrap_err()
            .is_permanent());
    }
}
