//! Behind a reverse proxy: X-Forwarded-For and X-Forwarded-Proto are believed only from the
//! configured `trusted_proxies`. From those, the client's address replaces the proxy's in
//! `ConnectInfo` (rate limits, sign-in limits and /metrics see the real client), and the
//! scheme the client used is passed on in a header of ours that no client can set.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use crate::config::IpNet;
use crate::state::AppState;

/// Headers a proxy adds to what it forwards.
pub const FORWARDING_HEADERS: [&str; 4] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-real-ip",
];

/// The scheme a trusted proxy says the client used (http or https).
pub const CHECKED_PROTO: &str = "x-atiende-checked-proto";

pub async fn forwarded(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    req.headers_mut().remove(CHECKED_PROTO);
    let trusted = &state.config.trusted_proxies;
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if let Some(peer) = peer.filter(|p| is_trusted(trusted, p.ip())) {
        if let Some(client) = client_address(req.headers(), trusted) {
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(client, peer.port())));
        }
        // The last value is the one our proxy wrote; earlier ones came with the request.
        let proto = req
            .headers()
            .get_all("x-forwarded-proto")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| v == "https" || v == "http");
        if let Some(proto) = proto.and_then(|p| HeaderValue::from_str(&p).ok()) {
            req.headers_mut().insert(CHECKED_PROTO, proto);
        }
    }
    next.run(req).await
}

fn is_trusted(trusted: &[IpNet], ip: IpAddr) -> bool {
    trusted.iter().any(|net| net.contains(ip))
}

/// The rightmost X-Forwarded-For address that is not a trusted proxy itself: addresses to
/// its left were written by the client and prove nothing.
fn client_address(headers: &axum::http::HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| {
            let hop = hop.trim();
            hop.parse::<IpAddr>()
                .ok()
                .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        })
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !is_trusted(trusted, **ip))
        .or(hops.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_last_hop_before_the_trusted_ones() {
        let trusted = [
            IpNet::parse("10.0.0.0/8").unwrap(),
            IpNet::parse("127.0.0.1").unwrap(),
        ];
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "1.1.1.1, 203.0.113.7, 10.1.2.3".parse().unwrap(),
        );
        assert_eq!(client_address(&h, &trusted), "203.0.113.7".parse().ok());
        h.insert("x-forwarded-for", "10.0.0.1".parse().unwrap());
        assert_eq!(client_address(&h, &trusted), "10.0.0.1".parse().ok());
        h.insert("x-forwarded-for", "[2001:db8::1]:443".parse().unwrap());
        assert_eq!(client_address(&h, &trusted), "2001:db8::1".parse().ok());
        h.insert("x-forwarded-for", "basura".parse().unwrap());
        assert_eq!(client_address(&h, &trusted), None);
        assert!(IpNet::parse("10.0.0.0/8")
            .unwrap()
            .contains("::ffff:10.9.9.9".parse().unwrap()));
        assert!(!IpNet::parse("10.0.0.0/8")
            .unwrap()
            .contains("11.0.0.1".parse().unwrap()));
        assert!(IpNet::parse("::1")
            .unwrap()
            .contains("::1".parse().unwrap()));
        assert!(IpNet::parse("10.0.0.0/33").is_none());
    }
}
