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

/// Rewrites `cid:` references to the given URLs (content id → url).
pub fn rewrite_cids(html: &str, urls: &[(String, String)]) -> String {
    let mut out = html.to_string();
    for (cid, url) in urls {
        out = out.replace(&format!("cid:{cid}"), url);
    }
    out
}
