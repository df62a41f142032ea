//! The web chat channel (CHAN-2): its settings, who has the widget open, the sender of
//! answers (shown live in the widget; mailed when the visitor did not see them), and the
//! widget's script and socket (`socket.rs`).

pub mod socket;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ChannelDriver, Field, Input, SendContext, Settings};
use crate::domain::{
    settings_as, Account, Channel, DeliveryStatus, Millis, Note, OutboxRow, Outcome,
};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// A web chat account's settings.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
pub struct ChatSettings {
    /// Sites whose pages may open the chat (`https://tienda.cl`).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// Shown when the chat opens.
    #[serde(default)]
    pub welcome: Option<String>,
    /// SLA-3: shown when nobody who takes this account's tickets is available.
    #[serde(default)]
    pub no_agent_message: Option<String>,
    /// Largest file a visitor may send (default 1024 KB).
    #[serde(default)]
    pub max_file_kb: Option<u32>,
    /// SLA-3: shown outside the account's business hours (its calendar).
    #[serde(default)]
    pub out_of_hours_message: Option<String>,
    /// An answer the visitor did not see (widget closed) goes to their email after this many
    /// seconds (default 60), when they left an address.
    #[serde(default)]
    pub email_after_seconds: Option<u32>,
}

impl ChatSettings {
    pub fn of(account: &Account) -> ChatSettings {
        settings_as(&account.settings).unwrap_or_default()
    }
    pub fn max_file_bytes(&self) -> usize {
        self.max_file_kb.unwrap_or(1024) as usize * 1024
    }
}

fn check(settings: &Settings) -> AppResult<()> {
    let s: ChatSettings = settings_as(settings).map_err(|e| {
        AppError::invalid(
            "settings",
            "invalid_setting",
            format!("web chat settings: {e}"),
        )
    })?;
    super::validate_origins(&s.allowed_origins)?;
    Ok(())
}

pub struct Webchat;

/// The site list and public title, shared with the contact form.
pub const SITE_FIELDS: [Field; 2] = [
    Field::new("allowed_origins", "accounts.allowed_origins", Input::Lines)
        .placeholder("https://tienda.cl"),
    Field::new("title", "accounts.public_title", Input::Text),
];

static FIELDS: [Field; 5] = [
    SITE_FIELDS[0],
    SITE_FIELDS[1],
    Field::new("welcome", "accounts.welcome", Input::Textarea),
    Field::new(
        "no_agent_message",
        "accounts.no_agent_message",
        Input::Textarea,
    ),
    Field::new(
        "max_file_kb",
        "accounts.max_file_kb",
        Input::Number {
            min: 1,
            max: 25_600,
        },
    )
    .placeholder("1024"),
];

impl ChannelDriver for Webchat {
    fn kind(&self) -> Channel {
        Channel::Webchat
    }
    fn fields(&self) -> &'static [Field] {
        &FIELDS
    }
    fn validate(&self, settings: &Settings) -> AppResult<()> {
        check(settings)
    }
    /// Its send only hands the answer on inside Atiende (a mail row, a stored message).
    fn routes(&self, _max_upload: usize) -> OpenApiRouter<AppState> {
        OpenApiRouter::new()
            .routes(routes!(socket::socket))
            .routes(routes!(socket::file))
    }

    fn pages(&self, _max_upload: usize) -> axum::Router<AppState> {
        axum::Router::new().route("/widget.js", axum::routing::get(socket::widget))
    }

    fn safe_to_repeat(&self) -> bool {
        true
    }
    fn deliver<'a>(&'a self, ctx: &'a SendContext, row: &'a OutboxRow) -> BoxFuture<'a, Outcome> {
        Box::pin(answer(ctx, row, Wait::ForTheVisitor))
    }
}

/// How long an answer waits for the visitor's widget before it goes by mail (default).
const EMAIL_AFTER_SECONDS: u32 = 60;
/// An online visitor's unseen answer is looked at again after this long.
const ONLINE_RECHECK_MS: Millis = 10_000;

/// Whether an answer waits for the customer to see it on the site before it is mailed.
pub(super) enum Wait {
    /// Web chat: an answer is shown at once in any open widget (the socket follows the live
    /// bus); only one the visitor has not seen after `email_after_seconds` while no panel of
    /// theirs is open goes by mail.
    ForTheVisitor,
    /// Contact form: the customer has no chat to come back to; mailed at once.
    No,
}

/// Delivers a chat or form answer: by mail through the system mail account when the customer
/// left an address, else left for their return with that reason on the message.
pub(super) async fn answer(ctx: &SendContext, row: &OutboxRow, wait: Wait) -> Outcome {
    let (message, ticket, account, contact) = match ctx.answer(row).await {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    let now = ctx.store.now();
    let chat = matches!(wait, Wait::ForTheVisitor);
    if chat {
        if matches!(
            message.status,
            DeliveryStatus::Delivered | DeliveryStatus::Read
        ) {
            return Outcome::Done {
                status: None,
                detail: None,
            };
        }
        let seconds = account
            .as_ref()
            .and_then(|a| ChatSettings::of(a).email_after_seconds)
            .unwrap_or(EMAIL_AFTER_SECONDS);
        let mail_at = row.created_at + Millis::from(seconds) * 1000;
        if now < mail_at {
            return Outcome::Later {
                at: mail_at,
                note: None,
            };
        }
        if ctx.chat_online.is_online(ticket.contact_id) {
            return Outcome::Later {
                at: now + ONLINE_RECHECK_MS,
                note: None,
            };
        }
    }
    let Some((name, email)) = contact.and_then(|c| c.email.map(|e| (c.name, e))) else {
        return Outcome::Done {
            status: None,
            detail: Some(Note::NoEmailForChat),
        };
    };
    match crate::mail::templates::render(
        if chat { "chat_reply" } else { "form_reply" },
        "es",
        &email,
        &[
            ("name", &name),
            ("number", &ticket.number.to_string()),
            ("text", &message.text),
        ],
    ) {
        Ok(mail) => Outcome::ByMail(mail),
        Err(e) => Outcome::Failed {
            error: Note::raw(e.message),
        },
    }
}

/// Open chat connections per contact.
#[derive(Default)]
pub struct Online {
    open: std::sync::Mutex<std::collections::HashMap<u64, usize>>,
}

impl Online {
    pub fn enter(&self, contact_id: u64) {
        if let Ok(mut m) = self.open.lock() {
            *m.entry(contact_id).or_default() += 1;
        }
    }

    pub fn leave(&self, contact_id: u64) {
        if let Ok(mut m) = self.open.lock() {
            if let Some(n) = m.get_mut(&contact_id) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&contact_id);
                }
            }
        }
    }

    /// Visitors with the chat open now.
    pub fn count(&self) -> u64 {
        self.open.lock().map(|m| m.len() as u64).unwrap_or(0)
    }

    pub fn is_online(&self, contact_id: u64) -> bool {
        self.open.lock().is_ok_and(|m| m.contains_key(&contact_id))
    }
}
