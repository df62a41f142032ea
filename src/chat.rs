//! Answers that reach customers by mail: on the web chat (CHAN-2) when the visitor has not had
//! the chat open for the account's `email_after_seconds` (60), on the contact form (CHAN-3) at
//! once — through the system mail account, when the customer left an address.

use std::time::Duration;

use crate::domain::{Channel, Millis};
use crate::error::AppResult;
use crate::state::AppState;
use std::collections::HashMap;

use crate::channels::webchat::ChatSettings;
use crate::store::{accounts, chat, contacts};

/// How long an answer waits for the visitor's widget before it goes by mail (default).
const EMAIL_AFTER_SECONDS: u32 = 60;

pub async fn mail_unseen_answers(state: AppState) {
    let mut shutdown = state.shutdown.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        if let Err(e) = pass(&state).await {
            tracing::warn!(error = %e.message, "web chat mail pass failed");
        }
    }
}

async fn pass(state: &AppState) -> AppResult<()> {
    let waiting = state.store.read(chat::undelivered).await?;
    let now = state.store.now();
    let mut delays: HashMap<u64, Millis> = HashMap::new();
    for (item, ticket) in waiting {
        let delay = match delays.get(&ticket.account_id) {
            Some(d) => *d,
            None => {
                let id = ticket.account_id;
                let account = state.store.read(move |txn| accounts::get(txn, id)).await?;
                let seconds = account
                    .map(|a| {
                        ChatSettings::of(&a)
                            .email_after_seconds
                            .unwrap_or(EMAIL_AFTER_SECONDS)
                    })
                    .unwrap_or(EMAIL_AFTER_SECONDS);
                let d = seconds as Millis * 1000;
                delays.insert(id, d);
                d
            }
        };
        // A form customer has no chat to come back to: their answer goes by mail at once.
        let chat = ticket.channel == Channel::Webchat;
        if chat && (now - item.created_at < delay || state.chat_online.is_online(ticket.contact_id))
        {
            continue;
        }
        let (contact_id, number, message_id) = (ticket.contact_id, ticket.number, item.message_id);
        let mail = state
            .store
            .read(move |txn| {
                let Some(c) = contacts::get(txn, contact_id)? else {
                    return Ok(None);
                };
                let Some(email) = c.email else {
                    return Ok(None);
                };
                let Some(id) = message_id else {
                    return Ok(None);
                };
                let Some(m) = crate::store::catalog::get::<crate::domain::Message>(
                    txn,
                    crate::store::tables::MESSAGE_ID_TO_MESSAGE,
                    id,
                )?
                else {
                    return Ok(None);
                };
                let mail = crate::mail::templates::render(
                    if chat { "chat_reply" } else { "form_reply" },
                    "es",
                    &email,
                    &[
                        ("name", &c.name),
                        ("number", &number.to_string()),
                        ("text", &m.text),
                    ],
                )?;
                Ok(Some(mail))
            })
            .await?;
        let now = state.store.now();
        let item_id = item.id;
        state
            .store
            .write(move |txn, fx| chat::sent_by_mail(txn, fx, item_id, mail.clone(), now))
            .await?;
    }
    Ok(())
}
