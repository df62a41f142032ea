//! What a mail in the outbox sends: recipients, subject, threading headers, attachments.

#[allow(unused_imports)]
use super::*;

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
    for a in crate::store::accounts::list_w(txn)? {
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
        Some(a) => crate::store::accounts::get_w(txn, a)?.filter(|a| a.deleted_at.is_none()),
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
        // Mail has no read receipts: nothing to send.
        OutboxWork::Receipt { .. } | OutboxWork::Fetch { .. } => {
            return Ok(Err(Outcome::Done {
                status: None,
                detail: None,
            }))
        }
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
            // The agent's signature (for this account, else their own), then the account's.
            let agent = match message.user_id.filter(|_| !automatic) {
                Some(uid) => super::super::users::get_w(txn, uid)?
                    .and_then(|u| u.signatures.get(&account.id).cloned().or(u.signature)),
                None => None,
            };
            let lines: Vec<&str> = [agent.as_deref(), settings.signature.as_deref()]
                .into_iter()
                .flatten()
                .filter(|s| !s.trim().is_empty())
                .collect();
            if !lines.is_empty() {
                text = format!("{text}\n\n-- \n{}", lines.join("\n"));
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
