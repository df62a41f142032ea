//! Opening the database file, upgrading one written with redb 2
//! (file format v2: every build before 2026-11-24).
//!
//! redb 3 changed two things under us: the file format (v2 → v3, a header change that redb
//! 2.6's `Database::upgrade` makes in place) and the encoding of tuples holding a
//! variable-width field, which two of our tables use (`agents`, `mail_auto_replied`). redb 4
//! no longer reads either, so an old file is upgraded in three steps, each safe to interrupt:
//! 1. with redb 2, in one transaction: the two tuple tables are copied into staging tables of
//!    our own MessagePack rows (which no redb version re-encodes), replacing any staging left
//!    by an earlier attempt; the tables themselves stay, so until step 2 is done the file is
//!    still whole for the build that wrote it;
//! 2. with redb 2: the file format is upgraded;
//! 3. with redb 4, at every open, in one transaction: where staging tables exist, the old
//!    tables are dropped by name (never decoded) and refilled from them in the new encoding,
//!    and the staging tables dropped.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableHandle};

use super::tables::{ACCOUNT_DAY_SENDER_AUTO_REPLIED, USER_TO_AGENT};
use crate::error::{AppError, AppResult};

const STAGED_AGENTS: &str = "upgrade_agents";
const STAGED_AUTO_REPLIED: &str = "upgrade_mail_auto_replied";

/// Why the database could not be opened.
#[derive(Debug)]
pub enum OpenError {
    Redb(redb::DatabaseError),
    Upgrade(AppError),
}

impl OpenError {
    /// Another process (a running server) holds the file.
    pub fn already_open(&self) -> bool {
        matches!(
            self,
            OpenError::Redb(redb::DatabaseError::DatabaseAlreadyOpen)
        )
    }

    /// The error to show for `path`, with a hint when the file is held.
    pub fn for_path(self, path: &Path) -> AppError {
        let hint = if self.already_open() {
            " (is another atiende running on this data dir?)"
        } else {
            ""
        };
        AppError::internal(format!("cannot open {}{hint}: {self}", path.display()))
    }
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Redb(e) => e.fmt(f),
            OpenError::Upgrade(e) => e.fmt(f),
        }
    }
}

/// Opens the database at `path` without upgrading it: a redb 2 file is refused with a message
/// (a backup of an old data dir must not change it).
pub fn open_as_is(path: &Path, cache_bytes: usize) -> Result<Database, OpenError> {
    match redb::Builder::new().set_cache_size(cache_bytes).open(path) {
        Err(redb::DatabaseError::UpgradeRequired(v)) => Err(OpenError::Upgrade(AppError::internal(
            format!(
                "{} is in an older file format (v{v}, written before 2026-11-24): start \
                 `atiende serve` on it once to upgrade it, or back it up with the build that wrote it",
                path.display()
            ),
        ))),
        other => other.map_err(OpenError::Redb),
    }
}

/// Opens the database at `path` (creating it when missing), upgrading a redb 2 file.
pub fn open(path: &Path, cache_bytes: usize) -> Result<Database, OpenError> {
    let open = || {
        redb::Builder::new()
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(OpenError::Redb)
    };
    let db = match open() {
        Err(OpenError::Redb(redb::DatabaseError::UpgradeRequired(2))) => {
            upgrade_v2(path, cache_bytes)?;
            open()?
        }
        other => other?,
    };
    restore_staged(&db).map_err(OpenError::Upgrade)?;
    Ok(db)
}

fn old(e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("upgrading a database written with redb 2: {e}"))
}

/// Steps 1 and 2 (see the module comment), with redb 2.
fn upgrade_v2(path: &Path, cache_bytes: usize) -> Result<(), OpenError> {
    tracing::info!(path = %path.display(), "upgrading the database file (redb 2 → 4)");
    let mut db = match redb2::Builder::new().set_cache_size(cache_bytes).open(path) {
        Ok(db) => db,
        // Someone else has it open: the same answer as from redb 4.
        Err(redb2::DatabaseError::DatabaseAlreadyOpen) => {
            return Err(OpenError::Redb(redb::DatabaseError::DatabaseAlreadyOpen))
        }
        Err(e) => return Err(OpenError::Upgrade(old(e))),
    };
    stage_tuple_tables(&db).map_err(OpenError::Upgrade)?;
    db.upgrade().map_err(|e| OpenError::Upgrade(old(e)))?;
    Ok(())
}

/// Step 1, with redb 2.
#[allow(clippy::disallowed_methods)] // an old file is upgraded at open, before the writer starts
fn stage_tuple_tables(db: &redb2::Database) -> AppResult<()> {
    use redb2::{ReadableTable as _, TableHandle as _};
    const OLD_AGENTS: redb2::TableDefinition<u64, (u32, u32, bool, &str)> =
        redb2::TableDefinition::new("agents");
    const OLD_AUTO_REPLIED: redb2::TableDefinition<(u64, &str), ()> =
        redb2::TableDefinition::new("mail_auto_replied");
    const STAGE_AGENTS: redb2::TableDefinition<u64, &[u8]> =
        redb2::TableDefinition::new(STAGED_AGENTS);
    const STAGE_AUTO_REPLIED: redb2::TableDefinition<&[u8], ()> =
        redb2::TableDefinition::new(STAGED_AUTO_REPLIED);

    let txn = db.begin_write().map_err(old)?;
    let names: Vec<String> = txn
        .list_tables()
        .map_err(old)?
        .map(|h| h.name().to_string())
        .collect();
    for stale in [STAGE_AGENTS.name(), STAGE_AUTO_REPLIED.name()] {
        if names.iter().any(|n| n == stale) {
            txn.delete_table(redb2::TableDefinition::<&[u8], ()>::new(stale))
                .map_err(old)?;
        }
    }
    if names.iter().any(|n| n == OLD_AGENTS.name()) {
        let from = txn.open_table(OLD_AGENTS).map_err(old)?;
        let mut to = txn.open_table(STAGE_AGENTS).map_err(old)?;
        for row in from.iter().map_err(old)? {
            let (k, v) = row.map_err(old)?;
            let (a, b, c, d) = v.value();
            to.insert(k.value(), encode_agent(a, b, c, d)?.as_slice())
                .map_err(old)?;
        }
    }
    if names.iter().any(|n| n == OLD_AUTO_REPLIED.name()) {
        let from = txn.open_table(OLD_AUTO_REPLIED).map_err(old)?;
        let mut to = txn.open_table(STAGE_AUTO_REPLIED).map_err(old)?;
        for row in from.iter().map_err(old)? {
            let (k, _) = row.map_err(old)?;
            let (account, day_sender) = k.value();
            to.insert(encode_auto_replied(account, day_sender)?.as_slice(), ())
                .map_err(old)?;
        }
    }
    txn.commit().map_err(old)?;
    Ok(())
}

/// Step 3: staged rows back into their tables, in redb 4's encoding. Nothing to do (one
/// read of the table list) once an upgrade is complete.
#[allow(clippy::disallowed_methods)] // an old file is upgraded at open, before the writer starts
fn restore_staged(db: &Database) -> AppResult<()> {
    const STAGE_AGENTS: redb::TableDefinition<u64, &[u8]> =
        redb::TableDefinition::new(STAGED_AGENTS);
    const STAGE_AUTO_REPLIED: redb::TableDefinition<&[u8], ()> =
        redb::TableDefinition::new(STAGED_AUTO_REPLIED);
    let staged: Vec<String> = db
        .begin_read()?
        .list_tables()?
        .map(|h| h.name().to_string())
        .filter(|n| n == STAGED_AGENTS || n == STAGED_AUTO_REPLIED)
        .collect();
    if staged.is_empty() {
        return Ok(());
    }
    let txn = db.begin_write()?;
    if staged.iter().any(|n| n == STAGED_AGENTS) {
        // The old table holds redb 2's encoding: dropped by name, never opened with its type.
        txn.delete_table(USER_TO_AGENT)?;
        {
            let from = txn.open_table(STAGE_AGENTS)?;
            let mut to = txn.open_table(USER_TO_AGENT)?;
            for row in from.iter()? {
                let (k, v) = row?;
                let (a, b, c, d) = decode_agent(v.value())?;
                to.insert(k.value(), (a, b, c, d.as_str()))?;
            }
        }
        txn.delete_table(STAGE_AGENTS)?;
    }
    if staged.iter().any(|n| n == STAGED_AUTO_REPLIED) {
        txn.delete_table(ACCOUNT_DAY_SENDER_AUTO_REPLIED)?;
        {
            let from = txn.open_table(STAGE_AUTO_REPLIED)?;
            let mut to = txn.open_table(ACCOUNT_DAY_SENDER_AUTO_REPLIED)?;
            for row in from.iter()? {
                let (k, _) = row?;
                let (account, day_sender) = decode_auto_replied(k.value())?;
                to.insert((account, day_sender.as_str()), ())?;
            }
        }
        txn.delete_table(STAGE_AUTO_REPLIED)?;
    }
    txn.commit()?;
    tracing::info!("database upgrade finished");
    Ok(())
}

/// Staged rows are our own MessagePack, which no redb version changes.
fn encode_agent(a: u32, b: u32, c: bool, d: &str) -> AppResult<Vec<u8>> {
    super::codec::encode(&(a, b, c, d))
}

fn decode_agent(bytes: &[u8]) -> AppResult<(u32, u32, bool, String)> {
    super::codec::decode(bytes)
}

fn encode_auto_replied(account: u64, day_sender: &str) -> AppResult<Vec<u8>> {
    super::codec::encode(&(account, day_sender))
}

fn decode_auto_replied(bytes: &[u8]) -> AppResult<(u64, String)> {
    super::codec::decode(bytes)
}

#[cfg(test)]
// Tests build their fixtures with their own transactions.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use redb::ReadableTableMetadata;

    /// A file written by redb 2 with every key and value type our schema uses opens, and
    /// reads back the same, through the real table definitions.
    #[test]
    fn a_redb2_file_opens_with_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("atiende.redb");
        {
            const TICKETS: redb2::TableDefinition<u64, &[u8]> =
                redb2::TableDefinition::new("tickets");
            const INDEX: redb2::TableDefinition<&[u8], ()> =
                redb2::TableDefinition::new("ticket_index");
            const SEQ: redb2::TableDefinition<&str, u64> = redb2::TableDefinition::new("sequences");
            const LAST: redb2::TableDefinition<(u64, u64), u64> =
                redb2::TableDefinition::new("contact_last_ticket");
            const HISTORY: redb2::TableDefinition<(u64, u64), &[u8]> =
                redb2::TableDefinition::new("history");
            const MODES: redb2::TableDefinition<(u64, u64), u8> =
                redb2::TableDefinition::new("assignment");
            const CURSORS: redb2::TableDefinition<u64, (u32, u32)> =
                redb2::TableDefinition::new("mail_cursors");
            const SOURCES: redb2::TableDefinition<u64, &str> =
                redb2::TableDefinition::new("mail_cursor_sources");
            const AGENTS: redb2::TableDefinition<u64, (u32, u32, bool, &str)> =
                redb2::TableDefinition::new("agents");
            const REPLIED: redb2::TableDefinition<(u64, &str), ()> =
                redb2::TableDefinition::new("mail_auto_replied");
            let db = redb2::Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                txn.open_table(TICKETS)
                    .unwrap()
                    .insert(7, b"ticket".as_slice())
                    .unwrap();
                txn.open_table(INDEX)
                    .unwrap()
                    .insert(b"k1".as_slice(), ())
                    .unwrap();
                txn.open_table(SEQ).unwrap().insert("ticket", 7).unwrap();
                txn.open_table(LAST).unwrap().insert((1, 2), 7).unwrap();
                txn.open_table(HISTORY)
                    .unwrap()
                    .insert((7, 1), b"h".as_slice())
                    .unwrap();
                txn.open_table(MODES).unwrap().insert((3, 4), 2).unwrap();
                txn.open_table(CURSORS).unwrap().insert(5, (9, 10)).unwrap();
                txn.open_table(SOURCES)
                    .unwrap()
                    .insert(5, "imap.example")
                    .unwrap();
                let mut agents = txn.open_table(AGENTS).unwrap();
                agents.insert(3, (2, 5, true, "almuerzo")).unwrap();
                agents.insert(4, (0, 0, false, "")).unwrap();
                txn.open_table(REPLIED)
                    .unwrap()
                    .insert((5, "20260101\u{1f}ana@example.cl"), ())
                    .unwrap();
            }
            txn.commit().unwrap();
        }
        let db = open(&path, 1 << 20).unwrap();
        let r = db.begin_read().unwrap();
        use super::super::tables::*;
        let get =
            |t: &redb::ReadOnlyTable<u64, &[u8]>, k| t.get(k).unwrap().unwrap().value().to_vec();
        assert_eq!(get(&r.open_table(NUMBER_TO_TICKET).unwrap(), 7), b"ticket");
        assert!(r
            .open_table(RETIRED_TICKET_INDEX)
            .unwrap()
            .get(b"k1".as_slice())
            .unwrap()
            .is_some());
        assert_eq!(
            r.open_table(SEQUENCE_TO_LAST)
                .unwrap()
                .get("ticket")
                .unwrap()
                .unwrap()
                .value(),
            7
        );
        assert_eq!(
            r.open_table(CONTACT_ACCOUNT_TO_LAST_TICKET)
                .unwrap()
                .get((1, 2))
                .unwrap()
                .unwrap()
                .value(),
            7
        );
        assert_eq!(
            r.open_table(TICKET_HISTORY_TO_ENTRY)
                .unwrap()
                .get((7, 1))
                .unwrap()
                .unwrap()
                .value(),
            b"h"
        );
        assert_eq!(
            r.open_table(USER_ACCOUNT_TO_MODE)
                .unwrap()
                .get((3, 4))
                .unwrap()
                .unwrap()
                .value(),
            2
        );
        assert_eq!(
            r.open_table(ACCOUNT_TO_MAIL_CURSOR)
                .unwrap()
                .get(5)
                .unwrap()
                .unwrap()
                .value(),
            (9, 10)
        );
        assert_eq!(
            r.open_table(ACCOUNT_TO_MAIL_SOURCE)
                .unwrap()
                .get(5)
                .unwrap()
                .unwrap()
                .value(),
            "imap.example"
        );
        let agents = r.open_table(USER_TO_AGENT).unwrap();
        assert_eq!(
            agents.get(3).unwrap().unwrap().value(),
            (2, 5, true, "almuerzo")
        );
        assert_eq!(agents.get(4).unwrap().unwrap().value(), (0, 0, false, ""));
        let replied = r.open_table(ACCOUNT_DAY_SENDER_AUTO_REPLIED).unwrap();
        assert!(replied
            .get((5, "20260101\u{1f}ana@example.cl"))
            .unwrap()
            .is_some());
        assert_eq!(replied.len().unwrap(), 1);
        assert_no_staging(&r);
        drop(r);
        drop(db);
        // Opening again changes nothing.
        let db = open(&path, 1 << 20).unwrap();
        let r = db.begin_read().unwrap();
        assert_eq!(r.open_table(USER_TO_AGENT).unwrap().len().unwrap(), 2);
    }

    const OLD_AGENTS: redb2::TableDefinition<u64, (u32, u32, bool, &str)> =
        redb2::TableDefinition::new("agents");
    const OLD_REPLIED: redb2::TableDefinition<(u64, &str), ()> =
        redb2::TableDefinition::new("mail_auto_replied");

    /// A redb 2 file with one agent row and one auto-reply row.
    fn old_file(path: &std::path::Path) -> redb2::Database {
        let db = redb2::Database::create(path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(OLD_AGENTS)
            .unwrap()
            .insert(8, (1, 2, false, "x"))
            .unwrap();
        txn.open_table(OLD_REPLIED)
            .unwrap()
            .insert((9, "d\u{1f}s"), ())
            .unwrap();
        txn.commit().unwrap();
        db
    }

    fn assert_no_staging(r: &redb::ReadTransaction) {
        let names: Vec<String> = r
            .list_tables()
            .unwrap()
            .map(|h| h.name().to_string())
            .collect();
        assert!(
            !names.iter().any(|n| n.starts_with("upgrade_")),
            "{names:?}"
        );
    }

    fn assert_upgraded_rows(db: &Database) {
        let r = db.begin_read().unwrap();
        let agents = r.open_table(USER_TO_AGENT).unwrap();
        assert_eq!(agents.get(8).unwrap().unwrap().value(), (1, 2, false, "x"));
        assert_eq!(agents.len().unwrap(), 1);
        let replied = r.open_table(ACCOUNT_DAY_SENDER_AUTO_REPLIED).unwrap();
        assert!(replied.get((9, "d\u{1f}s")).unwrap().is_some());
        assert_eq!(replied.len().unwrap(), 1);
        assert_no_staging(&r);
    }

    /// Stopped after step 1: the file is still whole for redb 2, and the next open upgrades it
    /// (staging again from the tables, not from the earlier copy).
    #[test]
    fn an_upgrade_stopped_after_staging_leaves_the_old_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("atiende.redb");
        {
            let db = old_file(&path);
            stage_tuple_tables(&db).unwrap();
            use redb2::ReadableTableMetadata as _;
            let r = db.begin_read().unwrap();
            assert_eq!(
                r.open_table(OLD_AGENTS)
                    .unwrap()
                    .get(8)
                    .unwrap()
                    .unwrap()
                    .value(),
                (1, 2, false, "x")
            );
            assert_eq!(r.open_table(OLD_REPLIED).unwrap().len().unwrap(), 1);
        }
        assert!(
            open_as_is(&path, 1 << 20)
                .unwrap_err()
                .to_string()
                .contains("older file format"),
            "a backup refuses to change an old file"
        );
        let db = open(&path, 1 << 20).unwrap();
        assert_upgraded_rows(&db);
    }

    /// Stopped after step 2: the file is v3 with redb 2's tuples; the next open drops them by
    /// name and refills them from the staging tables.
    #[test]
    fn an_upgrade_stopped_after_the_format_change_finishes_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("atiende.redb");
        {
            let mut db = old_file(&path);
            stage_tuple_tables(&db).unwrap();
            assert!(db.upgrade().unwrap());
        }
        let db = open(&path, 1 << 20).unwrap();
        assert_upgraded_rows(&db);
        assert!(decode_agent(&[1, 2]).is_err());
        assert!(decode_auto_replied(&[1]).is_err());
    }
}
