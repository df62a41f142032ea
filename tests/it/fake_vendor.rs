//! The test channel's vendor (src/channels/test_channel.rs): a local server that checks the
//! bearer token as a vendor would, records what it is sent, and can fail, hang or go down on
//! request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

/// How the vendor answers the next sends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SendMode {
    Ok,
    /// 503 to the next `n` sends, then ok.
    Unavailable(usize),
    /// Takes the request and never answers.
    Hang,
}

pub struct Vendor {
    token: String,
    pub sends: Mutex<Vec<Value>>,
    pub send_attempts: AtomicUsize,
    pub pings: AtomicUsize,
    mode: Mutex<SendMode>,
    ping_fails: Mutex<bool>,
}

impl Vendor {
    pub fn set_mode(&self, mode: SendMode) {
        *self.mode.lock().unwrap() = mode;
    }
    pub fn set_ping_failing(&self, failing: bool) {
        *self.ping_fails.lock().unwrap() = failing;
    }
    fn authorised(&self, headers: &HeaderMap) -> bool {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bearer {}", self.token))
    }
}

pub struct FakeVendor {
    pub base: String,
    pub vendor: Arc<Vendor>,
}

async fn send(
    State(v): State<Arc<Vendor>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> StatusCode {
    if !v.authorised(&headers) {
        return StatusCode::UNAUTHORIZED;
    }
    v.send_attempts.fetch_add(1, Ordering::SeqCst);
    let mode = *v.mode.lock().unwrap();
    match mode {
        SendMode::Unavailable(n) if n > 0 => {
            v.set_mode(SendMode::Unavailable(n - 1));
            StatusCode::SERVICE_UNAVAILABLE
        }
        SendMode::Hang => {
            std::future::pending::<()>().await;
            StatusCode::OK
        }
        _ => {
            v.sends.lock().unwrap().push(body);
            StatusCode::OK
        }
    }
}

async fn ping(State(v): State<Arc<Vendor>>, headers: HeaderMap) -> StatusCode {
    if !v.authorised(&headers) {
        return StatusCode::UNAUTHORIZED;
    }
    v.pings.fetch_add(1, Ordering::SeqCst);
    if *v.ping_fails.lock().unwrap() {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

impl FakeVendor {
    pub async fn start(token: &str) -> FakeVendor {
        let vendor = Arc::new(Vendor {
            token: token.to_string(),
            sends: Mutex::new(Vec::new()),
            send_attempts: AtomicUsize::new(0),
            pings: AtomicUsize::new(0),
            mode: Mutex::new(SendMode::Ok),
            ping_fails: Mutex::new(false),
        });
        let app = Router::new()
            .route("/send", post(send))
            .route("/ping", get(ping))
            .with_state(vendor.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeVendor { base, vendor }
    }
}

/// The signature the vendor puts on a webhook body.
pub fn sign(secret: &str, body: &[u8]) -> String {
    use sha2::Digest;
    // HMAC-SHA256 by its definition (RFC 2104), so the test does not share the server's code.
    let mut key = [0u8; 64];
    key[..secret.len()].copy_from_slice(secret.as_bytes());
    let inner_key: Vec<u8> = key.iter().map(|b| b ^ 0x36).collect();
    let outer_key: Vec<u8> = key.iter().map(|b| b ^ 0x5c).collect();
    let inner = sha2::Sha256::new()
        .chain_update(&inner_key)
        .chain_update(body)
        .finalize();
    let outer = sha2::Sha256::new()
        .chain_update(&outer_key)
        .chain_update(inner)
        .finalize();
    format!("sha256={}", hex::encode(outer))
}
