//! An agent's answer (queued on the outbox in the same transaction) and internal comments.

#[allow(unused_imports)]
use super::*;

pub struct Reply {
    pub text: String,
    pub reply_to: Option<u64>,
    pub attachments: Vec<u64>,
    /// Sent as this approved template (`text` is its rendering).
    pub template: Option<crate::domain::template::TemplateUse>,
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
        reaction: None,
        receipt_sent: false,
        template: r.template.clone(),
        notes: Vec::new(),
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
    insert_message(txn, &message, &before)?;
    // Every channel's answer leaves through the one outbox, sent by the channel's sender.
    crate::store::outbox::enqueue(
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
                previous: crate::store::users::get_w(txn, prev)?
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
        .insert((number, c.id), codec::encode_compact(&c)?.as_slice())?;
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
