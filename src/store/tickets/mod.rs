//! Tickets, their messages, comments and history: the operations that change them run inside
//! one write transaction each (the writer groups them), and keep the list index in step.

use std::collections::{BTreeMap, HashMap, HashSet};

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::contacts;
use super::index::{self, TicketQuery};
use super::tables::*;
use super::{codec, event, next_id, Effects};
pub use crate::domain::inbound::{Inbound, Ingested, Thread};
use crate::domain::ticket::{self as rules, Route};
use crate::domain::*;
use crate::error::{AppError, AppResult};

mod answer;
mod auto;
mod change;
mod ingest;
pub use answer::*;
pub(crate) use auto::append_automatic;
pub use change::*;
pub use ingest::*;

/// Who is acting, and which accounts they may touch (None = all).
#[derive(Debug, Clone)]
pub struct Access {
    pub user_id: u64,
    pub name: String,
    pub role: Role,
    pub visible: Option<HashSet<u64>>,
}

impl Access {
    pub fn may_see(&self, account_id: u64) -> bool {
        self.visible
            .as_ref()
            .is_none_or(|v| v.contains(&account_id))
    }
}

pub fn get(txn: &ReadTransaction, number: u64) -> AppResult<Option<Ticket>> {
    codec::get(&txn.open_table(NUMBER_TO_TICKET)?, number)
}

pub fn get_w(txn: &WriteTransaction, number: u64) -> AppResult<Option<Ticket>> {
    codec::get(&txn.open_table(NUMBER_TO_TICKET)?, number)
}

/// A ticket the actor may see, or 404 (an agent never learns that a hidden ticket exists).
pub fn require_w(txn: &WriteTransaction, number: u64, access: &Access) -> AppResult<Ticket> {
    get_w(txn, number)?
        .filter(|t| access.may_see(t.account_id))
        .ok_or_else(|| AppError::not_found("ticket"))
}

pub fn require(txn: &ReadTransaction, number: u64, access: &Access) -> AppResult<Ticket> {
    get(txn, number)?
        .filter(|t| access.may_see(t.account_id))
        .ok_or_else(|| AppError::not_found("ticket"))
}

/// Writes the record and brings the list index in step with the change.
pub fn save(txn: &WriteTransaction, old: Option<&Ticket>, new: &Ticket) -> AppResult<()> {
    txn.open_table(NUMBER_TO_TICKET)?
        .insert(new.number, codec::encode_compact(new)?.as_slice())?;
    super::assignment::update_load(txn, old, new)?;
    super::sla::update_timers(txn, old, new)?;
    super::report::update(txn, new)?;
    let mut idx = txn.open_table(TICKET_KEYS)?;
    index::update(&mut idx, old, Some(new))
}

pub fn query_in_write(
    txn: &WriteTransaction,
    q: &TicketQuery,
    now: Millis,
) -> AppResult<Vec<Ticket>> {
    let (items, _) = index::list_in(
        &txn.open_table(NUMBER_TO_TICKET)?,
        &txn.open_table(TICKET_KEYS)?,
        &txn.open_table(ACCOUNT_ID_TO_ACCOUNT)?,
        super::sla::ClockTables {
            calendars: &txn.open_table(CALENDAR_ID_TO_CALENDAR)?,
            policies: &txn.open_table(SLA_POLICY_ID_TO_POLICY)?,
            teams: &txn.open_table(TEAM_ID_TO_TEAM)?,
        },
        q,
        now,
    )?;
    Ok(items)
}

pub fn add_history(
    txn: &WriteTransaction,
    number: u64,
    actor_id: Option<u64>,
    action: &str,
    detail: Note,
    now: Millis,
) -> AppResult<()> {
    add_history_with(txn, number, actor_id, action, detail, None, now)
}

pub fn add_history_with(
    txn: &WriteTransaction,
    number: u64,
    actor_id: Option<u64>,
    action: &str,
    detail: Note,
    decision: Option<Note>,
    now: Millis,
) -> AppResult<()> {
    let id = next_id(txn, "history")?;
    let entry = StoredEntry {
        at: now,
        actor_id,
        action: action.to_string(),
        detail,
        decision,
    };
    txn.open_table(TICKET_HISTORY_TO_ENTRY)?
        .insert((number, id), codec::encode_compact(&entry)?.as_slice())?;
    Ok(())
}

/// A history entry as stored, positionally: its ticket and id are the key. Entries written
/// before (with names, ticket and id inside) read the same.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct StoredEntry {
    at: Millis,
    #[serde(default)]
    actor_id: Option<u64>,
    action: String,
    #[serde(
        serialize_with = "crate::domain::note::named::one",
        deserialize_with = "crate::domain::note::stored::one"
    )]
    detail: Note,
    #[serde(
        default,
        serialize_with = "crate::domain::note::named::option",
        deserialize_with = "crate::domain::note::stored::option"
    )]
    decision: Option<Note>,
}

impl StoredEntry {
    fn into_entry(self, (ticket_number, id): (u64, u64)) -> HistoryEntry {
        HistoryEntry {
            id,
            ticket_number,
            at: self.at,
            actor_id: self.actor_id,
            action: self.action,
            detail: self.detail,
            decision: self.decision,
        }
    }
}

fn ticket_event(kind: EventKind, t: &Ticket) -> Event {
    let mut e = event(kind);
    e.ticket_number = Some(t.number);
    e.account_id = Some(t.account_id);
    e.contact_id = Some(t.contact_id);
    e
}

/// The ticket a message for `number` should join: followed through merges, None when it is
/// gone.
pub(crate) fn thread_target(txn: &WriteTransaction, number: u64) -> AppResult<Option<Ticket>> {
    let mut current = get_w(txn, number)?;
    for _ in 0..8 {
        match current {
            Some(ref t) if t.merged_into.is_some() => {
                current = get_w(txn, t.merged_into.unwrap_or(t.number))?;
            }
            _ => break,
        }
    }
    Ok(current)
}

/// A message may carry an attachment its author uploaded and nobody used yet, or one already
/// on this ticket — never someone else's file (ids are guessable; this is the access check).
fn check_attachments(
    txn: &WriteTransaction,
    ids: &[u64],
    uploader: Option<u64>,
    ticket: Option<u64>,
) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let t = txn.open_table(ATTACHMENT_ID_TO_ATTACHMENT)?;
    for id in ids {
        let a: Option<Attachment> = codec::get(&t, *id)?;
        let usable = a.is_some_and(|a| match a.ticket_number {
            None => a.uploaded_by == uploader,
            Some(n) => Some(n) == ticket,
        });
        if !usable {
            return Err(AppError::invalid(
                "attachments",
                "unknown_attachment",
                format!("attachment {id} does not exist or is not yours to send (upload it first)"),
            ));
        }
    }
    Ok(())
}

/// Stores a new message of ticket `t` (as it was when the message came) and counts it.
pub(crate) fn insert_message(txn: &WriteTransaction, m: &Message, t: &Ticket) -> AppResult<()> {
    super::report::message(txn, m, t)?;
    txn.open_table(MESSAGE_ID_TO_MESSAGE)?
        .insert(m.id, codec::encode_compact(m)?.as_slice())?;
    txn.open_table(TICKET_MESSAGE)?
        .insert((m.ticket_number, m.id), ())?;
    if !m.attachments.is_empty() {
        let mut atts = txn.open_table(ATTACHMENT_ID_TO_ATTACHMENT)?;
        for id in &m.attachments {
            let found: Option<Attachment> = codec::get(&atts, *id)?;
            if let Some(mut a) = found {
                if a.ticket_number.is_none() {
                    a.ticket_number = Some(m.ticket_number);
                    atts.insert(*id, codec::encode(&a)?.as_slice())?;
                }
            }
        }
    }
    Ok(())
}

/// Saves a changed message (delivery status, mail headers) and announces it as
/// `message.updated` under its ticket's account and contact, so only those who may see the
/// ticket hear of it.
pub fn update_message(txn: &WriteTransaction, fx: &mut Effects, m: &Message) -> AppResult<()> {
    txn.open_table(MESSAGE_ID_TO_MESSAGE)?
        .insert(m.id, codec::encode_compact(m)?.as_slice())?;
    let mut e = event(EventKind::MessageUpdated);
    e.ticket_number = Some(m.ticket_number);
    e.message_id = Some(m.id);
    if let Some(t) = get_w(txn, m.ticket_number)? {
        e.account_id = Some(t.account_id);
        e.contact_id = Some(t.contact_id);
    }
    fx.emit(e);
    Ok(())
}

pub fn messages(txn: &ReadTransaction, number: u64) -> AppResult<Vec<Message>> {
    let tm = txn.open_table(TICKET_MESSAGE)?;
    let msgs = txn.open_table(MESSAGE_ID_TO_MESSAGE)?;
    let mut out = Vec::new();
    for row in tm.range((number, 0)..=(number, u64::MAX))? {
        let id = row?.0.value().1;
        if let Some(m) = codec::get::<Message>(&msgs, id)? {
            out.push(m);
        }
    }
    out.sort_by_key(|m| (m.created_at, m.id));
    Ok(out)
}

pub fn message(txn: &ReadTransaction, id: u64) -> AppResult<Option<Message>> {
    codec::get(&txn.open_table(MESSAGE_ID_TO_MESSAGE)?, id)
}

pub fn comments(txn: &ReadTransaction, number: u64) -> AppResult<Vec<Comment>> {
    let t = txn.open_table(TICKET_COMMENT_TO_COMMENT)?;
    let mut out = Vec::new();
    for row in t.range((number, 0)..=(number, u64::MAX))? {
        out.push(codec::decode(row?.1.value())?);
    }
    Ok(out)
}

pub fn history(txn: &ReadTransaction, number: u64) -> AppResult<Vec<HistoryEntry>> {
    let t = txn.open_table(TICKET_HISTORY_TO_ENTRY)?;
    let mut out: Vec<HistoryEntry> = Vec::new();
    for row in t.range((number, 0)..=(number, u64::MAX))? {
        let (k, v) = row?;
        out.push(codec::decode::<StoredEntry>(v.value())?.into_entry(k.value()));
    }
    out.sort_by_key(|h| (h.at, h.id));
    Ok(out)
}

/// The customer's (and linked profiles') latest tickets, newest first.
pub fn of_contacts(
    txn: &ReadTransaction,
    contact_ids: &[u64],
    limit: usize,
) -> AppResult<Vec<Ticket>> {
    tickets_of(
        &txn.open_table(CONTACT_TICKET)?,
        &txn.open_table(NUMBER_TO_TICKET)?,
        contact_ids,
        limit,
    )
}

/// Every ticket of the contacts, newest first, inside a change.
pub fn of_contacts_w(txn: &WriteTransaction, contact_ids: &[u64]) -> AppResult<Vec<Ticket>> {
    tickets_of(
        &txn.open_table(CONTACT_TICKET)?,
        &txn.open_table(NUMBER_TO_TICKET)?,
        contact_ids,
        usize::MAX,
    )
}

fn tickets_of(
    ct: &impl ReadableTable<(u64, u64), ()>,
    tickets: &impl ReadableTable<u64, &'static [u8]>,
    contact_ids: &[u64],
    limit: usize,
) -> AppResult<Vec<Ticket>> {
    let mut numbers = Vec::new();
    for c in contact_ids {
        for row in ct.range((*c, 0)..=(*c, u64::MAX))?.rev().take(limit) {
            numbers.push(row?.0.value().1);
        }
    }
    numbers.sort_unstable_by(|a, b| b.cmp(a));
    numbers.dedup();
    numbers.truncate(limit);
    let mut out = Vec::new();
    for n in numbers {
        if let Some(t) = codec::get(tickets, n)? {
            out.push(t);
        }
    }
    Ok(out)
}

/// What a message column (BOARD-1) may filter on.
#[derive(Debug, Default, Clone)]
pub struct MessageQuery {
    pub accounts: Option<Vec<u64>>,
    pub channels: Option<Vec<Channel>>,
    pub direction: Option<Direction>,
    pub public: Option<bool>,
    /// Only messages with a smaller id (the cursor).
    pub before: Option<u64>,
    /// Only messages written in this period (ms, inclusive); the newest are read first, so
    /// the walk ends at the first one before `from`.
    pub from: Option<Millis>,
    pub to: Option<Millis>,
    pub limit: usize,
}

pub type MessageWithTicket = (Message, Ticket);

/// How many messages one page may examine: a rare filter returns a short page and a cursor
/// rather than walking the whole store.
pub const MESSAGE_SCAN_MAX: usize = 5_000;

/// The newest messages first (by arrival), with their tickets, that `access` may see. The
/// second value is the cursor to continue from, `None` when the store has no older message.
pub fn recent_messages(
    txn: &ReadTransaction,
    q: &MessageQuery,
    access: &Access,
) -> AppResult<(Vec<MessageWithTicket>, Option<u64>)> {
    let msgs = txn.open_table(MESSAGE_ID_TO_MESSAGE)?;
    let tickets = txn.open_table(NUMBER_TO_TICKET)?;
    let mut cache: HashMap<u64, Option<Ticket>> = HashMap::new();
    let mut out = Vec::new();
    let mut scanned = 0;
    let range = match q.before {
        Some(b) => msgs.range(..b)?,
        None => msgs.range::<u64>(..)?,
    };
    for row in range.rev() {
        let (id, bytes) = row?;
        let id = id.value();
        scanned += 1;
        let m: Message = codec::decode(bytes.value())?;
        if q.from.is_some_and(|from| m.created_at < from) {
            return Ok((out, None));
        }
        let wanted = q.direction.is_none_or(|d| d == m.direction)
            && q.public.is_none_or(|p| p == m.public)
            && q.to.is_none_or(|to| m.created_at <= to);
        if wanted {
            let ticket = match cache.get(&m.ticket_number) {
                Some(t) => t.clone(),
                None => {
                    let t: Option<Ticket> = codec::get(&tickets, m.ticket_number)?;
                    cache.insert(m.ticket_number, t.clone());
                    t
                }
            };
            if let Some(t) = ticket.filter(|t| {
                access.may_see(t.account_id)
                    && q.accounts
                        .as_ref()
                        .is_none_or(|a| a.contains(&t.account_id))
                    && q.channels.as_ref().is_none_or(|c| c.contains(&t.channel))
            }) {
                out.push((m, t));
            }
        }
        if out.len() == q.limit || scanned == MESSAGE_SCAN_MAX {
            return Ok((out, Some(id)));
        }
    }
    Ok((out, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_stored_without_its_key_and_older_entries_read_the_same() {
        let stored = StoredEntry {
            at: 1_000,
            actor_id: None,
            action: "created".into(),
            detail: Note::Created,
            decision: Some(Note::AssignedRoundRobin {
                agent: "Ana".into(),
                candidates: 3,
            }),
        };
        let bytes = codec::encode_compact(&stored).unwrap();
        let entry = codec::decode::<StoredEntry>(&bytes)
            .unwrap()
            .into_entry((42, 7));
        assert_eq!((entry.ticket_number, entry.id, entry.at), (42, 7, 1_000));
        assert_eq!(entry.decision, stored.decision);
        // As written before (with names, its id and ticket inside; a merge moved it to 42).
        let named = codec::encode(&HistoryEntry {
            id: 7,
            ticket_number: 41,
            ..entry.clone()
        })
        .unwrap();
        assert!(
            bytes.len() + 40 < named.len(),
            "{} vs {}",
            bytes.len(),
            named.len()
        );
        let old = codec::decode::<StoredEntry>(&named)
            .unwrap()
            .into_entry((42, 7));
        assert_eq!((old.ticket_number, old.detail), (42, Note::Created));
    }
}
