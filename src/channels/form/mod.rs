//! The contact form channel (CHAN-3): its settings, and the hosted page, the embed script and
//! the POST endpoint (`pages.rs`).

pub mod pages;

use serde::{Deserialize, Serialize};

use futures_util::future::BoxFuture;

use axum::extract::DefaultBodyLimit;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ChannelDriver, Field, SendContext, Settings};
use crate::domain::{settings_as, Account, Channel, OutboxRow, Outcome};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Fields a form may show, in page order.
pub const FIELDS: [&str; 7] = [
    "name",
    "email",
    "phone",
    "rut",
    "subject",
    "message",
    "attachments",
];
/// A form account's settings (all optional).
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
pub struct FormSettings {
    /// Shown fields (default name, email, subject, message).
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    /// Fields that must be filled (default email and message).
    #[serde(default)]
    pub required: Option<Vec<String>>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub intro: Option<String>,
    /// Shown after sending (or `redirect_url` is opened instead).
    #[serde(default)]
    pub thanks: Option<String>,
    #[serde(default)]
    pub redirect_url: Option<String>,
    /// Sites allowed to frame the form and to post to it from the browser.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// A submission faster than this after the page was served is refused (default 3 s).
    #[serde(default)]
    pub min_seconds: Option<u32>,
    #[serde(default)]
    pub max_file_kb: Option<u32>,
    /// Mail the customer a confirmation (needs an email account that can send; default on).
    #[serde(default)]
    pub confirm_by_email: Option<bool>,
    /// The page's language when the browser's is neither Spanish nor English (default es).
    #[serde(default)]
    pub language: Option<String>,
}

impl FormSettings {
    pub fn of(account: &Account) -> FormSettings {
        settings_as(&account.settings).unwrap_or_default()
    }
    pub fn fields(&self) -> Vec<String> {
        self.fields.clone().unwrap_or_else(|| {
            ["name", "email", "subject", "message"]
                .map(String::from)
                .to_vec()
        })
    }
    pub fn required(&self) -> Vec<String> {
        self.required
            .clone()
            .unwrap_or_else(|| vec!["email".into(), "message".into()])
    }
    pub fn max_file_bytes(&self) -> usize {
        self.max_file_kb.unwrap_or(5 * 1024) as usize * 1024
    }
}

/// Checks a form account's settings before they are stored.
fn check(settings: &Settings) -> AppResult<()> {
    let s: FormSettings = settings_as(settings).map_err(|e| {
        AppError::invalid("settings", "invalid_setting", format!("form settings: {e}"))
    })?;
    for f in s.fields().iter().chain(s.required().iter()) {
        if !FIELDS.contains(&f.as_str()) {
            return Err(AppError::invalid(
                "settings.fields",
                "invalid_setting",
                format!("unknown form field `{f}`; fields are {}", FIELDS.join(", ")),
            ));
        }
    }
    super::validate_origins(&s.allowed_origins)?;
    if let Some(u) = &s.redirect_url {
        if !(u.starts_with("https://") || u.starts_with("http://")) {
            return Err(AppError::invalid(
                "settings.redirect_url",
                "invalid_setting",
                "redirect_url must be an http(s) address",
            ));
        }
    }
    Ok(())
}

pub struct Form;

impl ChannelDriver for Form {
    fn kind(&self) -> Channel {
        Channel::Form
    }
    fn fields(&self) -> &'static [Field] {
        &super::webchat::SITE_FIELDS
    }
    fn validate(&self, settings: &Settings) -> AppResult<()> {
        check(settings)
    }
    /// An answer reaches the customer by mail at once.
    /// Its send only hands the answer on inside Atiende (a mail row, a stored message).
    /// The POST endpoint takes files: the upload limit, not the API's.
    fn routes(&self, max_upload: usize) -> OpenApiRouter<AppState> {
        OpenApiRouter::new()
            .routes(routes!(pages::submit))
            .layer(DefaultBodyLimit::max(max_upload + 64 * 1024))
    }

    fn pages(&self, max_upload: usize) -> axum::Router<AppState> {
        use axum::routing::get;
        axum::Router::new()
            .route(
                "/f/{id}",
                get(pages::page)
                    .post(pages::submit_page)
                    .layer(DefaultBodyLimit::max(max_upload + 64 * 1024)),
            )
            .route("/f/{id}/embed.js", get(pages::embed_script))
    }

    fn safe_to_repeat(&self) -> bool {
        true
    }
    fn deliver<'a>(&'a self, ctx: &'a SendContext, row: &'a OutboxRow) -> BoxFuture<'a, Outcome> {
        Box::pin(super::webchat::answer(ctx, row, super::webchat::Wait::No))
    }
}
