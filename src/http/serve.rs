//! The HTTP server loop (instead of `axum::serve`, which has no header timeout nor a
//! connection cap): each connection is admitted only under the caps of
//! `[connections]` — overall and per address — and a request's headers must arrive within the
//! header timeout, so a thousand half-sent requests cannot hold the server. Refusals are
//! counted for /metrics. On shutdown, open connections finish their requests and close.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::config::ConnectionLimits;
use crate::metrics::Metrics;

/// Open connections, overall and per address.
#[derive(Default)]
struct Open {
    by_address: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection: its place is given back when it closes.
struct Slot {
    open: Arc<Open>,
    address: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut map) = self.open.by_address.lock() {
            if let Some(n) = map.get_mut(&self.address) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&self.address);
                }
            }
        }
    }
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The server holds its most connections.
    Full,
    /// This address holds its most connections.
    AddressFull,
}

impl Open {
    /// `shared`: the address speaks for many clients (a trusted proxy): only the overall cap
    /// applies to it.
    fn admit(
        self: &Arc<Self>,
        address: IpAddr,
        shared: bool,
        limits: &ConnectionLimits,
    ) -> Result<Slot, Refusal> {
        let mut map = self.by_address.lock().map_err(|_| Refusal::Full)?;
        let total: usize = map.values().sum();
        if total >= limits.max {
            return Err(Refusal::Full);
        }
        let mine = map.entry(address).or_insert(0);
        if *mine >= limits.per_address && !shared {
            return Err(Refusal::AddressFull);
        }
        *mine += 1;
        Ok(Slot {
            open: self.clone(),
            address,
        })
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections end
/// their requests (at most 10 s). Connections from `proxies` (the trusted ones) count only
/// toward the overall cap: a proxy carries every client's connections.
pub async fn serve<L>(
    mut listener: L,
    router: axum::Router,
    limits: ConnectionLimits,
    proxies: Arc<Vec<crate::config::IpNet>>,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) where
    L: Listener<Addr = SocketAddr>,
{
    let open = Arc::new(Open::default());
    // Dropped at shutdown: every connection task then closes gracefully.
    let (stop_tx, stop_rx) = watch::channel(());
    // Every task holds a receiver; all gone means every connection has closed.
    let (closed_tx, closed_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        let ip = peer.ip().to_canonical();
        let shared = proxies.iter().any(|p| p.contains(ip));
        let slot = match open.admit(ip, shared, &limits) {
            Ok(slot) => slot,
            Err(refusal) => {
                metrics.refused_connection(refusal);
                tracing::debug!(%peer, ?refusal, "connection refused");
                drop(io);
                continue;
            }
        };
        let service = router
            .clone()
            .map_request(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.map(axum::body::Body::new)
            });
        let service = TowerToHyperService::new(service);
        let mut stop = stop_rx.clone();
        let closed = closed_rx.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let mut builder = Builder::new(TokioExecutor::new());
            // half_close: a client that shut its writing side after the body (as a plain
            // client does once it sent everything) still gets the answer.
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .half_close(true);
            builder
                .http2()
                .timer(TokioTimer::new())
                .enable_connect_protocol()
                .keep_alive_interval(Duration::from_secs(30));
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
            tokio::pin!(conn);
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::trace!(error = %e, "connection ended");
                        }
                        break;
                    }
                    _ = stop.changed() => conn.as_mut().graceful_shutdown(),
                }
            }
            drop(slot);
            drop(closed);
        });
    }
    drop(listener);
    drop(stop_tx);
    drop(closed_rx);
    let _ = tokio::time::timeout(Duration::from_secs(10), closed_tx.closed()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_capped_overall_and_per_address_and_given_back() {
        let limits = ConnectionLimits {
            header_timeout: Duration::from_secs(1),
            max: 3,
            per_address: 2,
        };
        let open = Arc::new(Open::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = open.admit(a, false, &limits).unwrap();
        let _a2 = open.admit(a, false, &limits).unwrap();
        assert_eq!(
            open.admit(a, false, &limits).err(),
            Some(Refusal::AddressFull)
        );
        // A trusted proxy is held only to the overall cap.
        let proxied = open.admit(a, true, &limits).unwrap();
        assert_eq!(open.admit(b, false, &limits).err(), Some(Refusal::Full));
        drop(proxied);
        let _b1 = open.admit(b, false, &limits).unwrap();
        assert_eq!(open.admit(b, false, &limits).err(), Some(Refusal::Full));
        drop(a1);
        assert!(open.admit(b, false, &limits).is_ok());
    }
}
