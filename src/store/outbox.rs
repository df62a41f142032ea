//! The one outbox of every channel: rows keyed `(state, due, id)` (state 0 queued, 1 being
//! sent), so the worker finds due
//! work by a range read (never a scan), written in the transaction of the change that caused
//! them and settled in one transaction with the message's delivery status.
//!
//! Guarantees, for every channel: a row is marked `sending` and committed before its sender
//! runs; after a crash such a row is never sent again by itself (the message reads failed with
//! the reason, and the agent may send it again). A temporary failure is retried with a
//! backoff; a permanent one, or running out of attempts, marks the message failed.

use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::tables::*;
use super::{codec, next_id, Effects};
use crate::domain::*;
use crate::error::AppResult;

/// A row's place in the table: `(state, due, id)`.
pub type OutboxKey = (u8, u64, u64);

const QUEUED: u8 = 0;
const SENDING: u8 = 1;

fn at(ms: Millis) -> u64 {
    ms.max(0) as u64
}

/// Attempts before a temporarily failing delivery is given up: the waits add up to about 11
/// hours (5 s doubling to the 2-hour cap).
pub const MAX_ATTEMPTS: u32 = 16;

/// Delay after failed attempt `n`: 5 s doubling, at most 2 h.
pub fn backoff_ms(attempts: u32) -> i64 {
    (5_000i64 << attempts.saturating_sub(1).min(12)).min(2 * 3_600_000)
}

fn put(txn: &WriteTransaction, key: OutboxKey, row: &OutboxRow) -> AppResult<()> {
    txn.open_table(OUTBOX_DUE_TO_ROW)?
        .insert(key, codec::encode(row)?.as_slice())?;
    Ok(())
}

/// Queues a delivery in the caller's transaction; it is sent after that transaction commits.
pub fn enqueue(
    txn: &WriteTransaction,
    channel: Channel,
    account_id: Option<u64>,
    work: OutboxWork,
    now: Millis,
) -> AppResult<OutboxKey> {
    let row = OutboxRow {
        id: next_id(txn, "outbox")?,
        channel,
        account_id,
        work,
        attempts: 0,
        last_error: None,
        created_at: now,
    };
    let key = (QUEUED, at(now), row.id);
    put(txn, key, &row)?;
    Ok(key)
}

/// Queued rows due by `now`, soonest first.
pub fn due(
    txn: &ReadTransaction,
    now: Millis,
    limit: usize,
) -> AppResult<Vec<(OutboxKey, OutboxRow)>> {
    let table = txn.open_table(OUTBOX_DUE_TO_ROW)?;
    let mut out = Vec::new();
    for row in table
        .range((QUEUED, 0, 0)..=(QUEUED, at(now), u64::MAX))?
        .take(limit)
    {
        let (k, v) = row?;
        out.push((k.value(), codec::decode(v.value())?));
    }
    Ok(out)
}

/// Marks a due row as being sent. None when it is not there any more (settled meanwhile).
pub fn claim(
    txn: &WriteTransaction,
    key: OutboxKey,
    now: Millis,
) -> AppResult<Option<(OutboxKey, OutboxRow)>> {
    let found = txn
        .open_table(OUTBOX_DUE_TO_ROW)?
        .remove(key)?
        .map(|g| codec::decode::<OutboxRow>(g.value()))
        .transpose()?;
    let Some(row) = found else {
        return Ok(None);
    };
    let claimed = (SENDING, at(now), row.id);
    put(txn, claimed, &row)?;
    Ok(Some((claimed, row)))
}

/// Applies a sender's outcome to a claimed row and its message, in one transaction.
pub fn settle(
    txn: &WriteTransaction,
    fx: &mut Effects,
    key: OutboxKey,
    outcome: &Outcome,
    now: Millis,
) -> AppResult<()> {
    let found = txn
        .open_table(OUTBOX_DUE_TO_ROW)?
        .remove(key)?
        .map(|g| codec::decode::<OutboxRow>(g.value()))
        .transpose()?;
    let Some(mut row) = found else {
        return Ok(());
    };
    match outcome {
        Outcome::Done { status, detail } => {
            if let Some(status) = status {
                set_status(txn, fx, &row, *status, detail.clone())?;
            } else if detail.is_some() {
                set_detail(txn, fx, &row, detail.clone())?;
            }
        }
        Outcome::Retry { error } => {
            row.attempts += 1;
            if row.attempts >= MAX_ATTEMPTS {
                return give_up(txn, fx, &row, error);
            }
            row.last_error = Some(error.clone());
            put(
                txn,
                (QUEUED, at(now + backoff_ms(row.attempts)), row.id),
                &row,
            )?;
            set_status(
                txn,
                fx,
                &row,
                DeliveryStatus::Queued,
                Some(format!(
                    "intento {} falló, se reintentará: {error}",
                    row.attempts
                )),
            )?;
        }
        Outcome::Failed { error } => give_up(txn, fx, &row, error)?,
        Outcome::Later { at: when, note } => {
            put(txn, (QUEUED, at(*when), row.id), &row)?;
            if note.is_some() {
                set_detail(txn, fx, &row, note.clone())?;
            }
        }
        Outcome::ByMail(mail) => {
            let mailed = super::mail::system_account(txn)?.is_some();
            if mailed {
                enqueue(
                    txn,
                    Channel::Email,
                    None,
                    OutboxWork::SystemMail(mail.clone()),
                    now,
                )?;
                set_status(
                    txn,
                    fx,
                    &row,
                    DeliveryStatus::Sent,
                    Some("enviado por correo al cliente".into()),
                )?;
            } else {
                set_detail(
                    txn,
                    fx,
                    &row,
                    Some("sin correo para enviarlo: el cliente lo verá si vuelve al chat (o conecta una cuenta de correo)".into()),
                )?;
            }
        }
    }
    Ok(())
}

fn give_up(txn: &WriteTransaction, fx: &mut Effects, row: &OutboxRow, why: &str) -> AppResult<()> {
    if let OutboxWork::SystemMail(m) = &row.work {
        tracing::warn!(
            outbox = row.id,
            subject = %m.subject,
            reason = why,
            "system mail not sent"
        );
    }
    set_status(txn, fx, row, DeliveryStatus::Failed, Some(why.to_string()))
}

fn message_of(txn: &WriteTransaction, row: &OutboxRow) -> AppResult<Option<Message>> {
    match row.message_id() {
        Some(id) => codec::get(&txn.open_table(MESSAGE_ID_TO_MESSAGE)?, id),
        None => Ok(None),
    }
}

fn set_status(
    txn: &WriteTransaction,
    fx: &mut Effects,
    row: &OutboxRow,
    status: DeliveryStatus,
    detail: Option<String>,
) -> AppResult<()> {
    if let Some(mut m) = message_of(txn, row)? {
        m.status = status;
        m.status_detail = detail;
        super::tickets::update_message(txn, fx, &m)?;
    }
    Ok(())
}

fn set_detail(
    txn: &WriteTransaction,
    fx: &mut Effects,
    row: &OutboxRow,
    detail: Option<String>,
) -> AppResult<()> {
    if let Some(mut m) = message_of(txn, row)? {
        if m.status_detail != detail {
            m.status_detail = detail;
            super::tickets::update_message(txn, fx, &m)?;
        }
    }
    Ok(())
}

/// At start: rows that were being sent when the process stopped may or may not have left.
/// They are never sent again by themselves (no duplicates); their messages read failed with
/// the reason and the agent can send them again.
pub fn recover_interrupted(txn: &WriteTransaction, fx: &mut Effects) -> AppResult<usize> {
    let interrupted: Vec<(OutboxKey, OutboxRow)> = {
        let table = txn.open_table(OUTBOX_DUE_TO_ROW)?;
        let mut out = Vec::new();
        for row in table.range((SENDING, 0, 0)..=(SENDING, u64::MAX, u64::MAX))? {
            let (k, v) = row?;
            out.push((k.value(), codec::decode(v.value())?));
        }
        out
    };
    let mut table = txn.open_table(OUTBOX_DUE_TO_ROW)?;
    for (key, _) in &interrupted {
        table.remove(*key)?;
    }
    drop(table);
    for (_, row) in &interrupted {
        give_up(
            txn,
            fx,
            row,
            "el envío se interrumpió (el servidor se detuvo): puede que no haya salido; reenvíalo si hace falta",
        )?;
    }
    Ok(interrupted.len())
}

/// Deliveries waiting (queued or being sent): by email (replies and system mail) and by the
/// other channels.
pub fn depths(txn: &ReadTransaction) -> AppResult<(u64, u64)> {
    let table = txn.open_table(OUTBOX_DUE_TO_ROW)?;
    let total = table.len()?;
    let mut email = 0;
    for row in table.iter()? {
        let (_, v) = row?;
        let r: OutboxRow = codec::decode(v.value())?;
        if r.channel == Channel::Email {
            email += 1;
        }
    }
    Ok((email, total - email))
}

/// Removes the queued rows of a message written at `now` (the demo's history: nothing of it
/// is ever sent).
pub fn forget(txn: &WriteTransaction, message_id: u64, now: Millis) -> AppResult<()> {
    let mut table = txn.open_table(OUTBOX_DUE_TO_ROW)?;
    let mut keys = Vec::new();
    for row in table.range((QUEUED, at(now), 0)..=(QUEUED, at(now), u64::MAX))? {
        let (k, v) = row?;
        let r: OutboxRow = codec::decode(v.value())?;
        if r.message_id() == Some(message_id) {
            keys.push(k.value());
        }
    }
    for k in keys {
        table.remove(k)?;
    }
    Ok(())
}

/// Rows queued (or, with `sending`, being sent): for tests.
#[cfg(test)]
pub fn count(txn: &ReadTransaction, sending: bool) -> AppResult<usize> {
    let s = if sending { SENDING } else { QUEUED };
    Ok(txn
        .open_table(OUTBOX_DUE_TO_ROW)?
        .range((s, 0, 0)..=(s, u64::MAX, u64::MAX))?
        .count())
}
