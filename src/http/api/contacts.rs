//! Contacts (ORG-3, ORG-4) and search (BOARD-5).

use std::collections::{BTreeMap, HashSet};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::tickets::{views, TicketView};
use super::{field_filter, id_str, limit_of, name_field, parse_id, parse_time, ts, Page};
use crate::auth::CurrentUser;
use crate::domain::fields::{self, FieldTarget};
use crate::domain::rut::Rut;
use crate::domain::{Channel, Contact};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiJson, ApiPath, ApiQuery};
use crate::search::Hits;
use crate::state::AppState;
use crate::store::contact_index::{self, ContactQuery, ContactSort};
use crate::store::contacts::{self, ContactFacts};
use crate::store::tickets;

#[derive(Serialize, ToSchema)]
pub struct IdentityView {
    pub account_id: String,
    pub external_id: String,
    pub username: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ContactView {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Other emails and phones of the customer, after the main ones.
    pub more_emails: Vec<String>,
    pub more_phones: Vec<String>,
    /// Normalised `12345678-5`.
    pub rut: Option<String>,
    /// For people: `12.345.678-5`.
    pub rut_formatted: Option<String>,
    pub identities: Vec<IdentityView>,
    pub influencer: bool,
    pub notes: String,
    pub labels: Vec<String>,
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Profiles of the same person on other networks (omnichannel).
    pub linked: Vec<String>,
    /// When the customer last wrote (to the hour; creation for those who never did).
    pub last_contact_at: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Contact> for ContactView {
    fn from(c: &Contact) -> Self {
        ContactView {
            id: id_str(c.id),
            name: c.name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            more_emails: c.more_emails.clone(),
            more_phones: c.more_phones.clone(),
            rut: c.rut.clone(),
            rut_formatted: c
                .rut
                .as_deref()
                .and_then(|r| Rut::parse(r).ok())
                .map(|r| r.formatted()),
            identities: c
                .identities
                .iter()
                .map(|i| IdentityView {
                    account_id: id_str(i.account_id),
                    external_id: i.external_id.clone(),
                    username: i.username.clone(),
                })
                .collect(),
            influencer: c.influencer,
            notes: c.notes.clone(),
            labels: c.labels.iter().map(|l| id_str(*l)).collect(),
            fields: c.fields.clone(),
            linked: c.linked.iter().map(|l| id_str(*l)).collect(),
            last_contact_at: ts(contact_index::last_contact(c)),
            created_at: ts(c.created_at),
            updated_at: ts(c.updated_at),
        }
    }
}

#[derive(Deserialize, IntoParams, Default, Clone)]
#[into_params(parameter_in = Query)]
pub struct ContactListParams {
    /// Name, email, phone, RUT (any format) or username.
    pub q: Option<String>,
    /// A label id.
    pub label: Option<String>,
    /// A channel kind (`email`, `whatsapp`, …): customers with a profile there.
    pub channel: Option<String>,
    pub influencer: Option<bool>,
    /// A profile field and the value wanted: `{field id}:{value}` (an option, `true`/`false`,
    /// a date, or words of a text).
    pub field: Option<String>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
    /// When they last wrote.
    pub last_contact_from: Option<String>,
    pub last_contact_to: Option<String>,
    /// `created_desc` (default), `created_asc`, `last_contact_desc`, `last_contact_asc`,
    /// `name_asc`, `name_desc`.
    pub sort: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl ContactListParams {
    fn has_q(&self) -> Option<&str> {
        self.q.as_deref().map(str::trim).filter(|q| !q.is_empty())
    }

    /// The filters given, by name (the audit log's record of an export).
    pub fn query_map(&self) -> BTreeMap<&'static str, String> {
        let mut out = BTreeMap::new();
        for (k, v) in [
            ("q", &self.q),
            ("label", &self.label),
            ("channel", &self.channel),
            ("field", &self.field),
            ("created_from", &self.created_from),
            ("created_to", &self.created_to),
            ("last_contact_from", &self.last_contact_from),
            ("last_contact_to", &self.last_contact_to),
            ("sort", &self.sort),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                out.insert(k, v.to_string());
            }
        }
        if let Some(i) = self.influencer {
            out.insert("influencer", i.to_string());
        }
        out
    }
}

/// The list's filters as the store reads them.
pub fn to_query(p: &ContactListParams, limit: usize) -> AppResult<ContactQuery> {
    let time = |v: &Option<String>, field: &str| {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| parse_time(s, field))
            .transpose()
    };
    let bad = |field: &str, msg: &str| {
        AppError::bad_request("invalid_query", msg.to_string()).with_field(field)
    };
    Ok(ContactQuery {
        label: p
            .label
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|l| parse_id(l, "label"))
            .transpose()?,
        channel: match p.channel.as_deref().filter(|s| !s.is_empty()) {
            Some(c) => Some(Channel::parse(c).ok_or_else(|| bad("channel", "unknown channel"))?),
            None => None,
        },
        influencer: p.influencer,
        field: field_filter(&p.field)?,
        created_from: time(&p.created_from, "created_from")?,
        created_to: time(&p.created_to, "created_to")?,
        last_from: time(&p.last_contact_from, "last_contact_from")?,
        last_to: time(&p.last_contact_to, "last_contact_to")?,
        sort: match p.sort.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => ContactSort::parse(s).ok_or_else(|| bad("sort", "unknown sort"))?,
            None => ContactSort::default(),
        },
        after: match p.cursor.as_deref().filter(|s| !s.is_empty()) {
            Some(c) => Some(
                c.split_once('.')
                    .and_then(|(o, i)| Some((o.parse().ok()?, i.parse().ok()?)))
                    .ok_or_else(|| bad("cursor", "that cursor is not one this list gave"))?,
            ),
            None => None,
        },
        limit,
    })
}

#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts", params(ContactListParams),
    responses((status = 200, body = Page<ContactView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(p): ApiQuery<ContactListParams>,
) -> AppResult<Json<Page<ContactView>>> {
    let limit = limit_of(p.limit)?;
    let access = user.access(&state).await?;
    let query = to_query(&p, limit)?;
    if let Some(q) = p.has_q() {
        // Words typed: the search index finds them, the other filters narrow the hits.
        let ids = run_search(&state, q, 500).await?.contacts;
        let found = state
            .store
            .read(move |txn| {
                let kinds = contact_index::channels(&crate::store::accounts::list(txn)?);
                Ok(contacts::visible_among(txn, ids, &access)?
                    .into_iter()
                    .filter(|c| query.matches(c, &kinds))
                    .take(limit)
                    .collect::<Vec<_>>())
            })
            .await?;
        return Ok(Json(Page {
            items: found.iter().map(ContactView::from).collect(),
            next_cursor: None,
        }));
    }
    let (items, next) = state
        .store
        .read(move |txn| contact_index::list(txn, &query, &access))
        .await?;
    Ok(Json(Page {
        items: items.iter().map(ContactView::from).collect(),
        next_cursor: next.map(|(order, id)| format!("{order}.{id}")),
    }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Replaces the other emails (at most 10).
    pub more_emails: Option<Vec<String>>,
    /// Replaces the other phones (at most 10).
    pub more_phones: Option<Vec<String>>,
    pub rut: Option<String>,
    pub influencer: Option<bool>,
    /// What the team should know about the customer ("" clears).
    pub notes: Option<String>,
    pub labels: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub fields: Option<BTreeMap<String, serde_json::Value>>,
}

struct CleanContact {
    name: Option<String>,
    /// Some("") clears.
    email: Option<Option<String>>,
    phone: Option<Option<String>>,
    more_emails: Option<Vec<String>>,
    more_phones: Option<Vec<String>>,
    rut: Option<Option<String>>,
    influencer: Option<bool>,
    notes: Option<String>,
    labels: Option<Vec<u64>>,
    fields: Option<BTreeMap<String, serde_json::Value>>,
}

fn clean(b: &ContactBody) -> AppResult<CleanContact> {
    let clearable = |v: &Option<String>| {
        v.as_deref()
            .map(|s| Some(s.trim().to_string()).filter(|s| !s.is_empty()))
    };
    let email = match clearable(&b.email) {
        Some(Some(e)) => Some(Some(super::users::validate_email(&e)?)),
        other => other,
    };
    let rut = match clearable(&b.rut) {
        Some(Some(r)) => Some(Some(
            Rut::parse(&r)
                .map_err(|e| AppError::invalid("rut", "invalid_rut", format!("`{r}`: {e}")))?
                .normalized(),
        )),
        other => other,
    };
    let list = |v: &Option<Vec<String>>, field: &str, check: &dyn Fn(&str) -> AppResult<String>| {
        v.as_ref()
            .map(|items| {
                let mut out: Vec<String> = Vec::new();
                for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
                    let clean = check(item).map_err(|e| e.with_field(field))?;
                    if !out.contains(&clean) {
                        out.push(clean);
                    }
                }
                if out.len() > 10 {
                    return Err(AppError::invalid(field, "too_many_values", "at most 10"));
                }
                Ok(out)
            })
            .transpose()
    };
    let more_emails = list(&b.more_emails, "more_emails", &|e| {
        crate::domain::validate_email(e)
    })?;
    let more_phones = list(&b.more_phones, "more_phones", &|p| {
        if p.chars().filter(char::is_ascii_digit).count() < 6 || p.chars().count() > 40 {
            return Err(AppError::invalid(
                "more_phones",
                "invalid_phone",
                format!("`{p}` is not a phone number"),
            ));
        }
        Ok(p.to_string())
    })?;
    Ok(CleanContact {
        more_emails,
        more_phones,
        name: b
            .name
            .as_deref()
            .map(|n| name_field(n, "name", 200))
            .transpose()?,
        email,
        phone: clearable(&b.phone),
        rut,
        influencer: b.influencer,
        notes: match b.notes.as_deref().map(str::trim) {
            Some(n) if n.chars().count() > 5_000 => {
                return Err(AppError::invalid(
                    "notes",
                    "too_long",
                    "notes are longer than 5,000 characters",
                ))
            }
            other => other.map(str::to_string),
        },
        labels: b
            .labels
            .as_ref()
            .map(|ls| {
                ls.iter()
                    .map(|l| parse_id(l, "labels"))
                    .collect::<AppResult<Vec<u64>>>()
            })
            .transpose()?,
        fields: b.fields.clone(),
    })
}

fn apply(txn: &redb::WriteTransaction, c: &mut Contact, p: &CleanContact) -> AppResult<()> {
    if let Some(n) = &p.name {
        c.name = n.clone();
    }
    if let Some(e) = &p.email {
        c.email = e.clone();
    }
    if let Some(ph) = &p.phone {
        c.phone = ph.clone();
    }
    if let Some(e) = &p.more_emails {
        c.more_emails = e.clone();
    }
    if let Some(ph) = &p.more_phones {
        c.more_phones = ph.clone();
    }
    if let Some(r) = &p.rut {
        c.rut = r.clone();
    }
    if let Some(i) = p.influencer {
        c.influencer = i;
    }
    if let Some(n) = &p.notes {
        c.notes = n.clone();
    }
    if let Some(l) = &p.labels {
        c.labels = l.clone();
    }
    if let Some(changes) = &p.fields {
        // Seed 003 "Datos de perfil": values checked against their definitions, and a
        // profile saved with its fields has every mandatory one that applies to it.
        let defs = crate::store::catalog::fields_w(txn)?;
        fields::apply(&defs, FieldTarget::Contact, &mut c.fields, changes)
            .map_err(|(key, e)| AppError::invalid(&format!("fields.{key}"), e.code, e.message))?;
        let accounts: Vec<u64> = c.identities.iter().map(|i| i.account_id).collect();
        if let Some(d) = fields::missing(&defs, FieldTarget::Contact, &accounts, &c.fields).first()
        {
            return Err(AppError::invalid(
                &format!("fields.{}", d.key()),
                "profile_field_required",
                format!("«{}» is required", d.name),
            ));
        }
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/contacts", tag = "contacts", request_body = ContactBody,
    responses((status = 201, body = ContactView), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    _user: CurrentUser,
    ApiJson(body): ApiJson<ContactBody>,
) -> AppResult<(StatusCode, Json<ContactView>)> {
    let p = clean(&body)?;
    if p.name.is_none() {
        return Err(AppError::invalid(
            "name",
            "required",
            "name must not be empty",
        ));
    }
    let now = state.store.now();
    let c = state
        .store
        .write(move |txn, fx| {
            let mut c = contacts::create(
                txn,
                fx,
                &ContactFacts {
                    name: p.name.clone(),
                    ..Default::default()
                },
                now,
            )?;
            apply(txn, &mut c, &p)?;
            contacts::put(txn, fx, &c, crate::domain::EventKind::ContactUpdated)?;
            contacts::identify(txn, fx, c.id, now)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(ContactView::from(&c))))
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = String, Path)),
    responses((status = 200, body = ContactView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<ContactView>> {
    let access = user.access(&state).await?;
    let c = state
        .store
        .read(move |txn| match contacts::get(txn, id)? {
            Some(c) if contacts::may_see(txn, &c, &access)? => Ok(c),
            _ => Err(AppError::not_found("contact")),
        })
        .await?;
    Ok(Json(ContactView::from(&c)))
}

#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = String, Path)), request_body = ContactBody,
    responses((status = 200, body = ContactView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
    ApiJson(body): ApiJson<ContactBody>,
) -> AppResult<Json<ContactView>> {
    let p = clean(&body)?;
    let access = user.access(&state).await?;
    let now = state.store.now();
    let c = state
        .store
        .write(move |txn, fx| {
            let mut c = contacts::require_visible_w(txn, id, &access)?;
            let (rut_before, influencer_before) = (c.rut.clone(), c.influencer);
            apply(txn, &mut c, &p)?;
            c.updated_at = now;
            contacts::put(txn, fx, &c, crate::domain::EventKind::ContactUpdated)?;
            // TICK-6: an influencer's open tickets are important (new ones are from the start).
            if c.influencer && !influencer_before {
                contacts::influencer_tickets_important(txn, fx, &c, &access, now)?;
            }
            // A RUT typed in makes this the person who has it.
            if c.rut != rut_before {
                contacts::identify(txn, fx, c.id, now)
            } else {
                Ok(c)
            }
        })
        .await?;
    Ok(Json(ContactView::from(&c)))
}

/// The customer's tickets on every linked profile, newest first (the contact page).
#[utoipa::path(get, path = "/api/v1/contacts/{id}/tickets", tag = "contacts", params(("id" = String, Path)),
    responses((status = 200, body = Page<TicketView>), (status = 404, body = ErrorBody)))]
pub async fn tickets_of(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<Page<TicketView>>> {
    let access = user.access(&state).await?;
    let list = state
        .store
        .read(move |txn| {
            let c = match contacts::get(txn, id)? {
                Some(c) if contacts::may_see(txn, &c, &access)? => c,
                _ => return Err(AppError::not_found("contact")),
            };
            // Hidden accounts' tickets are skipped, so look further than shown.
            Ok(tickets::of_contacts(txn, &contacts::group_of(&c), 500)?
                .into_iter()
                .filter(|t| access.may_see(t.account_id))
                .take(100)
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(Json(Page {
        items: views(&state, list).await?,
        next_cursor: None,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct DuplicateView {
    pub contact: ContactView,
    /// What they share: `email`, `tel`.
    pub shared: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DuplicateList {
    pub items: Vec<DuplicateView>,
}

/// ORG-4 "Posibles duplicados": contacts with the same email or phone, not linked and not said
/// to be someone else.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/duplicates", tag = "contacts", params(("id" = String, Path)),
    responses((status = 200, body = DuplicateList), (status = 404, body = ErrorBody)))]
pub async fn duplicates(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<DuplicateList>> {
    let access = user.access(&state).await?;
    let found = state
        .store
        .read(move |txn| {
            let c = match contacts::get(txn, id)? {
                Some(c) if contacts::may_see(txn, &c, &access)? => c,
                _ => return Err(AppError::not_found("contact")),
            };
            let mut out = Vec::new();
            for (other, shared) in contacts::duplicates(txn, &c)? {
                if contacts::may_see(txn, &other, &access)? {
                    out.push(DuplicateView {
                        contact: ContactView::from(&other),
                        shared,
                    });
                }
            }
            Ok(out)
        })
        .await?;
    Ok(Json(DuplicateList { items: found }))
}

/// An agent says the two are different people: not proposed nor linked automatically again.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/not_same", tag = "contacts", params(("id" = String, Path)), request_body = LinkBody,
    responses((status = 200, body = ContactView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn not_same(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
    ApiJson(body): ApiJson<LinkBody>,
) -> AppResult<Json<ContactView>> {
    between_two(&state, &user, id, &body, contacts::not_same).await
}

/// Says something of two contacts (the same person, or not), both visible to the caller: a
/// link would show each one's tickets beside the other.
async fn between_two(
    state: &AppState,
    user: &CurrentUser,
    id: u64,
    body: &LinkBody,
    say: fn(
        &crate::store::WriteTransaction,
        &mut crate::store::Effects,
        u64,
        u64,
        crate::domain::Millis,
    ) -> AppResult<Contact>,
) -> AppResult<Json<ContactView>> {
    let other = parse_id(&body.contact_id, "contact_id")?;
    let access = user.access(state).await?;
    let now = state.store.now();
    let c = state
        .store
        .write(move |txn, fx| {
            contacts::require_visible_w(txn, id, &access)?;
            contacts::require_visible_w(txn, other, &access)?;
            say(txn, fx, id, other, now)
        })
        .await?;
    Ok(Json(ContactView::from(&c)))
}

/// Takes the contact out of its linked group (a link made by mistake); it is not linked again
/// automatically.
#[utoipa::path(delete, path = "/api/v1/contacts/{id}/link", tag = "contacts", params(("id" = String, Path)),
    responses((status = 200, body = ContactView), (status = 404, body = ErrorBody)))]
pub async fn unlink(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<ContactView>> {
    let access = user.access(&state).await?;
    let now = state.store.now();
    let c = state
        .store
        .write(move |txn, fx| {
            contacts::require_visible_w(txn, id, &access)?;
            contacts::unlink(txn, fx, id, now)
        })
        .await?;
    Ok(Json(ContactView::from(&c)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    pub contact_id: String,
}

#[utoipa::path(post, path = "/api/v1/contacts/{id}/link", tag = "contacts", params(("id" = String, Path)), request_body = LinkBody,
    responses((status = 200, body = ContactView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn link(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
    ApiJson(body): ApiJson<LinkBody>,
) -> AppResult<Json<ContactView>> {
    between_two(&state, &user, id, &body, contacts::link).await
}

/// The contact and everyone linked to it (ORG-4): a customer found brings every profile.
fn group_of_id(txn: &crate::store::ReadTransaction, id: u64) -> AppResult<Vec<u64>> {
    Ok(contacts::get(txn, id)?
        .map(|c| contacts::group_of(&c))
        .unwrap_or_else(|| vec![id]))
}

/// Runs the full-text query off the async runtime.
pub async fn run_search(state: &AppState, q: &str, limit: usize) -> AppResult<Hits> {
    let search = state.search.clone();
    let q = q.to_string();
    tokio::task::spawn_blocking(move || search.query(&q, limit))
        .await
        .map_err(|e| AppError::internal(e.to_string()))?
}

/// Ticket numbers a query names: the number itself, tickets whose messages match, and the
/// latest tickets of matching customers. Visibility is applied by the caller's list query.
pub async fn ticket_numbers_for(state: &AppState, q: &str) -> AppResult<HashSet<u64>> {
    let hits = run_search(state, q, 200).await?;
    Ok(ranked_ticket_numbers(state, q, hits)
        .await?
        .into_iter()
        .collect())
}

async fn ranked_ticket_numbers(state: &AppState, q: &str, hits: Hits) -> AppResult<Vec<u64>> {
    let number = q.trim().trim_start_matches('#').parse::<u64>().ok();
    state
        .store
        .read(move |txn| {
            let mut out: Vec<u64> = Vec::new();
            let mut seen = HashSet::new();
            if let Some(n) = number {
                if tickets::get(txn, n)?.is_some() && seen.insert(n) {
                    out.push(n);
                }
            }
            for cid in &hits.contacts {
                for t in tickets::of_contacts(txn, &group_of_id(txn, *cid)?, 5)? {
                    if seen.insert(t.number) {
                        out.push(t.number);
                    }
                }
            }
            for mid in &hits.messages {
                if let Some(m) = tickets::message(txn, *mid)? {
                    if seen.insert(m.ticket_number) {
                        out.push(m.ticket_number);
                    }
                }
            }
            Ok(out)
        })
        .await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Ticket number (#1234), customer name, username, email, phone, RUT (any format), text.
    pub q: String,
    pub limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResult {
    /// Newest first (an exact ticket number before all).
    pub tickets: Vec<TicketView>,
    pub contacts: Vec<ContactView>,
    /// For tickets found by a message's text: that message's words around the match.
    pub matches: Vec<SearchMatch>,
    /// The ticket Enter opens: the number typed; else the newest ticket of the customer whose
    /// RUT, email or phone was typed whole; else the newest open ticket found; else the newest.
    pub best: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchMatch {
    pub number: u64,
    pub text: String,
    /// Character ranges of `text` (start inclusive, end exclusive) that the query named.
    pub marks: Vec<[usize; 2]>,
}

/// Whether `c` is the one the query names by a whole identifier (RUT, email, phone).
fn named_exactly(c: &Contact, q: &str) -> bool {
    let q = q.trim();
    if let Ok(rut) = Rut::parse(q) {
        if c.rut.as_deref() == Some(rut.normalized().as_str()) {
            return true;
        }
    }
    if c.email
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case(q))
    {
        return true;
    }
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let typed = digits(q);
    typed.len() >= 8
        && q.chars()
            .all(|ch| ch.is_ascii_digit() || " +-().".contains(ch))
        && c.phone
            .as_deref()
            .is_some_and(|p| digits(p).ends_with(&typed))
}

#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchParams),
    responses((status = 200, body = SearchResult), (status = 400, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> AppResult<Json<SearchResult>> {
    let limit = limit_of(p.limit.or(Some(20)))?;
    let q = p.q.trim().to_string();
    if q.is_empty() {
        return Err(AppError::bad_request("invalid_query", "q must not be empty").with_field("q"));
    }
    if q.chars().count() > 200 {
        return Err(
            AppError::bad_request("invalid_query", "q is longer than 200 characters")
                .with_field("q"),
        );
    }
    let access = user.access(&state).await?;
    let hits = run_search(&state, &q, limit).await?;
    let number = q.trim_start_matches('#').parse::<u64>().ok();
    let query = q.clone();
    let (found, cs, matches, best) = state
        .store
        .read(move |txn| {
            let mut seen = HashSet::new();
            let mut found = Vec::new();
            let mut matched: Vec<(u64, String)> = Vec::new(); // ticket, the message that matched
            let mut keep = |t: crate::domain::Ticket, found: &mut Vec<crate::domain::Ticket>| {
                if access.may_see(t.account_id) && seen.insert(t.number) {
                    found.push(t);
                }
            };
            let exact = match number {
                Some(n) => tickets::get(txn, n)?.filter(|t| access.may_see(t.account_id)),
                None => None,
            };
            // A customer found brings their tickets on every linked profile (ORG-4).
            for cid in &hits.contacts {
                for t in tickets::of_contacts(txn, &group_of_id(txn, *cid)?, 5)? {
                    keep(t, &mut found);
                }
            }
            for mid in &hits.messages {
                if let Some(m) = tickets::message(txn, *mid)? {
                    if matched.iter().any(|(n, _)| *n == m.ticket_number) {
                        continue;
                    }
                    if let Some(t) = tickets::get(txn, m.ticket_number)? {
                        keep(t, &mut found);
                    }
                    matched.push((m.ticket_number, m.text));
                }
            }
            found.sort_by(|a, b| {
                b.updated_at
                    .cmp(&a.updated_at)
                    .then(b.number.cmp(&a.number))
            });
            if let Some(t) = &exact {
                found.retain(|f| f.number != t.number);
                found.insert(0, t.clone());
            }
            found.truncate(limit);
            let cs = contacts::visible_among(txn, hits.contacts.clone(), &access)?;
            let named = cs.iter().find(|c| named_exactly(c, &query));
            let newest_of_named = match named {
                Some(c) => tickets::of_contacts(txn, &[c.id], 1)?
                    .into_iter()
                    .find(|t| access.may_see(t.account_id)),
                None => None,
            };
            let best = exact
                .map(|t| t.number)
                .or(newest_of_named.map(|t| t.number))
                .or_else(|| {
                    found
                        .iter()
                        .find(|t| t.state == crate::domain::TicketState::Open)
                        .map(|t| t.number)
                })
                .or(found.first().map(|t| t.number));
            let matches = found
                .iter()
                .filter_map(|t| {
                    let (_, text) = matched.iter().find(|(n, _)| *n == t.number)?;
                    let s = crate::search::snippet(text, &query);
                    Some(SearchMatch {
                        number: t.number,
                        text: s.text,
                        marks: s.marks.into_iter().map(|(a, b)| [a, b]).collect(),
                    })
                })
                .collect();
            Ok((found, cs, matches, best))
        })
        .await?;
    Ok(Json(SearchResult {
        tickets: views(&state, found).await?,
        contacts: cs.iter().map(ContactView::from).collect(),
        matches,
        best,
    }))
}
