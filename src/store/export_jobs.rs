//! The background exports' records (Administración › Exportaciones).

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::codec;
use super::tables::EXPORT_ID_TO_JOB;
use crate::domain::ExportJob;
use crate::error::AppResult;

pub fn put(txn: &WriteTransaction, job: &ExportJob) -> AppResult<()> {
    txn.open_table(EXPORT_ID_TO_JOB)?
        .insert(job.id, codec::encode(job)?.as_slice())?;
    Ok(())
}

pub fn get(txn: &ReadTransaction, id: u64) -> AppResult<Option<ExportJob>> {
    codec::get(&txn.open_table(EXPORT_ID_TO_JOB)?, id)
}

pub fn exists_w(txn: &WriteTransaction, id: u64) -> AppResult<bool> {
    Ok(txn.open_table(EXPORT_ID_TO_JOB)?.get(id)?.is_some())
}

/// Every job, newest first.
pub fn list(txn: &ReadTransaction) -> AppResult<Vec<ExportJob>> {
    let mut all: Vec<ExportJob> = codec::all(&txn.open_table(EXPORT_ID_TO_JOB)?)?;
    all.reverse();
    Ok(all)
}

/// Removes the jobs created before `cutoff`; returns them (their files go too).
pub fn remove_before(
    txn: &WriteTransaction,
    cutoff: crate::domain::Millis,
) -> AppResult<Vec<ExportJob>> {
    let mut table = txn.open_table(EXPORT_ID_TO_JOB)?;
    let old: Vec<ExportJob> = codec::all::<ExportJob>(&table)?
        .into_iter()
        .filter(|j| j.created_at < cutoff)
        .collect();
    for j in &old {
        table.remove(j.id)?;
    }
    Ok(old)
}

pub fn remove(txn: &WriteTransaction, id: u64) -> AppResult<Option<ExportJob>> {
    let mut table = txn.open_table(EXPORT_ID_TO_JOB)?;
    let job = codec::get(&table, id)?;
    table.remove(id)?;
    Ok(job)
}
