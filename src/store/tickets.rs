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
        .insert(new.number, codec::encode(new)?.as_slice())?;
    super::assignment::update_load(txn, old, new)?;
    let mut idx = txn.open_table(TICKET_INDEX)?;
    index::update(&mut idx, old, Some(new))
}

pub fn query_in_write(
    txn: &WriteTransaction,
    q: &TicketQuery,
    now: Millis,
) -> AppResult<Vec<Ticket>> {
    let (items, _) = index::list_in(
        &txn.open_table(NUMBER_TO_TICKET)?,
        &txn.open_table(TICKET_INDEX)?,
        &txn.open_table(ACCOUNT_ID_TO_ACCOUNT)?,
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
    let entry = HistoryEntry {
        id,
        ticket_number: number,
        at: now,
        actor_id,
        action: action.to_string(),
        detail,
        decision,
    };
    txn.open_table(TICKET_HISTORY_TO_ENTRY)?
        .insert((number, id), codec::encode(&entry)?.as_slice())?;
    Ok(())
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

pub(crate) fn insert_message(txn: &WriteTransaction, m: &Message) -> AppResult<()> {
    txn.open_table(MESSAGE_ID_TO_MESSAGE)?
        .insert(m.id, codec::encode(m)?.as_slice())?;
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
        .insert(m.id, codec::encode(m)?.as_slice())?;
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

/// TICK-2: a customer message joins their open ticket on the account or opens a new one.
pub fn ingest(
    txn: &WriteTransaction,
    fx: &mut Effects,
    inbound: &Inbound,
    now: Millis,
) -> AppResult<Ingested> {
    ingest_with(txn, fx, inbound, now, |_| {})
}

/// `ingest`, letting the channel add what only it knows to the new message before it is
/// stored (email: subject, Message-ID, sanitised HTML).
pub fn ingest_with(
    txn: &WriteTransaction,
    fx: &mut Effects,
    inbound: &Inbound,
    now: Millis,
    decorate: impl FnOnce(&mut Message),
) -> AppResult<Ingested> {
    let account = super::accounts::require_w(txn, inbound.account_id)?;
    let ext_key = identity_key(account.id, &inbound.external_id);
    let seen = txn
        .open_table(EXTERNAL_TO_MESSAGE_ID)?
        .get(ext_key.as_str())?
        .map(|g| g.value());
    if let Some(message_id) = seen {
        let m: Message = codec::get(&txn.open_table(MESSAGE_ID_TO_MESSAGE)?, message_id)?
            .ok_or_else(|| AppError::internal("external id without message"))?;
        return Ok(Ingested {
            ticket_number: m.ticket_number,
            message_id,
            created_ticket: m.opened_ticket,
        });
    }
    check_attachments(txn, &inbound.attachments, inbound.uploader, None)?;
    if let Some(r) = inbound.reply_to {
        if txn.open_table(MESSAGE_ID_TO_MESSAGE)?.get(r)?.is_none() {
            return Err(AppError::invalid(
                "reply_to",
                "unknown_message",
                format!("message {r} does not exist"),
            ));
        }
    }
    let contact = contacts::for_identity(
        txn,
        fx,
        account.id,
        &inbound.contact_external_id,
        &inbound.contact,
        now,
    )?;
    let last_number = txn
        .open_table(CONTACT_ACCOUNT_TO_LAST_TICKET)?
        .get((contact.id, account.id))?
        .map(|g| g.value());
    let last = match last_number {
        Some(n) => get_w(txn, n)?,
        None => None,
    };
    // Imported or delayed messages keep their own time (never later than now).
    let at = inbound.sent_at.map(|s| s.min(now)).unwrap_or(now);
    let route = match inbound.thread {
        Thread::ByContact => rules::route_inbound(last.as_ref()),
        Thread::New => Route::New { previous: None },
        Thread::Ticket(n) => match thread_target(txn, n)?.filter(|t| t.account_id == account.id) {
            Some(t) if t.state == TicketState::Open => Route::Join(t.number),
            Some(t) => Route::New {
                previous: Some(t.number),
            },
            None => Route::New { previous: None },
        },
    };
    let joined = match route {
        Route::Join(n) if last.as_ref().is_some_and(|l| l.number == n) => last.clone(),
        Route::Join(n) => get_w(txn, n)?,
        Route::New { .. } => None,
    };
    let (mut ticket, before, created) = match route {
        Route::Join(_) => {
            let t = joined.ok_or_else(|| AppError::internal("routing lost the ticket"))?;
            (t.clone(), Some(t), false)
        }
        Route::New { previous } => {
            let number = next_id(txn, "ticket")?;
            let mut t = rules::new_ticket(rules::NewTicket {
                number,
                account: (account.id, account.kind),
                contact_id: contact.id,
                public: inbound.public,
                influencer: contact.influencer,
                previous,
                now: at,
            });
            txn.open_table(CONTACT_ACCOUNT_TO_LAST_TICKET)?
                .insert((contact.id, account.id), number)?;
            txn.open_table(CONTACT_TICKET)?
                .insert((contact.id, number), ())?;
            let detail = match previous {
                Some(previous) => Note::CreatedFollowing { previous },
                None => Note::Created,
            };
            let relation = super::assignment::relation_of(last.as_ref());
            let (_, decision) =
                super::assignment::assign_new(txn, &mut t, &account, relation, now)?;
            add_history_with(txn, number, None, "created", detail, Some(decision), at)?;
            (t, None, true)
        }
    };
    let mut message = Message {
        id: next_id(txn, "message")?,
        ticket_number: ticket.number,
        direction: Direction::Inbound,
        public: inbound.public,
        contact_id: Some(contact.id),
        user_id: None,
        text: inbound.text.clone(),
        attachments: inbound.attachments.clone(),
        reply_to: inbound.reply_to,
        external_id: Some(inbound.external_id.clone()),
        status: DeliveryStatus::Received,
        created_at: at,
        opened_ticket: created,
        status_detail: None,
        mail: None,
    };
    decorate(&mut message);
    insert_message(txn, &message)?;
    txn.open_table(EXTERNAL_TO_MESSAGE_ID)?
        .insert(ext_key.as_str(), message.id)?;
    rules::apply_inbound(&mut ticket, inbound.public, &inbound.text, at);
    save(txn, before.as_ref(), &ticket)?;
    fx.emit(ticket_event(
        if created {
            EventKind::TicketCreated
        } else {
            EventKind::TicketUpdated
        },
        &ticket,
    ));
    let mut e = ticket_event(EventKind::MessageCreated, &ticket);
    e.message_id = Some(message.id);
    fx.emit(e);
    Ok(Ingested {
        ticket_number: ticket.number,
        message_id: message.id,
        created_ticket: created,
    })
}

pub struct Reply {
    pub text: String,
    pub reply_to: Option<u64>,
    pub attachments: Vec<u64>,
}

/// TICK-4: an agent's answer, stored and queued for delivery in one transaction.
pub fn reply(
    txn: &WriteTransaction,
    fx: &mut Effects,
    number: u64,
    access: &Access,
    r: &Reply,
    now: Millis,
) -> AppResult<Message> {
    let before = require_w(txn, number, access)?;
    if let Some(into) = before.merged_into {
        return Err(AppError::conflict(
            "ticket_merged",
            format!("ticket #{number} was merged into #{into}; reply there"),
        ));
    }
    check_attachments(txn, &r.attachments, Some(access.user_id), Some(number))?;
    // Public or private follows the message answered, else the ticket's kind.
    let public = match r.reply_to {
        Some(id) => {
            let m: Message = codec::get(&txn.open_table(MESSAGE_ID_TO_MESSAGE)?, id)?
                .filter(|m: &Message| m.ticket_number == number)
                .ok_or_else(|| {
                    AppError::invalid(
                        "reply_to",
                        "unknown_message",
                        format!("message {id} is not in ticket #{number}"),
                    )
                })?;
            m.public
        }
        None => before.kind == TicketKind::Public,
    };
    let mut ticket = before.clone();
    let effect = rules::apply_reply(&mut ticket, access.user_id, public, &r.text, now);
    let message = Message {
        id: next_id(txn, "message")?,
        ticket_number: number,
        direction: Direction::Outbound,
        public,
        contact_id: None,
        user_id: Some(access.user_id),
        text: r.text.clone(),
        attachments: r.attachments.clone(),
        reply_to: r.reply_to,
        external_id: None,
        status: DeliveryStatus::Queued,
        created_at: now,
        opened_ticket: false,
        status_detail: None,
        mail: None,
    };
    insert_message(txn, &message)?;
    // Every channel's answer leaves through the one outbox, sent by the channel's sender.
    super::outbox::enqueue(
        txn,
        before.channel,
        Some(before.account_id),
        OutboxWork::Message {
            message_id: message.id,
            ticket_number: number,
            automatic: false,
        },
        now,
    )?;
    if let Some(from) = effect.moved_from {
        let detail = match from {
            Some(prev) => Note::AssignedOnReplyFrom {
                agent: access.name.clone(),
                previous: super::users::get_w(txn, prev)?
                    .map(|u| u.name)
                    .unwrap_or_else(|| format!("#{prev}")),
            },
            None => Note::AssignedOnReply {
                agent: access.name.clone(),
            },
        };
        add_history(txn, number, Some(access.user_id), "assigned", detail, now)?;
    }
    save(txn, Some(&before), &ticket)?;
    fx.emit(ticket_event(EventKind::TicketUpdated, &ticket));
    let mut e = ticket_event(EventKind::MessageCreated, &ticket);
    e.message_id = Some(message.id);
    fx.emit(e);
    Ok(message)
}

pub fn comment(
    txn: &WriteTransaction,
    fx: &mut Effects,
    number: u64,
    access: &Access,
    text: &str,
    mentions: &[u64],
    now: Millis,
) -> AppResult<Comment> {
    let t = require_w(txn, number, access)?;
    let c = Comment {
        id: next_id(txn, "comment")?,
        ticket_number: number,
        user_id: access.user_id,
        text: text.to_string(),
        mentions: mentions.to_vec(),
        created_at: now,
    };
    txn.open_table(TICKET_COMMENT_TO_COMMENT)?
        .insert((number, c.id), codec::encode(&c)?.as_slice())?;
    let mut e = ticket_event(EventKind::CommentCreated, &t);
    e.user_id = Some(access.user_id);
    fx.emit(e);
    for m in mentions {
        let mut e = ticket_event(EventKind::MentionCreated, &t);
        e.user_id = Some(*m);
        fx.emit(e);
    }
    Ok(c)
}

/// PATCH /tickets/{number}: each field is optional; `Some(None)` clears.
#[derive(Debug, Clone, Default)]
pub struct TicketPatch {
    pub state: Option<TicketState>,
    pub important: Option<bool>,
    pub assignee_id: Option<Option<u64>>,
    pub team_id: Option<Option<u64>>,
    pub labels: Option<Vec<u64>>,
    pub sentiment_initial: Option<Option<Sentiment>>,
    pub sentiment_final: Option<Option<Sentiment>>,
    pub fields: Option<BTreeMap<String, serde_json::Value>>,
}

pub fn patch(
    txn: &WriteTransaction,
    fx: &mut Effects,
    number: u64,
    access: &Access,
    p: &TicketPatch,
    now: Millis,
) -> AppResult<Ticket> {
    let before = require_w(txn, number, access)?;
    let mut t = before.clone();
    let mut history: Vec<(&str, Note)> = Vec::new();
    if let Some(to) = p.state {
        match rules::change_state(&mut t, to, access.role, now) {
            Ok(true) => history.push(("state", {
                let by = access.name.clone();
                match to {
                    TicketState::Open => Note::StateReopened { by },
                    TicketState::Closed => Note::StateClosed { by },
                    TicketState::Ignored => Note::StateIgnored { by },
                }
            })),
            Ok(false) => {}
            Err(rules::StateChangeError::ReopenNotAllowed) => {
                return Err(AppError::forbidden(
                    "only administrators and supervisors reopen tickets",
                ))
            }
            Err(rules::StateChangeError::Merged) => {
                return Err(AppError::conflict(
                    "ticket_merged",
                    "a merged ticket cannot change state",
                ))
            }
        }
        if to == TicketState::Open && before.state != TicketState::Open {
            route_to_reopened(txn, &t)?;
        }
    }
    if let Some(b) = p.important {
        if b != t.important {
            t.important = b;
            history.push((
                "important",
                if b {
                    Note::MarkedImportant
                } else {
                    Note::UnmarkedImportant
                },
            ));
        }
    }
    if let Some(who) = p.assignee_id {
        if who != t.assignee_id {
            let detail = match who {
                Some(uid) => {
                    let u = super::users::get_w(txn, uid)?
                        .filter(|u| u.active)
                        .ok_or_else(|| {
                            AppError::invalid(
                                "assignee_id",
                                "unknown_user",
                                format!("no active user {uid}"),
                            )
                        })?;
                    if !u.role.sees_all_accounts() {
                        let modes = txn.open_table(USER_ACCOUNT_TO_MODE)?;
                        let enabled = modes
                            .get((uid, t.account_id))?
                            .map(|g| AssignMode::from_code(g.value()) != AssignMode::Disabled)
                            .unwrap_or(false);
                        if !enabled {
                            return Err(AppError::invalid(
                                "assignee_id",
                                "agent_not_enabled",
                                format!("{} is not enabled on this ticket's account", u.name),
                            ));
                        }
                    }
                    if uid == access.user_id {
                        Note::AssignedSelf { agent: u.name }
                    } else {
                        Note::AssignedManual {
                            agent: u.name,
                            by: access.name.clone(),
                        }
                    }
                }
                None => Note::UnassignedManual {
                    by: access.name.clone(),
                },
            };
            t.assignee_id = who;
            history.push(("assigned", detail));
        }
    }
    if let Some(team) = p.team_id {
        if team != t.team_id {
            if let Some(tid) = team {
                let teams = txn.open_table(TEAM_ID_TO_TEAM)?;
                let team: Team = codec::get(&teams, tid)?.ok_or_else(|| {
                    AppError::invalid("team_id", "unknown_team", format!("no team {tid}"))
                })?;
                history.push((
                    "team",
                    Note::TeamSet {
                        team: team.name.clone(),
                    },
                ));
                // A ticket given to a team without an agent goes round the team (ORG-1).
                if p.assignee_id.is_none() && t.assignee_id.is_none() {
                    drop(teams);
                    super::assignment::assign_in_team(txn, &mut t, &team, now)?;
                }
            } else {
                history.push(("team", Note::TeamCleared));
            }
            t.team_id = team;
        }
    }
    if let Some(labels) = &p.labels {
        let table = txn.open_table(LABEL_ID_TO_LABEL)?;
        let mut clean: Vec<u64> = Vec::new();
        for l in labels {
            // Only labels being added must exist: a label deleted since it was put on the
            // ticket must not block every later edit.
            if !t.labels.contains(l) && table.get(*l)?.is_none() {
                return Err(AppError::invalid(
                    "labels",
                    "unknown_label",
                    format!("no label {l}"),
                ));
            }
            if !clean.contains(l) {
                clean.push(*l);
            }
        }
        if clean != t.labels {
            t.labels = clean;
            history.push(("labels", Note::LabelsChanged));
        }
    }
    if let Some(s) = p.sentiment_initial {
        t.sentiment_initial = s;
    }
    if let Some(s) = p.sentiment_final {
        t.sentiment_final = s;
    }
    if let Some(fields) = &p.fields {
        for (k, v) in fields {
            if v.is_null() {
                t.fields.remove(k);
            } else {
                t.fields.insert(k.clone(), v.clone());
            }
        }
        history.push(("typified", Note::FieldsUpdated));
    }
    let changed = !history.is_empty()
        || t.sentiment_initial != before.sentiment_initial
        || t.sentiment_final != before.sentiment_final;
    if !changed {
        return Ok(t);
    }
    t.updated_at = now.max(t.updated_at);
    for (action, detail) in history {
        add_history(txn, number, Some(access.user_id), action, detail, now)?;
    }
    save(txn, Some(&before), &t)?;
    fx.emit(ticket_event(EventKind::TicketUpdated, &t));
    // A close or a reassignment frees room under the caps of the previous agent's accounts:
    // their backlog may move.
    if let Some(prev) = before.assignee_id {
        if before.is_open_load() && (!t.is_open_load() || t.assignee_id != Some(prev)) {
            super::assignment::drain_after_release(txn, fx, prev, now)?;
        }
    }
    Ok(t)
}

/// A reopened ticket receives the customer's next message on its account, unless another
/// ticket of theirs there is already open.
fn route_to_reopened(txn: &WriteTransaction, t: &Ticket) -> AppResult<()> {
    let key = (t.contact_id, t.account_id);
    let current = txn
        .open_table(CONTACT_ACCOUNT_TO_LAST_TICKET)?
        .get(key)?
        .map(|g| g.value());
    let other_open = match current {
        Some(n) if n != t.number => {
            get_w(txn, n)?.is_some_and(|x| x.state == TicketState::Open && x.merged_into.is_none())
        }
        _ => false,
    };
    if !other_open {
        txn.open_table(CONTACT_ACCOUNT_TO_LAST_TICKET)?
            .insert(key, t.number)?;
    }
    Ok(())
}

/// TICK-7: move `source`'s messages, comments and history into `into`.
pub fn merge(
    txn: &WriteTransaction,
    fx: &mut Effects,
    source: u64,
    into: u64,
    access: &Access,
    now: Millis,
) -> AppResult<Ticket> {
    let src_before = require_w(txn, source, access)?;
    let dst_before = require_w(txn, into, access)?;
    let src_contact = super::contacts::get_w(txn, src_before.contact_id)?
        .ok_or_else(|| AppError::internal("ticket without contact"))?;
    let same_customer = contacts::group_of(&src_contact).contains(&dst_before.contact_id);
    let mut src = src_before.clone();
    let mut dst = dst_before.clone();
    rules::merge(&mut src, &mut dst, same_customer, now).map_err(|e| match e {
        rules::MergeError::SameTicket => AppError::invalid(
            "into",
            "same_ticket",
            "a ticket cannot be merged into itself",
        ),
        rules::MergeError::DifferentCustomer => AppError::invalid(
            "into",
            "different_customer",
            "only tickets of the same customer can be merged",
        ),
        rules::MergeError::AlreadyMerged => {
            AppError::conflict("ticket_merged", "one of the tickets was already merged")
        }
    })?;
    // Move the conversation.
    let message_ids: Vec<u64> = {
        let tm = txn.open_table(TICKET_MESSAGE)?;
        let mut ids = Vec::new();
        for row in tm.range((source, 0)..=(source, u64::MAX))? {
            ids.push(row?.0.value().1);
        }
        ids
    };
    let mut attachments = Vec::new();
    {
        let mut tm = txn.open_table(TICKET_MESSAGE)?;
        let mut msgs = txn.open_table(MESSAGE_ID_TO_MESSAGE)?;
        for id in &message_ids {
            tm.remove((source, *id))?;
            tm.insert((into, *id), ())?;
            let m: Option<Message> = codec::get(&msgs, *id)?;
            if let Some(mut m) = m {
                m.ticket_number = into;
                msgs.insert(*id, codec::encode(&m)?.as_slice())?;
                attachments.extend(m.attachments);
            }
        }
    }
    // Attachment access follows the conversation to the survivor.
    {
        let mut atts = txn.open_table(ATTACHMENT_ID_TO_ATTACHMENT)?;
        for id in attachments {
            let found: Option<Attachment> = codec::get(&atts, id)?;
            if let Some(mut a) = found {
                a.ticket_number = Some(into);
                atts.insert(id, codec::encode(&a)?.as_slice())?;
            }
        }
    }
    move_rows(
        txn,
        TICKET_COMMENT_TO_COMMENT,
        source,
        into,
        |c: &mut Comment| c.ticket_number = into,
    )?;
    move_rows(
        txn,
        TICKET_HISTORY_TO_ENTRY,
        source,
        into,
        |h: &mut HistoryEntry| h.ticket_number = into,
    )?;
    // New messages from this customer on this account now go to the survivor.
    {
        let mut last = txn.open_table(CONTACT_ACCOUNT_TO_LAST_TICKET)?;
        let key = (src.contact_id, src.account_id);
        if last.get(key)?.map(|g| g.value()) == Some(source) && dst.account_id == src.account_id {
            last.insert(key, into)?;
        }
    }
    add_history(
        txn,
        into,
        Some(access.user_id),
        "merged",
        Note::MergedFrom {
            ticket: source,
            by: access.name.clone(),
        },
        now,
    )?;
    add_history(
        txn,
        source,
        Some(access.user_id),
        "merged",
        Note::MergedInto {
            ticket: into,
            by: access.name.clone(),
        },
        now,
    )?;
    save(txn, Some(&src_before), &src)?;
    save(txn, Some(&dst_before), &dst)?;
    fx.emit(ticket_event(EventKind::TicketUpdated, &src));
    fx.emit(ticket_event(EventKind::TicketUpdated, &dst));
    Ok(dst)
}

/// Re-keys a ticket's rows of a (ticket, id) table to another ticket, fixing their records.
fn move_rows<T: serde::Serialize + serde::de::DeserializeOwned>(
    txn: &WriteTransaction,
    table: redb::TableDefinition<(u64, u64), &[u8]>,
    source: u64,
    into: u64,
    fix: impl Fn(&mut T),
) -> AppResult<()> {
    let mut t = txn.open_table(table)?;
    let rows: Vec<(u64, Vec<u8>)> = t
        .range((source, 0)..=(source, u64::MAX))?
        .map(|r| r.map(|(k, v)| (k.value().1, v.value().to_vec())))
        .collect::<Result<_, _>>()?;
    for (id, bytes) in rows {
        let mut record: T = codec::decode(&bytes)?;
        fix(&mut record);
        t.remove((source, id))?;
        t.insert((into, id), codec::encode(&record)?.as_slice())?;
    }
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
        out.push(codec::decode(row?.1.value())?);
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
    let ct = txn.open_table(CONTACT_TICKET)?;
    let mut numbers = Vec::new();
    for c in contact_ids {
        for row in ct.range((*c, 0)..=(*c, u64::MAX))?.rev().take(limit) {
            numbers.push(row?.0.value().1);
        }
    }
    numbers.sort_unstable_by(|a, b| b.cmp(a));
    numbers.dedup();
    numbers.truncate(limit);
    let tickets = txn.open_table(NUMBER_TO_TICKET)?;
    let mut out = Vec::new();
    for n in numbers {
        if let Some(t) = codec::get(&tickets, n)? {
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
        let wanted =
            q.direction.is_none_or(|d| d == m.direction) && q.public.is_none_or(|p| p == m.public);
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
