//! The group-commit writer: one thread owns every redb write transaction. Callers send an
//! operation and await its answer; the thread runs every operation waiting in the queue inside
//! one transaction and commits once (one fsync for the whole group). A caller hears back only
//! after the commit is durable.
//!
//! An operation that fails must leave no trace, yet it shares the transaction with others. So
//! operations are `FnMut` and validate before they write: when one fails, the transaction is
//! aborted, the failed operation gets its error, and the operations before it are run again in
//! a fresh transaction (operations are deterministic over the store state and their inputs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use redb::{Database, ReadableTable, WriteTransaction};

use super::slot::Slot;
use tokio::sync::{mpsc, oneshot};

use super::codec;
use super::tables::*;
use crate::domain::{Event, Millis};
use crate::error::{AppError, AppResult};

/// What an operation wants to happen after its commit: domain events (persisted in the same
/// transaction, then broadcast).
#[derive(Default)]
pub struct Effects {
    pub(crate) events: Vec<Event>,
}

impl Effects {
    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }
}

/// A type-erased operation queued for the writer.
trait Op: Send {
    fn run(&mut self, txn: &WriteTransaction, fx: &mut Effects) -> AppResult<()>;
    fn finish(self: Box<Self>, outcome: AppResult<()>);
}

struct TypedOp<F, R> {
    f: F,
    result: Option<R>,
    reply: oneshot::Sender<AppResult<R>>,
}

impl<F, R> Op for TypedOp<F, R>
where
    F: FnMut(&WriteTransaction, &mut Effects) -> AppResult<R> + Send,
    R: Send,
{
    fn run(&mut self, txn: &WriteTransaction, fx: &mut Effects) -> AppResult<()> {
        self.result = Some((self.f)(txn, fx)?);
        Ok(())
    }

    fn finish(self: Box<Self>, outcome: AppResult<()>) {
        let this = *self;
        let answer = match (outcome, this.result) {
            (Ok(()), Some(r)) => Ok(r),
            (Ok(()), None) => Err(AppError::internal("operation produced no result")),
            (Err(e), _) => Err(e),
        };
        // The caller may have gone away (client disconnected); the write stands anyway.
        let _ = this.reply.send(answer);
    }
}

/// What the writer's queue carries: operations for the next group commit, or work that needs
/// the database to itself between two commits (online compaction).
enum Job {
    Write(Box<dyn Op>),
    Alone(Box<dyn FnOnce(&Slot) + Send>),
}

/// How long the writer waits for readers in progress to let go before it gives up holding the
/// database alone (new readers wait meanwhile).
const DRAIN_READERS: std::time::Duration = std::time::Duration::from_secs(10);

/// Where committed events go: the live bus and the search indexer.
pub trait EventSink: Send + Sync + 'static {
    fn committed(&self, events: Vec<Arc<Event>>);
}

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
    slot: Arc<Slot>,
    pub counters: Arc<Counters>,
}

/// What the writer thread counts, read by the rest of the server.
#[derive(Default)]
pub struct Counters {
    /// Durable commits so far (each may carry many operations).
    pub commits: AtomicU64,
    /// Bumped after each commit that changed a user, a session or an API token (see
    /// `super::auth_writes`): what was read about them under an older value is stale.
    pub auth_generation: AtomicU64,
}

/// How many queued operations one transaction takes at most.
const MAX_GROUP: usize = 1024;
const QUEUE_DEPTH: usize = 8192;

impl Writer {
    pub fn start(
        slot: Arc<Slot>,
        sink: Arc<dyn EventSink>,
        clock: Arc<dyn crate::domain::Clock>,
    ) -> AppResult<(Writer, std::thread::JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel::<Job>(QUEUE_DEPTH);
        let counters = Arc::new(Counters::default());
        let shared = counters.clone();
        let slot_for_callers = slot.clone();
        let handle = std::thread::Builder::new()
            .name("atiende-writer".into())
            .spawn(move || writer_loop(slot, rx, sink, clock, shared))
            .map_err(|e| AppError::internal(format!("cannot start the writer thread: {e}")))?;
        Ok((
            Writer {
                queue: tx,
                slot: slot_for_callers,
                counters,
            },
            handle,
        ))
    }

    /// A closed store (full disk) refuses at once rather than queue.
    fn refusal(&self) -> Option<AppError> {
        self.slot.refusal()
    }

    pub async fn write<R, F>(&self, f: F) -> AppResult<R>
    where
        R: Send + 'static,
        F: FnMut(&WriteTransaction, &mut Effects) -> AppResult<R> + Send + 'static,
    {
        if let Some(refusal) = self.refusal() {
            return Err(refusal);
        }
        let (reply, answer) = oneshot::channel();
        let op: Box<dyn Op> = Box::new(TypedOp {
            f,
            result: None,
            reply,
        });
        self.queue
            .send(Job::Write(op))
            .await
            .map_err(|_| AppError::unavailable("the server is shutting down"))?;
        answer
            .await
            .map_err(|_| AppError::internal("the writer stopped before answering"))?
    }

    /// Runs `f` on the writer thread with the database to itself, between two group commits:
    /// writes queue meanwhile, readers wait (see `Slot::exclusive`).
    pub async fn alone<R, F>(&self, f: F) -> AppResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Database) -> AppResult<R> + Send + 'static,
    {
        if let Some(refusal) = self.refusal() {
            return Err(refusal);
        }
        let (reply, answer) = oneshot::channel();
        let job = Job::Alone(Box::new(move |slot: &Slot| {
            let _ = reply.send(slot.exclusive(DRAIN_READERS, f));
        }));
        self.queue
            .send(job)
            .await
            .map_err(|_| AppError::unavailable("the server is shutting down"))?;
        answer
            .await
            .map_err(|_| AppError::internal("the writer stopped before answering"))?
    }

    /// Blocking variant for CLI commands that run outside the async runtime.
    pub fn write_blocking<R, F>(&self, f: F) -> AppResult<R>
    where
        R: Send + 'static,
        F: FnMut(&WriteTransaction, &mut Effects) -> AppResult<R> + Send + 'static,
    {
        if let Some(refusal) = self.refusal() {
            return Err(refusal);
        }
        let (reply, answer) = oneshot::channel();
        let op: Box<dyn Op> = Box::new(TypedOp {
            f,
            result: None,
            reply,
        });
        self.queue
            .blocking_send(Job::Write(op))
            .map_err(|_| AppError::unavailable("the writer stopped"))?;
        answer
            .blocking_recv()
            .map_err(|_| AppError::internal("the writer stopped before answering"))?
    }
}

fn writer_loop(
    slot: Arc<Slot>,
    mut rx: mpsc::Receiver<Job>,
    sink: Arc<dyn EventSink>,
    clock: Arc<dyn crate::domain::Clock>,
    counters: Arc<Counters>,
) {
    // Work for the database alone that arrived while a group was being gathered: it runs
    // right after that group's commit.
    let mut deferred: Option<Job> = None;
    loop {
        let first = match deferred.take() {
            Some(job) => job,
            None => match rx.blocking_recv() {
                Some(job) => job,
                None => break,
            },
        };
        let first = match first {
            Job::Write(op) => op,
            Job::Alone(work) => {
                work(&slot);
                continue;
            }
        };
        let db = match slot.get() {
            Ok(db) => db,
            Err(e) => {
                first.finish(Err(e));
                continue;
            }
        };
        // Whatever is queued, and what arrives while the group runs, joins its commit: the
        // sync is the larger half of a commit's cost, so the more it carries the better.
        let mut more = || {
            if deferred.is_some() {
                return None;
            }
            match rx.try_recv() {
                Ok(Job::Write(op)) => Some(op),
                Ok(alone) => {
                    deferred = Some(alone);
                    None
                }
                Err(_) => None,
            }
        };
        let failure = commit_group(
            &db,
            vec![first],
            &mut more,
            sink.as_ref(),
            clock.now_ms(),
            &counters,
        );
        drop(db);
        if let Some(cause) = failure {
            // Until the store is open again, what arrives is refused at once (not queued).
            let mut open = true;
            let refuse = |job: Job| match job {
                Job::Write(op) => op.finish(Err(slot
                    .refusal()
                    .unwrap_or_else(AppError::storage_unavailable))),
                Job::Alone(work) => work(&slot),
            };
            if let Some(job) = deferred.take() {
                refuse(job);
            }
            slot.reopen(&cause, &|| clock.now_ms(), &mut || {
                loop {
                    match rx.try_recv() {
                        Ok(job) => refuse(job),
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        Err(mpsc::error::TryRecvError::Disconnected) => {
                            open = false;
                            break;
                        }
                    }
                }
                open
            });
        }
    }
    tracing::debug!("writer stopped: queue closed");
}

/// Errors after which redb refuses everything until it is opened again.
fn is_storage_failure(e: &AppError) -> bool {
    matches!(e.code, "disk_full" | "storage_unavailable")
}

#[allow(clippy::disallowed_methods)] // this is the writer
fn commit_group(
    db: &Database,
    mut pending: Vec<Box<dyn Op>>,
    more: &mut dyn FnMut() -> Option<Box<dyn Op>>,
    sink: &dyn EventSink,
    now: Millis,
    counters: &Counters,
) -> Option<AppError> {
    let mut storage_failure = None;
    let mut seen = |e: &AppError| {
        if storage_failure.is_none() && is_storage_failure(e) {
            storage_failure = Some(e.clone());
        }
    };
    while !pending.is_empty() {
        let txn = match db.begin_write() {
            Ok(t) => t,
            Err(e) => {
                let err = AppError::from(e);
                seen(&err);
                for op in pending.drain(..) {
                    op.finish(Err(err.clone()));
                }
                return storage_failure;
            }
        };
        super::sequences::begin();
        super::report::pending::begin();
        super::assignment::group::begin();
        super::auth_writes::take();
        let mut events = Vec::new();
        let mut failure: Option<(usize, AppError)> = None;
        let mut i = 0;
        loop {
            if i == pending.len() {
                let next = if pending.len() < MAX_GROUP {
                    more()
                } else {
                    None
                };
                match next {
                    Some(op) => pending.push(op),
                    None => break,
                }
            }
            let op = &mut pending[i];
            let mut fx = Effects::default();
            // A panicking operation fails alone; the writer thread must survive it.
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| op.run(&txn, &mut fx)))
                    .unwrap_or_else(|_| Err(AppError::internal("a store operation panicked")));
            match outcome {
                Ok(()) => events.extend(fx.events),
                Err(e) => {
                    failure = Some((i, e));
                    break;
                }
            }
            i += 1;
        }
        if let Some((i, err)) = failure {
            // Undo everything this transaction did, answer the failed op, and run the ones
            // before it again; the ones after it follow in the next round.
            super::sequences::discard();
            super::report::pending::discard();
            super::assignment::group::discard();
            super::auth_writes::take();
            let _ = txn.abort();
            seen(&err);
            let failed = pending.remove(i);
            failed.finish(Err(err));
            if i == 0 {
                continue;
            }
            let rest = pending.split_off(i);
            if let Some(e) = commit_group(
                db,
                std::mem::take(&mut pending),
                &mut || None,
                sink,
                now,
                counters,
            ) {
                seen(&e);
            }
            pending = rest;
            continue;
        }
        // Events take their ids from the same sequence cache, which is then written once.
        let persisted = persist_events(&txn, events, now);
        let outcome = persisted.and_then(|events| {
            super::report::pending::flush(&txn)?;
            super::assignment::group::flush(&txn)?;
            super::sequences::flush(&txn)?;
            txn.commit()?;
            Ok(events)
        });
        super::sequences::discard();
        super::report::pending::discard();
        super::assignment::group::discard();
        // Before anyone hears back: a sign-out answered is a session no longer accepted. A
        // failed commit bumps too (what it may have half-written costs only cache misses).
        if super::auth_writes::take() {
            counters.auth_generation.fetch_add(1, Ordering::SeqCst);
        }
        match outcome {
            Ok(events) => {
                counters.commits.fetch_add(1, Ordering::Relaxed);
                if !events.is_empty() {
                    sink.committed(events);
                }
                for op in pending.drain(..) {
                    op.finish(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "group commit failed");
                seen(&e);
                for op in pending.drain(..) {
                    op.finish(Err(e.clone()));
                }
            }
        }
    }
    storage_failure
}

/// Gives each event its id and stores it, pruning those beyond `EVENTS_KEPT` or older than
/// `EVENTS_KEPT_MS` (issue 21: a quiet store keeps a week of them, not 200,000).
fn persist_events(
    txn: &WriteTransaction,
    events: Vec<Event>,
    now: Millis,
) -> AppResult<Vec<Arc<Event>>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(events.len());
    let mut table = txn.open_table(EVENT_ID_TO_EVENT)?;
    let mut last = 0;
    for mut event in events {
        last = super::next_id(txn, "event")?;
        event.id = last;
        if event.at == 0 {
            event.at = now;
        }
        table.insert(last, codec::encode_compact(&event)?.as_slice())?;
        out.push(Arc::new(event));
    }
    let beyond_count = last.saturating_sub(EVENTS_KEPT);
    let too_old = now.saturating_sub(EVENTS_KEPT_MS);
    // A bounded number per commit, oldest first, so one commit never does unbounded work; the
    // ids grow with time, so the first young event ends the look. One that does not decode
    // goes too (nothing could replay it): it must not stop every commit.
    let mut old = Vec::new();
    for row in table.range(..last)?.take(out.len() * 2 + 16) {
        let (id, value) = row?;
        let id = id.value();
        let young = || matches!(codec::decode::<Event>(value.value()), Ok(e) if e.at >= too_old);
        if id > beyond_count && young() {
            break;
        }
        old.push(id);
    }
    for id in old {
        table.remove(id)?;
    }
    Ok(out)
}

#[cfg(test)]
// Tests build their fixtures with their own transactions.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use crate::domain::SystemClock;
    use redb::{ReadableDatabase, TableDefinition};

    const T: TableDefinition<u64, u64> = TableDefinition::new("t");

    struct Collect(std::sync::Mutex<Vec<u64>>);
    impl EventSink for Collect {
        fn committed(&self, events: Vec<Arc<Event>>) {
            if let Ok(mut v) = self.0.lock() {
                v.extend(events.iter().map(|e| e.id));
            }
        }
    }

    fn setup() -> (tempfile::TempDir, Arc<Slot>, Writer, Arc<Collect>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        create_all(&txn).unwrap();
        txn.open_table(T).unwrap();
        txn.commit().unwrap();
        let slot = Arc::new(Slot::new(db, &path, 1 << 20));
        let sink = Arc::new(Collect(Default::default()));
        let (w, _) = Writer::start(slot.clone(), sink.clone(), Arc::new(SystemClock)).unwrap();
        (dir, slot, w, sink)
    }

    fn count(slot: &Slot) -> u64 {
        use redb::ReadableTableMetadata;
        slot.get()
            .unwrap()
            .begin_read()
            .unwrap()
            .open_table(T)
            .unwrap()
            .len()
            .unwrap()
    }

    #[test]
    fn events_older_than_a_week_are_pruned_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("db")).unwrap();
        let day = crate::domain::clock::DAY_MS;
        let commit = |at: Millis, n: usize| {
            let txn = db.begin_write().unwrap();
            let events = (0..n)
                .map(|_| crate::store::event(crate::domain::EventKind::TicketUpdated))
                .collect();
            persist_events(&txn, events, at).unwrap();
            txn.commit().unwrap();
        };
        let kept = || -> Vec<u64> {
            db.begin_read()
                .unwrap()
                .open_table(EVENT_ID_TO_EVENT)
                .unwrap()
                .iter()
                .unwrap()
                .map(|r| r.unwrap().0.value())
                .collect()
        };
        let start = 1_000 * day;
        commit(start, 5);
        commit(start + 2 * day, 3);
        commit(start + 7 * day, 1);
        assert_eq!(kept(), (1..=9).collect::<Vec<_>>(), "a week old is kept");
        commit(start + 7 * day + 1, 1);
        assert_eq!(
            kept(),
            (6..=10).collect::<Vec<_>>(),
            "older than a week goes"
        );
        // A bounded number per commit: 40 old events leave over a few commits.
        commit(start + 8 * day, 40);
        commit(start + 20 * day, 1);
        let left = kept();
        assert!(left.len() > 1 && left.last() == Some(&51), "{left:?}");
        for i in 0..4 {
            commit(start + 20 * day + i, 1);
        }
        assert_eq!(kept(), (51..=55).collect::<Vec<_>>());

        // A record that does not decode is pruned, not a reason to fail the commit.
        let txn = db.begin_write().unwrap();
        txn.open_table(EVENT_ID_TO_EVENT)
            .unwrap()
            .insert(50, [0xc1u8].as_slice())
            .unwrap();
        txn.commit().unwrap();
        commit(start + 20 * day + 9, 1);
        assert_eq!(kept(), (51..=56).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_database_held_alone_shrinks_while_writes_queue_and_readers_wait() {
        let (_d, slot, w, _) = setup();
        // Rows with large values, then most of them removed: free pages inside the file.
        w.write(|txn, _| {
            let big = TableDefinition::<u64, &[u8]>::new("big");
            let mut t = txn.open_table(big)?;
            for i in 0..2_000u64 {
                t.insert(i, [7u8; 4_000].as_slice())?;
            }
            Ok(())
        })
        .await
        .unwrap();
        w.write(|txn, _| {
            let big = TableDefinition::<u64, &[u8]>::new("big");
            let mut t = txn.open_table(big)?;
            for i in 0..1_990u64 {
                t.remove(i)?;
            }
            Ok(())
        })
        .await
        .unwrap();
        let before = std::fs::metadata(slot.path()).unwrap().len();
        // A reader in progress when the writer takes the database: it finishes first.
        let reading = {
            let db = slot.get().unwrap();
            std::thread::spawn(move || {
                let _txn = db.begin_read().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(300));
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        let started = std::time::Instant::now();
        let compacting = tokio::spawn({
            let w = w.clone();
            async move {
                w.alone(|db| {
                    while db
                        .compact()
                        .map_err(|e| AppError::internal(e.to_string()))?
                    {}
                    Ok("compacted")
                })
                .await
            }
        });
        // A write sent meanwhile queues and commits after; a reader waits and then reads.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let write = tokio::spawn({
            let w = w.clone();
            async move {
                w.write(|txn, _| Ok(txn.open_table(T)?.insert(1, 1)?.is_none()))
                    .await
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            count(&slot) <= 1,
            "a reader waits for the database and reads"
        );
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(250),
            "the reader waited for the compaction"
        );
        assert_eq!(compacting.await.unwrap().unwrap(), "compacted");
        assert!(started.elapsed() >= std::time::Duration::from_millis(250));
        assert!(write.await.unwrap().unwrap());
        assert_eq!(count(&slot), 1);
        reading.join().unwrap();
        let after = std::fs::metadata(slot.path()).unwrap().len();
        assert!(after < before, "the file shrank: {before} → {after}");
    }

    #[test]
    fn a_reader_that_does_not_let_go_leaves_the_database_untouched_and_in_use_is_answered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let slot = Slot::new(Database::create(&path).unwrap(), &path, 1 << 20);
        let held = slot.get().unwrap();
        let outcome = slot.exclusive(std::time::Duration::from_millis(50), |_| Ok(()));
        assert_eq!(outcome.unwrap_err().code, "storage_in_use");
        drop(held);
        assert!(slot.get().is_ok(), "the database was handed back");
        assert!(slot
            .exclusive(std::time::Duration::from_millis(50), |_| Ok(()))
            .is_ok());
        let panicked: AppResult<()> = slot.exclusive(std::time::Duration::from_millis(50), |_| {
            panic!("in maintenance")
        });
        assert_eq!(panicked.unwrap_err().code, "internal");
        assert!(slot.get().is_ok(), "a panic hands the database back too");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writes_share_commits() {
        let (_d, db, w, sink) = setup();
        let mut tasks = Vec::new();
        for i in 0..400u64 {
            let w = w.clone();
            tasks.push(tokio::spawn(async move {
                w.write(move |txn, fx| {
                    txn.open_table(T)?.insert(i, i)?;
                    fx.emit(crate::store::event(crate::domain::EventKind::TicketUpdated));
                    Ok(i)
                })
                .await
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap().unwrap(), i as u64);
        }
        assert_eq!(count(&db), 400);
        let commits = w.counters.commits.load(Ordering::Relaxed);
        assert!(
            commits < 200,
            "400 concurrent writes took {commits} commits"
        );
        let ids = sink.0.lock().unwrap().clone();
        assert_eq!(
            ids,
            (1..=400).collect::<Vec<_>>(),
            "events get gap-free ids in commit order"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_failing_op_leaves_no_trace_and_others_commit() {
        let (_d, db, w, sink) = setup();
        let mut tasks = Vec::new();
        for i in 0..60u64 {
            let w = w.clone();
            tasks.push(tokio::spawn(async move {
                w.write(move |txn, fx| {
                    let id = crate::store::next_id(txn, "t")?;
                    txn.open_table(T)?.insert(i, id)?;
                    fx.emit(crate::store::event(crate::domain::EventKind::TicketUpdated));
                    match i % 3 {
                        0 => Err(AppError::conflict("nope", "fails after writing")),
                        1 if i == 31 => panic!("boom"),
                        _ => Ok(i),
                    }
                })
                .await
            }));
        }
        let mut ok = 0;
        for (i, t) in tasks.into_iter().enumerate() {
            let r = t.await.unwrap();
            if i % 3 == 0 || i == 31 {
                assert!(r.is_err(), "op {i} must fail");
            } else {
                assert_eq!(r.unwrap(), i as u64);
                ok += 1;
            }
        }
        assert_eq!(count(&db), ok);
        let r = db.get().unwrap().begin_read().unwrap();
        let t = r.open_table(T).unwrap();
        assert!(t.get(3).unwrap().is_none() && t.get(31).unwrap().is_none());
        // Ids handed out by failed ops are taken back: the committed ones have no gaps.
        let mut ids: Vec<u64> = t.iter().unwrap().map(|r| r.unwrap().1.value()).collect();
        ids.sort_unstable();
        assert_eq!(ids, (1..=ok).collect::<Vec<_>>());
        let seq = r.open_table(SEQUENCE_TO_LAST).unwrap();
        assert_eq!(seq.get("t").unwrap().unwrap().value(), ok);
        assert_eq!(
            sink.0.lock().unwrap().len() as u64,
            ok,
            "failed ops publish no events"
        );
    }
}
