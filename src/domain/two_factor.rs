//! The second factor (AUTH-3; security issue, finding 17): TOTP codes (RFC 6238: SHA-1, six
//! digits, 30-second steps, one step of drift either way) from an authenticator app, and
//! one-time recovery codes kept only as hashes.

use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::error::{AppError, AppResult};

const STEP_SECONDS: u64 = 30;
pub const RECOVERY_CODES: usize = 10;

/// A fresh shared secret (160 bits), base32 as authenticator apps take it.
pub fn new_secret() -> String {
    Secret::generate_secret().to_encoded().to_string()
}

fn totp(secret: &str, account: &str) -> AppResult<TOTP> {
    let bytes = Secret::Encoded(secret.to_string())
        .to_bytes()
        .map_err(|_| AppError::internal("stored TOTP secret is not base32"))?;
    // A label must not hold ':' (the otpauth URL's separator).
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECONDS,
        bytes,
        Some("Atiende".into()),
        account.replace(':', " "),
    )
    .map_err(|e| AppError::internal(format!("totp: {e}")))
}

/// The otpauth:// URL an app reads from the QR code.
pub fn otpauth_url(secret: &str, account: &str) -> AppResult<String> {
    Ok(totp(secret, account)?.get_url())
}

/// The QR code of `text`, as an SVG image.
pub fn qr_svg(text: &str) -> AppResult<String> {
    let code =
        qrcode::QrCode::new(text.as_bytes()).map_err(|e| AppError::internal(format!("qr: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// The time step `code` belongs to, when it is right for `now_ms` (±1 step) and later than the
/// last step accepted (a code is good once).
pub fn accepted_step(secret: &str, code: &str, now_ms: i64, last_step: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret, "").ok()?;
    let now = u64::try_from(now_ms / 1000).ok()?;
    let step = now / STEP_SECONDS;
    [step.saturating_sub(1), step, step + 1]
        .into_iter()
        .filter(|s| *s > last_step)
        .find(|s| {
            let expected = totp.generate(s * STEP_SECONDS);
            // Both are six ASCII digits: compare without an early exit.
            expected
                .bytes()
                .zip(code.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        })
}

/// Ten new recovery codes (100 bits each, "abcde-fghij-klmno-pqrst"), and the hashes to keep.
pub fn new_recovery_codes(user_id: u64) -> (Vec<String>, Vec<String>) {
    let alphabet = b"abcdefghijkmnpqrstuvwxyz23456789";
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..20)
                .map(|_| alphabet[rand::random::<usize>() % alphabet.len()] as char)
                .collect();
            format!(
                "{}-{}-{}-{}",
                &chars[..5],
                &chars[5..10],
                &chars[10..15],
                &chars[15..]
            )
        })
        .collect();
    let hashes = codes.iter().map(|c| recovery_hash(user_id, c)).collect();
    (codes, hashes)
}

/// A recovery code's hash, salted with its user (the same code of two users differs).
pub fn recovery_hash(user_id: u64, code: &str) -> String {
    let clean: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(
        format!("atiende-recovery:{user_id}:{clean}").as_bytes(),
    ))
}

/// Whether `code` looks like a recovery code rather than a six-digit TOTP code.
pub fn is_recovery_code(code: &str) -> bool {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).count() == 20
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_accepted_once_within_a_step_of_drift() {
        let secret = new_secret();
        let totp = totp(&secret, "ana@example.cl").unwrap();
        let now_ms: i64 = 1_764_000_000_000;
        let step = (now_ms / 1000) as u64 / STEP_SECONDS;
        let code = totp.generate(step * STEP_SECONDS);
        assert_eq!(accepted_step(&secret, &code, now_ms, 0), Some(step));
        assert_eq!(
            accepted_step(&secret, &code, now_ms, step),
            None,
            "used once"
        );
        // The previous step's code still works (a slow typist), two steps back does not.
        let previous = totp.generate((step - 1) * STEP_SECONDS);
        assert_eq!(accepted_step(&secret, &previous, now_ms, 0), Some(step - 1));
        let old = totp.generate((step - 2) * STEP_SECONDS);
        assert_eq!(accepted_step(&secret, &old, now_ms, 0), None);
        assert_eq!(accepted_step(&secret, "12345", now_ms, 0), None);
        assert_eq!(accepted_step(&secret, "abcdef", now_ms, 0), None);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(accepted_step(&secret, &spaced, now_ms, 0), Some(step));
    }

    #[test]
    fn recovery_codes_hash_per_user_and_read_loosely() {
        let (codes, hashes) = new_recovery_codes(7);
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert!(is_recovery_code(&codes[0]));
        assert!(!is_recovery_code("123456"));
        assert_eq!(recovery_hash(7, &codes[0]), hashes[0]);
        assert_eq!(
            recovery_hash(7, &codes[0].to_uppercase().replace('-', " ")),
            hashes[0]
        );
        assert_ne!(recovery_hash(8, &codes[0]), hashes[0]);
        let url = otpauth_url(&new_secret(), "ana@example.cl").unwrap();
        assert!(
            url.starts_with("otpauth://totp/Atiende:ana%40example.cl?"),
            "{url}"
        );
        assert!(qr_svg(&url).unwrap().starts_with("<?xml"));
    }
}
