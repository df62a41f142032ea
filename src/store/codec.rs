//! Record encoding: MessagePack with field names, so added fields with defaults need no
//! migration and old records keep decoding.

use redb::ReadableTable;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{AppError, AppResult};

pub fn encode<T: Serialize>(value: &T) -> AppResult<Vec<u8>> {
    rmp_serde::to_vec_named(value).map_err(|e| AppError::internal(format!("encode: {e}")))
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> AppResult<T> {
    rmp_serde::from_slice(bytes).map_err(|e| AppError::internal(format!("decode: {e}")))
}

/// Reads and decodes one record by u64 key.
pub fn get<T: DeserializeOwned>(
    table: &impl ReadableTable<u64, &'static [u8]>,
    id: u64,
) -> AppResult<Option<T>> {
    match table.get(id)? {
        Some(guard) => Ok(Some(decode(guard.value())?)),
        None => Ok(None),
    }
}

/// Reads every record of a small table (labels, teams, accounts…), in id order.
pub fn all<T: DeserializeOwned>(
    table: &impl ReadableTable<u64, &'static [u8]>,
) -> AppResult<Vec<T>> {
    let mut out = Vec::new();
    for row in table.iter()? {
        let (_, v) = row?;
        out.push(decode(v.value())?);
    }
    Ok(out)
}
