//! What every channel turns a customer's message into, and what ingesting it gives back.

use super::{DeliveryStatus, Millis, Note};

/// What an inbound message or an API call says about its sender.
#[derive(Debug, Clone, Default)]
pub struct ContactFacts {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Already validated and normalised.
    pub rut: Option<String>,
    pub username: Option<String>,
}

/// A normalised inbound message: every channel turns what it receives into one of these.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub account_id: u64,
    /// The channel's id of this message: redelivery of the same id is a no-op.
    pub external_id: String,
    pub contact_external_id: String,
    pub contact: ContactFacts,
    /// What the conversation is about, when the channel has a subject line (email, the
    /// contact form): it names a ticket the message opens.
    pub subject: Option<String>,
    pub text: String,
    pub public: bool,
    pub reply_to: Option<u64>,
    /// The vendor's id of the message this one answers (WhatsApp's context), when the channel
    /// knows it by that id only: ingest finds it.
    pub reply_to_external: Option<String>,
    pub attachments: Vec<u64>,
    /// Files the vendor keeps for us (WhatsApp media): fetched after the message is stored.
    pub files: Vec<VendorFile>,
    pub sent_at: Option<Millis>,
    /// Who uploaded the attachments (the API caller; None for channel adapters).
    pub uploader: Option<u64>,
    /// Which ticket the message belongs to, when the channel knows better than "the contact's
    /// open ticket on the account" (email threading).
    pub thread: Thread,
    /// What the agent should know about it (an unsupported kind, the ad that brought the
    /// customer, a file still to fetch), shown with the message.
    pub notes: Vec<Note>,
}

/// How an inbound message finds its ticket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Thread {
    /// TICK-2: the contact's open ticket on the account, else a new one.
    #[default]
    ByContact,
    /// This ticket (followed through merges); a new ticket linked to it when it is closed.
    Ticket(u64),
    /// Always a new ticket (an email that threads into nothing).
    New,
}

/// Where an ingested message went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub ticket_number: u64,
    pub message_id: u64,
    pub created_ticket: bool,
}

/// A file a vendor holds for a message, by its id there.
#[derive(Debug, Clone, PartialEq)]
pub struct VendorFile {
    pub id: String,
    pub mime: String,
    pub name: String,
}

/// What a vendor's delivery report says about an answer Atiende sent (by the vendor's id).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub account_id: u64,
    pub external_id: String,
    pub status: DeliveryStatus,
    pub at: Option<Millis>,
    /// Why it failed, in the vendor's words (code and title).
    pub error: Option<Note>,
}

/// What a customer did to a message already stored, named by the vendor's id of it.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageChange {
    pub account_id: u64,
    pub target: String,
    pub change: Amend,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Amend {
    /// A reaction; None takes it back.
    React(Option<String>),
    /// New text (the old one is kept in a note).
    Edit(String),
    /// Deleted for everyone on the customer's side (kept here, with a note).
    Revoke,
}

/// One vendor delivery (a webhook body): customers' messages, what they did to earlier ones,
/// and reports on our answers, stored together.
#[derive(Debug, Clone, Default)]
pub struct VendorBatch {
    pub messages: Vec<Inbound>,
    pub changes: Vec<MessageChange>,
    pub statuses: Vec<StatusUpdate>,
    /// What the vendor said about an account (not a message): shown on its health.
    pub notices: Vec<AccountNotice>,
}

/// A vendor's word about an account (WhatsApp: the number's quality, its messaging limit).
#[derive(Debug, Clone, PartialEq)]
pub struct AccountNotice {
    pub account_id: u64,
    pub note: crate::domain::Note,
    /// Worth a mail to the administrators (a quality flagged or a limit lowered).
    pub alert: bool,
}
