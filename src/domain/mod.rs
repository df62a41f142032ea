//! Pure domain types and rules: no IO, no clock reads (time comes in as a parameter).

pub mod assign;
pub mod audit;
pub mod auto_message;
pub mod calendar;
pub mod clock;
pub mod events;
pub mod fields;
pub mod inbound;
pub mod mail;
pub mod model;
pub mod note;
pub mod report;
pub mod rut;
pub mod secret;
pub mod sla;
pub mod template;
pub mod ticket;
pub mod two_factor;

use crate::error::{AppError, AppResult};

pub use clock::{Clock, Millis, OffsetClock, SystemClock, DAY_MS};
pub use events::EventKind;
pub use model::*;
pub use note::Note;
pub use secret::Secret;

/// One character lower-cased and without its accent (so offsets in a folded text are the
/// original's): search marks and name order compare this way.
pub fn fold_char(c: char) -> char {
    let lower = c.to_lowercase().next().unwrap_or(c);
    match lower {
        'á' | 'à' | 'ä' | 'â' | 'ã' => 'a',
        'é' | 'è' | 'ë' | 'ê' => 'e',
        'í' | 'ì' | 'ï' | 'î' => 'i',
        'ó' | 'ò' | 'ö' | 'ô' | 'õ' => 'o',
        'ú' | 'ù' | 'ü' | 'û' => 'u',
        'ñ' => 'n',
        'ç' => 'c',
        other => other,
    }
}

/// `s` lower-cased and without accents ("Álvaro" → "alvaro").
pub fn fold(s: &str) -> String {
    s.chars().map(fold_char).collect()
}

/// A name or a header value on one line: every run of control characters (CR, LF, tab …)
/// and spaces becomes one space. A name reaches mail headers, where a line break would end the header.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut gap = false;
    for c in s.chars() {
        if c.is_control() || c.is_whitespace() {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push(' ');
        }
        gap = false;
        out.push(c);
    }
    out.trim().to_string()
}

pub fn validate_email(email: &str) -> AppResult<String> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !e.chars().any(char::is_whitespace);
    if valid {
        Ok(e)
    } else {
        Err(AppError::invalid(
            "email",
            "invalid_email",
            format!("`{email}` is not an email address"),
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_line_joins_broken_lines() {
        assert_eq!(super::one_line("Juan\r\nBcc: x@y.cl"), "Juan Bcc: x@y.cl");
        assert_eq!(super::one_line("\tAna\u{0}\u{7f} María\n"), "Ana María");
        assert_eq!(super::one_line("Pérez"), "Pérez");
    }
}
