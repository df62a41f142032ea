//! HTTPS served by Atiende itself (OPS-1): a rustls listener whose certificate can be swapped
//! while it runs, a plain HTTP listener that redirects to it and answers ACME HTTP-01, and
//! TLS-ALPN-01 answered on the TLS listener. Certificates come from ACME (`acme`) or from PEM
//! files that are reloaded when they change.

pub mod acme;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::server::TlsStream;
use utoipa::ToSchema;

use crate::domain::Millis;
use crate::error::{AppError, AppResult};

pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// What /status shows about the certificate.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct TlsStatus {
    /// acme or files.
    pub source: String,
    pub domain: Option<String>,
    /// The certificate served now: its names and end of validity (RFC 3339).
    pub names: Vec<String>,
    pub not_after: Option<String>,
    /// When it was obtained or loaded (RFC 3339).
    pub since: Option<String>,
    /// The last failure to obtain or load one, kept until the next success.
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    /// When the next renewal attempt is due (RFC 3339), for ACME.
    pub next_attempt: Option<String>,
}

/// A certificate ready to serve, with what renewal needs to know about it.
pub struct Served {
    pub key: Arc<CertifiedKey>,
    pub names: Vec<String>,
    pub not_before: Millis,
    pub not_after: Millis,
}

/// The shared TLS state: the certificate served, the pending ACME challenge answers, and
/// the status.
#[derive(Default)]
pub struct Tls {
    current: RwLock<Option<Arc<Served>>>,
    /// TLS-ALPN-01: a self-signed challenge certificate per name.
    alpn_challenges: Mutex<HashMap<String, Arc<CertifiedKey>>>,
    /// HTTP-01: token → key authorization.
    http_challenges: Mutex<HashMap<String, String>>,
    status: Mutex<TlsStatus>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

impl Tls {
    pub fn new(source: &str, domain: Option<String>) -> Arc<Tls> {
        let tls = Tls::default();
        if let Ok(mut s) = tls.status.lock() {
            s.source = source.into();
            s.domain = domain;
        }
        Arc::new(tls)
    }

    pub fn current(&self) -> Option<Arc<Served>> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    /// Serves `served` from the next handshake on.
    pub fn install(&self, served: Served, now: Millis) {
        if let Ok(mut s) = self.status.lock() {
            s.names = served.names.clone();
            s.not_after = Some(crate::domain::clock::to_rfc3339(served.not_after));
            s.since = Some(crate::domain::clock::to_rfc3339(now));
            s.last_error = None;
            s.last_error_at = None;
        }
        if let Ok(mut c) = self.current.write() {
            *c = Some(Arc::new(served));
        }
    }

    pub fn failed(&self, error: &str, now: Millis) {
        if let Ok(mut s) = self.status.lock() {
            s.last_error = Some(error.to_string());
            s.last_error_at = Some(crate::domain::clock::to_rfc3339(now));
        }
    }

    pub fn set_next_attempt(&self, at: Millis) {
        if let Ok(mut s) = self.status.lock() {
            s.next_attempt = Some(crate::domain::clock::to_rfc3339(at));
        }
    }

    pub fn status(&self) -> TlsStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn set_alpn_challenge(&self, name: &str, key: Option<Arc<CertifiedKey>>) {
        if let Ok(mut m) = self.alpn_challenges.lock() {
            match key {
                Some(k) => m.insert(name.to_string(), k),
                None => m.remove(name),
            };
        }
    }

    fn set_http_challenge(&self, token: &str, answer: Option<String>) {
        if let Ok(mut m) = self.http_challenges.lock() {
            match answer {
                Some(a) => m.insert(token.to_string(), a),
                None => m.remove(token),
            };
        }
    }

    fn http_challenge(&self, token: &str) -> Option<String> {
        self.http_challenges
            .lock()
            .ok()
            .and_then(|m| m.get(token).cloned())
    }
}

impl ResolvesServerCert for Tls {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let acme = hello
            .alpn()
            .is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN));
        if acme {
            let name = hello.server_name()?.to_ascii_lowercase();
            return self
                .alpn_challenges
                .lock()
                .ok()
                .and_then(|m| m.get(&name).cloned());
        }
        self.current().map(|s| s.key.clone())
    }
}

/// TLS 1.2 and 1.3 with the certificate `tls` resolves; HTTP/1.1, and acme-tls/1 for the CA.
pub fn server_config(tls: Arc<Tls>) -> AppResult<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| AppError::internal(format!("tls: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(tls);
    config.alpn_protocols = vec![b"http/1.1".to_vec(), ACME_TLS_ALPN.to_vec()];
    Ok(Arc::new(config))
}

/// A chain and key in PEM, checked: the key must match a type rustls can sign with.
pub fn certified_key(chain_pem: &[u8], key_pem: &[u8]) -> AppResult<Served> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| AppError::internal(format!("the certificate file is not PEM: {e}")))?;
    let first = chain
        .first()
        .ok_or_else(|| AppError::internal("the certificate file holds no certificate"))?;
    let (names, not_before, not_after) = describe(first)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| AppError::internal(format!("the key file holds no private key: {e}")))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| AppError::internal(format!("the private key cannot be used: {e}")))?;
    let key = CertifiedKey::new(chain, signer);
    key.keys_match().map_err(|e| {
        AppError::internal(format!("the key does not belong to the certificate: {e}"))
    })?;
    Ok(Served {
        key: Arc::new(key),
        names,
        not_before,
        not_after,
    })
}

/// The DNS names and validity of a certificate.
fn describe(der: &CertificateDer<'_>) -> AppResult<(Vec<String>, Millis, Millis)> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| AppError::internal(format!("unreadable certificate: {e}")))?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let GeneralName::DNSName(n) = name {
                names.push(n.to_ascii_lowercase());
            }
        }
    }
    let validity = cert.validity();
    Ok((
        names,
        validity.not_before.timestamp() * 1000,
        validity.not_after.timestamp() * 1000,
    ))
}

/// Accepted TLS connections, handshaken on their own tasks so a slow client never holds up
/// the others; connections that only came for the ACME TLS-ALPN-01 check are closed here.
pub struct TlsListener {
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> AppResult<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, accepted) = mpsc::channel(64);
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    _ = tx.closed() => return,
                    accepted = tcp.accept() => match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::debug!(error = %e, "tls accept");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let handshake =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                    let Ok(Ok(mut tls)) = handshake.await else {
                        return;
                    };
                    if tls.get_ref().1.alpn_protocol() == Some(ACME_TLS_ALPN) {
                        use tokio::io::AsyncWriteExt;
                        let _ = tls.shutdown().await;
                        return;
                    }
                    let _ = tx.send((tls, peer)).await;
                });
            }
        });
        Ok(TlsListener { accepted, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(accepted) => accepted,
            // The acceptor task only ends once this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The plain HTTP side: ACME HTTP-01 answers, and a redirect to HTTPS for everything else
/// (to the configured domain when there is one, else to the name the request asked for).
pub fn http_router(tls: Arc<Tls>, https_port: u16) -> Router {
    let domain = tls.status().domain;
    Router::new()
        .route(
            "/.well-known/acme-challenge/{token}",
            get(http_challenge).with_state(tls),
        )
        .fallback(move |headers: HeaderMap, uri: Uri| {
            let domain = domain.clone();
            async move { to_https(domain.as_deref(), &headers, &uri, https_port) }
        })
}

async fn http_challenge(State(tls): State<Arc<Tls>>, UrlPath(token): UrlPath<String>) -> Response {
    match tls.http_challenge(&token) {
        Some(answer) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], answer).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The request's Host, when it is a plain name or address with an optional port.
pub fn request_host(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
}

fn to_https(domain: Option<&str>, headers: &HeaderMap, uri: &Uri, https_port: u16) -> Response {
    let host = domain.or_else(|| request_host(headers).map(without_port));
    let Some(host) = host else {
        return (
            StatusCode::BAD_REQUEST,
            "HTTPS only: ask for this site by its name",
        )
            .into_response();
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    Redirect::permanent(&format!("https://{host}{port}{path}")).into_response()
}

/// `name:80` → `name`; `[::1]:80` → `[::1]`.
fn without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.parse::<u16>().is_ok())
        .map_or(host, |(name, _)| name)
}

/// Keeps a certificate from files served, reloading it when either file changes.
pub async fn watch_files(
    tls: Arc<Tls>,
    cert: PathBuf,
    key: PathBuf,
    clock: Arc<dyn crate::domain::Clock>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Loaded at start already.
    let mut seen = Some((modified(&cert), modified(&key)));
    loop {
        let stamp = (modified(&cert), modified(&key));
        if Some(stamp) != seen {
            match load_files(&cert, &key) {
                Ok(served) => {
                    tracing::info!(names = ?served.names, "certificate loaded from files");
                    tls.install(served, clock.now_ms());
                }
                Err(e) => {
                    tracing::warn!(error = %e.message, "certificate files not loaded; serving the previous one");
                    tls.failed(&e.message, clock.now_ms());
                }
            }
            seen = Some(stamp);
        }
        // A stat of two files every few seconds costs nothing and makes a replaced
        // certificate live at once.
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3)) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

pub fn load_files(cert: &Path, key: &Path) -> AppResult<Served> {
    let read = |p: &Path| {
        std::fs::read(p)
            .map_err(|e| AppError::internal(format!("cannot read {}: {e}", p.display())))
    };
    certified_key(&read(cert)?, &read(key)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_keep_the_path_and_drop_the_port() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "soporte.tienda.cl:80".parse().unwrap());
        let uri: Uri = "/t/12?x=1".parse().unwrap();
        let r = to_https(None, &headers, &uri, 443);
        assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            r.headers()[header::LOCATION],
            "https://soporte.tienda.cl/t/12?x=1"
        );
        let r = to_https(None, &headers, &uri, 8443);
        assert_eq!(
            r.headers()[header::LOCATION],
            "https://soporte.tienda.cl:8443/t/12?x=1"
        );
        headers.insert(header::HOST, "evil.cl/@x".parse().unwrap());
        assert_eq!(
            to_https(None, &headers, &uri, 443).status(),
            StatusCode::BAD_REQUEST
        );
        let r = to_https(Some("soporte.tienda.cl"), &headers, &uri, 443);
        assert_eq!(
            r.headers()[header::LOCATION],
            "https://soporte.tienda.cl/t/12?x=1"
        );
    }

    #[test]
    fn a_certificate_and_its_key_load_and_a_wrong_key_is_refused() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["soporte.tienda.cl".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let served = certified_key(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();
        assert_eq!(served.names, ["soporte.tienda.cl"]);
        assert!(served.not_after > served.not_before);
        let other = rcgen::KeyPair::generate().unwrap();
        assert!(certified_key(cert.pem().as_bytes(), other.serialize_pem().as_bytes()).is_err());
        assert!(certified_key(b"nada", key.serialize_pem().as_bytes()).is_err());
    }
}
