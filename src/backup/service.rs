//! Backups while the server runs: on a schedule into the backup dir (with retention), on an
//! administrator's request, and for `atiende backup` through the control socket
//! (`atiende.sock` in the data dir; whoever may open it may read the data dir anyway).

use std::io::{BufRead, Read, Write};

use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{prepare, write_file, Manifest};
use crate::config::BackupPolicy;
use crate::domain::clock::to_rfc3339;
use crate::domain::Millis;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::Store;

pub const SOCKET: &str = "atiende.sock";
const PREFIX: &str = "atiende-";
const SUFFIX: &str = ".tar.zst";
const HOUR_MS: i64 = 3_600_000;

/// The last backup taken by this server (kept in the database, shown on /status).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BackupRecord {
    /// RFC 3339.
    pub at: String,
    #[serde(skip)]
    #[schema(ignore)]
    pub at_ms: Millis,
    /// schedule, admin (from the API) or command (`atiende backup`).
    pub trigger: String,
    /// The file's name in the backup dir; empty for `atiende backup`, which writes its own.
    pub file: String,
    /// The archive's size (compressed).
    pub bytes: u64,
    pub attachments: u64,
    /// Why it failed; absent when it worked.
    pub error: Option<String>,
}

/// What the database keeps (`at_ms` included, which the API shows as `at`).
#[derive(Clone, Serialize, Deserialize)]
struct Stored {
    at_ms: Millis,
    trigger: String,
    file: String,
    bytes: u64,
    attachments: u64,
    error: Option<String>,
}

impl From<Stored> for BackupRecord {
    fn from(s: Stored) -> Self {
        BackupRecord {
            at: to_rfc3339(s.at_ms),
            at_ms: s.at_ms,
            trigger: s.trigger,
            file: s.file,
            bytes: s.bytes,
            attachments: s.attachments,
            error: s.error,
        }
    }
}

pub async fn last(store: &Store) -> AppResult<Option<BackupRecord>> {
    let stored: Option<Stored> = store.read(store_meta::get).await?;
    Ok(stored.map(BackupRecord::from))
}

/// Where the record lives in the store's meta table.
const RECORD_KEY: &str = "last_backup";

mod store_meta {
    use super::{Stored, RECORD_KEY};
    use crate::error::AppResult;
    use crate::store::{codec, meta_get, meta_put, ReadTransaction, WriteTransaction};

    pub fn get(txn: &ReadTransaction) -> AppResult<Option<Stored>> {
        meta_get(txn, RECORD_KEY)?
            .map(|bytes| codec::decode(&bytes))
            .transpose()
    }

    pub fn put(txn: &WriteTransaction, record: &Stored) -> AppResult<()> {
        meta_put(txn, RECORD_KEY, &codec::encode(record)?)
    }
}

async fn record(
    store: &Store,
    trigger: &str,
    at_ms: Millis,
    outcome: &AppResult<Written>,
) -> BackupRecord {
    let stored = match outcome {
        Ok(w) => Stored {
            at_ms,
            trigger: trigger.into(),
            file: w.file.clone(),
            bytes: w.bytes,
            attachments: w.manifest.attachments() as u64,
            error: None,
        },
        Err(e) => Stored {
            at_ms,
            trigger: trigger.into(),
            file: String::new(),
            bytes: 0,
            attachments: 0,
            error: Some(e.message.clone()),
        },
    };
    let result = BackupRecord::from(stored.clone());
    let to_store = stored;
    if let Err(e) = store
        .write(move |txn, _| store_meta::put(txn, &to_store))
        .await
    {
        tracing::warn!(error = %e.message, "could not record the backup");
    }
    result
}

/// A backup written: its file name in the backup dir (empty when streamed to `atiende
/// backup`), its manifest, and the archive's size.
struct Written {
    file: String,
    manifest: Manifest,
    bytes: u64,
}

/// One backup at a time: a second request waits for the first.
static RUNNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A backup waiting for its turn does not start once the server is stopping (it would only
/// begin a copy that the stop then cuts short).
fn stopping(state: &AppState) -> AppResult<()> {
    if *state.shutdown.borrow() {
        return Err(AppError::stopping());
    }
    Ok(())
}

/// What a backup stopped halfway leaves (the runtime does not wait for it at exit): the
/// database copy in the data dir and the partial archive in the backup dir.
pub fn remove_leftovers(data_dir: &Path, backup_dir: &Path) {
    let leftover = |dir: &Path, is: &dyn Fn(&str) -> bool| {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if is(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    };
    leftover(data_dir, &|n| {
        n.starts_with("backup-") && n.ends_with(".redb.tmp")
    });
    leftover(backup_dir, &|n| {
        n.starts_with(PREFIX) && n.ends_with(".partial")
    });
}

/// A backup into the backup dir now, then retention; recorded either way.
pub async fn run(state: &AppState, trigger: &str) -> AppResult<BackupRecord> {
    let _one = RUNNING.lock().await;
    stopping(state)?;
    let store = state.store.clone();
    let data_dir = state.config.data_dir.clone();
    let policy = state.config.backup.clone();
    let now = store.now();
    let outcome = tokio::task::spawn_blocking({
        let (store, stop) = (store.clone(), state.shutdown.clone());
        move || into_dir(&store, &data_dir, &policy, now, stop)
    })
    .await
    .map_err(|e| AppError::internal(format!("backup task failed: {e}")))
    .and_then(|r| r);
    let record = record(&store, trigger, now, &outcome).await;
    match outcome {
        Ok(Written { file, .. }) => {
            tracing::info!(%file, bytes = record.bytes, trigger, "backup written");
            Ok(record)
        }
        Err(e) => {
            tracing::warn!(error = %e.message, trigger, "backup failed");
            Err(e)
        }
    }
}

fn into_dir(
    store: &Store,
    data_dir: &Path,
    policy: &BackupPolicy,
    now: Millis,
    stop: watch::Receiver<bool>,
) -> AppResult<Written> {
    super::private_dirs(&policy.dir).map_err(|e| {
        AppError::internal(format!(
            "cannot create the backup dir {}: {e}",
            policy.dir.display()
        ))
    })?;
    let name = file_name(now);
    let stopping = || *stop.borrow();
    let prepared = prepare(data_dir, now, |p| store.snapshot_to(p, &stopping))?;
    let dest = policy.dir.join(&name);
    let manifest = write_file(&dest, |file| {
        let out = StopWriter::new(file, stop);
        prepared.stream(std::io::BufWriter::new(out)).map(|_| ())
    })?;
    let bytes = std::fs::metadata(&dest)?.len();
    prune(&policy.dir, policy.keep)?;
    Ok(Written {
        file: name,
        manifest,
        bytes,
    })
}

const NAME_TIME: &str = "%Y%m%d-%H%M%S-%3f";

/// `atiende-20261124-031500-123.tar.zst` (UTC, to the millisecond): names sort by time.
fn file_name(at: Millis) -> String {
    let when = chrono::DateTime::from_timestamp_millis(at).unwrap_or_default();
    format!("{PREFIX}{}{SUFFIX}", when.format(NAME_TIME))
}

/// When the backup named `name` was taken.
fn taken_at(name: &str) -> Option<Millis> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    chrono::NaiveDateTime::parse_from_str(stamp, NAME_TIME)
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

/// A writer that fails once the server is stopping: a long backup must not hold the stop
/// past its 10 s (the partial file is removed, and the next start or schedule tries again).
struct StopWriter<W> {
    inner: W,
    stop: watch::Receiver<bool>,
    /// Bytes written so far (the archive's size once it is whole).
    written: u64,
}

impl<W> StopWriter<W> {
    fn new(inner: W, stop: watch::Receiver<bool>) -> Self {
        StopWriter {
            inner,
            stop,
            written: 0,
        }
    }
}

impl<W: Write> Write for StopWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if *self.stop.borrow() {
            // Not `Interrupted`: write_all and zstd retry that kind forever.
            return Err(std::io::Error::other("the server is stopping"));
        }
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The backups in `dir`, oldest first.
pub fn list(dir: &Path) -> AppResult<Vec<(String, u64)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(PREFIX) && name.ends_with(SUFFIX) {
            out.push((name, entry.metadata().map(|m| m.len()).unwrap_or(0)));
        }
    }
    out.sort();
    Ok(out)
}

/// Keeps the newest `keep` backups.
fn prune(dir: &Path, keep: usize) -> AppResult<()> {
    let all = list(dir)?;
    for (name, _) in all.iter().take(all.len().saturating_sub(keep)) {
        std::fs::remove_file(dir.join(name))?;
    }
    Ok(())
}

/// When the next scheduled backup is due: an interval after the newest one in the backup
/// dir (an hour after a failed attempt, or sooner if the interval is shorter), never within
/// the first minute of a start, and ten minutes after start when the dir has none.
pub fn next_due(
    newest: Option<Millis>,
    failed_at: Option<Millis>,
    interval_hours: u64,
    now: Millis,
) -> Millis {
    let interval = (interval_hours as i64).saturating_mul(HOUR_MS);
    let due = match (newest, failed_at) {
        (_, Some(failed)) if newest.is_none_or(|n| failed > n) => {
            failed.saturating_add(interval.min(HOUR_MS))
        }
        (Some(n), _) => n.saturating_add(interval),
        (None, _) => now + 10 * 60_000,
    };
    due.max(now + 60_000)
}

/// Backs up on the configured schedule until shutdown. Only backups in the backup dir count
/// (one written elsewhere by `atiende backup` is no substitute for the kept series).
pub async fn schedule(state: AppState) {
    let policy = state.config.backup.clone();
    if policy.every_hours == 0 {
        return;
    }
    let mut shutdown = state.shutdown.clone();
    let mut failed_at = None;
    loop {
        let dir = policy.dir.clone();
        let newest = tokio::task::spawn_blocking(move || list(&dir))
            .await
            .ok()
            .and_then(Result::ok)
            .and_then(|files| files.iter().rev().find_map(|(name, _)| taken_at(name)));
        let now = state.store.now();
        // A name from a clock that was once ahead must not hold the schedule off until then.
        let newest = newest.map(|n| n.min(now));
        let wait = (next_due(newest, failed_at, policy.every_hours, now) - now).max(0) as u64;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        failed_at = run(&state, "schedule")
            .await
            .err()
            .map(|_| state.store.now());
    }
}

/// Answers `atiende backup` through the control socket until shutdown.
pub async fn control_socket(state: AppState) {
    let path = state.config.data_dir.join(SOCKET);
    // A socket left by a crash: this process holds the database, so no one else uses it.
    let _ = std::fs::remove_file(&path);
    let listener = match tokio::net::UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "no control socket: `atiende backup` cannot reach this server");
            return;
        }
    };
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    let mut shutdown = state.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|s| *s) => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "control socket");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(state, stream).await {
                tracing::warn!(error = %e.message, "control request failed");
            }
        });
    }
    let _ = std::fs::remove_file(&path);
}

/// One request: the line `backup`, answered by `ok` and the archive, or `error: why`.
async fn answer(state: AppState, stream: tokio::net::UnixStream) -> AppResult<()> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    // The request is read before any lock is taken: a client that says nothing holds up
    // nobody's backup.
    let mut reader = tokio::io::BufReader::new(stream);
    let mut line = String::new();
    let read = tokio::time::timeout(
        Duration::from_secs(5),
        (&mut reader).take(64).read_line(&mut line),
    )
    .await;
    let mut stream = reader.into_inner();
    if !matches!(read, Ok(Ok(_))) || line.trim() != "backup" {
        let _ = stream.write_all(b"error: unknown request\n").await;
        return Ok(());
    }
    let _one = RUNNING.lock().await;
    if stopping(&state).is_err() {
        let _ = stream.write_all(b"error: the server is stopping\n").await;
        return Ok(());
    }
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    // A reader that stops reading must not hold the backup (and the stop) forever.
    stream.set_write_timeout(Some(Duration::from_secs(60)))?;
    let (store, stop) = (state.store.clone(), state.shutdown.clone());
    let data_dir = state.config.data_dir.clone();
    let now = store.now();
    let outcome = tokio::task::spawn_blocking(move || -> AppResult<Written> {
        let mut out = stream;
        let stopping = || *stop.borrow();
        match prepare(&data_dir, now, |p| store.snapshot_to(p, &stopping)) {
            Ok(prepared) => {
                writeln!(out, "ok")?;
                let mut writer = StopWriter::new(&mut out, stop);
                let manifest = prepared.stream(std::io::BufWriter::new(&mut writer))?;
                Ok(Written {
                    file: String::new(),
                    manifest,
                    bytes: writer.written,
                })
            }
            Err(e) => {
                let _ = writeln!(out, "error: {}", e.message);
                Err(e)
            }
        }
    })
    .await
    .map_err(|e| AppError::internal(format!("backup task failed: {e}")))
    .and_then(|r| r);
    record(&state.store, "command", now, &outcome).await;
    outcome.map(|_| ())
}

/// The client side: asks the server running on `data_dir` for a backup and copies it to `out`.
pub fn request(data_dir: &Path, out: &mut impl Write) -> AppResult<()> {
    let path: PathBuf = data_dir.join(SOCKET);
    let stream = std::os::unix::net::UnixStream::connect(&path).map_err(|e| {
        AppError::internal(format!(
            "the data dir is in use by a running atiende, but its control socket {} does not answer ({e}); \
             stop the server or back up with the version it runs",
            path.display()
        ))
    })?;
    (&stream).write_all(b"backup\n")?;
    let mut reader = std::io::BufReader::new(stream);
    let mut line = String::new();
    (&mut reader).take(4096).read_line(&mut line)?;
    match line.trim_end().strip_prefix("error: ") {
        Some(why) => Err(AppError::internal(format!(
            "the server could not back up: {why}"
        ))),
        None if line.trim_end() == "ok" => {
            std::io::copy(&mut reader, out)?;
            Ok(())
        }
        None => Err(AppError::internal(
            "the server answered something unexpected",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_follows_the_newest_backup_in_the_dir() {
        let now = 100 * HOUR_MS;
        assert_eq!(next_due(None, None, 24, now), now + 600_000, "first start");
        assert_eq!(
            next_due(Some(now - HOUR_MS), None, 24, now),
            now + 23 * HOUR_MS
        );
        assert_eq!(
            next_due(Some(now - 30 * HOUR_MS), Some(now - 2 * HOUR_MS), 24, now),
            now + 60_000,
            "a failed one is retried within the hour, not at once on start"
        );
        assert_eq!(
            next_due(Some(now - 30 * HOUR_MS), Some(now - 30 * 60_000), 24, now),
            now + 30 * 60_000
        );
        assert_eq!(
            next_due(Some(now - HOUR_MS), Some(now - 2 * HOUR_MS), 24, now),
            now + 23 * HOUR_MS,
            "a failure before the newest backup no longer counts"
        );
        assert!(
            next_due(Some(now), None, u64::MAX, now) > now,
            "no overflow"
        );
        assert_eq!(taken_at(&file_name(now + 123)), Some(now + 123));
        assert_eq!(taken_at("atiende-mio.tar.zst"), None);
    }

    #[test]
    fn a_stopping_server_fails_the_write_instead_of_retrying_it() {
        let (tx, rx) = watch::channel(false);
        let mut out = StopWriter::new(Vec::new(), rx);
        out.write_all(b"abc").unwrap();
        assert_eq!(out.written, 3);
        tx.send(true).unwrap();
        // write_all retries Interrupted forever; this must return.
        assert!(out.write_all(b"def").is_err());
    }

    #[test]
    fn leftovers_of_a_stopped_backup_are_removed() {
        let data = tempfile::tempdir().unwrap();
        let backups = data.path().join("backups");
        std::fs::create_dir_all(&backups).unwrap();
        std::fs::write(data.path().join("backup-12.redb.tmp"), b"x").unwrap();
        std::fs::write(data.path().join("atiende.redb"), b"x").unwrap();
        let partial = format!("{}.partial", file_name(HOUR_MS));
        std::fs::write(backups.join(&partial), b"x").unwrap();
        std::fs::write(backups.join(file_name(HOUR_MS)), b"x").unwrap();
        remove_leftovers(data.path(), &backups);
        assert!(!data.path().join("backup-12.redb.tmp").exists());
        assert!(!backups.join(partial).exists());
        assert!(data.path().join("atiende.redb").exists());
        assert!(backups.join(file_name(HOUR_MS)).exists());
    }

    #[test]
    fn names_sort_by_time_and_retention_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for at in [3, 1, 2] {
            std::fs::write(dir.path().join(file_name(at * HOUR_MS)), b"x").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
        prune(dir.path(), 2).unwrap();
        let left: Vec<String> = list(dir.path())
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(left, vec![file_name(2 * HOUR_MS), file_name(3 * HOUR_MS)]);
        assert!(dir.path().join("notes.txt").exists(), "other files stay");
    }
}
