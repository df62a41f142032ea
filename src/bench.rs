//! `atiende bench`: starts a real server (a child process of this binary) on a temporary data
//! dir, loads a realistic dataset through the public API, runs the workloads of the
//! performance targets from this process over HTTP on loopback, and prints one table (figure,
//! value, target, ratio), optionally written as JSON for comparison between versions.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{json, Value};

use crate::demo::{FIRST, LAST};
use crate::domain::rut::Rut;
use crate::error::{AppError, AppResult};

#[derive(clap::Args, Clone)]
pub struct BenchArgs {
    /// Small run (50,000 tickets, 10,000 contacts) that finishes within a minute.
    #[arg(long)]
    pub quick: bool,
    /// Tickets to load (default 1,000,000; quick 50,000).
    #[arg(long)]
    pub tickets: Option<u64>,
    /// Contacts to load (default 200,000; quick 10,000).
    #[arg(long)]
    pub contacts: Option<u64>,
    /// Concurrent clients for the ingest workload.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Connected SSE clients for the live-event workload.
    #[arg(long, default_value_t = 500)]
    pub sse_clients: usize,
    /// Write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Where to create the temporary data dirs (default: the system temp dir).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Keep the loaded data dir (its path is printed; sign in as bench@atiende.local /
    /// bench-password), e.g. to measure the browser app on a large store.
    #[arg(long)]
    pub keep: bool,
}

#[derive(Serialize, Clone)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
    /// None: reported, no target.
    pub target: Option<f64>,
    pub higher_is_better: bool,
}

impl Figure {
    fn ratio(&self) -> Option<f64> {
        let t = self.target?;
        // A figure at or below zero where lower is better (an overhead lost in the noise)
        // has no meaningful ratio.
        if self.value <= 0.0 || t == 0.0 {
            return None;
        }
        Some(if self.higher_is_better {
            self.value / t
        } else {
            t / self.value
        })
    }
}

#[derive(Serialize)]
struct Report {
    version: &'static str,
    date: String,
    machine: String,
    tickets: u64,
    contacts: u64,
    figures: Vec<Figure>,
}

fn err(e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("bench: {e}"))
}

/// The server under test: a child process of this binary.
struct ServerProc {
    child: Child,
    base: String,
}

impl ServerProc {
    fn start(data: &Path, extra: &[&str]) -> AppResult<ServerProc> {
        let exe = std::env::current_exe().map_err(err)?;
        let mut child = Command::new(exe)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .env("ATIENDE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(err)?;
        let stdout = child.stdout.take().ok_or_else(|| err("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.strip_prefix("Atiende listening on ") {
                        break rest.trim().to_string();
                    }
                }
                _ => return Err(err("the server exited before listening")),
            }
        };
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Ok(ServerProc { child, base })
    }

    fn rss_mb(&self) -> f64 {
        rss_mb_of(self.child.id())
    }

    /// The most the server has held resident since it started (VmHWM).
    fn peak_rss_mb(&self) -> f64 {
        status_mb(self.child.id(), "VmHWM:")
    }

    /// CPU time used so far (user + system, in seconds) by the whole server and by its
    /// writer thread, from /proc. The ingest rate moves with whatever else the shared machine
    /// runs; CPU time per message is the steadier figure for comparing versions.
    fn cpu_seconds(&self) -> (f64, f64) {
        let pid = self.child.id();
        let process = cpu_of(Path::new(&format!("/proc/{pid}/stat")));
        let writer = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
            .find(|task| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|c| c.trim() == "atiende-writer")
            })
            .map_or(0.0, |task| cpu_of(&task.path().join("stat")));
        (process, writer)
    }

    /// Bytes the server has had written to storage so far (`write_bytes` of /proc/<pid>/io:
    /// what reached the disk, commits and their fsyncs included; 0 when unreadable).
    fn written_bytes(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/io", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("write_bytes:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `atiende ARGS --data DATA` (this same binary) to its end; what it printed goes to the
/// bench's log.
fn run_command(args: &[&str], data: &Path) -> AppResult<()> {
    let exe = std::env::current_exe().map_err(err)?;
    let out = Command::new(exe)
        .args(args)
        .arg("--data")
        .arg(data)
        .env("ATIENDE_LOG", "warn")
        .output()
        .map_err(err)?;
    if !out.status.success() {
        return Err(err(String::from_utf8_lossy(&out.stderr)));
    }
    eprint!("{}", String::from_utf8_lossy(&out.stdout));
    Ok(())
}

/// utime + stime of a /proc stat file, in seconds (0 when unreadable).
fn cpu_of(path: &Path) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> AppResult<Value> {
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let res = rb.send().await.map_err(err)?;
        let status = res.status();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(err(format!("{path}: {status} {v}")));
        }
        Ok(v)
    }
    async fn get(&self, path: &str) -> AppResult<Value> {
        self.send(reqwest::Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> AppResult<Value> {
        self.send(reqwest::Method::POST, path, Some(&body)).await
    }
    /// Posts `body` as a vendor's webhook: the raw bytes signed with `secret`
    /// (`X-Hub-Signature-256`, as Meta signs), no session or token.
    async fn webhook(&self, path: &str, secret: &str, body: &Value) -> AppResult<Value> {
        use hmac::{Hmac, Mac};
        let raw = serde_json::to_vec(body).map_err(err)?;
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).map_err(err)?;
        mac.update(&raw);
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let res = self
            .http
            .post(format!("{}{}", self.base, path))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(raw)
            .send()
            .await
            .map_err(err)?;
        if !res.status().is_success() {
            return Err(err(format!("{path}: {}", res.status())));
        }
        Ok(Value::Null)
    }
}

/// What the server's own compaction took, as `GET /api/v1/storage` reports it, and the longest
/// a ticket list asked for meanwhile waited.
struct OnlineCompaction {
    repack_seconds: f64,
    pause_seconds: f64,
    longest_read_ms: f64,
}

async fn online_compaction(client: &Client) -> AppResult<OnlineCompaction> {
    client.post("/api/v1/storage/compact", json!({})).await?;
    let mut longest_read_ms = 0.0f64;
    loop {
        let asked = Instant::now();
        client.get("/api/v1/tickets?limit=50").await?;
        longest_read_ms = longest_read_ms.max(asked.elapsed().as_secs_f64() * 1000.0);
        let storage = client.get("/api/v1/storage").await?;
        let c = &storage["compaction"];
        match c["state"].as_str() {
            Some("running") => tokio::time::sleep(Duration::from_millis(200)).await,
            Some("done") => {
                eprintln!("{c}");
                return Ok(OnlineCompaction {
                    repack_seconds: c["repack_seconds"].as_f64().unwrap_or(0.0),
                    pause_seconds: c["pause_seconds"].as_f64().unwrap_or(0.0),
                    longest_read_ms,
                });
            }
            _ => return Err(err(format!("online compaction: {storage}"))),
        }
    }
}

/// One call of an ingest workload: the inbound API (`account`'s inbound path, with the token),
/// or a vendor webhook signed with a secret.
enum Post {
    Inbound {
        account: String,
        body: Value,
    },
    Webhook {
        path: String,
        secret: String,
        body: Value,
    },
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[idx.min(samples.len() - 1)]
}

/// The true median (the mean of the middle two of an even count), where `percentile(_, 0.5)`
/// takes the upper one: a figure from a handful of ratios moves with that choice.
fn median(samples: &mut [f64]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let mid = samples.len() / 2;
    if samples.len() % 2 == 0 {
        (samples[mid - 1] + samples[mid]) / 2.0
    } else {
        samples[mid]
    }
}

const TEXTS: [&str; 8] = [
    "Hola, necesito información sobre el envío de mi pedido número",
    "Buenas tardes, quiero cambiar la talla de las zapatillas de la compra",
    "Me llegó el pedido incompleto, faltan productos de la orden",
    "El pago con tarjeta fue rechazado pero el cargo aparece en mi cuenta, orden",
    "¿Hacen despacho a regiones? Vivo en Punta Arenas, consulta",
    "No puedo ingresar a mi cuenta, la contraseña no funciona, caso",
    "Quiero anular la compra porque me equivoqué de dirección, pedido",
    "Necesito la factura a nombre de la empresa para la compra",
];

fn contact_of(c: u64) -> (String, Rut, String, String) {
    let first = FIRST[(c as usize) % FIRST.len()];
    let last = LAST[(c as usize / FIRST.len()) % LAST.len()];
    let rut = Rut::from_body(5_000_000 + (c as u32).wrapping_mul(97) % 20_000_000);
    (
        format!("{first} {last}"),
        rut,
        format!("cliente{c}@correo.cl"),
        format!("+569{:08}", 10_000_000 + c),
    )
}

/// Posts `count` inbound messages with `clients` concurrent workers; `job(i)` makes the
/// i-th call. Returns per-call latencies (ms), the ticket numbers (the inbound API's; 0 for
/// webhooks, which answer only 200), elapsed time.
async fn ingest(
    client: &Client,
    clients: usize,
    count: u64,
    job: Arc<dyn Fn(u64) -> Post + Send + Sync>,
) -> AppResult<(Vec<f64>, Vec<u64>, Duration)> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, next, job) = (client.clone(), next.clone(), job.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut numbers = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as u64;
                if i >= count {
                    break;
                }
                let call = job(i);
                let t = Instant::now();
                let v = match call {
                    Post::Inbound { account, body } => {
                        client
                            .post(&format!("/api/v1/accounts/{account}/inbound"), body)
                            .await?
                    }
                    Post::Webhook { path, secret, body } => {
                        client.webhook(&path, &secret, &body).await?
                    }
                };
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                numbers.push(v["ticket_number"].as_u64().unwrap_or(0));
            }
            Ok::<_, AppError>((lat, numbers))
        }));
    }
    let mut lat = Vec::with_capacity(count as usize);
    let mut numbers = Vec::with_capacity(count as usize);
    for t in tasks {
        let (l, n) = t.await.map_err(err)??;
        lat.extend(l);
        numbers.extend(n);
    }
    Ok((lat, numbers, started.elapsed()))
}

/// How many phases of each kind (no agents, auto-assignment) the assignment figure takes.
const ASSIGNMENT_PAIRS: u64 = 8;

/// Ingest on an account without agents against one with five agents on auto-assignment, in
/// sixteen alternating phases (A B A B …); each auto phase is compared with the phases
/// without agents right before and after it (`paired_overhead`). Returns how much longer a
/// message takes with the assignment decision, in percent.
async fn assignment_overhead(
    client: &Client,
    server: &ServerProc,
    clients: usize,
    per_phase: u64,
) -> AppResult<f64> {
    let base = server.base.as_str();
    let plain = client
        .post(
            "/api/v1/accounts",
            json!({"kind": "api", "name": "Sin agentes"}),
        )
        .await?;
    let auto = client
        .post(
            "/api/v1/accounts",
            json!({"kind": "api", "name": "Con autoasignación"}),
        )
        .await?;
    let (plain, auto) = (
        plain["id"].as_str().unwrap_or("").to_string(),
        auto["id"].as_str().unwrap_or("").to_string(),
    );
    let mut modes = Vec::new();
    for i in 0..5 {
        let email = format!("agente{i}@bench.local");
        let u = client
            .post(
                "/api/v1/users",
                json!({"email": email, "name": format!("Agente {i}"), "password": "bench-password", "role": "agent"}),
            )
            .await?;
        modes.push(json!({"user_id": u["id"], "account_id": auto, "mode": "auto"}));
        // Signing in puts the agent in the assignable "Conectado" state.
        let res = client
            .http
            .post(format!("{base}/api/v1/session"))
            .json(&json!({"email": email, "password": "bench-password"}))
            .send()
            .await
            .map_err(err)?;
        if !res.status().is_success() {
            return Err(err(format!("agent sign-in: {}", res.status())));
        }
    }
    client
        .send(
            reqwest::Method::PUT,
            "/api/v1/assignment",
            Some(&json!({"items": modes})),
        )
        .await?;
    // Sixteen alternating phases of half the size rather than eight: a merge of the search
    // index's segments lands on one short phase, and the median of eight of each kind leaves
    // it out.
    let phases = 2 * ASSIGNMENT_PAIRS;
    let per_phase = (per_phase / 2).max(1);
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for phase in 0..phases {
        let account = if phase % 2 == 0 { &plain } else { &auto }.clone();
        let job: Arc<dyn Fn(u64) -> Post + Send + Sync> = Arc::new(move |i: u64| {
            let c = 10_000_000 + phase * 1_000_000 + i;
            let body = json!({
                "external_id": format!("a{phase}-{i}"),
                "contact": {"external_id": format!("a{c}"), "name": format!("Cliente {c}")},
                "text": TEXTS[(i % 8) as usize],
            });
            Post::Inbound {
                account: account.clone(),
                body,
            }
        });
        // What the phase before left behind (its indexing, a merge of the search index's
        // segments) is not charged to this one.
        settle(server).await;
        let cpu_before = server.cpu_seconds();
        let (_, numbers, elapsed) = ingest(client, clients, per_phase, job).await?;
        let cpu_after = server.cpu_seconds();
        times[(phase % 2) as usize].push(elapsed.as_secs_f64());
        // CPU per message tells the decision's own cost from the machine's drift.
        let per_message = |s: f64| s * 1e6 / per_phase as f64;
        eprintln!(
            "  phase {} ({}): {:.2} s, server CPU {:.0} µs/msg, writer {:.0} µs/msg",
            phase + 1,
            if phase % 2 == 0 {
                "no agents"
            } else {
                "auto-assignment"
            },
            elapsed.as_secs_f64(),
            per_message(cpu_after.0 - cpu_before.0),
            per_message(cpu_after.1 - cpu_before.1),
        );
        if phase == phases - 1 {
            // Proof the decisions happened: every ticket of the last phase has an agent.
            let sample = client
                .get(&format!(
                    "/api/v1/tickets/{}",
                    numbers.last().copied().unwrap_or(0)
                ))
                .await?;
            if sample["assignee_id"].is_null() {
                return Err(err("auto-assignment left a ticket unassigned"));
            }
        }
    }
    let [mut plain_t, mut auto_t] = times;
    let paired = paired_overhead(&plain_t, &auto_t);
    eprintln!(
        "  median phase of each kind: {:+.1}%; paired with their neighbours: {paired:+.1}%",
        (percentile(&mut auto_t, 0.5) / percentile(&mut plain_t, 0.5) - 1.0) * 100.0
    );
    Ok(paired)
}

/// The median, over the auto phases, of each one's time against the mean of the phases without
/// agents right before and after it (only before, for the last), in percent. The machine's
/// speed drifts over a run, sometimes in a step halfway: comparing the median phase of each
/// kind then compares a fast phase of one kind with a slow one of the other, where
/// neighbouring phases share the machine's state of the moment.
fn paired_overhead(plain: &[f64], auto: &[f64]) -> f64 {
    let mut ratios: Vec<f64> = auto
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let around: Vec<f64> = plain.iter().skip(i).take(2).copied().collect();
            let reference = around.iter().sum::<f64>() / around.len() as f64;
            (reference > 0.0).then(|| a / reference - 1.0)
        })
        .collect();
    median(&mut ratios) * 100.0
}

/// Waits until the server is idle — under a tenth of a core over half a second — for at most
/// a minute.
async fn settle(server: &ServerProc) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let before = server.cpu_seconds().0;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if server.cpu_seconds().0 - before < 0.05 || Instant::now() > deadline {
            return;
        }
    }
}

/// WhatsApp webhooks against the inbound API, each message from a new customer, in eight
/// alternating phases (API, webhook, …) so a drift of the machine hits both alike. Returns
/// (webhook rate / API rate in %, webhook rate per second, webhook p99 in ms).
async fn webhook_vs_api(
    client: &Client,
    clients: usize,
    per_phase: u64,
) -> AppResult<(f64, f64, f64)> {
    const PHONE: &str = "1122334455667";
    const SECRET: &str = "bench-app-secret";
    let api = client
        .post(
            "/api/v1/accounts",
            json!({"kind": "api", "name": "API directa"}),
        )
        .await?;
    // The Graph API is never called: ingesting a text message needs no call back to Meta.
    let wa = client
        .post(
            "/api/v1/accounts",
            json!({"kind": "whatsapp", "name": "WhatsApp", "settings": {
                "phone_number_id": PHONE, "waba_id": "1234567890123",
                "access_token": "bench-token", "app_secret": SECRET,
                "api_base": "http://127.0.0.1:9"}}),
        )
        .await?;
    let api = api["id"].as_str().unwrap_or("").to_string();
    let hook = format!(
        "/api/v1/channels/whatsapp/{}/webhook",
        wa["id"].as_str().unwrap_or("")
    );
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut hook_latencies = Vec::new();
    for phase in 0..8u64 {
        let webhook = phase % 2 == 1;
        let (api, hook) = (api.clone(), hook.clone());
        let job: Arc<dyn Fn(u64) -> Post + Send + Sync> = Arc::new(move |i: u64| {
            let c = 30_000_000 + phase * 1_000_000 + i;
            let (name, phone) = (format!("Cliente {c}"), format!("569{c:08}"));
            let text = TEXTS[(i % 8) as usize];
            if webhook {
                use crate::domain::Clock;
                let now = (crate::domain::SystemClock.now_ms() / 1000).to_string();
                let body = json!({"object": "whatsapp_business_account", "entry": [{
                    "id": "1234567890123", "changes": [{"field": "messages", "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {"display_phone_number": "56955550000", "phone_number_id": PHONE},
                        "contacts": [{"profile": {"name": name}, "wa_id": phone}],
                        "messages": [{"from": phone, "id": format!("wamid.b{phase}-{i}"),
                            "timestamp": now, "type": "text", "text": {"body": text}}]}}]}]});
                Post::Webhook {
                    path: hook.clone(),
                    secret: SECRET.to_string(),
                    body,
                }
            } else {
                let body = json!({
                    "external_id": format!("w{phase}-{i}"),
                    "contact": {"external_id": phone, "name": name, "phone": format!("+{phone}")},
                    "text": text,
                });
                Post::Inbound {
                    account: api.clone(),
                    body,
                }
            }
        });
        let (lat, _, elapsed) = ingest(client, clients, per_phase, job).await?;
        times[usize::from(webhook)].push(per_phase as f64 / elapsed.as_secs_f64());
        if webhook {
            hook_latencies.extend(lat);
        }
        eprintln!(
            "  phase {} ({}): {:.0}/s",
            phase + 1,
            if webhook {
                "WhatsApp webhook"
            } else {
                "inbound API"
            },
            per_phase as f64 / elapsed.as_secs_f64()
        );
    }
    let [mut api_rates, mut hook_rates] = times;
    let (api_rate, hook_rate) = (
        percentile(&mut api_rates, 0.5),
        percentile(&mut hook_rates, 0.5),
    );
    Ok((
        hook_rate / api_rate * 100.0,
        hook_rate,
        percentile(&mut hook_latencies, 0.99),
    ))
}

/// Agents' replies to `numbers` (8 at a time, as a team answering): the server's CPU time per
/// reply in ms, with half a second after the last for the outbox's delivery attempts. The
/// figure should not grow with the store (issue 21).
async fn reply_cpu(client: &Client, server: &ServerProc, numbers: &[u64]) -> AppResult<f64> {
    let before = server.cpu_seconds().0;
    let replies = futures_util::stream::iter(numbers.iter().copied())
        .map(|n| {
            let client = client.clone();
            async move {
                client
                    .post(
                        &format!("/api/v1/tickets/{n}/messages"),
                        json!({"text": format!("Hola, ya revisamos su caso {n}: el pedido sale mañana.")}),
                    )
                    .await
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    for r in replies {
        r?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu = server.cpu_seconds().0 - before;
    Ok(cpu * 1000.0 / numbers.len().max(1) as f64)
}

/// Closes tickets through bulk calls of at most 5,000.
async fn close_all(client: &Client, numbers: &[u64]) -> AppResult<()> {
    for chunk in numbers.chunks(crate::domain::ticket::BULK_MAX) {
        client
            .post(
                "/api/v1/tickets/bulk",
                json!({"numbers": chunk, "action": "close"}),
            )
            .await?;
    }
    Ok(())
}

/// One durable transaction per message: the baseline the group commit must beat.
fn baseline_rate(dir: &Path, seconds: f64) -> AppResult<f64> {
    crate::store::baseline_rate(&dir.join("baseline.redb"), seconds)
}

async fn timed_queries(client: &Client, paths: &[String], rounds: usize) -> AppResult<Vec<f64>> {
    let mut lat = Vec::new();
    for _ in 0..rounds {
        for p in paths {
            let t = Instant::now();
            client.get(p).await?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok(lat)
}

/// Files' lengths under `p`.
fn dir_size(p: &Path) -> u64 {
    dir_bytes(p, &|meta| meta.len())
}

/// The disk's blocks under `p` (what `du` counts: a file grown but not written there is sparse).
fn dir_blocks(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    dir_bytes(p, &|meta| meta.blocks() * 512)
}

fn dir_bytes(p: &Path, of_file: &dyn Fn(&std::fs::Metadata) -> u64) -> u64 {
    let Ok(meta) = std::fs::metadata(p) else {
        return 0;
    };
    if meta.is_file() {
        return of_file(&meta);
    }
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| dir_bytes(&e.path(), of_file))
                .sum()
        })
        .unwrap_or(0)
}

pub fn main(args: BenchArgs) -> AppResult<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(err)?;
    runtime.block_on(run(args))
}

#[allow(clippy::disallowed_methods)] // the bench records when it ran
async fn run(args: BenchArgs) -> AppResult<()> {
    let tickets = args
        .tickets
        .unwrap_or(if args.quick { 50_000 } else { 1_000_000 });
    let contacts = args
        .contacts
        .unwrap_or(if args.quick { 10_000 } else { 200_000 })
        .clamp(1, tickets);
    let root = args
        .work_dir
        .clone()
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("atiende-bench-{}", std::process::id()));
    std::fs::create_dir_all(&root).map_err(err)?;
    let result = run_in(&args, &root, tickets, contacts).await;
    if args.keep {
        let _ = std::fs::remove_dir_all(root.join("baseline"));
        println!("data kept in {}", root.join("data").display());
    } else {
        let _ = std::fs::remove_dir_all(&root);
    }
    let figures = result?;

    println!();
    println!(
        "{:<52} {:>12} {:>10} {:>8}",
        "figure", "value", "target", "ratio"
    );
    for f in &figures {
        let target = match f.target {
            Some(t) => format!("{}{t:.0}", if f.higher_is_better { "≥" } else { "≤" }),
            None => "—".into(),
        };
        let ratio = f
            .ratio()
            .map(|r| format!("{r:.2}"))
            .unwrap_or_else(|| "—".into());
        println!(
            "{:<52} {:>9.1} {:<2} {:>10} {:>8}",
            f.name, f.value, f.unit, target, ratio
        );
    }
    if let Some(path) = &args.json {
        let report = Report {
            version: env!("CARGO_PKG_VERSION"),
            date: chrono::Utc::now().to_rfc3339(),
            machine: machine(),
            tickets,
            contacts,
            figures,
        };
        let text = serde_json::to_string_pretty(&report).map_err(err)?;
        std::fs::write(path, text).map_err(err)?;
        println!("\nwritten to {}", path.display());
    }
    Ok(())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cores} cores, {cpu}")
}

fn fig(name: &str, value: f64, unit: &str, target: Option<f64>, higher_is_better: bool) -> Figure {
    Figure {
        name: name.into(),
        value,
        unit: unit.into(),
        target,
        higher_is_better,
    }
}

#[allow(clippy::disallowed_methods)] // the bench prints wall-clock progress
async fn run_in(
    args: &BenchArgs,
    root: &Path,
    tickets: u64,
    contacts: u64,
) -> AppResult<Vec<Figure>> {
    let mut figures = Vec::new();
    let step = |s: &str| eprintln!("[{}] {s}", chrono::Utc::now().format("%H:%M:%S"));

    step("baseline: one durable redb transaction per message");
    let baseline = {
        let dir = root.join("baseline");
        std::fs::create_dir_all(&dir).map_err(err)?;
        tokio::task::spawn_blocking(move || baseline_rate(&dir, 3.0))
            .await
            .map_err(err)??
    };
    figures.push(fig(
        "baseline: 1 durable redb txn per message",
        baseline,
        "/s",
        None,
        true,
    ));

    let data = root.join("data");
    // The server's first scheduled backup falls ten minutes after its start, inside a long
    // run; a copy of the whole store would then compete with the workloads it measures.
    std::fs::create_dir_all(&data).map_err(err)?;
    // Every simulated client comes from 127.0.0.1: the per-address cap (256 by default, a
    // whole office behind one NAT) would refuse the SSE workload's 500 connections.
    std::fs::write(
        data.join("atiende.toml"),
        "[backup]\nevery_hours = 0\n\n[connections]\nmax_per_address = 4096\nmax = 8192\n",
    )
    .map_err(err)?;
    run_command(
        &[
            "admin",
            "create",
            "--email",
            "bench@atiende.local",
            "--name",
            "Bench",
            "--password",
            "bench-password",
        ],
        &data,
    )?;
    let mut server = ServerProc::start(&data, &[])?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients.max(args.sse_clients) + 16)
        .tcp_nodelay(true)
        .build()
        .map_err(err)?;
    let res = http
        .post(format!("{}/api/v1/session", server.base))
        .json(&json!({"email": "bench@atiende.local", "password": "bench-password"}))
        .send()
        .await
        .map_err(err)?;
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| err("no session cookie"))?
        .to_string();
    let csrf = res.json::<Value>().await.map_err(err)?["csrf_token"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let tok: Value = http
        .post(format!("{}/api/v1/tokens", server.base))
        .header("cookie", cookie)
        .header("x-csrf-token", csrf)
        .json(&json!({"name": "bench"}))
        .send()
        .await
        .map_err(err)?
        .json()
        .await
        .map_err(err)?;
    let client = Client {
        http,
        base: server.base.clone(),
        token: tok["token"].as_str().unwrap_or("").to_string(),
    };

    let policy = client
        .post(
            "/api/v1/sla_policies",
            json!({"name": "1 h", "first_response_minutes": 60}),
        )
        .await?;
    let policy = policy["id"].as_str().unwrap_or("").to_string();
    let mut accounts = Vec::new();
    for (kind, name) in [
        // Five accounts on four channels (WhatsApp and Facebook accounts stood in the first
        // two places of the channel filter before those channels could not be created yet).
        ("email", "Correo"),
        ("form", "Formulario"),
        ("webchat", "Chat"),
        ("webchat", "Chat 2"),
        ("api", "API"),
    ] {
        let a = client
            .post(
                "/api/v1/accounts",
                json!({"kind": kind, "name": name, "settings": {"sla_policy_id": policy}}),
            )
            .await?;
        accounts.push(a["id"].as_str().unwrap_or("").to_string());
    }
    let accounts = Arc::new(accounts);

    // Each round every contact writes once; tickets of finished rounds are closed so the next
    // round opens new ones. The last round leaves enough open for 10% of all tickets.
    let rounds = tickets.div_ceil(contacts);
    let open_target = tickets / 10;
    let mut lat_all = Vec::new();
    let mut ingest_time = Duration::ZERO;
    let (mut ingest_cpu, mut writer_cpu) = (0.0, 0.0);
    let mut ingest_written = 0u64;
    let mut commits = 0u64;
    let mut messages = 0u64;
    let mut sample_numbers = Vec::new();
    for round in 0..rounds {
        let count = contacts.min(tickets - round * contacts);
        step(&format!(
            "ingest round {}/{rounds}: {count} messages, {} clients",
            round + 1,
            args.clients
        ));
        let accs = accounts.clone();
        let job: Arc<dyn Fn(u64) -> Post + Send + Sync> = Arc::new(move |i: u64| {
            let (name, rut, email, phone) = contact_of(i);
            let account = accs[(i % accs.len() as u64) as usize].clone();
            let body = json!({
                "external_id": format!("r{round}-c{i}"),
                "contact": {"external_id": format!("c{i}"), "name": name, "email": email, "phone": phone, "rut": rut.formatted()},
                "text": format!("{} {}", TEXTS[((i + round) % 8) as usize], 10_000 + i * 7 + round),
            });
            Post::Inbound { account, body }
        });
        let commits_before = client.get("/healthz").await?["commits"].as_u64();
        let cpu_before = server.cpu_seconds();
        let written_before = server.written_bytes();
        let (lat, numbers, elapsed) = ingest(&client, args.clients, count, job).await?;
        let cpu_after = server.cpu_seconds();
        ingest_written += server.written_bytes().saturating_sub(written_before);
        let commits_after = client.get("/healthz").await?["commits"].as_u64();
        commits += commits_after
            .unwrap_or(0)
            .saturating_sub(commits_before.unwrap_or(0));
        ingest_cpu += cpu_after.0 - cpu_before.0;
        writer_cpu += cpu_after.1 - cpu_before.1;
        lat_all.extend(lat);
        ingest_time += elapsed;
        messages += count;
        let keep_open = if round + 1 == rounds {
            open_target.min(numbers.len() as u64) as usize
        } else {
            0
        };
        let to_close = &numbers[..numbers.len() - keep_open];
        step(&format!("closing {} tickets", to_close.len()));
        close_all(&client, to_close).await?;
        if round + 1 == rounds {
            sample_numbers = numbers[numbers.len() - keep_open..].to_vec();
        }
    }
    let rate = messages as f64 / ingest_time.as_secs_f64();
    figures.push(fig(
        "ingest: inbound messages/s (64 clients, durable)",
        rate,
        "/s",
        Some(baseline * 2.5),
        true,
    ));
    figures.push(fig(
        "ingest: p99 latency",
        percentile(&mut lat_all, 0.99),
        "ms",
        Some(50.0),
        false,
    ));
    let per_message = |seconds: f64| seconds * 1e6 / messages.max(1) as f64;
    figures.push(fig(
        "ingest: server CPU per message",
        per_message(ingest_cpu),
        "µs",
        None,
        false,
    ));
    figures.push(fig(
        "ingest: writer thread CPU per message",
        per_message(writer_cpu),
        "µs",
        None,
        false,
    ));

    figures.push(fig(
        "ingest: bytes written to disk per message",
        ingest_written as f64 / messages.max(1) as f64,
        "B",
        None,
        false,
    ));
    figures.push(fig(
        "ingest: messages per durable commit",
        messages as f64 / commits.max(1) as f64,
        "",
        None,
        false,
    ));

    // Give a few open tickets an assignee, a label and the important flag, so every filter has
    // something to find.
    let me = client.get("/api/v1/me").await?;
    let my_id = me["id"].as_str().unwrap_or("").to_string();
    let label = client
        .post("/api/v1/labels", json!({"name": "Bench"}))
        .await?;
    let label_id = label["id"].as_str().unwrap_or("").to_string();
    let few: Vec<u64> = sample_numbers
        .iter()
        .step_by(10)
        .copied()
        .take(2_000)
        .collect();
    client
        .post(
            "/api/v1/tickets/bulk",
            json!({"numbers": few, "action": "assign", "assignee_id": my_id}),
        )
        .await?;
    client
        .post(
            "/api/v1/tickets/bulk",
            json!({"numbers": few, "action": "label", "label_id": label_id}),
        )
        .await?;

    step("board column queries");
    let a0 = &accounts[0];
    let headline = vec![format!(
        "/api/v1/tickets?state=open&account={a0}&assignee=none&sort=updated_desc&limit=50"
    )];
    let mut lat = timed_queries(&client, &headline, 300).await?;
    figures.push(fig(
        "board: open + account + unassigned, p99",
        percentile(&mut lat, 0.99),
        "ms",
        Some(20.0),
        false,
    ));
    let others: Vec<String> = vec![
        "state=open&channel=form".into(),
        format!("state=open&account={a0}"),
        "state=open&assignee=me".into(),
        "state=open&assignee=none".into(),
        "state=open&team=none".into(),
        format!("state=open&label={label_id}"),
        "state=open&important=false".into(),
        "state=open&answered=false".into(),
        "state=open&sla_breached=true".into(),
        format!("state=closed&account={a0}&sort=created_desc"),
        "state=open,closed,ignored&sort=created_asc".into(),
        format!(
            "state=open&updated_from={}",
            chrono::Utc::now().format("%Y-%m-%dT00:00:00Z")
        ),
    ]
    .into_iter()
    .map(|q| format!("/api/v1/tickets?{q}&limit=50"))
    .collect();
    let mut worst = 0.0f64;
    for q in &others {
        let mut l = timed_queries(&client, std::slice::from_ref(q), 60).await?;
        worst = worst.max(percentile(&mut l, 0.99));
    }
    figures.push(fig(
        "board: every other filter, worst p99",
        worst,
        "ms",
        Some(20.0),
        false,
    ));

    step("analytics dashboards");
    // The longest period a report reads: a year back from today.
    let year_ago = (chrono::Utc::now() - chrono::Duration::days(365)).format("%Y-%m-%d");
    let longest = format!("tickets?period=custom&from={year_ago}&by=channel");
    let dashboards: Vec<String> = [
        "tickets?period=30d&by=channel",
        "tickets?period=30d&by=account",
        "tickets?period=30d&by=agent",
        "tickets?period=30d&by=team",
        "tickets?period=30d&by=label",
        "tickets?period=30d&by=option",
        "tickets?period=30d&by=agent&base=updated&business_hours=true",
        longest.as_str(),
        "typifications?period=30d",
        "agent_states?period=30d",
    ]
    .iter()
    .map(|q| format!("/api/v1/reports/{q}"))
    .collect();
    let mut worst = 0.0f64;
    for q in &dashboards {
        let mut l = timed_queries(&client, std::slice::from_ref(q), 40).await?;
        worst = worst.max(percentile(&mut l, 0.99));
    }
    figures.push(fig(
        "analytics: every dashboard, worst p99",
        worst,
        "ms",
        Some(200.0),
        false,
    ));

    step("waiting for the search index to catch up");
    let probe_number = sample_numbers.last().copied().unwrap_or(1);
    let (probe_name, probe_rut, _, _) = contact_of(0);
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let r = client
            .get(&format!("/api/v1/search?q={}", probe_rut.normalized()))
            .await?;
        if r["contacts"].as_array().is_some_and(|c| !c.is_empty()) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    step("search queries");
    let enc = |s: &str| s.replace(' ', "%20").replace('#', "%23");
    let searches = [
        format!("%23{probe_number}"),
        probe_rut.formatted(),
        probe_rut.normalized(),
        probe_rut.normalized().replace('-', ""),
        enc(&probe_name),
        enc("informacion envio"),
    ];
    let mut worst = 0.0f64;
    for q in &searches {
        let mut l = timed_queries(&client, &[format!("/api/v1/search?q={q}")], 60).await?;
        worst = worst.max(percentile(&mut l, 0.99));
    }
    figures.push(fig(
        "search: number, RUT ×3, name, text — worst p99",
        worst,
        "ms",
        Some(20.0),
        false,
    ));

    let mut fresh = Vec::new();
    for k in 0..5 {
        let word = format!("palabraunica{k}x{}", std::process::id());
        let started = Instant::now();
        client
            .post(
                &format!("/api/v1/accounts/{}/inbound", accounts[4]),
                json!({"external_id": format!("fresh-{k}"), "contact": {"external_id": format!("fresh-{k}")}, "text": format!("consulta {word}")}),
            )
            .await?;
        let acked = Instant::now();
        loop {
            let r = client.get(&format!("/api/v1/search?q={word}")).await?;
            if r["tickets"].as_array().is_some_and(|t| !t.is_empty()) {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        fresh.push(acked.elapsed().as_secs_f64() * 1000.0);
    }
    figures.push(fig(
        "search: new message findable after ack, max",
        fresh.iter().cloned().fold(0.0, f64::max),
        "ms",
        Some(1000.0),
        false,
    ));

    // After the search index has caught up with the load (its backlog would count as the
    // replies' CPU) and after the search figures (indexing the replies would slow them).
    step("agents' replies");
    let to_answer: Vec<u64> = sample_numbers
        .iter()
        .copied()
        .filter(|n| !few.contains(n))
        .take(2_000)
        .collect();
    figures.push(fig(
        "reply: server CPU per agent reply",
        reply_cpu(&client, &server, &to_answer).await?,
        "ms",
        None,
        false,
    ));

    step("contacts: list and filters");
    figures.extend(contact_figures(&client, contacts).await?);

    step(&format!("live events: {} SSE clients", args.sse_clients));
    let sse = sse_latency(&client, args.sse_clients, &accounts[4]).await?;
    figures.push(fig(
        &format!("SSE: inbound reaches {} clients, p99", args.sse_clients),
        sse,
        "ms",
        Some(200.0),
        false,
    ));

    // Read once the server is idle, so the figure is what it keeps after the workloads and
    // not a teardown in flight (the reading right after is printed beside it); the peak is a
    // figure of its own.
    let right_after = server.rss_mb();
    settle(&server).await;
    let settled = server.rss_mb();
    eprintln!(
        "  RSS right after the SSE clients left {right_after:.1} MB, once idle {settled:.1} MB"
    );
    figures.push(fig(
        "memory: RSS serving the loaded store",
        settled,
        "MB",
        Some(150.0),
        false,
    ));
    figures.push(fig(
        "memory: peak RSS so far (load, search, SSE)",
        server.peak_rss_mb(),
        "MB",
        None,
        false,
    ));

    // After the serving figure: an export's own memory is reported as its growth.
    step("exports: the open tickets as CSV and as XLSX");
    figures.extend(export_figures(&client, &server).await?);

    step("ingest with and without auto-assignment");
    let per_phase = (tickets / 20).clamp(500, 20_000);
    figures.push(fig(
        "assignment: extra ingest time per message (5 agents)",
        assignment_overhead(&client, &server, args.clients, per_phase).await?,
        "%",
        Some(10.0),
        false,
    ));

    step("WhatsApp webhooks against the inbound API");
    let (share, hook_rate, hook_p99) = webhook_vs_api(&client, args.clients, per_phase).await?;
    figures.push(fig(
        "webhook: WhatsApp messages/s (64 clients, signed, durable)",
        hook_rate,
        "/s",
        None,
        true,
    ));
    figures.push(fig(
        "webhook: rate as % of the inbound API's, same run",
        share,
        "%",
        Some(90.0),
        true,
    ));
    figures.push(fig(
        "webhook: p99 latency",
        hook_p99,
        "ms",
        Some(50.0),
        false,
    ));

    let db_file = data.join(crate::store::DB_FILE);
    let running_bytes = dir_size(&db_file);
    let running_blocks = dir_blocks(&db_file);
    let loaded_search_blocks = dir_blocks(&data.join("search"));

    step("online compaction (an administrator's «Compactar ahora», or the nightly pass)");
    let online = online_compaction(&client).await?;
    let online_blocks = dir_blocks(&db_file) + dir_blocks(&data.join("search"));

    step("restart");
    server.stop();
    let redb_bytes = dir_size(&db_file);
    let redb_blocks = dir_blocks(&db_file);
    // What each table holds (issue 21), read while the server is down.
    let print_usage = || -> AppResult<()> {
        if let Some(db) = crate::store::open_for_snapshot(&data)? {
            eprintln!(
                "{}",
                crate::store::usage::of_database(&db, &db_file)?.render()
            );
        }
        Ok(())
    };
    print_usage()?;
    let search_bytes = dir_size(&data.join("search"));
    let search_blocks = dir_blocks(&data.join("search"));
    step("atiende compact");
    let compact_started = Instant::now();
    run_command(&["compact"], &data)?;
    let compact_seconds = compact_started.elapsed().as_secs_f64();
    let compacted_bytes = dir_size(&db_file);
    print_usage()?;
    let started = Instant::now();
    let server = ServerProc::start(&data, &[])?;
    loop {
        if let Ok(r) = reqwest::get(format!("{}/healthz", server.base)).await {
            if r.status().is_success() {
                break;
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    figures.push(fig(
        "start-up on the loaded store",
        started.elapsed().as_secs_f64() * 1000.0,
        "ms",
        Some(1000.0),
        false,
    ));
    drop(server);
    // The load, the SSE probe's five, and the eight phases each of the assignment and the
    // webhook comparisons (counted since the webhook phases were added).
    let total_messages = messages + 5 + 16 * per_phase;
    let per = |bytes: u64| bytes as f64 / total_messages as f64;
    figures.push(fig(
        "disk: redb file while the server runs, per message",
        per(running_bytes),
        "B",
        None,
        false,
    ));
    figures.push(fig(
        "disk: redb file on disk while the server runs (du)",
        per(running_blocks),
        "B",
        None,
        false,
    ));
    figures.push(fig(
        "disk: redb bytes per message",
        per(redb_bytes),
        "B",
        None,
        false,
    ));
    figures.push(fig(
        "disk: search index bytes per message",
        per(search_bytes),
        "B",
        None,
        false,
    ));
    // By length: redb grows its file ahead and what it never wrote is a hole, so the
    // target is judged on the blocks on disk (below).
    figures.push(fig(
        "disk: data dir per message (redb + search index)",
        per(redb_bytes + search_bytes),
        "B",
        None,
        false,
    ));
    figures.push(fig(
        "disk: the same in blocks on disk (du)",
        per(redb_blocks + search_blocks),
        "B",
        None,
        false,
    ));
    figures.push(fig(
        "disk: data dir on disk after the load, while the server runs (du)",
        per(running_blocks + loaded_search_blocks),
        "B",
        None,
        false,
    ));
    figures.push(fig(
        "disk: data dir on disk after the server's online compaction (du)",
        per(online_blocks),
        "B",
        Some(1000.0),
        false,
    ));
    figures.push(fig(
        "online compaction: repacking the tables (the server works as usual)",
        online.repack_seconds,
        "s",
        None,
        false,
    ));
    figures.push(fig(
        "online compaction: the database held alone (writes queue, reads wait)",
        online.pause_seconds,
        "s",
        None,
        false,
    ));
    figures.push(fig(
        "online compaction: the longest a ticket list waited",
        online.longest_read_ms,
        "ms",
        None,
        false,
    ));
    figures.push(fig(
        "disk: the same after atiende compact",
        per(compacted_bytes + search_bytes),
        "B",
        Some(1000.0),
        false,
    ));
    figures.push(fig(
        "atiende compact on the loaded store",
        compact_seconds,
        "s",
        None,
        false,
    ));

    step("idle with the demo workspace");
    let demo_dir = root.join("demo");
    let mut demo = ServerProc::start(&demo_dir, &["--demo"])?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    figures.push(fig(
        "memory: RSS right after generating the demo",
        demo.rss_mb(),
        "MB",
        None,
        false,
    ));
    demo.stop();
    // The steady state: a server started on the demo workspace, idle.
    let demo = ServerProc::start(&demo_dir, &[])?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    figures.push(fig(
        "memory: RSS idle with the demo workspace",
        demo.rss_mb(),
        "MB",
        Some(50.0),
        false,
    ));
    drop(demo);
    Ok(figures)
}

/// Contactos at the loaded store's size: every 100th customer gets a label, the influencer
/// flag and a profile field; then the list under each filter and sort (p99), and a spreadsheet
/// import of 20,000 rows with 3% bad ones (time, checked for an exact error report).
#[allow(clippy::disallowed_methods)] // "today" for the date filters, as the server sees it
async fn contact_figures(client: &Client, contacts: u64) -> AppResult<Vec<Figure>> {
    let mut figures = Vec::new();
    let label = client
        .post("/api/v1/labels", json!({"name": "VIP contactos"}))
        .await?["id"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let field = client
        .post(
            "/api/v1/fields",
            json!({"target": "contact", "name": "Región", "kind": "choice", "options": ["Biobío", "Ñuble", "Maule"]}),
        )
        .await?["id"]
        .as_str()
        .unwrap_or("")
        .to_string();
    for id in (1..=contacts).step_by(100) {
        client
            .send(
                reqwest::Method::PATCH,
                &format!("/api/v1/contacts/{id}"),
                Some(&json!({"labels": [label], "influencer": true, "fields": {field.clone(): "Ñuble"}})),
            )
            .await?;
    }
    let first = client.get("/api/v1/contacts?limit=50").await?;
    let cursor = first["next_cursor"].as_str().unwrap_or("").to_string();
    let today = chrono::Utc::now().format("%Y-%m-%dT00:00:00Z");
    let queries: Vec<String> = [
        String::new(),
        format!("cursor={cursor}"),
        "channel=webchat".into(),
        format!("label={label}"),
        "influencer=true".into(),
        format!("field={field}:%C3%91uble"),
        format!("created_from={today}"),
        format!("last_contact_from={today}&sort=last_contact_desc"),
        "sort=name_asc".into(),
        "sort=created_asc&channel=form".into(),
        format!("label={label}&channel=api"),
        "influencer=false&sort=name_desc".into(),
        // 1% match and the name order has no field keys: a page reads its 5,000 rows and
        // ends with a cursor.
        format!("field={field}:%C3%91uble&sort=name_asc"),
    ]
    .into_iter()
    .map(|q| format!("/api/v1/contacts?{q}&limit=50"))
    .collect();
    let mut lat = timed_queries(client, &queries[..1], 300).await?;
    figures.push(fig(
        &format!("contacts: list page at {contacts} contacts, p99"),
        percentile(&mut lat, 0.99),
        "ms",
        Some(50.0),
        false,
    ));
    let mut worst = 0.0f64;
    for q in &queries {
        let mut l = timed_queries(client, std::slice::from_ref(q), 60).await?;
        worst = worst.max(percentile(&mut l, 0.99));
    }
    figures.push(fig(
        "contacts: every filter and sort, worst p99",
        worst,
        "ms",
        Some(50.0),
        false,
    ));

    // 20,000 new customers, every 33rd with a RUT whose check digit is wrong.
    const ROWS: u32 = 20_000;
    let mut csv = String::from("Nombre;RUT;Correo;Teléfono;Región\n");
    let mut bad = 0usize;
    for i in 0..ROWS {
        let rut = Rut::from_body(40_000_000 + i);
        let rut_text = if i % 33 == 0 {
            bad += 1;
            let wrong = if rut.formatted().ends_with('1') {
                '2'
            } else {
                '1'
            };
            let mut f = rut.formatted();
            f.pop();
            f.push(wrong);
            f
        } else {
            rut.formatted()
        };
        let (name, ..) = contact_of(u64::from(i));
        csv.push_str(&format!(
            "{name};{rut_text};importado{i}@empresa.example;+56 9 {:08};Biobío\n",
            10_000_000 + i
        ));
    }
    let import = |text: String| async move {
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::text(text).file_name("clientes.csv"),
            )
            .text("dry_run", "false");
        let started = Instant::now();
        let res = client
            .http
            .post(format!("{}/api/v1/contacts/import", client.base))
            .bearer_auth(&client.token)
            .multipart(form)
            .send()
            .await
            .map_err(err)?;
        let status = res.status();
        let v: Value = res.json().await.map_err(err)?;
        if !status.is_success() {
            return Err(err(format!("import: {status} {v}")));
        }
        Ok::<_, AppError>((started.elapsed().as_secs_f64(), v))
    };
    let (seconds, report) = import(csv.clone()).await?;
    let good = ROWS as usize - bad;
    let errors = report["errors"].as_array().map(Vec::len).unwrap_or(0);
    let created = report["created"].as_u64().unwrap_or(0) as usize;
    if errors != bad || created != good {
        return Err(err(format!(
            "import report: {errors} errors (expected {bad}), {created} created (expected {good})"
        )));
    }
    figures.push(fig(
        "contacts: import 20,000 rows (3% bad), exact report",
        seconds,
        "s",
        Some(10.0),
        false,
    ));
    let (again, report) = import(csv).await?;
    if report["unchanged"].as_u64() != Some(good as u64) {
        return Err(err(format!("re-import changed something: {report}")));
    }
    figures.push(fig(
        "contacts: the same import again (nothing changes)",
        again,
        "s",
        Some(10.0),
        false,
    ));
    Ok(figures)
}

/// Exports every open ticket (10% of the load) as CSV and as XLSX: rows per second, and how
/// much the server's memory grows while it streams (sampled every 20 ms; flat means the rows
/// are read a page at a time, not gathered).
async fn export_figures(client: &Client, server: &ServerProc) -> AppResult<Vec<Figure>> {
    let (csv, csv_secs, csv_growth) = timed_export(client, server, "csv").await?;
    // The header and one line per ticket (a field's own line breaks are quoted as \r\n-free
    // text: the bench's messages have none).
    let rows = csv
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        .saturating_sub(1) as f64;
    let (_, xlsx_secs, xlsx_growth) = timed_export(client, server, "xlsx").await?;
    Ok(vec![
        fig(
            "export: open tickets as CSV, rows/s",
            rows / csv_secs,
            "/s",
            Some(50_000.0),
            true,
        ),
        fig(
            "export: server RSS growth during the CSV export",
            csv_growth,
            "MB",
            None,
            false,
        ),
        fig(
            "export: open tickets as XLSX, rows/s",
            rows / xlsx_secs,
            "/s",
            None,
            true,
        ),
        fig(
            "export: server RSS growth during the XLSX export",
            xlsx_growth,
            "MB",
            None,
            false,
        ),
    ])
}

/// One export of the open tickets: its bytes, seconds, and the server's RSS growth meanwhile.
async fn timed_export(
    client: &Client,
    server: &ServerProc,
    format: &str,
) -> AppResult<(Bytes, f64, f64)> {
    let before = server.rss_mb();
    let peak = Arc::new(Mutex::new(before));
    let sampling = Arc::new(AtomicUsize::new(1));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        let pid = server.child.id();
        tokio::spawn(async move {
            while sampling.load(Ordering::SeqCst) == 1 {
                let rss = rss_mb_of(pid);
                if let Ok(mut p) = peak.lock() {
                    *p = p.max(rss);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let started = Instant::now();
    let res = client
        .http
        .get(format!(
            "{}/api/v1/tickets/export?state=open&format={format}",
            client.base
        ))
        .bearer_auth(&client.token)
        .send()
        .await
        .map_err(err)?;
    if !res.status().is_success() {
        return Err(err(format!("export {format}: {}", res.status())));
    }
    let bytes = res.bytes().await.map_err(err)?;
    let secs = started.elapsed().as_secs_f64();
    sampling.store(0, Ordering::SeqCst);
    let _ = sampler.await;
    let growth = peak.lock().map(|p| *p - before).unwrap_or(0.0);
    eprintln!(
        "  {format}: {} bytes in {secs:.2} s, server RSS +{growth:.1} MB",
        bytes.len()
    );
    Ok((bytes, secs, growth))
}

fn rss_mb_of(pid: u32) -> f64 {
    status_mb(pid, "VmRSS:")
}

/// A memory line of /proc/PID/status (in kB there), in MB; 0 when unreadable.
fn status_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Connects `n` SSE clients, posts inbound messages, and measures for every client the time
/// from the post to the `message.created` event. Returns the p99 in ms.
async fn sse_latency(client: &Client, n: usize, account: &str) -> AppResult<f64> {
    let received: Arc<Mutex<Vec<(String, Instant)>>> = Arc::new(Mutex::new(Vec::new()));
    let ready = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (client, received, ready) = (client.clone(), received.clone(), ready.clone());
        tasks.push(tokio::spawn(async move {
            let res = client
                .http
                .get(format!("{}/api/v1/events", client.base))
                .bearer_auth(&client.token)
                .send()
                .await;
            let Ok(res) = res else { return };
            ready.fetch_add(1, Ordering::SeqCst);
            let mut stream = res.bytes_stream();
            let mut buf = String::new();
            while let Some(Ok(chunk)) = stream.next().await {
                let now = Instant::now();
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let frame: String = buf.drain(..end + 2).collect();
                    if frame.contains("event: message.created") {
                        if let Some(id) = frame
                            .split("\"message_id\":\"")
                            .nth(1)
                            .and_then(|r| r.split('"').next())
                        {
                            if let Ok(mut v) = received.lock() {
                                v.push((id.to_string(), now));
                            }
                        }
                    }
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while ready.load(Ordering::SeqCst) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut lat = Vec::new();
    for k in 0..10 {
        let sent = Instant::now();
        let v = client
            .post(
                &format!("/api/v1/accounts/{account}/inbound"),
                json!({"external_id": format!("sse-{k}"), "contact": {"external_id": format!("sse-{k}")}, "text": "evento en vivo"}),
            )
            .await?;
        let id = v["message_id"].as_str().unwrap_or("").to_string();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let got: Vec<Instant> = received
            .lock()
            .map(|v| {
                v.iter()
                    .filter(|(m, _)| *m == id)
                    .map(|(_, t)| *t)
                    .collect()
            })
            .unwrap_or_default();
        let round: Vec<f64> = got
            .iter()
            .map(|t| t.duration_since(sent).as_secs_f64() * 1000.0)
            .collect();
        let missed = n.saturating_sub(got.len());
        // Per round, so a single slow round can be told from a general slowness.
        eprintln!(
            "  round {}: slowest {:.1} ms, {missed} of {n} clients without the event after 400 ms",
            k + 1,
            round.iter().copied().fold(0.0, f64::max)
        );
        lat.extend(round);
        // Clients that never got it count as the whole wait.
        lat.extend(std::iter::repeat_n(400.0, missed));
    }
    for t in tasks {
        t.abort();
    }
    Ok(percentile(&mut lat, 0.99))
}

#[cfg(test)]
mod tests {
    use super::{median, paired_overhead, percentile};

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_its_middle_two() {
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(percentile(&mut [4.0, 1.0, 3.0, 2.0], 0.5), 3.0);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn the_assignment_figure_compares_each_auto_phase_with_its_neighbours() {
        // Auto 5% slower throughout, and the machine a third slower from the fifth pair on.
        let plain: Vec<f64> = (0..8).map(|i| if i < 4 { 1.5 } else { 2.0 }).collect();
        let auto: Vec<f64> = plain.iter().map(|p| p * 1.05).collect();
        assert!((paired_overhead(&plain, &auto) - 5.0).abs() < 1e-9);
        // A 1M run of 2026-12-03 whose machine slowed halfway: the medians of each kind said
        // +20.7%, its writer +7.0%.
        let plain = [1.57, 1.56, 1.58, 1.58, 1.74, 2.04, 1.91, 2.05];
        let auto = [1.75, 1.59, 1.58, 1.79, 2.10, 2.15, 2.17, 2.12];
        let got = paired_overhead(&plain, &auto);
        assert!((8.0..8.8).contains(&got), "{got}");
        assert_eq!(paired_overhead(&[], &[]), 0.0);
    }
}
