//! Web chat (CHAN-2) storage: visitor sessions, a visitor's conversation, whether anyone can
//! answer, and delivery marks of the answers shown in the widget.

use redb::{ReadTransaction, WriteTransaction};

use super::contacts::{self, ContactFacts};
use super::tables::*;
use super::{codec, Effects};
use crate::domain::*;
use crate::error::AppResult;

pub fn session(txn: &ReadTransaction, token_hash: &str) -> AppResult<Option<VisitorSession>> {
    let table = txn.open_table(CHAT_TOKEN_TO_SESSION)?;
    let found = match table.get(token_hash)? {
        Some(g) => Some(codec::decode(g.value())?),
        None => None,
    };
    Ok(found)
}

/// A new visitor: a contact with a fresh identity on the account (`external_id`, random),
/// and the session.
pub fn create_session(
    txn: &WriteTransaction,
    fx: &mut Effects,
    account_id: u64,
    token_hash: &str,
    external_id: &str,
    facts: &ContactFacts,
    now: Millis,
) -> AppResult<VisitorSession> {
    super::accounts::require_w(txn, account_id)?;
    let contact = contacts::for_identity(txn, fx, account_id, external_id, facts, now)?;
    let session = VisitorSession {
        account_id,
        contact_id: contact.id,
        external_id: external_id.to_string(),
        created_at: now,
    };
    txn.open_table(CHAT_TOKEN_TO_SESSION)?
        .insert(token_hash, codec::encode(&session)?.as_slice())?;
    Ok(session)
}

/// The visitor's conversation on this account across their tickets, oldest first (the last
/// `limit` messages).
pub fn history(
    txn: &ReadTransaction,
    account_id: u64,
    contact_id: u64,
    limit: usize,
) -> AppResult<Vec<Message>> {
    let links = txn.open_table(CONTACT_TICKET)?;
    let tickets = txn.open_table(NUMBER_TO_TICKET)?;
    let ticket_messages = txn.open_table(TICKET_MESSAGE)?;
    let messages = txn.open_table(MESSAGE_ID_TO_MESSAGE)?;
    let mut out = Vec::new();
    for row in links.range((contact_id, 0)..=(contact_id, u64::MAX))? {
        let number = row?.0.value().1;
        let t: Option<Ticket> = codec::get(&tickets, number)?;
        if t.is_none_or(|t| t.account_id != account_id) {
            continue;
        }
        for m in ticket_messages.range((number, 0)..=(number, u64::MAX))? {
            let id = m?.0.value().1;
            if let Some(m) = codec::get::<Message>(&messages, id)? {
                out.push(m);
            }
        }
    }
    out.sort_by_key(|m| (m.created_at, m.id));
    let skip = out.len().saturating_sub(limit);
    Ok(out.split_off(skip))
}

/// Someone who takes this account's tickets is in an assignable state now.
pub fn agents_available(txn: &ReadTransaction, account_id: u64) -> AppResult<bool> {
    let modes = txn.open_table(ACCOUNT_USER_TO_MODE)?;
    let agents = txn.open_table(USER_TO_AGENT)?;
    super::assignment::any_enabled_available(
        modes
            .range((account_id, 0)..=(account_id, u64::MAX))?
            .map(|row| {
                let (key, mode) = row?;
                Ok((key.value().1, AssignMode::from_code(mode.value())))
            }),
        |user| Ok(agents.get(user)?.is_some_and(|a| a.value().2)),
    )
}

/// `agents_available`, in a write transaction (automatic messages decide as a message lands).
pub fn agents_available_w(txn: &WriteTransaction, account_id: u64) -> AppResult<bool> {
    super::assignment::anyone_available(txn, account_id)
}

/// Answers reached the visitor (`Delivered`, shown in an open widget) or were read (`Read`).
/// Only moves a status forward. Their outbox rows stay until due: the chat's sender then sees
/// the answer was seen and mails nothing.
pub fn mark(
    txn: &WriteTransaction,
    fx: &mut Effects,
    ids: &[u64],
    status: DeliveryStatus,
) -> AppResult<()> {
    let rank = |s: DeliveryStatus| match s {
        DeliveryStatus::Queued | DeliveryStatus::Failed => 0,
        DeliveryStatus::Sent => 1,
        DeliveryStatus::Delivered => 2,
        DeliveryStatus::Read => 3,
        DeliveryStatus::Received => 4,
    };
    for id in ids {
        let found: Option<Message> = codec::get(&txn.open_table(MESSAGE_ID_TO_MESSAGE)?, *id)?;
        let Some(mut m) = found else { continue };
        if m.direction != Direction::Outbound || rank(m.status) >= rank(status) {
            continue;
        }
        m.status = status;
        m.status_detail = None;
        super::tickets::update_message(txn, fx, &m)?;
    }
    Ok(())
}

/// What a chat or form answer's sender reads: the message, its ticket, the account and the
/// customer.
pub type Answer = (Message, Ticket, Option<Account>, Option<Contact>);

/// The answer `message_id` with its context; None when the message or its ticket is gone.
pub fn answer(txn: &ReadTransaction, message_id: u64) -> AppResult<Option<Answer>> {
    let Some(m) = codec::get::<Message>(&txn.open_table(MESSAGE_ID_TO_MESSAGE)?, message_id)?
    else {
        return Ok(None);
    };
    let Some(t) = codec::get::<Ticket>(&txn.open_table(NUMBER_TO_TICKET)?, m.ticket_number)? else {
        return Ok(None);
    };
    let account = super::accounts::get(txn, t.account_id)?;
    let contact = contacts::get(txn, t.contact_id)?;
    Ok(Some((m, t, account, contact)))
}
