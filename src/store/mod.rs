//! Storage on redb. Handlers, channels and the assignment engine speak in domain types and
//! the operations of this module; redb tables and transactions never leave it.

pub mod accounts;
pub mod assignment;
pub mod audit;
pub mod blobs;
pub mod catalog;
pub mod chat;
pub mod codec;
pub mod contact_index;
pub mod contacts;
pub mod disk;
pub mod export_jobs;
pub mod index;
pub mod lookup;
pub mod mail;
pub mod migrate;
pub mod notifications;
pub mod outbox;
pub mod repack;
pub mod report;
pub mod sla;
pub mod slot;
mod tables;
pub mod tickets;
pub mod upgrade;
pub mod usage;
pub mod users;
pub mod writer;

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable};
/// The store's transactions, as store operations receive them. Code outside `store` only
/// passes them on to those operations: the tables are private to this module.
pub use redb::{ReadTransaction, WriteTransaction};

use crate::domain::{Clock, Event};
use crate::error::{AppError, AppResult};
pub use writer::{Effects, EventSink};

use tables::*;

#[derive(Clone)]
pub struct Store {
    slot: Arc<slot::Slot>,
    writer: writer::Writer,
    pub blobs: blobs::Blobs,
    pub clock: Arc<dyn Clock>,
}

pub const DB_FILE: &str = "atiende.redb";
const CACHE_BYTES: usize = 32 * 1024 * 1024;

/// A data dir made by an older build (or by hand) with a common umask is readable by other
/// local users: it is closed to them at start (new files are owner-only through the umask set
/// in `main`). The dir's own mode shuts out everything inside it; the database is tightened too.
fn owner_only(data_dir: &Path, db_file: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for (path, mode) in [(data_dir, 0o700), (db_file, 0o600)] {
        let Ok(meta) = std::fs::metadata(path) else {
            continue;
        };
        let before = meta.permissions().mode() & 0o777;
        if before & 0o077 == 0 {
            continue;
        }
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
            Ok(()) => tracing::warn!(
                "{} was readable by other users (mode {before:o}); now {mode:o}",
                path.display()
            ),
            Err(e) => tracing::error!(
                "{} is readable by other users (mode {before:o}) and could not be changed: {e}",
                path.display()
            ),
        }
    }
}

impl Store {
    /// Opens (or creates) the data dir, migrates the schema and starts the writer thread.
    pub fn open(
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        sink: Arc<dyn EventSink>,
    ) -> AppResult<(Store, std::thread::JoinHandle<()>)> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            AppError::internal(format!(
                "cannot create data dir {}: {e}",
                data_dir.display()
            ))
        })?;
        let path = data_dir.join(DB_FILE);
        owner_only(data_dir, &path);
        // redb's page cache defaults to 1 GiB; a bounded cache keeps the process small (the OS
        // page cache still holds the file).
        let db = upgrade::open(&path, CACHE_BYTES).map_err(|e| e.for_path(&path))?;
        migrate::migrate(&db)?;
        let slot = Arc::new(slot::Slot::new(db, &path, CACHE_BYTES));
        let (writer, handle) = writer::Writer::start(slot.clone(), sink, clock.clone())?;
        let blobs = blobs::Blobs::new(data_dir.join("attachments"))?;
        Ok((
            Store {
                slot,
                writer,
                blobs,
                clock,
            },
            handle,
        ))
    }

    /// Changes whenever a commit changed a user, a session or an API token.
    pub fn auth_generation(&self) -> u64 {
        self.writer
            .counters
            .auth_generation
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Durable group commits since start (each carries one or more writes).
    pub fn commit_count(&self) -> u64 {
        self.writer
            .counters
            .commits
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the store takes writes (a full disk closes it until space is back).
    pub fn disk_state(&self) -> slot::DiskState {
        self.slot.state()
    }

    /// The last time the disk was full, from when to when.
    pub fn last_full_spell(&self) -> Option<slot::FullSpell> {
        self.slot.last_full_spell()
    }

    pub fn now(&self) -> crate::domain::Millis {
        self.clock.now_ms()
    }

    /// Runs `f` in a read transaction on the blocking pool (redb is never called on the async
    /// runtime's threads).
    pub async fn read<R, F>(&self, f: F) -> AppResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&ReadTransaction) -> AppResult<R> + Send + 'static,
    {
        let slot = self.slot.clone();
        // Getting the database may wait (the writer holds it alone for a compaction): on the
        // blocking pool, like the read itself.
        tokio::task::spawn_blocking(move || {
            let db = slot.get()?;
            let txn = db.begin_read()?;
            f(&txn)
        })
        .await
        .map_err(|e| AppError::internal(format!("read task failed: {e}")))?
    }

    /// Read for code already on a blocking thread (CLI, indexer).
    pub fn read_blocking<R>(
        &self,
        f: impl FnOnce(&ReadTransaction) -> AppResult<R>,
    ) -> AppResult<R> {
        // The database is held until the transaction ends: the writer's online compaction
        // counts the holders to know no reader is left.
        let db = self.slot.get()?;
        let txn = db.begin_read()?;
        f(&txn)
    }

    /// Queues `f` for the group-commit writer; answers after the commit is durable.
    pub async fn write<R, F>(&self, f: F) -> AppResult<R>
    where
        R: Send + 'static,
        F: FnMut(&WriteTransaction, &mut Effects) -> AppResult<R> + Send + 'static,
    {
        self.writer.write(f).await
    }

    pub fn write_blocking<R, F>(&self, f: F) -> AppResult<R>
    where
        R: Send + 'static,
        F: FnMut(&WriteTransaction, &mut Effects) -> AppResult<R> + Send + 'static,
    {
        self.writer.write_blocking(f)
    }

    /// Events after `after` (for SSE resumption and the indexer's catch-up).
    pub fn events_after(txn: &ReadTransaction, after: u64, limit: usize) -> AppResult<Vec<Event>> {
        let table = txn.open_table(EVENT_ID_TO_EVENT)?;
        let mut out = Vec::new();
        for row in table.range(after.saturating_add(1)..)?.take(limit) {
            let (_, v) = row?;
            out.push(codec::decode(v.value())?);
        }
        Ok(out)
    }

    pub fn first_event_id(txn: &ReadTransaction) -> AppResult<Option<u64>> {
        let table = txn.open_table(EVENT_ID_TO_EVENT)?;
        let first = table.first()?.map(|(k, _)| k.value());
        Ok(first)
    }

    pub fn last_event_id(txn: &ReadTransaction) -> AppResult<u64> {
        let seq = txn.open_table(SEQUENCE_TO_LAST)?;
        let last = seq.get("event")?.map(|g| g.value()).unwrap_or(0);
        Ok(last)
    }

    /// Copies the database as of one read transaction into a new file at `dest`, while
    /// writes go on; returns the snapshot's schema version. Gives up as soon as `stop` says so.
    pub fn snapshot_to(&self, dest: &Path, stop: &dyn Fn() -> bool) -> AppResult<u64> {
        let db = self.slot.get()?;
        snapshot_database(&db, dest, stop)
    }

    /// Repacks every table with free space inside its pages, then compacts the redb file so
    /// the file shrinks (needs exclusive access: the CLI runs it with the server off).
    pub fn compact_file(data_dir: &Path) -> AppResult<Compacted> {
        let path = data_dir.join(DB_FILE);
        let before = FileSize::of(&path);
        let mut db = upgrade::open(&path, CACHE_BYTES).map_err(|e| e.for_path(&path))?;
        let started = std::time::Instant::now();
        log_repacked(repack::run(&db, repack::COMPACT, &|| false)?);
        let repacked = started.elapsed();
        compact_pages(&mut db)?;
        let compacted = started.elapsed() - repacked;
        drop(db);
        Ok(Compacted {
            before,
            after: FileSize::of(&path),
            repack_seconds: repacked.as_secs_f64(),
            compact_seconds: compacted.as_secs_f64(),
        })
    }

    /// The same while the server runs: the tables are repacked a slice per commit through the
    /// writer (ingest goes on between slices), then the writer holds the database alone while
    /// redb moves pages toward the start and trims the file — writes queue and readers wait
    /// meanwhile (about 20 s at a million tickets on a small VM). `stop` ends the repacking.
    pub async fn compact_online(
        &self,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> AppResult<Compacted> {
        let path = self.slot.path().to_path_buf();
        let before = FileSize::of(&path);
        let started = std::time::Instant::now();
        self.repack_online(repack::COMPACT, stop).await?;
        let repacked = started.elapsed();
        self.writer.alone(compact_pages).await?;
        let compacted = started.elapsed() - repacked;
        Ok(Compacted {
            before,
            after: FileSize::of(&path),
            repack_seconds: repacked.as_secs_f64(),
            compact_seconds: compacted.as_secs_f64(),
        })
    }

    /// Repacks the tables `policy` picks, a slice per commit through the writer (on the
    /// blocking pool; ingest goes on between slices), and logs what it rewrote. `stop` ends it
    /// between slices with `stopping`.
    pub async fn repack_online(
        &self,
        policy: repack::Policy,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> AppResult<()> {
        let store = self.clone();
        let done =
            tokio::task::spawn_blocking(move || repack::run(&store, policy, &|| *stop.borrow()))
                .await
                .map_err(|e| AppError::internal(format!("repacking failed: {e}")))??;
        log_repacked(done);
        Ok(())
    }

    /// The redb file's length and the disk's blocks for it (cheap: the file's metadata).
    pub fn file_size(&self) -> FileSize {
        FileSize::of(self.slot.path())
    }
}

/// Logs what a repacking pass rewrote, table by table.
fn log_repacked(done: Vec<repack::Repacked>) {
    for r in done {
        tracing::info!(table = %r.table, before = r.before, after = r.after, "repacked");
    }
}

/// redb moves pages toward the start a pass at a time, then trims the file. A reader that
/// began just before the database was taken alone may still be finishing: it is waited for.
fn compact_pages(db: &mut Database) -> AppResult<()> {
    let patience = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match db.compact() {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(redb::CompactionError::TransactionInProgress)
                if std::time::Instant::now() < patience =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(AppError::internal(format!("compact: {e}"))),
        }
    }
}

/// A file's length and the blocks the disk gives it (a sparse file's are fewer).
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FileSize {
    pub length: u64,
    pub on_disk: u64,
}

impl FileSize {
    pub fn read(path: &Path) -> std::io::Result<FileSize> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).map(|m| FileSize {
            length: m.len(),
            on_disk: m.blocks() * 512,
        })
    }

    /// Zero for a file that cannot be read (the figures are shown, never relied on).
    pub fn of(path: &Path) -> FileSize {
        FileSize::read(path).unwrap_or_default()
    }
}

/// What a compaction did: the file before and after, and how long the repacking and redb's
/// own compaction (moving pages toward the start; the part that holds the database alone
/// in the server) each took.
#[derive(Debug, Clone, Copy)]
pub struct Compacted {
    pub before: FileSize,
    pub after: FileSize,
    pub repack_seconds: f64,
    pub compact_seconds: f64,
}

/// Opens a data dir's database for a one-off snapshot, untouched (no migration, no writer, no
/// file-format upgrade: a file written with redb 2 is refused with what to do).
/// `Ok(None)` when a running server holds it.
pub fn open_for_snapshot(data_dir: &Path) -> AppResult<Option<Database>> {
    let path = data_dir.join(DB_FILE);
    if !path.exists() {
        return Err(AppError::internal(format!(
            "{} has no database ({DB_FILE}): is it an Atiende data dir?",
            data_dir.display()
        )));
    }
    match upgrade::open_as_is(&path, CACHE_BYTES) {
        Ok(db) => Ok(Some(db)),
        Err(e) if e.already_open() => Ok(None),
        Err(e) => Err(e.for_path(&path)),
    }
}

/// A logical copy, table by table, of one read transaction: consistent (redb readers see one
/// commit) and compact. A table this build does not know makes it fail rather than leave
/// something out. `stop` is asked every few thousand rows: a server that is stopping must not
/// wait for the copy of a large store (it holds the database open).
#[allow(clippy::disallowed_methods)] // a backup copies into its own new file, not the live store
pub fn snapshot_database(db: &Database, dest: &Path, stop: &dyn Fn() -> bool) -> AppResult<u64> {
    use redb::TableHandle;

    struct Copy<'a> {
        from: &'a ReadTransaction,
        to: &'a Database,
        names: Vec<String>,
        stop: &'a dyn Fn() -> bool,
    }
    impl TableVisitor for Copy<'_> {
        fn visit<K: redb::Key + 'static, V: redb::Value + 'static>(
            &mut self,
            table: redb::TableDefinition<K, V>,
        ) -> crate::error::AppResult<()> {
            self.names.push(table.name().to_string());
            let source = match self.from.open_table(table) {
                Ok(t) => t,
                // A data dir from an older schema, never migrated, may lack a newer table.
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            // One transaction per table keeps memory bounded; only the last one is durable.
            let mut txn = self.to.begin_write()?;
            txn.set_durability(redb::Durability::None)
                .map_err(|e| AppError::internal(format!("backup copy: {e}")))?;
            {
                let mut target = txn.open_table(table)?;
                for (i, row) in source.iter()?.enumerate() {
                    if i % 4096 == 0 && (self.stop)() {
                        return Err(AppError::stopping());
                    }
                    let (k, v) = row?;
                    target.insert(k.value(), v.value())?;
                }
            }
            txn.commit()?;
            Ok(())
        }
    }

    let from = db.begin_read()?;
    let to = redb::Builder::new()
        .set_cache_size(16 * 1024 * 1024)
        .create(dest)?;
    let mut copy = Copy {
        from: &from,
        to: &to,
        names: Vec::new(),
        stop,
    };
    for_each_table(&mut copy)?;
    for handle in from.list_tables()? {
        if !copy.names.iter().any(|n| n == handle.name())
            && !RETIRED_TABLES.contains(&handle.name())
        {
            return Err(AppError::internal(format!(
                "table `{}` is unknown to this atiende; back up with the version that wrote it",
                handle.name()
            )));
        }
    }
    let version = match from.open_table(META) {
        Ok(meta) => meta
            .get("schema_version")?
            .map_or(0, |g| migrate::version_from_bytes(g.value())),
        Err(_) => 0,
    };
    // Make everything copied durable at once.
    to.begin_write()?.commit()?;
    Ok(version)
}

/// A value kept in the meta table (settings and small records of the whole workspace).
pub fn meta_get(txn: &ReadTransaction, key: &str) -> AppResult<Option<Vec<u8>>> {
    let meta = txn.open_table(META)?;
    let value = meta.get(key)?.map(|g| g.value().to_vec());
    Ok(value)
}

pub fn meta_put(txn: &WriteTransaction, key: &str, value: &[u8]) -> AppResult<()> {
    txn.open_table(META)?.insert(key, value)?;
    Ok(())
}

/// Hands out the next value of a named sequence (ticket numbers, record ids). Inside the
/// writer's group transaction the values live in `sequences` and reach the table once, at
/// commit; elsewhere (migrations, tools) each call reads and writes the table.
pub fn next_id(txn: &WriteTransaction, name: &str) -> AppResult<u64> {
    if let Some(next) = sequences::next(txn, name)? {
        return Ok(next);
    }
    let mut seq = txn.open_table(SEQUENCE_TO_LAST)?;
    let next = seq.get(name)?.map(|g| g.value()).unwrap_or(0) + 1;
    seq.insert(name, next)?;
    Ok(next)
}

/// Marks, on the writer thread, a transaction that wrote a user, a session, an API token or an
/// account;
/// the writer bumps `Writer::auth_generation` once it commits (the sign-in cache's check).
pub(crate) mod auth_writes {
    use std::cell::Cell;

    thread_local! {
        static CHANGED: Cell<bool> = const { Cell::new(false) };
    }

    pub fn mark() {
        CHANGED.with(|c| c.set(true));
    }

    /// Whether anything was marked since the last call (and clears it).
    pub fn take() -> bool {
        CHANGED.with(|c| c.replace(false))
    }
}

/// The writer thread's sequence values for its open transaction. A message takes three or
/// four ids (and three events); reading and writing the sequence table for each was a tenth
/// of the writer's work. The cache lives only between `begin` and `flush`/`discard`, which the writer calls
/// around every transaction it opens, so an aborted transaction leaves nothing behind.
pub(crate) mod sequences {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use redb::{ReadableTable, WriteTransaction};

    use super::tables::SEQUENCE_TO_LAST;
    use crate::error::AppResult;

    thread_local! {
        static CACHE: RefCell<Option<HashMap<String, u64>>> = const { RefCell::new(None) };
    }

    pub fn begin() {
        CACHE.with(|c| *c.borrow_mut() = Some(HashMap::new()));
    }

    pub fn discard() {
        CACHE.with(|c| *c.borrow_mut() = None);
    }

    /// The next value when the cache is active (None otherwise).
    pub fn next(txn: &WriteTransaction, name: &str) -> AppResult<Option<u64>> {
        CACHE.with(|c| {
            let mut cache = c.borrow_mut();
            let Some(map) = cache.as_mut() else {
                return Ok(None);
            };
            if let Some(last) = map.get_mut(name) {
                *last += 1;
                return Ok(Some(*last));
            }
            let last = txn
                .open_table(SEQUENCE_TO_LAST)?
                .get(name)?
                .map(|g| g.value())
                .unwrap_or(0);
            map.insert(name.to_string(), last + 1);
            Ok(Some(last + 1))
        })
    }

    /// Writes the values handed out into the table and ends the cache.
    pub fn flush(txn: &WriteTransaction) -> AppResult<()> {
        let Some(map) = CACHE.with(|c| c.borrow_mut().take()) else {
            return Ok(());
        };
        if map.is_empty() {
            return Ok(());
        }
        let mut table = txn.open_table(SEQUENCE_TO_LAST)?;
        for (name, last) in map {
            table.insert(name.as_str(), last)?;
        }
        Ok(())
    }
}

/// An event with only its kind and subject set; the writer fills id and time.
pub fn event(kind: crate::domain::EventKind) -> Event {
    Event {
        id: 0,
        kind,
        at: 0,
        account_id: None,
        ticket_number: None,
        contact_id: None,
        message_id: None,
        user_id: None,
    }
}

#[cfg(test)]
// Tests build their fixtures with their own transactions.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_copies_every_row_and_gives_up_when_asked_to_stop() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("a.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        create_all(&txn).unwrap();
        {
            let mut meta = txn.open_table(META).unwrap();
            for i in 0..10_000u32 {
                meta.insert(format!("k{i}").as_str(), i.to_be_bytes().as_slice())
                    .unwrap();
            }
        }
        txn.commit().unwrap();

        let copy = dir.path().join("copy.redb");
        snapshot_database(&db, &copy, &|| false).unwrap();
        let copied = Database::open(&copy).unwrap();
        let read = copied.begin_read().unwrap();
        use redb::ReadableTableMetadata;
        assert_eq!(read.open_table(META).unwrap().len().unwrap(), 10_000);

        // Asked to stop after the first rows: fails with `stopping` instead of copying on.
        let asked = std::sync::atomic::AtomicUsize::new(0);
        let stop = || asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0;
        let err = snapshot_database(&db, &dir.path().join("stopped.redb"), &stop).unwrap_err();
        assert_eq!(err.code, "stopping");
    }
}

/// One durable redb transaction per message, for `seconds`, in a fresh file at `path`: the
/// baseline rate (messages per second) the group commit must beat (`atiende bench`).
#[allow(clippy::disallowed_methods)] // the bench baseline measures one transaction per message in its own file
pub fn baseline_rate(path: &Path, seconds: f64) -> AppResult<f64> {
    const T: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("baseline");
    let db = Database::create(path)?;
    let payload = vec![7u8; 300];
    let started = std::time::Instant::now();
    let mut n = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        let txn = db.begin_write()?;
        txn.open_table(T)?.insert(n, payload.as_slice())?;
        txn.commit()?;
        n += 1;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

macro_rules! storage_error {
    ($($ty:ty),*) => {$(
        impl From<$ty> for AppError {
            fn from(e: $ty) -> Self {
                storage_failure(redb::Error::from(e))
            }
        }
    )*};
}
/// A full disk and a store refusing work after a failed write are 503s with their own codes
/// (the writer opens the store again); anything else is a 500.
fn storage_failure(e: redb::Error) -> AppError {
    match e {
        redb::Error::Io(io) => AppError::from_io(&io, "storage"),
        redb::Error::PreviousIo
        | redb::Error::DatabaseClosed
        | redb::Error::TransactionPoisoned => AppError::storage_unavailable(),
        e => AppError::internal(format!("storage: {e}")),
    }
}

impl From<redb::Error> for AppError {
    fn from(e: redb::Error) -> Self {
        storage_failure(e)
    }
}

storage_error!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
