//! The SLA's notifications (SLA-1, OPS-6): the timers that came due ring the bells of the
//! assignee and the supervisors (and mail them, per their preferences), once per waiting
//! period, in the transaction that takes the timers.

use crate::error::AppResult;
use crate::mail::notify;
use crate::store::sla::{self, Alarm};
use crate::store::{tickets, Store};

/// Timers taken per transaction (a backlog after a long stop drains over a few).
const BATCH: usize = 500;

/// Sends what came due by now; answers how many notifications went out.
pub async fn ring_due(store: &Store, link_base: String) -> AppResult<usize> {
    let mut rung = 0;
    loop {
        let now = store.now();
        let base = link_base.clone();
        let (taken, sent) = store
            .write(move |txn, fx| {
                let due = sla::take_due(txn, now, BATCH)?;
                let mut sent = 0;
                for d in &due.rung {
                    if let Some(t) = tickets::get_w(txn, d.number)? {
                        notify::sla(txn, fx, &base, &t, d.alarm == Alarm::Breach, now)?;
                        sent += 1;
                    }
                }
                Ok((due.taken, sent))
            })
            .await?;
        rung += sent;
        if taken < BATCH {
            return Ok(rung);
        }
    }
}
