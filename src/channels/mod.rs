//! The channel boundary: every kind of channel (email, web chat, form, the API, and the
//! vendor channels to come) is one `ChannelDriver` in the registry below. What the rest of
//! Atiende asks of a channel goes through it: whether accounts of the kind can be connected,
//! the settings form the web app draws, and the check of those settings before they are
//! stored. (Routes, pollers, parsing and senders join the trait as channels move onto it;
//! docs/architecture.md tells which have.)

pub mod api;
pub mod coming;
pub mod email;
pub mod form;
pub mod host;
pub mod schema;
#[cfg(feature = "test-channel")]
pub mod test_channel;
pub mod webchat;
pub mod whatsapp;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::domain::{Account, Channel, Millis, Note, OutboxRow, Outcome};
use crate::error::{AppError, AppResult};
pub use schema::{Field, Input};

/// An account's settings as stored: a JSON object, typed by each channel's own settings type.
pub type Settings = serde_json::Map<String, serde_json::Value>;

/// Whether accounts of a kind can be connected in this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Accounts are created, receive and answer.
    Ready,
    /// Listed so admins know it is planned; no account of it can be created, and replies on
    /// existing ones (the demo's samples) are refused rather than queued.
    Coming,
}

/// What senders may use.
#[derive(Clone)]
pub struct SendContext {
    pub store: crate::store::Store,
    /// Web chat visitors with the widget open (their answers are not mailed).
    pub chat_online: Arc<webchat::Online>,
    /// Where a sender says what the vendor's answers tell of the account's connection
    /// (CHAN-12), for channels without a poller.
    pub health: Arc<crate::health::HealthBoard>,
    /// The largest file a customer may send (bytes): a vendor's bigger file is not fetched.
    pub max_upload: usize,
    /// Vendor rate limits met while sending.
    pub pauses: Arc<Pauses>,
}

/// Rate limits a vendor asked senders to respect (WhatsApp: 131056 for one customer, 130429
/// for the whole number): until when each key (an account, or an account and a recipient)
/// waits. Kept in memory: after a restart the vendor says so again if it still applies.
#[derive(Default)]
pub struct Pauses(std::sync::Mutex<std::collections::HashMap<String, Millis>>);

impl Pauses {
    /// Until when `key` waits, if it still does at `now`.
    pub fn until(&self, key: &str, now: Millis) -> Option<Millis> {
        let map = self.0.lock().ok()?;
        map.get(key).copied().filter(|until| *until > now)
    }

    /// `key` waits until `until` (a later pause never shortened by an earlier one). Pauses that
    /// ended are forgotten here, so the map holds only the ones running.
    pub fn pause(&self, key: String, until: Millis, now: Millis) {
        if let Ok(mut map) = self.0.lock() {
            map.retain(|_, u| *u > now);
            let slot = map.entry(key).or_insert(until);
            *slot = (*slot).max(until);
        }
    }
}

impl SendContext {
    /// The answer a message row delivers, with its ticket, account and customer; `Err` is the
    /// outcome when there is nothing to send (the row is no message, or it is gone) or the
    /// store could not be read (tried again).
    pub async fn answer(&self, row: &OutboxRow) -> Result<crate::store::chat::Answer, Outcome> {
        let Some(message_id) = row.message_id() else {
            return Err(Outcome::Failed {
                error: Note::raw("nothing to deliver"),
            });
        };
        match self
            .store
            .read(move |txn| crate::store::chat::answer(txn, message_id))
            .await
        {
            Ok(Some(found)) => Ok(found),
            Ok(None) => Err(Outcome::Done {
                status: None,
                detail: None,
            }),
            Err(e) => Err(Outcome::Retry {
                error: Note::raw(e.message),
            }),
        }
    }
}

/// What a kind of channel brings. One implementation per kind, listed in `REGISTRY`.
pub trait ChannelDriver: Send + Sync + 'static {
    fn kind(&self) -> Channel;

    fn availability(&self) -> Availability {
        Availability::Ready
    }

    /// The account form's fields, drawn by the web app (labels come from the locale files).
    fn fields(&self) -> &'static [Field] {
        &[]
    }

    /// Checks the whole settings object of an account of this kind before it is stored.
    fn validate(&self, _settings: &Settings) -> AppResult<()> {
        Ok(())
    }

    /// A vendor's webhook delivery to one of this kind's accounts, as
    /// `POST /api/v1/channels/{kind}/{account}/webhook` received it: the signature checked over
    /// the raw bytes (`unauthorized` when it fails: nothing is stored), then the payload parsed
    /// without IO into the messages it carries. A payload it cannot use yet still gives a message
    /// ("unsupported") rather than an error the vendor would retry. None: no webhooks.
    ///
    /// `siblings` are the other accounts of the kind: a vendor with one callback URL per app
    /// (Meta) may deliver messages for another of them in the same body.
    fn webhook(
        &self,
        _account: &Account,
        _siblings: &[Account],
        _headers: &axum::http::HeaderMap,
        _body: &[u8],
    ) -> Option<AppResult<crate::domain::inbound::VendorBatch>> {
        None
    }

    /// The vendor's check of a webhook URL (`GET …/webhook?hub.mode=subscribe&…`): the text to
    /// answer (the challenge), or why not. None: this kind has no such handshake.
    fn verify_subscription(
        &self,
        _account: &Account,
        _query: &std::collections::HashMap<String, String>,
    ) -> Option<AppResult<String>> {
        None
    }

    /// Whether accounts of this kind can be checked against the vendor ("Probar conexión").
    fn checks(&self) -> bool {
        false
    }

    /// Asks the vendor about the account with its credentials: the facts it answers
    /// (`(key, value)`, labelled by `accounts.check_<key>`), or why it refused.
    fn check<'a>(
        &'a self,
        _account: &'a Account,
    ) -> BoxFuture<'a, Result<Vec<(&'static str, String)>, Note>> {
        Box::pin(async { Err(Note::raw("this channel has nothing to check")) })
    }

    /// Whether the vendor is told when an agent reads the customer's messages (WhatsApp).
    fn read_receipts(&self) -> bool {
        false
    }

    /// How long after the customer's last message a free-text answer may still be sent
    /// (WhatsApp: 24 hours; then only approved templates). None: no limit.
    fn reply_window(&self) -> Option<Millis> {
        None
    }

    /// Whether the vendor keeps approved message templates for accounts of this kind (the
    /// answers allowed outside the reply window).
    fn has_templates(&self) -> bool {
        false
    }

    /// Fetches the account's templates from the vendor (every page), or why it refused.
    fn templates<'a>(
        &'a self,
        _account: &'a Account,
    ) -> BoxFuture<'a, Result<Vec<crate::domain::template::Template>, Note>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Fills what Atiende makes itself in an account's settings (a webhook verify token),
    /// before `validate`, when the account is created or changed.
    fn complete(&self, _settings: &mut Settings) {}

    /// The API routes the channel needs (a widget's socket, a form's POST), documented in the
    /// OpenAPI document like every route. `max_upload` bounds a route that takes files.
    fn routes(&self, _max_upload: usize) -> OpenApiRouter<crate::state::AppState> {
        OpenApiRouter::new()
    }

    /// Pages and scripts it serves outside the API (a hosted form, the chat widget's script).
    fn pages(&self, _max_upload: usize) -> axum::Router<crate::state::AppState> {
        axum::Router::new()
    }

    /// Whether an account of this kind polls its vendor, and with what session (run by
    /// `host::supervise`, which owns backoff, health and restarts on a settings change).
    fn polling(&self, _account: &Account) -> host::Polling {
        host::Polling::No
    }

    /// Whether a delivery interrupted by a crash may simply be tried again: true when the
    /// channel's send stays inside Atiende (nothing can have left), false when it reaches a
    /// server outside (the message then reads failed and the agent decides).
    fn safe_to_repeat(&self) -> bool {
        false
    }

    /// Sends one claimed outbox row (idempotent on `row.id` where the vendor allows). Runs
    /// after the claim committed; the outcome is recorded on the row and its message.
    fn deliver<'a>(&'a self, _ctx: &'a SendContext, _row: &'a OutboxRow) -> BoxFuture<'a, Outcome> {
        Box::pin(async {
            Outcome::Failed {
                error: Note::ChannelNotConnected,
            }
        })
    }
}

/// Every kind, in the order admins see them.
static REGISTRY: &[&dyn ChannelDriver] = &[
    &email::Email,
    &webchat::Webchat,
    &form::Form,
    &whatsapp::WhatsApp,
    &coming::Coming(Channel::Facebook),
    &coming::Coming(Channel::Instagram),
    &coming::Coming(Channel::X),
    &coming::Coming(Channel::XSearch),
    &coming::Coming(Channel::Appstore),
    &coming::Coming(Channel::Playstore),
    &api::Api,
    #[cfg(feature = "test-channel")]
    &test_channel::TestChannel,
];

/// Every channel's API routes, for the router.
pub fn routes(max_upload: usize) -> OpenApiRouter<crate::state::AppState> {
    REGISTRY
        .iter()
        .fold(OpenApiRouter::new(), |r, d| r.merge(d.routes(max_upload)))
}

/// Every channel's pages outside the API.
pub fn pages(max_upload: usize) -> axum::Router<crate::state::AppState> {
    REGISTRY
        .iter()
        .fold(axum::Router::new(), |r, d| r.merge(d.pages(max_upload)))
}

/// The driver of a kind. Every `Channel` has one (a unit test checks), so the fallback to the
/// "coming" driver is never taken in practice; it keeps the lookup total without a panic.
pub fn driver(kind: Channel) -> &'static dyn ChannelDriver {
    static FALLBACK: coming::Coming = coming::Coming(Channel::Api);
    REGISTRY
        .iter()
        .copied()
        .find(|d| d.kind() == kind)
        .unwrap_or(&FALLBACK)
}

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`, compared in
/// constant time: how Meta (`X-Hub-Signature-256`) and others sign their webhooks.
pub fn signed_sha256(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    use hmac::{Hmac, Mac};
    let Some(hex_sig) = header.and_then(|h| h.strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// A webhook body signed in the request header `header` with `secret` (see `signed_sha256`),
/// or 401: nothing of an unsigned body is read.
pub fn require_signed(
    secret: &crate::domain::Secret,
    headers: &axum::http::HeaderMap,
    header: &str,
    body: &[u8],
) -> AppResult<()> {
    let sig = headers.get(header).and_then(|v| v.to_str().ok());
    if signed_sha256(secret.expose(), body, sig) {
        Ok(())
    } else {
        Err(AppError::unauthorized("bad or missing signature"))
    }
}

/// The customer's id on the account an answer leaves from (the `to` of a vendor's send), or
/// the outcome when they have none there.
pub fn recipient(
    contact: Option<crate::domain::Contact>,
    account_id: u64,
) -> Result<String, Outcome> {
    contact
        .and_then(|c| {
            c.identities
                .into_iter()
                .find(|i| i.account_id == account_id)
                .map(|i| i.external_id)
        })
        .ok_or(Outcome::Failed {
            error: Note::CustomerWithoutIdentity,
        })
}

/// Names the settings a poller runs with: the poller host restarts it when they change.
pub fn fingerprint(account: &Account) -> String {
    serde_json::to_string(&account.settings).unwrap_or_default()
}

/// An account of `kind` may be created (a kind still coming may not).
pub fn require_ready(kind: Channel) -> AppResult<()> {
    match driver(kind).availability() {
        Availability::Ready => Ok(()),
        Availability::Coming => Err(AppError::invalid(
            "kind",
            "channel_coming",
            format!(
                "{} accounts cannot be connected yet: this channel comes in a later version",
                kind.as_str()
            ),
        )),
    }
}

/// Whether `account` is connected: its kind connects in this build and its settings are
/// complete.
pub fn connected(account: &Account) -> bool {
    let d = driver(account.kind);
    d.availability() == Availability::Ready && d.validate(&account.settings).is_ok()
}

/// An answer on `account` can leave: its kind sends (accounts of a kind still coming never
/// do) and its settings are complete (a sample account of the demo, one whose credentials
/// were never given, says so instead of queueing answers that cannot go).
pub fn require_can_send(account: &Account) -> AppResult<()> {
    let kind = account.kind;
    match connected(account) {
        true => Ok(()),
        false => Err(AppError::invalid(
            "text",
            "channel_not_connected",
            format!(
                "this {} account is not connected: the answer cannot be sent",
                kind.as_str()
            ),
        )),
    }
}

/// The settings every account has, whatever its channel.
pub const SHARED_KEYS: [&str; 4] = [
    "sla_policy_id",
    "assignment",
    "calendar_id",
    crate::domain::auto_message::SETTING,
];

/// Settings an older Atiende took and this one moved elsewhere, with where they went.
const MOVED_KEYS: [(&str, &str); 4] = [
    ("auto_reply", "settings.auto_messages.welcome"),
    ("sla_minutes", "an SLA policy (settings.sla_policy_id)"),
    ("sla_business_hours", "the SLA policy's business_hours"),
    ("hours", "a business-hours calendar (settings.calendar_id)"),
];

/// Readies `settings` for an account of `kind`: what Atiende makes itself filled in, then the
/// keys every channel shares checked, then the channel's own.
pub fn prepare(kind: Channel, settings: &mut Settings) -> AppResult<()> {
    let d = driver(kind);
    d.complete(settings);
    validate_shared(settings)?;
    d.validate(settings)
}

/// A change of an account's settings: the channel's own are checked only when the change
/// touches them, so the SLA or the assignment of an account not connected yet (the demo's
/// sample accounts) can still be set.
pub fn prepare_change(kind: Channel, settings: &mut Settings, patch: &Settings) -> AppResult<()> {
    if patch.keys().all(|k| SHARED_KEYS.contains(&k.as_str())) {
        validate_shared(settings)
    } else {
        prepare(kind, settings)
    }
}

/// The settings every account has, whatever its channel: the SLA policy, the assignment
/// policy and the business-hours calendar.
fn validate_shared(s: &Settings) -> AppResult<()> {
    if let Some((key, moved)) = MOVED_KEYS.iter().find(|(k, _)| s.contains_key(*k)) {
        return Err(AppError::invalid(
            &format!("settings.{key}"),
            "setting_moved",
            format!("{key} is no longer an account setting: use {moved}"),
        ));
    }
    if let Some(v) = s
        .get(crate::domain::auto_message::SETTING)
        .filter(|v| !v.is_null())
    {
        let field = |f: &str| format!("settings.{f}");
        serde_json::from_value::<crate::domain::auto_message::AutoMessages>(v.clone())
            .map_err(|e| {
                AppError::invalid(
                    &field(crate::domain::auto_message::SETTING),
                    "invalid_setting",
                    format!(
                        "auto_messages is {{language?, welcome?, no_agent?, out_of_hours?}}, each {{es?, en?}}: {e}"
                    ),
                )
            })?
            .check()
            .map_err(|(f, m)| AppError::invalid(&field(&f), "invalid_setting", m))?;
    }
    for key in ["sla_policy_id", "calendar_id"] {
        if let Some(v) = s.get(key) {
            if !v.is_null() && v.as_str().and_then(|id| id.parse::<u64>().ok()).is_none() {
                return Err(AppError::invalid(
                    &format!("settings.{key}"),
                    "invalid_setting",
                    format!("{key} is the id of a record (a string), or null"),
                ));
            }
        }
    }
    if let Some(v) = s.get("assignment") {
        if !v.is_null() {
            serde_json::from_value::<crate::domain::assign::Policy>(v.clone()).map_err(|e| {
                AppError::invalid(
                    "settings.assignment",
                    "invalid_setting",
                    format!(
                        "assignment must be {{mode: round_robin|least_pending, max_open?: number, sticky?: bool}}: {e}"
                    ),
                )
            })?;
        }
    }
    Ok(())
}

/// Checks an account's `allowed_origins` (sites like https://tienda.cl, no paths).
pub fn validate_origins(origins: &[String]) -> AppResult<()> {
    for o in origins {
        let ok = (o.starts_with("https://") || o.starts_with("http://"))
            && o.split_once("://").is_some_and(|(_, host)| {
                let host = host.trim_end_matches('/');
                !host.is_empty() && !host.contains(['/', ' ', ';', '\'', ','])
            });
        if !ok {
            return Err(AppError::invalid(
                "settings.allowed_origins",
                "invalid_setting",
                format!("`{o}` is not a site origin like https://tienda.cl"),
            ));
        }
    }
    Ok(())
}

/// A kind as the accounts API and the web app see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelInfo {
    pub kind: Channel,
    pub availability: Availability,
    /// The account form: `[{key, label, type, required?, placeholder?, …}]`; a `group` has
    /// its own `fields`, a `select` its `options`.
    #[schema(value_type = Vec<Object>)]
    pub fields: &'static [Field],
    /// Accounts of this kind can be checked against the vendor (`POST /accounts/{id}/check`).
    pub checks: bool,
}

pub fn catalogue() -> Vec<ChannelInfo> {
    REGISTRY
        .iter()
        .map(|d| ChannelInfo {
            kind: d.kind(),
            availability: d.availability(),
            fields: d.fields(),
            checks: d.checks(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checks_the_signature_over_the_raw_bytes() {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3").unwrap();
        mac.update(b"{}");
        let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(super::signed_sha256("s3", b"{}", Some(&good)));
        assert!(!super::signed_sha256("s3", b"{ }", Some(&good)));
        assert!(!super::signed_sha256("otro", b"{}", Some(&good)));
        assert!(!super::signed_sha256("s3", b"{}", None));
        assert!(!super::signed_sha256("s3", b"{}", Some("sha256=zz")));
    }

    #[test]
    fn every_kind_has_exactly_one_driver() {
        for &kind in Channel::ALL {
            let n = REGISTRY.iter().filter(|d| d.kind() == kind).count();
            assert_eq!(n, 1, "{kind:?}");
            assert_eq!(driver(kind).kind(), kind);
        }
        assert_eq!(REGISTRY.len(), Channel::ALL.len());
    }

    #[test]
    fn coming_kinds_cannot_be_created() {
        assert!(require_ready(Channel::Email).is_ok());
        assert!(require_ready(Channel::Api).is_ok());
        assert!(require_ready(Channel::Whatsapp).is_ok());
        assert_eq!(
            require_ready(Channel::Facebook).unwrap_err().code,
            "channel_coming"
        );
    }

    #[test]
    fn shared_settings_are_checked_for_every_kind() {
        let bad = json!({"sla_policy_id": 7});
        for &kind in Channel::ALL {
            assert!(
                prepare(kind, &mut bad.as_object().unwrap().clone()).is_err(),
                "{kind:?}"
            );
        }
        let ok = json!({"sla_policy_id": "7", "assignment": {"mode": "round_robin"}});
        assert!(prepare(Channel::Api, &mut ok.as_object().unwrap().clone()).is_ok());
        let moved = json!({"sla_minutes": 30});
        let err = prepare(Channel::Api, &mut moved.as_object().unwrap().clone()).unwrap_err();
        assert_eq!(err.code, "setting_moved");
    }

    #[test]
    fn every_label_is_in_both_locales() {
        fn labels(fields: &[Field], out: &mut Vec<String>) {
            for f in fields {
                out.push(f.label.to_string());
                match &f.input {
                    Input::Group { fields, .. } => labels(fields, out),
                    Input::Select {
                        options,
                        labels: prefix,
                    } => out.extend(options.iter().map(|o| format!("{prefix}{o}"))),
                    _ => {}
                }
            }
        }
        let mut keys = Vec::new();
        for d in REGISTRY {
            labels(d.fields(), &mut keys);
        }
        for lang in ["es", "en"] {
            let path = format!("{}/assets/locales/{lang}.json", env!("CARGO_MANIFEST_DIR"));
            let locale: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            for k in &keys {
                assert!(locale.contains_key(k), "{lang}.json lacks {k}");
            }
        }
    }
}
