//! System mail templates (assets/mail/{es,en}/NAME.txt): a `Subject:` line, a blank line, the
//! body; `{{key}}` placeholders are filled from the given values.

use crate::domain::SystemMail;
use crate::error::{AppError, AppResult};
use crate::locale::Assets;

#[cfg(test)]
pub const NAMES: [&str; 13] = [
    "form_received",
    "form_reply",
    "chat_reply",
    "password_reset",
    "invitation",
    "escalation",
    "assigned",
    "mention",
    "channel_alert",
    "disk_low",
    "disk_full",
    "sla_warning",
    "sla_breached",
];

/// Renders template `name` in `language` (Spanish when the language has no template).
pub fn render(
    name: &str,
    language: &str,
    to: &str,
    values: &[(&str, &str)],
) -> AppResult<SystemMail> {
    let lang = if language == "en" { "en" } else { "es" };
    let file = Assets::get(&format!("mail/{lang}/{name}.txt"))
        .ok_or_else(|| AppError::internal(format!("mail template {lang}/{name} missing")))?;
    let source = String::from_utf8_lossy(&file.data).replace("\r\n", "\n");
    let (head, body) = source
        .split_once("\n\n")
        .ok_or_else(|| AppError::internal(format!("mail template {lang}/{name} has no body")))?;
    let subject = head
        .strip_prefix("Subject:")
        .ok_or_else(|| AppError::internal(format!("mail template {lang}/{name} has no Subject")))?
        .trim();
    let fill = |s: &str| {
        let mut out = s.to_string();
        for (k, v) in values {
            out = out.replace(&format!("{{{{{k}}}}}"), v);
        }
        out
    };
    Ok(SystemMail {
        to: to.to_string(),
        // A value never breaks the header onto a new line.
        subject: fill(subject).replace(['\r', '\n'], " "),
        text: fill(body).trim_end().to_string() + "\n",
        attachments: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_in_both_languages() {
        for name in NAMES {
            for lang in ["es", "en"] {
                let m = render(
                    name,
                    lang,
                    "a@b.cl",
                    &[("number", "7"), ("link", "http://x/r")],
                )
                .unwrap();
                assert!(!m.subject.is_empty(), "{lang}/{name}");
                assert!(!m.text.is_empty());
            }
        }
        let m = render(
            "password_reset",
            "en",
            "a@b.cl",
            &[("name", "Ana"), ("link", "http://x/r")],
        )
        .unwrap();
        assert_eq!(m.subject, "Reset your Atiende password");
        assert!(m.text.starts_with("Hi Ana,"));
        assert!(m.text.contains("http://x/r"));
    }
}
