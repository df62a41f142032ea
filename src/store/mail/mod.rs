//! The email channel's storage: the threading index of Message-IDs, the IMAP cursor, what a
//! mail in the outbox sends, and the operation that turns one fetched mail into a message —
//! each in the same transaction as the cursor, so a mail is "read" only once it is stored.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::tables::*;
use super::tickets::{self, Inbound, Ingested, Thread};
use super::{codec, contacts, event, next_id, Effects};
use crate::domain::mail::settings::EmailSettings;
use crate::domain::mail::{thread, Noise, ParsedMail};
use crate::domain::*;
use crate::error::{AppError, AppResult};

mod incoming;
mod outgoing;
pub use incoming::*;
pub use outgoing::*;

const SECRET_KEY: &str = "mail_secret";
const PUBLIC_URL_KEY: &str = "public_url";
/// References carried on an outgoing mail (the newest ones).
const MAX_REFERENCES: usize = 20;

/// Creates the secret that signs reply tokens and Message-IDs (once per data dir).
pub fn ensure_secret(txn: &WriteTransaction) -> AppResult<()> {
    let mut meta = txn.open_table(META)?;
    if meta.get(SECRET_KEY)?.is_none() {
        let secret: [u8; 32] = rand::random();
        meta.insert(SECRET_KEY, secret.as_slice())?;
    }
    Ok(())
}

/// Reads the secret from `meta` in either kind of transaction (migrations create it).
fn read_secret(meta: &impl ReadableTable<&'static str, &'static [u8]>) -> AppResult<Vec<u8>> {
    meta.get(SECRET_KEY)?
        .map(|g| g.value().to_vec())
        .ok_or_else(|| AppError::internal("mail secret missing"))
}

/// The data dir's secret (reply tokens, Message-IDs, signed form start times).
pub fn secret(txn: &ReadTransaction) -> AppResult<Vec<u8>> {
    read_secret(&txn.open_table(META)?)
}

fn secret_w(txn: &WriteTransaction) -> AppResult<Vec<u8>> {
    read_secret(&txn.open_table(META)?)
}

/// The address people open Atiende at, as stored (for links in mail when `public_url` is not
/// configured): set on the first-run page or in Administración, or learned from the first
/// administrator's sign-in when neither happened.
pub fn stored_public_url(txn: &ReadTransaction) -> AppResult<Option<String>> {
    let meta = txn.open_table(META)?;
    let url = meta
        .get(PUBLIC_URL_KEY)?
        .map(|g| String::from_utf8_lossy(g.value()).into_owned());
    Ok(url)
}

/// Stores the public address an administrator gave.
pub fn set_public_url(txn: &WriteTransaction, url: &str) -> AppResult<()> {
    txn.open_table(META)?
        .insert(PUBLIC_URL_KEY, url.as_bytes())?;
    Ok(())
}

/// Stores the address an administrator signed in at, only when none is stored: a later
/// sign-in through another name (a look-alike domain pointing here) never moves the links in
/// mail (security finding 10).
pub fn learn_public_url_once(txn: &WriteTransaction, url: &str) -> AppResult<()> {
    let mut meta = txn.open_table(META)?;
    if meta.get(PUBLIC_URL_KEY)?.is_none() {
        meta.insert(PUBLIC_URL_KEY, url.as_bytes())?;
    }
    Ok(())
}

/// The IMAP cursor and the mailbox ("host|user|folder") it belongs to.
pub fn cursor(txn: &ReadTransaction, account_id: u64) -> AppResult<Option<(u32, u32, String)>> {
    let cursor = txn
        .open_table(ACCOUNT_TO_MAIL_CURSOR)?
        .get(account_id)?
        .map(|g| g.value());
    let source = txn
        .open_table(ACCOUNT_TO_MAIL_SOURCE)?
        .get(account_id)?
        .map(|g| g.value().to_string())
        .unwrap_or_default();
    Ok(cursor.map(|(v, u)| (v, u, source)))
}

/// Moves the cursor forward (never back: two sessions of one account may briefly overlap).
pub fn set_cursor(txn: &WriteTransaction, account_id: u64, cursor: (u32, u32)) -> AppResult<()> {
    let mut table = txn.open_table(ACCOUNT_TO_MAIL_CURSOR)?;
    let current = table.get(account_id)?.map(|g| g.value());
    if current.is_none_or(|(v, u)| v != cursor.0 || u < cursor.1) {
        table.insert(account_id, cursor)?;
    }
    Ok(())
}

/// Starts the cursor over for a (new) mailbox.
pub fn reset_cursor(
    txn: &WriteTransaction,
    account_id: u64,
    cursor: (u32, u32),
    source: &str,
) -> AppResult<()> {
    txn.open_table(ACCOUNT_TO_MAIL_CURSOR)?
        .insert(account_id, cursor)?;
    txn.open_table(ACCOUNT_TO_MAIL_SOURCE)?
        .insert(account_id, source)?;
    Ok(())
}

fn message_of_mail_id(txn: &WriteTransaction, id: &str) -> AppResult<Option<Message>> {
    let found = txn
        .open_table(MAIL_MESSAGE_ID_TO_MESSAGE)?
        .get(id)?
        .map(|g| g.value());
    match found {
        Some(m) => codec::get(&txn.open_table(MESSAGE_ID_TO_MESSAGE)?, m),
        None => Ok(None),
    }
}

fn remember_mail_id(txn: &WriteTransaction, mail_id: &str, message_id: u64) -> AppResult<()> {
    txn.open_table(MAIL_MESSAGE_ID_TO_MESSAGE)?
        .insert(mail_id, message_id)?;
    Ok(())
}

/// The demo workspace's answers are history: marked sent, never handed to any channel.
pub fn settle_demo(txn: &WriteTransaction, message: &Message) -> AppResult<()> {
    super::outbox::forget(txn, message.id, message.created_at)?;
    let mut m = message.clone();
    m.status = DeliveryStatus::Sent;
    txn.open_table(MESSAGE_ID_TO_MESSAGE)?
        .insert(m.id, codec::encode_compact(&m)?.as_slice())?;
    Ok(())
}
