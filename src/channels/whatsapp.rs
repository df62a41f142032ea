//! WhatsApp through Meta's Cloud API (CHAN-4): the webhook Meta posts customers' messages and
//! delivery statuses to, and the sender that answers through the Graph API
//! (`../shared/CHANNELS.md` §0–1 has the wire format, with sources).
//!
//! Meta signs each webhook body with the app secret (`X-Hub-Signature-256`), checked over the
//! raw bytes before anything is read. One Meta app has one callback URL for all its numbers,
//! so a delivery may carry messages for another WhatsApp account of this Atiende: each change
//! is routed by its `metadata.phone_number_id`.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;

use super::{ChannelDriver, Field, Input, SendContext, Settings};
use crate::domain::inbound::{
    Amend, ContactFacts, Inbound, MessageChange, StatusUpdate, Thread, VendorBatch, VendorFile,
};
use crate::domain::{
    settings_as, Account, Channel, DeliveryStatus, Millis, Note, OutboxRow, OutboxWork, Outcome,
    Secret,
};
use crate::error::{AppError, AppResult};

pub struct WhatsApp;

const GRAPH: &str = "https://graph.facebook.com";
/// The Graph API version Atiende speaks (Meta answers a retired one as the oldest it keeps).
const VERSION: &str = "v21.0";

#[derive(Debug, Clone, Deserialize)]
struct WaSettings {
    phone_number_id: String,
    waba_id: String,
    /// A system user's token (Business Manager): it does not expire.
    access_token: Secret,
    /// Signs the webhooks.
    app_secret: Secret,
    /// Meta repeats it when the callback URL is saved; made by Atiende.
    #[serde(default)]
    verify_token: String,
    /// The Graph API's address (tests point it at a fake).
    #[serde(default)]
    api_base: Option<String>,
}

impl WaSettings {
    fn url(&self, path: &str) -> String {
        let base = self.api_base.as_deref().unwrap_or(GRAPH);
        format!("{}/{VERSION}/{path}", base.trim_end_matches('/'))
    }
}

static FIELDS: [Field; 6] = [
    Field::new(
        "phone_number_id",
        "accounts.wa_phone_number_id",
        Input::Text,
    )
    .required(),
    Field::new("waba_id", "accounts.wa_waba_id", Input::Text).required(),
    Field::new("access_token", "accounts.wa_access_token", Input::Secret).required(),
    Field::new("app_secret", "accounts.wa_app_secret", Input::Secret).required(),
    Field::new("verify_token", "accounts.wa_verify_token", Input::Generated),
    Field::new("api_base", "accounts.wa_api_base", Input::Text).placeholder(GRAPH),
];

fn settings(account: &Account) -> AppResult<WaSettings> {
    settings_as(&account.settings)
        .map_err(|e| AppError::invalid("settings", "invalid_setting", e.to_string()))
}

fn digits(field: &str, value: &str) -> AppResult<()> {
    if (5..=32).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(AppError::invalid(
            &format!("settings.{field}"),
            "invalid_setting",
            format!("`{value}` is not a Meta id (digits, as Meta's dashboard shows it)"),
        ))
    }
}

impl ChannelDriver for WhatsApp {
    fn kind(&self) -> Channel {
        Channel::Whatsapp
    }

    fn fields(&self) -> &'static [Field] {
        &FIELDS
    }

    fn validate(&self, settings: &Settings) -> AppResult<()> {
        let s: WaSettings = settings_as(settings).map_err(|e| {
            AppError::invalid(
                "settings",
                "invalid_setting",
                format!("a WhatsApp account needs phone_number_id, waba_id, access_token and app_secret: {e}"),
            )
        })?;
        digits("phone_number_id", &s.phone_number_id)?;
        digits("waba_id", &s.waba_id)?;
        for (key, secret) in [
            ("access_token", &s.access_token),
            ("app_secret", &s.app_secret),
        ] {
            if secret.expose().trim().is_empty() {
                return Err(AppError::invalid(
                    &format!("settings.{key}"),
                    "missing",
                    format!("{key} is required"),
                ));
            }
        }
        if let Some(base) = &s.api_base {
            let local =
                base.starts_with("http://127.0.0.1:") || base.starts_with("http://localhost:");
            if !base.starts_with("https://") && !local {
                return Err(AppError::invalid(
                    "settings.api_base",
                    "invalid_setting",
                    "the Graph API is reached over HTTPS",
                ));
            }
        }
        Ok(())
    }

    fn read_receipts(&self) -> bool {
        true
    }

    fn checks(&self) -> bool {
        true
    }

    /// The number as Meta has it: its display number, verified name and quality rating.
    fn check<'a>(
        &'a self,
        account: &'a Account,
    ) -> BoxFuture<'a, Result<Vec<(&'static str, String)>, Note>> {
        Box::pin(async move {
            let s = settings(account).map_err(|_| Note::NotSetUp)?;
            let url = s.url(&format!(
                "{}?fields=display_phone_number,verified_name,quality_rating",
                s.phone_number_id
            ));
            let r = reqwest::Client::new()
                .get(url)
                .bearer_auth(s.access_token.expose())
                .timeout(Duration::from_secs(15))
                .send()
                .await
                .map_err(|e| Note::raw(e.to_string()))?;
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            if !status.is_success() {
                let (code, title) = graph_error(&text);
                return Err(problem(code, title));
            }
            let v: Value = serde_json::from_str(&text).unwrap_or_default();
            Ok(["display_phone_number", "verified_name", "quality_rating"]
                .into_iter()
                .filter_map(|k| str_of(&v, k).map(|val| (k, val.to_string())))
                .collect())
        })
    }

    /// Meta's customer-service window: free text only within 24 hours of the customer's last
    /// message (131047 otherwise).
    fn reply_window(&self) -> Option<Millis> {
        Some(24 * 3_600_000)
    }

    fn complete(&self, settings: &mut Settings) {
        let missing = settings
            .get("verify_token")
            .and_then(Value::as_str)
            .is_none_or(|t| t.trim().is_empty());
        if missing {
            settings.insert(
                "verify_token".into(),
                Value::String(crate::auth::random_token(24)),
            );
        }
    }

    fn verify_subscription(
        &self,
        account: &Account,
        query: &HashMap<String, String>,
    ) -> Option<AppResult<String>> {
        Some(settings(account).and_then(|s| {
            let mode = query.get("hub.mode").map(String::as_str);
            let token = query
                .get("hub.verify_token")
                .map(String::as_str)
                .unwrap_or("");
            let expected = s.verify_token.as_bytes();
            let same = !expected.is_empty()
                && expected.len() == token.len()
                && constant_time_eq(expected, token.as_bytes());
            match (mode, same, query.get("hub.challenge")) {
                (Some("subscribe"), true, Some(challenge)) => Ok(challenge.clone()),
                _ => Err(AppError::forbidden("the verify token does not match")),
            }
        }))
    }

    fn webhook(
        &self,
        account: &Account,
        siblings: &[Account],
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<AppResult<VendorBatch>> {
        let check = || {
            let s = settings(account)?;
            super::require_signed(&s.app_secret, headers, "x-hub-signature-256", body)?;
            // The numbers of this Meta app (the same secret signs for them): a body signed for
            // one app never reaches another's accounts.
            let mut numbers: HashMap<String, u64> = HashMap::new();
            for a in std::iter::once(account).chain(siblings.iter()) {
                match settings(a) {
                    Ok(sa) if sa.app_secret == s.app_secret => {
                        numbers.entry(sa.phone_number_id).or_insert(a.id);
                    }
                    _ => {}
                }
            }
            Ok(parse(&numbers, body))
        };
        Some(check())
    }

    fn deliver<'a>(&'a self, ctx: &'a SendContext, row: &'a OutboxRow) -> BoxFuture<'a, Outcome> {
        Box::pin(send(ctx, row))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// WhatsApp's timestamps are seconds, sent as strings.
fn seconds(v: &Value) -> Option<Millis> {
    let s = match v {
        Value::String(s) => s.parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    s.checked_mul(1000)
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A webhook body as messages and statuses, per account (`numbers`: phone number id → account).
/// No IO. Anything it cannot read is skipped or stored as "unsupported", never an error: Meta
/// would retry a refused delivery for days and then turn the webhook off.
pub fn parse(numbers: &HashMap<String, u64>, body: &[u8]) -> VendorBatch {
    let mut batch = VendorBatch::default();
    let Ok(payload) = serde_json::from_slice::<Value>(body) else {
        tracing::warn!("a WhatsApp webhook that is not JSON was ignored");
        return batch;
    };
    let entries = payload["entry"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for entry in entries {
        let changes = entry["changes"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for change in changes {
            let field = change["field"].as_str().unwrap_or("");
            if field != "messages" {
                tracing::info!(field, "WhatsApp webhook field not handled");
                continue;
            }
            let value = &change["value"];
            let number = value["metadata"]["phone_number_id"].as_str().unwrap_or("");
            let Some(&account_id) = numbers.get(number) else {
                tracing::warn!(
                    phone_number_id = number,
                    "a WhatsApp delivery for a number no account has"
                );
                continue;
            };
            let contacts = value["contacts"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            for m in value["messages"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                if let Some(change) = change_of(account_id, m) {
                    batch.changes.push(change);
                } else if let Some(inbound) = message(account_id, contacts, m) {
                    batch.messages.push(inbound);
                }
            }
            for s in value["statuses"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                if let Some(update) = status(account_id, s) {
                    batch.statuses.push(update);
                }
            }
        }
    }
    batch
}

fn status(account_id: u64, s: &Value) -> Option<StatusUpdate> {
    let status = match s["status"].as_str()? {
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" | "played" => DeliveryStatus::Read,
        "failed" => DeliveryStatus::Failed,
        other => {
            tracing::info!(status = other, "WhatsApp status not handled");
            return None;
        }
    };
    let error = s["errors"]
        .as_array()
        .and_then(|e| e.first())
        .map(|e| Note::VendorError {
            code: e["code"].as_i64().unwrap_or(0),
            title: str_of(e, "title")
                .or_else(|| str_of(e, "message"))
                .unwrap_or("")
                .to_string(),
        });
    Some(StatusUpdate {
        account_id,
        external_id: str_of(s, "id")?.to_string(),
        status,
        at: seconds(&s["timestamp"]),
        error,
    })
}

/// A reaction, an edit or a delete: a change to a message sent before, not a new one.
fn change_of(account_id: u64, m: &Value) -> Option<MessageChange> {
    let kind = m["type"].as_str()?;
    let body = &m[kind];
    let (target, change) = match kind {
        "reaction" => (
            str_of(body, "message_id")?,
            Amend::React(str_of(body, "emoji").map(str::to_string)),
        ),
        "edit" => {
            let new = &body["message"];
            let new_kind = new["type"].as_str().unwrap_or("text");
            let text = str_of(&new[new_kind], "body")
                .or_else(|| str_of(&new[new_kind], "caption"))
                .unwrap_or("");
            (
                str_of(body, "original_message_id")?,
                Amend::Edit(text.to_string()),
            )
        }
        "revoke" => (str_of(body, "original_message_id")?, Amend::Revoke),
        _ => return None,
    };
    Some(MessageChange {
        account_id,
        target: target.to_string(),
        change,
    })
}

/// One customer message. None when it has no sender or id (nothing to answer or dedupe by).
fn message(account_id: u64, contacts: &[Value], m: &Value) -> Option<Inbound> {
    let from = str_of(m, "from")?;
    let id = str_of(m, "id")?;
    let name = contacts
        .iter()
        .find(|c| c["wa_id"].as_str() == Some(from))
        .and_then(|c| str_of(&c["profile"], "name"))
        .map(str::to_string);
    let kind = m["type"].as_str().unwrap_or("unknown");
    let mut notes = Vec::new();
    let mut files = Vec::new();
    let body = &m[kind];
    let text = match kind {
        "text" => str_of(body, "body").unwrap_or("").to_string(),
        "image" | "video" | "audio" | "document" | "sticker" => {
            // The file itself is fetched from the Graph API after the message is stored.
            notes.push(Note::WaMedia {
                kind: kind.to_string(),
            });
            if let Some(id) = str_of(body, "id") {
                let mime = str_of(body, "mime_type")
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let name = str_of(body, "filename")
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        let ext = mime_guess::get_mime_extensions_str(
                            mime.split(';').next().unwrap_or(""),
                        )
                        .and_then(|e| e.first())
                        .copied()
                        .unwrap_or("bin");
                        format!("whatsapp-{kind}.{ext}")
                    });
                files.push(VendorFile {
                    id: id.to_string(),
                    mime,
                    name: crate::store::blobs::clean_name(&name),
                });
            }
            str_of(body, "caption")
                .or_else(|| str_of(body, "filename"))
                .unwrap_or("")
                .to_string()
        }
        "location" => location(body),
        "contacts" => cards(body),
        "interactive" => interactive(body),
        "button" => str_of(body, "text").unwrap_or("").to_string(),
        "system" => {
            notes.push(Note::WaSystem);
            str_of(body, "body").unwrap_or("").to_string()
        }
        other => {
            notes.push(Note::Unsupported {
                kind: other.to_string(),
            });
            String::new()
        }
    };
    // Nothing Atiende can show (an interactive answer of an unknown kind, an order …): kept,
    // with a note saying what it was.
    if text.trim().is_empty() && notes.is_empty() {
        notes.push(Note::Unsupported {
            kind: kind.to_string(),
        });
    }
    if let Some(r) = m.get("referral").filter(|r| r.is_object()) {
        notes.push(Note::Referral {
            headline: str_of(r, "headline").unwrap_or("").to_string(),
            url: str_of(r, "source_url").unwrap_or("").to_string(),
        });
    }
    Some(Inbound {
        account_id,
        external_id: id.to_string(),
        contact_external_id: from.to_string(),
        contact: ContactFacts {
            name,
            phone: Some(format!("+{}", from.trim_start_matches('+'))),
            ..Default::default()
        },
        text,
        public: false,
        reply_to: None,
        reply_to_external: str_of(&m["context"], "id").map(str::to_string),
        attachments: Vec::new(),
        files,
        sent_at: seconds(&m["timestamp"]),
        uploader: None,
        thread: Thread::ByContact,
        notes,
    })
}

fn location(l: &Value) -> String {
    let (lat, lng) = (l["latitude"].as_f64(), l["longitude"].as_f64());
    let mut lines: Vec<String> = [str_of(l, "name"), str_of(l, "address")]
        .into_iter()
        .flatten()
        .map(str::to_string)
        .collect();
    if let (Some(lat), Some(lng)) = (lat, lng) {
        lines.push(format!("https://www.google.com/maps?q={lat},{lng}"));
    }
    format!("📍 {}", lines.join("\n"))
}

fn cards(list: &Value) -> String {
    let mut out = Vec::new();
    for c in list.as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let mut lines = vec![format!(
            "👤 {}",
            str_of(&c["name"], "formatted_name").unwrap_or("")
        )];
        for p in c["phones"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            if let Some(phone) = str_of(p, "phone") {
                lines.push(format!("📞 {phone}"));
            }
        }
        for e in c["emails"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            if let Some(email) = str_of(e, "email") {
                lines.push(format!("✉ {email}"));
            }
        }
        out.push(lines.join("\n"));
    }
    out.join("\n\n")
}

fn interactive(i: &Value) -> String {
    match i["type"].as_str().unwrap_or("") {
        "button_reply" => str_of(&i["button_reply"], "title")
            .unwrap_or("")
            .to_string(),
        "list_reply" => {
            let r = &i["list_reply"];
            [str_of(r, "title"), str_of(r, "description")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" — ")
        }
        "nfm_reply" => {
            let r = &i["nfm_reply"];
            str_of(r, "body")
                .or_else(|| str_of(r, "response_json"))
                .unwrap_or("")
                .to_string()
        }
        _ => String::new(),
    }
}

/// Graph's error body: `{"error":{"message","type","code","error_subcode",…}}`.
fn graph_error(body: &str) -> (i64, String) {
    let v: Value = serde_json::from_str(body).unwrap_or_default();
    let e = &v["error"];
    let title = str_of(e, "error_user_title")
        .or_else(|| str_of(e, "message"))
        .unwrap_or(body)
        .chars()
        .take(300)
        .collect();
    (e["code"].as_i64().unwrap_or(0), title)
}

/// A Graph refusal in the admin's words: what happened and what to do (CHANNELS.md §0).
fn problem(code: i64, title: String) -> Note {
    match code {
        190 => Note::WaTokenInvalid,
        10 | 200..=299 => Note::WaPermissionLost,
        100 => Note::WaWrongId,
        _ => Note::VendorError { code, title },
    }
}

fn note_title(note: Note) -> String {
    match note {
        Note::VendorError { title, .. } => title,
        other => other.to_string(),
    }
}

/// Whether a refusal is about the account's credentials (the whole account is affected, not
/// this one message): shown on the account's health.
fn about_the_account(note: &Note) -> bool {
    matches!(
        note,
        Note::WaTokenInvalid | Note::WaPermissionLost | Note::WaWrongId
    )
}

/// What a Graph error means for an answer (CHANNELS.md §0–1): wait and retry (rate limits,
/// Meta's own trouble) or give up with the reason.
fn outcome_of(status: StatusCode, body: &str) -> Outcome {
    let (code, title) = graph_error(body);
    let note = Note::VendorError { code, title };
    let retry = status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || matches!(code, 1 | 2 | 4 | 17 | 32 | 613 | 130429 | 131056 | 80007);
    if retry {
        Outcome::Retry { error: note }
    } else {
        Outcome::Failed {
            error: problem(code, note_title(note)),
        }
    }
}

/// The settings of the account an outbox row works for (read when the row runs, so a token
/// replaced meanwhile is the one used).
async fn row_settings(ctx: &SendContext, row: &OutboxRow) -> Result<WaSettings, Outcome> {
    let Some(account_id) = row.account_id else {
        return Err(Outcome::Failed {
            error: Note::NotSetUp,
        });
    };
    let account = ctx
        .store
        .read(move |txn| crate::store::accounts::get(txn, account_id))
        .await;
    account
        .ok()
        .flatten()
        .and_then(|a| settings(&a).ok())
        .ok_or(Outcome::Failed {
            error: Note::NotSetUp,
        })
}

/// Marks the customer's message read (and every earlier one): the blue ticks.
async fn receipt(ctx: &SendContext, row: &OutboxRow, external_id: &str) -> Outcome {
    let s = match row_settings(ctx, row).await {
        Ok(s) => s,
        Err(outcome) => return outcome,
    };
    let body = serde_json::json!({
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": external_id,
    });
    post(&s, &body).await.map_or_else(
        |o| o,
        |_| Outcome::Done {
            status: None,
            detail: None,
        },
    )
}

/// POSTs to the number's messages endpoint: the answer's JSON, or the outcome of a refusal.
async fn post(s: &WaSettings, body: &Value) -> Result<Value, Outcome> {
    let sent = reqwest::Client::new()
        .post(s.url(&format!("{}/messages", s.phone_number_id)))
        .bearer_auth(s.access_token.expose())
        .timeout(Duration::from_secs(30))
        .json(body)
        .send()
        .await;
    let r = sent.map_err(|e| Outcome::Retry {
        error: Note::raw(e.to_string()),
    })?;
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(outcome_of(status, &text));
    }
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

/// A customer's photo, voice note, video, document or sticker, in two steps (CHANNELS.md §1):
/// `GET /{media-id}` gives a short-lived URL and the file's sha256, then the URL with the same
/// bearer token gives the bytes. An expired URL is simply the next attempt (it asks for a new
/// one); a file over the upload limit is not fetched.
async fn fetch(
    ctx: &SendContext,
    row: &OutboxRow,
    message_id: u64,
    file_id: &str,
    mime: &str,
    name: &str,
) -> Outcome {
    let s = match row_settings(ctx, row).await {
        Ok(s) => s,
        Err(outcome) => return outcome,
    };
    let client = reqwest::Client::new();
    let info = client
        .get(s.url(file_id))
        .bearer_auth(s.access_token.expose())
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    let info = match info {
        Ok(r) if r.status().is_success() => r.json::<Value>().await.unwrap_or_default(),
        Ok(r) => {
            let status = r.status();
            return outcome_of(status, &r.text().await.unwrap_or_default());
        }
        Err(e) => {
            return Outcome::Retry {
                error: Note::raw(e.to_string()),
            }
        }
    };
    let too_big = |n: u64| n > ctx.max_upload as u64;
    if info["file_size"].as_u64().is_some_and(too_big) {
        return Outcome::Failed {
            error: Note::raw(format!("the file is larger than {} bytes", ctx.max_upload)),
        };
    }
    let Some(url) = str_of(&info, "url") else {
        return Outcome::Retry {
            error: Note::raw("Meta gave no URL for the file"),
        };
    };
    let download = client
        .get(url)
        .bearer_auth(s.access_token.expose())
        .timeout(Duration::from_secs(120))
        .send()
        .await;
    let bytes = match download {
        Ok(r) if r.status().is_success() => match r.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Outcome::Retry {
                    error: Note::raw(e.to_string()),
                }
            }
        },
        // The URL lives a few minutes: the next attempt asks for a new one.
        Ok(r) => {
            return Outcome::Retry {
                error: Note::raw(format!("the file's URL answered {}", r.status())),
            }
        }
        Err(e) => {
            return Outcome::Retry {
                error: Note::raw(e.to_string()),
            }
        }
    };
    if too_big(bytes.len() as u64) {
        return Outcome::Failed {
            error: Note::raw(format!("the file is larger than {} bytes", ctx.max_upload)),
        };
    }
    if let Some(want) = str_of(&info, "sha256") {
        use sha2::Digest;
        let got = hex::encode(sha2::Sha256::digest(&bytes));
        if !got.eq_ignore_ascii_case(want) {
            return Outcome::Retry {
                error: Note::raw("the file's sha256 does not match Meta's"),
            };
        }
    }
    let size = bytes.len() as u64;
    let blobs = ctx.store.blobs.clone();
    let sha = match tokio::task::spawn_blocking(move || blobs.put(&bytes)).await {
        Ok(Ok(sha)) => sha,
        Ok(Err(e)) => {
            return Outcome::Retry {
                error: Note::raw(e.message),
            }
        }
        Err(e) => {
            return Outcome::Retry {
                error: Note::raw(e.to_string()),
            }
        }
    };
    let part = crate::store::mail::StoredPart {
        sha256: sha,
        name: name.to_string(),
        size,
        content_type: str_of(&info, "mime_type").unwrap_or(mime).to_string(),
        content_id: None,
    };
    let now = ctx.store.now();
    let stored = ctx
        .store
        .write(move |txn, fx| {
            crate::store::tickets::attach_fetched(txn, fx, message_id, &part, now)
        })
        .await;
    match stored {
        Ok(()) => Outcome::Done {
            status: None,
            detail: None,
        },
        Err(e) => Outcome::Retry {
            error: Note::raw(e.message),
        },
    }
}

async fn send(ctx: &SendContext, row: &OutboxRow) -> Outcome {
    match &row.work {
        OutboxWork::Receipt { external_id } => return receipt(ctx, row, external_id).await,
        OutboxWork::Fetch {
            message_id,
            file_id,
            mime,
            name,
        } => return fetch(ctx, row, *message_id, file_id, mime, name).await,
        _ => {}
    }
    let (message, ticket, account, contact) = match ctx.answer(row).await {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    let Some(s) = account.as_ref().and_then(|a| settings(a).ok()) else {
        return Outcome::Failed {
            error: Note::NotSetUp,
        };
    };
    let to = match super::recipient(contact, ticket.account_id) {
        Ok(to) => to,
        Err(outcome) => return outcome,
    };
    let mut body = serde_json::json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": false, "body": message.text},
    });
    // An answer to a particular message quotes it in WhatsApp (by Meta's id of it).
    if let Some(quoted) = message.reply_to {
        let found = ctx
            .store
            .read(move |txn| crate::store::tickets::message(txn, quoted))
            .await;
        if let Some(wamid) = found.ok().flatten().and_then(|m| m.external_id) {
            body["context"] = serde_json::json!({ "message_id": wamid });
        }
    }
    let account_id = ticket.account_id;
    let answer = match post(&s, &body).await {
        Ok(answer) => {
            ctx.health.connected(account_id);
            answer
        }
        Err(outcome) => {
            if let Outcome::Failed { error } = &outcome {
                if about_the_account(error) {
                    ctx.health
                        .failing(account_id, &crate::locale::render("es", error));
                }
            }
            return outcome;
        }
    };
    match answer["messages"][0]["id"].as_str() {
        Some(wamid) => Outcome::Sent {
            external_id: wamid.to_string(),
        },
        None => Outcome::Done {
            status: Some(DeliveryStatus::Sent),
            detail: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/whatsapp/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    /// The fixtures' phone number ids, as accounts 7 and 8.
    fn numbers() -> HashMap<String, u64> {
        HashMap::from([
            ("1122334455667".to_string(), 7),
            ("109999999999999".to_string(), 8),
        ])
    }

    fn one(body: &Value) -> Inbound {
        let mut b = parse(&numbers(), body.to_string().as_bytes());
        assert_eq!(b.messages.len(), 1, "{body}");
        b.messages.remove(0)
    }

    #[test]
    fn every_inbound_type_of_the_fixtures_reads() {
        let cases = fixture("message.json");
        let text = one(&cases["text"]);
        assert_eq!(text.account_id, 7);
        assert_eq!(text.external_id, "wamid.xyzxyz");
        assert_eq!(text.text, "Body Text");
        assert_eq!(text.contact.name.as_deref(), Some("Test Name"));
        assert_eq!(text.contact.phone.as_deref(), Some("+972987654321"));
        assert_eq!(text.contact_external_id, "972987654321");
        assert_eq!(text.sent_at, Some(1_697_043_223_000));
        for media in [
            "image",
            "video",
            "document",
            "audio",
            "voice",
            "static_sticker",
        ] {
            let m = one(&cases[media]);
            assert!(matches!(m.notes[0], Note::WaMedia { .. }), "{media}");
            assert_eq!(m.files.len(), 1, "{media}: a file to fetch");
            assert!(
                !m.files[0].id.is_empty() && m.files[0].name.contains('.'),
                "{media}"
            );
        }
        let loc = one(&cases["chosen_location"]);
        assert!(
            loc.text.contains("https://www.google.com/maps?q="),
            "{}",
            loc.text
        );
        let card = one(&cases["contacts"]);
        assert!(card.text.starts_with("👤 "), "{}", card.text);
        let unsupported = one(&cases["unsupported"]);
        assert_eq!(
            unsupported.notes,
            vec![Note::Unsupported {
                kind: "unsupported".into()
            }]
        );
        let referral = one(&cases["referral"]);
        assert!(referral
            .notes
            .iter()
            .any(|n| matches!(n, Note::Referral { .. })));
        let button = one(&fixture("callback_button.json")["button"]);
        assert!(!button.text.is_empty());
        let list = one(&fixture("callback_selection.json")["callback"]);
        assert!(!list.text.is_empty());
        let system = one(&fixture("system.json")["phone_number_change"]);
        assert!(system.notes.contains(&Note::WaSystem));
    }

    #[test]
    fn reactions_edits_deletes_and_replies_name_the_earlier_message() {
        let cases = fixture("message.json");
        let changes = |body: &Value| parse(&numbers(), body.to_string().as_bytes()).changes;
        let react = changes(&cases["reaction"]);
        assert_eq!(react[0].target, "wamid.yzxyzx=");
        assert_eq!(react[0].change, Amend::React(Some("😮".into())));
        for unreact in ["unreaction_empty", "unreaction_no_emoji"] {
            assert_eq!(
                changes(&cases[unreact])[0].change,
                Amend::React(None),
                "{unreact}"
            );
        }
        let ours = |mut body: Value| {
            body["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] =
                "1122334455667".into();
            body
        };
        let edit = changes(&ours(fixture("edited_message.json")["image"].clone()));
        assert_eq!(edit[0].change, Amend::Edit("Updated image caption".into()));
        let revoke = changes(&ours(fixture("deleted_message.json")["revoke"].clone()));
        assert_eq!(revoke[0].change, Amend::Revoke);
        let reply = one(&cases["reply"]);
        assert_eq!(reply.reply_to_external.as_deref(), Some("wamid.xyzxyz=="));
    }

    #[test]
    fn statuses_read_with_their_errors() {
        let cases = fixture("message_status.json");
        for (case, want) in [
            ("sent", DeliveryStatus::Sent),
            ("delivered", DeliveryStatus::Delivered),
            ("read", DeliveryStatus::Read),
            ("failed", DeliveryStatus::Failed),
        ] {
            let b = parse(&numbers(), cases[case].to_string().as_bytes());
            assert_eq!(b.statuses.len(), 1, "{case}");
            assert_eq!(b.statuses[0].status, want, "{case}");
        }
        let window = parse(
            &numbers(),
            fixture("status_failed_131047_reengagement.json")
                .to_string()
                .as_bytes(),
        );
        let failed = window.statuses.first().expect("a status");
        assert!(
            matches!(&failed.error, Some(Note::VendorError { code: 131047, .. })),
            "{:?}",
            failed.error
        );
    }

    #[test]
    fn other_numbers_and_fields_and_junk_are_skipped_not_refused() {
        let mut other = fixture("message.json")["text"].clone();
        other["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999999".into();
        assert!(parse(&numbers(), other.to_string().as_bytes())
            .messages
            .is_empty());
        let mut field = fixture("message.json")["text"].clone();
        field["entry"][0]["changes"][0]["field"] = "account_update".into();
        assert!(parse(&numbers(), field.to_string().as_bytes())
            .messages
            .is_empty());
        assert!(parse(&numbers(), b"not json").messages.is_empty());
    }

    #[test]
    fn graph_errors_decide_retry_or_fail() {
        let too_fast = r#"{"error":{"message":"Rate limit hit","code":130429}}"#;
        assert!(matches!(
            outcome_of(StatusCode::BAD_REQUEST, too_fast),
            Outcome::Retry { .. }
        ));
        let missing = std::fs::read_to_string(format!(
            "{}/tests/fixtures/whatsapp/error_100_33_object_missing_or_no_permission.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        assert!(matches!(
            outcome_of(StatusCode::BAD_REQUEST, &missing),
            Outcome::Failed {
                error: Note::WaWrongId
            }
        ));
        assert!(matches!(
            outcome_of(StatusCode::BAD_GATEWAY, "<html>"),
            Outcome::Retry { .. }
        ));
    }
}
