//! A customer's message, from any channel, becomes a ticket message (TICK-2, TICK-3).

use crate::domain::inbound::Inbound;
use crate::error::AppResult;
use crate::store::tickets::{self, Ingested};
use crate::store::Store;

/// One message: threaded into the customer's open ticket or a new one, assigned, indexed and
/// announced. A redelivery (same account and external id) answers as the first time did.
pub async fn one(store: &Store, inbound: Inbound) -> AppResult<Ingested> {
    let now = store.now();
    store
        .write(move |txn, fx| tickets::ingest(txn, fx, &inbound, now))
        .await
}

/// Several messages of one vendor delivery (a webhook batch), all or none: the delivery is
/// answered only once every message in it is durable.
pub async fn batch(store: &Store, messages: Vec<Inbound>) -> AppResult<Vec<Ingested>> {
    let now = store.now();
    store
        .write(move |txn, fx| {
            messages
                .iter()
                .map(|m| tickets::ingest(txn, fx, m, now))
                .collect()
        })
        .await
}
