//! The outbox worker: it hands due rows of the one outbox (`store::outbox`) to their channel's
//! sender (`ChannelDriver::deliver`), a few at a time, and records each outcome on the row and
//! its message. A row is claimed (marked `sending`, committed) just before its sender runs, so
//! a crash never sends twice and never touches a row that was still waiting.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

pub use crate::channels::SendContext;
use crate::domain::{OutboxRow, Outcome};
use crate::store::outbox::{self as rows, OutboxKey};

/// Deliveries in flight at once: a vendor that hangs holds one slot, and the others keep
/// taking due rows.
const CONCURRENT: usize = 8;
/// How often the worker looks for due rows.
const TICK: Duration = Duration::from_millis(250);

/// Runs until shutdown: first settles the deliveries a stop interrupted (never sent twice),
/// then sends what falls due. At the stop no new delivery starts; those in flight finish
/// within the job host's bound (or read failed at the next start).
pub async fn run(ctx: SendContext, mut shutdown: watch::Receiver<bool>) {
    let requeue = |channel| crate::channels::driver(channel).safe_to_repeat();
    match ctx
        .store
        .write(move |txn, fx| rows::recover_interrupted(txn, fx, &requeue))
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            deliveries = n,
            "deliveries interrupted by a stop were settled (none is sent twice)"
        ),
        Err(e) => tracing::error!(error = %e.message, "cannot check the outbox"),
    }
    let ctx = Arc::new(ctx);
    let slots = Arc::new(Semaphore::new(CONCURRENT));
    let mut running: JoinSet<u64> = JoinSet::new();
    // Rows being sent → the ticket each answers (None: a mail to staff, a receipt …).
    let mut in_flight: HashMap<u64, Option<u64>> = HashMap::new();
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
        while let Some(done) = running.try_join_next() {
            forget(&mut in_flight, done);
        }
        let free = slots.available_permits();
        if free == 0 {
            continue;
        }
        let now = ctx.store.now();
        let limit = free + in_flight.len();
        let due = match ctx.store.read(move |txn| rows::due(txn, now, limit)).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e.message, "cannot read the outbox");
                continue;
            }
        };
        // One answer at a time per ticket, in the order they were queued: a customer reads
        // them in the order the agent wrote them, even when one had to wait.
        let mut held: HashSet<u64> = in_flight.values().flatten().copied().collect();
        for (key, row) in due {
            if in_flight.contains_key(&row.id) {
                continue;
            }
            let ticket = row.ticket_number();
            if let Some(t) = ticket {
                if !held.insert(t) {
                    continue;
                }
            }
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                break;
            };
            in_flight.insert(row.id, ticket);
            let ctx = ctx.clone();
            running.spawn(async move {
                let id = row.id;
                deliver_one(&ctx, key, row).await;
                drop(permit);
                id
            });
        }
    }
    while let Some(done) = running.join_next().await {
        forget(&mut in_flight, done);
    }
}

fn forget(in_flight: &mut HashMap<u64, Option<u64>>, done: Result<u64, tokio::task::JoinError>) {
    match done {
        Ok(id) => {
            in_flight.remove(&id);
        }
        // A delivery that panicked: its row stays `sending` and is settled at the next start.
        Err(e) => tracing::error!(error = %e, "a delivery task failed"),
    }
}

/// Claims one row, sends it and records the outcome.
async fn deliver_one(ctx: &crate::channels::SendContext, key: OutboxKey, row: OutboxRow) {
    let now = ctx.store.now();
    let claimed = ctx
        .store
        .write(move |txn, _| rows::claim(txn, key, now))
        .await;
    let (key, row) = match claimed {
        Ok(Some(c)) => c,
        // Settled or claimed meanwhile.
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(outbox = row.id, error = %e.message, "cannot claim a delivery");
            return;
        }
    };
    let outcome = crate::channels::driver(row.channel)
        .deliver(ctx, &row)
        .await;
    log(&row, &outcome);
    let now = ctx.store.now();
    if let Err(e) = ctx
        .store
        .write(move |txn, fx| rows::settle(txn, fx, key, &outcome, now))
        .await
    {
        // The row stays `sending`: the next start settles it (never sent twice).
        tracing::error!(outbox = row.id, error = %e.message, "cannot record a delivery's outcome");
    }
}

fn log(row: &OutboxRow, outcome: &Outcome) {
    let channel = row.channel.as_str();
    match outcome {
        Outcome::Done { .. } | Outcome::Sent { .. } | Outcome::ByMail(_) => {
            tracing::info!(outbox = row.id, channel, "delivered")
        }
        Outcome::Later { .. } => {}
        Outcome::Retry { error } => {
            tracing::warn!(outbox = row.id, channel, %error, "delivery failed, will retry")
        }
        Outcome::Failed { error } => {
            tracing::warn!(outbox = row.id, channel, %error, "delivery failed")
        }
    }
}
