//! Starts the real `atiende` binary on port 0 with its own data dir and talks to it over HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub const ADMIN_EMAIL: &str = "admin@example.cl";
pub const ADMIN_PASSWORD: &str = "clave-segura-123";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_atiende")
}

pub struct Server {
    child: Child,
    pub base: String,
    pub data: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// A fresh data dir with one administrator, created through the CLI.
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().to_path_buf();
        admin_create(&data, ADMIN_EMAIL, "Admin Prueba", ADMIN_PASSWORD, "admin");
        let mut s = Server::start_in(&data, &[]);
        s._dir = Some(dir);
        s
    }

    /// Starts on an existing data dir (restarts, crash recovery).
    pub fn start_in(data: &Path, env: &[(&str, &str)]) -> Server {
        Server::start_with(data, &[], env)
    }

    pub fn start_with(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(bin());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Server::start_command(cmd, data)
    }

    /// Runs `cmd`, which ends by running `atiende serve` on `data` (a wrapper may set up a
    /// file system first), and waits for it to listen.
    pub fn start_command(mut cmd: Command, data: &Path) -> Server {
        cmd.env("ATIENDE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("spawn atiende");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(120);
        let base = loop {
            assert!(Instant::now() < deadline, "server did not start in time");
            let line = lines
                .next()
                .expect("server exited before listening")
                .expect("read stdout");
            if let Some(rest) = line.strip_prefix("Atiende listening on ") {
                break rest.trim().to_string();
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Server {
            child,
            base,
            data: data.to_path_buf(),
            _dir: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill9();
    }

    /// Moves the temp dir out so it outlives this process handle (for restarts).
    pub fn take_dir(&mut self) -> Option<tempfile::TempDir> {
        self._dir.take()
    }

    pub async fn admin(&self) -> Api {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Api {
        sign_in(reqwest::Client::new(), &self.base, email, password).await
    }

    pub fn anonymous(&self) -> Api {
        Api {
            base: self.base.clone(),
            client: reqwest::Client::new(),
            cookie: None,
            csrf: None,
            bearer: None,
        }
    }
}

/// Signs in at `base` with `client` (a client of its own: HTTPS tests trust a test CA).
pub async fn sign_in(client: reqwest::Client, base: &str, email: &str, password: &str) -> Api {
    let res = client
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(res.status(), StatusCode::OK, "sign in as {email}");
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_string();
    let body: Value = res.json().await.expect("json");
    Api {
        base: base.to_string(),
        client,
        cookie: Some(cookie),
        csrf: body["csrf_token"].as_str().map(str::to_string),
        bearer: None,
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn admin_create(data: &Path, email: &str, name: &str, password: &str, role: &str) {
    let out = Command::new(bin())
        .args([
            "admin",
            "create",
            "--email",
            email,
            "--name",
            name,
            "--password",
            password,
            "--role",
            role,
            "--data",
        ])
        .arg(data)
        .env("ATIENDE_LOG", "warn")
        .output()
        .expect("run admin create");
    assert!(
        out.status.success(),
        "admin create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    pub bearer: Option<String>,
}

impl Api {
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self
            .client
            .request(method.clone(), format!("{}{}", self.base, path));
        if let Some(c) = &self.cookie {
            rb = rb.header("cookie", c);
        }
        if let Some(t) = &self.bearer {
            rb = rb.header("authorization", format!("Bearer {t}"));
        }
        if method != Method::GET {
            if let Some(c) = &self.csrf {
                rb = rb.header("x-csrf-token", c);
            }
        }
        rb
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut rb = self.request(method, path);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let res = rb.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, None).await
    }
    pub async fn delete_with(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PUT, path, Some(body)).await
    }

    /// GET that must answer 200.
    pub async fn ok(&self, path: &str) -> Value {
        let (s, v) = self.get(path).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {v}");
        v
    }

    pub async fn created(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.post(path, body).await;
        assert!(
            s == StatusCode::CREATED || s == StatusCode::OK,
            "POST {path}: {s} {v}"
        );
        v
    }

    pub async fn account(&self, kind: &str, name: &str) -> String {
        let v = self
            .created("/api/v1/accounts", json!({"kind": kind, "name": name}))
            .await;
        v["id"].as_str().expect("account id").to_string()
    }

    /// The signed-in user's id.
    /// Creates a record and answers its id.
    pub async fn created_id(&self, path: &str, body: Value) -> String {
        self.created(path, body).await["id"]
            .as_str()
            .expect("id")
            .to_string()
    }

    pub async fn my_id(&self) -> String {
        self.ok("/api/v1/me").await["id"]
            .as_str()
            .expect("id")
            .to_string()
    }

    /// The numbers of the open tickets past their SLA, in order.
    pub async fn breached_numbers(&self) -> Vec<u64> {
        let v = self
            .ok("/api/v1/tickets?state=open&sla_breached=true")
            .await;
        let mut numbers: Vec<u64> = v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|t| t["number"].as_u64().expect("number"))
            .collect();
        numbers.sort_unstable();
        numbers
    }

    /// This user's SLA bell items as (kind, ticket), sorted, once `done` holds for them (the
    /// SLA job rings at start and every 10 s) or after 5 s.
    pub async fn sla_bell_until(
        &self,
        done: impl Fn(&[(String, u64)]) -> bool,
    ) -> Vec<(String, u64)> {
        let mut rung = Vec::new();
        for _ in 0..50 {
            rung = self.ok("/api/v1/me/notifications").await["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter(|n| n["kind"].as_str().is_some_and(|k| k.starts_with("sla_")))
                .map(|n| {
                    (
                        n["kind"].as_str().unwrap_or("").to_string(),
                        n["ticket_number"].as_u64().unwrap_or(0),
                    )
                })
                .collect::<Vec<_>>();
            rung.sort();
            if done(&rung) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        rung
    }

    /// A download (an export, a transcript): the response, checked to be 200.
    pub async fn download(&self, path: &str) -> reqwest::Response {
        let res = self
            .request(Method::GET, path)
            .send()
            .await
            .expect("download");
        assert_eq!(res.status(), 200, "GET {path}");
        res
    }

    /// The first sheet's XML of the workbook `path` downloads (checked to be an XLSX file).
    pub async fn xlsx_sheet(&self, path: &str) -> String {
        use std::io::Read;
        let res = self.download(path).await;
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("spreadsheetml"));
        assert!(res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .ends_with(".xlsx\""));
        let bytes = res.bytes().await.unwrap();
        let mut book = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
        let mut xml = String::new();
        book.by_name("xl/worksheets/sheet1.xml")
            .unwrap()
            .read_to_string(&mut xml)
            .unwrap();
        xml
    }

    /// A new SLA policy (first response in minutes, optional next response, business hours).
    pub async fn sla_policy(&self, first: i64, next: Option<i64>, business_hours: bool) -> String {
        let v = self
            .created(
                "/api/v1/sla_policies",
                json!({"name": format!("SLA {first}"), "first_response_minutes": first,
                    "next_response_minutes": next, "business_hours": business_hours}),
            )
            .await;
        v["id"].as_str().expect("policy id").to_string()
    }

    /// One customer message through the inbound API.
    pub async fn inbound(
        &self,
        account: &str,
        external_id: &str,
        contact: &str,
        text: &str,
    ) -> Value {
        self.inbound_with(account, json!({"external_id": external_id, "contact": {"external_id": contact, "name": contact}, "text": text}))
            .await
    }

    pub async fn inbound_with(&self, account: &str, body: Value) -> Value {
        let (s, v) = self
            .post(&format!("/api/v1/accounts/{account}/inbound"), body)
            .await;
        assert_eq!(s, StatusCode::OK, "inbound: {v}");
        v
    }

    /// Sets an agent's mode on an account (disabled, enabled, auto).
    pub async fn enable(&self, user_id: &str, account_id: &str, mode: &str) {
        let (st, v) = self
            .put(
                "/api/v1/assignment",
                json!({"items": [{"user_id": user_id, "account_id": account_id, "mode": mode}]}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "enable: {v}");
    }

    pub async fn create_user(&self, email: &str, name: &str, role: &str) -> String {
        let v = self
            .created(
                "/api/v1/users",
                json!({"email": email, "name": name, "password": "clave-agente-1", "role": role}),
            )
            .await;
        v["id"].as_str().expect("user id").to_string()
    }
}

/// Polls `f` until it returns Some, or panics after `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Uploads a file as an agent would (POST /api/v1/uploads); returns the attachment.
pub async fn upload(api: &Api, name: &str, content_type: &str, bytes: &[u8]) -> serde_json::Value {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes.to_vec())
            .file_name(name.to_string())
            .mime_str(content_type)
            .unwrap(),
    );
    let res = api
        .request(reqwest::Method::POST, "/api/v1/uploads")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// Sends a request that must get an answer and returns its body as text (pages, scripts).
pub async fn text_of(req: reqwest::RequestBuilder) -> String {
    req.send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body")
}

/// Uploads `size` bytes to POST /api/v1/uploads past the server's limit; returns the status.
pub async fn oversized_upload(api: &Api, size: usize) -> u16 {
    let boundary = "atiende-oversized";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let body = Oversized {
        prefix: head,
        filler: 0,
        size,
        suffix: format!("\r\n--{boundary}--\r\n"),
    };
    oversized_post(api, "/api/v1/uploads", &content_type, body)
        .await
        .0
}

/// A request body too big to send whole before the server answers: `prefix`, `size` times
/// `filler`, then `suffix`.
pub struct Oversized {
    pub prefix: String,
    pub filler: u8,
    pub size: usize,
    pub suffix: String,
}

/// POSTs an `Oversized` body over a raw connection and returns the status and the answer's
/// body. It writes in the background (shutting its writing side once done, as plain clients
/// do), ignores write errors and reads the answer, whenever the server sends it.
pub async fn oversized_post(
    api: &Api,
    path: &str,
    content_type: &str,
    Oversized {
        prefix,
        filler,
        size,
        suffix,
    }: Oversized,
) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = api.base.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let (mut read, mut write) = stream.into_split();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n",
        prefix.len() + size + suffix.len()
    );
    if let Some(c) = &api.cookie {
        request.push_str(&format!("Cookie: {c}\r\n"));
    }
    if let Some(c) = &api.csrf {
        request.push_str(&format!("X-CSRF-Token: {c}\r\n"));
    }
    if let Some(t) = &api.bearer {
        request.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&prefix);
    let writer = tokio::spawn(async move {
        write.write_all(request.as_bytes()).await?;
        let chunk = vec![filler; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len());
            write.write_all(&chunk[..n]).await?;
            left -= n;
        }
        write.write_all(suffix.as_bytes()).await
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // Connection: close, so the answer ends at EOF (or at the reset that follows it).
    while let Ok(n @ 1..) = read.read(&mut buf).await {
        answer.extend_from_slice(&buf[..n]);
    }
    writer.abort();
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer to an oversized request: {text:?}"));
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (
        status,
        serde_json::from_str(body).unwrap_or(Value::String(body.into())),
    )
}

/// `ATIENDE_CLOCK_OFFSET_MS` that puts the server's clock at `rfc3339`.
pub fn clock_at(rfc3339: &str) -> String {
    let target = chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap();
    (target.timestamp_millis() - chrono::Utc::now().timestamp_millis()).to_string()
}
