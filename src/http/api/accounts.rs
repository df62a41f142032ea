//! Accounts (connected channel identities), the inbound API, and who works on which account.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::RequestOrigin;
use super::{id_str, name_field, parse_id, parse_time, text_field, ts};
use crate::auth::CurrentUser;
use crate::domain::audit::AuditAction;
use crate::domain::rut::Rut;
use crate::domain::{Account, AssignMode, Channel};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::health::Health;
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::store::contacts::ContactFacts;
use crate::store::tickets::{Inbound, Ingested};
use crate::store::{accounts, tickets};

use crate::channels::{self, ChannelInfo, Settings};

const REDACTED: &str = "********";

/// Settings that hold credentials are write-only: answers show them masked, at any depth.
fn is_secret(key: &str) -> bool {
    let k = key.to_lowercase();
    ["pass", "secret", "token", "key", "credential", "auth"]
        .iter()
        .any(|s| k.contains(s))
}

fn redacted(settings: &Settings) -> Settings {
    settings
        .iter()
        .map(|(k, v)| {
            let shown = match v {
                serde_json::Value::Null => v.clone(),
                _ if is_secret(k) => serde_json::Value::String(REDACTED.into()),
                serde_json::Value::Object(inner) => serde_json::Value::Object(redacted(inner)),
                _ => v.clone(),
            };
            (k.clone(), shown)
        })
        .collect()
}

/// An account's settings as answers show them: credentials masked, except what Atiende made
/// for the admin to copy elsewhere (a webhook verify token: `Input::Generated`).
fn shown(a: &Account) -> Settings {
    let mut out = redacted(&a.settings);
    for f in channels::driver(a.kind).fields() {
        if matches!(f.input, channels::Input::Generated) {
            if let Some(v) = a.settings.get(f.key) {
                out.insert(f.key.to_string(), v.clone());
            }
        }
    }
    out
}

/// Merges a PATCH into stored settings: null removes a key, nested objects merge, and a
/// masked secret sent back keeps the stored value.
fn merge_settings(stored: &mut Settings, patch: &Settings) {
    for (k, v) in patch {
        match v {
            serde_json::Value::Null => {
                stored.remove(k);
            }
            serde_json::Value::String(s) if s == REDACTED && is_secret(k) => {}
            serde_json::Value::Object(inner) => {
                if let Some(serde_json::Value::Object(existing)) = stored.get_mut(k) {
                    merge_settings(existing, inner);
                } else {
                    let mut fresh = Settings::new();
                    merge_settings(&mut fresh, inner);
                    stored.insert(k.clone(), serde_json::Value::Object(fresh));
                }
            }
            _ => {
                stored.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Keys that say where a secret is sent: a server, a user on it, a vendor's address.
const ENDPOINT_KEYS: [&str; 5] = ["host", "port", "username", "base_url", "url"];

/// A stored secret stays only with the server it was given for: pointing an account (or one
/// of its servers) at another host, port, user or address while sending the mask back, or
/// leaving the password out, would hand the stored secret to the new server. Such a change
/// needs the secret typed again. Checked at every level, the top one included.
fn check_masked_secrets(stored: &Settings, patch: &Settings) -> AppResult<()> {
    check_level(stored, patch, "settings")
}

fn check_level(before: &Settings, patch: &Settings, path: &str) -> AppResult<()> {
    let moved = ENDPOINT_KEYS
        .iter()
        .any(|f| patch.get(*f).is_some_and(|nv| before.get(*f) != Some(nv)));
    if moved {
        let kept = before.iter().find(|(bk, bv)| {
            is_secret(bk)
                && bv.is_string()
                && patch
                    .get(*bk)
                    .is_none_or(|iv| iv.as_str() == Some(REDACTED))
        });
        if let Some((bk, _)) = kept {
            return Err(AppError::invalid(
                &format!("{path}.{bk}"),
                "password_required",
                "the server or user changed: type the password again",
            ));
        }
    }
    for (k, v) in patch {
        if let (serde_json::Value::Object(inner), Some(serde_json::Value::Object(stored))) =
            (v, before.get(k))
        {
            check_level(stored, inner, &format!("{path}.{k}"))?;
        }
    }
    Ok(())
}

#[derive(Serialize, ToSchema)]
pub struct AccountView {
    pub id: String,
    pub kind: Channel,
    pub name: String,
    #[schema(value_type = Object)]
    pub settings: Settings,
    pub created_at: String,
    /// Its kind connects and its settings are complete: answers on it can leave.
    pub connected: bool,
    /// CHAN-12: the connection as the account's poller last saw it (polled channels only).
    pub health: Option<Health>,
}

impl AccountView {
    fn of(a: &Account, state: &AppState, lang: &str) -> Self {
        AccountView {
            id: id_str(a.id),
            kind: a.kind,
            name: a.name.clone(),
            settings: shown(a),
            connected: channels::connected(a),
            created_at: ts(a.created_at),
            health: state.health.get(a.id).map(|h| h.in_lang(lang)),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ChannelList {
    pub items: Vec<ChannelInfo>,
}

/// Every kind of channel: whether accounts of it can be connected, and its account form.
#[utoipa::path(get, path = "/api/v1/channels", tag = "accounts",
    responses((status = 200, body = ChannelList), (status = 401, body = ErrorBody)))]
pub async fn channel_kinds(_user: CurrentUser) -> Json<ChannelList> {
    Json(ChannelList {
        items: channels::catalogue(),
    })
}

#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts",
    responses((status = 200, body = super::Page<AccountView>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<super::Page<AccountView>>> {
    let access = user.access(&state).await?;
    let all = state.store.read(accounts::list).await?;
    Ok(Json(super::Page {
        items: all
            .iter()
            .filter(|a| access.may_see(a.id))
            .map(|a| AccountView::of(a, &state, user.lang()))
            .collect(),
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    pub kind: Channel,
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Settings,
}

/// The calendar and the SLA policy an account names exist (SLA-1/SLA-2).
fn require_references(txn: &redb::WriteTransaction, a: &crate::domain::Account) -> AppResult<()> {
    use crate::domain::{calendar::Calendar, sla::SlaPolicy};
    use crate::store::catalog::get_w;
    if let Some(id) = a.calendar_id() {
        if get_w::<Calendar>(txn, id)?.is_none() {
            return Err(AppError::invalid(
                "settings.calendar_id",
                "unknown_calendar",
                format!("no calendar {id}"),
            ));
        }
    }
    if let Some(id) = a.sla_policy_id() {
        if get_w::<SlaPolicy>(txn, id)?.is_none() {
            return Err(AppError::invalid(
                "settings.sla_policy_id",
                "unknown_sla_policy",
                format!("no SLA policy {id}"),
            ));
        }
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = NewAccount,
    responses((status = 201, body = AccountView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<NewAccount>,
) -> AppResult<(StatusCode, Json<AccountView>)> {
    user.require_admin()?;
    let name = name_field(&body.name, "name", 120)?;
    channels::require_ready(body.kind)?;
    let mut settings = body.settings;
    channels::prepare(body.kind, &mut settings)?;
    let now = state.store.now();
    let kind = body.kind;
    let created_entry = super::audit::by(&user, &origin, AuditAction::AccountCreated, now);
    let created = state
        .store
        .write(move |txn, fx| {
            let a = accounts::create(txn, fx, kind, &name, settings.clone(), now)?;
            require_references(txn, &a)?;
            let entry = created_entry
                .clone()
                .target("account", a.id, &a.name)
                .detail("kind", a.kind.as_str());
            crate::store::audit::record(txn, entry)?;
            Ok(a)
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(AccountView::of(&created, &state, user.lang())),
    ))
}

async fn visible_account(state: &AppState, user: &CurrentUser, id: u64) -> AppResult<Account> {
    let access = user.access(state).await?;
    state
        .store
        .read(move |txn| accounts::get(txn, id))
        .await?
        .filter(|a| a.deleted_at.is_none() && access.may_see(a.id))
        .ok_or_else(|| AppError::not_found("account"))
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, body = AccountView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<AccountView>> {
    Ok(Json(AccountView::of(
        &visible_account(&state, &user, id).await?,
        &state,
        user.lang(),
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    pub name: Option<String>,
    /// Merged into the current settings; a null value removes a key; a masked secret
    /// ("********") keeps the stored one.
    #[schema(value_type = Object)]
    pub settings: Option<Settings>,
}

#[utoipa::path(patch, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = String, Path)), request_body = AccountPatch,
    responses((status = 200, body = AccountView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    ApiPath(id): ApiPath<u64>,
    ApiJson(body): ApiJson<AccountPatch>,
) -> AppResult<Json<AccountView>> {
    user.require_admin()?;
    let name = body
        .name
        .as_deref()
        .map(|n| name_field(n, "name", 120))
        .transpose()?;
    let settings = body.settings;
    let now = state.store.now();
    let updated_entry = super::audit::by(&user, &origin, AuditAction::AccountUpdated, now);
    let updated = state
        .store
        .write(move |txn, fx| {
            let mut a = accounts::require_w(txn, id)?;
            let clock_before = (a.sla_policy_id(), a.calendar_id());
            // What changed, by name only: a secret's value never reaches the log.
            let mut changed = Vec::new();
            if let Some(n) = name.as_ref().filter(|n| **n != a.name) {
                changed.push("name".to_string());
                a.name = n.clone();
            }
            if let Some(s) = &settings {
                check_masked_secrets(&a.settings, s)?;
                changed.extend(setting_names(s));
                merge_settings(&mut a.settings, s);
                channels::prepare_change(a.kind, &mut a.settings, s)?;
            }
            require_references(txn, &a)?;
            accounts::put(txn, fx, &a)?;
            if (a.sla_policy_id(), a.calendar_id()) != clock_before {
                crate::store::sla::rearm(txn, &[a.id], now)?;
            }
            let entry = updated_entry
                .clone()
                .target("account", a.id, &a.name)
                .detail("changed", changed.join(", "));
            crate::store::audit::record(txn, entry)?;
            Ok(a)
        })
        .await?;
    Ok(Json(AccountView::of(&updated, &state, user.lang())))
}

#[utoipa::path(delete, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<StatusCode> {
    user.require_admin()?;
    let now = state.store.now();
    let deleted_entry = super::audit::by(&user, &origin, AuditAction::AccountDeleted, now);
    state
        .store
        .write(move |txn, fx| {
            // Soft delete: its tickets stay readable and reportable.
            let mut a = accounts::require_w(txn, id)?;
            a.deleted_at = Some(now);
            accounts::put(txn, fx, &a)?;
            let entry = deleted_entry.clone().target("account", a.id, &a.name);
            crate::store::audit::record(txn, entry)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The names of the settings a change touches, one level deep ("imap.host"), never values.
fn setting_names(s: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in s {
        match v.as_object() {
            Some(inner) if !inner.is_empty() => {
                out.extend(inner.keys().map(|i| format!("{k}.{i}")))
            }
            _ => out.push(k.clone()),
        }
    }
    out
}

#[derive(Serialize, ToSchema)]
pub struct CheckFact {
    /// Labelled by the locale key `accounts.check_<key>`.
    pub key: String,
    pub value: String,
}

#[derive(Serialize, ToSchema)]
pub struct CheckResult {
    pub ok: bool,
    pub facts: Vec<CheckFact>,
    /// What went wrong and what to do, in the reader's language.
    pub problem: Option<String>,
    pub problem_note: Option<crate::domain::Note>,
}

/// "Probar conexión": asks the vendor about the account with its stored credentials.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/check", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, body = CheckResult), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "this kind of account has nothing to check")))]
pub async fn check(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<CheckResult>> {
    user.require_admin()?;
    let account = state
        .store
        .read(move |txn| accounts::get(txn, id))
        .await?
        .filter(|a| a.deleted_at.is_none())
        .ok_or_else(|| AppError::not_found("account"))?;
    let driver = channels::driver(account.kind);
    if !driver.checks() {
        return Err(AppError::invalid(
            "id",
            "nothing_to_check",
            "this kind of account has nothing to check",
        ));
    }
    let lang = user.lang();
    Ok(Json(match driver.check(&account).await {
        Ok(facts) => CheckResult {
            ok: true,
            facts: facts
                .into_iter()
                .map(|(key, value)| CheckFact {
                    key: key.to_string(),
                    value,
                })
                .collect(),
            problem: None,
            problem_note: None,
        },
        Err(note) => CheckResult {
            ok: false,
            facts: Vec::new(),
            problem: Some(crate::locale::render(lang, &note)),
            problem_note: Some(note),
        },
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundContact {
    pub external_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Any common spelling; the check digit is verified.
    pub rut: Option<String>,
    pub username: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundBody {
    /// The sender system's id for this message: a repeat is answered, not stored again.
    pub external_id: String,
    pub contact: InboundContact,
    pub text: String,
    #[serde(default)]
    pub public: bool,
    pub reply_to: Option<String>,
    #[serde(default)]
    pub attachments: Vec<String>,
    pub sent_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct InboundAnswer {
    pub ticket_number: u64,
    pub message_id: String,
    pub created_ticket: bool,
}

fn opt_clean(v: &Option<String>, field: &str, max: usize) -> AppResult<Option<String>> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.chars().count() > max => Err(AppError::invalid(
            field,
            "too_long",
            format!("{field} is longer than {max} characters"),
        )),
        Some(s) => Ok(Some(s.to_string())),
    }
}

pub const MAX_MESSAGE_CHARS: usize = 100_000;

#[utoipa::path(post, path = "/api/v1/accounts/{id}/inbound", tag = "accounts", params(("id" = String, Path)), request_body = InboundBody,
    responses((status = 200, body = InboundAnswer), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "`disk_full`: nothing was stored; send it again later")))]
pub async fn inbound(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
    ApiJson(body): ApiJson<InboundBody>,
) -> AppResult<Json<InboundAnswer>> {
    // Inbound messages speak for customers: only administrators (and their integration
    // tokens) may post them, or agents could forge customer messages.
    user.require_admin()?;
    let external_id = text_field(&body.external_id, "external_id", 500)?;
    let contact_external_id = text_field(&body.contact.external_id, "contact.external_id", 500)?;
    let text = body.text.trim().to_string();
    if text.is_empty() && body.attachments.is_empty() {
        return Err(AppError::invalid(
            "text",
            "required",
            "a message needs text or attachments",
        ));
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(AppError::invalid(
            "text",
            "too_long",
            format!("text is longer than {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    let rut = match opt_clean(&body.contact.rut, "contact.rut", 20)? {
        Some(r) => Some(
            Rut::parse(&r)
                .map_err(|e| {
                    AppError::invalid("contact.rut", "invalid_rut", format!("`{r}`: {e}"))
                })?
                .normalized(),
        ),
        None => None,
    };
    let email = match opt_clean(&body.contact.email, "contact.email", 254)? {
        Some(e) => {
            Some(super::users::validate_email(&e).map_err(|e| e.with_field("contact.email"))?)
        }
        None => None,
    };
    let facts = ContactFacts {
        name: opt_clean(&body.contact.name, "contact.name", 200)?,
        email,
        phone: opt_clean(&body.contact.phone, "contact.phone", 40)?,
        rut,
        username: opt_clean(&body.contact.username, "contact.username", 200)?,
    };
    let reply_to = body
        .reply_to
        .as_deref()
        .map(|r| parse_id(r, "reply_to"))
        .transpose()?;
    let attachments = body
        .attachments
        .iter()
        .map(|a| parse_id(a, "attachments"))
        .collect::<AppResult<Vec<u64>>>()?;
    let sent_at = body
        .sent_at
        .as_deref()
        .map(|s| parse_time(s, "sent_at"))
        .transpose()?;
    let msg = Inbound {
        subject: None,
        files: Vec::new(),
        reply_to_external: None,
        notes: Vec::new(),
        account_id: id,
        external_id,
        contact_external_id,
        contact: facts,
        text,
        public: body.public,
        reply_to,
        attachments,
        sent_at,
        uploader: Some(user.user.id),
        thread: tickets::Thread::ByContact,
    };
    let done: Ingested = crate::desk::ingest::one(&state.store, msg).await?;
    Ok(Json(InboundAnswer {
        ticket_number: done.ticket_number,
        message_id: id_str(done.message_id),
        created_ticket: done.created_ticket,
    }))
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentEntry {
    pub user_id: String,
    pub account_id: String,
    pub mode: AssignMode,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentTable {
    pub items: Vec<AssignmentEntry>,
}

#[utoipa::path(get, path = "/api/v1/assignment", tag = "accounts",
    responses((status = 200, body = AssignmentTable), (status = 401, body = ErrorBody)))]
pub async fn get_assignment(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<AssignmentTable>> {
    let everyone = user.user.role.sees_all_accounts();
    let me = user.user.id;
    let rows = state.store.read(accounts::all_modes).await?;
    Ok(Json(AssignmentTable {
        items: rows
            .into_iter()
            .filter(|(u, _, _)| everyone || *u == me)
            .map(|(u, a, m)| AssignmentEntry {
                user_id: id_str(u),
                account_id: id_str(a),
                mode: m,
            })
            .collect(),
    }))
}

#[utoipa::path(put, path = "/api/v1/assignment", tag = "accounts", request_body = AssignmentTable,
    responses((status = 200, body = AssignmentTable), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_assignment(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<AssignmentTable>,
) -> AppResult<Json<AssignmentTable>> {
    user.require_admin()?;
    let mut rows = Vec::new();
    for e in &body.items {
        rows.push((
            parse_id(&e.user_id, "user_id")?,
            parse_id(&e.account_id, "account_id")?,
            e.mode,
        ));
    }
    let now = state.store.now();
    let entry = super::audit::by(&user, &origin, AuditAction::SettingChanged, now)
        .detail("setting", "assignment")
        .detail("rows", rows.len().to_string());
    state
        .store
        .write(move |txn, fx| {
            for (u, a, m) in &rows {
                if crate::store::users::get_w(txn, *u)?.is_none() {
                    return Err(AppError::invalid(
                        "user_id",
                        "unknown_user",
                        format!("no user {u}"),
                    ));
                }
                accounts::require_w(txn, *a).map_err(|_| {
                    AppError::invalid("account_id", "unknown_account", format!("no account {a}"))
                })?;
                accounts::set_mode(txn, *u, *a, *m)?;
            }
            crate::store::audit::record(txn, entry.clone())?;
            fx.emit(crate::store::event(
                crate::domain::EventKind::AssignmentUpdated,
            ));
            // Someone newly on auto-assignment takes the waiting backlog of that account.
            let mut auto: Vec<u64> = rows
                .iter()
                .filter(|(_, _, m)| *m == AssignMode::Auto)
                .map(|(_, a, _)| *a)
                .collect();
            auto.dedup();
            crate::store::assignment::drain(txn, fx, &auto, now)?;
            Ok(())
        })
        .await?;
    get_assignment(State(state), user).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: serde_json::Value) -> Settings {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn secrets_are_masked_at_any_depth_and_kept_when_sent_back() {
        let stored = obj(
            json!({"sla_minutes": 30, "imap": {"host": "h", "password": "p1"}, "smtp_pass": "p2", "apikey": "k"}),
        );
        let shown = redacted(&stored);
        assert_eq!(shown["imap"]["password"], REDACTED);
        assert_eq!(shown["imap"]["host"], "h");
        assert_eq!(shown["smtp_pass"], REDACTED);
        assert_eq!(shown["apikey"], REDACTED);
        assert_eq!(shown["sla_minutes"], 30);
        let mut merged = stored.clone();
        merge_settings(
            &mut merged,
            &obj(json!({"imap": {"host": "h2", "password": REDACTED}, "smtp_pass": null})),
        );
        assert_eq!(merged["imap"]["password"], "p1");
        assert_eq!(merged["imap"]["host"], "h2");
        assert!(!merged.contains_key("smtp_pass"));
        let moved = obj(json!({"imap": {"host": "otro", "password": REDACTED}}));
        assert_eq!(
            check_masked_secrets(&merged, &moved).unwrap_err().code,
            "password_required"
        );
        let same = obj(json!({"imap": {"host": "h2", "password": REDACTED}}));
        assert!(check_masked_secrets(&merged, &same).is_ok());
        // Leaving the password out is no way around it (security finding 3).
        for moved in [
            json!({"imap": {"host": "otro"}}),
            json!({"imap": {"port": 2993}}),
            json!({"imap": {"username": "otra"}}),
        ] {
            assert_eq!(
                check_masked_secrets(&merged, &obj(moved)).unwrap_err().code,
                "password_required"
            );
        }
        let retyped = obj(json!({"imap": {"host": "otro", "password": "nueva"}}));
        assert!(check_masked_secrets(&merged, &retyped).is_ok());
        let dropped = obj(json!({"imap": {"host": "otro", "password": null}}));
        assert!(check_masked_secrets(&merged, &dropped).is_ok());
        // A vendor's token at the top level follows no new address either.
        let vendor = obj(json!({"base_url": "http://127.0.0.1:1", "token": "t"}));
        let err = check_masked_secrets(&vendor, &obj(json!({"base_url": "http://127.0.0.1:2"})))
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("settings.token"));
        assert!(check_masked_secrets(&vendor, &obj(json!({"name_shown": "x"}))).is_ok());
    }
}
