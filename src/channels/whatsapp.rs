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
    AccountNotice, Amend, ContactFacts, Inbound, MessageChange, StatusUpdate, Thread, VendorBatch,
    VendorFile,
};
use crate::domain::template::{variables_of, Part, Template, TemplateUse, Variable};
use crate::domain::{
    settings_as, Account, Attachment, Channel, DeliveryStatus, Millis, Note, OutboxRow, OutboxWork,
    Outcome, Secret,
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
                "{}?fields=display_phone_number,verified_name,quality_rating,messaging_limit_tier",
                s.phone_number_id
            ));
            let v = ask(reqwest::Client::new()
                .get(url)
                .bearer_auth(s.access_token.expose())
                .timeout(Duration::from_secs(15)))
            .await?;
            Ok([
                "display_phone_number",
                "verified_name",
                "quality_rating",
                "messaging_limit_tier",
            ]
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

    fn has_templates(&self) -> bool {
        true
    }

    fn templates<'a>(&'a self, account: &'a Account) -> BoxFuture<'a, Result<Vec<Template>, Note>> {
        Box::pin(fetch_templates(account))
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
            let mut numbers = Numbers::default();
            for a in std::iter::once(account).chain(siblings.iter()) {
                match settings(a) {
                    Ok(sa) if sa.app_secret == s.app_secret => {
                        numbers.by_phone.entry(sa.phone_number_id).or_insert(a.id);
                        let same_waba = numbers.by_waba.entry(sa.waba_id).or_default();
                        if !same_waba.contains(&a.id) {
                            same_waba.push(a.id);
                        }
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

/// The accounts a Meta app's deliveries may be for.
#[derive(Debug, Default)]
pub struct Numbers {
    /// Phone number id → account: messages and statuses name the number.
    pub by_phone: HashMap<String, u64>,
    /// WhatsApp Business Account id → its accounts: quality and account updates name only it.
    pub by_waba: HashMap<String, Vec<u64>>,
}

/// What Meta says about a number or a business account (`phone_number_quality_update`,
/// `account_update`), as notices for each account it concerns.
fn notices_of(field: &str, value: &Value, accounts: &[u64]) -> Vec<AccountNotice> {
    // "TIER_1K" → "1000": the limit of new conversations a day.
    let limit = || {
        let tier = str_of(value, "current_limit").unwrap_or("");
        let tier = tier.strip_prefix("TIER_").unwrap_or(tier);
        match tier.strip_suffix('K') {
            Some(thousands) => format!("{thousands}000"),
            None => tier.to_string(),
        }
    };
    let event = str_of(value, "event").unwrap_or("");
    let (note, alert) = match (field, event) {
        ("phone_number_quality_update", "FLAGGED") => {
            (Note::WaQualityFlagged { limit: limit() }, true)
        }
        ("phone_number_quality_update", "UNFLAGGED") => {
            (Note::WaQualityRestored { limit: limit() }, false)
        }
        ("phone_number_quality_update", "DOWNGRADE") => {
            (Note::WaLimitDown { limit: limit() }, true)
        }
        ("phone_number_quality_update", "UPGRADE") => (Note::WaLimitUp { limit: limit() }, false),
        ("account_update", e) if !e.is_empty() => {
            let serious = [
                "VIOLATION",
                "RESTRICTION",
                "DISABLED",
                "BAN",
                "OFFBOARD",
                "REMOVED",
            ]
            .iter()
            .any(|w| e.contains(w));
            (
                Note::WaAccountUpdate {
                    event: e.to_string(),
                },
                serious,
            )
        }
        _ => return Vec::new(),
    };
    accounts
        .iter()
        .map(|&account_id| AccountNotice {
            account_id,
            note: note.clone(),
            alert,
        })
        .collect()
}

/// A webhook body as messages, statuses and notices, per account. No IO. Anything it cannot
/// read is skipped or stored as "unsupported", never an error: Meta would retry a refused
/// delivery for days and then turn the webhook off.
pub fn parse(numbers: &Numbers, body: &[u8]) -> VendorBatch {
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
            let value = &change["value"];
            if field != "messages" {
                let waba = str_of(entry, "id").unwrap_or("");
                let accounts = numbers.by_waba.get(waba).map_or(&[][..], Vec::as_slice);
                let notices = notices_of(field, value, accounts);
                if notices.is_empty() {
                    tracing::info!(field, "WhatsApp webhook field not handled");
                }
                batch.notices.extend(notices);
                continue;
            }
            let number = value["metadata"]["phone_number_id"].as_str().unwrap_or("");
            let Some(&account_id) = numbers.by_phone.get(number) else {
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
        subject: None,
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

/// One template as Graph lists it (`GET /{waba-id}/message_templates`): its text parts and
/// variables; a header with a file or a button with a variable is beyond what Atiende sends.
fn template_of(t: &Value) -> Option<Template> {
    let name = str_of(t, "name")?.to_string();
    let language = str_of(t, "language")?.to_string();
    let named = str_of(t, "parameter_format") == Some("NAMED");
    let (mut header, mut body, mut footer, mut unsupported) = (None, None, None, None);
    let mut variables = Vec::new();
    let examples = |c: &Value, part: Part| -> Vec<(String, String)> {
        let e = &c["example"];
        let (positional, named_key) = match part {
            Part::Header => (&e["header_text"], "header_text_named_params"),
            Part::Body => (&e["body_text"][0], "body_text_named_params"),
        };
        let mut out: Vec<(String, String)> = positional
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, v)| Some(((i + 1).to_string(), v.as_str()?.to_string())))
            .collect();
        for p in e[named_key].as_array().into_iter().flatten() {
            if let (Some(n), Some(x)) = (str_of(p, "param_name"), str_of(p, "example")) {
                out.push((n.to_string(), x.to_string()));
            }
        }
        out
    };
    let mut add = |c: &Value, part: Part, text: &str| {
        let known = examples(c, part);
        for name in variables_of(text) {
            let example = known
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, x)| x.clone());
            variables.push(Variable {
                part,
                name,
                example,
            });
        }
    };
    for c in t["components"].as_array().into_iter().flatten() {
        match str_of(c, "type").unwrap_or("") {
            "HEADER" => match str_of(c, "format").unwrap_or("TEXT") {
                "TEXT" => {
                    let text = str_of(c, "text").unwrap_or("");
                    add(c, Part::Header, text);
                    header = Some(text.to_string());
                }
                other => unsupported = Some(format!("a {} header", other.to_lowercase())),
            },
            "BODY" => {
                let text = str_of(c, "text").unwrap_or("");
                add(c, Part::Body, text);
                body = Some(text.to_string());
            }
            "FOOTER" => footer = str_of(c, "text").map(str::to_string),
            "BUTTONS" => {
                let variable_button = c["buttons"].as_array().into_iter().flatten().any(|b| {
                    str_of(b, "url").is_some_and(|u| !variables_of(u).is_empty())
                        || matches!(str_of(b, "type"), Some("OTP" | "COPY_CODE" | "FLOW"))
                });
                if variable_button {
                    unsupported = Some("a button that needs a value".into());
                }
            }
            _ => {}
        }
    }
    Some(Template {
        name,
        language,
        category: str_of(t, "category").unwrap_or("").to_string(),
        status: str_of(t, "status").unwrap_or("").to_string(),
        header,
        body: body?,
        footer,
        named,
        variables,
        unsupported,
    })
}

/// Every page of the business account's templates.
async fn fetch_templates(account: &Account) -> Result<Vec<Template>, Note> {
    let s = settings(account).map_err(|_| Note::NotSetUp)?;
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    // Meta pages by 100 at most; a business account holds up to a few thousand templates.
    for _ in 0..100 {
        let mut request = client
            .get(s.url(&format!("{}/message_templates", s.waba_id)))
            .query(&[
                (
                    "fields",
                    "name,language,status,category,components,parameter_format",
                ),
                ("limit", "100"),
            ])
            .bearer_auth(s.access_token.expose())
            .timeout(Duration::from_secs(30));
        if let Some(cursor) = &after {
            request = request.query(&[("after", cursor)]);
        }
        let page = ask(request).await?;
        out.extend(
            page["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(template_of),
        );
        // Graph gives `next` only when there is another page; its cursor is read, not the
        // URL followed, so the token goes nowhere but the configured Graph address.
        after = page["paging"]["next"]
            .as_str()
            .and(str_of(&page["paging"]["cursors"], "after"))
            .map(str::to_string);
        if after.is_none() {
            break;
        }
    }
    out.sort_by(|a, b| (&a.name, &a.language).cmp(&(&b.name, &b.language)));
    Ok(out)
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

/// Meta's rate limits (CHANNELS.md §1): the key that waits, and for how long (ms).
/// 131056: too many messages to one customer; 130429: the number's throughput; 80007: the
/// business account's call rate.
fn rate_limit(error: &Note, number_key: &str, pair_key: &str) -> Option<(String, Millis)> {
    match error {
        Note::VendorError { code: 131056, .. } => Some((pair_key.to_string(), 10_000)),
        Note::VendorError { code: 130429, .. } => Some((number_key.to_string(), 30_000)),
        Note::VendorError { code: 80007, .. } => Some((number_key.to_string(), 60_000)),
        _ => None,
    }
}

/// The account's credentials were refused: its health says what to do, and the
/// administrators get a mail the first time in a row.
async fn account_failing(ctx: &SendContext, account_id: u64, error: &Note) {
    if ctx.health.failing_note(account_id, error.clone()) != 1 {
        return;
    }
    let now = ctx.store.now();
    let note = error.clone();
    let alerted = ctx
        .store
        .write(move |txn, fx| crate::mail::notify::channel_alert(txn, fx, account_id, &note, now))
        .await;
    if let Err(e) = alerted {
        tracing::warn!(account_id, error = %e.message, "the administrators could not be told");
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

/// Meta's servers could not be reached (DNS, connection, timeout): said as a note, with the
/// network's words as the detail.
fn unreachable(e: reqwest::Error) -> Note {
    Note::VendorUnreachable {
        detail: e.to_string(),
    }
}

/// One Graph call: the answer's JSON, or the outcome of a refusal.
async fn call(request: reqwest::RequestBuilder) -> Result<Value, Outcome> {
    let sent = request.send().await;
    let r = sent.map_err(|e| Outcome::Retry {
        error: unreachable(e),
    })?;
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(outcome_of(status, &text));
    }
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

/// A Graph read for an administrator (the check, the templates): the answer, or the refusal
/// as a note saying what to do.
async fn ask(request: reqwest::RequestBuilder) -> Result<Value, Note> {
    call(request).await.map_err(|outcome| match outcome {
        Outcome::Failed { error } | Outcome::Retry { error } => error,
        _ => Note::raw("Meta gave no answer"),
    })
}

/// POSTs to the number's messages endpoint.
async fn post(s: &WaSettings, body: &Value) -> Result<Value, Outcome> {
    call(
        reqwest::Client::new()
            .post(s.url(&format!("{}/messages", s.phone_number_id)))
            .bearer_auth(s.access_token.expose())
            .timeout(Duration::from_secs(30))
            .json(body),
    )
    .await
}

/// How WhatsApp shows a file we send: photos, videos and audio of the kinds and sizes its
/// apps play inline (CHANNELS.md §1), anything else as a document with its name.
fn media_kind(content_type: &str, size: u64) -> &'static str {
    const MB: u64 = 1024 * 1024;
    match content_type {
        "image/jpeg" | "image/png" if size <= 5 * MB => "image",
        "video/mp4" | "video/3gpp" if size <= 16 * MB => "video",
        "audio/aac" | "audio/amr" | "audio/mpeg" | "audio/mp4" | "audio/ogg" if size <= 16 * MB => {
            "audio"
        }
        _ => "document",
    }
}

/// Whether a kind of WhatsApp message carries a caption (audio does not).
fn takes_caption(kind: &str) -> bool {
    kind != "audio"
}

/// WhatsApp's longest caption, in characters.
const CAPTION_MAX: usize = 1024;

/// A MIME type Graph's multipart parser takes as it is; anything else goes as bytes.
fn plain_mime(content_type: &str) -> &str {
    let ok = content_type.split_once('/').is_some_and(|(a, b)| {
        let token = |t: &str| {
            !t.is_empty()
                && t.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"+-._".contains(&c))
        };
        token(a) && token(b)
    });
    if ok {
        content_type
    } else {
        "application/octet-stream"
    }
}

/// Uploads one of the answer's files to the number's media store (`POST /{phone}/media`,
/// multipart): its id there, to send it by. Nothing reaches the customer yet, so a failure
/// here may simply be tried again.
async fn upload(ctx: &SendContext, s: &WaSettings, file: &Attachment) -> Result<String, Outcome> {
    let blobs = ctx.store.blobs.clone();
    let sha = file.sha256.clone();
    let bytes = match tokio::task::spawn_blocking(move || blobs.get(&sha)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            return Err(Outcome::Failed {
                error: Note::raw(e.message),
            })
        }
        Err(e) => {
            return Err(Outcome::Retry {
                error: Note::raw(e.to_string()),
            })
        }
    };
    let mime = plain_mime(&file.content_type);
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(file.name.clone())
        .mime_str(mime)
        .map_err(|e| Outcome::Failed {
            error: Note::raw(e.to_string()),
        })?;
    let form = reqwest::multipart::Form::new()
        .text("messaging_product", "whatsapp")
        .text("type", mime.to_string())
        .part("file", part);
    let answer = call(
        reqwest::Client::new()
            .post(s.url(&format!("{}/media", s.phone_number_id)))
            .bearer_auth(s.access_token.expose())
            .timeout(Duration::from_secs(120))
            .multipart(form),
    )
    .await?;
    str_of(&answer, "id")
        .map(str::to_string)
        .ok_or(Outcome::Retry {
            error: Note::raw("Meta gave no id for the uploaded file"),
        })
}

/// An approved template with the agent's values (`type: template`): header and body
/// parameters in the template's order, named when the template's variables are.
fn template_body(to: &str, used: &TemplateUse) -> Value {
    let mut components = Vec::new();
    for (part, kind) in [(Part::Header, "header"), (Part::Body, "body")] {
        let parameters: Vec<Value> = used
            .values
            .iter()
            .filter(|v| v.part == part)
            .map(|v| {
                let mut p = serde_json::json!({"type": "text", "text": v.value});
                if used.named {
                    p["parameter_name"] = v.name.clone().into();
                }
                p
            })
            .collect();
        if !parameters.is_empty() {
            components.push(serde_json::json!({"type": kind, "parameters": parameters}));
        }
    }
    serde_json::json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": {
            "name": used.name,
            "language": {"code": used.language},
            "components": components,
        },
    })
}

/// The Graph messages an answer becomes: its text (as the first file's caption when it fits
/// there), then one message per file, uploaded first.
async fn bodies(
    ctx: &SendContext,
    s: &WaSettings,
    to: &str,
    message: &crate::domain::Message,
) -> Result<Vec<Value>, Outcome> {
    let ids = message.attachments.clone();
    let files = ctx
        .store
        .read(move |txn| {
            let look = crate::store::lookup::Lookup::new(txn)?;
            let mut files = Vec::new();
            for id in ids {
                files.extend(look.attachment(id)?);
            }
            Ok(files)
        })
        .await
        .map_err(|e| Outcome::Retry {
            error: Note::raw(e.message),
        })?;
    let envelope = |kind: &str, content: Value| {
        let mut body = serde_json::json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": kind,
        });
        body[kind] = content;
        body
    };
    let text = message.text.trim();
    let kinds: Vec<&str> = files
        .iter()
        .map(|f| media_kind(&f.content_type, f.size))
        .collect();
    let as_caption = !text.is_empty()
        && kinds.first().is_some_and(|k| takes_caption(k))
        && text.chars().count() <= CAPTION_MAX;
    let mut out = Vec::new();
    if !text.is_empty() && !as_caption {
        out.push(envelope(
            "text",
            serde_json::json!({"preview_url": false, "body": text}),
        ));
    }
    for (i, (file, kind)) in files.iter().zip(kinds).enumerate() {
        let id = upload(ctx, s, file).await?;
        let mut content = serde_json::json!({ "id": id });
        if i == 0 && as_caption {
            content["caption"] = text.into();
        }
        if kind == "document" {
            content["filename"] = file.name.clone().into();
        }
        out.push(envelope(kind, content));
    }
    Ok(out)
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
    let info = call(
        client
            .get(s.url(file_id))
            .bearer_auth(s.access_token.expose())
            .timeout(Duration::from_secs(30)),
    )
    .await;
    let info = match info {
        Ok(info) => info,
        Err(outcome) => return outcome,
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
                    error: unreachable(e),
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
                error: unreachable(e),
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
    // Meta asked to wait (for this customer, or for the whole number): the answer waits its
    // turn without an attempt spent or a call made.
    let account_id = ticket.account_id;
    let now = ctx.store.now();
    let number_key = account_id.to_string();
    let pair_key = format!("{account_id}:{to}");
    let paused = [&number_key, &pair_key]
        .into_iter()
        .filter_map(|k| ctx.pauses.until(k, now))
        .max();
    if let Some(at) = paused {
        return Outcome::Later {
            at,
            note: Some(Note::RateLimited {
                seconds: ((at - now) / 1000).max(1) as u64,
            }),
        };
    }
    let mut bodies = match &message.template {
        Some(used) => vec![template_body(&to, used)],
        None => match bodies(ctx, &s, &to, &message).await {
            Ok(bodies) => bodies,
            Err(outcome) => return outcome,
        },
    };
    // An answer to a particular message quotes it in WhatsApp (by Meta's id of it).
    if let (Some(quoted), Some(first)) = (message.reply_to, bodies.first_mut()) {
        let found = ctx
            .store
            .read(move |txn| crate::store::tickets::message(txn, quoted))
            .await;
        if let Some(wamid) = found.ok().flatten().and_then(|m| m.external_id) {
            first["context"] = serde_json::json!({ "message_id": wamid });
        }
    }
    let mut external_ids = Vec::new();
    for body in &bodies {
        match post(&s, body).await {
            Ok(answer) => {
                ctx.health.connected(account_id);
                external_ids.extend(answer["messages"][0]["id"].as_str().map(str::to_string));
            }
            Err(outcome) => {
                if let Outcome::Failed { error } = &outcome {
                    if about_the_account(error) {
                        account_failing(ctx, account_id, error).await;
                    }
                }
                // Part of the answer reached the customer: trying again would repeat it, so
                // the agent sees why it stopped and decides.
                if !external_ids.is_empty() {
                    if let Outcome::Retry { error } = outcome {
                        return Outcome::Failed { error };
                    }
                    return outcome;
                }
                if let Outcome::Retry { error } = &outcome {
                    if let Some((key, wait)) = rate_limit(error, &number_key, &pair_key) {
                        ctx.pauses.pause(key, now + wait, now);
                        return Outcome::Later {
                            at: now + wait,
                            note: Some(Note::RateLimited {
                                seconds: (wait / 1000) as u64,
                            }),
                        };
                    }
                }
                return outcome;
            }
        }
    }
    if external_ids.is_empty() {
        return Outcome::Done {
            status: Some(DeliveryStatus::Sent),
            detail: None,
        };
    }
    Outcome::Sent { external_ids }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/whatsapp/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    /// The fixtures' phone number ids, as accounts 7 and 8 (of one business account).
    fn numbers() -> Numbers {
        Numbers {
            by_phone: HashMap::from([
                ("1122334455667".to_string(), 7),
                ("109999999999999".to_string(), 8),
            ]),
            by_waba: HashMap::from([("1234567890987654321".to_string(), vec![7, 8])]),
        }
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
    fn quality_and_account_updates_become_notices_for_the_business_accounts_numbers() {
        let update = |field: &str, value: Value| {
            json!({"object": "whatsapp_business_account", "entry": [{"id": "1234567890987654321",
                "time": 1700000000, "changes": [{"field": field, "value": value}]}]})
        };
        let flagged = update(
            "phone_number_quality_update",
            json!({"display_phone_number": "15550001234", "event": "FLAGGED", "current_limit": "TIER_1K"}),
        );
        let b = parse(&numbers(), flagged.to_string().as_bytes());
        assert_eq!(b.notices.len(), 2);
        assert_eq!(
            b.notices[0].note,
            Note::WaQualityFlagged {
                limit: "1000".into()
            }
        );
        assert!(b.notices[0].alert);
        let up = update(
            "phone_number_quality_update",
            json!({"event": "UPGRADE", "current_limit": "TIER_10K"}),
        );
        let b = parse(&numbers(), up.to_string().as_bytes());
        assert!(!b.notices[0].alert);
        let banned = update("account_update", json!({"event": "ACCOUNT_VIOLATION"}));
        assert!(parse(&numbers(), banned.to_string().as_bytes()).notices[0].alert);
        let mut other = update("phone_number_quality_update", json!({"event": "FLAGGED"}));
        other["entry"][0]["id"] = "42".into();
        assert!(parse(&numbers(), other.to_string().as_bytes())
            .notices
            .is_empty());
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
