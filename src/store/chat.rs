//! Web chat (CHAN-2) storage: visitor sessions, a visitor's conversation, whether anyone can
//! answer, and delivery marks of the answers shown in the widget.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

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

/// A new visitor: a contact with a fresh identity on the account, and the session.
pub fn create_session(
    txn: &WriteTransaction,
    fx: &mut Effects,
    account_id: u64,
    token_hash: &str,
    facts: &ContactFacts,
    now: Millis,
) -> AppResult<VisitorSession> {
    super::accounts::require_w(txn, account_id)?;
    let external_id = format!("chat:{}", crate::auth::random_token(12));
    let contact = contacts::for_identity(txn, fx, account_id, &external_id, facts, now)?;
    let session = VisitorSession {
        account_id,
        contact_id: contact.id,
        external_id,
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
    for row in modes.range((account_id, 0)..=(account_id, u64::MAX))? {
        let (k, mode) = row?;
        if AssignMode::from_code(mode.value()) == AssignMode::Disabled {
            continue;
        }
        if let Some(a) = agents.get(k.value().1)? {
            if a.value().2 {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Answers reached the visitor (`Delivered`, shown in an open widget) or were read (`Read`):
/// their delivery rows are done. Only moves a status forward.
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
    let mut changed = Vec::new();
    for id in ids {
        let found: Option<Message> = codec::get(&txn.open_table(MESSAGE_ID_TO_MESSAGE)?, *id)?;
        let Some(mut m) = found else { continue };
        if m.direction != Direction::Outbound || rank(m.status) >= rank(status) {
            continue;
        }
        m.status = status;
        m.status_detail = None;
        super::tickets::update_message(txn, fx, &m)?;
        changed.push(m);
    }
    if changed.is_empty() {
        return Ok(());
    }
    let done: Vec<u64> = {
        let outbox = txn.open_table(OUTBOX_ID_TO_ITEM)?;
        let mut out = Vec::new();
        for row in outbox.iter()? {
            let (k, v) = row?;
            let item: OutboxItem = codec::decode(v.value())?;
            if item
                .message_id
                .is_some_and(|m| changed.iter().any(|c| c.id == m))
            {
                out.push(k.value());
            }
        }
        out
    };
    let mut outbox = txn.open_table(OUTBOX_ID_TO_ITEM)?;
    for k in done {
        outbox.remove(k)?;
    }
    Ok(())
}

/// Answers on web chat and contact form tickets still waiting to reach the customer.
pub fn undelivered(txn: &ReadTransaction) -> AppResult<Vec<(OutboxItem, Ticket)>> {
    let outbox = txn.open_table(OUTBOX_ID_TO_ITEM)?;
    let tickets = txn.open_table(NUMBER_TO_TICKET)?;
    let mut out = Vec::new();
    for row in outbox.iter()? {
        let (_, v) = row?;
        let item: OutboxItem = codec::decode(v.value())?;
        let Some(number) = item.ticket_number else {
            continue;
        };
        if let Some(t) = codec::get::<Ticket>(&tickets, number)? {
            if matches!(t.channel, Channel::Webchat | Channel::Form) {
                out.push((item, t));
            }
        }
    }
    Ok(out)
}

/// The visitor was gone: the answer went by mail (or stays waiting when it cannot).
pub fn sent_by_mail(
    txn: &WriteTransaction,
    fx: &mut Effects,
    item_id: u64,
    mail: Option<SystemMail>,
    now: Millis,
) -> AppResult<()> {
    let found: Option<OutboxItem> = codec::get(&txn.open_table(OUTBOX_ID_TO_ITEM)?, item_id)?;
    let Some(item) = found else { return Ok(()) };
    let Some(message_id) = item.message_id else {
        return Ok(());
    };
    let found: Option<Message> = codec::get(&txn.open_table(MESSAGE_ID_TO_MESSAGE)?, message_id)?;
    let Some(mut m) = found else { return Ok(()) };
    let mailed = match mail {
        Some(mail) => crate::mail::queue_system(txn, mail, now)?,
        None => false,
    };
    match mailed {
        true => {
            m.status = DeliveryStatus::Sent;
            m.status_detail = Some("enviado por correo al cliente".into());
        }
        false => {
            m.status_detail = Some(
                "sin correo para enviarlo: el cliente lo verá si vuelve al chat (o conecta una cuenta de correo)".into(),
            );
        }
    }
    txn.open_table(OUTBOX_ID_TO_ITEM)?.remove(item_id)?;
    super::tickets::update_message(txn, fx, &m)
}
