//! The email channel (CHAN-1) and the system's mail (OPS-6): one IMAP poller per email account,
//! the sender that the outbox workers hand replies, auto-replies and system mail to (SMTP),
//! and the health of each account (CHAN-12).

pub mod imap;
pub mod notify;
pub mod parse;
pub mod settings;
pub mod smtp;
pub mod templates;
pub mod thread;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::{Channel, DeliveryStatus, Millis, OutboxRow, Outcome, SystemMail};
use crate::error::AppResult;
use crate::health::HealthBoard;
use crate::store::mail as mail_store;
use crate::store::{accounts, Store};
use settings::EmailSettings;

/// What one account's poller needs.
pub struct Poller {
    pub account_id: u64,
    pub store: Store,
    pub health: Arc<HealthBoard>,
    pub stop: watch::Receiver<bool>,
}

/// Waits before reconnecting after `failures` failed sessions: 5 s doubling, at most 5 min.
pub fn reconnect_delay(failures: u32) -> Duration {
    Duration::from_secs((5u64 << failures.min(6)).min(300))
}

/// A session that lasted this long was healthy: the next failure starts the backoff over.
const HEALTHY_SESSION: Duration = Duration::from_secs(60);

async fn poll_account(poller: Poller, settings: EmailSettings) {
    let mut stop = poller.stop.clone();
    let mut failures = 0u32;
    loop {
        poller.health.connecting(poller.account_id);
        let began = std::time::Instant::now();
        match imap::run_session(&poller, &settings).await {
            Ok(()) => return,
            Err(e) => {
                poller.health.failing(poller.account_id, &e.message);
                if began.elapsed() >= HEALTHY_SESSION {
                    failures = 0;
                }
                let delay = reconnect_delay(failures);
                failures = failures.saturating_add(1);
                tracing::warn!(account = poller.account_id, error = %e.message, retry_in_s = delay.as_secs(), "IMAP session failed");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
        if *poller.stop.borrow() {
            return;
        }
    }
}

struct Running {
    fingerprint: String,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Keeps one poller per email account with an IMAP server, restarting it when its settings
/// change and stopping it when the account goes.
pub async fn supervise(
    store: Store,
    health: Arc<HealthBoard>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut running: HashMap<u64, Running> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
        let accounts = match store.read(accounts::list).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e.message, "cannot list accounts for the mail pollers");
                continue;
            }
        };
        let mut wanted: HashMap<u64, (String, EmailSettings)> = HashMap::new();
        for a in accounts.iter().filter(|a| a.kind == Channel::Email) {
            match EmailSettings::of(a) {
                Ok(s) if s.imap.is_some() => {
                    let fingerprint = serde_json::to_string(&s).unwrap_or_default();
                    wanted.insert(a.id, (fingerprint, s));
                }
                Ok(_) => health.not_configured(a.id),
                Err(e) => {
                    health.failing(a.id, &e.message);
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
        for (id, (fingerprint, settings)) in wanted {
            if running.contains_key(&id) {
                continue;
            }
            let (stop_tx, stop_rx) = watch::channel(false);
            let poller = Poller {
                account_id: id,
                store: store.clone(),
                health: health.clone(),
                stop: stop_rx,
            };
            let task = tokio::spawn(poll_account(poller, settings));
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
    // Shutdown: pollers finish the mail in hand (it is committed with its cursor) and log out.
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

/// The email channel's sender: gathers the mail of a claimed outbox row (recording its
/// Message-ID first, so a retry is recognisably the same mail), then hands it to SMTP.
pub async fn send(store: &Store, row: &OutboxRow) -> Outcome {
    let owned = row.clone();
    let now = store.now();
    let prepared = store
        .write(move |txn, fx| mail_store::prepare(txn, fx, &owned, now))
        .await;
    let out = match prepared {
        Ok(Ok(out)) => out,
        Ok(Err(outcome)) => return outcome,
        Err(e) => return Outcome::Retry { error: e.message },
    };
    match send_one(store, &out).await {
        Ok(()) => {
            tracing::info!(outbox = row.id, to = %out.to, "mail sent");
            Outcome::Done {
                status: Some(DeliveryStatus::Sent),
                detail: None,
            }
        }
        Err(e) if e.permanent => Outcome::Failed { error: e.message },
        Err(e) => Outcome::Retry { error: e.message },
    }
}

async fn send_one(store: &Store, out: &mail_store::Outgoing) -> Result<(), smtp::SendError> {
    let settings = EmailSettings::of(&out.account).map_err(|e| smtp::SendError {
        message: e.message,
        permanent: true,
    })?;
    let server = settings.smtp.clone().ok_or(smtp::SendError {
        message: "the account has no SMTP server".into(),
        permanent: false,
    })?;
    let blobs = store.blobs.clone();
    let (owned, s) = (out.clone(), settings.clone());
    let message = tokio::task::spawn_blocking(move || smtp::build(&owned, &s, &blobs))
        .await
        .map_err(|e| smtp::SendError {
            message: e.to_string(),
            permanent: false,
        })??;
    smtp::send(&server, message).await
}

/// Queues a system mail (reset link, invitation, escalation, notification) in the caller's
/// transaction. False when no email account can send it: nothing is queued (logged).
pub fn queue_system(
    txn: &redb::WriteTransaction,
    mail: SystemMail,
    now: Millis,
) -> AppResult<bool> {
    if mail_store::system_account(txn)?.is_none() {
        tracing::info!(subject = %mail.subject, "system mail not sent: no email account has an SMTP server");
        return Ok(false);
    }
    crate::store::outbox::enqueue(
        txn,
        Channel::Email,
        None,
        crate::domain::OutboxWork::SystemMail(mail),
        now,
    )?;
    Ok(true)
}

/// The answer when a mail a person asked for cannot go out.
pub fn no_sender() -> crate::error::AppError {
    crate::error::AppError::conflict(
        "no_mail_account",
        "no email account can send mail yet: connect one with an SMTP server (Channels and accounts)",
    )
}
