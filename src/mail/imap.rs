//! Reading a mailbox: connect (TLS, STARTTLS or loopback plain), log in, select, fetch what is
//! past the cursor with BODY.PEEK (the mailbox is never changed), store each mail together
//! with the cursor, then IDLE (re-issued before the 29-minute limit) or poll.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::parse;
use super::settings::{EmailSettings, Security, Server};
use crate::channels::host::{PollContext as Poller, PollSession};
use crate::error::{AppError, AppResult};
use crate::store::mail::{self as mail_store, MailIn, MailOutcome, StoredPart};

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}

type Session = async_imap::Session<Box<dyn Io>>;

/// IDLE is re-issued this often (servers may drop it after 30 minutes, RFC 2177).
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// Mails per batch (whole mails are held until the batch is stored, as before batching): sizes fetched together, then the bodies; the stop signal is looked at
/// between batches.
const BATCH: usize = 200;
/// At most this many bytes of mail bodies asked for in one FETCH.
const FETCH_BYTES: usize = 16 * 1024 * 1024;
/// Mails stored per transaction: one commit (one fsync) for them and their cursor, short
/// enough that the writer is not held from other work for long.
const COMMIT: usize = 50;

fn err(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::unavailable(format!("{what}: {e}"))
}

async fn timed<T, E: std::fmt::Display>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> AppResult<T> {
    match tokio::time::timeout(COMMAND_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(err(what, e)),
        Err(_) => Err(err(what, "the server did not answer in time")),
    }
}

pub fn tls_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth());
    match config {
        Ok(c) => Arc::new(c),
        // The ring provider always supports the default versions.
        Err(_) => Arc::new(
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        ),
    }
}

async fn tls_wrap(stream: TcpStream, host: &str) -> AppResult<Box<dyn Io>> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| err("server name", e))?;
    let connector = tokio_rustls::TlsConnector::from(tls_config());
    let tls = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, stream))
        .await
        .map_err(|_| err("TLS handshake", "timed out"))?
        .map_err(|e| err("TLS handshake (certificate expired or not trusted?)", e))?;
    Ok(Box::new(tls))
}

pub async fn connect(server: &Server) -> AppResult<Session> {
    let port = server.port_or(993, 143);
    let tcp = tokio::time::timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect((server.host.as_str(), port)),
    )
    .await
    .map_err(|_| err(&format!("connect to {}:{port}", server.host), "timed out"))?
    .map_err(|e| err(&format!("connect to {}:{port}", server.host), e))?;
    let stream: Box<dyn Io> = match server.security {
        Security::Tls => tls_wrap(tcp, &server.host).await?,
        Security::Plain => Box::new(tcp),
        Security::Starttls => {
            let mut client = async_imap::Client::new(tcp);
            timed("greeting", async { client.read_response().await }).await?;
            timed(
                "STARTTLS",
                client.run_command_and_check_ok("STARTTLS", None),
            )
            .await?;
            tls_wrap(client.into_inner(), &server.host).await?
        }
    };
    let mut client = async_imap::Client::new(stream);
    if server.security != Security::Starttls {
        timed("greeting", async { client.read_response().await }).await?;
    }
    let user = server.username.clone().unwrap_or_default();
    let password = server.password.clone().unwrap_or_default();
    let password = password.expose();
    match tokio::time::timeout(COMMAND_TIMEOUT, client.login(&user, password)).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err((e, _))) => Err(AppError::unavailable(format!(
            "login as {user} refused (wrong user or password?): {e}"
        ))),
        Err(_) => Err(err("login", "timed out")),
    }
}

/// Runs one connection until it fails or the poller is told to stop. Returns Ok(()) on stop.
/// An email account's IMAP poller, run by the channels' poller host.
pub struct ImapSession(pub EmailSettings);

impl PollSession for ImapSession {
    fn run<'a>(&'a self, ctx: &'a Poller) -> futures_util::future::BoxFuture<'a, AppResult<()>> {
        Box::pin(run_session(ctx, &self.0))
    }
}

async fn run_session(poller: &Poller, settings: &EmailSettings) -> AppResult<()> {
    let server = settings
        .imap
        .as_ref()
        .ok_or_else(|| AppError::invalid("settings.imap", "missing", "no IMAP server"))?;
    let mut session = connect(server).await?;
    let mailbox_name = server.mailbox.clone().unwrap_or_else(|| "INBOX".into());
    let mailbox = timed("SELECT", session.select(&mailbox_name)).await?;
    let validity = mailbox.uid_validity.unwrap_or(0);
    let caps = timed("CAPABILITY", session.capabilities()).await?;
    let idle = caps.has_str("IDLE") && settings.use_idle.unwrap_or(true);
    poller.health.connected(poller.account_id);

    let account_id = poller.account_id;
    // The cursor belongs to one mailbox of one server: another host, user or folder (or a
    // new UIDVALIDITY) starts again like a first connection.
    let source = format!(
        "{}|{}|{}",
        server.host.to_lowercase(),
        server.username.clone().unwrap_or_default(),
        mailbox_name
    );
    let stored = poller
        .store
        .read(move |txn| mail_store::cursor(txn, account_id))
        .await?;
    let mut last_uid = match stored {
        Some((v, uid, from)) if v == validity && from == source => uid,
        other => {
            if other.is_some() {
                tracing::warn!(
                    account = account_id,
                    "the mailbox changed (server, folder or UIDVALIDITY): importing only its latest mails again"
                );
            }
            // Import only the latest mails, leave the archive alone.
            let keep = settings.initial_import.unwrap_or(100);
            let next = mailbox.uid_next.unwrap_or(1);
            let mut all: Vec<u32> = timed("UID SEARCH", session.uid_search("ALL"))
                .await?
                .into_iter()
                .collect();
            all.sort_unstable();
            let start = all.len().saturating_sub(keep as usize);
            let before = all
                .get(start)
                .map(|u| u.saturating_sub(1))
                .unwrap_or(next.saturating_sub(1));
            poller
                .store
                .write(move |txn, _| {
                    mail_store::reset_cursor(txn, account_id, (validity, before), &source)
                })
                .await?;
            before
        }
    };

    loop {
        last_uid = fetch_new(poller, settings, &mut session, validity, last_uid).await?;
        if *poller.stop.borrow() {
            let _ = timed("LOGOUT", session.logout()).await;
            return Ok(());
        }
        if idle {
            let mut handle = session.idle();
            timed("IDLE", handle.init()).await?;
            let (wait, interrupt) = handle.wait_with_timeout(IDLE_RENEW);
            let mut stop = poller.stop.clone();
            let outcome = tokio::select! {
                r = wait => Some(r),
                _ = stop.wait_for(|s| *s) => None,
            };
            drop(interrupt);
            if let Some(r) = outcome {
                r.map_err(|e| err("IDLE", e))?;
            }
            session = timed("DONE", handle.done()).await?;
        } else {
            let wait = Duration::from_secs(settings.poll_seconds.unwrap_or(60).max(5) as u64);
            let mut stop = poller.stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
            timed("NOOP", session.noop()).await?;
        }
    }
}

/// Fetches and stores every mail past `last_uid`, in UID order: one search per pass (a
/// backlog of 100,000 is listed once, not once per batch), sizes and bodies fetched a batch at
/// a time (bodies grouped up to `FETCH_BYTES`), each stored as it comes. The stop signal is
/// looked at between batches, so a stop during a long import is prompt and clean.
async fn fetch_new(
    poller: &Poller,
    settings: &EmailSettings,
    session: &mut Session,
    validity: u32,
    mut last_uid: u32,
) -> AppResult<u32> {
    let max = settings.max_message_bytes();
    loop {
        let mut uids: Vec<u32> = timed(
            "UID SEARCH",
            session.uid_search(format!("UID {}:*", last_uid.saturating_add(1))),
        )
        .await?
        .into_iter()
        .filter(|u| *u > last_uid)
        .collect();
        if uids.is_empty() {
            return Ok(last_uid);
        }
        uids.sort_unstable();
        for batch in uids.chunks(BATCH) {
            if *poller.stop.borrow() {
                return Ok(last_uid);
            }
            // Sizes first, so an oversize mail is fetched as headers only.
            let sizes: HashMap<u32, u32> = timed("UID FETCH size", async {
                session
                    .uid_fetch(uid_set(batch), "(UID RFC822.SIZE)")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?
            .iter()
            .filter_map(|f| Some((f.uid?, f.size.unwrap_or(0))))
            .collect();
            let size_of = |uid: &u32| sizes.get(uid).copied().unwrap_or(0) as usize;
            let mut raws: HashMap<u32, Vec<u8>> = HashMap::new();
            // Whole mails in groups of at most FETCH_BYTES (one round trip each); an oversize
            // one alone, headers only.
            let mut group: Vec<u32> = Vec::new();
            let mut group_bytes = 0usize;
            let whole: Vec<u32> = batch
                .iter()
                .copied()
                .filter(|u| size_of(u) <= max)
                .collect();
            for (i, uid) in whole.iter().enumerate() {
                group.push(*uid);
                group_bytes += size_of(uid);
                let last = i + 1 == whole.len();
                if group_bytes >= FETCH_BYTES || last {
                    fetch_into(session, &group, "(UID BODY.PEEK[])", &mut raws).await?;
                    group.clear();
                    group_bytes = 0;
                }
            }
            for uid in batch.iter().filter(|u| size_of(u) > max) {
                fetch_into(session, &[*uid], "(UID BODY.PEEK[HEADER])", &mut raws).await?;
            }
            let fetched: Vec<(u32, Vec<u8>, usize)> = batch
                .iter()
                .map(|uid| (*uid, raws.remove(uid).unwrap_or_default(), size_of(uid)))
                .collect();
            let mut mails = read_all(poller, validity, fetched, max).await?.into_iter();
            loop {
                let chunk: Vec<MailIn> = mails.by_ref().take(COMMIT).collect();
                if chunk.is_empty() {
                    break;
                }
                store_chunk(poller, chunk).await?;
            }
            if let Some(uid) = batch.last() {
                last_uid = *uid;
            }
        }
    }
}

fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(|u| u.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// One UID FETCH of `uids` with `query`, each answer's bytes put in `into` by UID.
async fn fetch_into(
    session: &mut Session,
    uids: &[u32],
    query: &str,
    into: &mut HashMap<u32, Vec<u8>>,
) -> AppResult<()> {
    let fetched = timed("UID FETCH", async {
        session
            .uid_fetch(uid_set(uids), query)
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    for f in &fetched {
        if let (Some(uid), Some(bytes)) = (f.uid, f.body().or_else(|| f.header())) {
            into.insert(uid, bytes.to_vec());
        }
    }
    Ok(())
}

/// Reads a batch of fetched mails (parsing, attachments into the blob store) on the blocking
/// pool, a share per core, and gives them back in UID order.
async fn read_all(
    poller: &Poller,
    validity: u32,
    fetched: Vec<(u32, Vec<u8>, usize)>,
    max: usize,
) -> AppResult<Vec<MailIn>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let share = fetched.len().div_ceil(cores).max(1);
    let mut shares = Vec::new();
    let mut rest = fetched.into_iter();
    loop {
        let part: Vec<_> = rest.by_ref().take(share).collect();
        if part.is_empty() {
            break;
        }
        shares.push(part);
    }
    let account_id = poller.account_id;
    let reads = shares.into_iter().map(|part| {
        let blobs = poller.store.blobs.clone();
        async move {
            let mut out = Vec::with_capacity(part.len());
            for (uid, raw, size) in part {
                out.push(read_one(blobs.clone(), account_id, validity, uid, raw, size, max).await?);
            }
            Ok::<_, AppError>(out)
        }
    });
    let mut mails = Vec::new();
    for share in futures_util::future::join_all(reads).await {
        mails.extend(share?);
    }
    Ok(mails)
}

/// One mail read on the blocking pool; a reader that crashes on it keeps it as raw text with a
/// note (rather than fetching it again forever). Attachments that cannot be stored (a full
/// disk) are an error: the mail is fetched again later.
#[allow(clippy::too_many_arguments)] // one mail's facts, as the batch has them
async fn read_one(
    blobs: crate::store::blobs::Blobs,
    account_id: u64,
    validity: u32,
    uid: u32,
    raw: Vec<u8>,
    size: usize,
    max: usize,
) -> AppResult<MailIn> {
    let header_bytes = raw[..raw.len().min(64 * 1024)].to_vec();
    let read = tokio::task::spawn_blocking(move || -> AppResult<_> {
        let mut parsed = parse::parse(&raw, size, max);
        let mut parts = Vec::new();
        for a in std::mem::take(&mut parsed.attachments) {
            let sha256 = blobs.put(&a.bytes)?;
            parts.push(StoredPart {
                sha256,
                name: a.name,
                size: a.bytes.len() as u64,
                content_type: a.content_type,
                content_id: a.content_id,
            });
        }
        Ok((parsed, parts))
    })
    .await;
    let (parsed, parts) = match read {
        Ok(r) => r?,
        Err(e) => {
            tracing::error!(account = account_id, uid, error = %e, "mail reader failed; stored raw");
            (parse::unreadable(&header_bytes), Vec::new())
        }
    };
    Ok(MailIn {
        account_id,
        cursor: Some((validity, uid)),
        fallback_id: format!("imap:{validity}:{uid}"),
        parsed,
        parts,
    })
}

/// Stores mails (in UID order) and the cursor past the last in one transaction; if that fails,
/// one at a time, so a mail that cannot be stored is refused alone.
async fn store_chunk(poller: &Poller, mails: Vec<MailIn>) -> AppResult<()> {
    let now = poller.store.now();
    let all = Arc::new(mails);
    let together = all.clone();
    let outcome = poller
        .store
        .write(move |txn, fx| {
            together
                .iter()
                .map(|m| mail_store::ingest(txn, fx, m, now))
                .collect::<AppResult<Vec<_>>>()
        })
        .await;
    match outcome {
        Ok(outcomes) => {
            for (mail, o) in all.iter().zip(outcomes) {
                noted(poller, mail, &o);
            }
            Ok(())
        }
        // The store cannot take it now (full disk …): the session ends, the batch comes again.
        Err(e) if !e.status.is_client_error() => Err(e),
        // One of them is refused: store them one by one, so it is refused alone.
        Err(_) => {
            for mail in all.iter() {
                store_one(poller, mail.clone()).await?;
            }
            Ok(())
        }
    }
}

fn noted(poller: &Poller, mail: &MailIn, outcome: &MailOutcome) {
    let uid = mail.cursor.map(|c| c.1);
    match outcome {
        MailOutcome::Skipped(why) => {
            poller.health.fetched(poller.account_id, false);
            tracing::info!(account = poller.account_id, uid, reason = %why, "mail not stored as a message");
        }
        o => {
            poller.health.fetched(poller.account_id, true);
            tracing::debug!(account = poller.account_id, uid, ?o, "mail stored");
        }
    }
}

async fn store_one(poller: &Poller, mail: MailIn) -> AppResult<()> {
    let now = poller.store.now();
    let (validity, uid) = mail.cursor.unwrap_or_default();
    let stored = mail.clone();
    let outcome = poller
        .store
        .write(move |txn, fx| mail_store::ingest(txn, fx, &stored, now))
        .await;
    match outcome {
        Ok(o) => noted(poller, &mail, &o),
        Err(e) if e.status.is_client_error() => {
            poller.health.fetched(poller.account_id, false);
            // The mail itself is unusable (e.g. a reference to something gone): record the
            // refusal, move the cursor past it, go on.
            tracing::warn!(account = poller.account_id, uid, error = %e.message, "mail refused");
            let account_id = poller.account_id;
            poller
                .store
                .write(move |txn, _| mail_store::set_cursor(txn, account_id, (validity, uid)))
                .await?;
        }
        Err(e) => return Err(e),
    }
    Ok(())
}
