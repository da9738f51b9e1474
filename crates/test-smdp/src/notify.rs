//! HandleDownloadProgressInfo to the operator: one ordered queue, retried with backoff until the
//! operator answers 2xx, as a real SM-DP+ keeps a notification until it is taken.
//!
//! One queue keeps delivery in the order the control API asked for, which is what lets a test
//! make "installed before downloaded" happen on purpose.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;

use crate::es2p::{self, status};
use crate::server::App;
use crate::store::Progress;

/// Where notifications go: the operator's ES2+ endpoint.
#[derive(Debug, Clone)]
pub struct Target {
    https: bool,
    host: String,
    port: u16,
    authority: String,
    path_and_query: String,
}

impl Target {
    /// Parses `--notify-url`; a URL without a path gets SGP.22's path for the function.
    pub fn parse(url: &str) -> anyhow::Result<Target> {
        let uri: Uri = url.parse().with_context(|| format!("{url} is not a URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => bail!("{url}: the notification URL must be http:// or https://"),
        };
        let authority = uri
            .authority()
            .with_context(|| format!("{url}: no host"))?
            .clone();
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path = match uri.path() {
            "" | "/" => format!(
                "{}/{}",
                es2p::BASE_PATH,
                es2p::HANDLE_DOWNLOAD_PROGRESS_INFO
            ),
            path => path.to_string(),
        };
        let path_and_query = match uri.query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        Ok(Target {
            https,
            host,
            port,
            authority: authority.to_string(),
            path_and_query,
        })
    }

    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority, self.path_and_query)
    }
}

/// How the notifier reaches the operator and how patiently it retries.
#[derive(Clone)]
pub struct NotifyConfig {
    pub target: Option<Target>,
    pub token: Option<String>,
    pub tls: Arc<ClientConfig>,
    pub requester_id: String,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    pub timeout: Duration,
}

/// One notification waiting in the queue: its record's index and how long to wait first.
#[derive(Debug)]
pub struct Queued {
    pub record: usize,
    pub delay: Duration,
}

/// The JSON body of HandleDownloadProgressInfo (SGP.22 §5.3.5).
pub fn body(progress: &Progress, requester_id: &str, call_id: &str) -> serde_json::Value {
    let mut point_status = json!({ "status": status::SUCCESS });
    if let Some(code) = &progress.failure {
        point_status = json!({ "status": status::FAILED, "statusCodeData": code });
    }
    let mut body = json!({
        "header": {
            "functionRequesterIdentifier": requester_id,
            "functionCallIdentifier": call_id,
        },
        "iccid": progress.iccid,
        "profileType": progress.profile_type,
        "timestamp": progress.timestamp,
        "notificationPointId": progress.point,
        "notificationPointStatus": point_status,
    });
    if let Some(eid) = &progress.eid {
        body["eid"] = json!(eid);
    }
    body
}

/// Sends queued notifications one after the other, each until it is taken.
pub async fn run(app: Arc<App>, mut queue: mpsc::UnboundedReceiver<Queued>) {
    let config = app.notify.clone();
    while let Some(item) = queue.recv().await {
        if !item.delay.is_zero() {
            tokio::time::sleep(item.delay).await;
        }
        let Some(target) = &config.target else {
            app.note_unsent(item.record, "not sent: the server has no --notify-url");
            continue;
        };
        let payload = app.notification_body(item.record);
        let mut backoff = config.first_backoff;
        loop {
            let outcome =
                tokio::time::timeout(config.timeout, post(target, &config, payload.clone()))
                    .await
                    .unwrap_or_else(|_| Err("no answer before the timeout".into()));
            match outcome {
                Ok(code) if code.is_success() => {
                    app.note_attempt(item.record, Some(code.as_u16()), None);
                    break;
                }
                Ok(code) => {
                    app.note_attempt(item.record, Some(code.as_u16()), None);
                    tracing::info!(
                        record = item.record,
                        status = code.as_u16(),
                        "notification refused, will retry"
                    );
                }
                Err(e) => {
                    tracing::info!(record = item.record, error = %e, "notification not delivered, will retry");
                    app.note_attempt(item.record, None, Some(e));
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(config.max_backoff);
        }
    }
}

/// One POST of a notification; the operator's HTTP status, or why there was none.
async fn post(
    target: &Target,
    config: &NotifyConfig,
    payload: Bytes,
) -> Result<StatusCode, String> {
    let mut request = Request::post(target.path_and_query.as_str())
        .header(HOST, target.authority.as_str())
        .header(CONTENT_TYPE, es2p::CONTENT_TYPE)
        .header(es2p::ADMIN_PROTOCOL_HEADER, es2p::ADMIN_PROTOCOL)
        // One request per connection: nothing to keep alive between notifications that may be
        // minutes apart.
        .header(CONNECTION, "close");
    if let Some(token) = &config.token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request
        .body(Full::new(payload))
        .map_err(|e| format!("building the request: {e}"))?;

    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("connecting to {}: {e}", target.authority))?;
    if target.https {
        let name = ServerName::try_from(target.host.clone())
            .map_err(|e| format!("{}: {e}", target.host))?;
        let tls = TlsConnector::from(config.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {}: {e}", target.authority))?;
        exchange(TokioIo::new(tls), request).await
    } else {
        exchange(TokioIo::new(tcp), request).await
    }
}

async fn exchange<T>(io: T, request: Request<Full<Bytes>>) -> Result<StatusCode, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let driver = tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("sending: {e}"));
    let result = match response {
        Ok(response) => {
            let status = response.status();
            // Read the answer through so the operator's server sees a clean close.
            let _ = response.into_body().collect().await;
            Ok(status)
        }
        Err(e) => Err(e),
    };
    driver.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_without_path_gets_the_spec_path() {
        let t = Target::parse("https://127.0.0.1:8443").unwrap();
        assert_eq!(
            t.url(),
            "https://127.0.0.1:8443/gsma/rsp2/es2plus/handleDownloadProgressInfo"
        );
        let t = Target::parse("http://localhost:9000/").unwrap();
        assert_eq!(t.port, 9000);
        assert_eq!(
            t.path_and_query,
            "/gsma/rsp2/es2plus/handleDownloadProgressInfo"
        );
        let t = Target::parse("http://[::1]/es2/notify?x=1").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 80));
        assert_eq!(t.path_and_query, "/es2/notify?x=1");
        assert!(Target::parse("ftp://x/").is_err());
    }
}
