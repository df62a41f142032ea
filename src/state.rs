//! The shared state handed to every handler: cheap to clone.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use crate::auth::RateLimiter;
use crate::bus::Bus;
use crate::config::Config;
use crate::search::Search;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub search: Search,
    pub bus: Bus,
    pub config: Arc<Config>,
    /// Failed sign-ins per email.
    pub login_limiter: Arc<RateLimiter>,
    /// Failed sign-ins per client address.
    pub ip_limiter: Arc<RateLimiter>,
    /// Concurrent argon2 verifications allowed (memory-hard: ~19 MiB each).
    pub password_checks: Arc<tokio::sync::Semaphore>,
    pub started: Instant,
    /// Flips to true when the server begins shutting down (ends SSE streams).
    pub shutdown: watch::Receiver<bool>,
}
