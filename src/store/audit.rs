//! The audit log's table: appended in the transaction of the change it records, read newest
//! first with filters, pruned by age.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::tables::AUDIT_ID_TO_ENTRY;
use super::{codec, next_id};
use crate::domain::audit::{AuditAction, AuditEntry};
use crate::domain::Millis;
use crate::error::AppResult;

pub fn record(txn: &WriteTransaction, mut entry: AuditEntry) -> AppResult<()> {
    entry.id = next_id(txn, "audit")?;
    txn.open_table(AUDIT_ID_TO_ENTRY)?
        .insert(entry.id, codec::encode(&entry)?.as_slice())?;
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor_id: Option<u64>,
    pub action: Option<AuditAction>,
    pub from: Option<Millis>,
    pub to: Option<Millis>,
    /// Entries older than this id (the previous page's last).
    pub before: Option<u64>,
}

impl Filter {
    fn admits(&self, e: &AuditEntry) -> bool {
        self.actor_id.is_none_or(|a| e.actor_id == Some(a))
            && self.action.is_none_or(|a| e.action == a)
            && self.from.is_none_or(|f| e.at >= f)
            && self.to.is_none_or(|t| e.at < t)
    }
}

/// Up to `limit` entries, newest first. Ids follow time, so the walk stops at the first entry
/// older than `from`.
pub fn list(txn: &ReadTransaction, filter: &Filter, limit: usize) -> AppResult<Vec<AuditEntry>> {
    let table = txn.open_table(AUDIT_ID_TO_ENTRY)?;
    let range = match filter.before {
        Some(b) => table.range(..b)?,
        None => table.range::<u64>(..)?,
    };
    let mut out = Vec::new();
    for row in range.rev() {
        let (_, v) = row?;
        let e: AuditEntry = codec::decode(v.value())?;
        if filter.from.is_some_and(|f| e.at < f) {
            break;
        }
        if filter.admits(&e) {
            out.push(e);
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

/// Removes up to `max` entries older than `cutoff`; how many went.
pub fn prune(txn: &WriteTransaction, cutoff: Millis, max: usize) -> AppResult<usize> {
    let mut table = txn.open_table(AUDIT_ID_TO_ENTRY)?;
    let mut old = Vec::new();
    for row in table.range::<u64>(..)?.take(max) {
        let (k, v) = row?;
        let e: AuditEntry = codec::decode(v.value())?;
        if e.at >= cutoff {
            break;
        }
        old.push(k.value());
    }
    for id in &old {
        table.remove(*id)?;
    }
    Ok(old.len())
}
