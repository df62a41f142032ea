//! The email channel (CHAN-1): its settings form and checks, and its sender. Polling, parsing
//! and SMTP live in `crate::mail` for now.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::host::Polling;
use super::{ChannelDriver, Field, Input, SendContext, Settings};
use crate::domain::{Account, Channel, OutboxRow, Outcome};
use crate::error::AppResult;
use crate::mail::settings::EmailSettings;

pub struct Email;

const SECURITY: Input = Input::Select {
    options: &["tls", "starttls", "plain"],
    labels: "security.",
};

static IMAP: [Field; 6] = [
    Field::new("host", "accounts.host", Input::Text).required(),
    Field::new(
        "port",
        "accounts.port",
        Input::Number {
            min: 1,
            max: 65_535,
        },
    ),
    Field::new("security", "accounts.security", SECURITY),
    Field::new("username", "accounts.username", Input::Text),
    Field::new("password", "accounts.password", Input::Secret),
    Field::new("mailbox", "accounts.mailbox", Input::Text).placeholder("INBOX"),
];

static SMTP: [Field; 5] = [
    Field::new("host", "accounts.host", Input::Text).required(),
    Field::new(
        "port",
        "accounts.port",
        Input::Number {
            min: 1,
            max: 65_535,
        },
    ),
    Field::new("security", "accounts.security", SECURITY),
    Field::new("username", "accounts.username", Input::Text),
    Field::new("password", "accounts.password", Input::Secret),
];

static FIELDS: [Field; 6] = [
    Field::new("address", "accounts.address", Input::Email)
        .required()
        .placeholder("soporte@tienda.cl"),
    Field::new("from_name", "accounts.from_name", Input::Text),
    Field::new("signature", "accounts.signature", Input::Textarea),
    Field::new("imap", "accounts.imap", Input::Group { fields: &IMAP }),
    Field::new("smtp", "accounts.smtp", Input::Group { fields: &SMTP }),
    Field::new("system_mail", "accounts.system_mail", Input::Checkbox),
];

impl ChannelDriver for Email {
    fn kind(&self) -> Channel {
        Channel::Email
    }
    fn fields(&self) -> &'static [Field] {
        &FIELDS
    }
    fn validate(&self, settings: &Settings) -> AppResult<()> {
        crate::mail::settings::validate(settings)
    }
    /// An account with an IMAP server is read by the IMAP poller.
    fn polling(&self, account: &Account) -> Polling {
        match EmailSettings::of(account) {
            Ok(s) if s.imap.is_some() => Polling::Yes {
                fingerprint: super::fingerprint(account),
                session: Arc::new(crate::mail::imap::ImapSession(s)),
            },
            Ok(_) => Polling::NotConfigured,
            Err(e) => Polling::Invalid(e.message),
        }
    }
    /// Replies, automatic answers and system mail, through the account's SMTP server.
    fn deliver<'a>(&'a self, ctx: &'a SendContext, row: &'a OutboxRow) -> BoxFuture<'a, Outcome> {
        Box::pin(crate::mail::send(&ctx.store, row))
    }
}
