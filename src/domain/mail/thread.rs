//! The pure parts of email threading (BEYOND-2): reply tokens in plus-addresses, subject
//! tokens, and the Message-IDs and subjects Atiende puts on what it sends.

use sha2::{Digest, Sha256};

/// A keyed tag of `value` for one `purpose`: each use has its own, so a value signed for one
/// thing (a system mail's Message-ID, a form's start time) never works as another (a reply
/// token).
pub fn tag(secret: &[u8], purpose: &str, value: u64, bytes: usize) -> String {
    let mut h = Sha256::new();
    h.update(secret);
    h.update(purpose.as_bytes());
    h.update(b":");
    h.update(value.to_string().as_bytes());
    hex::encode(&h.finalize()[..bytes])
}

/// The short signature that makes a reply token unguessable: a stranger cannot attach mail to
/// someone else's ticket by writing to `soporte+t1234@…`.
pub fn signature(secret: &[u8], number: u64) -> String {
    tag(secret, "ticket", number, 5)
}

/// `soporte@x.cl` → `soporte+t1234-<signature>@x.cl`.
pub fn reply_address(address: &str, number: u64, secret: &[u8]) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            format!("{local}+t{number}-{}@{domain}", signature(secret, number))
        }
        None => address.to_string(),
    }
}

/// The ticket named by a valid reply token among the recipients of a mail.
pub fn token_ticket(recipients: &[String], address: &str, secret: &[u8]) -> Option<u64> {
    let (local, domain) = address.split_once('@')?;
    let prefix = format!("{}+t", local.to_lowercase());
    let domain = domain.to_lowercase();
    recipients.iter().find_map(|r| {
        let (r_local, r_domain) = r.split_once('@')?;
        if r_domain.to_lowercase() != domain {
            return None;
        }
        let rest = r_local.to_lowercase();
        let rest = rest.strip_prefix(&prefix)?;
        let (number, sig) = rest.split_once('-')?;
        let number: u64 = number.parse().ok()?;
        (sig == signature(secret, number)).then_some(number)
    })
}

/// `[#1234]` anywhere in a subject.
pub fn subject_ticket(subject: &str) -> Option<u64> {
    let mut rest = subject;
    while let Some(start) = rest.find("[#") {
        let after = &rest[start + 2..];
        if let Some(end) = after.find(']') {
            if let Ok(n) = after[..end].trim().parse::<u64>() {
                return Some(n);
            }
        }
        rest = after;
    }
    None
}

/// The subject of an answer: `Re: <subject> [#N]`, without piling up prefixes or tokens.
pub fn reply_subject(subject: &str, number: u64, fallback: &str) -> String {
    let token = format!("[#{number}]");
    let mut base = subject.trim().to_string();
    if base.is_empty() {
        base = fallback.to_string();
    }
    let lower = base.to_lowercase();
    if !(lower.starts_with("re:") || lower.starts_with("rv:") || lower.starts_with("aw:")) {
        base = format!("Re: {base}");
    }
    if base.contains(&token) {
        base
    } else {
        format!("{base} {token}")
    }
}

/// The Message-ID Atiende gives an outgoing message: derived from its id, so a retry after a
/// crash sends the same id (receivers drop duplicates by it).
pub fn message_id(message_id: u64, address: &str, secret: &[u8]) -> String {
    mail_id("message", message_id, address, secret)
}

/// The Message-ID of a system mail (outbox item `item_id`).
pub fn system_message_id(item_id: u64, address: &str, secret: &[u8]) -> String {
    mail_id("system", item_id, address, secret)
}

fn mail_id(purpose: &str, id: u64, address: &str, secret: &[u8]) -> String {
    let domain = address
        .split_once('@')
        .map(|(_, d)| d)
        .unwrap_or("atiende.local");
    format!(
        "atiende.{purpose}.{id}.{}@{domain}",
        tag(secret, purpose, id, 6)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_tokens_round_trip_and_resist_guessing() {
        let secret = b"s3cret";
        let addr = reply_address("Soporte@Tienda.cl", 1234, secret);
        assert!(addr.starts_with("Soporte+t1234-"));
        let recipients = vec!["otro@x.cl".to_string(), addr.to_lowercase()];
        assert_eq!(
            token_ticket(&recipients, "soporte@tienda.cl", secret),
            Some(1234)
        );
        let forged = vec!["soporte+t1234-0000000000@tienda.cl".to_string()];
        assert_eq!(token_ticket(&forged, "soporte@tienda.cl", secret), None);
        let other_domain = vec![addr.to_lowercase().replace("tienda.cl", "evil.cl")];
        assert_eq!(
            token_ticket(&other_domain, "soporte@tienda.cl", secret),
            None
        );
    }

    #[test]
    fn subject_tokens() {
        assert_eq!(subject_ticket("Re: Pedido [#42] atrasado"), Some(42));
        assert_eq!(subject_ticket("[#x] no [#7]"), Some(7));
        assert_eq!(subject_ticket("Pedido #42"), None);
        assert_eq!(reply_subject("Pedido", 42, "-"), "Re: Pedido [#42]");
        assert_eq!(
            reply_subject("RE: Pedido [#42]", 42, "-"),
            "RE: Pedido [#42]"
        );
        assert_eq!(reply_subject("", 42, "Ticket"), "Re: Ticket [#42]");
    }

    #[test]
    fn no_signed_value_opens_a_ticket() {
        let secret = b"k";
        let system = system_message_id(7, "s@t.cl", secret);
        let sig = system.split('.').nth(3).unwrap();
        let forged = vec![format!("s+t7-{}@t.cl", &sig[..10])];
        assert_eq!(token_ticket(&forged, "s@t.cl", secret), None);
        assert_ne!(message_id(7, "s@t.cl", secret), system);
    }

    #[test]
    fn message_ids_are_stable() {
        let a = message_id(9, "soporte@tienda.cl", b"k");
        assert_eq!(a, message_id(9, "soporte@tienda.cl", b"k"));
        assert!(a.ends_with("@tienda.cl"));
        assert_ne!(a, message_id(10, "soporte@tienda.cl", b"k"));
    }
}
