//! Channel health (CHAN-12): what each account's poller last saw. Kept in memory: after a
//! restart every poller reports again within seconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Clock, Millis, Note};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// No server settings yet (nothing to poll).
    NotConfigured,
    Connecting,
    Connected,
    /// The last attempt failed; the poller retries with backoff.
    Failing,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    pub status: HealthStatus,
    /// The last error, kept after recovery until the next failure replaces it.
    pub last_error: Option<String>,
    /// Its technical words (the network's or the server's), behind «Detalles» in the app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_detail: Option<String>,
    /// The same as a note (what happened and what to do), when the channel said it as one:
    /// `last_error` is then its rendering in the reader's language.
    pub last_error_note: Option<Note>,
    /// What the vendor said about the account lately (WhatsApp: the number's quality was
    /// flagged, its messaging limit changed), in the reader's language, and as a note.
    pub notice: Option<String>,
    pub notice_note: Option<Note>,
    #[schema(value_type = Option<String>)]
    #[serde(serialize_with = "ts_opt")]
    pub notice_at: Option<Millis>,
    /// Failed attempts in a row.
    pub failures: u32,
    #[schema(value_type = Option<String>)]
    #[serde(serialize_with = "ts_opt")]
    pub last_error_at: Option<Millis>,
    #[schema(value_type = Option<String>)]
    #[serde(serialize_with = "ts_opt")]
    pub connected_at: Option<Millis>,
    /// Items read from the channel since the server started (mails fetched)…
    pub fetched: u64,
    /// …of which not stored as messages (automatic mail, reports about unknown mail; logged).
    pub skipped: u64,
}

fn ts_opt<S: serde::Serializer>(v: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(ms) => s.serialize_some(&crate::domain::clock::to_rfc3339(*ms)),
        None => s.serialize_none(),
    }
}

impl Health {
    /// The notes said in `lang`.
    pub fn in_lang(mut self, lang: &str) -> Health {
        if let Some(note) = &self.last_error_note {
            self.last_error = Some(crate::locale::render(lang, note));
        }
        if let Some(note) = &self.notice_note {
            self.notice = Some(crate::locale::render(lang, note));
        }
        self
    }
}

/// The kind of a connection failure, from the words of the OS, the TLS library or the server.
fn kind_of(error: &str) -> Note {
    let e = error.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| e.contains(w));
    // TLS first: a certificate's words ("DnsName", "authority") would read as other kinds.
    if has(&["certificate", "tls", "ssl", "handshake"]) {
        Note::ServerTlsFailed
    } else if has(&[
        "authenticationfailed",
        "authentication failed",
        "login as",
        "invalid credentials",
        "535 ",
    ]) {
        Note::ServerLoginRefused
    } else if has(&["connection refused", "os error 111"]) {
        Note::ServerRefused
    } else if has(&["timed out", "timeout", "os error 110"]) {
        Note::ServerTimeout
    } else if has(&[
        "failed to lookup",
        "name or service not known",
        "no address associated",
        "nodename nor servname",
    ]) {
        Note::ServerNotFound
    } else {
        Note::ServerFailed
    }
}

pub struct HealthBoard {
    clock: Arc<dyn Clock>,
    accounts: Mutex<HashMap<u64, Health>>,
}

impl HealthBoard {
    pub fn new(clock: Arc<dyn Clock>) -> HealthBoard {
        HealthBoard {
            clock,
            accounts: Mutex::new(HashMap::new()),
        }
    }

    fn update(&self, account_id: u64, f: impl FnOnce(&mut Health)) -> Option<Health> {
        let mut map = self.accounts.lock().ok()?;
        let h = map.entry(account_id).or_insert(Health {
            status: HealthStatus::NotConfigured,
            last_error: None,
            last_error_detail: None,
            last_error_note: None,
            notice: None,
            notice_note: None,
            notice_at: None,
            failures: 0,
            last_error_at: None,
            connected_at: None,
            fetched: 0,
            skipped: 0,
        });
        f(h);
        Some(h.clone())
    }

    pub fn get(&self, account_id: u64) -> Option<Health> {
        self.accounts.lock().ok()?.get(&account_id).cloned()
    }

    pub fn all(&self) -> Vec<(u64, Health)> {
        let Ok(map) = self.accounts.lock() else {
            return Vec::new();
        };
        let mut v: Vec<(u64, Health)> = map.iter().map(|(k, h)| (*k, h.clone())).collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    pub fn not_configured(&self, account_id: u64) {
        self.update(account_id, |h| h.status = HealthStatus::NotConfigured);
    }

    pub fn connecting(&self, account_id: u64) {
        self.update(account_id, |h| {
            if h.status != HealthStatus::Failing {
                h.status = HealthStatus::Connecting;
            }
        });
    }

    pub fn connected(&self, account_id: u64) {
        let now = self.clock.now_ms();
        self.update(account_id, |h| {
            h.status = HealthStatus::Connected;
            h.failures = 0;
            h.connected_at = Some(now);
        });
    }

    /// Records a failure in the server's or the network's words: said to people as the
    /// sentence of its kind, the words kept as details. Answers how many in a row.
    pub fn failing(&self, account_id: u64, error: &str) -> u32 {
        self.failing_with(account_id, kind_of(error), error)
    }

    /// Records a failure said as `note`, with the technical words `detail` behind it.
    pub fn failing_with(&self, account_id: u64, note: Note, detail: &str) -> u32 {
        let now = self.clock.now_ms();
        self.update(account_id, |h| {
            h.status = HealthStatus::Failing;
            h.failures += 1;
            h.last_error = Some(detail.to_string());
            h.last_error_detail = Some(detail.to_string());
            h.last_error_note = Some(note.clone());
            h.last_error_at = Some(now);
        })
        .map(|h| h.failures)
        .unwrap_or(1)
    }

    /// Records a failure the channel can say as a note (rendered for each reader); answers
    /// how many in a row.
    pub fn failing_note(&self, account_id: u64, note: Note) -> u32 {
        self.failed(account_id, note.to_string(), Some(note))
    }

    fn failed(&self, account_id: u64, error: String, note: Option<Note>) -> u32 {
        let now = self.clock.now_ms();
        self.update(account_id, |h| {
            h.status = HealthStatus::Failing;
            h.failures += 1;
            h.last_error = Some(error);
            h.last_error_detail = None;
            h.last_error_note = note;
            h.last_error_at = Some(now);
        })
        .map(|h| h.failures)
        .unwrap_or(1)
    }

    /// What the vendor said about the account (not a failure: the account still works).
    pub fn notice(&self, account_id: u64, note: Note) {
        let now = self.clock.now_ms();
        self.update(account_id, |h| {
            h.notice = Some(note.to_string());
            h.notice_note = Some(note);
            h.notice_at = Some(now);
        });
    }

    /// One item read; `stored` false when it did not become a message.
    pub fn fetched(&self, account_id: u64, stored: bool) {
        self.update(account_id, |h| {
            h.fetched += 1;
            if !stored {
                h.skipped += 1;
            }
        });
    }

    pub fn retain(&self, keep: impl Fn(u64) -> bool) {
        if let Ok(mut map) = self.accounts.lock() {
            map.retain(|id, _| keep(*id));
        }
    }
}

#[cfg(test)]
mod kind_tests {
    use super::*;

    #[test]
    fn failures_read_as_their_kind() {
        let cases = [
            ("connect to 127.0.0.1:993: Connection refused (os error 111)", Note::ServerRefused),
            ("TLS handshake (certificate expired or not trusted?): certificate is only valid for DnsName(\"localhost\")", Note::ServerTlsFailed),
            ("invalid peer certificate: UnknownIssuer (unknown certificate authority)", Note::ServerTlsFailed),
            ("login as tardio refused (wrong user or password?): [AUTHENTICATIONFAILED]", Note::ServerLoginRefused),
            ("connect to mail.tienda.cl:993: failed to lookup address information: Name or service not known", Note::ServerNotFound),
            ("IMAP greeting timed out after 30 s", Note::ServerTimeout),
            ("unexpected answer: * BYE", Note::ServerFailed),
        ];
        for (words, kind) in cases {
            assert_eq!(kind_of(words), kind, "{words}");
        }
    }

    #[test]
    fn a_failure_reads_as_a_sentence_with_its_words_as_details() {
        let board = HealthBoard::new(std::sync::Arc::new(crate::domain::SystemClock));
        board.failing_with(7, Note::SettingsInvalid, "settings: missing field `host`");
        let (_, h) = board.all().into_iter().find(|(id, _)| *id == 7).unwrap();
        let h = h.in_lang("es");
        assert!(h.last_error.unwrap().starts_with("Los datos de la cuenta"));
        assert_eq!(
            h.last_error_detail.as_deref(),
            Some("settings: missing field `host`")
        );
        board.failing(8, "connect to x:993: Connection refused (os error 111)");
        let (_, h) = board.all().into_iter().find(|(id, _)| *id == 8).unwrap();
        assert!(h
            .in_lang("en")
            .last_error
            .unwrap()
            .starts_with("The server refused"));
    }
}
