//! Backups while the server runs: on a schedule into the backup dir (with retention), on an
//! administrator's request, and for `atiende backup` through the control socket
//! (`atiende.sock` in the data dir; whoever may open it may read the data dir anyway).

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    use crate::store::{codec, meta_get, meta_put};

    pub fn get(txn: &redb::ReadTransaction) -> AppResult<Option<Stored>> {
        meta_get(txn, RECORD_KEY)?
            .map(|bytes| codec::decode(&bytes))
            .transpose()
    }

    pub fn put(txn: &redb::WriteTransaction, record: &Stored) -> AppResult<()> {
        meta_put(txn, RECORD_KEY, &codec::encode(record)?)
    }
}

async fn record(
    store: &Store,
    trigger: &str,
    at_ms: Millis,
    outcome: &AppResult<(String, Manifest)>,
) -> BackupRecord {
    let stored = match outcome {
        Ok((file, manifest)) => Stored {
            at_ms,
            trigger: trigger.into(),
            file: file.clone(),
            bytes: manifest.total_bytes(),
            attachments: manifest.attachments() as u64,
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

/// One backup at a time: a second request waits for the first.
static RUNNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A backup into the backup dir now, then retention; recorded either way.
pub async fn run(state: &AppState, trigger: &str) -> AppResult<BackupRecord> {
    let _one = RUNNING.lock().await;
    let store = state.store.clone();
    let data_dir = state.config.data_dir.clone();
    let policy = state.config.backup.clone();
    let now = store.now();
    let outcome = tokio::task::spawn_blocking({
        let store = store.clone();
        move || into_dir(&store, &data_dir, &policy, now)
    })
    .await
    .map_err(|e| AppError::internal(format!("backup task failed: {e}")))
    .and_then(|r| r);
    let record = record(&store, trigger, now, &outcome).await;
    match outcome {
        Ok((file, _)) => {
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
) -> AppResult<(String, Manifest)> {
    std::fs::create_dir_all(&policy.dir).map_err(|e| {
        AppError::internal(format!(
            "cannot create the backup dir {}: {e}",
            policy.dir.display()
        ))
    })?;
    let name = file_name(now);
    let prepared = prepare(data_dir, now, |p| store.snapshot_to(p))?;
    let manifest = write_file(&policy.dir.join(&name), |file| {
        prepared.stream(std::io::BufWriter::new(file)).map(|_| ())
    })?;
    prune(&policy.dir, policy.keep)?;
    Ok((name, manifest))
}

/// `atiende-20261124-031500-123.tar.zst` (UTC, to the millisecond): names sort by time.
fn file_name(at: Millis) -> String {
    let when = chrono::DateTime::from_timestamp_millis(at).unwrap_or_default();
    format!("{PREFIX}{}{SUFFIX}", when.format("%Y%m%d-%H%M%S-%3f"))
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

/// When the next scheduled backup is due: an interval after the last one (an hour after a
/// failed one, or sooner if the interval is shorter), never within the first minute of a
/// start, and ten minutes after the first start of a data dir that has none.
pub fn next_due(last: Option<&BackupRecord>, interval_hours: u64, now: Millis) -> Millis {
    let interval = interval_hours as i64 * HOUR_MS;
    let due = match last {
        None => now + 10 * 60_000,
        Some(r) if r.error.is_some() => r.at_ms + interval.min(HOUR_MS),
        Some(r) => r.at_ms + interval,
    };
    due.max(now + 60_000)
}

/// Backs up on the configured schedule until shutdown.
pub async fn schedule(state: AppState) {
    let hours = state.config.backup.every_hours;
    if hours == 0 {
        return;
    }
    let mut shutdown = state.shutdown.clone();
    loop {
        let last = last(&state.store).await.ok().flatten();
        let now = state.store.now();
        let wait = (next_due(last.as_ref(), hours, now) - now).max(0) as u64;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let _ = run(&state, "schedule").await;
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
    let _one = RUNNING.lock().await;
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    let store = state.store.clone();
    let data_dir = state.config.data_dir.clone();
    let now = store.now();
    let outcome = tokio::task::spawn_blocking(move || -> AppResult<(String, Manifest)> {
        let mut reader = std::io::BufReader::new(stream.try_clone()?);
        let mut line = String::new();
        (&mut reader).take(64).read_line(&mut line)?;
        let mut out = stream;
        if line.trim() != "backup" {
            let _ = writeln!(out, "error: unknown request");
            return Err(AppError::bad_request("control", "unknown control request"));
        }
        match prepare(&data_dir, now, |p| store.snapshot_to(p)) {
            Ok(prepared) => {
                writeln!(out, "ok")?;
                let manifest = prepared.stream(std::io::BufWriter::new(&mut out))?;
                Ok((String::new(), manifest))
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

    fn record(at_ms: Millis, failed: bool) -> BackupRecord {
        BackupRecord {
            at: String::new(),
            at_ms,
            trigger: "schedule".into(),
            file: String::new(),
            bytes: 0,
            attachments: 0,
            error: failed.then(|| "disk full".into()),
        }
    }

    #[test]
    fn schedule_follows_the_last_backup() {
        let now = 100 * HOUR_MS;
        assert_eq!(next_due(None, 24, now), now + 600_000, "first start");
        assert_eq!(
            next_due(Some(&record(now - HOUR_MS, false)), 24, now),
            now + 23 * HOUR_MS
        );
        assert_eq!(
            next_due(Some(&record(now - 2 * HOUR_MS, true)), 24, now),
            now + 60_000,
            "a failed one is retried within the hour, not at once on start"
        );
        assert_eq!(
            next_due(Some(&record(now - 30 * 60_000, true)), 24, now),
            now + 30 * 60_000
        );
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
