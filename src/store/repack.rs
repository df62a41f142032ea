//! Repacking a table's leaves (issue 21). redb splits a full leaf in two halves when a key
//! lands inside the tree, so a table written at many places at once — the ticket index appends
//! at the end of each list's range, a ticket grows when it is closed — keeps leaves half full
//! for good: at a million tickets that slack was a third of the file. Repacking reads a run of
//! entries out through a cursor and writes them back as one ascending run, which redb packs
//! into full leaves; the pages freed are reused by later commits. The server repacks the
//! tables with much slack once a day, a slice per transaction through the writer;
//! `atiende compact` repacks every table before it shrinks the file.

use std::ops::Bound;

use redb::{
    Database, Key, ReadTransaction, ReadableTableMetadata, TableDefinition, TableHandle, Value,
    WriteTransaction,
};

use super::tables::{for_each_table, TableVisitor};
use crate::error::{AppError, AppResult};

/// Where a table's repacking goes on: the first key not yet rewritten.
pub type Resume = Option<Vec<u8>>;

/// One transaction rewrites about this many bytes of keys and values (a few milliseconds of
/// the writer, so ingest waits no longer than for an ordinary group commit).
const SLICE_BYTES: usize = 1 << 20;

/// Which tables are worth repacking: at least `min_bytes` in pages, of which at least
/// `min_slack` free.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub min_bytes: u64,
    pub min_slack: f64,
}

/// The server's daily pass: tables of a megabyte or more, a quarter of it free.
pub const DAILY: Policy = Policy {
    min_bytes: 1 << 20,
    min_slack: 0.25,
};

/// `atiende compact`: any table of more than a few pages with some free space.
pub const COMPACT: Policy = Policy {
    min_bytes: 64 << 10,
    min_slack: 0.05,
};

/// Rewrites entries of `table` from `from` (the start when None) packed, about `max_bytes` of
/// them. Returns the key to resume at, None once the end of the table was reached.
pub fn slice<K: Key + 'static, V: Value + 'static>(
    txn: &WriteTransaction,
    table: TableDefinition<K, V>,
    from: &Resume,
    max_bytes: usize,
) -> AppResult<Resume> {
    let mut t = txn.open_table(table)?;
    let mut cursor = match from {
        Some(bytes) => t.lower_bound_mut(Bound::Included(K::from_bytes(bytes)))?,
        None => t.lower_bound_mut(Bound::<K::SelfType<'_>>::Unbounded)?,
    };
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut bytes = 0;
    while bytes < max_bytes {
        let Some((k, v)) = cursor.remove_next()? else {
            break;
        };
        let entry = (
            K::as_bytes(&k.value()).as_ref().to_vec(),
            V::as_bytes(&v.value()).as_ref().to_vec(),
        );
        bytes += entry.0.len() + entry.1.len() + 8;
        entries.push(entry);
    }
    let resume = cursor
        .peek_next()?
        .map(|(k, _)| K::as_bytes(&k.value()).as_ref().to_vec());
    for (k, v) in &entries {
        cursor
            .insert_before(K::from_bytes(k), V::from_bytes(v))
            .map_err(|e| AppError::internal(format!("repack: {e}")))?;
    }
    cursor.close()?;
    Ok(resume)
}

/// How the repacking gets its transactions: the server's writer, or a database opened alone.
pub trait Runner {
    fn read<R>(&self, f: impl FnOnce(&ReadTransaction) -> AppResult<R>) -> AppResult<R>;
    fn write<R: Send + 'static>(
        &self,
        f: impl FnMut(&WriteTransaction) -> AppResult<R> + Send + 'static,
    ) -> AppResult<R>;
}

impl Runner for super::Store {
    fn read<R>(&self, f: impl FnOnce(&ReadTransaction) -> AppResult<R>) -> AppResult<R> {
        self.read_blocking(f)
    }
    fn write<R: Send + 'static>(
        &self,
        mut f: impl FnMut(&WriteTransaction) -> AppResult<R> + Send + 'static,
    ) -> AppResult<R> {
        self.write_blocking(move |txn, _| f(txn))
    }
}

impl Runner for Database {
    fn read<R>(&self, f: impl FnOnce(&ReadTransaction) -> AppResult<R>) -> AppResult<R> {
        use redb::ReadableDatabase;
        f(&self.begin_read()?)
    }
    #[allow(clippy::disallowed_methods)] // `atiende compact`: the server is stopped
    fn write<R: Send + 'static>(
        &self,
        mut f: impl FnMut(&WriteTransaction) -> AppResult<R> + Send + 'static,
    ) -> AppResult<R> {
        let txn = self.begin_write()?;
        let r = f(&txn)?;
        txn.commit()?;
        Ok(r)
    }
}

/// A table's bytes in pages, before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct Repacked {
    pub table: String,
    pub before: u64,
    pub after: u64,
}

/// Repacks every table the policy picks. `stop` is asked between slices.
pub fn run(
    runner: &impl Runner,
    policy: Policy,
    stop: &dyn Fn() -> bool,
) -> AppResult<Vec<Repacked>> {
    struct Visit<'a, R: Runner> {
        runner: &'a R,
        policy: Policy,
        stop: &'a dyn Fn() -> bool,
        done: Vec<Repacked>,
    }
    impl<R: Runner> TableVisitor for Visit<'_, R> {
        fn visit<K: Key + 'static, V: Value + 'static>(
            &mut self,
            table: TableDefinition<K, V>,
        ) -> AppResult<()> {
            let Some((before, slack)) = self.runner.read(|txn| pages_of(txn, table))? else {
                return Ok(());
            };
            if before < self.policy.min_bytes
                || (slack as f64) < self.policy.min_slack * before as f64
            {
                return Ok(());
            }
            let mut from: Resume = None;
            loop {
                if (self.stop)() {
                    return Err(AppError::stopping());
                }
                let (at, name) = (from.take(), table.name().to_string());
                // The definition holds its key and value types, which need not be `Send`; the
                // writer's thread makes it again from the name.
                from = self.runner.write(move |txn| {
                    slice(txn, TableDefinition::<K, V>::new(&name), &at, SLICE_BYTES)
                })?;
                if from.is_none() {
                    break;
                }
            }
            let after = self
                .runner
                .read(|txn| pages_of(txn, table))?
                .map_or(0, |(total, _)| total);
            self.done.push(Repacked {
                table: table.name().to_string(),
                before,
                after,
            });
            Ok(())
        }
    }
    let mut visit = Visit {
        runner,
        policy,
        stop,
        done: Vec::new(),
    };
    for_each_table(&mut visit)?;
    Ok(visit.done)
}

/// A table's bytes in pages and the free space among them; None when it does not exist.
fn pages_of<K: Key + 'static, V: Value + 'static>(
    txn: &ReadTransaction,
    table: TableDefinition<K, V>,
) -> AppResult<Option<(u64, u64)>> {
    let t = match txn.open_table(table) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let s = t.stats()?;
    Ok(Some((
        s.stored_bytes() + s.metadata_bytes() + s.fragmented_bytes(),
        s.fragmented_bytes(),
    )))
}

#[cfg(test)]
// The test builds its own database.
#[allow(clippy::disallowed_methods)]
mod tests {
    use redb::{ReadableDatabase, ReadableTable};

    use super::*;

    const T: TableDefinition<&[u8], ()> = TableDefinition::new("t");

    fn fill(db: &redb::Database) -> f64 {
        let txn = db.begin_read().unwrap();
        let t = txn.open_table(T).unwrap();
        let s = t.stats().unwrap();
        s.stored_bytes() as f64 / (s.stored_bytes() + s.fragmented_bytes()) as f64
    }

    #[test]
    fn many_appending_ranges_end_packed_and_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("db")).unwrap();
        // Like the ticket index: each of 50 ranges grows at its end, all at once.
        let key = |range: u8, n: u32| {
            let mut k = vec![range];
            k.extend_from_slice(&n.to_be_bytes());
            k.extend_from_slice(&[7; 20]);
            k
        };
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(T).unwrap();
            for n in 0..4_000u32 {
                for range in 0..50u8 {
                    t.insert(key(range, n).as_slice(), ()).unwrap();
                }
            }
        }
        txn.commit().unwrap();
        let before = fill(&db);
        assert!(before < 0.7, "fill before {before}");

        let mut from: Resume = None;
        loop {
            let txn = db.begin_write().unwrap();
            from = slice(&txn, T, &from, 200_000).unwrap();
            txn.commit().unwrap();
            if from.is_none() {
                break;
            }
        }
        let after = fill(&db);
        assert!(after > 0.9, "fill after {after} (before {before})");
        let txn = db.begin_read().unwrap();
        let t = txn.open_table(T).unwrap();
        assert_eq!(t.len().unwrap(), 200_000);
        let mut expected = Vec::new();
        for range in 0..50u8 {
            for n in 0..4_000u32 {
                expected.push(key(range, n));
            }
        }
        let got: Vec<Vec<u8>> = t
            .iter()
            .unwrap()
            .map(|r| r.unwrap().0.value().to_vec())
            .collect();
        assert_eq!(got, expected);
    }

    struct NoEvents;
    impl super::super::EventSink for NoEvents {
        fn committed(&self, _: Vec<std::sync::Arc<crate::domain::Event>>) {}
    }

    /// The server's way: through the writer, every table with much slack, nothing else.
    #[test]
    fn the_store_repacks_its_slack_tables_through_the_writer() {
        use super::super::tables::{CONTACT_TICKET, TICKET_KEYS};
        let dir = tempfile::tempdir().unwrap();
        let (store, writer) = super::super::Store::open(
            dir.path(),
            std::sync::Arc::new(crate::domain::SystemClock),
            std::sync::Arc::new(NoEvents),
        )
        .unwrap();
        let key = |range: u8, n: u32| {
            let mut k = [7u8; 16];
            k[0] = range;
            k[1..5].copy_from_slice(&n.to_be_bytes());
            k
        };
        store
            .write_blocking(move |txn, _| {
                let mut index = txn.open_table(TICKET_KEYS)?;
                let mut links = txn.open_table(CONTACT_TICKET)?;
                for n in 0..3_000u32 {
                    for range in 0..30u8 {
                        index.insert(key(range, n), ())?;
                    }
                    // Appended in key order: packed already, left alone.
                    links.insert((u64::from(n), 1), ())?;
                }
                Ok(())
            })
            .unwrap();
        let done = run(&store, DAILY, &|| false).unwrap();
        let names: Vec<&str> = done.iter().map(|r| r.table.as_str()).collect();
        assert_eq!(names, ["ticket_keys"], "{done:?}");
        assert!(
            done[0].after * 10 < done[0].before * 7,
            "{done:?}: a third smaller at least"
        );
        let keys: Vec<[u8; 16]> = store
            .read_blocking(|txn| {
                let t = txn.open_table(TICKET_KEYS)?;
                let mut out = Vec::new();
                for row in t.iter()? {
                    out.push(row?.0.value());
                }
                Ok(out)
            })
            .unwrap();
        let mut expected: Vec<[u8; 16]> = (0..30u8)
            .flat_map(|r| (0..3_000u32).map(move |n| key(r, n)))
            .collect();
        expected.sort();
        assert_eq!(keys, expected);
        drop(store);
        writer.join().unwrap();
    }
}
