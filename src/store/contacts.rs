//! Contacts, their identities per account, and omnichannel links (ORG-3, ORG-4).

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::tables::*;
use super::{codec, event, next_id, Effects};
use crate::domain::*;
use crate::error::{AppError, AppResult};

pub fn get(txn: &ReadTransaction, id: u64) -> AppResult<Option<Contact>> {
    codec::get(&txn.open_table(CONTACT_ID_TO_CONTACT)?, id)
}

pub fn get_w(txn: &WriteTransaction, id: u64) -> AppResult<Option<Contact>> {
    codec::get(&txn.open_table(CONTACT_ID_TO_CONTACT)?, id)
}

/// Newest first, `before` = the last id of the previous page.
pub fn list(
    txn: &ReadTransaction,
    before: Option<u64>,
    limit: usize,
) -> AppResult<(Vec<Contact>, bool)> {
    let t = txn.open_table(CONTACT_ID_TO_CONTACT)?;
    let mut out = Vec::new();
    for row in t.range(..before.unwrap_or(u64::MAX))?.rev().take(limit + 1) {
        let (_, v) = row?;
        out.push(codec::decode(v.value())?);
    }
    let more = out.len() > limit;
    out.truncate(limit);
    Ok((out, more))
}

pub fn put(txn: &WriteTransaction, fx: &mut Effects, c: &Contact, kind: &str) -> AppResult<()> {
    txn.open_table(CONTACT_ID_TO_CONTACT)?
        .insert(c.id, codec::encode(c)?.as_slice())?;
    let mut e = event(kind);
    e.contact_id = Some(c.id);
    fx.emit(e);
    Ok(())
}

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

pub fn create(
    txn: &WriteTransaction,
    fx: &mut Effects,
    facts: &ContactFacts,
    now: Millis,
) -> AppResult<Contact> {
    create_with(txn, fx, facts, Vec::new(), now)
}

fn create_with(
    txn: &WriteTransaction,
    fx: &mut Effects,
    facts: &ContactFacts,
    identities: Vec<Identity>,
    now: Millis,
) -> AppResult<Contact> {
    let id = next_id(txn, "contact")?;
    let c = Contact {
        id,
        name: facts
            .name
            .clone()
            .or_else(|| facts.username.clone())
            .or_else(|| facts.email.clone())
            .or_else(|| facts.phone.clone())
            .unwrap_or_else(|| format!("Cliente {id}")),
        email: facts.email.clone(),
        phone: facts.phone.clone(),
        rut: facts.rut.clone(),
        identities,
        created_at: now,
        updated_at: now,
        ..Default::default()
    };
    put(txn, fx, &c, "contact.created")?;
    Ok(c)
}

/// The contact behind (account, external id), created on first contact; known contacts get
/// missing facts filled in (never overwritten: agents may have corrected them).
pub fn for_identity(
    txn: &WriteTransaction,
    fx: &mut Effects,
    account_id: u64,
    external_id: &str,
    facts: &ContactFacts,
    now: Millis,
) -> AppResult<Contact> {
    let key = identity_key(account_id, external_id);
    let existing = txn
        .open_table(IDENTITY_TO_CONTACT_ID)?
        .get(key.as_str())?
        .map(|g| g.value());
    if let Some(id) = existing {
        let mut c =
            get_w(txn, id)?.ok_or_else(|| AppError::internal("identity without contact"))?;
        let before = (c.email.clone(), c.phone.clone(), c.rut.clone());
        c.email = c.email.or_else(|| facts.email.clone());
        c.phone = c.phone.or_else(|| facts.phone.clone());
        c.rut = c.rut.or_else(|| facts.rut.clone());
        if before != (c.email.clone(), c.phone.clone(), c.rut.clone()) {
            c.updated_at = now;
            put(txn, fx, &c, "contact.updated")?;
        }
        return Ok(c);
    }
    let identity = Identity {
        account_id,
        external_id: external_id.to_string(),
        username: facts.username.clone(),
    };
    let c = create_with(txn, fx, facts, vec![identity], now)?;
    txn.open_table(IDENTITY_TO_CONTACT_ID)?
        .insert(key.as_str(), c.id)?;
    Ok(c)
}

/// ORG-4: the two contacts (and everyone already linked to either) become one person.
pub fn link(
    txn: &WriteTransaction,
    fx: &mut Effects,
    a: u64,
    b: u64,
    now: Millis,
) -> AppResult<Contact> {
    if a == b {
        return Err(AppError::invalid(
            "contact_id",
            "same_contact",
            "a contact cannot be linked to itself",
        ));
    }
    let ca = get_w(txn, a)?.ok_or_else(|| AppError::not_found("contact"))?;
    let cb = get_w(txn, b)?.ok_or_else(|| AppError::not_found("contact"))?;
    let mut group: Vec<u64> = vec![a, b];
    group.extend(ca.linked.iter().copied());
    group.extend(cb.linked.iter().copied());
    group.sort_unstable();
    group.dedup();
    let mut result = None;
    for id in &group {
        let Some(mut c) = get_w(txn, *id)? else {
            continue;
        };
        c.linked = group.iter().copied().filter(|x| x != id).collect();
        c.updated_at = now;
        put(txn, fx, &c, "contact.updated")?;
        if *id == a {
            result = Some(c);
        }
    }
    result.ok_or_else(|| AppError::not_found("contact"))
}

/// The contact and everyone linked to it.
pub fn group_of(c: &Contact) -> Vec<u64> {
    let mut g = vec![c.id];
    g.extend(c.linked.iter().copied());
    g
}
