//! The audit log (security issue, finding 18): who did what to whom, from where. Entries are
//! appended in the transaction of the change they record and never edited; only the retention
//! job removes the oldest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Millis;

/// What happened. Stored by name: a name this build does not know reads as `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    SignIn,
    SignInFailed,
    SignOut,
    PasswordChanged,
    EmailChanged,
    PasswordResetRequested,
    PasswordReset,
    UserCreated,
    InvitationSent,
    RoleChanged,
    TeamsChanged,
    UserDeactivated,
    UserReactivated,
    TokenCreated,
    TokenRevoked,
    AccountCreated,
    AccountUpdated,
    AccountDeleted,
    SettingChanged,
    BackupMade,
    /// The database compacted now, from Administración › Respaldos.
    StorageCompacted,
    TwoFactorEnabled,
    TwoFactorDisabled,
    RecoveryCodeUsed,
    RecoveryCodesRenewed,
    /// Customer data left in a spreadsheet, or came in from one.
    ContactsExported,
    ContactsImported,
    /// Tickets or messages left in a spreadsheet (REPORT-4).
    TicketsExported,
    MessagesExported,
    #[serde(other)]
    Unknown,
}

impl AuditAction {
    pub const ALL: [AuditAction; 29] = [
        AuditAction::SignIn,
        AuditAction::SignInFailed,
        AuditAction::SignOut,
        AuditAction::PasswordChanged,
        AuditAction::EmailChanged,
        AuditAction::PasswordResetRequested,
        AuditAction::PasswordReset,
        AuditAction::UserCreated,
        AuditAction::InvitationSent,
        AuditAction::RoleChanged,
        AuditAction::TeamsChanged,
        AuditAction::UserDeactivated,
        AuditAction::UserReactivated,
        AuditAction::TokenCreated,
        AuditAction::TokenRevoked,
        AuditAction::AccountCreated,
        AuditAction::AccountUpdated,
        AuditAction::AccountDeleted,
        AuditAction::SettingChanged,
        AuditAction::BackupMade,
        AuditAction::StorageCompacted,
        AuditAction::TwoFactorEnabled,
        AuditAction::TwoFactorDisabled,
        AuditAction::RecoveryCodeUsed,
        AuditAction::RecoveryCodesRenewed,
        AuditAction::ContactsExported,
        AuditAction::ContactsImported,
        AuditAction::TicketsExported,
        AuditAction::MessagesExported,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SignIn => "sign_in",
            AuditAction::SignInFailed => "sign_in_failed",
            AuditAction::SignOut => "sign_out",
            AuditAction::PasswordChanged => "password_changed",
            AuditAction::EmailChanged => "email_changed",
            AuditAction::PasswordResetRequested => "password_reset_requested",
            AuditAction::PasswordReset => "password_reset",
            AuditAction::UserCreated => "user_created",
            AuditAction::InvitationSent => "invitation_sent",
            AuditAction::RoleChanged => "role_changed",
            AuditAction::TeamsChanged => "teams_changed",
            AuditAction::UserDeactivated => "user_deactivated",
            AuditAction::UserReactivated => "user_reactivated",
            AuditAction::TokenCreated => "token_created",
            AuditAction::TokenRevoked => "token_revoked",
            AuditAction::AccountCreated => "account_created",
            AuditAction::AccountUpdated => "account_updated",
            AuditAction::AccountDeleted => "account_deleted",
            AuditAction::SettingChanged => "setting_changed",
            AuditAction::BackupMade => "backup_made",
            AuditAction::StorageCompacted => "storage_compacted",
            AuditAction::TwoFactorEnabled => "two_factor_enabled",
            AuditAction::TwoFactorDisabled => "two_factor_disabled",
            AuditAction::RecoveryCodeUsed => "recovery_code_used",
            AuditAction::RecoveryCodesRenewed => "recovery_codes_renewed",
            AuditAction::ContactsExported => "contacts_exported",
            AuditAction::ContactsImported => "contacts_imported",
            AuditAction::TicketsExported => "tickets_exported",
            AuditAction::MessagesExported => "messages_exported",
            AuditAction::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// Where a request came from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: u64,
    pub at: Millis,
    pub action: AuditAction,
    /// Who did it (None: someone not signed in, or the server itself).
    pub actor_id: Option<u64>,
    /// Their name or the email typed, as it was then.
    pub actor: String,
    /// What it was done to, e.g. "user 7 (Ana Castillo)", "account 3 (WhatsApp Tienda)".
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    /// What changed (names and values that are never secrets: "role" → "agent → supervisor").
    #[serde(default)]
    pub details: BTreeMap<String, String>,
}

impl AuditEntry {
    /// An entry to record (the store gives it its id).
    pub fn new(
        action: AuditAction,
        actor: (Option<u64>, &str),
        origin: &Origin,
        at: Millis,
    ) -> Self {
        AuditEntry {
            id: 0,
            at,
            action,
            actor_id: actor.0,
            actor: super::one_line(actor.1),
            target: None,
            ip: origin.ip.clone(),
            user_agent: origin
                .user_agent
                .as_deref()
                .map(|ua| super::one_line(ua).chars().take(300).collect()),
            details: BTreeMap::new(),
        }
    }

    pub fn target(mut self, kind: &str, id: u64, name: &str) -> Self {
        self.target = Some(if name.is_empty() {
            format!("{kind} {id}")
        } else {
            format!("{kind} {id} ({})", super::one_line(name))
        });
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<String>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip_and_unknown_ones_read_as_unknown() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.as_str()));
        }
        let later: AuditAction = serde_json::from_str("\"export_made\"").unwrap();
        assert_eq!(later, AuditAction::Unknown);
    }
}
