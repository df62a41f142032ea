//! Attachments as content-addressed files: `attachments/ab/abcdef…` named by their SHA-256.
//! A file is written to a temporary name, fsynced and renamed before its metadata row is
//! committed, so a committed attachment always has its bytes; an orphan file after a crash is
//! harmless (and deduplicated by the next upload of the same bytes).

use std::io::Write;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

#[derive(Clone)]
pub struct Blobs {
    root: PathBuf,
}

impl Blobs {
    pub fn new(root: PathBuf) -> AppResult<Blobs> {
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(Blobs { root })
    }

    pub fn path_of(&self, sha256: &str) -> AppResult<PathBuf> {
        if !is_sha256_hex(sha256) {
            return Err(AppError::internal("bad attachment hash"));
        }
        Ok(self.root.join(&sha256[..2]).join(sha256))
    }

    /// Stores bytes durably and returns their SHA-256 (hex). Blocking: call off the runtime.
    pub fn put(&self, bytes: &[u8]) -> AppResult<String> {
        let sha = hex::encode(Sha256::digest(bytes));
        let dest = self.path_of(&sha)?;
        if dest.exists() {
            return Ok(sha);
        }
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{sha}.{}", rand::random::<u64>()));
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &dest)?;
        if let Some(dir) = dest.parent() {
            // Make the rename itself durable.
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(sha)
    }

    pub fn get(&self, sha256: &str) -> AppResult<Vec<u8>> {
        Ok(std::fs::read(self.path_of(sha256)?)?)
    }
}

/// The name of an attachment file: a SHA-256 in hex.
pub fn is_sha256_hex(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A file name safe to store and to put in a header: its last path part, without control
/// characters or quotes, at most 200 characters.
pub fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(200)
        .collect();
    if cleaned.trim().is_empty() {
        "archivo".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path().to_path_buf()).unwrap();
        let a = blobs.put(b"hola").unwrap();
        let b = blobs.put(b"hola").unwrap();
        assert_eq!(a, b);
        assert_eq!(blobs.get(&a).unwrap(), b"hola");
        assert!(blobs.path_of("../etc/passwd").is_err());
    }
}
