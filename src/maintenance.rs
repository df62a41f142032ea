//! Keeping the data dir small while the server runs (issue 21). Every night (04:00 in the
//! workspace's time zone) the tables whose pages became mostly slack are repacked, a slice per
//! commit; when a quarter or more of the file's blocks are then free pages, the file is
//! compacted too: redb moves pages toward the start and trims the file while the writer holds
//! the database alone (writes queue, readers wait; seconds at 100,000 tickets, about 20 s at a
//! million). An administrator can compact now from Administración › Espacio en disco.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{Duration as Days, NaiveTime, TimeZone};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::Millis;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::FileSize;

/// Where the last compaction is kept between restarts.
const META_KEY: &str = "storage.last_compaction";

/// The nightly pass's local hour: when a support team is least likely to be answering.
const NIGHTLY_HOUR: u32 = 4;

/// The nightly pass compacts once free pages are this share of the file's blocks, and at least
/// `MIN_FREE_BYTES` (a small store's few free pages are not worth holding the database for).
const COMPACT_FREE_SHARE: f64 = 0.25;
const MIN_FREE_BYTES: u64 = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompactionState {
    Running,
    Done,
    Failed,
}

/// A compaction, running or finished.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Compaction {
    pub state: CompactionState,
    /// The administrator who asked for it; None for the nightly pass.
    pub by: Option<String>,
    pub started_at: Millis,
    pub finished_at: Option<Millis>,
    /// The database file before and after.
    pub before: FileSize,
    pub after: Option<FileSize>,
    /// Seconds repacking the tables (the server works as usual meanwhile).
    pub repack_seconds: Option<f64>,
    /// Seconds the database was held alone (writes queued, reads waited).
    pub pause_seconds: Option<f64>,
    /// Why it failed: a stable code (`storage_in_use` …) and the server's message.
    pub error_code: Option<String>,
    pub error: Option<String>,
}

/// The compaction running in this process, or the last one it ran.
#[derive(Default)]
pub struct Compactions(Mutex<Option<Compaction>>);

impl Compactions {
    fn current(&self) -> Option<Compaction> {
        self.0.lock().ok().and_then(|c| c.clone())
    }

    fn set(&self, c: Compaction) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(c);
        }
    }

    /// Marks one as running unless one already is.
    fn claim(&self, c: Compaction) -> AppResult<()> {
        let mut slot = self
            .0
            .lock()
            .map_err(|_| AppError::internal("compaction state poisoned"))?;
        if matches!(slot.as_ref(), Some(r) if r.state == CompactionState::Running) {
            return Err(AppError::conflict(
                "compaction_running",
                "a compaction is already running",
            ));
        }
        *slot = Some(c);
        Ok(())
    }
}

/// The one running or last run: this process's, else the last one stored.
pub async fn last(state: &AppState) -> AppResult<Option<Compaction>> {
    if let Some(c) = state.compactions.current() {
        return Ok(Some(c));
    }
    state
        .store
        .read(|txn| {
            Ok(crate::store::meta_get(txn, META_KEY)?
                .and_then(|bytes| serde_json::from_slice::<Compaction>(&bytes).ok()))
        })
        .await
}

/// Starts a compaction in the background and answers at once with it running.
pub fn start(state: &AppState, by: Option<String>) -> AppResult<Compaction> {
    let running = Compaction {
        state: CompactionState::Running,
        by,
        started_at: state.store.now(),
        finished_at: None,
        before: state.store.file_size(),
        after: None,
        repack_seconds: None,
        pause_seconds: None,
        error_code: None,
        error: None,
    };
    state.compactions.claim(running.clone())?;
    let state = state.clone();
    let answer = running.clone();
    tokio::spawn(async move {
        run(&state, running).await;
    });
    Ok(answer)
}

async fn run(state: &AppState, mut c: Compaction) {
    match state.store.compact_online(state.shutdown.clone()).await {
        Ok(done) => {
            tracing::info!(
                before = done.before.on_disk,
                after = done.after.on_disk,
                repack_seconds = done.repack_seconds,
                pause_seconds = done.compact_seconds,
                "database compacted"
            );
            c.state = CompactionState::Done;
            c.after = Some(done.after);
            c.repack_seconds = Some(done.repack_seconds);
            c.pause_seconds = Some(done.compact_seconds);
        }
        Err(e) => {
            tracing::warn!(error = %e.message, "compaction failed");
            c.state = CompactionState::Failed;
            c.after = Some(state.store.file_size());
            c.error_code = Some(e.code.to_string());
            c.error = Some(e.message);
        }
    }
    c.finished_at = Some(state.store.now());
    state.compactions.set(c.clone());
    if let Ok(bytes) = serde_json::to_vec(&c) {
        let stored = state
            .store
            .write(move |txn, _| crate::store::meta_put(txn, META_KEY, &bytes))
            .await;
        if let Err(e) = stored {
            tracing::warn!(error = %e.message, "the compaction's outcome was not stored");
        }
    }
}

/// The nightly pass (see the module's comment), until the server stops.
pub async fn nightly(state: AppState) {
    let mut shutdown = state.shutdown.clone();
    loop {
        let wait = until_next_night(&state).await;
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let pass = state
            .store
            .repack_online(crate::store::repack::DAILY, state.shutdown.clone())
            .await;
        match pass {
            Ok(()) => {}
            Err(e) if e.code == "stopping" => return,
            Err(e) => tracing::warn!(error = %e.message, "repacking stopped"),
        }
        match free_pages(&state).await {
            Ok(free) if worth_compacting(free, state.store.file_size().on_disk) => {
                if let Ok(c) = start(&state, None) {
                    tracing::info!(free, "free pages in the database: compacting");
                    wait_for(&state, c.started_at).await;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e.message, "could not measure the free pages"),
        }
    }
}

fn worth_compacting(free: u64, on_disk: u64) -> bool {
    free >= MIN_FREE_BYTES && free as f64 >= on_disk as f64 * COMPACT_FREE_SHARE
}

/// The file's blocks that no table uses: free pages, which only compaction gives back (a read
/// transaction: the tables' own statistics, a walk of their pages).
async fn free_pages(state: &AppState) -> AppResult<u64> {
    let tables = state
        .store
        .read(crate::store::usage::usage)
        .await?
        .tables
        .iter()
        .map(|t| t.total())
        .sum::<u64>();
    Ok(state.store.file_size().on_disk.saturating_sub(tables))
}

async fn wait_for(state: &AppState, started_at: Millis) {
    let mut shutdown = state.shutdown.clone();
    loop {
        match state.compactions.current() {
            Some(c) if c.started_at == started_at && c.state == CompactionState::Running => {}
            _ => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// Time until the next 04:00 in the reports' time zone.
async fn until_next_night(state: &AppState) -> Duration {
    let zone = state
        .store
        .read(crate::store::report::settings)
        .await
        .map(|s| s.zone())
        .unwrap_or(chrono_tz::UTC);
    let now = state.store.now();
    Duration::from_millis(next_night(zone, now).saturating_sub(now).max(0) as u64)
}

/// The first `NIGHTLY_HOUR`:00 strictly after `now` in `zone` (an hour skipped by a clock
/// change falls an hour later).
fn next_night(zone: chrono_tz::Tz, now: Millis) -> Millis {
    let Some(local) = zone.timestamp_millis_opt(now).single() else {
        return now + 24 * 3_600_000;
    };
    let at = NaiveTime::from_hms_opt(NIGHTLY_HOUR, 0, 0).unwrap_or_default();
    for days in 0..3 {
        let day = local.date_naive() + Days::days(days);
        let naive = day.and_time(at);
        let resolved = zone.from_local_datetime(&naive).earliest().or_else(|| {
            zone.from_local_datetime(&(naive + Days::hours(1)))
                .earliest()
        });
        if let Some(t) = resolved.map(|t| t.timestamp_millis()) {
            if t > now {
                return t;
            }
        }
    }
    now + 24 * 3_600_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(zone: chrono_tz::Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Millis {
        zone.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .map(|t| t.timestamp_millis())
            .unwrap_or_default()
    }

    #[test]
    fn the_next_night_is_four_in_the_morning_local() {
        let santiago = chrono_tz::America::Santiago;
        let evening = at(santiago, 2026, 12, 3, 18, 30);
        assert_eq!(
            next_night(santiago, evening),
            at(santiago, 2026, 12, 4, 4, 0)
        );
        let early = at(santiago, 2026, 12, 3, 2, 0);
        assert_eq!(next_night(santiago, early), at(santiago, 2026, 12, 3, 4, 0));
        let exactly = at(santiago, 2026, 12, 3, 4, 0);
        assert_eq!(
            next_night(santiago, exactly),
            at(santiago, 2026, 12, 4, 4, 0)
        );
    }

    #[test]
    fn compacts_only_when_a_quarter_of_the_blocks_are_free() {
        assert!(
            !worth_compacting(1 << 20, 2 << 20),
            "too few bytes to bother"
        );
        assert!(!worth_compacting(100 << 20, 1000 << 20));
        assert!(worth_compacting(300 << 20, 1000 << 20));
    }
}
