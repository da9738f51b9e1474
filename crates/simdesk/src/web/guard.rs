//! The web edge's defences: the client's address (from the connection, or from a trusted proxy's
//! `X-Forwarded-For`), abuse limits per address and account, and security headers on every answer.

use super::AppState;
use crate::services::limits::{self, Subject};
use crate::services::ServiceResult;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use simdesk_domain::limits::Limit;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

/// The address a request came from, as limits count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    /// The subject limits count: IPv6 clients by their /64 (one household or phone gets a
    /// whole /64, so single addresses would be free to rotate).
    pub fn key(&self) -> String {
        match self.0 {
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            None => "unknown".to_string(),
        }
    }

    pub fn subject(&self, state: &AppState, scope: &'static str) -> Subject {
        Subject::hashed(&state.ctx.keys, scope, &self.key())
    }
}

/// The right-most address of `X-Forwarded-For`: the one the trusted proxy itself saw (earlier
/// entries are whatever the client chose to send).
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .next_back()
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let ip = if state.trust_forwarded_for {
            forwarded_for(&parts.headers).or(peer)
        } else {
            peer
        };
        Ok(ClientIp(ip))
    }
}

/// Counts one attempt against each limit at the app's clock; refused with the wait when over.
pub async fn limit(
    state: &AppState,
    checks: Vec<(Limit, Subject)>,
    what: &str,
) -> ServiceResult<()> {
    limits::attempt(state.ctx.store.as_ref(), &checks, what, state.clock.now()).await
}

/// Codes already sent to a line (sign-in and cancellation together) in the rolling window: what
/// counts is what was sent, so a traveller pressing "send" too soon spends nothing.
pub async fn line_sends(state: &AppState, line_id: i64) -> ServiceResult<()> {
    let store = state.ctx.store.as_ref();
    let now = state.clock.now();
    let limit = state.limits.code_sends_per_line;
    let since = now - jiff::SignedDuration::from_secs(limit.window_secs.max(1));
    let mut sent = store.code_sends_since(line_id, false, since).await?;
    sent.extend(store.code_sends_since(line_id, true, since).await?);
    match limit.wait_after(&sent, now) {
        Some(wait) => Err(crate::services::ServiceError::TooManyAttempts {
            what: "codes sent to this line".into(),
            retry_after_secs: wait.as_secs().max(1),
        }),
        None => Ok(()),
    }
}

/// Wrong name/passport answers are counted per line and per account (a staff member or an API
/// token); while either is locked out, no answer is judged.
pub struct KnowledgeGuard {
    line: Subject,
    account: Subject,
}

impl KnowledgeGuard {
    pub fn new(line_id: i64, account: &str) -> KnowledgeGuard {
        KnowledgeGuard {
            line: Subject::id("knowledge:line", line_id),
            account: Subject::id("knowledge:account", account),
        }
    }

    /// Refused while the line or the account is locked out.
    pub async fn allowed(&self, state: &AppState) -> ServiceResult<()> {
        let store = state.ctx.store.as_ref();
        let now = state.clock.now();
        let what = "wrong identity answers";
        limits::not_locked(
            store,
            &state.limits.knowledge_failures_per_line,
            &self.line,
            what,
            now,
        )
        .await?;
        limits::not_locked(
            store,
            &state.limits.knowledge_failures_per_account,
            &self.account,
            what,
            now,
        )
        .await
    }

    /// Counts a wrong answer against both.
    pub async fn failed(&self, state: &AppState) {
        let store = state.ctx.store.as_ref();
        let now = state.clock.now();
        for (limit, subject) in [
            (&state.limits.knowledge_failures_per_line, &self.line),
            (&state.limits.knowledge_failures_per_account, &self.account),
        ] {
            if let Err(e) = limits::failed(store, limit, subject, now).await {
                tracing::warn!(error = %e, "a wrong identity answer could not be counted");
            }
        }
    }
}

const CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

/// Adds the security headers to every answer (pages, errors, 404s, receipts, documents, the API),
/// keeping any a handler set itself (a document's sandbox policy).
pub async fn security_headers(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::CONTENT_SECURITY_POLICY, CSP);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "same-origin");
    set(header::X_FRAME_OPTIONS, "DENY");
    if state.hsts {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
        secure_cookies(h);
    }
    response
}

/// Behind an https `public_url` every cookie is `Secure`, whether or not the proxy says
/// `X-Forwarded-Proto`.
fn secure_cookies(h: &mut HeaderMap) {
    let cookies: Vec<HeaderValue> = h.get_all(header::SET_COOKIE).iter().cloned().collect();
    if cookies.is_empty() {
        return;
    }
    h.remove(header::SET_COOKIE);
    for cookie in cookies {
        let secured = cookie
            .to_str()
            .ok()
            .filter(|c| !c.to_ascii_lowercase().contains("; secure"))
            .and_then(|c| HeaderValue::from_str(&format!("{c}; Secure")).ok());
        h.append(header::SET_COOKIE, secured.unwrap_or(cookie));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_added_address_is_the_last_one() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 203.0.113.9"),
        );
        assert_eq!(forwarded_for(&h), "203.0.113.9".parse().ok());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a = ClientIp("2001:db8:1:2::1".parse().ok());
        let b = ClientIp("2001:db8:1:2:ffff::9".parse().ok());
        assert_eq!(a.key(), b.key());
    }
}
