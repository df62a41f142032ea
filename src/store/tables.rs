//! Every redb table, in one place. Names read `KEY_TO_VALUE`; values are MessagePack records
//! (see `codec`) unless the type says otherwise. The table layout is drawn in
//! docs/architecture.md — change both together.

use redb::TableDefinition;

/// "schema_version" → u64 as 8 bytes, and other single values.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Sequence name ("ticket", "user", "message", "event", …) → last value handed out.
pub const SEQUENCE_TO_LAST: TableDefinition<&str, u64> = TableDefinition::new("sequences");

pub const USER_ID_TO_USER: TableDefinition<u64, &[u8]> = TableDefinition::new("users");
/// Lower-cased email → user id.
pub const EMAIL_TO_USER_ID: TableDefinition<&str, u64> = TableDefinition::new("users_by_email");
/// sha256(session token) hex → Session.
pub const SESSION_HASH_TO_SESSION: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// sha256(one-time link token) hex → PasswordToken (resets and invitations).
pub const LINK_HASH_TO_PASSWORD_TOKEN: TableDefinition<&str, &[u8]> =
    TableDefinition::new("password_tokens");
/// sha256(api token) hex → ApiToken.
pub const TOKEN_HASH_TO_TOKEN: TableDefinition<&str, &[u8]> = TableDefinition::new("api_tokens");

pub const ACCOUNT_ID_TO_ACCOUNT: TableDefinition<u64, &[u8]> = TableDefinition::new("accounts");
/// (user id, account id) → AssignMode code (0 disabled, 1 enabled, 2 auto).
pub const USER_ACCOUNT_TO_MODE: TableDefinition<(u64, u64), u8> =
    TableDefinition::new("assignment");
/// (account id, user id) → the same mode: the assignment engine reads an account's agents
/// without walking every agent × account row. Written together with `assignment`.
pub const ACCOUNT_USER_TO_MODE: TableDefinition<(u64, u64), u8> =
    TableDefinition::new("assignment_by_account");

/// Field id → FieldDef: profile fields and typifications (seed 003).
pub const FIELD_ID_TO_FIELD: TableDefinition<u64, &[u8]> = TableDefinition::new("fields");
/// Calendar id → Calendar: business hours and holidays (SLA-2).
pub const CALENDAR_ID_TO_CALENDAR: TableDefinition<u64, &[u8]> = TableDefinition::new("calendars");
/// SLA policy id → SlaPolicy: first- and next-response targets (SLA-1).
pub const SLA_POLICY_ID_TO_POLICY: TableDefinition<u64, &[u8]> =
    TableDefinition::new("sla_policies");
/// (due ms, ticket number, 1 warn | 2 breach) → (): the SLA notifications to send, read by
/// due time (no scan of open tickets); each is checked against the ticket when it comes due.
pub const SLA_TIMER: TableDefinition<(u64, u64, u8), ()> = TableDefinition::new("sla_timers");
/// Segment id → Segment: saved contact filters.
pub const SEGMENT_ID_TO_SEGMENT: TableDefinition<u64, &[u8]> = TableDefinition::new("segments");

pub const CONTACT_ID_TO_CONTACT: TableDefinition<u64, &[u8]> = TableDefinition::new("contacts");
/// "{account id}\u{1f}{external id}" → contact id.
pub const IDENTITY_TO_CONTACT_ID: TableDefinition<&str, u64> =
    TableDefinition::new("contact_identities");
/// ("rut:12345678-5" | "email:ana@x.cl" | "tel:<last 8 digits>", contact id) → (): who has a
/// RUT (the same person, linked automatically), an email or a phone (proposed duplicates).
pub const CONTACT_KEY: TableDefinition<(&str, u64), ()> = TableDefinition::new("contact_keys");
/// The contacts list index: `sort | dimension | value | order | contact id` (26 bytes; see
/// `contact_index`).
pub const CONTACT_INDEX: TableDefinition<&[u8], ()> = TableDefinition::new("contact_index");
/// (contact id, account id) → number of the contact's latest ticket on that account.
pub const CONTACT_ACCOUNT_TO_LAST_TICKET: TableDefinition<(u64, u64), u64> =
    TableDefinition::new("contact_last_ticket");
/// (contact id, ticket number) → (): a contact's tickets, for "previous tickets".
pub const CONTACT_TICKET: TableDefinition<(u64, u64), ()> = TableDefinition::new("contact_tickets");

pub const NUMBER_TO_TICKET: TableDefinition<u64, &[u8]> = TableDefinition::new("tickets");
/// Secondary index of tickets: 16-byte keys, see `store::index` for the layout (schema 14).
/// Value is empty.
pub const TICKET_KEYS: TableDefinition<[u8; 16], ()> = TableDefinition::new("ticket_keys");
/// The ticket index before schema 14 (variable-width keys): dropped by the migration.
pub const RETIRED_TICKET_INDEX: TableDefinition<&[u8], ()> = TableDefinition::new("ticket_index");
/// Tables a store not yet migrated may still hold, which the migration drops and rebuilds
/// from the rest: a copy of such a store may leave them out.
pub const RETIRED_TABLES: &[&str] = &["ticket_index"];

pub const MESSAGE_ID_TO_MESSAGE: TableDefinition<u64, &[u8]> = TableDefinition::new("messages");
/// (ticket number, message id) → (): the conversation in order.
pub const TICKET_MESSAGE: TableDefinition<(u64, u64), ()> = TableDefinition::new("ticket_messages");
/// "{account id}\u{1f}{external id}" → message id: inbound idempotency.
pub const EXTERNAL_TO_MESSAGE_ID: TableDefinition<&str, u64> =
    TableDefinition::new("messages_by_external_id");

/// (ticket number, comment id) → Comment.
pub const TICKET_COMMENT_TO_COMMENT: TableDefinition<(u64, u64), &[u8]> =
    TableDefinition::new("comments");
/// (ticket number, entry id) → HistoryEntry.
pub const TICKET_HISTORY_TO_ENTRY: TableDefinition<(u64, u64), &[u8]> =
    TableDefinition::new("history");

/// User id → (open tickets assigned, of which awaiting their reply, available for tickets,
/// name): all the assignment engine reads about an agent, in one row. The counts are kept by
/// `tickets::save`, the rest by `users::put` and state changes.
pub const USER_TO_AGENT: TableDefinition<u64, (u32, u32, bool, &str)> =
    TableDefinition::new("agents");
/// (account id, user id) → the rotation turn when the user last got a ticket of the account by
/// round-robin (a team's rotation uses `u64::MAX - team id` as the account). A turn is the
/// time in ms shifted left 16 bits plus the low bits of the ticket number: ordered without a
/// sequence write.
pub const ACCOUNT_USER_TO_TURN: TableDefinition<(u64, u64), u64> =
    TableDefinition::new("assignment_turns");
pub const STATE_ID_TO_STATE: TableDefinition<u64, &[u8]> =
    TableDefinition::new("connection_states");

/// User id → Board (the agent's saved columns).
pub const USER_ID_TO_BOARD: TableDefinition<u64, &[u8]> = TableDefinition::new("boards");

pub const LABEL_ID_TO_LABEL: TableDefinition<u64, &[u8]> = TableDefinition::new("labels");
pub const TEAM_ID_TO_TEAM: TableDefinition<u64, &[u8]> = TableDefinition::new("teams");
pub const CANNED_ID_TO_CANNED: TableDefinition<u64, &[u8]> =
    TableDefinition::new("canned_responses");
pub const ATTACHMENT_ID_TO_ATTACHMENT: TableDefinition<u64, &[u8]> =
    TableDefinition::new("attachments");

/// Committed domain events, for SSE resumption and the search indexer. Pruned to the last
/// `EVENTS_KEPT`.
pub const EVENT_ID_TO_EVENT: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
/// The outbox of every channel: (state, due, id) → OutboxRow (deleted once settled). See
/// `store::outbox`.
pub const OUTBOX_DUE_TO_ROW: TableDefinition<(u8, u64, u64), &[u8]> =
    TableDefinition::new("outbox_rows");
/// RFC Message-ID (no brackets) → message id: every mail Atiende sent or received, for
/// threading by In-Reply-To/References and for bounces.
pub const MAIL_MESSAGE_ID_TO_MESSAGE: TableDefinition<&str, u64> =
    TableDefinition::new("mail_message_ids");
/// Email account → (UIDVALIDITY, last UID committed): the IMAP cursor.
pub const ACCOUNT_TO_MAIL_CURSOR: TableDefinition<u64, (u32, u32)> =
    TableDefinition::new("mail_cursors");
/// Email account → "host|user|folder" the cursor belongs to.
pub const ACCOUNT_TO_MAIL_SOURCE: TableDefinition<u64, &str> =
    TableDefinition::new("mail_cursor_sources");
/// (account id, "{day}\u{1f}{sender}") → (): who got an automatic answer that day (at most
/// one per sender per day).
pub const ACCOUNT_DAY_SENDER_AUTO_REPLIED: TableDefinition<(u64, &str), ()> =
    TableDefinition::new("mail_auto_replied");

/// sha256(visitor token) hex → VisitorSession (web chat).
pub const CHAT_TOKEN_TO_SESSION: TableDefinition<&str, &[u8]> =
    TableDefinition::new("chat_sessions");

/// account id → TemplateSet: the vendor's approved message templates, as last fetched.
pub const ACCOUNT_TO_TEMPLATES: TableDefinition<u64, &[u8]> = TableDefinition::new("templates");

pub const EVENTS_KEPT: u64 = 200_000;
/// Events older than this go too: SSE replays at most 10,000 of them and the search index
/// commits every few seconds, so a week is plenty (and beyond the kept ones it is rebuilt).
pub const EVENTS_KEPT_MS: crate::domain::Millis = 7 * crate::domain::clock::DAY_MS;

/// Something done to every table, typed (creating them, copying them into a backup).
pub trait TableVisitor {
    fn visit<K: redb::Key + 'static, V: redb::Value + 'static>(
        &mut self,
        table: TableDefinition<K, V>,
    ) -> crate::error::AppResult<()>;
}

/// Audit entry id (in time order) → AuditEntry. Appended, never edited; pruned by age.
pub const AUDIT_ID_TO_ENTRY: TableDefinition<u64, &[u8]> = TableDefinition::new("audit_log");

/// (user id, notification id) → Notification: the bell's items, the last 200 per user.
pub const USER_NOTIFICATION: TableDefinition<(u64, u64), &[u8]> =
    TableDefinition::new("notifications");

/// Every table of the schema, once: what `create_all` creates and a backup copies.
pub fn for_each_table(visitor: &mut impl TableVisitor) -> crate::error::AppResult<()> {
    visitor.visit(META)?;
    visitor.visit(SEQUENCE_TO_LAST)?;
    visitor.visit(USER_ID_TO_USER)?;
    visitor.visit(EMAIL_TO_USER_ID)?;
    visitor.visit(SESSION_HASH_TO_SESSION)?;
    visitor.visit(TOKEN_HASH_TO_TOKEN)?;
    visitor.visit(LINK_HASH_TO_PASSWORD_TOKEN)?;
    visitor.visit(ACCOUNT_ID_TO_ACCOUNT)?;
    visitor.visit(USER_ACCOUNT_TO_MODE)?;
    visitor.visit(ACCOUNT_USER_TO_MODE)?;
    visitor.visit(USER_ID_TO_BOARD)?;
    visitor.visit(USER_TO_AGENT)?;
    visitor.visit(ACCOUNT_USER_TO_TURN)?;
    visitor.visit(STATE_ID_TO_STATE)?;
    visitor.visit(CONTACT_ID_TO_CONTACT)?;
    visitor.visit(IDENTITY_TO_CONTACT_ID)?;
    visitor.visit(CONTACT_KEY)?;
    visitor.visit(CONTACT_INDEX)?;
    visitor.visit(CONTACT_ACCOUNT_TO_LAST_TICKET)?;
    visitor.visit(CONTACT_TICKET)?;
    visitor.visit(NUMBER_TO_TICKET)?;
    visitor.visit(TICKET_KEYS)?;
    visitor.visit(MESSAGE_ID_TO_MESSAGE)?;
    visitor.visit(TICKET_MESSAGE)?;
    visitor.visit(EXTERNAL_TO_MESSAGE_ID)?;
    visitor.visit(TICKET_COMMENT_TO_COMMENT)?;
    visitor.visit(TICKET_HISTORY_TO_ENTRY)?;
    visitor.visit(LABEL_ID_TO_LABEL)?;
    visitor.visit(TEAM_ID_TO_TEAM)?;
    visitor.visit(CANNED_ID_TO_CANNED)?;
    visitor.visit(FIELD_ID_TO_FIELD)?;
    visitor.visit(SEGMENT_ID_TO_SEGMENT)?;
    visitor.visit(CALENDAR_ID_TO_CALENDAR)?;
    visitor.visit(SLA_POLICY_ID_TO_POLICY)?;
    visitor.visit(SLA_TIMER)?;
    visitor.visit(ATTACHMENT_ID_TO_ATTACHMENT)?;
    visitor.visit(EVENT_ID_TO_EVENT)?;
    visitor.visit(OUTBOX_DUE_TO_ROW)?;
    visitor.visit(MAIL_MESSAGE_ID_TO_MESSAGE)?;
    visitor.visit(ACCOUNT_TO_MAIL_CURSOR)?;
    visitor.visit(ACCOUNT_TO_MAIL_SOURCE)?;
    visitor.visit(ACCOUNT_DAY_SENDER_AUTO_REPLIED)?;
    visitor.visit(CHAT_TOKEN_TO_SESSION)?;
    visitor.visit(ACCOUNT_TO_TEMPLATES)?;
    visitor.visit(AUDIT_ID_TO_ENTRY)?;
    visitor.visit(USER_NOTIFICATION)?;
    visitor.visit(REPORT_ROW)?;
    visitor.visit(REPORT_HIST)?;
    visitor.visit(TICKET_FACT)?;
    visitor.visit(REPORT_MESSAGES)?;
    visitor.visit(AGENT_STATE_CHANGE)?;
    visitor.visit(EXPORT_ID_TO_JOB)?;
    Ok(())
}

/// Opens (and so creates) every table in one write transaction, so read transactions never
/// meet a missing table.
pub fn create_all(txn: &redb::WriteTransaction) -> crate::error::AppResult<()> {
    struct Create<'a>(&'a redb::WriteTransaction);
    impl TableVisitor for Create<'_> {
        fn visit<K: redb::Key + 'static, V: redb::Value + 'static>(
            &mut self,
            table: TableDefinition<K, V>,
        ) -> crate::error::AppResult<()> {
            self.0.open_table(table)?;
            Ok(())
        }
    }
    for_each_table(&mut Create(txn))
}

pub fn identity_key(account_id: u64, external_id: &str) -> String {
    format!("{account_id}\u{1f}{external_id}")
}

/// (date base, dimension, local day, value) → the counters of the report facts of the tickets
/// counted there (`Agg::counts`: 27 little-endian i64). Kept by `tickets::save`.
pub const REPORT_ROW: TableDefinition<(u8, u8, u32, &str), &[u8]> =
    TableDefinition::new("report_rows");
/// (date base, dimension, local day, value, histogram, bucket) → durations counted there: the
/// histograms beside `report_rows`, written only when a duration starts or stops counting.
pub const REPORT_HIST: TableDefinition<(u8, u8, u32, &str, u8, u16), i64> =
    TableDefinition::new("report_histograms");
/// Ticket number → what it adds to `report_rows` (`domain::report::Fact`).
pub const TICKET_FACT: TableDefinition<u64, &[u8]> = TableDefinition::new("report_facts");
/// (dimension: account or agent, local day, value) → (messages received, sent).
pub const REPORT_MESSAGES: TableDefinition<(u8, u32, &str), (u64, u64)> =
    TableDefinition::new("report_messages");
/// (user id, time) → the connection state chosen then ("" = none): the agent-status report.
pub const AGENT_STATE_CHANGE: TableDefinition<(u64, u64), &str> =
    TableDefinition::new("agent_states");
/// Export job id → ExportJob: the background exports (their files in `exports/`).
pub const EXPORT_ID_TO_JOB: TableDefinition<u64, &[u8]> = TableDefinition::new("export_jobs");
