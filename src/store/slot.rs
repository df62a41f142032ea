//! The open database, which the writer closes and opens again after a write failed on the
//! disk (it was full). redb refuses every later operation once a write failed ("previous I/O
//! error"), so the only way back is a fresh `Database` on the same file: what was committed
//! before is intact, and opening repairs the rest. Meanwhile every caller hears a 503 with a
//! stable code, and the channels withhold their acknowledgements (the vendors retry).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use redb::Database;

use crate::domain::Millis;
use crate::error::{AppError, AppResult};

/// Why the store takes no writes, or that it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskState {
    Ok,
    /// A write found no space left: writes resume by themselves once space is back.
    Full,
    /// Another I/O failure: the store is opened again as soon as it can be.
    Failed,
}

/// A time the disk was full, from when to when (the administrators hear of it once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FullSpell {
    pub from: Millis,
    pub to: Option<Millis>,
}

pub struct Slot {
    db: RwLock<Option<Arc<Database>>>,
    path: PathBuf,
    cache_bytes: usize,
    state: AtomicU8,
    spell: Mutex<Option<FullSpell>>,
    /// True while the writer holds the database alone (online compaction): callers wait on
    /// `handed_back` instead of hearing a refusal.
    held: Mutex<bool>,
    handed_back: Condvar,
}

/// How long a caller waits for a database held alone before it hears a 503 (the compaction
/// of a million-ticket store moves pages for about 20 s on a small VM).
const HOLD_WAIT: Duration = Duration::from_secs(60);

/// Free space the disk must have again before the store is opened (repairing writes a little).
const RESUME_FREE_BYTES: u64 = 2 * 1024 * 1024;

impl Slot {
    pub fn new(db: Database, path: &Path, cache_bytes: usize) -> Slot {
        Slot {
            db: RwLock::new(Some(Arc::new(db))),
            path: path.to_path_buf(),
            cache_bytes,
            state: AtomicU8::new(0),
            spell: Mutex::new(None),
            held: Mutex::new(false),
            handed_back: Condvar::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn state(&self) -> DiskState {
        match self.state.load(Ordering::Acquire) {
            0 => DiskState::Ok,
            1 => DiskState::Full,
            _ => DiskState::Failed,
        }
    }

    fn set_state(&self, state: DiskState) {
        let n = match state {
            DiskState::Ok => 0,
            DiskState::Full => 1,
            DiskState::Failed => 2,
        };
        self.state.store(n, Ordering::Release);
    }

    /// The last time the disk was full (`to` is None while it still is).
    pub fn last_full_spell(&self) -> Option<FullSpell> {
        self.spell.lock().ok().and_then(|s| *s)
    }

    /// What a caller hears while the store is closed.
    pub fn refusal(&self) -> Option<AppError> {
        match self.state() {
            DiskState::Ok => None,
            DiskState::Full => Some(AppError::disk_full()),
            DiskState::Failed => Some(AppError::storage_unavailable()),
        }
    }

    /// The database, unless the writer has it closed. While the writer holds it alone, this
    /// waits (on a blocking thread) until it is handed back.
    pub fn get(&self) -> AppResult<Arc<Database>> {
        if let Some(db) = self.db.read().ok().and_then(|db| db.clone()) {
            return Ok(db);
        }
        let still_held = match self.held.lock() {
            Ok(mut held) => {
                let until = Instant::now() + HOLD_WAIT;
                loop {
                    if !*held {
                        break false;
                    }
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break true;
                    }
                    match self.handed_back.wait_timeout(held, left) {
                        Ok((h, _)) => held = h,
                        Err(_) => break true,
                    }
                }
            }
            Err(_) => false,
        };
        let db = self.db.read().ok().and_then(|db| db.clone());
        db.ok_or_else(|| match self.refusal() {
            Some(refusal) => refusal,
            None if still_held => AppError::storage_busy(),
            None => AppError::storage_unavailable(),
        })
    }

    /// Runs `f` with the database to itself (redb's compaction needs that): new callers wait,
    /// those in progress have `drain` to let go, or the database is handed back untouched and
    /// this answers `storage_in_use` (a backup is reading). Called by the writer thread only,
    /// so no write is in progress.
    pub fn exclusive<R>(
        &self,
        drain: Duration,
        f: impl FnOnce(&mut Database) -> AppResult<R>,
    ) -> AppResult<R> {
        if let Some(refusal) = self.refusal() {
            return Err(refusal);
        }
        if let Ok(mut held) = self.held.lock() {
            *held = true;
        }
        let mut shared = self.db.write().ok().and_then(|mut db| db.take());
        let until = Instant::now() + drain;
        let mut alone = None;
        while let Some(db) = shared.take() {
            match Arc::try_unwrap(db) {
                Ok(db) => alone = Some(db),
                Err(still) => {
                    shared = Some(still);
                    if Instant::now() >= until {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        let (outcome, back) = match (alone, shared) {
            (Some(mut db), _) => {
                // A panic inside must not leave the database out of the slot for good.
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut db)))
                    .unwrap_or_else(|_| Err(AppError::internal("maintenance panicked")));
                (outcome, Some(Arc::new(db)))
            }
            (None, Some(still)) => (Err(AppError::storage_in_use()), Some(still)),
            (None, None) => (Err(AppError::storage_unavailable()), None),
        };
        if let Ok(mut slot) = self.db.write() {
            *slot = back;
        }
        if let Ok(mut held) = self.held.lock() {
            *held = false;
        }
        self.handed_back.notify_all();
        outcome
    }

    /// Closes the database after `cause` and opens it again once it can: the disk has room,
    /// every reader has let go of the old one. `waiting` is called on every round (the writer
    /// answers its queue from it) and stops the attempt by answering false (the server stops).
    pub fn reopen(
        &self,
        cause: &AppError,
        now: &dyn Fn() -> Millis,
        waiting: &mut dyn FnMut() -> bool,
    ) {
        let full = cause.code == "disk_full";
        self.set_state(if full {
            DiskState::Full
        } else {
            DiskState::Failed
        });
        if full {
            if let Ok(mut spell) = self.spell.lock() {
                *spell = Some(FullSpell {
                    from: now(),
                    to: None,
                });
            }
            tracing::error!(
                "the disk holding {} is full: writes are refused until space is freed",
                self.path.display()
            );
        } else {
            tracing::error!(error = %cause.message, "a write failed on the disk: the store is opened again");
        }
        let mut old = self.db.write().ok().and_then(|mut db| db.take());
        let mut logged = false;
        loop {
            if !waiting() {
                return;
            }
            // Readers in progress fail fast (redb refuses them too) and let go.
            if let Some(db) = old.take() {
                if let Err(still) = Arc::try_unwrap(db) {
                    old = Some(still);
                }
            }
            let room = super::disk::space(&self.path)
                .map(|s| s.free)
                .is_none_or(|f| f >= RESUME_FREE_BYTES);
            if old.is_none() && room {
                match super::upgrade::open(&self.path, self.cache_bytes) {
                    Ok(db) => {
                        if let Ok(mut slot) = self.db.write() {
                            *slot = Some(Arc::new(db));
                        }
                        if let Ok(mut spell) = self.spell.lock() {
                            if let Some(s) = spell.as_mut().filter(|s| s.to.is_none()) {
                                s.to = Some(now());
                            }
                        }
                        self.set_state(DiskState::Ok);
                        tracing::warn!("the store takes writes again");
                        return;
                    }
                    Err(e) if !logged => {
                        logged = true;
                        tracing::warn!(error = %e, "the store cannot be opened yet; trying again");
                    }
                    Err(_) => {}
                }
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}
