//! A local Graph API (WhatsApp Cloud API) for the WhatsApp channel: it checks the bearer token
//! and the phone number id as Meta does, answers sends with the shapes of the recorded
//! responses (tests/fixtures/whatsapp/send_text_response.json), records what it was sent, and
//! can refuse with a Graph error. Webhooks are built from the fixtures and signed with the app
//! secret, as Meta signs them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// How the next sends are answered.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    Ok,
    /// HTTP status and Graph error code, to every send until changed.
    Error(u16, i64),
    /// The same, to the next send only.
    ErrorOnce(u16, i64),
}

/// A file as Atiende uploaded it: (name, mime type, bytes).
pub type Uploaded = (String, String, Vec<u8>);

pub struct Graph {
    token: Mutex<String>,
    phone_number_id: String,
    pub sends: Mutex<Vec<Value>>,
    /// The "read" marks (message ids) Atiende sent.
    pub receipts: Mutex<Vec<String>>,
    /// Media Meta holds for customers' messages: id → (mime type, bytes).
    media: Mutex<std::collections::HashMap<String, (String, Vec<u8>)>>,
    /// Files Atiende uploaded for its answers: media id → (name, mime type, bytes).
    pub uploads: Mutex<std::collections::HashMap<String, Uploaded>>,
    /// The next download answers 404, as an expired URL does.
    expire_next: std::sync::atomic::AtomicBool,
    pub downloads: AtomicUsize,
    base: Mutex<String>,
    sent: AtomicUsize,
    answer: Mutex<Answer>,
}

impl Graph {
    /// Meta's check of the bearer token: a wrong or revoked one is refused with code 190.
    fn authorise(&self, headers: &HeaderMap) -> Result<(), (StatusCode, Json<Value>)> {
        let bearer = format!("Bearer {}", self.token.lock().unwrap());
        if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(bearer.as_str()) {
            Ok(())
        } else {
            Err((
                StatusCode::UNAUTHORIZED,
                Json(graph_error(190, "Error validating access token")),
            ))
        }
    }

    pub fn answer(&self, a: Answer) {
        *self.answer.lock().unwrap() = a;
    }
    pub fn sends(&self) -> Vec<Value> {
        self.sends.lock().unwrap().clone()
    }
    pub fn add_media(&self, id: &str, mime: &str, bytes: &[u8]) {
        self.media
            .lock()
            .unwrap()
            .insert(id.to_string(), (mime.to_string(), bytes.to_vec()));
    }
    pub fn expire_next_download(&self) {
        self.expire_next.store(true, Ordering::SeqCst);
    }
    pub fn receipts(&self) -> Vec<String> {
        self.receipts.lock().unwrap().clone()
    }
}

/// The business account the fake knows (the tests' accounts use it).
pub const WABA_ID: &str = "1234567890987654321";

pub struct FakeGraph {
    pub base: String,
    pub graph: Arc<Graph>,
}

pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/whatsapp/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn graph_error(code: i64, message: &str) -> Value {
    json!({"error": {"message": message, "type": "OAuthException", "code": code,
        "fbtrace_id": "AbCdEf"}})
}

async fn messages(
    State(g): State<Arc<Graph>>,
    Path((version, phone)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if let Err(refused) = g.authorise(&headers) {
        return refused;
    }
    if !version.starts_with('v') || phone != g.phone_number_id {
        return (
            StatusCode::BAD_REQUEST,
            Json(fixture("error_100_33_object_missing_or_no_permission.json")),
        );
    }
    let answer = {
        let mut current = g.answer.lock().unwrap();
        let answer = current.clone();
        if matches!(answer, Answer::ErrorOnce(..)) {
            *current = Answer::Ok;
        }
        answer
    };
    if let Answer::Error(status, code) | Answer::ErrorOnce(status, code) = answer {
        return (
            StatusCode::from_u16(status).unwrap(),
            Json(graph_error(code, "refused by the fake Graph API")),
        );
    }
    if body["type"] == "template" {
        if let Some(refusal) = template_refusal(&body) {
            return (StatusCode::BAD_REQUEST, Json(refusal));
        }
    }
    // A file is sent by the id its upload got, as Meta requires.
    let kind = body["type"].as_str().unwrap_or("").to_string();
    if ["image", "video", "audio", "document", "sticker"].contains(&kind.as_str()) {
        let id = body[&kind]["id"].as_str().unwrap_or("");
        if !g.uploads.lock().unwrap().contains_key(id) {
            return (
                StatusCode::BAD_REQUEST,
                Json(graph_error(100, "(#100) Invalid parameter")),
            );
        }
    }
    if body["status"] == "read" {
        let id = body["message_id"].as_str().unwrap_or("").to_string();
        g.receipts.lock().unwrap().push(id);
        return (
            StatusCode::OK,
            Json(fixture("send_typing_indicator_response.json")),
        );
    }
    let n = g.sent.fetch_add(1, Ordering::SeqCst);
    let to = body["to"].as_str().unwrap_or("").to_string();
    g.sends.lock().unwrap().push(body);
    let mut ok = fixture("send_text_response.json");
    ok["contacts"][0]["input"] = to.clone().into();
    ok["contacts"][0]["wa_id"] = to.into();
    ok["messages"][0]["id"] = format!("wamid.out-{n}").into();
    (StatusCode::OK, Json(ok))
}

/// The business account's templates, in the shape Meta lists them (template-management docs:
/// `data[]` with `name`, `language`, `status`, `category`, `parameter_format`, `components`).
pub fn templates() -> Vec<Value> {
    vec![
        json!({"name": "seguimiento_pedido", "language": "es", "status": "APPROVED",
            "category": "UTILITY", "parameter_format": "POSITIONAL", "id": "900001",
            "components": [
                {"type": "HEADER", "format": "TEXT", "text": "Pedido {{1}}",
                 "example": {"header_text": ["#1234"]}},
                {"type": "BODY", "text": "Hola {{1}}, tu pedido {{2}} va en camino.",
                 "example": {"body_text": [["Ana", "#1234"]]}},
                {"type": "FOOTER", "text": "Tienda Ejemplo"},
                {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Gracias"}]}]}),
        json!({"name": "reserva_confirmada", "language": "en_US", "status": "APPROVED",
            "category": "UTILITY", "parameter_format": "NAMED", "id": "900002",
            "components": [
                {"type": "BODY", "text": "Your reservation for {{guests}} on {{day}} is confirmed.",
                 "example": {"body_text_named_params": [
                     {"param_name": "guests", "example": "4"},
                     {"param_name": "day", "example": "Saturday"}]}}]}),
        json!({"name": "promo_imagen", "language": "es", "status": "APPROVED",
            "category": "MARKETING", "parameter_format": "POSITIONAL", "id": "900003",
            "components": [
                {"type": "HEADER", "format": "IMAGE",
                 "example": {"header_handle": ["https://scontent.whatsapp.net/v/t61"]}},
                {"type": "BODY", "text": "¡Ofertas de temporada!"}]}),
        json!({"name": "borrador", "language": "es", "status": "PENDING",
            "category": "MARKETING", "parameter_format": "POSITIONAL", "id": "900004",
            "components": [{"type": "BODY", "text": "Pronto"}]}),
    ]
}

/// `GET /{version}/{waba-id}/message_templates`: two per page, with Graph's cursors.
async fn list_templates(
    State(g): State<Arc<Graph>>,
    Path((_version, waba)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    if let Err(refused) = g.authorise(&headers) {
        return refused;
    }
    if waba != WABA_ID {
        return (
            StatusCode::BAD_REQUEST,
            Json(fixture("error_100_33_object_missing_or_no_permission.json")),
        );
    }
    let all = templates();
    let from: usize = q
        .get("after")
        .and_then(|c| c.strip_prefix("cursor-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let to = (from + 2).min(all.len());
    let mut page = json!({"data": all[from..to].to_vec(),
        "paging": {"cursors": {"before": format!("cursor-{from}"), "after": format!("cursor-{to}")}}});
    if to < all.len() {
        page["paging"]["next"] =
            format!("https://graph.facebook.com/v21.0/{waba}/message_templates?after=cursor-{to}")
                .into();
    }
    (StatusCode::OK, Json(page))
}

/// What Meta checks of a template send: it exists, is approved, and gets as many parameters
/// as it has variables (132001 and 132000 otherwise).
fn template_refusal(body: &Value) -> Option<Value> {
    let t = &body["template"];
    let known = templates().into_iter().find(|k| {
        k["name"] == t["name"]
            && k["language"] == t["language"]["code"]
            && k["status"] == "APPROVED"
    });
    let Some(known) = known else {
        return Some(graph_error(
            132001,
            "Template name does not exist in the translation",
        ));
    };
    for part in ["HEADER", "BODY"] {
        let text = known["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == part)
            .and_then(|c| c["text"].as_str())
            .unwrap_or("");
        let wanted = text.matches("{{").count();
        let given = t["components"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == part.to_lowercase())
            .map_or(0, |c| c["parameters"].as_array().unwrap().len());
        if wanted != given {
            return Some(graph_error(
                132000,
                "Number of parameters does not match the expected number of params",
            ));
        }
    }
    None
}

/// `POST /{version}/{phone-number-id}/media`: a multipart upload (`messaging_product`, `type`,
/// `file`), answered with the recorded shape (media_upload_response.json).
async fn upload(
    State(g): State<Arc<Graph>>,
    Path((_version, phone)): Path<(String, String)>,
    headers: HeaderMap,
    mut form: axum::extract::Multipart,
) -> (StatusCode, Json<Value>) {
    if let Err(refused) = g.authorise(&headers) {
        return refused;
    }
    if phone != g.phone_number_id {
        return (
            StatusCode::BAD_REQUEST,
            Json(fixture("error_100_33_object_missing_or_no_permission.json")),
        );
    }
    let (mut product, mut kind, mut file) = (String::new(), String::new(), None);
    while let Ok(Some(field)) = form.next_field().await {
        match field.name().unwrap_or("") {
            "messaging_product" => product = field.text().await.unwrap_or_default(),
            "type" => kind = field.text().await.unwrap_or_default(),
            "file" => {
                let name = field.file_name().unwrap_or("").to_string();
                let mime = field.content_type().unwrap_or("").to_string();
                file = Some((name, mime, field.bytes().await.unwrap_or_default().to_vec()));
            }
            _ => {}
        }
    }
    let Some((name, mime, bytes)) = file.filter(|_| product == "whatsapp" && !kind.is_empty())
    else {
        return (
            StatusCode::BAD_REQUEST,
            Json(graph_error(100, "(#100) The parameter file is required")),
        );
    };
    let n = g.uploads.lock().unwrap().len();
    let mut answer = fixture("media_upload_response.json");
    let id = format!("{}{n}", answer["id"].as_str().unwrap());
    answer["id"] = id.clone().into();
    g.uploads.lock().unwrap().insert(id, (name, mime, bytes));
    (StatusCode::OK, Json(answer))
}

/// `GET /{version}/{phone-number-id}?fields=…`: the number as Meta describes it.
async fn number(
    State(g): State<Arc<Graph>>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    if let Err(refused) = g.authorise(&headers) {
        return refused;
    }
    if let Some((mime, bytes)) = g.media.lock().unwrap().get(&id).cloned() {
        use sha2::Digest;
        // The recorded shape (media_get_image_response.json), pointing at this server.
        let mut info = fixture("media_get_image_response.json");
        info["url"] = format!("{}/download/{id}", g.base.lock().unwrap()).into();
        info["mime_type"] = mime.into();
        info["sha256"] = hex::encode(sha2::Sha256::digest(&bytes)).into();
        info["file_size"] = bytes.len().into();
        info["id"] = id.into();
        return (StatusCode::OK, Json(info));
    }
    if id != g.phone_number_id {
        return (
            StatusCode::BAD_REQUEST,
            Json(fixture("error_100_33_object_missing_or_no_permission.json")),
        );
    }
    (
        StatusCode::OK,
        Json(
            json!({"verified_name": "Tienda Ejemplo", "display_phone_number": "+56 9 5555 0000",
            "quality_rating": "GREEN", "messaging_limit_tier": "TIER_1K", "id": id}),
        ),
    )
}

/// The short-lived media URL: the same bearer token, the bytes.
async fn download(
    State(g): State<Arc<Graph>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, Vec<u8>) {
    if g.authorise(&headers).is_err() {
        return (StatusCode::UNAUTHORIZED, Vec::new());
    }
    if g.expire_next.swap(false, Ordering::SeqCst) {
        return (StatusCode::NOT_FOUND, Vec::new());
    }
    g.downloads.fetch_add(1, Ordering::SeqCst);
    match g.media.lock().unwrap().get(&id) {
        Some((_, bytes)) => (StatusCode::OK, bytes.clone()),
        None => (StatusCode::NOT_FOUND, Vec::new()),
    }
}

impl FakeGraph {
    /// Meta revokes the token: every call with the old one is refused (190).
    pub fn revoke_token(&self, new: &str) {
        *self.graph.token.lock().unwrap() = new.to_string();
    }

    pub async fn start(token: &str, phone_number_id: &str) -> FakeGraph {
        let graph = Arc::new(Graph {
            token: Mutex::new(token.to_string()),
            phone_number_id: phone_number_id.to_string(),
            sends: Mutex::new(Vec::new()),
            receipts: Mutex::new(Vec::new()),
            media: Mutex::new(std::collections::HashMap::new()),
            uploads: Mutex::new(std::collections::HashMap::new()),
            expire_next: std::sync::atomic::AtomicBool::new(false),
            downloads: AtomicUsize::new(0),
            base: Mutex::new(String::new()),
            sent: AtomicUsize::new(0),
            answer: Mutex::new(Answer::Ok),
        });
        let app = Router::new()
            .route("/{version}/{phone}/messages", post(messages))
            .route("/{version}/{phone}/media", post(upload))
            .route(
                "/{version}/{waba}/message_templates",
                axum::routing::get(list_templates),
            )
            .route("/{version}/{id}", axum::routing::get(number))
            .route("/download/{id}", axum::routing::get(download))
            .with_state(graph.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        *graph.base.lock().unwrap() = base.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeGraph { base, graph }
    }
}

/// Posts `body` to an account's webhook as Meta does: the raw bytes, signed with the app
/// secret (None: unsigned).
pub async fn deliver(hook: &str, secret: Option<&str>, body: &Value) -> StatusCode {
    let raw = serde_json::to_vec(body).unwrap();
    let mut r = reqwest::Client::new()
        .post(hook)
        .header("content-type", "application/json")
        .body(raw.clone());
    if let Some(secret) = secret {
        r = r.header(
            "X-Hub-Signature-256",
            crate::fake_vendor::sign(secret, &raw),
        );
    }
    r.send().await.unwrap().status()
}

/// A status webhook for the answer Meta knows as `wamid` (from the fixture of that status).
pub fn status_of(case: &str, wamid: &str) -> Value {
    let mut body = fixture("message_status.json")[case].clone();
    body["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = wamid.into();
    body
}
