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

const SECRET_KEY: &str = "mail_secret";
const PUBLIC_URL_KEY: &str = "public_url";
/// A day in ms, for "one automatic answer per sender per day".
const DAY_MS: i64 = 86_400_000;
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

/// The address administrators use Atiende at (for links in mail when `--public-url` is unset).
pub fn learned_public_url(txn: &ReadTransaction) -> AppResult<Option<String>> {
    let meta = txn.open_table(META)?;
    let url = meta
        .get(PUBLIC_URL_KEY)?
        .map(|g| String::from_utf8_lossy(g.value()).into_owned());
    Ok(url)
}

pub fn learn_public_url(txn: &WriteTransaction, url: &str) -> AppResult<()> {
    let mut meta = txn.open_table(META)?;
    let same = meta
        .get(PUBLIC_URL_KEY)?
        .is_some_and(|g| g.value() == url.as_bytes());
    if !same {
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

/// A stored attachment of a fetched mail (bytes already in the blob store).
#[derive(Debug, Clone)]
pub struct StoredPart {
    pub sha256: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    pub content_id: Option<String>,
}

/// One fetched mail, parsed, with its attachments' bytes stored.
#[derive(Debug, Clone)]
pub struct MailIn {
    pub account_id: u64,
    /// The IMAP cursor to record with it.
    pub cursor: Option<(u32, u32)>,
    /// Used when the mail has no Message-ID, for idempotency.
    pub fallback_id: String,
    pub parsed: ParsedMail,
    pub parts: Vec<StoredPart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailOutcome {
    Message(Ingested),
    /// A delivery report attached to the ticket of the mail that bounced.
    Bounce {
        ticket_number: u64,
        failed: bool,
    },
    /// Not stored as a message, and why (logged; the mail stays in the mailbox).
    Skipped(String),
}

/// Where a mail belongs (BEYOND-2), strongest evidence first: a signed reply token, then any
/// Message-ID it answers, then a `[#n]` subject token when the sender is that ticket's
/// customer.
fn resolve_thread(
    txn: &WriteTransaction,
    account: &Account,
    settings: &EmailSettings,
    p: &ParsedMail,
    secret: &[u8],
) -> AppResult<Thread> {
    if let Some(n) = thread::token_ticket(&p.recipients, &settings.address, secret) {
        if tickets::get_w(txn, n)?.is_some_and(|t| t.account_id == account.id) {
            return Ok(Thread::Ticket(n));
        }
    }
    let answered = p.in_reply_to.iter().chain(p.references.iter().rev());
    for id in answered {
        if let Some(m) = message_of_mail_id(txn, id)? {
            if tickets::get_w(txn, m.ticket_number)?.is_some_and(|t| t.account_id == account.id) {
                return Ok(Thread::Ticket(m.ticket_number));
            }
        }
    }
    if let (Some(n), Some((sender, _))) = (thread::subject_ticket(&p.subject), &p.from) {
        if let Some(t) = tickets::get_w(txn, n)?.filter(|t| t.account_id == account.id) {
            let owner = contacts::get_w(txn, t.contact_id)?;
            let belongs = owner.is_some_and(|c| {
                c.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(sender))
                    || c.identities.iter().any(|i| {
                        i.account_id == account.id && i.external_id.eq_ignore_ascii_case(sender)
                    })
            });
            if belongs {
                return Ok(Thread::Ticket(n));
            }
        }
    }
    Ok(Thread::New)
}

pub fn insert_parts(
    txn: &WriteTransaction,
    parts: &[StoredPart],
    now: Millis,
) -> AppResult<Vec<(u64, Option<String>)>> {
    let mut table = txn.open_table(ATTACHMENT_ID_TO_ATTACHMENT)?;
    let mut out = Vec::new();
    for p in parts {
        let a = Attachment {
            id: super::catalog::new_id::<Attachment>(txn)?,
            sha256: p.sha256.clone(),
            name: p.name.clone(),
            size: p.size,
            content_type: p.content_type.clone(),
            uploaded_by: None,
            created_at: now,
            ticket_number: None,
        };
        table.insert(a.id, codec::encode(&a)?.as_slice())?;
        out.push((a.id, p.content_id.clone()));
    }
    Ok(out)
}

fn meta_of(p: &ParsedMail, html: Option<String>) -> MailMeta {
    MailMeta {
        message_id: p.message_id.clone(),
        subject: p.subject.clone(),
        html,
        quoted: p.quoted.clone(),
        notes: p.notes.clone(),
        from: p.from.as_ref().map(|(a, _)| a.clone()),
    }
}

/// Stores one fetched mail (and the cursor past it) in one transaction.
pub fn ingest(
    txn: &WriteTransaction,
    fx: &mut Effects,
    mail: &MailIn,
    now: Millis,
) -> AppResult<MailOutcome> {
    if let Some(c) = mail.cursor {
        set_cursor(txn, mail.account_id, c)?;
    }
    let account = super::accounts::require_w(txn, mail.account_id)?;
    let settings = EmailSettings::of(&account)?;
    let secret = secret_w(txn)?;
    let p = &mail.parsed;
    if let Some(id) = &p.message_id {
        if let Some(m) = message_of_mail_id(txn, id)? {
            // The same Message-ID is the same mail (delivered twice, or to two addresses).
            return Ok(MailOutcome::Skipped(match m.direction {
                Direction::Outbound => format!("a copy of Atiende's own message {id}"),
                Direction::Inbound => format!(
                    "already stored as message {} of ticket #{} (same Message-ID {id})",
                    m.id, m.ticket_number
                ),
            }));
        }
    }
    if let Some(bounce) = &p.bounce {
        return attach_bounce(txn, fx, mail, bounce, now);
    }
    let Some((sender, name)) = p.from.clone() else {
        return Ok(MailOutcome::Skipped("the mail has no sender (From)".into()));
    };
    if sender.eq_ignore_ascii_case(&settings.address) {
        return Ok(MailOutcome::Skipped(
            "sent from the support address itself (a loop)".into(),
        ));
    }
    let thread = resolve_thread(txn, &account, &settings, p, &secret)?;
    if p.noise == Noise::Automatic {
        // Automatic mail only ever joins an open ticket: an out-of-office answer to a closing
        // reply must not open a new one.
        let open = match thread {
            Thread::Ticket(n) => {
                tickets::thread_target(txn, n)?.is_some_and(|t| t.state == TicketState::Open)
            }
            _ => false,
        };
        if !open {
            return Ok(MailOutcome::Skipped(format!(
                "automatic mail from {sender} (auto-reply or daemon) that answers no open ticket"
            )));
        }
    }
    let parts = insert_parts(txn, &mail.parts, now)?;
    let html = p.html.as_ref().map(|h| {
        let urls: Vec<(String, String)> = parts
            .iter()
            .filter_map(|(id, cid)| {
                cid.as_ref()
                    .map(|c| (c.clone(), format!("/api/v1/attachments/{id}")))
            })
            .collect();
        crate::domain::mail::rewrite_cids(h, &urls)
    });
    let mut text = p.text.clone();
    if text.trim().is_empty() {
        text = if p.subject.is_empty() {
            "(sin texto)".into()
        } else {
            p.subject.clone()
        };
    }
    let inbound = Inbound {
        account_id: account.id,
        external_id: match &p.message_id {
            Some(id) => format!("mail:{id}"),
            None => mail.fallback_id.clone(),
        },
        contact_external_id: sender.clone(),
        contact: contacts::ContactFacts {
            name: name.or_else(|| sender.split('@').next().map(str::to_string)),
            email: Some(sender.clone()),
            phone: None,
            rut: None,
            username: None,
        },
        text,
        public: false,
        reply_to: None,
        attachments: parts.iter().map(|(id, _)| *id).collect(),
        // Receipt time, not the Date header: a sender's wrong clock must not reorder the
        // conversation.
        sent_at: None,
        uploader: None,
        thread,
    };
    let meta = meta_of(p, html);
    let ingested = tickets::ingest_with(txn, fx, &inbound, now, |m| m.mail = Some(Box::new(meta)))?;
    if let Some(id) = &p.message_id {
        remember_mail_id(txn, id, ingested.message_id)?;
    }
    if ingested.created_ticket && p.noise == Noise::None {
        if let Some(text) = settings
            .auto_reply
            .as_ref()
            .filter(|t| !t.trim().is_empty())
        {
            auto_reply(
                txn,
                fx,
                &account,
                &sender,
                ingested.ticket_number,
                text,
                now,
            )?;
        }
    }
    Ok(MailOutcome::Message(ingested))
}

/// CHAN-11 auto-reply, at most once per sender per day (RFC 3834 §2).
fn auto_reply(
    txn: &WriteTransaction,
    fx: &mut Effects,
    account: &Account,
    sender: &str,
    number: u64,
    text: &str,
    now: Millis,
) -> AppResult<()> {
    let key = format!("{}\u{1f}{}", now / DAY_MS, sender.to_lowercase());
    let mut sent = txn.open_table(ACCOUNT_DAY_SENDER_AUTO_REPLIED)?;
    if sent.get((account.id, key.as_str()))?.is_some() {
        return Ok(());
    }
    sent.insert((account.id, key.as_str()), ())?;
    drop(sent);
    let message = Message {
        id: next_id(txn, "message")?,
        ticket_number: number,
        direction: Direction::Outbound,
        public: false,
        contact_id: None,
        user_id: None,
        text: text.to_string(),
        attachments: Vec::new(),
        reply_to: None,
        external_id: None,
        status: DeliveryStatus::Queued,
        created_at: now,
        opened_ticket: false,
        status_detail: None,
        mail: None,
    };
    let ticket = tickets::get_w(txn, number)?
        .ok_or_else(|| AppError::internal("auto-reply for a missing ticket"))?;
    append_system_message(txn, fx, &ticket, &message)?;
    super::outbox::enqueue(
        txn,
        Channel::Email,
        Some(account.id),
        OutboxWork::Message {
            message_id: message.id,
            ticket_number: number,
            automatic: true,
        },
        now,
    )?;
    Ok(())
}

fn attach_bounce(
    txn: &WriteTransaction,
    fx: &mut Effects,
    mail: &MailIn,
    bounce: &crate::domain::mail::Bounce,
    now: Millis,
) -> AppResult<MailOutcome> {
    let mut original = None;
    for id in &bounce.original_ids {
        if let Some(m) = message_of_mail_id(txn, id)? {
            if m.direction == Direction::Outbound {
                original = Some(m);
                break;
            }
        }
    }
    let Some(mut original) = original else {
        return Ok(MailOutcome::Skipped(
            "a delivery report about a mail Atiende did not send".into(),
        ));
    };
    let Some(ticket) = tickets::get_w(txn, original.ticket_number)? else {
        return Ok(MailOutcome::Skipped(
            "a delivery report for a deleted ticket".into(),
        ));
    };
    // A report about an earlier attempt must not mark a message failed while it is being
    // sent again (the agent would resend it a second time): a message waiting in the outbox
    // reads queued.
    if bounce.failed && original.status != DeliveryStatus::Queued {
        original.status = DeliveryStatus::Failed;
        original.status_detail = Some(Note::Bounced {
            detail: bounce.detail.clone(),
        });
        txn.open_table(MESSAGE_ID_TO_MESSAGE)?
            .insert(original.id, codec::encode(&original)?.as_slice())?;
    }
    let parts = insert_parts(txn, &mail.parts, now)?;
    let p = &mail.parsed;
    let report = Message {
        id: next_id(txn, "message")?,
        ticket_number: ticket.number,
        direction: Direction::Inbound,
        public: false,
        contact_id: None,
        user_id: None,
        text: format!(
            "{}\n\n{}",
            if bounce.failed {
                "El correo no pudo entregarse (informe del servidor de correo)."
            } else {
                "Aviso de demora en la entrega (informe del servidor de correo)."
            },
            if bounce.detail.is_empty() {
                p.text.as_str()
            } else {
                bounce.detail.as_str()
            }
        ),
        attachments: parts.iter().map(|(id, _)| *id).collect(),
        reply_to: Some(original.id),
        external_id: None,
        status: DeliveryStatus::Received,
        created_at: now,
        opened_ticket: false,
        status_detail: None,
        mail: Some(Box::new(meta_of(p, None))),
    };
    append_system_message(txn, fx, &ticket, &report)?;
    if let Some(id) = &p.message_id {
        // The same report read again is recognised (and skipped) by its Message-ID.
        remember_mail_id(txn, id, report.id)?;
    }
    let mut e = event(EventKind::MessageUpdated);
    e.ticket_number = Some(ticket.number);
    e.account_id = Some(ticket.account_id);
    e.message_id = Some(original.id);
    fx.emit(e);
    Ok(MailOutcome::Bounce {
        ticket_number: ticket.number,
        failed: bounce.failed,
    })
}

/// Adds a message Atiende itself wrote (an auto-reply, a delivery report) to a ticket: counted
/// and shown, without touching its reply status or SLA clock.
fn append_system_message(
    txn: &WriteTransaction,
    fx: &mut Effects,
    ticket: &Ticket,
    message: &Message,
) -> AppResult<()> {
    tickets::insert_message(txn, message)?;
    let mut updated = ticket.clone();
    updated.message_count += 1;
    updated.updated_at = updated.updated_at.max(message.created_at);
    tickets::save(txn, Some(ticket), &updated)?;
    let mut e = event(EventKind::MessageCreated);
    e.ticket_number = Some(ticket.number);
    e.account_id = Some(ticket.account_id);
    e.contact_id = Some(ticket.contact_id);
    e.message_id = Some(message.id);
    fx.emit(e);
    Ok(())
}

/// Everything the SMTP sender needs, read (and its Message-ID recorded) before it is sent.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub account: Account,
    pub to: String,
    pub to_name: Option<String>,
    pub subject: String,
    pub text: String,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub reply_to: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Sent with `Auto-Submitted`: auto-replied for an automatic answer, auto-generated for
    /// system mail.
    pub auto_submitted: Option<&'static str>,
}

fn get_message(txn: &WriteTransaction, id: u64) -> AppResult<Option<Message>> {
    codec::get(&txn.open_table(MESSAGE_ID_TO_MESSAGE)?, id)
}

/// The account whose SMTP server sends system mail: the one marked `system_mail`, else the
/// first email account with an SMTP server.
pub fn system_account(txn: &WriteTransaction) -> AppResult<Option<Account>> {
    let mut first = None;
    for a in super::accounts::list_w(txn)? {
        if a.kind != Channel::Email || a.deleted_at.is_some() {
            continue;
        }
        let Ok(s) = EmailSettings::of(&a) else {
            continue;
        };
        if s.smtp.is_none() {
            continue;
        }
        if s.system_mail {
            return Ok(Some(a));
        }
        if first.is_none() {
            first = Some(a);
        }
    }
    Ok(first)
}

/// Gathers what a claimed outbox row sends and records its Message-ID on the message (so a
/// retry sends the same one and receivers drop a duplicate). `Err` is the outcome when there
/// is nothing to send as it stands.
pub fn prepare(
    txn: &WriteTransaction,
    fx: &mut Effects,
    row: &OutboxRow,
    now: Millis,
) -> AppResult<Result<Outgoing, Outcome>> {
    let failed = |why: Note| Ok(Err(Outcome::Failed { error: why }));
    let account = match row.account_id {
        Some(a) => super::accounts::get_w(txn, a)?.filter(|a| a.deleted_at.is_none()),
        None => system_account(txn)?,
    };
    let Some(account) = account else {
        return failed(Note::NoSmtpAccount);
    };
    let settings = match EmailSettings::of(&account) {
        Ok(s) if s.smtp.is_some() => s,
        Ok(_) => {
            // Waits: it goes out once the account gets an SMTP server.
            return Ok(Err(Outcome::Later {
                at: now + 60_000,
                note: Some(Note::AccountWithoutSmtp),
            }));
        }
        Err(e) => return failed(Note::raw(e.message)),
    };
    let secret = secret_w(txn)?;
    let outgoing = match &row.work {
        OutboxWork::SystemMail(sys) => {
            let attachments = load_attachments(txn, &sys.attachments)?;
            Outgoing {
                account: account.clone(),
                to: sys.to.clone(),
                to_name: None,
                subject: sys.subject.clone(),
                text: sys.text.clone(),
                message_id: thread::system_message_id(row.id, &settings.address, &secret),
                in_reply_to: None,
                references: Vec::new(),
                reply_to: None,
                attachments,
                auto_submitted: Some("auto-generated"),
            }
        }
        OutboxWork::Message {
            message_id,
            automatic,
            ..
        } => {
            let Some(mut message) = get_message(txn, *message_id)? else {
                return Ok(Err(Outcome::Done {
                    status: None,
                    detail: None,
                }));
            };
            let Some(ticket) = tickets::get_w(txn, message.ticket_number)? else {
                return failed(Note::TicketGone);
            };
            let contact = contacts::get_w(txn, ticket.contact_id)?;
            let to = contact.as_ref().and_then(|c| {
                c.identities
                    .iter()
                    .find(|i| i.account_id == account.id && i.external_id.contains('@'))
                    .map(|i| i.external_id.clone())
                    .or_else(|| c.email.clone())
            });
            let Some(to) = to else {
                return failed(Note::CustomerWithoutEmail);
            };
            let thread_ids = thread_of(txn, ticket.number, message.id)?;
            let subject_base = thread_ids
                .iter()
                .rev()
                .find_map(|(_, s)| (!s.is_empty()).then(|| s.clone()))
                .unwrap_or_default();
            let mail_id = thread::message_id(message.id, &settings.address, &secret);
            let mut references: Vec<String> = thread_ids.iter().map(|(id, _)| id.clone()).collect();
            let in_reply_to = match message.reply_to {
                Some(r) => get_message(txn, r)?
                    .and_then(|m| m.mail.and_then(|mm| mm.message_id))
                    .or_else(|| references.last().cloned()),
                None => references.last().cloned(),
            };
            if references.len() > MAX_REFERENCES {
                references.drain(..references.len() - MAX_REFERENCES);
            }
            let mut text = message.text.clone();
            if let Some(sig) = settings.signature.as_ref().filter(|s| !s.trim().is_empty()) {
                text = format!("{text}\n\n-- \n{sig}");
            }
            let subject = thread::reply_subject(
                &subject_base,
                ticket.number,
                &format!("Ticket #{}", ticket.number),
            );
            let meta = message.mail.get_or_insert_with(Default::default);
            meta.message_id = Some(mail_id.clone());
            meta.subject = subject.clone();
            remember_mail_id(txn, &mail_id, message.id)?;
            tickets::update_message(txn, fx, &message)?;
            Outgoing {
                account: account.clone(),
                to,
                to_name: contact.map(|c| c.name).filter(|n| !n.is_empty()),
                subject,
                text,
                message_id: mail_id,
                in_reply_to,
                references,
                reply_to: Some(thread::reply_address(
                    &settings.address,
                    ticket.number,
                    &secret,
                )),
                attachments: load_attachments(txn, &message.attachments)?,
                auto_submitted: automatic.then_some("auto-replied"),
            }
        }
    };
    Ok(Ok(outgoing))
}

/// The Message-IDs (with subjects) of a ticket's mails before `before`, oldest first.
fn thread_of(txn: &WriteTransaction, number: u64, before: u64) -> AppResult<Vec<(String, String)>> {
    let links = txn.open_table(TICKET_MESSAGE)?;
    let messages = txn.open_table(MESSAGE_ID_TO_MESSAGE)?;
    let mut out = Vec::new();
    for row in links.range((number, 0)..(number, before))? {
        let (k, _) = row?;
        let m: Option<Message> = codec::get(&messages, k.value().1)?;
        if let Some(meta) = m.and_then(|m| m.mail) {
            if let Some(id) = meta.message_id {
                out.push((id, meta.subject));
            }
        }
    }
    Ok(out)
}

fn load_attachments(txn: &WriteTransaction, ids: &[u64]) -> AppResult<Vec<Attachment>> {
    let table = txn.open_table(ATTACHMENT_ID_TO_ATTACHMENT)?;
    let mut out = Vec::new();
    for id in ids {
        if let Some(a) = codec::get::<Attachment>(&table, *id)? {
            out.push(a);
        }
    }
    Ok(out)
}

/// The demo workspace's answers are history: marked sent, never handed to any channel.
pub fn settle_demo(txn: &WriteTransaction, message: &Message) -> AppResult<()> {
    super::outbox::forget(txn, message.id, message.created_at)?;
    let mut m = message.clone();
    m.status = DeliveryStatus::Sent;
    txn.open_table(MESSAGE_ID_TO_MESSAGE)?
        .insert(m.id, codec::encode(&m)?.as_slice())?;
    Ok(())
}
