//! The stored records. They are encoded with MessagePack using field names, so adding a field
//! with `#[serde(default)]` needs no migration; renames and meaning changes go through
//! `store::migrate`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::note::Note;

use super::clock::Millis;
use super::events::EventKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Supervisor,
    Agent,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "supervisor" => Some(Role::Supervisor),
            "agent" => Some(Role::Agent),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Agent => "agent",
        }
    }
    /// Admins and supervisors see every account's tickets (AUTH-1).
    pub fn sees_all_accounts(self) -> bool {
        matches!(self, Role::Admin | Role::Supervisor)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: u64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub active: bool,
    #[serde(default = "default_language")]
    pub language: String,
    #[serde(default)]
    pub signature: Option<String>,
    /// The signature for one account's mail instead of `signature` (account id → text).
    #[serde(default)]
    pub signatures: std::collections::BTreeMap<u64, String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// The stored photo (a blob), when the user uploaded one.
    #[serde(default)]
    pub avatar_sha: Option<String>,
    #[serde(default)]
    pub connection_state: Option<String>,
    pub created_at: Millis,
    #[serde(default)]
    pub deactivated_at: Option<Millis>,
    /// Invited by mail and has not chosen a password through the link yet.
    #[serde(default)]
    pub invited: bool,
    #[serde(default)]
    pub last_sign_in_at: Option<Millis>,
    /// The second factor's shared secret (base32), once enrolment is confirmed.
    #[serde(default)]
    pub totp_secret: Option<String>,
    /// A secret shown for enrolment, not confirmed with a code yet.
    #[serde(default)]
    pub totp_pending: Option<String>,
    /// The last TOTP time step accepted (a code works once).
    #[serde(default)]
    pub totp_last_step: u64,
    /// Hashes of the unused recovery codes.
    #[serde(default)]
    pub recovery_codes: Vec<String>,
    /// The first-steps guide was hidden by this (administrator) user.
    #[serde(default)]
    pub guide_dismissed: bool,
    /// How they want to hear of things (the bell always shows them).
    #[serde(default)]
    pub notify: NotifyPrefs,
}

/// A user's notification preferences (AUTH-5): mail for mentions and assignments, and a sound
/// when the bell gets something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NotifyPrefs {
    #[serde(default = "yes")]
    pub mention_email: bool,
    #[serde(default = "yes")]
    pub assigned_email: bool,
    /// Mail when a ticket they hold (or, for supervisors, any ticket) nears or passes its SLA.
    #[serde(default = "yes")]
    pub sla_email: bool,
    #[serde(default = "yes")]
    pub sound: bool,
}

fn yes() -> bool {
    true
}

impl Default for NotifyPrefs {
    fn default() -> Self {
        NotifyPrefs {
            mention_email: true,
            assigned_email: true,
            sla_email: true,
            sound: true,
        }
    }
}

pub fn default_language() -> String {
    "es".into()
}

/// A channel kind (API.md "kinds").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Webchat,
    Form,
    Whatsapp,
    Facebook,
    Instagram,
    X,
    XSearch,
    Appstore,
    Playstore,
    Api,
    /// The integration tests' channel (cargo feature `test-channel`; never in a release).
    #[cfg(feature = "test-channel")]
    Test,
}

impl Channel {
    pub const ALL: &'static [Channel] = &[
        Channel::Email,
        Channel::Webchat,
        Channel::Form,
        Channel::Whatsapp,
        Channel::Facebook,
        Channel::Instagram,
        Channel::X,
        Channel::XSearch,
        Channel::Appstore,
        Channel::Playstore,
        Channel::Api,
        #[cfg(feature = "test-channel")]
        Channel::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webchat => "webchat",
            Channel::Form => "form",
            Channel::Whatsapp => "whatsapp",
            Channel::Facebook => "facebook",
            Channel::Instagram => "instagram",
            Channel::X => "x",
            Channel::XSearch => "x_search",
            Channel::Appstore => "appstore",
            Channel::Playstore => "playstore",
            Channel::Api => "api",
            #[cfg(feature = "test-channel")]
            Channel::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.iter().copied().find(|c| c.as_str() == s)
    }

    /// Stable small code used inside index keys; never reorder.
    pub fn code(self) -> u8 {
        match self {
            Channel::Email => 1,
            Channel::Webchat => 2,
            Channel::Form => 3,
            Channel::Whatsapp => 4,
            Channel::Facebook => 5,
            Channel::Instagram => 6,
            Channel::X => 7,
            Channel::XSearch => 8,
            Channel::Appstore => 9,
            Channel::Playstore => 10,
            Channel::Api => 11,
            #[cfg(feature = "test-channel")]
            Channel::Test => 12,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub id: u64,
    pub kind: Channel,
    pub name: String,
    /// Free-form per-kind settings (SLA minutes, auto-messages, credentials…).
    pub settings: serde_json::Map<String, serde_json::Value>,
    pub created_at: Millis,
    #[serde(default)]
    pub deleted_at: Option<Millis>,
}

/// A channel's typed settings read from an account's settings map (the same JSON the API
/// takes), for checking them on save and for using them.
pub fn settings_as<T: serde::de::DeserializeOwned>(
    settings: &serde_json::Map<String, serde_json::Value>,
) -> Result<T, serde_json::Error> {
    serde_json::from_value(serde_json::Value::Object(settings.clone()))
}

impl Account {
    /// The SLA policy the account's tickets follow (SLA-1), when it names one.
    pub fn sla_policy_id(&self) -> Option<u64> {
        self.id_setting("sla_policy_id")
    }

    /// The business-hours calendar the account follows (SLA-2), when it names one.
    pub fn calendar_id(&self) -> Option<u64> {
        self.id_setting("calendar_id")
    }

    /// A setting holding a record's id (a string, as ids are in the API).
    fn id_setting(&self, key: &str) -> Option<u64> {
        self.settings
            .get(key)
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse().ok())
    }
}

/// One identity of a contact on one account (an email address on a mailbox, a WhatsApp
/// number, a page-scoped Facebook id…).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Identity {
    pub account_id: u64,
    pub external_id: String,
    #[serde(default)]
    pub username: Option<String>,
}

/// Stored positionally (`codec::encode_compact`): new fields go at the end, with
/// `#[serde(default)]`, and no field is skipped when serializing.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Contact {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// Normalised `12345678-5`.
    #[serde(default)]
    pub rut: Option<String>,
    #[serde(default)]
    pub identities: Vec<Identity>,
    #[serde(default)]
    pub influencer: bool,
    #[serde(default)]
    pub labels: Vec<u64>,
    #[serde(default)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Omnichannel: contacts linked as the same person share one group id (the smallest id).
    #[serde(default)]
    pub linked: Vec<u64>,
    /// Contacts an agent said are another person (a proposed duplicate dismissed, or a link
    /// undone): never proposed or linked automatically again.
    #[serde(default)]
    pub not_same: Vec<u64>,
    /// What the team should know about the customer (free text, by agents).
    #[serde(default)]
    pub notes: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// When the customer last wrote, to the hour (0: never since created).
    #[serde(default)]
    pub last_contact_at: Millis,
    /// Other addresses and numbers of the same customer (ORG-3), after `email` and `phone`.
    #[serde(default)]
    pub more_emails: Vec<String>,
    #[serde(default)]
    pub more_phones: Vec<String>,
}

impl Contact {
    /// Every email of the customer, the main one first.
    pub fn emails(&self) -> impl Iterator<Item = &str> {
        self.email
            .iter()
            .chain(self.more_emails.iter())
            .map(String::as_str)
    }

    /// Every phone of the customer, the main one first.
    pub fn phones(&self) -> impl Iterator<Item = &str> {
        self.phone
            .iter()
            .chain(self.more_phones.iter())
            .map(String::as_str)
    }
}

/// A saved contact filter ("segmento", seed 002): the Contactos screen's query as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Segment {
    pub id: u64,
    pub name: String,
    /// The list's query parameters (`q`, `label`, `channel`, …).
    pub query: BTreeMap<String, String>,
    /// Who saved it; everyone sees shared segments, only their owner the others.
    pub owner_id: u64,
    #[serde(default)]
    pub shared: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Hash)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    Open,
    Closed,
    Ignored,
}

impl TicketState {
    pub const ALL: [TicketState; 3] =
        [TicketState::Open, TicketState::Closed, TicketState::Ignored];
    pub fn code(self) -> u8 {
        match self {
            TicketState::Open => 1,
            TicketState::Closed => 2,
            TicketState::Ignored => 3,
        }
    }
    /// The name the API writes (`open`, `closed`, `ignored`).
    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Open => "open",
            TicketState::Closed => "closed",
            TicketState::Ignored => "ignored",
        }
    }
    pub fn parse(s: &str) -> Option<TicketState> {
        match s {
            "open" => Some(TicketState::Open),
            "closed" => Some(TicketState::Closed),
            "ignored" => Some(TicketState::Ignored),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sentiment {
    Positive,
    Neutral,
    Negative,
}

/// Enums kept inside positional records as a one-byte code (issue 21): a variant's code never
/// changes (new variants take new codes); records written with the variant's name still read.
pub trait StoredCode: Copy + serde::de::DeserializeOwned + 'static {
    fn stored_code(self) -> u8;
    fn from_stored_code(code: u8) -> Option<Self>;
}

impl StoredCode for Channel {
    fn stored_code(self) -> u8 {
        self.code()
    }
    fn from_stored_code(code: u8) -> Option<Self> {
        Channel::ALL.iter().copied().find(|c| c.code() == code)
    }
}

impl StoredCode for TicketState {
    fn stored_code(self) -> u8 {
        self.code()
    }
    fn from_stored_code(code: u8) -> Option<Self> {
        TicketState::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// Implements `StoredCode` from `Variant = code` pairs (every variant: the match is exhaustive).
macro_rules! stored_codes {
    ($t:ident { $($v:ident = $c:literal),+ $(,)? }) => {
        impl StoredCode for $t {
            fn stored_code(self) -> u8 {
                match self {
                    $($t::$v => $c),+
                }
            }
            fn from_stored_code(code: u8) -> Option<Self> {
                match code {
                    $($c => Some($t::$v),)+
                    _ => None,
                }
            }
        }
    };
}
stored_codes!(TicketKind { Private = 1, Public = 2, Both = 3 });
stored_codes!(Direction { Inbound = 1, Outbound = 2 });
stored_codes!(DeliveryStatus { Received = 1, Queued = 2, Sent = 3, Delivered = 4, Read = 5, Failed = 6 });

/// `#[serde(with)]` for a `StoredCode` field: written as its code, read from a code or a name.
pub mod stored_code {
    use std::marker::PhantomData;

    use serde::de::{Error, IntoDeserializer, Visitor};
    use serde::{Deserializer, Serializer};

    use super::StoredCode;

    pub fn serialize<T: StoredCode, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(v.stored_code())
    }

    pub fn deserialize<'de, T: StoredCode, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        struct Code<T>(PhantomData<T>);
        impl<T: StoredCode> Visitor<'_> for Code<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a code or a name")
            }
            fn visit_u64<E: Error>(self, v: u64) -> Result<T, E> {
                u8::try_from(v)
                    .ok()
                    .and_then(T::from_stored_code)
                    .ok_or_else(|| E::custom(format!("unknown code {v}")))
            }
            fn visit_i64<E: Error>(self, v: i64) -> Result<T, E> {
                self.visit_u64(u64::try_from(v).map_err(E::custom)?)
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<T, E> {
                T::deserialize(v.into_deserializer())
            }
        }
        d.deserialize_any(Code(PhantomData))
    }
}

/// Whether the conversation is public (a comment, a review), private (DM, email) or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketKind {
    Private,
    Public,
    Both,
}

/// Stored positionally (`codec::encode_compact`): new fields go at the end, with
/// `#[serde(default)]`, and no field is skipped when serializing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ticket {
    pub number: u64,
    pub account_id: u64,
    #[serde(with = "stored_code")]
    pub channel: Channel,
    pub contact_id: u64,
    #[serde(with = "stored_code")]
    pub kind: TicketKind,
    #[serde(with = "stored_code")]
    pub state: TicketState,
    #[serde(default)]
    pub assignee_id: Option<u64>,
    #[serde(default)]
    pub team_id: Option<u64>,
    #[serde(default)]
    pub labels: Vec<u64>,
    #[serde(default)]
    pub important: bool,
    /// Reply status: true once an agent answered the last customer message.
    pub answered: bool,
    #[serde(default)]
    pub sentiment_initial: Option<Sentiment>,
    #[serde(default)]
    pub sentiment_final: Option<Sentiment>,
    #[serde(default)]
    pub fields: BTreeMap<String, serde_json::Value>,
    pub created_at: Millis,
    pub updated_at: Millis,
    #[serde(default)]
    pub closed_at: Option<Millis>,
    /// Since when the customer waits for an answer (SLA clock); None when answered.
    #[serde(default)]
    pub waiting_since: Option<Millis>,
    /// When the customer last wrote (a vendor's reply window counts from it).
    #[serde(default)]
    pub last_inbound_at: Option<Millis>,
    #[serde(default)]
    pub first_response_at: Option<Millis>,
    #[serde(default)]
    pub last_message_excerpt: String,
    /// The subject of the mail or form that opened it (shown on the card and in the ticket).
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub message_count: u32,
    /// Agents' replies (reports: replies per ticket).
    #[serde(default)]
    pub replies: u32,
    /// Set when this ticket was merged into another one (TICK-7).
    #[serde(default)]
    pub merged_into: Option<u64>,
    /// The customer's ticket this one follows (a message after a close opens a new ticket).
    #[serde(default)]
    pub previous_number: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Received,
    Queued,
    Sent,
    Delivered,
    Read,
    Failed,
}

/// Stored positionally (`codec::encode_compact`): new fields go at the end, with
/// `#[serde(default)]`, and no field is skipped when serializing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    pub id: u64,
    pub ticket_number: u64,
    #[serde(with = "stored_code")]
    pub direction: Direction,
    pub public: bool,
    /// Author: the contact for inbound, the agent for outbound (None = system).
    #[serde(default)]
    pub contact_id: Option<u64>,
    #[serde(default)]
    pub user_id: Option<u64>,
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<u64>,
    #[serde(default)]
    pub reply_to: Option<u64>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(with = "stored_code")]
    pub status: DeliveryStatus,
    pub created_at: Millis,
    /// True when this message opened its ticket (kept so idempotent replays answer the same).
    #[serde(default)]
    pub opened_ticket: bool,
    /// Why delivery failed or is being retried (the server's answer), for the agent.
    #[serde(
        default,
        serialize_with = "super::note::named::option",
        deserialize_with = "super::note::stored::option"
    )]
    pub status_detail: Option<Note>,
    /// Email only: headers and bodies beyond the text.
    #[serde(default)]
    pub mail: Option<Box<MailMeta>>,
    /// What the agent should know about it (an unsupported kind, an ad referral …).
    #[serde(
        default,
        serialize_with = "super::note::named::list",
        deserialize_with = "super::note::stored::list"
    )]
    pub notes: Vec<Note>,
    /// The customer's reaction to it (an emoji).
    #[serde(default)]
    pub reaction: Option<String>,
    /// Inbound: the vendor was told an agent read it (a read receipt is queued or sent).
    #[serde(default)]
    pub receipt_sent: bool,
    /// An answer sent as an approved template (outside WhatsApp's window): which one, with
    /// its values; `text` is what the customer reads.
    #[serde(default)]
    pub template: Option<crate::domain::template::TemplateUse>,
}

/// What an email message carries beyond its text.
/// Stored positionally (`codec::encode_compact`): new fields go at the end, with
/// `#[serde(default)]`, and no field is skipped when serializing.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, ToSchema)]
pub struct MailMeta {
    /// RFC 5322 Message-ID without angle brackets (received, or the one Atiende sent).
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub subject: String,
    /// Sanitised HTML body, when the mail had one.
    #[serde(default)]
    pub html: Option<String>,
    /// The quoted history below the new text, collapsed in the ticket view.
    #[serde(default)]
    pub quoted: Option<String>,
    /// Problems met while reading it (oversize, malformed), shown with the message.
    #[serde(
        default,
        serialize_with = "super::note::named::list",
        deserialize_with = "super::note::stored::list"
    )]
    pub notes: Vec<Note>,
    /// Sender address of an inbound mail.
    #[serde(default)]
    pub from: Option<String>,
}

/// Stored positionally (`codec::encode_compact`): new fields go at the end, with
/// `#[serde(default)]`, and no field is skipped when serializing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comment {
    pub id: u64,
    pub ticket_number: u64,
    pub user_id: u64,
    pub text: String,
    #[serde(default)]
    pub mentions: Vec<u64>,
    pub created_at: Millis,
}

/// One line of a ticket's history tab (assignment and audit events, ASSIGN-6).
/// Stored without its id and ticket (the key holds them) as `store::tickets::StoredEntry`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub id: u64,
    pub ticket_number: u64,
    pub at: Millis,
    #[serde(default)]
    pub actor_id: Option<u64>,
    pub action: String,
    #[serde(
        serialize_with = "super::note::named::one",
        deserialize_with = "super::note::stored::one"
    )]
    pub detail: Note,
    /// On a ticket's creation: the assignment engine's decision and its reason (one entry
    /// instead of two keeps ingest fast).
    #[serde(
        default,
        serialize_with = "super::note::named::option",
        deserialize_with = "super::note::stored::option"
    )]
    pub decision: Option<Note>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Label {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub color: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Team {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub members: Vec<u64>,
    /// The team keeps its own business hours (SLA-2): its tickets' SLA counts in them.
    #[serde(default)]
    pub calendar_id: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CannedResponse {
    pub id: u64,
    pub title: String,
    /// Short code typed after `/` in the reply box.
    #[serde(default)]
    pub shortcut: Option<String>,
    pub text: String,
    /// Whose personal answer it is; none: shared with everyone (administrators manage those).
    #[serde(default)]
    pub owner_id: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attachment {
    pub id: u64,
    pub sha256: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    pub uploaded_by: Option<u64>,
    pub created_at: Millis,
    /// The ticket whose message carries it (for access checks).
    #[serde(default)]
    pub ticket_number: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub user_id: u64,
    pub csrf_token: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    /// Where it was opened from ("my sessions" shows it).
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    /// Last use, kept to within a few minutes (the idle timeout counts from it).
    #[serde(default)]
    pub last_seen_at: Option<Millis>,
}

/// A one-time link that lets its holder choose a password (AUTH-2 reset, or an invitation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordToken {
    pub user_id: u64,
    /// "reset" or "invitation".
    pub purpose: String,
    pub expires_at: Millis,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: u64,
    pub user_id: u64,
    pub name: String,
    pub created_at: Millis,
    /// After this it signs nobody in (None: until revoked).
    #[serde(default)]
    pub expires_at: Option<Millis>,
}

/// Per agent × account (ASSIGN-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssignMode {
    Disabled,
    Enabled,
    Auto,
}

impl AssignMode {
    pub fn code(self) -> u8 {
        match self {
            AssignMode::Disabled => 0,
            AssignMode::Enabled => 1,
            AssignMode::Auto => 2,
        }
    }
    pub fn from_code(c: u8) -> AssignMode {
        match c {
            1 => AssignMode::Enabled,
            2 => AssignMode::Auto,
            _ => AssignMode::Disabled,
        }
    }
}

/// A committed change, as persisted for SSE resumption and fed to the search indexer. Stored
/// positionally: new fields go at the end, with `#[serde(default)]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub id: u64,
    pub kind: EventKind,
    pub at: Millis,
    #[serde(default)]
    pub account_id: Option<u64>,
    #[serde(default)]
    pub ticket_number: Option<u64>,
    #[serde(default)]
    pub contact_id: Option<u64>,
    #[serde(default)]
    pub message_id: Option<u64>,
    #[serde(default)]
    pub user_id: Option<u64>,
}

/// Something a user should see in the app's bell (issue 16, item 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A colleague mentioned them in an internal comment.
    Mention,
    /// Someone else assigned them a ticket.
    Assigned,
    /// A channel account the administrators run needs attention.
    ChannelAlert,
    /// A waiting customer's answer is nearly due (most of the SLA target has run).
    SlaWarning,
    /// A waiting customer's answer is past its SLA target.
    SlaBreached,
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notification {
    pub id: u64,
    pub user_id: u64,
    pub at: Millis,
    pub kind: NotificationKind,
    #[serde(default)]
    pub ticket_number: Option<u64>,
    /// Who caused it (a colleague's name), or the account's name for a channel alert.
    #[serde(default)]
    pub actor: String,
    /// A short excerpt: the comment, the customer's last words, the problem.
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub read: bool,
}

/// One column of an agent's board (BOARD-1): a saved ticket list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct BoardColumn {
    /// Chosen by the client; unique within the board.
    pub id: String,
    /// Empty for the app's default columns, which it names in the user's language.
    pub name: String,
    #[serde(default)]
    pub kind: ColumnKind,
    /// Query parameters of the column's list: for tickets state, channel, account, assignee,
    /// team, label, important, answered, sla_breached, q, created_from/to, updated_from/to; for
    /// messages account, channel, direction, public.
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
    /// `updated_desc` (newest first) or `updated_asc`, `created_desc`, `created_asc`.
    #[serde(default = "default_column_sort")]
    pub sort: String,
    #[serde(default)]
    pub sound: bool,
    #[serde(default)]
    pub notify: bool,
    /// Apply new interactions at once instead of showing the "N new" bar.
    #[serde(default)]
    pub auto_refresh: bool,
}

/// A column lists tickets (`GET /api/v1/tickets`) or single messages (`GET /api/v1/messages`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    #[default]
    Tickets,
    Messages,
}

pub fn default_column_sort() -> String {
    "updated_desc".into()
}

/// A user's board, saved on the server so it follows them between browsers.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Board {
    pub columns: Vec<BoardColumn>,
}

/// A connection state agents choose (ASSIGN-4): only assignable ones receive tickets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConnectionState {
    pub id: u64,
    pub name: String,
    pub assignable: bool,
}

/// When agents' states change by themselves (ASSIGN-4). States are named.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionSettings {
    /// The state an agent gets on signing in.
    #[serde(default)]
    pub on_sign_in: Option<String>,
    /// The state an agent gets on signing out.
    #[serde(default)]
    pub on_sign_out: Option<String>,
    /// After this many minutes without activity an agent in an assignable state moves to
    /// `idle_state`.
    #[serde(default)]
    pub idle_minutes: Option<u32>,
    #[serde(default)]
    pub idle_state: Option<String>,
}

impl Ticket {
    /// Counts toward its assignee's open load (ASSIGN-2 cap).
    pub fn is_open_load(&self) -> bool {
        self.state == TicketState::Open && self.merged_into.is_none()
    }

    /// Counts toward its assignee's "awaiting reply" load (least-pending mode).
    pub fn is_pending_load(&self) -> bool {
        self.is_open_load() && !self.answered
    }
}

/// A system mail's content, rendered when queued.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SystemMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<u64>,
}

/// What an outbox row delivers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum OutboxWork {
    /// A ticket message (an agent's answer, or an automatic one) on its ticket's channel.
    Message {
        message_id: u64,
        ticket_number: u64,
        /// An automatic answer (CHAN-11): mail marks it `Auto-Submitted: auto-replied`.
        #[serde(default)]
        automatic: bool,
    },
    /// Password resets, invitations, escalations, notifications (OPS-6), and answers that
    /// reach a chat or form customer by mail: sent through the system mail account.
    SystemMail(SystemMail),
    /// Tells the vendor an agent read the customer's messages up to this one (by its id
    /// there): WhatsApp's blue ticks.
    Receipt { external_id: String },
    /// Fetches a file the vendor holds for a customer's message (WhatsApp media) and attaches
    /// it: a vendor call like a send, with the same retries.
    Fetch {
        message_id: u64,
        file_id: String,
        mime: String,
        name: String,
    },
}

/// One delivery, written in the transaction of the change that caused it and sent after that
/// commit by the channel's sender (the one outbox of every channel).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxRow {
    pub id: u64,
    /// Whose sender delivers it.
    pub channel: Channel,
    /// The account that sends it (None: the system mail account).
    #[serde(default)]
    pub account_id: Option<u64>,
    pub work: OutboxWork,
    pub attempts: u32,
    #[serde(default)]
    pub last_error: Option<String>,
    pub created_at: Millis,
}

impl OutboxRow {
    /// The ticket a message row answers.
    pub fn ticket_number(&self) -> Option<u64> {
        match self.work {
            OutboxWork::Message { ticket_number, .. } => Some(ticket_number),
            _ => None,
        }
    }

    pub fn message_id(&self) -> Option<u64> {
        match self.work {
            OutboxWork::Message { message_id, .. } => Some(message_id),
            OutboxWork::SystemMail(_) | OutboxWork::Receipt { .. } | OutboxWork::Fetch { .. } => {
                None
            }
        }
    }
}

/// What a channel's sender made of one outbox row; the store applies it in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Done: the row goes; the message (if any) takes `status` (None: left as it is) and the
    /// detail.
    Done {
        status: Option<DeliveryStatus>,
        detail: Option<Note>,
    },
    /// A temporary failure: tried again after a backoff, until the attempts run out.
    Retry { error: Note },
    /// It will not work as it is (refused, no address): the message is marked failed with the
    /// reason, and the agent may send it again.
    Failed { error: Note },
    /// Not yet after all (not an attempt): looked at again at `at`, the note on the message.
    Later { at: Millis, note: Option<Note> },
    /// Accepted by the vendor, which gave it these ids (one per vendor message it took: a
    /// text and its files may be several): its delivery reports name them. The message keeps
    /// the last.
    Sent { external_ids: Vec<String> },
    /// Reaches the customer as a system mail instead (chat and form answers by mail).
    ByMail(SystemMail),
}

/// A web chat visitor's session (CHAN-2): the widget keeps the token; the server keeps only
/// its hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VisitorSession {
    pub account_id: u64,
    pub contact_id: u64,
    /// The contact's identity on the account (`chat:<random>`).
    pub external_id: String,
    pub created_at: Millis,
}

/// Where a background export stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    Running,
    Done,
    Failed,
}

/// A large export written to a file in the background (REPORT-4, Administración ›
/// Exportaciones); the file lives in the data dir's `exports/` for `EXPORT_KEPT_DAYS`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportJob {
    pub id: u64,
    pub user_id: u64,
    /// `tickets`, `messages` or `contacts`.
    pub kind: String,
    /// `csv` or `xlsx`.
    pub format: String,
    /// The filter, as the list's query string.
    pub filter: String,
    pub state: ExportState,
    pub rows: u64,
    pub bytes: u64,
    /// What the download is called.
    pub file_name: String,
    #[serde(default)]
    pub error: Option<String>,
    pub created_at: Millis,
    #[serde(default)]
    pub finished_at: Option<Millis>,
}

pub const EXPORT_KEPT_DAYS: i64 = 7;
