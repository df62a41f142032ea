//! A customer's message, from any channel, becomes a ticket message (TICK-2, TICK-3).

use crate::domain::inbound::{Inbound, VendorBatch};
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

/// One vendor delivery: its customers' messages ingested and its reports on our answers
/// applied, all or none (the vendor hears 200 only once they are durable).
pub async fn delivery(store: &Store, batch: VendorBatch) -> AppResult<Vec<Ingested>> {
    let now = store.now();
    store
        .write(move |txn, fx| {
            let ingested = batch
                .messages
                .iter()
                .map(|m| tickets::ingest(txn, fx, m, now))
                .collect::<AppResult<Vec<Ingested>>>()?;
            for c in &batch.changes {
                tickets::amend(txn, fx, c)?;
            }
            for s in &batch.statuses {
                crate::store::outbox::apply_status(txn, fx, s)?;
            }
            for n in batch.notices.iter().filter(|n| n.alert) {
                crate::mail::notify::channel_alert(txn, fx, n.account_id, &n.note, now)?;
            }
            Ok(ingested)
        })
        .await
}
