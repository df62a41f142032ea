//! What the database holds, table by table (issue 21: measure before cutting): rows, the bytes
//! of keys and values, the B-tree's own bytes and what is fragmented, and per message.

use redb::{ReadTransaction, ReadableTableMetadata, TableDefinition};
use serde::Serialize;

use super::tables::{for_each_table, TableVisitor, MESSAGE_ID_TO_MESSAGE};
use crate::error::AppResult;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TableUsage {
    pub name: String,
    pub rows: u64,
    /// Keys and values as stored.
    pub stored_bytes: u64,
    /// The tree's pages beyond the stored bytes (headers, branch pages).
    pub metadata_bytes: u64,
    /// Free space inside the table's pages.
    pub fragmented_bytes: u64,
}

impl TableUsage {
    pub fn total(&self) -> u64 {
        self.stored_bytes + self.metadata_bytes + self.fragmented_bytes
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    pub messages: u64,
    /// Largest first.
    pub tables: Vec<TableUsage>,
    /// The file around the tables (`of_database`; None from `usage` alone).
    pub file: Option<FileUsage>,
}

/// What the file holds beyond the tables: its length, the pages redb counts as in use (tables,
/// its own system tables, pages waiting to be freed) and the blocks the disk really gives it
/// (a file grown but never written there is sparse).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct FileUsage {
    pub length: u64,
    pub allocated: u64,
    pub on_disk: u64,
}

/// The usage of an open database (a one-off command's) and of its file at `path`.
pub fn of_database(db: &redb::Database, path: &std::path::Path) -> AppResult<Usage> {
    use redb::ReadableDatabase;
    let txn = db
        .begin_read()
        .map_err(|e| crate::error::AppError::internal(format!("read: {e}")))?;
    let mut usage = usage(&txn)?;
    drop(txn);
    usage.file = Some(file_usage(db, path)?);
    Ok(usage)
}

/// Asks redb for its allocated pages through a write transaction that is aborted: only a
/// one-off command's database (the server is stopped) is read this way.
#[allow(clippy::disallowed_methods)]
fn file_usage(db: &redb::Database, path: &std::path::Path) -> AppResult<FileUsage> {
    let size = super::FileSize::read(path)
        .map_err(|e| crate::error::AppError::internal(format!("{}: {e}", path.display())))?;
    let txn = db.begin_write()?;
    let stats = txn.stats()?;
    txn.abort()?;
    Ok(FileUsage {
        length: size.length,
        allocated: stats.allocated_pages() * stats.page_size() as u64,
        on_disk: size.on_disk,
    })
}

/// Every table's usage in one read transaction.
pub fn usage(txn: &ReadTransaction) -> AppResult<Usage> {
    struct Read<'a>(&'a ReadTransaction, Vec<TableUsage>);
    impl TableVisitor for Read<'_> {
        fn visit<K: redb::Key + 'static, V: redb::Value + 'static>(
            &mut self,
            table: TableDefinition<K, V>,
        ) -> AppResult<()> {
            let t = self.0.open_table(table)?;
            let stats = t.stats()?;
            self.1.push(TableUsage {
                name: redb::TableHandle::name(&table).to_string(),
                rows: t.len()?,
                stored_bytes: stats.stored_bytes(),
                metadata_bytes: stats.metadata_bytes(),
                fragmented_bytes: stats.fragmented_bytes(),
            });
            Ok(())
        }
    }
    let mut read = Read(txn, Vec::new());
    for_each_table(&mut read)?;
    let mut tables = read.1;
    tables.sort_by(|a, b| b.total().cmp(&a.total()).then(a.name.cmp(&b.name)));
    let messages = txn.open_table(MESSAGE_ID_TO_MESSAGE)?.len()?;
    Ok(Usage {
        messages,
        tables,
        file: None,
    })
}

impl Usage {
    /// A table for the terminal: name, rows, stored, tree, fragmented, total, per message.
    pub fn render(&self) -> String {
        let per = |b: u64| {
            if self.messages == 0 {
                "-".to_string()
            } else {
                format!("{:.0}", b as f64 / self.messages as f64)
            }
        };
        let mut out = format!(
            "{:<28} {:>10} {:>12} {:>12} {:>12} {:>12} {:>9}\n",
            "table", "rows", "stored B", "tree B", "fragm. B", "total B", "B/msg"
        );
        let mut sum = 0;
        for t in self.tables.iter().filter(|t| t.total() > 0) {
            sum += t.total();
            out.push_str(&format!(
                "{:<28} {:>10} {:>12} {:>12} {:>12} {:>12} {:>9}\n",
                t.name,
                t.rows,
                t.stored_bytes,
                t.metadata_bytes,
                t.fragmented_bytes,
                t.total(),
                per(t.total())
            ));
        }
        out.push_str(&format!(
            "{:<28} {:>10} {:>12} {:>12} {:>12} {:>12} {:>9}\n",
            "all tables",
            self.messages,
            "",
            "",
            "",
            sum,
            per(sum)
        ));
        if let Some(f) = self.file {
            for (name, bytes) in [
                ("file: length", f.length),
                ("file: pages in use", f.allocated),
                ("file: blocks on disk", f.on_disk),
            ] {
                out.push_str(&format!(
                    "{:<28} {:>10} {:>12} {:>12} {:>12} {:>12} {:>9}\n",
                    name,
                    "",
                    "",
                    "",
                    "",
                    bytes,
                    per(bytes)
                ));
            }
        }
        out
    }
}

#[cfg(test)]
// The test builds its fixture with its own transaction.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use redb::{Database, ReadableDatabase};

    #[test]
    fn counts_rows_and_bytes_of_every_table() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("u.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        super::super::tables::create_all(&txn).unwrap();
        {
            let mut m = txn.open_table(MESSAGE_ID_TO_MESSAGE).unwrap();
            for id in 1..=100u64 {
                m.insert(id, [7u8; 200].as_slice()).unwrap();
            }
        }
        txn.commit().unwrap();
        let u = usage(&db.begin_read().unwrap()).unwrap();
        assert_eq!(u.messages, 100);
        let messages = &u.tables[0];
        assert_eq!((messages.name.as_str(), messages.rows), ("messages", 100));
        assert!(messages.stored_bytes >= 100 * 208, "{messages:?}");
        assert!(u.render().contains("all tables"));

        let path = dir.path().join("u.redb");
        let f = of_database(&db, &path).unwrap().file.unwrap();
        assert!(f.allocated >= messages.total(), "{f:?}");
        assert!(f.length >= f.allocated, "{f:?}");
        assert!(of_database(&db, &path)
            .unwrap()
            .render()
            .contains("file: pages in use"));
    }
}
