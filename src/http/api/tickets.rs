//! Tickets: lists with every filter, the conversation, comments, history, merge, bulk.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{id_str, limit_of, opt_id, opt_ts, parse_id, parse_time, text_field, ts, Page};
use crate::auth::CurrentUser;
use crate::desk;
use crate::domain::ticket::sla_breached;
use crate::domain::*;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiJson, ApiPath, ApiQuery};
use crate::locale::render;
use crate::state::AppState;
use crate::store::index::{Sort, TicketQuery};

use crate::store::lookup::Lookup;
use crate::store::tickets::{self, Access, Reply, TicketPatch};

#[derive(Serialize, ToSchema)]
pub struct ContactRef {
    pub id: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct TicketView {
    pub number: u64,
    pub account_id: String,
    pub channel: Channel,
    pub contact: ContactRef,
    pub kind: TicketKind,
    pub state: TicketState,
    pub assignee_id: Option<String>,
    pub team_id: Option<String>,
    pub labels: Vec<String>,
    pub important: bool,
    pub answered: bool,
    /// "pending" until an agent answers the customer's last message.
    pub reply_status: String,
    pub sentiment_initial: Option<Sentiment>,
    pub sentiment_final: Option<Sentiment>,
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    /// Since when the customer waits for an answer.
    pub waiting_since: Option<String>,
    pub first_response_at: Option<String>,
    pub sla_minutes: Option<i64>,
    pub sla_breached: bool,
    pub excerpt: String,
    pub message_count: u32,
    pub merged_into: Option<u64>,
    pub previous_number: Option<u64>,
}

/// Renders tickets with their customer's name and SLA state, in one read.
pub async fn views(state: &AppState, list: Vec<Ticket>) -> AppResult<Vec<TicketView>> {
    let now = state.store.now();
    state
        .store
        .read(move |txn| {
            let look = Lookup::new(txn)?;
            let mut names: HashMap<u64, String> = HashMap::new();
            let mut sla: HashMap<u64, Option<i64>> = HashMap::new();
            let mut out = Vec::with_capacity(list.len());
            for t in list {
                if let std::collections::hash_map::Entry::Vacant(e) = names.entry(t.contact_id) {
                    let c = look.contact(t.contact_id)?;
                    e.insert(c.map(|c| c.name).unwrap_or_default());
                }
                if let std::collections::hash_map::Entry::Vacant(e) = sla.entry(t.account_id) {
                    let a = look.account(t.account_id)?;
                    e.insert(a.and_then(|a| a.sla_minutes()));
                }
                let target = sla.get(&t.account_id).copied().flatten();
                out.push(TicketView {
                    number: t.number,
                    account_id: id_str(t.account_id),
                    channel: t.channel,
                    contact: ContactRef {
                        id: id_str(t.contact_id),
                        name: names.get(&t.contact_id).cloned().unwrap_or_default(),
                    },
                    kind: t.kind,
                    state: t.state,
                    assignee_id: opt_id(t.assignee_id),
                    team_id: opt_id(t.team_id),
                    labels: t.labels.iter().map(|l| id_str(*l)).collect(),
                    important: t.important,
                    answered: t.answered,
                    reply_status: if t.answered { "answered" } else { "pending" }.into(),
                    sentiment_initial: t.sentiment_initial,
                    sentiment_final: t.sentiment_final,
                    fields: t.fields.clone(),
                    created_at: ts(t.created_at),
                    updated_at: ts(t.updated_at),
                    closed_at: opt_ts(t.closed_at),
                    waiting_since: opt_ts(t.waiting_since),
                    first_response_at: opt_ts(t.first_response_at),
                    sla_minutes: target,
                    sla_breached: sla_breached(&t, target, now),
                    excerpt: t.last_message_excerpt.clone(),
                    message_count: t.message_count,
                    merged_into: t.merged_into,
                    previous_number: t.previous_number,
                });
            }
            Ok(out)
        })
        .await
}

/// The filters of `GET /api/v1/tickets` (also the `filter` of a bulk action).
#[derive(Deserialize, IntoParams, ToSchema, Default, Clone)]
#[into_params(parameter_in = Query)]
pub struct TicketFilter {
    /// open, closed, ignored; comma-separated.
    pub state: Option<String>,
    /// Channel kinds, comma-separated.
    pub channel: Option<String>,
    /// Account ids, comma-separated.
    pub account: Option<String>,
    /// `me`, `none` or a user id.
    pub assignee: Option<String>,
    /// `none` or a team id.
    pub team: Option<String>,
    pub label: Option<String>,
    pub important: Option<String>,
    pub answered: Option<String>,
    pub sla_breached: Option<String>,
    /// Text, ticket number, customer name, email, phone, RUT.
    pub q: Option<String>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
    pub updated_from: Option<String>,
    pub updated_to: Option<String>,
    /// updated_desc (default), updated_asc, created_desc, created_asc.
    pub sort: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

pub(super) fn parse_bool(v: &Option<String>, field: &str) -> AppResult<Option<bool>> {
    match v.as_deref() {
        None | Some("") => Ok(None),
        Some("true") | Some("1") => Ok(Some(true)),
        Some("false") | Some("0") => Ok(Some(false)),
        Some(other) => Err(AppError::bad_request(
            "invalid_query",
            format!("{field} must be true or false, not `{other}`"),
        )
        .with_field(field)),
    }
}

pub(super) fn bad(field: &str, msg: String) -> AppError {
    AppError::bad_request("invalid_query", msg).with_field(field)
}

/// A comma list; repeated values count once (each would otherwise add a duplicate scan).
pub(super) fn list_of<T: PartialEq>(
    v: &Option<String>,
    field: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> AppResult<Option<Vec<T>>> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => {
            let mut out: Vec<T> = Vec::new();
            for p in s.split(',') {
                let value = parse(p.trim())
                    .ok_or_else(|| bad(field, format!("`{p}` is not a valid {field}")))?;
                if !out.contains(&value) {
                    out.push(value);
                }
            }
            Ok(Some(out))
        }
    }
}

fn encode_cursor(sort: Sort, t: &Ticket) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "{:?}:{}:{}",
        sort,
        sort.time_of(t),
        t.number
    ))
}

fn decode_cursor(sort: Sort, c: &str) -> AppResult<(Millis, u64)> {
    let invalid = || bad("cursor", "the cursor is not valid for this list".into());
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .map_err(|_| invalid())?;
    let s = String::from_utf8(raw).map_err(|_| invalid())?;
    let mut parts = s.split(':');
    if parts.next() != Some(format!("{sort:?}").as_str()) {
        return Err(invalid());
    }
    let ts = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(invalid)?;
    let n = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(invalid)?;
    Ok((ts, n))
}

/// Validates the filter into a store query for this user.
pub async fn to_query(
    state: &AppState,
    user: &CurrentUser,
    access: &Access,
    f: &TicketFilter,
) -> AppResult<TicketQuery> {
    let states = list_of(&f.state, "state", TicketState::parse)?.unwrap_or_default();
    let channels = list_of(&f.channel, "channel", Channel::parse)?;
    let accounts = list_of(&f.account, "account", |s| s.parse::<u64>().ok())?;
    let assignee = match f.assignee.as_deref().map(str::trim) {
        None | Some("") | Some("any") => None,
        Some("me") => Some(Some(user.user.id)),
        Some("none") => Some(None),
        Some(id) => Some(Some(id.parse::<u64>().map_err(|_| {
            bad(
                "assignee",
                format!("assignee must be me, none or a user id, not `{id}`"),
            )
        })?)),
    };
    let team = match f.team.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("none") => Some(None),
        Some(id) => {
            Some(Some(id.parse::<u64>().map_err(|_| {
                bad("team", format!("`{id}` is not a team id"))
            })?))
        }
    };
    let label = match f.label.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(id) => Some(
            id.parse::<u64>()
                .map_err(|_| bad("label", format!("`{id}` is not a label id")))?,
        ),
    };
    let time =
        |v: &Option<String>, field: &str| v.as_deref().map(|s| parse_time(s, field)).transpose();
    let sort = match f.sort.as_deref() {
        None | Some("") => Sort::UpdatedDesc,
        Some(s) => Sort::parse(s).ok_or_else(|| bad("sort", format!("unknown sort `{s}`")))?,
    };
    let after = f
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| decode_cursor(sort, c))
        .transpose()?;
    let numbers = match f.q.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(q) => Some(super::contacts::ticket_numbers_for(state, q).await?),
    };
    Ok(TicketQuery {
        states,
        accounts,
        channels,
        assignee,
        team,
        label,
        important: parse_bool(&f.important, "important")?,
        answered: parse_bool(&f.answered, "answered")?,
        sla_breached: parse_bool(&f.sla_breached, "sla_breached")?,
        created_from: time(&f.created_from, "created_from")?,
        created_to: time(&f.created_to, "created_to")?,
        updated_from: time(&f.updated_from, "updated_from")?,
        updated_to: time(&f.updated_to, "updated_to")?,
        numbers,
        visible_accounts: access.visible.clone(),
        sort: Some(sort),
        after,
        limit: limit_of(f.limit)?,
    })
}

#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", params(TicketFilter),
    responses((status = 200, body = Page<TicketView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(f): ApiQuery<TicketFilter>,
) -> AppResult<Json<Page<TicketView>>> {
    let access = user.access(&state).await?;
    let q = to_query(&state, &user, &access, &f).await?;
    let now = state.store.now();
    let sort = q.sort.unwrap_or(Sort::UpdatedDesc);
    let (items, more) = state
        .store
        .read(move |txn| crate::store::index::list(txn, &q, now))
        .await?;
    let next_cursor = if more {
        items.last().map(|t| encode_cursor(sort, t))
    } else {
        None
    };
    Ok(Json(Page {
        items: views(&state, items).await?,
        next_cursor,
    }))
}

async fn load(state: &AppState, user: &CurrentUser, number: u64) -> AppResult<(Ticket, Access)> {
    let access = user.access(state).await?;
    let a2 = access.clone();
    let t = state
        .store
        .read(move |txn| tickets::require(txn, number, &a2))
        .await?;
    Ok((t, access))
}

async fn one_view(state: &AppState, t: Ticket) -> AppResult<TicketView> {
    views(state, vec![t])
        .await?
        .pop()
        .ok_or_else(|| AppError::internal("ticket view lost"))
}

#[utoipa::path(get, path = "/api/v1/tickets/{number}", tag = "tickets", params(("number" = u64, Path)),
    responses((status = 200, body = TicketView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(number): ApiPath<u64>,
) -> AppResult<Json<TicketView>> {
    let (t, _) = load(&state, &user, number).await?;
    Ok(Json(one_view(&state, t).await?))
}

/// `null` clears a field; an absent field is left as it is.
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TicketPatchBody {
    pub state: Option<TicketState>,
    pub important: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub assignee_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub team_id: Option<Option<String>>,
    pub labels: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Sentiment>)]
    pub sentiment_initial: Option<Option<Sentiment>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Sentiment>)]
    pub sentiment_final: Option<Option<Sentiment>>,
    #[schema(value_type = Option<Object>)]
    pub fields: Option<BTreeMap<String, serde_json::Value>>,
}

fn to_patch(b: &TicketPatchBody) -> AppResult<TicketPatch> {
    let opt = |v: &Option<Option<String>>, field: &str| -> AppResult<Option<Option<u64>>> {
        match v {
            None => Ok(None),
            Some(None) => Ok(Some(None)),
            Some(Some(s)) => Ok(Some(Some(parse_id(s, field)?))),
        }
    };
    Ok(TicketPatch {
        state: b.state,
        important: b.important,
        assignee_id: opt(&b.assignee_id, "assignee_id")?,
        team_id: opt(&b.team_id, "team_id")?,
        labels: b
            .labels
            .as_ref()
            .map(|ls| {
                ls.iter()
                    .map(|l| parse_id(l, "labels"))
                    .collect::<AppResult<Vec<u64>>>()
            })
            .transpose()?,
        sentiment_initial: b.sentiment_initial,
        sentiment_final: b.sentiment_final,
        fields: b.fields.clone(),
    })
}

#[utoipa::path(patch, path = "/api/v1/tickets/{number}", tag = "tickets", params(("number" = u64, Path)), request_body = TicketPatchBody,
    responses((status = 200, body = TicketView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: axum::http::HeaderMap,
    ApiPath(number): ApiPath<u64>,
    ApiJson(body): ApiJson<TicketPatchBody>,
) -> AppResult<Json<TicketView>> {
    let access = user.access(&state).await?;
    let patch = to_patch(&body)?;
    let base = super::link_base(&state, &headers, true)
        .await?
        .unwrap_or_default();
    let t = desk::tickets::change(&state.store, access, number, patch, base).await?;
    Ok(Json(one_view(&state, t).await?))
}

#[derive(Serialize, ToSchema)]
pub struct Author {
    /// contact, user or system.
    pub kind: String,
    pub id: Option<String>,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    pub url: String,
}

impl From<&Attachment> for AttachmentView {
    fn from(a: &Attachment) -> Self {
        AttachmentView {
            id: id_str(a.id),
            name: a.name.clone(),
            size: a.size,
            content_type: a.content_type.clone(),
            url: format!("/api/v1/attachments/{}", a.id),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub ticket_number: u64,
    pub direction: Direction,
    pub public: bool,
    pub author: Author,
    pub text: String,
    pub attachments: Vec<AttachmentView>,
    pub reply_to: Option<String>,
    pub external_id: Option<String>,
    pub status: DeliveryStatus,
    /// Why delivery failed or is retried (the mail server's answer), in the reader's language.
    pub status_detail: Option<String>,
    /// The same as a code and its parameters (locale key `note.<code>`).
    pub status_note: Option<Note>,
    /// Email messages: subject, Message-ID, sanitised HTML, quoted history, reading notes.
    pub mail: Option<MailMeta>,
    pub created_at: String,
}

pub(super) async fn message_views(
    state: &AppState,
    lang: &'static str,
    list: Vec<Message>,
) -> AppResult<Vec<MessageView>> {
    state
        .store
        .read(move |txn| {
            let look = Lookup::new(txn)?;
            let mut out = Vec::with_capacity(list.len());
            for m in list {
                let author = match (m.contact_id, m.user_id) {
                    (Some(c), _) => Author {
                        kind: "contact".into(),
                        id: Some(id_str(c)),
                        name: look.contact(c)?.map(|c| c.name).unwrap_or_default(),
                    },
                    (None, Some(u)) => Author {
                        kind: "user".into(),
                        id: Some(id_str(u)),
                        name: look.user(u)?.map(|u| u.name).unwrap_or_default(),
                    },
                    (None, None) => Author {
                        kind: "system".into(),
                        id: None,
                        name: "Atiende".into(),
                    },
                };
                let mut attachments = Vec::new();
                for a in &m.attachments {
                    if let Some(att) = look.attachment(*a)? {
                        attachments.push(AttachmentView::from(&att));
                    }
                }
                out.push(MessageView {
                    id: id_str(m.id),
                    ticket_number: m.ticket_number,
                    direction: m.direction,
                    public: m.public,
                    author,
                    text: m.text,
                    attachments,
                    reply_to: opt_id(m.reply_to),
                    external_id: m.external_id,
                    status: m.status,
                    status_detail: m.status_detail.as_ref().map(|n| render(lang, n)),
                    status_note: m.status_detail,
                    mail: m.mail.map(|b| *b),
                    created_at: ts(m.created_at),
                });
            }
            Ok(out)
        })
        .await
}

#[utoipa::path(get, path = "/api/v1/tickets/{number}/messages", tag = "tickets", params(("number" = u64, Path)),
    responses((status = 200, body = Page<MessageView>), (status = 404, body = ErrorBody)))]
pub async fn messages(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(number): ApiPath<u64>,
) -> AppResult<Json<Page<MessageView>>> {
    load(&state, &user, number).await?;
    let list = state
        .store
        .read(move |txn| tickets::messages(txn, number))
        .await?;
    Ok(Json(Page {
        items: message_views(&state, user.lang(), list).await?,
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    pub text: String,
    pub reply_to: Option<String>,
    #[serde(default)]
    pub attachment_ids: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/tickets/{number}/messages", tag = "tickets", params(("number" = u64, Path)), request_body = ReplyBody,
    responses((status = 201, body = MessageView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reply(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(number): ApiPath<u64>,
    ApiJson(body): ApiJson<ReplyBody>,
) -> AppResult<(StatusCode, Json<MessageView>)> {
    let access = user.access(&state).await?;
    let attachments = body
        .attachment_ids
        .iter()
        .map(|a| parse_id(a, "attachment_ids"))
        .collect::<AppResult<Vec<u64>>>()?;
    let text = if attachments.is_empty() {
        text_field(&body.text, "text", super::accounts::MAX_MESSAGE_CHARS)?
    } else {
        body.text.trim().to_string()
    };
    let r = Reply {
        text,
        reply_to: body
            .reply_to
            .as_deref()
            .map(|r| parse_id(r, "reply_to"))
            .transpose()?,
        attachments,
    };
    let m = desk::tickets::reply(&state.store, access, number, r).await?;
    let view = message_views(&state, user.lang(), vec![m])
        .await?
        .pop()
        .ok_or_else(|| AppError::internal("message view lost"))?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Serialize, ToSchema)]
pub struct CommentView {
    pub id: String,
    pub ticket_number: u64,
    pub user_id: String,
    pub text: String,
    pub mentions: Vec<String>,
    pub created_at: String,
}

impl From<&Comment> for CommentView {
    fn from(c: &Comment) -> Self {
        CommentView {
            id: id_str(c.id),
            ticket_number: c.ticket_number,
            user_id: id_str(c.user_id),
            text: c.text.clone(),
            mentions: c.mentions.iter().map(|m| id_str(*m)).collect(),
            created_at: ts(c.created_at),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/tickets/{number}/comments", tag = "tickets", params(("number" = u64, Path)),
    responses((status = 200, body = Page<CommentView>), (status = 404, body = ErrorBody)))]
pub async fn comments(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(number): ApiPath<u64>,
) -> AppResult<Json<Page<CommentView>>> {
    load(&state, &user, number).await?;
    let list = state
        .store
        .read(move |txn| tickets::comments(txn, number))
        .await?;
    Ok(Json(Page {
        items: list.iter().map(CommentView::from).collect(),
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    /// Internal note, for colleagues only.
    pub text: String,
    /// The colleagues mentioned (user ids, as the @ picker gives them); each must be able to
    /// see the ticket, and is told in the app and by mail.
    #[serde(default)]
    pub mentions: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/tickets/{number}/comments", tag = "tickets", params(("number" = u64, Path)), request_body = CommentBody,
    responses((status = 201, body = CommentView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_comment(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: axum::http::HeaderMap,
    ApiPath(number): ApiPath<u64>,
    ApiJson(body): ApiJson<CommentBody>,
) -> AppResult<(StatusCode, Json<CommentView>)> {
    let access = user.access(&state).await?;
    let text = text_field(&body.text, "text", 20_000)?;
    let mentions = body
        .mentions
        .iter()
        .map(|m| parse_id(m, "mentions"))
        .collect::<AppResult<Vec<u64>>>()?;
    let base = super::link_base(&state, &headers, true)
        .await?
        .unwrap_or_default();
    let c = desk::tickets::comment(&state.store, access, number, text, mentions, base).await?;
    Ok((StatusCode::CREATED, Json(CommentView::from(&c))))
}

#[derive(Serialize, ToSchema)]
pub struct HistoryView {
    pub id: String,
    pub at: String,
    pub actor_id: Option<String>,
    pub action: String,
    /// What happened, in the reader's language.
    pub detail: String,
    /// The same as a code and its parameters (locale key `note.<code>`).
    pub note: Note,
    /// On creation: how the assignment engine decided, with its reason.
    pub decision: Option<String>,
    pub decision_note: Option<Note>,
}

#[utoipa::path(get, path = "/api/v1/tickets/{number}/history", tag = "tickets", params(("number" = u64, Path)),
    responses((status = 200, body = Page<HistoryView>), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(number): ApiPath<u64>,
) -> AppResult<Json<Page<HistoryView>>> {
    load(&state, &user, number).await?;
    let lang = user.lang();
    let list = state
        .store
        .read(move |txn| tickets::history(txn, number))
        .await?;
    Ok(Json(Page {
        items: list
            .into_iter()
            .map(|h| HistoryView {
                id: id_str(h.id),
                at: ts(h.at),
                actor_id: opt_id(h.actor_id),
                action: h.action,
                detail: render(lang, &h.detail),
                note: h.detail,
                decision: h.decision.as_ref().map(|n| render(lang, n)),
                decision_note: h.decision,
            })
            .collect(),
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceBody {
    /// `viewing` (send every ~20 s while the ticket is open), `typing` or `left`.
    pub state: String,
}

/// TICK-12: tells the others who can see this ticket that the user is viewing it, typing in it
/// or has left it. Live only: nothing is stored.
#[utoipa::path(post, path = "/api/v1/tickets/{number}/presence", tag = "tickets", params(("number" = u64, Path)), request_body = PresenceBody,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn presence(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(number): ApiPath<u64>,
    ApiJson(body): ApiJson<PresenceBody>,
) -> AppResult<StatusCode> {
    let kind = match body.state.as_str() {
        "viewing" => EventKind::TicketViewing,
        "typing" => EventKind::TicketTyping,
        "left" => EventKind::TicketLeft,
        other => {
            return Err(AppError::invalid(
                "state",
                "invalid_presence",
                format!("state must be viewing, typing or left, not `{other}`"),
            ))
        }
    };
    let (t, _) = load(&state, &user, number).await?;
    state.bus.ephemeral(Event {
        id: 0,
        kind,
        at: state.store.now(),
        account_id: Some(t.account_id),
        ticket_number: Some(number),
        // The web chat shows the visitor when an agent is typing or reading.
        contact_id: Some(t.contact_id),
        message_id: None,
        user_id: Some(user.user.id),
    });
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/tickets/{number}/previous", tag = "tickets", params(("number" = u64, Path)),
    responses((status = 200, body = Page<TicketView>), (status = 404, body = ErrorBody)))]
pub async fn previous(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(number): ApiPath<u64>,
) -> AppResult<Json<Page<TicketView>>> {
    let (t, access) = load(&state, &user, number).await?;
    let contact_id = t.contact_id;
    let list = state
        .store
        .read(move |txn| {
            let c = crate::store::contacts::get(txn, contact_id)?
                .ok_or_else(|| AppError::not_found("contact"))?;
            let group = crate::store::contacts::group_of(&c);
            // Hidden accounts' tickets are skipped, so look further than 25.
            let all = tickets::of_contacts(txn, &group, 500)?;
            Ok(all
                .into_iter()
                .filter(|x| x.number != number && access.may_see(x.account_id))
                .take(25)
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(Json(Page {
        items: views(&state, list).await?,
        next_cursor: None,
    }))
}

/// Ticket numbers are integers; clients that send every id as a string are accepted too.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub enum NumberInput {
    Number(u64),
    Text(String),
}

impl NumberInput {
    fn get(&self, field: &str) -> AppResult<u64> {
        match self {
            NumberInput::Number(n) => Ok(*n),
            NumberInput::Text(s) => parse_id(s.trim_start_matches('#'), field),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The ticket that survives (a ticket of the same customer).
    #[schema(value_type = u64)]
    pub into: NumberInput,
}

#[utoipa::path(post, path = "/api/v1/tickets/{number}/merge", tag = "tickets", params(("number" = u64, Path)), request_body = MergeBody,
    responses((status = 200, body = TicketView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn merge(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(number): ApiPath<u64>,
    ApiJson(body): ApiJson<MergeBody>,
) -> AppResult<Json<TicketView>> {
    let access = user.access(&state).await?;
    let into = body.into.get("into")?;
    let t = desk::tickets::merge(&state.store, access, number, into).await?;
    Ok(Json(one_view(&state, t).await?))
}

#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    Close,
    Ignore,
    Assign,
    Label,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    #[schema(value_type = Option<Vec<u64>>)]
    pub numbers: Option<Vec<NumberInput>>,
    pub filter: Option<TicketFilter>,
    pub action: BulkAction,
    /// For `assign`: a user id, or null to un-assign.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub assignee_id: Option<Option<String>>,
    /// For `label`: the label to add.
    pub label_id: Option<String>,
    /// For `close`/`ignore`: the final sentiment.
    pub sentiment_final: Option<Sentiment>,
}

#[derive(Serialize, ToSchema)]
pub struct BulkResult {
    pub updated: Vec<u64>,
}

pub use crate::domain::ticket::BULK_MAX;

#[utoipa::path(post, path = "/api/v1/tickets/bulk", tag = "tickets", request_body = BulkBody,
    responses((status = 200, body = BulkResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn bulk(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<BulkBody>,
) -> AppResult<Json<BulkResult>> {
    let access = user.access(&state).await?;
    let numbers: Vec<u64> = match (&body.numbers, &body.filter) {
        (Some(n), None) => n
            .iter()
            .map(|x| x.get("numbers"))
            .collect::<AppResult<Vec<u64>>>()?,
        (None, Some(f)) => {
            let mut f = f.clone();
            f.limit = None;
            f.cursor = None;
            let mut q = to_query(&state, &user, &access, &f).await?;
            q.limit = BULK_MAX;
            let now = state.store.now();
            let (items, more) = state
                .store
                .read(move |txn| crate::store::index::list(txn, &q, now))
                .await?;
            if more {
                return Err(AppError::invalid(
                    "filter",
                    "too_many",
                    format!("the filter matches more than {BULK_MAX} tickets; narrow it"),
                ));
            }
            items.into_iter().map(|t| t.number).collect()
        }
        _ => {
            return Err(AppError::invalid(
                "numbers",
                "numbers_or_filter",
                "send either `numbers` or `filter`",
            ))
        }
    };
    let mut patch = TicketPatch::default();
    match body.action {
        BulkAction::Close | BulkAction::Ignore => {
            patch.state = Some(if body.action == BulkAction::Close {
                TicketState::Closed
            } else {
                TicketState::Ignored
            });
            if let Some(s) = body.sentiment_final {
                patch.sentiment_final = Some(Some(s));
            }
        }
        BulkAction::Assign => {
            patch.assignee_id = Some(match &body.assignee_id {
                Some(Some(id)) => Some(parse_id(id, "assignee_id")?),
                Some(None) => None,
                None => {
                    return Err(AppError::invalid(
                        "assignee_id",
                        "required",
                        "assign needs assignee_id (or null)",
                    ))
                }
            });
        }
        BulkAction::Label => {}
    }
    let label = match body.action {
        BulkAction::Label => Some(parse_id(
            body.label_id
                .as_deref()
                .ok_or_else(|| AppError::invalid("label_id", "required", "label needs label_id"))?,
            "label_id",
        )?),
        _ => None,
    };
    let updated = desk::tickets::bulk(&state.store, access, numbers, patch, label).await?;
    Ok(Json(BulkResult { updated }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_sort_check() {
        let t = crate::domain::ticket::new_ticket(crate::domain::ticket::NewTicket {
            number: 9,
            account: (1, Channel::Api),
            contact_id: 1,
            public: false,
            influencer: false,
            previous: None,
            now: 1234,
        });
        let c = encode_cursor(Sort::UpdatedDesc, &t);
        assert_eq!(decode_cursor(Sort::UpdatedDesc, &c).unwrap(), (1234, 9));
        assert!(decode_cursor(Sort::CreatedAsc, &c).is_err());
        assert!(decode_cursor(Sort::UpdatedDesc, "!!").is_err());
    }
}
