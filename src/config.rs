//! Typed configuration. Layers, weakest first: defaults, the TOML file (`--config FILE`, or
//! `atiende.toml` in the data dir), then `ATIENDE_*` environment variables and command-line
//! flags (clap reads both). Secrets never appear in `Debug` or `config check`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    /// Mark cookies `Secure` (on when serving HTTPS or behind a TLS proxy).
    pub secure_cookies: bool,
    /// Largest JSON body accepted.
    pub max_body_bytes: usize,
    /// Largest uploaded file.
    pub max_upload_bytes: usize,
    /// The address people open Atiende at (links in mail); when unset, taken from the
    /// request's Host header.
    pub public_url: Option<String>,
    pub backup: BackupPolicy,
}

/// Scheduled backups (OPS-3): into `dir`, every `every_hours` (0 = off), keeping `keep`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackupPolicy {
    pub dir: PathBuf,
    pub every_hours: u64,
    pub keep: usize,
}

/// The `[backup]` table of the file; what it leaves out keeps its default.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackupFile {
    /// Default: `backups` in the data dir.
    pub dir: Option<PathBuf>,
    /// Default 24; 0 turns scheduled backups off.
    pub every_hours: Option<u64>,
    /// Default 7.
    pub keep: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "0.0.0.0:8080".into(),
            data_dir: PathBuf::from("./atiende-data"),
            secure_cookies: false,
            max_body_bytes: 1024 * 1024,
            max_upload_bytes: 25 * 1024 * 1024,
            public_url: None,
            backup: BackupPolicy {
                dir: PathBuf::from("./atiende-data/backups"),
                every_hours: 24,
                keep: 7,
            },
        }
    }
}

/// What `atiende.toml` may set (unknown keys are refused, so a typo is not silently ignored).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub secure_cookies: Option<bool>,
    pub max_upload_mb: Option<u64>,
    /// tracing filter, e.g. "info" or "info,atiende::mail=debug" (ATIENDE_LOG overrides).
    pub log: Option<String>,
    /// "pretty" (default) or "json" (ATIENDE_LOG_FORMAT overrides).
    pub log_format: Option<String>,
    pub backup: Option<BackupFile>,
}

/// Values from flags or `ATIENDE_*` variables (None when neither was given).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub secure_cookies: Option<bool>,
    pub max_upload_mb: Option<u64>,
}

/// The file to read: the one named, else `atiende.toml` in the data dir when it exists.
pub fn file_path(named: Option<&Path>, data_dir: &Path) -> Option<PathBuf> {
    match named {
        Some(p) => Some(p.to_path_buf()),
        None => Some(data_dir.join("atiende.toml")).filter(|p| p.exists()),
    }
}

pub fn read_file(path: Option<&Path>) -> AppResult<FileConfig> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        AppError::internal(format!(
            "cannot read the configuration {}: {e}",
            path.display()
        ))
    })?;
    toml::from_str(&text)
        .map_err(|e| AppError::internal(format!("configuration {}: {e}", path.display())))
}

/// A tracing filter that means what it says: a lone word must be a level ("warning" would
/// otherwise be read as a target name and silence everything else).
fn check_log(filter: &str) -> AppResult<()> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let bad = || {
        AppError::internal(format!(
            "log = `{filter}` is not a log filter like \"info\" or \"info,atiende::mail=debug\""
        ))
    };
    tracing_subscriber::EnvFilter::try_new(filter).map_err(|_| bad())?;
    for part in filter.split(',').map(str::trim) {
        if !part.contains('=') && !LEVELS.contains(&part.to_ascii_lowercase().as_str()) {
            return Err(bad());
        }
    }
    Ok(())
}

impl Config {
    /// Layers the file under the overrides and checks the result.
    pub fn resolve(data_dir: PathBuf, file: &FileConfig, o: &Overrides) -> AppResult<Config> {
        let d = Config::default();
        let listen = o.listen.clone().or(file.listen.clone()).unwrap_or(d.listen);
        listen.parse::<std::net::SocketAddr>().map_err(|_| {
            AppError::internal(format!(
                "listen = `{listen}` is not an address like 0.0.0.0:8080 or 127.0.0.1:8080"
            ))
        })?;
        let public_url = o
            .public_url
            .clone()
            .or(file.public_url.clone())
            .map(|u| u.trim_end_matches('/').to_string());
        if let Some(u) = &public_url {
            let ok = (u.starts_with("https://") || u.starts_with("http://"))
                && u.split_once("://")
                    .is_some_and(|(_, h)| !h.is_empty() && !h.contains(' '));
            if !ok {
                return Err(AppError::internal(format!(
                    "public_url = `{u}` is not an address like https://soporte.tienda.cl"
                )));
            }
        }
        let max_upload_mb = o.max_upload_mb.or(file.max_upload_mb).unwrap_or(25);
        if !(1..=1024).contains(&max_upload_mb) {
            return Err(AppError::internal(format!(
                "max_upload_mb = {max_upload_mb} must be between 1 and 1024"
            )));
        }
        if let Some(l) = &file.log {
            check_log(l)?;
        }
        if let Some(f) = &file.log_format {
            if f != "json" && f != "pretty" {
                return Err(AppError::internal(format!(
                    "log_format = `{f}` must be pretty or json"
                )));
            }
        }
        let backup_file = file.backup.clone().unwrap_or_default();
        let backup = BackupPolicy {
            dir: backup_file.dir.unwrap_or_else(|| data_dir.join("backups")),
            every_hours: backup_file.every_hours.unwrap_or(d.backup.every_hours),
            keep: backup_file.keep.unwrap_or(d.backup.keep),
        };
        if backup.keep == 0 {
            return Err(AppError::internal(
                "[backup] keep = 0 would delete every backup it makes; keep at least 1",
            ));
        }
        Ok(Config {
            listen,
            data_dir,
            backup,
            secure_cookies: o.secure_cookies.or(file.secure_cookies).unwrap_or(false),
            max_upload_bytes: max_upload_mb as usize * 1024 * 1024,
            public_url,
            ..d
        })
    }

    /// The effective configuration as TOML (for `atiende config check`).
    pub fn describe(&self, file: &FileConfig) -> String {
        let effective = FileConfig {
            listen: Some(self.listen.clone()),
            public_url: self.public_url.clone(),
            secure_cookies: Some(self.secure_cookies),
            max_upload_mb: Some((self.max_upload_bytes / (1024 * 1024)) as u64),
            log: std::env::var("ATIENDE_LOG").ok().or(file.log.clone()),
            log_format: std::env::var("ATIENDE_LOG_FORMAT")
                .ok()
                .or(file.log_format.clone()),
            backup: Some(BackupFile {
                dir: Some(self.backup.dir.clone()),
                every_hours: Some(self.backup.every_hours),
                keep: Some(self.backup.keep),
            }),
        };
        let body = toml::to_string(&effective).unwrap_or_default();
        format!("# data dir: {}\n{body}", self.data_dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_and_checks() {
        let file: FileConfig =
            toml::from_str("listen = \"127.0.0.1:9000\"\npublic_url = \"https://s.tienda.cl/\"\n")
                .unwrap();
        let c = Config::resolve("d".into(), &file, &Overrides::default()).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9000");
        assert_eq!(c.public_url.as_deref(), Some("https://s.tienda.cl"));
        let o = Overrides {
            listen: Some("0.0.0.0:1".into()),
            ..Default::default()
        };
        assert_eq!(
            Config::resolve("d".into(), &file, &o).unwrap().listen,
            "0.0.0.0:1"
        );
        assert!(
            toml::from_str::<FileConfig>("lisen = \"x\"").is_err(),
            "typos are refused"
        );
        let typo = FileConfig {
            log: Some("warning".into()),
            ..Default::default()
        };
        assert!(Config::resolve("d".into(), &typo, &Overrides::default()).is_err());
        let fine = FileConfig {
            log: Some("warn,atiende::mail=debug".into()),
            ..Default::default()
        };
        assert!(Config::resolve("d".into(), &fine, &Overrides::default()).is_ok());
        let bad = FileConfig {
            listen: Some("nope".into()),
            ..Default::default()
        };
        assert!(Config::resolve("d".into(), &bad, &Overrides::default()).is_err());
    }
}
