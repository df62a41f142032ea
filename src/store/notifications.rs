//! The bell's items (issue 16, item 8): written in the transaction of what caused them (a
//! mention, an assignment, a channel alert), announced to their user alone, the last
//! `KEPT` per user kept.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::tables::USER_NOTIFICATION;
use super::{codec, event, next_id, Effects};
use crate::domain::{EventKind, Millis, Notification, NotificationKind};
use crate::error::AppResult;

const KEPT: usize = 200;

pub struct New<'a> {
    pub user_id: u64,
    pub kind: NotificationKind,
    pub ticket_number: Option<u64>,
    pub actor: &'a str,
    pub text: &'a str,
}

pub fn add(txn: &WriteTransaction, fx: &mut Effects, n: New, now: Millis) -> AppResult<()> {
    let record = Notification {
        id: next_id(txn, "notification")?,
        user_id: n.user_id,
        at: now,
        kind: n.kind,
        ticket_number: n.ticket_number,
        actor: n.actor.to_string(),
        text: n.text.chars().take(280).collect(),
        read: false,
    };
    let mut table = txn.open_table(USER_NOTIFICATION)?;
    table.insert((n.user_id, record.id), codec::encode(&record)?.as_slice())?;
    // Beyond the kept number, the oldest go.
    let ids: Vec<u64> = table
        .range((n.user_id, 0)..=(n.user_id, u64::MAX))?
        .filter_map(|r| r.ok().map(|(k, _)| k.value().1))
        .collect();
    for id in ids.iter().take(ids.len().saturating_sub(KEPT)) {
        table.remove((n.user_id, *id))?;
    }
    let mut e = event(EventKind::NotificationCreated);
    e.user_id = Some(n.user_id);
    e.ticket_number = n.ticket_number;
    fx.emit(e);
    Ok(())
}

/// The newest `limit` items, and how many are unread in all.
pub fn list(
    txn: &ReadTransaction,
    user_id: u64,
    limit: usize,
) -> AppResult<(Vec<Notification>, u64)> {
    let table = txn.open_table(USER_NOTIFICATION)?;
    let mut items = Vec::new();
    let mut unread = 0;
    for row in table.range((user_id, 0)..=(user_id, u64::MAX))?.rev() {
        let (_, v) = row?;
        let n: Notification = codec::decode(v.value())?;
        if !n.read {
            unread += 1;
        }
        if items.len() < limit {
            items.push(n);
        }
    }
    Ok((items, unread))
}

/// Which items to mark read.
pub enum Which {
    One(u64),
    Ticket(u64),
    All,
}

/// How many unread items `which` names (the app asks on every ticket it opens: most answers
/// are 0, and need no write).
pub fn unread(txn: &ReadTransaction, user_id: u64, which: &Which) -> AppResult<u64> {
    let table = txn.open_table(USER_NOTIFICATION)?;
    let mut n = 0;
    for row in table.range((user_id, 0)..=(user_id, u64::MAX))? {
        let (_, v) = row?;
        let item: Notification = codec::decode(v.value())?;
        if !item.read && which.names(&item) {
            n += 1;
        }
    }
    Ok(n)
}

impl Which {
    fn names(&self, n: &Notification) -> bool {
        match self {
            Which::One(id) => n.id == *id,
            Which::Ticket(t) => n.ticket_number == Some(*t),
            Which::All => true,
        }
    }
}

/// Marks items read; answers how many were unread before.
pub fn mark_read(txn: &WriteTransaction, user_id: u64, which: &Which) -> AppResult<u64> {
    let mut table = txn.open_table(USER_NOTIFICATION)?;
    let mut changed = Vec::new();
    for row in table.range((user_id, 0)..=(user_id, u64::MAX))? {
        let (_, v) = row?;
        let n: Notification = codec::decode(v.value())?;
        if which.names(&n) && !n.read {
            changed.push(n);
        }
    }
    for mut n in changed.iter().cloned() {
        n.read = true;
        table.insert((user_id, n.id), codec::encode(&n)?.as_slice())?;
    }
    Ok(changed.len() as u64)
}
