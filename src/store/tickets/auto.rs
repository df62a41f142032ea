//! Automatic messages (SLA-3): written with the customer's message that calls for one, and
//! queued on the ticket's own channel through the one outbox. Channels that know a message is
//! itself automatic (email's RFC 3834 rules) ingest it without them.

use super::*;
use crate::domain::auto_message::{render, AutoMessages, Moment};
use crate::domain::calendar::Calendar;

/// When the calendar next opens, said in `lang` in the calendar's own clock.
fn opening_text(calendar: &Calendar, at: Millis, lang: &str) -> String {
    use chrono::{Datelike, TimeZone};
    let Some(tz) = calendar.zone() else {
        return String::new();
    };
    let chrono::LocalResult::Single(local) = tz.timestamp_millis_opt(at) else {
        return String::new();
    };
    let day = crate::domain::calendar::DAYS[local.weekday().num_days_from_monday() as usize];
    crate::locale::text(
        lang,
        "auto.next_open",
        &[
            (
                "day",
                crate::locale::text(lang, &format!("day.{day}"), &[]).to_lowercase(),
            ),
            ("date", local.format("%d/%m").to_string()),
            ("time", local.format("%H:%M").to_string()),
        ],
    )
}

/// After `inbound` landed on `ticket` (`opened`: it opened the ticket): the account's
/// automatic message for the moment, once per customer per period.
pub(super) fn after_inbound(
    txn: &WriteTransaction,
    fx: &mut Effects,
    account: &Account,
    contact: &Contact,
    ticket: &Ticket,
    opened: bool,
    now: Millis,
) -> AppResult<()> {
    let messages = AutoMessages::of(account);
    if messages.is_empty() {
        return Ok(());
    }
    let calendar: Option<Calendar> = match account.calendar_id() {
        Some(id) => crate::store::catalog::get_w(txn, id)?,
        None => None,
    };
    let moment = Moment {
        opened,
        nobody: !crate::store::chat::agents_available_w(txn, account.id)?,
        closed: calendar
            .as_ref()
            .filter(|c| !c.is_open(now))
            .map(|c| c.next_open(now)),
        now,
    };
    let Some(chosen) = messages.choose(moment) else {
        return Ok(());
    };
    let key = format!(
        "{}\u{1f}{}\u{1f}{}",
        chosen.kind.as_str(),
        chosen.period,
        contact.id
    );
    let mut sent = txn.open_table(ACCOUNT_DAY_SENDER_AUTO_REPLIED)?;
    if sent.get((account.id, key.as_str()))?.is_some() {
        return Ok(());
    }
    sent.insert((account.id, key.as_str()), ())?;
    drop(sent);
    let next_open = match (&calendar, moment.closed.flatten()) {
        (Some(c), Some(at)) => opening_text(c, at, chosen.language),
        _ => String::new(),
    };
    let text = render(
        chosen.text,
        &[
            ("name", contact.name.as_str()),
            ("account", account.name.as_str()),
            ("number", &ticket.number.to_string()),
            ("next_open", &next_open),
        ],
    );
    let message = Message {
        reaction: None,
        receipt_sent: false,
        template: None,
        notes: Vec::new(),
        id: next_id(txn, "message")?,
        ticket_number: ticket.number,
        direction: Direction::Outbound,
        // Said where the customer wrote: a public comment is answered in public.
        public: ticket.kind == TicketKind::Public,
        contact_id: None,
        user_id: None,
        text,
        attachments: Vec::new(),
        reply_to: None,
        external_id: None,
        status: DeliveryStatus::Queued,
        created_at: now,
        opened_ticket: false,
        status_detail: None,
        mail: None,
    };
    append_automatic(txn, fx, ticket, &message)?;
    crate::store::outbox::enqueue(
        txn,
        account.kind,
        Some(account.id),
        OutboxWork::Message {
            message_id: message.id,
            ticket_number: ticket.number,
            automatic: true,
        },
        now,
    )?;
    Ok(())
}

/// Adds an automatic answer to the ticket: it does not answer the customer (the SLA clock
/// and the pending state stay as they were).
pub(crate) fn append_automatic(
    txn: &WriteTransaction,
    fx: &mut Effects,
    ticket: &Ticket,
    message: &Message,
) -> AppResult<()> {
    insert_message(txn, message, ticket)?;
    let mut updated = ticket.clone();
    updated.message_count += 1;
    updated.updated_at = updated.updated_at.max(message.created_at);
    save(txn, Some(ticket), &updated)?;
    let mut e = event(EventKind::MessageCreated);
    e.ticket_number = Some(ticket.number);
    e.account_id = Some(ticket.account_id);
    e.contact_id = Some(ticket.contact_id);
    e.message_id = Some(message.id);
    fx.emit(e);
    Ok(())
}
