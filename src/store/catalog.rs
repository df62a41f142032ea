//! Small admin-managed lists keyed by id (labels, teams, canned responses) and attachment
//! metadata: the same four operations over different tables.

use redb::{ReadTransaction, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{codec, event, next_id, Effects};
use crate::error::{AppError, AppResult};

pub type RecordTable = TableDefinition<'static, u64, &'static [u8]>;

pub fn list<T: DeserializeOwned>(txn: &ReadTransaction, table: RecordTable) -> AppResult<Vec<T>> {
    codec::all(&txn.open_table(table)?)
}

pub fn get<T: DeserializeOwned>(
    txn: &ReadTransaction,
    table: RecordTable,
    id: u64,
) -> AppResult<Option<T>> {
    codec::get(&txn.open_table(table)?, id)
}

pub fn get_w<T: DeserializeOwned>(
    txn: &WriteTransaction,
    table: RecordTable,
    id: u64,
) -> AppResult<Option<T>> {
    codec::get(&txn.open_table(table)?, id)
}

/// A fresh id from the table's own sequence (named after the table).
pub fn new_id(txn: &WriteTransaction, table: RecordTable) -> AppResult<u64> {
    next_id(txn, &format!("{table}"))
}

/// Stores a record and announces `{kind}.updated` so open boards refresh their lists.
pub fn put<T: Serialize>(
    txn: &WriteTransaction,
    fx: &mut Effects,
    table: RecordTable,
    kind: &str,
    id: u64,
    record: &T,
) -> AppResult<()> {
    txn.open_table(table)?
        .insert(id, codec::encode(record)?.as_slice())?;
    fx.emit(event(&format!("{kind}.updated")));
    Ok(())
}

pub fn remove(
    txn: &WriteTransaction,
    fx: &mut Effects,
    table: RecordTable,
    kind: &str,
    id: u64,
) -> AppResult<()> {
    let existed = txn.open_table(table)?.remove(id)?.is_some();
    if !existed {
        return Err(AppError::not_found(kind));
    }
    fx.emit(event(&format!("{kind}.deleted")));
    Ok(())
}
