//! Contacts, their identities per account, and omnichannel links (ORG-3, ORG-4).

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::tables::*;
use super::tickets::Access;
use super::{codec, event, next_id, Effects};
pub use crate::domain::inbound::ContactFacts;
use crate::domain::*;
use crate::error::{AppError, AppResult};

pub fn get(txn: &ReadTransaction, id: u64) -> AppResult<Option<Contact>> {
    codec::get(&txn.open_table(CONTACT_ID_TO_CONTACT)?, id)
}

pub fn get_w(txn: &WriteTransaction, id: u64) -> AppResult<Option<Contact>> {
    codec::get(&txn.open_table(CONTACT_ID_TO_CONTACT)?, id)
}

pub fn put(
    txn: &WriteTransaction,
    fx: &mut Effects,
    c: &Contact,
    kind: EventKind,
) -> AppResult<()> {
    let before: Option<Contact> = {
        let mut table = txn.open_table(CONTACT_ID_TO_CONTACT)?;
        let old = table
            .insert(c.id, codec::encode_compact(c)?.as_slice())?
            .map(|g| codec::decode(g.value()))
            .transpose()?;
        old
    };
    super::contact_index::update(txn, before.as_ref(), c)?;
    let (old_keys, new_keys) = (before.as_ref().map(keys_of).unwrap_or_default(), keys_of(c));
    if old_keys != new_keys {
        let mut table = txn.open_table(CONTACT_KEY)?;
        for k in old_keys.iter().filter(|k| !new_keys.contains(k)) {
            table.remove((k.as_str(), c.id))?;
        }
        for k in new_keys.iter().filter(|k| !old_keys.contains(k)) {
            table.insert((k.as_str(), c.id), ())?;
        }
    }
    let mut e = event(kind);
    e.contact_id = Some(c.id);
    fx.emit(e);
    Ok(())
}

/// Whether `access` may see the contact: one of its identities is on an account they may see,
/// or it has a ticket there. Admins and supervisors see every contact; a contact that belongs
/// to no account (typed in by hand, never wrote to us) holds nothing of any account and is
/// visible to everyone.
pub fn may_see(txn: &ReadTransaction, c: &Contact, access: &Access) -> AppResult<bool> {
    may_see_in(&txn.open_table(CONTACT_ACCOUNT_TO_LAST_TICKET)?, c, access)
}

pub fn may_see_w(txn: &WriteTransaction, c: &Contact, access: &Access) -> AppResult<bool> {
    may_see_in(&txn.open_table(CONTACT_ACCOUNT_TO_LAST_TICKET)?, c, access)
}

fn may_see_in(
    last_ticket: &impl ReadableTable<(u64, u64), u64>,
    c: &Contact,
    access: &Access,
) -> AppResult<bool> {
    if access.visible.is_none() || c.identities.iter().any(|i| access.may_see(i.account_id)) {
        return Ok(true);
    }
    let mut any_account = !c.identities.is_empty();
    for row in last_ticket.range((c.id, 0)..=(c.id, u64::MAX))? {
        let (key, _) = row?;
        if access.may_see(key.value().1) {
            return Ok(true);
        }
        any_account = true;
    }
    Ok(!any_account)
}

/// The contacts of `ids` that `access` may see, in the given order (search hits).
pub fn visible_among(
    txn: &ReadTransaction,
    ids: Vec<u64>,
    access: &Access,
) -> AppResult<Vec<Contact>> {
    let last = txn.open_table(CONTACT_ACCOUNT_TO_LAST_TICKET)?;
    let mut out = Vec::new();
    for id in ids {
        if let Some(c) = get(txn, id)? {
            if may_see_in(&last, &c, access)? {
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// A contact `access` may see, or 404 (as for tickets, a hidden contact does not exist).
pub fn require_visible_w(txn: &WriteTransaction, id: u64, access: &Access) -> AppResult<Contact> {
    match get_w(txn, id)? {
        Some(c) if may_see_w(txn, &c, access)? => Ok(c),
        _ => Err(AppError::not_found("contact")),
    }
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
    // Someone who wrote to us (typed-in and imported contacts never did).
    let wrote = if identities.is_empty() { 0 } else { now };
    let c = Contact {
        id,
        // Names arrive from every channel; on one line, as mail headers need them.
        name: [&facts.name, &facts.username, &facts.email, &facts.phone]
            .into_iter()
            .flatten()
            .map(|n| one_line(n))
            .find(|n| !n.is_empty())
            .unwrap_or_else(|| format!("Cliente {id}")),
        email: facts.email.clone(),
        phone: facts.phone.clone(),
        rut: facts.rut.clone(),
        identities,
        created_at: now,
        updated_at: now,
        last_contact_at: wrote,
        ..Default::default()
    };
    put(txn, fx, &c, EventKind::ContactCreated)?;
    Ok(c)
}

/// How finely the last contact time is kept.
const LAST_CONTACT_STEP: Millis = 3_600_000;

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
        // The last contact is kept to the hour: a chat of fifty messages rewrites the
        // contact once, not fifty times.
        let wrote_again = now - super::contact_index::last_contact(&c) >= LAST_CONTACT_STEP;
        if wrote_again {
            c.last_contact_at = now;
        }
        if wrote_again || before != (c.email.clone(), c.phone.clone(), c.rut.clone()) {
            c.updated_at = now;
            put(txn, fx, &c, EventKind::ContactUpdated)?;
            if c.rut != before.2 {
                return identify(txn, fx, c.id, now);
            }
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
    // Someone who arrives with a known RUT is that customer, on one more channel.
    if c.rut.is_some() {
        return identify(txn, fx, c.id, now);
    }
    Ok(c)
}

/// ORG-4: the two contacts (and everyone already linked to either) become one person, as an
/// agent says: what was said before about them being different people is undone.
pub fn link(
    txn: &WriteTransaction,
    fx: &mut Effects,
    a: u64,
    b: u64,
    now: Millis,
) -> AppResult<Contact> {
    join(txn, fx, a, b, true, now)
}

/// A contact is always the same as itself: nothing to say of the pair.
fn same_contact_refused(a: u64, b: u64) -> AppResult<()> {
    if a == b {
        return Err(AppError::invalid(
            "contact_id",
            "same_contact",
            "that is the same contact",
        ));
    }
    Ok(())
}

/// Whether an agent said someone of `c`'s group and someone of `other`'s are different people
/// (automatic linking then leaves them apart).
fn said_apart(txn: &WriteTransaction, c: &Contact, other: u64) -> AppResult<bool> {
    let Some(o) = get_w(txn, other)? else {
        return Ok(true);
    };
    let theirs = group_of(&o);
    for member in group_of(c) {
        let m = if member == c.id {
            Some(c.clone())
        } else {
            get_w(txn, member)?
        };
        if m.is_some_and(|m| m.not_same.iter().any(|x| theirs.contains(x))) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn join(
    txn: &WriteTransaction,
    fx: &mut Effects,
    a: u64,
    b: u64,
    by_hand: bool,
    now: Millis,
) -> AppResult<Contact> {
    same_contact_refused(a, b)?;
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
        if by_hand {
            c.not_same.retain(|x| !group.contains(x));
        }
        c.updated_at = now;
        put(txn, fx, &c, EventKind::ContactUpdated)?;
        if *id == a {
            result = Some(c);
        }
    }
    result.ok_or_else(|| AppError::not_found("contact"))
}

/// What identifies a contact (its RUT) or suggests the same person (email, phone's last 8
/// digits), as `CONTACT_KEY` holds them.
pub fn keys_of(c: &Contact) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(r) = &c.rut {
        keys.push(format!("rut:{r}"));
    }
    for e in c.emails().map(str::trim).filter(|e| !e.is_empty()) {
        keys.push(format!("email:{}", e.to_lowercase()));
    }
    for p in c.phones() {
        let digits: String = p.chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 8 {
            keys.push(format!("tel:{}", &digits[digits.len() - 8..]));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// The other contacts that share `key`.
fn sharing(
    table: &impl ReadableTable<(&'static str, u64), ()>,
    key: &str,
    not: u64,
) -> AppResult<Vec<u64>> {
    let mut out = Vec::new();
    for row in table.range((key, 0)..=(key, u64::MAX))? {
        let id = row?.0.value().1;
        if id != not {
            out.push(id);
        }
    }
    Ok(out)
}

/// ORG-4: a valid RUT identifies one person. Links `id` to every other contact with its RUT
/// (unless an agent said they are not the same); the contact as it is afterwards.
pub fn identify(
    txn: &WriteTransaction,
    fx: &mut Effects,
    id: u64,
    now: Millis,
) -> AppResult<Contact> {
    let c = get_w(txn, id)?.ok_or_else(|| AppError::not_found("contact"))?;
    let Some(rut) = &c.rut else { return Ok(c) };
    let others = sharing(&txn.open_table(CONTACT_KEY)?, &format!("rut:{rut}"), id)?;
    let mut changed = false;
    for other in others {
        let current = get_w(txn, id)?.ok_or_else(|| AppError::not_found("contact"))?;
        if current.linked.contains(&other) || said_apart(txn, &current, other)? {
            continue;
        }
        join(txn, fx, id, other, false, now)?;
        changed = true;
    }
    if changed {
        get_w(txn, id)?.ok_or_else(|| AppError::not_found("contact"))
    } else {
        Ok(c)
    }
}

/// ORG-4: contacts with the same email or phone that are not linked to `c` and were not said
/// to be someone else: "Posibles duplicados", with what they share.
pub fn duplicates(txn: &ReadTransaction, c: &Contact) -> AppResult<Vec<(Contact, Vec<String>)>> {
    let table = txn.open_table(CONTACT_KEY)?;
    let mut found: Vec<(Contact, Vec<String>)> = Vec::new();
    for key in keys_of(c) {
        for other in sharing(&table, &key, c.id)? {
            if c.linked.contains(&other) || c.not_same.contains(&other) {
                continue;
            }
            let what = key.split(':').next().unwrap_or_default().to_string();
            match found.iter_mut().find(|(x, _)| x.id == other) {
                Some((_, shared)) => shared.push(what),
                None => {
                    if let Some(o) = get(txn, other)? {
                        found.push((o, vec![what]));
                    }
                }
            }
        }
    }
    Ok(found)
}

/// An agent says `a` and `b` are not the same person: neither is proposed for the other nor
/// linked to it automatically again.
pub fn not_same(
    txn: &WriteTransaction,
    fx: &mut Effects,
    a: u64,
    b: u64,
    now: Millis,
) -> AppResult<Contact> {
    same_contact_refused(a, b)?;
    let mut result = None;
    for (me, other) in [(a, b), (b, a)] {
        let mut c = get_w(txn, me)?.ok_or_else(|| AppError::not_found("contact"))?;
        if !c.not_same.contains(&other) {
            c.not_same.push(other);
            c.updated_at = now;
            put(txn, fx, &c, EventKind::ContactUpdated)?;
        }
        if me == a {
            result = Some(c);
        }
    }
    result.ok_or_else(|| AppError::not_found("contact"))
}

/// Takes `id` out of its group of linked contacts (the others stay linked to each other);
/// they are not linked again automatically.
pub fn unlink(
    txn: &WriteTransaction,
    fx: &mut Effects,
    id: u64,
    now: Millis,
) -> AppResult<Contact> {
    let mut c = get_w(txn, id)?.ok_or_else(|| AppError::not_found("contact"))?;
    for other in std::mem::take(&mut c.linked) {
        if let Some(mut o) = get_w(txn, other)? {
            o.linked.retain(|x| *x != id);
            if !o.not_same.contains(&id) {
                o.not_same.push(id);
            }
            o.updated_at = now;
            put(txn, fx, &o, EventKind::ContactUpdated)?;
        }
        if !c.not_same.contains(&other) {
            c.not_same.push(other);
        }
    }
    c.updated_at = now;
    put(txn, fx, &c, EventKind::ContactUpdated)?;
    Ok(c)
}

/// The contact and everyone linked to it.
pub fn group_of(c: &Contact) -> Vec<u64> {
    let mut g = vec![c.id];
    g.extend(c.linked.iter().copied());
    g
}

/// TICK-6: an influencer's open tickets (those `access` may see) are important at once; new
/// ones are from the start.
pub fn influencer_tickets_important(
    txn: &WriteTransaction,
    fx: &mut Effects,
    c: &Contact,
    access: &Access,
    now: Millis,
) -> AppResult<()> {
    let important = super::tickets::TicketPatch {
        important: Some(true),
        ..Default::default()
    };
    for t in super::tickets::of_contacts_w(txn, &[c.id])? {
        if t.state == TicketState::Open && !t.important && access.may_see(t.account_id) {
            super::tickets::patch(txn, fx, t.number, access, &important, now)?;
        }
    }
    Ok(())
}

/// One checked row of an imported spreadsheet (see `desk::contacts`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportRow {
    pub name: Option<String>,
    pub rut: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub notes: Option<String>,
    pub influencer: Option<bool>,
    pub labels: Vec<u64>,
    pub fields: std::collections::BTreeMap<String, serde_json::Value>,
}

impl ImportRow {
    /// The row as a preview shows it (what each target gets).
    pub fn preview(&self) -> std::collections::BTreeMap<String, serde_json::Value> {
        use serde_json::Value;
        let mut out = std::collections::BTreeMap::new();
        for (k, v) in [
            ("name", &self.name),
            ("rut", &self.rut),
            ("email", &self.email),
            ("phone", &self.phone),
            ("notes", &self.notes),
        ] {
            if let Some(v) = v {
                out.insert(k.to_string(), Value::String(v.clone()));
            }
        }
        if let Some(i) = self.influencer {
            out.insert("influencer".into(), Value::Bool(i));
        }
        if !self.labels.is_empty() {
            out.insert(
                "labels".into(),
                self.labels
                    .iter()
                    .map(|l| Value::String(l.to_string()))
                    .collect(),
            );
        }
        for (k, v) in &self.fields {
            out.insert(format!("field:{k}"), v.clone());
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    Created,
    Updated,
    Unchanged,
}

/// Writes one imported row: the customer known by its RUT, else by its email, gets the row's
/// values; someone unknown is created. A row equal to what is stored writes nothing.
pub fn import_row(
    txn: &WriteTransaction,
    fx: &mut Effects,
    row: &ImportRow,
    access: &Access,
    now: Millis,
) -> AppResult<Imported> {
    let existing = {
        let keys = txn.open_table(CONTACT_KEY)?;
        let mut found = None;
        for key in [
            row.rut.as_ref().map(|r| format!("rut:{r}")),
            row.email.as_ref().map(|e| format!("email:{e}")),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(id) = sharing(&keys, &key, 0)?.into_iter().next() {
                found = Some(id);
                break;
            }
        }
        found
    };
    let (before, mut c) = match existing
        .and_then(|id| get_w(txn, id).transpose())
        .transpose()?
    {
        Some(c) => (Some(c.clone()), c),
        None => {
            let facts = ContactFacts {
                name: row.name.clone(),
                email: row.email.clone(),
                phone: row.phone.clone(),
                rut: row.rut.clone(),
                ..Default::default()
            };
            (None, create(txn, fx, &facts, now)?)
        }
    };
    let influencer_before = c.influencer;
    if let Some(n) = &row.name {
        c.name = n.clone();
    }
    c.rut = row.rut.clone().or(c.rut);
    c.email = row.email.clone().or(c.email);
    c.phone = row.phone.clone().or(c.phone);
    if let Some(n) = &row.notes {
        c.notes = n.clone();
    }
    if let Some(i) = row.influencer {
        c.influencer = i;
    }
    for l in &row.labels {
        if !c.labels.contains(l) {
            c.labels.push(*l);
        }
    }
    for (k, v) in &row.fields {
        c.fields.insert(k.clone(), v.clone());
    }
    let fresh = before.is_none();
    if let Some(b) = &before {
        if *b == c {
            return Ok(Imported::Unchanged);
        }
    }
    c.updated_at = now;
    put(txn, fx, &c, EventKind::ContactUpdated)?;
    if c.influencer && !influencer_before {
        influencer_tickets_important(txn, fx, &c, access, now)?;
    }
    if fresh || before.as_ref().is_some_and(|b| b.rut != c.rut) {
        identify(txn, fx, c.id, now)?;
    }
    Ok(if fresh {
        Imported::Created
    } else {
        Imported::Updated
    })
}
