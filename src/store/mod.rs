//! Storage on redb. Handlers, channels and the assignment engine speak in domain types and
//! the operations of this module; redb tables and transactions never leave it.

pub mod accounts;
pub mod assignment;
pub mod blobs;
pub mod catalog;
pub mod chat;
pub mod codec;
pub mod contacts;
pub mod index;
pub mod mail;
pub mod migrate;
pub mod tables;
pub mod tickets;
pub mod users;
pub mod writer;

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadTransaction, ReadableTable, WriteTransaction};

use crate::domain::{Clock, Event};
use crate::error::{AppError, AppResult};
pub use writer::{Effects, EventSink};

use tables::*;

#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    writer: writer::Writer,
    pub blobs: blobs::Blobs,
    pub clock: Arc<dyn Clock>,
}

pub const DB_FILE: &str = "atiende.redb";
const CACHE_BYTES: usize = 48 * 1024 * 1024;

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
        // redb's page cache defaults to 1 GiB; a bounded cache keeps the process small (the OS
        // page cache still holds the file).
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(data_dir.join(DB_FILE))
            .map_err(|e| {
                AppError::internal(format!(
                    "cannot open {} (is another atiende running on this data dir?): {e}",
                    data_dir.join(DB_FILE).display()
                ))
            })?;
        migrate::migrate(&db)?;
        let db = Arc::new(db);
        let (writer, handle) = writer::Writer::start(db.clone(), sink, clock.clone())?;
        let blobs = blobs::Blobs::new(data_dir.join("attachments"))?;
        Ok((
            Store {
                db,
                writer,
                blobs,
                clock,
            },
            handle,
        ))
    }

    /// Durable group commits since start (each carries one or more writes).
    pub fn commit_count(&self) -> u64 {
        self.writer
            .commits
            .load(std::sync::atomic::Ordering::Relaxed)
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
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
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
        let txn = self.db.begin_read()?;
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

    /// Compacts the redb file (needs exclusive access: the CLI runs it with the server off).
    pub fn compact_file(data_dir: &Path) -> AppResult<bool> {
        let mut db = Database::create(data_dir.join(DB_FILE))?;
        db.compact()
            .map_err(|e| AppError::internal(format!("compact: {e}")))
    }
}

/// Hands out the next value of a named sequence (ticket numbers, record ids).
pub fn next_id(txn: &WriteTransaction, name: &str) -> AppResult<u64> {
    let mut seq = txn.open_table(SEQUENCE_TO_LAST)?;
    let next = seq.get(name)?.map(|g| g.value()).unwrap_or(0) + 1;
    seq.insert(name, next)?;
    Ok(next)
}

/// An event with only its kind and subject set; the writer fills id and time.
pub fn event(kind: &str) -> Event {
    Event {
        id: 0,
        kind: kind.to_string(),
        at: 0,
        account_id: None,
        ticket_number: None,
        contact_id: None,
        message_id: None,
        user_id: None,
    }
}
