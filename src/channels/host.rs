//! The poller host: one task per account whose channel reads from its vendor by polling or
//! holding a connection (IMAP IDLE today; X and the app stores next). The host owns what every
//! poller needs: it starts a poller when an account is configured for it, restarts it within
//! seconds of a settings change, stops it when the account goes, reconnects after a failure
//! with a backoff (5 s doubling to 5 min), and keeps the account's health (CHAN-12).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::watch;

use crate::domain::Account;
use crate::error::AppResult;
use crate::health::HealthBoard;
use crate::store::{accounts, Store};

/// What a running poller may use.
pub struct PollContext {
    pub account_id: u64,
    pub store: Store,
    pub health: Arc<HealthBoard>,
    /// Turns true when the poller must end (settings changed, account gone, shutdown).
    pub stop: watch::Receiver<bool>,
}

/// One connected session of a poller: returns Ok when told to stop, Err when the session
/// failed (the host waits, then starts another).
pub trait PollSession: Send + Sync + 'static {
    fn run<'a>(&'a self, ctx: &'a PollContext) -> BoxFuture<'a, AppResult<()>>;
}

/// Whether an account polls, as its channel reads its settings.
pub enum Polling {
    /// The channel does not poll (it receives by webhook or socket).
    No,
    /// The channel polls, but this account is not set up for it yet.
    NotConfigured,
    /// Settings that cannot work: shown as the account's health.
    Invalid(String),
    /// Poll with this session; `fingerprint` names the settings it runs with (a change
    /// restarts it).
    Yes {
        fingerprint: String,
        session: Arc<dyn PollSession>,
    },
}

/// Waits before reconnecting after `failures` failed sessions: 5 s doubling, at most 5 min.
pub fn reconnect_delay(failures: u32) -> Duration {
    Duration::from_secs((5u64 << failures.min(6)).min(300))
}

/// A session that lasted this long was healthy: the next failure starts the backoff over.
const HEALTHY_SESSION: Duration = Duration::from_secs(60);
/// How often the host looks for accounts added, changed or removed.
const LOOK_EVERY: Duration = Duration::from_secs(2);

async fn poll_account(ctx: PollContext, session: Arc<dyn PollSession>) {
    let mut stop = ctx.stop.clone();
    let mut failures = 0u32;
    loop {
        ctx.health.connecting(ctx.account_id);
        let began = std::time::Instant::now();
        match session.run(&ctx).await {
            Ok(()) => return,
            Err(e) => {
                ctx.health.failing(ctx.account_id, &e.message);
                if began.elapsed() >= HEALTHY_SESSION {
                    failures = 0;
                }
                let delay = reconnect_delay(failures);
                failures = failures.saturating_add(1);
                tracing::warn!(account = ctx.account_id, error = %e.message, retry_in_s = delay.as_secs(), "poller session failed");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
        if *ctx.stop.borrow() {
            return;
        }
    }
}

struct Running {
    fingerprint: String,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Keeps one poller per account that polls, until shutdown.
pub async fn supervise(
    store: Store,
    health: Arc<HealthBoard>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut running: HashMap<u64, Running> = HashMap::new();
    let mut tick = tokio::time::interval(LOOK_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
        let accounts = match store.read(accounts::list).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e.message, "cannot list accounts for the pollers");
                continue;
            }
        };
        let mut wanted: HashMap<u64, (String, Arc<dyn PollSession>)> = HashMap::new();
        for a in accounts.iter().filter(|a| a.deleted_at.is_none()) {
            match polling_of(a) {
                Polling::Yes {
                    fingerprint,
                    session,
                } => {
                    wanted.insert(a.id, (fingerprint, session));
                }
                Polling::No => {}
                Polling::NotConfigured => health.not_configured(a.id),
                Polling::Invalid(why) => {
                    health.failing_with(a.id, crate::domain::Note::SettingsInvalid, &why);
                }
            }
        }
        // A poller whose settings changed or whose account went stops before another one
        // starts: two sessions on one mailbox would fetch the same mail.
        let stale: Vec<u64> = running
            .iter()
            .filter(|(id, r)| {
                wanted.get(id).is_none_or(|(f, _)| *f != r.fingerprint) || r.task.is_finished()
            })
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            if let Some(r) = running.remove(&id) {
                let _ = r.stop.send(true);
                let abort = r.task.abort_handle();
                if tokio::time::timeout(Duration::from_secs(10), r.task)
                    .await
                    .is_err()
                {
                    abort.abort();
                }
            }
        }
        for (id, (fingerprint, session)) in wanted {
            if running.contains_key(&id) {
                continue;
            }
            let (stop_tx, stop_rx) = watch::channel(false);
            let ctx = PollContext {
                account_id: id,
                store: store.clone(),
                health: health.clone(),
                stop: stop_rx,
            };
            let task = tokio::spawn(poll_account(ctx, session));
            running.insert(
                id,
                Running {
                    fingerprint,
                    stop: stop_tx,
                    task,
                },
            );
        }
        health.retain(|id| accounts.iter().any(|a| a.id == id));
    }
    // Shutdown: pollers finish what they hold (it is committed with its cursor) and log out.
    for r in running.values() {
        let _ = r.stop.send(true);
    }
    // All together, within one bound: the process must exit within seconds of SIGTERM.
    let tasks = running.into_values().map(|r| r.task);
    let _ = tokio::time::timeout(
        Duration::from_secs(4),
        futures_util::future::join_all(tasks),
    )
    .await;
}

/// Whether `account` polls: asked of its channel. A channel that polls but is not set up
/// shows "not configured".
fn polling_of(account: &Account) -> Polling {
    super::driver(account.kind).polling(account)
}
