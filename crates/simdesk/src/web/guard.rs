//! The web edge's part of the guard: the client's address (from the connection, or from a trusted
//! proxy's `X-Forwarded-For`) and security headers on every answer; the rules are in
//! `services::guard`.

use super::AppState;
use crate::services::guard::{Address, Guard};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

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

/// The client's address: the peer's, or the trusted proxy's word for it.
impl FromRequestParts<AppState> for Address {
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
        Ok(Address(ip))
    }
}

impl AppState {
    /// The guard at the app's clock.
    pub fn guard(&self) -> Guard<'_> {
        Guard::new(&self.ctx, &self.limits, self.clock.now())
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
}
