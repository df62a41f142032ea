//! One fetched mail becomes a message: threading (BEYOND-2), loops and bounces, the automatic answer (CHAN-11).

#[allow(unused_imports)]
use super::*;

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
            id: crate::store::catalog::new_id::<Attachment>(txn)?,
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
    let account = crate::store::accounts::require_w(txn, mail.account_id)?;
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
        crate::domain::mail::display_html(h, &urls)
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
        subject: Some(p.subject.trim().to_string()).filter(|s| !s.is_empty()),
        files: Vec::new(),
        reply_to_external: None,
        notes: Vec::new(),
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
    // Automatic and bulk mail is never answered by a robot (RFC 3834 §2).
    let answer = if p.noise == Noise::None {
        tickets::Answer::Automatic
    } else {
        tickets::Answer::Never
    };
    let ingested = tickets::ingest_with(txn, fx, &inbound, now, answer, |m| {
        m.mail = Some(Box::new(meta))
    })?;
    if let Some(id) = &p.message_id {
        remember_mail_id(txn, id, ingested.message_id)?;
    }
    Ok(MailOutcome::Message(ingested))
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
            .insert(original.id, codec::encode_compact(&original)?.as_slice())?;
    }
    let parts = insert_parts(txn, &mail.parts, now)?;
    let p = &mail.parsed;
    let report = Message {
        reaction: None,
        receipt_sent: false,
        template: None,
        notes: Vec::new(),
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
    tickets::append_automatic(txn, fx, &ticket, &report)?;
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
