//! Turns raw RFC 5322 bytes into what a ticket needs: decoded text (every charset the fixtures
//! carry), sanitised HTML, attachments and inline images, threading keys, and whether the
//! mail is automatic (RFC 3834), bulk, or a delivery report. Never panics on bad input: a mail
//! that cannot be parsed still becomes a message whose text says so.

use std::borrow::Cow;

use mail_parser::{HeaderValue, MessageParser, MimeHeaders, PartType};

use crate::domain::Note;
use crate::store::blobs::clean_name;

pub use crate::domain::mail::{Bounce, MailPart, Noise, ParsedMail};

/// Sanitised HTML kept for display (larger mail shows its text).
const MAX_HTML_BYTES: usize = 2 * 1024 * 1024;

fn strip_id(raw: &str) -> Option<String> {
    let id = raw
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty() && id.len() <= 500).then(|| id.to_string())
}

fn text_list(v: &HeaderValue) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => t.split_whitespace().filter_map(strip_id).collect(),
        HeaderValue::TextList(list) => list
            .iter()
            .flat_map(|t| t.split_whitespace())
            .filter_map(strip_id)
            .collect(),
        _ => Vec::new(),
    }
}

fn addresses(v: Option<&mail_parser::Address>) -> Vec<String> {
    v.map(|a| {
        a.iter()
            .filter_map(|addr| addr.address())
            .map(|s| s.trim().to_lowercase())
            .filter(|s| s.contains('@'))
            .collect()
    })
    .unwrap_or_default()
}

fn header_text<'a>(m: &'a mail_parser::Message, name: &'static str) -> Option<&'a str> {
    m.header_raw(name).map(str::trim)
}

/// RFC 3834 and the de-facto headers of auto-responders and list servers.
fn classify(m: &mail_parser::Message, from: Option<&str>) -> Noise {
    // RFC 3834: `auto-replied` answers a mail (kept out: loops); `auto-generated` is a robot's
    // own notice (a monitoring alert, another help desk's ticket): it opens a ticket, and gets
    // no automatic answer.
    let auto_submitted = header_text(m, "Auto-Submitted").map(|v| v.to_ascii_lowercase());
    let auto_replied = auto_submitted
        .as_deref()
        .is_some_and(|v| v.starts_with("auto-replied"));
    let auto_generated = auto_submitted
        .as_deref()
        .is_some_and(|v| !v.is_empty() && v != "no" && !v.starts_with("auto-replied"));
    let autoreply_flag = ["X-Autoreply", "X-Autorespond", "X-Auto-Reply"]
        .iter()
        .any(|h| m.header_raw(*h).is_some());
    let empty_return_path = m
        .header_raw("Return-Path")
        .is_some_and(|v| matches!(v.trim(), "<>" | ""));
    let daemon = from.is_some_and(|f| {
        let local = f.split('@').next().unwrap_or_default();
        local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster")
    });
    if auto_replied || autoreply_flag || empty_return_path || daemon {
        return Noise::Automatic;
    }
    let precedence = header_text(m, "Precedence").is_some_and(|v| {
        let v = v.to_ascii_lowercase();
        v == "bulk" || v == "junk" || v == "list" || v == "auto_reply"
    });
    let listed = m.header_raw("List-Id").is_some() || m.header_raw("List-Unsubscribe").is_some();
    let suppress = m.header_raw("X-Auto-Response-Suppress").is_some();
    if auto_generated || precedence || listed || suppress {
        Noise::Bulk
    } else {
        Noise::None
    }
}

/// Reads a multipart/report of type delivery-status.
fn bounce_of(m: &mail_parser::Message) -> Option<Bounce> {
    let root = m.root_part();
    let is_report = root.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct
                .attribute("report-type")
                .is_some_and(|r| r.eq_ignore_ascii_case("delivery-status"))
    });
    if !is_report {
        return None;
    }
    let mut original_ids = Vec::new();
    let mut detail = Vec::new();
    let mut failed = false;
    for part in m.parts.iter() {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let sub = ct.subtype().unwrap_or_default().to_ascii_lowercase();
        match (ct.ctype().to_ascii_lowercase().as_str(), sub.as_str()) {
            ("message", "delivery-status") => {
                let body = String::from_utf8_lossy(part.contents());
                for line in body.lines() {
                    let lower = line.to_ascii_lowercase();
                    if lower.starts_with("status:") {
                        failed |= line[7..].trim().starts_with('5');
                        detail.push(line.trim().to_string());
                    } else if lower.starts_with("action:") {
                        failed |= lower.contains("failed");
                    } else if lower.starts_with("diagnostic-code:")
                        || lower.starts_with("final-recipient:")
                    {
                        detail.push(line.trim().to_string());
                    }
                }
            }
            ("message", "rfc822") | ("message", "global") => {
                if let PartType::Message(inner) = &part.body {
                    original_ids.extend(inner.message_id().and_then(strip_id));
                }
            }
            ("text", "rfc822-headers") | ("message", "rfc822-headers") => {
                let headers = String::from_utf8_lossy(part.contents());
                for line in headers.lines() {
                    if line.to_ascii_lowercase().starts_with("message-id:") {
                        original_ids.extend(strip_id(&line[11..]));
                    }
                }
            }
            _ => {}
        }
    }
    original_ids.extend(text_list(m.in_reply_to()));
    original_ids.extend(text_list(m.references()));
    original_ids.dedup();
    detail.dedup();
    Some(Bounce {
        original_ids,
        failed,
        detail: detail.join("\n"),
    })
}

/// Splits a plain-text reply from the history it quotes: everything from the first
/// "On … wrote:" / "El … escribió:" line or the first run of `>` lines that reaches the end,
/// or an Outlook "-----Original Message-----" separator.
pub fn split_quoted(text: &str) -> (String, Option<String>) {
    let lines: Vec<&str> = text.lines().collect();
    // quoted_from[i]: every line from i on is blank or quoted (one backward pass, so a long
    // quote costs linear time).
    let mut quoted_from = vec![true; lines.len() + 1];
    for i in (0..lines.len()).rev() {
        let l = lines[i].trim_start();
        quoted_from[i] = quoted_from[i + 1] && (l.is_empty() || l.starts_with('>'));
    }
    let mut cut = None;
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        let lower = t.to_lowercase();
        let attribution = (lower.starts_with("on ") && lower.ends_with("wrote:"))
            || (lower.starts_with("el ") && lower.ends_with("escribió:")) // i18n-ok: mail clients' words
            || (lower.starts_with("le ") && lower.ends_with("a écrit :")); // i18n-ok: as above
        let separator = lower.starts_with("-----original message-----")
            || lower.starts_with("-----mensaje original-----")
            || lower.starts_with("________________________________");
        let quote_to_end = t.starts_with('>') && quoted_from[i];
        if attribution || separator || quote_to_end {
            cut = Some(i);
            break;
        }
    }
    match cut {
        Some(i) if i > 0 => {
            let head = lines[..i].join("\n").trim_end().to_string();
            let tail = lines[i..].join("\n").trim().to_string();
            if head.trim().is_empty() {
                (text.trim().to_string(), None)
            } else {
                (head, (!tail.is_empty()).then_some(tail))
            }
        }
        _ => (text.trim().to_string(), None),
    }
}

pub use crate::domain::mail::sanitize_html;

fn part_name(part: &mail_parser::MessagePart, index: usize, content_type: &str) -> String {
    let name = part
        .attachment_name()
        .map(clean_name)
        .filter(|n| !n.trim().is_empty());
    name.unwrap_or_else(|| format!("adjunto-{}.{}", index + 1, extension_of(content_type)))
}

/// The extension people expect for a type (mime_guess lists `.aaf` first for octet-stream
/// and `.jfif` for JPEG): the common one, `.bin` when nothing fits.
fn extension_of(content_type: &str) -> &'static str {
    match content_type {
        "application/octet-stream" => "bin",
        "image/jpeg" | "image/pjpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/tiff" => "tif",
        "text/plain" => "txt",
        "text/html" => "html",
        "text/csv" => "csv",
        "text/calendar" => "ics",
        "application/pdf" => "pdf",
        "application/zip" => "zip",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "audio/mpeg" => "mp3",
        "audio/ogg" => "ogg",
        "video/mp4" => "mp4",
        "message/rfc822" => "eml",
        other => mime_guess::get_mime_extensions_str(other)
            .and_then(|e| e.first())
            .copied()
            .unwrap_or("bin"),
    }
}

/// Whom to answer, and their name: the first valid address of From (else Reply-To — a form's or
/// a script's mail may have no From). When the parsed header gives no valid address (an encoded
/// word inside the local part, two name-address pairs without a comma, a bare `Name
/// addr@host`), the raw header is read again the way mail clients do.
fn sender(m: &mail_parser::Message) -> Option<(String, Option<String>)> {
    let clean = |n: Option<&str>| {
        n.map(|n| crate::domain::one_line(n.trim().trim_matches('"')))
            .filter(|n| !n.is_empty())
    };
    let parsed = m.from().or_else(|| m.reply_to()).and_then(|a| a.first());
    if let Some(a) = parsed {
        if let Some(addr) = a.address().and_then(answerable) {
            return Some((addr, clean(a.name())));
        }
    }
    let raw = m.header_raw("From").or_else(|| m.header_raw("Reply-To"))?;
    raw_sender(raw).map(|(addr, name)| (addr, clean(name.as_deref())))
}

/// The first valid address in a raw From header, and the words before it as the name.
fn raw_sender(raw: &str) -> Option<(String, Option<String>)> {
    let raw = raw.replace(['\r', '\n'], " ");
    // <addr> first: the address of a name-address pair.
    let mut rest = raw.as_str();
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let inside = &rest[open + 1..open + close];
        if let Some(addr) = address_in(inside) {
            let name = decode_words(rest[..open].trim());
            return Some((addr, Some(name).filter(|n| !n.is_empty())));
        }
        rest = &rest[open + close + 1..];
    }
    // Then a bare word with an @ (`Test test@example.com`, `=?utf-8?Q?agent?=@example.com`).
    let words: Vec<&str> = raw.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        let w = w.trim_matches(|c| c == ',' || c == ';' || c == '"');
        if !w.contains('@') {
            continue;
        }
        if let Some(addr) = address_in(w) {
            let name = decode_words(&words[..i].join(" "));
            return Some((addr, Some(name).filter(|n| !n.is_empty())));
        }
    }
    None
}

/// An address a reply can go to: one `@`, a local part, a dotted domain, no spaces.
fn answerable(addr: &str) -> Option<String> {
    crate::domain::validate_email(addr)
        .ok()
        .filter(|a| a.matches('@').count() == 1)
}

/// `local@domain` as a valid address, its local part decoded when it is an encoded word.
fn address_in(word: &str) -> Option<String> {
    let (local, domain) = word.trim().rsplit_once('@')?;
    answerable(&format!("{}@{domain}", decode_words(local).trim()))
}

/// RFC 2047 encoded words (`=?utf-8?Q?…?=`) decoded by the mail parser itself.
fn decode_words(text: &str) -> String {
    if !text.contains("=?") {
        return text.to_string();
    }
    let header = format!("Subject: {text}\r\n\r\n");
    MessageParser::default()
        .parse(header.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| text.to_string())
}

/// Parses raw mail. `max_bytes` bounds what is read: a larger mail keeps its headers and a
/// note, so it still threads and reaches an agent. `size` is the mail's full size when `raw`
/// holds only its headers (the IMAP poller fetches no more of an oversize mail).
pub fn parse(raw: &[u8], size: usize, max_bytes: usize) -> ParsedMail {
    let mut notes = Vec::new();
    let size = size.max(raw.len());
    let oversize = size > max_bytes;
    let input: Cow<[u8]> = if oversize {
        notes.push(Note::MailTooLarge {
            size_kb: (size / 1024) as u64,
            limit_kb: (max_bytes / 1024) as u64,
        });
        // Keep the header block only: up to the first blank line.
        let end = find_header_end(raw).unwrap_or(raw.len().min(64 * 1024));
        Cow::Owned(raw[..end].to_vec())
    } else {
        close_unclosed_multiparts(raw)
    };
    let Some(m) = MessageParser::default().parse(input.as_ref()) else {
        let mut p = unreadable(&input);
        p.notes.splice(0..0, notes);
        return p;
    };
    let from = sender(&m);
    if from.is_none() && (m.header_raw("From").is_some() || m.header_raw("Reply-To").is_some()) {
        notes.push(Note::UnanswerableSender);
    }
    let mut recipients = addresses(m.to());
    recipients.extend(addresses(m.cc()));
    for h in ["Delivered-To", "X-Original-To"] {
        for v in m.header_values(h) {
            if let Some(t) = v.as_text() {
                recipients.push(t.trim().trim_matches(['<', '>']).to_lowercase());
            }
        }
    }
    recipients.sort();
    recipients.dedup();

    let noise = classify(&m, from.as_ref().map(|(a, _)| a.as_str()));
    let bounce = bounce_of(&m);
    // Every inline text part, in order: a mail may carry its text in several sections (a
    // second text part, a signature part) that belong to the body, not only the first.
    let plain = (0..m.text_body_count())
        .filter_map(|i| {
            let text = m.body_text(i)?;
            let part = m.text_body.get(i).and_then(|id| m.parts.get(*id as usize));
            Some(match part.filter(|p| matches!(p.body, PartType::Text(_))) {
                Some(p) => reread(&m, p, &text).map(Cow::Owned).unwrap_or(text),
                None => text,
            })
        })
        .map(|t| t.replace("\r\n", "\n").trim_end().to_string())
        .filter(|t| !t.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    let (text, quoted) = split_quoted(&plain);
    let mut html = m
        .html_bodies()
        .next()
        .filter(|p| p.is_text_html())
        .and_then(|p| p.text_contents())
        .map(sanitize_html);
    if html.as_ref().is_some_and(|h| h.len() > MAX_HTML_BYTES) {
        html = None;
        notes.push(Note::HtmlTooLarge);
    }

    let mut attachments = Vec::new();
    for (i, part) in m.attachments().enumerate() {
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into())
            .to_ascii_lowercase();
        let bytes = match &part.body {
            PartType::Message(inner) => inner.raw_message().to_vec(),
            _ => part.contents().to_vec(),
        };
        let name = match &part.body {
            PartType::Message(inner) if part.attachment_name().is_none() => {
                let subject: String = inner
                    .subject()
                    .unwrap_or("mensaje")
                    .trim()
                    .chars()
                    .take(150)
                    .collect();
                clean_name(&format!("{}.eml", subject.replace(['/', '\\'], "_")))
            }
            _ => part_name(part, i, &content_type),
        };
        attachments.push(MailPart {
            name,
            content_type,
            bytes,
            content_id: part.content_id().and_then(strip_id),
        });
    }
    if text.is_empty() && html.is_none() && attachments.is_empty() && !oversize {
        notes.push(Note::NoText);
    }
    ParsedMail {
        message_id: m.message_id().and_then(strip_id),
        in_reply_to: text_list(m.in_reply_to()),
        references: text_list(m.references()),
        subject: subject_of(&m),
        from,
        recipients,
        text,
        quoted,
        html,
        attachments,
        noise,
        bounce,
        notes,
    }
}

/// The boundary a `Content-Type` line (or its folded continuation) declares.
fn boundary_in(line: &[u8]) -> Option<Vec<u8>> {
    let lower = line.to_ascii_lowercase();
    let header_line = lower.starts_with(b"content-type:")
        || line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
    if !header_line {
        return None;
    }
    let at = lower.windows(9).position(|w| w == b"boundary=")? + 9;
    let rest = &line[at..];
    let value: Vec<u8> = if rest.first() == Some(&b'"') {
        rest[1..]
            .iter()
            .take_while(|b| **b != b'"')
            .copied()
            .collect()
    } else {
        rest.iter()
            .take_while(|b| !b";\r\n \t".contains(b))
            .copied()
            .collect()
    };
    (!value.is_empty()).then_some(value)
}

/// Issue 20, item 2: a nested multipart that is never closed (Gmail does this) would swallow
/// every part after it. As mail clients do, the enclosing multipart's next boundary closes it:
/// the missing `--inner--` lines are put in. Mails with one multipart are returned as they are.
fn close_unclosed_multiparts(raw: &[u8]) -> Cow<'_, [u8]> {
    let declared = raw
        .windows(9)
        .filter(|w| w.eq_ignore_ascii_case(b"boundary="))
        .count();
    if declared < 2 {
        return Cow::Borrowed(raw);
    }
    let mut open: Vec<Vec<u8>> = Vec::new();
    let mut out = Vec::with_capacity(raw.len() + 64);
    let mut changed = false;
    for line in raw.split_inclusive(|b| *b == b'\n') {
        let t = line.strip_suffix(b"\n").unwrap_or(line);
        let t = t.strip_suffix(b"\r").unwrap_or(t);
        if let Some(name) = t.strip_prefix(b"--") {
            let (name, closing) = match name.strip_suffix(b"--") {
                Some(n) => (n, true),
                None => (name, false),
            };
            if let Some(at) = open.iter().rposition(|b| b.as_slice() == name) {
                for inner in open[at + 1..].iter().rev() {
                    out.extend_from_slice(b"--");
                    out.extend_from_slice(inner);
                    out.extend_from_slice(b"--\r\n");
                    changed = true;
                }
                open.truncate(at + 1);
                if closing {
                    open.pop();
                }
            }
        }
        if let Some(b) = boundary_in(line) {
            open.push(b);
        }
        out.extend_from_slice(line);
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(raw)
    }
}

/// A text part whose declared charset or transfer encoding does not fit its bytes, read
/// again as mail clients do: ISO-2022-JP by its escapes, else UTF-8 when the bytes are, else
/// what chardetng guesses; a part "in base64" that is plain text is read as it is. None: what
/// mail-parser decoded stands (the common case, checked first and cheaply).
fn reread(
    m: &mail_parser::Message,
    part: &mail_parser::MessagePart,
    decoded: &str,
) -> Option<String> {
    use mail_parser::decoders::{base64::base64_decode, quoted_printable::quoted_printable_decode};
    use mail_parser::Encoding;
    let raw = m
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize)?;
    let declared = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .map(|c| c.to_ascii_lowercase());
    let not_base64 = part.encoding == Encoding::Base64
        && !raw
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=\r\n\t ".contains(b));
    let suspicious = decoded.contains('\u{FFFD}')
        || decoded.contains('\u{1b}')
        || not_base64
        || part.is_encoding_problem
        || (declared.as_deref().is_none_or(|c| c == "us-ascii") && !raw.is_ascii());
    if !suspicious {
        return None;
    }
    let bytes: Cow<[u8]> = match part.encoding {
        Encoding::Base64 if !not_base64 => Cow::Owned(base64_decode(raw)?),
        Encoding::QuotedPrintable => Cow::Owned(quoted_printable_decode(raw)?),
        _ => Cow::Borrowed(raw),
    };
    Some(guess_decode(&bytes))
}

/// Bytes of an unknown or wrongly declared charset, as text.
fn guess_decode(bytes: &[u8]) -> String {
    let escapes = bytes
        .windows(3)
        .any(|w| w == b"\x1b$B" || w == b"\x1b$@" || w == b"\x1b(J");
    if escapes && bytes.is_ascii() {
        return encoding_rs::ISO_2022_JP.decode(bytes).0.into_owned();
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_string();
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    detector.guess(None, true).decode(bytes).0.into_owned()
}

/// The subject; raw 8-bit bytes in it (GBK, Shift_JIS … unlabelled) are guessed, not shown as
/// replacement characters.
fn subject_of(m: &mail_parser::Message) -> String {
    let decoded = m.subject().unwrap_or_default().trim().to_string();
    if !decoded.contains('\u{FFFD}') {
        return decoded;
    }
    let raw = m.parts.first().and_then(|p| {
        p.headers
            .iter()
            .find(|h| h.name.as_str().eq_ignore_ascii_case("subject"))
            .and_then(|h| {
                m.raw_message
                    .get(h.offset_start as usize..h.offset_end as usize)
            })
    });
    match raw {
        Some(bytes) if !bytes.windows(2).any(|w| w == b"=?") => {
            let text = guess_decode(bytes);
            crate::domain::one_line(&text).trim().to_string()
        }
        _ => decoded,
    }
}

/// A mail that could not be read: its first 64 KB as text, with a note.
pub fn unreadable(raw: &[u8]) -> ParsedMail {
    ParsedMail {
        message_id: None,
        in_reply_to: Vec::new(),
        references: Vec::new(),
        subject: String::new(),
        from: None,
        recipients: Vec::new(),
        text: String::from_utf8_lossy(&raw[..raw.len().min(64 * 1024)]).into_owned(),
        quoted: None,
        html: None,
        attachments: Vec::new(),
        noise: Noise::None,
        bounce: None,
        notes: vec![Note::Unreadable],
    }
}

fn find_header_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangled_senders_are_read_as_mail_clients_read_them() {
        let from = |header: &str| {
            let raw =
                format!("From: {header}\r\nTo: soporte@example.com\r\nSubject: x\r\n\r\nhola\r\n");
            parse(raw.as_bytes(), raw.len(), 1 << 20)
        };
        let encoded = from("=?utf-8?Q?agent?=@example.com");
        assert_eq!(encoded.from.unwrap().0, "agent@example.com");
        let bare = from("Test test@example.com");
        assert_eq!(
            bare.from,
            Some(("test@example.com".into(), Some("Test".into())))
        );
        let glued = from("\"Ana\" <ana@example.com> \"Beto\" <beto@example.org>");
        assert_eq!(glued.from.unwrap().0, "ana@example.com");
        let plain = from("\"Ana Pérez\" <Ana@Example.com>");
        assert_eq!(
            plain.from,
            Some(("ana@example.com".into(), Some("Ana Pérez".into())))
        );
        let nobody = from("undisclosed-recipients:;");
        assert!(nobody.from.is_none());
        assert!(nobody.notes.contains(&Note::UnanswerableSender));
    }

    #[test]
    fn outlooks_related_alternative_keeps_its_html_body() {
        let raw = "From: Cliente <cliente@example.com>\r\nTo: soporte@example.com\r\nSubject: Foto\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"rel\"; type=\"multipart/alternative\"\r\n\r\n\
--rel\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
--alt\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n\r\nAdjunto la foto del producto.\r\n\
--alt\r\nContent-Type: text/html; charset=\"utf-8\"\r\n\r\n<html><body><p>Adjunto la <b>foto</b> del producto.</p><img src=\"cid:image001.png@01D9\"></body></html>\r\n\
--alt--\r\n\
--rel\r\nContent-Type: image/png; name=\"image001.png\"\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <image001.png@01D9>\r\n\r\niVBORw0KGgo=\r\n\
--rel--\r\n";
        let p = parse(raw.as_bytes(), raw.len(), 1 << 20);
        let html = p.html.expect("the HTML body is the body");
        assert!(html.contains("<b>foto</b>"), "{html}");
        assert!(p.text.contains("Adjunto la foto"));
        assert!(
            p.attachments
                .iter()
                .all(|a| !a.content_type.starts_with("text/")),
            "{:?}",
            p.attachments.iter().map(|a| &a.name).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_mail_without_from_is_answered_at_its_reply_to() {
        let raw = "Reply-To: Formulario Web <cliente@example.com>\r\nTo: soporte@example.com\r\nSubject: Contacto\r\n\r\nHola\r\n";
        let p = parse(raw.as_bytes(), raw.len(), 1 << 20);
        assert_eq!(
            p.from,
            Some((
                "cliente@example.com".to_string(),
                Some("Formulario Web".to_string())
            ))
        );
    }

    #[test]
    fn unnamed_attachments_get_the_common_extension() {
        assert_eq!(extension_of("application/octet-stream"), "bin");
        assert_eq!(extension_of("image/jpeg"), "jpg");
        assert_eq!(extension_of("application/pdf"), "pdf");
        assert_eq!(extension_of("application/x-nothing-known"), "bin");
    }

    #[test]
    fn consecutive_text_parts_are_all_kept_in_order() {
        let raw = "From: Cliente <cliente@example.com>\r\nTo: soporte@example.com\r\n\
Subject: Pedido\r\nMessage-ID: <tres-partes@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPrimera parte: el pedido 4455.\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSegunda parte: llegó roto.\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Disposition: inline\r\n\r\n-- \r\nAna Cliente\r\n\
--b1--\r\n";
        let p = parse(raw.as_bytes(), raw.len(), 1 << 20);
        let first = p.text.find("Primera parte").unwrap();
        let second = p.text.find("Segunda parte").unwrap();
        let signature = p.text.find("Ana Cliente").unwrap();
        assert!(first < second && second < signature, "{}", p.text);
        assert!(p.attachments.is_empty());
    }

    fn fixture(path: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/email/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn charsets_decode() {
        let cases = [
            ("multi_charset/japanese_shift_jis.eml", "あいうえお", "test"),
            ("multi_charset/ks_c_5601-1987.eml", "스티해", "test"),
            (
                "multi_charset/japanese_iso_2022.eml",
                "すみません。",
                "まみむめも",
            ),
            ("multi_charset/japanese.eml", "かきくえこ", "まみむめも"),
        ];
        for (path, text, subject) in cases {
            let p = parse(&fixture(path), 0, 10 << 20);
            assert!(p.text.starts_with(text), "{path}: {:?}", p.text);
            assert_eq!(p.subject, subject, "{path}");
        }
    }

    /// A mail with `headers` and a body of raw `body` bytes.
    fn raw_mail(headers: &[u8], body: &[u8]) -> Vec<u8> {
        let mut raw = b"From: Cliente <c@cliente.test>\r\nTo: s@tienda.test\r\nMessage-ID: <x@y>\r\nMIME-Version: 1.0\r\n".to_vec();
        raw.extend_from_slice(headers);
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(body);
        raw.extend_from_slice(b"\r\n");
        raw
    }

    /// Issue 20, item 4: what the declared charset or encoding gets wrong is read as a mail
    /// client reads it.
    #[test]
    fn wrong_or_missing_charsets_are_detected() {
        let jp = "お問い合わせありがとうございます。注文番号を確認しています。";
        // No charset, ISO-2022-JP escapes.
        let (iso, _, _) = encoding_rs::ISO_2022_JP.encode(jp);
        let p = parse(
            &raw_mail(b"Subject: x\r\nContent-Type: text/plain\r\n", &iso),
            0,
            1 << 20,
        );
        assert_eq!(p.text, jp);
        // Shift_JIS bytes labelled ISO-2022-JP.
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(jp);
        let p = parse(
            &raw_mail(b"Subject: x\r\nContent-Type: text/plain; charset=iso-2022-jp\r\nContent-Transfer-Encoding: 8bit\r\n", &sjis),
            0,
            1 << 20,
        );
        assert_eq!(p.text, jp);
        // UTF-8 labelled us-ascii.
        let es = "Hola, ¿cómo están? Necesito cambiar la dirección de envío.";
        let p = parse(
            &raw_mail(
                b"Subject: x\r\nContent-Type: text/plain; charset=us-ascii\r\n",
                es.as_bytes(),
            ),
            0,
            1 << 20,
        );
        assert_eq!(p.text, es);
        // "base64" that is plain text.
        let p = parse(
            &raw_mail(
                b"Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
                "Hola, necesito ayuda con mi pedido número 4411.".as_bytes(),
            ),
            0,
            1 << 20,
        );
        assert_eq!(p.text, "Hola, necesito ayuda con mi pedido número 4411.");
        // Raw GBK in the subject.
        let zh = "你好，我的订单还没有到，请帮我查一下物流信息";
        let (gbk, _, _) = encoding_rs::GBK.encode(zh);
        let mut head = b"Subject: ".to_vec();
        head.extend_from_slice(&gbk);
        head.extend_from_slice(b"\r\nContent-Type: text/plain; charset=utf-8\r\n");
        let p = parse(&raw_mail(&head, b"hola"), 0, 1 << 20);
        assert_eq!(p.subject, zh);
        // A well-declared mail is left as mail-parser read it.
        let p = parse(
            &raw_mail(
                b"Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n",
                es.as_bytes(),
            ),
            0,
            1 << 20,
        );
        assert_eq!(p.text, es);
    }

    /// Issue 20, item 2: an inner multipart/alternative that is never closed; the outer
    /// boundary ends it, and the images after it are kept.
    #[test]
    fn an_unclosed_inner_multipart_keeps_what_follows() {
        let raw = "From: G <g@gmail.test>\r\nTo: s@tienda.test\r\nSubject: Fotos\r\nMessage-ID: <u@x>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n--inner\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nVan las fotos.\r\n\r\n--inner\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n<div>Van las fotos.</div>\r\n\r\n--outer\r\nContent-Type: image/png; name=\"a.png\"\r\nContent-Disposition: attachment; filename=\"a.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--outer\r\nContent-Type: image/png; name=\"b.png\"\r\nContent-Disposition: attachment; filename=\"b.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--outer\r\nContent-Type: image/png; name=\"c.png\"\r\nContent-Disposition: attachment; filename=\"c.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--outer--\r\n";
        let p = parse(raw.as_bytes(), 0, 1 << 20);
        assert_eq!(p.text, "Van las fotos.");
        let names: Vec<&str> = p.attachments.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["a.png", "b.png", "c.png"], "{:?}", p.html);
    }

    #[test]
    fn quoted_history_is_cut() {
        let (new, old) = split_quoted(
            "Gracias, ya funciona.\n\nEl lun, 3 mar 2025, Soporte escribió:\n> hola\n",
        );
        assert_eq!(new, "Gracias, ya funciona.");
        assert!(old.unwrap().contains("> hola"));
        let (new, old) = split_quoted("> only a quote");
        assert_eq!(new, "> only a quote");
        assert!(old.is_none());
    }

    #[test]
    fn a_long_quote_is_cut_in_linear_time() {
        let mut text = "respuesta\n".to_string();
        text.push_str(&"> citado\n".repeat(200_000));
        text.push_str("fin");
        let (new, old) = split_quoted(&text);
        // The quote does not reach the end, so nothing is cut (and it returns at once).
        assert!(new.ends_with("fin") && old.is_none());
    }

    #[test]
    fn noise_headers() {
        let base = "From: a@b.cl\r\nTo: s@x.cl\r\nSubject: x\r\n";
        let cases = [
            ("Auto-Submitted: auto-replied\r\n", Noise::Automatic),
            ("Auto-Submitted: no\r\n", Noise::None),
            ("Auto-Submitted: auto-generated\r\n", Noise::Bulk),
            ("Auto-Submitted: auto-notified\r\n", Noise::Bulk),
            ("X-Autoreply: yes\r\n", Noise::Automatic),
            ("Return-Path: <>\r\n", Noise::Automatic),
            ("Precedence: bulk\r\n", Noise::Bulk),
            ("Precedence: junk\r\n", Noise::Bulk),
            ("Precedence: list\r\n", Noise::Bulk),
            ("List-Id: <news.b.cl>\r\n", Noise::Bulk),
            ("X-Auto-Response-Suppress: All\r\n", Noise::Bulk),
        ];
        for (header, want) in cases {
            let raw = format!("{base}{header}\r\nhola\r\n");
            assert_eq!(parse(raw.as_bytes(), 0, 1 << 20).noise, want, "{header}");
        }
        let daemon = "From: MAILER-DAEMON@b.cl\r\nSubject: x\r\n\r\nhola\r\n";
        assert_eq!(parse(daemon.as_bytes(), 0, 1 << 20).noise, Noise::Automatic);
    }

    #[test]
    fn bounces_are_reports() {
        let p = parse(
            &fixture("multipart_report_emails/multi_address_bounce1.eml"),
            0,
            10 << 20,
        );
        let b = p.bounce.unwrap();
        assert!(b.failed);
        assert!(b
            .original_ids
            .contains(&"118707422.15521266992174819.JavaMail.root@lvmail01".to_string()));
        assert!(b.detail.contains("5.1.1"));
        let warning = parse(
            &fixture("multipart_report_emails/report_422.eml"),
            0,
            10 << 20,
        );
        assert_eq!(warning.noise, Noise::Automatic);
    }

    #[test]
    fn html_is_sanitised() {
        let clean = sanitize_html(
            "<p onclick=\"x()\">hola<script>alert(1)</script><img src=\"cid:logo\"></p>",
        );
        assert!(!clean.contains("script") && !clean.contains("onclick"));
        assert!(clean.contains("cid:logo"));
        let shown = crate::domain::mail::display_html(
            &clean,
            &[("logo".into(), "/api/v1/attachments/7".into())],
        );
        assert!(shown.contains("/api/v1/attachments/7"));
    }

    #[test]
    fn oversize_keeps_headers() {
        let raw = format!(
            "From: a@b.cl\r\nSubject: grande\r\nMessage-ID: <big@b.cl>\r\n\r\n{}",
            "x".repeat(4096)
        );
        let p = parse(raw.as_bytes(), 0, 1024);
        assert_eq!(p.message_id.as_deref(), Some("big@b.cl"));
        assert_eq!(p.subject, "grande");
        assert!(!p.notes.is_empty());
    }

    #[test]
    fn garbage_never_panics() {
        for raw in [
            &b""[..],
            b"\xff\xfe\x00",
            b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n",
        ] {
            let _ = parse(raw, 0, 1 << 20);
        }
    }
}
