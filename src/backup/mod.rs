//! Backups (OPS-3): one zstd-compressed tar holding `manifest.json` first (format, versions,
//! every file with its size and SHA-256), then a consistent snapshot of the database, the
//! configuration file, the TLS state and the attachments. The search index is derived and
//! rebuilt at the next start, so it is left out.
//!
//! A running server holds the database lock; `atiende backup` then asks it through the
//! control socket in the data dir (see `service`) and writes what it streams. Restore only
//! goes into an empty directory and checks every byte against the manifest before it
//! reports success; on any error it removes what it wrote. Archives and restored files are
//! readable by their owner only (they hold the TLS and ACME account keys).

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::Millis;
use crate::error::{AppError, AppResult};
use crate::store::blobs::is_sha256_hex;
use crate::store::DB_FILE;

pub mod service;

/// Bumped when the archive layout changes; restore refuses formats it does not know.
const FORMAT: u32 = 1;
const MANIFEST: &str = "manifest.json";
const CONFIG_FILE: &str = "atiende.toml";
const ATTACHMENTS: &str = "attachments";
/// Certificates and the ACME account key, when Atiende serves HTTPS itself.
const TLS_DIR: &str = "tls";

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub atiende_version: String,
    pub schema_version: u64,
    pub created_at: String,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

impl Manifest {
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }

    pub fn attachments(&self) -> usize {
        self.files
            .iter()
            .filter(|f| f.path.starts_with(ATTACHMENTS))
            .count()
    }
}

/// Removes a temporary file when dropped, whatever happened.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A snapshot taken and checksummed, ready to be streamed as an archive. The database copy
/// is a temporary file in the data dir, removed when this is dropped.
pub struct Prepared {
    pub manifest: Manifest,
    sources: Vec<(FileEntry, Source)>,
    _snapshot: TempFile,
}

/// Where a file's bytes come from when the archive is written. Small files that may change
/// meanwhile (the configuration, a renewed certificate) are read once, with their checksum.
enum Source {
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// Snapshots `data_dir`. `snapshot` copies the database into the path it is given and returns
/// the schema version (from the running store, or from a database opened offline).
pub fn prepare(
    data_dir: &Path,
    now: Millis,
    snapshot: impl FnOnce(&Path) -> AppResult<u64>,
) -> AppResult<Prepared> {
    let temp = TempFile(data_dir.join(format!("backup-{}.redb.tmp", rand::random::<u32>())));
    let schema_version = snapshot(&temp.0)?;
    let sources = collect(data_dir, &temp.0)?;
    let manifest = Manifest {
        format: FORMAT,
        atiende_version: env!("CARGO_PKG_VERSION").to_string(),
        schema_version,
        created_at: crate::domain::clock::to_rfc3339(now),
        files: sources.iter().map(|(entry, _)| entry.clone()).collect(),
    };
    Ok(Prepared {
        manifest,
        sources,
        _snapshot: temp,
    })
}

impl Prepared {
    /// Writes the archive: manifest first, then every file.
    pub fn stream(self, out: impl Write) -> AppResult<Manifest> {
        let mut encoder = zstd::Encoder::new(out, 3)?;
        {
            let mut tar = tar::Builder::new(&mut encoder);
            let json = serde_json::to_vec_pretty(&self.manifest)
                .map_err(|e| AppError::internal(format!("manifest: {e}")))?;
            append(&mut tar, MANIFEST, json.len() as u64, json.as_slice())?;
            for (entry, source) in &self.sources {
                match source {
                    Source::File(path) => {
                        let file = std::fs::File::open(path)?;
                        append(&mut tar, &entry.path, entry.bytes, file.take(entry.bytes))?;
                    }
                    Source::Bytes(bytes) => {
                        append(&mut tar, &entry.path, entry.bytes, bytes.as_slice())?;
                    }
                }
            }
            tar.finish()?;
        }
        encoder.finish()?.flush()?;
        Ok(self.manifest)
    }
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    bytes: u64,
    data: impl Read,
) -> AppResult<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes);
    header.set_mode(0o600);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, path, data)
        .map_err(|e| AppError::internal(format!("cannot write {path} into the backup: {e}")))
}

/// The files a backup holds, with sizes and checksums. Attachments are named by their
/// SHA-256 already; restore checks that name against the bytes.
fn collect(data_dir: &Path, db_snapshot: &Path) -> AppResult<Vec<(FileEntry, Source)>> {
    let mut files = vec![(
        hashed(DB_FILE, db_snapshot)?,
        Source::File(db_snapshot.to_path_buf()),
    )];
    let config = data_dir.join(CONFIG_FILE);
    if config.is_file() {
        files.push(in_memory(CONFIG_FILE, &config)?);
    }
    let tls = data_dir.join(TLS_DIR);
    if tls.is_dir() {
        for path in sorted_files(&tls)? {
            let name = file_name(&path)?;
            // A renewal's temporary file is not part of the state.
            if !name.ends_with(".tmp") {
                files.push(in_memory(&format!("{TLS_DIR}/{name}"), &path)?);
            }
        }
    }
    let attachments = data_dir.join(ATTACHMENTS);
    if attachments.is_dir() {
        for dir in sorted_dirs(&attachments)? {
            let prefix = file_name(&dir)?;
            if prefix == "tmp" {
                continue;
            }
            for path in sorted_files(&dir)? {
                let sha = file_name(&path)?;
                if !is_sha256_hex(&sha) || !sha.starts_with(&prefix) {
                    continue;
                }
                let bytes = std::fs::metadata(&path)?.len();
                files.push((
                    FileEntry {
                        path: format!("{ATTACHMENTS}/{prefix}/{sha}"),
                        bytes,
                        sha256: sha,
                    },
                    Source::File(path),
                ));
            }
        }
    }
    Ok(files)
}

fn file_name(path: &Path) -> AppResult<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| AppError::internal(format!("unreadable file name {}", path.display())))
}

fn sorted_entries(dir: &Path, want_dirs: bool) -> AppResult<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() == want_dirs {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

fn sorted_dirs(dir: &Path) -> AppResult<Vec<PathBuf>> {
    sorted_entries(dir, true)
}

fn sorted_files(dir: &Path) -> AppResult<Vec<PathBuf>> {
    sorted_entries(dir, false)
}

fn in_memory(name: &str, path: &Path) -> AppResult<(FileEntry, Source)> {
    let bytes = std::fs::read(path)?;
    let entry = FileEntry {
        path: name.to_string(),
        bytes: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(&bytes)),
    };
    Ok((entry, Source::Bytes(bytes)))
}

fn hashed(name: &str, path: &Path) -> AppResult<FileEntry> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)?;
    Ok(FileEntry {
        path: name.to_string(),
        bytes,
        sha256: hex::encode(hasher.finalize()),
    })
}

fn corrupt(why: impl std::fmt::Display) -> AppError {
    AppError::bad_request(
        "backup_corrupt",
        format!("the backup is damaged or not an Atiende backup: {why}"),
    )
}

/// A manifest path is safe when it is relative, plain, and one of the parts a backup holds.
fn safe_path(path: &str) -> bool {
    let p = Path::new(path);
    let plain = p.components().all(|c| matches!(c, Component::Normal(_)));
    let known = path == DB_FILE
        || path == CONFIG_FILE
        || path.starts_with(&format!("{TLS_DIR}/"))
        || path.starts_with(&format!("{ATTACHMENTS}/"));
    plain && known && !path.is_empty()
}

/// An attachment must sit where the store looks for it: `attachments/ab/abcd…`, named by its
/// own SHA-256. Other files pass.
fn attachment_where_expected(f: &FileEntry) -> bool {
    !f.path.starts_with(ATTACHMENTS)
        || (is_sha256_hex(&f.sha256)
            && f.path == format!("{ATTACHMENTS}/{}/{}", &f.sha256[..2], f.sha256))
}

/// Reads a whole archive, checking every file against the manifest; with `into`, writes the
/// files there too. Returns the manifest.
fn read_archive(archive: impl Read, into: Option<&Path>) -> AppResult<Manifest> {
    let decoder = zstd::Decoder::new(archive).map_err(corrupt)?;
    let mut tar = tar::Archive::new(decoder);
    let mut entries = tar.entries().map_err(corrupt)?;
    let manifest: Manifest = {
        let mut first = entries
            .next()
            .ok_or_else(|| corrupt("it is empty"))?
            .map_err(corrupt)?;
        if first.path().map_err(corrupt)?.as_ref() != Path::new(MANIFEST) {
            return Err(corrupt("it does not start with a manifest"));
        }
        let mut json = Vec::new();
        (&mut first)
            .take(16 * 1024 * 1024)
            .read_to_end(&mut json)
            .map_err(corrupt)?;
        serde_json::from_slice(&json).map_err(corrupt)?
    };
    if manifest.format != FORMAT {
        return Err(AppError::bad_request(
            "backup_format",
            format!(
                "this backup has format {}, this atiende reads format {FORMAT}",
                manifest.format
            ),
        ));
    }
    if manifest.schema_version > crate::store::migrate::CURRENT {
        return Err(AppError::bad_request(
            "backup_newer",
            format!(
                "this backup was made by atiende {} (schema {}); restore it with that version or newer",
                manifest.atiende_version, manifest.schema_version
            ),
        ));
    }
    if let Some(bad) = manifest.files.iter().find(|f| !safe_path(&f.path)) {
        return Err(corrupt(format!("unexpected path {}", bad.path)));
    }
    // Attachments are named by their SHA-256: a name that is not its own checksum would
    // restore a file the database finds under another content.
    if let Some(bad) = manifest
        .files
        .iter()
        .find(|f| !attachment_where_expected(f))
    {
        return Err(corrupt(format!(
            "{} is not named by its checksum",
            bad.path
        )));
    }
    let mut seen = vec![false; manifest.files.len()];
    let index_of: std::collections::HashMap<&str, usize> = manifest
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.as_str(), i))
        .collect();
    for entry in entries {
        let mut entry = entry.map_err(corrupt)?;
        let path = entry.path().map_err(corrupt)?.to_string_lossy().to_string();
        let index = *index_of
            .get(path.as_str())
            .ok_or_else(|| corrupt(format!("{path} is not in the manifest")))?;
        let expected = &manifest.files[index];
        let mut hasher = Sha256::new();
        // One byte more than promised is enough to know the entry is wrong: a damaged
        // archive cannot fill the disk.
        let mut limited = (&mut entry).take(expected.bytes.saturating_add(1));
        let bytes = match into {
            Some(dir) => {
                let dest = dir.join(&expected.path);
                if let Some(parent) = dest.parent() {
                    private_dirs(parent)?;
                }
                let mut file = private_file(&dest)?;
                let n = copy_hashing(&mut limited, &mut hasher, Some(&mut file))?;
                file.sync_all()?;
                n
            }
            None => copy_hashing(&mut limited, &mut hasher, None)?,
        };
        if seen[index] {
            return Err(corrupt(format!("{path} appears twice")));
        }
        if bytes != expected.bytes || hex::encode(hasher.finalize()) != expected.sha256 {
            return Err(corrupt(format!("{path} does not match its checksum")));
        }
        seen[index] = true;
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(corrupt(format!(
            "{} is missing (the archive is cut short)",
            manifest.files[missing].path
        )));
    }
    Ok(manifest)
}

fn copy_hashing(
    from: &mut impl Read,
    hasher: &mut Sha256,
    mut to: Option<&mut std::fs::File>,
) -> AppResult<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buf).map_err(corrupt)?;
        if n == 0 {
            return Ok(total);
        }
        hasher.update(&buf[..n]);
        if let Some(file) = to.as_deref_mut() {
            file.write_all(&buf[..n])?;
        }
        total += n as u64;
    }
}

/// Reads the archive at `path` through and checks every checksum.
pub fn verify(path: &Path) -> AppResult<Manifest> {
    let file = std::fs::File::open(path)
        .map_err(|e| AppError::internal(format!("cannot open {}: {e}", path.display())))?;
    read_archive(std::io::BufReader::new(file), None)
}

/// Restores `archive` into `data_dir`, which must be empty or absent.
pub fn restore(archive: &Path, data_dir: &Path) -> AppResult<Manifest> {
    let file = std::fs::File::open(archive)
        .map_err(|e| AppError::internal(format!("cannot open {}: {e}", archive.display())))?;
    let existed = data_dir.exists();
    if existed && std::fs::read_dir(data_dir)?.next().is_some() {
        return Err(AppError::conflict(
            "data_dir_not_empty",
            format!(
                "{} is not empty; restore only goes into an empty or new directory, so nothing is overwritten",
                data_dir.display()
            ),
        ));
    }
    private_dirs(data_dir)?;
    match read_archive(std::io::BufReader::new(file), Some(data_dir)) {
        Ok(manifest) => Ok(manifest),
        Err(e) => {
            // Leave the directory as it was found: empty, or not there at all.
            for entry in std::fs::read_dir(data_dir)?.flatten() {
                let _ = if entry.path().is_dir() {
                    std::fs::remove_dir_all(entry.path())
                } else {
                    std::fs::remove_file(entry.path())
                };
            }
            if !existed {
                let _ = std::fs::remove_dir(data_dir);
            }
            Err(e)
        }
    }
}

/// A new file only its owner may read: backups hold the TLS and ACME account keys.
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Directories (and their missing parents) only their owner may enter.
pub fn private_dirs(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// Writes a backup to `dest` through a temporary name, reads it back through, and only then
/// gives it its name: a file with the final name is always a whole, checked backup.
pub fn write_file(
    dest: &Path,
    produce: impl FnOnce(&mut std::fs::File) -> AppResult<()>,
) -> AppResult<Manifest> {
    let partial = PathBuf::from(format!("{}.partial", dest.display()));
    let guard = TempFile(partial.clone());
    let mut file = private_file(&partial)
        .map_err(|e| AppError::internal(format!("cannot create {}: {e}", partial.display())))?;
    produce(&mut file)?;
    file.sync_all()?;
    drop(file);
    let manifest = verify(&partial)?;
    std::fs::rename(&partial, dest)?;
    std::mem::forget(guard);
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths_stay_inside() {
        assert!(safe_path("atiende.redb"));
        assert!(safe_path("attachments/ab/abcd"));
        assert!(!safe_path("../etc/passwd"));
        assert!(!safe_path("/etc/passwd"));
        assert!(!safe_path("attachments/../../x"));
        assert!(!safe_path("search/meta.json"));
        let sha = "ab".repeat(32);
        let entry = |path: String| FileEntry {
            path,
            bytes: 1,
            sha256: sha.clone(),
        };
        assert!(attachment_where_expected(&entry(format!(
            "attachments/ab/{sha}"
        ))));
        assert!(!attachment_where_expected(&entry(format!(
            "attachments/zz/{sha}"
        ))));
        assert!(!attachment_where_expected(&entry(
            "attachments/ab/otro".into()
        )));
        assert!(attachment_where_expected(&entry("atiende.toml".into())));
    }
}
