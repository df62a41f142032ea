//! Email as data: what a parsed mail holds, an email account's settings, and the threading
//! rules (reply tokens, Message-IDs, subjects). Pure: `mail::parse` reads raw mail into these
//! types, and the store keeps them without knowing the email channel.

pub mod settings;
pub mod thread;

use super::Note;

/// Noise classes, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noise {
    /// A person (or a form) wrote it: may open tickets and receive auto-replies.
    None,
    /// Lists, newsletters, bulk mail, or a sender who asked for no auto-responses: may open a
    /// ticket, never gets an automatic answer.
    Bulk,
    /// An auto-reply, vacation notice or daemon mail: joins a ticket it threads into, never
    /// opens one, never gets answered (no loops).
    Automatic,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// Message-IDs of the mail that could not be delivered (from the returned headers, then
    /// In-Reply-To/References of the report).
    pub original_ids: Vec<String>,
    /// True for a permanent failure (status 5.x.x or Action: failed); false for warnings.
    pub failed: bool,
    /// Status and diagnostic lines, for the agent.
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct MailPart {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// Content-ID without angle brackets, for `cid:` references in the HTML.
    pub content_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ParsedMail {
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub subject: String,
    /// Lower-cased sender address and display name.
    pub from: Option<(String, Option<String>)>,
    /// Lower-cased To, Cc, Delivered-To and X-Original-To addresses (where reply tokens live).
    pub recipients: Vec<String>,
    /// The new text, with quoted history cut off into `quoted`.
    pub text: String,
    pub quoted: Option<String>,
    /// Sanitised HTML body (cid: references still to be rewritten), when the mail has one.
    pub html: Option<String>,
    pub attachments: Vec<MailPart>,
    pub noise: Noise,
    pub bounce: Option<Bounce>,
    /// Problems met while reading (shown to the agent with the message).
    pub notes: Vec<Note>,
}

/// Where a mail's own images are served from once stored.
const ATTACHMENTS: &str = "/api/v1/attachments/";

/// Sanitises mail HTML for display: no scripts, styles, forms or remote resources; links stay
/// (opened with no referrer). An image shows only when it is part of the mail (`cid:`, or the
/// stored attachment it became): a remote image — a tracking pixel — is dropped.
pub fn sanitize_html(html: &str) -> String {
    ammonia::Builder::default()
        .url_schemes(["http", "https", "mailto", "cid"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        .attribute_filter(|element, attribute, value| {
            let own_image = value.starts_with("cid:")
                || (value.starts_with(ATTACHMENTS)
                    && value[ATTACHMENTS.len()..]
                        .bytes()
                        .all(|b| b.is_ascii_digit()));
            match (element, attribute) {
                ("img", "src") if !own_image => None,
                ("img", "srcset") => None,
                _ => Some(value.into()),
            }
        })
        .clean(html)
        .to_string()
}

/// The HTML agents see: the mail's `cid:` images pointed at their stored attachments, then
/// sanitised again, so a crafted Content-ID cannot break out of the attribute it lands in.
pub fn display_html(html: &str, urls: &[(String, String)]) -> String {
    let mut out = html.to_string();
    for (cid, url) in urls {
        out = out.replace(&format!("cid:{cid}"), url);
    }
    sanitize_html(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_mails_own_images_show() {
        let shown = display_html(
            r#"<p><img src="cid:logo"><img src="https://tracker.example/p.gif"><img src="cid:otro"><a href="https://tienda.cl">tienda</a></p>"#,
            &[("logo".into(), "/api/v1/attachments/7".into())],
        );
        assert!(shown.contains(r#"src="/api/v1/attachments/7""#), "{shown}");
        assert!(!shown.contains("tracker.example"), "{shown}");
        assert!(shown.contains("https://tienda.cl"), "{shown}");
    }

    #[test]
    fn a_crafted_content_id_stays_inside_its_attribute() {
        // Security finding 11: the Content-ID is the sender's; rewriting it into sanitised
        // HTML must not open a new attribute or element.
        let sanitised = sanitize_html(r#"<img src="cid:a&quot; onerror=&quot;alert(1)">"#);
        let cid = r#"a" onerror="alert(1)"#.to_string();
        let shown = display_html(&sanitised, &[(cid, "/api/v1/attachments/9".into())]);
        // Whatever the sender wrote stays text inside one attribute value.
        assert!(!shown.contains(r#"onerror=""#), "{shown}");
        let raw = display_html(
            r#"<img src="cid:x">"#,
            &[(
                "x".into(),
                r#"/api/v1/attachments/9" onerror="alert(1)"#.into(),
            )],
        );
        assert!(!raw.contains(r#"onerror=""#), "{raw}");
    }
}
