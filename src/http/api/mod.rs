//! `/api/v1`: one file per resource. Every handler carries a `#[utoipa::path]`, and
//! `routes!` registers it from that same annotation, so the OpenAPI document cannot miss an
//! endpoint.

pub mod accounts;
pub mod assignment;
pub mod audit;
pub mod avatar;
pub mod backups;
pub mod board;
pub mod calendars;
pub mod catalog;
pub mod changelog;
pub mod contact_files;
pub mod contacts;
pub mod events;
pub mod export_jobs;
pub mod exports;
pub mod fields;
pub mod health;
pub mod mail;
pub mod messages;
pub mod notifications;
pub mod password_resets;
pub mod reports;
pub mod segments;
pub mod session;
pub mod settings;
pub mod setup;
pub mod sla_policies;
pub mod status;
pub mod storage;
pub mod templates;
pub mod tickets;
pub mod two_factor;
pub mod uploads;
pub mod users;
pub mod webhooks;

use axum::extract::DefaultBodyLimit;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::clock::{parse_rfc3339, to_rfc3339};
use crate::domain::Millis;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub fn routes(
    r: OpenApiRouter<AppState>,
    max_body: usize,
    max_upload: usize,
) -> OpenApiRouter<AppState> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(uploads::upload))
        .routes(routes!(avatar::put, avatar::delete))
        .routes(routes!(contact_files::import_csv))
        .layer(DefaultBodyLimit::max(max_upload + 64 * 1024));
    let api = OpenApiRouter::new()
        .routes(routes!(
            session::current,
            session::sign_in,
            session::sign_out
        ))
        .routes(routes!(session::create_token, session::list_tokens))
        .routes(routes!(session::revoke_token))
        .routes(routes!(contacts::duplicates))
        .routes(routes!(contact_files::export_csv))
        .routes(routes!(contacts::tickets_of))
        .routes(routes!(contacts::not_same))
        .routes(routes!(setup::status, setup::create_first_admin))
        .routes(routes!(users::me))
        .routes(routes!(avatar::get))
        .routes(routes!(session::my_sessions))
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::mark_read))
        .routes(routes!(two_factor::start, two_factor::disable))
        .routes(routes!(two_factor::confirm))
        .routes(routes!(two_factor::renew_codes))
        .routes(routes!(two_factor::get_policy, two_factor::put_policy))
        .routes(routes!(session::end_session))
        .routes(routes!(session::end_other_sessions))
        .routes(routes!(audit::list))
        .routes(routes!(audit::export))
        .routes(routes!(password_resets::request))
        .routes(routes!(password_resets::check, password_resets::complete))
        .routes(routes!(mail::resend))
        .routes(routes!(mail::escalate))
        .routes(routes!(status::json))
        .routes(routes!(settings::get_public_url, settings::put_public_url))
        .routes(routes!(backups::list, backups::create))
        .routes(routes!(storage::show))
        .routes(routes!(storage::compact))
        .routes(routes!(users::set_status))
        .routes(routes!(board::get, board::put))
        .routes(routes!(changelog::latest))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update))
        .routes(routes!(users::deactivate))
        .routes(routes!(users::reactivate))
        .routes(routes!(users::resend_invitation))
        .routes(routes!(accounts::list, accounts::create))
        .routes(routes!(accounts::get, accounts::update, accounts::delete))
        .routes(routes!(accounts::inbound))
        .routes(routes!(accounts::check))
        .routes(routes!(templates::list))
        .routes(routes!(templates::sync))
        .routes(routes!(accounts::channel_kinds))
        .routes(routes!(accounts::get_assignment, accounts::put_assignment))
        .routes(routes!(assignment::why))
        .routes(routes!(assignment::list_states, assignment::create_state))
        .routes(routes!(assignment::update_state, assignment::delete_state))
        .routes(routes!(assignment::get_settings, assignment::put_settings))
        .routes(routes!(tickets::list))
        .routes(routes!(tickets::export_tickets))
        .routes(routes!(messages::export_messages))
        .routes(routes!(messages::list))
        .routes(routes!(tickets::bulk))
        .routes(routes!(tickets::get, tickets::update))
        .routes(routes!(tickets::messages, tickets::reply))
        .routes(routes!(tickets::comments, tickets::add_comment))
        .routes(routes!(tickets::history))
        .routes(routes!(tickets::transcript))
        .routes(routes!(tickets::previous))
        .routes(routes!(tickets::presence))
        .routes(routes!(tickets::merge))
        .routes(routes!(contacts::list, contacts::create))
        .routes(routes!(contacts::get, contacts::update))
        .routes(routes!(contacts::link, contacts::unlink))
        .routes(routes!(contacts::search))
        .routes(routes!(catalog::list_labels, catalog::create_label))
        .routes(routes!(catalog::update_label, catalog::delete_label))
        .routes(routes!(catalog::label_usage))
        .routes(routes!(catalog::merge_label))
        .routes(routes!(catalog::list_teams, catalog::create_team))
        .routes(routes!(catalog::update_team, catalog::delete_team))
        .routes(routes!(catalog::list_canned, catalog::create_canned))
        .routes(routes!(catalog::update_canned, catalog::delete_canned))
        .routes(routes!(calendars::list, calendars::create))
        .routes(routes!(calendars::update, calendars::delete))
        .routes(routes!(calendars::chile))
        .routes(routes!(sla_policies::list, sla_policies::create))
        .routes(routes!(sla_policies::update, sla_policies::delete))
        .routes(routes!(export_jobs::list, export_jobs::create))
        .routes(routes!(export_jobs::download))
        .routes(routes!(export_jobs::delete))
        .routes(routes!(reports::tickets))
        .routes(routes!(reports::typifications))
        .routes(routes!(reports::agent_states))
        .routes(routes!(reports::get_settings, reports::put_settings))
        .routes(routes!(segments::list, segments::create))
        .routes(routes!(segments::update, segments::delete))
        .routes(routes!(fields::list, fields::create))
        .routes(routes!(fields::update, fields::delete))
        .routes(routes!(uploads::download))
        .routes(routes!(events::stream))
        .routes(routes!(webhooks::receive, webhooks::verify))
        .merge(crate::channels::routes(max_upload))
        .layer(DefaultBodyLimit::max(max_body));
    r.merge(api).merge(uploads)
}

/// A page of a list (API.md): `next_cursor` is null on the last page.
#[derive(Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub fn id_str(id: u64) -> String {
    id.to_string()
}

pub fn opt_id(id: Option<u64>) -> Option<String> {
    id.map(id_str)
}

pub fn ts(ms: Millis) -> String {
    to_rfc3339(ms)
}

pub fn opt_ts(ms: Option<Millis>) -> Option<String> {
    ms.map(to_rfc3339)
}

/// Parses an id given as a JSON string (or number written as a string).
pub fn parse_id(s: &str, field: &str) -> AppResult<u64> {
    s.trim()
        .parse::<u64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| AppError::invalid(field, "invalid_id", format!("`{s}` is not a valid id")))
}

pub fn parse_time(s: &str, field: &str) -> AppResult<Millis> {
    parse_rfc3339(s).ok_or_else(|| {
        AppError::bad_request(
            "invalid_query",
            format!("{field} must be an RFC 3339 time, e.g. 2026-11-23T10:00:00Z"),
        )
        .with_field(field)
    })
}

/// A list's `field` filter, `{field id}:{value}` (profile fields on contacts, typifications
/// on tickets).
pub fn field_filter(v: &Option<String>) -> AppResult<Option<(String, String)>> {
    match v.as_deref().filter(|s| !s.is_empty()) {
        Some(f) => {
            let (id, value) = f
                .split_once(':')
                .filter(|(id, v)| !id.is_empty() && !v.is_empty())
                .ok_or_else(|| {
                    AppError::bad_request("invalid_query", "field is `{field id}:{value}`")
                        .with_field("field")
                })?;
            Ok(Some((
                parse_id(id, "field")?.to_string(),
                value.to_string(),
            )))
        }
        None => Ok(None),
    }
}

pub fn limit_of(limit: Option<usize>) -> AppResult<usize> {
    match limit {
        None => Ok(50),
        Some(l) if (1..=200).contains(&l) => Ok(l),
        Some(_) => Err(
            AppError::bad_request("invalid_query", "limit must be between 1 and 200")
                .with_field("limit"),
        ),
    }
}

/// Required, trimmed, bounded text.
pub fn text_field(value: &str, field: &str, max_chars: usize) -> AppResult<String> {
    let t = value.trim();
    if t.is_empty() {
        return Err(AppError::invalid(
            field,
            "required",
            format!("{field} must not be empty"),
        ));
    }
    if t.chars().count() > max_chars {
        return Err(AppError::invalid(
            field,
            "too_long",
            format!("{field} is longer than {max_chars} characters"),
        ));
    }
    Ok(t.to_string())
}

/// A person's or a thing's name: like `text_field`, on one line (names reach mail headers).
pub fn name_field(value: &str, field: &str, max_chars: usize) -> AppResult<String> {
    text_field(&crate::domain::one_line(value), field, max_chars)
}

/// The Host this request came to, as a base URL (https when cookies are marked secure, i.e.
/// behind TLS). Client-chosen: never trusted for mail an anonymous caller can trigger.
pub fn request_base(state: &AppState, headers: &axum::http::HeaderMap) -> Option<String> {
    let host = request_host(headers)?;
    let behind_https = headers
        .get(crate::http::proxy::CHECKED_PROTO)
        .is_some_and(|v| v == "https");
    let scheme = if state.config.secure_cookies || behind_https {
        "https"
    } else {
        "http"
    };
    Some(format!("{scheme}://{host}"))
}

pub use crate::tls::request_host;

/// `null` clears a field; an absent field is left as it is.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// Where people open Atiende, for links in mail: `--public-url` (or the HTTPS domain), else
/// the stored address (first-run page, Administración, or the first administrator's sign-in),
/// else — for signed-in callers only — this request's Host. None when an anonymous request would have to trust its own Host header
/// (a forged Host would otherwise put a reset token in a link to someone else's site).
pub async fn link_base(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    signed_in: bool,
) -> AppResult<Option<String>> {
    if let Some(u) = &state.config.public_url {
        return Ok(Some(u.clone()));
    }
    let learned = state
        .store
        .read(crate::store::mail::stored_public_url)
        .await?;
    Ok(learned.or_else(|| signed_in.then(|| request_base(state, headers)).flatten()))
}

/// Whether a browser request's `Origin` is Atiende itself (the public URL, the address an
/// admin signed in at, or this request's Host) or one of an account's allowed sites.
pub async fn origin_allowed(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    origin: &str,
    allowed: &[String],
) -> AppResult<bool> {
    let listed = allowed
        .iter()
        .any(|o| o.trim().trim_end_matches('/').eq_ignore_ascii_case(origin));
    if listed {
        return Ok(true);
    }
    let own = [
        link_base(state, headers, false).await?,
        request_base(state, headers),
    ];
    Ok(own
        .iter()
        .flatten()
        .any(|b| b.trim_end_matches('/').eq_ignore_ascii_case(origin)))
}
