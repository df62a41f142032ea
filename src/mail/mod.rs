//! The email channel (CHAN-1) and the system's mail (OPS-6): the IMAP poller session (run by
//! the channels' poller host, which keeps its health, CHAN-12) and the sender the outbox
//! workers hand replies, automatic answers and system mail to (SMTP).

pub mod imap;
pub mod notify;
pub mod parse;
pub mod smtp;
pub mod templates;

pub use crate::domain::mail::{settings, thread};

use crate::domain::{Channel, DeliveryStatus, Millis, Note, OutboxRow, Outcome, SystemMail};
use crate::error::AppResult;
use crate::store::mail as mail_store;
use crate::store::Store;
use settings::EmailSettings;

/// The email channel's sender: gathers the mail of a claimed outbox row (recording its
/// Message-ID first, so a retry is recognisably the same mail), then hands it to SMTP.
pub async fn send(store: &Store, row: &OutboxRow) -> Outcome {
    let owned = row.clone();
    let now = store.now();
    let prepared = store
        .write(move |txn, fx| mail_store::prepare(txn, fx, &owned, now))
        .await;
    let out = match prepared {
        Ok(Ok(out)) => out,
        Ok(Err(outcome)) => return outcome,
        Err(e) => {
            return Outcome::Retry {
                error: Note::raw(e.message),
            }
        }
    };
    match send_one(store, &out).await {
        Ok(()) => {
            tracing::info!(outbox = row.id, to = %out.to, "mail sent");
            Outcome::Done {
                status: Some(DeliveryStatus::Sent),
                detail: None,
            }
        }
        Err(e) if e.permanent => Outcome::Failed {
            error: Note::raw(e.message),
        },
        Err(e) => Outcome::Retry {
            error: Note::raw(e.message),
        },
    }
}

async fn send_one(store: &Store, out: &mail_store::Outgoing) -> Result<(), smtp::SendError> {
    let settings = EmailSettings::of(&out.account).map_err(|e| smtp::SendError {
        message: e.message,
        permanent: true,
    })?;
    let server = settings.smtp.clone().ok_or(smtp::SendError {
        message: "the account has no SMTP server".into(),
        permanent: false,
    })?;
    let blobs = store.blobs.clone();
    let (owned, s) = (out.clone(), settings.clone());
    let message = tokio::task::spawn_blocking(move || smtp::build(&owned, &s, &blobs))
        .await
        .map_err(|e| smtp::SendError {
            message: e.to_string(),
            permanent: false,
        })??;
    smtp::send(&server, message).await
}

/// Queues a system mail (reset link, invitation, escalation, notification) in the caller's
/// transaction. False when no email account can send it: nothing is queued (logged).
pub fn queue_system(
    txn: &crate::store::WriteTransaction,
    mail: SystemMail,
    now: Millis,
) -> AppResult<bool> {
    if mail_store::system_account(txn)?.is_none() {
        tracing::info!(subject = %mail.subject, "system mail not sent: no email account has an SMTP server");
        return Ok(false);
    }
    crate::store::outbox::enqueue(
        txn,
        Channel::Email,
        None,
        crate::domain::OutboxWork::SystemMail(mail),
        now,
    )?;
    Ok(true)
}

/// The answer when a mail a person asked for cannot go out.
pub fn no_sender() -> crate::error::AppError {
    crate::error::AppError::conflict(
        "no_mail_account",
        "no email account can send mail yet: connect one with an SMTP server (Channels and accounts)",
    )
}
