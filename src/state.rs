//! The shared state handed to every handler: one Arc, so a clone is one counter increment.

use crate::domain::Millis;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use crate::auth::RateLimiter;
use crate::bus::Bus;
use crate::config::Config;
use crate::search::Search;
use crate::store::Store;

/// Handlers reach the fields through `Deref`. Axum clones the state several times per
/// request; cloning the fields one by one (the store, the search index, the limiters …) was
/// dozens of atomic operations each time.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Store,
    pub search: Search,
    pub bus: Bus,
    pub config: Arc<Config>,
    /// Failed sign-ins per email.
    pub login_limiter: Arc<RateLimiter>,
    /// Failed sign-ins per client address.
    pub ip_limiter: Arc<RateLimiter>,
    /// Public channels (contact form submissions, chat sessions) per account and address.
    pub form_limiter: Arc<RateLimiter>,
    /// Chat messages per visitor (30 a minute, across their connections).
    pub chat_limiter: Arc<RateLimiter>,
    /// Form confirmation mails per recipient (3 a day: the form is no mail relay).
    pub confirm_limiter: Arc<RateLimiter>,
    /// Who each recently seen token or session cookie belongs to.
    pub sign_ins: crate::auth::SignInCache,
    /// When each session was last used (the idle timeout).
    pub session_seen: Arc<SessionSeen>,
    /// The roles that must use a second factor, as the stored setting says (kept here so a
    /// request needs no read to know).
    pub two_factor_roles: Arc<TwoFactorRoles>,
    /// The live accounts, as of the last credentials write (webhooks read them on every post).
    pub accounts: AccountsCache,
    /// Concurrent argon2 verifications allowed (memory-hard: ~19 MiB each).
    pub password_checks: Arc<tokio::sync::Semaphore>,
    pub started: Instant,
    /// Flips to true when the server begins shutting down (ends SSE streams).
    pub shutdown: watch::Receiver<bool>,
    /// When each signed-in user last made a request (store clock), for the idle state change.
    pub activity: Arc<Activity>,
    /// Each account's connection health, as its poller last saw it (CHAN-12).
    pub health: Arc<crate::health::HealthBoard>,
    /// Web chat visitors with an open widget (answers to the others go by mail).
    pub chat_online: Arc<crate::channels::webchat::Online>,
    /// Request counters and latencies for /metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The certificate served, when Atiende serves HTTPS itself.
    pub tls: Option<Arc<crate::tls::Tls>>,
    /// Rows written so far by each background export still running.
    pub exports: Arc<ExportProgress>,
    /// The database compaction running, or the last one this process ran.
    pub compactions: Arc<crate::maintenance::Compactions>,
}

/// The background exports running in this process, each with its count of rows written: a
/// job stored as running but missing here was cut short by a restart.
#[derive(Default)]
pub struct ExportProgress(
    std::sync::Mutex<std::collections::HashMap<u64, Arc<std::sync::atomic::AtomicU64>>>,
);

impl ExportProgress {
    pub fn start(&self, id: u64) -> Arc<std::sync::atomic::AtomicU64> {
        let rows = Arc::new(std::sync::atomic::AtomicU64::new(0));
        if let Ok(mut m) = self.0.lock() {
            m.insert(id, rows.clone());
        }
        rows
    }

    pub fn finish(&self, id: u64) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(&id);
        }
    }

    /// Rows written so far, when the job runs in this process.
    pub fn rows(&self, id: u64) -> Option<u64> {
        let m = self.0.lock().ok()?;
        m.get(&id)
            .map(|r| r.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// The live accounts, read again only after a write that changed users, sessions, tokens or
/// accounts (`Store::auth_generation`): a vendor's webhook finds its account and siblings
/// without a store read per post.
#[derive(Default)]
pub struct AccountsCache(std::sync::Mutex<Option<(u64, Arc<Vec<crate::domain::Account>>)>>);

impl AccountsCache {
    pub async fn live(
        &self,
        store: &Store,
    ) -> crate::error::AppResult<Arc<Vec<crate::domain::Account>>> {
        // Read before the store: a list read after it was current.
        let generation = store.auth_generation();
        if let Ok(cached) = self.0.lock() {
            if let Some((g, list)) = cached.as_ref() {
                if *g == generation {
                    return Ok(list.clone());
                }
            }
        }
        let list = Arc::new(store.read(crate::store::accounts::list).await?);
        if let Ok(mut cached) = self.0.lock() {
            *cached = Some((generation, list.clone()));
        }
        Ok(list)
    }
}

#[derive(Default)]
pub struct TwoFactorRoles(std::sync::atomic::AtomicU8);

impl TwoFactorRoles {
    fn bit(role: crate::domain::Role) -> u8 {
        match role {
            crate::domain::Role::Admin => 1,
            crate::domain::Role::Supervisor => 2,
            crate::domain::Role::Agent => 4,
        }
    }

    pub fn set(&self, roles: &[crate::domain::Role]) {
        let bits = roles.iter().fold(0, |acc, r| acc | Self::bit(*r));
        self.0.store(bits, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn requires(&self, role: crate::domain::Role) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst) & Self::bit(role) != 0
    }
}

/// When each session was last used, in memory; written to the session every few minutes (so
/// a restart keeps the idle clock within that much).
#[derive(Default)]
pub struct SessionSeen {
    /// token hash → (last use, last written).
    seen: std::sync::Mutex<std::collections::HashMap<String, (Millis, Millis)>>,
}

impl SessionSeen {
    const PERSIST_EVERY: Millis = 5 * 60 * 1000;

    /// Records a use (`stored`: what the session record says); answers whether to write it.
    pub fn touch(&self, hash: &str, now: Millis, stored: Millis) -> bool {
        let Ok(mut m) = self.seen.lock() else {
            return false;
        };
        if m.len() > 100_000 {
            m.clear();
        }
        if !m.contains_key(hash) {
            m.insert(hash.to_string(), (stored, stored));
        }
        let Some(e) = m.get_mut(hash) else {
            return false;
        };
        e.0 = e.0.max(now);
        if e.1 + Self::PERSIST_EVERY <= now {
            e.1 = now;
            return true;
        }
        false
    }

    pub fn last(&self, hash: &str) -> Option<Millis> {
        self.seen.lock().ok()?.get(hash).map(|e| e.0)
    }
}

/// Last request time per user, in memory: after a restart everyone counts as active from the
/// start, which only delays an idle change.
#[derive(Default)]
pub struct Activity {
    seen: std::sync::Mutex<std::collections::HashMap<u64, crate::domain::Millis>>,
}

impl Activity {
    pub fn touch(&self, user_id: u64, now: crate::domain::Millis) {
        if let Ok(mut m) = self.seen.lock() {
            m.insert(user_id, now);
        }
    }

    pub fn last(&self, user_id: u64) -> Option<crate::domain::Millis> {
        self.seen.lock().ok()?.get(&user_id).copied()
    }
}
