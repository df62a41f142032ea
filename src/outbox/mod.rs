//! The outbox workers: they claim due rows of the one outbox (`store::outbox`), hand each to
//! its channel's sender (`ChannelDriver::deliver`) and record the outcome on the row and its
//! message. The claim is committed before a sender runs, so a crash never sends twice.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;

pub use crate::channels::SendContext;
use crate::domain::Outcome;
use crate::error::AppResult;
use crate::store::outbox::{self as rows, OutboxKey};

/// Deliveries in flight at once: a vendor that hangs holds one of them, not the queue.
const CONCURRENT: usize = 8;
/// Rows claimed per pass.
const BATCH: usize = 64;
/// The longest the worker sleeps; new rows are usually due at once and found by the next
/// look (every `TICK`).
const TICK: Duration = Duration::from_millis(250);

/// Runs until shutdown: first marks deliveries interrupted by the last stop as failed (never
/// sent twice), then sends what falls due.
pub async fn run(ctx: SendContext, mut shutdown: watch::Receiver<bool>) {
    match ctx.store.write(rows::recover_interrupted).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            deliveries = n,
            "deliveries interrupted mid-send by a stop were marked failed (never sent twice)"
        ),
        Err(e) => tracing::error!(error = %e.message, "cannot check the outbox"),
    }
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        match pass(&ctx, &mut shutdown).await {
            Ok(()) => {}
            Err(e) => tracing::warn!(error = %e.message, "outbox pass failed"),
        }
    }
}

/// Claims what is due (one commit for the batch) and delivers it, a few at a time.
async fn pass(ctx: &SendContext, shutdown: &mut watch::Receiver<bool>) -> AppResult<()> {
    let now = ctx.store.now();
    let due = ctx
        .store
        .read(move |txn| rows::due(txn, now, BATCH))
        .await?;
    if due.is_empty() {
        return Ok(());
    }
    let keys: Vec<OutboxKey> = due.into_iter().map(|(k, _)| k).collect();
    let claimed = ctx
        .store
        .write(move |txn, _| {
            let mut out = Vec::new();
            for key in &keys {
                if let Some(c) = rows::claim(txn, *key, now)? {
                    out.push(c);
                }
            }
            Ok(out)
        })
        .await?;
    // Each outcome is settled as soon as its delivery ends; settles of deliveries ending
    // together share one commit (the writer groups concurrent writes).
    let work = futures_util::stream::iter(claimed)
        .map(|(key, row)| async move {
            let outcome = crate::channels::driver(row.channel)
                .deliver(ctx, &row)
                .await;
            log(&row, &outcome);
            let now = ctx.store.now();
            ctx.store
                .write(move |txn, fx| rows::settle(txn, fx, key, &outcome, now))
                .await
        })
        .buffer_unordered(CONCURRENT);
    tokio::pin!(work);
    // A stop lets the deliveries in hand finish (bounded by the caller's wait); rows not
    // settled stay `sending` and read failed at the next start.
    while let Some(settled) = work.next().await {
        if let Err(e) = settled {
            // The row stays `sending`: the next start settles it as failed (never twice).
            tracing::error!(error = %e.message, "cannot record a delivery's outcome");
        }
        if *shutdown.borrow() {
            break;
        }
    }
    Ok(())
}

fn log(row: &crate::domain::OutboxRow, outcome: &Outcome) {
    let channel = row.channel.as_str();
    match outcome {
        Outcome::Done { .. } | Outcome::ByMail(_) => {
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
