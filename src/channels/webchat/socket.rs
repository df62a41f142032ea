//! The web chat channel (CHAN-2): the widget (`/widget.js`) talks to one WebSocket per
//! visitor. A visitor is a token the widget keeps (only its hash is stored); the socket only
//! ever carries that visitor's own conversation. Origins are checked against the account's
//! allowed sites; sessions and messages are rate-limited.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;

use crate::domain::calendar::Calendar;
use serde_json::{json, Value};

use crate::channels::webchat::ChatSettings;
use crate::domain::rut::Rut;
use crate::domain::{Account, Channel, DeliveryStatus, Direction, Event, Message, VisitorSession};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiPath, ApiQuery};
use crate::state::AppState;
use crate::store::contacts::ContactFacts;
use crate::store::tickets::{Inbound, Thread};
use crate::store::{accounts, chat, tickets, users};

const PING_EVERY: Duration = Duration::from_secs(25);
const SILENT_FOR: Duration = Duration::from_secs(60);
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
const HISTORY: usize = 100;
const MAX_TEXT: usize = 5_000;

async fn chat_account(state: &AppState, id: u64) -> AppResult<(Account, ChatSettings)> {
    let account = state
        .store
        .read(move |txn| accounts::get(txn, id))
        .await?
        .filter(|a| a.kind == Channel::Webchat && a.deleted_at.is_none())
        .ok_or_else(|| AppError::not_found("chat"))?;
    let settings = ChatSettings::of(&account);
    Ok((account, settings))
}

#[utoipa::path(get, path = "/api/v1/chat/{id}/ws", tag = "chat", params(("id" = String, Path)),
    responses((status = 101, description = "WebSocket: the visitor sends {type: hello|start|message|file|typing|read}, receives {type: session|message|typing|read|status|error}"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn socket(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<u64>,
    ws: WebSocketUpgrade,
) -> AppResult<Response> {
    let (account, settings) = chat_account(&state, id).await?;
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if origin.is_empty()
        || !crate::http::api::origin_allowed(&state, &headers, &origin, &settings.allowed_origins)
            .await?
    {
        return Err(AppError::forbidden(format!(
            "this chat does not open on `{origin}`; add the site to the account's allowed sites"
        )));
    }
    // Base64 makes a file a third larger.
    let max = settings.max_file_bytes() * 4 / 3 + 64 * 1024;
    Ok(ws
        .max_message_size(max.max(256 * 1024))
        .on_upgrade(move |socket| async move {
            Visitor::run(state, account, settings, peer, socket).await;
        }))
}

#[derive(Deserialize)]
pub struct FileQuery {
    token: String,
}

#[utoipa::path(get, path = "/api/v1/chat/{id}/files/{file}", tag = "chat",
    params(("id" = String, Path), ("file" = String, Path), ("token" = String, Query)),
    responses((status = 200, description = "a file of the visitor's own conversation"), (status = 404, body = ErrorBody)))]
pub async fn file(
    State(state): State<AppState>,
    ApiPath((id, file)): ApiPath<(u64, u64)>,
    ApiQuery(q): ApiQuery<FileQuery>,
) -> AppResult<Response> {
    let hash = crate::auth::sha256_hex(&q.token);
    let found = state
        .store
        .read(move |txn| {
            let Some(s) = chat::session(txn, &hash)?.filter(|s| s.account_id == id) else {
                return Ok(None);
            };
            let Some(a) = crate::store::catalog::get::<crate::domain::Attachment>(txn, file)?
            else {
                return Ok(None);
            };
            let Some(number) = a.ticket_number else {
                return Ok(None);
            };
            let mine = tickets::get(txn, number)?.is_some_and(|t| t.contact_id == s.contact_id);
            Ok(mine.then_some(a))
        })
        .await?
        .ok_or_else(|| AppError::not_found("file"))?;
    crate::http::api::uploads::serve(&state, &found).await
}

/// GET /widget.js: the embeddable chat (a stable URL for the host page's script tag).
pub async fn widget() -> Response {
    match widget_script() {
        Some(script) => (
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            script,
        )
            .into_response(),
        None => AppError::not_found("file").into_response(),
    }
}

/// The visitor's notice: the account's text when it has one, else the widget's words for `code`.
fn notice(code: &str, custom: &Option<String>) -> serde_json::Value {
    json!({"notice": custom, "notice_code": code})
}

/// The widget's words, from the locale files, written where the script leaves room for them
/// (once in a release build; debug builds read the files from disk, so edits show).
fn widget_script() -> Option<String> {
    static SERVED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let make = || {
        crate::http::assets::file("widget.js")
            .map(|f| with_locale(&String::from_utf8_lossy(&f.data)))
    };
    if cfg!(debug_assertions) {
        return make();
    }
    SERVED.get_or_init(make).clone()
}

fn with_locale(script: &str) -> String {
    script.replacen(
        "/*locale*/ {}",
        &crate::locale::section("widget.").to_string(),
        1,
    )
}

/// A frame from the widget (what a stranger's browser sends).
pub(crate) fn read_frame(text: &str) -> Result<ClientFrame, serde_json::Error> {
    serde_json::from_str(text)
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ClientFrame {
    Hello {
        token: String,
    },
    Start {
        name: String,
        #[serde(default)]
        email: Option<String>,
        #[serde(default)]
        rut: Option<String>,
    },
    Message {
        client_id: String,
        text: String,
    },
    File {
        client_id: String,
        name: String,
        content_type: String,
        data: String,
    },
    Typing,
    Read {
        up_to: String,
    },
    /// The visitor opened or closed the chat panel.
    Visible {
        open: bool,
    },
}

struct Visitor {
    state: AppState,
    account: Account,
    settings: ChatSettings,
    session: VisitorSession,
    tickets: HashSet<u64>,
    /// The visitor has the chat panel open (answers count as seen only then).
    visible: bool,
    last_typing: Option<Instant>,
    /// The newest answer the visitor has read.
    read_up_to: u64,
}

fn error_frame(code: &str, message: &str) -> String {
    json!({"type": "error", "code": code, "message": message}).to_string()
}

impl Visitor {
    async fn run(
        state: AppState,
        account: Account,
        settings: ChatSettings,
        peer: SocketAddr,
        socket: WebSocket,
    ) {
        let (mut tx, mut rx) = socket.split();
        // The first frame says who this is: a returning visitor's token or a new one's details.
        let first = tokio::time::timeout(Duration::from_secs(30), rx.next()).await;
        let Ok(Some(Ok(WsMessage::Text(first)))) = first else {
            return;
        };
        let opened = Self::open(&state, &account, peer, first.as_str()).await;
        let (session, token) = match opened {
            Ok(v) => v,
            Err(e) => {
                let _ = tx
                    .send(WsMessage::Text(error_frame(e.code, &e.message).into()))
                    .await;
                return;
            }
        };
        let mut v = Visitor {
            state,
            account,
            settings,
            session,
            tickets: HashSet::new(),
            visible: false,
            last_typing: None,
            read_up_to: 0,
        };
        let mut events = v.state.bus.subscribe();
        let mut shutdown = v.state.shutdown.clone();
        match v.session_frame(token).await {
            Ok(frame) => {
                if tx.send(WsMessage::Text(frame.into())).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx
                    .send(WsMessage::Text(error_frame(e.code, &e.message).into()))
                    .await;
                return;
            }
        }
        // A browser answers pings by itself: a connection silent for a minute is gone (a
        // sleeping laptop leaves no close frame).
        let mut ping = tokio::time::interval(PING_EVERY);
        let mut heard = Instant::now();
        loop {
            let out = tokio::select! {
                frame = rx.next() => {
                    heard = Instant::now();
                    match frame {
                        Some(Ok(WsMessage::Text(text))) => v.on_frame(text.as_str()).await,
                        Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => Ok(Vec::new()),
                    }
                },
                _ = ping.tick() => {
                    if heard.elapsed() > SILENT_FOR {
                        break;
                    }
                    let sent = tokio::time::timeout(SEND_TIMEOUT, tx.send(WsMessage::Ping(Vec::new().into()))).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        break;
                    }
                    Ok(Vec::new())
                },
                ev = events.recv() => match ev {
                    Ok(e) => v.on_event(&e).await,
                    // Fell behind the live events: send the conversation again.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => v.session_frame(None).await.map(|f| vec![f]),
                    Err(_) => break,
                },
                _ = shutdown.changed() => break,
            };
            let frames = match out {
                Ok(f) => f,
                Err(e) => vec![error_frame(e.code, &e.message)],
            };
            let mut gone = false;
            for f in frames {
                let sent =
                    tokio::time::timeout(SEND_TIMEOUT, tx.send(WsMessage::Text(f.into()))).await;
                if !matches!(sent, Ok(Ok(()))) {
                    gone = true;
                    break;
                }
            }
            if gone {
                break;
            }
        }
        if v.visible {
            v.state.chat_online.leave(v.session.contact_id);
        }
        let _ = tx.close().await;
    }

    /// Resumes a session by token or starts one; the token is returned only when new.
    async fn open(
        state: &AppState,
        account: &Account,
        peer: SocketAddr,
        first: &str,
    ) -> AppResult<(VisitorSession, Option<String>)> {
        let frame: ClientFrame = read_frame(first).map_err(|e| {
            AppError::bad_request("invalid_frame", format!("start with hello or start: {e}"))
        })?;
        let account_id = account.id;
        match frame {
            ClientFrame::Hello { token } => {
                let hash = crate::auth::sha256_hex(&token);
                let s = state
                    .store
                    .read(move |txn| chat::session(txn, &hash))
                    .await?
                    .filter(|s| s.account_id == account_id)
                    .ok_or_else(|| {
                        AppError::new(
                            StatusCode::GONE,
                            "session_expired",
                            "this chat session is not known; start a new one",
                        )
                    })?;
                Ok((s, None))
            }
            ClientFrame::Start { name, email, rut } => {
                if !state
                    .form_limiter
                    .try_begin(&format!("chat:{account_id}:{}", peer.ip()))
                {
                    return Err(AppError::too_many(
                        "too many new chats from this address; try again later",
                    ));
                }
                let name = name.trim().to_string();
                if name.is_empty() || name.chars().count() > 120 {
                    return Err(AppError::invalid(
                        "name",
                        "required",
                        "tell us your name (up to 120 characters)",
                    ));
                }
                let email = match email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
                    Some(e) => Some(crate::domain::validate_email(e)?),
                    None => None,
                };
                let rut = match rut.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
                    Some(r) => Some(
                        Rut::parse(r)
                            .map_err(|e| {
                                AppError::invalid("rut", "invalid_rut", format!("`{r}`: {e}"))
                            })?
                            .normalized(),
                    ),
                    None => None,
                };
                let token = crate::auth::random_token(32);
                let hash = crate::auth::sha256_hex(&token);
                let external_id = format!("chat:{}", crate::auth::random_token(12));
                let facts = ContactFacts {
                    name: Some(name),
                    email,
                    phone: None,
                    rut,
                    username: None,
                };
                let now = state.store.now();
                let s = state
                    .store
                    .write(move |txn, fx| {
                        chat::create_session(txn, fx, account_id, &hash, &external_id, &facts, now)
                    })
                    .await?;
                Ok((s, Some(token)))
            }
            _ => Err(AppError::bad_request(
                "invalid_frame",
                "start with hello or start",
            )),
        }
    }

    /// Whether an agent can answer now, and if not what the visitor reads: the account's own
    /// words, or a code the widget says in the visitor's language.
    async fn available_notice(&self) -> AppResult<(bool, serde_json::Value)> {
        let id = self.account.id;
        let now = self.state.store.now();
        // The account's business hours (a calendar) when it names one; else always open.
        let calendar = match self.account.calendar_id() {
            Some(cid) => {
                self.state
                    .store
                    .read(move |txn| crate::store::catalog::get::<Calendar>(txn, cid))
                    .await?
            }
            None => None,
        };
        if calendar.as_ref().is_some_and(|c| !c.is_open(now)) {
            let mut n = notice("out_of_hours", &self.settings.out_of_hours_message);
            // The widget says when someone will be there.
            n["next_open"] = json!(calendar
                .and_then(|c| c.next_open(now))
                .map(crate::domain::clock::to_rfc3339));
            return Ok((false, n));
        }
        let available = self
            .state
            .store
            .read(move |txn| chat::agents_available(txn, id))
            .await?;
        Ok(if available {
            (true, json!({"notice": null, "notice_code": null}))
        } else {
            (false, notice("no_agent", &self.settings.no_agent_message))
        })
    }

    /// The conversation so far.
    async fn session_frame(&mut self, token: Option<String>) -> AppResult<String> {
        let (account_id, contact_id) = (self.account.id, self.session.contact_id);
        let (history, name) = self
            .state
            .store
            .read(move |txn| {
                Ok((
                    chat::history(txn, account_id, contact_id, HISTORY)?,
                    crate::store::contacts::get(txn, contact_id)?
                        .map(|c| c.name)
                        .unwrap_or_default(),
                ))
            })
            .await?;
        self.tickets.extend(history.iter().map(|m| m.ticket_number));
        let mut messages = Vec::new();
        for m in &history {
            messages.push(self.view(m).await?);
        }
        let (available, notice) = self.available_notice().await?;
        Ok(json!({
            "type": "session",
            "token": token,
            "name": name,
            "title": self.settings.title.clone().unwrap_or_else(|| self.account.name.clone()),
            "welcome": self.settings.welcome,
            "max_file_kb": self.settings.max_file_kb.unwrap_or(1024),
            "messages": messages,
            "agents_available": available,
            "notice": notice["notice"],
            "notice_code": notice["notice_code"],
            "next_open": notice["next_open"],
        })
        .to_string())
    }

    async fn mark(&self, ids: Vec<u64>, status: DeliveryStatus) -> AppResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.state
            .store
            .write(move |txn, fx| chat::mark(txn, fx, &ids, status))
            .await
    }

    async fn view(&self, m: &Message) -> AppResult<Value> {
        let (atts, author) = {
            let (ids, user) = (m.attachments.clone(), m.user_id);
            self.state
                .store
                .read(move |txn| {
                    let mut out = Vec::new();
                    for id in ids {
                        if let Some(a) =
                            crate::store::catalog::get::<crate::domain::Attachment>(txn, id)?
                        {
                            out.push(a);
                        }
                    }
                    let author = match user {
                        Some(u) => users::get(txn, u)?.map(|u| u.name),
                        None => None,
                    };
                    Ok((out, author))
                })
                .await?
        };
        let account = self.account.id;
        Ok(json!({
            "id": m.id.to_string(),
            "direction": m.direction,
            "text": m.text,
            "author": author,
            "status": m.status,
            "created_at": crate::http::api::ts(m.created_at),
            "attachments": atts.iter().map(|a| json!({
                "name": a.name, "content_type": a.content_type, "size": a.size,
                "url": format!("/api/v1/chat/{account}/files/{}", a.id),
            })).collect::<Vec<_>>(),
        }))
    }

    /// At most 30 messages a minute per visitor (across connections).
    fn check_rate(&self) -> AppResult<()> {
        let key = format!("chat-msg:{}", self.session.contact_id);
        if self.state.chat_limiter.try_begin(&key) {
            Ok(())
        } else {
            Err(AppError::too_many(
                "you are sending messages too fast; wait a moment",
            ))
        }
    }

    /// Frames that happen again within `gap` are dropped (typing and reading notices).
    fn too_soon(last: &mut Option<Instant>, gap: Duration) -> bool {
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < gap) {
            return true;
        }
        *last = Some(now);
        false
    }

    async fn post(
        &mut self,
        client_id: &str,
        text: String,
        parts: Vec<crate::store::mail::StoredPart>,
    ) -> AppResult<Vec<String>> {
        // Typing after a message is a new "typing" notice (as the widget sees it).
        self.last_typing = None;
        let client_id: String = client_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(64)
            .collect();
        if client_id.is_empty() {
            return Err(AppError::invalid(
                "client_id",
                "required",
                "each message needs a client_id",
            ));
        }
        let (account_id, external, contact) = (
            self.account.id,
            self.session.external_id.clone(),
            self.session.contact_id,
        );
        let now = self.state.store.now();
        let got = self
            .state
            .store
            .write(move |txn, fx| {
                let ids = crate::store::mail::insert_parts(txn, &parts, now)?;
                let inbound = Inbound {
                    subject: None,
                    files: Vec::new(),
                    reply_to_external: None,
                    notes: Vec::new(),
                    account_id,
                    external_id: format!("chat:{contact}:{client_id}"),
                    contact_external_id: external.clone(),
                    contact: ContactFacts::default(),
                    text: text.clone(),
                    public: false,
                    reply_to: None,
                    attachments: ids.iter().map(|(id, _)| *id).collect(),
                    sent_at: None,
                    uploader: None,
                    thread: Thread::ByContact,
                };
                tickets::ingest(txn, fx, &inbound, now)
            })
            .await?;
        self.tickets.insert(got.ticket_number);
        // The message itself reaches the widget through its message.created event.
        Ok(Vec::new())
    }

    async fn on_frame(&mut self, text: &str) -> AppResult<Vec<String>> {
        let frame: ClientFrame = read_frame(text)
            .map_err(|e| AppError::bad_request("invalid_frame", format!("unknown frame: {e}")))?;
        match frame {
            ClientFrame::Message { client_id, text } => {
                self.check_rate()?;
                let text = text.trim().to_string();
                if text.is_empty() || text.chars().count() > MAX_TEXT {
                    return Err(AppError::invalid(
                        "text",
                        "invalid_text",
                        format!("a message has 1 to {MAX_TEXT} characters"),
                    ));
                }
                self.post(&client_id, text, Vec::new()).await
            }
            ClientFrame::File {
                client_id,
                name,
                content_type,
                data,
            } => {
                self.check_rate()?;
                let max = self.settings.max_file_bytes();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data.as_bytes())
                    .map_err(|_| {
                        AppError::invalid("data", "invalid_file", "the file is not base64")
                    })?;
                if bytes.len() > max {
                    return Err(AppError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "file_too_large",
                        format!("the file is larger than {} KB", max / 1024),
                    ));
                }
                let blobs = self.state.store.blobs.clone();
                let size = bytes.len() as u64;
                let sha = tokio::task::spawn_blocking(move || blobs.put(&bytes))
                    .await
                    .map_err(|e| AppError::internal(e.to_string()))??;
                let name = crate::store::blobs::clean_name(&name);
                let content_type = if content_type.contains('/') && content_type.len() < 100 {
                    content_type
                } else {
                    mime_guess::from_path(&name)
                        .first_or_octet_stream()
                        .to_string()
                };
                let part = crate::store::mail::StoredPart {
                    sha256: sha,
                    name: name.clone(),
                    size,
                    content_type,
                    content_id: None,
                };
                self.post(&client_id, name, vec![part]).await
            }
            ClientFrame::Typing => {
                if Self::too_soon(&mut self.last_typing, Duration::from_secs(2)) {
                    return Ok(Vec::new());
                }
                if let Some(number) = self.tickets.iter().max().copied() {
                    self.state.bus.ephemeral(Event {
                        id: 0,
                        kind: crate::domain::EventKind::VisitorTyping,
                        at: self.state.store.now(),
                        account_id: Some(self.account.id),
                        ticket_number: Some(number),
                        contact_id: Some(self.session.contact_id),
                        message_id: None,
                        user_id: None,
                    });
                }
                Ok(Vec::new())
            }
            ClientFrame::Read { up_to } => {
                let up_to: u64 = up_to.parse().unwrap_or(0);
                // Only news is worth a look: a notice for what was already read is dropped,
                // a newer one never is.
                if !self.visible || up_to <= self.read_up_to {
                    return Ok(Vec::new());
                }
                self.read_up_to = up_to;
                let (account_id, contact_id) = (self.account.id, self.session.contact_id);
                let ids: Vec<u64> = self
                    .state
                    .store
                    .read(move |txn| chat::history(txn, account_id, contact_id, HISTORY))
                    .await?
                    .into_iter()
                    .filter(|m| {
                        m.direction == Direction::Outbound
                            && m.id <= up_to
                            && m.status != DeliveryStatus::Read
                    })
                    .map(|m| m.id)
                    .collect();
                self.mark(ids, DeliveryStatus::Read).await?;
                Ok(Vec::new())
            }
            ClientFrame::Visible { open } => {
                // Answers count as seen, and are not mailed, only while the panel is open.
                if open != self.visible {
                    self.visible = open;
                    if open {
                        self.state.chat_online.enter(self.session.contact_id);
                    } else {
                        self.state.chat_online.leave(self.session.contact_id);
                    }
                }
                Ok(Vec::new())
            }
            ClientFrame::Hello { .. } | ClientFrame::Start { .. } => Ok(Vec::new()),
        }
    }

    async fn on_event(&mut self, e: &Event) -> AppResult<Vec<String>> {
        if matches!(e.kind.as_str(), "assignment.updated" | "user.updated") {
            // Someone's state or accounts changed: is anybody there now?
            let (available, notice) = self.available_notice().await?;
            return Ok(vec![
                json!({"type": "status", "agents_available": available,
                    "notice": notice["notice"], "notice_code": notice["notice_code"],
                    "next_open": notice["next_open"]})
                .to_string(),
            ]);
        }
        let mine = e.contact_id == Some(self.session.contact_id)
            || e.ticket_number.is_some_and(|n| self.tickets.contains(&n));
        if !mine || e.account_id.is_some_and(|a| a != self.account.id) {
            return Ok(Vec::new());
        }
        if let Some(n) = e.ticket_number {
            self.tickets.insert(n);
        }
        match e.kind.as_str() {
            "message.created" | "message.updated" => {
                let Some(id) = e.message_id else {
                    return Ok(Vec::new());
                };
                let m = self
                    .state
                    .store
                    .read(move |txn| crate::store::tickets::message(txn, id))
                    .await?;
                let Some(m) = m else { return Ok(Vec::new()) };
                Ok(vec![
                    json!({"type": "message", "message": self.view(&m).await?}).to_string(),
                ])
            }
            "ticket.typing" => {
                let name = match e.user_id {
                    Some(u) => self
                        .state
                        .store
                        .read(move |txn| users::get(txn, u))
                        .await?
                        .map(|u| u.name),
                    None => None,
                };
                Ok(vec![json!({"type": "typing", "name": name}).to_string()])
            }
            "ticket.viewing" => Ok(vec![json!({"type": "read"}).to_string()]),
            _ => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_widget_carries_its_words_from_the_locale_files() {
        let file = crate::http::assets::file("widget.js").unwrap();
        let served = super::with_locale(&String::from_utf8_lossy(&file.data));
        assert!(!served.contains("/*locale*/"));
        assert!(served.contains("\"open\":\"Abrir chat\""), "Spanish words");
        assert!(served.contains("\"open\":\"Open chat\""), "English words");
    }
}
