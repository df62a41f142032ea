//! Web chat answers for visitors who closed the widget (CHAN-2): after a minute without an
//! open widget, an answer goes to the visitor's email when they left one and an email account
//! can send; otherwise it waits for them to come back to the chat.

use std::time::Duration;

use crate::domain::Millis;
use crate::error::AppResult;
use crate::state::AppState;
use crate::store::{chat, contacts};

const GRACE_MS: Millis = 60_000;

pub async fn mail_gone_visitors(state: AppState) {
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
    let before = state.store.now() - GRACE_MS;
    let waiting = state
        .store
        .read(move |txn| chat::undelivered(txn, before))
        .await?;
    for (item, ticket) in waiting {
        if state.chat_online.is_online(ticket.contact_id) {
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
                    "chat_reply",
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
