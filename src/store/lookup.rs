//! Records read many at a time (list views, the search indexer), with their tables opened once
//! per read transaction instead of once per record.

use redb::{ReadOnlyTable, ReadTransaction};

use super::codec;
use super::tables::*;
use crate::domain::{Account, Attachment, Contact, Message, User};
use crate::error::AppResult;

pub struct Lookup {
    contacts: ReadOnlyTable<u64, &'static [u8]>,
    users: ReadOnlyTable<u64, &'static [u8]>,
    accounts: ReadOnlyTable<u64, &'static [u8]>,
    attachments: ReadOnlyTable<u64, &'static [u8]>,
    messages: ReadOnlyTable<u64, &'static [u8]>,
    calendars: ReadOnlyTable<u64, &'static [u8]>,
    policies: ReadOnlyTable<u64, &'static [u8]>,
    teams: ReadOnlyTable<u64, &'static [u8]>,
}

impl Lookup {
    pub fn new(txn: &ReadTransaction) -> AppResult<Lookup> {
        Ok(Lookup {
            contacts: txn.open_table(CONTACT_ID_TO_CONTACT)?,
            users: txn.open_table(USER_ID_TO_USER)?,
            accounts: txn.open_table(ACCOUNT_ID_TO_ACCOUNT)?,
            attachments: txn.open_table(ATTACHMENT_ID_TO_ATTACHMENT)?,
            messages: txn.open_table(MESSAGE_ID_TO_MESSAGE)?,
            calendars: txn.open_table(CALENDAR_ID_TO_CALENDAR)?,
            policies: txn.open_table(SLA_POLICY_ID_TO_POLICY)?,
            teams: txn.open_table(TEAM_ID_TO_TEAM)?,
        })
    }

    pub fn contact(&self, id: u64) -> AppResult<Option<Contact>> {
        codec::get(&self.contacts, id)
    }

    pub fn user(&self, id: u64) -> AppResult<Option<User>> {
        codec::get(&self.users, id)
    }

    pub fn account(&self, id: u64) -> AppResult<Option<Account>> {
        codec::get(&self.accounts, id)
    }

    /// The account's SLA clock (its policy, and its calendar when that counts business hours).
    pub fn sla_clock(&self, a: &Account) -> AppResult<Option<crate::domain::sla::SlaClock>> {
        super::sla::clock(
            a,
            super::sla::ClockTables {
                calendars: &self.calendars,
                policies: &self.policies,
                teams: &self.teams,
            },
        )
    }

    pub fn attachment(&self, id: u64) -> AppResult<Option<Attachment>> {
        codec::get(&self.attachments, id)
    }

    pub fn message(&self, id: u64) -> AppResult<Option<Message>> {
        codec::get(&self.messages, id)
    }
}

/// Up to `limit` contacts with ids above `after`, in id order (rebuilding the search index).
pub fn contacts_after(txn: &ReadTransaction, after: u64, limit: usize) -> AppResult<Vec<Contact>> {
    let t = txn.open_table(CONTACT_ID_TO_CONTACT)?;
    let mut out = Vec::new();
    for row in t.range(after + 1..)?.take(limit) {
        out.push(codec::decode(row?.1.value())?);
    }
    Ok(out)
}

/// Up to `limit` messages with ids above `after`, in id order.
pub fn messages_after(txn: &ReadTransaction, after: u64, limit: usize) -> AppResult<Vec<Message>> {
    let t = txn.open_table(MESSAGE_ID_TO_MESSAGE)?;
    let mut out = Vec::new();
    for row in t.range(after + 1..)?.take(limit) {
        out.push(codec::decode(row?.1.value())?);
    }
    Ok(out)
}
