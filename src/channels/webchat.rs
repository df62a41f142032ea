//! The web chat channel (CHAN-2): its settings. The widget, its socket and delivery live in
//! `http::api::chat` and `chat` for now.

use serde::{Deserialize, Serialize};

use super::{ChannelDriver, Field, Input, Settings};
use crate::domain::{settings_as, Account, Channel};
use crate::error::{AppError, AppResult};

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
    /// SLA-3: when the chat is attended; outside, `out_of_hours_message` is shown.
    #[serde(default)]
    pub hours: Option<crate::domain::hours::Hours>,
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
    if let Some(h) = &s.hours {
        h.check()
            .map_err(|e| AppError::invalid("settings.hours", "invalid_setting", e))?;
    }
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
}
