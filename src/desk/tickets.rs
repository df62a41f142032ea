//! What an agent does to a ticket: answer (TICK-4), change (state, assignee, team, labels,
//! data: TICK-5, ASSIGN-*), comment and mention colleagues (TICK-6), merge (TICK-8) and change
//! many at once (BOARD-6), with the notifications each sends.

use std::collections::HashSet;

use crate::domain::template::Choice;
use crate::domain::ticket::BULK_MAX;
use crate::domain::{Comment, Direction, Label, Message, Ticket, TicketState, User};
use crate::error::{AppError, AppResult};
use crate::mail::notify;
use crate::store::tickets::{self, Access, Reply, TicketPatch};
use crate::store::{accounts, catalog, users, Store};

/// The ticket, when `access` may see it (404 otherwise, as if it did not exist).
pub async fn visible(store: &Store, access: &Access, number: u64) -> AppResult<Ticket> {
    let access = access.clone();
    store
        .read(move |txn| tickets::require(txn, number, &access))
        .await
}

/// An answer on `ticket` can leave through its account (checked before anything is queued,
/// so an answer that cannot go is refused instead of waiting in the outbox for ever).
pub async fn require_can_send(store: &Store, ticket: &Ticket) -> AppResult<()> {
    let account_id = ticket.account_id;
    let account = store
        .read(move |txn| accounts::get(txn, account_id))
        .await?
        .ok_or_else(|| AppError::not_found("account"))?;
    crate::channels::require_can_send(&account)
}

/// A channel that allows free text only for a while after the customer wrote (WhatsApp's 24
/// hours) refuses a late answer here, with a stable code, instead of letting the vendor fail it.
async fn require_window(store: &Store, ticket: &Ticket) -> AppResult<()> {
    let Some(window) = crate::channels::driver(ticket.channel).reply_window() else {
        return Ok(());
    };
    let number = ticket.number;
    // Tickets from before the ticket kept it have their messages read once.
    let last_in = match ticket.last_inbound_at {
        Some(at) => Some(at),
        None => store
            .read(move |txn| tickets::messages(txn, number))
            .await?
            .iter()
            .filter(|m| m.direction == Direction::Inbound)
            .map(|m| m.created_at)
            .max(),
    };
    let now = store.now();
    match last_in {
        Some(at) if now - at <= window => Ok(()),
        _ => Err(AppError::invalid(
            "text",
            "outside_window",
            format!(
                "the customer wrote more than {} hours ago: this channel takes only an approved template now",
                window / 3_600_000
            ),
        )),
    }
}

/// An agent's answer, stored and queued on the ticket's channel in one transaction: free
/// text (inside the channel's reply window), or an approved template with its values.
pub async fn reply(
    store: &Store,
    access: Access,
    number: u64,
    mut reply: Reply,
    template: Option<Choice>,
) -> AppResult<Message> {
    let ticket = visible(store, &access, number).await?;
    require_can_send(store, &ticket).await?;
    match template {
        Some(choice) => {
            if !reply.attachments.is_empty() {
                return Err(AppError::invalid(
                    "attachment_ids",
                    "template_with_files",
                    "a template is sent as it was approved, without files",
                ));
            }
            let (used, text) = super::templates::choose(store, &ticket, &choice).await?;
            reply.text = text;
            reply.template = Some(used);
        }
        None => require_window(store, &ticket).await?,
    }
    let now = store.now();
    store
        .write(move |txn, fx| tickets::reply(txn, fx, number, &access, &reply, now))
        .await
}

/// An agent has the ticket open (the app says so every ~20 s): on a channel with read
/// receipts, the customer's latest message is marked read there, once.
pub async fn viewed(store: &Store, ticket: &Ticket) -> AppResult<()> {
    if !crate::channels::driver(ticket.channel).read_receipts() {
        return Ok(());
    }
    let number = ticket.number;
    let latest = store
        .read(move |txn| tickets::messages(txn, number))
        .await?
        .into_iter()
        .filter(|m| m.direction == Direction::Inbound)
        .max_by_key(|m| (m.created_at, m.id));
    let Some(m) = latest.filter(|m| !m.receipt_sent && m.external_id.is_some()) else {
        return Ok(());
    };
    let now = store.now();
    store
        .write(move |txn, fx| crate::store::outbox::queue_receipt(txn, fx, m.id, now))
        .await?;
    Ok(())
}

/// Changes a ticket; a new assignee hears of it by mail (`link_base` makes the link).
pub async fn change(
    store: &Store,
    access: Access,
    number: u64,
    patch: TicketPatch,
    link_base: String,
) -> AppResult<Ticket> {
    let now = store.now();
    store
        .write(move |txn, fx| {
            let before = tickets::get_w(txn, number)?;
            let after = tickets::patch(txn, fx, number, &access, &patch, now)?;
            notify::assigned(
                txn,
                fx,
                &link_base,
                before.as_ref(),
                &after,
                (access.user_id, &access.name),
                now,
            )?;
            Ok(after)
        })
        .await
}

/// Whether `user` may see tickets of `account_id`.
async fn may_see(store: &Store, user: &User, account_id: u64) -> AppResult<bool> {
    if !user.active {
        return Ok(false);
    }
    if user.role.sees_all_accounts() {
        return Ok(true);
    }
    let uid = user.id;
    let visible = store
        .read(move |txn| accounts::visible_to(txn, uid))
        .await?;
    Ok(visible.contains(&account_id))
}

/// An internal comment. `mentions` are the users the author picked (by id): each must be
/// able to see the ticket — a comment never reaches someone the ticket is hidden from — and
/// is told in the app and by mail.
pub async fn comment(
    store: &Store,
    access: Access,
    number: u64,
    text: String,
    mentions: Vec<u64>,
    link_base: String,
) -> AppResult<Comment> {
    let ticket = visible(store, &access, number).await?;
    let mut picked: Vec<u64> = Vec::new();
    for id in mentions {
        if picked.contains(&id) {
            continue;
        }
        let user = store.read(move |txn| users::get(txn, id)).await?;
        let allowed = match &user {
            Some(u) => may_see(store, u, ticket.account_id).await?,
            None => false,
        };
        if !allowed {
            return Err(AppError::invalid(
                "mentions",
                "mention_not_allowed",
                format!("user {id} cannot see this ticket, so cannot be mentioned on it"),
            ));
        }
        picked.push(id);
    }
    let now = store.now();
    store
        .write(move |txn, fx| {
            let c = tickets::comment(txn, fx, number, &access, &text, &picked, now)?;
            notify::mentioned(
                txn,
                fx,
                &link_base,
                number,
                (access.user_id, &access.name),
                &text,
                &picked,
                now,
            )?;
            Ok(c)
        })
        .await
}

/// Merges ticket `number` into `into` (same customer); `assignee` answers the survivor.
pub async fn merge(
    store: &Store,
    access: Access,
    number: u64,
    into: u64,
    assignee: tickets::MergeAssignee,
) -> AppResult<Ticket> {
    let now = store.now();
    store
        .write(move |txn, fx| tickets::merge(txn, fx, number, into, assignee, &access, now))
        .await
}

/// One change for many tickets: each gets `patch` (and `add_label`, when given), all in
/// one transaction — every ticket changes, or none does.
/// What a bulk change does to each ticket's labels.
#[derive(Clone, Copy)]
pub enum LabelChange {
    Add(Option<u64>),
    Remove(Option<u64>),
}

/// What a mass change did: the tickets changed, and those left as they were with why.
#[derive(Debug, Default)]
pub struct BulkOutcome {
    pub updated: Vec<u64>,
    pub skipped: Vec<(u64, String)>,
}

pub async fn bulk(
    store: &Store,
    access: Access,
    numbers: Vec<u64>,
    patch: TicketPatch,
    labels: LabelChange,
) -> AppResult<BulkOutcome> {
    let (add_label, remove_label) = match labels {
        LabelChange::Add(l) => (l, None),
        LabelChange::Remove(l) => (None, l),
    };
    if numbers.len() > BULK_MAX {
        return Err(AppError::invalid(
            "numbers",
            "too_many",
            format!("at most {BULK_MAX} tickets per call"),
        ));
    }
    let unique: Vec<u64> = {
        let mut seen = HashSet::new();
        numbers.into_iter().filter(|n| seen.insert(*n)).collect()
    };
    let now = store.now();
    store
        .write(move |txn, fx| {
            if let Some(l) = add_label.or(remove_label) {
                if catalog::get_w::<Label>(txn, l)?.is_none() {
                    return Err(AppError::invalid(
                        "label_id",
                        "unknown_label",
                        format!("no label {l}"),
                    ));
                }
            }
            let mut outcome = BulkOutcome::default();
            let closing = patch.state == Some(TicketState::Closed);
            for n in &unique {
                if closing {
                    // TICK-9: a ticket waiting for its typification stays open; the rest close.
                    let t = tickets::require_w(txn, *n, &access)
                        .map_err(|e| e.with_field("numbers"))?;
                    if t.state != TicketState::Closed {
                        if let Err(e) = tickets::require_typified(txn, &t) {
                            outcome.skipped.push((*n, e.message));
                            continue;
                        }
                    }
                }
                let mut p = patch.clone();
                if let Some(l) = add_label {
                    let t = tickets::require_w(txn, *n, &access)
                        .map_err(|e| e.with_field("numbers"))?;
                    let mut labels = t.labels.clone();
                    if !labels.contains(&l) {
                        labels.push(l);
                    }
                    p.labels = Some(labels);
                }
                if let Some(l) = remove_label {
                    let t = tickets::require_w(txn, *n, &access)
                        .map_err(|e| e.with_field("numbers"))?;
                    p.labels = Some(t.labels.iter().copied().filter(|x| *x != l).collect());
                }
                tickets::patch(txn, fx, *n, &access, &p, now).map_err(|mut e| {
                    e.message = format!("#{n}: {}", e.message);
                    e
                })?;
                outcome.updated.push(*n);
            }
            Ok(outcome)
        })
        .await
}
