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
    /// HTTPS served by Atiende itself (None: plain HTTP on `listen`, e.g. behind a proxy).
    pub tls: Option<TlsConfig>,
    /// Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// How many connections, and how long a request's headers may take.
    pub connections: ConnectionLimits,
    /// Free space on the data dir's disk below which the administrators are warned (None: a
    /// tenth of the disk, at most 1 GiB).
    pub low_space_bytes: Option<u64>,
    /// How long the audit log keeps an entry.
    pub audit_retention_months: u64,
    pub sessions: SessionPolicy,
}

/// How long a signed-in browser stays signed in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionPolicy {
    /// Unused this long, a session ends (default 12 hours: an agent's shift).
    pub idle_minutes: u64,
    /// Used or not, a session ends this long after sign-in (default 14 days).
    pub absolute_days: u64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_minutes: 12 * 60,
            absolute_days: 14,
        }
    }
}

/// The `[sessions]` table of `atiende.toml`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsFile {
    /// Minutes a session may go unused (default 720).
    pub idle_minutes: Option<u64>,
    /// Days a session lasts at most (default 14).
    pub absolute_days: Option<u64>,
}

/// What one client may hold: slow or idle clients must not use up the server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectionLimits {
    /// A request's headers must arrive within this time (a slow client is cut off).
    pub header_timeout: std::time::Duration,
    /// Open connections at once, from everyone.
    pub max: usize,
    /// Open connections at once from one address (an office behind one NAT shares it).
    pub per_address: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: std::time::Duration::from_secs(20),
            max: 2048,
            per_address: 256,
        }
    }
}

/// The `[connections]` table of `atiende.toml`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsFile {
    /// Seconds a request's headers may take (default 20).
    pub header_timeout_seconds: Option<u64>,
    /// Open connections at once (default 2048).
    pub max: Option<usize>,
    /// Open connections at once from one address (default 256).
    pub max_per_address: Option<usize>,
}

/// An address or a network (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IpNet {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn parse(text: &str) -> Option<IpNet> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (
                a.parse::<std::net::IpAddr>().ok()?,
                Some(p.parse::<u8>().ok()?),
            ),
            None => (text.trim().parse().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let bits = |ip: std::net::IpAddr| -> (u128, u8) {
            match ip.to_canonical() {
                std::net::IpAddr::V4(v4) => (u32::from(v4) as u128, 32),
                std::net::IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        let ((net, width), (candidate, cwidth)) = (bits(self.addr), bits(ip));
        if width != cwidth {
            return false;
        }
        let shift = u32::from(width - self.prefix.min(width));
        let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
        net & mask == candidate & mask
    }
}

/// HTTPS served by Atiende: where, and where the certificate comes from.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// The TLS listener (default 0.0.0.0:443).
    pub https_listen: String,
    /// Plain HTTP: redirects to HTTPS and answers HTTP-01 challenges (default 0.0.0.0:80;
    /// None when set to "off").
    pub http_listen: Option<String>,
    pub source: TlsSource,
}

#[derive(Debug, Clone)]
pub enum TlsSource {
    Acme(AcmeConfig),
    /// Certificate chain and key in PEM files, reloaded when they change.
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
}

#[derive(Debug, Clone)]
pub struct AcmeConfig {
    pub domain: String,
    pub directory: String,
    /// The root the ACME server's own certificate chains to (private CAs).
    pub root: Option<PathBuf>,
    pub email: Option<String>,
    /// "http-01" or "tls-alpn-01".
    pub challenge: String,
}

pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

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
            tls: None,
            trusted_proxies: Vec::new(),
            connections: ConnectionLimits::default(),
            low_space_bytes: None,
            audit_retention_months: 12,
            sessions: SessionPolicy::default(),
        }
    }
}

/// The `[audit]` table of `atiende.toml`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFile {
    /// Months the audit log keeps an entry (default 12).
    pub retention_months: Option<u64>,
}

/// The `[storage]` table of `atiende.toml`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StorageFile {
    /// Warn the administrators when the data dir's disk has less than this many MB free
    /// (default: a tenth of the disk, at most 1024).
    pub low_space_mb: Option<u64>,
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
    pub https: Option<Https>,
    pub connections: Option<ConnectionsFile>,
    pub storage: Option<StorageFile>,
    pub audit: Option<AuditFile>,
    pub sessions: Option<SessionsFile>,
}

/// The HTTPS and proxy settings: the `[https]` table of the file, and flags/variables.
#[derive(Debug, Clone, Default, Deserialize, Serialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct Https {
    /// Serve HTTPS for this name with a certificate from an ACME CA (Let's Encrypt).
    #[arg(long, env = "ATIENDE_DOMAIN")]
    pub domain: Option<String>,
    /// The ACME directory URL (default Let's Encrypt).
    #[arg(long, env = "ATIENDE_ACME_DIRECTORY")]
    pub acme_directory: Option<String>,
    /// A PEM root certificate the ACME server's own chain ends in (private CAs).
    #[arg(long, env = "ATIENDE_ACME_ROOT")]
    pub acme_root: Option<PathBuf>,
    /// Contact address given to the CA.
    #[arg(long, env = "ATIENDE_ACME_EMAIL")]
    pub acme_email: Option<String>,
    /// http-01 (default) or tls-alpn-01.
    #[arg(long, env = "ATIENDE_ACME_CHALLENGE")]
    pub acme_challenge: Option<String>,
    /// Your own certificate chain (PEM) instead of ACME; reloaded when the file changes.
    #[arg(long, env = "ATIENDE_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "ATIENDE_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// The HTTPS listener (default 0.0.0.0:443).
    #[arg(long, env = "ATIENDE_HTTPS_LISTEN")]
    pub https_listen: Option<String>,
    /// The HTTP listener for redirects and HTTP-01 (default 0.0.0.0:80; "off" for none).
    #[arg(long, env = "ATIENDE_HTTP_LISTEN")]
    pub http_listen: Option<String>,
    /// Proxies (addresses or networks, comma-separated) whose X-Forwarded-* are believed.
    #[arg(long, env = "ATIENDE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<String>>,
}

impl Https {
    /// Each field of `over` that is set replaces this one's.
    fn layered(&self, over: &Https) -> Https {
        fn pick<T: Clone>(a: &Option<T>, b: &Option<T>) -> Option<T> {
            b.clone().or_else(|| a.clone())
        }
        Https {
            domain: pick(&self.domain, &over.domain),
            acme_directory: pick(&self.acme_directory, &over.acme_directory),
            acme_root: pick(&self.acme_root, &over.acme_root),
            acme_email: pick(&self.acme_email, &over.acme_email),
            acme_challenge: pick(&self.acme_challenge, &over.acme_challenge),
            tls_cert: pick(&self.tls_cert, &over.tls_cert),
            tls_key: pick(&self.tls_key, &over.tls_key),
            https_listen: pick(&self.https_listen, &over.https_listen),
            http_listen: pick(&self.http_listen, &over.http_listen),
            trusted_proxies: pick(&self.trusted_proxies, &over.trusted_proxies),
        }
    }
}

/// Values from flags or `ATIENDE_*` variables (None when neither was given).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub secure_cookies: Option<bool>,
    pub max_upload_mb: Option<u64>,
    pub https: Https,
}

fn check_listen(key: &str, value: &str) -> AppResult<()> {
    value
        .parse::<std::net::SocketAddr>()
        .map(|_| ())
        .map_err(|_| {
            AppError::internal(format!(
                "{key} = `{value}` is not an address like 0.0.0.0:8080 or 127.0.0.1:8080"
            ))
        })
}

/// The TLS settings, checked: a domain (ACME) or a certificate and key, not both.
fn resolve_tls(h: &Https) -> AppResult<Option<TlsConfig>> {
    let source =
        match (&h.domain, &h.tls_cert, &h.tls_key) {
            (None, None, None) => return Ok(None),
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => return Err(AppError::internal(
                "give either domain (a certificate from ACME) or tls_cert and tls_key, not both",
            )),
            (None, Some(cert), Some(key)) => TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            (None, _, _) => {
                return Err(AppError::internal(
                    "tls_cert and tls_key go together: give both files",
                ))
            }
            (Some(domain), None, None) => {
                let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
                let label_ok = |l: &str| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                };
                if !domain.contains('.') || !domain.split('.').all(label_ok) {
                    return Err(AppError::internal(format!(
                        "domain = `{domain}` is not a name like soporte.tienda.cl"
                    )));
                }
                let challenge = h.acme_challenge.clone().unwrap_or_else(|| "http-01".into());
                if challenge != "http-01" && challenge != "tls-alpn-01" {
                    return Err(AppError::internal(format!(
                        "acme_challenge = `{challenge}` must be http-01 or tls-alpn-01"
                    )));
                }
                let directory = h
                    .acme_directory
                    .clone()
                    .unwrap_or_else(|| LETS_ENCRYPT.into());
                if !directory.starts_with("https://") {
                    return Err(AppError::internal(format!(
                        "acme_directory = `{directory}` must be an https:// URL"
                    )));
                }
                TlsSource::Acme(AcmeConfig {
                    domain,
                    directory,
                    root: h.acme_root.clone(),
                    email: h.acme_email.clone(),
                    challenge,
                })
            }
        };
    let https_listen = h
        .https_listen
        .clone()
        .unwrap_or_else(|| "0.0.0.0:443".into());
    check_listen("https_listen", &https_listen)?;
    let http_listen = match h.http_listen.as_deref() {
        Some("off") => None,
        Some(a) => Some(a.to_string()),
        None => Some("0.0.0.0:80".into()),
    };
    if let Some(a) = &http_listen {
        check_listen("http_listen", a)?;
    }
    if let TlsSource::Acme(a) = &source {
        if http_listen.is_none() && a.challenge == "http-01" {
            return Err(AppError::internal(
                "acme_challenge http-01 needs http_listen; use tls-alpn-01 to serve HTTPS alone",
            ));
        }
    }
    Ok(Some(TlsConfig {
        https_listen,
        http_listen,
        source,
    }))
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

/// An address people open Atiende at: http(s)://host[:port][/path], nothing else.
pub fn is_public_url(u: &str) -> bool {
    (u.starts_with("https://") || u.starts_with("http://"))
        && u.split_once("://").is_some_and(|(_, rest)| {
            let host = rest.split('/').next().unwrap_or("");
            !host.is_empty()
                && !rest.contains(|c: char| c.is_whitespace() || c.is_control())
                && !rest.contains(['?', '#', '@', '"', '<', '>', '\\'])
        })
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
        check_listen("listen", &listen)?;
        let https = file.https.clone().unwrap_or_default().layered(&o.https);
        let tls = resolve_tls(&https)?;
        let trusted_proxies = https
            .trusted_proxies
            .iter()
            .flatten()
            .flat_map(|list| list.split(','))
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                IpNet::parse(p).ok_or_else(|| {
                    AppError::internal(format!(
                        "trusted_proxies: `{p}` is not an address or network like 127.0.0.1 or 10.0.0.0/8"
                    ))
                })
            })
            .collect::<AppResult<Vec<_>>>()?;
        // With HTTPS on, links in mail point at it unless told otherwise.
        let https_url = tls.as_ref().and_then(|t| match &t.source {
            TlsSource::Acme(a) => {
                let port = t.https_listen.rsplit(':').next().unwrap_or("443");
                Some(if port == "443" {
                    format!("https://{}", a.domain)
                } else {
                    format!("https://{}:{port}", a.domain)
                })
            }
            TlsSource::Files { .. } => None,
        });
        let public_url = o
            .public_url
            .clone()
            .or(file.public_url.clone())
            .or(https_url)
            .map(|u| u.trim_end_matches('/').to_string());
        if let Some(u) = &public_url {
            if !is_public_url(u) {
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
        if backup.every_hours > 24 * 366 {
            return Err(AppError::internal(format!(
                "[backup] every_hours = {} is more than a year; use 0 to turn scheduled backups off",
                backup.every_hours
            )));
        }
        if backup.keep == 0 {
            return Err(AppError::internal(
                "[backup] keep = 0 would delete every backup it makes; keep at least 1",
            ));
        }
        let c = file.connections.clone().unwrap_or_default();
        let limits = ConnectionLimits::default();
        let connections = ConnectionLimits {
            header_timeout: c
                .header_timeout_seconds
                .map_or(limits.header_timeout, std::time::Duration::from_secs),
            max: c.max.unwrap_or(limits.max),
            per_address: c.max_per_address.unwrap_or(limits.per_address),
        };
        if connections.header_timeout.is_zero()
            || connections.max == 0
            || connections.per_address == 0
            || connections.per_address > connections.max
        {
            return Err(AppError::internal(
                "[connections]: header_timeout_seconds, max and max_per_address must be above 0, and max_per_address at most max",
            ));
        }
        let low_space_bytes = file
            .storage
            .as_ref()
            .and_then(|s| s.low_space_mb)
            .map(|mb| mb * 1024 * 1024);
        let audit_retention_months = file
            .audit
            .as_ref()
            .and_then(|a| a.retention_months)
            .unwrap_or(d.audit_retention_months);
        if audit_retention_months == 0 {
            return Err(AppError::internal(
                "[audit] retention_months = 0 would delete the audit log as it is written; keep at least 1",
            ));
        }
        let s = file.sessions.clone().unwrap_or_default();
        let sessions = SessionPolicy {
            idle_minutes: s.idle_minutes.unwrap_or(d.sessions.idle_minutes),
            absolute_days: s.absolute_days.unwrap_or(d.sessions.absolute_days),
        };
        if sessions.idle_minutes == 0 || sessions.absolute_days == 0 || sessions.absolute_days > 366
        {
            return Err(AppError::internal(
                "[sessions]: idle_minutes must be above 0, and absolute_days between 1 and 366",
            ));
        }
        Ok(Config {
            listen,
            data_dir,
            backup,
            connections,
            low_space_bytes,
            audit_retention_months,
            sessions,
            secure_cookies: o
                .secure_cookies
                .or(file.secure_cookies)
                .unwrap_or(tls.is_some()),
            tls,
            trusted_proxies,
            max_upload_bytes: max_upload_mb as usize * 1024 * 1024,
            public_url,
            ..d
        })
    }

    /// The HTTPS and proxy settings in force (file, variables and flags together, defaults
    /// filled in), or None when Atiende serves plain HTTP without trusted proxies.
    fn effective_https(&self) -> Option<Https> {
        let proxies = (!self.trusted_proxies.is_empty()).then(|| {
            self.trusted_proxies
                .iter()
                .map(|n| format!("{}/{}", n.addr, n.prefix))
                .collect()
        });
        let mut h = Https {
            trusted_proxies: proxies,
            ..Https::default()
        };
        if let Some(t) = &self.tls {
            h.https_listen = Some(t.https_listen.clone());
            h.http_listen = Some(t.http_listen.clone().unwrap_or_else(|| "off".into()));
            match &t.source {
                TlsSource::Acme(a) => {
                    h.domain = Some(a.domain.clone());
                    h.acme_directory = Some(a.directory.clone());
                    h.acme_root = a.root.clone();
                    h.acme_email = a.email.clone();
                    h.acme_challenge = Some(a.challenge.clone());
                }
                TlsSource::Files { cert, key } => {
                    h.tls_cert = Some(cert.clone());
                    h.tls_key = Some(key.clone());
                }
            }
        }
        (self.tls.is_some() || h.trusted_proxies.is_some()).then_some(h)
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
            https: self.effective_https(),
            connections: Some(ConnectionsFile {
                header_timeout_seconds: Some(self.connections.header_timeout.as_secs()),
                max: Some(self.connections.max),
                max_per_address: Some(self.connections.per_address),
            }),
            storage: self.low_space_bytes.map(|b| StorageFile {
                low_space_mb: Some(b / (1024 * 1024)),
            }),
            audit: Some(AuditFile {
                retention_months: Some(self.audit_retention_months),
            }),
            sessions: Some(SessionsFile {
                idle_minutes: Some(self.sessions.idle_minutes),
                absolute_days: Some(self.sessions.absolute_days),
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
