//! The contact form channel (CHAN-3): a hosted page (`/f/{account}`), the same page framed on
//! the customer's site (`?embed=1`, or `/f/{account}/embed.js`), and a plain POST endpoint
//! for sites with their own form. Spam is stopped without third parties: a honeypot field, a
//! signed start time (too-fast submissions are bots), and a rate limit per address.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::channels::form::FormSettings;
use crate::domain::rut::Rut;
use crate::domain::{Account, Channel, Millis};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::escape_html;
use crate::http::ApiPath;
use crate::state::AppState;
use crate::store::contacts::ContactFacts;
use crate::store::tickets::{Inbound, Thread};
use crate::store::{accounts, tickets};

/// The invisible field people never fill.
const HONEYPOT: &str = "website";
/// The signed time the page was served at.
const STARTED: &str = "_started";
const MAX_FILES: usize = 5;

fn lang_of(headers: &HeaderMap, settings: &FormSettings) -> &'static str {
    let accepted = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let first = accepted
        .split(',')
        .next()
        .unwrap_or("")
        .trim()
        .to_lowercase();
    if first.starts_with("en") {
        "en"
    } else if first.starts_with("es") {
        "es"
    } else if settings.language.as_deref() == Some("en") {
        "en"
    } else {
        "es"
    }
}

/// A refusal as the customer reads it, in their language: the sentence for its code (naming
/// the field), else a general one. The server's own words stay in the log.
fn refusal_text(lang: &str, e: &AppError) -> String {
    let field = e
        .field
        .as_deref()
        .map(|f| {
            let key = format!("form.{f}");
            let label = crate::locale::text(lang, &key, &[]);
            if label == key {
                f.to_string()
            } else {
                label
            }
        })
        .unwrap_or_default();
    let key = format!("form.error.{}", e.code);
    let sentence = crate::locale::text(lang, &key, &[("field", field)]);
    if sentence == key {
        tracing::info!(code = e.code, message = %e.message, "form submission refused");
        crate::locale::text(lang, "form.error.other", &[])
    } else {
        sentence
    }
}

/// UI text from the shared locale files.
struct Text(&'static str);

impl Text {
    fn load(lang: &'static str) -> Text {
        Text(lang)
    }
    fn get(&self, key: &str) -> String {
        crate::locale::text(self.0, key, &[])
    }
}

async fn form_account(state: &AppState, id: u64) -> AppResult<(Account, FormSettings)> {
    let account = state
        .store
        .read(move |txn| accounts::get(txn, id))
        .await?
        .filter(|a| a.kind == Channel::Form && a.deleted_at.is_none())
        .ok_or_else(|| AppError::not_found("form"))?;
    let settings = FormSettings::of(&account);
    Ok((account, settings))
}

async fn secret(state: &AppState) -> AppResult<Vec<u8>> {
    state.store.read(crate::store::mail::secret).await
}

fn started_token(secret: &[u8], account: u64, at: Millis) -> String {
    format!(
        "{at}.{}",
        crate::mail::thread::tag(secret, &format!("form-start:{account}"), at as u64, 8)
    )
}

/// Who may frame the page: the account's allowed sites (none → only Atiende itself).
fn frame_policy(settings: &FormSettings) -> String {
    // After a submission the page may send the visitor on to the site's thank-you page.
    let redirect = settings
        .redirect_url
        .as_deref()
        .and_then(|u| {
            let (scheme, rest) = u.split_once("://")?;
            let host = rest.split(['/', '?', '#']).next()?;
            (!host.is_empty() && !host.contains([' ', ';', '\'', ',']))
                .then(|| format!(" {scheme}://{host}"))
        })
        .unwrap_or_default();
    let origins: Vec<&str> = settings
        .allowed_origins
        .iter()
        .map(|o| o.trim())
        .filter(|o| o.starts_with("http://") || o.starts_with("https://"))
        .filter(|o| !o.contains([' ', ';', ',', '\'']))
        .collect();
    format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'{redirect}; base-uri 'none'; frame-ancestors 'self' {}",
        origins.join(" ")
    )
}

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    embed: Option<String>,
}

/// GET /f/{account}: the hosted form.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<u64>,
    axum::extract::Query(q): axum::extract::Query<PageQuery>,
) -> Response {
    match render_page(&state, &headers, id, q.embed.is_some(), None, None).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn render_page(
    state: &AppState,
    headers: &HeaderMap,
    id: u64,
    embed: bool,
    error: Option<&str>,
    typed: Option<&HashMap<String, String>>,
) -> AppResult<Response> {
    let (account, settings) = form_account(state, id).await?;
    let lang = lang_of(headers, &settings);
    let text = Text::load(lang);
    let secret = secret(state).await?;
    let started = started_token(&secret, id, state.store.now());
    let required = settings.required();
    let mut fields = String::new();
    for f in settings.fields() {
        let req = required.contains(&f);
        let label = format!(
            "{}{}",
            escape_html(&text.get(&format!("form.{f}"))),
            if req { " *" } else { "" }
        );
        let typed = typed
            .and_then(|t| t.get(&f))
            .map(|v| escape_html(v))
            .unwrap_or_default();
        let value = if typed.is_empty() || f == "message" {
            String::new()
        } else {
            format!(" value=\"{typed}\"")
        };
        let attr = format!("{}{value}", if req { " required" } else { "" });
        let input = match f.as_str() {
            "message" => format!("<textarea id=\"f-{f}\" name=\"{f}\" rows=\"6\" maxlength=\"20000\"{attr}>{typed}</textarea>"),
            // A browser never lets a page fill a file input: the files are chosen again.
            "attachments" => format!(
                "<input id=\"f-{f}\" name=\"{f}\" type=\"file\" multiple{}>",
                if req { " required" } else { "" }
            ),
            "email" => format!("<input id=\"f-{f}\" name=\"{f}\" type=\"email\" autocomplete=\"email\" maxlength=\"254\"{attr}>"),
            "phone" => format!("<input id=\"f-{f}\" name=\"{f}\" type=\"tel\" autocomplete=\"tel\" maxlength=\"40\"{attr}>"),
            "name" => format!("<input id=\"f-{f}\" name=\"{f}\" autocomplete=\"name\" maxlength=\"120\"{attr}>"),
            "rut" => format!("<input id=\"f-{f}\" name=\"{f}\" maxlength=\"20\" placeholder=\"12.345.678-5\"{attr}>"),
            _ => format!("<input id=\"f-{f}\" name=\"{f}\" maxlength=\"200\"{attr}>"),
        };
        fields.push_str(&format!("<label for=\"f-{f}\">{label}</label>{input}\n"));
    }
    let title = settings
        .title
        .clone()
        .unwrap_or_else(|| account.name.clone());
    let intro = settings
        .intro
        .as_deref()
        .map(|i| format!("<p class=\"intro\">{}</p>", escape_html(i)))
        .unwrap_or_default();
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape_html(e)))
        .unwrap_or_default();
    let action = if embed {
        format!("/f/{id}?embed=1")
    } else {
        format!("/f/{id}")
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><link rel=\"stylesheet\" href=\"{css}\"></head>\
<body class=\"{body_class}\"><main><h1>{title}</h1>{intro}{error}\
<form method=\"post\" action=\"{action}\" enctype=\"multipart/form-data\">\n{fields}\
<div class=\"hp\" aria-hidden=\"true\"><label for=\"f-hp\">{hp_label}</label><input id=\"f-hp\" name=\"{HONEYPOT}\" tabindex=\"-1\" autocomplete=\"off\"></div>\
<input type=\"hidden\" name=\"{STARTED}\" value=\"{started}\">\
<button type=\"submit\">{send}</button></form></main></body></html>",
        title = escape_html(&title),
        css = crate::http::assets::url("form.css"),
        body_class = if embed { "embed" } else { "hosted" },
        hp_label = escape_html(&text.get("form.honeypot")),
        send = escape_html(&text.get("form.send")),
    );
    Ok((
        [(header::CONTENT_SECURITY_POLICY, frame_policy(&settings))],
        Html(html),
    )
        .into_response())
}

/// GET /f/{account}/embed.js: puts the form in an iframe where the script tag is.
pub async fn embed_script(State(state): State<AppState>, ApiPath(id): ApiPath<u64>) -> Response {
    if let Err(e) = form_account(&state, id).await {
        return e.into_response();
    }
    // The frame's address comes from where the script itself was loaded (never a Host header).
    let js = format!(
        "(function(){{var s=document.currentScript;var f=document.createElement('iframe');\
f.src=new URL('/f/{id}?embed=1',s.src).href;f.title='Formulario de contacto';f.loading='lazy';\
f.style.width='100%';f.style.minHeight='560px';f.style.border='0';\
s.parentNode.insertBefore(f,s.nextSibling);}})();"
    );
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        js,
    )
        .into_response()
}

/// A submission as read from any encoding.
#[derive(Default)]
struct Submission {
    fields: HashMap<String, String>,
    files: Vec<(String, String, Vec<u8>)>,
}

async fn read_submission(req: Request, max_file: usize) -> AppResult<Submission> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_lowercase();
    let mut sub = Submission::default();
    if ct.starts_with("multipart/form-data") {
        let mut form = Multipart::from_request(req, &())
            .await
            .map_err(|e| AppError::bad_request("invalid_multipart", e.body_text()))?;
        loop {
            let field = match form.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(too_large(max_file))
                }
                Err(e) => return Err(AppError::bad_request("invalid_multipart", e.body_text())),
            };
            let name = field.name().unwrap_or_default().to_string();
            if name == "attachments" {
                let file_name = field.file_name().unwrap_or("archivo").to_string();
                let ctype = field.content_type().map(str::to_string).unwrap_or_else(|| {
                    mime_guess::from_path(&file_name)
                        .first_or_octet_stream()
                        .to_string()
                });
                let bytes = field.bytes().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        too_large(max_file)
                    } else {
                        AppError::bad_request("invalid_multipart", e.body_text())
                    }
                })?;
                if bytes.is_empty() {
                    continue; // an empty file input
                }
                if bytes.len() > max_file {
                    return Err(too_large(max_file));
                }
                if sub.files.len() >= MAX_FILES {
                    return Err(AppError::invalid(
                        "attachments",
                        "too_many_files",
                        format!("at most {MAX_FILES} files"),
                    ));
                }
                sub.files.push((file_name, ctype, bytes.to_vec()));
            } else {
                let value = field
                    .text()
                    .await
                    .map_err(|e| AppError::bad_request("invalid_multipart", e.body_text()))?;
                sub.fields.insert(name, value);
            }
        }
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        let axum::Form(map) = axum::Form::<HashMap<String, String>>::from_request(req, &())
            .await
            .map_err(|e| AppError::bad_request("invalid_body", e.body_text()))?;
        sub.fields = map;
    } else if ct.starts_with("application/json") {
        let Json(map) = Json::<HashMap<String, String>>::from_request(req, &())
            .await
            .map_err(|e| AppError::bad_request("invalid_body", e.body_text()))?;
        sub.fields = map;
    } else {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the form as multipart/form-data, application/x-www-form-urlencoded or JSON",
        ));
    }
    Ok(sub)
}

fn too_large(max: usize) -> AppError {
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("a file is larger than {} KB", max / 1024),
    )
}

/// The checked contents of a submission.
struct Clean {
    facts: ContactFacts,
    subject: Option<String>,
    text: String,
    contact_key: String,
}

fn clean(settings: &FormSettings, sub: &Submission) -> AppResult<Clean> {
    let get = |k: &str| {
        sub.fields
            .get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    for f in settings.required() {
        let present = if f == "attachments" {
            !sub.files.is_empty()
        } else {
            get(&f).is_some()
        };
        if !present {
            return Err(AppError::invalid(
                &f,
                "required",
                format!("{f} is required"),
            ));
        }
    }
    let limit = |k: &str, max: usize| -> AppResult<Option<String>> {
        match get(k) {
            Some(v) if v.chars().count() > max => Err(AppError::invalid(
                k,
                "too_long",
                format!("{k} is longer than {max} characters"),
            )),
            v => Ok(v),
        }
    };
    let name = limit("name", 120)?;
    let phone = limit("phone", 40)?;
    let subject = limit("subject", 200)?;
    let message = limit("message", 20_000)?;
    let email = match get("email") {
        Some(e) => Some(crate::domain::validate_email(&e)?),
        None => None,
    };
    let rut = match get("rut") {
        Some(r) => Some(
            Rut::parse(&r)
                .map_err(|e| AppError::invalid("rut", "invalid_rut", format!("`{r}`: {e}")))?
                .normalized(),
        ),
        None => None,
    };
    let subject = subject.filter(|s| !s.trim().is_empty());
    let text = match (&subject, &message) {
        (Some(s), Some(m)) => format!("{s}\n\n{m}"),
        (Some(s), None) => s.clone(),
        (None, Some(m)) => m.clone(),
        (None, None) => String::new(),
    };
    let text = if text.is_empty() && !sub.files.is_empty() {
        "(adjuntos)".to_string()
    } else {
        text
    };
    if text.is_empty() {
        return Err(AppError::invalid(
            "message",
            "required",
            "the form is empty",
        ));
    }
    let contact_key = email
        .clone()
        .or_else(|| rut.clone().map(|r| format!("rut:{r}")))
        .or_else(|| phone.clone().map(|p| format!("tel:{p}")))
        .unwrap_or_else(|| format!("anon:{}", crate::auth::random_token(12)));
    Ok(Clean {
        facts: ContactFacts {
            name: name.or_else(|| email.clone()),
            email,
            phone,
            rut,
            username: None,
        },
        subject,
        text,
        contact_key,
    })
}

#[derive(Serialize, ToSchema)]
pub struct Submitted {
    pub ticket_number: u64,
    pub created_ticket: bool,
}

/// Checks, stores and confirms one submission; shared by the hosted page and the API.
async fn accept(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    id: u64,
    req: Request,
    hosted: bool,
    echo: &mut Option<HashMap<String, String>>,
) -> AppResult<Submitted> {
    let (account, settings) = form_account(state, id).await?;
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        if !crate::http::api::origin_allowed(state, headers, origin, &settings.allowed_origins)
            .await?
        {
            return Err(AppError::forbidden(format!(
                "this form does not take submissions from {origin}"
            )));
        }
    }
    if !state
        .form_limiter
        .try_begin(&format!("form:{id}:{}", peer.ip()))
    {
        return Err(AppError::too_many(
            "too many submissions from this address; try again later",
        ));
    }
    let sub = read_submission(req, settings.max_file_bytes()).await?;
    // What was typed, to fill the page again if it is refused (nothing typed is lost).
    *echo = Some(sub.fields.clone());
    if sub
        .fields
        .get(HONEYPOT)
        .is_some_and(|v| !v.trim().is_empty())
    {
        tracing::info!(account = id, "form submission refused: honeypot filled");
        return Err(AppError::invalid(
            HONEYPOT,
            "spam_suspected",
            "this submission looks automated",
        ));
    }
    let now = state.store.now();
    // The hosted page always carries its signed start time; a site's own form may not.
    if hosted && !sub.fields.contains_key(STARTED) {
        return Err(AppError::invalid(
            STARTED,
            "form_expired",
            "the form expired; reload the page and send it again",
        ));
    }
    if let Some(token) = sub.fields.get(STARTED) {
        let secret = secret(state).await?;
        let at = token
            .split_once('.')
            .and_then(|(t, _)| t.parse::<Millis>().ok());
        let genuine = at.is_some_and(|at| started_token(&secret, id, at) == *token);
        let min = settings.min_seconds.unwrap_or(3) as Millis * 1000;
        match at {
            Some(at) if genuine && now - at < min => {
                tracing::info!(account = id, "form submission refused: sent too fast");
                return Err(AppError::invalid(
                    STARTED,
                    "too_fast",
                    "the form was sent too fast; wait a moment and send it again",
                ));
            }
            Some(at) if genuine && now - at <= 86_400_000 => {}
            _ => {
                return Err(AppError::invalid(
                    STARTED,
                    "form_expired",
                    "the form expired; reload the page and send it again",
                ))
            }
        }
    }
    let c = clean(&settings, &sub)?;
    // Files are stored first (content-addressed: an orphan after a failure is harmless).
    let blobs = state.store.blobs.clone();
    let files = sub.files;
    let stored =
        tokio::task::spawn_blocking(move || -> AppResult<Vec<crate::store::mail::StoredPart>> {
            files
                .into_iter()
                .map(|(name, ctype, bytes)| {
                    Ok(crate::store::mail::StoredPart {
                        sha256: blobs.put(&bytes)?,
                        name: crate::store::blobs::clean_name(&name),
                        size: bytes.len() as u64,
                        content_type: ctype,
                        content_id: None,
                    })
                })
                .collect()
        })
        .await
        .map_err(|e| AppError::internal(e.to_string()))??;
    let lang = lang_of(headers, &settings);
    let confirm = settings.confirm_by_email.unwrap_or(true);
    let confirm_allowed = c
        .facts
        .email
        .as_ref()
        .is_some_and(|e| state.confirm_limiter.try_begin(&format!("confirm:{e}")));
    let account_name = settings.title.clone().unwrap_or(account.name.clone());
    let submission_id = crate::auth::random_token(12);
    let done = state
        .store
        .write(move |txn, fx| {
            let parts = crate::store::mail::insert_parts(txn, &stored, now)?;
            let inbound = Inbound {
                subject: c.subject.clone(),
                files: Vec::new(),
                reply_to_external: None,
                notes: Vec::new(),
                account_id: id,
                external_id: format!("form:{submission_id}"),
                contact_external_id: c.contact_key.clone(),
                contact: c.facts.clone(),
                text: c.text.clone(),
                public: false,
                reply_to: None,
                attachments: parts.iter().map(|(a, _)| *a).collect(),
                sent_at: None,
                uploader: None,
                thread: Thread::ByContact,
            };
            let got = tickets::ingest(txn, fx, &inbound, now)?;
            if let (true, Some(email)) = (confirm && confirm_allowed, &c.facts.email) {
                let mail = crate::mail::templates::render(
                    "form_received",
                    lang,
                    email,
                    // Nothing the sender typed: the confirmation must not carry their words
                    // to whatever address they gave.
                    &[
                        ("account", &account_name),
                        ("number", &got.ticket_number.to_string()),
                    ],
                )?;
                crate::mail::queue_system(txn, mail, now)?;
            }
            Ok(got)
        })
        .await?;
    Ok(Submitted {
        ticket_number: done.ticket_number,
        created_ticket: done.created_ticket,
    })
}

#[utoipa::path(post, path = "/api/v1/forms/{id}/submissions", tag = "forms", params(("id" = String, Path)),
    request_body(content_type = "multipart/form-data", description = "fields name, email, phone, rut, subject, message, files in `attachments`; or the same as application/x-www-form-urlencoded or JSON"),
    responses((status = 201, body = Submitted), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiPath(id): ApiPath<u64>,
    req: Request,
) -> AppResult<(StatusCode, Json<Submitted>)> {
    let headers = req.headers().clone();
    let done = accept(&state, &headers, peer, id, req, false, &mut None).await?;
    Ok((StatusCode::CREATED, Json(done)))
}

/// POST /f/{account}: the hosted (or framed) page's own submission; answers with a page.
pub async fn submit_page(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiPath(id): ApiPath<u64>,
    axum::extract::Query(q): axum::extract::Query<PageQuery>,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    let embed = q.embed.is_some();
    let mut typed = None;
    match accept(&state, &headers, peer, id, req, true, &mut typed).await {
        Ok(done) => {
            let Ok((account, settings)) = form_account(&state, id).await else {
                return AppError::not_found("form").into_response();
            };
            if let Some(url) = settings.redirect_url.as_ref().filter(|_| !embed) {
                return Redirect::to(url).into_response();
            }
            let text = Text::load(lang_of(&headers, &settings));
            let thanks = settings
                .thanks
                .clone()
                .unwrap_or_else(|| text.get("form.thanks"));
            let html = format!(
                "<!doctype html>\n<html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title><link rel=\"stylesheet\" href=\"{css}\"></head>\
<body class=\"{class}\"><main><h1>{title}</h1><p class=\"thanks\" role=\"status\">{thanks}</p><p class=\"number\">{ticket} #{number}</p></main></body></html>",
                title = escape_html(&settings.title.clone().unwrap_or(account.name)),
                css = crate::http::assets::url("form.css"),
                class = if embed { "embed" } else { "hosted" },
                thanks = escape_html(&thanks),
                ticket = escape_html(&text.get("form.ticket")),
                number = done.ticket_number,
            );
            (
                [(header::CONTENT_SECURITY_POLICY, frame_policy(&settings))],
                Html(html),
            )
                .into_response()
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => e.into_response(),
        Err(e) => {
            let status = e.status;
            let lang = match form_account(&state, id).await {
                Ok((_, settings)) => lang_of(&headers, &settings),
                Err(_) => "es",
            };
            let message = refusal_text(lang, &e);
            let refill = typed.as_ref().filter(|_| e.code != "spam_suspected");
            match render_page(&state, &headers, id, embed, Some(&message), refill).await {
                Ok(mut page) => {
                    *page.status_mut() = status;
                    page
                }
                Err(e) => e.into_response(),
            }
        }
    }
}
