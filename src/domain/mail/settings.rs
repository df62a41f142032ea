//! An email account's settings (stored in `Account.settings`, validated on every write).

use serde::{Deserialize, Serialize};

use crate::domain::{Account, Secret};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    #[default]
    Tls,
    /// Plain connection upgraded with STARTTLS (IMAP 143, submission 587).
    Starttls,
    /// No encryption: only to a server on this machine (loopback).
    Plain,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Server {
    pub host: String,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// IMAP only: the folder to read (default INBOX).
    #[serde(default)]
    pub mailbox: Option<String>,
}

impl Server {
    pub fn port_or(&self, tls: u16, starttls: u16) -> u16 {
        self.port.unwrap_or(match self.security {
            Security::Tls => tls,
            Security::Starttls | Security::Plain => starttls,
        })
    }
}

/// The keys of `Account.settings` an email account reads; others (SLA, assignment) are shared
/// by every channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EmailSettings {
    /// The support address customers write to; replies go out from it, and reply tokens are
    /// plus-addresses of it.
    pub address: String,
    #[serde(default)]
    pub from_name: Option<String>,
    /// Appended to every reply after "-- ".
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub imap: Option<Server>,
    #[serde(default)]
    pub smtp: Option<Server>,
    /// Mails larger than this keep only their headers (default 25 MB).
    #[serde(default)]
    pub max_message_kb: Option<u32>,
    /// Poll interval when the server has no IDLE, or IDLE is off (default 60 s).
    #[serde(default)]
    pub poll_seconds: Option<u32>,
    /// Wait with IMAP IDLE when the server offers it (default); off polls instead, for servers
    /// whose IDLE misbehaves.
    #[serde(default)]
    pub use_idle: Option<bool>,
    /// On the first connection, how many of the mailbox's latest mails become tickets
    /// (default 100; the rest stays in the mailbox untouched).
    #[serde(default)]
    pub initial_import: Option<u32>,
    /// This account's SMTP server also sends the system's mail (resets, notifications).
    #[serde(default)]
    pub system_mail: bool,
}

pub const DEFAULT_MAX_MESSAGE_KB: u32 = 25 * 1024;

fn is_loopback(host: &str) -> bool {
    let h = host.trim_matches(['[', ']']);
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn invalid(field: &str, message: String) -> AppError {
    AppError::invalid(&format!("settings.{field}"), "invalid_setting", message)
}

impl EmailSettings {
    pub fn of(account: &Account) -> AppResult<EmailSettings> {
        let s: EmailSettings =
            crate::domain::settings_as(&account.settings).map_err(
                |e| {
                    invalid(
                        "address",
                        format!(
                            "an email account needs {{address, from_name?, signature?, imap?: {{host, port?, security?: tls|starttls|plain, username, password, mailbox?}}, smtp?: {{…}}}}: {e}"
                        ),
                    )
                },
            )?;
        s.validate()?;
        Ok(s)
    }

    pub fn max_message_bytes(&self) -> usize {
        self.max_message_kb.unwrap_or(DEFAULT_MAX_MESSAGE_KB) as usize * 1024
    }

    fn validate(&self) -> AppResult<()> {
        let addr = self.address.trim();
        let valid = addr
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && (d.contains('.') || d == "localhost"))
            && !addr.contains(char::is_whitespace)
            && !addr.contains('+');
        if !valid {
            return Err(invalid(
                "address",
                format!(
                    "`{addr}` is not a mailbox address like soporte@tienda.cl (without a +tag)"
                ),
            ));
        }
        for (name, server) in [("imap", &self.imap), ("smtp", &self.smtp)] {
            let Some(server) = server else { continue };
            if server.host.trim().is_empty() {
                return Err(invalid(
                    &format!("{name}.host"),
                    "the server's host name is required".into(),
                ));
            }
            if server.security == Security::Plain && !is_loopback(&server.host) {
                return Err(invalid(
                    &format!("{name}.security"),
                    format!(
                        "plain (unencrypted) connections are allowed only to this machine; use tls or starttls for {}",
                        server.host
                    ),
                ));
            }
            if name == "imap" && server.username.as_deref().unwrap_or("").is_empty() {
                return Err(invalid(
                    "imap.username",
                    "the IMAP user name is required".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Checks an email account's settings before they are stored.
pub fn validate(settings: &serde_json::Map<String, serde_json::Value>) -> AppResult<()> {
    if !settings.contains_key("address") {
        // An email account may be created first and connected later.
        return Ok(());
    }
    let probe = Account {
        id: 0,
        kind: crate::domain::Channel::Email,
        name: String::new(),
        settings: settings.clone(),
        created_at: 0,
        deleted_at: None,
    };
    EmailSettings::of(&probe).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: serde_json::Value) -> AppResult<()> {
        validate(v.as_object().unwrap())
    }

    #[test]
    fn validation() {
        assert!(check(json!({"address": "soporte@tienda.cl"})).is_ok());
        assert!(check(json!({"address": "soporte"})).is_err());
        assert!(check(json!({"address": "soporte+x@tienda.cl"})).is_err());
        assert!(check(json!({"address": "s@t.cl", "imap": {"host": "mail.t.cl", "security": "plain", "username": "u"}})).is_err());
        assert!(check(json!({"address": "s@t.cl", "imap": {"host": "127.0.0.1", "security": "plain", "username": "u"}})).is_ok());
        assert!(check(json!({"address": "s@t.cl", "imap": {"host": "mail.t.cl"}})).is_err());
        assert!(check(
            json!({"address": "s@t.cl", "smtp": {"host": "mail.t.cl", "security": "ssl"}})
        )
        .is_err());
        assert!(check(json!({"sla_minutes": 5})).is_ok());
    }
}
