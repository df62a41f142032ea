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
use crate::domain::inbound::StatusUpdate;
use crate::domain::*;
use crate::error::{AppError, AppResult};

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
    for row in table.range((QUEUED, 0, 0)..=(QUEUED, at(now), u64::MAX))? {
        if out.len() == limit {
            break;
        }
        let (k, v) = row?;
        // A row this build cannot read (a channel of a newer build) waits; it must not stop
        // the others.
        match codec::decode(v.value()) {
            Ok(r) => out.push((k.value(), r)),
            Err(e) => tracing::warn!(key = ?k.value(), error = %e.message, "outbox row skipped"),
        }
    }
    Ok(out)
}

/// Marks a due row as being sent. None when it is not there any more (settled meanwhile).
pub fn claim(
    txn: &WriteTransaction,
    key: OutboxKey,
    now: Millis,
) -> AppResult<Option<(OutboxKey, OutboxRow)>> {
    let mut table = txn.open_table(OUTBOX_DUE_TO_ROW)?;
    let found = table
        .get(key)?
        .map(|g| codec::decode::<OutboxRow>(g.value()))
        .transpose()?;
    let Some(row) = found else {
        return Ok(None);
    };
    table.remove(key)?;
    drop(table);
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
        Outcome::Sent { external_ids } => {
            if let Some(mut m) = message_of(txn, &row)? {
                if let Some(account_id) = row.account_id {
                    // The vendor's reports name the answer by these ids (`apply_status`).
                    let mut index = txn.open_table(EXTERNAL_TO_MESSAGE_ID)?;
                    for external_id in external_ids {
                        index.insert(identity_key(account_id, external_id).as_str(), m.id)?;
                    }
                }
                if let Some(last) = external_ids.last() {
                    m.external_id = Some(last.clone());
                }
                if !seen(m.status) {
                    m.status = DeliveryStatus::Sent;
                    m.status_detail = None;
                }
                super::tickets::update_message(txn, fx, &m)?;
            }
        }
        Outcome::Retry { error } => {
            row.attempts += 1;
            if row.attempts >= MAX_ATTEMPTS {
                return give_up(txn, fx, &row, error);
            }
            row.last_error = Some(error.to_string());
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
                Some(Note::Retrying {
                    attempt: u64::from(row.attempts),
                    error: Box::new(error.clone()),
                }),
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
            if message_of(txn, &row)?.is_some_and(|m| seen(m.status)) {
                // The visitor saw it meanwhile: nothing to mail.
                return Ok(());
            }
            let mailed = super::mail::system_account(txn)?.is_some();
            if mailed {
                enqueue(
                    txn,
                    Channel::Email,
                    None,
                    OutboxWork::SystemMail(mail.clone()),
                    now,
                )?;
                set_status(txn, fx, &row, DeliveryStatus::Sent, Some(Note::SentByMail))?;
            } else {
                set_detail(txn, fx, &row, Some(Note::NoEmailForChat))?;
            }
        }
    }
    Ok(())
}

fn give_up(txn: &WriteTransaction, fx: &mut Effects, row: &OutboxRow, why: &Note) -> AppResult<()> {
    if let OutboxWork::SystemMail(m) = &row.work {
        tracing::warn!(
            outbox = row.id,
            subject = %m.subject,
            reason = %why,
            "system mail not sent"
        );
    }
    set_status(txn, fx, row, DeliveryStatus::Failed, Some(why.clone()))
}

fn message_of(txn: &WriteTransaction, row: &OutboxRow) -> AppResult<Option<Message>> {
    match row.message_id() {
        Some(id) => codec::get(&txn.open_table(MESSAGE_ID_TO_MESSAGE)?, id),
        None => Ok(None),
    }
}

/// An agent has the ticket open: the vendor hears its customer's latest message was read
/// (once per message; WhatsApp then shows every earlier one read too).
pub fn queue_receipt(
    txn: &WriteTransaction,
    fx: &mut Effects,
    message_id: u64,
    now: Millis,
) -> AppResult<bool> {
    let Some(mut m) = codec::get::<Message>(&txn.open_table(MESSAGE_ID_TO_MESSAGE)?, message_id)?
    else {
        return Ok(false);
    };
    let Some(external_id) = m.external_id.clone().filter(|_| !m.receipt_sent) else {
        return Ok(false);
    };
    let Some(ticket) = super::tickets::get_w(txn, m.ticket_number)? else {
        return Ok(false);
    };
    m.receipt_sent = true;
    super::tickets::update_message(txn, fx, &m)?;
    enqueue(
        txn,
        ticket.channel,
        Some(ticket.account_id),
        OutboxWork::Receipt { external_id },
        now,
    )?;
    Ok(true)
}

/// How far an answer got, for reports that arrive out of order.
fn progress(status: DeliveryStatus) -> u8 {
    match status {
        DeliveryStatus::Received | DeliveryStatus::Queued | DeliveryStatus::Failed => 0,
        DeliveryStatus::Sent => 1,
        DeliveryStatus::Delivered => 2,
        DeliveryStatus::Read => 3,
    }
}

/// A vendor's report on an answer it accepted (found by the id the vendor gave it). The
/// message only moves forward — sent, delivered, read — since reports arrive out of order (a
/// read before its delivered); a failure counts until the customer has it. A report on
/// something Atiende did not send is ignored.
pub fn apply_status(txn: &WriteTransaction, fx: &mut Effects, s: &StatusUpdate) -> AppResult<()> {
    let Some(mut m) = super::tickets::message_by_external(txn, s.account_id, &s.external_id)?
    else {
        return Ok(());
    };
    // Only reports on the answer's current send count: a resend has a new id, and a late
    // report on the earlier one must not mark it failed again.
    if m.direction != Direction::Outbound || m.external_id.as_deref() != Some(&s.external_id) {
        return Ok(());
    }
    match s.status {
        // Not over a message the customer has, nor one being sent again.
        DeliveryStatus::Failed
            if seen(m.status)
                || matches!(m.status, DeliveryStatus::Failed | DeliveryStatus::Queued) =>
        {
            return Ok(())
        }
        DeliveryStatus::Failed => {
            m.status = DeliveryStatus::Failed;
            m.status_detail = s.error.clone();
        }
        st if progress(st) > progress(m.status) => {
            m.status = st;
            m.status_detail = None;
        }
        _ => return Ok(()),
    }
    super::tickets::update_message(txn, fx, &m)
}

/// The customer has it in view: no outcome of a send moves such a message back.
fn seen(status: DeliveryStatus) -> bool {
    matches!(status, DeliveryStatus::Delivered | DeliveryStatus::Read)
}

fn set_status(
    txn: &WriteTransaction,
    fx: &mut Effects,
    row: &OutboxRow,
    status: DeliveryStatus,
    detail: Option<Note>,
) -> AppResult<()> {
    if let Some(mut m) = message_of(txn, row)?.filter(|m| !seen(m.status)) {
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
    detail: Option<Note>,
) -> AppResult<()> {
    if let Some(mut m) = message_of(txn, row)? {
        if m.status_detail != detail {
            m.status_detail = detail;
            super::tickets::update_message(txn, fx, &m)?;
        }
    }
    Ok(())
}

/// At start: rows that were being sent when the process stopped. Where the send reached
/// outside Atiende (SMTP, a vendor) it may or may not have left: never sent again by itself
/// (no duplicates), the message reads failed with the reason and the agent can send it again.
/// Where `safe_to_repeat` says the channel's send stays inside Atiende (web chat, form, api),
/// the row is simply queued again.
pub fn recover_interrupted(
    txn: &WriteTransaction,
    fx: &mut Effects,
    safe_to_repeat: &dyn Fn(Channel) -> bool,
) -> AppResult<usize> {
    let interrupted: Vec<(OutboxKey, OutboxRow)> = {
        let table = txn.open_table(OUTBOX_DUE_TO_ROW)?;
        let mut out = Vec::new();
        for row in table.range((SENDING, 0, 0)..=(SENDING, u64::MAX, u64::MAX))? {
            let (k, v) = row?;
            match codec::decode(v.value()) {
                Ok(r) => out.push((k.value(), r)),
                Err(e) => {
                    tracing::warn!(key = ?k.value(), error = %e.message, "outbox row skipped")
                }
            }
        }
        out
    };
    let mut table = txn.open_table(OUTBOX_DUE_TO_ROW)?;
    for (key, _) in &interrupted {
        table.remove(*key)?;
    }
    drop(table);
    for (key, row) in &interrupted {
        if safe_to_repeat(row.channel) {
            put(txn, (QUEUED, key.1, row.id), row)?;
            continue;
        }
        give_up(txn, fx, row, &Note::Interrupted)?;
    }
    Ok(interrupted.len())
}

/// An agent asks to send a failed answer again (any channel that sends). A failed message has
/// no outbox row left: settling a row as failed removes it.
pub fn resend(
    txn: &WriteTransaction,
    fx: &mut Effects,
    number: u64,
    message_id: u64,
    access: &super::tickets::Access,
    now: Millis,
) -> AppResult<Message> {
    let ticket = super::tickets::require_w(txn, number, access)?;
    let mut m = codec::get::<Message>(&txn.open_table(MESSAGE_ID_TO_MESSAGE)?, message_id)?
        .filter(|m| m.ticket_number == number && m.direction == Direction::Outbound)
        .ok_or_else(|| AppError::not_found("message"))?;
    if m.status != DeliveryStatus::Failed {
        return Err(AppError::conflict(
            "not_failed",
            "only a failed message that is not being sent can be sent again",
        ));
    }
    m.status = DeliveryStatus::Queued;
    m.status_detail = None;
    super::tickets::update_message(txn, fx, &m)?;
    enqueue(
        txn,
        ticket.channel,
        Some(ticket.account_id),
        OutboxWork::Message {
            message_id: m.id,
            ticket_number: number,
            automatic: m.user_id.is_none(),
        },
        now,
    )?;
    Ok(m)
}

/// Deliveries waiting (queued or being sent): by email (replies and system mail) and by the
/// other channels.
pub fn depths(txn: &ReadTransaction) -> AppResult<(u64, u64)> {
    let table = txn.open_table(OUTBOX_DUE_TO_ROW)?;
    let total = table.len()?;
    let mut email = 0;
    for row in table.iter()? {
        let (_, v) = row?;
        if codec::decode::<OutboxRow>(v.value()).is_ok_and(|r| r.channel == Channel::Email) {
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

#[cfg(test)]
// Tests build their fixtures with their own transactions.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use redb::{Database, ReadableDatabase};

    fn db() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("t.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        super::super::tables::create_all(&txn).unwrap();
        txn.commit().unwrap();
        (dir, db)
    }

    fn message_row(id: u64) -> OutboxWork {
        OutboxWork::Message {
            message_id: id,
            ticket_number: 1,
            automatic: false,
        }
    }

    #[test]
    fn vendor_reports_move_an_answer_forward_only_and_only_for_its_current_send() {
        let (_dir, db) = db();
        let txn = db.begin_write().unwrap();
        let mut fx = Effects::default();
        let m = Message {
            id: 5,
            ticket_number: 1,
            direction: Direction::Outbound,
            public: true,
            contact_id: None,
            user_id: Some(1),
            text: "hola".into(),
            attachments: vec![],
            reply_to: None,
            external_id: Some("w1".into()),
            status: DeliveryStatus::Sent,
            created_at: 1,
            opened_ticket: false,
            status_detail: None,
            mail: None,
            notes: vec![],
            reaction: None,
            receipt_sent: false,
            template: None,
        };
        super::super::tickets::update_message(&txn, &mut fx, &m).unwrap();
        txn.open_table(EXTERNAL_TO_MESSAGE_ID)
            .unwrap()
            .insert(identity_key(3, "w1").as_str(), 5)
            .unwrap();
        let report = |id: &str, status| StatusUpdate {
            account_id: 3,
            external_id: id.into(),
            status,
            at: None,
            error: Some(Note::raw("x")),
        };
        let status = |txn: &WriteTransaction| {
            codec::get::<Message>(&txn.open_table(MESSAGE_ID_TO_MESSAGE).unwrap(), 5)
                .unwrap()
                .unwrap()
                .status
        };
        for (r, want) in [
            (DeliveryStatus::Read, DeliveryStatus::Read),
            (DeliveryStatus::Delivered, DeliveryStatus::Read),
            (DeliveryStatus::Failed, DeliveryStatus::Read),
        ] {
            apply_status(&txn, &mut fx, &report("w1", r)).unwrap();
            assert_eq!(status(&txn), want, "{r:?}");
        }
        // Sent again (queued, then a new id): reports on the earlier send change nothing.
        let mut again = m.clone();
        again.status = DeliveryStatus::Queued;
        super::super::tickets::update_message(&txn, &mut fx, &again).unwrap();
        apply_status(&txn, &mut fx, &report("w1", DeliveryStatus::Failed)).unwrap();
        assert_eq!(status(&txn), DeliveryStatus::Queued);
        again.status = DeliveryStatus::Sent;
        again.external_id = Some("w2".into());
        super::super::tickets::update_message(&txn, &mut fx, &again).unwrap();
        apply_status(&txn, &mut fx, &report("w1", DeliveryStatus::Failed)).unwrap();
        assert_eq!(status(&txn), DeliveryStatus::Sent);
    }

    #[test]
    fn a_stop_requeues_what_stayed_inside_and_fails_what_may_have_left() {
        let (_dir, db) = db();
        let txn = db.begin_write().unwrap();
        let mail = enqueue(&txn, Channel::Email, Some(1), message_row(7), 1_000).unwrap();
        let chat = enqueue(&txn, Channel::Webchat, Some(2), message_row(8), 1_000).unwrap();
        let waiting = enqueue(&txn, Channel::Email, Some(1), message_row(9), 1_000).unwrap();
        assert!(claim(&txn, mail, 2_000).unwrap().is_some());
        assert!(claim(&txn, chat, 2_000).unwrap().is_some());
        assert!(claim(&txn, mail, 2_000).unwrap().is_none(), "claimed once");
        let mut fx = Effects::default();
        let n = recover_interrupted(&txn, &mut fx, &|c| c == Channel::Webchat).unwrap();
        assert_eq!(n, 2);
        txn.commit().unwrap();
        let r = db.begin_read().unwrap();
        assert_eq!(count(&r, true).unwrap(), 0);
        let mut due: Vec<u64> = due(&r, 5_000, 10)
            .unwrap()
            .iter()
            .map(|(_, row)| row.message_id().unwrap())
            .collect();
        due.sort_unstable();
        // The chat answer is queued again; the mail that may have left is not; the row that
        // was only waiting was never touched.
        assert_eq!(due, vec![8, 9]);
        assert_eq!(waiting.0, QUEUED);
    }

    #[test]
    fn a_row_this_build_cannot_read_does_not_stop_the_queue() {
        let (_dir, db) = db();
        let txn = db.begin_write().unwrap();
        txn.open_table(OUTBOX_DUE_TO_ROW)
            .unwrap()
            .insert((QUEUED, 500, 99), b"not a row".as_slice())
            .unwrap();
        enqueue(&txn, Channel::Api, Some(1), message_row(5), 1_000).unwrap();
        txn.commit().unwrap();
        let r = db.begin_read().unwrap();
        let due = due(&r, 5_000, 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1.message_id(), Some(5));
        assert_eq!(depths(&r).unwrap(), (0, 2));
    }
}
