//! OPS-2 and OPS-5: the status page (`/status`, and `GET /api/v1/status` as JSON) and the
//! Prometheus metrics (`/metrics`). Everyone sees whether Atiende and its channels work;
//! signed-in administrators also see each channel's last error. `/metrics` answers loopback
//! and administrators only.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::backup::service::BackupRecord;
use crate::domain::{Channel, Role};
use crate::error::{AppError, AppResult};
use crate::health::{Health, HealthStatus};
use crate::http::escape_html;
use crate::state::AppState;
use crate::store::{accounts, Store};

#[derive(Serialize, ToSchema)]
pub struct ChannelStatus {
    pub account_id: String,
    pub name: String,
    pub kind: Channel,
    /// Polled channels only; the last error is shown to administrators.
    pub health: Option<Health>,
}

#[derive(Serialize, ToSchema)]
pub struct Status {
    /// ok, degraded (a channel fails) or failing (the store takes no writes).
    pub status: String,
    /// False for visitors: the figures below are then zero, for administrators and this
    /// machine only.
    pub details: bool,
    pub version: String,
    pub uptime_seconds: u64,
    pub store_writable: bool,
    /// Durable group commits since start.
    pub commits: u64,
    /// Mails queued or being sent.
    pub mail_outbox: u64,
    /// Answers of other channels waiting to reach their customer.
    pub outbox: u64,
    /// Web chat visitors with the chat open now.
    pub chat_visitors: u64,
    /// Free space where the data dir lives.
    pub disk_free_bytes: Option<u64>,
    /// ok, low (below the warning threshold; administrators only) or full (writes are refused
    /// until space is freed, then resume by themselves).
    pub disk: String,
    /// The last backup, successful or not (administrators only).
    pub last_backup: Option<BackupRecord>,
    /// The certificate, when Atiende serves HTTPS itself (administrators only).
    pub tls: Option<crate::tls::TlsStatus>,
    /// No public address is known: links in mail that anyone may ask for (a password reset)
    /// are not sent until an administrator sets it (administrators only).
    pub public_url_missing: bool,
    pub channels: Vec<ChannelStatus>,
}

/// Whether the store takes writes, probed with an empty commit at most every 15 s (a status
/// page anyone may open must not make the disk work on every hit).
async fn writable(state: &AppState) -> bool {
    if state.store.disk_state() != crate::store::slot::DiskState::Ok {
        return false;
    }
    static LAST: std::sync::Mutex<Option<(std::time::Instant, bool)>> = std::sync::Mutex::new(None);
    let cached = LAST
        .lock()
        .ok()
        .and_then(|l| *l)
        .filter(|(at, _)| at.elapsed() < std::time::Duration::from_secs(15));
    if let Some((_, ok)) = cached {
        return ok;
    }
    let ok = state.store.write(|_, _| Ok(())).await.is_ok();
    if let Ok(mut l) = LAST.lock() {
        *l = Some((std::time::Instant::now(), ok));
    }
    ok
}

async fn gather(state: &AppState, details: bool, lang: &str) -> AppResult<Status> {
    let writable = writable(state).await;
    let store: Store = state.store.clone();
    // A closed store (a full disk) must not take the status page down: it is what it reports.
    let (depths, list) = store
        .read(|txn| Ok((crate::store::outbox::depths(txn)?, accounts::list(txn)?)))
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e.message, "status: store unreadable");
            ((0, 0), Vec::new())
        });
    let (disk, space) = crate::disk_watch::level(state);
    let health = state.health.all();
    let channels: Vec<ChannelStatus> = list
        .iter()
        .map(|a| ChannelStatus {
            account_id: a.id.to_string(),
            name: a.name.clone(),
            kind: a.kind,
            health: health.iter().find(|(id, _)| *id == a.id).map(|(_, h)| {
                let mut h = h.clone().in_lang(lang);
                if !details {
                    h.last_error_note = None;
                    h.notice = None;
                    h.notice_note = None;
                    h.notice_at = None;
                    // Anyone sees up or down; the rest is for administrators.
                    h.last_error = None;
                    h.last_error_detail = None;
                    h.last_error_at = None;
                    h.connected_at = None;
                    h.fetched = 0;
                    h.skipped = 0;
                    h.failures = 0;
                }
                h
            }),
        })
        .collect();
    let failing = channels.iter().any(|c| {
        c.health
            .as_ref()
            .is_some_and(|h| h.status == HealthStatus::Failing)
    });
    let shown = |v: u64| if details { v } else { 0 };
    Ok(Status {
        details,
        status: if !writable {
            "failing"
        } else if failing {
            "degraded"
        } else {
            "ok"
        }
        .into(),
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_seconds: shown(state.started.elapsed().as_secs()),
        store_writable: writable,
        commits: shown(state.store.commit_count()),
        mail_outbox: shown(depths.0),
        outbox: shown(depths.1),
        chat_visitors: shown(state.chat_online.count()),
        disk_free_bytes: space.map(|s| s.free).filter(|_| details),
        disk: match disk {
            crate::disk_watch::Level::Full => "full",
            crate::disk_watch::Level::Low if details => "low",
            _ => "ok",
        }
        .into(),
        // An unreadable record must not take the status page down with it.
        last_backup: if details {
            crate::backup::service::last(&state.store)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e.message, "last backup record unreadable");
                    None
                })
        } else {
            None
        },
        tls: state.tls.as_ref().filter(|_| details).map(|t| t.status()),
        public_url_missing: details
            && state.config.public_url.is_none()
            && state
                .store
                .read(crate::store::mail::stored_public_url)
                .await
                .ok()
                .flatten()
                .is_none(),
        channels,
    })
}

/// A metric family of channel health: name, type, help, and the value per channel.
type Family = (&'static str, &'static str, &'static str, fn(&Health) -> u64);

fn is_admin(user: &Option<CurrentUser>) -> bool {
    user.as_ref().is_some_and(|u| u.user.role == Role::Admin)
}

/// A request from this machine itself — not one a local reverse proxy forwards (those carry
/// forwarding headers and come from anywhere).
fn is_local(peer: &SocketAddr, headers: &HeaderMap) -> bool {
    let forwarded = crate::http::proxy::FORWARDING_HEADERS
        .iter()
        .any(|h| headers.contains_key(*h));
    peer.ip().to_canonical().is_loopback() && !forwarded
}

#[utoipa::path(get, path = "/api/v1/status", tag = "service",
    responses((status = 200, body = Status), (status = 503, body = Status)))]
pub async fn json(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
) -> AppResult<(StatusCode, Json<Status>)> {
    let lang = user.as_ref().map_or("es", |u| u.lang());
    let s = gather(&state, is_admin(&user), lang).await?;
    let code = if s.store_writable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok((code, Json(s)))
}

/// GET /status: the human page (Spanish, or English for browsers that ask for it).
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Option<CurrentUser>,
) -> Response {
    let lang = crate::locale::lang(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim_start(),
    );
    let s = match gather(&state, is_admin(&user), lang).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    // The page's words, from the locale files.
    let tr = |key: &str| crate::locale::text(lang, &format!("status_page.{key}"), &[]);
    let tr_with = |key: &str, vars: &[(&str, String)]| {
        crate::locale::text(lang, &format!("status_page.{key}"), vars)
    };
    let state_text = tr(match s.status.as_str() {
        "ok" => "ok",
        "degraded" => "degraded",
        _ => "not_saving",
    });
    let mut rows = String::new();
    for c in &s.channels {
        let (health, error) = match &c.health {
            Some(h) => (
                crate::locale::text(
                    lang,
                    match h.status {
                        HealthStatus::Connected => "health.connected",
                        HealthStatus::Connecting => "health.connecting",
                        HealthStatus::Failing => "health.failing",
                        HealthStatus::NotConfigured => "health.not_configured",
                    },
                    &[],
                ),
                [h.last_error.as_deref(), h.notice.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · "),
            ),
            None => ("—".to_string(), String::new()),
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{health}</td><td>{}</td></tr>",
            escape_html(&c.name),
            crate::locale::text(lang, &format!("channel.{}", c.kind.as_str()), &[]),
            escape_html(&error)
        ));
    }
    let gib = |b: u64| format!("{:.1} GB", b as f64 / 1e9);
    // The figures are for administrators (signed in) only.
    let figures = if s.details {
        format!(
            "<dt>{up}</dt><dd>{uptime} s</dd><dt>{mail}</dt><dd>{mail_outbox}</dd><dt>{other}</dt><dd>{outbox}</dd>\
<dt>{chats}</dt><dd>{chat}</dd><dt>{disk}</dt><dd>{free}</dd><dt>{backup}</dt><dd class=\"last-backup\">{last_backup}</dd>{certificate}",
            up = tr("up"),
            uptime = s.uptime_seconds,
            mail = tr("mail_queued"),
            mail_outbox = s.mail_outbox,
            other = tr("other_waiting"),
            outbox = s.outbox,
            chats = tr("chat_visitors"),
            chat = s.chat_visitors,
            disk = tr("disk_free"),
            free = s.disk_free_bytes.map(gib).unwrap_or_else(|| "—".into()),
            backup = tr("last_backup"),
            certificate = s.tls.as_ref().map_or(String::new(), |t| format!(
                "<dt>{}</dt><dd class=\"certificate\">{}</dd>",
                tr("certificate"),
                escape_html(&format!(
                    "{} {}{}",
                    t.names.join(", "),
                    t.not_after.as_deref().map_or_else(
                        || tr("no_certificate"),
                        |at| tr_with("valid_until", &[("at", at.to_string())])
                    ),
                    t.last_error.as_deref().map_or(String::new(), |e| format!(
                        " — {}",
                        tr_with("renewal_failed", &[("error", e.to_string())])
                    ))
                ))
            )),
            last_backup = escape_html(&match &s.last_backup {
                Some(b) => match &b.error {
                    Some(e) => tr_with(
                        "backup_failed",
                        &[("at", b.at.to_string()), ("error", e.to_string())]
                    ),
                    None => format!(
                        "{} — {} ({:.1} MB)",
                        b.at,
                        if b.file.is_empty() { "atiende backup" } else { &b.file },
                        b.bytes as f64 / 1e6
                    ),
                },
                None if state.config.backup.every_hours == 0 => {
                    tr("backups_off")
                }
                None => tr_with(
                    "backup_none_yet",
                    &[("hours", state.config.backup.every_hours.to_string())]
                ),
            }),
        )
    } else {
        String::new()
    };
    let mut warning = String::new();
    let mut warn = |text: &str| {
        warning.push_str(&format!("<p class=\"error\" role=\"alert\">{text}</p>"));
    };
    // The same words as the app's banner.
    match s.disk.as_str() {
        "full" => warn(&crate::locale::text(lang, "service.disk_full", &[])),
        "low" => warn(&crate::locale::text(lang, "service.disk_low", &[])),
        _ => {}
    }
    if s.public_url_missing {
        warn(&crate::locale::text(
            lang,
            "service.public_url_missing",
            &[],
        ));
    }
    let html = format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Atiende · {title}</title><link rel=\"stylesheet\" href=\"{css}\"></head><body class=\"hosted\"><main>\
<h1>{title}</h1><p class=\"status status-{code}\" role=\"status\">{state_text}</p>{warning}\
<dl><dt>{v}</dt><dd>{version}</dd>{figures}</dl>\
<h2>{channels}</h2><table><thead><tr><th>{name}</th><th>{kind}</th><th>{conn}</th><th></th></tr></thead><tbody>{rows}</tbody></table>\
</main></body></html>",
        title = tr("title"),
        css = crate::http::assets::url("form.css"),
        code = s.status,
        v = tr("version"),
        version = s.version,
        channels = tr("channels"),
        name = tr("account"),
        kind = tr("channel"),
        conn = tr("connection"),
    );
    let code = if s.store_writable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Html(html)).into_response()
}

/// GET /metrics: Prometheus text, for the machine itself (loopback) or an administrator.
pub async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    user: Option<CurrentUser>,
) -> AppResult<Response> {
    if !is_local(&peer, &headers) && !is_admin(&user) {
        return Err(AppError::forbidden(
            "metrics are served to this machine (loopback) or an administrator's token",
        ));
    }
    let s = gather(&state, true, "en").await?;
    let mut out = String::new();
    let gauge = |out: &mut String, name: &str, help: &str, value: u64| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        ));
    };
    gauge(
        &mut out,
        "atiende_up",
        "1 when the store takes writes.",
        s.store_writable as u64,
    );
    gauge(
        &mut out,
        "atiende_uptime_seconds",
        "Seconds since start.",
        s.uptime_seconds,
    );
    out.push_str(&format!(
        "# HELP atiende_commits_total Durable group commits since start.\n# TYPE atiende_commits_total counter\natiende_commits_total {}\n",
        s.commits
    ));
    gauge(
        &mut out,
        "atiende_mail_outbox",
        "Mails queued or being sent.",
        s.mail_outbox,
    );
    gauge(
        &mut out,
        "atiende_outbox",
        "Answers of other channels waiting.",
        s.outbox,
    );
    gauge(
        &mut out,
        "atiende_chat_visitors",
        "Web chat visitors with the chat open.",
        s.chat_visitors,
    );
    if let Some(free) = s.disk_free_bytes {
        gauge(
            &mut out,
            "atiende_disk_free_bytes",
            "Free space of the data dir's disk.",
            free,
        );
    }
    if let Some(b) = &s.last_backup {
        gauge(
            &mut out,
            "atiende_last_backup_ok",
            "1 when the last backup worked.",
            b.error.is_none() as u64,
        );
        gauge(
            &mut out,
            "atiende_last_backup_timestamp_seconds",
            "When the last backup was taken (Unix time).",
            (b.at_ms / 1000).max(0) as u64,
        );
    }
    // Each metric's lines stay together (the text format wants one group per metric).
    let families: [Family; 4] = [
        (
            "atiende_channel_up",
            "gauge",
            "1 when the account's poller is connected.",
            |h| (h.status == HealthStatus::Connected) as u64,
        ),
        (
            "atiende_channel_fetched_total",
            "counter",
            "Items read from the channel since start.",
            |h| h.fetched,
        ),
        (
            "atiende_channel_skipped_total",
            "counter",
            "Items not stored as messages (logged).",
            |h| h.skipped,
        ),
        (
            "atiende_channel_failures",
            "gauge",
            "Failed connection attempts in a row.",
            |h| h.failures as u64,
        ),
    ];
    for (name, kind, help, value) in families {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for c in &s.channels {
            if let Some(h) = &c.health {
                out.push_str(&format!(
                    "{name}{{account=\"{}\",kind=\"{}\"}} {}\n",
                    c.account_id,
                    c.kind.as_str(),
                    value(h)
                ));
            }
        }
    }
    state.metrics.render(&mut out);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response())
}
