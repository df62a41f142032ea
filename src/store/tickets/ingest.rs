//! A customer's message joins their open ticket or opens a new one (TICK-2), assigned as it opens.

#[allow(unused_imports)]
use super::*;
use crate::domain::inbound::{Amend, MessageChange};

/// A message older than this when it arrives (an import, a vendor's late redelivery) gets no
/// automatic answer, and the SLA notifications already due for it are not rung.
const AUTO_LATE_MS: Millis = 10 * 60_000;

/// TICK-2: a customer message joins their open ticket on the account or opens a new one.
pub fn ingest(
    txn: &WriteTransaction,
    fx: &mut Effects,
    inbound: &Inbound,
    now: Millis,
) -> AppResult<Ingested> {
    ingest_with(txn, fx, inbound, now, Answer::Automatic, |_| {})
}

/// Whether the account's automatic messages may answer a customer's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Automatic,
    /// The message is itself automatic or bulk (email loop rules, RFC 3834): never answered
    /// by a robot.
    Never,
}

/// `ingest`, letting the channel add what only it knows to the new message before it is
/// stored (email: subject, Message-ID, sanitised HTML) and say whether it may be answered
/// automatically.
pub fn ingest_with(
    txn: &WriteTransaction,
    fx: &mut Effects,
    inbound: &Inbound,
    now: Millis,
    answer: Answer,
    decorate: impl FnOnce(&mut Message),
) -> AppResult<Ingested> {
    let account = crate::store::accounts::require_w(txn, inbound.account_id)?;
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
    // A message that answers one of ours (or theirs) by the vendor's id of it.
    let reply_to = match (&inbound.reply_to, &inbound.reply_to_external) {
        (Some(r), _) => Some(*r),
        (None, Some(ext)) => message_by_external(txn, account.id, ext)?.map(|m| m.id),
        (None, None) => None,
    };
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
            t.subject = inbound.subject.clone();
            txn.open_table(CONTACT_ACCOUNT_TO_LAST_TICKET)?
                .insert((contact.id, account.id), number)?;
            txn.open_table(CONTACT_TICKET)?
                .insert((contact.id, number), ())?;
            let detail = match previous {
                Some(previous) => Note::CreatedFollowing { previous },
                None => Note::Created,
            };
            let relation = crate::store::assignment::relation_of(last.as_ref());
            let (_, decision) =
                crate::store::assignment::assign_new(txn, &mut t, &account, relation, now)?;
            add_history_with(txn, number, None, "created", detail, Some(decision), at)?;
            (t, None, true)
        }
    };
    let mut message = Message {
        reaction: None,
        receipt_sent: false,
        template: None,
        id: next_id(txn, "message")?,
        ticket_number: ticket.number,
        direction: Direction::Inbound,
        public: inbound.public,
        contact_id: Some(contact.id),
        user_id: None,
        text: inbound.text.clone(),
        attachments: inbound.attachments.clone(),
        reply_to,
        external_id: Some(inbound.external_id.clone()),
        status: DeliveryStatus::Received,
        created_at: at,
        opened_ticket: created,
        status_detail: None,
        mail: None,
        notes: inbound.notes.clone(),
    };
    decorate(&mut message);
    insert_message(txn, &message, &ticket)?;
    for f in &inbound.files {
        crate::store::outbox::enqueue(
            txn,
            account.kind,
            Some(account.id),
            OutboxWork::Fetch {
                message_id: message.id,
                file_id: f.id.clone(),
                mime: f.mime.clone(),
                name: f.name.clone(),
            },
            now,
        )?;
    }
    txn.open_table(EXTERNAL_TO_MESSAGE_ID)?
        .insert(ext_key.as_str(), message.id)?;
    rules::apply_inbound(&mut ticket, inbound.public, &inbound.text, at);
    save(txn, before.as_ref(), &ticket)?;
    let live = inbound.sent_at.is_none_or(|s| s >= now - AUTO_LATE_MS);
    if !live {
        crate::store::sla::drop_past(txn, &ticket, now)?;
    }
    if answer == Answer::Automatic && live {
        super::auto::after_inbound(txn, fx, &account, &contact, &ticket, created, now)?;
    }
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

/// The message a channel knows by its own id (`account`'s inbound and sent messages).
pub(crate) fn message_by_external(
    txn: &WriteTransaction,
    account_id: u64,
    external_id: &str,
) -> AppResult<Option<Message>> {
    let found = txn
        .open_table(EXTERNAL_TO_MESSAGE_ID)?
        .get(identity_key(account_id, external_id).as_str())?
        .map(|g| g.value());
    match found {
        Some(id) => codec::get(&txn.open_table(MESSAGE_ID_TO_MESSAGE)?, id),
        None => Ok(None),
    }
}

/// What a customer did to one of their earlier messages (a reaction, an edit, a delete),
/// applied to it; a change to a message Atiende does not have is dropped.
pub fn amend(txn: &WriteTransaction, fx: &mut Effects, c: &MessageChange) -> AppResult<()> {
    let Some(mut m) = message_by_external(txn, c.account_id, &c.target)? else {
        tracing::info!(target = %c.target, "a change to a message Atiende does not have");
        return Ok(());
    };
    match &c.change {
        Amend::React(emoji) => {
            if m.reaction == *emoji {
                return Ok(());
            }
            m.reaction = emoji.clone();
        }
        Amend::Edit(text) => {
            if m.text == *text {
                return Ok(());
            }
            let previous = std::mem::replace(&mut m.text, text.clone());
            m.notes.push(Note::Edited { previous });
        }
        Amend::Revoke => {
            if m.notes.contains(&Note::Revoked) {
                return Ok(());
            }
            m.notes.push(Note::Revoked);
        }
    }
    update_message(txn, fx, &m)
}

/// A file fetched from the vendor for a customer's message, stored in the blob store, joins
/// the message (and its "file to fetch" note goes).
pub fn attach_fetched(
    txn: &WriteTransaction,
    fx: &mut Effects,
    message_id: u64,
    part: &crate::store::mail::StoredPart,
    now: Millis,
) -> AppResult<()> {
    let Some(mut m) = codec::get::<Message>(&txn.open_table(MESSAGE_ID_TO_MESSAGE)?, message_id)?
    else {
        return Ok(());
    };
    let attachment = Attachment {
        id: crate::store::catalog::new_id::<Attachment>(txn)?,
        sha256: part.sha256.clone(),
        name: part.name.clone(),
        size: part.size,
        content_type: part.content_type.clone(),
        uploaded_by: None,
        created_at: now,
        ticket_number: Some(m.ticket_number),
    };
    txn.open_table(ATTACHMENT_ID_TO_ATTACHMENT)?
        .insert(attachment.id, codec::encode(&attachment)?.as_slice())?;
    m.attachments.push(attachment.id);
    m.notes.retain(|n| !matches!(n, Note::WaMedia { .. }));
    update_message(txn, fx, &m)
}
