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
use crate::domain::sla::{sla_breached, SlaClock};
use crate::domain::*;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiJson, ApiPath, ApiQuery};
use crate::locale::render;
use crate::state::AppState;
use crate::store::index::{Sort, TicketQuery};

use crate::store::lookup::Lookup;
use crate::store::tickets::{self, Access, Reply, TicketPatch};

mod bulk;
mod conversation;
pub mod export;
pub use export::*;
mod notes;
mod transcript;
pub use bulk::*;
pub use conversation::*;
pub use notes::*;
pub use transcript::*;

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
    /// The target that applies now (minutes): the policy's first response until there is
    /// one, then its next response.
    pub sla_minutes: Option<i64>,
    /// The SLA counts only the account's business hours (its clock stops while closed).
    pub sla_business_hours: bool,
    /// When the waiting customer should have an answer by (open tickets waiting only).
    pub sla_due_at: Option<String>,
    pub sla_breached: bool,
    pub excerpt: String,
    /// The subject of the mail or form that opened it.
    pub subject: Option<String>,
    pub message_count: u32,
    pub merged_into: Option<u64>,
    pub previous_number: Option<u64>,
    /// On a channel with a reply window (WhatsApp): until when free text may be sent; after
    /// it, only an approved template.
    pub reply_window_ends_at: Option<String>,
}

/// Renders tickets with their customer's name and SLA state, in one read.
pub async fn views(state: &AppState, list: Vec<Ticket>) -> AppResult<Vec<TicketView>> {
    let now = state.store.now();
    state
        .store
        .read(move |txn| {
            let look = Lookup::new(txn)?;
            let mut names: HashMap<u64, String> = HashMap::new();
            let mut sla: HashMap<u64, Option<SlaClock>> = HashMap::new();
            let mut out = Vec::with_capacity(list.len());
            for t in list {
                if let std::collections::hash_map::Entry::Vacant(e) = names.entry(t.contact_id) {
                    let c = look.contact(t.contact_id)?;
                    e.insert(c.map(|c| c.name).unwrap_or_default());
                }
                if let std::collections::hash_map::Entry::Vacant(e) = sla.entry(t.account_id) {
                    let clock = match look.account(t.account_id)? {
                        Some(a) => look.sla_clock(&a)?,
                        None => None,
                    };
                    e.insert(clock);
                }
                let clock = sla.get(&t.account_id).and_then(Option::as_ref);
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
                    sla_minutes: clock.map(|c| c.minutes_for(&t)),
                    sla_business_hours: clock.is_some_and(|c| c.calendar_for(&t).is_some()),
                    sla_due_at: opt_ts(clock.and_then(|c| c.due_of(&t))),
                    sla_breached: sla_breached(&t, clock, now),
                    excerpt: t.last_message_excerpt.clone(),
                    subject: t.subject.clone(),
                    message_count: t.message_count,
                    merged_into: t.merged_into,
                    previous_number: t.previous_number,
                    reply_window_ends_at: crate::channels::driver(t.channel)
                        .reply_window()
                        .and_then(|w| t.last_inbound_at.map(|at| ts(at + w))),
                });
            }
            Ok(out)
        })
        .await
}

/// The filters of `GET /api/v1/tickets` (also the `filter` of a bulk action).
#[derive(Deserialize, Serialize, IntoParams, ToSchema, Default, Clone)]
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
    /// A typification and the value wanted: `{field id}:{value}`.
    pub field: Option<String>,
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
    let mut query = query_of(f, user.user.id, access.visible.clone())?;
    query.numbers = match f.q.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(q) => Some(super::contacts::ticket_numbers_for(state, q).await?),
    };
    Ok(query)
}

/// The filter's parameters, checked, as a store query (all but the text search): what a
/// stranger's query string becomes, so it is fuzzed (`crate::fuzz`).
pub fn query_of(
    f: &TicketFilter,
    me: u64,
    visible: Option<std::collections::HashSet<u64>>,
) -> AppResult<TicketQuery> {
    let states = list_of(&f.state, "state", TicketState::parse)?.unwrap_or_default();
    let channels = list_of(&f.channel, "channel", Channel::parse)?;
    let accounts = list_of(&f.account, "account", |s| s.parse::<u64>().ok())?;
    let assignee = match f.assignee.as_deref().map(str::trim) {
        None | Some("") | Some("any") => None,
        Some("me") => Some(Some(me)),
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
    Ok(TicketQuery {
        states,
        accounts,
        channels,
        assignee,
        team,
        label,
        field: super::field_filter(&f.field)?,
        important: parse_bool(&f.important, "important")?,
        answered: parse_bool(&f.answered, "answered")?,
        sla_breached: parse_bool(&f.sla_breached, "sla_breached")?,
        created_from: time(&f.created_from, "created_from")?,
        created_to: time(&f.created_to, "created_to")?,
        updated_from: time(&f.updated_from, "updated_from")?,
        updated_to: time(&f.updated_to, "updated_to")?,
        numbers: None,
        visible_accounts: visible,
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

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TicketPatchBody {
    pub state: Option<TicketState>,
    pub important: Option<bool>,
    #[serde(default, deserialize_with = "crate::http::api::double_option")]
    #[schema(value_type = Option<String>)]
    pub assignee_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::api::double_option")]
    #[schema(value_type = Option<String>)]
    pub team_id: Option<Option<String>>,
    pub labels: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::http::api::double_option")]
    #[schema(value_type = Option<Sentiment>)]
    pub sentiment_initial: Option<Option<Sentiment>>,
    #[serde(default, deserialize_with = "crate::http::api::double_option")]
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
    let base = crate::http::api::link_base(&state, &headers, true)
        .await?
        .unwrap_or_default();
    let t = desk::tickets::change(&state.store, access, number, patch, base).await?;
    Ok(Json(one_view(&state, t).await?))
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
